"""Routing decisions and the expert worklist of remote consultation, at the issue's scale.

(a) The routing decision, the pure function ``consultations.domain.route`` over a
``RotaIndex``: 400 experts (the demo world's Beijing experts, across the 12 Beijing
hospitals and their specialties), a 24/7 rota per hospital and specialty over four weeks
(12-hour shifts, a primary and a backup, some leave), skills for some experts and 50,000 open
cases spread over them (``open_load``). Many random (institution, specialty, instant, ICD-10)
queries are routed; the figure is decisions per second (goal >= 5,000/s), with a trivial
baseline in the same run (the same loop doing only the dict look-ups) for the ratio.

(b) ``GET /api/v1/consultations/worklists/mine`` under load. A fresh database gets the demo
world, the 400 experts as accounts, and 50,000 open consultations by Core bulk inserts (most
held by an expert, the rest waiting in the pools); 50 of the Beijing Children's Hospital
experts are the clients, each with an API token of their own. One app process (uvicorn)
serves it on loopback:

- ``GET /api/v1/ping`` — the ceiling: the same app's trivial endpoint, same run;
- the first page (50) of each client's own worklist, closed loop (throughput vs the ceiling);
- the same offered at a fixed rate, open loop (p50/p95/p99; goal p95 <= 50 ms on PostgreSQL):
  at three quarters of the closed-loop throughput just measured, and at 100 a second.

Each measurement is repeated and the median run reported, on SQLite and (when reachable)
PostgreSQL.

    .venv/bin/python bench/bench_consultations.py [--part a|b|both] [--quick]
        [--clients 50] [--requests 1000] [--repeat 3] [--backend sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from bench.harness import (
    BENCH_SECRET_KEY,
    Result,
    fmt_ratio,
    fresh_database,
    load,
    load_at_rate,
    median_of,
    postgres_available,
    served,
)
from medcircle.audit.domain import mask_national_id
from medcircle.auth import service as auth_service
from medcircle.auth.domain import Actor, Role
from medcircle.auth.models import User, UserRole
from medcircle.auth.security import hash_password
from medcircle.cli.db import upgrade_database
from medcircle.cli.user import OPERATOR
from medcircle.config import Settings
from medcircle.consultations.domain import (
    URGENCY_RANK,
    Expert,
    Leave,
    RotaIndex,
    Shift,
    ShiftRole,
    Status,
    Targets,
    Urgency,
    route,
)
from medcircle.consultations.models import Consultation
from medcircle.db import Base, make_engine, make_session_factory, unit_of_work
from medcircle.demo import facts
from medcircle.demo import service as demo
from medcircle.demo.cases import CASES
from medcircle.demo.generator import generate
from medcircle.demo.world import World
from medcircle.kit.crypto import cipher_for
from medcircle.patients.domain import make_national_id, mask_phone
from medcircle.patients.models import Patient
from medcircle.registry.models import Institution, Practitioner

OPEN_CASES = 50_000
WEEKS = 4
SHIFT_HOURS = 12
LEAVE_SHARE = 0.1
SKILL_SHARE = 0.3
SKILL_PREFIXES = ("C91", "C92", "D61", "Q21", "Q2", "J18", "J45", "P07", "G40", "N04", "I63", "S72")
ICD10: tuple[str | None, ...] = (*(c.icd10 for c in CASES), "J18.9", "J45.9", "C92.0", None)
T0 = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
MEASURED = facts.BEIJING_CHILDRENS
BATCH = 5_000
PATIENTS = 5_000
# open consultations held by an expert (the rest wait in the pools)
HELD_SHARE = 0.7


# --- (a) the routing decision -------------------------------------------------------------


@dataclass
class Instance:
    rotas: dict[tuple[str, str], RotaIndex]
    experts: dict[tuple[str, str], dict[int, Expert]]
    open_load: dict[int, int]
    shifts: int
    leaves: int


def beijing_experts(world: World) -> list[tuple[int, str, str]]:
    """(expert number, institution, specialty) of the demo world's 400 Beijing experts."""
    beijing = {h.code for h in facts.BEIJING_HOSPITALS}
    return [
        (n, p.institution, p.specialty_code)
        for n, p in enumerate((p for p in world.practitioners if p.institution in beijing), start=1)
    ]


