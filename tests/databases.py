"""Databases of their own, for tests whose connections must see each other's commits (a live
server, several runners, races), apart from the rolled-back database of the other tests."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from medcircle.cli.db import upgrade_database


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@contextmanager
def own_database(backend: str, folder: Path, label: str, *, migrate: bool = True) -> Iterator[str]:
    """The URL of a brand-new database of ``backend`` (migrated to head unless ``migrate`` is
    false), for tests whose connections must see each other's commits: a SQLite file in
    ``folder``, or a PostgreSQL database created for them and dropped afterwards."""
    if backend == "sqlite":
        url = f"sqlite:///{folder / f'{label}.sqlite3'}"
        if migrate:
            upgrade_database(url)
        yield url
        return
    base = os.environ.get("MEDCIRCLE_TEST_DATABASE_URL")
    if not base:
        pytest.exit("--db=postgresql needs MEDCIRCLE_TEST_DATABASE_URL", returncode=2)
    name = f"medcircle_{label}_{_worker()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    try:
        if migrate:
            upgrade_database(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
