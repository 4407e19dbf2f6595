"""The roster planner: hard rules always hold, coverage reaches its proven bound, fairness is
the least possible, continuity and travel come after, uncovered demand says why, and a
re-plan keeps what it can."""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medcircle.dispatch import planner as P
from medcircle.dispatch.generate import Shape, instance, working_days
from medcircle.dispatch.greedy import greedy

DAYS = working_days(date(2027, 1, 4), 2)
WEEK1, WEEK2 = DAYS[:5], DAYS[5:]
FAST = P.Settings(time_limit=5.0, workers=1)


def expert(i: int, spec: str = "paeds", **kw: object) -> P.Expert:
    return P.Expert(id=i, specialty=spec, home=kw.pop("home", "bj"), **kw)  # type: ignore[arg-type]


def problem(**kw: object) -> P.Problem:
    base: dict[str, object] = {
        "days": DAYS,
        "experts": (),
        "travel": {("bj", "bd"): 120, ("bj", "zz"): 180, ("tj", "bd"): 150, ("tj", "zz"): 100},
    }
    base.update(kw)
    return P.Problem(**base)  # type: ignore[arg-type]


def check_hard_rules(p: P.Problem, plan: P.Plan) -> None:
    experts = {e.id: e for e in p.experts}
    demands = {d.id: d for d in p.demands}
    specials = {s.id: s for s in p.specials}
    per_day = Counter((a.expert_id, a.day) for a in plan.assignments)
    assert max(per_day.values(), default=1) == 1, "one place a day"
    per_week: Counter[tuple[int, tuple[int, int]]] = Counter()
    per_demand_week: Counter[tuple[int, tuple[int, int]]] = Counter()
    for a in plan.assignments:
        e = experts[a.expert_id]
        assert a.day in p.days
        if a.kind == P.Kind.RESIDENT:
            assert a.day not in e.leave
            continue
        assert e.available(a.day), "travels only on available days"
        per_week[(e.id, P.week_of(a.day))] += 1
        if a.kind == P.Kind.VISIT:
            d = demands[a.demand_id]
            assert P.eligible(e, d.specialty, d.skill) and a.site == d.site
            per_demand_week[(d.id, P.week_of(a.day))] += 1
        else:
            s = specials[a.demand_id]
            assert P.eligible(e, s.specialty, s.skill) and a.day == s.day and a.site == s.site
    for (eid, _), n in per_week.items():
        assert n <= experts[eid].max_days_per_week
    for (did, _), n in per_demand_week.items():
        assert n <= demands[did].visits_per_week
    resident_days = {(a.expert_id, a.day) for a in plan.assignments if a.kind == P.Kind.RESIDENT}
    visiting = {(a.expert_id, P.week_of(a.day)) for a in plan.assignments if a.kind != "resident"}
    assert not {(e, P.week_of(d)) for e, d in resident_days} & visiting, "residents do not visit"


def test_covers_everything_it_can_and_says_why_not() -> None:
    # two experts of paediatrics, one with the skill; a site wants 2 visits a week; a special
    # operation needs a skill nobody has; a specialty nobody practises
    a = expert(1, duties=frozenset(WEEK1[:4]))  # one free day in week 1
    b = expert(2, skills=frozenset({"cochlear implant"}))
    p = problem(
        experts=(a, b),
        demands=(
            P.Demand(1, "bd", "paeds", 3),
            P.Demand(2, "zz", "cardio", 1),
        ),
        specials=(P.Special(3, "bd", "paeds", WEEK2[2], "heart transplant"),),
    )
    plan = P.plan(p, FAST)
    check_hard_rules(p, plan)
    # week 1: a has 1 day, b has 2 → 3; week 2: 2 + 2 but demand is 3 → 3
    assert plan.measures.covered == 6 == plan.coverage_bound
    reasons = {(u.demand_id, u.reason) for u in plan.uncovered}
    assert (2, P.Reason.NO_SPECIALTY) in reasons
    assert (3, P.Reason.NO_SKILL) in reasons
    assert plan.measures.demand == 3 * 2 + 1 * 2 + 1


def test_fairness_spreads_the_load_before_continuity() -> None:
    # one site, 2 visits a week, two equal experts: each should get half (2 of 4), although one
    # expert alone would be better for continuity
    p = problem(experts=(expert(1), expert(2)), demands=(P.Demand(1, "bd", "paeds", 2),))
    plan = P.plan(p, FAST)
    loads = Counter(a.expert_id for a in plan.assignments)
    assert loads == {1: 2, 2: 2}
    assert plan.share_bound == P.Fraction(1, 2)


