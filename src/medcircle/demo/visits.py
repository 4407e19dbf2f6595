"""Visits of Beijing experts to Hebei hospitals in the demo world: raw visit records, from
which the visit measures compute the seeds' figures. Pure, from the seed (the loader at the
end writes them).

- **Beijing Children's Hospital to Baoding Children's Hospital**, real dates, from the start
  of the trusteeship (1 June 2015) to the 2024 report (26 February 2024), year by year as
  ``facts.BDCH_VISITS`` plans it: that many trips (a team of one specialty leaving on one day),
  expert-days on site and operations, and the in-person difficult cases of
  ``facts.DIFFICULT_CASES``. The experts come from a pool of ``facts.BDCH_EXPERT_POOL``
  joining over the years, so more than 400 distinct experts have been by 2024 (2016: more
  than 800 trips; in all more than 15,000 person-visits and 6,000 operations).
- After the report the visits go on at the rate of 2023.
- **The 2017 report's period** (the demo's copy: the 874 days that end the day before
  ``world.as_of``, as the referrals and consultations): exactly 24,435 out-calls by the
  experts of the 12 Beijing hospitals to the Baoding hospitals they work with, receiving
  exactly 10,258 patients. Visits of Beijing Children's already in that period count; the
  other eleven hospitals make the rest in proportion to their weight.

An expert is never at two sites at once: each expert's records do not overlap. The experts
are the expert accounts the world already has in those specialties, and accounts for the
visiting experts (``<hospital>.visiting.<n>``, not listed, no practitioner record: many have
moved on since).
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select

from medcircle.demo import facts
from medcircle.demo.consultations import cooperation_period
from medcircle.demo.referrals import CHINA
from medcircle.demo.world import DemoUser, DemoVisit, World
from medcircle.dispatch.models import VisitOperation, VisitRecord

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from medcircle.demo.service import Keys

BCH = facts.BEIJING_CHILDRENS
BDCH = facts.BAODING_CHILDRENS

# The specialties Beijing Children's sends to Baoding Children's, by how often.
BDCH_SPECIALTIES: dict[str, int] = {
    "ped_hem_onc": 5,
    "ped_surgery": 4,
    "neonatology": 3,
    "ped_respiratory": 3,
    "ped_icu": 2,
    "ped_neurology": 2,
    "ped_gastro": 2,
    "stem_cell_transplant": 2,
    "radiology": 1,
    "laboratory": 1,
    "pathology": 1,
}
# Where the other eleven Beijing hospitals send their experts (the hospitals each works with,
# as in the consultations), and their relative share of the out-calls.
ROUTES: tuple[tuple[str, str, int], ...] = (
    ("TTH", "BD1C", 10),
    ("JSTH", "BD2C", 9),
    ("BTRH", "HBUAH", 8),
    ("PUMCH", "HBUAH", 8),
    ("BCYH", "HBUAH", 8),
    ("XWH", "BD1C", 7),
    ("AZH", "BD1C", 7),
    ("BFH", "BD2C", 7),
    ("BJTCM", "BDTCM", 6),
    ("BOGH", "BDMCH", 5),
    ("PUCH", "HBUAH", 5),
)
# What the experts of a specialty operate on: (relative number of operations per day on
# site, the (ICD-10, procedure) they perform).
OPERATIONS: dict[str, tuple[int, tuple[tuple[str, str], ...]]] = {
    "ped_surgery": (
        8,
        (
            ("K40.9", "腹腔镜腹股沟疝高位结扎术"),
            ("Q43.1", "先天性巨结肠根治术"),
            ("K35.8", "腹腔镜阑尾切除术"),
            ("Q53.1", "睾丸下降固定术"),
        ),
    ),
    "ped_hem_onc": (2, (("C91.0", "骨髓穿刺活检术"), ("C64", "肾母细胞瘤切除术"))),
    "ped_respiratory": (2, (("J47", "支气管镜检查及肺泡灌洗术"), ("J18.9", "支气管镜肺泡灌洗术"))),
    "ped_gastro": (2, (("K29.7", "小儿胃镜检查术"), ("K50.9", "小儿结肠镜检查术"))),
    "stem_cell_transplant": (1, (("D61.9", "造血干细胞移植术"), ("D56.1", "造血干细胞移植术"))),
    "ped_icu": (1, (("J96.0", "气管切开术"),)),
    "neonatology": (1, (("Q79.0", "先天性膈疝修补术"), ("P07.3", "经外周置入中心静脉导管术"))),
    "neurosurgery": (
        4,
        (("I67.1", "颅内动脉瘤夹闭术"), ("S06.5", "硬膜下血肿清除术"), ("C71.9", "脑肿瘤切除术")),
    ),
    "orthopaedics": (
        4,
        (("S72.0", "人工髋关节置换术"), ("M41.1", "脊柱侧弯矫形术"), ("M17.1", "人工膝关节置换术")),
    ),
    "ophthalmology": (4, (("H25.9", "白内障超声乳化吸除术"), ("H33.0", "玻璃体切割术"))),
    "ent": (3, (("H90.3", "人工耳蜗植入术"), ("J35.0", "扁桃体切除术"))),
    "general_surgery": (4, (("K80.2", "腹腔镜胆囊切除术"), ("K40.9", "腹股沟疝修补术"))),
    "obstetrics": (3, (("O82", "剖宫产术"), ("O14.1", "重度子痫前期剖宫产术"))),
    "gynaecology": (3, (("D25.9", "子宫肌瘤剔除术"),)),
    "oncology": (3, (("C34.9", "肺癌根治术"), ("C50.9", "乳腺癌改良根治术"))),
    "cardiology": (2, (("I25.1", "经皮冠状动脉介入治疗"), ("I20.0", "经皮冠状动脉介入治疗"))),
    "icu": (1, (("J96.0", "气管切开术"),)),
    "emergency": (1, (("S82.1", "胫骨骨折切开复位内固定术"),)),
}
# Out-calls of the other hospitals: expert-days and operations per out-call (on average),
# difficult cases per out-call; how many out-calls one of their experts makes in the period.
OTHER_DAYS_PER_OUT_CALL = 1.4
OTHER_OPERATIONS_PER_WEIGHT = 0.15
OTHER_DIFFICULT_PER_OUT_CALL = 0.3
OUT_CALLS_PER_EXPERT = 45
# A team: one expert mostly, sometimes two or three of the same specialty.
TEAM_SIZES = ((1, 78), (2, 16), (3, 6))
# The share of out-calls with a clinic, and patients seen per day of clinic outside the
# report's period (inside it the report's total is shared out exactly).
CLINIC_SHARE = 0.3
PATIENTS_PER_CLINIC_DAY = 1.4
# Of the expert-days beyond one per out-call: the share of out-calls that are long stays
# (a resident expert, weeks on site) and their weight against a day or two more.
LONG_STAY_SHARE = 0.03
LONG_STAY_WEIGHT = 12.0
SHORT_EXTRA_SHARE = 0.22
# When the Beijing Children's experts of the pool join: the first share at the start of the
# trusteeship, the others spread until this day.
POOL_FIRST_SHARE = 0.25
POOL_LAST_JOINS = date(2023, 1, 1)
# After the 2024 report the visits go on at the rate of this year.
RATE_YEAR = 2023


@dataclass(slots=True)
class _Rec:
    """A record in the making (days as ordinals, the expert chosen last)."""

    home: str
    site: str
    specialty: str
    start: int
    days: int = 1
    outpatients: int = 0
    ward_rounds: int = 0
    teaching: int = 0
    difficult: int = 0
    operations: int = 0
    user: str = ""


@dataclass(slots=True)
class _Expert:
    username: str
    joined: int
    free_from: int = 0


@dataclass
class _Pools:
    """The experts of each (hospital, specialty), by the day they joined."""

    experts: dict[tuple[str, str], list[_Expert]] = field(default_factory=dict)
    joined: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    numbers: dict[str, int] = field(default_factory=dict)

    def add(self, home: str, specialty: str, expert: _Expert) -> None:
        key = (home, specialty)
        pool = self.experts.setdefault(key, [])
        days = self.joined.setdefault(key, [])
        at = bisect.bisect_right(days, expert.joined)
        pool.insert(at, expert)
        days.insert(at, expert.joined)


def spread(total: int, weights: list[float]) -> list[int]:
    """``total`` split in proportion to ``weights`` (largest remainders, ties by position);
    equal parts when every weight is 0."""
    if not weights:
        if total:
            raise ValueError("nothing to share out")
        return []
    whole = sum(weights)
    if whole <= 0:
        weights = [1.0] * len(weights)
        whole = float(len(weights))
    shares = [total * w / whole for w in weights]
    counts = [int(s) for s in shares]
    rest = total - sum(counts)
    order = sorted(range(len(shares)), key=lambda i: counts[i] - shares[i])
    for i in order[:rest]:
        counts[i] += 1
    return counts


def _weekdays(lo: date, hi: date) -> list[int]:
    """The working days from ``lo`` up to ``hi`` (not included), as ordinals."""
    first, last = lo.toordinal(), hi.toordinal()
    return [d for d in range(first, last) if date.fromordinal(d).weekday() < 5]


@dataclass(frozen=True)
class Plan:
    """One batch of visits: a hospital to a site over days ``lo`` to ``hi`` (not included)
    with exact totals (``trips`` or ``out_calls`` fixes the number)."""

    home: str
    site: str
    specialties: dict[str, int]
    lo: date
    hi: date
    person_visits: int
    operations: int
    difficult: int
    trips: int | None = None
    out_calls: int | None = None


def _batch(rng: random.Random, plan: Plan, last_day: int) -> list[_Rec]:
    """The records of one plan, with exact totals of expert-days, operations and difficult
    cases; in a plan of trips no two trips of one specialty leave on the same day."""
    days = _weekdays(plan.lo, plan.hi)
    if not days:
        return []
    team_sizes = [s for s, _ in TEAM_SIZES]
    team_weights = [w for _, w in TEAM_SIZES]
    if plan.trips is not None:
        sizes = rng.choices(team_sizes, weights=team_weights, k=plan.trips)
    else:
        wanted = plan.out_calls or 0
        sizes = []
        so_far = 0
        for size in rng.choices(team_sizes, weights=team_weights, k=wanted):
            if so_far >= wanted:
                break
            size = min(size, wanted - so_far)
            sizes.append(size)
            so_far += size
    specs = list(plan.specialties)
    spec_weights = list(plan.specialties.values())
    drawn_specs = rng.choices(specs, weights=spec_weights, k=len(sizes))
    drawn_days = rng.choices(days, k=len(sizes))
    used: set[tuple[str, int]] = set()
    recs: list[_Rec] = []
    for size, spec, day in zip(sizes, drawn_specs, drawn_days, strict=True):
        tries = 0
        # trips are what such a plan counts: two leaving together would be one
        while plan.trips is not None and (spec, day) in used and tries < 50:
            spec = rng.choices(specs, weights=spec_weights)[0]
            day = rng.choice(days)
            tries += 1
        used.add((spec, day))
        recs.extend(_Rec(plan.home, plan.site, spec, day) for _ in range(size))
    extra = plan.person_visits - len(recs)
    if extra < 0:
        raise ValueError(f"fewer expert-days than out-calls for {plan.home} from {plan.lo}")
    stay: list[float] = []
    for _ in recs:
        r = rng.random()
        stay.append(
            LONG_STAY_WEIGHT
            if r < LONG_STAY_SHARE
            else (1.0 if r < LONG_STAY_SHARE + SHORT_EXTRA_SHARE else 0.0)
        )
    for rec, more in zip(recs, spread(extra, stay), strict=True):
        rec.days = min(1 + more, 366)
        # nothing ends after the last day of the world: a long stay starts earlier then
        if rec.start + rec.days - 1 > last_day:
            rec.start = last_day - rec.days + 1
    op_weights = [
        OPERATIONS.get(r.specialty, (0, ()))[0] * math.sqrt(r.days) * rng.uniform(0.5, 1.5)
        for r in recs
    ]
    if plan.operations and not any(op_weights):
        raise ValueError(f"operations planned for {plan.home} but no specialty operates")
    for rec, n in zip(recs, spread(plan.operations, op_weights), strict=True):
        rec.operations = n
    hard = [r.days * rng.uniform(0.5, 1.5) for r in recs]
    for rec, n in zip(recs, spread(plan.difficult, hard), strict=True):
        rec.difficult = n
    teaching = rng.choices((0, 1, 2), weights=(40, 45, 15), k=len(recs))
    for rec, sessions in zip(recs, teaching, strict=True):
        rec.ward_rounds = round(rec.days * rng.uniform(0.3, 1.0))
        rec.teaching = sessions + rec.days // 5
    return recs


def _draw_patients(rng: random.Random, recs: list[_Rec]) -> None:
    for rec in recs:
        if rng.random() < CLINIC_SHARE:
            rec.outpatients = round(rec.days * PATIENTS_PER_CLINIC_DAY * rng.uniform(0.3, 1.7))


def _share_patients(rng: random.Random, recs: list[_Rec], total: int) -> None:
    weights = [
        rec.days * rng.uniform(0.5, 1.5) if rng.random() < CLINIC_SHARE else 0.0 for rec in recs
    ]
    for rec, n in zip(recs, spread(total, weights), strict=True):
        rec.outpatients = n


# --- the experts -------------------------------------------------------------------------------


def _names(rng: random.Random, used: set[str]) -> str:
    while True:
        surname, _ = rng.choice(facts.SURNAMES)
        chars = rng.sample(facts.GIVEN_CHARS, rng.choice((1, 2, 2, 2)))
        name = surname + "".join(c for c, _ in chars)
        if name not in used:
            used.add(name)
            return name


def _account(world: World, pools: _Pools, home: str, name: str, joined: date) -> _Expert:
    """A visiting expert's account (made when the platform started, as the other demo
    accounts; the history before it is imported), who takes part from ``joined``."""
    n = pools.numbers.get(home, 0) + 1
    pools.numbers[home] = n
    username = f"{home.lower()}.visiting.{n:03d}"
    world.users.append(
        DemoUser(
            username=username,
            display_name=name,
            institution=home,
            roles=("expert",),
            locale="zh_Hans",
            practitioner=None,
            created_on=facts.PAIRINGS_START,
            listed=False,
        )
    )
    return _Expert(username, joined.toordinal())


def _existing(world: World) -> dict[tuple[str, str], list[str]]:
    """The world's expert accounts by (hospital, specialty of their practitioner record)."""
    specialty = {p.key: p.specialty_code for p in world.practitioners}
    found: dict[tuple[str, str], list[str]] = {}
    for u in world.users:
        if "expert" in u.roles and u.practitioner in specialty:
            found.setdefault((u.institution, specialty[u.practitioner]), []).append(u.username)
    return found


