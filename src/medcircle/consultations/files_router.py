"""API of the files of consultations: upload, list, download."""

from __future__ import annotations

from medcircle.web.routing import QuickRouter

router = QuickRouter(prefix="/api/v1", tags=["consultations"])