def test_continuity_then_travel() -> None:
    # two sites each wanting 1 visit a week, two experts: keeping each expert at one site (2
    # pairs) beats alternating (4 pairs); the expert from Tianjin takes the site nearer to them
    p = problem(
        experts=(expert(1, home="bj"), expert(2, home="tj")),
        demands=(P.Demand(1, "bd", "paeds", 1), P.Demand(2, "zz", "paeds", 1)),
    )
    plan = P.plan(p, FAST)
    assert plan.measures.pairs == 2 and plan.gap <= 0.005
    sites = {(a.expert_id, a.site) for a in plan.assignments}
    # bj→bd 120 + tj→zz 100 beats bj→zz 180 + tj→bd 150
    assert sites == {(1, "bd"), (2, "zz")}
    assert plan.measures.travel_minutes == 2 * 2 * (120 + 100)


def test_special_requests_take_their_day_and_skill() -> None:
    a = expert(1, skills=frozenset({"picc"}))
    b = expert(2)
    p = problem(
        experts=(a, b),
        demands=(P.Demand(1, "bd", "paeds", 2),),
        specials=(P.Special(2, "zz", "paeds", WEEK1[3], "picc"),),
    )
    plan = P.plan(p, FAST)
    check_hard_rules(p, plan)
    special = [x for x in plan.assignments if x.kind == P.Kind.SPECIAL]
    assert [(x.expert_id, x.day) for x in special] == [(1, WEEK1[3])]
    assert plan.measures.covered == plan.measures.demand


def test_resident_positions_are_filled_every_week_by_one_expert_if_possible() -> None:
    a = expert(1, leave=frozenset({WEEK2[1]}))  # away one day of week 2: no residence then
    b = expert(2)
    c = expert(3)
    p = problem(
        experts=(a, b, c),
        residents=(P.Resident(1, "bd", "paeds"),),
        demands=(P.Demand(2, "zz", "paeds", 1),),
    )
    plan = P.plan(p, FAST)
    check_hard_rules(p, plan)
    resident = {(x.expert_id, P.week_of(x.day)) for x in plan.assignments if x.kind == "resident"}
    assert len(resident) == 2 and len({e for e, _ in resident}) == 1
    assert 1 not in {e for e, _ in resident}
    assert sum(1 for x in plan.assignments if x.kind == "resident") == len(DAYS)
    # nobody left for the position: it is reported per week with the reason
    lone = problem(
        experts=(a,),
        residents=(P.Resident(1, "bd", "paeds"),),
    )
    plan = P.plan(lone, FAST)
    assert [(u.kind, u.day, u.reason) for u in plan.uncovered] == [
        (P.Kind.RESIDENT, WEEK2[0], P.Reason.NONE_FREE)
    ]


def test_an_expert_never_available_gets_nothing() -> None:
    a = expert(1, duties=frozenset(DAYS))
    p = problem(experts=(a,), demands=(P.Demand(1, "bd", "paeds", 1),))
    plan = P.plan(p, FAST)
    assert plan.assignments == []
    assert {u.reason for u in plan.uncovered} == {P.Reason.NONE_FREE}
    assert plan.coverage_bound == 0


