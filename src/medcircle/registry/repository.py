"""Every query of the registry."""

from __future__ import annotations

from sqlalchemy.orm import Session

from medcircle.registry.models import Institution


def institution_by_id(session: Session, institution_id: int) -> Institution | None:
    return session.get(Institution, institution_id)
