"""Builders of dispatch set-up data (demand, expert profiles, duties, skills, travel times),
written straight to the database.

``dispatch_world`` extends the referral world (tests.referral_factories): BJ-A (Beijing)
supports BD-A (Baoding) in paediatric cardiology and cardiology from 2017 to 2030. At BJ-A:
``expert`` (the small world's) and ``expert2`` take part in dispatch in paediatric cardiology,
``expert3`` has no profile yet, ``bjcoord`` keeps their availability. At BD-A the small world's
coordinator and institution admin write demand. BD-B, supported by nobody, is a stranger.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from medcircle.agreements.models import CooperationAgreement
from medcircle.auth.domain import Role
from medcircle.auth.models import User
from medcircle.dispatch.models import (
    DispatchDemand,
    DispatchSkill,
    ExpertDuty,
    ExpertProfile,
    TravelTime,
)
from tests import referral_factories as rf
from tests import registry_factories
from tests.factories import World, api_token, now, user

_seq = itertools.count(1)
SPECIALTY = "ped_cardiology"


@dataclass
class DispatchWorld:
    circle: rf.CircleWorld
    agreement: CooperationAgreement
    expert: User
    expert2: User
    expert3: User
    # BJ-A coordinator (DISPATCH_PLAN and DISPATCH_DEMAND at the supporting side)
    bj_coordinator: User
    # BD-A coordinator (the small world's): writes demand at the site
    site_coordinator: User
    # BD-B coordinator: an institution with no agreement
    stranger: User
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def base(self) -> World:
        return self.circle.base

    def auth_user(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}


def profile(
    session: Session,
    u: User,
    specialty_code: str = SPECIALTY,
    *,
    max_days_per_week: int = 2,
    duty_weekdays: list[int] | None = None,
    is_active: bool = True,
) -> ExpertProfile:
    row = ExpertProfile(
        user_id=u.id,
        specialty_code=specialty_code,
        max_days_per_week=max_days_per_week,
        duty_weekdays=duty_weekdays or [],
        is_active=is_active,
        updated_at=now(),
        version=1,
    )
    session.add(row)
    session.flush()
    return row


def duty(session: Session, u: User, day: date, reason: str | None = None) -> ExpertDuty:
    row = ExpertDuty(user_id=u.id, day=day, reason=reason)
    session.add(row)
    session.flush()
    return row


def skill(session: Session, u: User, name: str) -> DispatchSkill:
    row = DispatchSkill(user_id=u.id, skill=name)
    session.add(row)
    session.flush()
    return row


def travel_time(session: Session, origin_id: int, destination_id: int, minutes: int) -> TravelTime:
    row = TravelTime(
        origin_institution_id=origin_id,
        destination_institution_id=destination_id,
        minutes=minutes,
        updated_at=now(),
    )
    session.add(row)
    session.flush()
    return row


def demand(
    session: Session,
    w: DispatchWorld,
    *,
    status: str = "draft",
    kind: str = "visits",
    starts_on: date = date(2026, 12, 7),
    ends_on: date = date(2027, 1, 29),
    **kw: Any,
) -> DispatchDemand:
    values: dict[str, Any] = {
        "agreement_id": w.agreement.id,
        "site_institution_id": w.base.baoding.id,
        "supporting_institution_id": w.base.beijing.id,
        "department_id": w.circle.bd_paeds.id,
        "specialty_code": SPECIALTY,
        "kind": kind,
        "visits_per_week": 2 if kind == "visits" else None,
        "positions": 1 if kind == "resident" else None,
        "starts_on": starts_on,
        "ends_on": ends_on,
        "status": status,
        "created_by_user_id": w.site_coordinator.id,
        "created_at": now(),
        "updated_at": now(),
        "version": 1,
    }
    values.update(kw)
    row = DispatchDemand(**values)
    session.add(row)
    session.flush()
    return row


def dispatch_world(session: Session, circle: rf.CircleWorld) -> DispatchWorld:
    base = circle.base
    bj, bd2 = base.beijing, base.baoding2
    expert = base.users[Role.EXPERT]
    expert2 = user(session, bj, Role.EXPERT, username="expert2")
    expert3 = user(session, bj, Role.EXPERT, username="expert3")
    bj_coordinator = user(session, bj, Role.COORDINATOR, username="bjcoord")
    stranger = user(session, bd2, Role.COORDINATOR, username="bd2coord")
    for u in (expert, expert2, expert3):
        registry_factories.practitioner(
            session, bj, specialty_code=SPECIALTY, user_id=u.id, department_id=circle.bj_paeds.id
        )
    agreement = (
        session.query(CooperationAgreement)
        .filter_by(supporting_institution_id=bj.id, supported_institution_id=base.baoding.id)
        .one()
    )
    profile(session, expert)
    profile(session, expert2, duty_weekdays=[0])
    w = DispatchWorld(
        circle,
        agreement,
        expert,
        expert2,
        expert3,
        bj_coordinator,
        base.users[Role.COORDINATOR],
        stranger,
    )
    w.tokens.update(circle.tokens)
    for u in (expert2, expert3, bj_coordinator, stranger):
        w.tokens[u.username] = api_token(session, u)
    return w
