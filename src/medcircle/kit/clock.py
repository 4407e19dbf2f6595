"""The one clock of the application, so tests can move time (time-machine)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

# China Standard Time: the circle's working clock for the dates and times people type and read
CST = timezone(timedelta(hours=8))


def now() -> datetime:
    """The current instant, timezone-aware, in UTC."""
    return datetime.now(UTC)


def today() -> date:
    """Today's date in China Standard Time (the circle's working day)."""
    return datetime.now(CST).date()
