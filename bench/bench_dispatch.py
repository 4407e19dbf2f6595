"""The visiting-expert roster planner on a generated instance at the seeds' scale.

The instance (``dispatch.generate.instance``): 400 experts from 12 Beijing hospitals in 15
specialties, 133 Hebei sites each needing 3 specialties at 1–2 visits a week, 20 working days,
each expert unavailable on 30 % of days, at most 2 visit days a week. For each seed:

- the greedy baseline (what a careful person with a spreadsheet does), for comparison;
- the proof of the least uncovered demand (the flow bound) and how long it took;
- the full plan within its time budget: coverage, the fairness limit (largest share of an
  expert's available days, proven least), expert–site pairs, travel, the objective of goals
  3–4 and its proven bound (the gap);
- a re-plan after the busiest expert cancels the whole horizon: how long, how much it kept.

Figures are medians over the seeds; the planner's figures are also given as ratios to the
greedy baseline's of the same run.

    .venv/bin/python bench/bench_dispatch.py [--seeds 3] [--time-limit 30] [--quick]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from collections import Counter
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from medcircle.dispatch import planner as P
from medcircle.dispatch.generate import instance
from medcircle.dispatch.greedy import greedy


def max_share(problem: P.Problem, plan: P.Plan) -> Fraction:
    """The largest share of an expert's available visit days the plan uses."""
    weeks = P.weeks_of(problem.days)
    loads = Counter(a.expert_id for a in plan.assignments if a.kind != P.Kind.RESIDENT)
    out = Fraction(0)
    for e in problem.experts:
        days = sum(P._capacity(e, weeks, set()).values())
        if days and loads[e.id]:
            out = max(out, Fraction(loads[e.id], days))
    return out


def run(seed: int, time_limit: float) -> dict[str, float]:
    problem = instance(seed)
    t = time.perf_counter()
    base = greedy(problem)
    greedy_seconds = time.perf_counter() - t
    t = time.perf_counter()
    bound, _ = P.coverage_bound(problem)
    proof_seconds = time.perf_counter() - t
    plan = P.plan(problem, P.Settings(time_limit=time_limit))
    busiest = Counter(a.expert_id for a in plan.assignments).most_common(1)[0][0]
    lost = sum(1 for a in plan.assignments if a.expert_id == busiest)
    experts = tuple(
        dataclasses.replace(e, leave=frozenset(problem.days)) if e.id == busiest else e
        for e in problem.experts
    )
    t = time.perf_counter()
    again = P.replan(dataclasses.replace(problem, experts=experts), plan.assignments)
    replan_seconds = time.perf_counter() - t
    m, g = plan.measures, base.measures
    loads = Counter(a.expert_id for a in plan.assignments if a.kind != P.Kind.RESIDENT)
    greedy_loads = Counter(a.expert_id for a in base.assignments)
    over = sum(1 for e, n in loads.items() if n > plan.limits.get(e, n))
    greedy_over = sum(1 for e, n in greedy_loads.items() if n > plan.limits.get(e, n))
    return {
        "demand": m.demand,
        "bound": bound,
        "proof_s": proof_seconds,
        "greedy_covered": g.covered,
        "greedy_s": greedy_seconds,
        "greedy_share": float(max_share(problem, base)),
        "greedy_pairs": g.pairs,
        "greedy_over": greedy_over,
        "greedy_sd": statistics.pstdev([greedy_loads[e.id] for e in problem.experts]),
        "greedy_travel_h": g.travel_minutes / 60,
        "greedy_objective": g.objective / P.pair_weight(problem),
        "covered": m.covered,
        "share": float(max_share(problem, plan)),
        "share_bound": float(plan.share_bound),
        "pairs": m.pairs,
        "over": over,
        "sd": statistics.pstdev([loads[e.id] for e in problem.experts]),
        "travel_h": m.travel_minutes / 60,
        # the objective of goals 3-4 in pairs: pairs plus travel / weight (< 1)
        "objective": m.objective / P.pair_weight(problem),
        "objective_bound": plan.objective_bound / P.pair_weight(problem),
        "gap": plan.gap,
        "plan_s": plan.seconds["total"],
        "lost": lost,
        "replan_s": replan_seconds,
        "replan_covered": again.measures.covered,
        "replan_bound": again.coverage_bound,
        "kept": again.kept,
        "removed": again.removed,
        "added": again.added,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--time-limit", type=float, default=30.0)
    parser.add_argument("--quick", action="store_true", help="one seed, 5 s budget")
    args = parser.parse_args()
    seeds = 1 if args.quick else args.seeds
    limit = 5.0 if args.quick else args.time_limit
    rows = []
    for seed in range(1, seeds + 1):
        r = run(seed, limit)
        rows.append(r)
        print(
            f"seed {seed}: demand {r['demand']:.0f}, bound {r['bound']:.0f} "
            f"(proved in {r['proof_s']:.2f} s); greedy covers {r['greedy_covered']:.0f}, "
            f"plan covers {r['covered']:.0f} in {r['plan_s']:.1f} s, {r['pairs']:.0f} pairs "
            f"(greedy {r['greedy_pairs']:.0f}), objective {r['objective']:.1f} >= bound "
            f"{r['objective_bound']:.1f}, gap {r['gap']:.1%}; "
            f"re-plan {r['replan_s']:.2f} s (kept {r['kept']:.0f}, removed {r['removed']:.0f}, "
            f"added {r['added']:.0f}, covers {r['replan_covered']:.0f})",
            flush=True,
        )

    def med(key: str) -> float:
        return statistics.median(r[key] for r in rows)

    print()
    print(f"instance: 400 experts, 12 homes, 15 specialties, 133 sites, 20 days; {seeds} seeds")
    print(f"{'measure':44} {'greedy':>12} {'planner':>12} {'ratio':>8}")

    def line(name: str, greedy_value: float, plan_value: float, fmt: str = "{:.0f}") -> None:
        ratio = plan_value / greedy_value if greedy_value else float("nan")
        print(f"{name:44} {fmt.format(greedy_value):>12} {fmt.format(plan_value):>12} {ratio:8.2f}")

    line("demand covered (visit days)", med("greedy_covered"), med("covered"))
    print(f"{'  proven most coverable (flow bound)':44} {'':>12} {med('bound'):12.0f}")
    print(f"{'  time to that proof (s)':44} {'':>12} {med('proof_s'):12.2f}")
    line("experts above their specialty's fair limit", med("greedy_over"), med("over"))
    line("spread of loads (standard deviation, days)", med("greedy_sd"), med("sd"), "{:.2f}")
    line("expert-site pairs (continuity)", med("greedy_pairs"), med("pairs"))
    line("travel (hours, round trips)", med("greedy_travel_h"), med("travel_h"))
    line("objective of goals 3-4, in pairs", med("greedy_objective"), med("objective"), "{:.1f}")
    print(f"{'  proven bound, in pairs':44} {'':>12} {med('objective_bound'):12.1f}")
    print(f"{'  gap':44} {'':>12} {med('gap'):12.1%}")
    line("seconds", med("greedy_s"), med("plan_s"), "{:.2f}")
    print(
        f"re-plan after the busiest expert cancels ({med('lost'):.0f} visit days): "
        f"{med('replan_s'):.2f} s, covers {med('replan_covered'):.0f} "
        f"(plan {med('covered'):.0f}), kept {med('kept'):.0f}, removed {med('removed'):.0f}, "
        f"added {med('added'):.0f}"
    )


if __name__ == "__main__":
    main()
