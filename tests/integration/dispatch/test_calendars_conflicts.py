"""Reporting a conflict on a visit of a roster planned and published for real: the conflict
is recorded, a re-plan is drafted at once without the expert on that day, the planners are
told, and the expert's page shows the report (API and page)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from medcircle.dispatch import plans
from medcircle.dispatch.models import RosterConflict, RosterPlan, RosterVisit
from medcircle.notifications.models import Notification
from tests import dispatch_factories as df
from tests.factories import csrf_of, login
from tests.integration.dispatch.setup_support import (  # noqa: F401  (fixtures)
    actor,
    dw_fixture,
    frozen_fixture,
    zh,
)


@dataclass
class Published:
    dw: df.DispatchWorld
    plan: RosterPlan
    mine: list[RosterVisit]


@pytest.fixture(name="pub")
def published_fixture(session: Session, dw: df.DispatchWorld) -> Published:
    df.demand(
        session, dw, status="approved", starts_on=date(2026, 12, 7), ends_on=date(2026, 12, 18)
    )
    planner = actor(session, "bjcoord")
    plan = plans.create_plan(session, planner, date(2026, 12, 7), 2, time_limit=5)
    plans.publish(session, planner, plan.id, plan.version)
    session.commit()
    mine = list(
        session.scalars(
            select(RosterVisit)
            .where(RosterVisit.plan_id == plan.id, RosterVisit.user_id == dw.expert.id)
            .order_by(RosterVisit.day)
        )
    )
    assert mine, "the planner sends the expert"
    return Published(dw, plan, mine)


def _drafts(session: Session, parent_id: int) -> list[RosterPlan]:
    session.expire_all()
    return list(
        session.scalars(
            select(RosterPlan).where(
                RosterPlan.parent_id == parent_id, RosterPlan.status == "draft"
            )
        )
    )


def test_a_conflict_through_the_api_drafts_a_replan_and_tells_the_planners(
    client: TestClient, pub: Published, session: Session
) -> None:
    v = pub.mine[0]
    r = client.post(
        f"/api/v1/dispatch/visits/{v.id}/conflicts",
        json={"reason": "Examination board that day"},
        headers=pub.dw.auth_user("expert"),
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["visit_id"] == v.id and body["status"] == "open"
    drafts = _drafts(session, pub.plan.id)
    assert [d.id for d in drafts] == [body["replan_plan_id"]]
    assert drafts[0].reason == "conflict"
    # the re-plan does not send the expert on that day
    again = session.scalars(
        select(RosterVisit).where(
            RosterVisit.plan_id == drafts[0].id,
            RosterVisit.user_id == pub.dw.expert.id,
            RosterVisit.day == v.day,
        )
    ).all()
    assert again == []
    told = session.scalars(
        select(Notification).where(
            Notification.user_id == pub.dw.bj_coordinator.id,
            Notification.kind == "dispatch.conflict",
        )
    ).all()
    assert len(told) == 1 and told[0].link == f"/dispatch/plans/{drafts[0].id}"
    conflict = session.get(RosterConflict, body["id"])
    assert conflict is not None and conflict.reason == "Examination board that day"


def test_a_conflict_through_the_page(client: TestClient, pub: Published, session: Session) -> None:
    v = pub.mine[0]
    login(client, "expert")
    page = client.get("/dispatch/me")
    assert page.status_code == 200
    assert f'action="/dispatch/me/visits/{v.id}/conflict"' in page.text
    csrf = csrf_of(page.text)
    # no reason: refused by its field, nothing written
    empty = client.post(
        f"/dispatch/me/visits/{v.id}/conflict", data={"csrf_token": csrf, "reason": "  "}
    )
    assert empty.status_code == 422
    assert 'data-testid="flash"' in empty.text and "This field is required." in empty.text
    assert f'id="reason-{v.id}-error"' in empty.text
    assert _drafts(session, pub.plan.id) == []
    # a reason: recorded, re-planned, and the page says so
    done = client.post(
        f"/dispatch/me/visits/{v.id}/conflict",
        data={"csrf_token": csrf, "reason": "Examination board"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/dispatch/me?done=conflict#visit-{v.id}"
    after = client.get(done.headers["location"])
    assert "a re-plan is ready for your planners to review" in after.text
    assert 'data-testid="conflict-reported"' in after.text
    assert f'action="/dispatch/me/visits/{v.id}/conflict"' not in after.text
    assert len(_drafts(session, pub.plan.id)) == 1
    # without the form's token: refused
    other = pub.mine[-1]
    r = client.post(f"/dispatch/me/visits/{other.id}/conflict", data={"reason": "x"})
    assert r.status_code == 403


def test_someone_elses_visit_is_not_found_on_the_page(
    client: TestClient, pub: Published, session: Session
) -> None:
    login(client, "expert2")
    csrf = csrf_of(client.get("/dispatch/me").text)
    r = client.post(
        f"/dispatch/me/visits/{pub.mine[0].id}/conflict", data={"csrf_token": csrf, "reason": "x"}
    )
    assert r.status_code == 404
    assert _drafts(session, pub.plan.id) == []


def test_the_page_in_chinese_after_a_report(
    client: TestClient, pub: Published, session: Session
) -> None:
    pub.dw.expert.locale = "zh_Hans"
    session.commit()
    login(client, "expert")
    v = pub.mine[0]
    csrf = csrf_of(client.get("/dispatch/me").text)
    after = client.post(
        f"/dispatch/me/visits/{v.id}/conflict", data={"csrf_token": csrf, "reason": "开会"}
    )
    assert after.status_code == 200
    assert zh("Conflict reported: the planners are reviewing a re-plan") in after.text
    assert "重新排班的草稿已备好" in after.text
