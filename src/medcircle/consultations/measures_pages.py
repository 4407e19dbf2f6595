"""Pages of consultation measures and the teaching case library."""

from __future__ import annotations

from medcircle.web.routing import QuickRouter

router = QuickRouter()
