"""``medcircle demo load`` against a database file of its own."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select
from typer.testing import CliRunner

from medcircle.activity.models import ActivityImport, ActivityRecord
from medcircle.cli.db import upgrade_database
from medcircle.cli.main import app
from medcircle.config import get_settings
from medcircle.db import make_engine, make_session_factory, unit_of_work
from medcircle.demo import activity as demo_activity
from medcircle.demo.models import DemoWorld
from medcircle.registry.models import Institution

runner = CliRunner()
USERNAMES = (
    "admin",
    "analyst",
    "alliance",
    "office",
    "expert",
    "clinician",
    "coordinator",
    "auditor",
    "county",
    "bch",
)


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    monkeypatch.setenv("MEDCIRCLE_DATABASE_URL", url)
    monkeypatch.setenv("MEDCIRCLE_BASE_URL", "http://demo.example:8000")
    monkeypatch.setenv("MEDCIRCLE_DEFAULT_LOCALE", "en")
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def count(url: str, model: type) -> int:
    engine = make_engine(url)
    try:
        with unit_of_work(make_session_factory(engine)) as session:
            return session.scalar(select(func.count()).select_from(model)) or 0
    finally:
        engine.dispose()


def assert_logins_printed(output: str) -> None:
    assert "http://demo.example:8000" in output
    assert "medcircle-demo" in output
    for username in USERNAMES:
        assert username in output
    # the hospitals' own accounts act in the histories but are not printed
    assert "bdch.doctor" not in output


def test_loads_once_then_shows_the_logins(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    upgrade_database(database)
    # one small file of activity stands for the two million records of the full load
    small = demo_activity.ActivityFile("BD1C", 2013)
    monkeypatch.setattr(demo_activity, "files", lambda through: [small])
    first = runner.invoke(app, ["demo", "load"])
    assert first.exit_code == 0, first.output
    assert "Demo world loaded" in first.output and "Importing activity" in first.output
    assert count(database, ActivityImport) == 1
    assert count(database, ActivityRecord) == demo_activity.size(small)
    assert_logins_printed(first.output)
    institutions = count(database, Institution)
    assert institutions > 133

    second = runner.invoke(app, ["demo", "load", "--seed", "5"])
    assert second.exit_code == 0, second.output
    assert "already loaded" in second.output and "seed 2017" in second.output
    assert_logins_printed(second.output)
    assert count(database, Institution) == institutions
    assert count(database, DemoWorld) == 1


def test_refuses_a_database_with_real_data(database: str) -> None:
    upgrade_database(database)
    engine = make_engine(database)
    now = datetime.now(UTC)
    with unit_of_work(make_session_factory(engine)) as session:
        session.add(
            Institution(
                code="REAL",
                name_zh="真实医院",
                name_en="A real hospital",
                level="tertiary",
                grade="A",
                type="general",
                division_code="110102",
                province_code="110000",
                city_code="110100",
                created_at=now,
                updated_at=now,
            )
        )
    engine.dispose()
    result = runner.invoke(app, ["demo", "load"])
    assert result.exit_code == 2
    assert "empty database" in result.output
    assert count(database, Institution) == 1
    assert count(database, DemoWorld) == 0


def test_speaks_the_deployment_language(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    upgrade_database(database)
    assert runner.invoke(app, ["demo", "load", "--no-activity"]).exit_code == 0
    assert count(database, ActivityImport) == 0
    monkeypatch.setenv("MEDCIRCLE_DEFAULT_LOCALE", "zh_Hans")
    get_settings.cache_clear()
    engine = make_engine(database)
    with unit_of_work(make_session_factory(engine)) as session:
        session.execute(delete(DemoWorld))
    engine.dispose()
    # institutions remain, so the database is no longer empty
    result = runner.invoke(app, ["demo", "load"])
    assert result.exit_code == 2
    assert "演示数据只能载入空数据库" in result.output


def test_asks_for_the_schema_first(database: str) -> None:
    result = runner.invoke(app, ["demo", "load"])
    assert result.exit_code == 2
    assert "medcircle db upgrade" in result.output
