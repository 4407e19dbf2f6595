"""Pure rules of visit records and the periods of their measures."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medcircle.dispatch import visit_measures as vm
from medcircle.dispatch import visit_rules as rules

TODAY = date(2026, 11, 30)


def test_dates_ordered_past_and_at_most_366_days() -> None:
    assert rules.date_problems(date(2026, 1, 1), date(2026, 1, 1), TODAY) == []
    codes = [p.code for p in rules.date_problems(date(2026, 1, 2), date(2026, 1, 1), TODAY)]
    assert codes == ["dates_order"]
    codes = [p.code for p in rules.date_problems(TODAY, TODAY + timedelta(days=1), TODAY)]
    assert codes == ["date_in_future"]
    assert rules.date_problems(date(2024, 1, 1), date(2024, 12, 31), TODAY) == []  # 366 days
    codes = [p.code for p in rules.date_problems(date(2023, 1, 1), date(2024, 1, 2), TODAY)]
    assert codes == ["visit_too_long"]


def test_operation_rows_are_normalised_and_named() -> None:
    lines, problems = rules.operation_lines([(" k409 ", " 疝  修补术 ", 2), ("A0", "", 0)])
    assert lines[0] == rules.OperationLine("K40.9", "疝 修补术", 2)
    assert {(p.field, p.code) for p in problems} == {
        ("operations.1.icd10_code", "invalid_icd10"),
        ("operations.1.procedure", "procedure_required"),
        ("operations.1.count", "bad_operation_count"),
    }
    assert all(p.params["row"] == 2 for p in problems)


def test_an_agreement_covers_a_visit_on_every_day() -> None:
    start, end = date(2024, 1, 1), date(2027, 1, 1)
    assert rules.agreement_covers(start, end, None, date(2024, 1, 1), date(2026, 12, 31))
    assert not rules.agreement_covers(start, end, None, date(2026, 12, 31), date(2027, 1, 1))
    assert not rules.agreement_covers(start, end, None, date(2023, 12, 31), date(2024, 1, 2))
    assert not rules.agreement_covers(
        start, end, date(2025, 6, 1), date(2025, 5, 31), date(2025, 6, 1)
    )


@given(st.integers(min_value=2000, max_value=2999))
def test_a_year_is_that_whole_year(year: int) -> None:
    p = rules.period_of(f" {year} ", None, None, TODAY)
    assert (p.start, p.end) == (date(year, 1, 1), date(year, 12, 31))


@given(st.text(max_size=8))
def test_anything_else_typed_as_a_year_is_refused_cleanly(raw: str) -> None:
    text = raw.strip()
    if len(text) == 4 and text.isdigit() and 2000 <= int(text) <= 2999 and text.isascii():
        return
    if not text:
        assert rules.period_of(raw, None, None, TODAY).end == TODAY
        return
    with pytest.raises(rules.PeriodError) as exc:
        rules.period_of(raw, None, None, TODAY)
    assert exc.value.problem.code == "bad_year"


@given(
    st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 12, 31)),
    st.integers(min_value=0, max_value=8000),
)
def test_a_range_is_ordered_and_bounded(start: date, length: int) -> None:
    end = start + timedelta(days=length)
    if length + 1 > rules.MAX_PERIOD_DAYS:
        with pytest.raises(rules.PeriodError):
            rules.period_of(None, start, end, TODAY)
    else:
        assert rules.period_of(None, start, end, TODAY).days == length + 1
    with pytest.raises(rules.PeriodError):
        rules.period_of(None, end + timedelta(days=1), end, TODAY)


def test_the_tally_counts_trips_days_and_experts() -> None:
    day = date(2016, 3, 1)
    facts = [
        vm.VisitFact(1, 10, 20, "ped_surgery", day, day + timedelta(days=2), 5, 2),
        vm.VisitFact(2, 10, 20, "ped_surgery", day, day, 0, 1),
        vm.VisitFact(3, 10, 20, "neonatology", day, day, 4, 0),
        vm.VisitFact(1, 10, 21, "ped_surgery", day + timedelta(days=7), day + timedelta(days=7)),
    ]
    lines, total = vm.tally(facts, [vm.Group.SITE])
    assert (total.out_calls, total.person_visits, len(total.trips), len(total.experts)) == (
        4,
        6,
        3,
        3,
    )
    assert (total.outpatients, total.operations) == (9, 3)
    assert len(lines[vm.Group.SITE]["20"].trips) == 2
    assert sum(len(t.trips) for t in lines[vm.Group.SITE].values()) == len(total.trips)
