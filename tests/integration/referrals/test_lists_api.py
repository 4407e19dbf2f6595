"""The list endpoints: worklists and their counts, ICD-10 look-up, savings (numbers by hand),
and the savings estimate of one referral from the family's home to the capital hospital."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from medcircle.audit.models import AuditEvent
from medcircle.auth.domain import Role
from medcircle.auth.service import actor_for
from medcircle.config import Settings
from medcircle.referrals import queries, savings
from medcircle.referrals.domain import Direction, Status, Urgency
from medcircle.registry.models import Division
from tests.factories import World, now
from tests.referral_factories import CircleWorld, patient, referral, referral_world


@pytest.fixture
def cw(session: Session, world: World) -> CircleWorld:
    w = referral_world(session, world)
    session.commit()
    return w


# --- worklists ----------------------------------------------------------------------------


def test_worklist_api_lists_counts_and_audits(
    client: TestClient, session: Session, cw: CircleWorld
) -> None:
    p = patient(session, cw.base.baoding, name="赵小宝")
    sender = cw.base.users[Role.CLINICIAN]
    old = referral(session, p, sender, cw.bj_paeds, submitted_at=now() - timedelta(hours=3))
    urgent = referral(session, p, sender, cw.bj_paeds, urgency=Urgency.URGENT)
    session.commit()
    me = cw.auth_user("bjclinician")

    r = client.get("/api/v1/referrals/worklists/incoming", headers=me)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert (body["total"], body["page"], body["size"]) == (2, 1, 50)
    assert [i["id"] for i in body["items"]] == [urgent.id, old.id]
    item = body["items"][0]
    assert item["patient_name"] == "赵小宝"
    assert item["counterpart_name_en"] == "Baoding Hospital A"
    assert item["urgency"] == "urgent" and item["status"] == "submitted"
    assert item["overdue"] is False
    assert datetime.fromisoformat(item["submitted_at"]).tzinfo is not None

    r = client.get(
        "/api/v1/referrals/worklists/incoming",
        params={"urgency": "routine", "q": "赵", "size": 1},
        headers=me,
    )
    assert [i["id"] for i in r.json()["items"]] == [old.id]

    events = session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.action == "referral.worklist",
            AuditEvent.actor_user_id == cw.bj_clinician.id,
        )
        .order_by(AuditEvent.id)
    ).all()
    assert [e.detail["count"] for e in events] == [2, 1]

    counts = client.get("/api/v1/referrals/worklists", headers=me).json()
    assert counts == {"incoming": 2, "scheduled": 0, "outgoing": 0, "awaiting_return": 0}
    sent = client.get("/api/v1/referrals/worklists/outgoing", headers=cw.base.auth(Role.CLINICIAN))
    assert sent.json()["total"] == 2


def test_worklist_api_refusals(client: TestClient, cw: CircleWorld) -> None:
    assert client.get("/api/v1/referrals/worklists/incoming").status_code == 401
    bad = client.get("/api/v1/referrals/worklists/everything", headers=cw.auth_user("bjclinician"))
    assert bad.status_code == 422
    r = client.get("/api/v1/referrals/worklists/escalated", headers=cw.auth_user("bjclinician"))
    assert r.status_code == 403
    assert r.json()["code"] == "forbidden"
    r = client.get(
        "/api/v1/referrals/worklists/escalated", headers=cw.base.auth(Role.ALLIANCE_ADMIN)
    )
    assert r.status_code == 200 and r.json()["items"] == []
    r = client.get(
        "/api/v1/referrals/worklists/incoming", headers=cw.base.auth(Role.COMMISSION_ANALYST)
    )
    assert r.status_code == 403


# --- ICD-10 -------------------------------------------------------------------------------


def test_icd10_api(client: TestClient, cw: CircleWorld) -> None:
    h = cw.auth_user("bjclinician")
    r = client.get("/api/v1/icd10", params={"q": "q21", "limit": 3}, headers=h)
    assert r.status_code == 200
    assert r.json() == [
        {"code": "Q21.0", "description": "Ventricular septal defect"},
        {"code": "Q21.1", "description": "Atrial septal defect"},
        {"code": "Q21.2", "description": "Atrioventricular septal defect"},
    ]
    words = client.get("/api/v1/icd10", params={"q": "lobar pneumonia"}, headers=h).json()
    assert {"code": "J18.1", "description": "Lobar pneumonia, unspecified"} in words
    assert client.get("/api/v1/icd10", params={"q": ""}, headers=h).status_code == 422
    assert (
        client.get("/api/v1/icd10", params={"q": "j18", "limit": 0}, headers=h).status_code == 422
    )
    assert client.get("/api/v1/icd10", params={"q": "j18"}).status_code == 401


# --- savings ------------------------------------------------------------------------------


def _completed(
    session: Session,
    cw: CircleWorld,
    *,
    direction: Direction,
    yuan: float | None,
    day: date,
    to_bd2: bool = False,
) -> None:
    p = patient(session, cw.base.baoding, national_id=None)
    at = datetime(day.year, day.month, day.day, 4, 0, tzinfo=UTC)  # noon in Beijing
    if direction is Direction.UP:
        sender, dept = cw.base.users[Role.CLINICIAN], cw.bj_paeds
    else:
        sender, dept = cw.bj_clinician, (cw.bd2_paeds if to_bd2 else cw.bd_paeds)
    referral(
        session,
        p,
        sender,
        dept,
        direction=direction,
        status=Status.COMPLETED,
        submitted_at=at - timedelta(days=5),
        completed_at=at,
        saving_yuan=yuan,
        local_plan=direction is Direction.UP,
    )


def test_savings_summary_by_hand(client: TestClient, session: Session, cw: CircleWorld) -> None:
    d = date(2026, 3, 10)
    _completed(session, cw, direction=Direction.DOWN, yuan=1180.00, day=d)
    _completed(session, cw, direction=Direction.DOWN, yuan=3980.50, day=d + timedelta(days=1))
    _completed(session, cw, direction=Direction.UP, yuan=940.25, day=d + timedelta(days=2))
    # BJ-A to BD-B: not BD-A's, but in the circle's total
    _completed(session, cw, direction=Direction.DOWN, yuan=500.00, day=d, to_bd2=True)
    # outside the period, and one with no estimate
    _completed(session, cw, direction=Direction.DOWN, yuan=9999.00, day=date(2026, 1, 1))
    _completed(session, cw, direction=Direction.DOWN, yuan=None, day=d)
    session.commit()

    params = {"date_from": "2026-03-01", "date_to": "2026-03-31"}
    mine = client.get(
        "/api/v1/referrals/savings", params=params, headers=cw.base.auth(Role.CLINICIAN)
    )
    assert mine.status_code == 200, mine.text
    assert mine.json() == {
        "date_from": "2026-03-01",
        "date_to": "2026-03-31",
        "institution_id": cw.base.baoding.id,
        "count": 3,
        "total_yuan": 6100.75,
        "up_count": 1,
        "up_yuan": 940.25,
        "down_count": 2,
        "down_yuan": 5160.5,
    }
    circle = client.get(
        "/api/v1/referrals/savings", params=params, headers=cw.base.auth(Role.COMMISSION_ANALYST)
    ).json()
    assert (circle["institution_id"], circle["count"], circle["total_yuan"]) == (None, 4, 6600.75)
    assert circle["down_yuan"] == 5660.5
    # BJ-A sent or received all four in the period
    bj = client.get("/api/v1/referrals/savings", params=params, headers=cw.auth_user("bjadmin"))
    assert bj.json()["count"] == 4
    # the period's last day is included, the day after is not
    one_day = {"date_from": "2026-03-12", "date_to": "2026-03-12"}
    r = client.get(
        "/api/v1/referrals/savings", params=one_day, headers=cw.base.auth(Role.CLINICIAN)
    )
    assert (r.json()["count"], r.json()["up_yuan"]) == (1, 940.25)
    backwards = {"date_from": "2026-03-31", "date_to": "2026-03-01"}
    r = client.get(
        "/api/v1/referrals/savings", params=backwards, headers=cw.base.auth(Role.CLINICIAN)
    )
    assert r.json()["count"] == 0
    assert client.get("/api/v1/referrals/savings").status_code == 401


def test_saving_for_a_downward_referral(
    session: Session, cw: CircleWorld, settings: Settings
) -> None:
    # the family lives in Lianchi District, Baoding (38.8831, 115.4971); BJ-A is at (39.9, 116.4)
    p = patient(session, cw.base.baoding, residence_division_code="130606")
    down = referral(session, p, cw.bj_clinician, cw.bd_paeds, direction=Direction.DOWN)
    result = savings.saving_for(session, down, settings)
    assert result is not None
    yuan, km = result
    assert km == round(savings.haversine_km(38.8831, 115.4971, 39.9, 116.4), 1)
    assert 135 < km < 140
    # outpatient: 2 nights at 350; 2 travellers both ways at 0.8 yuan/km
    assert yuan == round(2 * km * 0.8 * 2 + 2 * 350, 2)

    admission = referral(
        session, p, cw.bj_clinician, cw.bd_paeds, direction=Direction.DOWN, care_type="admission"
    )
    assert savings.saving_for(session, admission, settings) == (
        round(2 * km * 0.8 * 2 + 10 * 350, 2),
        km,
    )


def test_saving_for_upward_referrals_and_missing_points(
    session: Session, cw: CircleWorld, settings: Settings
) -> None:
    sender = cw.base.users[Role.CLINICIAN]
    p = patient(session, cw.base.baoding, residence_division_code="130606")
    up = referral(session, p, sender, cw.bj_paeds)
    assert savings.saving_for(session, up, settings) is None  # care went to the capital
    local = referral(session, p, sender, cw.bj_paeds, local_plan=True)
    at_home = savings.saving_for(session, local, settings)
    assert at_home is not None and 135 < at_home[1] < 140

    # a residence without coordinates: its parent division (Baoding city) is used
    session.add(
        Division(
            code="130699",
            name_zh="测试区",
            name_en="Test District",
            level="county",
            parent_code="130600",
        )
    )
    session.flush()
    q = patient(session, cw.base.baoding, national_id=None, residence_division_code="130699")
    r = referral(session, q, cw.bj_clinician, cw.bd_paeds, direction=Direction.DOWN)
    found = savings.saving_for(session, r, settings)
    assert found is not None
    assert found[1] == round(savings.haversine_km(38.8739, 115.4646, 39.9, 116.4), 1)

    # no residence: the registering institution (BD-A at 38.88, 115.49)
    nowhere = patient(session, cw.base.baoding, national_id=None, residence_division_code=None)
    r = referral(session, nowhere, cw.bj_clinician, cw.bd_paeds, direction=Direction.DOWN)
    found = savings.saving_for(session, r, settings)
    assert found is not None
    assert found[1] == round(savings.haversine_km(38.88, 115.49, 39.9, 116.4), 1)

    # the capital hospital without coordinates: no estimate
    cw.base.beijing.latitude = None
    session.flush()
    assert savings.saving_for(session, r, settings) is None


def test_savings_summary_needs_registry_reading(session: Session, cw: CircleWorld) -> None:
    from medcircle.auth.domain import Actor, Permission
    from medcircle.kit.errors import Forbidden

    base = actor_for(session, cw.bj_clinician)
    summary = queries.savings_summary(session, base, date(2026, 1, 1), date(2026, 12, 31))
    assert summary.count == 0 and summary.total_yuan == 0.0
    nobody = Actor(
        user_id=base.user_id,
        username="nobody",
        institution_id=base.institution_id,
        roles=frozenset(),
        permissions=frozenset({Permission.AUDIT_READ}),
    )
    with pytest.raises(Forbidden):
        queries.savings_summary(session, nobody, date(2026, 1, 1), date(2026, 12, 31))
