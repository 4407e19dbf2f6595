"""The allocation policy of a pool, as a pure function: who gets a unit that is free.

Order: medical urgency first, then waiting time, then the order of listing; only entries that
are ready, need the unit's room class and accept the unit's institution are eligible. An entry
waiting long gains urgency (``aging_days``: one category for each so many days waited, so a
routine patient is not passed over for ever). The parameters are the pool's configuration.

The same code serves the app (one decision through the database), the demo history and the
planning simulator (many decisions): ``Queue`` sorts the waiting entries once, and ``decide``
walks them from the front, so a decision costs what it skips, not the length of the list.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any, NamedTuple, TypeVar

from sortedcontainers import SortedList

from medcircle.kit.i18n import N_


class Urgency(StrEnum):
    CRITICAL = "critical"
    URGENT = "urgent"
    ROUTINE = "routine"


URGENCY_RANK: dict[Urgency, int] = {Urgency.CRITICAL: 0, Urgency.URGENT: 1, Urgency.ROUTINE: 2}
URGENCY_LABELS: dict[Urgency, str] = {
    Urgency.CRITICAL: N_("Critical"),
    Urgency.URGENT: N_("Urgent"),
    Urgency.ROUTINE: N_("Routine"),
}


class Rule(StrEnum):
    """What decided between the chosen entry and the next one."""

    ONLY_CANDIDATE = "only_candidate"
    URGENCY = "urgency"
    WAITING_CREDIT = "waiting_credit"
    WAITING_TIME = "waiting_time"
    LISTING_ORDER = "listing_order"
    OVERRIDE = "override"
    NO_CANDIDATE = "no_candidate"


RULE_LABELS: dict[Rule, str] = {
    Rule.ONLY_CANDIDATE: N_("The only eligible patient"),
    Rule.URGENCY: N_("Higher medical urgency"),
    Rule.WAITING_CREDIT: N_("Same urgency after credit for a long wait"),
    Rule.WAITING_TIME: N_("Same urgency, waiting longer"),
    Rule.LISTING_ORDER: N_("Same urgency and listing day, listed first"),
    Rule.OVERRIDE: N_("Coordinator's override, with a written reason"),
    Rule.NO_CANDIDATE: N_("Nobody eligible: the unit stays free"),
}


class PassedOver(StrEnum):
    """Why an entry ahead in the order was not offered the unit."""

    NOT_READY = "not_ready"
    SITE = "site"
    DECLINED = "declined"


PASSED_OVER_LABELS: dict[PassedOver, str] = {
    PassedOver.NOT_READY: N_("not ready yet (keeps its place)"),
    PassedOver.SITE: N_("does not accept this hospital"),
    PassedOver.DECLINED: N_("already declined this unit"),
}


@dataclass(frozen=True)
class PolicySettings:
    """A pool's policy parameters."""

    # how long a patient's team has to accept an offer
    offer_hours: int = 24
    # one urgency category gained per so many days waited; 0: no credit for waiting
    aging_days: int = 90
    # days between a discharge and the unit's next patient (cleaning, checks)
    turnaround_days: int = 2
    # length of stay assumed until the pool has enough of its own discharges
    default_stay_days: int = 35

    def as_json(self) -> dict[str, int]:
        return {
            "offer_hours": self.offer_hours,
            "aging_days": self.aging_days,
            "turnaround_days": self.turnaround_days,
            "default_stay_days": self.default_stay_days,
        }


# the accepted range of each parameter
POLICY_LIMITS: dict[str, tuple[int, int]] = {
    "offer_hours": (1, 168),
    "aging_days": (0, 730),
    "turnaround_days": (0, 30),
    "default_stay_days": (1, 365),
}


