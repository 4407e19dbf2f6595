"""Imports in the fast lane: a clean CSV (UTF-8 or GBK) or Parquet file is imported a batch at a
time as columns and leaves the same records and summaries as the row path would; a file with a
bad row falls back to the row path, which refuses it with its line; the progress is told."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from medcircle.activity import columnar, service
from medcircle.activity.models import ActivityRecord
from tests.factories import World
from tests.integration.activity.test_service import GOOD, HEADER, run, write
from tests.integration.activity.test_summary import stored, stored_by_specialty

MORE = [
    "OP-2,BD-A,儿科门诊,门诊,2026/11/05,2026-11-05,130602,65+,j189,12,",
    "IP-3,BD-A, 儿科病房 ,住院,2026年11月6日,2026-11-09,110101,45-64,A00,0.5,",
]


def snapshot(session: Session) -> tuple[Any, ...]:
    """The records (without their row ids and import) and both summaries."""
    records = sorted(
        (
            r.institution_id,
            r.record_id,
            r.department,
            r.type,
            r.start_on,
            r.end_on,
            r.residence_code,
            r.age_band,
            r.icd10,
            r.cost_fen,
            r.referral,
            r.specialty_code,
        )
        for r in session.scalars(select(ActivityRecord))
    )
    return records, stored(session), stored_by_specialty(session)


def parquet(tmp_path: Path, lines: list[str]) -> Path:
    rows = [line.split(",") for line in lines]
    path = tmp_path / "activity.parquet"
    names = HEADER.split(",")
    pq.write_table(pa.table({c: [r[i] or None for r in rows] for i, c in enumerate(names)}), path)
    return path


def lanes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The lane each import took, as they happen."""
    taken: list[str] = []
    fast, rows = service._import_columns, service._import_rows

    def spy_fast(*args: Any, **kw: Any) -> bool:
        done = fast(*args, **kw)
        taken.append("columns" if done else "declined")
        return done

    def spy_rows(*args: Any, **kw: Any) -> None:
        taken.append("rows")
        rows(*args, **kw)

    monkeypatch.setattr(service, "_import_columns", spy_fast)
    monkeypatch.setattr(service, "_import_rows", spy_rows)
    return taken


@pytest.mark.parametrize("form", ["utf-8", "gb18030", "parquet", "parquet in small batches"])
def test_a_clean_file_leaves_what_the_row_path_leaves(
    session: Session,
    world: World,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    form: str,
) -> None:
    lines = GOOD + MORE
    if form == "parquet in small batches":
        # batches of one row, their sums summed together every second batch
        monkeypatch.setattr(columnar, "PARQUET_BATCH", 1)
        monkeypatch.setattr(columnar, "_PARTS", 2)
    path = (
        parquet(tmp_path, lines)
        if form.startswith("parquet")
        else write(tmp_path, lines, encoding=form)
    )
    taken = lanes(monkeypatch)
    savepoint = session.begin_nested()
    fast = run(session, world, path)
    by_columns = snapshot(session)
    savepoint.rollback()
    monkeypatch.setattr(columnar.Lane, "of", classmethod(lambda *_a, **_k: None))
    slow = run(session, world, path)
    assert taken == ["columns", "declined", "rows"]
    assert (fast.status, fast.rows_read, fast.rows_inserted) == ("imported", 5, 5)
    assert (slow.status, slow.rows_read, slow.rows_inserted) == ("imported", 5, 5)
    assert snapshot(session) == by_columns
    assert by_columns[0][0][1:4] == ("IP-1", "儿科病房", "inpatient")


def test_a_file_with_a_bad_row_is_refused_by_the_row_path_with_its_line(
    session: Session, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = lanes(monkeypatch)
    bad = "OP-9,BD-A,儿科门诊,outpatient,2026-11-02,,999999,1-4,J18.9,,"
    done = run(session, world, write(tmp_path, [*GOOD, bad, *MORE]))
    assert taken == ["declined", "rows"]
    assert done.status == "refused" and done.rows_read == 6
    assert [(e["line"], e["column"], e["code"]) for e in done.report] == [
        (5, "residence", "unknown_division")
    ]
    assert session.scalars(select(ActivityRecord)).first() is None


def test_the_progress_is_told_a_batch_at_a_time(
    session: Session, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(columnar, "PARQUET_BATCH", 2)
    told: list[int] = []
    done = run(session, world, parquet(tmp_path, GOOD + MORE), on_rows=told.append)
    assert done.rows_inserted == 5
    assert told == [2, 4, 5]
