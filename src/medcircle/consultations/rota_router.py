"""API of on-call rotas, experts' leave and skills."""

from __future__ import annotations

from medcircle.web.routing import QuickRouter

router = QuickRouter(prefix="/api/v1", tags=["consultations"])
