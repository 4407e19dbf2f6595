"""Timers in the database: schedule, cancel, and run the due ones from any process.

A handler is registered per kind. ``run_due`` claims each due timer with one conditional
UPDATE (only the process whose UPDATE changed the row runs it). The handler then runs in a
transaction of its own that starts by confirming the claim with a second conditional UPDATE:
that locks the row (PostgreSQL) or the database (SQLite) until the handler's work and the
"done" mark commit together. So a timer runs once even with several app processes, even when
a slow process's claim lapses and another takes it over; a crash in the middle leaves the
timer to be claimed again when the claim lapses.

A handler that raises is retried later with back-off (2, 4, 8 … minutes); after
``MAX_ATTEMPTS`` the timer is given up (outcome ``failed``), with the error kept on the row
and in the audit trail.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from medcircle.audit.domain import Outcome
from medcircle.audit.service import record
from medcircle.db import unit_of_work
from medcircle.kit import clock
from medcircle.tasks.models import Timer

log = logging.getLogger("medcircle.tasks")

Handler = Callable[[Session, Timer, datetime], None]
_HANDLERS: dict[str, Handler] = {}

CLAIM_FOR = timedelta(minutes=5)
MAX_ATTEMPTS = 5
# this process, in the claims it makes (each claim adds a token of its own)
WORKER_NAME = f"{socket.gethostname()[:40]}:{os.getpid()}"


def register(kind: str, handler: Handler) -> None:
    """Run ``handler(session, timer, now)`` for due timers of ``kind``."""
    _HANDLERS[kind] = handler


def handlers() -> dict[str, Handler]:
    return dict(_HANDLERS)


def retry_delay(attempts: int) -> timedelta:
    """How long a failed timer waits before its next try, after ``attempts`` tries."""
    return timedelta(minutes=2 ** max(1, min(attempts, 10)))


def schedule(
    session: Session,
    kind: str,
    subject_type: str,
    subject_id: int,
    due_at: datetime,
    payload: dict[str, Any] | None = None,
) -> Timer:
    """A new timer, in the caller's transaction."""
    timer = Timer(
        kind=kind,
        subject_type=subject_type,
        subject_id=subject_id,
        due_at=due_at,
        payload=payload or {},
        created_at=clock.now(),
        attempts=0,
    )
    session.add(timer)
    return timer


def cancel(
    session: Session,
    subject_type: str,
    subject_id: int,
    kinds: set[str] | frozenset[str] | None = None,
) -> int:
    """Cancel the pending timers of one object (of ``kinds``, or all); how many."""
    conditions = [
        Timer.subject_type == subject_type,
        Timer.subject_id == subject_id,
        Timer.done_at.is_(None),
    ]
    if kinds is not None:
        if not kinds:
            return 0
        conditions.append(Timer.kind.in_(sorted(kinds)))
    result = session.execute(
        update(Timer)
        .where(*conditions)
        .values(done_at=clock.now(), outcome="cancelled")
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def pending(session: Session, subject_type: str, subject_id: int) -> list[Timer]:
    """The timers still to run for one object, soonest first."""
    return list(
        session.scalars(
            select(Timer)
            .where(
                Timer.subject_type == subject_type,
                Timer.subject_id == subject_id,
                Timer.done_at.is_(None),
            )
            .order_by(Timer.due_at, Timer.id)
        )
    )


def _claimable(now: datetime) -> Any:
    return or_(Timer.claimed_until.is_(None), Timer.claimed_until <= now)


def due_ids(session: Session, now: datetime, limit: int = 200) -> list[int]:
    """The timers due at ``now`` that nobody holds, soonest first."""
    return list(
        session.scalars(
            select(Timer.id)
            .where(Timer.done_at.is_(None), Timer.due_at <= now, _claimable(now))
            .order_by(Timer.due_at, Timer.id)
            .limit(limit)
        )
    )


def claim(factory: sessionmaker[Session], timer_id: int, now: datetime) -> str | None:
    """Take one due timer for this runner (committed at once); the claim's token, or None
    when another runner holds it or it is done."""
    token = f"{WORKER_NAME}:{uuid.uuid4().hex[:12]}"
    with unit_of_work(factory) as session:
        result = session.execute(
            update(Timer)
            .where(
                Timer.id == timer_id,
                Timer.done_at.is_(None),
                Timer.due_at <= now,
                _claimable(now),
            )
            .values(claimed_until=now + CLAIM_FOR, claimed_by=token, attempts=Timer.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        return token if result.rowcount else None  # type: ignore[attr-defined]


def _run_one(factory: sessionmaker[Session], timer_id: int, token: str, now: datetime) -> bool:
    """Run one claimed timer's handler; False when the claim was lost meanwhile."""
    with unit_of_work(factory) as session:
        # confirm the claim first: the row stays locked until the handler's work commits, so
        # a runner that took over a lapsed claim cannot run the same timer alongside
        held = session.execute(
            update(Timer)
            .where(Timer.id == timer_id, Timer.claimed_by == token, Timer.done_at.is_(None))
            .values(claimed_until=now + CLAIM_FOR)
            .execution_options(synchronize_session=False)
        )
        if not held.rowcount:  # type: ignore[attr-defined]
            log.info("timer %s: claim lost to another runner", timer_id)
            return False
        timer = session.get(Timer, timer_id, populate_existing=True)
        if timer is None:  # pragma: no cover - the UPDATE above found it
            return False
        handler = _HANDLERS.get(timer.kind)
        if handler is None:
            log.warning("timer %s: no handler for kind %r", timer_id, timer.kind)
            timer.done_at, timer.outcome = now, "no_handler"
            timer.claimed_until = None
            return False
        handler(session, timer, now)
        if timer.done_at is None:
            timer.done_at, timer.outcome = now, "done"
        timer.claimed_until = None
        timer.last_error = None
        return True


def _record_failure(
    factory: sessionmaker[Session], timer_id: int, token: str, now: datetime, error: BaseException
) -> None:
    with unit_of_work(factory) as session:
        timer = session.get(Timer, timer_id)
        if timer is None or timer.claimed_by != token or timer.done_at is not None:
            return
        timer.last_error = f"{type(error).__name__}: {error}"[:500]
        if timer.attempts >= MAX_ATTEMPTS:
            timer.done_at, timer.outcome = now, "failed"
            timer.claimed_until = None
            record(
                session,
                None,
                "timer.failed",
                object_type="timer",
                object_id=timer.id,
                outcome=Outcome.FAILURE,
                detail={
                    "kind": timer.kind,
                    "subject_type": timer.subject_type,
                    "subject_id": timer.subject_id,
                    "attempts": timer.attempts,
                    "error": timer.last_error,
                },
            )
        else:
            # held (not claimable) until the back-off has passed
            timer.claimed_until = now + retry_delay(timer.attempts)


def run_due(factory: sessionmaker[Session], now: datetime | None = None, limit: int = 200) -> int:
    """Run the timers due at ``now`` (each in its own transaction); how many ran.

    ``factory`` should make write sessions (``make_session_factory(engine, writes=True)``)."""
    now = now or clock.now()
    with unit_of_work(factory) as session:
        due = due_ids(session, now, limit)
    ran = 0
    for timer_id in due:
        token = claim(factory, timer_id, now)
        if token is None:
            continue  # another runner took it
        try:
            if _run_one(factory, timer_id, token, now):
                ran += 1
        except Exception as exc:
            log.exception("timer %s failed", timer_id)
            _record_failure(factory, timer_id, token, now, exc)
    return ran
