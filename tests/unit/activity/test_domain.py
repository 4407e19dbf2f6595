"""Checking activity rows: a good row typed, each error code at its line and column, every error
of a row at once, the spreadsheet forms of dates, types and costs accepted, no ID number let
through nor repeated in a message, the header, duplicates within a file; and two properties:
generated valid rows come back as they went in, and arbitrary text never makes parse_row fail."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from medcircle.activity.domain import (
    AGE_BANDS,
    COLUMNS,
    OPTIONAL,
    ActivityRow,
    Checks,
    DuplicateCheck,
    EncounterType,
    RowError,
    check_header,
    looks_like_id_number,
    parse_row,
    quote,
    redacted,
)
from medcircle.referrals.icd10 import is_valid

TODAY = date(2026, 11, 30)
INSTITUTIONS = frozenset({"BD-A", "BD-B"})
DIVISIONS = frozenset({"130606", "130602", "110101"})
ID_NUMBER = "110101199003074512"
CODES = ("J18.9", "J45.0", "P07.3", "A00", "I10", "S72.0", "K35.8")
KNOWN_CODES = {
    "required",
    "unknown_institution",
    "unknown_division",
    "bad_date",
    "future_date",
    "end_before_start",
    "bad_type",
    "bad_age_band",
    "bad_icd10",
    "bad_cost",
    "too_long",
    "looks_like_id_number",
    "end_on_outpatient",
    "control_character",
}


def checks() -> Checks:
    return Checks(institutions=INSTITUTIONS, divisions=DIVISIONS, today=TODAY, is_icd10=is_valid)


def good(**changes: str | None) -> dict[str, str | None]:
    values: dict[str, str | None] = {
        "record_id": "IP-1",
        "institution": "BD-A",
        "department": "儿科病房",
        "type": "inpatient",
        "start_on": "2026-11-03",
        "end_on": "2026-11-10",
        "residence": "130602",
        "age_band": "5-14",
        "icd10": "J45.0",
        "cost": "5230",
        "referral": "R-2026-000001",
    }
    values.update(changes)
    return values


def errors_of(values: dict[str, str | None], line: int = 7) -> list[RowError]:
    parsed = parse_row(line, values, checks())
    assert isinstance(parsed, list), parsed
    return parsed


def test_a_good_row_is_typed() -> None:
    row = parse_row(2, good(), checks())
    assert row == ActivityRow(
        line=2,
        record_id="IP-1",
        institution="BD-A",
        department="儿科病房",
        type=EncounterType.INPATIENT,
        start_on=date(2026, 11, 3),
        end_on=date(2026, 11, 10),
        residence="130602",
        age_band="5-14",
        icd10="J45.0",
        cost_fen=523000,
        referral="R-2026-000001",
    )


def test_values_are_stripped_and_empty_optionals_are_none() -> None:
    row = parse_row(
        3,
        good(
            record_id="  OP-1 ",
            type=" Outpatient ",
            start_on=" 2026-11-02 ",
            end_on="   ",
            icd10=" j189 ",
            cost=" 128.5 ",
            referral="",
        ),
        checks(),
    )
    assert isinstance(row, ActivityRow)
    assert (row.record_id, row.type, row.start_on, row.end_on) == (
        "OP-1",
        EncounterType.OUTPATIENT,
        date(2026, 11, 2),
        None,
    )
    assert (row.icd10, row.cost_fen, row.referral) == ("J18.9", 12850, None)


def test_optional_columns_may_be_absent() -> None:
    values = {k: v for k, v in good().items() if k not in OPTIONAL}
    row = parse_row(2, values, checks())
    assert isinstance(row, ActivityRow)
    # an inpatient without a discharge day is still admitted
    assert (row.end_on, row.cost_fen, row.referral) == (None, None, None)


@pytest.mark.parametrize(
    ("changes", "column", "code"),
    [
        ({"record_id": ""}, "record_id", "required"),
        ({"record_id": None}, "record_id", "required"),
        ({"record_id": "x" * 65}, "record_id", "too_long"),
        ({"record_id": "IP\t1"}, "record_id", "control_character"),
        ({"record_id": ID_NUMBER}, "record_id", "looks_like_id_number"),
        ({"department": ""}, "department", "required"),
        ({"department": "科" * 65}, "department", "too_long"),
        ({"department": "儿科 " + ID_NUMBER[:-1] + "X"}, "department", "looks_like_id_number"),
        ({"department": "儿科\n病房"}, "department", "control_character"),
        ({"referral": "R" * 33}, "referral", "too_long"),
        ({"referral": "ID:" + ID_NUMBER}, "referral", "looks_like_id_number"),
        ({"institution": ""}, "institution", "required"),
        ({"institution": "BD-Z"}, "institution", "unknown_institution"),
        ({"type": ""}, "type", "required"),
        ({"type": "visit"}, "type", "bad_type"),
        ({"start_on": ""}, "start_on", "required"),
        ({"start_on": "2026-13-01"}, "start_on", "bad_date"),
        ({"start_on": "2026-02-30"}, "start_on", "bad_date"),
        ({"start_on": "02/11/2026"}, "start_on", "bad_date"),
        ({"start_on": "46000"}, "start_on", "bad_date"),
        ({"start_on": "2026-11-03x"}, "start_on", "bad_date"),
        ({"start_on": "2026-12-01", "end_on": ""}, "start_on", "future_date"),
        ({"end_on": "2026-13-10"}, "end_on", "bad_date"),
        ({"end_on": "2026-12-01"}, "end_on", "future_date"),
        ({"end_on": "2026-11-01"}, "end_on", "end_before_start"),
        ({"type": "outpatient", "end_on": "2026-11-04"}, "end_on", "end_on_outpatient"),
        ({"type": "急诊", "end_on": "2026-11-04"}, "end_on", "end_on_outpatient"),
        ({"type": "outpatient", "end_on": "2026-11-01"}, "end_on", "end_before_start"),
        ({"residence": ""}, "residence", "required"),
        ({"residence": "999999"}, "residence", "unknown_division"),
        ({"residence": "13060"}, "residence", "unknown_division"),
        ({"age_band": ""}, "age_band", "required"),
        ({"age_band": "1-5"}, "age_band", "bad_age_band"),
        ({"icd10": ""}, "icd10", "required"),
        ({"icd10": "X99.99"}, "icd10", "bad_icd10"),
        ({"icd10": "A00-A09"}, "icd10", "bad_icd10"),
        ({"cost": "-5"}, "cost", "bad_cost"),
        ({"cost": "1,234.50"}, "cost", "bad_cost"),
        ({"cost": "12.345"}, "cost", "bad_cost"),
        ({"cost": "12."}, "cost", "bad_cost"),
        ({"cost": ".5"}, "cost", "bad_cost"),
        ({"cost": "¥12"}, "cost", "bad_cost"),
        ({"cost": "1e3"}, "cost", "bad_cost"),
        ({"cost": "10000000.01"}, "cost", "bad_cost"),
        ({"cost": "9" * 5000}, "cost", "bad_cost"),
        ({"cost": "１２"}, "cost", "bad_cost"),
    ],
)
def test_each_error_names_its_line_column_and_code(
    changes: dict[str, str | None], column: str, code: str
) -> None:
    errors = errors_of(good(**changes), line=7)
    assert [(e.line, e.column, e.code) for e in errors] == [(7, column, code)]
    assert errors[0].message.endswith(".") and len(errors[0].message) > 20


def test_a_missing_column_is_required() -> None:
    values = good()
    del values["icd10"]
    assert [(e.column, e.code) for e in errors_of(values)] == [("icd10", "required")]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"icd10": "X99.99"}, "ICD-10 code 'X99.99' does not exist."),
        ({"institution": "BD-Z"}, "Institution 'BD-Z' is not one you may import activity for."),
        ({"start_on": "2026-12-01", "end_on": ""}, "Date 2026-12-01 in start_on is in the future"),
        ({"end_on": "2026-11-01"}, "End date 2026-11-01 is before the start date 2026-11-03."),
        ({"cost": "-5"}, "Cost '-5' is not valid: it is negative."),
        ({"cost": "12.345"}, "more than two decimals"),
        ({"cost": "1,234.50"}, "without thousands separators"),
        ({"cost": "10000000.01"}, "more than 10 million yuan"),
        ({"type": "visit"}, "Type 'visit' is not one of outpatient, emergency, inpatient"),
        ({"age_band": "2026-01-04"}, "turned it into a date"),
        ({"record_id": "x" * 65}, "has 65 characters; at most 64 are allowed."),
    ],
)
def test_messages_name_the_value(changes: dict[str, str | None], message: str) -> None:
    [error] = errors_of(good(**changes))
    assert message in error.message


def test_every_error_of_a_row_is_reported_not_only_the_first() -> None:
    values = good(
        record_id="",
        institution="BD-Z",
        department=ID_NUMBER,
        type="visit",
        start_on="2026-11-10",
        end_on="2026-11-01",
        residence="999999",
        age_band="adult",
        icd10="X99.99",
        cost="-1",
        referral="R" * 40,
    )
    errors = errors_of(values, line=12)
    assert {e.line for e in errors} == {12}
    assert sorted((e.column or "", e.code) for e in errors) == sorted(
        [
            ("record_id", "required"),
            ("institution", "unknown_institution"),
            ("department", "looks_like_id_number"),
            ("type", "bad_type"),
            ("end_on", "end_before_start"),
            ("residence", "unknown_division"),
            ("age_band", "bad_age_band"),
            ("icd10", "bad_icd10"),
            ("cost", "bad_cost"),
            ("referral", "too_long"),
        ]
    )


def test_no_message_repeats_an_id_number() -> None:
    # wherever an ID number is put, the report that refuses it does not carry it
    for column in COLUMNS:
        errors = errors_of(good(**{column: ID_NUMBER}))
        assert errors, column
        assert all(ID_NUMBER not in e.message for e in errors), column
    assert ID_NUMBER not in quote("x " + ID_NUMBER)
    assert redacted({"department": "a " + ID_NUMBER, "cost": None}) == {
        "department": "a [ID number]",
        "cost": None,
    }


@pytest.mark.parametrize(
    ("text", "found"),
    [
        (ID_NUMBER, True),
        ("11010119900307451x", True),
        ("A-" + ID_NUMBER + "-B", True),
        # a longer run of digits is another number; a record number is not a birth date
        ("1" + ID_NUMBER, False),
        (ID_NUMBER + "7", False),
        ("202611021234567890", False),
        ("11010119901307451X", False),
        ("IP-2026-000001", False),
    ],
)
def test_what_looks_like_an_id_number(text: str, found: bool) -> None:
    assert looks_like_id_number(text) is found


@pytest.mark.parametrize(
    "raw",
    [
        "2026-11-02",
        "2026/11/02",
        "2026/11/2",
        "2026-11-02 00:00:00",
        "2026-11-02T00:00:00",
        "2026/11/2 8:30",
        "2026-11-02 14:30:15.250",
        "2026年11月2日",
    ],
)
def test_dates_as_spreadsheets_write_them(raw: str) -> None:
    row = parse_row(2, good(type="outpatient", start_on=raw, end_on=""), checks())
    assert isinstance(row, ActivityRow) and row.start_on == date(2026, 11, 2)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("outpatient", EncounterType.OUTPATIENT),
        ("OUTPATIENT", EncounterType.OUTPATIENT),
        ("Emergency", EncounterType.EMERGENCY),
        ("inpatient", EncounterType.INPATIENT),
        ("门诊", EncounterType.OUTPATIENT),
        ("急诊", EncounterType.EMERGENCY),
        ("住院", EncounterType.INPATIENT),
    ],
)
def test_types_in_any_case_or_in_chinese(raw: str, expected: EncounterType) -> None:
    row = parse_row(2, good(type=raw, end_on=""), checks())
    assert isinstance(row, ActivityRow) and row.type is expected


@pytest.mark.parametrize(
    ("raw", "fen"),
    [
        ("123", 12300),
        ("123.4", 12340),
        ("123.45", 12345),
        ("123.05", 12305),
        ("0", 0),
        ("0.00", 0),
        ("007.50", 750),
        ("10000000", 1_000_000_000),
        ("10000000.00", 1_000_000_000),
        ("", None),
    ],
)
def test_costs_in_yuan_become_fen(raw: str, fen: int | None) -> None:
    row = parse_row(2, good(cost=raw), checks())
    assert isinstance(row, ActivityRow) and row.cost_fen == fen


def test_a_visit_ending_the_day_it_starts_keeps_no_end_day() -> None:
    row = parse_row(2, good(type="emergency", start_on="2026-11-02", end_on="2026/11/02"), checks())
    assert isinstance(row, ActivityRow) and row.end_on is None
    # a stay may end the day it starts, and today
    row = parse_row(2, good(start_on="2026-11-30", end_on="2026-11-30"), checks())
    assert isinstance(row, ActivityRow) and row.end_on == TODAY


def test_unusual_spaces_inside_text_are_kept() -> None:
    row = parse_row(2, good(department="儿科\u3000病房"), checks())
    assert isinstance(row, ActivityRow) and row.department == "儿科\u3000病房"


def test_icd10_validity_is_asked_once_per_distinct_code() -> None:
    asked: list[str] = []

    def is_icd10(code: str) -> bool:
        asked.append(code)
        return is_valid(code)

    c = Checks(INSTITUTIONS, DIVISIONS, TODAY, is_icd10)
    for line in range(2, 50):
        parse_row(line, good(icd10="J45.0" if line % 2 else "X99.9"), c)
    assert sorted(asked) == ["J45.0", "X99.9"]


# --- header ------------------------------------------------------------------------------------


def test_a_header_in_any_order_case_and_spacing_is_good() -> None:
    assert check_header(list(reversed(COLUMNS))) == []
    assert check_header(["\ufeffRecord_ID", *(f" {c.upper()} " for c in COLUMNS[1:])]) == []
    assert check_header([c for c in COLUMNS if c not in OPTIONAL]) == []


def test_header_errors_are_on_line_1() -> None:
    header = [c for c in COLUMNS if c not in {"icd10", "age_band"}]
    header += ["Patient_Name", " ICD10 ", "icd10", "", "remarks"]
    errors = check_header(header)
    assert {e.line for e in errors} == {1}
    assert [(e.column, e.code) for e in errors] == [
        ("patient_name", "unknown_column"),
        ("icd10", "duplicate_column"),
        (None, "unknown_column"),
        ("remarks", "unknown_column"),
        ("age_band", "missing_column"),
    ]
    by_column = {e.column: e.message for e in errors}
    assert "no names, ID numbers or phone numbers" in by_column["patient_name"]
    assert "record_id" in by_column["remarks"]
    assert "as columns 11 and 12" in by_column["icd10"]
    assert by_column[None] == "Column 13 of line 1 has no name."


def test_an_empty_header() -> None:
    [error] = check_header(["", " "])
    assert (error.line, error.column, error.code) == (1, None, "empty_header")
    assert [e.code for e in check_header([])] == ["empty_header"]


# --- duplicates --------------------------------------------------------------------------------


def row_at(line: int, record_id: str, institution: str = "BD-A") -> ActivityRow:
    row = parse_row(line, good(record_id=record_id, institution=institution), checks())
    assert isinstance(row, ActivityRow)
    return row


def test_a_record_given_twice_in_a_file_is_an_error_on_the_later_line() -> None:
    seen = DuplicateCheck()
    assert seen.see(row_at(2, "IP-1")) is None
    assert seen.see(row_at(3, "IP-2")) is None
    # the same record id at another institution is another record
    assert seen.see(row_at(4, "IP-1", "BD-B")) is None
    twice = seen.see(row_at(9, "IP-1"))
    assert twice is not None
    assert (twice.line, twice.column, twice.code) == (9, "record_id", "duplicate_record")
    assert "'IP-1'" in twice.message and "first on line 2" in twice.message
    third = seen.see(row_at(12, "IP-1"))
    assert third is not None and "first on line 2" in third.message


# --- properties --------------------------------------------------------------------------------

TEXT = st.characters(categories=("L", "N", "P", "S"), exclude_characters="\x85\u2028\u2029")
DAYS = st.dates(min_value=date(2000, 1, 1), max_value=TODAY)


def _date_text(d: date, form: int) -> str:
    return (d.isoformat(), d.strftime("%Y/%m/%d"), f"{d.isoformat()} 00:00:00")[form]


def _cost_text(fen: int, form: int) -> str:
    if form == 0 and fen % 100 == 0:
        return str(fen // 100)
    if form == 1 and fen % 10 == 0:
        return f"{fen // 100}.{(fen % 100) // 10}"
    return f"{fen // 100}.{fen % 100:02d}"


@st.composite
def valid_rows(draw: st.DrawFn) -> tuple[dict[str, str | None], ActivityRow]:
    record_id = draw(st.text(TEXT, min_size=1, max_size=64))
    department = draw(st.text(TEXT, min_size=1, max_size=64))
    referral = draw(st.none() | st.text(TEXT, min_size=1, max_size=32))
    for text in (record_id, department, referral or ""):
        assume(not looks_like_id_number(text) and text == text.strip())
    kind = draw(st.sampled_from(EncounterType))
    start = draw(DAYS)
    if kind is EncounterType.INPATIENT:
        end = draw(
            st.none() | st.integers(0, (TODAY - start).days).map(lambda n: start + timedelta(n))
        )
        end_text = end and _date_text(end, draw(st.integers(0, 2)))
    else:
        end = None
        end_text = draw(st.sampled_from(["", _date_text(start, 0)]))
    code = draw(st.sampled_from(CODES))
    fen = draw(st.none() | st.integers(0, 1_000_000_000))
    raw_type = draw(
        st.sampled_from(
            [
                kind.value,
                kind.value.upper(),
                {"outpatient": "门诊", "emergency": "急诊", "inpatient": "住院"}[kind.value],
            ]
        )
    )
    pad = draw(st.sampled_from(["", " ", "\t", "  "]))
    expected = ActivityRow(
        line=draw(st.integers(2, 10_000_000)),
        record_id=record_id,
        institution=draw(st.sampled_from(sorted(INSTITUTIONS))),
        department=department,
        type=kind,
        start_on=start,
        end_on=end,
        residence=draw(st.sampled_from(sorted(DIVISIONS))),
        age_band=draw(st.sampled_from(AGE_BANDS)),
        icd10=code,
        cost_fen=fen,
        referral=referral,
    )
    values: dict[str, str | None] = {
        "record_id": record_id,
        "institution": expected.institution,
        "department": department,
        "type": raw_type,
        "start_on": _date_text(start, draw(st.integers(0, 2))),
        "end_on": end_text,
        "residence": expected.residence,
        "age_band": expected.age_band,
        "icd10": code.lower().replace(".", "") if draw(st.booleans()) else code,
        "cost": None if fen is None else _cost_text(fen, draw(st.integers(0, 2))),
        "referral": referral if referral is not None else draw(st.sampled_from([None, ""])),
    }
    return {k: pad + v + pad if v else v for k, v in values.items()}, expected


@given(valid_rows())
def test_valid_rows_come_back_as_they_went_in(
    case: tuple[dict[str, str | None], ActivityRow],
) -> None:
    values, expected = case
    assert parse_row(expected.line, values, checks()) == expected


NEAR = st.sampled_from(
    [
        "",
        " ",
        "2026-11-02",
        "2026/11/31",
        "2026年2月30日",
        "9999-12-31",
        "0001-01-01",
        "J18.9",
        "j189",
        "130606",
        "BD-A",
        "1-4",
        "65+",
        "12.345",
        "99999999999999999999",
        "-0",
        "住院",
        ID_NUMBER,
        "\x00",
        "\ufeff",
    ]
)


@given(
    st.integers(1, 10**9),
    st.dictionaries(
        st.sampled_from(COLUMNS) | st.text(max_size=5),
        st.none() | st.text(max_size=80) | NEAR,
    ),
)
def test_arbitrary_text_gives_a_row_or_errors_never_an_exception(
    line: int, values: dict[str, str | None]
) -> None:
    parsed = parse_row(line, values, checks())
    if isinstance(parsed, ActivityRow):
        assert parsed.line == line
    else:
        assert parsed, "a refused row names at least one error"
        for e in parsed:
            assert e.line == line and e.column in COLUMNS and e.code in KNOWN_CODES
            assert e.message and ID_NUMBER not in e.message
