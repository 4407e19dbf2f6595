"""API of consultation measures and the teaching case library."""

from __future__ import annotations

from medcircle.web.routing import QuickRouter

router = QuickRouter(prefix="/api/v1", tags=["consultations"])
