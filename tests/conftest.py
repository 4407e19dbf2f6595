"""Test harness: the same suite on SQLite and PostgreSQL (``--db``), each test in a
transaction that is rolled back, the app committing into savepoints inside it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from medcircle.auth import security
from medcircle.config import Settings
from medcircle.db import make_engine
from medcircle.kit import i18n
from medcircle.main import create_app
from tests import factories
from tests.databases import own_database

# examples are judged on what they find, not how long they take: parallel workers and a
# shared machine make single examples slow now and then
hypothesis_settings.register_profile("medcircle", deadline=None)
hypothesis_settings.load_profile("medcircle")


@pytest.fixture(autouse=True)
def default_locale() -> None:
    """Every test starts in the deployment's default language, whatever a test before it in
    the same process chose (the language is a context variable of the thread)."""
    i18n.set_locale(i18n.DEFAULT_LOCALE)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="database to run the suite on (PostgreSQL needs MEDCIRCLE_TEST_DATABASE_URL)",
    )


@pytest.fixture(scope="session")
def db_backend(request: pytest.FixtureRequest) -> str:
    return str(request.config.getoption("--db"))


@pytest.fixture(scope="session", autouse=True)
def fast_password_hashing() -> Iterator[None]:
    """Real argon2, with cheap parameters so the suite stays fast."""
    original = security._hasher
    security._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    security._hasher = original


@pytest.fixture(scope="session")
def database_url(db_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh database for this test process, migrated to head with reference data."""
    with own_database(db_backend, tmp_path_factory.mktemp("db"), "test") as url:
        yield url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    conn = engine.connect()
    trans = conn.begin()
    yield conn
    trans.rollback()
    conn.close()


@pytest.fixture
def session_factory(connection: Connection) -> sessionmaker[Session]:
    return sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    s = session_factory()
    yield s
    s.close()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        secret_key="test-secret-key-0123456789-abcdefghijklmnop",
        timer_interval_seconds=0,
    )


@pytest.fixture
def app(settings: Settings, engine: Engine, session_factory: sessionmaker[Session]):  # type: ignore[no-untyped-def]
    return create_app(settings, engine=engine, session_factory=session_factory)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def world(session: Session) -> factories.World:
    """A small circle: two Beijing hospitals, two Baoding ones, one user per role."""
    w = factories.small_world(session)
    session.commit()
    return w
