"""Institutions through the JSON API: search, registration, edits, names, scope."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medcircle.audit.models import AuditEvent
from medcircle.auth.domain import Role
from medcircle.registry.models import Institution, InstitutionName
from tests import registry_factories as rf
from tests.factories import World

API = "/api/v1/institutions"


def new_institution(**kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": "bd-kids",
        "name_zh": "保定市儿童医院",
        "name_en": "Baoding Children's Hospital",
        "level": "tertiary",
        "grade": "A",
        "type": "childrens",
        "division_code": "130606",
        "latitude": 38.87,
        "longitude": 115.48,
        "bed_count": 300,
    }
    body.update(kw)
    return body


def events(session: Session, action: str) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).where(AuditEvent.action == action)) or 0


def institutions(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Institution)) or 0


def test_search_by_name_in_both_languages_and_by_code(client: TestClient, world: World) -> None:
    auth = world.auth(Role.CLINICIAN)
    zh = client.get(API, params={"q": "保定"}, headers=auth).json()
    assert {i["code"] for i in zh["items"]} == {"BD-A", "BD-B"}
    en = client.get(API, params={"q": "beijing hospital b"}, headers=auth).json()
    assert [i["code"] for i in en["items"]] == ["BJ-B"]
    code = client.get(API, params={"q": "bj-a"}, headers=auth).json()
    assert [i["code"] for i in code["items"]] == ["BJ-A"]


def test_filters_by_place_level_and_specialty(
    client: TestClient, world: World, session: Session
) -> None:
    rf.department(session, world.baoding2, "ped_hem_onc")
    rf.department(session, world.baoding, "ped_hem_onc", is_active=False)
    session.commit()
    auth = world.auth(Role.EXPERT)
    by_city = client.get(API, params={"division_code": "130600"}, headers=auth).json()
    assert by_city["total"] == 2
    by_county = client.get(API, params={"division_code": "130602"}, headers=auth).json()
    assert [i["code"] for i in by_county["items"]] == ["BD-B"]
    by_province = client.get(API, params={"province_code": "110000"}, headers=auth).json()
    assert {i["code"] for i in by_province["items"]} == {"BJ-A", "BJ-B"}
    by_level = client.get(API, params={"level": "secondary"}, headers=auth).json()
    assert by_level["total"] == 2
    by_specialty = client.get(API, params={"specialty": "ped_hem_onc"}, headers=auth).json()
    assert [i["code"] for i in by_specialty["items"]] == ["BD-B"]


def test_list_is_paginated(client: TestClient, world: World) -> None:
    r = client.get(API, params={"size": 3, "page": 2}, headers=world.auth(Role.AUDITOR)).json()
    assert r["total"] == 4 and r["page"] == 2 and r["size"] == 3
    assert [i["code"] for i in r["items"]] == ["BJ-B"]


def test_bad_filter_value_is_422(client: TestClient, world: World) -> None:
    r = client.get(API, params={"level": "quaternary"}, headers=world.auth(Role.EXPERT))
    assert r.status_code == 422
    assert r.json()["code"] == "validation_failed"


def test_platform_admin_registers_an_institution(
    client: TestClient, world: World, session: Session
) -> None:
    r = client.post(API, json=new_institution(), headers=world.auth(Role.PLATFORM_ADMIN))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["code"] == "BD-KIDS"
    assert (body["province_code"], body["city_code"]) == ("130000", "130600")
    assert body["version"] == 1
    names = client.get(f"{API}/{body['id']}/names", headers=world.auth(Role.EXPERT)).json()
    assert [n["name_zh"] for n in names] == ["保定市儿童医院"]
    assert events(session, "registry.institution.create") == 1


def test_only_platform_admin_registers(client: TestClient, world: World, session: Session) -> None:
    before = institutions(session)
    r = client.post(API, json=new_institution(), headers=world.auth(Role.INSTITUTION_ADMIN))
    assert r.status_code == 403
    assert r.json()["code"] == "forbidden"
    assert institutions(session) == before


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"code": "bad code!"}, "invalid_code", "code"),
        ({"division_code": "999999"}, "unknown_division", "division_code"),
        ({"latitude": 95.0}, "invalid_coordinates", "latitude"),
        ({"longitude": -200.0}, "invalid_coordinates", "longitude"),
        ({"latitude": None}, "incomplete_coordinates", "latitude"),
        ({"bed_count": -1}, "negative_beds", "bed_count"),
        ({"parent_id": 999999}, "unknown_institution", "parent_id"),
    ],
)
def test_registration_rejects_bad_input(
    client: TestClient,
    world: World,
    session: Session,
    change: dict[str, Any],
    code: str,
    field: str,
) -> None:
    before = institutions(session)
    r = client.post(API, json=new_institution(**change), headers=world.auth(Role.PLATFORM_ADMIN))
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["code"] == code
    assert field in {e["field"] for e in problem["errors"]}
    assert institutions(session) == before
    assert events(session, "registry.institution.create") == 0


def test_duplicate_code_is_a_conflict(client: TestClient, world: World, session: Session) -> None:
    before = institutions(session)
    r = client.post(API, json=new_institution(code="bj-a"), headers=world.auth(Role.PLATFORM_ADMIN))
    assert r.status_code == 409
    assert r.json()["code"] == "institution_code_taken"
    assert r.json()["errors"][0]["field"] == "code"
    assert institutions(session) == before


def test_read_unknown_institution_is_404(client: TestClient, world: World) -> None:
    r = client.get(f"{API}/999999", headers=world.auth(Role.EXPERT))
    assert r.status_code == 404
    assert r.json()["code"] == "not_found"


def test_detail_counts_departments_staff_and_branches(
    client: TestClient, world: World, session: Session
) -> None:
    rf.department(session, world.beijing)
    rf.practitioner(session, world.beijing)
    rf.practitioner(session, world.beijing, is_active=False)
    world.baoding2.parent_id = world.beijing.id
    session.commit()
    body = client.get(f"{API}/{world.beijing.id}", headers=world.auth(Role.EXPERT)).json()
    assert body["department_count"] == 1
    assert body["practitioner_count"] == 1
    assert body["branch_count"] == 1


def test_institution_admin_edits_own_profile(
    client: TestClient, world: World, session: Session
) -> None:
    r = client.patch(
        f"{API}/{world.baoding.id}",
        json={"version": world.baoding.version, "bed_count": 420, "address": "东风中路"},
        headers=world.auth(Role.INSTITUTION_ADMIN),
    )
    assert r.status_code == 200, r.text
    assert r.json()["bed_count"] == 420
    assert r.json()["version"] == world.baoding.version + 1
    assert events(session, "registry.institution.update") == 1


def test_institution_admin_cannot_change_code_or_level(
    client: TestClient, world: World, session: Session
) -> None:
    r = client.patch(
        f"{API}/{world.baoding.id}",
        json={"version": 1, "level": "tertiary", "code": "BD-Z"},
        headers=world.auth(Role.INSTITUTION_ADMIN),
    )
    assert r.status_code == 403
    assert {e["field"] for e in r.json()["errors"]} == {"code", "level"}
    session.expire_all()
    assert session.get(Institution, world.baoding.id).level == "secondary"  # type: ignore[union-attr]


def test_institution_admin_cannot_edit_another_institution(
    client: TestClient, world: World, session: Session
) -> None:
    r = client.patch(
        f"{API}/{world.baoding2.id}",
        json={"version": 1, "bed_count": 1},
        headers=world.auth(Role.INSTITUTION_ADMIN),
    )
    assert r.status_code == 403
    session.expire_all()
    assert session.get(Institution, world.baoding2.id).bed_count == 500  # type: ignore[union-attr]


def test_stale_version_is_a_conflict(client: TestClient, world: World, session: Session) -> None:
    auth = world.auth(Role.PLATFORM_ADMIN)
    ok = client.patch(
        f"{API}/{world.beijing.id}", json={"version": 1, "bed_count": 10}, headers=auth
    )
    assert ok.status_code == 200
    stale = client.patch(
        f"{API}/{world.beijing.id}", json={"version": 1, "bed_count": 20}, headers=auth
    )
    assert stale.status_code == 409
    assert stale.json()["code"] == "stale_version"
    session.expire_all()
    assert session.get(Institution, world.beijing.id).bed_count == 10  # type: ignore[union-attr]


def test_platform_admin_moves_an_institution_and_the_place_follows(
    client: TestClient, world: World
) -> None:
    r = client.patch(
        f"{API}/{world.beijing2.id}",
        json={"version": 1, "division_code": "130602", "level": "secondary", "code": "bd-c"},
        headers=world.auth(Role.PLATFORM_ADMIN),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["code"], body["province_code"], body["city_code"]) == ("BD-C", "130000", "130600")


def test_edit_rejects_duplicate_code_unknown_division_and_null_names(
    client: TestClient, world: World
) -> None:
    auth = world.auth(Role.PLATFORM_ADMIN)
    url = f"{API}/{world.beijing2.id}"
    taken = client.patch(url, json={"version": 1, "code": "BJ-A"}, headers=auth)
    assert taken.status_code == 409 and taken.json()["code"] == "institution_code_taken"
    place = client.patch(url, json={"version": 1, "division_code": "120000"}, headers=auth)
    assert place.status_code == 422 and place.json()["code"] == "unknown_division"
    blank = client.patch(url, json={"version": 1, "name_zh": None}, headers=auth)
    assert blank.status_code == 422 and blank.json()["errors"][0]["field"] == "name_zh"


def test_parent_cannot_create_a_cycle(client: TestClient, world: World, session: Session) -> None:
    world.beijing2.parent_id = world.beijing.id
    session.commit()
    auth = world.auth(Role.PLATFORM_ADMIN)
    loop = client.patch(
        f"{API}/{world.beijing.id}",
        json={"version": 1, "parent_id": world.beijing2.id},
        headers=auth,
    )
    assert loop.status_code == 422
    assert loop.json()["code"] == "parent_cycle"
    itself = client.patch(
        f"{API}/{world.baoding.id}",
        json={"version": 1, "parent_id": world.baoding.id},
        headers=auth,
    )
    assert itself.status_code == 422 and itself.json()["code"] == "parent_cycle"
    session.expire_all()
    assert session.get(Institution, world.beijing.id).parent_id is None  # type: ignore[union-attr]


def test_rename_keeps_the_history(client: TestClient, world: World, session: Session) -> None:
    auth = world.auth(Role.PLATFORM_ADMIN)
    r = client.post(
        f"{API}/{world.baoding.id}/names",
        json={
            "name_zh": "北京儿童医院保定医院",
            "name_en": "Beijing Children's Hospital Baoding Hospital",
            "valid_from": "2015-10-01",
            "reason": "托管",
        },
        headers=auth,
    )
    assert r.status_code == 201, r.text
    names = client.get(f"{API}/{world.baoding.id}/names", headers=auth).json()
    assert [(n["name_zh"], n["valid_from"], n["valid_to"]) for n in names] == [
        ("北京儿童医院保定医院", "2015-10-01", None),
        ("保定甲医院", None, "2015-10-01"),
    ]
    inst = client.get(f"{API}/{world.baoding.id}", headers=auth).json()
    assert inst["name_zh"] == "北京儿童医院保定医院"
    assert events(session, "registry.institution.rename") == 1


def test_rename_must_start_after_the_current_name(
    client: TestClient, world: World, session: Session
) -> None:
    rf.name_row(session, world.baoding, valid_from=date(2016, 1, 1))
    session.commit()
    r = client.post(
        f"{API}/{world.baoding.id}/names",
        json={"name_zh": "新名", "name_en": "New name", "valid_from": "2015-12-31"},
        headers=world.auth(Role.INSTITUTION_ADMIN),
    )
    assert r.status_code == 422
    assert r.json()["code"] == "rename_before_current"
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(InstitutionName)) == 1


def test_rename_of_another_institution_is_forbidden(client: TestClient, world: World) -> None:
    r = client.post(
        f"{API}/{world.beijing.id}/names",
        json={"name_zh": "新名", "name_en": "New name", "valid_from": "2020-01-01"},
        headers=world.auth(Role.INSTITUTION_ADMIN),
    )
    assert r.status_code == 403


def test_reading_needs_a_token(client: TestClient) -> None:
    assert client.get(API).status_code == 401


def test_an_edit_that_changes_nothing_writes_nothing(
    client: TestClient, world: World, session: Session
) -> None:
    r = client.patch(
        f"{API}/{world.baoding.id}",
        json={"version": 1, "bed_count": 500},
        headers=world.auth(Role.INSTITUTION_ADMIN),
    )
    assert r.status_code == 200
    assert r.json()["version"] == 1
    assert events(session, "registry.institution.update") == 0
