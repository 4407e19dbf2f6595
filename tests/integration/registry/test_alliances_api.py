"""Medical alliances through the JSON API: founding, members over time, centres, scope."""

from __future__ import annotations

from datetime import date
from typing import Any

import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medcircle.audit.models import AuditEvent
from medcircle.auth.domain import Role
from medcircle.registry.models import Alliance, AllianceCentre, AllianceMember, Institution
from tests import registry_factories as rf
from tests.factories import World, institution


def count(session: Session, model: type) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model)) or 0


def audited(session: Session, action: str) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).where(AuditEvent.action == action)) or 0


def alliance_body(world: World, **kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": "bd-ped",
        "name_zh": "保定市儿科医疗联盟",
        "name_en": "Baoding Pediatric Medical Alliance",
        "lead_institution_id": world.baoding.id,
        "founded_on": "2017-06-01",
    }
    body.update(kw)
    return body


def test_platform_admin_founds_an_alliance_with_its_lead_as_member(
    client: TestClient, world: World, session: Session
) -> None:
    r = client.post(
        "/api/v1/alliances", json=alliance_body(world), headers=world.auth(Role.PLATFORM_ADMIN)
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["code"] == "BD-PED"
    members = client.get(
        f"/api/v1/alliances/{body['id']}/members", headers=world.auth(Role.EXPERT)
    ).json()
    assert [(m["institution_code"], m["joined_on"]) for m in members["items"]] == [
        ("BD-A", "2017-06-01")
    ]
    detail = client.get(f"/api/v1/alliances/{body['id']}", headers=world.auth(Role.EXPERT)).json()
    assert (detail["active_member_count"], detail["centre_count"]) == (1, 0)
    assert audited(session, "registry.alliance.create") == 1


def test_alliance_creation_rules(client: TestClient, world: World, session: Session) -> None:
    rf.alliance(session, world.beijing, code="BD-PED")
    session.commit()
    before = count(session, Alliance)
    admin = world.auth(Role.PLATFORM_ADMIN)
    taken = client.post("/api/v1/alliances", json=alliance_body(world), headers=admin)
    assert taken.status_code == 409 and taken.json()["code"] == "alliance_code_taken"
    lead = client.post(
        "/api/v1/alliances",
        json=alliance_body(world, code="X-1", lead_institution_id=999999),
        headers=admin,
    )
    assert lead.status_code == 422 and lead.json()["code"] == "unknown_institution"
    forbidden = client.post(
        "/api/v1/alliances",
        json=alliance_body(world, code="X-2"),
        headers=world.auth(Role.ALLIANCE_ADMIN),
    )
    assert forbidden.status_code == 403
    assert count(session, Alliance) == before


def test_members_join_and_leave_and_are_listed_by_day_and_place(
    client: TestClient, world: World, session: Session
) -> None:
    alliance = rf.alliance(session, world.baoding, founded_on=date(2017, 6, 1))
    session.commit()
    auth = world.auth(Role.ALLIANCE_ADMIN)
    url = f"/api/v1/alliances/{alliance.id}/members"
    joined = client.post(
        url, json={"institution_id": world.baoding2.id, "joined_on": "2018-03-01"}, headers=auth
    )
    assert joined.status_code == 201, joined.text
    member_id = joined.json()["id"]
    left = client.patch(
        f"/api/v1/alliance-members/{member_id}", json={"left_on": "2020-01-01"}, headers=auth
    )
    assert left.status_code == 200
    assert (left.json()["left_on"], left.json()["active"]) == ("2020-01-01", False)

    def codes(**params: Any) -> list[str]:
        r = client.get(url, params=params, headers=auth)
        assert r.status_code == 200
        return [m["institution_code"] for m in r.json()["items"]]

    assert codes(active_on="2019-06-01") == ["BD-A", "BD-B"]
    assert codes(active_on="2020-01-01") == ["BD-A"]  # the leaving day no longer counts
    assert codes(active_on="2017-01-01") == []
    assert codes(division_code="130602") == ["BD-B"]
    assert codes(division_code="130600") == ["BD-A", "BD-B"]
    assert codes(q="乙") == ["BD-B"]
    assert audited(session, "registry.alliance_member.add") == 1
    assert audited(session, "registry.alliance_member.update") == 1


def test_member_list_is_paginated(client: TestClient, world: World, session: Session) -> None:
    alliance = rf.alliance(session, world.baoding)
    for i in range(5):
        rf.member(session, alliance, rf_inst(session, i))
    session.commit()
    r = client.get(
        f"/api/v1/alliances/{alliance.id}/members",
        params={"size": 2, "page": 3},
        headers=world.auth(Role.EXPERT),
    ).json()
    assert (r["total"], len(r["items"]), r["page"]) == (6, 2, 3)


def rf_inst(session: Session, i: int) -> Institution:
    return institution(session, f"BD-M{i}", division_code="130606")


def test_member_rules(client: TestClient, world: World, session: Session) -> None:
    alliance = rf.alliance(session, world.baoding, founded_on=date(2017, 6, 1))
    rf.member(session, alliance, world.baoding2, date(2018, 1, 1))
    session.commit()
    before = count(session, AllianceMember)
    auth = world.auth(Role.ALLIANCE_ADMIN)
    url = f"/api/v1/alliances/{alliance.id}/members"
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"institution_id": world.baoding2.id, "joined_on": "2019-01-01"}, 409, "already_member"),
        ({"institution_id": 999999, "joined_on": "2019-01-01"}, 422, "unknown_institution"),
        (
            {
                "institution_id": world.beijing.id,
                "joined_on": "2019-01-01",
                "left_on": "2019-01-01",
            },
            422,
            "leave_before_join",
        ),
        (
            {"institution_id": world.beijing.id, "joined_on": "2016-01-01"},
            422,
            "joined_before_founding",
        ),
    ]
    for body, status, code in cases:
        r = client.post(url, json=body, headers=auth)
        assert (r.status_code, r.json()["code"]) == (status, code), body
    assert count(session, AllianceMember) == before


