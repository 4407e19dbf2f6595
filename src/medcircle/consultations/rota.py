"""The on-call rota in the database: who answers for a specialty of an institution when.

This part reads what routing needs (the shifts around an instant, the experts and their
skills and open cases); keeping the rota (shifts, leave, skills, warnings) is in
``rota_service``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medcircle.auth.domain import Role
from medcircle.consultations.domain import (
    OPEN,
    Expert,
    Leave,
    RotaIndex,
    Shift,
    ShiftRole,
)
from medcircle.consultations.models import Consultation, ExpertLeave, ExpertSkill, OnCallShift
from medcircle.referrals.service import users_with_roles
from medcircle.registry.models import Practitioner

# the longest shift a rota may hold (a week): reads look this far back for covering shifts
MAX_SHIFT = timedelta(days=7)


def shifts_between(
    session: Session, institution_id: int, specialty_code: str, start: datetime, end: datetime
) -> list[OnCallShift]:
    """The shift rows of one rota overlapping [start, end), by start."""
    return list(
        session.scalars(
            select(OnCallShift)
            .where(
                OnCallShift.institution_id == institution_id,
                OnCallShift.specialty_code == specialty_code,
                OnCallShift.starts_at < end,
                OnCallShift.starts_at > start - MAX_SHIFT,
                OnCallShift.ends_at > start,
            )
            .order_by(OnCallShift.starts_at, OnCallShift.id)
        )
    )


def leaves_between(
    session: Session, user_ids: Iterable[int], start: datetime, end: datetime
) -> list[ExpertLeave]:
    ids = sorted(set(user_ids))
    if not ids:
        return []
    return list(
        session.scalars(
            select(ExpertLeave)
            .where(
                ExpertLeave.user_id.in_(ids),
                ExpertLeave.starts_at < end,
                ExpertLeave.ends_at > start,
            )
            .order_by(ExpertLeave.starts_at, ExpertLeave.id)
        )
    )


def as_shift(row: OnCallShift) -> Shift:
    return Shift(row.user_id, row.starts_at, row.ends_at, ShiftRole(row.role))


def as_leave(row: ExpertLeave) -> Leave:
    return Leave(row.user_id, row.starts_at, row.ends_at)


def rota_index(
    session: Session, institution_id: int, specialty_code: str, start: datetime, end: datetime
) -> RotaIndex:
    """The rota of one institution and specialty between ``start`` and ``end``, with the
    leave of its experts, ready for ``domain.route`` and ``domain.rota_warnings``."""
    rows = shifts_between(session, institution_id, specialty_code, start, end)
    leaves = leaves_between(session, (r.user_id for r in rows), start, end)
    return RotaIndex([as_shift(r) for r in rows], [as_leave(lv) for lv in leaves])


def active_experts(session: Session, institution_id: int) -> set[int]:
    """The active users of the institution who hold the expert role."""
    return set(users_with_roles(session, [institution_id], [Role.EXPERT.value]))


def pool_experts(session: Session, institution_id: int, specialty_code: str) -> list[int]:
    """Who may claim from one pool: the institution's active experts whose practitioner record
    is in the specialty, and those with a shift on its rota."""
    experts = active_experts(session, institution_id)
    in_specialty = set(
        session.scalars(
            select(Practitioner.user_id).where(
                Practitioner.institution_id == institution_id,
                Practitioner.specialty_code == specialty_code,
                Practitioner.is_active.is_(True),
                Practitioner.user_id.is_not(None),
            )
        )
    )
    on_rota = set(
        session.scalars(
            select(OnCallShift.user_id)
            .where(
                OnCallShift.institution_id == institution_id,
                OnCallShift.specialty_code == specialty_code,
            )
            .distinct()
        )
    )
    return sorted(experts & (in_specialty | on_rota))


def experts_of(session: Session, user_ids: Iterable[int]) -> dict[int, Expert]:
    """The routing facts of experts: their skills."""
    ids = sorted(set(user_ids))
    skills: dict[int, list[str]] = {i: [] for i in ids}
    if ids:
        for uid, prefix in session.execute(
            select(ExpertSkill.user_id, ExpertSkill.icd10_prefix).where(
                ExpertSkill.user_id.in_(ids)
            )
        ):
            skills[uid].append(prefix)
    return {i: Expert(i, tuple(sorted(skills[i]))) for i in ids}


def open_load(session: Session, user_ids: Iterable[int]) -> dict[int, int]:
    """How many open consultations each expert holds."""
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(Consultation.assignee_user_id, func.count())
        .where(
            Consultation.assignee_user_id.in_(ids),
            Consultation.status.in_(sorted(s.value for s in OPEN)),
        )
        .group_by(Consultation.assignee_user_id)
    )
    return {int(uid): int(n) for uid, n in rows if uid is not None}
