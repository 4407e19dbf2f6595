"""Pooled resources: the allocation policy, and a full allocation round through the database.

(a) The pure policy (``pools.policy.Queue``) over a waitlist of 10,000 entries: a realistic mix
of urgency (10 % critical, 30 % urgent, 60 % routine), listing days over a year, 30 % not
ready, site preferences over four hospitals (half accept every one), two room classes (85 %
class 100). A stream of free units is decided one after another, the chosen entry taken out
and, most of the time, a new listing added, so the list stays near its size. The figure is
decisions per second (goal >= 100,000/s), the median of several runs; the baseline in the
same run is the naive decision (sort the whole list, scan it for the first eligible entry),
which also checks that both choose the same entries.

(b) A full allocation round through the database: one transaction in which a coordinator
frees a unit with ``pools.service.set_unit_status`` (the pool's lock, the candidates read,
the decision, its row, the offer, its timer, the audit event and the notifications, commit).
The pool has 24 units over four hospitals, most occupied, and 1,000 then 10,000 waiting
entries. Between rounds (not timed) the unit is taken out again, which withdraws the offer
so there is always something to give. p50/p95 over the rounds (goal on PostgreSQL: p95 <=
50 ms); the baseline in the same run is a trivial transaction (SELECT 1, commit) on the same
connection pool. Repeated, the median reported, on SQLite and (when reachable) PostgreSQL.

    .venv/bin/python bench/bench_pools.py [--part a|b|both] [--rounds 200] [--repeat 3]
        [--decisions 2000] [--backend sqlite|postgresql|both] [--sizes 1000,10000] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Table, text
from sqlalchemy.orm import Session, sessionmaker

from bench.harness import fmt_ratio, fresh_database, postgres_available
from medcircle.auth.domain import Actor, Role
from medcircle.auth.models import User, UserRole
from medcircle.cli.db import upgrade_database
from medcircle.db import Base, make_engine, make_session_factory, unit_of_work
from medcircle.patients.models import Patient
from medcircle.pools import service
from medcircle.pools.models import PoolMember, ResourcePool, ResourceUnit, WaitlistEntry
from medcircle.pools.policy import (
    URGENCY_RANK,
    Candidate,
    PolicySettings,
    Queue,
    Slot,
    Urgency,
)
from medcircle.pools.schemas import UnitStatusIn
from medcircle.registry.models import Institution

TODAY = date(2026, 3, 1)
SITES = (1, 2, 3, 4)
CLASSES = ("100", "1000")
URGENCY_WEIGHTS = (1, 3, 6)  # critical, urgent, routine
NOT_READY = 0.3
ALL_SITES = 0.5
CLASS_1000 = 0.15
NEW_LISTING = 0.95  # after each decision, a new listing arrives this often
TOP = service.KEPT_CANDIDATES


def _sites(rng: random.Random) -> list[int]:
    if rng.random() < ALL_SITES:
        return list(SITES)
    return sorted(rng.sample(SITES, rng.randint(1, 3)))


def _urgency(rng: random.Random) -> Urgency:
    return rng.choices(list(Urgency), weights=URGENCY_WEIGHTS)[0]


# --- (a) the pure policy ----------------------------------------------------------------------


def candidate(rng: random.Random, entry_id: int, today: date) -> Candidate:
    return Candidate(
        entry_id=entry_id,
        urgency=_urgency(rng),
        listed_on=today - timedelta(days=rng.randrange(365)),
        room_class="1000" if rng.random() < CLASS_1000 else "100",
        sites=frozenset(_sites(rng)),
        ready=rng.random() >= NOT_READY,
        listing_institution_id=rng.choice(SITES),
    )


@dataclass
class Stream:
    start: list[Candidate]
    slots: list[Slot]
    arrivals: list[Candidate | None]


def stream(size: int, decisions: int, seed: int) -> Stream:
    rng = random.Random(seed)
    start = [candidate(rng, n, TODAY) for n in range(1, size + 1)]
    units = [
        Slot(unit_id=100 + 10 * site + k, institution_id=site, room_class=room_class)
        for site in SITES
        for room_class, count in (("100", 5), ("1000", 1))
        for k in range(count)
    ]
    # a class-1000 unit comes free as often as the share of class-1000 patients
    weights = [CLASS_1000 if s.room_class == "1000" else 1 - CLASS_1000 for s in units]
    slots = rng.choices(units, weights=weights, k=decisions)
    arrivals = [
        candidate(rng, size + 1 + n, TODAY) if rng.random() < NEW_LISTING else None
        for n in range(decisions)
    ]
    return Stream(start, slots, arrivals)


def run_queue(s: Stream, settings: PolicySettings) -> tuple[float, float, list[int | None], float]:
    """The stream through the Queue: the whole time, the time in ``decide`` alone, the
    entries chosen, and the time to build the queue."""
    t0 = time.perf_counter()
    queue = Queue(s.start, TODAY, settings)
    built = time.perf_counter() - t0
    chosen: list[int | None] = []
    deciding = 0.0
    clock = time.perf_counter
    t = clock()
    for slot, arrival in zip(s.slots, s.arrivals, strict=True):
        before = clock()
        d = queue.decide(slot, top=TOP)
        deciding += clock() - before
        if d.chosen is not None:
            queue.remove(d.chosen.entry_id)
        chosen.append(d.chosen.entry_id if d.chosen else None)
        if arrival is not None:
            queue.add(arrival)
    return clock() - t, deciding, chosen, built


def run_naive(s: Stream, settings: PolicySettings, n: int) -> tuple[float, list[int | None]]:
    """Each decision sorts the whole waitlist by the policy's order and scans it."""
    waiting = {c.entry_id: c for c in s.start}
    aging = settings.aging_days

    def key(c: Candidate) -> tuple[int, date, int]:
        rank = URGENCY_RANK[c.urgency]
        if aging:
            rank -= max(0, (TODAY - c.listed_on).days) // aging
        return (max(0, rank), c.listed_on, c.entry_id)

    chosen: list[int | None] = []
    t = time.perf_counter()
    for slot, arrival in zip(s.slots[:n], s.arrivals[:n], strict=True):
        found = None
        for c in sorted(waiting.values(), key=key):
            if (
                c.room_class == slot.room_class
                and c.ready
                and slot.institution_id in c.sites
                and slot.unit_id not in c.declined_units
            ):
                found = c.entry_id
                break
        if found is not None:
            del waiting[found]
        chosen.append(found)
        if arrival is not None:
            waiting[arrival.entry_id] = arrival
    return time.perf_counter() - t, chosen


