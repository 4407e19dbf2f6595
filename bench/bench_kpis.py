"""Indicators live: each region-and-year indicator computed from the monthly summary that
imports keep up to date, against the same figure computed from the records themselves.

A generated year (2025) of encounter records for six institutions — two of the capital
(tertiary), three of Baoding and one of another Hebei city — with residences over the Hebei and
Beijing divisions of the registry (outpatient 85 %, emergency 5 %, inpatient 10 %) and
departments over 24 specialties and one unknown (so the summary holds a row per institution,
month, type, the patients' city and specialty), imported
with ``activity.service.import_file`` (which keeps the summary). Then, for Hebei and 2025, each
indicator of ``kpis.catalogue`` is computed with ``kpis.service.compute`` (what the API and the
dashboards call), median of the runs; the baseline in the same run is the same figure from a
GROUP BY over ``activity_record`` (no summary), and the reference ceiling the same figure
computed by DuckDB straight over the records as a Parquet file; all three must agree. Goal:
every indicator of a region and a year within 300 ms.

    .venv/bin/python bench/bench_kpis.py [--rows 1000000] [--backend sqlite|postgresql|both]
        [--repeat 15]

The scans of the records (the baseline) are timed 3 times.
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import case, func, select

from bench.harness import fresh_database, postgres_available
from medcircle.activity import service as activity
from medcircle.activity.domain import COLUMNS
from medcircle.activity.models import ActivityRecord
from medcircle.auth.domain import Actor, Role
from medcircle.cli.db import upgrade_database
from medcircle.db import make_engine, make_session_factory, unit_of_work
from medcircle.kpis import service
from medcircle.kpis.catalogue import CAPITAL, INDICATORS
from medcircle.registry.domain import SPECIALTIES
from medcircle.registry.models import Division, Institution

# the indicators of the records generated here (the others read their own tables)
OF_ACTIVITY = [i for i in INDICATORS if i.source == "activity"]
GOAL_MS = 300.0
# the scans of the records are slow on millions of rows: timed fewer times
BASELINE_REPEAT = 3
YEAR = 2025
HEBEI = "130000"
# code, province, city, division, level
SITES = (
    ("BENCH-BJ1", "110000", "110100", "110102", "tertiary"),
    ("BENCH-BJ2", "110000", "110100", "110105", "tertiary"),
    ("BENCH-BD1", "130000", "130600", "130606", "tertiary"),
    ("BENCH-BD2", "130000", "130600", "130602", "secondary"),
    ("BENCH-BD3", "130000", "130600", "130606", "secondary"),
    ("BENCH-SJZ", "130000", "130100", "130100", "tertiary"),
)
ACTOR = Actor(user_id=0, username="bench", institution_id=0, roles=frozenset({Role.PLATFORM_ADMIN}))


def prepare(url: str) -> list[str]:
    upgrade_database(url)
    engine = make_engine(url)
    try:
        with unit_of_work(make_session_factory(engine, writes=True)) as session:
            now = datetime.now(UTC)
            for code, province, city, division, level in SITES:
                session.add(
                    Institution(
                        code=code,
                        name_zh=code,
                        name_en=code,
                        level=level,
                        grade="A",
                        type="general",
                        division_code=division,
                        province_code=province,
                        city_code=city,
                        created_at=now,
                        updated_at=now,
                    )
                )
            return sorted(
                c
                for c in session.scalars(select(Division.code))
                if c[:2] in ("11", "13") and not c.endswith("0000")
            )
    finally:
        engine.dispose()


# the departments as the hospitals name them: 24 the specialty list knows (its codes), and
# one it does not (its records have no specialty)
DEPARTMENTS = [s.code for s in SPECIALTIES[:24]] + ["科室"]


def generate(n: int, residences: list[str]) -> Iterator[dict[str, str]]:
    rng = random.Random(2025)
    first = date(YEAR, 1, 1)
    for i in range(n):
        kind = rng.choices(("outpatient", "emergency", "inpatient"), (85, 5, 10))[0]
        start = first + timedelta(days=rng.randrange(365))
        end = ""
        if kind == "inpatient":
            end = min(date(YEAR, 12, 31), start + timedelta(days=rng.randrange(1, 20))).isoformat()
        yield (
            {
                "record_id": f"R{i:09d}",
                "institution": rng.choice(SITES)[0],
                "department": rng.choice(DEPARTMENTS),
                "type": kind,
                "start_on": start.isoformat(),
                "end_on": end,
                "residence": rng.choice(residences),
                "age_band": "15-44",
                "icd10": "J18.9",
                "cost": f"{rng.randrange(2000, 90000) / 100:.2f}",
                "referral": "",
            }
        )


def write_files(rows: Iterator[dict[str, str]], folder: Path) -> tuple[Path, Path]:
    """The rows as CSV (imported) and as Parquet (read by DuckDB), written as they come."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    csv_path = folder / "year.csv"
    parquet_path = folder / "year.parquet"
    schema = pa.schema([(c, pa.string()) for c in COLUMNS])
    with csv_path.open("w", encoding="utf-8") as out, pq.ParquetWriter(parquet_path, schema) as pw:
        out.write(",".join(COLUMNS) + "\n")
        while batch := list(itertools.islice(rows, 200_000)):
            out.writelines(",".join(r[c] for c in COLUMNS) + "\n" for r in batch)
            pw.write_table(pa.table({c: [r[c] or None for r in batch] for c in COLUMNS}, schema))
    return csv_path, parquet_path


