"""Reads are audited through the group-committing writer: before the answer, in batches."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from medcircle.audit.batch import AuditWriter
from medcircle.audit.models import AuditEvent
from medcircle.auth.domain import Role
from tests import referral_factories as rf
from tests.factories import World


def row(action: str, n: int = 0) -> dict[str, Any]:
    return {
        "occurred_at": datetime.now(UTC),
        "actor_user_id": None,
        "actor_username": "batch-test",
        "actor_institution_id": None,
        "action": action,
        "object_type": "test",
        "object_id": str(n),
        "outcome": "success",
        "ip": None,
        "user_agent": None,
        "detail": {"n": n},
    }


def count(session: Session, action: str) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).where(AuditEvent.action == action)) or 0


def test_a_read_is_in_the_trail_when_its_answer_arrives(
    client: TestClient, world: World, session: Session
) -> None:
    p = rf.patient(session, world.baoding)
    session.commit()
    before = count(session, "patient.read")
    r = client.get(f"/api/v1/patients/{p.id}", headers=world.auth(Role.CLINICIAN))
    assert r.status_code == 200
    assert count(session, "patient.read") == before + 1


def test_events_handed_over_from_many_threads_are_all_committed(
    session_factory: sessionmaker[Session], session: Session
) -> None:
    writer = AuditWriter(session_factory)
    start = threading.Barrier(8)

    def hand_over(t: int) -> None:
        start.wait()
        futures = [writer.submit([row("batch.many", t * 100 + i)]) for i in range(25)]
        for f in futures:
            f.result(timeout=30)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(hand_over, range(8)))
    writer.close()
    assert count(session, "batch.many") == 200


def test_a_failed_batch_fails_its_requests_and_the_writer_goes_on(
    session_factory: sessionmaker[Session], session: Session
) -> None:
    writer = AuditWriter(session_factory)
    bad = row("batch.bad")
    bad["action"] = None  # NOT NULL: the database refuses the batch
    with pytest.raises(Exception):  # noqa: B017 (the driver's own integrity error)
        writer.submit([bad]).result(timeout=30)
    writer.submit([row("batch.after")]).result(timeout=30)
    writer.close()
    assert count(session, "batch.after") == 1
    assert count(session, "batch.bad") == 0


def test_a_bad_request_in_a_batch_does_not_fail_the_others(
    session_factory: sessionmaker[Session], session: Session
) -> None:
    writer = AuditWriter(session_factory)
    bad = row("batch.mixed")
    bad["action"] = None
    # in one batch or in two, the good one is written and the bad one refused
    futures = [writer.submit([bad]), writer.submit([row("batch.mixed", 1)])]
    with pytest.raises(Exception):  # noqa: B017
        futures[0].result(timeout=30)
    futures[1].result(timeout=30)
    writer.close()
    assert count(session, "batch.mixed") == 1
