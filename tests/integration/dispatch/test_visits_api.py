"""The visit records API: create, read, list, correct; problems with stable codes; 404 for
other institutions."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from medcircle.auth.domain import Role
from tests import factories
from tests.integration.dispatch.visit_support import VisitWorld, frozen_fixture, vw_fixture

__all__ = ["frozen_fixture", "vw_fixture"]


def _body(vw: VisitWorld, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "site_institution_id": vw.w.baoding.id,
        "department_id": vw.surgery.id,
        "starts_on": "2026-11-09",
        "ends_on": "2026-11-09",
        "outpatients": 12,
        "operations": [{"icd10_code": "K40.9", "procedure": "腹腔镜疝修补术", "count": 2}],
    }
    body.update(overrides)
    return body


def test_record_read_list_and_correct(client: TestClient, vw: VisitWorld) -> None:
    auth = vw.w.auth(Role.EXPERT)
    r = client.post("/api/v1/visits", json=_body(vw), headers=auth)
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["specialty_code"] == "ped_surgery"
    assert made["operations_total"] == 2 and made["days"] == 1 and made["version"] == 1
    vid = made["id"]
    # the site reads it
    r = client.get(f"/api/v1/visits/{vid}", headers=vw.w.auth(Role.CLINICIAN))
    assert r.status_code == 200 and r.json()["expert_name"] == vw.expert.display_name
    r = client.get("/api/v1/visits", params={"site_institution_id": vw.w.baoding.id}, headers=auth)
    assert r.json()["total"] == 1
    r = client.patch(
        f"/api/v1/visits/{vid}",
        json={"version": 1, "teaching_sessions": 2, "operations": []},
        headers=auth,
    )
    assert r.status_code == 200, r.text
    assert r.json()["teaching_sessions"] == 2 and r.json()["operations"] == []
    r = client.patch(f"/api/v1/visits/{vid}", json={"version": 1, "note": "x"}, headers=auth)
    assert r.status_code == 409 and r.json()["code"] == "stale_version"


def test_problems_have_stable_codes(client: TestClient, vw: VisitWorld) -> None:
    auth = vw.w.auth(Role.EXPERT)
    r = client.post(
        "/api/v1/visits",
        json=_body(vw, site_institution_id=vw.w.baoding2.id, department_id=None),
        headers=auth,
    )
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "no_agreement"
    ops = [
        {"icd10_code": "K40.9", "procedure": "a", "count": 1},
        {"icd10_code": "K99.99", "procedure": "b", "count": 1},
    ]
    r = client.post("/api/v1/visits", json=_body(vw, operations=ops), headers=auth)
    assert r.status_code == 422 and r.json()["code"] == "invalid_icd10"
    assert r.json()["errors"][0]["field"] == "operations.1.icd10_code"
    r = client.post("/api/v1/visits", json=_body(vw, outpatients=-1), headers=auth)
    assert r.status_code == 422


def test_other_institutions_see_nothing(client: TestClient, vw: VisitWorld) -> None:
    r = client.post("/api/v1/visits", json=_body(vw), headers=vw.w.auth(Role.EXPERT))
    vid = r.json()["id"]
    token = factories.api_token(vw.session, vw.outsider_expert)
    vw.session.commit()
    outsider = {"Authorization": f"Bearer {token}"}
    assert client.get(f"/api/v1/visits/{vid}", headers=outsider).status_code == 404
    r = client.patch(f"/api/v1/visits/{vid}", json={"version": 1}, headers=outsider)
    assert r.status_code == 404
    assert client.get("/api/v1/visits", headers=outsider).json()["total"] == 0
    r = client.get("/api/v1/visit-measures", params={"year": "2026"}, headers=outsider)
    assert r.json()["total"]["out_calls"] == 0


def test_measures_api_and_csv(client: TestClient, vw: VisitWorld) -> None:
    client.post("/api/v1/visits", json=_body(vw), headers=vw.w.auth(Role.EXPERT))
    auth = vw.w.auth(Role.COMMISSION_ANALYST)
    r = client.get("/api/v1/visit-measures", params={"group": "site", "year": "2026"}, headers=auth)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["institution_id"] is None
    assert body["total"]["out_calls"] == 1 and body["total"]["operations"] == 2
    assert [row["key"] for row in body["rows"]] == [str(vw.w.baoding.id)]
    r = client.get("/api/v1/visit-measures.csv", params={"year": "2026"}, headers=auth)
    assert r.status_code == 200 and r.text.startswith("\ufeffgroup,key")
    r = client.get("/api/v1/visit-measures", params={"year": "16"}, headers=auth)
    assert r.status_code == 422 and r.json()["code"] == "bad_year"
    r = client.get(
        "/api/v1/visit-measures", headers=vw.w.auth(Role.AUDITOR), params={"year": "2026"}
    )
    assert r.status_code == 403
