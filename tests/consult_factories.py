"""Builders of on-call rotas, leave, skills and consultations, written straight to the database.

``consult_world`` extends the referral world (tests.referral_factories) with what remote
consultation needs: at BJ-A (Beijing, supporting BD-A under a pairing that covers
paediatric cardiology and cardiology) three paediatric cardiology experts and a coordinator,
a rota in which ``expert`` is primary and ``expert2`` backup from 6 hours ago to 18 hours
ahead, ``expert3`` with no shift, skills, and a child at BD-A whose guardian consented to
sharing with BJ-A for consultation. The asker is the small world's clinician (at BD-A).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from medcircle.auth.domain import Role
from medcircle.auth.models import User
from medcircle.consultations.domain import URGENCY_RANK, Mode, Status, Urgency
from medcircle.consultations.models import (
    Consultation,
    ConsultationEvent,
    ExpertLeave,
    ExpertSkill,
    OnCallShift,
)
from medcircle.patients.models import Consent, Patient
from medcircle.registry.models import Institution
from tests import referral_factories as rf
from tests import registry_factories
from tests.factories import World, api_token, now, user

_seq = itertools.count(1)
SPECIALTY = "ped_cardiology"


@dataclass
class ConsultWorld:
    circle: rf.CircleWorld
    # BJ-A experts in paediatric cardiology: expert is base.users[EXPERT]
    expert: User
    expert2: User
    expert3: User
    # BJ-A coordinator of consultations
    coordinator: User
    # BD-A asker (base.users[CLINICIAN]) and a child with consent to BJ-A for consultation
    asker: User
    patient: Patient
    consent: Consent
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def base(self) -> World:
        return self.circle.base

    @property
    def answerer(self) -> Institution:
        return self.circle.base.beijing

    @property
    def asking(self) -> Institution:
        return self.circle.base.baoding

    def auth_user(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}


def shift(
    session: Session,
    inst: Institution,
    u: User,
    starts_at: datetime,
    ends_at: datetime,
    *,
    specialty_code: str = SPECIALTY,
    role: str = "primary",
) -> OnCallShift:
    row = OnCallShift(
        institution_id=inst.id,
        specialty_code=specialty_code,
        user_id=u.id,
        starts_at=starts_at,
        ends_at=ends_at,
        role=role,
        created_at=now(),
    )
    session.add(row)
    session.flush()
    return row


def leave(session: Session, u: User, starts_at: datetime, ends_at: datetime) -> ExpertLeave:
    row = ExpertLeave(user_id=u.id, starts_at=starts_at, ends_at=ends_at, created_at=now())
    session.add(row)
    session.flush()
    return row


def skill(session: Session, u: User, prefix: str) -> ExpertSkill:
    row = ExpertSkill(user_id=u.id, icd10_prefix=prefix)
    session.add(row)
    session.flush()
    return row


def consult_world(session: Session, circle: rf.CircleWorld) -> ConsultWorld:
    base = circle.base
    bj, bd = base.beijing, base.baoding
    expert = base.users[Role.EXPERT]
    expert2 = user(session, bj, Role.EXPERT, username="expert2")
    expert3 = user(session, bj, Role.EXPERT, username="expert3")
    coordinator = user(session, bj, Role.COORDINATOR, username="bjcoord")
    for u in (expert, expert2, expert3):
        registry_factories.practitioner(
            session, bj, specialty_code=SPECIALTY, user_id=u.id, department_id=circle.bj_paeds.id
        )
    asker = base.users[Role.CLINICIAN]
    child = rf.patient(session, bd)
    agreed = rf.consent(session, child, bj, asker, purpose="consultation")
    t = now()
    shift(session, bj, expert, t - timedelta(hours=6), t + timedelta(hours=18))
    shift(session, bj, expert2, t - timedelta(hours=6), t + timedelta(hours=18), role="backup")
    skill(session, expert, "Q2")
    w = ConsultWorld(circle, expert, expert2, expert3, coordinator, asker, child, agreed)
    w.tokens.update(circle.tokens)
    for u in (expert2, expert3, coordinator):
        w.tokens[u.username] = api_token(session, u)
    return w


def consultation(
    session: Session,
    w: ConsultWorld,
    *,
    status: Status = Status.ASSIGNED,
    assignee: User | None = None,
    urgency: Urgency = Urgency.ROUTINE,
    mode: Mode = Mode.WRITTEN,
    asked_at: datetime | None = None,
    target_minutes: int = 24 * 60,
    **kw: Any,
) -> Consultation:
    """A consultation as if asked at ``asked_at`` (now by default), held by ``assignee`` (the
    primary expert by default when assigned)."""
    n = next(_seq)
    at = asked_at or now()
    holder = assignee if assignee is not None else (w.expert if status != Status.POOL else None)
    values: dict[str, Any] = {
        "reference": f"TC-{n:08d}",
        "status": status.value,
        "mode": mode.value,
        "urgency": urgency.value,
        "urgency_rank": URGENCY_RANK[urgency],
        "patient_id": w.patient.id,
        "consent_id": w.consent.id,
        "asker_institution_id": w.asking.id,
        "asker_user_id": w.asker.id,
        "answer_institution_id": w.answerer.id,
        "specialty_code": SPECIALTY,
        "assignee_user_id": holder.id if holder is not None else None,
        "question": "Is surgical closure indicated now?",
        "clinical_summary": "Murmur since birth; echo shows a 7 mm perimembranous VSD.",
        "icd10_code": "Q21.0",
        "diagnosis": "Ventricular septal defect",
        "asked_at": at,
        "target_minutes": target_minutes,
        "paused_seconds": 0,
        "due_at": at + timedelta(minutes=target_minutes),
        "created_at": at,
        "updated_at": at,
    }
    values.update(kw)
    c = Consultation(**values)
    session.add(c)
    session.flush()
    session.add(
        ConsultationEvent(
            consultation_id=c.id,
            at=at,
            action="ask",
            from_status=None,
            to_status=c.status,
            actor_user_id=w.asker.id,
            actor_institution_id=w.asking.id,
            detail={},
        )
    )
    session.flush()
    return c
