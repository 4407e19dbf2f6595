"""Months, years, the windows around an agreement's start, membership months, the change
before and after, and where the trend chart draws."""

from __future__ import annotations

from datetime import date

import pytest

from medcircle.kpis import charts, periods


def test_months_and_years() -> None:
    assert periods.shift("2015-01", -1) == "2014-12"
    assert periods.shift("2014-12", 13) == "2016-01"
    assert periods.months("2015-11", "2016-02") == ["2015-11", "2015-12", "2016-01", "2016-02"]
    assert periods.months("2016-02", "2015-11") == []
    assert len(periods.year_months(2013, 2024)) == 144
    assert periods.year_months(2024)[-1] == "2024-12"
    today = date(2026, 11, 30)
    assert periods.days_in("2024-02", today) == 29
    assert periods.days_in("2026-11", today) == 30 - 0 and periods.days_in("2026-12", today) == 0


def test_the_twelve_months_around_an_agreements_start() -> None:
    before, after = periods.around(date(2015, 6, 1))
    assert (before[0], before[-1], after[0], after[-1]) == (
        "2014-06",
        "2015-05",
        "2015-06",
        "2016-05",
    )
    # a start within a month counts that month as after
    assert periods.around(date(2017, 9, 15))[1][0] == "2017-09"
    assert periods.spans(after) == "2015-06/2016-05" and periods.spans([]) == ""


def test_membership_months() -> None:
    joined, left = date(2017, 6, 1), date(2019, 3, 15)
    assert not periods.is_member("2017-05", joined, left)
    assert periods.is_member("2017-06", joined, left)
    assert periods.is_member("2019-02", joined, left)
    assert not periods.is_member("2019-03", joined, left)
    assert periods.is_member("2030-01", joined, None)


def test_the_change() -> None:
    assert periods.change(2.0, 3.0) == (1.0, 1.5)
    assert periods.change(0.0, 3.0) == (3.0, None)
    assert periods.change(None, 3.0) == (None, None)


def test_the_chart_places_years_markers_and_gaps() -> None:
    chart = charts.layout(2013, [1.0, None, 2.0, 4.0], [date(2015, 7, 2), date(2030, 1, 1)])
    xs = [p.x for p in chart.points]
    assert xs == sorted(xs) and xs[0] > chart.left and xs[-1] < chart.right
    # the highest value touches the top, a missing year breaks the line
    assert chart.points[3].y == chart.top and chart.points[1].y is None
    assert len(chart.lines) == 2 and chart.lines[0].count(",") == 1
    # only the start within the years shown is marked, half-way through 2015's band
    [mark] = chart.markers
    assert mark.index == 0 and mark.x == pytest.approx(xs[2], abs=1)
    assert [t.value for t in chart.ticks] == [0, 1, 2, 3, 4]
    empty = charts.layout(2013, [None, None], [])
    assert empty.lines == [] and empty.ticks[-1].value == 1
