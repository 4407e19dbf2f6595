"""The rota API end to end: reading rotas with who is on call and their warnings, adding,
editing, deleting and repeating shifts, leave and skills, with every kind of bad input
answered by a stable code, nothing half-written, and every write audited."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medcircle.consultations.models import ExpertLeave, ExpertSkill, OnCallShift
from tests import consult_factories as cf
from tests.integration.consultations.rota_support import (  # noqa: F401 (fixtures)
    MONDAY,
    NOW,
    D,
    H,
    audited,
    cw_fixture,
    frozen_fixture,
    iso,
)

SPEC = cf.SPECIALTY


def _shifts(session: Session) -> int:
    session.expire_all()
    return int(session.scalar(select(func.count()).select_from(OnCallShift)) or 0)


def _post(client: TestClient, w: cf.ConsultWorld, path: str, body: Any, who: str) -> Any:
    return client.post("/api/v1" + path, json=body, headers=w.auth_user(who))


def _shift_body(
    w: cf.ConsultWorld, user_id: int, start: Any, end: Any, **kw: Any
) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "specialty_code": kw.pop("specialty_code", SPEC),
        "starts_at": iso(start),
        "ends_at": iso(end),
        **kw,
    }


def test_anonymous_is_refused(client: TestClient, cw: cf.ConsultWorld) -> None:
    for path in ("/api/v1/rotas", f"/api/v1/rotas/{SPEC}", "/api/v1/expert-leave"):
        r = client.get(path)
        assert r.status_code == 401
        assert r.headers["content-type"].startswith("application/problem+json")


def test_the_list_shows_who_is_on_call_and_the_problems_ahead(
    client: TestClient, cw: cf.ConsultWorld
) -> None:
    r = client.get("/api/v1/rotas", headers=cw.auth_user("bjcoord"))
    assert r.status_code == 200, r.text
    rotas = {x["specialty_code"]: x for x in r.json()}
    assert set(rotas) == {"cardiology", SPEC}
    paeds = rotas[SPEC]
    assert [(o["user_id"], o["role"]) for o in paeds["on_call"]] == [
        (cw.expert.id, "primary"),
        (cw.expert2.id, "backup"),
    ]
    # covered until 18 hours from now, then nobody
    assert paeds["warning_count"] == 1
    assert paeds["next_warning"]["kind"] == "gap"
    assert paeds["next_warning"]["starts_at"].startswith(iso(NOW + 18 * H)[:16])
    assert paeds["kept"] is True
    # cardiology has a department but nobody has ever been on call for it: no rota is kept,
    # so it has no warnings (its cases go to the pool)
    assert rotas["cardiology"]["kept"] is False
    assert rotas["cardiology"]["on_call"] == []
    assert rotas["cardiology"]["warning_count"] == 0
    assert rotas["cardiology"]["next_warning"] is None
    # the summary: every kept rota's gaps, soonest first
    summary = client.get("/api/v1/rota-warnings", headers=cw.auth_user("bjcoord")).json()
    assert [w["specialty_code"] for w in summary] == [SPEC]


def test_one_rota_with_its_shifts_warnings_and_experts(
    client: TestClient, cw: cf.ConsultWorld
) -> None:
    r = client.get(f"/api/v1/rotas/{SPEC}?days=2", headers=cw.auth_user("expert"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["shifts"]) == 2
    assert body["can_manage"] is False
    assert {e["user_id"] for e in body["experts"]} == {cw.expert.id, cw.expert2.id, cw.expert3.id}
    assert [w["kind"] for w in body["warnings"]] == ["gap"]
    gap = body["warnings"][0]
    assert gap["starts_at"].startswith(iso(NOW + 18 * H)[:16])
    assert body["end"].startswith(iso(NOW + 2 * D)[:16])
    # out of range and unknown rotas
    assert (
        client.get(f"/api/v1/rotas/{SPEC}?days=0", headers=cw.auth_user("expert")).status_code
        == 422
    )
    r = client.get("/api/v1/rotas/neurology", headers=cw.auth_user("expert"))
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    r = client.get(
        f"/api/v1/rotas/{SPEC}?start=2026-12-01T00:00:00", headers=cw.auth_user("expert")
    )
    assert r.status_code == 422


def test_add_a_shift_closes_the_gap_and_is_audited(
    client: TestClient, session: Session, cw: cf.ConsultWorld
) -> None:
    body = _shift_body(cw, cw.expert3.id, NOW + 18 * H, NOW + 30 * H, role="primary")
    r = _post(client, cw, f"/rotas/{SPEC}/shifts", body, "bjcoord")
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["user_id"] == cw.expert3.id and created["role"] == "primary"
    events = audited(session, "rota.shift_add")
    assert [e.object_id for e in events] == [str(created["id"])]
    warnings = client.get(f"/api/v1/rotas/{SPEC}?days=1", headers=cw.auth_user("bjcoord")).json()[
        "warnings"
    ]
    assert [w["kind"] for w in warnings] == ["handover"]
    assert warnings[0]["user_id"] == cw.expert3.id and warnings[0]["from_user_id"] == cw.expert.id


def test_bad_shifts_are_refused_with_stable_codes(
    client: TestClient, session: Session, cw: cf.ConsultWorld
) -> None:
    before = _shifts(session)
    cases = [
        # the same expert twice at once on the same rota
        (_shift_body(cw, cw.expert.id, NOW + 12 * H, NOW + 20 * H), 409, "overlap"),
        (_shift_body(cw, cw.expert3.id, NOW, NOW + 7 * D + H), 422, "too_long"),
        (_shift_body(cw, cw.expert3.id, NOW + H, NOW), 422, "end_before_start"),
        (_shift_body(cw, cw.circle.bj_clinician.id, NOW, NOW + H), 422, "not_expert"),
        (_shift_body(cw, cw.asker.id, NOW, NOW + H), 404, "not_found"),
        (
            _shift_body(cw, cw.expert3.id, NOW, NOW + H, specialty_code="cardiology"),
            422,
            "specialty_mismatch",
        ),
        (_shift_body(cw, cw.expert3.id, NOW, NOW + H, role="chief"), 422, "validation_failed"),
    ]
    for body, status, code in cases:
        r = _post(client, cw, f"/rotas/{SPEC}/shifts", body, "bjcoord")
        assert r.status_code == status, (body, r.text)
        assert r.json()["code"] == code
    r = _post(
        client,
        cw,
        "/rotas/nope/shifts",
        _shift_body(cw, cw.expert3.id, NOW, NOW + H, specialty_code="nope"),
        "bjcoord",
    )
    assert r.status_code == 422 and r.json()["code"] == "unknown_specialty"
    r = _post(
        client,
        cw,
        "/rotas/neurology/shifts",
        _shift_body(cw, cw.expert3.id, NOW, NOW + H, specialty_code="neurology"),
        "bjcoord",
    )
    assert r.status_code == 422 and r.json()["code"] == "no_department"
    # an expert reads but does not keep the rota
    r = _post(
        client, cw, f"/rotas/{SPEC}/shifts", _shift_body(cw, cw.expert3.id, NOW, NOW + H), "expert"
    )
    assert r.status_code == 403
    assert _shifts(session) == before
    assert audited(session, "rota.shift_add") == []


def test_edit_with_the_values_read_and_refuse_stale_edits(
    client: TestClient, session: Session, cw: cf.ConsultWorld
) -> None:
    row = cf.shift(session, cw.answerer, cw.expert3, NOW + 2 * D, NOW + 2 * D + 8 * H)
    session.commit()
    body = {
        "starts_at": iso(NOW + 2 * D),
        "ends_at": iso(NOW + 2 * D + 12 * H),
        "role": "backup",
        "was_starts_at": iso(NOW + 2 * D),
        "was_ends_at": iso(NOW + 2 * D + 8 * H),
        "was_role": "primary",
    }
    r = client.patch(f"/api/v1/rota-shifts/{row.id}", json=body, headers=cw.auth_user("bjcoord"))
    assert r.status_code == 200, r.text
    assert r.json()["role"] == "backup"
    # the same edit again: the values it read are gone
    r = client.patch(f"/api/v1/rota-shifts/{row.id}", json=body, headers=cw.auth_user("bjcoord"))
    assert r.status_code == 409 and r.json()["code"] == "stale_version"
    events = audited(session, "rota.shift_edit")
    assert len(events) == 1 and events[0].detail["before"]["role"] == "primary"
    # a running shift keeps its start
    running = session.scalars(select(OnCallShift).where(OnCallShift.user_id == cw.expert.id)).one()
    move = {
        "starts_at": iso(NOW),
        "ends_at": iso(running.ends_at),
        "role": "primary",
        "was_starts_at": iso(running.starts_at),
        "was_ends_at": iso(running.ends_at),
        "was_role": "primary",
    }
    r = client.patch(
        f"/api/v1/rota-shifts/{running.id}", json=move, headers=cw.auth_user("bjcoord")
    )
    assert r.status_code == 409 and r.json()["code"] == "shift_started"


def test_delete_a_future_shift_end_a_running_one_keep_history(
    client: TestClient, session: Session, cw: cf.ConsultWorld
) -> None:
    future = cf.shift(session, cw.answerer, cw.expert3, NOW + D, NOW + D + 8 * H)
    past = cf.shift(session, cw.answerer, cw.expert3, NOW - D, NOW - D + 8 * H)
    session.commit()
    running = session.scalars(select(OnCallShift).where(OnCallShift.user_id == cw.expert2.id)).one()
    h = cw.auth_user("bjcoord")
    r = client.delete(f"/api/v1/rota-shifts/{future.id}", headers=h)
    assert r.status_code == 200 and r.json() == {"deleted": True, "shift": None}
    r = client.delete(f"/api/v1/rota-shifts/{running.id}", headers=h)
    assert r.status_code == 200 and r.json()["deleted"] is False
    assert r.json()["shift"]["ends_at"].startswith(iso(NOW)[:16])
    r = client.delete(f"/api/v1/rota-shifts/{past.id}", headers=h)
    assert r.status_code == 409 and r.json()["code"] == "shift_ended"
    assert len(audited(session, "rota.shift_delete")) == 2
    # another institution's coordinator: the shift does not exist for them
    r = client.delete(f"/api/v1/rota-shifts/{past.id}", headers=cw.auth_user("coordinator"))
    assert r.status_code == 404


def test_repeat_a_week_all_or_nothing(
    client: TestClient, session: Session, cw: cf.ConsultWorld
) -> None:
    # next week: expert3 primary Monday to Thursday, expert primary Thursday to Monday
    week = MONDAY + 7 * D
    cf.shift(session, cw.answerer, cw.expert3, week, week + 3 * D)
    cf.shift(session, cw.answerer, cw.expert, week + 3 * D, week + 7 * D)
    session.commit()
    before = _shifts(session)
    h = cw.auth_user("bjcoord")
    r = client.post(
        f"/api/v1/rotas/{SPEC}/repeat", json={"week_start": "2026-12-07", "weeks": 3}, headers=h
    )
    assert r.status_code == 201, r.text
    assert len(r.json()) == 6
    assert _shifts(session) == before + 6
    assert audited(session, "rota.repeat")[0].detail["weeks"] == 3
    # repeating again overlaps every copy just made: refused, one report per conflict
    r = client.post(
        f"/api/v1/rotas/{SPEC}/repeat", json={"week_start": "2026-12-07", "weeks": 4}, headers=h
    )
    assert r.status_code == 409, r.text
    problem = r.json()
    assert problem["code"] == "overlap"
    assert len(problem["errors"]) == 6
    assert {e["code"] for e in problem["errors"]} == {"overlap"}
    assert _shifts(session) == before + 6
    for weeks in (0, 13):
        r = client.post(
            f"/api/v1/rotas/{SPEC}/repeat",
            json={"week_start": "2026-12-07", "weeks": weeks},
            headers=h,
        )
        assert r.status_code == 422
    r = client.post(
        f"/api/v1/rotas/{SPEC}/repeat", json={"week_start": "2027-06-07", "weeks": 1}, headers=h
    )
    assert r.status_code == 422 and r.json()["code"] == "nothing_to_repeat"
    r = client.post(
        f"/api/v1/rotas/{SPEC}/repeat",
        json={"week_start": "2026-12-07", "weeks": 1},
        headers=cw.auth_user("expert"),
    )
    assert r.status_code == 403


def test_leave_takes_the_expert_off_call_and_shows_as_a_warning(
    client: TestClient, session: Session, cw: cf.ConsultWorld
) -> None:
    own = {
        "user_id": cw.expert.id,
        "starts_at": iso(NOW - H),
        "ends_at": iso(NOW + 4 * H),
        "reason": "clinic",
    }
    r = _post(client, cw, "/expert-leave", own, "expert")
    assert r.status_code == 201, r.text
    leave_id = r.json()["id"]
    rota = client.get(f"/api/v1/rotas/{SPEC}?days=1", headers=cw.auth_user("clinician"))
    assert rota.status_code == 200
    rota = client.get(f"/api/v1/rotas/{SPEC}?days=1", headers=cw.auth_user("bjclinician")).json()
    assert [o["user_id"] for o in rota["on_call"]] == [cw.expert2.id]
    kinds = [w["kind"] for w in rota["warnings"]]
    assert "leave" in kinds and "no_primary" in kinds
    # the reason is for the expert and the rota's keepers only
    assert rota["leave"][0]["reason"] is None
    keepers = client.get("/api/v1/expert-leave", headers=cw.auth_user("bjcoord")).json()
    assert keepers[0]["reason"] == "clinic"
    # an expert records only their own leave; a coordinator anyone's at the institution
    theirs = {"user_id": cw.expert2.id, "starts_at": iso(NOW + D), "ends_at": iso(NOW + 2 * D)}
    r = _post(client, cw, "/expert-leave", theirs, "expert")
    assert r.status_code == 403 and r.json()["code"] == "own_leave_only"
    assert _post(client, cw, "/expert-leave", theirs, "bjcoord").status_code == 201
    # bad leave
    backwards = {"user_id": cw.expert.id, "starts_at": iso(NOW + D), "ends_at": iso(NOW)}
    r = _post(client, cw, "/expert-leave", backwards, "expert")
    assert r.status_code == 422 and r.json()["code"] == "end_before_start"
    twice = {"user_id": cw.expert.id, "starts_at": iso(NOW), "ends_at": iso(NOW + H)}
    r = _post(client, cw, "/expert-leave", twice, "expert")
    assert r.status_code == 409 and r.json()["code"] == "leave_overlap"
    r = _post(client, cw, "/expert-leave", {**theirs, "user_id": cw.expert3.id}, "coordinator")
    assert r.status_code in (403, 404)
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(ExpertLeave)) == 2
    # withdrawn by another institution: not found; by its expert: gone
    r = client.delete(f"/api/v1/expert-leave/{leave_id}", headers=cw.auth_user("coordinator"))
    assert r.status_code in (403, 404)
    assert (
        client.delete(
            f"/api/v1/expert-leave/{leave_id}", headers=cw.auth_user("expert")
        ).status_code
        == 204
    )
    assert [e.object_id for e in audited(session, "rota.leave_delete")] == [str(leave_id)]
    assert len(audited(session, "rota.leave_add")) == 2


def test_skills_are_validated_and_replaced(
    client: TestClient, session: Session, cw: cf.ConsultWorld
) -> None:
    path = f"/api/v1/experts/{cw.expert3.id}/skills"
    r = client.put(
        path, json={"skills": ["q2", " C91 ", "Q21.0", "Q2"]}, headers=cw.auth_user("bjcoord")
    )
    assert r.status_code == 200, r.text
    assert r.json()["skills"] == ["C91", "Q2", "Q21.0"]
    r = client.put(
        path, json={"skills": ["Q2", "12", "Q.1", "QQ"]}, headers=cw.auth_user("bjcoord")
    )
    assert r.status_code == 422 and r.json()["code"] == "invalid_skill"
    assert [e["field"] for e in r.json()["errors"]] == ["skills.1", "skills.2", "skills.3"]
    assert (
        client.put(path, json={"skills": ["Q2"]}, headers=cw.auth_user("expert")).status_code == 403
    )
    assert (
        client.put(path, json={"skills": ["Q2"]}, headers=cw.auth_user("coordinator")).status_code
        == 404
    )
    assert client.get(path, headers=cw.auth_user("expert")).json()["skills"] == [
        "C91",
        "Q2",
        "Q21.0",
    ]
    session.expire_all()
    stored = session.scalars(
        select(ExpertSkill.icd10_prefix).where(ExpertSkill.user_id == cw.expert3.id)
    )
    assert sorted(stored) == ["C91", "Q2", "Q21.0"]
    assert audited(session, "rota.skills_set")[0].detail["after"] == ["C91", "Q2", "Q21.0"]


def test_an_expert_reads_their_own_shifts(client: TestClient, cw: cf.ConsultWorld) -> None:
    r = client.get("/api/v1/rota-shifts", headers=cw.auth_user("expert"))
    assert r.status_code == 200
    assert [s["user_id"] for s in r.json()] == [cw.expert.id]
    r = client.get(f"/api/v1/rota-shifts?user_id={cw.asker.id}", headers=cw.auth_user("expert"))
    assert r.status_code == 404
