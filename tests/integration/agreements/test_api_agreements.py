"""API of cooperation agreements: create, read, list, update, terminate, and bad input."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medcircle.agreements.models import AgreementSpecialty, CooperationAgreement
from medcircle.audit.models import AuditEvent
from medcircle.auth.domain import Role
from medcircle.registry.models import Institution, InstitutionName
from tests import agreement_factories as af
from tests.factories import World

TODAY = date(2026, 6, 1)


@pytest.fixture(autouse=True)
def frozen_today() -> Any:
    with time_machine.travel("2026-06-01T04:00:00+00:00", tick=False):
        yield


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def body(world: World, **kw: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "kind": "specialty_support",
        "supporting_institution_code": "BJ-A",
        "supported_institution_code": "BD-A",
        "starts_on": "2026-01-01",
        "ends_on": "2029-01-01",
        "specialties": ["neonatology", "ped_surgery", "ped_icu"],
    }
    data.update(kw)
    return data


def test_analyst_creates_pairing_by_codes(
    client: TestClient, world: World, session: Session
) -> None:
    r = client.post(
        "/api/v1/agreements", json=body(world), headers=world.auth(Role.COMMISSION_ANALYST)
    )
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["supporting_institution"]["code"] == "BJ-A"
    assert out["supported_institution"]["id"] == world.baoding.id
    assert [s["code"] for s in out["specialties"]] == ["neonatology", "ped_icu", "ped_surgery"]
    assert out["status"] == "active"
    assert out["warnings"] == []
    assert out["code"] == "CA-2026-001"
    assert "Beijing Hospital A" in out["title_en"] and "北京甲医院" in out["title_zh"]
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "agreement.create"))
    assert event is not None and event.object_id == str(out["id"])


def test_institutions_by_id_and_short_term_warns(client: TestClient, world: World) -> None:
    data = body(
        world,
        supporting_institution_code=None,
        supported_institution_code=None,
        supporting_institution_id=world.beijing2.id,
        supported_institution_id=world.baoding2.id,
        ends_on="2027-01-01",
    )
    r = client.post("/api/v1/agreements", json=data, headers=world.auth(Role.PLATFORM_ADMIN))
    assert r.status_code == 201, r.text
    warnings = r.json()["warnings"]
    assert [w["field"] for w in warnings] == ["ends_on"]
    assert "365 days" in warnings[0]["message"]


def test_institution_admin_only_for_own_institution(
    client: TestClient, world: World, session: Session
) -> None:
    before = count(session, CooperationAgreement)
    other = body(world, supporting_institution_code="BJ-B", supported_institution_code="BD-B")
    r = client.post("/api/v1/agreements", json=other, headers=world.auth(Role.INSTITUTION_ADMIN))
    assert r.status_code == 403
    assert count(session, CooperationAgreement) == before
    own = client.post(
        "/api/v1/agreements", json=body(world), headers=world.auth(Role.INSTITUTION_ADMIN)
    )
    assert own.status_code == 201


@pytest.mark.parametrize("role", [Role.CLINICIAN, Role.EXPERT, Role.ALLIANCE_ADMIN, Role.AUDITOR])
def test_roles_without_manage_cannot_create(client: TestClient, world: World, role: Role) -> None:
    r = client.post("/api/v1/agreements", json=body(world), headers=world.auth(role))
    assert r.status_code == 403


@pytest.mark.parametrize(
    ("changes", "status", "code", "field"),
    [
        (
            {"supported_institution_code": "NOPE-1"},
            422,
            "unknown_institution",
            "supported_institution_code",
        ),
        (
            {"supporting_institution_code": None, "supporting_institution_id": 999999},
            422,
            "unknown_institution",
            "supporting_institution_id",
        ),
        ({"supported_institution_code": "BJ-A"}, 422, "invalid_terms", "supported_institution_id"),
        ({"ends_on": "2025-12-31"}, 422, "invalid_terms", "ends_on"),
        ({"specialties": ["neonatology"]}, 422, "invalid_terms", "specialties"),
        (
            {"specialties": ["neonatology", "ped_surgery", "ped_icu", "oncology", "cardiology"]},
            422,
            "invalid_terms",
            "specialties",
        ),
        (
            {"specialties": ["neonatology", "no_such_specialty"]},
            422,
            "unknown_specialty",
            "specialties",
        ),
        ({"framework_id": 999999}, 422, "unknown_framework", "framework_id"),
        (
            {"kind": "specialty_support", "licensed_name_zh": "某名", "licensed_name_en": "A name"},
            422,
            "invalid_terms",
            "licensed_name_zh",
        ),
        ({"code": "bad code!"}, 422, "validation_failed", "code"),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(
    client: TestClient,
    world: World,
    session: Session,
    changes: dict[str, Any],
    status: int,
    code: str,
    field: str,
) -> None:
    before = (count(session, CooperationAgreement), count(session, AgreementSpecialty))
    r = client.post(
        "/api/v1/agreements",
        json=body(world, **changes),
        headers=world.auth(Role.COMMISSION_ANALYST),
    )
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["code"] == code
    assert field in [e["field"] for e in problem["errors"]]
    assert all(e["message"] for e in problem["errors"])
    assert (count(session, CooperationAgreement), count(session, AgreementSpecialty)) == before


def test_specialty_count_error_has_its_own_code_and_is_translated(
    client: TestClient, world: World
) -> None:
    r = client.post(
        "/api/v1/agreements",
        json=body(world, specialties=["neonatology"]),
        headers={**world.auth(Role.COMMISSION_ANALYST), "Accept-Language": "zh-CN"},
    )
    assert r.status_code == 422
    errors = r.json()["errors"]
    count_errors = [e for e in errors if e["code"] == "specialty_count"]
    assert len(count_errors) == 1
    assert count_errors[0]["field"] == "specialties"


def test_analyst_problem_messages_follow_user_locale(
    client: TestClient, world: World, session: Session
) -> None:
    world.users[Role.COMMISSION_ANALYST].locale = "zh_Hans"
    session.commit()
    r = client.post(
        "/api/v1/agreements",
        json=body(world, supported_institution_code="NOPE-1"),
        headers=world.auth(Role.COMMISSION_ANALYST),
    )
    assert r.status_code == 422
    assert "NOPE-1" in r.json()["errors"][0]["message"]
    assert "机构" in r.json()["errors"][0]["message"]


def test_malformed_json_is_400_and_writes_nothing(
    client: TestClient, world: World, session: Session
) -> None:
    before = count(session, CooperationAgreement)
    r = client.post(
        "/api/v1/agreements",
        content=b'{"kind": "specialty_support",',
        headers={**world.auth(Role.COMMISSION_ANALYST), "Content-Type": "application/json"},
    )
    assert r.status_code == 400
    assert r.json()["code"] == "malformed_json"
    assert count(session, CooperationAgreement) == before


def test_duplicate_code_is_conflict(client: TestClient, world: World, session: Session) -> None:
    h = world.auth(Role.COMMISSION_ANALYST)
    assert (
        client.post("/api/v1/agreements", json=body(world, code="ca-x1"), headers=h).status_code
        == 201
    )
    before = count(session, CooperationAgreement)
    r = client.post("/api/v1/agreements", json=body(world, code="CA-X1"), headers=h)
    assert r.status_code == 409
    assert r.json()["code"] == "agreement_code_taken"
    assert count(session, CooperationAgreement) == before


def test_trusteeship_renames_supported_hospital_and_keeps_history(
    client: TestClient, world: World, session: Session
) -> None:
    data = body(
        world,
        kind="trusteeship",
        specialties=[],
        starts_on="2025-01-01",
        ends_on="2034-01-01",
        licensed_name_zh="北京甲医院保定医院",
        licensed_name_en="Beijing Hospital A Baoding Hospital",
    )
    r = client.post("/api/v1/agreements", json=data, headers=world.auth(Role.COMMISSION_ANALYST))
    assert r.status_code == 201, r.text
    agreement_id = r.json()["id"]
    assert [w["field"] for w in r.json()["warnings"]] == ["ends_on"]
    session.expire_all()
    inst = session.get(Institution, world.baoding.id)
    assert inst is not None and inst.name_zh == "北京甲医院保定医院"
    names = session.scalars(
        select(InstitutionName)
        .where(InstitutionName.institution_id == world.baoding.id)
        .order_by(InstitutionName.id)
    ).all()
    assert [(n.name_zh, n.valid_to, n.valid_from) for n in names] == [
        ("保定甲医院", date(2025, 1, 1), None),
        ("北京甲医院保定医院", None, date(2025, 1, 1)),
    ]
    assert names[-1].agreement_id == agreement_id


def test_licensed_name_set_later_renames(
    client: TestClient, world: World, session: Session
) -> None:
    h = world.auth(Role.COMMISSION_ANALYST)
    data = body(
        world, kind="trusteeship", specialties=[], starts_on="2025-01-01", ends_on="2030-01-01"
    )
    r = client.post("/api/v1/agreements", json=data, headers=h)
    assert r.status_code == 201
    assert [w["field"] for w in r.json()["warnings"]] == ["licensed_name_zh"]
    created = r.json()
    r2 = client.patch(
        f"/api/v1/agreements/{created['id']}",
        json={
            "version": created["version"],
            "licensed_name_zh": "北京甲医院保定医院",
            "licensed_name_en": "Beijing Hospital A Baoding Hospital",
        },
        headers=h,
    )
    assert r2.status_code == 200, r2.text
    assert r2.json()["warnings"] == []
    session.expire_all()
    inst = session.get(Institution, world.baoding.id)
    assert inst is not None and inst.name_en == "Beijing Hospital A Baoding Hospital"


def test_licensed_name_needs_both_languages(
    client: TestClient, world: World, session: Session
) -> None:
    before = count(session, CooperationAgreement)
    data = body(world, kind="trusteeship", specialties=[], licensed_name_zh="新名")
    r = client.post("/api/v1/agreements", json=data, headers=world.auth(Role.COMMISSION_ANALYST))
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "licensed_name_en"
    assert count(session, CooperationAgreement) == before


def test_update_with_stale_version_is_conflict(
    client: TestClient, world: World, session: Session
) -> None:
    a = af.agreement(session, world.beijing, world.baoding)
    session.commit()
    h = world.auth(Role.INSTITUTION_ADMIN)
    ok = client.patch(
        f"/api/v1/agreements/{a.id}", json={"version": a.version, "notes": "第一次"}, headers=h
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["version"] == a.version + 1
    stale = client.patch(
        f"/api/v1/agreements/{a.id}", json={"version": a.version, "notes": "第二次"}, headers=h
    )
    assert stale.status_code == 409
    assert stale.json()["code"] == "stale_version"
    session.expire_all()
    assert session.get(CooperationAgreement, a.id).notes == "第一次"  # type: ignore[union-attr]


def test_update_revalidates_terms(client: TestClient, world: World, session: Session) -> None:
    a = af.agreement(session, world.beijing, world.baoding)
    session.commit()
    r = client.patch(
        f"/api/v1/agreements/{a.id}",
        json={"version": a.version, "specialties": ["neonatology"], "ends_on": "2023-01-01"},
        headers=world.auth(Role.COMMISSION_ANALYST),
    )
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_terms"
    assert {e["field"] for e in r.json()["errors"]} == {"specialties", "ends_on"}
    session.expire_all()
    assert session.get(CooperationAgreement, a.id).ends_on == date(2027, 1, 1)  # type: ignore[union-attr]


def test_institution_admin_cannot_edit_others_pairing(
    client: TestClient, world: World, session: Session
) -> None:
    a = af.agreement(session, world.beijing2, world.baoding2)
    session.commit()
    r = client.patch(
        f"/api/v1/agreements/{a.id}",
        json={"version": a.version, "notes": "x"},
        headers=world.auth(Role.INSTITUTION_ADMIN),
    )
    assert r.status_code == 404  # outside their scope, it does not exist for them
    mine = af.agreement(session, world.beijing2, world.baoding)
    session.commit()
    moved = client.patch(
        f"/api/v1/agreements/{mine.id}",
        json={"version": mine.version, "supported_institution_code": "BD-B"},
        headers=world.auth(Role.INSTITUTION_ADMIN),
    )
    assert moved.status_code == 403


def test_terminate(client: TestClient, world: World, session: Session) -> None:
    a = af.agreement(session, world.beijing, world.baoding)
    session.commit()
    h = world.auth(Role.COMMISSION_ANALYST)
    bad = client.post(
        f"/api/v1/agreements/{a.id}/terminate",
        json={"version": a.version, "terminated_on": "2030-01-01", "reason": "合并"},
        headers=h,
    )
    assert bad.status_code == 422
    r = client.post(
        f"/api/v1/agreements/{a.id}/terminate",
        json={"version": a.version, "terminated_on": "2026-05-01", "reason": "医院合并"},
        headers=h,
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "terminated"
    assert "医院合并" in r.json()["notes"]
    again = client.post(
        f"/api/v1/agreements/{a.id}/terminate",
        json={"version": r.json()["version"], "terminated_on": "2026-05-02", "reason": "x"},
        headers=h,
    )
    assert again.status_code == 409
    assert again.json()["code"] == "already_terminated"


def test_list_filters(client: TestClient, world: World, session: Session) -> None:
    fw = af.framework(session)
    active = af.agreement(session, world.beijing, world.baoding, framework_id=fw.id)
    ending = af.agreement(
        session,
        world.beijing2,
        world.baoding,
        starts_on=date(2023, 9, 1),
        ends_on=date(2026, 9, 1),
        specialties=("oncology", "cardiology"),
    )
    ended = af.agreement(
        session, world.beijing, world.baoding2, starts_on=date(2020, 1, 1), ends_on=date(2023, 1, 1)
    )
    upcoming = af.agreement(
        session,
        world.beijing2,
        world.baoding2,
        starts_on=date(2027, 1, 1),
        ends_on=date(2030, 1, 1),
    )
    terminated = af.agreement(
        session, world.beijing, world.baoding2, terminated_on=date(2026, 3, 1)
    )
    af.goal(session, active, due_on=date(2026, 1, 1))
    af.goal(
        session, active, due_on=date(2025, 1, 1), status="achieved", achieved_on=date(2024, 12, 1)
    )
    session.commit()
    h = world.auth(Role.COMMISSION_ANALYST)

    def codes(**params: Any) -> list[str]:
        r = client.get("/api/v1/agreements", params=params, headers=h)
        assert r.status_code == 200, r.text
        return [i["code"] for i in r.json()["items"]]

    assert set(codes()) == {active.code, ending.code}
    assert set(codes(status="all")) == {
        a.code for a in (active, ending, ended, upcoming, terminated)
    }
    assert codes(status="ended") == [ended.code]
    assert codes(status="upcoming") == [upcoming.code]
    assert codes(status="terminated") == [terminated.code]
    assert codes(active_on="2021-06-01") == [ended.code]
    assert codes(ending_within_months=6) == [ending.code]
    assert codes(has_overdue_goals="true") == [active.code]
    assert codes(has_overdue_goals="false") == [ending.code]
    assert codes(specialty="oncology") == [ending.code]
    assert codes(framework_id=fw.id) == [active.code]
    assert set(codes(institution_id=world.beijing2.id, status="all")) == {
        ending.code,
        upcoming.code,
    }
    assert codes(kind="trusteeship") == []
    assert codes(q=ending.code.lower()) == [ending.code]
    rows = client.get("/api/v1/agreements", headers=h).json()["items"]
    by_code = {r["code"]: r for r in rows}
    assert by_code[ending.code]["ends_soon"] is True
    assert by_code[active.code]["ends_soon"] is False
    assert by_code[active.code]["overdue_goals"] == 1
    bad = client.get("/api/v1/agreements", params={"status": "sleeping"}, headers=h)
    assert bad.status_code == 422


def test_reading_is_scoped_to_parties(client: TestClient, world: World, session: Session) -> None:
    mine = af.agreement(session, world.beijing, world.baoding)
    other = af.agreement(session, world.beijing2, world.baoding2)
    session.commit()
    clinician = world.auth(Role.CLINICIAN)  # works at BD-A
    listed = client.get("/api/v1/agreements", headers=clinician).json()
    assert [i["code"] for i in listed["items"]] == [mine.code]
    assert client.get(f"/api/v1/agreements/{mine.id}", headers=clinician).status_code == 200
    assert client.get(f"/api/v1/agreements/{other.id}", headers=clinician).status_code == 404
    analyst = client.get("/api/v1/agreements", headers=world.auth(Role.COMMISSION_ANALYST)).json()
    assert analyst["total"] == 2
    assert client.get("/api/v1/agreements", headers=world.auth(Role.AUDITOR)).status_code == 403
    assert client.get("/api/v1/agreements").status_code == 401


def test_refused_rename_leaves_agreement_unchanged(
    client: TestClient, world: World, session: Session
) -> None:
    h = world.auth(Role.COMMISSION_ANALYST)
    data = body(
        world,
        kind="trusteeship",
        specialties=[],
        starts_on="2025-01-01",
        ends_on="2030-01-01",
        licensed_name_zh="北京甲医院保定医院",
        licensed_name_en="Beijing Hospital A Baoding Hospital",
    )
    created = client.post("/api/v1/agreements", json=data, headers=h).json()
    # a new name from the same start date cannot follow the one the agreement already gave
    r = client.patch(
        f"/api/v1/agreements/{created['id']}",
        json={
            "version": created["version"],
            "licensed_name_zh": "北京甲医院保定分院",
            "licensed_name_en": "Beijing Hospital A Baoding Branch",
        },
        headers=h,
    )
    assert r.status_code == 422, r.text
    session.expire_all()
    stored = session.get(CooperationAgreement, created["id"])
    assert stored is not None and stored.licensed_name_zh == "北京甲医院保定医院"
    assert stored.version == created["version"]


def test_far_dates_are_refused_not_crashing(
    client: TestClient, world: World, session: Session
) -> None:
    h = world.auth(Role.COMMISSION_ANALYST)
    before = count(session, CooperationAgreement)
    r = client.post(
        "/api/v1/agreements",
        json=body(world, starts_on="9999-01-01", ends_on="9999-12-31"),
        headers=h,
    )
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"starts_on", "ends_on"}
    assert count(session, CooperationAgreement) == before
    listed = client.get(
        "/api/v1/agreements",
        params={"active_on": "9999-12-31", "ending_within_months": 6},
        headers=h,
    )
    assert listed.status_code == 422
    assert (
        client.get("/api/v1/goals/overdue", params={"on": "0001-01-01"}, headers=h).status_code
        == 422
    )
