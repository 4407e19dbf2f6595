"""Timers of the loop, run from the database: triage escalation in two steps, and the question
after a missed appointment. Time moves with time-machine; the runner is the real one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta, timezone

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import medcircle.referrals.timers as referral_timers
from medcircle.config import Settings
from medcircle.kit import clock
from medcircle.referrals.domain import Action, Status, TimerKind
from medcircle.referrals.models import Referral
from medcircle.tasks import service as tasks
from medcircle.tasks.models import Timer
from tests.factories import World
from tests.integration.referrals.loop_support import Loop, build_loop

TRIAGE = TimerKind.TRIAGE_OVERDUE.value


@pytest.fixture
def traveller() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(clock.now(), tick=False) as t:
        yield t


@pytest.fixture
def loop(
    session: Session, world: World, settings: Settings, traveller: time_machine.Coordinates
) -> Loop:
    return build_loop(session, world, settings)


def _run(loop: Loop, factory: sessionmaker[Session]) -> int:
    loop.session.commit()
    ran = tasks.run_due(factory, clock.now())
    loop.session.expire_all()
    return ran


def test_handlers_are_registered() -> None:
    assert tasks.handlers()[TRIAGE] is referral_timers.triage_overdue
    assert (
        tasks.handlers()[TimerKind.APPOINTMENT_PASSED.value] is referral_timers.appointment_passed
    )


def test_untriaged_referral_escalates_to_admins_then_alliance(
    loop: Loop, session_factory: sessionmaker[Session], traveller: time_machine.Coordinates
) -> None:
    r = loop.create()
    traveller.shift(timedelta(hours=71, minutes=59))
    assert _run(loop, session_factory) == 0
    traveller.shift(timedelta(minutes=2))
    assert _run(loop, session_factory) == 1
    assert r.escalation_level == 1 and r.version == 1  # the triager's version still holds
    assert loop.notified("referral.escalated") == {"bjadmin"}
    step2 = tasks.pending(loop.session, "referral", r.id)
    assert [(t.kind, t.payload["step"]) for t in step2] == [(TRIAGE, 2)]
    assert r.triage_due_at is not None
    assert step2[0].due_at == r.triage_due_at + timedelta(hours=72)
    traveller.shift(timedelta(hours=72))
    assert _run(loop, session_factory) == 1
    assert r.escalation_level == 2
    # the coordinator of the alliance BD-A (the sender) leads
    assert loop.notified("referral.escalated_alliance") == {"allianceadmin"}
    escalations = [e for e in loop.events(r) if e.action == "escalate"]
    assert [(e.detail["level"], e.actor_user_id) for e in escalations] == [(1, None), (2, None)]
    audits = loop.audits("referral.escalated")
    assert [(a.object_id, a.actor_user_id) for a in audits] == [(str(r.id), None)] * 2
    assert loop.timer_kinds(r) == []
    # the triager who opened it before the escalations still accepts with their version
    accepted = loop.move(r, Action.ACCEPT, "bjclinician", version=1)
    assert accepted.status == Status.ACCEPTED


def test_escalation_is_idempotent(loop: Loop, traveller: time_machine.Coordinates) -> None:
    r = loop.create()
    timer = loop.session.scalars(select(Timer).where(Timer.subject_id == r.id)).one()
    traveller.shift(timedelta(hours=73))
    referral_timers.triage_overdue(loop.session, timer, clock.now())
    referral_timers.triage_overdue(loop.session, timer, clock.now())
    loop.session.refresh(r)
    assert r.escalation_level == 1
    assert [e.action for e in loop.events(r)].count("escalate") == 1
    assert len(loop.audits("referral.escalated")) == 1
    assert [t.payload["step"] for t in tasks.pending(loop.session, "referral", r.id)] == [1, 2]


def test_triaged_in_time_never_escalates(
    loop: Loop, session_factory: sessionmaker[Session], traveller: time_machine.Coordinates
) -> None:
    r = loop.create()
    traveller.shift(timedelta(hours=10))
    r = loop.move(r, Action.ACCEPT, "bjclinician")
    traveller.shift(timedelta(days=10))
    assert _run(loop, session_factory) == 0
    assert r.escalation_level == 0 and loop.notified("referral.escalated") == set()
    cancelled = loop.session.scalars(select(Timer).where(Timer.subject_id == r.id)).one()
    assert cancelled.outcome == "cancelled"


def test_a_timer_finding_the_referral_triaged_does_nothing(
    loop: Loop, traveller: time_machine.Coordinates
) -> None:
    r = loop.create()
    timer = loop.session.scalars(select(Timer).where(Timer.subject_id == r.id)).one()
    r = loop.move(r, Action.DECLINE, "bjclinician", reason="Not our specialty")
    traveller.shift(timedelta(hours=80))
    referral_timers.triage_overdue(loop.session, timer, clock.now())
    loop.session.refresh(r)
    assert r.escalation_level == 0 and loop.audits("referral.escalated") == []


def test_emergency_escalates_after_an_hour(
    loop: Loop, session_factory: sessionmaker[Session], traveller: time_machine.Coordinates
) -> None:
    from medcircle.referrals.domain import Urgency

    r = loop.create(urgency=Urgency.EMERGENCY)
    traveller.shift(timedelta(minutes=61))
    assert _run(loop, session_factory) == 1
    assert r.escalation_level == 1
    traveller.shift(timedelta(minutes=60))
    assert _run(loop, session_factory) == 1
    assert r.escalation_level == 2


def test_missed_appointment_asks_arrived_or_not(
    loop: Loop, session_factory: sessionmaker[Session], traveller: time_machine.Coordinates
) -> None:
    r = loop.walk(loop.create(), Action.ACCEPT)
    beijing_time = timezone(timedelta(hours=8))
    r = loop.move(
        r,
        Action.SCHEDULE,
        "bjclinician",
        appointment_at=(clock.now() + timedelta(days=2)).astimezone(beijing_time),
    )
    traveller.shift(timedelta(days=2, hours=1))
    assert _run(loop, session_factory) == 0  # the grace period (2 h) is not over
    traveller.shift(timedelta(hours=1, minutes=1))
    assert _run(loop, session_factory) == 1
    assert loop.notified("referral.appointment_passed") == {"bjclinician", "bjadmin"}
    assert [e.action for e in loop.events(r)][-1] == "appointment_passed"
    assert r.status == Status.SCHEDULED  # nothing leaves the list without a transition
    assert loop.move(r, Action.NO_SHOW, "bjclinician").status == Status.NO_SHOW


def test_rescheduling_moves_the_reminder(
    loop: Loop, session_factory: sessionmaker[Session], traveller: time_machine.Coordinates
) -> None:
    r = loop.walk(loop.create(), Action.ACCEPT)
    r = loop.move(r, Action.SCHEDULE, "bjclinician", appointment_at=clock.now() + timedelta(days=1))
    r = loop.move(
        r, Action.RESCHEDULE, "bjclinician", appointment_at=clock.now() + timedelta(days=5)
    )
    traveller.shift(timedelta(days=2))
    assert _run(loop, session_factory) == 0
    assert loop.notified("referral.appointment_passed") == set()
    traveller.shift(timedelta(days=4))
    assert _run(loop, session_factory) == 1
    assert len(loop.notified("referral.appointment_passed")) == 2


def test_arrival_cancels_the_reminder(
    loop: Loop, session_factory: sessionmaker[Session], traveller: time_machine.Coordinates
) -> None:
    r = loop.walk(loop.create(), Action.ACCEPT, Action.SCHEDULE, Action.ARRIVE)
    traveller.shift(timedelta(days=30))
    assert _run(loop, session_factory) == 0
    assert loop.session.get(Referral, r.id) is not None
    assert loop.timer_kinds(r) == []
