"""The visiting-expert roster planner (pure: no database, no clock).

Input: the working days of the horizon, the experts (specialty, skills, home, days they cannot
travel, days on leave, at most so many visit days a week), the demand (visits a week per site and
specialty, resident-expert positions, special requests on a date needing a named skill) and the
travel minutes from each home to each site. Output: who goes where on which day, what could not
be covered and why, and the proof of how good the plan is.

Hard rules: specialty and skill match; an expert travels only on days they are available, on at
most ``max_days_per_week`` days a week and to one site a day; a resident position has an
expert every week of the horizon (one not on leave that week; home duties pause while seconded).

Goals, in order (lexicographic):

1. cover as much demand as can be covered;
2. spread the load fairly: the sum over experts of L·(L+1)/2 for L visit days (a convex cost:
   each further visit of an expert costs more than the one before, so loads even out);
3. continuity: as few distinct expert–site pairs as possible (the same expert keeps returning
   to the same site);
4. least travel (round trips, minutes).

How it reaches proven optima quickly (the model, not a looser problem):

- **Aggregate where it is exact.** Weekly visits do not care about the weekday, so the model
  counts visit days per expert, site and week; the days are given afterwards. This is exact:
  an expert with ``k`` visits in a week has at least ``k`` available days that week (the weekly
  capacity is ``min(max_days, available days)``), and special requests, whose day is fixed, are
  at most one per expert and day.
- **Decompose.** Experts and demand fall into independent parts (an expert can serve only their
  specialty), and the parts are solved separately; that is exact too.
- **Use the relaxation.** Goals 1 and 2 are network flows (experts' weekly and daily capacities
  and the demands form laminar families on the two sides of a bipartite graph; the convex load
  cost is a chain of unit arcs), so their linear programs have integral optimal vertices: the
  simplex solution *is* the optimum and its value is the bound. Only goals 3 and 4 need branch
  and bound, warm-started from the flow solution, with the first two goals' optima as
  constraints.
- **Decompose continuity too.** The fewest pairs any roster needs is counted from how experts
  (by fair limit) and sites (by visit days) split into groups whose days balance; that split,
  dealt out to the actual experts and sites, gives small groups each rostered on its own in
  a few milliseconds, a start usually at that count (then branch and bound only has travel
  left to prove).

Resident positions are filled first (a hard rule), preferring one expert for the whole horizon
and the expert whose absence costs the fewest visit days; visits are then planned around them.

Re-planning after a change (an expert cancels, demand changes) keeps the published roster
wherever it is still valid: only the parts touched by the change are solved again, covering as
much as possible first, then changing as few published visit days as possible, then continuity
and travel. Fairness is not re-optimised in a re-plan: stability matters more to those already
travelling.
"""

from __future__ import annotations

import itertools
import math
import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from fractions import Fraction
from typing import Any

import numpy as np

from medcircle.dispatch.lp import Model, Result, Status

Week = tuple[int, int]


class Kind(StrEnum):
    VISIT = "visit"
    SPECIAL = "special"
    RESIDENT = "resident"


class Reason(StrEnum):
    """Why some demand is not covered."""

    # no expert of that specialty in the plan at all
    NO_SPECIALTY = "no_specialty"
    # experts of the specialty exist but none has the skill asked for
    NO_SKILL = "no_skill"
    # the experts who could go are unavailable or at their most visit days that week
    NONE_FREE = "none_free"
    # the experts who could go that day are unavailable or already busy that day
    NONE_FREE_THAT_DAY = "none_free_that_day"


@dataclass(frozen=True)
class Expert:
    id: int
    specialty: str
    # the place they travel from (a key of the travel table)
    home: str
    skills: frozenset[str] = frozenset()
    max_days_per_week: int = 2
    # days with home duties: no visits, but they may be seconded as a resident
    duties: frozenset[date] = frozenset()
    # days of leave: neither visits nor residence
    leave: frozenset[date] = frozenset()

    def available(self, day: date) -> bool:
        return day not in self.duties and day not in self.leave


@dataclass(frozen=True)
class Demand:
    """Visits a week to a site in a specialty."""

    id: int
    site: str
    specialty: str
    visits_per_week: int
    skill: str | None = None
    # the weeks it holds for (ISO year, week); empty: every week of the horizon
    weeks: frozenset[Week] = frozenset()

    def wanted(self, week: Week) -> int:
        return self.visits_per_week if not self.weeks or week in self.weeks else 0


@dataclass(frozen=True)
class Special:
    """One visit on a set day needing a named skill (e.g. an operation)."""

    id: int
    site: str
    specialty: str
    day: date
    skill: str | None = None


@dataclass(frozen=True)
class Resident:
    """A resident-expert position: an expert stationed at the site through the horizon."""

    id: int
    site: str
    specialty: str
    skill: str | None = None
    # the weeks it holds for; empty: every week of the horizon
    weeks: frozenset[Week] = frozenset()

    def wanted(self, week: Week) -> bool:
        return not self.weeks or week in self.weeks


@dataclass(frozen=True)
class Assignment:
    expert_id: int
    day: date
    site: str
    specialty: str
    kind: Kind
    # the Demand, Special or Resident it serves
    demand_id: int


@dataclass(frozen=True)
class Problem:
    # the working days of the horizon, in order
    days: tuple[date, ...]
    experts: tuple[Expert, ...]
    demands: tuple[Demand, ...] = ()
    specials: tuple[Special, ...] = ()
    residents: tuple[Resident, ...] = ()
    # one-way travel minutes from a home to a site
    travel: Mapping[tuple[str, str], int] = field(default_factory=dict)


@dataclass(frozen=True)
class Uncovered:
    kind: Kind
    demand_id: int
    site: str
    specialty: str
    # the Monday of the week (visits, residents) or the day (specials)
    day: date
    missing: int
    reason: Reason
    # how many experts could have gone, had they been free
    candidates: int


@dataclass
class Measures:
    """How good a plan is, by the goals in order."""

    demand: int = 0
    covered: int = 0
    pairs: int = 0
    travel_minutes: int = 0
    max_load: int = 0
    # the continuity-and-travel objective: pair_weight · pairs + travel minutes
    objective: float = 0.0

    @property
    def uncovered(self) -> int:
        return self.demand - self.covered


@dataclass
class Plan:
    assignments: list[Assignment]
    uncovered: list[Uncovered]
    measures: Measures
    # proven: no plan covers more than this (the flow bound)
    coverage_bound: int = 0
    # proven: no plan with that coverage gives any expert a smaller largest share of their
    # available visit days
    share_bound: Fraction = Fraction(0)
    # expert id -> the most visit days fairness allows them (their specialty's least share of
    # their available days)
    limits: dict[int, int] = field(default_factory=dict)
    # proven lower bound on the continuity-and-travel objective
    objective_bound: float = 0.0
    # seconds per stage: residents, coverage, fairness, continuity, days
    seconds: dict[str, float] = field(default_factory=dict)
    # of the parts solved: how many reached proven optimality (within the gap asked for)
    parts: int = 0
    parts_optimal: int = 0
    # in a re-plan: published visit days kept, removed and added
    kept: int = 0
    removed: int = 0
    added: int = 0

    @property
    def gap(self) -> float:
        """Relative gap of the continuity-and-travel objective to its proven bound."""
        obj = self.measures.objective
        return max(0.0, obj - self.objective_bound) / max(obj, 1.0)


@dataclass(frozen=True)
class Settings:
    # the whole solve's time budget (seconds) and the gap at which branch and bound stops
    time_limit: float = 30.0
    gap: float = 0.005
    # parts solved side by side (HiGHS releases the interpreter while it solves)
    workers: int = 2


# --- weeks and helpers -----------------------------------------------------------------------


def week_of(day: date) -> Week:
    iso = day.isocalendar()
    return (iso.year, iso.week)


def weeks_of(days: Sequence[date]) -> dict[Week, list[date]]:
    out: dict[Week, list[date]] = defaultdict(list)
    for d in days:
        out[week_of(d)].append(d)
    return dict(out)


def eligible(expert: Expert, specialty: str, skill: str | None) -> bool:
    return expert.specialty == specialty and (skill is None or skill in expert.skills)


def round_trip(problem: Problem, expert: Expert, site: str) -> int:
    return 2 * int(problem.travel.get((expert.home, site), 0))


def measure(problem: Problem, assignments: Iterable[Assignment]) -> Measures:
    """The measures of any set of assignments (planned, greedy or edited by hand)."""
    experts = {e.id: e for e in problem.experts}
    weeks = weeks_of(problem.days)
    m = Measures(
        demand=sum(d.wanted(w) for d in problem.demands for w in weeks) + len(problem.specials)
    )
    loads: dict[int, int] = defaultdict(int)
    pairs: set[tuple[int, str]] = set()
    for a in assignments:
        if a.kind == Kind.RESIDENT:
            continue
        m.covered += 1
        loads[a.expert_id] += 1
        pairs.add((a.expert_id, a.site))
        m.travel_minutes += round_trip(problem, experts[a.expert_id], a.site)
    m.pairs = len(pairs)
    m.max_load = max(loads.values(), default=0)
    m.objective = pair_weight(problem) * m.pairs + m.travel_minutes
    return m


def pair_weight(problem: Problem) -> float:
    """What one more expert–site pair costs in the continuity-and-travel objective: more than
    all the travel any plan could have, so continuity strictly comes before travel."""
    weeks = weeks_of(problem.days)
    worst = max(problem.travel.values(), default=0) * 2
    visits = sum(d.wanted(w) for d in problem.demands for w in weeks) + len(problem.specials)
    return float(worst * visits + 1)


# --- parts ----------------------------------------------------------------------------------


