"""Pages of on-call rotas: the week grid, warnings, leave and skills."""

from __future__ import annotations

from medcircle.web.routing import QuickRouter

router = QuickRouter()
