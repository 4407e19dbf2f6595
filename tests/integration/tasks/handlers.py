"""Timer handlers for the tests: each run leaves an audit event, so runs can be counted."""

from __future__ import annotations

import time
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medcircle.audit.models import AuditEvent
from medcircle.audit.service import record
from medcircle.tasks import service
from medcircle.tasks.models import Timer

COUNT = "test.count"
SLOW_COUNT = "test.slow_count"
RAN = "test.timer_ran"


def count_run(session: Session, timer: Timer, now: datetime) -> None:
    record(session, None, RAN, object_type="timer", object_id=timer.id, detail={"at": str(now)})


def count_run_slowly(session: Session, timer: Timer, now: datetime) -> None:
    # long enough for another runner to try the same timer meanwhile
    time.sleep(0.01)
    count_run(session, timer, now)


service.register(COUNT, count_run)
service.register(SLOW_COUNT, count_run_slowly)


def runs(session: Session, since: int = 0) -> dict[int, int]:
    """How many times each timer's handler ran (and committed), counting the audit events
    after ``since`` (the trail is append-only: earlier tests' events stay)."""
    rows = session.execute(
        select(AuditEvent.object_id, func.count())
        .where(AuditEvent.action == RAN, AuditEvent.id > since)
        .group_by(AuditEvent.object_id)
    )
    return {int(object_id): int(n) for object_id, n in rows}
