"""Activity import: rows a second from a file into the database, first import and again.

A generated month-like file of encounter records (outpatient 85 %, emergency 5 %, inpatient
10 %; 40 departments; residences over the Hebei and Beijing divisions of the registry; ICD-10
codes from a list of 60 common ones) for one institution, as CSV (GBK) and Parquet. Each file
is imported into a fresh database with ``activity.service.import_file`` (all or nothing: every
row checked, a batch at a time as columns, staged in a temporary table (COPY on PostgreSQL,
executemany on SQLite) and merged with set-based statements inside one savepoint, committed),
then imported again (every row compared, nothing written). The baselines in the same run:
reading and checking alone (no database), in batches and row by row (the path of a file with
errors), and the same rows written by a plain executemany INSERT (no checks, no look-up).
Goal: 100,000 rows a second into PostgreSQL and SQLite.

    .venv/bin/python bench/bench_activity.py [--rows 200000] [--backend sqlite|postgresql|both]
        [--repeat 3] [--kind csv|parquet|both]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, select, text

from bench.harness import fresh_database, postgres_available
from medcircle.activity import columnar, service
from medcircle.activity.domain import COLUMNS, ActivityRow, Checks, parse_row
from medcircle.activity.models import ActivityRecord
from medcircle.activity.readers import open_table
from medcircle.auth.domain import Actor, Role
from medcircle.cli.db import upgrade_database
from medcircle.db import make_engine, make_session_factory, unit_of_work
from medcircle.referrals import icd10
from medcircle.registry.models import Division, Institution

GOAL = 100_000
CODE = "BENCH-H"
ICD = [
    "J18.9",
    "J20.9",
    "J06.9",
    "J45.9",
    "A09",
    "K52.9",
    "R50.9",
    "J03.9",
    "J02.9",
    "H66.9",
    "L20.9",
    "B34.9",
    "J21.9",
    "K59.0",
    "N39.0",
    "E86",
    "R10.4",
    "J44.9",
    "I10",
    "E11.9",
    "I25.1",
    "I63.9",
    "I50.9",
    "K29.7",
    "M54.5",
    "N18.9",
    "C34.9",
    "C50.9",
    "C16.9",
    "C22.0",
    "O80",
    "O82",
    "P07.3",
    "P59.9",
    "Q21.0",
    "S06.0",
    "S72.0",
    "T14.9",
    "Z00.1",
    "Z23",
    "G40.9",
    "F32.9",
    "D50.9",
    "D61.9",
    "C91.0",
    "C92.0",
    "M79.6",
    "K35.8",
    "K80.2",
    "N20.0",
    "H25.9",
    "H40.9",
    "L03.9",
    "R51",
    "R05",
    "K21.9",
    "E03.9",
    "E78.5",
    "I48",
    "J98.4",
]
DEPARTMENTS = [f"科室{n:02d}" for n in range(40)]
AGE_BANDS = ("<1", "1-4", "5-14", "15-44", "45-64", "65+")


def generate(n: int, divisions: list[str], end: date) -> list[dict[str, str]]:
    """``n`` rows over the 30 days before ``end``."""
    rng = random.Random(2013)
    rows = []
    for i in range(n):
        kind = rng.choices(("outpatient", "emergency", "inpatient"), (85, 5, 10))[0]
        start = end - timedelta(days=rng.randrange(1, 31))
        stop = ""
        if kind == "inpatient" and rng.random() < 0.9:
            stop = min(end, start + timedelta(days=rng.randrange(1, 15))).isoformat()
        rows.append(
            {
                "record_id": f"{kind[:2].upper()}{i:09d}",
                "institution": CODE,
                "department": rng.choice(DEPARTMENTS),
                "type": kind,
                "start_on": start.isoformat(),
                "end_on": stop,
                "residence": rng.choice(divisions),
                "age_band": rng.choice(AGE_BANDS),
                "icd10": rng.choice(ICD),
                "cost": f"{rng.randrange(2000, 900000) / 100:.2f}",
                "referral": "",
            }
        )
    return rows


def write_files(rows: list[dict[str, str]], folder: Path) -> dict[str, Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    csv_path = folder / "activity.csv"
    with csv_path.open("w", encoding="gbk", newline="") as out:
        out.write(",".join(COLUMNS) + "\n")
        for r in rows:
            out.write(",".join(r[c] for c in COLUMNS) + "\n")
    parquet_path = folder / "activity.parquet"
    table = pa.table({c: [r[c] or None for r in rows] for c in COLUMNS})
    pq.write_table(table, parquet_path)
    return {"csv": csv_path, "parquet": parquet_path}


def prepare(url: str) -> tuple[int, list[str]]:
    """A migrated database with the benchmark's institution; the division codes."""
    upgrade_database(url)
    engine = make_engine(url)
    try:
        with unit_of_work(make_session_factory(engine, writes=True)) as session:
            divisions = sorted(session.scalars(select(Division.code)))
            now = datetime.now(UTC)
            inst = Institution(
                code=CODE,
                name_zh="基准医院",
                name_en="Benchmark Hospital",
                level="tertiary",
                grade="A",
                type="general",
                division_code="130606",
                province_code="130000",
                city_code="130600",
                created_at=now,
                updated_at=now,
            )
            session.add(inst)
            session.flush()
            return inst.id, divisions
    finally:
        engine.dispose()


