"""The map API: the same institutions, cities, flows and totals as the map page, by
institution or by city; the commission sees every referral flow, a hospital office only its
own; refusals as problem+json with a code by field; every read audited."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from medcircle.auth.domain import Role
from tests.integration.dispatch.calendar_support import (  # noqa: F401  (fixtures)
    Roster,
    dw_fixture,
    frozen_fixture,
    roster_fixture,
)
from tests.integration.dispatch.setup_support import audited
from tests.integration.dispatch.test_map import records_fixture  # noqa: F401
from tests.integration.dispatch.test_map_referrals import YEAR, referrals_fixture  # noqa: F401

URL = "/api/v1/dispatch/map"


def _get(client: TestClient, refs: Roster, username: str, **params: str) -> Any:
    r = client.get(URL, params=params, headers=refs.dw.auth_user(username))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    return r.json()


def _flows(body: dict[str, Any]) -> list[tuple[str, str, str, int, bool]]:
    return [
        (f["kind"], f["from"], f["to"], f["count"], f["within_one_city"]) for f in body["flows"]
    ]


def _problem(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["code"] == code
    return body


def test_planned_visits_over_the_default_period(client: TestClient, recs: Roster) -> None:
    body = _get(client, recs, "expert")
    assert (body["first"], body["last"]) == ("2026-09-01", "2027-02-28")
    assert body["source"] == "planned" and body["visits"] == "planned"
    assert body["referrals"] is False and body["grouping"] == "institution"
    assert _flows(body) == [
        ("visits", "BJ-A", "BD-A", 5, False),
        ("visits", "BJ-B", "BD-A", 1, False),
    ]
    assert body["totals"] == {"visits": 6}
    # the parties of the agreement in force and the ends of the flows, as on the page
    by_code = {i["code"]: i for i in body["institutions"]}
    assert sorted(by_code) == ["BD-A", "BJ-A", "BJ-B"]
    bd = by_code["BD-A"]
    assert bd["id"] == recs.dw.base.baoding.id
    assert (bd["name_zh"], bd["name_en"]) == ("保定甲医院", "Baoding Hospital A")
    assert bd["level"] == "secondary" and bd["division_code"] == "130606"
    assert bd["city"] == "130600"
    assert (bd["latitude"], bd["longitude"]) == (38.88, 115.49)
    # the cities of those institutions, even by institution
    assert [(c["code"], c["institutions"]) for c in body["cities"]] == [
        ("110000", 2),
        ("130600", 1),
    ]


def test_visits_and_referrals_by_city_for_the_commission(client: TestClient, refs: Roster) -> None:
    body = _get(
        client,
        refs,
        "commissionanalyst",
        **YEAR,
        source="recorded-and-referrals",
        grouping="city",
    )
    assert body["visits"] == "recorded" and body["referrals"] is True
    assert body["referrals_of"] is None
    # the same rows as the page's table and its CSV, the flow within Baoding last
    assert _flows(body) == [
        ("visits", "110000", "130600", 2, False),
        ("up", "130600", "110000", 4, False),
        ("down", "110000", "130600", 1, False),
        ("down", "130600", "130600", 1, True),
    ]
    assert body["totals"] == {"visits": 2, "up": 4, "down": 2}
    beijing, baoding = body["cities"]
    assert (beijing["code"], beijing["name_zh"], beijing["institutions"]) == ("110000", "北京市", 1)
    assert (beijing["latitude"], beijing["longitude"]) == (39.9042, 116.4074)
    assert beijing["level"] == "tertiary"
    assert (baoding["name_en"], baoding["institutions"], baoding["level"]) == (
        "Baoding",
        2,
        "secondary",
    )
    assert {(i["code"], i["city"]) for i in body["institutions"]} == {
        ("BJ-A", "110000"),
        ("BD-A", "130600"),
        ("BD-B", "130600"),
    }


def test_a_hospital_office_sees_only_its_own_referrals(client: TestClient, refs: Roster) -> None:
    w = refs.dw.base
    everyone = _get(client, refs, "commissionanalyst", **YEAR, source="referrals")
    assert _flows(everyone) == [
        ("up", "BD-A", "BJ-A", 3, False),
        ("up", "BD-B", "BJ-A", 1, False),
        ("down", "BJ-A", "BD-A", 1, False),
        ("down", "BD-A", "BD-B", 1, False),
    ]
    office = _get(client, refs, "institutionadmin", **YEAR, source="referrals")
    assert office["referrals_of"] == w.baoding.id
    assert _flows(office) == [
        ("up", "BD-A", "BJ-A", 3, False),
        ("down", "BJ-A", "BD-A", 1, False),
        ("down", "BD-A", "BD-B", 1, False),
    ]
    assert office["totals"] == {"up": 3, "down": 2}
    other = _get(client, refs, "bd2coord", **YEAR, source="referrals")
    assert other["referrals_of"] == w.baoding2.id
    assert _flows(other) == [("up", "BD-B", "BJ-A", 1, False), ("down", "BD-A", "BD-B", 1, False)]


def test_without_dispatch_access(client: TestClient, refs: Roster) -> None:
    r = client.get(URL, params=YEAR, headers=refs.dw.base.auth(Role.AUDITOR))
    _problem(r, 403, "forbidden")
    _problem(client.get(URL), 401, "unauthenticated")


def test_bad_questions_are_refused_by_field(client: TestClient, refs: Roster) -> None:
    auth = refs.dw.auth_user("commissionanalyst")

    def codes(**params: str) -> list[tuple[str, str]]:
        body = _problem(client.get(URL, params=params, headers=auth), 422, "validation_failed")
        return [(e["field"], e["code"]) for e in body["errors"]]

    assert codes(first="soon", last="2026-13-01") == [
        ("first", "invalid_date"),
        ("last", "invalid_date"),
    ]
    assert codes(first="2027-01-01", last="2026-01-01") == [("last", "range_reversed")]
    assert codes(first="2020-01-01", last="2026-01-01") == [("last", "range_too_long")]
    assert codes(source="rumours", grouping="county") == [
        ("source", "invalid_source"),
        ("grouping", "invalid_grouping"),
    ]


def test_reads_are_audited(client: TestClient, refs: Roster, session: Session) -> None:
    _get(client, refs, "institutionadmin", **YEAR, source="referrals", grouping="city")
    [event] = audited(session, "dispatch.map.read")
    admin = refs.dw.base.users[Role.INSTITUTION_ADMIN]
    assert (event.actor_user_id, event.actor_username) == (admin.id, "institutionadmin")
    assert event.outcome == "success"
    assert event.detail == {
        "first": "2026-01-01",
        "last": "2026-12-31",
        "source": "referrals",
        "grouping": "city",
        "referrals_of": refs.dw.base.baoding.id,
    }
    # a refused question is not an answered read
    client.get(URL, params={"first": "soon"}, headers=refs.dw.auth_user("institutionadmin"))
    assert len(audited(session, "dispatch.map.read")) == 1


def test_in_the_openapi_document(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    operation = spec["paths"][URL]["get"]
    assert operation["tags"] == ["dispatch"]
    assert {p["name"] for p in operation["parameters"]} == {"first", "last", "source", "grouping"}
    flow = spec["components"]["schemas"]["MapFlowRead"]
    assert set(flow["properties"]) == {"kind", "from", "to", "count", "within_one_city"}
