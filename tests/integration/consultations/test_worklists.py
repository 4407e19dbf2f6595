"""Worklists of consultations: what each holds, in which order, masked names for readers
without access to patients, paging, counts, the audit of every read, and the API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from medcircle.auth.domain import Role
from medcircle.consultations import queries
from medcircle.consultations.domain import Mode, Status, Urgency
from medcircle.consultations.models import ConsultationSpecialty
from medcircle.consultations.queries import Worklist
from medcircle.kit import clock
from medcircle.kit.errors import Forbidden
from medcircle.kit.pagination import PageParams
from tests import consult_factories as cf
from tests import factories
from tests.integration.consultations.conftest import Desk

PAGE = PageParams(1, 50)


def _ids(desk: Desk, who: str, name: Worklist, page: PageParams = PAGE) -> list[int]:
    return [r.id for r in queries.worklist(desk.session, desk.actor(who), name, page).items]


def test_mine_least_time_left_first_then_waiting_for_the_asker(desk: Desk) -> None:
    now = clock.now()
    w = desk.w
    later = cf.consultation(desk.session, w, asked_at=now - timedelta(hours=1))
    sooner = cf.consultation(desk.session, w, asked_at=now - timedelta(hours=20))
    waiting = cf.consultation(
        desk.session,
        w,
        status=Status.AWAITING_ASKER,
        asked_at=now - timedelta(hours=23),
        due_at=None,
        paused_since=now - timedelta(hours=2),
    )
    cf.consultation(desk.session, w, status=Status.ANSWERED)
    cf.consultation(desk.session, w, assignee=w.expert2)
    assert _ids(desk, "expert", Worklist.MINE) == [sooner.id, later.id, waiting.id]
    page = queries.worklist(desk.session, desk.actor("expert"), Worklist.MINE, PAGE)
    first = page.items[0]
    assert first.minutes_left in (239, 240) and first.turn == "assignee"
    assert first.patient_name == w.patient.name and first.patient_id == w.patient.id
    assert page.items[2].paused and page.items[2].minutes_left == 3 * 60
    assert page.items[2].turn == "asker"
    assert page.total == 3
    second = queries.worklist(desk.session, desk.actor("expert"), Worklist.MINE, PageParams(2, 2))
    assert [r.id for r in second.items] == [waiting.id] and second.total == 3
    audits = desk.audits("consultation.worklist")
    assert len(audits) == 3 and audits[0].detail["consultation_ids"] == [
        sooner.id,
        later.id,
        waiting.id,
    ]


def test_pool_in_the_pools_one_may_claim(desk: Desk) -> None:
    now = clock.now()
    w = desk.w
    routine = cf.consultation(desk.session, w, status=Status.POOL, asked_at=now)
    emergency = cf.consultation(
        desk.session,
        w,
        status=Status.POOL,
        urgency=Urgency.EMERGENCY,
        target_minutes=30,
        asked_at=now,
    )
    cardio = cf.consultation(desk.session, w, status=Status.POOL, specialty_code="cardiology")
    mdt = cf.consultation(
        desk.session, w, status=Status.POOL, specialty_code="cardiology", mode=Mode.MDT
    )
    desk.session.add(ConsultationSpecialty(consultation_id=mdt.id, specialty_code=cf.SPECIALTY))
    desk.session.flush()
    assert _ids(desk, "expert3", Worklist.POOL) == [emergency.id, routine.id, mdt.id]
    # coordinators see every pool of their institution, the patient masked
    page = queries.worklist(desk.session, desk.actor("bjcoord"), Worklist.POOL, PAGE)
    assert {r.id for r in page.items} == {emergency.id, routine.id, cardio.id, mdt.id}
    assert all(r.patient_name == w.patient.name[0] + "*" for r in page.items)
    assert all(r.patient_id is None for r in page.items)
    # an expert of BJ-A in no pool: nothing; a clinician: not their list
    factories.user(desk.session, w.answerer, Role.EXPERT, username="neuro")
    assert _ids(desk, "neuro", Worklist.POOL) == []
    with pytest.raises(Forbidden):
        _ids(desk, "bjclinician", Worklist.POOL)


def test_asked_most_recently_changed_first(desk: Desk) -> None:
    now = clock.now()
    w = desk.w
    old = cf.consultation(desk.session, w, updated_at=now - timedelta(days=2))
    new = cf.consultation(desk.session, w, status=Status.ANSWERED, updated_at=now)
    cf.consultation(desk.session, w, status=Status.CLOSED)
    assert _ids(desk, "clinician", Worklist.ASKED) == [new.id, old.id]
    assert _ids(desk, "institutionadmin", Worklist.ASKED) == [new.id, old.id]


def test_at_risk_for_coordinators(desk: Desk) -> None:
    now = clock.now()
    w = desk.w
    # routine, 24 h: at risk within the last 6 hours
    close = cf.consultation(desk.session, w, asked_at=now - timedelta(hours=19))
    cf.consultation(desk.session, w, asked_at=now - timedelta(hours=10))
    escalated = cf.consultation(desk.session, w, asked_at=now, escalation_level=1)
    # urgent, 4 h: at risk within the last hour
    urgent = cf.consultation(
        desk.session,
        w,
        urgency=Urgency.URGENT,
        target_minutes=240,
        asked_at=now - timedelta(hours=3, minutes=30),
    )
    cf.consultation(
        desk.session,
        w,
        urgency=Urgency.URGENT,
        target_minutes=240,
        asked_at=now - timedelta(hours=2),
    )
    assert _ids(desk, "bjcoord", Worklist.AT_RISK) == [urgent.id, close.id, escalated.id]
    counts = queries.counts(desk.session, desk.actor("bjcoord"))
    assert counts == {Worklist.POOL: 0, Worklist.AT_RISK: 3}
    with pytest.raises(Forbidden):
        queries.worklist(desk.session, desk.actor("expert"), Worklist.AT_RISK, PAGE)


def test_counts_per_role(desk: Desk) -> None:
    w = desk.w
    cf.consultation(desk.session, w)
    cf.consultation(desk.session, w, status=Status.POOL)
    assert queries.counts(desk.session, desk.actor("expert")) == {
        Worklist.MINE: 1,
        Worklist.POOL: 1,
    }
    assert queries.counts(desk.session, desk.actor("clinician")) == {Worklist.ASKED: 2}
    assert queries.counts(desk.session, desk.actor("auditor")) == {}


def test_worklists_through_the_api(client: TestClient, desk: Desk) -> None:
    w = desk.w
    c = cf.consultation(desk.session, w)
    desk.session.commit()
    r = client.get("/api/v1/consultations/worklists", headers=w.auth_user("expert"))
    assert r.status_code == 200 and r.json() == {"mine": 1, "pool": 0}
    r = client.get("/api/v1/consultations/worklists/mine?size=10", headers=w.auth_user("expert"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 1 and body["size"] == 10
    assert body["items"][0]["id"] == c.id and body["items"][0]["reference"] == c.reference
    r = client.get("/api/v1/consultations/worklists/at_risk", headers=w.auth_user("expert"))
    assert r.status_code == 403
    r = client.get("/api/v1/consultations/worklists/nonsense", headers=w.auth_user("expert"))
    assert r.status_code == 422
    assert client.get("/api/v1/consultations/worklists/mine").status_code == 401
    assert client.get("/api/v1/consultations/worklists").status_code == 401
