"""API of consultations: ask, act, thread, files, worklists."""

from __future__ import annotations

from medcircle.web.routing import QuickRouter

router = QuickRouter(prefix="/api/v1", tags=["consultations"])
