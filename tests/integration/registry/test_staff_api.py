"""Departments and practitioners through the JSON API, with institution scope."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medcircle.audit.models import AuditEvent
from medcircle.auth.domain import Role
from medcircle.registry.models import Department, Practitioner
from tests import registry_factories as rf
from tests.factories import World


def count(session: Session, model: type) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model)) or 0


def audited(session: Session, action: str) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).where(AuditEvent.action == action)) or 0


def dept_body(**kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "specialty_code": "ped_hem_onc",
        "name_zh": "血液肿瘤科",
        "name_en": "Haematology-oncology",
        "bed_count": 40,
    }
    body.update(kw)
    return body


def test_institution_admin_adds_and_edits_own_department(
    client: TestClient, world: World, session: Session
) -> None:
    auth = world.auth(Role.INSTITUTION_ADMIN)
    r = client.post(
        f"/api/v1/institutions/{world.baoding.id}/departments", json=dept_body(), headers=auth
    )
    assert r.status_code == 201, r.text
    dept_id = r.json()["id"]
    listed = client.get(f"/api/v1/institutions/{world.baoding.id}/departments", headers=auth)
    assert listed.json()["total"] == 1
    patched = client.patch(
        f"/api/v1/departments/{dept_id}", json={"bed_count": 60, "is_active": False}, headers=auth
    )
    assert patched.status_code == 200
    assert (patched.json()["bed_count"], patched.json()["is_active"]) == (60, False)
    assert audited(session, "registry.department.create") == 1
    assert audited(session, "registry.department.update") == 1


def test_department_rejects_unknown_specialty_negative_beds_and_duplicates(
    client: TestClient, world: World, session: Session
) -> None:
    auth = world.auth(Role.INSTITUTION_ADMIN)
    url = f"/api/v1/institutions/{world.baoding.id}/departments"
    unknown = client.post(url, json=dept_body(specialty_code="astrology"), headers=auth)
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "unknown_specialty"
    beds = client.post(url, json=dept_body(bed_count=-3), headers=auth)
    assert beds.status_code == 422 and beds.json()["code"] == "negative_beds"
    assert count(session, Department) == 0
    assert client.post(url, json=dept_body(), headers=auth).status_code == 201
    twice = client.post(url, json=dept_body(), headers=auth)
    assert twice.status_code == 409 and twice.json()["code"] == "department_name_taken"
    assert count(session, Department) == 1


def test_department_of_unknown_institution_is_404(client: TestClient, world: World) -> None:
    r = client.post(
        "/api/v1/institutions/999999/departments",
        json=dept_body(),
        headers=world.auth(Role.PLATFORM_ADMIN),
    )
    assert r.status_code == 404


def test_institution_admin_cannot_touch_another_institutions_departments(
    client: TestClient, world: World, session: Session
) -> None:
    other = rf.department(session, world.baoding2)
    session.commit()
    auth = world.auth(Role.INSTITUTION_ADMIN)
    add = client.post(
        f"/api/v1/institutions/{world.baoding2.id}/departments", json=dept_body(), headers=auth
    )
    assert add.status_code == 403
    edit = client.patch(f"/api/v1/departments/{other.id}", json={"bed_count": 1}, headers=auth)
    assert edit.status_code == 403
    session.expire_all()
    assert session.get(Department, other.id).bed_count == 20  # type: ignore[union-attr]


def test_clinician_cannot_add_departments(client: TestClient, world: World) -> None:
    r = client.post(
        f"/api/v1/institutions/{world.baoding.id}/departments",
        json=dept_body(),
        headers=world.auth(Role.CLINICIAN),
    )
    assert r.status_code == 403


def pr_body(world: World, **kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "institution_id": world.baoding.id,
        "name_zh": "李医生",
        "name_en": "Dr Li",
        "title": "associate_chief",
        "specialty_code": "neonatology",
        "license_no": "110130000123",
    }
    body.update(kw)
    return body


def test_practitioner_create_read_update_and_search(
    client: TestClient, world: World, session: Session
) -> None:
    dept = rf.department(session, world.baoding, "neonatology")
    session.commit()
    auth = world.auth(Role.INSTITUTION_ADMIN)
    r = client.post(
        "/api/v1/practitioners", json=pr_body(world, department_id=dept.id), headers=auth
    )
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    assert client.get(f"/api/v1/practitioners/{pid}", headers=auth).json()["name_en"] == "Dr Li"
    patched = client.patch(f"/api/v1/practitioners/{pid}", json={"title": "chief"}, headers=auth)
    assert patched.status_code == 200 and patched.json()["title"] == "chief"
    reader = world.auth(Role.EXPERT)
    for params in (
        {"q": "李"},
        {"q": "dr li"},
        {"institution_id": world.baoding.id},
        {"specialty": "neonatology"},
        {"title": "chief"},
    ):
        found = client.get("/api/v1/practitioners", params=params, headers=reader).json()
        assert [p["id"] for p in found["items"]] == [pid], params
    none = client.get("/api/v1/practitioners", params={"title": "resident"}, headers=reader)
    assert none.json()["total"] == 0
    assert audited(session, "registry.practitioner.create") == 1
    assert audited(session, "registry.practitioner.update") == 1


def test_practitioner_bad_input(client: TestClient, world: World, session: Session) -> None:
    other_dept = rf.department(session, world.baoding2)
    rf.practitioner(session, world.baoding, license_no="DUPLICATE1")
    session.commit()
    before = count(session, Practitioner)
    admin = world.auth(Role.PLATFORM_ADMIN)
    cases = [
        (pr_body(world, specialty_code="astrology"), 422, "unknown_specialty"),
        (pr_body(world, institution_id=999999), 422, "unknown_institution"),
        (pr_body(world, department_id=other_dept.id), 422, "unknown_department"),
        (pr_body(world, license_no="DUPLICATE1"), 409, "license_taken"),
        (pr_body(world, title="professor"), 422, "validation_failed"),
    ]
    for body, status, code in cases:
        r = client.post("/api/v1/practitioners", json=body, headers=admin)
        assert (r.status_code, r.json()["code"]) == (status, code), body
    assert count(session, Practitioner) == before


def test_practitioner_scope(client: TestClient, world: World, session: Session) -> None:
    other = rf.practitioner(session, world.baoding2)
    session.commit()
    auth = world.auth(Role.INSTITUTION_ADMIN)
    add = client.post(
        "/api/v1/practitioners", json=pr_body(world, institution_id=world.baoding2.id), headers=auth
    )
    assert add.status_code == 403
    edit = client.patch(f"/api/v1/practitioners/{other.id}", json={"title": "chief"}, headers=auth)
    assert edit.status_code == 403
    assert client.get("/api/v1/practitioners/999999", headers=auth).status_code == 404


def test_practitioner_linked_to_a_user_of_the_same_institution(
    client: TestClient, world: World
) -> None:
    admin = world.auth(Role.PLATFORM_ADMIN)
    clinician = world.users[Role.CLINICIAN]  # works at Baoding A
    wrong = client.post(
        "/api/v1/practitioners",
        json=pr_body(world, institution_id=world.beijing.id, user_id=clinician.id),
        headers=admin,
    )
    assert wrong.status_code == 422 and wrong.json()["code"] == "unknown_user"
    ok = client.post(
        "/api/v1/practitioners", json=pr_body(world, user_id=clinician.id), headers=admin
    )
    assert ok.status_code == 201
    again = client.post(
        "/api/v1/practitioners",
        json=pr_body(world, user_id=clinician.id, license_no=None),
        headers=admin,
    )
    assert again.status_code == 409 and again.json()["code"] == "user_already_linked"


def test_divisions_and_specialties(client: TestClient, world: World) -> None:
    auth = world.auth(Role.CLINICIAN)
    counties = client.get(
        "/api/v1/divisions", params={"parent_code": "130600"}, headers=auth
    ).json()
    codes = [d["code"] for d in counties["items"]]
    assert {"130602", "130606"} <= set(codes) and codes == sorted(codes)
    assert {d["parent_code"] for d in counties["items"]} == {"130600"}
    provinces = client.get("/api/v1/divisions", params={"level": "province"}, headers=auth).json()
    assert {"110000", "130000"} <= {d["code"] for d in provinces["items"]}
    assert {d["level"] for d in provinces["items"]} == {"province"}
    by_name = client.get("/api/v1/divisions", params={"q": "保定"}, headers=auth).json()
    assert "130600" in [d["code"] for d in by_name["items"]]
    assert "110000" not in [d["code"] for d in by_name["items"]]
    specs = client.get("/api/v1/specialties", headers=auth).json()
    assert any(s["code"] == "ped_hem_onc" for s in specs)
    found = client.get("/api/v1/specialties", params={"q": "neonat"}, headers=auth).json()
    assert [s["code"] for s in found] == ["neonatology"]
