"""Months, years and the windows around an agreement's start, as the indicators count them.
Pure: months are ``YYYY-MM`` text, the way the monthly summary keys them.

The twelve months before an agreement are those before the month it starts in; the twelve
after begin with that month. A member of an alliance counts in the months from the one it
joined (included) to the one it left (excluded).
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import date

WINDOW = 12


def month_of(day: date) -> str:
    return f"{day.year}-{day.month:02d}"


def shift(month: str, by: int) -> str:
    """The month ``by`` months after (or before, if negative) ``month``."""
    n = int(month[:4]) * 12 + int(month[5:]) - 1 + by
    return f"{n // 12}-{n % 12 + 1:02d}"


def months(first: str, last: str) -> list[str]:
    """Every month from ``first`` to ``last``, both included."""
    out = []
    m = first
    while m <= last:
        out.append(m)
        m = shift(m, 1)
    return out


def year_months(first_year: int, last_year: int | None = None) -> list[str]:
    """The months of the calendar years from ``first_year`` to ``last_year`` (default: the
    one year)."""
    return months(f"{first_year}-01", f"{last_year or first_year}-12")


def days_in(month: str, today: date) -> int:
    """The calendar days of a month (up to today in the current month; 0 after today)."""
    y, m = int(month[:4]), int(month[5:])
    if (y, m) > (today.year, today.month):
        return 0
    if (y, m) == (today.year, today.month):
        return today.day
    return calendar.monthrange(y, m)[1]


def around(start: date, length: int = WINDOW) -> tuple[list[str], list[str]]:
    """The ``length`` months before the month of ``start`` and the ``length`` from it."""
    first = month_of(start)
    return months(shift(first, -length), shift(first, -1)), months(first, shift(first, length - 1))


def is_member(month: str, joined_on: date, left_on: date | None) -> bool:
    """Whether a member of an alliance counts in ``month``."""
    return month_of(joined_on) <= month and (left_on is None or month < month_of(left_on))


def change(before: float | None, after: float | None) -> tuple[float | None, float | None]:
    """After against before: their difference and their ratio (None where it has no
    meaning)."""
    if before is None or after is None:
        return None, None
    return after - before, (after / before if before else None)


def position(day: date, first_year: int) -> float:
    """Where a day falls on a time axis counted in years from the start of ``first_year``
    (1 January of ``first_year`` is 0; 1 July is about 0.5)."""
    length = 366 if calendar.isleap(day.year) else 365
    return day.year - first_year + (day.timetuple().tm_yday - 1) / length


def spans(sequence: Sequence[str]) -> str:
    """A run of months as ``first/last`` (ISO 8601 interval of months)."""
    return f"{sequence[0]}/{sequence[-1]}" if sequence else ""
