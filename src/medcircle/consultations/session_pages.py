"""Pages of video and multi-disciplinary sessions."""

from __future__ import annotations

from medcircle.web.routing import QuickRouter

router = QuickRouter()
