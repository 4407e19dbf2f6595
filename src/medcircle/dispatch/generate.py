"""Generated planning instances at the seeds' scale (for the benchmark, tests and the demo).

The default instance: 400 experts from 12 Beijing hospitals in 15 specialties, 133 Hebei sites
each needing 3 specialties at 1–2 visits a week, 20 working days, each expert unavailable
(home duties) on 30 % of days, at most 2 visit days a week. Deterministic for a seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from medcircle.dispatch.planner import Demand, Expert, Problem
from medcircle.dispatch.travel import Place, travel_table

# Beijing's centre and Hebei's extent (degrees)
BEIJING = (39.90, 116.40)
HEBEI_LAT = (36.2, 42.4)
HEBEI_LON = (113.8, 119.6)


@dataclass(frozen=True)
class Shape:
    experts: int = 400
    homes: int = 12
    specialties: int = 15
    sites: int = 133
    specialties_per_site: int = 3
    weeks: int = 4
    unavailable: float = 0.30
    max_days_per_week: int = 2
    first_day: date = date(2027, 1, 4)


def working_days(first: date, weeks: int) -> tuple[date, ...]:
    monday = first - timedelta(days=first.weekday())
    return tuple(monday + timedelta(days=7 * w + d) for w in range(weeks) for d in range(5))


def instance(seed: int = 1, shape: Shape = Shape()) -> Problem:
    rng = random.Random(seed)
    days = working_days(shape.first_day, shape.weeks)
    specialties = [f"spec{i:02d}" for i in range(shape.specialties)]
    homes = [
        Place(
            f"bj{i:02d}",
            BEIJING[0] + rng.uniform(-0.12, 0.12),
            BEIJING[1] + rng.uniform(-0.15, 0.15),
        )
        for i in range(shape.homes)
    ]
    sites = [
        Place(f"site{i:03d}", rng.uniform(*HEBEI_LAT), rng.uniform(*HEBEI_LON))
        for i in range(shape.sites)
    ]
    experts: list[Expert] = []
    for i in range(shape.experts):
        duties = frozenset(d for d in days if rng.random() < shape.unavailable)
        experts.append(
            Expert(
                id=i + 1,
                specialty=specialties[i % shape.specialties],
                home=homes[rng.randrange(shape.homes)].key,
                max_days_per_week=shape.max_days_per_week,
                duties=duties,
            )
        )
    demands: list[Demand] = []
    for s in sites:
        for spec in rng.sample(specialties, shape.specialties_per_site):
            demands.append(
                Demand(
                    id=len(demands) + 1,
                    site=s.key,
                    specialty=spec,
                    visits_per_week=rng.choice((1, 2)),
                )
            )
    places = {p.key: p for p in (*homes, *sites)}
    travel = travel_table(places, (h.key for h in homes), (s.key for s in sites))
    return Problem(days=days, experts=tuple(experts), demands=tuple(demands), travel=travel)