ACTOR = Actor(user_id=0, username="bench", institution_id=0, roles=frozenset({Role.PLATFORM_ADMIN}))


def timed_import(url: str, path: Path, today: date) -> tuple[float, int, int]:
    """Seconds, rows inserted, rows unchanged: one import, committed."""
    engine = make_engine(url)
    try:
        started = time.perf_counter()
        with unit_of_work(make_session_factory(engine, writes=True)) as session:
            done = service.import_file(session, ACTOR, path, max_bytes=1 << 34, today=today)
            assert done.status == "imported", (done.failure, done.report[:3])
            inserted, unchanged = done.rows_inserted, done.rows_unchanged
        return time.perf_counter() - started, inserted, unchanged
    finally:
        engine.dispose()


def check_only(path: Path, divisions: list[str], today: date) -> float:
    """Seconds to read and check every row in the import's fast lane (a batch of rows at a
    time, as columns), no database."""
    checks = Checks(frozenset({CODE}), frozenset(divisions), today, icd10.is_valid)
    started = time.perf_counter()
    table = open_table(path, name=path.name, max_bytes=1 << 34)
    lane = columnar.Lane.of(table, checks, {CODE: 1}, lambda _i, _d: "")
    assert lane is not None
    for columns in columnar.batches(path, table):
        lane.staged(columns, 1)
    return time.perf_counter() - started


def check_rows(path: Path, divisions: list[str], today: date) -> float:
    """Seconds to read and check every row one at a time (the path of files the fast lane
    declines), no database."""
    checks = Checks(frozenset({CODE}), frozenset(divisions), today, icd10.is_valid)
    started = time.perf_counter()
    table = open_table(path, name=path.name, max_bytes=1 << 34)
    for line, values in table.rows:
        assert isinstance(parse_row(line, values, checks), ActivityRow)
    return time.perf_counter() - started


def plain_insert(url: str, rows: list[dict[str, str]], institution_id: int) -> float:
    """Seconds to write the same rows with executemany, no checks, in one transaction."""
    engine = make_engine(url)
    values = [
        {
            "institution_id": institution_id,
            "record_id": r["record_id"] + "-plain",
            "department": r["department"],
            "type": r["type"],
            "start_on": date.fromisoformat(r["start_on"]),
            "end_on": date.fromisoformat(r["end_on"]) if r["end_on"] else None,
            "residence_code": r["residence"],
            "age_band": r["age_band"],
            "icd10": r["icd10"],
            "cost_fen": round(float(r["cost"]) * 100),
            "referral": None,
            "import_id": 1,
        }
        for r in rows
    ]
    try:
        started = time.perf_counter()
        with engine.begin() as conn:
            for i in range(0, len(values), service.CHUNK):
                conn.execute(insert(ActivityRecord), values[i : i + service.CHUNK])
        seconds = time.perf_counter() - started
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM activity_record WHERE record_id LIKE '%-plain'"))
        return seconds
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--kind", choices=("csv", "parquet", "both"), default="both")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    if "postgresql" in backends and not postgres_available():
        print("PostgreSQL not reachable: skipped")
        backends.remove("postgresql")
    kinds = ["csv", "parquet"] if args.kind == "both" else [args.kind]
    today = date(2026, 12, 1)
    n = args.rows
    # the ICD-10 code list is read once a process (an app process has it from its first
    # check): timed apart, not in the rows' figure
    started = time.perf_counter()
    icd10.is_valid("A00")
    print(f"ICD-10 code list read once a process: {time.perf_counter() - started:.2f} s")
    print(f"== activity import: {n:,} rows of one institution, median of {args.repeat} runs ==")
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            for kind in kinds:
                first, again, checked, by_rows, plain = [], [], [], [], []
                for _ in range(args.repeat):
                    with fresh_database(backend) as url:
                        inst_id, divisions = prepare(url)
                        rows = generate(n, divisions, today)
                        files = write_files(rows, Path(tmp))
                        seconds, inserted, _ = timed_import(url, files[kind], today)
                        assert inserted == n
                        first.append(n / seconds)
                        seconds, _, unchanged = timed_import(url, files[kind], today)
                        assert unchanged == n
                        again.append(n / seconds)
                        checked.append(n / check_only(files[kind], divisions, today))
                        by_rows.append(n / check_rows(files[kind], divisions, today))
                        plain.append(n / plain_insert(url, rows, inst_id))
                f, a, c, r, p = (
                    statistics.median(x) for x in (first, again, checked, by_rows, plain)
                )
                verdict = "MET" if f >= GOAL else "not met"
                print(
                    f"{backend:<10} {kind:<7} import {f:>9,.0f} rows/s (runs: "
                    + ", ".join(f"{x:,.0f}" for x in first)
                    + f")  goal >= {GOAL:,}: {verdict}"
                )
                print(f"{'':<18} again  {a:>9,.0f} rows/s (nothing changes)")
                print(
                    f"{'':<18} baselines: read + check only {c:,.0f} rows/s (row by row "
                    f"{r:,.0f}); plain INSERT "
                    f"{p:,.0f} rows/s; the import is {f / p:.2f}x the plain INSERT"
                )


if __name__ == "__main__":
    main()
