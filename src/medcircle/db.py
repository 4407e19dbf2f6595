"""Engine, session factory and the declarative base shared by every domain."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# "YYYY-MM-DD HH:MM:SS.ffffff": the longest text SQLite holds for a datetime without an offset
NAIVE_TEXT_MAX = 26


def _naive_text(value: str) -> bool:
    """Whether SQLite's text for a datetime carries no offset: nothing after the seconds but
    their fraction (an offset or a "Z" would follow the seconds directly, or make it longer)."""
    return len(value) <= NAIVE_TEXT_MAX and value[19:20] in ("", ".")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value if value.tzinfo is UTC else value.astimezone(UTC)

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        # SQLite hands back the stored text: parse it in one step (a hot path of every list)
        def process(value: str | None) -> datetime | None:
            if value is None:
                return None
            if _naive_text(value):  # stored without an offset: UTC
                return datetime.fromisoformat(value + "+00:00")
            return datetime.fromisoformat(value).astimezone(UTC)

        return process

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    # let SQLAlchemy, not the sqlite3 module, open transactions (so SAVEPOINT works)
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


WRITE_OPTION = "medcircle_writes"


def _sqlite_begin(conn: Any) -> None:
    # a transaction that will write takes SQLite's write lock at once (waiting up to the busy
    # timeout): upgrading a read transaction later fails outright when another wrote meanwhile
    immediate = conn.get_execution_options().get(WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(
    url: str,
    *,
    echo: bool = False,
    pool_size: int = 10,
    max_overflow: int = 10,
    single: bool = False,
) -> Engine:
    """An engine with the pragmas and pool settings medcircle relies on. Bound values stay out
    of error messages (and so out of the logs): they may be password hashes or personal data.

    ``single``: one connection, for one long-lived user that must never wait for the shared
    pool (the event loop's own reads on SQLite, the audit writer)."""
    shared: dict[str, Any] = {"pool_size": pool_size, "max_overflow": max_overflow}
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            echo=echo,
            hide_parameters=True,
            connect_args={"check_same_thread": False},
            **({"poolclass": StaticPool} if single else shared),
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(
        url,
        echo=echo,
        hide_parameters=True,
        pool_pre_ping=True,
        **({"pool_size": 1, "max_overflow": 0} if single else shared),
    )


def writing(engine: Engine) -> Engine:
    """``engine`` for transactions that write (BEGIN IMMEDIATE on SQLite; the same elsewhere)."""
    return engine.execution_options(**{WRITE_OPTION: True})


def make_session_factory(engine: Engine, *, writes: bool = False) -> sessionmaker[Session]:
    """Sessions on ``engine``; with ``writes`` their transactions take the write lock at once
    on SQLite (ignored elsewhere), which serialises writers instead of failing them."""
    bind = writing(engine) if writes else engine
    return sessionmaker(bind=bind, expire_on_commit=False, autoflush=True)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit at the end, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
