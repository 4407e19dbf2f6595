"""Finding a time that suits everyone: ``domain.common_slots`` as the sessions use it (half-hour
grid from the next grid point, 08:00–20:00 China time)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from medcircle.consultations.domain import common_slots
from medcircle.consultations.sessions import SLOT_STEP, grid_after
from medcircle.kit.clock import CST

# Monday 2026-11-30 00:00 UTC = 08:00 China time
MONDAY = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
HALF = timedelta(minutes=30)


def _slots(busy: dict[int, list[tuple[datetime, datetime]]], minutes: int = 30) -> list[datetime]:
    return common_slots(
        busy, MONDAY, MONDAY + timedelta(days=2), timedelta(minutes=minutes), SLOT_STEP, limit=200
    )


def test_everyone_free_gives_working_hours_only() -> None:
    slots = _slots({1: [], 2: []})
    assert slots[0] == MONDAY
    for t in slots:
        local = t.astimezone(CST)
        assert 8 <= local.hour < 20
        assert local.minute in (0, 30)
    # 24 half-hours a working day, two days
    assert len(slots) == 48


def test_someone_busy_is_avoided() -> None:
    busy = {1: [(MONDAY, MONDAY + timedelta(hours=2))], 2: [(MONDAY + 3 * HALF, MONDAY + 5 * HALF)]}
    slots = _slots(busy, minutes=60)
    assert slots[0] == MONDAY + 5 * HALF
    for t in slots:
        for spans in busy.values():
            assert all(not (a < t + timedelta(hours=1) and t < b) for a, b in spans)


def test_a_session_ends_by_eight_in_the_evening() -> None:
    slots = _slots({1: []}, minutes=60)
    last_monday = max(t for t in slots if t.astimezone(CST).date() == MONDAY.date())
    assert last_monday.astimezone(CST).hour == 19 and last_monday.astimezone(CST).minute == 0


def test_grid_after_is_the_next_half_hour() -> None:
    assert grid_after(datetime(2026, 11, 30, 1, 0, tzinfo=UTC)) == datetime(
        2026, 11, 30, 1, 30, tzinfo=UTC
    )
    assert grid_after(datetime(2026, 11, 30, 1, 7, 5, tzinfo=UTC)) == datetime(
        2026, 11, 30, 1, 30, tzinfo=UTC
    )
    assert grid_after(datetime(2026, 11, 30, 1, 45, tzinfo=UTC)) == datetime(
        2026, 11, 30, 2, 0, tzinfo=UTC
    )


spans = st.lists(
    st.tuples(st.integers(0, 96), st.integers(1, 12)).map(
        lambda p: (MONDAY + p[0] * HALF, MONDAY + (p[0] + p[1]) * HALF)
    ),
    max_size=5,
)


@given(st.dictionaries(st.integers(1, 4), spans, min_size=1, max_size=4), st.sampled_from([30, 60]))
def test_no_slot_overlaps_anyones_busy_time(
    busy: dict[int, list[tuple[datetime, datetime]]], minutes: int
) -> None:
    duration = timedelta(minutes=minutes)
    slots = _slots(busy, minutes)
    assert slots == sorted(set(slots))
    for t in slots:
        assert all(not (a < t + duration and t < b) for s in busy.values() for a, b in s)
    # and a free grid point in working hours is never left out
    t = MONDAY
    while t + duration <= MONDAY + timedelta(days=2):
        local, local_end = t.astimezone(CST), (t + duration).astimezone(CST)
        in_day = (
            local.hour >= 8
            and local_end.date() == local.date()
            and (local_end.hour * 60 + local_end.minute <= 20 * 60)
        )
        free = all(not (a < t + duration and t < b) for s in busy.values() for a, b in s)
        assert (t in slots) == (in_day and free)
        t += HALF