def bench_policy(size: int, decisions: int, naive: int, repeat: int) -> None:
    settings = PolicySettings()
    s = stream(size, decisions, seed=2026)
    run_queue(s, settings)  # warm-up
    rates, decide_rates, builds = [], [], []
    chosen: list[int | None] = []
    for _ in range(repeat):
        seconds, deciding, chosen, built = run_queue(s, settings)
        rates.append(decisions / seconds)
        decide_rates.append(decisions / deciding)
        builds.append(built)
    naive_rates = []
    naive_chosen: list[int | None] = []
    for _ in range(repeat):
        seconds, naive_chosen = run_naive(s, settings, naive)
        naive_rates.append(naive / seconds)
    rate, base = statistics.median(rates), statistics.median(naive_rates)
    decide_rate = statistics.median(decide_rates)
    same = chosen[:naive] == naive_chosen
    given = sum(1 for c in chosen if c is not None)
    print(
        f"\n== (a) the allocation policy: a waitlist of {size:,} entries "
        f"({NOT_READY:.0%} not ready, {len(SITES)} hospitals, 2 room classes), "
        f"{decisions:,} decisions per run (the chosen taken out, a new listing after "
        f"{NEW_LISTING:.0%} of them), median of {repeat} runs =="
    )
    print(
        f"Queue.decide (the decision, {TOP} candidates kept) {decide_rate:>10,.0f} decisions/s  "
        f"(runs: {', '.join(f'{r:,.0f}' for r in decide_rates)})  goal: >= 100,000/s "
        f"{'MET' if decide_rate >= 100_000 else 'NOT MET'}"
    )
    print(
        f"the stream: decide + take the chosen out + put the new listing in "
        f"{rate:>10,.0f} a second  (runs: {', '.join(f'{r:,.0f}' for r in rates)})"
    )
    print(f"Queue built (sort once)          {statistics.median(builds) * 1000:>12.1f} ms")
    print(
        f"baseline: naive (sort + scan, the same upkeep) {base:>10,.1f} a second  "
        f"(first {naive} decisions)  the Queue's stream is {rate / base:,.0f}x faster; "
        f"same choices: {'yes' if same else 'NO'}"
    )
    print(f"units given: {given:,} of {decisions:,} (the rest: nobody eligible)")


