"""Builders of pools: a cleanroom pool led by BJ-A with the four hospitals of the small world
as members, its units, and patients of BD-A (with consent to share with the other members)
ready to be listed.

Actors: the lead's coordinator (``bj_coord``, BJ-A), the small world's coordinator (BD-A, keeps
BD-A's units), the small world's clinician and institution admin (BD-A, the patient's team).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy.orm import Session

from medcircle.auth.domain import Actor, Role
from medcircle.auth.models import User
from medcircle.patients.models import Patient
from medcircle.pools.models import PoolMember, ResourcePool, ResourceUnit
from medcircle.pools.schemas import EntryCreate
from medcircle.registry.models import Institution
from tests import referral_factories as rf
from tests.factories import api_token, now, user


def actor_of(u: User, *roles: Role) -> Actor:
    return Actor(
        user_id=u.id,
        username=u.username,
        institution_id=u.institution_id,
        roles=frozenset(roles),
        locale="en",
    )


@dataclass
class PoolWorld:
    circle: rf.CircleWorld
    pool: ResourcePool
    bj_coord: User
    units: dict[str, ResourceUnit] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def bj(self) -> Institution:
        return self.circle.base.beijing

    @property
    def bd(self) -> Institution:
        return self.circle.base.baoding

    @property
    def lead(self) -> Actor:
        return actor_of(self.bj_coord, Role.COORDINATOR)

    @property
    def bd_coord(self) -> Actor:
        return actor_of(self.circle.base.users[Role.COORDINATOR], Role.COORDINATOR)

    @property
    def team(self) -> Actor:
        return actor_of(self.circle.base.users[Role.CLINICIAN], Role.CLINICIAN)

    def auth(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}


def unit(
    session: Session, pool: ResourcePool, inst: Institution, code: str, room_class: str = "100"
) -> ResourceUnit:
    u = ResourceUnit(
        pool_id=pool.id,
        institution_id=inst.id,
        code=code,
        name=f"Room {code}",
        room_class=room_class,
        status="free",
        status_since=now(),
        created_at=now(),
    )
    session.add(u)
    session.flush()
    return u


def pool_world(session: Session, circle: rf.CircleWorld, *, free: bool = False) -> PoolWorld:
    """The pool with three class-100 rooms (two at BJ-A, one at BD-A) and one class-1000 room
    at BD-A; every unit free if ``free`` (else in maintenance for a week, so nothing is
    offered until a test frees it)."""
    base = circle.base
    pool = ResourcePool(
        code="cleanrooms",
        name_zh="层流仓",
        name_en="Cleanrooms",
        kind="cleanroom",
        lead_institution_id=base.beijing.id,
        policy={"offer_hours": 24, "aging_days": 90, "turnaround_days": 2},
        pooled_since=date(2020, 1, 1),
        created_at=now(),
        updated_at=now(),
    )
    session.add(pool)
    session.flush()
    for inst in (base.beijing, base.beijing2, base.baoding, base.baoding2):
        session.add(PoolMember(pool_id=pool.id, institution_id=inst.id, joined_on=date(2020, 1, 1)))
    coord = user(session, base.beijing, Role.COORDINATOR, username="bjcoord")
    w = PoolWorld(circle, pool, coord)
    w.units["bj1"] = unit(session, pool, base.beijing, "BJ-100-1")
    w.units["bj2"] = unit(session, pool, base.beijing, "BJ-100-2")
    w.units["bd1"] = unit(session, pool, base.baoding, "BD-100-1")
    w.units["bd1000"] = unit(session, pool, base.baoding, "BD-1000-1", "1000")
    if not free:
        for u in w.units.values():
            u.status = "maintenance"
            u.expected_free_on = date.today() + timedelta(days=7)
    session.flush()
    w.tokens["bjcoord"] = api_token(session, coord)
    w.tokens.update(circle.tokens)
    return w


def listable_patient(session: Session, w: PoolWorld, **kw: object) -> Patient:
    """A BD-A patient with consent to share with every other member of the pool."""
    base = w.circle.base
    p = rf.patient(session, base.baoding, national_id=None, **kw)
    for inst in (base.beijing, base.beijing2, base.baoding2):
        rf.consent(session, p, inst, base.users[Role.CLINICIAN], purpose="waitlist")
    return p


def entry_in(
    patient: Patient,
    *,
    ready: bool = True,
    urgency: str = "routine",
    room_class: str = "100",
    sites: list[int] | None = None,
) -> EntryCreate:
    return EntryCreate.model_validate(
        {
            "patient_id": patient.id,
            "icd10_code": "C91.0",
            "transplant_type": "allogeneic_related",
            "room_class": room_class,
            "urgency": urgency,
            "donor_found": ready,
            "workup_done": ready,
            "acceptable_institution_ids": sites or [],
        }
    )
