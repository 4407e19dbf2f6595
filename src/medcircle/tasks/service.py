"""Timers in the database: schedule, cancel, and run the due ones from any process.

A handler is registered per kind. ``run_due`` claims each due timer with one conditional
UPDATE (only the process whose UPDATE changed the row runs it), runs the handler in its own
transaction and marks the timer done there, so a timer runs once even with several app
processes, and a crash in the middle leaves it to be claimed again when the claim lapses.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from medcircle.db import unit_of_work
from medcircle.kit import clock
from medcircle.tasks.models import Timer

log = logging.getLogger("medcircle.tasks")

Handler = Callable[[Session, Timer, datetime], None]
_HANDLERS: dict[str, Handler] = {}

CLAIM_FOR = timedelta(minutes=5)
MAX_ATTEMPTS = 5
WORKER_NAME = f"{socket.gethostname()}:{os.getpid()}"[:64]


def register(kind: str, handler: Handler) -> None:
    """Run ``handler(session, timer, now)`` for due timers of ``kind``."""
    _HANDLERS[kind] = handler


def handlers() -> dict[str, Handler]:
    return dict(_HANDLERS)


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


def _claim(factory: sessionmaker[Session], timer_id: int, now: datetime) -> bool:
    with unit_of_work(factory) as session:
        result = session.execute(
            update(Timer)
            .where(
                Timer.id == timer_id,
                Timer.done_at.is_(None),
                or_(Timer.claimed_until.is_(None), Timer.claimed_until < now),
            )
            .values(
                claimed_until=now + CLAIM_FOR,
                claimed_by=WORKER_NAME,
                attempts=Timer.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def _run_one(factory: sessionmaker[Session], timer_id: int, now: datetime) -> bool:
    with unit_of_work(factory) as session:
        timer = session.get(Timer, timer_id)
        if timer is None or timer.done_at is not None:
            return False
        handler = _HANDLERS.get(timer.kind)
        if handler is None:
            timer.done_at, timer.outcome = now, "no_handler"
            return False
        handler(session, timer, now)
        if timer.done_at is None:
            timer.done_at, timer.outcome = now, "done"
        timer.claimed_until = None
        return True


def _record_failure(
    factory: sessionmaker[Session], timer_id: int, now: datetime, error: BaseException
) -> None:
    with unit_of_work(factory) as session:
        timer = session.get(Timer, timer_id)
        if timer is None:
            return
        timer.last_error = f"{type(error).__name__}: {error}"[:500]
        # back off: try again later, give up after MAX_ATTEMPTS
        timer.claimed_until = now + timedelta(minutes=2**timer.attempts)
        if timer.attempts >= MAX_ATTEMPTS:
            timer.done_at, timer.outcome = now, "failed"


def run_due(factory: sessionmaker[Session], now: datetime | None = None, limit: int = 200) -> int:
    """Run the timers due at ``now`` (each in its own transaction); how many ran."""
    now = now or clock.now()
    with unit_of_work(factory) as session:
        due = list(
            session.scalars(
                select(Timer.id)
                .where(
                    Timer.done_at.is_(None),
                    Timer.due_at <= now,
                    or_(Timer.claimed_until.is_(None), and_(Timer.claimed_until < now)),
                )
                .order_by(Timer.due_at, Timer.id)
                .limit(limit)
            )
        )
    ran = 0
    for timer_id in due:
        if not _claim(factory, timer_id, now):
            continue  # another process took it
        try:
            if _run_one(factory, timer_id, now):
                ran += 1
        except Exception as exc:
            log.exception("timer %s failed", timer_id)
            _record_failure(factory, timer_id, now, exc)
    return ran