# --- (b) a round through the database ----------------------------------------------------------


UNITS_PER_SITE = {"100": 5, "1000": 1}
MEASURED_UNITS = 4
BATCH = 5_000


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


def _insert_ids(session: Session, model: type[Base], rows: list[dict[str, Any]]) -> list[int]:
    table = _table(model)
    out: list[int] = []
    for i in range(0, len(rows), BATCH):
        stmt = table.insert().returning(table.c.id, sort_by_parameter_order=True)
        out.extend(session.connection().execute(stmt, rows[i : i + BATCH]).scalars())
    return out


@dataclass
class World:
    factory: sessionmaker[Session]
    lead: Actor
    pool_id: int
    measured: list[int]
    institutions: list[int]
    listed: int = 0


def seed_pool(url: str) -> tuple[World, Callable[[], None]]:
    """Four hospitals with staff, the pool with 24 units (most occupied, the measured ones in
    maintenance), no entries yet."""
    upgrade_database(url)
    engine = make_engine(url)
    factory = make_session_factory(engine, writes=True)
    now = datetime.now(UTC)
    with unit_of_work(factory) as s:
        insts = _insert_ids(
            s,
            Institution,
            [
                {
                    "code": f"BENCH-{n}",
                    "name_zh": f"测试医院{n}",
                    "name_en": f"Bench Hospital {n}",
                    "level": "tertiary",
                    "grade": "A",
                    "type": "general",
                    "division_code": "110102",
                    "province_code": "110000",
                    "city_code": "110100",
                    "latitude": 39.9,
                    "longitude": 116.4,
                    "bed_count": 500,
                    "created_at": now,
                    "updated_at": now,
                }
                for n in SITES
            ],
        )
        users = []
        for inst in insts:
            for role in [Role.COORDINATOR] * 2 + [Role.CLINICIAN] * 3:
                users.append((inst, role))
        ids = _insert_ids(
            s,
            User,
            [
                {
                    "username": f"bench-{n}",
                    "display_name": f"Bench user {n}",
                    "email": None,
                    "password_hash": "x",
                    "institution_id": inst,
                    "locale": "en",
                    "is_active": True,
                    "created_at": now,
                    "password_changed_at": now,
                }
                for n, (inst, _) in enumerate(users)
            ],
        )
        s.connection().execute(
            _table(UserRole).insert(),
            [{"user_id": u, "role": r.value} for u, (_, r) in zip(ids, users, strict=True)],
        )
        pool = ResourcePool(
            code="bench-cleanrooms",
            name_zh="层流仓",
            name_en="Cleanrooms",
            kind="cleanroom",
            lead_institution_id=insts[0],
            policy=PolicySettings().as_json(),
            pooled_since=date(2024, 1, 1),
            created_at=now,
            updated_at=now,
        )
        s.add(pool)
        s.flush()
        for inst in insts:
            s.add(PoolMember(pool_id=pool.id, institution_id=inst, joined_on=date(2024, 1, 1)))
        measured = []
        for i, inst in enumerate(insts):
            for room_class, count in UNITS_PER_SITE.items():
                for k in range(count):
                    u = ResourceUnit(
                        pool_id=pool.id,
                        institution_id=inst,
                        code=f"U{i}-{room_class}-{k}",
                        name=f"Room {i}-{room_class}-{k}",
                        room_class=room_class,
                        status="occupied",
                        status_since=now,
                        created_at=now,
                    )
                    s.add(u)
                    s.flush()
                    if room_class == "100" and k == 0:
                        u.status = "maintenance"
                        measured.append(u.id)
        lead = Actor(
            user_id=ids[0],
            username="bench-0",
            institution_id=insts[0],
            roles=frozenset({Role.COORDINATOR}),
        )
        world = World(factory, lead, pool.id, measured[:MEASURED_UNITS], insts)
    return world, engine.dispose