# the same figures straight over the Parquet file (institutions as a small table)
DUCK = {
    "outpatient-visits-per-day": """
        SELECT count(*), 365 FROM read_parquet($p) r JOIN inst i ON i.code = r.institution
        WHERE r.type IN ('outpatient', 'emergency') AND i.province = '130000'
          AND r.start_on BETWEEN '2025-01-01' AND '2025-12-31'""",
    "outflow-share": """
        SELECT sum(CASE WHEN r.residence LIKE '13%' THEN 1 ELSE 0 END), count(*)
        FROM read_parquet($p) r JOIN inst i ON i.code = r.institution
        WHERE r.type = 'inpatient' AND i.province = '110000'
          AND i.level IN ('secondary', 'tertiary')
          AND r.end_on BETWEEN '2025-01-01' AND '2025-12-31'""",
    "local-treatment-rate": """
        SELECT sum(CASE WHEN i.province = '130000' THEN 1 ELSE 0 END), count(*)
        FROM read_parquet($p) r JOIN inst i ON i.code = r.institution
        WHERE r.residence LIKE '13%' AND r.start_on BETWEEN '2025-01-01' AND '2025-12-31'""",
}


def duckdb_figures(parquet: Path, repeat: int) -> dict[str, tuple[float, tuple[int, int]]]:
    """Median milliseconds and (numerator, denominator) of each indicator in DuckDB."""
    import duckdb

    con = duckdb.connect()
    con.execute("CREATE TABLE inst (code VARCHAR, province VARCHAR, level VARCHAR)")
    con.executemany("INSERT INTO inst VALUES (?, ?, ?)", [(c, p, lv) for c, p, _, _, lv in SITES])
    out = {}
    for slug, sql in DUCK.items():
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            a, b = con.execute(sql, {"p": str(parquet)}).fetchone()
            times.append((time.perf_counter() - t) * 1000)
        out[slug] = (statistics.median(times), (int(a), int(b)))
    con.close()
    return out


