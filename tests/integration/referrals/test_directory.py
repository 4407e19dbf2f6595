"""The directory: each department's current wait from hand-made referrals, the network flag,
the order (in-network first, then the shortest wait), filters, and the API."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from medcircle.auth.domain import Actor, Permission, Role
from medcircle.auth.service import actor_for
from medcircle.config import Settings
from medcircle.kit.errors import Forbidden
from medcircle.kit.pagination import PageParams
from medcircle.referrals import queries
from medcircle.referrals.domain import Status
from medcircle.referrals.queries import DirectoryFilter
from medcircle.registry.models import Department
from tests import agreement_factories, registry_factories
from tests.factories import World, now
from tests.referral_factories import CircleWorld, patient, referral, referral_world

PAGE = PageParams(1, 100)


@pytest.fixture
def cw(session: Session, world: World) -> CircleWorld:
    w = referral_world(session, world)
    session.commit()
    return w


def booked(
    session: Session,
    cw: CircleWorld,
    dept: Department,
    days_ago: float,
    wait_days: float,
    status: Status = Status.SCHEDULED,
) -> None:
    """A referral to ``dept`` submitted ``days_ago`` with its appointment ``wait_days`` later."""
    p = patient(session, cw.base.baoding, national_id=None)
    at = now() - timedelta(days=days_ago)
    referral(
        session,
        p,
        cw.base.users[Role.CLINICIAN],
        dept,
        status=status,
        submitted_at=at,
        appointment_at=at + timedelta(days=wait_days),
    )


def test_current_wait_is_the_median_over_the_window(session: Session, cw: CircleWorld) -> None:
    # BJ-A paediatric cardiology: 2, 4 and 10 days (median 4), plus ones that do not count
    booked(session, cw, cw.bj_paeds, 5, 2)
    booked(session, cw, cw.bj_paeds, 20, 4, Status.COMPLETED)
    booked(session, cw, cw.bj_paeds, 30, 10, Status.NO_SHOW)
    booked(session, cw, cw.bj_paeds, 120, 1)  # submitted before the window
    booked(session, cw, cw.bj_paeds, 3, 0.5, Status.CANCELLED)  # cancelled: no appointment kept
    p = patient(session, cw.base.baoding, national_id=None)
    referral(session, p, cw.base.users[Role.CLINICIAN], cw.bj_paeds)  # not booked yet
    # cardiology: an even sample of 4 (1, 2, 3, 9 -> 2.5)
    for wait in (1, 2, 3, 9):
        booked(session, cw, cw.bj_cardio, 10, wait, Status.CLOSED)
    # BJ-B: only two appointments: too few to say
    booked(session, cw, cw.bj2_paeds, 10, 1)
    booked(session, cw, cw.bj2_paeds, 10, 3, Status.ARRIVED)
    session.commit()

    waits = queries.current_wait(
        session, [cw.bj_paeds.id, cw.bj_cardio.id, cw.bj2_paeds.id, cw.bd_paeds.id], now(), 90
    )
    assert waits[cw.bj_paeds.id] == queries.Wait(4.0, 3)
    assert waits[cw.bj_cardio.id] == queries.Wait(2.5, 4)
    assert waits[cw.bj2_paeds.id] == queries.Wait(None, 2)
    assert waits[cw.bd_paeds.id] == queries.Wait(None, 0)
    # a shorter window drops the oldest appointments
    short = queries.current_wait(session, [cw.bj_paeds.id], now(), 15)
    assert short[cw.bj_paeds.id] == queries.Wait(None, 1)
    assert queries.current_wait(session, [], now(), 90) == {}


def test_directory_network_first_then_shortest_wait(
    session: Session, cw: CircleWorld, settings: Settings
) -> None:
    # waits: BJ-A cardiology 2 days, BJ-A paediatric cardiology 6, BJ-B 1 (not in network)
    for wait in (2, 2, 2):
        booked(session, cw, cw.bj_cardio, 10, wait)
    for wait in (5, 6, 7):
        booked(session, cw, cw.bj_paeds, 10, wait)
    for wait in (1, 1, 1):
        booked(session, cw, cw.bj2_paeds, 10, wait)
    closed = registry_factories.department(session, cw.base.beijing, is_active=False)
    session.commit()

    me = actor_for(session, cw.base.users[Role.CLINICIAN])  # at BD-A
    page = queries.directory(session, me, None, PAGE, settings)
    order = [(r.department_id, r.in_network, r.wait_median_days) for r in page.items]
    assert order == [
        (cw.bj_cardio.id, True, 2.0),
        (cw.bj_paeds.id, True, 6.0),
        (cw.bd2_paeds.id, True, None),  # alliance member, no wait known yet
        (cw.bj2_paeds.id, False, 1.0),
    ]
    assert page.total == 4
    ids = {r.department_id for r in page.items}
    assert cw.bd_paeds.id not in ids  # one's own institution is not a referral target
    assert closed.id not in ids
    first = page.items[0]
    assert (first.institution_name_en, first.level, first.specialty_code) == (
        "Beijing Hospital A",
        "tertiary",
        "cardiology",
    )
    assert first.city_code == "110100" and first.city_name_en == "Beijing (districts)"
    assert first.specialty_name_en and first.specialty_name_zh
    assert first.wait_sample == 3

    # seen from BD-B (alliance member, no pairing with BJ-A): only BD-A is in its network
    bd2 = actor_for(session, cw.bd2_clinician)
    page = queries.directory(session, bd2, None, PAGE, settings)
    assert (page.items[0].department_id, page.items[0].in_network) == (cw.bd_paeds.id, True)
    assert {r.department_id for r in page.items if r.in_network} == {cw.bd_paeds.id}


def test_directory_filters_and_paging(
    session: Session, cw: CircleWorld, settings: Settings
) -> None:
    me = actor_for(session, cw.base.users[Role.CLINICIAN])

    def found(f: DirectoryFilter) -> set[int]:
        return {r.department_id for r in queries.directory(session, me, f, PAGE, settings).items}

    assert found(DirectoryFilter(specialty="cardiology")) == {cw.bj_cardio.id}
    assert found(DirectoryFilter(institution_id=cw.base.beijing2.id)) == {cw.bj2_paeds.id}
    assert found(DirectoryFilter(level="secondary")) == {cw.bd2_paeds.id}
    assert found(DirectoryFilter(q="心内")) == {cw.bj_cardio.id}
    assert found(DirectoryFilter(q="hospital b")) == {cw.bj2_paeds.id, cw.bd2_paeds.id}
    assert found(DirectoryFilter(q="%")) == set()
    page = queries.directory(session, me, None, PageParams(2, 3), settings)
    assert page.total == 4 and len(page.items) == 1


def test_an_ended_agreement_leaves_the_network(
    session: Session, cw: CircleWorld, settings: Settings
) -> None:
    # BJ-B supported BD-A until last year; BJ-B's department is not in the network today
    agreement_factories.agreement(
        session,
        cw.base.beijing2,
        cw.base.baoding,
        starts_on=date(2018, 1, 1),
        ends_on=date(2020, 1, 1),
    )
    session.commit()
    me = actor_for(session, cw.base.users[Role.CLINICIAN])
    network = queries.network_of(session, cw.base.baoding.id, date.today())
    assert network == {cw.base.beijing.id, cw.base.baoding2.id}
    page = queries.directory(
        session, me, DirectoryFilter(institution_id=cw.base.beijing2.id), PAGE, settings
    )
    assert [r.in_network for r in page.items] == [False]


def test_directory_needs_only_registry_reading(
    session: Session, cw: CircleWorld, settings: Settings
) -> None:
    auditor = actor_for(session, cw.base.users[Role.AUDITOR])  # at BJ-A
    assert queries.directory(session, auditor, None, PAGE, settings).total == 3
    nobody = Actor(
        user_id=auditor.user_id,
        username="nobody",
        institution_id=auditor.institution_id,
        roles=frozenset(),
        permissions=frozenset({Permission.AUDIT_READ}),
    )
    with pytest.raises(Forbidden):
        queries.directory(session, nobody, None, PAGE, settings)


def test_directory_api(client: TestClient, session: Session, cw: CircleWorld) -> None:
    for wait in (3, 4, 5):
        booked(session, cw, cw.bj_paeds, 10, wait)
    session.commit()
    r = client.get(
        "/api/v1/directory",
        params={"specialty": "ped_cardiology"},
        headers=cw.base.auth(Role.CLINICIAN),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 3
    first = body["items"][0]
    assert first["department_id"] == cw.bj_paeds.id
    assert first["wait_median_days"] == 4.0 and first["wait_sample"] == 3
    assert first["in_network"] is True
    assert client.get("/api/v1/directory").status_code == 401
