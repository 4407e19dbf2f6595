"""Read-side queries of consultations: the worklists and their counts.

Each worklist is one bounded, indexed query over the columns it shows (plus one COUNT on the
same conditions); rows are light slotted dataclasses, never ORM entities, and nothing is
queried per row:

- ``mine`` walks ix_consultation_assignee (assignee, status, due_at);
- ``pool`` walks ix_consultation_pool (answering institution, specialty, status, due_at);
- ``asked`` walks ix_consultation_asker (asking institution, status, updated_at);
- ``at_risk`` walks ix_consultation_pool up to the farthest due time that can be at risk,
  then keeps the rows whose own share of time is at risk (or that were escalated).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, case, func, or_, select
from sqlalchemy.orm import Session, aliased

from medcircle.audit import service as audit
from medcircle.auth.domain import Actor, Permission, Role
from medcircle.auth.models import User, UserRole
from medcircle.consultations.domain import AT_RISK_SHARE, OPEN, TURN, Side, Status
from medcircle.consultations.models import (
    Consultation,
    ConsultationSpecialty,
    OnCallShift,
)
from medcircle.consultations.service import mask_name
from medcircle.kit import clock
from medcircle.kit.errors import Forbidden
from medcircle.kit.i18n import N_
from medcircle.kit.pagination import Page, PageParams
from medcircle.patients.models import Patient
from medcircle.registry.models import Institution, Practitioner, SpecialtyRow


class Worklist(StrEnum):
    # the cases the actor holds, least time left first
    MINE = "mine"
    # cases nobody holds in the pools the actor may claim from
    POOL = "pool"
    # what the actor's institution asked, still open or answered
    ASKED = "asked"
    # the answering institution's cases whose promise is at risk (coordinators)
    AT_RISK = "at_risk"


WORKLIST_LABELS: dict[Worklist, str] = {
    Worklist.MINE: N_("My consultations"),
    Worklist.POOL: N_("Waiting in the pool"),
    Worklist.ASKED: N_("Asked by us"),
    Worklist.AT_RISK: N_("Response time at risk"),
}

ONLY_FOR = N_("This worklist is not for your role.")

_OPEN = tuple(s.value for s in OPEN)
_HELD = (Status.ASSIGNED.value, Status.AWAITING_ASKER.value)
_ASKED = (*_OPEN, Status.ANSWERED.value)


@dataclass(frozen=True, slots=True)
class WorklistRow:
    """One line of a worklist. ``patient_name`` is masked (first character then "*") and
    ``patient_id`` None for readers without access to patients (coordinators)."""

    id: int
    reference: str
    status: str
    mode: str
    urgency: str
    specialty_code: str
    specialty_zh: str
    specialty_en: str
    patient_id: int | None
    patient_name: str
    asker_institution_id: int
    asker_name_zh: str
    asker_name_en: str
    answer_institution_id: int
    answer_name_zh: str
    answer_name_en: str
    assignee_user_id: int | None
    assignee_name: str | None
    asked_at: datetime
    due_at: datetime | None
    minutes_left: int | None
    paused: bool
    escalation_level: int
    turn: str | None
    updated_at: datetime
    version: int


def may_read(actor: Actor, name: Worklist) -> bool:
    if not actor.can(Permission.CONSULT_READ):
        return False
    if name is Worklist.MINE:
        return actor.can(Permission.CONSULT_ANSWER)
    if name is Worklist.POOL:
        return actor.can(Permission.CONSULT_ANSWER) or actor.can(Permission.CONSULT_COORDINATE)
    if name is Worklist.ASKED:
        return actor.can(Permission.CONSULT_ASK)
    return actor.can(Permission.CONSULT_COORDINATE)


def claimable_specialties(session: Session, actor: Actor) -> list[str]:
    """The specialties of the actor's institution whose pools the actor may claim from: an
    active expert's practitioner specialties and the rotas they are on."""
    expert = session.scalar(
        select(User.id)
        .join(UserRole, UserRole.user_id == User.id)
        .where(
            User.id == actor.user_id,
            User.institution_id == actor.institution_id,
            User.is_active.is_(True),
            UserRole.role == Role.EXPERT.value,
        )
        .limit(1)
    )
    if expert is None:
        return []
    practised = session.scalars(
        select(Practitioner.specialty_code).where(
            Practitioner.user_id == actor.user_id,
            Practitioner.institution_id == actor.institution_id,
            Practitioner.is_active.is_(True),
        )
    )
    on_rota = session.scalars(
        select(OnCallShift.specialty_code)
        .where(
            OnCallShift.user_id == actor.user_id,
            OnCallShift.institution_id == actor.institution_id,
        )
        .distinct()
    )
    return sorted(set(practised) | set(on_rota))