def policy_problems(data: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    """The parameters out of range or not whole numbers (name -> accepted range)."""
    bad: dict[str, tuple[int, int]] = {}
    for name, (low, high) in POLICY_LIMITS.items():
        if name not in data:
            continue
        value = data[name]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            bad[name] = (low, high)
    return bad


def policy_from(data: Mapping[str, Any] | None) -> PolicySettings:
    """A pool's stored parameters, the defaults for those missing or unusable."""
    defaults = PolicySettings()
    values = defaults.as_json()
    bad = policy_problems(data or {})
    for name in values:
        if data and name in data and name not in bad:
            values[name] = int(data[name])
    return PolicySettings(**values)


@dataclass(frozen=True)
class Candidate:
    """A waiting entry as the policy sees it."""

    entry_id: int
    urgency: Urgency
    listed_on: date
    room_class: str
    # institutions whose units the patient's team accepts
    sites: frozenset[int]
    ready: bool
    listing_institution_id: int = 0
    # units this entry has declined (or let expire) since they were last freed
    declined_units: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Slot:
    """A unit to give: which one, where, of what class."""

    unit_id: int
    institution_id: int
    room_class: str


class Ranked(NamedTuple):
    """A candidate with what ranked it: the effective urgency rank and the days waited (a
    light tuple: a decision makes ten of them)."""

    candidate: Candidate
    effective_rank: int
    waited_days: int

    def as_json(self) -> dict[str, Any]:
        c = self.candidate
        return {
            "entry_id": c.entry_id,
            "urgency": c.urgency.value,
            "effective_rank": self.effective_rank,
            "listed_on": c.listed_on.isoformat(),
            "waited_days": self.waited_days,
            "listing_institution_id": c.listing_institution_id,
        }


class Decision(NamedTuple):
    """Who gets a unit and why (a light tuple: simulations make many)."""

    slot: Slot
    chosen: Candidate | None
    rule: Rule
    # entries ahead of the chosen one that were passed over, by reason
    passed_over: Mapping[PassedOver, int]
    # entries that could have been given the unit (the chosen one among them)
    eligible: int
    # the first eligible entries in order, the chosen first, by their order keys (the
    # effective rank and the listing day are in the key), and the day's ordinal
    picked: tuple[tuple[int, Candidate], ...] = ()
    today: int = 0

    @property
    def ranked(self) -> tuple[Ranked, ...]:
        """The first eligible entries with their effective rank and days waited."""
        return tuple(
            Ranked(c, key // _RANK, self.today - (key % _RANK) // _DAY) for key, c in self.picked
        )


def effective_rank(c: Candidate, today: date, settings: PolicySettings) -> int:
    """The urgency rank (0 most urgent) less one for each ``aging_days`` waited."""
    rank = URGENCY_RANK[c.urgency]
    if settings.aging_days > 0:
        rank -= max(0, (today - c.listed_on).days) // settings.aging_days
    return max(0, rank)


def order_key(c: Candidate, today: date, settings: PolicySettings) -> tuple[int, date, int]:
    return (effective_rank(c, today, settings), c.listed_on, c.entry_id)


def rule_between(first: tuple[int, Candidate], second: tuple[int, Candidate]) -> Rule:
    """What decided between the first two, from their order keys."""
    (key_1, c_1), (key_2, c_2) = first, second
    if key_1 // _RANK != key_2 // _RANK:
        raw_1, raw_2 = URGENCY_RANK[c_1.urgency], URGENCY_RANK[c_2.urgency]
        return Rule.URGENCY if raw_1 < raw_2 else Rule.WAITING_CREDIT
    if c_1.listed_on != c_2.listed_on:
        return Rule.WAITING_TIME
    return Rule.LISTING_ORDER


K = TypeVar("K")


class _Line:
    """Keys of entries in the policy's order, in a sorted list of blocks: taking out the entry
    at the front and putting a new one in cost a short move, not a shift of the whole line."""

    __slots__ = ("keys",)

    def __init__(self, keys: Iterable[int] = ()) -> None:
        self.keys = SortedList(keys)

    def __len__(self) -> int:
        return len(self.keys)

    def put(self, key: int) -> None:
        self.keys.add(key)

    def take(self, key: int) -> None:
        self.keys.remove(key)

    def before(self, key: int) -> int:
        """How many come before ``key``."""
        return int(self.keys.bisect_left(key))


def _line(lines: dict[K, list[int]], key: K) -> list[int]:
    found = lines.get(key)
    if found is None:
        found = lines[key] = []
    return found


# a key packs (effective rank, listing day, entry id) into one integer that sorts the same
_DAY = 1 << 32
_ID = _DAY - 1
_RANK = _DAY * 4_000_000
_LAST = 1 << 80


def packed_key(rank: int, listed_on: date, entry_id: int) -> int:
    """The order key of ``Decision.picked``: sorts as (effective rank, listing day, id)."""
    return rank * _RANK + listed_on.toordinal() * _DAY + entry_id


class Queue:
    """The waiting entries of a pool in the policy's order on one day, per room class.

    Besides each class's whole line (for positions), the ready entries are kept in one line
    per hospital they accept: a decision for a unit walks the line of its class and hospital
    from the front, so it looks only at entries it may choose (and those that declined this
    very unit); the entries passed over ahead of the chosen one are counted by bisection."""

    def __init__(
        self, candidates: Iterable[Candidate], today: date, settings: PolicySettings
    ) -> None:
        self.today = today
        self.settings = settings
        self._today = today.toordinal()
        # entry id -> its key and the entry
        self._index: dict[int, tuple[int, Candidate]] = {}
        # entries that declined some unit, per class (few: checked one by one)
        self._declining: dict[str, dict[int, Candidate]] = {}
        everyone: dict[str, list[int]] = {}
        ready: dict[str, list[int]] = {}
        not_ready: dict[str, list[int]] = {}
        sites: dict[tuple[str, int], list[int]] = {}
        for c in candidates:
            if c.entry_id in self._index:
                continue
            key = self._key(c)
            self._index[c.entry_id] = (key, c)
            _line(everyone, c.room_class).append(key)
            if c.ready:
                _line(ready, c.room_class).append(key)
                for site in c.sites:
                    _line(sites, (c.room_class, site)).append(key)
            else:
                _line(not_ready, c.room_class).append(key)
            if c.declined_units:
                self._declining.setdefault(c.room_class, {})[c.entry_id] = c
        self._all = {k: _Line(v) for k, v in everyone.items()}
        self._ready = {k: _Line(v) for k, v in ready.items()}
        self._not_ready = {k: _Line(v) for k, v in not_ready.items()}
        self._sites = {k: _Line(v) for k, v in sites.items()}

    def _key(self, c: Candidate) -> int:
        return packed_key(effective_rank(c, self.today, self.settings), c.listed_on, c.entry_id)

    def _lines_of(self, c: Candidate) -> list[_Line]:
        room_class = c.room_class
        lines = [self._all.get(room_class) or self._all.setdefault(room_class, _Line())]
        if c.ready:
            lines.append(self._ready.get(room_class) or self._ready.setdefault(room_class, _Line()))
            for site in c.sites:
                line = self._sites.get((room_class, site))
                if line is None:
                    line = self._sites[(room_class, site)] = _Line()
                lines.append(line)
        else:
            found = self._not_ready.get(room_class)
            lines.append(
                found if found is not None else self._not_ready.setdefault(room_class, _Line())
            )
        return lines

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, entry_id: object) -> bool:
        return entry_id in self._index

    def classes(self) -> list[str]:
        """The room classes with someone waiting."""
        return sorted(room_class for room_class, line in self._all.items() if line)

    def line(self, room_class: str) -> list[Candidate]:
        """The entries needing ``room_class`` in the policy's order."""
        found = self._all.get(room_class)
        index = self._index
        return [index[key & _ID][1] for key in found.keys] if found else []

    def ranked(self, c: Candidate) -> Ranked:
        return Ranked(
            c, effective_rank(c, self.today, self.settings), (self.today - c.listed_on).days
        )

    def remove(self, entry_id: int) -> None:
        """Take an entry out (offered, admitted, withdrawn)."""
        found = self._index.pop(entry_id, None)
        if found is None:
            return
        key, c = found
        for line in self._lines_of(c):
            line.take(key)
        if c.declined_units:
            self._declining[c.room_class].pop(entry_id, None)

    def add(self, c: Candidate) -> None:
        """Put an entry in (listed, back after a declined offer, changed)."""
        self.remove(c.entry_id)
        key = self._key(c)
        self._index[c.entry_id] = (key, c)
        for line in self._lines_of(c):
            line.put(key)
        if c.declined_units:
            self._declining.setdefault(c.room_class, {})[c.entry_id] = c

    def decide(self, slot: Slot, top: int = 5) -> Decision:
        """Who gets ``slot``: the first eligible entry of its room class, with the next ones
        (up to ``top`` in all), how many are eligible, and the entries passed over ahead of
        the chosen one by reason."""
        line = self._sites.get((slot.room_class, slot.institution_id))
        picked: list[tuple[int, Candidate]] = []
        chosen_key = _LAST
        declined_ahead = 0
        if line is not None:
            unit = slot.unit_id
            index = self._index
            for key in line.keys:
                c = index[key & _ID][1]
                if c.declined_units and unit in c.declined_units:
                    if not picked:
                        declined_ahead += 1
                    continue
                picked.append((key, c))
                if len(picked) >= top:
                    break
            if picked:
                chosen_key = picked[0][0]
        passed: dict[PassedOver, int] = {}
        not_ready = self._not_ready.get(slot.room_class)
        if not_ready is not None and (n := not_ready.before(chosen_key)):
            passed[PassedOver.NOT_READY] = n
        ready = self._ready.get(slot.room_class)
        accepting = line.before(chosen_key) if line is not None else 0
        if ready is not None and (n := ready.before(chosen_key) - accepting):
            passed[PassedOver.SITE] = n
        if declined_ahead:
            passed[PassedOver.DECLINED] = declined_ahead
        if not picked or line is None:
            return Decision(slot, None, Rule.NO_CANDIDATE, passed, 0)
        eligible = len(line) - self._declined_count(slot)
        rule = Rule.ONLY_CANDIDATE if len(picked) == 1 else rule_between(picked[0], picked[1])
        return Decision(slot, picked[0][1], rule, passed, eligible, tuple(picked), self._today)

    def _declined_count(self, slot: Slot) -> int:
        """Ready entries accepting the slot's hospital that declined this very unit."""
        return sum(
            1
            for c in self._declining.get(slot.room_class, {}).values()
            if c.ready and slot.institution_id in c.sites and slot.unit_id in c.declined_units
        )


def _ineligible(c: Candidate, slot: Slot) -> PassedOver | None:
    if not c.ready:
        return PassedOver.NOT_READY
    if slot.institution_id not in c.sites:
        return PassedOver.SITE
    if slot.unit_id in c.declined_units:
        return PassedOver.DECLINED
    return None


@dataclass(frozen=True)
class Position:
    """Where an entry stands: its place among the ready entries of its room class, and the
    number of ready entries ahead of it that compete for the same hospitals (they are the
    ones who would be offered a unit it accepts before it is)."""

    entry_id: int
    place: int
    ahead_competing: int
    ready: bool


def positions(queue: Queue, room_class: str) -> list[Position]:
    """The positions of the entries of one room class, in order. A not-ready entry keeps its
    place: it is shown where it would stand were it ready."""
    result: list[Position] = []
    # the ready entries ahead, counted by the set of hospitals they accept (a pool has few)
    ready_ahead: dict[frozenset[int], int] = {}
    place = 0
    for c in queue.line(room_class):
        competing = sum(n for sites, n in ready_ahead.items() if sites & c.sites)
        if c.ready:
            place += 1
            result.append(Position(c.entry_id, place, competing, True))
            ready_ahead[c.sites] = ready_ahead.get(c.sites, 0) + 1
        else:
            result.append(Position(c.entry_id, place + 1, competing, False))
    return result
