"""The consultation API end to end: ask, the conversation, the opinion and the referral it
becomes; access and bad input with stable problem+json codes and nothing half-written."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from medcircle.consultations.models import Consultation, ConsultationEvent, OnCallShift
from tests import consult_factories as cf
from tests import referral_factories as rf
from tests.integration.consultations.conftest import Desk

API = "/api/v1"


def _body(desk: Desk, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "patient_id": desk.w.patient.id,
        "answer_institution_id": desk.w.answerer.id,
        "specialty_code": cf.SPECIALTY,
        "urgency": "urgent",
        "question": "Is surgical closure of this VSD indicated now?",
        "clinical_summary": "Murmur since birth; echo shows a 7 mm perimembranous VSD.",
        "icd10_code": "Q21.0",
    }
    body.update(overrides)
    return body


def _ask(client: TestClient, desk: Desk, who: str = "clinician", **overrides: Any) -> Any:
    return client.post(
        f"{API}/consultations", json=_body(desk, **overrides), headers=desk.w.auth_user(who)
    )


def _act(client: TestClient, desk: Desk, cid: int, who: str, **body: Any) -> Any:
    if "version" not in body:
        current = client.get(f"{API}/consultations/{cid}", headers=desk.w.auth_user(who))
        body["version"] = current.json()["version"]
    return client.post(
        f"{API}/consultations/{cid}/actions", json=body, headers=desk.w.auth_user(who)
    )


def _problem(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["code"] == code, body
    return body


def _counts(session: Session) -> tuple[int, int]:
    session.expire_all()
    return (
        int(session.scalar(select(func.count()).select_from(Consultation)) or 0),
        int(session.scalar(select(func.count()).select_from(ConsultationEvent)) or 0),
    )


def test_the_whole_case_through_the_api(client: TestClient, desk: Desk) -> None:
    pools = client.get(f"{API}/consultation-pools", headers=desk.w.auth_user("clinician"))
    assert pools.status_code == 200
    on_call = {p["specialty_code"]: p["on_call_user_id"] for p in pools.json()}
    assert on_call == {cf.SPECIALTY: desk.w.expert.id, "cardiology": None}

    r = _ask(client, desk)
    assert r.status_code == 201, r.text
    case = r.json()
    cid = case["id"]
    assert case["status"] == "assigned" and case["assignee"]["user_id"] == desk.w.expert.id
    assert case["turn"] == "assignee" and case["sides"] == ["asker"]
    assert case["actions"] == ["cancel"]
    assert case["target_minutes"] == 240 and case["minutes_left"] in (239, 240)
    assert case["patient_name"] == desk.w.patient.name
    assert case["reference"].startswith("C-")

    expert_view = client.get(f"{API}/consultations/{cid}", headers=desk.w.auth_user("expert"))
    assert expert_view.json()["actions"] == ["release", "redirect", "ask_asker", "answer"]

    r = _act(client, desk, cid, "expert", action="ask_asker", body="Saturation at rest?")
    assert r.status_code == 200 and r.json()["status"] == "awaiting_asker"
    assert r.json()["paused"] is True and r.json()["due_at"] is None
    r = _act(client, desk, cid, "clinician", action="reply", body="96 % on air.")
    assert r.json()["status"] == "assigned" and r.json()["paused"] is False
    r = client.post(
        f"{API}/consultations/{cid}/messages",
        json={"body": "Echo report uploaded."},
        headers=desk.w.auth_user("clinician"),
    )
    assert r.status_code == 201 and r.json()["kind"] == "note"
    r = _act(
        client,
        desk,
        cid,
        "expert",
        action="answer",
        assessment="Significant left-to-right shunt.",
        recommendations="Surgical closure; see in clinic.",
        needs_visit=True,
    )
    assert r.status_code == 200, r.text
    answered = r.json()
    assert answered["status"] == "answered" and answered["within_target"] is True
    assert answered["first_answer_seconds"] is not None and answered["turn"] == "asker"

    thread = client.get(f"{API}/consultations/{cid}/messages", headers=desk.w.auth_user("expert"))
    assert [m["kind"] for m in thread.json()] == ["question", "reply", "note"]
    events = client.get(f"{API}/consultations/{cid}/events", headers=desk.w.auth_user("expert"))
    assert [e["action"] for e in events.json()] == [
        "ask",
        "route",
        "ask_asker",
        "reply",
        "note",
        "answer",
    ]

    r = client.post(f"{API}/consultations/{cid}/referral", headers=desk.w.auth_user("clinician"))
    assert r.status_code == 201, r.text
    referral = r.json()
    assert referral["status"] == "draft" and referral["urgency"] == "urgent"
    assert referral["receiver"]["department_id"] == desk.w.circle.bj_paeds.id
    again = client.post(
        f"{API}/consultations/{cid}/referral", headers=desk.w.auth_user("clinician")
    )
    _problem(again, 409, "already_referred")
    got = client.get(f"{API}/consultations/{cid}", headers=desk.w.auth_user("clinician"))
    assert got.json()["referral_id"] == referral["id"]

    r = _act(client, desk, cid, "clinician", action="close", helpful=5, referral_avoided=False)
    assert r.json()["status"] == "closed" and r.json()["helpful"] == 5
    r = client.post(
        f"{API}/consultations/{cid}/messages",
        json={"body": "One more thing"},
        headers=desk.w.auth_user("clinician"),
    )
    _problem(r, 409, "case_closed")
    r = _act(client, desk, cid, "clinician", action="reply", body="Late reply")
    _problem(r, 409, "transition_not_allowed")


def test_other_institutions_get_404_and_anonymous_401(client: TestClient, desk: Desk) -> None:
    cid = _ask(client, desk).json()["id"]
    for path in ("", "/messages", "/events"):
        r = client.get(f"{API}/consultations/{cid}{path}", headers=desk.w.auth_user("bd2clinician"))
        _problem(r, 404, "not_found")
        assert client.get(f"{API}/consultations/{cid}{path}").status_code == 401
    r = client.post(
        f"{API}/consultations/{cid}/actions",
        json={"action": "cancel", "version": 1, "reason": "x"},
        headers=desk.w.auth_user("bd2clinician"),
    )
    _problem(r, 404, "not_found")
    _problem(
        client.get(f"{API}/consultations/999999", headers=desk.w.auth_user("expert")),
        404,
        "not_found",
    )


def test_an_expert_not_assigned_cannot_answer(client: TestClient, desk: Desk) -> None:
    cid = _ask(client, desk).json()["id"]
    r = _act(
        client,
        desk,
        cid,
        "expert2",
        action="answer",
        assessment="A",
        recommendations="B",
    )
    _problem(r, 403, "not_your_part")
    r = _act(client, desk, cid, "expert", action="answer", assessment="", recommendations=None)
    body = _problem(r, 422, "required")
    assert {e["field"] for e in body["errors"]} == {"assessment", "recommendations"}


def test_stale_version_and_lost_claims(client: TestClient, session: Session, desk: Desk) -> None:
    session.execute(delete(OnCallShift))
    session.commit()
    r = _ask(client, desk)
    case = r.json()
    assert case["status"] == "pool" and case["route_reason"] == "nobody_on_call"
    cid = case["id"]
    first = _act(client, desk, cid, "expert3", action="claim", version=case["version"])
    assert first.status_code == 200 and first.json()["assignee"]["user_id"] == desk.w.expert3.id
    second = _act(client, desk, cid, "expert2", action="claim", version=case["version"])
    body = _problem(second, 409, "already_claimed")
    assert "Another expert took this case" in body["detail"]
    stale = _act(client, desk, cid, "expert3", action="ask_asker", body="?", version=1)
    _problem(stale, 409, "stale_version")


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"icd10_code": "XX9"}, 422, "invalid_icd10"),
        ({"specialty_code": "neonatology"}, 422, "not_a_pool"),
        ({"other_specialties": ["cardiology"]}, 422, "mdt_only"),
        ({"answer_institution_id": 0}, 422, "validation_failed"),
        ({"question": ""}, 422, "validation_failed"),
    ],
)
def test_bad_input_writes_nothing(
    client: TestClient,
    session: Session,
    desk: Desk,
    overrides: dict[str, Any],
    status: int,
    code: str,
) -> None:
    before = _counts(session)
    _problem(_ask(client, desk, **overrides), status, code)
    assert _counts(session) == before


def test_consent_missing(client: TestClient, session: Session, desk: Desk) -> None:
    other = rf.patient(session, desk.w.asking, national_id=None)
    session.commit()
    before = _counts(session)
    _problem(_ask(client, desk, patient_id=other.id), 422, "consent_missing")
    assert _counts(session) == before


def test_coordinators_see_masked_names(client: TestClient, desk: Desk) -> None:
    cid = _ask(client, desk).json()["id"]
    r = client.get(f"{API}/consultations/{cid}", headers=desk.w.auth_user("bjcoord"))
    assert r.status_code == 200
    assert r.json()["patient_name"] == desk.w.patient.name[0] + "*"
    assert r.json()["patient_national_id_masked"] is None
    assert "assign" in r.json()["actions"]
