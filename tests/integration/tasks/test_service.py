"""Timers in the database: due or not (time-machine), cancel, retries with back-off, giving
up, lapsed claims, and a handler's work rolled back with its failure."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from medcircle.audit.models import AuditEvent
from medcircle.kit import clock
from medcircle.tasks import service
from medcircle.tasks.models import Timer
from tests.integration.tasks.handlers import COUNT, RAN, count_run, runs

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def reload(session: Session, timer: Timer) -> Timer:
    session.expire_all()
    found = session.get(Timer, timer.id)
    assert found is not None
    return found


def test_runs_only_when_due(
    session: Session,
    session_factory: sessionmaker[Session],
    frozen: time_machine.Coordinates,
) -> None:
    later = service.schedule(session, COUNT, "referral", 1, T0 + timedelta(hours=1))
    soon = service.schedule(session, COUNT, "referral", 2, T0 + timedelta(minutes=5))
    session.commit()
    assert service.run_due(session_factory) == 0
    frozen.move_to(T0 + timedelta(minutes=5))
    assert service.run_due(session_factory) == 1
    assert runs(session) == {soon.id: 1}
    frozen.move_to(T0 + timedelta(hours=2))
    assert service.run_due(session_factory) == 1
    assert service.run_due(session_factory) == 0
    assert runs(session) == {soon.id: 1, later.id: 1}
    done = reload(session, later)
    assert done.outcome == "done" and done.done_at == clock.now() and done.attempts == 1
    assert done.claimed_until is None


def test_pending_and_cancel(session: Session, session_factory: sessionmaker[Session]) -> None:
    a = service.schedule(session, COUNT, "referral", 7, T0 + timedelta(hours=2))
    b = service.schedule(session, "other.kind", "referral", 7, T0 + timedelta(hours=1))
    service.schedule(session, COUNT, "referral", 8, T0 + timedelta(hours=1))
    session.commit()
    assert [t.id for t in service.pending(session, "referral", 7)] == [b.id, a.id]
    assert service.cancel(session, "referral", 7, set()) == 0
    assert service.cancel(session, "referral", 7, {COUNT}) == 1
    assert [t.id for t in service.pending(session, "referral", 7)] == [b.id]
    assert service.cancel(session, "referral", 7) == 1
    session.commit()
    assert reload(session, a).outcome == "cancelled"
    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        assert service.run_due(session_factory) == 1  # only referral 8's
    ran = runs(session)
    assert len(ran) == 1 and a.id not in ran and b.id not in ran


def test_a_failing_handler_is_retried_with_back_off_then_given_up(
    session: Session,
    session_factory: sessionmaker[Session],
    frozen: time_machine.Coordinates,
) -> None:
    calls: list[datetime] = []

    def flaky(s: Session, timer: Timer, now: datetime) -> None:
        calls.append(now)
        count_run(s, timer, now)  # written, then rolled back with the failure
        raise RuntimeError("receiving institution has no admins")

    service.register("test.always_fails", flaky)
    timer = service.schedule(session, "test.always_fails", "referral", 3, T0)
    session.commit()
    now = T0
    for attempt in range(1, service.MAX_ATTEMPTS + 1):
        frozen.move_to(now)
        assert service.run_due(session_factory) == 0
        t = reload(session, timer)
        assert t.attempts == attempt
        assert t.last_error == "RuntimeError: receiving institution has no admins"
        if attempt < service.MAX_ATTEMPTS:
            assert t.done_at is None
            assert t.claimed_until == now + service.retry_delay(attempt)
            # held during the back-off
            frozen.move_to(now + service.retry_delay(attempt) - timedelta(seconds=1))
            assert service.run_due(session_factory) == 0
            now = now + service.retry_delay(attempt)
    assert len(calls) == service.MAX_ATTEMPTS
    assert [b - a for a, b in itertools.pairwise(calls)] == [
        timedelta(minutes=m) for m in (2, 4, 8, 16)
    ]
    t = reload(session, timer)
    assert t.outcome == "failed" and t.done_at == now and t.claimed_until is None
    assert runs(session) == {}  # every run's work was rolled back
    failed = session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "timer.failed", AuditEvent.object_id == str(timer.id)
        )
    ).one()
    assert failed.outcome == "failure"
    assert failed.detail["kind"] == "test.always_fails"
    assert failed.detail["attempts"] == service.MAX_ATTEMPTS
    frozen.move_to(T0 + timedelta(days=30))
    assert service.run_due(session_factory) == 0
    assert len(calls) == service.MAX_ATTEMPTS


def test_a_handler_that_recovers_runs_once(
    session: Session,
    session_factory: sessionmaker[Session],
    frozen: time_machine.Coordinates,
) -> None:
    failures = [ConnectionError("mail relay"), ValueError("stale")]

    def recovers(s: Session, timer: Timer, now: datetime) -> None:
        if failures:
            raise failures.pop(0)
        count_run(s, timer, now)

    service.register("test.recovers", recovers)
    timer = service.schedule(session, "test.recovers", "referral", 4, T0)
    session.commit()
    assert service.run_due(session_factory) == 0
    frozen.move_to(T0 + timedelta(minutes=2))
    assert service.run_due(session_factory) == 0
    frozen.move_to(T0 + timedelta(minutes=6))
    assert service.run_due(session_factory) == 1
    t = reload(session, timer)
    assert (t.outcome, t.attempts, t.last_error) == ("done", 3, None)
    assert runs(session) == {timer.id: 1}


def test_a_handler_may_settle_its_timer_itself(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    def obsolete(s: Session, timer: Timer, now: datetime) -> None:
        timer.done_at, timer.outcome = now, "skipped"

    service.register("test.obsolete", obsolete)
    timer = service.schedule(session, "test.obsolete", "referral", 5, T0, {"step": 1})
    unknown = service.schedule(session, "test.nobody_handles_this", "referral", 5, T0)
    session.commit()
    assert service.run_due(session_factory) == 1
    assert reload(session, timer).outcome == "skipped"
    assert reload(session, timer).payload == {"step": 1}
    assert reload(session, unknown).outcome == "no_handler"


def test_a_lapsed_claim_is_taken_over_and_the_first_runner_does_nothing(
    session: Session,
    session_factory: sessionmaker[Session],
    frozen: time_machine.Coordinates,
) -> None:
    timer = service.schedule(session, COUNT, "referral", 6, T0)
    session.commit()
    first = service.claim(session_factory, timer.id, T0)
    assert first is not None
    # held: neither another claim nor a round takes it
    assert service.claim(session_factory, timer.id, T0 + timedelta(minutes=1)) is None
    assert service.run_due(session_factory, T0 + timedelta(minutes=1)) == 0
    # the first runner stalls past its claim; another takes over
    later = T0 + service.CLAIM_FOR + timedelta(seconds=1)
    second = service.claim(session_factory, timer.id, later)
    assert second is not None and second != first
    assert not service._run_one(session_factory, timer.id, first, later)
    assert service._run_one(session_factory, timer.id, second, later)
    assert not service._run_one(session_factory, timer.id, second, later)
    assert runs(session) == {timer.id: 1}
    assert reload(session, timer).attempts == 2


def test_timers_run_soonest_first_and_in_batches(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    order: list[int] = []

    def note(s: Session, timer: Timer, now: datetime) -> None:
        order.append(timer.subject_id)

    service.register("test.order", note)
    for subject, minutes in ((1, 30), (2, 10), (3, 20)):
        service.schedule(
            session, "test.order", "referral", subject, T0 - timedelta(minutes=minutes)
        )
    session.commit()
    assert service.run_due(session_factory, limit=2) == 2
    assert service.run_due(session_factory, limit=2) == 1
    assert order == [1, 3, 2]
    assert RAN not in {e.action for e in session.scalars(select(AuditEvent))}