def add_entries(url: str, world: World, total: int) -> None:
    """Waiting entries (and their patients) until the pool has ``total`` of them."""
    rng = random.Random(f"bench-pools-{total}")
    now = datetime.now(UTC)
    today = service.today_of(now)
    more = total - world.listed
    with unit_of_work(world.factory) as s:
        patients = _insert_ids(
            s,
            Patient,
            [
                {
                    "institution_id": rng.choice(world.institutions),
                    "name": f"Bench patient {world.listed + n}",
                    "sex": "male" if n % 2 else "female",
                    "birth_date": date(2015, 1, 1) + timedelta(days=rng.randrange(3000)),
                    "is_synthetic": True,
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                }
                for n in range(more)
            ],
        )
        rows = []
        for pid in patients:
            c = candidate(rng, 0, today)
            sites = sorted(world.institutions[i - 1] for i in c.sites)
            listed_at = datetime.combine(c.listed_on, datetime.min.time(), UTC)
            rows.append(
                {
                    "pool_id": world.pool_id,
                    "patient_id": pid,
                    "listing_institution_id": world.institutions[c.listing_institution_id - 1],
                    "listed_by_user_id": None,
                    "listed_at": listed_at,
                    "listed_on": c.listed_on,
                    "icd10_code": "C91.0",
                    "transplant_type": "allogeneic_related",
                    "room_class": c.room_class,
                    "urgency": c.urgency.value,
                    "donor_found": c.ready,
                    "workup_done": c.ready,
                    "acceptable_institution_ids": sites,
                    "status": "waiting",
                    "status_changed_at": listed_at,
                    "before_pool": False,
                    "is_synthetic": True,
                    "version": 1,
                }
            )
        _insert_ids(s, WaitlistEntry, rows)
    world.listed = total
    engine = make_engine(url)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE" if url.startswith("sqlite") else "VACUUM ANALYZE")
    engine.dispose()


def _unit_version(world: World, unit_id: int) -> int:
    with unit_of_work(world.factory) as s:
        u = s.get(ResourceUnit, unit_id)
        assert u is not None
        return u.version


def one_round(world: World, unit_id: int) -> float:
    """Free the unit (timed: one transaction, committed), then take it out again (not timed:
    the offer is withdrawn and its patient waits again)."""
    version = _unit_version(world, unit_id)
    t = time.perf_counter()
    with unit_of_work(world.factory) as s:
        service.set_unit_status(
            s, world.lead, unit_id, UnitStatusIn(version=version, status="free")
        )
    took = (time.perf_counter() - t) * 1000
    with unit_of_work(world.factory) as s:
        u = s.get(ResourceUnit, unit_id)
        assert u is not None
        service.set_unit_status(
            s,
            world.lead,
            unit_id,
            UnitStatusIn(
                version=u.version,
                status="maintenance",
                expected_free_on=service.today_of(datetime.now(UTC)) + timedelta(days=3),
            ),
        )
    return took