def _bch_pool(world: World, rng: random.Random, pools: _Pools, used: set[str]) -> None:
    existing = _existing(world)
    start = facts.TRUSTEESHIP_START
    for spec in BDCH_SPECIALTIES:
        for username in existing.get((BCH, spec), []):
            pools.add(BCH, spec, _Expert(username, start.toordinal()))
    have = sum(len(v) for k, v in pools.experts.items() if k[0] == BCH)
    new = max(0, facts.BDCH_EXPERT_POOL - have)
    first = round(new * POOL_FIRST_SHARE)
    span = (POOL_LAST_JOINS - start).days
    specs = list(BDCH_SPECIALTIES)
    weights = list(BDCH_SPECIALTIES.values())
    for k in range(new):
        joined = start if k < first else start + timedelta(days=(k - first) * span // (new - first))
        spec = rng.choices(specs, weights=weights)[0]
        pools.add(BCH, spec, _account(world, pools, BCH, _names(rng, used), joined))


def _other_pools(
    world: World,
    rng: random.Random,
    pools: _Pools,
    used: set[str],
    routes: dict[tuple[str, str], dict[str, int]],
    joined: date,
) -> None:
    """Enough experts for each hospital's share of the report's out-calls (sized from the
    report, not the day, so the accounts are the same whatever day the world is for)."""
    existing = _existing(world)
    weights = {(h, s): w for h, s, w in ROUTES}
    whole = sum(weights.values())
    for (home, site), specs in routes.items():
        share = facts.OUT_CALLS_REPORTED * weights[(home, site)] / whole / len(specs)
        for spec in specs:
            key = (home, spec)
            if key not in pools.experts:
                for username in existing.get(key, []):
                    pools.add(home, spec, _Expert(username, joined.toordinal()))
            have = len(pools.experts.get(key, []))
            wanted = max(3, math.ceil(share / OUT_CALLS_PER_EXPERT))
            for _ in range(max(0, wanted - have)):
                pools.add(home, spec, _account(world, pools, home, _names(rng, used), joined))


def _assign(
    rng: random.Random,
    names: random.Random,
    world: World,
    pools: _Pools,
    recs: list[_Rec],
    used: set[str],
) -> None:
    """Give each record an expert of its hospital and specialty who has joined and is free
    (in the order of the visits, so nobody is at two sites at once)."""
    recs.sort(key=lambda r: (r.start, r.home, r.specialty, r.site))
    for rec in recs:
        key = (rec.home, rec.specialty)
        pool = pools.experts[key]
        count = bisect.bisect_right(pools.joined[key], rec.start)
        chosen: _Expert | None = None
        if count:
            for _ in range(6):
                e = pool[rng.randrange(count)]
                if e.free_from <= rec.start:
                    chosen = e
                    break
            if chosen is None:
                offset = rng.randrange(count)
                for i in range(count):
                    e = pool[(offset + i) % count]
                    if e.free_from <= rec.start:
                        chosen = e
                        break
        if chosen is None:
            # everyone of that specialty is away: one more expert joins
            day = date.fromordinal(rec.start)
            chosen = _account(world, pools, rec.home, _names(names, used), day)
            pools.add(rec.home, rec.specialty, chosen)
        chosen.free_from = rec.start + rec.days
        rec.user = chosen.username


# --- the step of the generator ---------------------------------------------------------------


def _scaled(value: int, days: int, per: int = 365) -> int:
    return round(value * days / per)


def _in_person_difficult(year: int) -> int:
    for y, total, remote in facts.DIFFICULT_CASES:
        if y == year:
            return total - remote
    return 0


def _route_specialties(world: World) -> dict[tuple[str, str], dict[str, int]]:
    """The specialties each Beijing hospital's experts bring to its site: those it has and
    the site has a department of."""
    departments = {(d.institution, d.specialty_code) for d in world.departments}
    hospitals = {f.code: f for f in facts.BEIJING_HOSPITALS}
    out: dict[tuple[str, str], dict[str, int]] = {}
    for home, site, _ in ROUTES:
        specs = [s for s in hospitals[home].specialties if (site, s) in departments]
        if not specs:
            raise ValueError(f"{home} has no specialty {site} has a department of")
        out[(home, site)] = dict.fromkeys(specs, 1)
    return out


def visits(world: World, rng: random.Random) -> None:
    """The visit history (see the module's docstring)."""
    cutoff = cooperation_period(world.as_of)
    period_lo = (cutoff[0] + CHINA).date()
    end = world.as_of  # nothing on or after the world's day
    last_day = end.toordinal() - 1
    used = {p.name_zh for p in world.practitioners} | {u.display_name for u in world.users}
    pools = _Pools()
    # the accounts draw from a source of their own: the same whatever day the world is for
    names = random.Random(f"{world.seed}:visiting-experts")
    _bch_pool(world, names, pools, used)
    _, rate_trips, rate_days, rate_ops = next(
        row for row in facts.BDCH_VISITS if row[0] == RATE_YEAR
    )
    rate_difficult = _in_person_difficult(RATE_YEAR)
    earlier: list[_Rec] = []
    # Beijing Children's at Baoding Children's, year by year to the 2024 report
    for year, trips, person_visits, operations in facts.BDCH_VISITS:
        lo = max(date(year, 1, 1), facts.TRUSTEESHIP_START)
        hi = min(date(year + 1, 1, 1), facts.DIFFICULT_REPORTED, end)
        if hi <= lo:
            continue
        full = (min(date(year + 1, 1, 1), facts.DIFFICULT_REPORTED) - lo).days
        part = (hi - lo).days
        plan = Plan(
            BCH,
            BDCH,
            BDCH_SPECIALTIES,
            lo,
            hi,
            person_visits=_scaled(person_visits, part, full),
            operations=_scaled(operations, part, full),
            difficult=_scaled(_in_person_difficult(year), part, full),
            trips=_scaled(trips, part, full),
        )
        earlier.extend(_batch(rng, plan, last_day))
    # after the report, at the rate of 2023, up to the report period of the demo
    gap_lo, gap_hi = facts.DIFFICULT_REPORTED, min(period_lo, end)
    if gap_lo < gap_hi:
        n = (gap_hi - gap_lo).days
        earlier.extend(
            _batch(
                rng,
                Plan(
                    BCH,
                    BDCH,
                    BDCH_SPECIALTIES,
                    gap_lo,
                    gap_hi,
                    person_visits=_scaled(rate_days, n),
                    operations=_scaled(rate_ops, n),
                    difficult=_scaled(rate_difficult, n),
                    trips=_scaled(rate_trips, n),
                ),
                last_day,
            )
        )
    _draw_patients(rng, earlier)
    lo_ord = period_lo.toordinal()
    already = [r for r in earlier if r.start >= lo_ord]
    # the report period: Beijing Children's goes on at its rate after the 2024 report
    bch_lo = max(period_lo, facts.DIFFICULT_REPORTED)
    fresh: list[_Rec] = []
    if bch_lo < end:
        n = (end - bch_lo).days
        fresh.extend(
            _batch(
                rng,
                Plan(
                    BCH,
                    BDCH,
                    BDCH_SPECIALTIES,
                    bch_lo,
                    end,
                    person_visits=_scaled(rate_days, n),
                    operations=_scaled(rate_ops, n),
                    difficult=_scaled(rate_difficult, n),
                    trips=_scaled(rate_trips, n),
                ),
                last_day,
            )
        )
    rest = facts.OUT_CALLS_REPORTED - len(already) - len(fresh)
    if rest < 0:
        raise ValueError("more visits of Beijing Children's in the period than out-calls")
    routes = _route_specialties(world)
    shares = spread(rest, [float(w) for _, _, w in ROUTES])
    out_calls = {(h, s): n for (h, s, _), n in zip(ROUTES, shares, strict=True)}
    _other_pools(world, names, pools, used, routes, period_lo - timedelta(days=365))
    for (home, site), specs in routes.items():
        n = out_calls[(home, site)]
        if not n:
            continue
        op_weight = sum(OPERATIONS.get(s, (0, ()))[0] for s in specs) / len(specs)
        plan = Plan(
            home,
            site,
            specs,
            period_lo,
            end,
            person_visits=round(n * OTHER_DAYS_PER_OUT_CALL),
            operations=round(n * op_weight * OTHER_OPERATIONS_PER_WEIGHT),
            difficult=round(n * OTHER_DIFFICULT_PER_OUT_CALL),
            out_calls=n,
        )
        fresh.extend(_batch(rng, plan, last_day))
    received = sum(r.outpatients for r in already)
    if received > facts.PATIENTS_RECEIVED_REPORTED:
        raise ValueError("more patients received in the period than the report counts")
    _share_patients(rng, fresh, facts.PATIENTS_RECEIVED_REPORTED - received)
    recs = earlier + fresh
    _assign(rng, names, world, pools, recs, used)
    world.visits.extend(_visit(rng, r) for r in recs)


def _visit(rng: random.Random, r: _Rec) -> DemoVisit:
    ops: tuple[tuple[str, str, int], ...] = ()
    if r.operations:
        kinds = OPERATIONS[r.specialty][1]
        if r.operations > 1 and len(kinds) > 1 and rng.random() < 0.4:
            first, second = rng.sample(kinds, 2)
            k = rng.randint(1, r.operations - 1)
            ops = ((*first, k), (*second, r.operations - k))
        else:
            ops = ((*rng.choice(kinds), r.operations),)
    start = date.fromordinal(r.start)
    return DemoVisit(
        user=r.user,
        home=r.home,
        site=r.site,
        specialty_code=r.specialty,
        starts_on=start,
        ends_on=start + timedelta(days=r.days - 1),
        outpatients=r.outpatients,
        ward_rounds=r.ward_rounds,
        teaching_sessions=r.teaching,
        difficult_cases=r.difficult,
        operations=ops,
    )


# --- the loader ---------------------------------------------------------------------------


def load(session: Session, world: World, keys: Keys) -> None:
    """Write the visit records and their operations (one executemany each)."""
    # the loader's helpers live with the other tables' writers, which import this step
    from medcircle.demo.service import stamp

    rows: list[dict[str, Any]] = []
    for v in world.visits:
        user_id = keys.users[v.user]
        at = stamp(v.ends_on)
        rows.append(
            {
                "user_id": user_id,
                "home_institution_id": keys.institutions[v.home],
                "site_institution_id": keys.institutions[v.site],
                "department_id": keys.departments.get((v.site, v.specialty_code)),
                "specialty_code": v.specialty_code,
                "roster_visit_id": None,
                "starts_on": v.starts_on,
                "ends_on": v.ends_on,
                "outpatients": v.outpatients,
                "ward_rounds": v.ward_rounds,
                "teaching_sessions": v.teaching_sessions,
                "difficult_cases": v.difficult_cases,
                "note": None,
                "recorded_by_user_id": user_id,
                "created_at": at,
                "updated_at": at,
                "version": 1,
                "is_synthetic": True,
            }
        )
    # an expert's visits never overlap, so (expert, first day) names a record
    table = VisitRecord.__table__
    before = session.scalar(select(func.max(table.c.id))) or 0
    driver_insert(session, table, rows)
    found = {
        (user_id, starts_on): visit_id
        for visit_id, user_id, starts_on in session.execute(
            select(table.c.id, table.c.user_id, table.c.starts_on).where(table.c.id > before)
        )
    }
    driver_insert(
        session,
        VisitOperation.__table__,
        [
            {
                "visit_id": found[(row["user_id"], v.starts_on)],
                "icd10_code": code,
                "procedure": procedure,
                "count": count,
            }
            for v, row in zip(world.visits, rows, strict=True)
            for code, procedure, count in v.operations
        ],
    )


def driver_insert(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    """One executemany of ``rows`` (all with the same keys) on ``table``, the values converted
    once per column by the columns' own types: tens of thousands of rows go in a fraction of
    the time the generic per-row parameter handling takes."""
    if not rows:
        return
    conn = session.connection()
    dialect = conn.dialect
    names = list(rows[0])
    compiled = insert(table).compile(dialect=dialect, column_keys=names)
    convert = {n: table.c[n].type.bind_processor(dialect) for n in names}
    columns = [
        [value if fn is None or value is None else fn(value) for value in (r[n] for r in rows)]
        for n, fn in ((n, convert[n]) for n in names)
    ]
    if compiled.positional:
        order = [names.index(p) for p in compiled.positiontup or ()]
        params: list[Any] = [tuple(row[i] for i in order) for row in zip(*columns, strict=True)]
    else:
        params = [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]
    conn.exec_driver_sql(str(compiled), params)
