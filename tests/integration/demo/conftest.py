"""One demo world per module, loaded in a transaction that is rolled back at the end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from medcircle.auth.domain import Actor, Role
from medcircle.config import Settings
from medcircle.demo import service
from medcircle.demo.consultations import demo_day
from medcircle.demo.generator import generate
from medcircle.kit import clock

OPERATOR = Actor(
    user_id=0, username="cli", institution_id=0, roles=frozenset({Role.PLATFORM_ADMIN})
)


DEMO_SETTINGS = Settings(secret_key="demo-test-secret-key-0123456789-abcdefghijkl")
# the day the tests' worlds are generated for, as ``medcircle demo load`` picks it (fixed once,
# should the day change meanwhile)
DEMO_DAY = demo_day(clock.now())


@pytest.fixture(scope="module")
def demo(engine: Engine) -> Iterator[Session]:
    """A session that sees the loaded demo world (read-only tests share it)."""
    conn = engine.connect()
    trans = conn.begin()
    session = Session(bind=conn, join_transaction_mode="create_savepoint")
    service.load_world(session, OPERATOR, generate(2017, as_of=DEMO_DAY), DEMO_SETTINGS)
    session.flush()
    yield session
    session.close()
    trans.rollback()
    conn.close()