def trivial(world: World) -> float:
    t = time.perf_counter()
    with unit_of_work(world.factory) as s:
        s.execute(text("SELECT 1"))
    return (time.perf_counter() - t) * 1000


def pct(values: list[float], p: float) -> float:
    data = sorted(values)
    return data[min(len(data) - 1, max(0, round(p / 100 * (len(data) - 1))))]


@dataclass
class Figures:
    p50: float
    p95: float
    base_p50: float
    base_p95: float


def measure(world: World, rounds: int) -> Figures:
    for i in range(10):  # warm-up
        one_round(world, world.measured[i % len(world.measured)])
        trivial(world)
    times, base = [], []
    for i in range(rounds):
        base.append(trivial(world))
        times.append(one_round(world, world.measured[i % len(world.measured)]))
    return Figures(pct(times, 50), pct(times, 95), pct(base, 50), pct(base, 95))


def offered_per_round(world: World) -> str:
    with unit_of_work(world.factory) as s:
        rows = s.execute(
            text("SELECT rule, count(*) FROM allocation_decision WHERE pool_id = :p GROUP BY rule"),
            {"p": world.pool_id},
        ).all()
    return ", ".join(f"{rule} {n}" for rule, n in sorted(rows))


def bench_rounds(backend: str, sizes: list[int], rounds: int, repeat: int, profile: bool) -> None:
    with fresh_database(backend) as url:
        world, dispose = seed_pool(url)
        try:
            for size in sizes:
                add_entries(url, world, size)
                runs = [measure(world, rounds) for _ in range(repeat)]
                p50 = statistics.median(r.p50 for r in runs)
                p95 = statistics.median(r.p95 for r in runs)
                b50 = statistics.median(r.base_p50 for r in runs)
                b95 = statistics.median(r.base_p95 for r in runs)
                goal = ""
                if backend == "postgresql":
                    goal = f"goal: p95 <= 50 ms {'MET' if p95 <= 50 else 'NOT MET'}"
                print(
                    f"\n== (b) {backend}: a round through the database, {size:,} waiting "
                    f"entries, 24 units, {rounds} rounds per run, median of {repeat} runs =="
                )
                print(
                    f"allocation round (free -> offer) p50 {p50:>7.2f} ms  p95 {p95:>7.2f} ms  "
                    f"(p95 of runs: {', '.join(f'{r.p95:.1f}' for r in runs)})  {goal}"
                )
                print(
                    f"baseline: SELECT 1 + commit      p50 {b50:>7.2f} ms  p95 {b95:>7.2f} ms  "
                    f"round = {p50 / b50:.0f}x the trivial transaction (p50), "
                    f"{p95 / b95:.0f}x (p95); trivial = {fmt_ratio(b50, p50)} of a round"
                )
                print(f"decisions so far by rule: {offered_per_round(world)}")
                if profile:
                    prof = cProfile.Profile()
                    prof.enable()
                    for i in range(50):
                        one_round(world, world.measured[i % len(world.measured)])
                    prof.disable()
                    pstats.Stats(prof).sort_stats("cumulative").print_stats(30)
        finally:
            dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--part", choices=("a", "b", "both"), default="both")
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--decisions", type=int, default=2_000)
    parser.add_argument("--naive", type=int, default=50, help="decisions of the naive baseline")
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--sizes", default="1000,10000", help="waiting entries, in order")
    parser.add_argument("--profile", action="store_true", help="profile 50 rounds after each")
    args = parser.parse_args()
    if args.part in ("a", "both"):
        bench_policy(args.size, args.decisions, args.naive, max(args.repeat, 5))
    if args.part in ("b", "both"):
        if args.backend == "both":
            backends = ["sqlite"] + (["postgresql"] if postgres_available() else [])
        else:
            backends = [args.backend]
        for backend in backends:
            sizes = [int(n) for n in args.sizes.split(",")]
            bench_rounds(backend, sizes, args.rounds, args.repeat, args.profile)


if __name__ == "__main__":
    main()