@st.composite
def problems(draw: st.DrawFn) -> P.Problem:
    n_experts = draw(st.integers(1, 6))
    specs = ["a", "b"]
    experts = tuple(
        P.Expert(
            id=i + 1,
            specialty=draw(st.sampled_from(specs)),
            home=draw(st.sampled_from(["bj", "tj"])),
            skills=frozenset(draw(st.sets(st.sampled_from(["x", "y"]), max_size=1))),
            max_days_per_week=draw(st.integers(0, 3)),
            duties=frozenset(draw(st.sets(st.sampled_from(DAYS), max_size=6))),
            leave=frozenset(draw(st.sets(st.sampled_from(DAYS), max_size=2))),
        )
        for i in range(n_experts)
    )
    demands = tuple(
        P.Demand(
            id=100 + i,
            site=draw(st.sampled_from(["bd", "zz"])),
            specialty=draw(st.sampled_from(specs)),
            visits_per_week=draw(st.integers(1, 3)),
        )
        for i in range(draw(st.integers(0, 4)))
    )
    specials = tuple(
        P.Special(
            id=200 + i,
            site=draw(st.sampled_from(["bd", "zz"])),
            specialty=draw(st.sampled_from(specs)),
            day=draw(st.sampled_from(DAYS)),
            skill=draw(st.sampled_from([None, "x", "y"])),
        )
        for i in range(draw(st.integers(0, 3)))
    )
    residents = tuple(
        P.Resident(id=300 + i, site="bd", specialty=draw(st.sampled_from(specs)))
        for i in range(draw(st.integers(0, 1)))
    )
    return problem(experts=experts, demands=demands, specials=specials, residents=residents)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_any_problem_gets_a_plan_within_the_rules_at_its_bound(p: P.Problem) -> None:
    plan = P.plan(p, FAST)
    check_hard_rules(p, plan)
    assert plan.measures.covered == plan.coverage_bound
    missing = sum(u.missing for u in plan.uncovered if u.kind != P.Kind.RESIDENT)
    assert plan.measures.covered + missing == plan.measures.demand
    # the greedy baseline (which knows no residents) never covers more than the proven bound
    if not p.residents:
        baseline = greedy(p)
        check_hard_rules(p, baseline)
        assert baseline.measures.covered <= plan.coverage_bound
    assert plan.measures.objective >= plan.objective_bound - 1e-6


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(), st.data())
def test_a_replan_after_a_cancellation_keeps_the_rest(p: P.Problem, data: st.DataObject) -> None:
    plan = P.plan(p, FAST)
    visits = [a for a in plan.assignments if a.kind != P.Kind.RESIDENT]
    if not visits:
        return
    gone = data.draw(st.sampled_from(visits))
    experts = tuple(
        dataclasses.replace(e, leave=e.leave | {gone.day}) if e.id == gone.expert_id else e
        for e in p.experts
    )
    changed = dataclasses.replace(p, experts=experts)
    again = P.replan(changed, plan.assignments, FAST)
    check_hard_rules(changed, again)
    assert again.measures.covered == again.measures.covered  # a number
    # coverage never falls by more than the cancelled visit
    assert again.measures.covered >= plan.measures.covered - 1
    # the cancelled day is gone; specialties the change does not touch are untouched
    assert (gone.expert_id, gone.day) not in {(a.expert_id, a.day) for a in again.assignments}
    untouched = {
        (a.expert_id, a.day, a.site, a.kind)
        for a in plan.assignments
        if a.specialty != gone.specialty and a.kind != P.Kind.RESIDENT
    }
    assert untouched <= {(a.expert_id, a.day, a.site, a.kind) for a in again.assignments}
    assert again.removed >= 1 and again.kept + again.removed == len(plan.assignments)


def test_a_replan_moves_as_little_as_possible() -> None:
    p = instance(3, Shape(experts=30, homes=3, specialties=3, sites=8, weeks=2))
    plan = P.plan(p, P.Settings(time_limit=2.0))
    victim = Counter(a.expert_id for a in plan.assignments).most_common(1)[0][0]
    lost = [a for a in plan.assignments if a.expert_id == victim]
    experts = tuple(
        dataclasses.replace(e, leave=frozenset(p.days)) if e.id == victim else e for e in p.experts
    )
    again = P.replan(dataclasses.replace(p, experts=experts), plan.assignments)
    # the lost visits go (and, when nobody free can take one directly, the fewest others move)
    assert again.removed >= len(lost)
    # every lost visit is made up if anyone can: coverage stays where it was
    assert again.measures.covered == plan.measures.covered
    assert again.added == again.removed
    assert again.kept == len(plan.assignments) - again.removed
    assert again.seconds["total"] < 5


def test_days_spread_a_sites_visits_over_the_week() -> None:
    p = problem(experts=(expert(1), expert(2), expert(3)), demands=(P.Demand(1, "bd", "paeds", 3),))
    plan = P.plan(p, FAST)
    by_week: dict[tuple[int, int], list[date]] = defaultdict(list)
    for a in plan.assignments:
        by_week[P.week_of(a.day)].append(a.day)
    for days in by_week.values():
        assert len(set(days)) == len(days)


def test_generated_instance_has_the_seeds_shape() -> None:
    p = instance(1)
    assert len(p.experts) == 400 and len({e.home for e in p.experts}) == 12
    assert len({e.specialty for e in p.experts}) == 15
    assert len({d.site for d in p.demands}) == 133 and len(p.demands) == 133 * 3
    assert {d.visits_per_week for d in p.demands} == {1, 2}
    assert len(p.days) == 20 and p.days[0].weekday() == 0
    unavailable = sum(len(e.duties) for e in p.experts) / (400 * 20)
    assert 0.27 < unavailable < 0.33
    assert p.days[-1] - p.days[0] == timedelta(days=25)


def test_the_fewest_pairs_count_holds_for_several_large_groups() -> None:
    """Two sites of 12 visit days, twelve experts who may each give 2: the fewest pairs is 12
    (two groups of six experts and a site, 7 - 1 pairs each), and no more is claimed."""
    days = working_days(date(2027, 1, 4), 4)
    experts = [P.Expert(id=i, specialty="paeds", home="bj") for i in range(1, 13)]
    demands = [P.Demand(1, "bd", "paeds", 3), P.Demand(2, "zz", "paeds", 3)]
    part = P._Part(experts, demands, [])
    weeks = P.weeks_of(days)
    limits = {e.id: 2 for e in experts}
    assert P._fewest_pairs(part, weeks, limits, 0, deadline=float("inf")) == 12
    # one expert short of covering it all: a shortfall of 2 days lets one site go short
    assert P._fewest_pairs(part, weeks, limits, 2, deadline=float("inf")) <= 12


