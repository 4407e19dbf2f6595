"""Where the trend chart draws its points, axis labels and agreement markers (the page draws
them as inline SVG). Pure: numbers in, coordinates out.

Each year is a band of the time axis with its point in the middle; an agreement's start is a
vertical line at its day within its year's band.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from medcircle.kpis.periods import position

WIDTH = 600
HEIGHT = 240
LEFT = 56
RIGHT = 12
TOP = 12
BOTTOM = 28
TICKS = 4


@dataclass(frozen=True)
class Point:
    year: int
    x: float
    # None where the year has no value (the line breaks there)
    y: float | None
    value: float | None


@dataclass(frozen=True)
class Marker:
    x: float
    day: date
    index: int


@dataclass(frozen=True)
class Tick:
    y: float
    value: float


@dataclass(frozen=True)
class Layout:
    width: int
    height: int
    left: int
    right: float
    top: int
    bottom: float
    points: list[Point]
    # runs of points with values, each drawn as one polyline
    lines: list[str]
    markers: list[Marker]
    ticks: list[Tick]


def layout(first_year: int, values: Sequence[float | None], starts: Sequence[date]) -> Layout:
    """The chart of ``values`` (one per year from ``first_year``), with a marker at each of
    ``starts`` that falls within the years shown."""
    years = max(len(values), 1)
    band = (WIDTH - LEFT - RIGHT) / years
    bottom = HEIGHT - BOTTOM
    peak = max((v for v in values if v is not None), default=0.0) or 1.0

    def x_at(offset: float) -> float:
        return round(LEFT + offset * band, 1)

    def y_at(value: float) -> float:
        return round(bottom - value / peak * (bottom - TOP), 1)

    points = [
        Point(first_year + n, x_at(n + 0.5), None if v is None else y_at(v), v)
        for n, v in enumerate(values)
    ]
    lines: list[str] = []
    run: list[str] = []
    for p in points:
        if p.y is None:
            run = []
            continue
        if not run:
            lines.append("")
        run.append(f"{p.x},{p.y}")
        lines[-1] = " ".join(run)
    markers = [
        Marker(x_at(position(day, first_year)), day, n)
        for n, day in enumerate(starts)
        if 0 <= position(day, first_year) < years
    ]
    ticks = [Tick(y_at(peak * k / TICKS), peak * k / TICKS) for k in range(TICKS + 1)]
    return Layout(WIDTH, HEIGHT, LEFT, WIDTH - RIGHT, TOP, bottom, points, lines, markers, ticks)
