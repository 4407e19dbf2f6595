"""UTC datetimes read back from SQLite's text, whatever form the text takes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite

from medcircle.db import UTCDateTime

PARSE = UTCDateTime().result_processor(sqlite.dialect(), None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01 08:30:00.123456", datetime(2026, 12, 1, 8, 30, 0, 123456, tzinfo=UTC)),
        ("2026-12-01 08:30:00", datetime(2026, 12, 1, 8, 30, tzinfo=UTC)),
        ("2026-12-01 08:30", datetime(2026, 12, 1, 8, 30, tzinfo=UTC)),
        # text with an offset (written by other tools) is converted, not taken as UTC
        ("2026-12-01 08:30:00+08:00", datetime(2026, 12, 1, 0, 30, tzinfo=UTC)),
        ("2026-12-01T08:30:00Z", datetime(2026, 12, 1, 8, 30, tzinfo=UTC)),
        ("2026-12-01 08:30:00.5-05:00", datetime(2026, 12, 1, 13, 30, 0, 500000, tzinfo=UTC)),
    ],
)
def test_sqlite_text_is_read_as_utc(text: str, expected: datetime) -> None:
    got = PARSE(text)
    assert got == expected and got.utcoffset() == timedelta(0)


def test_none_stays_none() -> None:
    assert PARSE(None) is None


@given(
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
)
def test_any_written_form_round_trips(moment: datetime, offset_minutes: int) -> None:
    aware = moment.replace(tzinfo=timezone(timedelta(minutes=offset_minutes)))
    for text in (aware.isoformat(sep=" "), moment.isoformat(sep=" ")):
        expected = aware if text == aware.isoformat(sep=" ") else moment.replace(tzinfo=UTC)
        assert PARSE(text) == expected
