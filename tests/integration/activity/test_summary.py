"""The monthly summary the indicators read: after any sequence of imports (new records,
corrections that move a record to another month, type, city or specialty, refused files,
quarantined rows) it equals the records summed afresh."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from medcircle.activity.models import ActivityMonth, ActivityMonthSpecialty, ActivityRecord
from medcircle.activity.service import ImportMode
from tests.factories import World
from tests.integration.activity.test_service import run, write

Sums = dict[tuple[int, str, str, str], tuple[int, int, int, int]]
BySpecialty = dict[tuple[int, str, str, str, str], tuple[int, int]]


def stored(session: Session) -> Sums:
    """The summary by city as kept, without the rows that came back to zero."""
    return {
        (m.institution_id, m.month, m.type, m.residence_city): (
            m.starts,
            m.ends,
            m.cost_fen,
            m.stay_days,
        )
        for m in session.scalars(select(ActivityMonth))
        if (m.starts, m.ends, m.cost_fen, m.stay_days) != (0, 0, 0, 0)
    }


def stored_by_specialty(session: Session) -> BySpecialty:
    return {
        (m.institution_id, m.month, m.type, m.residence_province, m.specialty): (m.starts, m.ends)
        for m in session.scalars(select(ActivityMonthSpecialty))
        if (m.starts, m.ends) != (0, 0)
    }


def afresh(session: Session) -> tuple[Sums, BySpecialty]:
    """The records summed in Python: the reference, for both summaries."""
    sums: dict[tuple[int, str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    by_spec: dict[tuple[int, str, str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for r in session.scalars(select(ActivityRecord)):
        city, province = r.residence_code[:4] + "00", r.residence_code[:2] + "0000"
        began = r.start_on.isoformat()[:7]
        at = sums[(r.institution_id, began, r.type, city)]
        at[0] += 1
        at[2] += r.cost_fen or 0
        by_spec[(r.institution_id, began, r.type, province, r.specialty_code)][0] += 1
        if r.end_on is not None:
            ended = r.end_on.isoformat()[:7]
            out = sums[(r.institution_id, ended, r.type, city)]
            out[1] += 1
            out[3] += (r.end_on - r.start_on).days
            by_spec[(r.institution_id, ended, r.type, province, r.specialty_code)][1] += 1
    return (
        {k: (a, b, c, d) for k, (a, b, c, d) in sums.items()},
        {k: (a, b) for k, (a, b) in by_spec.items()},
    )


def both(session: Session) -> tuple[Sums, BySpecialty]:
    return stored(session), stored_by_specialty(session)


def test_an_import_is_summed_by_month_type_and_city(
    session: Session, world: World, tmp_path: Path
) -> None:
    lines = [
        "OP-1,BD-A,儿科门诊,outpatient,2026-11-02,,130606,1-4,J18.9,128.50,",
        "OP-2,BD-A,儿科门诊,outpatient,2026-11-03,,130602,1-4,J06.9,71.50,",
        # admitted in October, discharged in November
        "IP-1,BD-A,儿科病房,inpatient,2026-10-28,2026-11-04,110105,5-14,J45.0,5230,",
    ]
    done = run(session, world, write(tmp_path, lines))
    assert done.status == "imported"
    bd = world.baoding.id
    assert stored(session) == {
        (bd, "2026-11", "outpatient", "130600"): (2, 0, 20000, 0),
        (bd, "2026-10", "inpatient", "110100"): (1, 0, 523000, 0),
        (bd, "2026-11", "inpatient", "110100"): (0, 1, 0, 7),
    }
    # the departments name no known specialty: by province and specialty ''
    assert stored_by_specialty(session) == {
        (bd, "2026-11", "outpatient", "130000", ""): (2, 0),
        (bd, "2026-10", "inpatient", "110000", ""): (1, 0),
        (bd, "2026-11", "inpatient", "110000", ""): (0, 1),
    }


def test_a_correction_moves_the_record_and_a_refused_file_changes_nothing(
    session: Session, world: World, tmp_path: Path
) -> None:
    first = ["IP-1,BD-A,儿科病房,inpatient,2026-10-28,2026-11-04,130606,5-14,J45.0,5230,"]
    run(session, world, write(tmp_path, first))
    # the admission was in September, the patient lives in Baoding's other district
    fixed = ["IP-1,BD-A,儿科病房,inpatient,2026-09-30,2026-11-04,130602,5-14,J45.0,5230,"]
    run(session, world, write(tmp_path, fixed, name="fixed.csv"))
    assert both(session) == afresh(session)
    before = both(session)
    bad = ["IP-2,BD-A,儿科病房,inpatient,2026-11-01,,130606,5-14,J45.0,1,", "x"]
    refused = run(session, world, write(tmp_path, bad, name="bad.csv"))
    assert refused.status == "refused"
    assert both(session) == before


_DAYS = st.integers(0, 120).map(lambda n: date(2026, 7, 1) + timedelta(days=n))
_ROW = st.tuples(
    st.integers(0, 5),  # record
    st.sampled_from(["outpatient", "emergency", "inpatient"]),
    _DAYS,
    st.one_of(st.none(), st.integers(0, 40)),  # days to discharge (stays)
    st.sampled_from(["130606", "130602", "110105", "999999"]),  # the last one is unknown
    st.integers(0, 100_000),  # cost in fen
    # departments that name a specialty (by code, by name) and one that names none
    st.sampled_from(["儿科", "neonatology", "新生儿科", "Paediatric surgery"]),
)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(files=st.lists(st.lists(_ROW, min_size=1, max_size=6), min_size=1, max_size=4))
def test_any_sequence_of_imports_keeps_the_summary_equal_to_the_records(
    session: Session,
    world: World,
    tmp_path: Path,
    files: list[list[tuple[int, str, date, int | None, str, int, str]]],
) -> None:
    savepoint = session.begin_nested()
    try:
        for n, rows in enumerate(files):
            lines = []
            seen = set()
            for record, kind, start, stay, residence, cost, department in rows:
                if record in seen:
                    continue
                seen.add(record)
                end = ""
                if kind == "inpatient" and stay is not None:
                    end = (start + timedelta(days=stay)).isoformat()
                lines.append(
                    f"R-{record},BD-A,{department},{kind},{start.isoformat()},{end},{residence},"
                    f"1-4,J18.9,{cost / 100:.2f},"
                )
            # every other file keeps its good rows and sets the bad ones aside
            mode = ImportMode.QUARANTINE if n % 2 else ImportMode.ALL_OR_NOTHING
            run(session, world, write(tmp_path, lines, name=f"f{n}.csv"), mode=mode)
            assert both(session) == afresh(session)
    finally:
        savepoint.rollback()
