"""Pages of consultations: worklists, asking, the case with its thread and opinion."""

from __future__ import annotations

from medcircle.web.routing import QuickRouter

router = QuickRouter()
