"""``medcircle activity import`` against a database file of its own: a file imported with its
counts printed, the same file again changing nothing, a bad file refused with its report
printed and written out, and nothing written."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from medcircle.activity.models import ActivityRecord
from medcircle.cli.db import upgrade_database
from medcircle.cli.main import app
from medcircle.config import get_settings
from medcircle.db import make_engine, make_session_factory, unit_of_work
from tests import factories
from tests.integration.activity.test_service import GOOD, HEADER

runner = CliRunner()


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'activity.sqlite3'}"
    monkeypatch.setenv("MEDCIRCLE_DATABASE_URL", url)
    monkeypatch.setenv("MEDCIRCLE_DEFAULT_LOCALE", "en")
    get_settings.cache_clear()
    upgrade_database(url)
    engine = make_engine(url)
    with unit_of_work(make_session_factory(engine, writes=True)) as session:
        factories.institution(session, "BD-A", division_code="130606")
    engine.dispose()
    yield url
    get_settings.cache_clear()


def count(url: str) -> int:
    engine = make_engine(url)
    try:
        with unit_of_work(make_session_factory(engine)) as session:
            return session.scalar(select(func.count()).select_from(ActivityRecord)) or 0
    finally:
        engine.dispose()


def csv_file(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "november.csv"
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="gbk")
    return path


def test_a_file_is_imported_once(database: str, tmp_path: Path) -> None:
    path = csv_file(tmp_path, [line.replace("2026-11-", "2025-11-") for line in GOOD])
    first = runner.invoke(app, ["activity", "import", str(path), "--institution", "BD-A"])
    assert first.exit_code == 0, first.output
    assert "Imported" in first.output and "3 rows read" in first.output and "3 new" in first.output
    again = runner.invoke(app, ["activity", "import", str(path)])
    assert again.exit_code == 0, again.output
    assert "0 new" in again.output and "3 unchanged" in again.output
    assert count(database) == 3


def test_a_bad_file_is_refused_with_its_report(database: str, tmp_path: Path) -> None:
    lines = [line.replace("2026-11-", "2025-11-") for line in GOOD]
    path = csv_file(tmp_path, [*lines, "OP-2,BD-A,儿科,outpatient,2025-11-02,,130606,1-4,XX,1,"])
    report = tmp_path / "report.csv"
    result = runner.invoke(
        app, ["activity", "import", str(path), "--institution", "BD-A", "--report", str(report)]
    )
    assert result.exit_code == 1
    assert "Not imported" in result.output and "bad_icd10" in result.output
    assert report.read_text(encoding="utf-8").splitlines()[1].startswith("5,icd10,bad_icd10,")
    assert count(database) == 0


def test_an_unknown_institution_is_named(database: str, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["activity", "import", str(csv_file(tmp_path, GOOD)), "--institution", "NOPE"]
    )
    assert result.exit_code == 2 and "NOPE" in result.output
