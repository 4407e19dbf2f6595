"""A published roster for the calendar and map tests, written straight to the database on the
dispatch world (tests.dispatch_factories) at Monday 30 November 2026, 10:00 China time.

BJ-A's roster (published) sends ``expert`` to BD-A on Tue 1, Thu 3 and Tue 8 December and
sent them on Tue 24 November (an older published roster); ``expert2`` goes on Wed 2 December
(a special request). BJ-B's roster sends ``bj2expert`` to BD-A on Wed 2 December. A draft
of BJ-A holds a visit that nobody sees.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pytest
from sqlalchemy.orm import Session

from medcircle.auth.domain import Role
from medcircle.auth.models import User
from medcircle.dispatch.models import RosterPlan, RosterVisit
from tests import dispatch_factories as df
from tests.factories import api_token, now, user
from tests.integration.dispatch.setup_support import (
    TODAY,
    dw_fixture,
    frozen_fixture,
)

SPECIALTY = df.SPECIALTY


@dataclass
class Roster:
    dw: df.DispatchWorld
    plan: RosterPlan
    old: RosterPlan
    other: RosterPlan
    draft: RosterPlan
    bj2expert: User
    visits: dict[str, RosterVisit] = field(default_factory=dict)


def plan(
    session: Session,
    institution_id: int,
    starts_on: date,
    ends_on: date,
    *,
    status: str = "published",
    version: int = 2,
    title: str = "December",
) -> RosterPlan:
    row = RosterPlan(
        title=title,
        starts_on=starts_on,
        ends_on=ends_on,
        institution_ids=[institution_id],
        status=status,
        report={},
        created_at=now(),
        published_at=now() if status == "published" else None,
        version=version,
    )
    session.add(row)
    session.flush()
    return row


def visit(
    session: Session,
    p: RosterPlan,
    u: User,
    day: date,
    site_id: int,
    *,
    kind: str = "visit",
    department_id: int | None = None,
    travel_minutes: int = 120,
) -> RosterVisit:
    row = RosterVisit(
        plan_id=p.id,
        user_id=u.id,
        day=day,
        site_institution_id=site_id,
        department_id=department_id,
        specialty_code=SPECIALTY,
        kind=kind,
        travel_minutes=travel_minutes,
    )
    session.add(row)
    session.flush()
    return row


def roster(session: Session, dw: df.DispatchWorld) -> Roster:
    base = dw.base
    bj, bj2, bd = base.beijing, base.beijing2, base.baoding
    bd.address = "保定市竞秀区长城北大街 1号"
    dept = dw.circle.bd_paeds.id
    bj2expert = user(session, bj2, Role.EXPERT, username="bj2expert")
    dw.tokens["bj2expert"] = api_token(session, bj2expert)
    p = plan(session, bj.id, date(2026, 11, 30), date(2026, 12, 25), version=3)
    old = plan(session, bj.id, date(2026, 11, 23), date(2026, 11, 27), title="November")
    other = plan(session, bj2.id, date(2026, 11, 30), date(2026, 12, 25), title="BJ-B")
    draft = plan(session, bj.id, date(2026, 11, 30), date(2026, 12, 25), status="draft")
    r = Roster(dw, p, old, other, draft, bj2expert)
    e, e2 = dw.expert, dw.expert2
    r.visits["tue1"] = visit(session, p, e, date(2026, 12, 1), bd.id, department_id=dept)
    r.visits["thu3"] = visit(session, p, e, date(2026, 12, 3), bd.id, department_id=dept)
    r.visits["tue8"] = visit(session, p, e, date(2026, 12, 8), bd.id, department_id=dept)
    r.visits["past"] = visit(session, old, e, date(2026, 11, 24), bd.id, department_id=dept)
    r.visits["e2wed"] = visit(
        session, p, e2, date(2026, 12, 2), bd.id, kind="special", department_id=dept
    )
    r.visits["bj2wed"] = visit(session, other, bj2expert, date(2026, 12, 2), bd.id)
    r.visits["draft"] = visit(session, draft, e, date(2026, 12, 4), bd.id)
    return r


@pytest.fixture(name="ros")
def roster_fixture(session: Session, dw: df.DispatchWorld) -> Roster:
    r = roster(session, dw)
    session.commit()
    return r


__all__ = ["TODAY", "Roster", "dw_fixture", "frozen_fixture", "roster", "roster_fixture"]
