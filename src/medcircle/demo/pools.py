"""The transplant cleanroom pool of the demo world: Beijing Children's Hospital and its Baoding
hospital run their stem-cell transplant cleanrooms as one waitlist. Pure, from the seed (the
loader at the end writes it).

The 2024 report: children waited three months for a cleanroom at Beijing Children's Hospital;
with 20 class-100 rooms across the Beijing and Hebei hospitals they are admitted in about a
month. The demo holds those rooms (12 in Beijing, 8 in Baoding) and class-1000 rooms at both,
and a waitlist history made by running the pool's real allocation policy
(``pools.policy.Queue.decide``) over generated arrivals in a discrete-event simulation:

- **Before ``POOLED_SINCE``** each hospital kept its own list (entries ``before_pool``, their
  own hospital's units only). Most families came to Beijing: more children were listed there
  than its rooms could take, some families gave up waiting, and the wait was about three
  months, while Baoding's rooms stood empty half the time.
- **From ``POOLED_SINCE``** one list: a unit goes to the first eligible child whichever
  member listed it; some families keep a preference for one hospital. Nobody is moved from the
  old lists (those entries keep their own hospital). The wait falls to about a month.

Families decline an offer now and then (with a reason) or let it run out; rooms are cleaned
for ``turnaround_days`` after each discharge and freed by their hospital's coordinator. The
waits are what the simulation gives, never written in. The history is the same whatever the
day the world is for (arrivals and answers are drawn in the order of time) up to its last
weeks; the day decides where it stops, and shapes the present so that it can be shown:

- the last ``BUSY_DAYS`` are busy (more children listed than the rooms take, more of them
  ready when listed): on the day children wait ready for the next room;
- a critical child of the Baoding team, ready the evening before;
- the rooms whose cleaning ends in the last days are kept in cleaning, expected free on the
  day, until a few are (a coordinator can free one and see who gets it and why);
- a little before the end the coordinator on night duty frees one of them: offered to the
  next child (the Baoding child when first in line), its offer open on the day.

At every listing of a child ready when listed, the range the platform predicts is kept (as
``pools.estimates.record_prediction``: the place among the ready children competing for the
same hospitals, the units as they stand, the last year's stays), for the pool page's backtest.
Children not ready when listed have none: their admission waits for their readiness first,
which the forecast does not know.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from medcircle.demo import facts
from medcircle.demo.consultations import live_from
from medcircle.demo.referrals import CHINA, SYNTHETIC
from medcircle.demo.world import (
    DemoAdmission,
    DemoAllocation,
    DemoConsent,
    DemoOffer,
    DemoPatient,
    DemoPool,
    DemoPoolUnit,
    DemoUnitEvent,
    DemoUser,
    DemoWaitlistEntry,
    World,
)
from medcircle.patients.domain import make_national_id
from medcircle.pools import forecast
from medcircle.pools.models import (
    Admission,
    AllocationDecision,
    Offer,
    PoolMember,
    ResourcePool,
    ResourceUnit,
    WaitlistEntry,
)
from medcircle.pools.models import UnitEvent as UnitEventRow
from medcircle.pools.policy import (
    Candidate,
    Decision,
    PolicySettings,
    Queue,
    Slot,
    Urgency,
    positions,
)
from medcircle.pools.schemas import EntryStatus, OfferStatus, Trigger, UnitStatus
from medcircle.tasks.models import Timer

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from medcircle.demo.service import Keys

BCH, BDCH = facts.BEIJING_CHILDRENS, facts.BAODING_CHILDRENS
HBUAH = "HBUAH"

POOL_CODE = "hsct-cleanrooms"
POOL_NAME_ZH = "京冀儿童造血干细胞移植层流仓池"
POOL_NAME_EN = "Beijing–Hebei paediatric transplant cleanrooms"
# the day the hospitals began to run their rooms as one list (the 2024 report tells the
# result, not the day: the demo's assumption, three years before it)
POOLED_SINCE = date(2021, 1, 1)
# the first listings of the history (the old lists fill up before the last year without pool)
HISTORY_FROM = date(2018, 7, 1)
# members: the lead and the Baoding hospital hold rooms; the Hebei University hospital lists
# children of its oncology department (no rooms of its own)
MEMBERS: tuple[str, ...] = (BCH, BDCH, HBUAH)
# (hospital, room class, rooms): 20 class-100 rooms across Beijing and Baoding
ROOMS: tuple[tuple[str, str, int], ...] = (
    (BCH, "100", 12),
    (BDCH, "100", 8),
    (BCH, "1000", 6),
    (BDCH, "1000", 4),
)
SETTINGS = PolicySettings(offer_hours=24, aging_days=90, turnaround_days=2, default_stay_days=35)
# how many of the next candidates a decision keeps (as the pool service)
KEPT_CANDIDATES = 10
CONSENT_PURPOSE = "waitlist"
TIMER_OFFER_EXPIRY = "pool.offer_expiry"
OFFER_SUBJECT = "unit_offer"
EXPIRED_REASON = "expired"

# Children listed per day: (room class, listing hospital) -> (before the pool, after it).
# Before: Beijing's 12 class-100 rooms take about 0.33 children a day, 1.35 times as many are
# listed; Baoding's 8 rooms are used by a third. After: the same children, some of the Hebei
# families now listed by the Hebei University hospital instead of going to Beijing.
ARRIVALS: dict[tuple[str, str], tuple[float, float]] = {
    ("100", BCH): (0.42, 0.37),
    ("100", BDCH): (0.08, 0.095),
    ("100", HBUAH): (0.0, 0.05),
    ("1000", BCH): (0.22, 0.2),
    ("1000", BDCH): (0.06, 0.08),
    ("1000", HBUAH): (0.0, 0.03),
}
# length of stay (days): lognormal median and spread, and its bounds, per room class
STAYS: dict[str, tuple[float, float, int, int]] = {
    "100": (33.0, 0.25, 18, 80),
    "1000": (24.0, 0.25, 12, 60),
}
URGENCIES: tuple[tuple[Urgency, int], ...] = (
    (Urgency.CRITICAL, 8),
    (Urgency.URGENT, 27),
    (Urgency.ROUTINE, 65),
)
# the share listed ready (donor found, work-up done); the others are ready after a gamma
# number of days (shape, mean)
READY_AT_LISTING = 0.15
READY_LATER = (4.0, 21.0)
# how long a family waits before giving up (lognormal median, spread, in days)
PATIENCE = (150.0, 0.45)
GIVE_UP_REMOVED_SHARE = 0.2
# once pooled, the share of families who accept only their own listing hospital's rooms
# (Beijing families rarely move to Baoding; Baoding families almost always stay local)
OWN_SITE_ONLY: dict[str, float] = {BCH: 0.2, BDCH: 0.1, HBUAH: 0.0}
# answers to an offer: declined (at the listing hospital, elsewhere), let run out
DECLINE_HOME = 0.03
DECLINE_AWAY = 0.08
EXPIRE = 0.01
# (ICD-10, transplant type, weight) per room class
INDICATIONS: dict[str, tuple[tuple[str, str, int], ...]] = {
    "100": (
        ("C91.0", "haploidentical", 22),
        ("C92.0", "allogeneic_unrelated", 16),
        ("D61.9", "allogeneic_related", 18),
        ("D56.1", "allogeneic_related", 14),
        ("C93.1", "haploidentical", 8),
        ("D81.9", "cord_blood", 8),
        ("C91.0", "cord_blood", 6),
        ("D61.0", "haploidentical", 8),
    ),
    "1000": (
        ("C74.9", "autologous", 45),
        ("C81.9", "autologous", 15),
        ("C40.9", "autologous", 10),
        ("C71.9", "autologous", 15),
        ("D57.1", "allogeneic_related", 15),
    ),
}
DECLINE_REASONS_HOME: tuple[str, ...] = (
    "患儿发热，暂缓入仓",
    "供者采集日期未定，暂缓入仓",
    "患儿感染未控制，待复查后再入仓",
)
DECLINE_REASONS_AWAY: tuple[str, ...] = (
    "家属希望在本院入仓，继续等待",
    "家属异地陪护困难，继续等待",
    "患儿发热，暂缓入仓",
)
GIVE_UP_WITHDRAWN = "家属决定转往外地医院移植"
GIVE_UP_REMOVED = "病情进展，暂不适合移植"
# the demo logins and acting accounts of the pool
TEAM_LOGIN = "transplant"
KEEPERS: dict[str, str] = {BCH: "bchcoord", BDCH: "coordinator"}
# local hours (China time) things happen at
LIST_HOURS = (9, 17)
FREE_HOUR = 9
DISCHARGE_HOUR = 10
# The present, whatever the day: the last weeks are busy (more children listed than the rooms
# take, more of them worked up when listed), so children wait ready on the day; the rooms
# whose cleaning ends in the last days are kept in cleaning until at least this many are (to
# be freed on the day), looking back this many days at most; and the coordinator on night
# duty frees one a little before the end of the history, offered to the next child (its offer
# open on the day, answered after the end: an answer takes half an hour at least).
BUSY_DAYS = 42
BUSY_RATE = 1.35
BUSY_READY_AT_LISTING = 0.45
CLEANING_AT_LOAD = 3
CLASS_100_CLEANING_AT_LOAD = 2
MAX_HOLD_DAYS = 5
# the history is run this far ahead of its end before the rooms to hold are chosen (less than
# the shortest stay: every discharge up to the end is then due)
HOLD_LOOKAHEAD = timedelta(days=7)
# the Baoding team's child of the day's offer: listed so many days before (ready the evening
# before the day), and waiting at least so many days once ready
BAODING_CHILD_LISTED = 12
PATIENCE_AT_LEAST = 30
NIGHT_FREE_BEFORE_END = timedelta(minutes=29)
# predictions at listing: the simulated futures of each (fewer than the pages' own), the
# positions a forecast is first made for, the window of the stays behind it (as the pages)
PREDICTION_DRAWS = 100
PREDICTED_POSITIONS = 16
STAY_WINDOW_DAYS = 365
ROOM_CLASS_ZH = {"100": "百级", "1000": "千级"}


def at_china(day: date, hour: int, minute: int = 0) -> datetime:
    """``day`` at the given China time, as a UTC instant."""
    return datetime.combine(day, time(hour, minute), tzinfo=UTC) - CHINA


def china_day(at: datetime) -> date:
    return (at + CHINA).date()


# --- arrivals ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Arrival:
    """A child listed: who lists, when, what is needed, and what the simulation needs to know
    ahead (drawn when listed, so the history does not depend on where it stops)."""

    number: int
    listing: str
    listed_at: datetime
    room_class: str
    urgency: Urgency
    icd10_code: str
    transplant_type: str
    # days from listing until ready (0: ready when listed)
    ready_after_days: int
    stay_days: int
    patience_days: int
    # once pooled, accepts only the listing hospital's rooms
    own_site_only: bool
    # answers to offers, drawn in turn: uniform numbers
    answers: tuple[float, ...]


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def arrivals(
    rng: random.Random,
    start: date,
    end: date,
    pooled_since: date | None = POOLED_SINCE,
    busy_from: date | None = None,
) -> list[Arrival]:
    """The children listed from ``start`` up to ``end`` (not included), day by day; the
    rates of each day's era (``pooled_since`` None: never pooled); from ``busy_from`` on,
    ``BUSY_RATE`` times as many, ``BUSY_READY_AT_LISTING`` of them ready when listed."""
    out: list[Arrival] = []
    urgencies = [u for u, _ in URGENCIES]
    urgency_weights = [w for _, w in URGENCIES]
    day = start
    while day < end:
        pooled = pooled_since is not None and day >= pooled_since
        busy = busy_from is not None and day >= busy_from
        factor = BUSY_RATE if busy else 1.0
        ready_share = BUSY_READY_AT_LISTING if busy else READY_AT_LISTING
        for (room_class, listing), rates in ARRIVALS.items():
            for _ in range(_poisson(rng, factor * (rates[1] if pooled else rates[0]))):
                minute = rng.randrange(LIST_HOURS[0] * 60, LIST_HOURS[1] * 60)
                icd, kind = _weighted(rng, INDICATIONS[room_class])
                median, sigma, lo, hi = STAYS[room_class]
                stay = min(hi, max(lo, round(median * math.exp(rng.gauss(0, sigma)))))
                later = rng.random() >= ready_share
                shape, mean = READY_LATER
                ready_after = max(3, round(rng.gammavariate(shape, mean / shape))) if later else 0
                patience = round(PATIENCE[0] * math.exp(rng.gauss(0, PATIENCE[1])))
                out.append(
                    Arrival(
                        number=len(out) + 1,
                        listing=listing,
                        listed_at=at_china(day, 0) + timedelta(minutes=minute),
                        room_class=room_class,
                        urgency=rng.choices(urgencies, weights=urgency_weights)[0],
                        icd10_code=icd,
                        transplant_type=kind,
                        ready_after_days=ready_after,
                        stay_days=stay,
                        patience_days=max(ready_after + 14, patience),
                        own_site_only=rng.random() < OWN_SITE_ONLY[listing],
                        answers=tuple(rng.random() for _ in range(4)),
                    )
                )
        day += timedelta(days=1)
    out.sort(key=lambda a: (a.listed_at, a.number))
    return [_renumber(a, n) for n, a in enumerate(out, start=1)]


def with_baoding_child(
    rng: random.Random, items: Sequence[Arrival], end: datetime
) -> list[Arrival]:
    """``items`` and the child the demo's transplant team at Baoding Children's Hospital
    listed ``BAODING_CHILD_LISTED`` days before the day of ``end``, critical and ready the
    evening before (its donor's work-up done): first in line when the coordinator on night
    duty frees a room, so the team's login has an offer to answer on the day."""
    day = china_day(end)
    listed = day - timedelta(days=BAODING_CHILD_LISTED)
    icd, kind = _weighted(rng, INDICATIONS["100"])
    median_stay, sigma, lo, hi = STAYS["100"]
    child = Arrival(
        number=0,
        listing=BDCH,
        listed_at=at_china(listed, 15, rng.randrange(60)),
        room_class="100",
        urgency=Urgency.CRITICAL,
        icd10_code=icd,
        transplant_type=kind,
        ready_after_days=BAODING_CHILD_LISTED - 1,
        stay_days=min(hi, max(lo, round(median_stay * math.exp(rng.gauss(0, sigma))))),
        patience_days=PATIENCE_AT_LEAST + BAODING_CHILD_LISTED,
        own_site_only=False,
        answers=tuple(rng.random() for _ in range(4)),
    )
    out = sorted([*items, child], key=lambda a: (a.listed_at, a.number))
    return [_renumber(a, n) for n, a in enumerate(out, start=1)]


def _renumber(a: Arrival, n: int) -> Arrival:
    if a.number == n:
        return a
    return Arrival(**{**a.__dict__, "number": n})


def _weighted(rng: random.Random, options: Sequence[tuple[str, str, int]]) -> tuple[str, str]:
    icd, kind, _ = rng.choices(options, weights=[w for *_, w in options])[0]
    return icd, kind


# --- the simulation ----------------------------------------------------------------------


@dataclass(frozen=True)
class RoomSpec:
    code: str
    institution: str
    room_class: str
    name: str


def rooms() -> list[RoomSpec]:
    out: list[RoomSpec] = []
    for inst, room_class, count in ROOMS:
        short_zh = facts.SHORT_NAMES[inst][0] if inst in facts.SHORT_NAMES else inst
        for k in range(1, count + 1):
            out.append(
                RoomSpec(
                    f"{inst}-{room_class}-{k:02d}",
                    inst,
                    room_class,
                    f"{short_zh} {ROOM_CLASS_ZH[room_class]}层流仓 {k:02d}",
                )
            )
    return out


@dataclass
class UnitEvent:
    at: datetime
    from_status: str | None
    to_status: str
    expected_free_on: date | None
    by: str | None
    note: str | None = None


@dataclass
class SimUnit:
    number: int
    spec: RoomSpec
    status: str
    since: datetime
    expected_free_on: date | None = None
    offer: SimOffer | None = None
    admission: SimAdmission | None = None
    # entries that declined it (or let the offer run out) since it was last freed
    declined: set[int] = field(default_factory=set)
    events: list[UnitEvent] = field(default_factory=list)


@dataclass
class SimEntry:
    arrival: Arrival
    sites: tuple[str, ...]
    before_pool: bool
    ready: bool
    status: str = EntryStatus.WAITING.value
    reason: str | None = None
    changed_at: datetime | None = None
    updates: int = 0
    offers: int = 0
    admitted_at: datetime | None = None
    candidate: Candidate | None = None
    # the admission range the platform predicted at listing: earliest, median, latest; and
    # the forecast's own median behind it (before calibration)
    predicted: tuple[date, date, date] | None = None
    forecast_median: date | None = None


@dataclass
class SimDecision:
    number: int
    unit: str
    at: datetime
    trigger: str
    rule: str
    chosen: int | None
    candidates: tuple[dict[str, Any], ...]
    candidate_count: int
    passed_over: tuple[tuple[str, int], ...]
    decided_by: str | None


@dataclass
class SimOffer:
    unit: str
    entry: int
    decision: int
    offered_at: datetime
    expires_at: datetime
    status: str = OfferStatus.OPEN.value
    responded_at: datetime | None = None
    responded_by: str | None = None
    reason: str | None = None


@dataclass
class SimAdmission:
    unit: str
    entry: int
    offered_at: datetime
    admitted_at: datetime
    expected_discharge_on: date
    discharged_at: datetime | None = None
    length_of_stay_days: int | None = None


@dataclass
class History:
    """What the simulation made: the units with their final state and events, the entries,
    decisions, offers and admissions."""

    members: tuple[str, ...]
    units: list[SimUnit]
    entries: dict[int, SimEntry]
    decisions: list[SimDecision] = field(default_factory=list)
    offers: list[SimOffer] = field(default_factory=list)
    admissions: list[SimAdmission] = field(default_factory=list)

    def waits(self, room_class: str, lo: date, hi: date) -> list[int]:
        """Days from listing to admission of the admitted entries of ``room_class`` listed
        from ``lo`` up to ``hi`` (not included)."""
        return [
            (china_day(e.admitted_at) - china_day(e.arrival.listed_at)).days
            for e in self.entries.values()
            if e.admitted_at is not None
            and e.arrival.room_class == room_class
            and lo <= china_day(e.arrival.listed_at) < hi
        ]


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    mid = len(ordered) // 2
    return float(ordered[mid]) if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


@dataclass
class _Forecast:
    """One day's forecast for a room class and a set of hospitals: the units as they stood
    when it was first asked for, and the ranges of the positions asked for so far."""

    units: tuple[forecast.UnitNow, ...]
    made: forecast.PoolForecast


# event kinds, in the order they run at the same instant
_FREE, _DISCHARGE, _RESPOND, _LIST, _READY, _GIVE_UP = range(6)


class Simulation:
    """The pool's days, event by event: listings, readiness, offers and their answers,
    admissions, discharges, cleaning, families giving up. Every allocation is the policy's
    ``Queue.decide``, triggered as the pool service triggers it."""

    def __init__(
        self,
        specs: Sequence[RoomSpec],
        pooled_since: date | None,
        settings: PolicySettings = SETTINGS,
        members: Sequence[str] = MEMBERS,
        listers: dict[str, str] | None = None,
        predict_draws: int = 0,
    ) -> None:
        self.settings = settings
        self.pooled_since = pooled_since
        self.members = tuple(members)
        self.inst_no = {code: n for n, code in enumerate(self.members, start=1)}
        self.listers = listers or {}
        created = at_china(HISTORY_FROM - timedelta(days=30), 8)
        self.units = [
            SimUnit(n, s, UnitStatus.FREE.value, created) for n, s in enumerate(specs, start=1)
        ]
        for u in self.units:
            u.events.append(UnitEvent(created, None, UnitStatus.FREE.value, None, None))
        self.unit_by_code = {u.spec.code: u for u in self.units}
        self.sites = {u.spec.institution for u in self.units}
        self.history = History(self.members, self.units, {})
        self.waiting: dict[int, SimEntry] = {}
        self._events: list[tuple[datetime, int, int, Any]] = []
        self._seq = 0
        # predictions at listing (0 draws: none); the stays discharged lately, per room class
        self.predict_draws = predict_draws
        self._stays: dict[str, deque[tuple[date, int]]] = {}
        self._stay_models: dict[str, forecast.StayModel] = {}
        # the medians predicted at listing of the entries admitted lately, per room class (in
        # the order of admission), to calibrate the ranges against
        self._scored: dict[str, deque[forecast.ScoredMedian]] = {}
        self._forecasts: dict[tuple[str, tuple[str, ...]], _Forecast] = {}
        self._forecast_day: date | None = None
        # from this instant the rooms' coordinators hold the rooms cleaned (see ``hold``)
        self.hold_from: datetime | None = None
        self.hold_to: date | None = None

    # --- the clock ---

    def _at(self, at: datetime, kind: int, ref: Any) -> None:
        self._seq += 1
        heapq.heappush(self._events, (at, kind, self._seq, ref))

    def schedule(self, items: Sequence[Arrival], until: datetime) -> None:
        """The listings of ``items`` up to ``until`` (included), to run."""
        for a in items:
            if a.listed_at <= until:
                self._at(a.listed_at, _LIST, a)

    def run(self, items: Sequence[Arrival], until: datetime) -> None:
        """Every event up to ``until`` (included)."""
        self.schedule(items, until)
        self.run_to(until)

    def run_to(self, until: datetime) -> None:
        while self._events and self._events[0][0] <= until:
            at, kind, _, ref = heapq.heappop(self._events)
            self._handle(at, kind, ref)

    def _handle(self, at: datetime, kind: int, ref: Any) -> None:
        if kind == _LIST:
            self._list(at, ref)
        elif kind == _READY:
            self._ready(at, ref)
        elif kind == _GIVE_UP:
            self._give_up(at, ref)
        elif kind == _RESPOND:
            self._respond(at, ref)
        elif kind == _DISCHARGE:
            self._discharge(at, ref)
        elif kind == _FREE:
            if self.hold_from is not None and at >= self.hold_from:
                self._hold(at, ref)
            else:
                self.free(at, ref)

    # --- entries ---

    def _sites_of(self, a: Arrival, pooled: bool) -> tuple[str, ...]:
        own = a.listing if a.listing in self.sites else self.members[0]
        if not pooled or a.own_site_only:
            return (own,)
        return tuple(sorted(self.sites))

    def _list(self, at: datetime, a: Arrival) -> None:
        pooled = self.pooled_since is not None and china_day(at) >= self.pooled_since
        e = SimEntry(a, self._sites_of(a, pooled), not pooled, a.ready_after_days == 0)
        e.changed_at = at
        self.history.entries[a.number] = e
        self.waiting[a.number] = e
        if self.predict_draws and e.ready:
            self._predict(at, e)
        if not e.ready:
            self._at(at + timedelta(days=a.ready_after_days, hours=1), _READY, e)
        self._at(at + timedelta(days=a.patience_days), _GIVE_UP, e)
        if e.ready:
            self.allocate(at, Trigger.ENTRY_LISTED, actor=self.listers.get(a.listing), entry=e)

    def _ready(self, at: datetime, e: SimEntry) -> None:
        if e.status not in (EntryStatus.WAITING.value, EntryStatus.OFFERED.value):
            return
        e.ready = True
        e.updates += 1
        if e.status == EntryStatus.WAITING.value:
            self.allocate(
                at, Trigger.ENTRY_READY, actor=self.listers.get(e.arrival.listing), entry=e
            )

    def _give_up(self, at: datetime, e: SimEntry) -> None:
        if e.status != EntryStatus.WAITING.value:
            return
        removed = e.arrival.answers[-1] < GIVE_UP_REMOVED_SHARE
        e.status = (EntryStatus.REMOVED if removed else EntryStatus.WITHDRAWN).value
        e.reason = GIVE_UP_REMOVED if removed else GIVE_UP_WITHDRAWN
        e.changed_at = at
        e.updates += 1
        del self.waiting[e.arrival.number]

    # --- predictions at listing, as ``pools.estimates.record_prediction`` ---

    def _predict(self, at: datetime, e: SimEntry) -> None:
        """The range the platform predicts when ``e`` is listed: its place among the ready
        entries competing for its hospitals (``policy.positions``; a not-ready entry as if
        ready), the units it accepts as they stand, the stays of the last year's discharges,
        calibrated against the earlier predictions of the class admitted in the last year (as
        ``Estimator.calibration``). One forecast per day, room class and set of hospitals
        serves the day's listings."""
        a = e.arrival
        day = china_day(at)
        line = Queue(
            (
                self._candidate(w, None)
                for w in self.waiting.values()
                if w.arrival.room_class == a.room_class
            ),
            day,
            self.settings,
        )
        place = next(p for p in positions(line, a.room_class) if p.entry_id == a.number)
        k = place.ahead_competing + 1
        if self._forecast_day != day:
            self._forecast_day = day
            self._forecasts.clear()
            self._stay_models.clear()
        key = (a.room_class, e.sites)
        known = self._forecasts.get(key)
        if known is None or len(known.made.ranges) < k:
            units = (
                known.units
                if known is not None
                else tuple(
                    forecast.UnitNow(forecast.UnitStatus(u.status), u.expected_free_on)
                    for u in self.units
                    if u.spec.room_class == a.room_class and u.spec.institution in e.sites
                )
            )
            made = forecast.forecast_positions(
                day,
                units,
                max(k, 2 * len(known.made.ranges) if known else PREDICTED_POSITIONS),
                self._stay_model(day, a.room_class),
                turnaround_days=float(self.settings.turnaround_days),
                draws=self.predict_draws,
                seed=day.toordinal(),
            )
            known = self._forecasts[key] = _Forecast(units, made)
        found = known.made.at(k)
        if found is not None:
            shown = forecast.calibrate(found, self._calibration(day, a.room_class))
            e.predicted = (shown.earliest, shown.median, shown.latest)
            e.forecast_median = found.median

    def _calibration(self, day: date, room_class: str) -> forecast.Calibration | None:
        """The errors of the class's medians predicted at listing, over the entries admitted
        in the year before ``day`` (those admitted earlier are dropped for good)."""
        scored = self._scored.setdefault(room_class, deque())
        since = day - timedelta(days=forecast.CALIBRATION_WINDOW_DAYS)
        while scored and scored[0].admitted_on <= since:
            scored.popleft()
        return forecast.calibration(scored, today=day)

    def _stay_model(self, day: date, room_class: str) -> forecast.StayModel:
        """The stays of the class discharged in the year before ``day``."""
        model = self._stay_models.get(room_class)
        if model is None:
            stays = self._stays.setdefault(room_class, deque())
            since = day - timedelta(days=STAY_WINDOW_DAYS)
            while stays and stays[0][0] < since:
                stays.popleft()
            model = self._stay_models[room_class] = forecast.stay_model(
                [float(d) for _, d in stays],
                default_mean_days=float(self.settings.default_stay_days),
            )
        return model

    # --- the present: rooms held in cleaning, a room freed in the night ---

    def hold(self, end: datetime) -> None:
        """From the latest day that leaves ``CLASS_100_CLEANING_AT_LOAD`` class-100 rooms or
        ``CLEANING_AT_LOAD`` rooms in cleaning at ``end`` (back ``MAX_HOLD_DAYS`` at most),
        the rooms' coordinators do not free the rooms cleaned: each is kept in cleaning,
        expected free on the day of ``end`` (the checks of the last days are pending). Looks
        ahead at the discharges already due, so call it less than the shortest stay before
        ``end``."""
        today = china_day(end)
        turnaround = timedelta(days=max(1, self.settings.turnaround_days))
        free_on = [
            (u.expected_free_on, u.spec.room_class)
            for u in self.units
            if u.status == UnitStatus.CLEANING.value and u.expected_free_on is not None
        ]
        free_on += [
            (china_day(at) + turnaround, u.spec.room_class)
            for at, kind, _, u in self._events
            if kind == _DISCHARGE and at <= end
        ]
        for back in range(MAX_HOLD_DAYS + 1):
            day = today - timedelta(days=back)
            held = [room_class for d, room_class in free_on if d >= day]
            if len(held) >= CLEANING_AT_LOAD or held.count("100") >= CLASS_100_CLEANING_AT_LOAD:
                break
        if back:
            self.hold_from, self.hold_to = at_china(day, 0), today

    def _hold(self, at: datetime, u: SimUnit) -> None:
        if u.status != UnitStatus.CLEANING.value or self.hold_to is None:
            return
        u.expected_free_on = max(self.hold_to, u.expected_free_on or self.hold_to)
        self._event(u, at, u.status, KEEPERS.get(u.spec.institution))

    def night_free(self, at: datetime, prefer: str) -> None:
        """Unless an offer to a child listed by ``prefer`` is open, the coordinator on night
        duty frees a room being cleaned that goes to a child, one that goes to a child listed
        by ``prefer`` if there is one (else the one expected free first)."""
        if any(
            u.offer is not None and self.history.entries[u.offer.entry].arrival.listing == prefer
            for u in self.units
        ):
            return
        queue = Queue(
            (self._candidate(e, None) for e in self.waiting.values()),
            china_day(at),
            self.settings,
        )
        options: list[tuple[bool, date, datetime, int, SimUnit]] = []
        for u in self.units:
            if u.status != UnitStatus.CLEANING.value:
                continue
            slot = Slot(u.number, self.inst_no[u.spec.institution], u.spec.room_class)
            chosen = queue.decide(slot, top=1).chosen
            if chosen is None:
                continue
            elsewhere = self.history.entries[chosen.entry_id].arrival.listing != prefer
            options.append((elsewhere, u.expected_free_on or date.max, u.since, u.number, u))
        options.sort(key=lambda o: o[:4])
        if options:
            self.free(at, options[0][-1])

    # --- units ---

    def _event(self, u: SimUnit, at: datetime, old: str, by: str | None) -> None:
        u.events.append(UnitEvent(at, old, u.status, u.expected_free_on, by))

    def free(self, at: datetime, u: SimUnit) -> None:
        """The room's coordinator sets it free after cleaning: it goes to the next child."""
        if u.status != UnitStatus.CLEANING.value:
            return
        old = u.status
        u.status, u.since, u.expected_free_on = UnitStatus.FREE.value, at, None
        u.declined.clear()
        keeper = KEEPERS.get(u.spec.institution)
        self._event(u, at, old, keeper)
        self.allocate(at, Trigger.UNIT_FREED, focus=u.number, actor=keeper)

    def _discharge(self, at: datetime, u: SimUnit) -> None:
        adm = u.admission
        assert adm is not None and u.status == UnitStatus.OCCUPIED.value
        day = china_day(at)
        adm.discharged_at = at
        adm.length_of_stay_days = (day - china_day(adm.admitted_at)).days
        self._stays.setdefault(u.spec.room_class, deque()).append((day, adm.length_of_stay_days))
        u.admission = None
        old = u.status
        u.status, u.since = UnitStatus.CLEANING.value, at
        turnaround = max(1, self.settings.turnaround_days)
        u.expected_free_on = day + timedelta(days=turnaround)
        self._event(u, at, old, KEEPERS.get(u.spec.institution))
        minute = (u.number * 7) % 50
        self._at(at_china(u.expected_free_on, FREE_HOUR, minute), _FREE, u)

    # --- allocation, as ``pools.service.allocate`` ---

    def allocate(
        self,
        at: datetime,
        trigger: Trigger,
        *,
        focus: int | None = None,
        actor: str | None,
        entry: SimEntry | None = None,
    ) -> None:
        """Offer every free unit without an open offer to the next eligible entry, as the
        service does. After each allocation no free unit has anyone eligible, and only the
        event's ``focus`` unit (just freed or declined) and the units its ``entry`` (listed,
        ready, or back after declining) may take can have someone now: the others are left
        out, their decision would be the same "nobody" (not recorded without ``focus``)."""
        units = []
        for u in self.units:
            if u.status != UnitStatus.FREE.value or u.offer is not None:
                continue
            if u.number == focus or (
                entry is not None
                and u.spec.room_class == entry.arrival.room_class
                and u.spec.institution in entry.sites
                and entry.arrival.number not in u.declined
            ):
                units.append(u)
        if not units:
            return
        units.sort(key=lambda u: (u.since, u.number))
        classes = {u.spec.room_class for u in units}
        declined: dict[int, set[int]] = {}
        for u in units:
            for n in u.declined:
                declined.setdefault(n, set()).add(u.number)
        queue = Queue(
            [
                self._candidate(e, declined.get(n))
                for n, e in self.waiting.items()
                if e.arrival.room_class in classes
            ],
            china_day(at),
            self.settings,
        )
        for u in units:
            slot = Slot(u.number, self.inst_no[u.spec.institution], u.spec.room_class)
            decision = queue.decide(slot, top=KEPT_CANDIDATES)
            if decision.chosen is None:
                if u.number == focus:
                    self._record(at, trigger, u, decision, 0, actor)
                continue
            eligible = sum(
                1
                for c in queue.line(slot.room_class)
                if c.ready and slot.institution_id in c.sites and u.number not in c.declined_units
            )
            row = self._record(at, trigger, u, decision, eligible, actor)
            self._offer(at, u, self.waiting[decision.chosen.entry_id], row)
            queue.remove(decision.chosen.entry_id)

    def _candidate(self, e: SimEntry, declined: set[int] | None) -> Candidate:
        if e.candidate is None or e.candidate.ready != e.ready:
            a = e.arrival
            e.candidate = Candidate(
                entry_id=a.number,
                urgency=a.urgency,
                listed_on=china_day(a.listed_at),
                room_class=a.room_class,
                sites=frozenset(self.inst_no[s] for s in e.sites),
                ready=e.ready,
                listing_institution_id=self.inst_no[a.listing],
            )
        if declined:
            return replace(e.candidate, declined_units=frozenset(declined))
        return e.candidate

    def _record(
        self,
        at: datetime,
        trigger: Trigger,
        u: SimUnit,
        decision: Decision,
        eligible: int,
        actor: str | None,
    ) -> SimDecision:
        row = SimDecision(
            number=len(self.history.decisions) + 1,
            unit=u.spec.code,
            at=at,
            trigger=trigger.value,
            rule=decision.rule.value,
            chosen=decision.chosen.entry_id if decision.chosen else None,
            candidates=tuple(r.as_json() for r in decision.ranked),
            candidate_count=eligible,
            passed_over=tuple(sorted((k.value, v) for k, v in decision.passed_over.items())),
            decided_by=actor,
        )
        self.history.decisions.append(row)
        return row

    def _offer(self, at: datetime, u: SimUnit, e: SimEntry, decision: SimDecision) -> None:
        a = e.arrival
        offer = SimOffer(
            u.spec.code,
            a.number,
            decision.number,
            at,
            at + timedelta(hours=self.settings.offer_hours),
        )
        self.history.offers.append(offer)
        u.offer = offer
        e.status, e.changed_at, e.reason = EntryStatus.OFFERED.value, at, None
        e.updates += 1
        del self.waiting[a.number]
        # the family's answer: drawn when listed, one number per offer
        draw = a.answers[min(e.offers, len(a.answers) - 2)]
        e.offers += 1
        home = u.spec.institution == a.listing
        decline = DECLINE_HOME if home else DECLINE_AWAY
        if draw < EXPIRE:
            self._at(offer.expires_at, _RESPOND, (u, e, OfferStatus.EXPIRED))
        elif draw < EXPIRE + decline:
            hours = 1 + (draw * 1000) % 10
            self._at(at + timedelta(hours=hours), _RESPOND, (u, e, OfferStatus.DECLINED))
        else:
            minutes = 30 + round((draw * 10_000) % 300)
            self._at(at + timedelta(minutes=minutes), _RESPOND, (u, e, OfferStatus.ACCEPTED))

    def _respond(self, at: datetime, ref: tuple[SimUnit, SimEntry, OfferStatus]) -> None:
        u, e, answer = ref
        offer = u.offer
        assert offer is not None and offer.entry == e.arrival.number
        a = e.arrival
        team = self.listers.get(a.listing)
        offer.status, offer.responded_at = answer.value, at
        u.offer = None
        if answer == OfferStatus.ACCEPTED:
            offer.responded_by = team
            day = china_day(at)
            expected = day + timedelta(days=self.settings.default_stay_days)
            adm = SimAdmission(u.spec.code, a.number, offer.offered_at, at, expected)
            self.history.admissions.append(adm)
            e.status, e.changed_at, e.admitted_at = EntryStatus.ADMITTED.value, at, at
            e.updates += 1
            if e.forecast_median is not None:
                self._scored.setdefault(a.room_class, deque()).append(
                    forecast.ScoredMedian(china_day(a.listed_at), e.forecast_median, day)
                )
            old = u.status
            u.status, u.since, u.admission = UnitStatus.OCCUPIED.value, at, adm
            u.expected_free_on = expected + timedelta(days=self.settings.turnaround_days)
            self._event(u, at, old, team)
            leave = at_china(day + timedelta(days=a.stay_days), DISCHARGE_HOUR, u.number % 60)
            self._at(leave, _DISCHARGE, u)
            return
        if answer == OfferStatus.DECLINED:
            offer.responded_by = team
            pool = DECLINE_REASONS_HOME if u.spec.institution == a.listing else DECLINE_REASONS_AWAY
            offer.reason = pool[int(a.answers[-2] * len(pool)) % len(pool)]
            trigger = Trigger.OFFER_DECLINED
        else:
            offer.reason = EXPIRED_REASON
            trigger = Trigger.OFFER_EXPIRED
        e.status, e.changed_at, e.reason = EntryStatus.WAITING.value, at, offer.reason
        e.updates += 1
        self.waiting[a.number] = e
        u.declined.add(a.number)
        self.allocate(at, trigger, focus=u.number, actor=offer.responded_by, entry=e)


def simulate(
    items: Sequence[Arrival],
    until: datetime,
    pooled_since: date | None = POOLED_SINCE,
    listers: dict[str, str] | None = None,
    *,
    present: bool = False,
    predict_draws: int = 0,
) -> History:
    """Run the pool over ``items`` up to ``until``. With ``present``: the end is a load day
    (rooms held in cleaning, one freed in the night and offered to a child of Baoding
    Children's Hospital if one is first in line for it). With ``predict_draws``: the range
    predicted at each listing, from that many simulated futures."""
    sim = Simulation(rooms(), pooled_since, listers=listers, predict_draws=predict_draws)
    sim.schedule(items, until)
    if present:
        sim.run_to(until - HOLD_LOOKAHEAD)
        sim.hold(until)
        night = until - NIGHT_FREE_BEFORE_END
        sim.run_to(night)
        sim.night_free(night, BDCH)
    sim.run_to(until)
    return sim.history


# --- the step of the generator -------------------------------------------------------------


def _staff(world: World) -> dict[str, str]:
    """The account that lists children for each member: the demo login ``transplant`` at
    Baoding Children's, a transplant doctor's account at the others (made when missing)."""
    linked = {u.practitioner for u in world.users if u.practitioner}
    out: dict[str, str] = {}
    for inst in MEMBERS:
        username = TEAM_LOGIN if inst == BDCH else f"{inst.lower()}.transplant"
        found = next((u for u in world.users if u.username == username), None)
        if found is None:
            wanted = ("stem_cell_transplant", "ped_hem_onc", "oncology")
            doctors = sorted(
                (
                    p
                    for p in world.practitioners
                    if p.institution == inst and p.specialty_code in wanted and p.key not in linked
                ),
                key=lambda p: (wanted.index(p.specialty_code), p.key),
            )
            doctor = doctors[0] if doctors else None
            world.users.append(
                DemoUser(
                    username=username,
                    display_name=doctor.name_zh if doctor else f"移植医生（示例）{inst}",
                    institution=inst,
                    roles=("clinician",),
                    locale="zh_Hans",
                    practitioner=doctor.key if doctor else None,
                    created_on=facts.PAIRINGS_START,
                    listed=inst == BDCH,
                )
            )
            if doctor:
                linked.add(doctor.key)
        out[inst] = username
    return out


def history_end(as_of: date) -> datetime:
    """The last instant of the history: the world holds nothing after ``live_from``."""
    return live_from(as_of) - timedelta(minutes=1)


def pools(world: World, rng: random.Random) -> None:
    """The pool, its rooms and the simulated waitlist history (see the module's docstring)."""
    listers = _staff(world)
    end = history_end(world.as_of)
    last = china_day(end)
    items = arrivals(
        rng, HISTORY_FROM, last + timedelta(days=1), busy_from=last - timedelta(days=BUSY_DAYS)
    )
    items = with_baoding_child(rng, items, end)
    history = simulate(
        items, end, POOLED_SINCE, listers, present=True, predict_draws=PREDICTION_DRAWS
    )
    created = at_china(HISTORY_FROM - timedelta(days=30), 8)
    world.pools.append(
        DemoPool(
            code=POOL_CODE,
            name_zh=POOL_NAME_ZH,
            name_en=POOL_NAME_EN,
            kind="cleanroom",
            lead=BCH,
            members=tuple((m, POOLED_SINCE) for m in MEMBERS),
            pooled_since=POOLED_SINCE,
            policy=tuple(SETTINGS.as_json().items()),
            created_at=created,
        )
    )
    _write_history(world, history, listers, random.Random(f"{world.seed}:pool-patients"))


def _write_history(
    world: World, history: History, listers: dict[str, str], rng: random.Random
) -> None:
    for u in history.units:
        world.pool_units.append(
            DemoPoolUnit(
                code=u.spec.code,
                institution=u.spec.institution,
                name=u.spec.name,
                room_class=u.spec.room_class,
                status=u.status,
                expected_free_on=u.expected_free_on,
                status_since=u.since,
                created_at=u.events[0].at,
                version=len(u.events),
            )
        )
        world.unit_events.extend(
            DemoUnitEvent(
                u.spec.code, ev.at, ev.from_status, ev.to_status, ev.expected_free_on, ev.by, None
            )
            for ev in u.events
        )
    people = _People(world, rng)
    for n in sorted(history.entries):
        e = history.entries[n]
        a = e.arrival
        patient = people.new(a, listers[a.listing])
        world.waitlist.append(
            DemoWaitlistEntry(
                number=n,
                patient=patient.key,
                listing_institution=a.listing,
                listed_by=listers[a.listing],
                listed_at=a.listed_at,
                listed_on=china_day(a.listed_at),
                icd10_code=a.icd10_code,
                transplant_type=a.transplant_type,
                room_class=a.room_class,
                urgency=a.urgency.value,
                donor_found=e.ready,
                workup_done=e.ready,
                sites=e.sites,
                status=e.status,
                status_reason=e.reason,
                status_changed_at=e.changed_at or a.listed_at,
                before_pool=e.before_pool,
                version=1 + e.updates,
                predicted=e.predicted,
                forecast_median=e.forecast_median,
            )
        )
    world.allocations.extend(
        DemoAllocation(
            number=d.number,
            unit=d.unit,
            at=d.at,
            trigger=d.trigger,
            rule=d.rule,
            chosen=d.chosen,
            candidates=d.candidates,
            candidate_count=d.candidate_count,
            passed_over=d.passed_over,
            decided_by=d.decided_by,
        )
        for d in history.decisions
    )
    world.offers.extend(
        DemoOffer(
            unit=o.unit,
            entry=o.entry,
            decision=o.decision,
            offered_at=o.offered_at,
            expires_at=o.expires_at,
            status=o.status,
            responded_at=o.responded_at,
            responded_by=o.responded_by,
            reason=o.reason,
        )
        for o in history.offers
    )
    world.admissions.extend(
        DemoAdmission(
            unit=m.unit,
            entry=m.entry,
            offered_at=m.offered_at,
            admitted_at=m.admitted_at,
            expected_discharge_on=m.expected_discharge_on,
            discharged_at=m.discharged_at,
            length_of_stay_days=m.length_of_stay_days,
            discharge_note=None,
        )
        for m in history.admissions
    )


class _People:
    """The listed children: synthetic patients of the listing hospital with valid ID numbers
    unique across the world, and their consent to share with the other members for the
    waitlist, given before the listing."""

    def __init__(self, world: World, rng: random.Random) -> None:
        self.world = world
        self.rng = rng
        self.ids = {p.national_id for p in world.patients}
        counties = facts.BAODING_COUNTIES
        self.counties = [c.code for c in counties]
        self.county_weights = [c.weight for c in counties]

    def new(self, a: Arrival, recorded_by: str) -> DemoPatient:
        rng = self.rng
        day = china_day(a.listed_at)
        born = day - timedelta(days=rng.randint(200, 14 * 365))
        male = rng.random() < 0.55
        # the families of the circle live in Baoding (Beijing's own go to its own list)
        residence = rng.choices(self.counties, weights=self.county_weights)[0]
        while True:
            number = make_national_id(residence, born, rng.randrange(500) * 2 + int(male))
            if number not in self.ids:
                self.ids.add(number)
                break
        surname, _ = rng.choice(facts.SURNAMES)
        given = "".join(ch for ch, _ in rng.sample(facts.GIVEN_CHARS, rng.choice((1, 2, 2))))
        relation = rng.choices(("mother", "father", "grandparent"), weights=(55, 35, 10))[0]
        g_surname = surname if relation != "mother" else rng.choice(facts.SURNAMES)[0]
        g_given = rng.choice(facts.GIVEN_CHARS)[0] + rng.choice(facts.GIVEN_CHARS)[0]
        guardian = g_surname + g_given + SYNTHETIC
        registered = a.listed_at - timedelta(days=rng.randint(10, 120), minutes=rng.randint(0, 600))
        patient = DemoPatient(
            key=f"WP-{a.number:05d}",
            institution=a.listing,
            name=surname + given + SYNTHETIC,
            sex="male" if male else "female",
            birth_date=born,
            national_id=number,
            phone=None,
            residence_division_code=residence,
            guardian_name=guardian,
            guardian_relation=relation,
            guardian_phone=f"1{rng.choice('3589')}{rng.randrange(10**9):09d}",
            registered_at=registered,
        )
        self.world.patients.append(patient)
        given_at = a.listed_at - timedelta(minutes=rng.randint(20, 60 * 24 * 3))
        given_at = max(given_at, registered + timedelta(minutes=5))
        for n, other in enumerate(m for m in MEMBERS if m != a.listing):
            self.world.consents.append(
                DemoConsent(
                    key=f"WC-{a.number:05d}-{n}",
                    patient=patient.key,
                    receiving_institution=other,
                    purpose=CONSENT_PURPOSE,
                    given_by="guardian",
                    given_by_name=guardian,
                    # one form for every member: a second apart, so each row has its own key
                    given_at=given_at + timedelta(seconds=n),
                    valid_until=None,
                    recorded_by=recorded_by,
                )
            )
        return patient


# --- the loader ---------------------------------------------------------------------------


def load(session: Session, world: World, keys: Keys) -> None:
    """Write the pool, its rooms and history (one executemany per table) and the timers of
    the open offers, as the pool service schedules them."""
    # the loader's helpers live with the other tables' writers, which import this step
    from medcircle.demo.service import core_insert, insert_keyed

    if not world.pools:
        return
    (pool,) = world.pools
    inst, users = keys.institutions, keys.users
    (pool_id,) = insert_keyed(
        session,
        ResourcePool,
        [
            {
                "code": pool.code,
                "name_zh": pool.name_zh,
                "name_en": pool.name_en,
                "kind": pool.kind,
                "lead_institution_id": inst[pool.lead],
                "policy": dict(pool.policy),
                "pooled_since": pool.pooled_since,
                "created_at": pool.created_at,
                "updated_at": pool.created_at,
                "is_synthetic": True,
                "version": 1,
            }
        ],
        ("code",),
    )
    core_insert(
        session,
        PoolMember,
        [
            {"pool_id": pool_id, "institution_id": inst[m], "joined_on": joined}
            for m, joined in pool.members
        ],
    )
    unit_rows = [
        {
            "pool_id": pool_id,
            "institution_id": inst[u.institution],
            "code": u.code,
            "name": u.name,
            "room_class": u.room_class,
            "status": u.status,
            "expected_free_on": u.expected_free_on,
            "status_since": u.status_since,
            "note": None,
            "created_at": u.created_at,
            "is_synthetic": True,
            "version": u.version,
        }
        for u in world.pool_units
    ]
    unit_ids = dict(
        zip(
            (u.code for u in world.pool_units),
            insert_keyed(session, ResourceUnit, unit_rows, ("code",)),
            strict=True,
        )
    )
    core_insert(
        session,
        UnitEventRow,
        [
            {
                "unit_id": unit_ids[ev.unit],
                "at": ev.at,
                "from_status": ev.from_status,
                "to_status": ev.to_status,
                "expected_free_on": ev.expected_free_on,
                "by_user_id": users[ev.by] if ev.by else None,
                "note": ev.note,
            }
            for ev in world.unit_events
        ],
    )
    patient_of = {e.number: keys.patients[e.patient] for e in world.waitlist}
    entry_rows = [
        {
            "pool_id": pool_id,
            "patient_id": patient_of[e.number],
            "listing_institution_id": inst[e.listing_institution],
            "listed_by_user_id": users[e.listed_by],
            "listed_at": e.listed_at,
            "listed_on": e.listed_on,
            "icd10_code": e.icd10_code,
            "transplant_type": e.transplant_type,
            "room_class": e.room_class,
            "urgency": e.urgency,
            "donor_found": e.donor_found,
            "workup_done": e.workup_done,
            "acceptable_institution_ids": sorted(inst[s] for s in e.sites),
            "status": e.status,
            "status_reason": e.status_reason,
            "status_changed_at": e.status_changed_at,
            "predicted_earliest_on": e.predicted[0] if e.predicted else None,
            "predicted_latest_on": e.predicted[2] if e.predicted else None,
            "predicted_median_on": e.predicted[1] if e.predicted else None,
            "forecast_median_on": e.forecast_median,
            "note": None,
            "before_pool": e.before_pool,
            "is_synthetic": True,
            "version": e.version,
        }
        for e in world.waitlist
    ]
    entry_ids = dict(
        zip(
            (e.number for e in world.waitlist),
            insert_keyed(session, WaitlistEntry, entry_rows, ("patient_id",)),
            strict=True,
        )
    )
    # the candidates name the listing institution by its place among the members
    member_ids = {n: inst[m] for n, (m, _) in enumerate(pool.members, start=1)}
    policy = dict(pool.policy)
    decision_rows = [
        {
            "pool_id": pool_id,
            "unit_id": unit_ids[d.unit],
            "at": d.at,
            "trigger": d.trigger,
            "rule": d.rule,
            "chosen_entry_id": entry_ids[d.chosen] if d.chosen is not None else None,
            "candidates": [
                c
                | {
                    "entry_id": entry_ids[c["entry_id"]],
                    "listing_institution_id": member_ids[c["listing_institution_id"]],
                }
                for c in d.candidates
            ],
            "candidate_count": d.candidate_count,
            "passed_over": dict(d.passed_over),
            "policy": policy,
            "override_reason": None,
            "decided_by_user_id": users[d.decided_by] if d.decided_by else None,
            "is_synthetic": True,
        }
        for d in world.allocations
    ]
    decision_ids = dict(
        zip(
            (d.number for d in world.allocations),
            insert_keyed(session, AllocationDecision, decision_rows, ("unit_id", "at")),
            strict=True,
        )
    )
    offer_rows = [
        {
            "pool_id": pool_id,
            "unit_id": unit_ids[o.unit],
            "entry_id": entry_ids[o.entry],
            "decision_id": decision_ids[o.decision],
            "offered_at": o.offered_at,
            "expires_at": o.expires_at,
            "status": o.status,
            "responded_at": o.responded_at,
            "responded_by_user_id": users[o.responded_by] if o.responded_by else None,
            "reason": o.reason,
            "is_synthetic": True,
            "version": 1 if o.status == OfferStatus.OPEN.value else 2,
        }
        for o in world.offers
    ]
    offer_ids = dict(
        zip(
            ((o.unit, o.offered_at) for o in world.offers),
            insert_keyed(session, Offer, offer_rows, ("unit_id", "offered_at")),
            strict=True,
        )
    )
    core_insert(
        session,
        Admission,
        [
            {
                "pool_id": pool_id,
                "unit_id": unit_ids[m.unit],
                "entry_id": entry_ids[m.entry],
                "patient_id": patient_of[m.entry],
                "offer_id": offer_ids[(m.unit, m.offered_at)],
                "admitted_at": m.admitted_at,
                "expected_discharge_on": m.expected_discharge_on,
                "discharged_at": m.discharged_at,
                "length_of_stay_days": m.length_of_stay_days,
                "discharge_note": m.discharge_note,
                "is_synthetic": True,
            }
            for m in world.admissions
        ],
    )
    core_insert(
        session,
        Timer,
        [
            {
                "kind": TIMER_OFFER_EXPIRY,
                "subject_type": OFFER_SUBJECT,
                "subject_id": offer_ids[(o.unit, o.offered_at)],
                "due_at": o.expires_at,
                "payload": {},
                "created_at": o.offered_at,
                "attempts": 0,
                "claimed_until": None,
                "claimed_by": None,
                "done_at": None,
                "outcome": None,
                "last_error": None,
            }
            for o in world.offers
            if o.status == OfferStatus.OPEN.value
        ],
    )