def test_rejoining_after_leaving_is_allowed(
    client: TestClient, world: World, session: Session
) -> None:
    alliance = rf.alliance(session, world.baoding)
    rf.member(session, alliance, world.baoding2, date(2018, 1, 1), date(2019, 1, 1))
    session.commit()
    auth = world.auth(Role.ALLIANCE_ADMIN)
    url = f"/api/v1/alliances/{alliance.id}/members"
    overlap = client.post(
        url, json={"institution_id": world.baoding2.id, "joined_on": "2018-06-01"}, headers=auth
    )
    assert overlap.status_code == 409
    again = client.post(
        url, json={"institution_id": world.baoding2.id, "joined_on": "2019-01-01"}, headers=auth
    )
    assert again.status_code == 201


def test_leave_date_must_follow_join_date(
    client: TestClient, world: World, session: Session
) -> None:
    alliance = rf.alliance(session, world.baoding)
    m = rf.member(session, alliance, world.baoding2, date(2018, 1, 1))
    session.commit()
    r = client.patch(
        f"/api/v1/alliance-members/{m.id}",
        json={"left_on": "2017-12-31"},
        headers=world.auth(Role.ALLIANCE_ADMIN),
    )
    assert r.status_code == 422 and r.json()["code"] == "leave_before_join"
    session.expire_all()
    assert session.get(AllianceMember, m.id).left_on is None  # type: ignore[union-attr]
    assert (
        client.patch(
            "/api/v1/alliance-members/999999",
            json={"left_on": "2020-01-01"},
            headers=world.auth(Role.ALLIANCE_ADMIN),
        ).status_code
        == 404
    )


