"""A committed database of its own for the timer tests that need several connections at once
(runners on threads, the background runner, the CLI): a SQLite file, or a PostgreSQL database
created for the module. Every test starts with no timers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from medcircle.audit.models import AuditEvent
from medcircle.db import make_engine, make_session_factory, unit_of_work
from medcircle.notifications.models import Notification, OutgoingEmail
from medcircle.tasks.models import Timer
from tests.databases import own_database
from tests.integration.tasks.handlers import runs


@pytest.fixture(scope="module")
def committed_url(db_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with own_database(db_backend, tmp_path_factory.mktemp("timers-db"), "timers") as url:
        yield url


@dataclass
class Committed:
    """The committed database: its URL, an engine and a factory of write sessions."""

    url: str
    engine: Engine
    factory: sessionmaker[Session]
    # the last audit event before the test (the trail outlives the rows deleted between tests)
    audit_floor: int = 0

    def runs(self) -> dict[int, int]:
        """How many times each timer's test handler ran during this test."""
        with unit_of_work(self.factory) as session:
            return runs(session, self.audit_floor)

    def new_factory(self) -> tuple[Engine, sessionmaker[Session]]:
        """An engine and write-session factory of their own (as another process has)."""
        engine = make_engine(self.url)
        return engine, make_session_factory(engine, writes=True)


@pytest.fixture
def committed(committed_url: str) -> Iterator[Committed]:
    engine = make_engine(committed_url)
    factory = make_session_factory(engine, writes=True)
    with unit_of_work(factory) as session:
        for model in (Timer, OutgoingEmail, Notification):
            session.execute(delete(model))
        floor = session.scalar(select(func.max(AuditEvent.id))) or 0
    try:
        yield Committed(committed_url, engine, factory, floor)
    finally:
        engine.dispose()
