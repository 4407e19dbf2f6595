"""Pure rules of agreements: terms, warnings, status on a date, goals, document checks."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medcircle.agreements.domain import (
    DATES_ORDER_MESSAGE,
    SAME_PARTY_MESSAGE,
    SPECIALTY_COUNT_MESSAGE,
    AgreementKind,
    AgreementStatus,
    AgreementTerms,
    DocumentType,
    GoalStatus,
    add_months,
    add_years,
    detect_document_type,
    ends_soon,
    extension_matches,
    goal_errors,
    goal_overdue,
    sanitise_filename,
    status_on,
    term_errors,
    term_warnings,
)

SPECS = ("a", "b", "c", "d", "e", "f")


def terms(**kw: object) -> AgreementTerms:
    values: dict[str, object] = {
        "kind": AgreementKind.SPECIALTY_SUPPORT,
        "supporting_institution_id": 1,
        "supported_institution_id": 2,
        "starts_on": date(2017, 1, 1),
        "ends_on": date(2020, 1, 1),
        "specialty_codes": ("a", "b"),
    }
    values.update(kw)
    return AgreementTerms(**values)  # type: ignore[arg-type]


def test_valid_terms_have_no_errors_or_warnings() -> None:
    assert term_errors(terms()) == []
    assert term_warnings(terms()) == []


@pytest.mark.parametrize("n", [0, 1, 5, 6])
def test_specialty_support_needs_two_to_four(n: int) -> None:
    errors = term_errors(terms(specialty_codes=SPECS[:n]))
    assert [(e.field, e.message, e.params_dict) for e in errors] == [
        ("specialties", SPECIALTY_COUNT_MESSAGE, {"count": n})
    ]


def test_same_party_and_date_order() -> None:
    errors = term_errors(terms(supported_institution_id=1, ends_on=date(2017, 1, 1)))
    assert {(e.field, e.message) for e in errors} == {
        ("supported_institution_id", SAME_PARTY_MESSAGE),
        ("ends_on", DATES_ORDER_MESSAGE),
    }


def test_duplicate_specialty_and_exchange_without_specialty() -> None:
    assert term_errors(terms(specialty_codes=("a", "a", "b")))[0].field == "specialties"
    exchange = terms(kind=AgreementKind.DEPARTMENTAL_EXCHANGE, specialty_codes=())
    assert [e.field for e in term_errors(exchange)] == ["specialties"]
    assert term_errors(terms(kind=AgreementKind.TRUSTEESHIP, specialty_codes=())) == []


def test_warnings_for_term_and_trusteeship_name() -> None:
    short = term_warnings(terms(ends_on=date(2018, 1, 1)))
    assert [(w.field, w.params_dict) for w in short] == [("ends_on", {"days": 365})]
    assert term_warnings(terms(ends_on=date(2022, 1, 1))) == []  # exactly five years
    assert [w.field for w in term_warnings(terms(ends_on=date(2022, 1, 2)))] == ["ends_on"]
    trust = terms(kind=AgreementKind.TRUSTEESHIP, specialty_codes=())
    assert [w.field for w in term_warnings(trust)] == ["licensed_name_zh"]


dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2060, 12, 31))


@given(
    start=dates,
    length=st.integers(min_value=-400, max_value=4000),
    n=st.integers(min_value=0, max_value=6),
    same=st.booleans(),
)
def test_term_errors_property(start: date, length: int, n: int, same: bool) -> None:
    """An agreement is refused exactly when its parties coincide, its dates are out of
    order, or specialty support does not name 2 to 4 specialties."""
    t = terms(
        starts_on=start,
        ends_on=start + timedelta(days=length),
        specialty_codes=SPECS[:n],
        supported_institution_id=1 if same else 2,
    )
    fields = {e.field for e in term_errors(t)}
    assert ("supported_institution_id" in fields) == same
    assert ("ends_on" in fields) == (length <= 0)
    assert ("specialties" in fields) == (not 2 <= n <= 4)
    warned = {w.field for w in term_warnings(t)}
    in_range = add_years(start, 3) <= t.ends_on <= add_years(start, 5)
    assert ("ends_on" in warned) == (length > 0 and not in_range)


@given(
    start=dates, length=st.integers(1, 4000), on=dates, term_after=st.none() | st.integers(0, 4000)
)
def test_status_on_property(start: date, length: int, on: date, term_after: int | None) -> None:
    """Exactly one status on each day; an agreement runs from its start to the day before its
    end, and a termination wins from its date on."""
    end = start + timedelta(days=length)
    terminated = None if term_after is None else start + timedelta(days=term_after)
    status = status_on(start, end, terminated, on)
    if terminated is not None and terminated <= on:
        assert status is AgreementStatus.TERMINATED
    elif on < start:
        assert status is AgreementStatus.UPCOMING
    elif on >= end:
        assert status is AgreementStatus.ENDED
    else:
        assert status is AgreementStatus.ACTIVE
    assert status_on(start, end, None, start) is AgreementStatus.ACTIVE
    assert status_on(start, end, None, end) is AgreementStatus.ENDED


def test_ends_soon_and_month_arithmetic() -> None:
    on = date(2026, 6, 1)
    assert ends_soon(date(2026, 12, 1), None, on)
    assert not ends_soon(date(2026, 12, 2), None, on)
    assert not ends_soon(date(2026, 6, 1), None, on)
    assert not ends_soon(date(2026, 9, 1), date(2026, 5, 1), on)
    assert add_months(date(2026, 8, 31), 6) == date(2027, 2, 28)
    assert add_years(date(2024, 2, 29), 3) == date(2027, 2, 28)


def test_goal_rules() -> None:
    today = date(2026, 6, 1)
    assert goal_overdue(GoalStatus.PLANNED, date(2026, 5, 31), today)
    assert not goal_overdue(GoalStatus.PLANNED, today, today)
    assert not goal_overdue(GoalStatus.ACHIEVED, date(2020, 1, 1), today)
    assert goal_errors(GoalStatus.ACHIEVED, date(2026, 5, 1), date(2026, 1, 1), today) == []
    assert [e.field for e in goal_errors(GoalStatus.ACHIEVED, None, today, today)] == [
        "achieved_on"
    ]
    assert [e.field for e in goal_errors(GoalStatus.MISSED, today, today, today)] == ["achieved_on"]
    future = goal_errors(GoalStatus.ACHIEVED, date(2026, 7, 1), today, today)
    assert [e.field for e in future] == ["achieved_on"]


@pytest.mark.parametrize(
    ("head", "names", "expected"),
    [
        (b"%PDF-1.4 ...", frozenset(), DocumentType.PDF),
        (b"\x89PNG\r\n\x1a\n....", frozenset(), DocumentType.PNG),
        (b"\xff\xd8\xff\xdb", frozenset(), DocumentType.JPEG),
        (
            b"PK\x03\x04" + b"\x00" * 40,
            frozenset({"[Content_Types].xml", "word/document.xml"}),
            DocumentType.DOCX,
        ),
        (
            b"PK\x03\x04" + b"\x00" * 40,
            frozenset({"[Content_Types].xml", "xl/workbook.xml"}),
            DocumentType.XLSX,
        ),
        (b"PK\x03\x04" + b"\x00" * 40, frozenset({"evil.exe"}), None),
        ("纯文本，UTF-8".encode(), frozenset(), DocumentType.TEXT),
        (b"MZ\x90\x00", frozenset(), None),
        (b"\xd6\xd0\xce\xc4", frozenset(), None),  # GBK bytes are not UTF-8
        (b"", frozenset(), None),
    ],
)
def test_detect_document_type(
    head: bytes, names: frozenset[str], expected: DocumentType | None
) -> None:
    assert detect_document_type(head, names) == expected


def test_text_cut_inside_a_character_is_still_text() -> None:
    head = "中文".encode()[:-1]
    assert detect_document_type(head) is DocumentType.TEXT


@pytest.mark.parametrize(
    ("raw", "doc_type", "expected"),
    [
        ("../../etc/passwd", DocumentType.TEXT, "passwd.txt"),
        ("C:\\Windows\\协议.PDF", DocumentType.PDF, "协议.pdf"),
        ("a\x00b\x1bc\u202ed.pdf", DocumentType.PDF, "abcd.pdf"),
        ("...hidden.pdf", DocumentType.PDF, "hidden.pdf"),
        ("", DocumentType.PNG, "document.png"),
        ("   ", DocumentType.JPEG, "document.jpg"),
        ('re<port>:"x".pdf', DocumentType.PDF, "re_port___x_.pdf"),
        ("scan", DocumentType.PNG, "scan.png"),
        ("x" * 300 + ".pdf", DocumentType.PDF, "x" * 196 + ".pdf"),
    ],
)
def test_sanitise_filename(raw: str, doc_type: DocumentType, expected: str) -> None:
    assert sanitise_filename(raw, doc_type) == expected


@given(st.text(max_size=400))
def test_sanitised_names_are_always_safe(raw: str) -> None:
    name = sanitise_filename(raw, DocumentType.PDF)
    assert "/" not in name and "\\" not in name
    assert not any(ord(c) < 32 or ord(c) == 127 for c in name)
    assert not name.startswith(".")
    assert 5 <= len(name) <= 200
    assert name.lower().endswith(".pdf")


def test_extension_must_match_content() -> None:
    assert extension_matches("a.pdf", DocumentType.PDF)
    assert extension_matches("a", DocumentType.PDF)
    assert not extension_matches("a.pdf", DocumentType.PNG)
    assert extension_matches("a.JPEG", DocumentType.JPEG)