@dataclass
class _Part:
    experts: list[Expert]
    demands: list[Demand]
    specials: list[Special]


def _parts(problem: Problem) -> list[_Part]:
    """Independent parts: experts and demand joined by who may serve what."""
    by_spec: dict[str, _Part] = {}
    for e in problem.experts:
        by_spec.setdefault(e.specialty, _Part([], [], [])).experts.append(e)
    for d in problem.demands:
        by_spec.setdefault(d.specialty, _Part([], [], [])).demands.append(d)
    for s in problem.specials:
        by_spec.setdefault(s.specialty, _Part([], [], [])).specials.append(s)
    return [by_spec[k] for k in sorted(by_spec) if by_spec[k].demands or by_spec[k].specials]


# --- residents -------------------------------------------------------------------------------


def _plan_residents(
    problem: Problem, published: Mapping[tuple[int, Week], int] | None = None
) -> tuple[dict[tuple[int, Week], int], list[Uncovered]]:
    """(position id, week) -> expert id, filling every week of every position if it can,
    keeping one expert per position, then the published choice, then the expert who loses
    the fewest visit days."""
    weeks = weeks_of(problem.days)
    if not problem.residents:
        return {}, []
    model = Model()
    cols: dict[tuple[int, int, Week], int] = {}
    pair_cols: dict[tuple[int, int], int] = {}
    n_weeks = len(weeks)
    big = 1000.0 * (n_weeks + 1) * max(1, len(problem.residents))
    gaps: dict[tuple[int, Week], int] = {}
    for r in problem.residents:
        for w in weeks:
            if r.wanted(w):
                gaps[(r.id, w)] = model.var(0, 1, big)
    for r in problem.residents:
        for e in problem.experts:
            if not eligible(e, r.specialty, r.skill):
                continue
            pair_cols[(r.id, e.id)] = model.var(0, 1, 10.0 * n_weeks, integer=True)
            for w, days in weeks.items():
                if not r.wanted(w) or any(d in e.leave for d in days):
                    continue
                lost = min(e.max_days_per_week, sum(e.available(d) for d in days))
                keep = published is not None and published.get((r.id, w)) == e.id
                cols[(r.id, e.id, w)] = model.var(
                    0, 1, float(lost) + (0.0 if keep or published is None else 20.0), integer=True
                )
    for r in problem.residents:
        for w in weeks:
            if not r.wanted(w):
                continue
            idx = [c for (rid, _, ww), c in cols.items() if rid == r.id and ww == w]
            model.row([*idx, gaps[(r.id, w)]], [1.0] * (len(idx) + 1), 1, 1)
    by_expert_week: dict[tuple[int, Week], list[int]] = defaultdict(list)
    for (rid, eid, w), c in cols.items():
        by_expert_week[(eid, w)].append(c)
        model.row([c, pair_cols[(rid, eid)]], [1.0, -1.0], -math.inf, 0)
    for idx in by_expert_week.values():
        if len(idx) > 1:
            model.row(idx, [1.0] * len(idx), 0, 1)
    result = model.solve(time_limit=10.0, gap=1e-6)
    chosen: dict[tuple[int, Week], int] = {}
    uncovered: list[Uncovered] = []
    for (rid, eid, w), c in cols.items():
        if result.values[c] > 0.5:
            chosen[(rid, w)] = eid
    for r in problem.residents:
        candidates = sum(1 for e in problem.experts if eligible(e, r.specialty, r.skill))
        for w, days in weeks.items():
            if r.wanted(w) and (r.id, w) not in chosen:
                uncovered.append(
                    Uncovered(
                        Kind.RESIDENT,
                        r.id,
                        r.site,
                        r.specialty,
                        days[0],
                        1,
                        _reason(problem, r.specialty, r.skill, candidates, Reason.NONE_FREE),
                        candidates,
                    )
                )
    return chosen, uncovered


def _reason(
    problem: Problem, specialty: str, skill: str | None, candidates: int, busy: Reason
) -> Reason:
    if candidates:
        return busy
    if skill is not None and any(e.specialty == specialty for e in problem.experts):
        return Reason.NO_SKILL
    return Reason.NO_SPECIALTY


# --- one part: coverage, fairness, continuity ------------------------------------------------


@dataclass
class _Built:
    model: Model
    # (expert id, demand id, week) -> column
    x: dict[tuple[int, int, Week], int]
    # (expert id, special id) -> column
    z: dict[tuple[int, int], int]
    covered_row: list[int]
    # expert id -> all their columns
    by_expert: dict[int, list[int]] = field(default_factory=dict)


def _capacity(
    expert: Expert, weeks: Mapping[Week, list[date]], resident_weeks: set[Week]
) -> dict[Week, int]:
    return {
        w: 0
        if w in resident_weeks
        else min(expert.max_days_per_week, sum(expert.available(d) for d in days))
        for w, days in weeks.items()
    }


def _build(
    problem: Problem,
    part: _Part,
    weeks: Mapping[Week, list[date]],
    residents: Mapping[int, set[Week]],
    *,
    integer: bool,
) -> _Built:
    model = Model()
    x: dict[tuple[int, int, Week], int] = {}
    z: dict[tuple[int, int], int] = {}
    covered: list[int] = []
    by_expert: dict[int, list[int]] = {}
    for e in part.experts:
        cap = _capacity(e, weeks, residents.get(e.id, set()))
        week_cols: dict[Week, list[int]] = defaultdict(list)
        day_cols: dict[date, list[int]] = defaultdict(list)
        for d in part.demands:
            if not eligible(e, d.specialty, d.skill):
                continue
            for w in weeks:
                ub = min(d.wanted(w), cap[w])
                if ub <= 0:
                    continue
                c = model.var(0, ub, integer=integer)
                x[(e.id, d.id, w)] = c
                week_cols[w].append(c)
        for s in part.specials:
            w = week_of(s.day)
            if w not in weeks or cap.get(w, 0) <= 0 or not e.available(s.day):
                continue
            if not eligible(e, s.specialty, s.skill):
                continue
            c = model.var(0, 1, integer=integer)
            z[(e.id, s.id)] = c
            week_cols[w].append(c)
            day_cols[s.day].append(c)
        for w, idx in week_cols.items():
            if sum(model.upper[i] for i in idx) > cap[w]:
                model.row(idx, [1.0] * len(idx), 0, cap[w])
        for idx in day_cols.values():
            if len(idx) > 1:
                model.row(idx, [1.0] * len(idx), 0, 1)
        mine = [c for idx in week_cols.values() for c in idx]
        if mine:
            by_expert[e.id] = mine
        covered.extend(mine)
    for d in part.demands:
        for w in weeks:
            idx = [x[(eid, d.id, w)] for eid in (e.id for e in part.experts) if (eid, d.id, w) in x]
            if sum(model.upper[i] for i in idx) > d.wanted(w):
                model.row(idx, [1.0] * len(idx), 0, d.wanted(w))
    for s in part.specials:
        idx = [c for (eid, sid), c in z.items() if sid == s.id]
        if len(idx) > 1:
            model.row(idx, [1.0] * len(idx), 0, 1)
    return _Built(model, x, z, covered, by_expert)


def _horizon_capacity(
    part: _Part, weeks: Mapping[Week, list[date]], residents: Mapping[int, set[Week]]
) -> dict[int, int]:
    return {
        e.id: sum(_capacity(e, weeks, residents.get(e.id, set())).values()) for e in part.experts
    }


def _covers(
    problem: Problem,
    part: _Part,
    weeks: Mapping[Week, list[date]],
    residents: Mapping[int, set[Week]],
    limits: Mapping[int, int],
) -> int:
    """The most a flow covers with each expert's load within ``limits``."""
    b = _build(problem, part, weeks, residents, integer=False)
    for c in b.covered_row:
        b.model.cost[c] = 1.0
    for eid, idx in b.by_expert.items():
        b.model.row(idx, [1.0] * len(idx), 0, limits[eid])
    r = b.model.solve(maximise=True)
    return round(r.objective) if r.status == Status.OPTIMAL else 0


def _fair_limits(
    problem: Problem,
    part: _Part,
    weeks: Mapping[Week, list[date]],
    residents: Mapping[int, set[Week]],
    coverage: int,
) -> tuple[Fraction, dict[int, int]]:
    """The least share s such that loads of at most floor(s · available days) still cover
    ``coverage``, and those limits. Exact: s is one of the fractions k / days, and whether a
    limit vector covers is a max-flow question (integral), so a binary search over the
    fractions finds the least."""
    capacity = _horizon_capacity(part, weeks, residents)
    candidates = sorted(
        {Fraction(k, c) for c in capacity.values() if c > 0 for k in range(c + 1)} | {Fraction(1)}
    )

    def limits_at(share: Fraction) -> dict[int, int]:
        return {eid: math.floor(share * c) for eid, c in capacity.items()}

    low, high = 0, len(candidates) - 1
    while low < high:
        middle = (low + high) // 2
        if _covers(problem, part, weeks, residents, limits_at(candidates[middle])) >= coverage:
            high = middle
        else:
            low = middle + 1
    return candidates[low], limits_at(candidates[low])


@dataclass
class _PartResult:
    x: dict[tuple[int, int, Week], int]
    z: dict[tuple[int, int], int]
    coverage_bound: int
    share_bound: Fraction
    limits: dict[int, int]
    objective: float
    objective_bound: float
    optimal: bool
    seconds: dict[str, float]


