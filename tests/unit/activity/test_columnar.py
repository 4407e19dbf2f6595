"""The fast lane of an import: whatever the rows, it stages exactly what the row path (parse_row,
the duplicate check, the stage's tuple) would, or declines the batch when the row path would
report an error; it reads CSV (UTF-8 and GBK, commas or tabs) and Parquet as the row readers
do (quoted values too), and declines what they would read otherwise (quoting the rows refuse)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medcircle.activity import columnar
from medcircle.activity.domain import COLUMNS, ActivityRow, Checks, DuplicateCheck, parse_row
from medcircle.activity.readers import FileKind, ReadError, Table, open_table
from medcircle.activity.service import _STAGED, _staged
from medcircle.referrals.icd10 import is_valid

TODAY = date(2026, 11, 30)
ALLOWED = {"BD-A": 11, "BD-B": 12}
DIVISIONS = frozenset({"130606", "130602", "110101"})
IMPORT = 7
SPECIALTIES = {"儿科": "pediatrics", "Cardiology": "cardiology"}
ID_NUMBER = "110101199003074512"


def checks() -> Checks:
    return Checks(frozenset(ALLOWED), DIVISIONS, TODAY, is_valid)


def specialty_of(institution_id: int, department: str) -> str:
    return SPECIALTIES.get(department, "") if institution_id == 11 else ""


def lane(kind: FileKind = FileKind.CSV) -> columnar.Lane:
    table = Table(kind, "utf-8", list(COLUMNS), iter(()))
    found = columnar.Lane.of(table, checks(), ALLOWED, specialty_of)
    assert found is not None
    return found


def by_rows(batches: list[list[dict[str, str | None]]]) -> list[tuple[Any, ...]] | None:
    """What the row path stages for the batches of a file, or None if it reports an error."""
    c, seen, out, line = checks(), DuplicateCheck(), [], 1
    for rows in batches:
        for values in rows:
            line += 1
            parsed = parse_row(line, values, c)
            if not isinstance(parsed, ActivityRow) or seen.see(parsed) is not None:
                return None
            iid = ALLOWED[parsed.institution]
            out.append(_staged(parsed, iid, IMPORT, False, specialty_of(iid, parsed.department)))
    return out


def by_columns(batches: list[list[dict[str, str | None]]]) -> list[tuple[Any, ...]] | None:
    """What the lane stages for the same batches, or None if it declines."""
    the_lane, out = lane(), []
    try:
        for rows in batches:
            columns = {c: pa.array([r.get(c) for r in rows], pa.string()) for c in COLUMNS}
            staged = the_lane.staged(columns, IMPORT)
            assert set(staged) == set(_STAGED)
            out += zip(*(staged[c].to_pylist() for c in _STAGED), strict=True)
    except columnar.Declined:
        return None
    return out


def good(**changes: str | None) -> dict[str, str | None]:
    values: dict[str, str | None] = {
        "record_id": "OP-1",
        "institution": "BD-A",
        "department": "儿科",
        "type": "outpatient",
        "start_on": "2026-11-02",
        "end_on": None,
        "residence": "130606",
        "age_band": "1-4",
        "icd10": "J18.9",
        "cost": "128.50",
        "referral": None,
    }
    values.update(changes)
    return values


# values of each column, valid in every form the row path takes, and not
_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=70)
VALUES: dict[str, st.SearchStrategy[str | None]] = {
    "record_id": st.one_of(
        st.sampled_from(["OP-1", "OP-2", "IP-1", " OP-3 ", "门诊-4", "A" * 64, "A" * 65, ""]),
        st.sampled_from([ID_NUMBER, "X" + ID_NUMBER, "9" + ID_NUMBER + "9", "R\t1", None]),
        st.from_regex(r"[A-Z]{2}-[0-9]{1,3}", fullmatch=True),
        _TEXT,
    ),
    "institution": st.sampled_from(["BD-A", "BD-B", " BD-A", "BJ-X", "", None]),
    "department": st.one_of(
        st.sampled_from(["儿科", "Cardiology", " 儿科 ", "Surgery", "", None, "a\nb"]), _TEXT
    ),
    "type": st.sampled_from(
        ["outpatient", "emergency", "inpatient", "门诊", "住院", "Inpatient", "visit", "", None]
    ),
    "start_on": st.sampled_from(
        [
            *("2026-11-02", "2026/11/3", "2026年11月4日", "2026-11-02 08:30", "2026-02-30"),
            *("2027-01-01", "", None, "yesterday"),
        ]
    ),
    "end_on": st.sampled_from(
        ["2026-11-02", "2026-11-10", "2026-11-01", "2026/11/10", "2027-01-01", "", None, "soon"]
    ),
    "residence": st.sampled_from(["130606", "110101", " 130602", "999999", "13060", "", None]),
    "age_band": st.sampled_from(["<1", "1-4", "65+", " 5-14", "2026-01-04", "old", "", None]),
    "icd10": st.sampled_from(["J18.9", "j189", " A00 ", "I10", "Z99.999", "", None]),
    "cost": st.one_of(
        st.sampled_from(["128.50", "12.5", "0", "9999999.99", "10000000", "10000000.01"]),
        st.sampled_from(["1,200", "-5", "12.345", "12.", " 7 ", "", None, "１２"]),
        st.from_regex(r"[0-9]{1,9}(\.[0-9]{1,3})?", fullmatch=True),
    ),
    "referral": st.sampled_from(["", None, "R-2026-000001", " R-1 ", "R" * 33, ID_NUMBER]),
}
ROWS = st.fixed_dictionaries(VALUES)
GOOD_ROWS = st.builds(
    lambda n, kind, cost: good(record_id=f"OP-{n}", type=kind, cost=cost),
    st.integers(0, 10**6),
    st.sampled_from(["outpatient", "门诊", "emergency"]),
    st.from_regex(r"[0-9]{1,7}(\.[0-9]{1,2})?", fullmatch=True),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.one_of(ROWS, GOOD_ROWS), min_size=1, max_size=6), max_size=3))
def test_the_lane_stages_what_the_rows_would_or_declines(
    batches: list[list[dict[str, str | None]]],
) -> None:
    assert by_columns(batches) == by_rows(batches)


@settings(max_examples=100, deadline=None)
@given(st.lists(GOOD_ROWS, min_size=1, max_size=20, unique_by=lambda r: r["record_id"]))
def test_valid_rows_pass_the_lane(rows: list[dict[str, str | None]]) -> None:
    staged = by_columns([rows])
    assert staged is not None and staged == by_rows([rows])


def test_a_record_given_twice_in_two_batches_is_declined() -> None:
    assert by_columns([[good()], [good(record_id="OP-2")]]) is not None
    assert by_columns([[good()], [good(cost="1")]]) is None
    # the same record id at another institution is another record
    assert by_columns([[good()], [good(institution="BD-B")]]) is not None


def test_a_visits_end_day_is_dropped_and_a_stay_before_its_start_declined() -> None:
    staged = by_columns([[good(end_on="2026-11-02"), good(record_id="IP-1", type="inpatient")]])
    assert staged is not None
    assert [row[5] for row in staged] == [None, None]
    assert by_columns([[good(end_on="2026-11-03")]]) is None
    assert by_columns([[good(type="inpatient", end_on="2026-11-01")]]) is None


def test_record_ids_that_may_be_id_numbers_are_probed() -> None:
    assert by_columns([[good(record_id=ID_NUMBER)]]) is None
    # a longer run of digits is not an ID number: the row path takes it, so does the lane
    longer = "9" + ID_NUMBER + "9"
    staged = by_columns([[good(record_id=longer)]])
    assert staged is not None and staged[0][1] == longer


def write_csv(path: Path, rows: list[dict[str, str | None]], encoding: str, sep: str) -> None:
    lines = [sep.join(COLUMNS)] + [sep.join(r.get(c) or "" for c in COLUMNS) for r in rows]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))


def read(path: Path) -> tuple[list[tuple[Any, ...]] | None, list[tuple[Any, ...]] | None]:
    """The lane's staging of a whole file, and the row path's, read by their own readers."""
    table = open_table(path, name=path.name)
    the_lane = columnar.Lane.of(table, checks(), ALLOWED, specialty_of)
    assert the_lane is not None
    fast: list[tuple[Any, ...]] | None = []
    try:
        for columns in columnar.batches(path, table):
            staged = the_lane.staged(columns, IMPORT)
            fast += zip(*(staged[c].to_pylist() for c in _STAGED), strict=True)  # type: ignore[operator]
    except columnar.Declined:
        fast = None
    rows = [values for _, values in open_table(path, name=path.name).rows]
    return fast, by_rows([rows])


ROWS_OF_A_FILE = [
    good(),
    good(record_id="IP-1", type="住院", end_on="2026/11/10", department="Cardiology", cost=""),
    good(record_id="IP-2", type="inpatient", department="新生儿科", referral="R-2026-000001"),
]


@pytest.mark.parametrize(
    ("encoding", "sep"), [("utf-8", ","), ("utf-8-sig", ","), ("gb18030", ","), ("utf-8", "\t")]
)
def test_csv_files_are_read_as_the_rows_read_them(tmp_path: Path, encoding: str, sep: str) -> None:
    path = tmp_path / ("activity.txt" if sep == "\t" else "activity.csv")
    write_csv(path, ROWS_OF_A_FILE, encoding, sep)
    fast, rows = read(path)
    assert rows is not None and len(rows) == 3
    assert fast == rows


def test_csv_lines_the_arrow_reader_reads_otherwise_are_declined(tmp_path: Path) -> None:
    path = tmp_path / "activity.csv"
    write_csv(path, ROWS_OF_A_FILE, "utf-8", ",")
    with path.open("a", encoding="utf-8") as f:
        # a short line (the row path reads its missing values as empty) and an empty row
        f.write("IP-3,BD-A,儿科,inpatient,2026-11-20,,130606,<1,P07.3\r\n,,,,,,,,,,\r\n")
    fast, rows = read(path)
    assert fast is None
    assert rows is not None and len(rows) == 4


def test_parquet_text_integer_and_date_columns_are_read_and_floats_declined(
    tmp_path: Path,
) -> None:
    path = tmp_path / "activity.parquet"
    columns: dict[str, Any] = {c: [r.get(c) for r in ROWS_OF_A_FILE] for c in COLUMNS}
    columns["start_on"] = [date(2026, 11, 2), date(2026, 11, 3), date(2026, 11, 20)]
    columns["residence"] = [130606, 130602, 130606]
    table = pa.table(columns)
    pq.write_table(table, path)
    fast, rows = read(path)
    assert rows is not None and fast == rows
    pq.write_table(table.set_column(9, "cost", pa.array([128.5, None, 5230.0])), path)
    fast, rows = read(path)
    assert fast is None and rows is not None and rows[0][9] == 12850


def test_quoted_values_are_read_as_the_rows_read_them(tmp_path: Path) -> None:
    path = tmp_path / "activity.csv"
    lines = [",".join(f'"{v}"' for v in COLUMNS)]
    for r in ROWS_OF_A_FILE:
        lines.append(",".join(f'"{r.get(c) or ""}"' for c in COLUMNS))
    # a quote within a quoted value, doubled
    lines[1] = lines[1].replace('"儿科"', '"儿科 ""A"""')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    fast, rows = read(path)
    assert rows is not None and rows[0][2] == '儿科 "A"'
    assert fast == rows