def from_records(session, slug: str) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """The indicator's numerator and denominator from the records (no summary): the baseline."""
    r, i = ActivityRecord, Institution
    lives = r.residence_code.startswith(HEBEI[:2])
    year = r.start_on.between(date(YEAR, 1, 1), date(YEAR, 12, 31))
    if slug == "outpatient-visits-per-day":
        n = session.scalar(
            select(func.count())
            .select_from(r)
            .join(i, i.id == r.institution_id)
            .where(year, r.type.in_(("outpatient", "emergency")), i.province_code == HEBEI)
        )
        return int(n), 365
    if slug == "outflow-share":
        a, b = session.execute(
            select(func.sum(case((lives, 1), else_=0)), func.count())
            .select_from(r)
            .join(i, i.id == r.institution_id)
            .where(
                r.end_on.between(date(YEAR, 1, 1), date(YEAR, 12, 31)),
                r.type == "inpatient",
                i.province_code == CAPITAL,
                i.level.in_(("secondary", "tertiary")),
            )
        ).one()
        return int(a), int(b)
    a, b = session.execute(
        select(func.sum(case((i.province_code == HEBEI, 1), else_=0)), func.count())
        .select_from(r)
        .join(i, i.id == r.institution_id)
        .where(year, lives)
    ).one()
    return int(a), int(b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    if "postgresql" in backends and not postgres_available():
        print("PostgreSQL not reachable: skipped")
        backends.remove("postgresql")
    today = date(2026, 12, 1)
    print(
        f"== indicators of Hebei for {YEAR} over {args.rows:,} records, median of {args.repeat} =="
    )
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            with fresh_database(backend) as url:
                residences = prepare(url)
                path, parquet = write_files(generate(args.rows, residences), Path(tmp))
                duck = duckdb_figures(parquet, args.repeat)
                engine = make_engine(url)
                try:
                    started = time.perf_counter()
                    with unit_of_work(make_session_factory(engine, writes=True)) as session:
                        done = activity.import_file(
                            session, ACTOR, path, max_bytes=1 << 34, today=today
                        )
                        assert done.status == "imported", done.report[:3]
                    seconds = time.perf_counter() - started
                    rate = args.rows / seconds
                    print(f"{backend}: imported in {seconds:.1f} s ({rate:,.0f} rows/s)")
                    for ind in OF_ACTIVITY:
                        live, raw = [], []
                        with unit_of_work(make_session_factory(engine, writes=False)) as session:
                            for _ in range(args.repeat):
                                t = time.perf_counter()
                                c = service.compute(
                                    session, ACTOR, ind.slug, YEAR, region=HEBEI, today=today
                                )
                                live.append((time.perf_counter() - t) * 1000)
                                if len(raw) < BASELINE_REPEAT:
                                    t = time.perf_counter()
                                    expected = from_records(session, ind.slug)
                                    raw.append((time.perf_counter() - t) * 1000)
                            assert (c.numerator, c.denominator) == expected, (ind.slug, c, expected)
                        a, b = statistics.median(live), statistics.median(raw)
                        d, reference = duck[ind.slug]
                        assert reference == expected, (ind.slug, reference, expected)
                        verdict = "met" if max(live) <= GOAL_MS else "NOT met"
                        print(
                            f"  {ind.slug:<26} {a:6.1f} ms (max {max(live):.1f}); records "
                            f"{b:7.1f} ms ({b / a:,.0f}x); DuckDB over Parquet {d:6.1f} ms "
                            f"({d / a:.1f}x); value {c.value:.4f}; goal <= {GOAL_MS:.0f} ms: "
                            f"{verdict}"
                        )
                    # the trend of twelve years, one reading of the summary for them all
                    with unit_of_work(make_session_factory(engine, writes=False)) as session:
                        for ind in OF_ACTIVITY:
                            times = []
                            for _ in range(args.repeat):
                                t = time.perf_counter()
                                tr = service.trend(
                                    session,
                                    ACTOR,
                                    ind.slug,
                                    YEAR - 11,
                                    YEAR,
                                    region=HEBEI,
                                    today=today,
                                )
                                times.append((time.perf_counter() - t) * 1000)
                            c = service.compute(
                                session, ACTOR, ind.slug, YEAR, region=HEBEI, today=today
                            )
                            assert tr.by_year[-1].value == c.value, (ind.slug, tr.by_year[-1], c)
                            print(
                                f"  trend {YEAR - 11}-{YEAR} {ind.slug:<26} "
                                f"{statistics.median(times):6.1f} ms (max {max(times):.1f})"
                            )
                finally:
                    engine.dispose()


if __name__ == "__main__":
    main()
