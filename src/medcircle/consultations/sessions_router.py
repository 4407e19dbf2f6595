"""API of video and multi-disciplinary sessions and their calendar invitations."""

from __future__ import annotations

from medcircle.web.routing import QuickRouter

router = QuickRouter(prefix="/api/v1", tags=["consultations"])
