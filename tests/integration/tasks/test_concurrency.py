"""Several runners at once, each with its own engine and sessions (as separate app processes
have), on a committed database: every due timer runs exactly once, every email goes out once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select

from medcircle.db import unit_of_work
from medcircle.kit import clock
from medcircle.notifications.models import OutgoingEmail
from medcircle.notifications.service import queue_email
from medcircle.tasks import runner, service
from medcircle.tasks.models import Timer
from tests.integration.notifications.smtp import smtp_server
from tests.integration.tasks.conftest import Committed
from tests.integration.tasks.handlers import SLOW_COUNT, runs

RUNNERS = 3
TIMERS = 40


def together(count: int, work: Callable[[int], int]) -> list[int]:
    """Run ``work(i)`` on ``count`` threads released at the same moment; their results."""
    barrier = threading.Barrier(count)
    results: list[int] = [0] * count
    errors: list[BaseException] = []

    def go(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = work(i)
        except BaseException as exc:  # reported below, not lost on the thread
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    return results


def test_runners_started_together_run_each_due_timer_once(committed: Committed) -> None:
    now = clock.now()
    with unit_of_work(committed.factory) as session:
        timers = [
            service.schedule(session, SLOW_COUNT, "referral", n, now - timedelta(seconds=n))
            for n in range(TIMERS)
        ]
        # not due: nobody runs it
        service.schedule(session, SLOW_COUNT, "referral", 999, now + timedelta(hours=1))
    engines = [committed.new_factory() for _ in range(RUNNERS)]
    try:
        ran = together(RUNNERS, lambda i: service.run_due(engines[i][1], now))
    finally:
        for engine, _ in engines:
            engine.dispose()
    assert sum(ran) == TIMERS
    with unit_of_work(committed.factory) as session:
        assert runs(session, committed.audit_floor) == {t.id: 1 for t in timers}
        rows = list(session.scalars(select(Timer).where(Timer.subject_id < TIMERS)))
        assert {t.outcome for t in rows} == {"done"}
        assert {t.attempts for t in rows} == {1}


def test_rounds_started_together_send_each_email_once(committed: Committed) -> None:
    with smtp_server() as server:
        settings_port = server.port
        with unit_of_work(committed.factory) as session:
            for n in range(TIMERS):
                queue_email(session, f"r{n}@example.org", f"转诊 {n}", f"正文 {n}")
        from medcircle.config import Settings

        settings = Settings(
            database_url=committed.url,
            smtp_host=server.host,
            smtp_port=settings_port,
            timer_interval_seconds=0,
        )
        engines = [committed.new_factory() for _ in range(RUNNERS)]
        try:
            sent = together(RUNNERS, lambda i: runner.run_round(engines[i][1], settings).emails)
        finally:
            for engine, _ in engines:
                engine.dispose()
        assert sum(sent) == TIMERS
        delivered = sorted(r.rcpt_tos[0] for r in server.received)
        assert delivered == sorted(f"r{n}@example.org" for n in range(TIMERS))
    with unit_of_work(committed.factory) as session:
        rows = list(session.scalars(select(OutgoingEmail)))
        assert len(rows) == TIMERS
        assert all(r.sent_at is not None and r.attempts == 1 for r in rows)