def _longest_target(session: Session, institution_id: int) -> int:
    return int(
        session.scalar(
            select(func.max(Consultation.target_minutes)).where(
                Consultation.answer_institution_id == institution_id,
                Consultation.status.in_(_OPEN),
            )
        )
        or 0
    )


def _conditions(
    session: Session, actor: Actor, name: Worklist, now: datetime
) -> tuple[list[ColumnElement[bool]], list[Any]] | None:
    """The conditions and order of a worklist; None when it is empty for the actor."""
    c = Consultation
    if name is Worklist.MINE:
        return [c.assignee_user_id == actor.user_id, c.status.in_(_HELD)], [
            case((c.status == Status.ASSIGNED.value, 0), else_=1),
            c.due_at.is_(None),
            c.due_at,
            c.id,
        ]
    if name is Worklist.POOL:
        base = [c.answer_institution_id == actor.institution_id, c.status == Status.POOL.value]
        if not actor.can(Permission.CONSULT_COORDINATE):
            codes = claimable_specialties(session, actor)
            if not codes:
                return None
            mdt = select(ConsultationSpecialty.consultation_id).where(
                ConsultationSpecialty.specialty_code.in_(codes)
            )
            base.append(or_(c.specialty_code.in_(codes), c.id.in_(mdt)))
        return base, [c.urgency_rank, c.due_at.is_(None), c.due_at, c.id]
    if name is Worklist.ASKED:
        return [c.asker_institution_id == actor.institution_id, c.status.in_(_ASKED)], [
            c.updated_at.desc(),
            c.id.desc(),
        ]
    # at risk: escalated, or due within the at-risk share of the longest target
    longest = _longest_target(session, actor.institution_id)
    horizon = now + timedelta(minutes=longest * (1 - AT_RISK_SHARE))
    return [
        c.answer_institution_id == actor.institution_id,
        c.status.in_(_OPEN),
        or_(c.escalation_level >= 1, c.due_at <= horizon),
    ], [c.due_at.is_(None), c.due_at, c.id]