def instance(world: World, rng: random.Random) -> Instance:
    """Rotas, experts and open load at the issue's scale."""
    pools: dict[tuple[str, str], list[int]] = defaultdict(list)
    for n, inst, spec in beijing_experts(world):
        pools[(inst, spec)].append(n)
    every = [n for members in pools.values() for n in members]
    leaves = []
    for n in every:
        if rng.random() < LEAVE_SHARE:
            start = T0 + timedelta(days=rng.randrange(WEEKS * 7 - 2))
            leaves.append(Leave(n, start, start + timedelta(days=rng.randint(2, 7))))
    rotas: dict[tuple[str, str], RotaIndex] = {}
    experts: dict[tuple[str, str], dict[int, Expert]] = {}
    count = 0
    for key, members in pools.items():
        shifts = []
        for i in range(WEEKS * 7 * 24 // SHIFT_HOURS):
            start = T0 + timedelta(hours=SHIFT_HOURS * i)
            end = start + timedelta(hours=SHIFT_HOURS)
            primary = members[i % len(members)]
            shifts.append(Shift(primary, start, end, ShiftRole.PRIMARY))
            if len(members) > 1:
                backup = members[(i + 1) % len(members)]
                shifts.append(Shift(backup, start, end, ShiftRole.BACKUP))
        count += len(shifts)
        mine = {lv.user_id for lv in leaves} & set(members)
        rotas[key] = RotaIndex(shifts, [lv for lv in leaves if lv.user_id in mine])
        experts[key] = {
            n: Expert(
                n,
                tuple(rng.sample(SKILL_PREFIXES, rng.randint(1, 2)))
                if rng.random() < SKILL_SHARE
                else (),
                rng.randint(100, 200),
            )
            for n in members
        }
    weights = [math.exp(rng.gauss(0, 0.6)) for _ in every]
    load_of = Counter(rng.choices(every, weights=weights, k=OPEN_CASES))
    return Instance(rotas, experts, dict(load_of), count, len(leaves))


def queries(
    inst: Instance, rng: random.Random, n: int
) -> list[tuple[tuple[str, str], datetime, str | None]]:
    keys = sorted(inst.rotas)
    span = WEEKS * 7 * 24 * 3600
    return [
        (rng.choice(keys), T0 + timedelta(seconds=rng.randrange(span)), rng.choice(ICD10))
        for _ in range(n)
    ]


def bench_routing(decisions: int, repeat: int) -> None:
    rng = random.Random("medcircle-bench-routing")
    world = generate(2017, as_of=date(2026, 11, 30))
    t0 = time.perf_counter()
    inst = instance(world, rng)
    built = time.perf_counter() - t0
    qs = queries(inst, rng, decisions)
    rotas, experts, open_load = inst.rotas, inst.experts, inst.open_load

    def decide() -> tuple[float, Counter[str]]:
        reasons: Counter[str] = Counter()
        t = time.perf_counter()
        for key, at, code in qs:
            reasons[route(rotas[key], experts[key], open_load, at, code).reason] += 1
        return time.perf_counter() - t, reasons

    def baseline() -> float:
        # the same loop with only the look-ups a decision starts from
        t = time.perf_counter()
        for key, at, code in qs:
            _ = (rotas[key], experts[key], open_load.get(len(key)), at, code)
        return time.perf_counter() - t

    decide()  # warm-up
    runs = []
    bases = []
    reasons: Counter[str] = Counter()
    for _ in range(repeat):
        seconds, reasons = decide()
        runs.append(decisions / seconds)
        bases.append(decisions / baseline())
    rate, base = statistics.median(runs), statistics.median(bases)
    experts_total = sum(len(e) for e in experts.values())
    print(
        f"\n== (a) routing: {experts_total} experts in {len(rotas)} rotas "
        f"({inst.shifts:,} shifts over {WEEKS} weeks, {inst.leaves} on leave), "
        f"{sum(open_load.values()):,} open cases; built in {built:.2f} s =="
    )
    print(f"decisions: {decisions:,} per run, median of {repeat} runs")
    print(
        f"domain.route                     {rate:>12,.0f} decisions/s  "
        f"(runs: {', '.join(f'{r:,.0f}' for r in runs)})  goal: >= 5,000/s "
        f"{'MET' if rate >= 5000 else 'NOT MET'}"
    )
    print(
        f"baseline (dict look-ups only)    {base:>12,.0f} loops/s  "
        f"route = {fmt_ratio(rate, base)} of the baseline, "
        f"{base / rate:.0f}x the cost of the look-ups"
    )
    share = ", ".join(f"{k} {v / sum(reasons.values()):.1%}" for k, v in reasons.most_common())
    print(f"reasons: {share}")


# --- (b) the worklist under load ----------------------------------------------------------


@dataclass
class Prepared:
    tokens: list[str]
    seconds: float
    held_by_client: int


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


def _insert(session: Session, model: type[Base], rows: list[dict[str, Any]]) -> None:
    for i in range(0, len(rows), BATCH):
        session.connection().execute(_table(model).insert(), rows[i : i + BATCH])


def _insert_ids(session: Session, model: type[Base], rows: list[dict[str, Any]]) -> list[int]:
    table = _table(model)
    out: list[int] = []
    for i in range(0, len(rows), BATCH):
        stmt = table.insert().returning(table.c.id, sort_by_parameter_order=True)
        out.extend(session.connection().execute(stmt, rows[i : i + BATCH]).scalars())
    return out


def _experts(session: Session, world: World, rng: random.Random) -> dict[str, list[int]]:
    """An expert account for each of the 400 Beijing experts (linked to their practitioner
    record), by institution code."""
    now = datetime.now(UTC)
    password = hash_password("bench-password-0123456789")
    inst_ids = dict(session.execute(select(Institution.code, Institution.id)).all())
    beijing = {inst_ids[h.code]: h.code for h in facts.BEIJING_HOSPITALS}
    doctors = session.execute(
        select(Practitioner.id, Practitioner.institution_id).where(
            Practitioner.institution_id.in_(sorted(beijing)), Practitioner.user_id.is_(None)
        )
    ).all()
    ids = _insert_ids(
        session,
        User,
        [
            {
                "username": f"bench-expert-{n:03d}",
                "display_name": f"Bench expert {n}",
                "email": None,
                "password_hash": password,
                "institution_id": inst_id,
                "locale": "en",
                "is_active": True,
                "created_at": now,
                "password_changed_at": now,
                "last_login_at": None,
            }
            for n, (_, inst_id) in enumerate(doctors)
        ],
    )
    _insert(session, UserRole, [{"user_id": u, "role": Role.EXPERT.value} for u in ids])
    for (p_id, _), u in zip(doctors, ids, strict=True):
        session.connection().execute(
            _table(Practitioner).update().where(_table(Practitioner).c.id == p_id),
            {"user_id": u},
        )
    out: dict[str, list[int]] = defaultdict(list)
    for (_, inst_id), u in zip(doctors, ids, strict=True):
        out[beijing[inst_id]].append(u)
    return out


def seed(url: str, clients: int) -> Prepared:
    """The demo world, 400 expert accounts, 50,000 open consultations; client tokens."""
    t0 = time.perf_counter()
    upgrade_database(url)
    settings = Settings(database_url=url, secret_key=BENCH_SECRET_KEY)
    cipher = cipher_for(settings.data_key, settings.secret_key)
    rng = random.Random("medcircle-bench-consultations")
    engine = make_engine(url)
    world = generate(2017)
    try:
        with unit_of_work(make_session_factory(engine)) as session:
            demo.load_world(session, OPERATOR, world, settings)
        with unit_of_work(make_session_factory(engine)) as session:
            experts = _experts(session, world, rng)
            inst_ids = dict(session.execute(select(Institution.code, Institution.id)).all())
            spec_of = dict(
                session.execute(select(Practitioner.user_id, Practitioner.specialty_code)).all()
            )
            asker = session.scalar(select(User.id).where(User.username == "bdch.doctor"))
            assert asker is not None
            askers = [inst_ids[h.code] for h in facts.BAODING_HOSPITALS]
            now = datetime.now(UTC)
            patient_rows = []
            homes = []
            for n in range(PATIENTS):
                home = rng.choice(askers)
                born = now.date() - timedelta(days=rng.randint(30, 14 * 365))
                number = make_national_id("130606", born, n % 1000)
                phone = f"138{n:08d}"
                patient_rows.append(
                    {
                        "institution_id": home,
                        "name": f"Bench patient {n}",
                        "sex": "male" if n % 2 else "female",
                        "birth_date": born,
                        "national_id_sealed": cipher.seal(number),
                        "national_id_hash": cipher.digest(f"{number}-{n}", kind="national_id"),
                        "national_id_masked": mask_national_id(number),
                        "phone_sealed": None,
                        "phone_masked": None,
                        "residence_division_code": "130606",
                        "address": None,
                        "guardian_name": "Bench guardian",
                        "guardian_relation": "mother",
                        "guardian_phone_sealed": cipher.seal(phone),
                        "guardian_phone_masked": mask_phone(phone),
                        "email": None,
                        "merged_into_id": None,
                        "is_synthetic": True,
                        "created_at": now,
                        "updated_at": now,
                        "version": 1,
                    }
                )
                homes.append(home)
            patient_ids = _insert_ids(session, Patient, patient_rows)
            every = [(code, u) for code, users in experts.items() for u in users]
            clients_ids = experts[MEASURED][:clients]
            targets = Targets()
            rows = []
            for n in range(OPEN_CASES):
                p = rng.randrange(PATIENTS)
                code, holder = rng.choice(every)
                urgency = rng.choices(list(Urgency), weights=(1, 3, 6))[0]
                target = targets.for_urgency(urgency)
                asked = now - target * rng.random() * 1.2
                held = rng.random() < HELD_SHARE
                status = (
                    (Status.ASSIGNED if rng.random() < 0.85 else Status.AWAITING_ASKER)
                    if held
                    else Status.POOL
                )
                paused = status == Status.AWAITING_ASKER
                case = rng.choice(CASES)
                rows.append(
                    {
                        "reference": f"BC-{n:07d}",
                        "status": status.value,
                        "mode": "written",
                        "urgency": urgency.value,
                        "urgency_rank": URGENCY_RANK[urgency],
                        "patient_id": patient_ids[p],
                        "consent_id": None,
                        "asker_institution_id": homes[p],
                        "asker_department_id": None,
                        "asker_user_id": asker,
                        "answer_institution_id": inst_ids[code],
                        "specialty_code": spec_of.get(holder, case.specialty),
                        "agreement_id": None,
                        "assignee_user_id": holder if held else None,
                        "question": case.reason,
                        "clinical_summary": case.summary,
                        "icd10_code": case.icd10,
                        "diagnosis": case.diagnosis,
                        "asked_at": asked,
                        "target_minutes": int(target.total_seconds() // 60),
                        "paused_seconds": 0,
                        "paused_since": asked + (now - asked) / 2 if paused else None,
                        "due_at": None if paused else asked + target,
                        "escalation_level": 0,
                        "route_reason": "on_call" if held else None,
                        "is_difficult": False,
                        "is_synthetic": True,
                        "created_at": asked,
                        "updated_at": asked,
                        "version": 1,
                    }
                )
            _insert(session, Consultation, rows)
            held_by_client = sum(
                1 for r in rows if r["assignee_user_id"] in set(clients_ids)
            ) // max(1, len(clients_ids))
            tokens = []
            for u in clients_ids:
                actor = Actor(
                    user_id=u,
                    username=f"bench-expert-{u}",
                    institution_id=inst_ids[MEASURED],
                    roles=frozenset({Role.EXPERT}),
                )
                raw, _ = auth_service.create_api_token(session, actor, "bench", 1)
                tokens.append(raw)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE" if url.startswith("sqlite") else "VACUUM ANALYZE")
        return Prepared(tokens, time.perf_counter() - t0, held_by_client)
    finally:
        engine.dispose()


WORKLIST = "my worklist, first 50"
# open loop near capacity: three quarters of the worklist's own closed-loop throughput
WORKLIST_SHARE = 0.75
WORKLIST_PACED = f"my worklist, offered {WORKLIST_SHARE:.0%} of it"
# a fixed rate too: far above what the circle's experts will ever ask of it
WORKLIST_FIXED_RATE = 100.0
WORKLIST_FIXED = f"my worklist, offered {WORKLIST_FIXED_RATE:.0f}/s"
GOALS = {
    WORKLIST: "throughput vs the ceiling",
    WORKLIST_PACED: "goal (PostgreSQL): p95 <= 50 ms",
    WORKLIST_FIXED: "goal (PostgreSQL): p95 <= 50 ms",
}


def run_worklist(
    backend: str, clients: int, requests: int, repeat: int
) -> tuple[list[Result], Prepared]:
    with fresh_database(backend) as url, tempfile.TemporaryDirectory() as data:
        prep = seed(url, clients)
        print(
            f"{backend}: seeded {OPEN_CASES:,} open consultations in {prep.seconds:.0f} s "
            f"(about {prep.held_by_client} held by each client)",
            flush=True,
        )
        tokens = prep.tokens

        def ping(i: int) -> tuple[str, str, dict[str, str], dict[str, object] | None]:
            return "GET", "/api/v1/ping", {"Authorization": f"Bearer {tokens[i % clients]}"}, None

        def mine(i: int) -> tuple[str, str, dict[str, str], dict[str, object] | None]:
            headers = {"Authorization": f"Bearer {tokens[i % clients]}"}
            return "GET", "/api/v1/consultations/worklists/mine?size=50", headers, None

        results = []
        with served(url, Path(data)) as base:
            for name, make in (("ping (ceiling)", ping), (WORKLIST, mine)):
                load(base, name, make, clients=clients, total=clients * 2)
                runs = [
                    load(base, name, make, clients=clients, total=requests) for _ in range(repeat)
                ]
                results.append(median_of(runs))
            for name, rate in (
                (WORKLIST_PACED, results[1].throughput * WORKLIST_SHARE),
                (WORKLIST_FIXED, WORKLIST_FIXED_RATE),
            ):
                runs = [
                    load_at_rate(base, name, mine, rate=rate, clients=clients, total=requests)
                    for _ in range(repeat)
                ]
                results.append(median_of(runs))
        return results, prep


def bench_worklist(backends: list[str], clients: int, requests: int, repeat: int) -> None:
    for backend in backends:
        results, _ = run_worklist(backend, clients, requests, repeat)
        ceiling = results[0].throughput
        print(
            f"\n== (b) {backend}: {OPEN_CASES:,} open consultations, {clients} clients, "
            f"{requests} requests per run, median of {repeat} runs =="
        )
        for r in results:
            share = fmt_ratio(r.throughput, ceiling)
            print(f"{r.row()}  ({share} of ceiling)  {GOALS.get(r.name, '')}")
        for r in results:
            if r.errors:
                print(f"!! {r.name}: {r.errors} of {r.requests} failed; not a valid figure")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--part", choices=("a", "b", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="a short run: fewer of everything")
    parser.add_argument("--decisions", type=int, default=200_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args()
    if args.quick:
        args.decisions = min(args.decisions, 50_000)
        args.requests = min(args.requests, 400)
        args.repeat = 1
    if args.part in ("a", "both"):
        bench_routing(args.decisions, max(args.repeat, 3))
    if args.part in ("b", "both"):
        if args.backend == "both":
            backends = ["sqlite"] + (["postgresql"] if postgres_available() else [])
        else:
            backends = [args.backend]
        bench_worklist(backends, args.clients, args.requests, args.repeat)


if __name__ == "__main__":
    main()