def test_alliance_admin_manages_only_alliances_their_institution_leads(
    client: TestClient, world: World, session: Session
) -> None:
    other = rf.alliance(session, world.beijing)
    m = rf.member(session, other, world.baoding)
    session.commit()
    auth = world.auth(Role.ALLIANCE_ADMIN)  # works at Baoding A, a mere member of ``other``
    add = client.post(
        f"/api/v1/alliances/{other.id}/members",
        json={"institution_id": world.baoding2.id, "joined_on": "2019-01-01"},
        headers=auth,
    )
    assert add.status_code == 403
    leave = client.patch(
        f"/api/v1/alliance-members/{m.id}", json={"left_on": "2020-01-01"}, headers=auth
    )
    assert leave.status_code == 403
    centre = client.post(
        f"/api/v1/alliances/{other.id}/centres",
        json={
            "kind": "inspection",
            "name_zh": "检验中心",
            "name_en": "Inspection centre",
            "host_institution_id": world.beijing.id,
            "established_on": "2018-01-01",
        },
        headers=auth,
    )
    assert centre.status_code == 403
    inst_admin = client.post(
        f"/api/v1/alliances/{other.id}/members",
        json={"institution_id": world.baoding2.id, "joined_on": "2019-01-01"},
        headers=world.auth(Role.INSTITUTION_ADMIN),
    )
    assert inst_admin.status_code == 403


def test_centres(client: TestClient, world: World, session: Session) -> None:
    alliance = rf.alliance(session, world.baoding, founded_on=date(2017, 6, 1))
    rf.member(session, alliance, world.baoding2, date(2018, 1, 1), date(2019, 1, 1))
    session.commit()
    auth = world.auth(Role.ALLIANCE_ADMIN)
    url = f"/api/v1/alliances/{alliance.id}/centres"
    body = {
        "kind": "inspection",
        "name_zh": "保定市儿科区域检验中心",
        "name_en": "Regional inspection centre",
        "host_institution_id": world.baoding.id,
        "established_on": "2018-01-01",
    }
    ok = client.post(url, json=body, headers=auth)
    assert ok.status_code == 201, ok.text
    gone_host = client.post(
        url,
        json={**body, "host_institution_id": world.baoding2.id, "established_on": "2019-06-01"},
        headers=auth,
    )
    assert gone_host.status_code == 422 and gone_host.json()["code"] == "host_not_member"
    no_host = client.post(url, json={**body, "host_institution_id": 999999}, headers=auth)
    assert no_host.status_code == 422 and no_host.json()["code"] == "unknown_institution"
    bad_kind = client.post(url, json={**body, "kind": "spa"}, headers=auth)
    assert bad_kind.status_code == 422
    assert count(session, AllianceCentre) == 1
    listed = client.get(url, headers=world.auth(Role.CLINICIAN)).json()
    assert [c["kind"] for c in listed] == ["inspection"]
    assert audited(session, "registry.alliance_centre.create") == 1


def test_institutions_filtered_by_alliance_membership_today(
    client: TestClient, world: World, session: Session
) -> None:
    alliance = rf.alliance(session, world.baoding, founded_on=date(2017, 6, 1))
    rf.member(session, alliance, world.baoding2, date(2018, 1, 1), date(2019, 1, 1))
    session.commit()
    auth = world.auth(Role.EXPERT)
    with time_machine.travel(date(2025, 1, 1)):
        now = client.get(
            "/api/v1/institutions", params={"alliance_id": alliance.id}, headers=auth
        ).json()
    assert [i["code"] for i in now["items"]] == ["BD-A"]
    then = client.get(
        "/api/v1/institutions",
        params={"alliance_id": alliance.id, "on": "2018-06-01"},
        headers=auth,
    ).json()
    assert [i["code"] for i in then["items"]] == ["BD-A", "BD-B"]


def test_alliance_list_and_404(client: TestClient, world: World, session: Session) -> None:
    rf.alliance(session, world.baoding, name_en="Baoding Paediatric")
    rf.alliance(session, world.beijing, name_en="Beijing Cardiology")
    session.commit()
    auth = world.auth(Role.AUDITOR)
    found = client.get("/api/v1/alliances", params={"q": "paediatric"}, headers=auth).json()
    assert [a["name_en"] for a in found["items"]] == ["Baoding Paediatric"]
    mine = client.get(
        "/api/v1/alliances", params={"institution_id": world.beijing.id}, headers=auth
    ).json()
    assert [a["name_en"] for a in mine["items"]] == ["Beijing Cardiology"]
    assert client.get("/api/v1/alliances/999999", headers=auth).status_code == 404
    assert client.get("/api/v1/alliances/999999/members", headers=auth).status_code == 404
