"""The bulletin's charts as geometry for inline SVG drawn on the server (no script, nothing
fetched): a line of the outflow share year by year, and bars by month. Pure."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass

WIDTH, HEIGHT = 600, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 580, 24, 180


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str
    value: float | None


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: int
    value: int


@dataclass(frozen=True)
class Tick:
    y: float
    value: float


def _ceiling(top: float) -> float:
    """A round top of the scale (1, 2 or 5 times a power of ten) at or above ``top``."""
    if top <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(top))
    for step in (1, 2, 5, 10):
        if top <= step * power:
            return float(step * power)
    return float(10 * power)  # pragma: no cover


def _y(value: float, top: float) -> float:
    return round(BOTTOM - value / top * (BOTTOM - TOP), 1)


def _ticks(top: float) -> list[Tick]:
    return [Tick(_y(top * k / 4, top), top * k / 4) for k in range(5)]


def _count_scale(peak: float) -> tuple[float, list[Tick]]:
    """The top and the ticks of a scale of counts: whole, round steps (1, 2 or 5 times a power
    of ten), at most five of them, the top the first step at or above ``peak``."""
    step = next(s for s in _round_steps() if math.ceil(peak / s) <= 5)
    top = float(max(math.ceil(peak / step), 1) * step)
    return top, [Tick(_y(v, top), v) for v in range(0, int(top) + 1, step)]


def _round_steps() -> Iterator[int]:
    """1, 2, 5, 10, 20, 50, …"""
    for power in itertools.count():
        for m in (1, 2, 5):
            yield m * 10**power


def line(values: list[tuple[str, float | None]]) -> dict[str, object]:
    """Points of a line (a value of None leaves a gap), labelled on the x axis."""
    top = _ceiling(max((v for _, v in values if v is not None), default=0))
    step = (RIGHT - LEFT) / max(len(values) - 1, 1)
    points = [
        Point(
            round(LEFT + i * step if len(values) > 1 else (LEFT + RIGHT) / 2, 1),
            _y(v or 0, top),
            label,
            v,
        )
        for i, (label, v) in enumerate(values)
    ]
    # the runs of points with a value, each drawn as one polyline
    runs: list[list[Point]] = [[]]
    for p in points:
        if p.value is None:
            runs.append([])
        else:
            runs[-1].append(p)
    paths = [" ".join(f"{p.x},{p.y}" for p in run) for run in runs if run]
    return {"points": points, "paths": paths, "ticks": _ticks(top), "top": top}


def bars(keys: list[str], series: list[list[int]]) -> dict[str, object]:
    """Grouped bars: one group per key, one bar per series in each."""
    top, ticks = _count_scale(max((v for s in series for v in s), default=0))
    group = (RIGHT - LEFT) / max(len(keys), 1)
    width = round(group * 0.8 / max(len(series), 1), 1)
    drawn = []
    for i, _key in enumerate(keys):
        for j, s in enumerate(series):
            h = round(s[i] / top * (BOTTOM - TOP), 1)
            x = round(LEFT + i * group + group * 0.1 + j * width, 1)
            drawn.append(Bar(x, round(BOTTOM - h, 1), width, h, j, s[i]))
    labels = [(round(LEFT + (i + 0.5) * group, 1), k) for i, k in enumerate(keys)]
    return {"bars": drawn, "labels": labels, "ticks": ticks, "top": top}
