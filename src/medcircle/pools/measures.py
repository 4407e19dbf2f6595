"""A pool's figures month by month (pure): occupancy (room-days occupied over room-days open)
and the waits of the patients admitted that month. They feed the pool page's trend and the
circle's indicators."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class Stay:
    admitted_on: date
    # None: still in the room
    discharged_on: date | None
    # the day the patient was listed (their wait ends on admission)
    listed_on: date | None


@dataclass(frozen=True)
class Month:
    first_day: date
    room_days: int
    occupied_days: int
    admissions: int
    median_wait_days: float | None

    @property
    def occupancy(self) -> float | None:
        return self.occupied_days / self.room_days if self.room_days else None


def month_starts(first: date, last: date) -> list[date]:
    """The first days of the months from ``first``'s to ``last``'s."""
    result: list[date] = []
    day = first.replace(day=1)
    while day <= last:
        result.append(day)
        day = (day + timedelta(days=32)).replace(day=1)
    return result


def monthly(stays: Iterable[Stay], rooms: int, first: date, today: date) -> list[Month]:
    """Months from ``first`` to ``today`` (the current month up to today) for ``rooms`` rooms.
    A stay occupies its room from the day of admission up to the day before discharge."""
    starts = month_starts(first, today)
    occupied = dict.fromkeys(starts, 0)
    waits: dict[date, list[int]] = {s: [] for s in starts}
    for stay in stays:
        end = stay.discharged_on or today + timedelta(days=1)
        for start in starts:
            month_end = min((start + timedelta(days=32)).replace(day=1), today + timedelta(days=1))
            overlap = (min(end, month_end) - max(stay.admitted_on, start)).days
            if overlap > 0:
                occupied[start] += overlap
        key = stay.admitted_on.replace(day=1)
        if key in waits and stay.listed_on is not None and stay.listed_on <= stay.admitted_on:
            waits[key].append((stay.admitted_on - stay.listed_on).days)
    months: list[Month] = []
    for start in starts:
        month_end = min((start + timedelta(days=32)).replace(day=1), today + timedelta(days=1))
        days = (month_end - max(start, first)).days
        months.append(
            Month(
                first_day=start,
                room_days=max(0, days) * rooms,
                occupied_days=min(occupied[start], max(0, days) * rooms),
                admissions=len(waits[start]),
                median_wait_days=float(statistics.median(waits[start])) if waits[start] else None,
            )
        )
    return months
