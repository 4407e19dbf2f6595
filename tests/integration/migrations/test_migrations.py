"""The migrations are the schema: an empty database upgrades to head and then matches the
models exactly; downgrading to base and upgrading again works."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from medcircle.cli.db import alembic_config
from medcircle.db import make_engine
from medcircle.models import Base
from tests.databases import own_database


@pytest.fixture
def empty_database(db_backend: str, tmp_path: Path) -> Iterator[str]:
    """The URL of a brand-new, empty database of the backend under test."""
    with own_database(db_backend, tmp_path, "migr", migrate=False) as url:
        yield url


def _differences(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": True,
                    "render_as_batch": conn.dialect.name == "sqlite",
                    "target_metadata": Base.metadata,
                },
            )
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _revision(url: str) -> str | None:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def test_empty_database_upgrades_to_head_with_no_autogenerate_diff(empty_database: str) -> None:
    cfg = alembic_config(empty_database)
    assert _tables(empty_database) == set()
    command.upgrade(cfg, "head")
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert _revision(empty_database) == head
    assert set(Base.metadata.tables) <= _tables(empty_database)
    diff = _differences(empty_database)
    assert diff == [], f"the models and the migrations differ: {diff}"


def test_downgrade_to_base_and_upgrade_again(empty_database: str) -> None:
    cfg = alembic_config(empty_database)
    command.upgrade(cfg, "head")
    command.downgrade(cfg, "base")
    assert _tables(empty_database) <= {"alembic_version"}
    assert _revision(empty_database) is None
    command.upgrade(cfg, "head")
    assert _differences(empty_database) == []
    # the append-only guard of the audit trail is back after the round trip
    engine = make_engine(empty_database)
    try:
        with engine.connect() as conn:
            conn.execute(
                text(
                    "INSERT INTO audit_event (occurred_at, action, outcome, detail) "
                    "VALUES (CURRENT_TIMESTAMP, 'test', 'success', '{}')"
                )
            )
            with pytest.raises(Exception, match="append-only"):
                conn.execute(text("DELETE FROM audit_event"))
            conn.rollback()
    finally:
        engine.dispose()


def test_every_revision_is_reversible(empty_database: str) -> None:
    """Each step down and up again works (not only the full round trip)."""
    cfg = alembic_config(empty_database)
    revisions = list(reversed(list(ScriptDirectory.from_config(cfg).walk_revisions())))
    for rev in revisions:
        command.upgrade(cfg, rev.revision)
        command.downgrade(cfg, rev.down_revision or "base")
        command.upgrade(cfg, rev.revision)
        assert _revision(empty_database) == rev.revision