@st.composite
def small_parts(draw: st.DrawFn) -> tuple[P.Problem, P._Part]:
    """One specialty: up to nine experts and four sites over four weeks, often enough nodes
    for the groups the fewest-pairs count enumerates and the larger ones it takes together."""
    days = working_days(date(2027, 1, 4), 4)
    sites = ["s1", "s2", "s3", "s4"]
    experts = [
        P.Expert(
            id=i + 1,
            specialty="paeds",
            home="bj",
            max_days_per_week=draw(st.integers(1, 2)),
            duties=frozenset(draw(st.sets(st.sampled_from(days), max_size=8))),
        )
        for i in range(draw(st.integers(1, 9)))
    ]
    demands = [
        P.Demand(i + 1, site, "paeds", draw(st.integers(1, 2)))
        for i, site in enumerate(sites[: draw(st.integers(1, 4))])
    ]
    travel = {("bj", s): 60 for s in sites}
    p = P.Problem(days=days, experts=tuple(experts), demands=tuple(demands), travel=travel)
    return p, P._Part(experts, demands, [])


def fewest_pairs_by_search(p: P.Problem, part: P._Part, limits: dict[int, int], cover: int) -> int:
    """The fewest expert-site pairs of any roster covering ``cover`` within ``limits``: the
    plain model (no cuts, no counting), solved to optimality."""
    weeks = P.weeks_of(p.days)
    b = P._build(p, part, weeks, {}, integer=True)
    b.model.row(b.covered_row, [1.0] * len(b.covered_row), cover, float("inf"))
    for eid, idx in b.by_expert.items():
        b.model.row(idx, [1.0] * len(idx), 0, limits[eid])
    site = {d.id: d.site for d in part.demands}
    pairs: dict[tuple[int, str], int] = {}
    for (eid, did, _), c in b.x.items():
        key = (eid, site[did])
        if key not in pairs:
            pairs[key] = b.model.var(0, 1, 1.0, integer=True)
        b.model.row([c, pairs[key]], [1.0, -b.model.upper[c]], float("-inf"), 0)
    r = b.model.solve(time_limit=120.0, gap=0.0)
    assert r.status == P.Status.OPTIMAL
    return round(r.objective)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_parts())
def test_the_fewest_pairs_count_never_exceeds_the_optimum(case: tuple[P.Problem, P._Part]) -> None:
    p, part = case
    weeks = P.weeks_of(p.days)
    cover = P._covers(p, part, weeks, {}, {e.id: 99 for e in part.experts})
    _, limits = P._fair_limits(p, part, weeks, {}, cover)
    wanted = sum(d.wanted(w) for d in part.demands for w in weeks)
    fewest = P._fewest_pairs(part, weeks, limits, wanted - cover, deadline=float("inf"))
    assert fewest <= fewest_pairs_by_search(p, part, limits, cover)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_parts())
def test_the_grouped_start_is_a_roster_within_the_rules(case: tuple[P.Problem, P._Part]) -> None:
    p, part = case
    weeks = P.weeks_of(p.days)
    cover = P._covers(p, part, weeks, {}, {e.id: 99 for e in part.experts})
    _, limits = P._fair_limits(p, part, weeks, {}, cover)
    weight = P.pair_weight(p)
    counts, covers = P._grouped_start(p, part, weeks, {}, limits, cover, weight, float("inf"))
    assert covers == sum(counts.values()) <= cover
    b = P._build(p, part, weeks, {}, integer=True)
    loads: Counter[int] = Counter()
    for key, n in counts.items():
        assert key in b.x and 0 < n <= b.model.upper[b.x[key]]
        loads[key[0]] += n
    assert all(n <= limits[eid] for eid, n in loads.items())
    per_week: Counter[tuple[int, tuple[int, int]]] = Counter()
    per_demand: Counter[tuple[int, tuple[int, int]]] = Counter()
    for (eid, did, w), n in counts.items():
        per_week[(eid, w)] += n
        per_demand[(did, w)] += n
    caps = {e.id: P._capacity(e, weeks, set()) for e in part.experts}
    assert all(n <= caps[eid][w] for (eid, w), n in per_week.items())
    wanted = {d.id: d for d in part.demands}
    assert all(n <= wanted[did].wanted(w) for (did, w), n in per_demand.items())
