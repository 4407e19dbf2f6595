"""The response promise run from the database: at risk → the next expert on call (or the pool
and the coordinators), missed → the coordinators, the auto-close of an answered case; pauses
move the clock. Time moves with time-machine; the runner is the real one."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import medcircle.consultations.timers as consult_timers
from medcircle.consultations import service
from medcircle.consultations.domain import Action, RouteReason, Status, Urgency
from medcircle.consultations.models import Consultation, ConsultationEvent
from medcircle.kit import clock
from medcircle.tasks import service as tasks
from medcircle.tasks.models import Timer
from tests import consult_factories as cf
from tests.integration.consultations.conftest import Desk


def _run(desk: Desk, factory: sessionmaker[Session]) -> int:
    desk.session.commit()
    ran = tasks.run_due(factory, clock.now())
    desk.session.expire_all()
    return ran


def _events(desk: Desk, c: Consultation) -> list[ConsultationEvent]:
    return list(
        desk.session.scalars(
            select(ConsultationEvent)
            .where(ConsultationEvent.consultation_id == c.id)
            .order_by(ConsultationEvent.at, ConsultationEvent.id)
        )
    )


def test_handlers_are_registered() -> None:
    handlers = tasks.handlers()
    assert handlers[service.TIMER_AT_RISK] is consult_timers.at_risk
    assert handlers[service.TIMER_MISSED] is consult_timers.missed
    assert handlers[service.TIMER_AUTOCLOSE] is consult_timers.autoclose


def test_at_risk_goes_to_the_next_on_call_then_missed_tells_coordinators(
    traveller: time_machine.Coordinates,
    desk: Desk,
    session_factory: sessionmaker[Session],
) -> None:
    c = desk.ask(urgency=Urgency.URGENT)  # 4 hours; at risk after 3
    assert c.assignee_user_id == desk.w.expert.id
    traveller.shift(timedelta(hours=2, minutes=59))
    assert _run(desk, session_factory) == 0
    traveller.shift(timedelta(minutes=2))
    assert _run(desk, session_factory) == 1
    c = desk.session.get(Consultation, c.id)  # type: ignore[assignment]
    assert (c.status, c.assignee_user_id, c.escalation_level, c.route_reason) == (
        Status.ASSIGNED,
        desk.w.expert2.id,
        1,
        RouteReason.BACKUP,
    )
    last = _events(desk, c)[-1]
    assert (last.action, last.actor_user_id, last.detail["previous_assignee_user_id"]) == (
        "escalate",
        None,
        desk.w.expert.id,
    )
    assert desk.notified("consultation.escalated") == {"expert2"}
    assert desk.notified("consultation.escalated_away") == {"expert"}
    # the promise is missed an hour later: the coordinators are told, once
    traveller.shift(timedelta(hours=1))
    assert _run(desk, session_factory) == 1
    c = desk.session.get(Consultation, c.id)  # type: ignore[assignment]
    assert c.escalation_level == 2 and c.status == Status.ASSIGNED
    assert _events(desk, c)[-1].action == "target_missed"
    assert desk.notified("consultation.target_missed") == {"bjcoord", "bjadmin"}
    assert len(desk.audits("consultation.target_missed")) == 1
    assert _run(desk, session_factory) == 0


def test_at_risk_with_nobody_left_stays_with_its_expert_and_tells_the_coordinators(
    traveller: time_machine.Coordinates,
    desk: Desk,
    session_factory: sessionmaker[Session],
) -> None:
    c = desk.ask(urgency=Urgency.URGENT)
    now = clock.now()
    cf.leave(desk.session, desk.w.expert2, now, now + timedelta(days=1))
    traveller.shift(timedelta(hours=3, minutes=1))
    assert _run(desk, session_factory) == 1
    c = desk.session.get(Consultation, c.id)  # type: ignore[assignment]
    # the expert holding it may be writing the answer: it stays theirs, they are warned
    assert (c.status, c.assignee_user_id, c.escalation_level, c.route_reason) == (
        Status.ASSIGNED,
        desk.w.expert.id,
        1,
        RouteReason.ALL_EXCLUDED,
    )
    assert desk.notified("consultation.at_risk") == {"bjcoord", "bjadmin"}
    assert desk.notified("consultation.at_risk_holder") == {"expert"}
    assert not desk.notified("consultation.escalated_away")


def test_a_question_to_the_asker_stops_the_clock_and_its_timers(
    traveller: time_machine.Coordinates,
    desk: Desk,
    session_factory: sessionmaker[Session],
) -> None:
    c = desk.ask(urgency=Urgency.URGENT)
    due = c.due_at
    assert due is not None
    traveller.shift(timedelta(hours=1))
    c = desk.act(c, Action.ASK_ASKER, "expert", body="Weight and saturation?")
    traveller.shift(timedelta(hours=5))  # past the old at-risk and due times
    assert _run(desk, session_factory) == 0
    c = desk.session.get(Consultation, c.id)  # type: ignore[assignment]
    assert c.escalation_level == 0 and c.status == Status.AWAITING_ASKER
    c = desk.act(c, Action.REPLY, "clinician", body="12 kg, 96 %")
    assert c.due_at == due + timedelta(hours=5)
    pending = sorted((t.kind, t.due_at) for t in tasks.pending(desk.session, service.SUBJECT, c.id))
    assert pending == [
        (service.TIMER_AT_RISK, c.due_at - timedelta(hours=1)),
        (service.TIMER_MISSED, c.due_at),
    ]
    traveller.shift(timedelta(hours=1, minutes=59))  # 2h59 of clock time so far
    assert _run(desk, session_factory) == 0
    traveller.shift(timedelta(minutes=2))
    assert _run(desk, session_factory) == 1
    c = desk.session.get(Consultation, c.id)  # type: ignore[assignment]
    assert c.escalation_level == 1 and c.assignee_user_id == desk.w.expert2.id


def test_handlers_ignore_a_moved_clock_and_run_once(
    traveller: time_machine.Coordinates, desk: Desk
) -> None:
    c = desk.ask(urgency=Urgency.URGENT)
    timer = desk.session.scalar(
        select(Timer).where(Timer.subject_id == c.id, Timer.kind == service.TIMER_AT_RISK)
    )
    assert timer is not None
    traveller.shift(timedelta(hours=3, minutes=1))
    consult_timers.at_risk(desk.session, timer, clock.now())
    consult_timers.at_risk(desk.session, timer, clock.now())
    assert [e.action for e in _events(desk, c)].count("escalate") == 1
    # a timer set for another clock does nothing
    stale = Timer(
        kind=service.TIMER_MISSED,
        subject_type=service.SUBJECT,
        subject_id=c.id,
        due_at=clock.now(),
        payload={"due_at": (c.asked_at + timedelta(hours=1)).isoformat()},
        created_at=clock.now(),
        attempts=0,
    )
    consult_timers.missed(desk.session, stale, clock.now())
    assert c.escalation_level == 1


def test_an_answered_case_closes_by_itself(
    traveller: time_machine.Coordinates,
    desk: Desk,
    session_factory: sessionmaker[Session],
) -> None:
    c = desk.ask()
    c = desk.act(c, Action.ANSWER, "expert")
    traveller.shift(timedelta(days=desk.settings.consult_autoclose_days) - timedelta(minutes=1))
    assert _run(desk, session_factory) == 0
    traveller.shift(timedelta(minutes=2))
    assert _run(desk, session_factory) == 1
    c = desk.session.get(Consultation, c.id)  # type: ignore[assignment]
    assert c.status == Status.CLOSED and c.closed_at is not None and c.helpful is None
    last = _events(desk, c)[-1]
    assert (last.action, last.actor_user_id, last.detail) == ("close", None, {"automatic": True})
    assert desk.notified("consultation.autoclosed") == {"clinician", "expert"}


def test_closing_cancels_the_autoclose(
    traveller: time_machine.Coordinates,
    desk: Desk,
    session_factory: sessionmaker[Session],
) -> None:
    c = desk.ask()
    c = desk.act(c, Action.ANSWER, "expert")
    c = desk.act(c, Action.CLOSE, "clinician", helpful=4, referral_avoided=True)
    traveller.shift(timedelta(days=desk.settings.consult_autoclose_days + 1))
    assert _run(desk, session_factory) == 0
