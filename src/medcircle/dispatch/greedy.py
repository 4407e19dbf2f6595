"""A greedy roster, for comparison with the planner only (what a careful person with a
spreadsheet would do): week by week, the demand with the fewest experts who could go first,
each visit to the eligible expert who has been to that site before, else the least loaded,
on their first free day."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import date

from medcircle.dispatch.planner import (
    Assignment,
    Kind,
    Plan,
    Problem,
    _uncovered_visits,
    eligible,
    measure,
    week_of,
    weeks_of,
)


def greedy(
    problem: Problem,
    limits: Mapping[int, int] | None = None,
    blocked: Mapping[int, set[tuple[int, int]]] | None = None,
) -> Plan:
    """The greedy roster; ``limits`` caps each expert's visit days over the horizon and
    ``blocked`` gives weeks an expert cannot visit (a resident then)."""
    weeks = weeks_of(problem.days)
    limits = limits or {}
    blocked = blocked or {}
    busy: set[tuple[int, date]] = set()
    per_week: dict[tuple[int, tuple[int, int]], int] = defaultdict(int)
    load: dict[int, int] = defaultdict(int)
    been: set[tuple[int, str]] = set()
    out: list[Assignment] = []
    visits: dict[tuple[int, int, tuple[int, int]], int] = defaultdict(int)
    specials: set[tuple[int, int]] = set()

    def free(eid: int, day: date, max_days: int) -> bool:
        week = week_of(day)
        return (
            (eid, day) not in busy
            and per_week[(eid, week)] < max_days
            and load[eid] < limits.get(eid, len(problem.days))
            and week not in blocked.get(eid, set())
        )

    for s in sorted(problem.specials, key=lambda s: s.day):
        options = [
            e
            for e in problem.experts
            if eligible(e, s.specialty, s.skill)
            and e.available(s.day)
            and free(e.id, s.day, e.max_days_per_week)
        ]
        if not options:
            continue
        e = min(options, key=lambda e: ((e.id, s.site) not in been, load[e.id], e.id))
        busy.add((e.id, s.day))
        per_week[(e.id, week_of(s.day))] += 1
        load[e.id] += 1
        been.add((e.id, s.site))
        specials.add((e.id, s.id))
        out.append(Assignment(e.id, s.day, s.site, s.specialty, Kind.SPECIAL, s.id))
    candidates = {
        d.id: [e for e in problem.experts if eligible(e, d.specialty, d.skill)]
        for d in problem.demands
    }
    for w, days in weeks.items():
        for d in sorted(problem.demands, key=lambda d: (len(candidates[d.id]), d.id)):
            for _ in range(d.wanted(w)):
                best: tuple[tuple[bool, int, int], int, date] | None = None
                for e in candidates[d.id]:
                    day = next(
                        (x for x in days if e.available(x) and free(e.id, x, e.max_days_per_week)),
                        None,
                    )
                    if day is None:
                        continue
                    rank = ((e.id, d.site) not in been, load[e.id], e.id)
                    if best is None or rank < best[0]:
                        best = (rank, e.id, day)
                if best is None:
                    break
                _, eid, day = best
                busy.add((eid, day))
                per_week[(eid, w)] += 1
                load[eid] += 1
                been.add((eid, d.site))
                visits[(eid, d.id, w)] += 1
                out.append(Assignment(eid, day, d.site, d.specialty, Kind.VISIT, d.id))
    plan = Plan(out, _uncovered_visits(problem, weeks, visits, specials), measure(problem, out))
    return plan
