"""The pure parts of the demo's cleanroom history: the same arrivals wait less once the
hospitals run their rooms as one list; the history does not depend on the day it stops; the
rooms are never given twice."""

from __future__ import annotations

import itertools
import random
from datetime import date, timedelta

from medcircle.demo import pools as p
from medcircle.pools.schemas import OfferStatus

END = date(2024, 1, 1)
UNTIL = p.at_china(END, 0)


def _arrivals() -> list[p.Arrival]:
    return p.arrivals(random.Random("pools-test"), p.HISTORY_FROM, END)


def test_pooling_lowers_the_median_wait_of_the_same_arrivals() -> None:
    items = _arrivals()
    pooled = p.simulate(items, UNTIL, p.POOLED_SINCE)
    separate = p.simulate(items, UNTIL, None)
    lo = p.POOLED_SINCE + timedelta(days=182)
    with_pool = p.median(pooled.waits("100", lo, END))
    without = p.median(separate.waits("100", lo, END))
    assert with_pool < without / 2, (with_pool, without)
    # before the pool both runs are the same
    before = (p.POOLED_SINCE - timedelta(days=365), p.POOLED_SINCE - timedelta(days=120))
    assert pooled.waits("100", *before) == separate.waits("100", *before)


def test_the_history_does_not_depend_on_where_it_stops() -> None:
    items = _arrivals()
    short = p.simulate(items, p.at_china(date(2022, 1, 1), 0))
    long = p.simulate(items, UNTIL)
    lo, hi = date(2019, 1, 1), date(2021, 1, 1)
    assert short.waits("100", lo, hi) == long.waits("100", lo, hi)


def test_a_room_is_never_given_twice() -> None:
    h = p.simulate(_arrivals(), UNTIL)
    by_unit: dict[str, list[p.SimAdmission]] = {}
    for a in h.admissions:
        by_unit.setdefault(a.unit, []).append(a)
    for stays in by_unit.values():
        for first, then in itertools.pairwise(stays):
            assert first.discharged_at is not None and first.discharged_at <= then.admitted_at
    assert len({a.entry for a in h.admissions}) == len(h.admissions)
    # every offer is the choice of its decision; accepted offers are the admissions
    decisions = {d.number: d for d in h.decisions}
    assert all(decisions[o.decision].chosen == o.entry for o in h.offers)
    accepted = sum(o.status == OfferStatus.ACCEPTED.value for o in h.offers)
    assert accepted == len(h.admissions)
    assert any(o.status == OfferStatus.DECLINED.value and o.reason for o in h.offers)


def test_the_arrivals_are_plausible() -> None:
    items = _arrivals()
    assert all(a.listed_at < UNTIL for a in items)
    assert [a.number for a in items] == list(range(1, len(items) + 1))
    rooms = p.rooms()
    assert sum(r.room_class == "100" for r in rooms) == 20
    assert {r.institution for r in rooms} == {p.BCH, p.BDCH}
