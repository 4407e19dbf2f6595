"""The referral API end to end: the loop up and back down, and every kind of bad input with
its stable code, an audit event and nothing half-written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medcircle.audit.models import AuditEvent
from medcircle.config import Settings
from medcircle.kit import clock
from medcircle.referrals.models import Referral, ReferralEvent
from tests.factories import World
from tests.integration.referrals.loop_support import Loop, build_loop


@pytest.fixture
def loop(session: Session, world: World, settings: Settings) -> Loop:
    return build_loop(session, world, settings)


def _body(loop: Loop, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "patient_id": loop.child.id,
        "receiver_department_id": loop.cw.bj_paeds.id,
        "urgency": "urgent",
        "care_type": "outpatient",
        "icd10_code": "Q21.0",
        "reason": "Surgical assessment",
        "clinical_summary": "Murmur since birth; echo shows VSD.",
    }
    body.update(overrides)
    return body


def _post(
    client: TestClient, loop: Loop, path: str, body: dict[str, Any], who: str = "clinician"
) -> Any:
    return client.post("/api/v1" + path, json=body, headers=loop.cw.auth_user(who))


def _go(client: TestClient, loop: Loop, rid: int, who: str, **body: Any) -> Any:
    if "version" not in body:
        current = client.get(f"/api/v1/referrals/{rid}", headers=loop.cw.auth_user(who))
        body["version"] = current.json()["version"]
    return _post(client, loop, f"/referrals/{rid}/transitions", body, who)


def _counts(session: Session) -> tuple[int, int]:
    session.expire_all()
    return (
        int(session.scalar(select(func.count()).select_from(Referral)) or 0),
        int(session.scalar(select(func.count()).select_from(ReferralEvent)) or 0),
    )


def _failure_audits(session: Session) -> list[str]:
    """The codes of refused requests in the trail (failures and denials)."""
    session.expire_all()
    return [
        str(a.detail.get("code"))
        for a in session.scalars(
            select(AuditEvent).where(AuditEvent.outcome != "success").order_by(AuditEvent.id)
        )
    ]


def test_loop_up_and_back_down(client: TestClient, loop: Loop) -> None:
    made = _post(client, loop, "/referrals", _body(loop))
    assert made.status_code == 201, made.text
    up = made.json()
    assert up["status"] == "submitted" and up["direction"] == "up"
    assert up["reference"].startswith(f"R-{clock.today().year}-")
    assert up["sender"]["institution_en"] == "Baoding Hospital A"
    assert up["receiver"]["department_en"] == "Paediatric cardiology"
    # the ID number only masked: first 6 and last 4 digits
    masked = up["patient_national_id_masked"]
    assert masked.startswith("130602") and masked.endswith("0012") and "20150512" not in masked
    assert "national_id" not in {k for k in up if not k.endswith("_masked")}
    assert (up["sides"], up["actions"]) == (["sender"], ["cancel"])
    rid = up["id"]
    seen = client.get(f"/api/v1/referrals/{rid}", headers=loop.cw.auth_user("bjclinician"))
    assert seen.status_code == 200
    assert seen.json()["actions"] == ["accept", "decline", "redirect", "cancel"]
    assert _go(client, loop, rid, "bjclinician", action="accept").json()["status"] == "accepted"
    when = (datetime.now(UTC) + timedelta(days=5)).isoformat()
    scheduled = _go(
        client,
        loop,
        rid,
        "bjclinician",
        action="schedule",
        appointment_at=when,
        appointment_place="Building 2, room 305",
        what_to_bring="Echo reports",
    )
    assert scheduled.status_code == 200, scheduled.text
    assert _go(client, loop, rid, "bjclinician", action="arrive").json()["status"] == "arrived"
    done = _go(
        client, loop, rid, "bjclinician", action="complete", outcome_summary="VSD closed."
    ).json()
    assert done["status"] == "completed" and done["version"] == 5
    prefill = client.get(
        f"/api/v1/referrals/{rid}/return-draft", headers=loop.cw.auth_user("bjclinician")
    )
    assert prefill.status_code == 200, prefill.text
    assert prefill.json()["receiver_department_id"] == loop.cw.bd_paeds.id
    down = _post(client, loop, f"/referrals/{rid}/return", prefill.json(), "bjclinician")
    assert down.status_code == 201, down.text
    assert (down.json()["direction"], down.json()["parent_id"]) == ("down", rid)
    history = client.get(f"/api/v1/referrals/{rid}/history", headers=loop.cw.auth_user("clinician"))
    assert [e["action"] for e in history.json()] == [
        "create",
        "submit",
        "accept",
        "schedule",
        "arrive",
        "complete",
        "return",
    ]
    # the original sender sees the way back down and closes the upward referral
    back = client.get(
        f"/api/v1/referrals/{down.json()['id']}", headers=loop.cw.auth_user("clinician")
    )
    assert back.status_code == 200 and back.json()["sides"] == ["receiver"]
    assert _go(client, loop, rid, "clinician", action="close").json()["status"] == "closed"


def test_draft_edit_and_submit(client: TestClient, loop: Loop) -> None:
    made = _post(client, loop, "/referrals", _body(loop, submit=False)).json()
    assert made["status"] == "draft" and made["actions"] == ["submit", "cancel"]
    patched = client.patch(
        f"/api/v1/referrals/{made['id']}",
        json={"version": made["version"], "reason": "Echo follow-up", "urgency": "routine"},
        headers=loop.cw.auth_user("clinician"),
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["reason"] == "Echo follow-up"
    stale = client.patch(
        f"/api/v1/referrals/{made['id']}",
        json={"version": made["version"], "reason": "Other"},
        headers=loop.cw.auth_user("clinician"),
    )
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"
    submitted = _go(client, loop, made["id"], "clinician", action="submit")
    assert submitted.json()["status"] == "submitted"


BAD_CREATE = [
    ("same_institution", 422, lambda loop: _body(loop, receiver_department_id=loop.cw.bd_paeds.id)),
    ("invalid_icd10", 422, lambda loop: _body(loop, icd10_code="ZZ9.99")),
    ("unknown_department", 422, lambda loop: _body(loop, receiver_department_id=987_654)),
    ("unknown_patient", 422, lambda loop: _body(loop, patient_id=987_654)),
    (
        "outside_network_reason_required",
        422,
        lambda loop: _body(loop, receiver_department_id=loop.cw.bj2_paeds.id),
    ),
]


@pytest.mark.parametrize(("code", "status", "make"), BAD_CREATE, ids=[c for c, _, _ in BAD_CREATE])
def test_bad_referral_refused_audited_and_not_written(
    client: TestClient, loop: Loop, code: str, status: int, make: Any
) -> None:
    before = _counts(loop.session)
    r = _post(client, loop, "/referrals", make(loop))
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == code
    assert r.json()["errors"][0]["code"] == code and r.json()["errors"][0]["message"]
    assert _counts(loop.session) == before
    assert _failure_audits(loop.session) == [code]


def test_consent_missing(client: TestClient, loop: Loop, world: World) -> None:
    from tests import referral_factories as rf

    other = rf.patient(loop.session, world.baoding, national_id=rf.ADULT_ID)
    loop.session.commit()
    before = _counts(loop.session)
    r = _post(client, loop, "/referrals", _body(loop, patient_id=other.id))
    assert r.status_code == 422 and r.json()["code"] == "consent_missing"
    assert "Beijing Hospital A" in r.json()["errors"][0]["message"]
    assert _counts(loop.session) == before
    assert _failure_audits(loop.session) == ["consent_missing"]


def test_outside_network_with_reason_is_flagged(
    client: TestClient, loop: Loop, world: World
) -> None:
    from tests import referral_factories as rf

    rf.consent(loop.session, loop.child, world.beijing2, loop.user("clinician"))
    loop.session.commit()
    r = _post(
        client,
        loop,
        "/referrals",
        _body(
            loop, receiver_department_id=loop.cw.bj2_paeds.id, outside_network_reason="Rare case"
        ),
    )
    assert r.status_code == 201, r.text
    assert r.json()["outside_network"] is True


def test_transition_refusals(client: TestClient, loop: Loop) -> None:
    rid = _post(client, loop, "/referrals", _body(loop)).json()["id"]
    before = _counts(loop.session)
    wrong = _go(client, loop, rid, "bjclinician", action="complete", outcome_summary="x")
    assert wrong.status_code == 409 and wrong.json()["code"] == "transition_not_allowed"
    assert "Submitted" in wrong.json()["detail"]
    stale = _go(client, loop, rid, "bjclinician", action="accept", version=7)
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"
    side = _go(client, loop, rid, "clinician", action="accept")
    assert side.status_code == 403
    stranger = _go(client, loop, rid, "bd2clinician", action="accept", version=1)
    assert stranger.status_code == 404
    missing = _go(client, loop, rid, "bjclinician", action="decline")
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "reason"
    assert _counts(loop.session) == before
    assert _failure_audits(loop.session) == [
        "transition_not_allowed",
        "stale_version",
        "forbidden",
        "not_found",
        "required",
    ]


def test_appointment_needs_a_time_zone_and_a_future_time(client: TestClient, loop: Loop) -> None:
    rid = _post(client, loop, "/referrals", _body(loop)).json()["id"]
    _go(client, loop, rid, "bjclinician", action="accept")
    naive = _go(
        client,
        loop,
        rid,
        "bjclinician",
        action="schedule",
        appointment_at="2030-01-01T09:00:00",
        appointment_place="Room 1",
    )
    assert naive.status_code == 422
    past = _go(
        client,
        loop,
        rid,
        "bjclinician",
        action="schedule",
        appointment_at="2020-01-01T09:00:00+08:00",
        appointment_place="Room 1",
    )
    assert past.status_code == 422 and past.json()["code"] == "appointment_in_past"


@pytest.mark.parametrize(
    ("who", "status"),
    [("bd2clinician", 404), ("commissionanalyst", 403), ("auditor", 403), ("coordinator", 403)],
    ids=["other-institution", "analyst", "auditor", "coordinator"],
)
def test_access(client: TestClient, loop: Loop, who: str, status: int) -> None:
    rid = _post(client, loop, "/referrals", _body(loop)).json()["id"]
    for path in (f"/referrals/{rid}", f"/referrals/{rid}/history"):
        r = client.get("/api/v1" + path, headers=loop.cw.auth_user(who))
        assert r.status_code == status, (path, r.text)


def test_reads_are_audited_and_ids_are_numbers(client: TestClient, loop: Loop) -> None:
    rid = _post(client, loop, "/referrals", _body(loop)).json()["id"]
    client.get(f"/api/v1/referrals/{rid}", headers=loop.cw.auth_user("bjclinician"))
    assert [a.object_id for a in loop.audits("referral.read")] == [str(rid)]
    assert (
        client.get("/api/v1/referrals/x1", headers=loop.cw.auth_user("clinician")).status_code
        == 404
    )
    huge = client.get(f"/api/v1/referrals/{2**63}", headers=loop.cw.auth_user("clinician"))
    assert huge.status_code == 404


def test_unauthenticated(client: TestClient) -> None:
    assert client.post("/api/v1/referrals", json={}).status_code == 401
    assert client.get("/api/v1/referrals/1").status_code == 401
