"""Roster pages and API through the real app: plan a horizon by the form (field messages for a
bad horizon), the run page with its figures, charts, the uncovered with why and the roster;
a hand edit refused with the rule by the field; publish and re-plan; the API's problem codes;
other institutions get 404; both languages."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from medcircle.dispatch.models import RosterPlan, RosterVisit
from tests import dispatch_factories as df
from tests.factories import api_token, csrf_of, login
from tests.integration.dispatch.setup_support import (  # noqa: F401 (fixtures)
    dw_fixture,
    frozen_fixture,
    zh,
)


def _field_error(html: str, field: str) -> str:
    m = re.search(rf'id="{field}-error"[^>]*>(.*?)</p>', html, re.S)
    assert m, f"no message by the field {field}"
    return m.group(1)


def _approved(session: Session, dw: df.DispatchWorld) -> None:
    df.demand(session, dw, status="approved", visits_per_week=3)
    df.demand(
        session,
        dw,
        status="approved",
        kind="special",
        day=df.date(2026, 12, 9),
        skill="ecmo",
        visits_per_week=None,
    )
    session.commit()


def test_plan_review_edit_publish_replan_by_the_pages(
    client: TestClient, session: Session, dw: df.DispatchWorld
) -> None:
    _approved(session, dw)
    login(client, "bjcoord")
    assert client.get("/dispatch", follow_redirects=False).headers["location"] == "/dispatch/plans"
    page = client.get("/dispatch/plans")
    assert page.status_code == 200 and 'data-testid="new-plan"' in page.text
    token = csrf_of(page.text)
    bad = client.post(
        "/dispatch/plans", data={"csrf_token": token, "starts_on": "2026-12-08", "weeks": "0"}
    )
    assert bad.status_code == 422
    assert "Monday" in _field_error(bad.text, "starts_on")
    assert "1 to 12" in _field_error(bad.text, "weeks")
    made = client.post(
        "/dispatch/plans",
        data={"csrf_token": token, "starts_on": "2026-12-07", "weeks": "2", "title": "Winter"},
        follow_redirects=False,
    )
    assert made.status_code == 303
    url = made.headers["location"]
    run = client.get(url).text
    assert 'data-testid="plan-status"' in run and "Draft" in run
    assert 'data-testid="chart-coverage"' in run and 'data-testid="chart-load"' in run
    assert 'data-testid="chart-travel"' in run
    # the ECMO operation: nobody has the skill
    assert "no expert has the skill asked for" in run
    plan = session.scalars(select(RosterPlan)).one()
    visits = session.scalars(select(RosterVisit).where(RosterVisit.plan_id == plan.id)).all()
    a = visits[0]
    # a Saturday is refused by the field, with the rule
    token = csrf_of(run)
    refused = client.post(
        f"{url}/visits/{a.id}/move",
        data={
            "csrf_token": token,
            "version": str(plan.version),
            "user_id": str(a.user_id),
            "day": "2026-12-12",
        },
    )
    assert refused.status_code == 422
    assert "working day" in _field_error(refused.text, f"move-{a.id}-day")
    published = client.post(
        f"{url}/publish",
        data={"csrf_token": token, "version": str(plan.version)},
        follow_redirects=False,
    )
    assert published.status_code == 303
    page = client.get(published.headers["location"]).text
    assert "The roster is published" in page and 'data-testid="replan"' in page
    again = client.post(f"{url}/replan", data={"csrf_token": csrf_of(page)}, follow_redirects=False)
    assert again.status_code == 303
    draft = client.get(again.headers["location"]).text
    assert 'data-testid="changes"' in draft and "A re-plan is ready below" in draft
    # in Chinese
    dw.bj_coordinator.locale = "zh_Hans"
    session.commit()
    client.post("/logout", data={"csrf_token": csrf_of(client.get("/account").text)})
    login(client, "bjcoord")
    zh_page = client.get(url).text
    assert zh("How good this roster is") in zh_page and zh("The roster, day by day") in zh_page


def test_other_institutions_and_experts(
    client: TestClient, session: Session, dw: df.DispatchWorld
) -> None:
    _approved(session, dw)
    login(client, "bjcoord")
    token = csrf_of(client.get("/dispatch/plans").text)
    made = client.post(
        "/dispatch/plans",
        data={"csrf_token": token, "starts_on": "2026-12-07", "weeks": "1"},
        follow_redirects=False,
    )
    url = made.headers["location"]
    client.post("/logout", data={"csrf_token": csrf_of(client.get("/account").text)})
    login(client, dw.stranger.username)
    assert client.get(url).status_code == 404
    client.post("/logout", data={"csrf_token": csrf_of(client.get("/account").text)})
    login(client, dw.expert.username)
    # an expert reads the roster of their institution but cannot plan
    page = client.get("/dispatch/plans")
    assert page.status_code == 200 and 'data-testid="new-plan"' not in page.text
    assert client.get(url).status_code == 200
    assert (
        client.post(
            f"{url}/publish", data={"csrf_token": csrf_of(page.text), "version": "1"}
        ).status_code
        == 403
    )


def test_the_api(client: TestClient, session: Session, dw: df.DispatchWorld) -> None:
    _approved(session, dw)
    headers = {"Authorization": f"Bearer {api_token(session, dw.bj_coordinator)}"}
    session.commit()
    bad = client.post(
        "/api/v1/dispatch/plans", json={"starts_on": "2026-12-07", "weeks": 53}, headers=headers
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert bad.json()["errors"][0]["code"] == "horizon_out_of_range"
    made = client.post(
        "/api/v1/dispatch/plans", json={"starts_on": "2026-12-07", "weeks": 2}, headers=headers
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert (
        body["status"] == "draft" and body["report"]["coverage_bound"] == body["report"]["covered"]
    )
    assert {v["kind"] for v in body["visits"]} == {"visit"}
    a = body["visits"][0]
    clash = next(v for v in body["visits"] if v["user_id"] != a["user_id"])
    moved = client.patch(
        f"/api/v1/dispatch/roster-visits/{a['id']}",
        json={"user_id": a["user_id"], "day": clash["day"], "version": body["version"]},
        headers=headers,
    )
    if a["day"] != clash["day"] and moved.status_code == 422:
        assert moved.json()["code"] == "rule_violation"
    stale = client.post(
        f"/api/v1/dispatch/plans/{body['id']}/publish", json={"version": 999}, headers=headers
    )
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"
    current = client.get(f"/api/v1/dispatch/plans/{body['id']}", headers=headers).json()
    ok = client.post(
        f"/api/v1/dispatch/plans/{body['id']}/publish",
        json={"version": current["version"]},
        headers=headers,
    )
    assert ok.status_code == 200 and ok.json()["status"] == "published"
    again = client.post(f"/api/v1/dispatch/plans/{body['id']}/replan", headers=headers)
    assert again.status_code == 201 and again.json()["parent_id"] == body["id"]
    assert (
        client.post(f"/api/v1/dispatch/plans/{body['id']}/replan", headers=headers).status_code
        == 201
    )
    listed = client.get("/api/v1/dispatch/plans", headers=headers).json()
    assert len(listed) == 3
    stranger = {"Authorization": f"Bearer {api_token(session, dw.stranger)}"}
    session.commit()
    assert client.get(f"/api/v1/dispatch/plans/{body['id']}", headers=stranger).status_code == 404
    assert client.get("/api/v1/dispatch/plans").status_code == 401
