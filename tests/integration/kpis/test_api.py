"""The indicators API: the catalogue per role, one indicator computed with its breakdowns, and
problem+json with a stable code for bad questions; every read audited."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from medcircle.audit.models import AuditEvent
from medcircle.auth.domain import Role
from medcircle.kpis.catalogue import BY_SLUG
from tests.factories import World
from tests.integration.activity.test_api import upload


def test_the_catalogue_and_a_computed_indicator(client: TestClient, world: World) -> None:
    lines = [
        "IP-1,BD-A,儿科病房,inpatient,2025-03-01,2025-03-05,130606,5-14,J45.0,5230,",
        "OP-1,BD-A,儿科门诊,outpatient,2025-03-02,,110105,1-4,J06.9,80,",
    ]
    assert upload(client, world, lines).status_code == 201
    analyst = world.auth(Role.COMMISSION_ANALYST)
    catalogue = client.get("/api/v1/kpis", headers=analyst).json()
    assert {i["slug"] for i in catalogue} == set(BY_SLUG)
    first = catalogue[0]
    assert first["name_zh"] and first["formula_en"] and first["unit"] == "per_day"
    office = client.get("/api/v1/kpis", headers=world.auth(Role.INSTITUTION_ADMIN)).json()
    assert "outflow-share" not in [i["slug"] for i in office]
    assert "outpatient-visits-per-day" in [i["slug"] for i in office]
    costs = next(i for i in office if i["slug"] == "family-costs-avoided")
    assert (costs["unit"], costs["source"], costs["scope"]) == ("yuan", "referrals", "institution")
    assert costs["name_en"] == "Family costs avoided" and costs["name_zh"] == "为患者家庭节省费用"
    assert costs["breakdowns"] == ["month", "institution", "year", "alliance", "specialty"]
    r = client.get(
        "/api/v1/kpis/family-costs-avoided",
        params={"year": 2025},
        headers=world.auth(Role.INSTITUTION_ADMIN),
    )
    # no referral kept care local: nothing avoided, of none
    assert r.status_code == 200, r.text
    assert (r.json()["value"], r.json()["numerator"], r.json()["denominator"]) == (0, 0, 0)

    r = client.get(
        "/api/v1/kpis/local-treatment-rate",
        params={"year": 2025, "region": "130000"},
        headers=analyst,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    # the Hebei patient's stay is local; the Beijing resident's visit is not Hebei's
    assert (body["numerator"], body["denominator"], body["value"]) == (1, 1, 1.0)
    assert len(body["by_month"]) == 12
    assert body["by_institution"][0]["key"] == "BD-A"


def test_bad_questions_answer_problem_json(client: TestClient, world: World) -> None:
    analyst = world.auth(Role.COMMISSION_ANALYST)
    r = client.get("/api/v1/kpis/outflow-share", params={"year": 2025}, headers=analyst)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "region_required"
    r = client.get("/api/v1/kpis/nothing", params={"year": 2025}, headers=analyst)
    assert (r.status_code, r.json()["code"]) == (404, "unknown_indicator")
    r = client.get(
        "/api/v1/kpis/outflow-share",
        params={"year": 2025, "region": "130000"},
        headers=world.auth(Role.INSTITUTION_ADMIN),
    )
    assert (r.status_code, r.json()["code"]) == (403, "forbidden")


def test_a_trend_and_its_refusals(client: TestClient, world: World) -> None:
    lines = ["OP-1,BD-A,儿科门诊,outpatient,2016-03-02,,130606,1-4,J06.9,80,"]
    assert upload(client, world, lines).status_code == 201
    analyst = world.auth(Role.COMMISSION_ANALYST)
    r = client.get(
        "/api/v1/kpis/outpatient-visits-per-day/trend",
        params={"first": 2015, "last": 2017, "institution": "BD-A"},
        headers=analyst,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert [(f["key"], f["numerator"]) for f in body["by_year"]] == [
        ("2015", 0),
        ("2016", 1),
        ("2017", 0),
    ]
    assert body["agreements"] == [] and body["before_after"] is None
    assert "year" in body["indicator"]["breakdowns"]
    one = client.get(
        "/api/v1/kpis/outpatient-visits-per-day", params={"year": 2016}, headers=analyst
    ).json()
    # the test's departments name no known specialty
    assert one["by_alliance"] == [] and [f["key"] for f in one["by_specialty"]] == ["-"]
    assert "alliance" in one["indicator"]["breakdowns"]
    for params, code in (
        ({"first": 2017, "last": 2015}, "bad_range"),
        ({"first": 2001, "last": 2025}, "range_too_long"),
        (
            {"first": 2015, "last": 2017, "institution": "BD-A", "agreement": "X"},
            "unknown_agreement",
        ),
    ):
        r = client.get(
            "/api/v1/kpis/outpatient-visits-per-day/trend", params=params, headers=analyst
        )
        assert r.status_code == 422 and r.headers["content-type"].startswith(
            "application/problem+json"
        )
        assert r.json()["code"] == code
    r = client.get(
        "/api/v1/kpis/outpatient-visits-per-day/trend",
        params={"first": 2015, "last": 2017, "institution": "BJ-A"},
        headers=world.auth(Role.INSTITUTION_ADMIN),
    )
    assert (r.status_code, r.json()["code"]) == (404, "unknown_institution")


def test_reads_are_audited(client: TestClient, world: World, session: Session) -> None:
    analyst = world.auth(Role.COMMISSION_ANALYST)
    hebei = {"region": "130000"}
    assert client.get(
        "/api/v1/kpis/outflow-share", params={"year": 2025, **hebei}, headers=analyst
    ).is_success
    assert client.get(
        "/api/v1/kpis/outflow-share/trend",
        params={"first": 2023, "last": 2025, **hebei},
        headers=analyst,
    ).is_success
    session.expire_all()
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.action.like("kpis.%")).order_by(AuditEvent.id)
    ).all()
    assert [(e.action, e.object_id, e.detail) for e in events] == [
        ("kpis.read", "outflow-share", {"year": 2025, "region": "130000"}),
        ("kpis.trend.read", "outflow-share", {"first": 2023, "last": 2025, "region": "130000"}),
    ]
    assert {e.actor_username for e in events} == {"commissionanalyst"}
