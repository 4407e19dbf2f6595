"""The dispatch set-up API end to end (demand, experts' availability, travel times): problem+json
with stable codes, 401 without a token, 403 without the permission, 404 for other institutions'
things, and each write visible in the next read."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medcircle.auth.domain import Role
from medcircle.dispatch.models import DispatchDemand
from tests import dispatch_factories as df
from tests.integration.dispatch.setup_support import (  # noqa: F401 (fixtures)
    audited,
    dw_fixture,
    frozen_fixture,
)

PROBLEM = "application/problem+json"


def _body(w: df.DispatchWorld, **kw: Any) -> dict[str, Any]:
    return {
        "agreement_id": w.agreement.id,
        "specialty_code": df.SPECIALTY,
        "kind": "visits",
        "visits_per_week": 2,
        "starts_on": "2026-12-07",
        "ends_on": "2027-02-26",
        **kw,
    }


def _problem(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = r.json()
    assert body["code"] == code, body
    return body


def test_anonymous_gets_401(client: TestClient, dw: df.DispatchWorld) -> None:
    for path in ("/api/v1/dispatch/demand", "/api/v1/dispatch/experts", "/api/v1/dispatch/travel"):
        _problem(client.get(path), 401, "unauthenticated")


def test_demand_from_draft_to_approved(
    client: TestClient, session: Session, dw: df.DispatchWorld
) -> None:
    site, supporter = dw.auth_user("coordinator"), dw.auth_user("bjcoord")
    r = client.post("/api/v1/dispatch/demand", json=_body(dw), headers=site)
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["status"] == "draft" and made["side"] == "site"
    assert made["actions"] == ["edit", "submit", "withdraw"]
    assert made["supporting_institution_id"] == dw.base.beijing.id
    did = made["id"]
    # the supporter does not see the draft
    _problem(client.get(f"/api/v1/dispatch/demand/{did}", headers=supporter), 404, "not_found")
    r = client.patch(
        f"/api/v1/dispatch/demand/{did}", json={"version": 1, "visits_per_week": 1}, headers=site
    )
    assert r.status_code == 200 and r.json()["visits_per_week"] == 1 and r.json()["version"] == 2
    _problem(
        client.patch(
            f"/api/v1/dispatch/demand/{did}",
            json={"version": 1, "visits_per_week": 3},
            headers=site,
        ),
        409,
        "stale_version",
    )
    r = client.post(f"/api/v1/dispatch/demand/{did}/submit", json={"version": 2}, headers=site)
    assert r.status_code == 200 and r.json()["status"] == "submitted"
    _problem(
        client.post(f"/api/v1/dispatch/demand/{did}/approve", json={"version": 3}, headers=site),
        403,
        "supporter_only",
    )
    _problem(
        client.post(
            f"/api/v1/dispatch/demand/{did}/reject", json={"version": 3}, headers=supporter
        ),
        422,
        "note_required",
    )
    r = client.post(
        f"/api/v1/dispatch/demand/{did}/approve",
        json={"version": 3, "note": "ok"},
        headers=supporter,
    )
    assert r.status_code == 200 and r.json()["status"] == "approved"
    assert r.json()["side"] == "supporter" and r.json()["actions"] == []
    listed = client.get(
        "/api/v1/dispatch/demand?side=supporter&status=approved", headers=supporter
    ).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == did
    assert client.get("/api/v1/dispatch/demand?side=site", headers=supporter).json()["total"] == 0
    assert len(audited(session, "dispatch.demand_approve")) == 1


def test_bad_demand_answers_a_stable_code_and_writes_nothing(
    client: TestClient, session: Session, dw: df.DispatchWorld
) -> None:
    site = dw.auth_user("coordinator")
    cases = [
        (_body(dw, specialty_code="cardiology"), "no_expert_in_specialty"),
        (_body(dw, visits_per_week=9), "visits_out_of_range"),
        (_body(dw, kind="resident", positions=0), "positions_out_of_range"),
        (_body(dw, kind="special", visits_per_week=None), "day_required"),
        (_body(dw, ends_on="2031-06-01"), "outside_agreement"),
        (_body(dw, specialty_code="neonatology"), "specialty_not_in_agreement"),
    ]
    for body, code in cases:
        problem = _problem(
            client.post("/api/v1/dispatch/demand", json=body, headers=site), 422, code
        )
        assert problem["errors"][0]["code"] == code
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(DispatchDemand)) == 0


def test_demand_scoping(client: TestClient, session: Session, dw: df.DispatchWorld) -> None:
    row = df.demand(session, dw, status="submitted")
    session.commit()
    _problem(
        client.get(f"/api/v1/dispatch/demand/{row.id}", headers=dw.auth_user("bd2coord")),
        404,
        "not_found",
    )
    _problem(
        client.get("/api/v1/dispatch/demand", headers=dw.base.auth(Role.AUDITOR)), 403, "forbidden"
    )
    _problem(
        client.post("/api/v1/dispatch/demand", json=_body(dw), headers=dw.auth_user("clinician")),
        403,
        "forbidden",
    )
    # the expert at the supporting side reads it, but may not decide
    assert (
        client.get(f"/api/v1/dispatch/demand/{row.id}", headers=dw.auth_user("expert")).status_code
        == 200
    )
    _problem(
        client.post(
            f"/api/v1/dispatch/demand/{row.id}/approve",
            json={"version": 1},
            headers=dw.auth_user("expert"),
        ),
        403,
        "forbidden",
    )


def test_availability_api(client: TestClient, dw: df.DispatchWorld) -> None:
    coord = dw.auth_user("bjcoord")
    experts = client.get("/api/v1/dispatch/experts", headers=coord).json()
    assert {e["user_id"] for e in experts} == {dw.expert.id, dw.expert2.id, dw.expert3.id}
    path = f"/api/v1/dispatch/experts/{dw.expert3.id}"
    _problem(
        client.put(
            path + "/profile",
            json={"specialty_code": df.SPECIALTY, "duty_weekdays": [0, 1, 2, 3, 4]},
            headers=coord,
        ),
        422,
        "never_available",
    )
    _problem(
        client.put(
            path + "/profile",
            json={"specialty_code": df.SPECIALTY, "max_days_per_week": 7},
            headers=coord,
        ),
        422,
        "days_out_of_range",
    )
    _problem(
        client.put(path + "/profile", json={"specialty_code": "nope"}, headers=coord),
        422,
        "unknown_specialty",
    )
    r = client.put(
        path + "/profile",
        json={"specialty_code": df.SPECIALTY, "duty_weekdays": [2]},
        headers=coord,
    )
    assert r.status_code == 200 and r.json()["version"] == 1 and r.json()["max_days_per_week"] == 2
    r = client.post(path + "/skills", json={"skill": "Cardiac  Catheterisation"}, headers=coord)
    assert r.status_code == 201 and r.json()["skill"] == "cardiac catheterisation"
    _problem(
        client.post(path + "/skills", json={"skill": "cardiac catheterisation"}, headers=coord),
        409,
        "skill_exists",
    )
    r = client.post(path + "/duties", json={"day": "2026-12-03"}, headers=coord)
    assert r.status_code == 201
    duty_id = r.json()["id"]
    got = client.get(path, headers=coord).json()
    assert got["profile"]["duty_weekdays"] == [2] and [s["skill"] for s in got["skills"]] == [
        "cardiac catheterisation"
    ]
    assert [d["day"] for d in got["duties"]] == ["2026-12-03"]
    assert client.delete(f"{path}/duties/{duty_id}", headers=coord).status_code == 204
    # the site's coordinator: not their expert; the expert: may read, not keep
    _problem(client.get(path, headers=dw.auth_user("coordinator")), 404, "not_found")
    assert client.get(path, headers=dw.auth_user("expert")).status_code == 200
    _problem(
        client.post(path + "/skills", json={"skill": "ecmo"}, headers=dw.auth_user("expert")),
        403,
        "forbidden",
    )


def test_travel_api(client: TestClient, dw: df.DispatchWorld) -> None:
    coord = dw.auth_user("bjcoord")
    bj, bd = dw.base.beijing.id, dw.base.baoding.id
    [pair] = client.get("/api/v1/dispatch/travel", headers=coord).json()
    assert pair["id"] is None and 100 <= pair["estimate_minutes"] <= 130
    body = {"origin_institution_id": bj, "destination_institution_id": bd, "minutes": 8}
    _problem(
        client.put("/api/v1/dispatch/travel", json=body, headers=coord), 422, "faster_than_possible"
    )
    _problem(
        client.put(
            "/api/v1/dispatch/travel",
            json={**body, "destination_institution_id": bj},
            headers=coord,
        ),
        422,
        "same_place",
    )
    _problem(
        client.put(
            "/api/v1/dispatch/travel",
            json={**body, "destination_institution_id": 999999},
            headers=coord,
        ),
        422,
        "unknown_place",
    )
    _problem(
        client.put("/api/v1/dispatch/travel", json={**body, "minutes": 5000}, headers=coord),
        422,
        "minutes_out_of_range",
    )
    r = client.put(
        "/api/v1/dispatch/travel", json={**body, "minutes": 125, "note": "train"}, headers=coord
    )
    assert (
        r.status_code == 200
        and r.json()["minutes"] == 125
        and r.json()["estimate_minutes"] is not None
    )
    back = {"origin_institution_id": bd, "destination_institution_id": bj, "minutes": 400}
    _problem(
        client.put("/api/v1/dispatch/travel", json=back, headers=dw.auth_user("coordinator")),
        422,
        "directions_disagree",
    )
    _problem(
        client.delete(
            f"/api/v1/dispatch/travel/{r.json()['id']}", headers=dw.auth_user("bd2coord")
        ),
        404,
        "not_found",
    )
    assert (
        client.delete(f"/api/v1/dispatch/travel/{r.json()['id']}", headers=coord).status_code == 204
    )