def _minutes_left(
    due_at: datetime | None,
    asked_at: datetime,
    target_minutes: int,
    paused_seconds: int,
    paused_since: datetime | None,
    status: str,
    now: datetime,
) -> int | None:
    if status not in _OPEN:
        return None
    if paused_since is not None:
        elapsed = paused_since - asked_at - timedelta(seconds=paused_seconds or 0)
        left = timedelta(minutes=target_minutes) - max(timedelta(0), elapsed)
    elif due_at is not None:
        left = due_at - now
    else:
        return None
    return int(left.total_seconds() // 60)


def _at_risk(row: WorklistRow, target_minutes: int) -> bool:
    if row.escalation_level >= 1:
        return True
    if row.minutes_left is None or row.paused:
        return False
    return row.minutes_left <= target_minutes * (1 - AT_RISK_SHARE)


_ASKER = aliased(Institution, name="asker_inst")
_ANSWER = aliased(Institution, name="answer_inst")


def _select(conditions: list[ColumnElement[bool]], order: list[Any]) -> Any:
    c = Consultation
    return (
        select(
            c.id,
            c.reference,
            c.status,
            c.mode,
            c.urgency,
            c.specialty_code,
            SpecialtyRow.name_zh,
            SpecialtyRow.name_en,
            c.patient_id,
            Patient.name,
            c.asker_institution_id,
            _ASKER.name_zh,
            _ASKER.name_en,
            c.answer_institution_id,
            _ANSWER.name_zh,
            _ANSWER.name_en,
            c.assignee_user_id,
            User.display_name,
            User.username,
            c.asked_at,
            c.due_at,
            c.target_minutes,
            c.paused_seconds,
            c.paused_since,
            c.escalation_level,
            c.updated_at,
            c.version,
        )
        .join(Patient, Patient.id == c.patient_id)
        .join(SpecialtyRow, SpecialtyRow.code == c.specialty_code)
        .join(_ASKER, _ASKER.id == c.asker_institution_id)
        .join(_ANSWER, _ANSWER.id == c.answer_institution_id)
        .outerjoin(User, User.id == c.assignee_user_id)
        .where(*conditions)
        .order_by(*order)
    )


def _row(r: Any, reads_patients: bool, now: datetime) -> tuple[WorklistRow, int]:
    (
        cid,
        reference,
        status,
        mode,
        urgency,
        specialty_code,
        spec_zh,
        spec_en,
        patient_id,
        patient_name,
        asker_id,
        asker_zh,
        asker_en,
        answer_id,
        answer_zh,
        answer_en,
        assignee_id,
        assignee_display,
        assignee_username,
        asked_at,
        due_at,
        target_minutes,
        paused_seconds,
        paused_since,
        escalation_level,
        updated_at,
        version,
    ) = r
    turn = TURN[Status(status)]
    row = WorklistRow(
        id=cid,
        reference=reference,
        status=status,
        mode=mode,
        urgency=urgency,
        specialty_code=specialty_code,
        specialty_zh=spec_zh,
        specialty_en=spec_en,
        patient_id=patient_id if reads_patients else None,
        patient_name=patient_name if reads_patients else mask_name(patient_name),
        asker_institution_id=asker_id,
        asker_name_zh=asker_zh,
        asker_name_en=asker_en,
        answer_institution_id=answer_id,
        answer_name_zh=answer_zh,
        answer_name_en=answer_en,
        assignee_user_id=assignee_id,
        assignee_name=(assignee_display or assignee_username) if assignee_id else None,
        asked_at=asked_at,
        due_at=due_at,
        minutes_left=_minutes_left(
            due_at, asked_at, target_minutes, paused_seconds, paused_since, status, now
        ),
        paused=paused_since is not None,
        escalation_level=escalation_level,
        turn=turn.value if isinstance(turn, Side) else None,
        updated_at=updated_at,
        version=version,
    )
    return row, target_minutes


def read_worklist(
    session: Session, actor: Actor, name: Worklist, paging: PageParams
) -> Page[WorklistRow]:
    """One page of a worklist (not audited: see :func:`worklist`)."""
    name = Worklist(name)
    if not may_read(actor, name):
        raise Forbidden(ONLY_FOR)
    now = clock.now()
    found = _conditions(session, actor, name, now)
    if found is None:
        return Page[WorklistRow].model_construct(
            items=[], total=0, page=paging.page, size=paging.size
        )
    conditions, order = found
    reads_patients = actor.can(Permission.PATIENT_READ)
    if name is Worklist.AT_RISK:
        # the candidates are bounded by the horizon; each is judged by its own target
        rows = [_row(r, reads_patients, now) for r in session.execute(_select(conditions, order))]
        kept = [row for row, target in rows if _at_risk(row, target)]
        kept.sort(key=lambda r: (r.minutes_left is None, r.minutes_left or 0, r.id))
        items = kept[paging.offset : paging.offset + paging.size]
        return Page[WorklistRow].model_construct(
            items=items, total=len(kept), page=paging.page, size=paging.size
        )
    total = session.scalar(select(func.count()).select_from(Consultation).where(*conditions)) or 0
    items = [
        _row(r, reads_patients, now)[0]
        for r in session.execute(
            _select(conditions, order).limit(paging.size).offset(paging.offset)
        )
    ]
    return Page[WorklistRow].model_construct(
        items=items, total=int(total), page=paging.page, size=paging.size
    )


def audit_worklist(session: Session, actor: Actor, name: Worklist, page: Page[WorklistRow]) -> None:
    """Record that ``actor`` read a worklist (it shows patient names): once per request."""
    audit.record(
        session,
        actor,
        "consultation.worklist",
        object_type="worklist",
        object_id=str(name),
        detail={
            "name": str(name),
            "count": len(page.items),
            "total": page.total,
            "page": page.page,
            "consultation_ids": [row.id for row in page.items],
        },
    )


def worklist(
    session: Session, actor: Actor, name: Worklist, paging: PageParams
) -> Page[WorklistRow]:
    """One page of a worklist, audited (action ``consultation.worklist``).

    - mine: the cases the actor holds: with the expert first, least time left first; then
      those waiting for the asker;
    - pool: cases nobody holds in the pools the actor may claim from (coordinators: every pool
      of their institution); most urgent, then least time left;
    - asked: open or answered cases the actor's institution asked; most recently changed
      first;
    - at_risk: open cases the actor's institution answers that were escalated or are due
      within the at-risk share of their time; least time left first (coordinators).
    """
    page = read_worklist(session, actor, name, paging)
    audit_worklist(session, actor, Worklist(name), page)
    return page


def counts(session: Session, actor: Actor) -> dict[Worklist, int]:
    """How many cases each worklist the actor may read holds (for the home page)."""
    out: dict[Worklist, int] = {}
    now = clock.now()
    for name in Worklist:
        if not may_read(actor, name):
            continue
        if name is Worklist.AT_RISK:
            out[name] = read_worklist(session, actor, name, PageParams(1, 1)).total
            continue
        found = _conditions(session, actor, name, now)
        if found is None:
            out[name] = 0
            continue
        out[name] = int(
            session.scalar(select(func.count()).select_from(Consultation).where(*found[0])) or 0
        )
    return out
