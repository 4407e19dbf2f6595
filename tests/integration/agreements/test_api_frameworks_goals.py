"""API of framework agreements and of goals (including the overdue list)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medcircle.agreements.models import AgreementGoal, FrameworkAgreement
from medcircle.audit.models import AuditEvent
from medcircle.auth.domain import Role
from tests import agreement_factories as af
from tests.factories import World


@pytest.fixture(autouse=True)
def frozen_today() -> Any:
    with time_machine.travel("2026-06-01T04:00:00+00:00", tick=False):
        yield


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


FRAMEWORK = {
    "title_zh": "京保医疗卫生协同发展框架协议",
    "title_en": "Beijing–Baoding health cooperation framework",
    "party_a": "北京市卫生健康委员会",
    "party_a_division_code": "110000",
    "party_b": "保定市人民政府",
    "party_b_division_code": "130600",
    "signed_on": "2017-03-01",
    "starts_on": "2017-04-01",
}


def test_framework_create_read_update(client: TestClient, world: World, session: Session) -> None:
    h = world.auth(Role.COMMISSION_ANALYST)
    r = client.post("/api/v1/framework-agreements", json=FRAMEWORK, headers=h)
    assert r.status_code == 201, r.text
    fw = r.json()
    assert fw["code"] == "FA-2017-01" and fw["ends_on"] is None
    read = client.get(
        f"/api/v1/framework-agreements/{fw['id']}", headers=world.auth(Role.CLINICIAN)
    )
    assert read.status_code == 200
    patched = client.patch(
        f"/api/v1/framework-agreements/{fw['id']}",
        json={"version": fw["version"], "ends_on": "2027-04-01"},
        headers=h,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["ends_on"] == "2027-04-01"
    stale = client.patch(
        f"/api/v1/framework-agreements/{fw['id']}",
        json={"version": fw["version"], "summary": "x"},
        headers=h,
    )
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"
    listed = client.get("/api/v1/framework-agreements", headers=h).json()
    assert listed["total"] == 1
    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.object_type == "framework_agreement")
    ).all()
    assert sorted(actions) == ["framework.create", "framework.update"]


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({"party_b_division_code": "999999"}, 422, "unknown_division"),
        ({"ends_on": "2017-01-01"}, 422, "invalid_terms"),
        ({"signed_on": "2017-02-30"}, 422, "validation_failed"),
        ({"title_zh": ""}, 422, "validation_failed"),
    ],
)
def test_framework_bad_input(
    client: TestClient,
    world: World,
    session: Session,
    changes: dict[str, Any],
    status: int,
    code: str,
) -> None:
    before = count(session, FrameworkAgreement)
    r = client.post(
        "/api/v1/framework-agreements",
        json={**FRAMEWORK, **changes},
        headers=world.auth(Role.PLATFORM_ADMIN),
    )
    assert r.status_code == status, r.text
    assert r.json()["code"] == code
    assert count(session, FrameworkAgreement) == before


def test_framework_code_taken(client: TestClient, world: World, session: Session) -> None:
    af.framework(session, code="FA-2017-01")
    session.commit()
    r = client.post(
        "/api/v1/framework-agreements",
        json={**FRAMEWORK, "code": "fa-2017-01"},
        headers=world.auth(Role.COMMISSION_ANALYST),
    )
    assert r.status_code == 409 and r.json()["code"] == "framework_code_taken"


@pytest.mark.parametrize("role", [Role.INSTITUTION_ADMIN, Role.CLINICIAN, Role.ALLIANCE_ADMIN])
def test_only_commission_manages_frameworks(client: TestClient, world: World, role: Role) -> None:
    r = client.post("/api/v1/framework-agreements", json=FRAMEWORK, headers=world.auth(role))
    assert r.status_code == 403
    assert client.get("/api/v1/framework-agreements", headers=world.auth(role)).status_code == 200


def test_goals_lifecycle(client: TestClient, world: World, session: Session) -> None:
    a = af.agreement(session, world.beijing, world.baoding)
    session.commit()
    h = world.auth(Role.INSTITUTION_ADMIN)
    r = client.post(
        f"/api/v1/agreements/{a.id}/goals",
        json={"description_zh": "建成区域儿童医疗中心", "due_on": "2026-03-01"},
        headers=h,
    )
    assert r.status_code == 201, r.text
    goal = r.json()
    assert goal["status"] == "planned" and goal["overdue"] is True
    assert goal["description_en"] == "建成区域儿童医疗中心"
    listed = client.get(f"/api/v1/agreements/{a.id}/goals", headers=world.auth(Role.EXPERT))
    assert [g["id"] for g in listed.json()] == [goal["id"]]
    overdue = client.get("/api/v1/goals/overdue", headers=h).json()
    assert overdue["total"] == 1
    assert overdue["items"][0]["days_overdue"] == 92
    assert overdue["items"][0]["agreement_code"] == a.code
    done = client.patch(
        f"/api/v1/goals/{goal['id']}",
        json={"status": "achieved", "progress_note": "已挂牌"},
        headers=h,
    )
    assert done.status_code == 200, done.text
    assert done.json()["achieved_on"] == "2026-06-01" and done.json()["overdue"] is False
    assert client.get("/api/v1/goals/overdue", headers=h).json()["total"] == 0
    back = client.patch(f"/api/v1/goals/{goal['id']}", json={"status": "in_progress"}, headers=h)
    assert back.json()["achieved_on"] is None


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"status": "achieved", "achieved_on": "2026-07-01"}, "achieved_on"),
        ({"status": "missed", "achieved_on": "2026-05-01"}, "achieved_on"),
        ({"status": "finished"}, "status"),
        ({"due_on": None}, "due_on"),
    ],
)
def test_goal_bad_updates(
    client: TestClient, world: World, session: Session, payload: dict[str, Any], field: str
) -> None:
    a = af.agreement(session, world.beijing, world.baoding)
    g = af.goal(session, a, due_on=date(2027, 1, 1))
    session.commit()
    r = client.patch(
        f"/api/v1/goals/{g.id}", json=payload, headers=world.auth(Role.COMMISSION_ANALYST)
    )
    assert r.status_code == 422, r.text
    assert field in [e["field"] for e in r.json()["errors"]]
    session.expire_all()
    stored = session.get(AgreementGoal, g.id)
    assert stored is not None and stored.status == "planned" and stored.achieved_on is None


def test_goal_permissions(client: TestClient, world: World, session: Session) -> None:
    mine = af.agreement(session, world.beijing, world.baoding)
    other = af.agreement(session, world.beijing2, world.baoding2)
    g_other = af.goal(session, other, due_on=date(2025, 1, 1))
    session.commit()
    body = {"description_zh": "目标", "due_on": "2027-01-01"}
    assert (
        client.post(
            f"/api/v1/agreements/{mine.id}/goals", json=body, headers=world.auth(Role.CLINICIAN)
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"/api/v1/agreements/{other.id}/goals",
            json=body,
            headers=world.auth(Role.INSTITUTION_ADMIN),
        ).status_code
        == 404
    )
    assert (
        client.patch(
            f"/api/v1/goals/{g_other.id}",
            json={"status": "missed"},
            headers=world.auth(Role.INSTITUTION_ADMIN),
        ).status_code
        == 404
    )
    assert (
        client.get("/api/v1/goals/overdue", headers=world.auth(Role.INSTITUTION_ADMIN)).json()[
            "total"
        ]
        == 0
    )
    assert (
        client.get("/api/v1/goals/overdue", headers=world.auth(Role.COMMISSION_ANALYST)).json()[
            "total"
        ]
        == 1
    )
    assert count(session, AgreementGoal) == 1
