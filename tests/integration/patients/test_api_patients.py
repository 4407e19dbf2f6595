"""API of patients: register, read, search, update, access by institution, duplicates and
merging, unmasking, and what is stored (never the plain number)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from medcircle.audit.models import AuditEvent
from medcircle.auth.domain import Role
from medcircle.patients.domain import make_national_id
from medcircle.patients.models import Patient
from medcircle.referrals.domain import Status
from tests import referral_factories as rf
from tests.factories import World
from tests.referral_factories import ADULT_ID, CHILD_ID, CircleWorld

TODAY_BORN = date(2001, 1, 1)


@pytest.fixture(autouse=True)
def frozen_now() -> Any:
    with time_machine.travel("2026-11-23T04:00:00+00:00", tick=False):
        yield


@pytest.fixture
def cw(session: Session, world: World) -> CircleWorld:
    w = rf.referral_world(session, world)
    session.commit()
    return w


def child(**kw: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "王小明",
        "sex": "male",
        "birth_date": "2015-05-12",
        "national_id": CHILD_ID,
        "phone": None,
        "residence_division_code": "130602",
        "guardian_name": "王芳",
        "guardian_relation": "mother",
        "guardian_phone": "138 0013 8000",
    }
    data.update(kw)
    return data


def adult(**kw: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "李秀英",
        "sex": "female",
        "birth_date": "1949-12-31",
        "national_id": ADULT_ID.lower(),
        "phone": "0312-1234567",
        "residence_division_code": "130606",
    }
    data.update(kw)
    return data


def events(session: Session, action: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all())


def register(client: TestClient, world: World, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post("/api/v1/patients", json=body, headers=world.auth(Role.CLINICIAN))
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def test_register_child_masks_and_seals(client: TestClient, world: World, session: Session) -> None:
    out = register(client, world, child())
    assert out["institution_id"] == world.baoding.id
    assert out["national_id_masked"] == "130602********0012"
    assert out["guardian_phone_masked"] == "138****8000"
    assert out["phone_masked"] is None
    assert out["version"] == 1
    body = str(out)
    assert CHILD_ID not in body and "sealed" not in body and "hash" not in body
    # the row holds no plain number: sealed, hashed, masked
    row = (
        session.execute(text("SELECT * FROM patient WHERE id = :id"), {"id": out["id"]})
        .mappings()
        .one()
    )
    flat = " ".join(str(v) for v in row.values())
    assert CHILD_ID not in flat and "13800138000" not in flat
    assert str(row["national_id_sealed"]).startswith("v1.")
    assert len(str(row["national_id_hash"])) == 64
    (event,) = events(session, "patient.register")
    assert event.object_id == str(out["id"])
    assert CHILD_ID not in str(event.detail)


def test_adult_register_normalises_numbers(client: TestClient, world: World) -> None:
    out = register(client, world, adult())
    assert out["national_id_masked"] == "110105********002X"
    assert out["phone_masked"] == "0312-***4567"
    assert out["guardian_name"] is None


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"national_id": "130602201505120013"}, "national_id", "national_id_checksum"),
        ({"birth_date": "2015-05-13"}, "national_id", "national_id_birth_mismatch"),
        ({"sex": "female"}, "national_id", "national_id_sex_mismatch"),
        ({"guardian_name": None}, "guardian_name", "guardian_required"),
        ({"guardian_phone": "12345"}, "guardian_phone", "phone_invalid"),
        ({"residence_division_code": "999999"}, "residence_division_code", "unknown_division"),
    ],
    ids=["checksum", "birth", "sex", "guardian", "phone", "division"],
)
def test_bad_registrations_are_refused_by_field(
    client: TestClient,
    world: World,
    session: Session,
    change: dict[str, Any],
    field: str,
    code: str,
) -> None:
    r = client.post("/api/v1/patients", json=child(**change), headers=world.auth(Role.CLINICIAN))
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["code"] == "validation_failed"
    assert {"field": field, "code": code} in [
        {"field": e["field"], "code": e["code"]} for e in problem["errors"]
    ]
    assert session.scalar(select(func.count()).select_from(Patient)) == 0
    # a refused write is audited (in a transaction of its own)
    failed = session.scalars(select(AuditEvent).where(AuditEvent.outcome == "failure")).all()
    assert [(e.action, e.detail["code"]) for e in failed] == [
        ("post /api/v1/patients", "validation_failed")
    ]


def test_same_person_twice_is_a_duplicate_conflict(
    client: TestClient, cw: CircleWorld, session: Session
) -> None:
    world = cw.base
    first = register(client, world, child())
    r = client.post(
        "/api/v1/patients",
        json=child(name="王晓明", national_id=f" {CHILD_ID} "),
        headers=world.auth(Role.INSTITUTION_ADMIN),
    )
    assert r.status_code == 409, r.text
    problem = r.json()
    assert problem["code"] == "duplicate_patient"
    assert f"patient no. {first['id']}" in problem["detail"]
    assert problem["errors"][0]["field"] == "national_id"
    assert session.scalar(select(func.count()).select_from(Patient)) == 1
    # another institution registers the same person: their own record, no conflict
    r2 = client.post("/api/v1/patients", json=child(), headers=cw.auth_user("bjclinician"))
    assert r2.status_code == 201, r2.text


def test_other_institutions_get_404_receivers_may_read(
    client: TestClient, cw: CircleWorld, session: Session
) -> None:
    world = cw.base
    out = register(client, world, child())
    pid = out["id"]
    bj = cw.auth_user("bjclinician")
    assert client.get(f"/api/v1/patients/{pid}", headers=bj).status_code == 404
    assert client.get(f"/api/v1/patients/{pid}/consents", headers=bj).status_code == 404
    p = session.get(Patient, pid)
    assert p is not None
    # a draft sent nowhere yet gives no access; a submitted one does
    draft = rf.referral(session, p, world.users[Role.CLINICIAN], cw.bj_paeds, status=Status.DRAFT)
    session.commit()
    assert client.get(f"/api/v1/patients/{pid}", headers=bj).status_code == 404
    draft.status = Status.SUBMITTED.value
    session.commit()
    r = client.get(f"/api/v1/patients/{pid}", headers=bj)
    assert r.status_code == 200, r.text
    assert r.json()["national_id_masked"] == "130602********0012"
    read = events(session, "patient.read")
    assert read and read[-1].actor_username == "bjclinician"
    # the receiver reads but does not change, unmask or list the patient among its own
    patch = client.patch(f"/api/v1/patients/{pid}", json={"version": 1, "name": "X"}, headers=bj)
    assert patch.status_code == 403
    unmask = client.post(
        f"/api/v1/patients/{pid}/unmask",
        json={"field": "national_id", "reason": "checking"},
        headers=cw.auth_user("bjadmin"),
    )
    assert unmask.status_code == 403
    listing = client.get("/api/v1/patients", headers=bj)
    assert listing.json()["total"] == 0
    # a third institution still sees nothing
    bd2 = cw.auth_user("bd2clinician")
    assert client.get(f"/api/v1/patients/{pid}", headers=bd2).status_code == 404


@pytest.mark.parametrize(
    "role",
    [Role.COMMISSION_ANALYST, Role.AUDITOR, Role.COORDINATOR, Role.ALLIANCE_ADMIN],
    ids=["analyst", "auditor", "coordinator", "alliance-admin"],
)
def test_roles_without_patient_rights_are_refused(
    client: TestClient, world: World, session: Session, role: Role
) -> None:
    pid = rf.patient(session, world.baoding).id
    session.commit()
    assert client.get(f"/api/v1/patients/{pid}", headers=world.auth(role)).status_code == 403
    assert client.get("/api/v1/patients", headers=world.auth(role)).status_code == 403
    r = client.post("/api/v1/patients", json=adult(), headers=world.auth(role))
    assert r.status_code == 403


def test_expert_reads_but_does_not_register(
    client: TestClient, world: World, session: Session
) -> None:
    pid = rf.patient(session, world.beijing).id
    session.commit()
    assert client.get(f"/api/v1/patients/{pid}", headers=world.auth(Role.EXPERT)).status_code == 200
    r = client.post("/api/v1/patients", json=adult(), headers=world.auth(Role.EXPERT))
    assert r.status_code == 403


def test_search_by_name_birth_date_and_id(
    client: TestClient, world: World, session: Session
) -> None:
    kid = register(client, world, child())
    register(client, world, adult())
    register(client, world, adult(name="王大山", national_id=None, sex="male"))
    rf.patient(session, world.beijing, name="王小明")  # another institution's
    session.commit()
    h = world.auth(Role.CLINICIAN)
    r = client.get("/api/v1/patients", params={"name": "王"}, headers=h)
    assert [p["name"] for p in r.json()["items"]] == ["王大山", "王小明"]
    r = client.get("/api/v1/patients", params={"birth_date": "1949-12-31"}, headers=h)
    assert r.json()["total"] == 2
    r = client.get("/api/v1/patients", params={"name": "%"}, headers=h)
    assert r.json()["total"] == 0
    r = client.post("/api/v1/patients/search", json={"national_id": CHILD_ID}, headers=h)
    assert [p["id"] for p in r.json()["items"]] == [kid["id"]]
    r = client.post(
        "/api/v1/patients/search",
        json={"national_id": make_national_id("110105", TODAY_BORN, 3)},
        headers=h,
    )
    assert r.json()["total"] == 0
    searches = events(session, "patient.search")
    assert searches and all(CHILD_ID not in str(e.detail) for e in searches)


def test_update_checks_version_and_duplicates(
    client: TestClient, world: World, session: Session
) -> None:
    kid = register(client, world, child())
    other = register(client, world, adult(national_id=None))
    h = world.auth(Role.CLINICIAN)
    r = client.patch(
        f"/api/v1/patients/{kid['id']}",
        json={"version": 1, "phone": "13912345678", "address": "保定市竞秀区"},
        headers=h,
    )
    assert r.status_code == 200, r.text
    assert r.json()["phone_masked"] == "139****5678" and r.json()["version"] == 2
    stale = client.patch(
        f"/api/v1/patients/{kid['id']}", json={"version": 1, "name": "X"}, headers=h
    )
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"
    # giving the adult the child's ID number: the same duplicate conflict
    dup = client.patch(
        f"/api/v1/patients/{other['id']}",
        json={
            "version": 1,
            "national_id": CHILD_ID,
            "birth_date": "2015-05-12",
            "sex": "male",
            "guardian_name": "王芳",
            "guardian_relation": "mother",
            "guardian_phone": "13800138000",
        },
        headers=h,
    )
    assert dup.status_code == 409 and dup.json()["code"] == "duplicate_patient"
    empty = client.patch(
        f"/api/v1/patients/{kid['id']}", json={"version": 2, "name": None}, headers=h
    )
    assert empty.status_code == 422
    changes = events(session, "patient.update")
    assert changes[0].detail["changed"] == ["address", "phone"]
    # the same number typed another way is no change (and no new version)
    same = client.patch(
        f"/api/v1/patients/{kid['id']}", json={"version": 2, "phone": "139-1234-5678"}, headers=h
    )
    assert same.status_code == 200 and same.json()["version"] == 2
    assert events(session, "patient.update")[-1].detail["changed"] == []
