"""Pure rules of the registry."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from medcircle.registry.domain import (
    LEVEL_LABELS,
    SPECIALTIES,
    TITLE_LABELS,
    DivisionLevel,
    Level,
    Title,
    adcode_parts,
    creates_cycle,
    division_level,
    is_valid_code,
    latitude_ok,
    leave_after_join,
    longitude_ok,
    membership_active,
    normalise_code,
    periods_overlap,
    rename_allowed,
)


def test_codes_are_normalised_then_checked() -> None:
    assert normalise_code("  bch-bd ") == "BCH-BD"
    assert is_valid_code("BCH-BD")
    assert not is_valid_code("X")
    assert not is_valid_code("-AB")
    assert not is_valid_code("BAD CODE")
    assert not is_valid_code("A" * 33)


def test_adcode_parts_and_levels() -> None:
    assert adcode_parts("130606") == ("130000", "130600", "130606")
    assert division_level("130000") is DivisionLevel.PROVINCE
    assert division_level("130600") is DivisionLevel.CITY
    assert division_level("130606") is DivisionLevel.COUNTY


def test_coordinate_ranges() -> None:
    assert latitude_ok(90.0) and latitude_ok(-90.0) and not latitude_ok(90.01)
    assert longitude_ok(180.0) and longitude_ok(-180.0) and not longitude_ok(-180.5)


def test_cycles() -> None:
    parents = {2: 1, 3: 2}  # 3 is a branch of 2, a branch of 1
    assert creates_cycle(1, 3, parents)
    assert creates_cycle(1, 1, parents)
    assert not creates_cycle(3, 1, parents)
    assert not creates_cycle(None, 3, parents)
    assert not creates_cycle(4, 3, {**parents, 1: 2})  # an existing loop does not hang


def test_membership_is_active_until_the_day_before_leaving() -> None:
    joined, left = date(2018, 1, 1), date(2020, 1, 1)
    assert not membership_active(joined, left, date(2017, 12, 31))
    assert membership_active(joined, left, joined)
    assert membership_active(joined, left, date(2019, 12, 31))
    assert not membership_active(joined, left, left)
    assert membership_active(joined, None, date(2030, 1, 1))


def test_leave_after_join_and_rename_order() -> None:
    assert leave_after_join(date(2018, 1, 1), None)
    assert not leave_after_join(date(2018, 1, 1), date(2018, 1, 1))
    assert rename_allowed(None, date(2000, 1, 1))
    assert not rename_allowed(date(2015, 10, 1), date(2015, 10, 1))
    assert rename_allowed(date(2015, 10, 1), date(2015, 10, 2))


days = st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 1, 1))


@given(days, st.integers(1, 3000), days, st.integers(1, 3000), days)
def test_overlap_agrees_with_activity(
    a: date, a_len: int, b: date, b_len: int, probe: date
) -> None:
    """If some day is active in both periods, they overlap; and overlap is symmetric."""
    a_end, b_end = a + timedelta(days=a_len), b + timedelta(days=b_len)
    both = membership_active(a, a_end, probe) and membership_active(b, b_end, probe)
    if both:
        assert periods_overlap(a, a_end, b, b_end)
    assert periods_overlap(a, a_end, b, b_end) == periods_overlap(b, b_end, a, a_end)


def test_open_periods_overlap_everything_after_them() -> None:
    assert periods_overlap(date(2018, 1, 1), None, date(2030, 1, 1), None)
    assert not periods_overlap(date(2018, 1, 1), date(2019, 1, 1), date(2019, 1, 1), None)


def test_every_level_and_title_has_a_label_and_specialty_codes_are_unique() -> None:
    assert set(LEVEL_LABELS) == set(Level)
    assert set(TITLE_LABELS) == set(Title)
    codes = [s.code for s in SPECIALTIES]
    assert len(codes) == len(set(codes))