def _solve_part(
    problem: Problem,
    part: _Part,
    weeks: Mapping[Week, list[date]],
    residents: Mapping[int, set[Week]],
    weight: float,
    deadline: float,
    gap: float,
    incumbent: Mapping[tuple[Any, ...], int] | None = None,
) -> _PartResult:
    """Solve one part by the goals in order; ``incumbent``, a plan of it found before, is a
    start to improve on."""
    seconds: dict[str, float] = {}
    # 1. coverage: a flow, the linear program's vertex is integral
    b = _build(problem, part, weeks, residents, integer=False)
    for c in b.covered_row:
        b.model.cost[c] = 1.0
    r1 = b.model.solve(maximise=True, time_limit=max(deadline - time.perf_counter(), 1.0))
    seconds["coverage"] = r1.seconds
    coverage = round(r1.objective) if r1.status == Status.OPTIMAL else 0
    # 2. fairness at that coverage: the least possible largest share of an expert's
    # available visit days (nobody carries more of their time than needed)
    began = time.perf_counter()
    share, limits = _fair_limits(problem, part, weeks, residents, coverage)
    seconds["fairness"] = time.perf_counter() - began
    # the pairs any roster needs, by how the visit days can be grouped (see _fewest_pairs)
    wanted = sum(d.wanted(w) for d in part.demands for w in weeks) + len(part.specials)
    fewest = _fewest_pairs(part, weeks, limits, wanted - coverage, deadline)
    # a good feasible start: the greedy roster within those limits, repaired to full coverage
    # and reshaped for continuity by slope scaling (or the greedy one as is, if better)
    candidates = [
        _packing_start(problem, part, weeks, residents, limits),
        _greedy_start(problem, part, weeks, residents, limits),
    ]
    if incumbent:
        candidates.append((dict(incumbent), coverage))
    # a start from the fewest-pairs grouping (dealt differently when improving on a plan),
    # repaired to full coverage if it falls short
    now = time.perf_counter()
    grouped: dict[tuple[Any, ...], int] = {}
    covers = 0
    if not incumbent or deadline - now > 1.0:
        grouped, covers = _grouped_start(
            problem,
            part,
            weeks,
            residents,
            limits,
            coverage,
            weight,
            now + (deadline - now) / 4,
            fewest,
            1 if incumbent else 0,
        )
    if grouped:
        candidates.append((grouped, covers))
        if covers < coverage:
            repaired = _slope_scaling(
                problem, part, weeks, residents, coverage, limits, weight, deadline, grouped, 1
            )
            if repaired:
                candidates.append((repaired, coverage))
    full = [counts for counts, covers in candidates if covers >= coverage]
    seed = min(
        (counts for counts, _ in candidates),
        key=lambda c: (
            _value(problem, part, c, weight) - weight * len(part.experts) * sum(c.values())
        ),
    )
    shaped = _slope_scaling(
        problem, part, weeks, residents, coverage, limits, weight, deadline, seed
    )
    shaped = min(
        [*full, *([shaped] if shaped else [])],
        key=lambda c: _value(problem, part, c, weight),
        default=shaped,
    )
    # 3. continuity and travel with the first two goals held at their optima
    b = _build(problem, part, weeks, residents, integer=True)
    b.model.row(b.covered_row, [1.0] * len(b.covered_row), coverage, math.inf)
    for eid, idx in b.by_expert.items():
        b.model.row(idx, [1.0] * len(idx), 0, limits[eid])
    experts = {e.id: e for e in part.experts}
    sites = {d.id: d.site for d in part.demands} | {}
    special_sites = {s.id: s.site for s in part.specials}
    pair_cols: dict[tuple[int, str], int] = {}

    def pair(eid: int, site: str) -> int:
        key = (eid, site)
        if key not in pair_cols:
            pair_cols[key] = b.model.var(0, 1, weight, integer=True)
        return pair_cols[key]

    by_pair: dict[tuple[int, str], list[int]] = defaultdict(list)
    for (eid, did, _), c in b.x.items():
        site = sites[did]
        b.model.cost[c] = float(round_trip(problem, experts[eid], site))
        b.model.row([c, pair(eid, site)], [1.0, -b.model.upper[c]], -math.inf, 0)
        by_pair[(eid, site)].append(c)
    # and over the horizon: a pair carries at most what the expert may give in all (a much
    # tighter link for the relaxation when visits are spread over the weeks)
    for (eid, site), cols in by_pair.items():
        if len(cols) > 1:
            most = min(float(limits.get(eid, 0)), sum(b.model.upper[c] for c in cols))
            b.model.row([*cols, pair(eid, site)], [1.0] * len(cols) + [-most], -math.inf, 0)
    for (eid, sid), c in b.z.items():
        site = special_sites[sid]
        b.model.cost[c] = float(round_trip(problem, experts[eid], site))
        b.model.row([c, pair(eid, site)], [1.0, -1.0], -math.inf, 0)
    short = _demand_cuts(b, part, weeks, limits, pair, wanted - coverage)
    if fewest > 0 and pair_cols:
        cols = list(pair_cols.values())
        b.model.row(cols, [1.0] * len(cols), fewest, math.inf)
    start = np.zeros(b.model.num_cols)
    for xkey, c in b.x.items():
        start[c] = shaped.get(xkey, 0)
    for zkey, c in b.z.items():
        start[c] = shaped.get(zkey, 0)
    for v, total, cols, _ in short:
        start[v] = 1.0 if sum(start[c] for c in cols) < total else 0.0
    for (eid, did, _), c in b.x.items():
        if start[c] > 0:
            start[pair(eid, sites[did])] = 1.0
    for (eid, sid), c in b.z.items():
        if start[c] > 0:
            start[pair(eid, special_sites[sid])] = 1.0
    # improve the start by solving small neighbourhoods (a few sites freed, the rest fixed)
    groups: dict[str, list[int]] = defaultdict(list)
    for (_, site), c in pair_cols.items():
        groups[site].append(c)
    for (_, did, _), c in b.x.items():
        groups[sites[did]].append(c)
    for (_, sid), c in b.z.items():
        groups[special_sites[sid]].append(c)
    for v, _, _, site in short:
        groups[site].append(v)
    pairs_at: dict[str, list[int]] = defaultdict(list)
    expert_cols: dict[int, list[int]] = defaultdict(list)
    for (eid, site), c in pair_cols.items():
        pairs_at[site].append(c)
        expert_cols[eid].append(c)
    for (eid, _, _), c in b.x.items():
        expert_cols[eid].append(c)
    for (eid, _), c in b.z.items():
        expert_cols[eid].append(c)
    # the relaxation's bound first: branch and bound stopped early may not have one yet
    root = b.model.solve(relax=True, time_limit=max(deadline - time.perf_counter(), 0.05))
    now = time.perf_counter()
    start = _neighbourhoods(
        b.model, start, groups, pairs_at, expert_cols, now + (deadline - now) * LNS_SHARE
    )
    start_objective = float(np.dot(start, np.asarray(b.model.cost)))
    r3 = b.model.solve(time_limit=max(deadline - time.perf_counter(), 0.05), gap=gap, start=start)
    seconds["continuity"] = r3.seconds + root.seconds
    if root.status == Status.OPTIMAL and not (r3.bound >= root.objective):
        r3.bound = root.objective
    # the counting bound holds whatever the solver reached (travel is never negative)
    if not (r3.bound >= weight * fewest):
        r3.bound = weight * fewest
    values, objective, bound, optimal = _best(r3, start, start_objective)
    x = {k: round(values[c]) for k, c in b.x.items() if values[c] > 0.5}
    z = {k: 1 for k, c in b.z.items() if values[c] > 0.5}
    return _PartResult(x, z, coverage, share, limits, objective, bound, optimal, seconds)


def _demand_cuts(
    b: _Built,
    part: _Part,
    weeks: Mapping[Week, list[date]],
    limits: Mapping[int, int],
    pair: Callable[[int, str], int],
    shortfall: int,
) -> list[tuple[int, int, list[int], str]]:
    """Valid inequalities that lift the relaxation's bound: a demand covered in full needs at
    least ceil(T / M) experts, T its visit days over the horizon and M the most any one expert
    can give it (their fair limit, their weekly capacity, its weekly visits). A binary per
    demand marks it short of full cover (the coverage total allows few such)."""
    out: list[tuple[int, int, list[int], str]] = []
    by_demand: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for (eid, did, _), c in b.x.items():
        by_demand[did].append((eid, c))
    for d in part.demands:
        cols = by_demand.get(d.id, [])
        total = sum(d.wanted(w) for w in weeks)
        if total <= 0 or not cols:
            continue
        can_give: dict[int, float] = defaultdict(float)
        for eid, c in cols:
            can_give[eid] += b.model.upper[c]
        most = max(min(limits.get(eid, 0), int(v)) for eid, v in can_give.items())
        if most <= 0:
            continue
        need = math.ceil(total / most)
        short = b.model.var(0, 1, 0.0, integer=True)
        # uncovered visit days of d (total - covered) <= total * short
        b.model.row(
            [c for _, c in cols] + [short], [1.0] * len(cols) + [float(total)], total, math.inf
        )
        # experts serving d >= need * (1 - short)
        ys = [pair(eid, d.site) for eid in can_give]
        b.model.row([*ys, short], [1.0] * len(ys) + [float(need)], need, math.inf)
        out.append((short, total, [c for _, c in cols], d.site))
    # each demand short of full cover misses at least one visit day: no more of them than
    # the visit days the best coverage leaves out
    if out:
        b.model.row([v for v, _, _, _ in out], [1.0] * len(out), 0, float(max(shortfall, 0)))
    return out


# the share of a part's time spent improving its start, sites freed at once, seconds per try
LNS_SHARE = 0.6
LNS_SITES = 3
LNS_SECONDS = 0.25
# or the experts freed at once
LNS_EXPERTS = 3


