"""Rosters from the database: planning the approved demand with the experts' availability,
the report, publishing (superseding, telling the experts), hand edits within the rules, a
re-plan after leave or a reported conflict that keeps the rest and the past, and access."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.orm import Session

from medcircle.consultations.models import ExpertLeave
from medcircle.dispatch import plans as svc
from medcircle.dispatch.models import RosterConflict, RosterPlan, RosterVisit
from medcircle.kit.clock import CST
from medcircle.kit.errors import Conflict, NotFound, ValidationFailed
from medcircle.notifications.models import Notification
from tests import dispatch_factories as df
from tests.integration.dispatch.setup_support import actor, audited, dw_fixture, frozen_fixture

__all__ = ["dw_fixture", "frozen_fixture"]

MONDAY = date(2026, 12, 7)


def _setup(session: Session, dw: df.DispatchWorld, **kw: object) -> None:
    # expert and expert2 take part already (the dispatch world)
    df.demand(session, dw, status="approved", **kw)  # 2 visits a week to BD-A
    session.commit()


def _visits(session: Session, plan: RosterPlan) -> list[RosterVisit]:
    return list(
        session.scalars(
            select(RosterVisit).where(RosterVisit.plan_id == plan.id).order_by(RosterVisit.day)
        )
    )


def test_a_plan_covers_the_approved_demand_fairly_with_its_report(
    session: Session, dw: df.DispatchWorld
) -> None:
    _setup(session, dw)
    coord = actor(session, "bjcoord")
    plan = svc.create_plan(session, coord, MONDAY, 4, title="December")
    visits = _visits(session, plan)
    assert plan.status == "draft" and plan.ends_on == MONDAY + timedelta(days=25)
    assert len(visits) == 8
    assert {v.site_institution_id for v in visits} == {dw.base.baoding.id}
    assert {v.department_id for v in visits} == {dw.circle.bd_paeds.id}
    # fair: the two experts share the eight visit days
    loads = sorted(sum(1 for v in visits if v.user_id == u.id) for u in (dw.expert, dw.expert2))
    assert loads == [4, 4]
    report = plan.report
    assert report["covered"] == report["demand"] == report["coverage_bound"] == 8
    assert report["uncovered"] == [] and report["share_bound"] == "1/2"
    # Beijing to Baoding by the coordinates: about two hours each way
    assert all(90 <= v.travel_minutes <= 150 for v in visits)
    assert audited(session, "dispatch.plan.create")


def test_demand_nobody_can_serve_is_reported_with_why(
    session: Session, dw: df.DispatchWorld
) -> None:
    _setup(session, dw, visits_per_week=5)
    # expert2 has home duties on Mondays and Tuesdays
    profile = session.get(df.ExpertProfile, dw.expert2.id)
    assert profile is not None
    profile.duty_weekdays = [0, 1, 2, 3]
    df.demand(
        session,
        dw,
        status="approved",
        kind="special",
        day=MONDAY + timedelta(days=2),
        skill="ecmo",
        visits_per_week=None,
    )
    session.commit()
    plan = svc.create_plan(session, actor(session, "bjcoord"), MONDAY, 1)
    report = plan.report
    # expert: 2 days; expert2: only Friday left → 3 of 5; the ECMO operation has nobody
    assert report["covered"] == 3 == report["coverage_bound"]
    reasons = {(u["kind"], u["reason"]) for u in report["uncovered"]}
    assert reasons == {("visit", "none_free"), ("special", "no_skill")}


def test_bad_horizons_and_nothing_to_plan(session: Session, dw: df.DispatchWorld) -> None:
    coord = actor(session, "bjcoord")
    with pytest.raises(ValidationFailed) as e:
        svc.create_plan(session, coord, MONDAY, 0)
    assert e.value.field_errors[0].code == "horizon_out_of_range"
    with pytest.raises(ValidationFailed) as e:
        svc.create_plan(session, coord, MONDAY, 52)
    assert e.value.field_errors[0].code == "horizon_out_of_range"
    with pytest.raises(ValidationFailed) as e:
        svc.create_plan(session, coord, MONDAY + timedelta(days=1), 4)
    assert e.value.field_errors[0].code == "not_monday"
    with pytest.raises(ValidationFailed) as e:
        svc.create_plan(session, coord, MONDAY - timedelta(days=14), 4)
    assert e.value.field_errors[0].code == "in_the_past"
    # years ahead, up to the end of the calendar, is refused with a message, not an error
    for far in (date(2029, 1, 1), date(9999, 12, 27)):
        with pytest.raises(ValidationFailed) as e:
            svc.create_plan(session, coord, far, 12)
        assert e.value.field_errors[0].code == "too_far_ahead"
    with pytest.raises(ValidationFailed) as e:
        svc.create_plan(session, coord, MONDAY, 4)
    assert e.value.code == "nothing_to_plan"


def test_publishing_supersedes_and_tells_the_experts(
    session: Session, dw: df.DispatchWorld
) -> None:
    _setup(session, dw)
    coord = actor(session, "bjcoord")
    first = svc.create_plan(session, coord, MONDAY, 4)
    svc.publish(session, coord, first.id, first.version)
    assert first.status == "published"
    told = session.scalars(
        select(Notification.user_id).where(Notification.kind == "dispatch.published")
    ).all()
    assert set(told) == {dw.expert.id, dw.expert2.id}
    second = svc.create_plan(session, coord, MONDAY, 2)
    with pytest.raises(Conflict) as e:
        svc.publish(session, coord, second.id, second.version - 1 if second.version > 1 else 99)
    assert e.value.code == "stale_version"
    svc.publish(session, coord, second.id, second.version)
    session.refresh(first)
    assert first.status == "superseded"
    with pytest.raises(Conflict) as e:
        svc.discard(session, coord, second.id, second.version)
    assert e.value.code == "not_draft"
    # the expert sees the published visits only
    mine = svc.my_visits(
        session, actor(session, dw.expert.username), MONDAY, MONDAY + timedelta(27)
    )
    assert {v.plan_id for v in mine} == {second.id}


def test_other_institutions_see_nothing(session: Session, dw: df.DispatchWorld) -> None:
    _setup(session, dw)
    plan = svc.create_plan(session, actor(session, "bjcoord"), MONDAY, 4)
    stranger = actor(session, dw.stranger.username)
    with pytest.raises(NotFound):
        svc.get_plan(session, stranger, plan.id)
    assert svc.list_plans(session, stranger) == []
    site = actor(session, dw.site_coordinator.username)
    with pytest.raises(NotFound):
        svc.get_plan(session, site, plan.id)


def test_hand_edits_keep_the_rules(session: Session, dw: df.DispatchWorld) -> None:
    # four visits a week: both experts travel on their two days
    _setup(session, dw, visits_per_week=4)
    coord = actor(session, "bjcoord")
    plan = svc.create_plan(session, coord, MONDAY, 1)
    visits = _visits(session, plan)
    a = next(v for v in visits if v.user_id == dw.expert.id)
    b = next(v for v in visits if v.user_id == dw.expert2.id)
    # to expert2 on the day expert2 already goes: busy
    with pytest.raises(ValidationFailed) as e:
        svc.move_visit(session, coord, a.id, user_id=dw.expert2.id, day=b.day, version=plan.version)
    assert e.value.code == "rule_violation" and e.value.field_errors[0].code == "busy"
    # to expert3, who takes no part
    with pytest.raises(ValidationFailed) as e:
        svc.move_visit(session, coord, a.id, user_id=dw.expert3.id, day=a.day, version=plan.version)
    assert e.value.field_errors[0].code == "not_an_expert"
    # a Saturday
    with pytest.raises(ValidationFailed) as e:
        svc.move_visit(
            session,
            coord,
            a.id,
            user_id=dw.expert.id,
            day=MONDAY + timedelta(5),
            version=plan.version,
        )
    assert e.value.field_errors[0].code == "outside_horizon"
    # a third day for expert2 that week: over the two days a week
    free = next(
        d for d in (MONDAY + timedelta(i) for i in range(5)) if d not in {v.day for v in visits}
    )
    with pytest.raises(ValidationFailed) as e:
        svc.move_visit(session, coord, a.id, user_id=dw.expert2.id, day=free, version=plan.version)
    assert e.value.field_errors[0].code == "too_many_days"
    # a stale page
    with pytest.raises(Conflict):
        svc.move_visit(session, coord, a.id, user_id=dw.expert.id, day=free, version=0)
    moved = svc.move_visit(
        session, coord, a.id, user_id=dw.expert.id, day=free, version=plan.version
    )
    assert moved.day == free and moved.edited
    assert audited(session, "dispatch.visit.move")


def test_replan_after_leave_keeps_the_rest_and_the_past(
    session: Session, dw: df.DispatchWorld
) -> None:
    _setup(session, dw)
    df.profile(session, dw.expert3)
    session.commit()
    coord = actor(session, "bjcoord")
    plan = svc.create_plan(session, coord, MONDAY, 4)
    svc.publish(session, coord, plan.id, plan.version)
    before = {(v.user_id, v.day) for v in _visits(session, plan)}
    # a week later: expert goes on leave for the third week
    later = datetime(2026, 12, 15, 9, 0, tzinfo=CST).astimezone(UTC)
    with time_machine.travel(later, tick=False):
        week3 = MONDAY + timedelta(days=14)
        session.add(
            ExpertLeave(
                user_id=dw.expert.id,
                starts_at=datetime.combine(week3, datetime.min.time(), CST),
                ends_at=datetime.combine(week3 + timedelta(5), datetime.min.time(), CST),
                created_at=later,
            )
        )
        session.commit()
        draft = svc.replan(session, coord, plan.id)
        after = {(v.user_id, v.day) for v in _visits(session, draft)}
    assert draft.parent_id == plan.id and draft.status == "draft"
    assert draft.report["covered"] == draft.report["demand"]
    # the past (before 15 December) is as it was; expert has no visit in week 3
    assert {x for x in before if x[1] < date(2026, 12, 15)} == {
        x for x in after if x[1] < date(2026, 12, 15)
    }
    assert not {x for x in after if x[0] == dw.expert.id and week3 <= x[1] < week3 + timedelta(5)}
    lost = {x for x in before if x[0] == dw.expert.id and week3 <= x[1] < week3 + timedelta(5)}
    assert draft.report["removed"] == len(lost)
    assert before - lost <= after


def test_a_reported_conflict_makes_a_replan_for_the_planners(
    session: Session, dw: df.DispatchWorld
) -> None:
    _setup(session, dw)
    df.profile(session, dw.expert3)
    session.commit()
    coord = actor(session, "bjcoord")
    plan = svc.create_plan(session, coord, MONDAY, 2)
    svc.publish(session, coord, plan.id, plan.version)
    mine = _visits(session, plan)[0]
    owner = session.get(df.User, mine.user_id)
    assert owner is not None
    expert = actor(session, owner.username)
    other = next(u for u in (dw.expert, dw.expert2, dw.expert3) if u.id != owner.id)
    with pytest.raises(ValidationFailed):
        svc.report_conflict(session, expert, mine.id, "  ")
    with pytest.raises(NotFound):
        svc.report_conflict(session, actor(session, other.username), mine.id, "not mine")
    conflict, draft = svc.report_conflict(session, expert, mine.id, "Exam board that day")
    assert conflict.status == "open" and draft is not None
    # the re-plan is the expert's doing, under the planners' right to plan
    assert draft.created_by_user_id == owner.id
    assert audited(session, "dispatch.plan.replan")[-1].actor_user_id == owner.id
    # a second report of the same visit while the first is open makes no second re-plan
    with pytest.raises(Conflict) as again:
        svc.report_conflict(session, expert, mine.id, "Still the exam board")
    assert again.value.code == "conflict_open"
    assert (owner.id, mine.day) not in {(v.user_id, v.day) for v in _visits(session, draft)}
    assert draft.report["covered"] == draft.report["demand"]
    told = session.scalars(
        select(Notification.user_id).where(Notification.kind == "dispatch.conflict")
    ).all()
    assert dw.bj_coordinator.id in told
    svc.publish(session, coord, draft.id, draft.version)
    session.refresh(conflict)
    assert conflict.status == "replanned" and conflict.resolved_plan_id == draft.id
    assert session.scalars(select(RosterConflict)).one().status == "replanned"


def test_feed_tokens(session: Session, dw: df.DispatchWorld) -> None:
    expert = actor(session, dw.expert.username)
    token = svc.new_feed(session, expert)
    owner = svc.feed_owner(session, token)
    assert owner is not None and owner.id == dw.expert.id
    again = svc.new_feed(session, expert)
    assert svc.feed_owner(session, token) is None
    svc.revoke_feed(session, expert)
    assert svc.feed_owner(session, again) is None
    assert svc.feed_owner(session, "x" * 500) is None
