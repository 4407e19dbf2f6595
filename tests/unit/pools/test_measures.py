"""Monthly occupancy and waits of a pool."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from medcircle.pools.measures import Stay, month_starts, monthly


def test_a_room_full_for_all_of_march_and_half_of_april() -> None:
    stays = [Stay(date(2024, 3, 1), date(2024, 4, 16), date(2024, 1, 31))]
    months = monthly(stays, 1, date(2024, 3, 1), date(2024, 4, 30))
    assert [m.first_day for m in months] == [date(2024, 3, 1), date(2024, 4, 1)]
    assert months[0].occupancy == 1.0
    assert months[1].occupied_days == 15 and months[1].room_days == 30
    assert months[0].admissions == 1 and months[0].median_wait_days == 30
    assert months[1].admissions == 0 and months[1].median_wait_days is None


def test_the_current_month_counts_up_to_today_and_a_stay_still_running() -> None:
    months = monthly([Stay(date(2024, 5, 3), None, None)], 2, date(2024, 5, 1), date(2024, 5, 10))
    assert months[0].room_days == 20
    assert months[0].occupied_days == 8


@given(
    st.lists(st.tuples(st.integers(0, 300), st.integers(0, 90), st.booleans()), max_size=30),
    st.integers(1, 5),
)
def test_occupancy_stays_between_zero_and_one(raw: list[tuple[int, int, bool]], rooms: int) -> None:
    first, today = date(2023, 1, 1), date(2023, 12, 31)
    stays = [
        Stay(
            date.fromordinal(first.toordinal() + start),
            date.fromordinal(first.toordinal() + start + length) if done else None,
            None,
        )
        for start, length, done in raw
    ]
    for m in monthly(stays, rooms, first, today):
        assert m.occupancy is not None and 0.0 <= m.occupancy <= 1.0


def test_month_starts_cross_the_year() -> None:
    assert month_starts(date(2023, 11, 15), date(2024, 2, 1)) == [
        date(2023, 11, 1),
        date(2023, 12, 1),
        date(2024, 1, 1),
        date(2024, 2, 1),
    ]