def _neighbourhoods(
    model: Model,
    start: np.ndarray,
    groups: Mapping[str, list[int]],
    pairs_at: Mapping[str, list[int]],
    by_expert: Mapping[int, list[int]],
    until: float,
) -> np.ndarray:
    """Large neighbourhood search: again and again free a small part of the plan and fix the
    rest at the best plan so far, and let branch and bound re-plan the freed part; keep what
    is better. The parts freed take turns: a few sites (half of them served by more than one
    expert) with all their experts' visits there, or all the visits of a few experts."""
    rng = random.Random(7)
    best: np.ndarray = np.rint(start)
    cost = np.asarray(model.cost)
    value = float(np.dot(best, cost))
    sites = sorted(groups)
    experts = sorted(by_expert)
    if len(sites) < 3:
        return np.asarray(best)
    lower, upper = list(model.lower), list(model.upper)
    turn = 0
    while time.perf_counter() < until - 0.05:
        turn += 1
        free: set[int] = set()
        if turn % 2 and len(experts) > LNS_EXPERTS:
            for eid in rng.sample(experts, LNS_EXPERTS):
                free.update(by_expert[eid])
        else:
            size = min(len(sites) - 1, LNS_SITES)
            split = [s for s in sites if sum(best[c] for c in pairs_at.get(s, [])) > 1]
            chosen = set(rng.sample(split, min(len(split), size // 2 + size % 2)))
            rest = [s for s in sites if s not in chosen]
            chosen |= set(rng.sample(rest, min(len(rest), size - len(chosen))))
            for site in chosen:
                free.update(groups[site])
        for cols in groups.values():
            for c in cols:
                if c not in free:
                    model.lower[c] = model.upper[c] = float(best[c])
        r = model.solve(
            time_limit=min(LNS_SECONDS, max(until - time.perf_counter(), 0.05)),
            gap=1e-6,
            start=best,
        )
        model.lower[:], model.upper[:] = lower, upper
        if r.status in (Status.OPTIMAL, Status.TIME_LIMIT) and r.objective < value - 1e-6:
            best, value = np.rint(r.values), r.objective
    return np.asarray(best)


# groups of up to this many nodes (experts and sites) are enumerated by kind; larger ones are
# free-form (each with integer counts per kind)
GROUP_NODES = 8


def _fewest_pairs(
    part: _Part,
    weeks: Mapping[Week, list[date]],
    limits: Mapping[int, int],
    shortfall: int,
    deadline: float,
) -> int:
    """A lower bound on the expert-site pairs of any roster of the part, by counting: the
    pairs form a graph of experts and sites, and a graph with n nodes in c connected parts has
    at least n - c edges. In each connected part the experts' visit days add up to the sites'
    (up to the few days coverage leaves out), no expert over their fair limit, each with a day
    at least. So the fewest pairs is at least the least sum over groups of (nodes - 1) over the
    ways to split experts and sites into such balanced groups: a small integer program over
    group kinds (experts by limit, sites by visit days): every group of up to ``GROUP_NODES``
    nodes by kind, and the larger groups taken together. Skills, days and weeks are left out,
    which only loosens it: the bound stays valid. Enumerating larger groups one by one only
    tightens it (eight nodes rather than six lift it by up to two pairs in the tight
    specialties)."""
    expert_kinds = Counter(v for eid, v in limits.items() if v > 0)
    # a pair is an expert and a site: the demands of one site are one node
    by_site: Counter[str] = Counter()
    for d in part.demands:
        by_site[d.site] += sum(d.wanted(w) for w in weeks)
    for sp in part.specials:
        by_site[sp.site] += 1
    demand_kinds = Counter(t for t in by_site.values() if t > 0)
    if not expert_kinds or not demand_kinds:
        return 0
    ek, dk = sorted(expert_kinds), sorted(demand_kinds)
    nodes = sum(expert_kinds.values()) + sum(demand_kinds.values())
    m = Model()
    e_rows: dict[int, list[tuple[int, float]]] = defaultdict(list)
    d_rows: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for a in range(1, GROUP_NODES):
        for experts in itertools.combinations_with_replacement(ek, a):
            e_count = Counter(experts)
            if any(n > expert_kinds[k] for k, n in e_count.items()):
                continue
            room = sum(experts)
            for b in range(1, GROUP_NODES + 1 - a):
                for demands in itertools.combinations_with_replacement(dk, b):
                    d_count = Counter(demands)
                    if any(n > demand_kinds[k] for k, n in d_count.items()):
                        continue
                    need = sum(demands)
                    if room + shortfall < need or need + shortfall < a:
                        continue
                    col = m.var(0, math.inf, float(a + b - 1), integer=True)
                    for k, n in e_count.items():
                        e_rows[k].append((col, float(n)))
                    for k, n in d_count.items():
                        d_rows[k].append((col, float(n)))
    # groups of more than GROUP_NODES nodes, taken together (the sum of their own balances):
    # how many there are, and how many experts and sites of each kind they hold
    groups = m.var(0, nodes // (GROUP_NODES + 1), -1.0, integer=True)
    ge = {k: m.var(0, expert_kinds[k], 1.0, integer=True) for k in ek}
    gd = {k: m.var(0, demand_kinds[k], 1.0, integer=True) for k in dk}
    counts = [*ge.values(), *gd.values()]
    m.row([*counts, groups], [1.0] * len(counts) + [-float(GROUP_NODES + 1)], 0, math.inf)
    m.row([*ge.values(), groups], [1.0] * len(ge) + [-1.0], 0, math.inf)
    m.row([*gd.values(), groups], [1.0] * len(gd) + [-1.0], 0, math.inf)
    # the experts' limits hold the sites' days, and each expert has a day
    m.row(
        [*counts, groups],
        [float(k) for k in ek] + [-float(k) for k in dk] + [float(shortfall)],
        0,
        math.inf,
    )
    m.row(
        [*counts, groups],
        [-1.0] * len(ek) + [float(k) for k in dk] + [float(shortfall)],
        0,
        math.inf,
    )
    for k in ek:
        e_rows[k].append((ge[k], 1.0))
    for k in dk:
        d_rows[k].append((gd[k], 1.0))
    # sites left out whole, within the shortfall
    dropped = {k: m.var(0, demand_kinds[k], 0.0, integer=True) for k in dk if k <= shortfall}
    if dropped:
        m.row(list(dropped.values()), [float(k) for k in dropped], 0, float(shortfall))
    for k in ek:
        m.row([c for c, _ in e_rows[k]], [n for _, n in e_rows[k]], 0, expert_kinds[k])
    for k in dk:
        extra = [dropped[k]] if k in dropped else []
        m.row(
            [*(c for c, _ in d_rows[k]), *extra],
            [n for _, n in d_rows[k]] + [1.0] * len(extra),
            demand_kinds[k],
            demand_kinds[k],
        )
    # a small program, and the bound holds even when it stops early: never skipped
    budget = max(0.5, min(1.0, max(deadline - time.perf_counter(), 0.0) / 4))
    r = m.solve(time_limit=budget, gap=1e-9)
    if r.status in (Status.OPTIMAL, Status.TIME_LIMIT) and math.isfinite(r.bound):
        return max(0, math.ceil(r.bound - 1e-6))
    # stopped before its first bound: the linear relaxation's (weaker, still valid)
    lp = m.solve(relax=True, time_limit=budget)
    if lp.status != Status.OPTIMAL:
        return 0
    return max(0, math.ceil(lp.objective - 1e-6))


# groups of up to this many nodes are tried when a start is built from a grouping: the
# smaller size first (quick), the larger when that falls short of the fewest-pairs count
START_GROUP_NODES = (7, 10)
# most kinds of group enumerated for that
START_GROUP_KINDS = 20000


def _grouping(
    part: _Part,
    weeks: Mapping[Week, list[date]],
    limits: Mapping[int, int],
    shortfall: int,
    slack: int,
    until: float,
    size: int,
) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """For a start (not a bound): the split of experts (by limit) and sites (by visit days)
    into groups of up to ``size`` nodes whose days balance, with the fewest pairs (nodes -
    groups). Each group is (the experts' limits, the sites' visit days); empty when no such
    split is found in time."""
    expert_kinds = Counter(v for v in limits.values() if v > 0)
    by_site = _site_days(part, weeks)
    demand_kinds = Counter(t for t in by_site.values() if t > 0)
    if not expert_kinds or not demand_kinds:
        return []
    ek, dk = sorted(expert_kinds), sorted(demand_kinds)
    m = Model()
    kinds: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
    e_rows: dict[int, list[tuple[int, float]]] = defaultdict(list)
    d_rows: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for a in range(1, size):
        for experts in itertools.combinations_with_replacement(ek, a):
            e_count = Counter(experts)
            if any(n > expert_kinds[k] for k, n in e_count.items()):
                continue
            room = sum(experts)
            for b in range(1, size + 1 - a):
                for demands in itertools.combinations_with_replacement(dk, b):
                    d_count = Counter(demands)
                    if any(n > demand_kinds[k] for k, n in d_count.items()):
                        continue
                    need = sum(demands)
                    if room + shortfall < need or need < a or room - need > slack + shortfall:
                        continue
                    col = m.var(0, math.inf, float(a + b - 1), integer=True)
                    kinds.append((experts, demands))
                    for k, n in e_count.items():
                        e_rows[k].append((col, float(n)))
                    for k, n in d_count.items():
                        d_rows[k].append((col, float(n)))
                    if len(kinds) >= START_GROUP_KINDS:
                        break
    if not kinds:
        return []
    for k in ek:
        m.row([c for c, _ in e_rows[k]], [n for _, n in e_rows[k]], 0, expert_kinds[k])
    for k in dk:
        if not d_rows[k]:
            return []
        m.row([c for c, _ in d_rows[k]], [n for _, n in d_rows[k]], 0, demand_kinds[k])
    # every site in a group; when some demand cannot be covered, the groups may hold less
    # than their sites' days in all by at most that shortfall
    cols = list(range(len(kinds)))
    m.row(cols, [float(len(g[1])) for g in kinds], sum(demand_kinds.values()), math.inf)
    m.row(
        cols,
        [float(max(0, sum(g[1]) - sum(g[0]))) for g in kinds],
        0,
        float(shortfall),
    )
    r = m.solve(time_limit=min(1.0, max(0.3, (until - time.perf_counter()) / 2)), gap=1e-9)
    if r.status not in (Status.OPTIMAL, Status.TIME_LIMIT):
        return []
    out: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
    for g, c in zip(kinds, cols, strict=True):
        out.extend([g] * round(r.values[c]))
    return out


def _site_days(part: _Part, weeks: Mapping[Week, list[date]]) -> Counter[str]:
    """Visit days over the horizon per site of the part."""
    by_site: Counter[str] = Counter()
    for d in part.demands:
        by_site[d.site] += sum(d.wanted(w) for w in weeks)
    for sp in part.specials:
        by_site[sp.site] += 1
    return by_site


def _small_roster(
    problem: Problem,
    part: _Part,
    weeks: Mapping[Week, list[date]],
    residents: Mapping[int, set[Week]],
    limits: Mapping[int, int],
    weight: float,
    seconds: float,
    target: int = 0,
) -> tuple[dict[tuple[Any, ...], int], int]:
    """A good roster of a small part by the goals after fairness (coverage, then pairs,
    then travel), within ``limits``: counts per column key, and how much it covers. With
    ``target``, first a roster covering that much with at least one pair fewer than the
    part's nodes (what a connected group needs, so the search stops there)."""
    if target:
        found = _small_roster_at(problem, part, weeks, residents, limits, weight, seconds, target)
        if found[1] >= target:
            return found
    b = _build(problem, part, weeks, residents, integer=False)
    for c in b.covered_row:
        b.model.cost[c] = 1.0
    for eid, idx in b.by_expert.items():
        b.model.row(idx, [1.0] * len(idx), 0, limits.get(eid, 0))
    r1 = b.model.solve(maximise=True, time_limit=seconds)
    if r1.status != Status.OPTIMAL:
        return {}, 0
    return _small_roster_at(
        problem, part, weeks, residents, limits, weight, seconds, 0, round(r1.objective)
    )


def _small_roster_at(
    problem: Problem,
    part: _Part,
    weeks: Mapping[Week, list[date]],
    residents: Mapping[int, set[Week]],
    limits: Mapping[int, int],
    weight: float,
    seconds: float,
    target: int,
    coverage: int = 0,
) -> tuple[dict[tuple[Any, ...], int], int]:
    coverage = max(coverage, target)
    b = _build(problem, part, weeks, residents, integer=True)
    b.model.row(b.covered_row, [1.0] * len(b.covered_row), coverage, math.inf)
    for eid, idx in b.by_expert.items():
        b.model.row(idx, [1.0] * len(idx), 0, limits.get(eid, 0))
    experts = {e.id: e for e in part.experts}
    sites = {d.id: d.site for d in part.demands}
    special_sites = {s.id: s.site for s in part.specials}
    pair_cols: dict[tuple[int, str], int] = {}
    keyed: list[tuple[tuple[Any, ...], int, int, str]] = [
        (k, c, k[0], sites[k[1]]) for k, c in b.x.items()
    ] + [(k, c, k[0], special_sites[k[1]]) for k, c in b.z.items()]
    for _, c, eid, site in keyed:
        if (eid, site) not in pair_cols:
            pair_cols[(eid, site)] = b.model.var(0, 1, weight, integer=True)
        b.model.cost[c] = float(round_trip(problem, experts[eid], site))
        b.model.row([c, pair_cols[(eid, site)]], [1.0, -b.model.upper[c]], -math.inf, 0)
    if target:
        nodes = len(part.experts) + len({site for _, _, _, site in keyed})
        cols = list(pair_cols.values())
        b.model.row(cols, [1.0] * len(cols), nodes - 1, math.inf)
        # the pairs alone first (a roster with that many is optimal at once), then the
        # least travel on the pairs found (a flow on them)
        full_cost = list(b.model.cost)
        b.model.cost[:] = [0.0] * b.model.num_cols
        for c in cols:
            b.model.cost[c] = 1.0
        r = b.model.solve(time_limit=seconds, gap=1e-9)
        if r.status not in (Status.OPTIMAL, Status.TIME_LIMIT):
            return {}, 0
        for c in cols:
            if r.values[c] < 0.5:
                b.model.upper[c] = 0.0
        b.model.cost[:] = full_cost
        again = b.model.solve(time_limit=seconds, gap=1e-6, start=r.values)
        if again.status in (Status.OPTIMAL, Status.TIME_LIMIT):
            r = again
    else:
        r = b.model.solve(time_limit=seconds, gap=1e-6)
    if r.status not in (Status.OPTIMAL, Status.TIME_LIMIT):
        return {}, 0
    counts = {k: round(r.values[c]) for k, c, _, _ in keyed if r.values[c] > 0.5}
    return counts, sum(counts.values())


def _grouped_start(
    problem: Problem,
    part: _Part,
    weeks: Mapping[Week, list[date]],
    residents: Mapping[int, set[Week]],
    limits: Mapping[int, int],
    coverage: int,
    weight: float,
    until: float,
    fewest: int = 0,
    attempt: int = 0,
) -> tuple[dict[tuple[Any, ...], int], int]:
    """A start built from the fewest-pairs grouping: experts and sites dealt into groups of
    the kinds it chose (sites with the experts nearest them), each group rostered on its own
    (a tiny program); a group that cannot cover its days swaps experts of the same limit with
    other groups. Counts per column key and how much it covers; empty if no grouping."""
    by_site = _site_days(part, weeks)
    wanted = sum(by_site.values())
    slack = sum(v for v in limits.values() if v > 0) - coverage
    kinds: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
    for size in START_GROUP_NODES:
        if kinds and (
            sum(len(a) + len(b) - 1 for a, b in kinds) <= fewest or time.perf_counter() > until
        ):
            break
        found = _grouping(part, weeks, limits, wanted - coverage, slack, until, size)
        if found and (
            not kinds
            or sum(len(a) + len(b) - 1 for a, b in found)
            < sum(len(a) + len(b) - 1 for a, b in kinds)
        ):
            kinds = found
    if not kinds:
        return {}, 0
    rng = random.Random(11 + attempt)
    free_sites: dict[int, list[str]] = defaultdict(list)
    for site in sorted(by_site):
        free_sites[by_site[site]].append(site)
    caps = {e.id: _capacity(e, weeks, residents.get(e.id, set())) for e in part.experts}
    free_experts: dict[int, list[Expert]] = defaultdict(list)
    for e in part.experts:
        if limits.get(e.id, 0) > 0:
            free_experts[limits[e.id]].append(e)
    site_week: dict[str, Counter[Week]] = defaultdict(Counter)
    for d in part.demands:
        for w in weeks:
            site_week[d.site][w] += d.wanted(w)
    for sp in part.specials:
        site_week[sp.site][week_of(sp.day)] += 1
    groups: list[tuple[list[Expert], list[str]]] = []
    for expert_kinds, site_kinds in sorted(kinds, key=lambda g: -len(g[0]) - len(g[1])):
        chosen_sites = [free_sites[t].pop(rng.randrange(len(free_sites[t]))) for t in site_kinds]
        # the week's visit days the experts chosen so far cannot give
        left = Counter[Week]()
        for s in chosen_sites:
            left.update(site_week[s])
        chosen: list[Expert] = []
        for k in sorted(expert_kinds, reverse=True):
            # the expert of that limit who leaves the fewest of those days, then the nearest
            fit = {
                i: (
                    sum(max(0, n - caps[x.id].get(w, 0)) for w, n in left.items()),
                    sum(round_trip(problem, x, s) for s in chosen_sites),
                    x.id,
                )
                for i, x in enumerate(free_experts[k])
            }
            e = free_experts[k][min(fit, key=fit.__getitem__)]
            free_experts[k].remove(e)
            chosen.append(e)
            for w in left:
                left[w] = max(0, left[w] - caps[e.id].get(w, 0))
        groups.append((chosen, chosen_sites))
    spare = [e for pool in free_experts.values() for e in pool]
    demands_at: dict[str, list[Demand]] = defaultdict(list)
    for d in part.demands:
        demands_at[d.site].append(d)
    specials_at: dict[str, list[Special]] = defaultdict(list)
    for sp in part.specials:
        specials_at[sp.site].append(sp)

    def roster(g: tuple[list[Expert], list[str]]) -> tuple[dict[tuple[Any, ...], int], int]:
        experts, sites = g
        sub = _Part(
            list(experts),
            [d for s in sites for d in demands_at[s]],
            [sp for s in sites for sp in specials_at[s]],
        )
        target = min(sum(by_site[s] for s in sites), sum(limits[e.id] for e in experts))
        return _small_roster(problem, sub, weeks, residents, limits, weight, 0.2, target)

    results = [roster(g) for g in groups]
    need = [min(sum(by_site[s] for s in g[1]), sum(limits[e.id] for e in g[0])) for g in groups]
    # a group short of its days swaps an expert with one of the same limit: one not in any
    # group, or one of another group that stays whole
    for i in range(len(groups)):
        for ei in range(len(groups[i][0])):
            if results[i][1] >= need[i] or time.perf_counter() > until:
                break
            lim = limits[groups[i][0][ei].id]
            for e in [e for e in spare if limits[e.id] == lim]:
                if time.perf_counter() > until:
                    break
                a = (list(groups[i][0]), groups[i][1])
                a[0][ei] = e
                ra = roster(a)
                if ra[1] > results[i][1]:
                    spare[spare.index(e)] = groups[i][0][ei]
                    groups[i], results[i] = a, ra
                    break
            else:
                for j in rng.sample(range(len(groups)), len(groups)):
                    if time.perf_counter() > until:
                        break
                    same = [k for k, e in enumerate(groups[j][0]) if limits[e.id] == lim]
                    if j == i or not same:
                        continue
                    ej = same[0]
                    a = (list(groups[i][0]), groups[i][1])
                    b = (list(groups[j][0]), groups[j][1])
                    a[0][ei], b[0][ej] = b[0][ej], a[0][ei]
                    ra = roster(a)
                    if ra[1] <= results[i][1]:
                        continue
                    rb = roster(b)
                    if rb[1] >= min(need[j], results[j][1]):
                        groups[i], groups[j] = a, b
                        results[i], results[j] = ra, rb
                        break
    counts: dict[tuple[Any, ...], int] = {}
    for c, _ in results:
        counts.update(c)
    return counts, sum(n for _, n in results)


def _packing_start(
    problem: Problem,
    part: _Part,
    weeks: Mapping[Week, list[date]],
    residents: Mapping[int, set[Week]],
    limits: Mapping[int, int],
) -> tuple[dict[tuple[Any, ...], int], int]:
    """Demand by demand, largest first, each given to as few experts as it can: the expert
    who can give it the most (within their fair limit and weekly capacity) takes all they
    can, then the next. Special requests go first to whoever has the skill that day."""
    cap = {e.id: _capacity(e, weeks, residents.get(e.id, set())) for e in part.experts}
    left = {e.id: limits.get(e.id, 0) for e in part.experts}
    experts = {e.id: e for e in part.experts}
    counts: dict[tuple[Any, ...], int] = {}
    busy: set[tuple[int, date]] = set()
    covered = 0
    for s in sorted(part.specials, key=lambda s: s.day):
        w = week_of(s.day)
        options = [
            e
            for e in part.experts
            if eligible(e, s.specialty, s.skill)
            and e.available(s.day)
            and cap[e.id].get(w, 0) > 0
            and left[e.id] > 0
            and (e.id, s.day) not in busy
        ]
        if options:
            e = max(options, key=lambda e: (left[e.id], -e.id))
            cap[e.id][w] -= 1
            left[e.id] -= 1
            busy.add((e.id, s.day))
            counts[(e.id, s.id)] = 1
            covered += 1

    def can_give(eid: int, d: Demand, need: Mapping[Week, int]) -> int:
        return min(left[eid], sum(min(need[w], cap[eid].get(w, 0)) for w in weeks))

    for d in sorted(part.demands, key=lambda d: (-sum(d.wanted(w) for w in weeks), d.id)):
        need = {w: d.wanted(w) for w in weeks}
        while sum(need.values()) > 0:
            able = [
                x.id
                for x in part.experts
                if eligible(experts[x.id], d.specialty, d.skill) and can_give(x.id, d, need) > 0
            ]
            if not able:
                break
            total = sum(need.values())
            # one who can take it all, the least spare capacity left over; else the most
            whole = [eid for eid in able if can_give(eid, d, need) >= total]
            if whole:
                eid = min(whole, key=lambda x: (left[x] - total, x))
            else:
                eid = max(able, key=lambda x: (can_give(x, d, need), -x))
            for w in weeks:
                give = min(need[w], cap[eid].get(w, 0), left[eid])
                if give > 0:
                    counts[(eid, d.id, w)] = counts.get((eid, d.id, w), 0) + give
                    need[w] -= give
                    cap[eid][w] -= give
                    left[eid] -= give
                    covered += give
    return counts, covered


def _greedy_start(
    problem: Problem,
    part: _Part,
    weeks: Mapping[Week, list[date]],
    residents: Mapping[int, set[Week]],
    limits: Mapping[int, int],
) -> tuple[dict[tuple[Any, ...], int], int]:
    """The greedy roster of the part within ``limits`` as counts per column key, and how much
    it covers."""
    from medcircle.dispatch.greedy import greedy

    sub = Problem(
        days=problem.days,
        experts=tuple(part.experts),
        demands=tuple(part.demands),
        specials=tuple(part.specials),
        travel=problem.travel,
    )
    found = greedy(sub, limits, residents)
    counts: dict[tuple[Any, ...], int] = defaultdict(int)
    for a in found.assignments:
        if a.kind == Kind.VISIT:
            counts[(a.expert_id, a.demand_id, week_of(a.day))] += 1
        else:
            counts[(a.expert_id, a.demand_id)] = 1
    return dict(counts), found.measures.covered


def _pair_of(part: _Part, key: tuple[Any, ...]) -> tuple[int, str]:
    if len(key) == 3:
        return (key[0], next(d.site for d in part.demands if d.id == key[1]))
    return (key[0], next(s.site for s in part.specials if s.id == key[1]))


def _value(
    problem: Problem, part: _Part, counts: Mapping[tuple[Any, ...], int], weight: float
) -> float:
    """The continuity-and-travel objective of counts per column key."""
    experts = {e.id: e for e in part.experts}
    pairs = {_pair_of(part, k) for k, n in counts.items() if n > 0}
    travel = sum(
        n * round_trip(problem, experts[k[0]], _pair_of(part, k)[1]) for k, n in counts.items()
    )
    return weight * len(pairs) + travel


def _slope_scaling(
    problem: Problem,
    part: _Part,
    weeks: Mapping[Week, list[date]],
    residents: Mapping[int, set[Week]],
    coverage: int,
    limits: Mapping[int, int],
    weight: float,
    deadline: float,
    seed: Mapping[tuple[Any, ...], int] | None = None,
    rounds: int = 12,
) -> dict[tuple[Any, ...], int]:
    """A plan covering ``coverage`` with no load above ``limits`` and few expert-site pairs:
    dynamic slope scaling, the classic heuristic for fixed-charge flows. Each round solves the
    flow with each pair's fixed cost spread over the visits it carried in the round before;
    every round's answer is integral (still a flow)."""
    b = _build(problem, part, weeks, residents, integer=False)
    experts = {e.id: e for e in part.experts}
    site_of = {d.id: d.site for d in part.demands}
    special_site = {s.id: s.site for s in part.specials}
    keys: list[tuple[Any, ...]] = []
    cols: list[int] = []
    pairs: list[tuple[int, str]] = []
    mine: dict[int, list[int]] = defaultdict(list)
    for key, c in b.x.items():
        keys.append(key)
        cols.append(c)
        pairs.append((key[0], site_of[key[1]]))
        mine[key[0]].append(c)
    for zkey, c in b.z.items():
        keys.append(zkey)
        cols.append(c)
        pairs.append((zkey[0], special_site[zkey[1]]))
        mine[zkey[0]].append(c)
    for eid, idx in mine.items():
        b.model.row(idx, [1.0] * len(idx), 0, limits[eid])
    b.model.row(b.covered_row, [1.0] * len(b.covered_row), coverage, math.inf)
    travel = np.array(
        [float(round_trip(problem, experts[eid], site)) for eid, site in pairs], dtype=np.float64
    )
    capacity: dict[tuple[int, str], float] = defaultdict(float)
    for pair, c in zip(pairs, cols, strict=True):
        capacity[pair] += b.model.upper[c]
    lp = b.model.relaxation()
    cost = np.zeros(b.model.num_cols)
    col_index = np.asarray(cols, dtype=np.int64)
    # with a seed, the first round repairs it: its pairs are free, any other pair costs its
    # whole fixed charge per visit day, so the fewest new pairs fill what the seed left out
    seeded: dict[tuple[int, str], float] = defaultdict(float)
    for key, n in (seed or {}).items():
        seeded[_pair_of(part, key)] += n
    if seed:
        slope = np.array([0.0 if seeded[p] > 0 else weight for p in pairs], dtype=np.float64)
    else:
        slope = np.array([weight / max(capacity[p], 1.0) for p in pairs], dtype=np.float64)
    best: dict[tuple[Any, ...], int] = {}
    best_value = math.inf
    seen: set[bytes] = set()
    for turn in range(rounds):
        # the first round always: it is the repaired start
        if turn and time.perf_counter() > deadline:
            break
        cost[col_index] = slope + travel
        values = lp.solve(cost)
        if values is None:
            break
        flow = np.rint(values[col_index])
        carried: dict[tuple[int, str], float] = defaultdict(float)
        for pair, f in zip(pairs, flow, strict=True):
            carried[pair] += f
        used = sum(1 for v in carried.values() if v > 0)
        value = weight * used + float(np.dot(flow, travel))
        if value < best_value:
            best_value = value
            best = {k: int(f) for k, f in zip(keys, flow, strict=True) if f > 0}
        signature = flow.tobytes()
        if signature in seen:
            break
        seen.add(signature)
        slope = np.array(
            [
                weight / carried[p] if carried[p] > 0 else weight / max(capacity[p], 1.0)
                for p in pairs
            ],
            dtype=np.float64,
        )
    return best


def _best(
    result: Result, start: np.ndarray, start_objective: float
) -> tuple[np.ndarray, float, float, bool]:
    """The solver's answer, or the start when the solver found nothing better in time."""
    if result.status in (Status.OPTIMAL, Status.TIME_LIMIT) and (
        result.objective <= start_objective + 1e-6
    ):
        bound = result.bound if math.isfinite(result.bound) else 0.0
        return (
            result.values,
            result.objective,
            min(bound, result.objective),
            (result.status == Status.OPTIMAL),
        )
    bound = result.bound if math.isfinite(result.bound) else 0.0
    return start, start_objective, min(bound, start_objective), False


# --- days ------------------------------------------------------------------------------------


def _give_days(
    problem: Problem,
    weeks: Mapping[Week, list[date]],
    visits: Mapping[tuple[int, int, Week], int],
    specials: Iterable[tuple[int, int]],
    prefer: Mapping[tuple[int, int, Week], list[date]] | None = None,
) -> list[Assignment]:
    """Turn weekly counts into days: special requests on their day, kept visits on their
    published days, the rest on the expert's free available days, spreading each site's
    visits over the week."""
    experts = {e.id: e for e in problem.experts}
    demands = {d.id: d for d in problem.demands}
    by_special = {s.id: s for s in problem.specials}
    out: list[Assignment] = []
    busy: set[tuple[int, date]] = set()
    site_days: dict[tuple[str, date], int] = defaultdict(int)
    for eid, sid in sorted(specials):
        s = by_special[sid]
        busy.add((eid, s.day))
        site_days[(s.site, s.day)] += 1
        out.append(Assignment(eid, s.day, s.site, s.specialty, Kind.SPECIAL, sid))
    ordered = sorted(visits.items(), key=lambda kv: (kv[0][2], kv[0][0], kv[0][1]))
    for (eid, did, w), count in ordered:
        e, d = experts[eid], demands[did]
        free = [day for day in weeks[w] if e.available(day) and (eid, day) not in busy]
        wanted = [day for day in (prefer or {}).get((eid, did, w), []) if day in free]
        chosen = wanted[:count]
        rest = sorted(
            (day for day in free if day not in chosen), key=lambda day: site_days[(d.site, day)]
        )
        chosen += rest[: count - len(chosen)]
        if len(chosen) < count:
            raise AssertionError("weekly capacity larger than the available days")
        for day in chosen:
            busy.add((eid, day))
            site_days[(d.site, day)] += 1
            out.append(Assignment(eid, day, d.site, d.specialty, Kind.VISIT, did))
    return out


def _resident_assignments(
    problem: Problem, weeks: Mapping[Week, list[date]], chosen: Mapping[tuple[int, Week], int]
) -> list[Assignment]:
    positions = {r.id: r for r in problem.residents}
    return [
        Assignment(eid, day, positions[rid].site, positions[rid].specialty, Kind.RESIDENT, rid)
        for (rid, w), eid in sorted(chosen.items())
        for day in weeks[w]
    ]


def _uncovered_visits(
    problem: Problem,
    weeks: Mapping[Week, list[date]],
    visits: Mapping[tuple[int, int, Week], int],
    specials: Iterable[tuple[int, int]],
) -> list[Uncovered]:
    got: dict[tuple[int, Week], int] = defaultdict(int)
    for (_, did, w), n in visits.items():
        got[(did, w)] += n
    served = {sid for _, sid in specials}
    out: list[Uncovered] = []
    for d in problem.demands:
        candidates = sum(1 for e in problem.experts if eligible(e, d.specialty, d.skill))
        for w, days in weeks.items():
            missing = d.wanted(w) - got[(d.id, w)]
            if missing > 0:
                reason = _reason(problem, d.specialty, d.skill, candidates, Reason.NONE_FREE)
                out.append(
                    Uncovered(
                        Kind.VISIT, d.id, d.site, d.specialty, days[0], missing, reason, candidates
                    )
                )
    for s in problem.specials:
        if s.id not in served:
            candidates = sum(1 for e in problem.experts if eligible(e, s.specialty, s.skill))
            reason = _reason(problem, s.specialty, s.skill, candidates, Reason.NONE_FREE_THAT_DAY)
            out.append(
                Uncovered(Kind.SPECIAL, s.id, s.site, s.specialty, s.day, 1, reason, candidates)
            )
    return out


# --- the planner ------------------------------------------------------------------------------


def _size(part: _Part) -> int:
    return max(1, len(part.experts) * (len(part.demands) + len(part.specials)))


def _by_size(parts: Sequence[_Part]) -> list[_Part]:
    """Biggest first: the order parts are solved in (and their results come back in)."""
    return sorted(parts, key=_size, reverse=True)


# the share of the time budget of the first round over all parts
FIRST_ROUND = 0.5
# the share of the time budget kept back for the end of the solve
RESERVE = 0.02


def _run_parts(
    parts: Sequence[_Part],
    deadline: float,
    settings: Settings,
    solve: Callable[[_Part, float], _PartResult],
) -> list[_PartResult]:
    """Solve the parts side by side, biggest first; each, as it starts, gets a share of the
    time left in proportion to its size among the parts not started yet (times the number of
    workers, as they run at once), so time a part does not need goes to the later ones."""
    workers = max(1, min(settings.workers, len(parts)))
    waiting = [sum(_size(p) for p in parts)]
    lock = threading.Lock()

    def one(part: _Part) -> _PartResult:
        with lock:
            now = time.perf_counter()
            share = (deadline - now) * min(1.0, workers * _size(part) / max(waiting[0], 1))
            waiting[0] -= _size(part)
        return solve(part, min(deadline, now + share))

    ordered = _by_size(parts)
    if workers == 1:
        return [one(p) for p in ordered]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, ordered))


def plan(problem: Problem, settings: Settings = Settings()) -> Plan:
    """The best roster by the goals in order, with its proof (bounds) and what is uncovered."""
    began = time.perf_counter()
    # the parts stop a little before the budget: what follows them (and a solver's last
    # step past its limit) fits in the rest
    deadline = began + settings.time_limit * (1 - RESERVE)
    weeks = weeks_of(problem.days)
    chosen, uncovered_residents = _plan_residents(problem)
    t_residents = time.perf_counter() - began
    resident_weeks: dict[int, set[Week]] = defaultdict(set)
    for (_, w), eid in chosen.items():
        resident_weeks[eid].add(w)
    weight = pair_weight(problem)
    parts = _parts(problem)
    visits: dict[tuple[int, int, Week], int] = {}
    specials: set[tuple[int, int]] = set()
    result = Plan([], [], Measures(), seconds={"residents": t_residents})
    result.parts = len(parts)
    # two rounds: every part with part of the time, then the time left to the parts still
    # short of their proven bound, starting from what the first round found
    first = _run_parts(
        parts,
        began + (deadline - began) * FIRST_ROUND,
        settings,
        lambda part, until: _solve_part(
            problem, part, weeks, resident_weeks, weight, until, settings.gap
        ),
    )
    by_part = {id(part): r for part, r in zip(_by_size(parts), first, strict=True)}
    open_parts = [
        p for p in parts if by_part[id(p)].objective - by_part[id(p)].objective_bound > 0.5 * weight
    ]
    if open_parts and deadline - time.perf_counter() > 0.5:
        again = _run_parts(
            open_parts,
            deadline,
            settings,
            lambda part, until: _solve_part(
                problem,
                part,
                weeks,
                resident_weeks,
                weight,
                until,
                settings.gap,
                {**by_part[id(part)].x, **by_part[id(part)].z},
            ),
        )
        for part, r in zip(_by_size(open_parts), again, strict=True):
            before = by_part[id(part)]
            if r.objective <= before.objective + 1e-6:
                r.objective_bound = max(r.objective_bound, before.objective_bound)
                by_part[id(part)] = r
            else:
                before.objective_bound = max(r.objective_bound, before.objective_bound)
    for r in by_part.values():
        visits.update(r.x)
        specials.update(r.z)
        result.coverage_bound += r.coverage_bound
        result.share_bound = max(result.share_bound, r.share_bound)
        result.limits.update(r.limits)
        result.objective_bound += r.objective_bound
        result.parts_optimal += int(r.optimal)
        for k, v in r.seconds.items():
            result.seconds[k] = result.seconds.get(k, 0.0) + v
    t = time.perf_counter()
    result.assignments = _resident_assignments(problem, weeks, chosen) + _give_days(
        problem, weeks, visits, specials
    )
    result.seconds["days"] = time.perf_counter() - t
    result.uncovered = uncovered_residents + _uncovered_visits(problem, weeks, visits, specials)
    result.measures = measure(problem, result.assignments)
    result.seconds["total"] = time.perf_counter() - began
    return result


# --- re-planning -----------------------------------------------------------------------------


def _counts(
    assignments: Iterable[Assignment],
) -> tuple[dict[tuple[int, int, Week], int], set[tuple[int, int]], dict[tuple[int, Week], int]]:
    visits: dict[tuple[int, int, Week], int] = defaultdict(int)
    specials: set[tuple[int, int]] = set()
    residents: dict[tuple[int, Week], int] = {}
    for a in assignments:
        if a.kind == Kind.VISIT:
            visits[(a.expert_id, a.demand_id, week_of(a.day))] += 1
        elif a.kind == Kind.SPECIAL:
            specials.add((a.expert_id, a.demand_id))
        else:
            residents[(a.demand_id, week_of(a.day))] = a.expert_id
    return dict(visits), specials, residents


def _still_valid(
    problem: Problem,
    weeks: Mapping[Week, list[date]],
    published: Sequence[Assignment],
    resident_weeks: Mapping[int, set[Week]],
) -> set[str]:
    """The specialties whose published visits no longer hold (an expert gone, unavailable on
    the day or over their week, a demand gone or smaller)."""
    experts = {e.id: e for e in problem.experts}
    demands = {d.id: d for d in problem.demands}
    specials = {s.id: s for s in problem.specials}
    broken: set[str] = set()
    per_week: dict[tuple[int, Week], int] = defaultdict(int)
    per_demand: dict[tuple[int, Week], int] = defaultdict(int)
    for a in published:
        if a.kind == Kind.RESIDENT:
            continue
        e = experts.get(a.expert_id)
        w = week_of(a.day)
        per_week[(a.expert_id, w)] += 1
        target: Demand | Special | None = (
            demands.get(a.demand_id) if a.kind == Kind.VISIT else specials.get(a.demand_id)
        )
        if (
            e is None
            or target is None
            or w not in weeks
            or not e.available(a.day)
            or w in resident_weeks.get(e.id, set())
            or not eligible(e, target.specialty, target.skill)
        ):
            broken.add(a.specialty)
            continue
        if a.kind == Kind.VISIT:
            per_demand[(a.demand_id, w)] += 1
            if per_demand[(a.demand_id, w)] > demands[a.demand_id].wanted(w):
                broken.add(a.specialty)
        if per_week[(a.expert_id, w)] > e.max_days_per_week:
            broken.add(a.specialty)
    return broken


def _replan_part(
    problem: Problem,
    part: _Part,
    weeks: Mapping[Week, list[date]],
    residents: Mapping[int, set[Week]],
    before_x: Mapping[tuple[int, int, Week], int],
    before_z: set[tuple[int, int]],
    deadline: float,
) -> _PartResult:
    """Cover as much as can be covered, then change as few published visit days as possible,
    then continuity and travel (each strictly before the next)."""
    seconds: dict[str, float] = {}
    b = _build(problem, part, weeks, residents, integer=False)
    # the most coverage, and within it the most published visit days kept (each kept day
    # earns less than a covered one is worth over all of them): a flow, integral
    keep = 1.0 / (len(b.covered_row) + 1)
    for c in b.covered_row:
        b.model.cost[c] = 1.0
    for key, c in b.x.items():
        if before_x.get(key, 0) > 0:
            b.model.cost[c] += keep
    for key2, c in b.z.items():
        if key2 in before_z:
            b.model.cost[c] += keep
    r1 = b.model.solve(maximise=True, time_limit=max(deadline - time.perf_counter(), 0.5))
    seconds["coverage"] = r1.seconds
    coverage = round(sum(r1.values[c] for c in b.covered_row)) if r1.status == Status.OPTIMAL else 0
    # that flow's roster: the start, and the answer should nothing better be found in time
    flow_x = {k: round(r1.values[c]) for k, c in b.x.items()} if coverage else {}
    flow_z = {k: round(r1.values[c]) for k, c in b.z.items()} if coverage else {}
    b = _build(problem, part, weeks, residents, integer=True)
    b.model.row(b.covered_row, [1.0] * len(b.covered_row), coverage, math.inf)
    experts = {e.id: e for e in part.experts}
    site_of = {d.id: d.site for d in part.demands}
    special_site = {s.id: s.site for s in part.specials}
    visits = sum(d.wanted(w) for d in part.demands for w in weeks) + len(part.specials)
    worst = 2 * max(problem.travel.values(), default=0)
    pair_cost = float(worst * visits + 1)
    pair_cols: dict[tuple[int, str], int] = {}
    change_cost = pair_cost * (len(part.experts) * (len(part.demands) + len(part.specials)) + 1)

    def pair(eid: int, site: str) -> int:
        if (eid, site) not in pair_cols:
            pair_cols[(eid, site)] = b.model.var(0, 1, pair_cost, integer=True)
        return pair_cols[(eid, site)]

    items: list[tuple[int, int, str, int, int]] = []  # column, before, site, expert, flow
    for (eid, did, w), c in b.x.items():
        key = (eid, did, w)
        items.append((c, before_x.get(key, 0), site_of[did], eid, flow_x.get(key, 0)))
    for (eid, sid), c in b.z.items():
        key2 = (eid, sid)
        items.append((c, int(key2 in before_z), special_site[sid], eid, flow_z.get(key2, 0)))
    starts: list[tuple[int, float]] = []
    for c, before, site, eid, flow in items:
        b.model.cost[c] = float(round_trip(problem, experts[eid], site))
        y = pair(eid, site)
        b.model.row([c, y], [1.0, -b.model.upper[c]], -math.inf, 0)
        # |x - before| as removed + added visit days
        removed = b.model.var(0, before, change_cost) if before else None
        added = b.model.var(0, b.model.upper[c], change_cost)
        if removed is not None:
            b.model.row([c, removed], [1.0, 1.0], before, math.inf)
            starts.append((removed, float(max(before - flow, 0))))
        b.model.row([c, added], [1.0, -1.0], -math.inf, before)
        starts += [(c, float(flow)), (added, float(max(flow - before, 0)))]
        if flow > 0:
            starts.append((y, 1.0))
    # published visits that no longer exist as columns are removed for sure: a constant
    start = np.zeros(b.model.num_cols)
    for c, v in starts:
        start[c] = max(start[c], v)
    r = b.model.solve(
        time_limit=max(deadline - time.perf_counter(), 0.2),
        gap=1e-6,
        start=start if coverage else None,
    )
    seconds["continuity"] = r.seconds
    values = r.values if r.status in (Status.OPTIMAL, Status.TIME_LIMIT) else start
    x = {k: round(values[c]) for k, c in b.x.items() if values[c] > 0.5}
    z = {k: 1 for k, c in b.z.items() if values[c] > 0.5}
    optimal = r.status == Status.OPTIMAL
    return _PartResult(x, z, coverage, Fraction(0), {}, r.objective, r.bound, optimal, seconds)


def replan(
    problem: Problem, published: Sequence[Assignment], settings: Settings = Settings(time_limit=2.0)
) -> Plan:
    """The published roster changed as little as it can be after a change in ``problem`` (an
    expert cancelled, demand changed): parts the change does not touch are kept as they are;
    each touched part covers all it can, then keeps all it can."""
    began = time.perf_counter()
    deadline = began + settings.time_limit
    weeks = weeks_of(problem.days)
    before_x, before_z, before_r = _counts(published)
    experts = {e.id: e for e in problem.experts}
    resident_ok = all(
        (eid in experts) and w in weeks and not any(d in experts[eid].leave for d in weeks[w])
        for (_, w), eid in before_r.items()
    ) and {(r.id, w) for r in problem.residents for w in weeks if r.wanted(w)} == set(before_r)
    uncovered_residents: list[Uncovered] = []
    if resident_ok:
        chosen = dict(before_r)
    else:
        chosen, uncovered_residents = _plan_residents(problem, before_r)
    resident_weeks: dict[int, set[Week]] = defaultdict(set)
    for (_, w), eid in chosen.items():
        resident_weeks[eid].add(w)
    # a new resident week breaks that expert's visits too
    broken = _still_valid(problem, weeks, published, resident_weeks)
    parts = _parts(problem)
    touched = [p for p in parts if _specialty_of(p) in broken]
    spec_of_demand = {d.id: d.specialty for d in problem.demands}
    spec_of_special = {x.id: x.specialty for x in problem.specials}
    kept_x = {k: v for k, v in before_x.items() if spec_of_demand.get(k[1]) not in broken}
    kept_z = {k for k in before_z if spec_of_special.get(k[1]) not in broken}
    result = Plan([], [], Measures(), seconds={})
    result.parts = len(touched)
    visits = dict(kept_x)
    specials = set(kept_z)
    for r in _run_parts(
        touched,
        deadline,
        settings,
        lambda part, until: _replan_part(
            problem, part, weeks, resident_weeks, before_x, before_z, until
        ),
    ):
        visits.update(r.x)
        specials.update(r.z)
        result.coverage_bound += r.coverage_bound
        result.parts_optimal += int(r.optimal)
        for k, v in r.seconds.items():
            result.seconds[k] = result.seconds.get(k, 0.0) + v
    prefer: dict[tuple[int, int, Week], list[date]] = defaultdict(list)
    for a in published:
        if a.kind == Kind.VISIT:
            prefer[(a.expert_id, a.demand_id, week_of(a.day))].append(a.day)
    result.assignments = _resident_assignments(problem, weeks, chosen) + _give_days(
        problem, weeks, visits, specials, prefer
    )
    result.uncovered = uncovered_residents + _uncovered_visits(problem, weeks, visits, specials)
    result.measures = measure(problem, result.assignments)
    old = {(a.expert_id, a.day, a.site, a.kind, a.demand_id) for a in published}
    new = {(a.expert_id, a.day, a.site, a.kind, a.demand_id) for a in result.assignments}
    result.kept = len(old & new)
    result.removed = len(old - new)
    result.added = len(new - old)
    result.seconds["total"] = time.perf_counter() - began
    return result


def _specialty_of(part: _Part) -> str:
    for group in (part.demands, part.specials, part.experts):
        for item in group:
            return item.specialty
    return ""


def coverage_bound(problem: Problem) -> tuple[int, list[Uncovered]]:
    """The proven most coverable demand (after the residents), by the flow of each part, and
    the residents that cannot be placed: the structural minimum of uncovered demand."""
    weeks = weeks_of(problem.days)
    chosen, uncovered = _plan_residents(problem)
    resident_weeks: dict[int, set[Week]] = defaultdict(set)
    for (_, w), eid in chosen.items():
        resident_weeks[eid].add(w)
    total = 0
    for part in _parts(problem):
        b = _build(problem, part, weeks, resident_weeks, integer=False)
        for c in b.covered_row:
            b.model.cost[c] = 1.0
        r = b.model.solve(maximise=True)
        total += round(r.objective) if r.status == Status.OPTIMAL else 0
    return total, uncovered