# two good rows on one line, parted by a carriage return alone
CR_TWO_ROWS = "OP-8,BD-A,儿科,outpatient,2026-11-02,,130606,<1,J18.9,,\rOP-9"


@pytest.mark.parametrize("bad", ['"OP-9"x', '"x,"OP-9', '"OP-9" ', CR_TWO_ROWS])
def test_lines_the_row_reader_refuses_are_declined(tmp_path: Path, bad: str) -> None:
    # Arrow's reader would take these lines (as OP-9x, x,OP-9, 'OP-9 ', and a row ended by the
    # lone carriage return); the rows refuse them
    path = tmp_path / "activity.csv"
    write_csv(path, ROWS_OF_A_FILE, "utf-8", ",")
    with path.open("a", encoding="utf-8") as f:
        f.write(f"{bad},BD-A,儿科,outpatient,2026-11-02,,130606,<1,J18.9,,\r\n")
    table = open_table(path, name=path.name)
    the_lane = columnar.Lane.of(table, checks(), ALLOWED, specialty_of)
    assert the_lane is not None
    with pytest.raises(columnar.Declined):
        for columns in columnar.batches(path, table):
            the_lane.staged(columns, IMPORT)
    with pytest.raises(ReadError) as refused:
        list(open_table(path, name=path.name).rows)
    assert (refused.value.code, refused.value.line) == ("bad_csv", 5)
