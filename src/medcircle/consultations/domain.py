"""Remote consultation as data: states, transitions and who may make each, the response
clock with its pauses, the on-call rota and its gaps, and the routing decision.

Nothing here touches the database. The service walks these tables; property tests walk them
too; the routing benchmark calls ``route`` directly.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from medcircle.kit.i18n import N_

# the urgencies are the referral loop's, so both speak of them alike
from medcircle.referrals.domain import URGENCY_LABELS as URGENCY_LABELS
from medcircle.referrals.domain import URGENCY_RANK as URGENCY_RANK
from medcircle.referrals.domain import Urgency as Urgency


class Mode(StrEnum):
    WRITTEN = "written"
    VIDEO = "video"
    # a multi-disciplinary team: several specialties, in a session
    MDT = "mdt"


class Status(StrEnum):
    # in the specialty pool of the answering institution, nobody holds it
    POOL = "pool"
    # an expert holds it: the expert's turn
    ASSIGNED = "assigned"
    # the expert asked the asker a question: the asker's turn, the clock stands still
    AWAITING_ASKER = "awaiting_asker"
    # the opinion is given: the asker reads, rates, closes or asks a follow-up
    ANSWERED = "answered"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class Side(StrEnum):
    """Who may make a transition."""

    # clinicians of the asking institution (CONSULT_ASK)
    ASKER = "asker"
    # the expert who holds the case
    ASSIGNEE = "assignee"
    # experts of the answering institution in the case's specialty (CONSULT_ANSWER)
    POOL_EXPERT = "pool_expert"
    # coordinators of the answering institution (CONSULT_COORDINATE)
    COORDINATOR = "coordinator"
    # the platform's timers
    SYSTEM = "system"


class Action(StrEnum):
    CLAIM = "claim"
    ASSIGN = "assign"
    RELEASE = "release"
    REDIRECT = "redirect"
    ASK_ASKER = "ask_asker"
    REPLY = "reply"
    ANSWER = "answer"
    FOLLOW_UP = "follow_up"
    CLOSE = "close"
    CANCEL = "cancel"
    ESCALATE = "escalate"


@dataclass(frozen=True)
class Transition:
    action: Action
    sources: frozenset[Status]
    target: Status
    sides: frozenset[Side]
    # fields the request must carry (names of the service's input)
    requires: tuple[str, ...] = ()


def _t(
    action: Action,
    sources: set[Status],
    target: Status,
    sides: set[Side],
    requires: tuple[str, ...] = (),
) -> Transition:
    return Transition(action, frozenset(sources), target, frozenset(sides), requires)


S = Status
OPEN: frozenset[Status] = frozenset({S.POOL, S.ASSIGNED, S.AWAITING_ASKER})
TRANSITIONS: tuple[Transition, ...] = (
    # an expert of the pool takes a case nobody holds (two at once: exactly one wins)
    _t(Action.CLAIM, {S.POOL}, S.ASSIGNED, {Side.POOL_EXPERT}),
    # a coordinator gives it to a named expert, also away from the one holding it; while the
    # asker is asked it stays the asker's turn (the clock stays stopped), the new expert waits
    _t(Action.ASSIGN, {S.POOL, S.ASSIGNED}, S.ASSIGNED, {Side.COORDINATOR}, ("assignee_user_id",)),
    _t(
        Action.ASSIGN,
        {S.AWAITING_ASKER},
        S.AWAITING_ASKER,
        {Side.COORDINATOR},
        ("assignee_user_id",),
    ),
    _t(Action.RELEASE, {S.ASSIGNED}, S.POOL, {Side.ASSIGNEE}, ("reason",)),
    # another specialty's pool (routed again to who is on call there)
    _t(
        Action.REDIRECT,
        {S.POOL, S.ASSIGNED},
        S.POOL,
        {Side.COORDINATOR, Side.ASSIGNEE},
        ("specialty_code", "reason"),
    ),
    _t(Action.ASK_ASKER, {S.ASSIGNED}, S.AWAITING_ASKER, {Side.ASSIGNEE}, ("body",)),
    _t(Action.REPLY, {S.AWAITING_ASKER}, S.ASSIGNED, {Side.ASKER}, ("body",)),
    _t(
        Action.ANSWER,
        {S.ASSIGNED},
        S.ANSWERED,
        {Side.ASSIGNEE},
        ("assessment", "recommendations"),
    ),
    # the asker asks more after the opinion: back to the expert who answered
    _t(Action.FOLLOW_UP, {S.ANSWERED}, S.ASSIGNED, {Side.ASKER}, ("body",)),
    # closed by the asker, or by the platform when the asker has not come back for a while
    _t(Action.CLOSE, {S.ANSWERED}, S.CLOSED, {Side.ASKER, Side.SYSTEM}),
    _t(Action.CANCEL, set(OPEN), S.CANCELLED, {Side.ASKER}, ("reason",)),
    # a promise at risk: to the next expert on call, or back to the pool and the coordinator
    _t(Action.ESCALATE, {S.POOL, S.ASSIGNED}, S.ASSIGNED, {Side.SYSTEM}),
    _t(Action.ESCALATE, {S.POOL, S.ASSIGNED}, S.POOL, {Side.SYSTEM}),
)

TERMINAL: frozenset[Status] = frozenset({S.CLOSED, S.CANCELLED})
# whose turn it is in each open state (shown on every case)
TURN: dict[Status, Side | None] = {
    S.POOL: Side.POOL_EXPERT,
    S.ASSIGNED: Side.ASSIGNEE,
    S.AWAITING_ASKER: Side.ASKER,
    S.ANSWERED: Side.ASKER,
    S.CLOSED: None,
    S.CANCELLED: None,
}
# the response clock runs in these states until the first answer
CLOCK_RUNS: frozenset[Status] = frozenset({S.POOL, S.ASSIGNED})


def transitions_from(status: Status) -> list[Transition]:
    """Every transition that may start at ``status``."""
    return [t for t in TRANSITIONS if status in t.sources]


def find_transition(
    status: Status, action: Action, target: Status | None = None
) -> Transition | None:
    """The transition ``action`` from ``status`` (to ``target`` where the action has several),
    or None when it is not allowed there."""
    for t in TRANSITIONS:
        if t.action == action and status in t.sources and (target is None or t.target == target):
            return t
    return None


def allowed_actions(status: Status, sides: set[Side]) -> list[Action]:
    """The actions someone on ``sides`` may take from ``status``, in table order, once each."""
    seen: list[Action] = []
    for t in transitions_from(status):
        if t.sides & sides and t.action not in seen:
            seen.append(t.action)
    return seen


# --- response-time promises ---------------------------------------------------------------


@dataclass(frozen=True)
class Targets:
    """How long an answer may take, per urgency (the clock stands still while the asker is
    asked); defaults of the platform, configurable per agreement."""

    emergency: timedelta = timedelta(minutes=30)
    urgent: timedelta = timedelta(hours=4)
    routine: timedelta = timedelta(hours=24)

    def for_urgency(self, urgency: Urgency) -> timedelta:
        return {
            Urgency.EMERGENCY: self.emergency,
            Urgency.URGENT: self.urgent,
            Urgency.ROUTINE: self.routine,
        }[urgency]


# a promise is "at risk" once this share of its time has run without an answer: the case goes
# to the next expert on call; when the time is up, the coordinators are told
AT_RISK_SHARE = 0.75


@dataclass(frozen=True)
class Clock:
    """The response clock of one case: started when asked, paused while the asker is asked.

    ``paused_seconds`` is the time of the pauses that ended; ``paused_since`` the start of the
    pause under way (None when running)."""

    started_at: datetime
    target: timedelta
    paused_seconds: float = 0.0
    paused_since: datetime | None = None

    def elapsed(self, now: datetime) -> timedelta:
        """Time that counts against the target up to ``now``."""
        end = self.paused_since if self.paused_since is not None else now
        return max(timedelta(0), end - self.started_at - timedelta(seconds=self.paused_seconds))

    def due_at(self) -> datetime | None:
        """When the target is reached; None while paused (it moves on with the pause)."""
        if self.paused_since is not None:
            return None
        return self.started_at + timedelta(seconds=self.paused_seconds) + self.target

    def at_risk_at(self) -> datetime | None:
        """When the promise becomes at risk; None while paused."""
        if self.paused_since is not None:
            return None
        return (
            self.started_at + timedelta(seconds=self.paused_seconds) + self.target * AT_RISK_SHARE
        )

    def left(self, now: datetime) -> timedelta:
        """Time left to the target (negative once missed)."""
        return self.target - self.elapsed(now)

    def pause(self, now: datetime) -> Clock:
        if self.paused_since is not None:
            return self
        return Clock(self.started_at, self.target, self.paused_seconds, max(now, self.started_at))

    def resume(self, now: datetime) -> Clock:
        if self.paused_since is None:
            return self
        pause = max(0.0, (now - self.paused_since).total_seconds())
        return Clock(self.started_at, self.target, self.paused_seconds + pause, None)


# --- the on-call rota ---------------------------------------------------------------------


class ShiftRole(StrEnum):
    PRIMARY = "primary"
    BACKUP = "backup"


@dataclass(frozen=True, slots=True)
class Shift:
    """One expert on call for one specialty of one institution, from ``starts_at`` (included)
    to ``ends_at`` (excluded)."""

    user_id: int
    starts_at: datetime
    ends_at: datetime
    role: ShiftRole = ShiftRole.PRIMARY

    def covers(self, at: datetime) -> bool:
        return self.starts_at <= at < self.ends_at


@dataclass(frozen=True, slots=True)
class Leave:
    user_id: int
    starts_at: datetime
    ends_at: datetime


def _on_leave(leaves: Iterable[Leave], user_id: int, at: datetime) -> bool:
    return any(lv.user_id == user_id and lv.starts_at <= at < lv.ends_at for lv in leaves)


def on_call(shifts: Iterable[Shift], leaves: Iterable[Leave], at: datetime) -> list[Shift]:
    """The shifts covering ``at`` whose expert is not on leave then: primaries first, then
    backups, each by start."""
    leaves = list(leaves)
    found = [s for s in shifts if s.covers(at) and not _on_leave(leaves, s.user_id, at)]
    found.sort(key=lambda s: (s.role != ShiftRole.PRIMARY, s.starts_at, s.user_id))
    return found


class WarningKind(StrEnum):
    # nobody on call at all
    GAP = "gap"
    # only a backup covers: no primary
    NO_PRIMARY = "no_primary"
    # an expert's shift falls in their leave (the shift does not count)
    LEAVE = "leave"
    # a handover: one expert's shift ends and another's starts
    HANDOVER = "handover"


WARNING_LABELS: dict[WarningKind, str] = {
    WarningKind.GAP: N_("Nobody on call"),
    WarningKind.NO_PRIMARY: N_("Only a backup on call"),
    WarningKind.LEAVE: N_("On-call shift during leave"),
    WarningKind.HANDOVER: N_("Handover"),
}


@dataclass(frozen=True, slots=True)
class RotaWarning:
    kind: WarningKind
    starts_at: datetime
    ends_at: datetime
    # the expert concerned (LEAVE: the one on leave; HANDOVER: the one taking over)
    user_id: int | None = None
    # HANDOVER: the one handing over
    from_user_id: int | None = None


def _effective(shifts: Sequence[Shift], leaves: Sequence[Leave]) -> list[Shift]:
    """The shifts with their experts' leave cut out."""
    out: list[Shift] = []
    for s in shifts:
        pieces = [(s.starts_at, s.ends_at)]
        for lv in leaves:
            if lv.user_id != s.user_id:
                continue
            cut: list[tuple[datetime, datetime]] = []
            for a, b in pieces:
                if lv.ends_at <= a or lv.starts_at >= b:
                    cut.append((a, b))
                    continue
                if a < lv.starts_at:
                    cut.append((a, lv.starts_at))
                if lv.ends_at < b:
                    cut.append((lv.ends_at, b))
            pieces = cut
        out.extend(Shift(s.user_id, a, b, s.role) for a, b in pieces if a < b)
    return out


def rota_warnings(
    shifts: Sequence[Shift], leaves: Sequence[Leave], start: datetime, end: datetime
) -> list[RotaWarning]:
    """What a coordinator must see about one rota (one institution and specialty) between
    ``start`` and ``end``: gaps with nobody on call, stretches covered by a backup only, shifts
    during their expert's leave, and each handover of the primary. In time order."""
    warnings: list[RotaWarning] = []
    for s in shifts:
        for lv in leaves:
            if lv.user_id == s.user_id and lv.starts_at < s.ends_at and s.starts_at < lv.ends_at:
                a, b = max(s.starts_at, lv.starts_at, start), min(s.ends_at, lv.ends_at, end)
                if a < b:
                    warnings.append(RotaWarning(WarningKind.LEAVE, a, b, s.user_id))
    live = _effective(shifts, leaves)
    # the moments at which coverage may change
    points = {start, end}
    for s in live:
        for t in (s.starts_at, s.ends_at):
            if start < t < end:
                points.add(t)
    cuts = sorted(points)
    previous_primary: int | None = None
    for a, b in itertools.pairwise(cuts):
        covering = [s for s in live if s.starts_at <= a and b <= s.ends_at]
        primaries = sorted(
            (s for s in covering if s.role == ShiftRole.PRIMARY), key=lambda s: s.starts_at
        )
        if not covering:
            kind: WarningKind | None = WarningKind.GAP
        elif not primaries:
            kind = WarningKind.NO_PRIMARY
        else:
            kind = None
        if kind is not None:
            last = warnings[-1] if warnings else None
            if last is not None and last.kind == kind and last.ends_at == a:
                warnings[-1] = RotaWarning(kind, last.starts_at, b)
            else:
                warnings.append(RotaWarning(kind, a, b))
        current = primaries[0].user_id if primaries else None
        if (
            current is not None
            and previous_primary is not None
            and current != previous_primary
            and a > start
        ):
            warnings.append(RotaWarning(WarningKind.HANDOVER, a, a, current, previous_primary))
        if current is not None:
            previous_primary = current
    warnings.sort(key=lambda w: (w.starts_at, w.kind != WarningKind.LEAVE))
    return warnings


# --- routing: who gets a new case ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Expert:
    """An expert who may answer for a specialty of an institution."""

    user_id: int
    # ICD-10 code prefixes the expert is known for ("Q2" congenital heart, "C91" leukaemia)
    skills: tuple[str, ...] = ()
    # open cases above this are not given more by routing (claims still allowed)
    max_open: int = 20


@dataclass
class RotaIndex:
    """The shifts of one rota, sorted by start, for fast look-up of who is on call."""

    shifts: list[Shift] = field(default_factory=list)
    leaves: list[Leave] = field(default_factory=list)
    _starts: list[datetime] = field(default_factory=list, repr=False)
    _longest: timedelta = timedelta(0)

    def __post_init__(self) -> None:
        self.shifts.sort(key=lambda s: s.starts_at)
        self._starts = [s.starts_at for s in self.shifts]
        self._longest = max((s.ends_at - s.starts_at for s in self.shifts), default=timedelta(0))

    def at(self, at: datetime) -> list[Shift]:
        """``on_call`` over the shifts that may cover ``at`` (a bisect, not a scan)."""
        hi = bisect.bisect_right(self._starts, at)
        lo = bisect.bisect_left(self._starts, at - self._longest)
        return on_call(self.shifts[lo:hi], self.leaves, at)


class RouteReason(StrEnum):
    ON_CALL = "on_call"
    BACKUP = "backup"
    # on call but over their load: the next one on call with room
    ON_CALL_LOADED = "on_call_loaded"
    NOBODY_ON_CALL = "nobody_on_call"
    ALL_EXCLUDED = "all_excluded"


ROUTE_LABELS: dict[RouteReason, str] = {
    RouteReason.ON_CALL: N_("On call now"),
    RouteReason.BACKUP: N_("Backup on call now"),
    RouteReason.ON_CALL_LOADED: N_("On call now (the primary has too many open cases)"),
    RouteReason.NOBODY_ON_CALL: N_("Nobody on call: in the pool, coordinator told"),
    RouteReason.ALL_EXCLUDED: N_("Everyone on call has already held it: coordinator told"),
}


@dataclass(frozen=True, slots=True)
class Decision:
    user_id: int | None
    reason: RouteReason


def skill_score(expert: Expert, icd10_code: str | None) -> int:
    """How well the expert's skills fit the diagnosis: the longest matching code prefix."""
    if not icd10_code or not expert.skills:
        return 0
    code = icd10_code.upper()
    return max((len(p) for p in expert.skills if code.startswith(p.upper())), default=0)


def route(
    rota: RotaIndex,
    experts: Mapping[int, Expert],
    open_load: Mapping[int, int],
    at: datetime,
    icd10_code: str | None = None,
    exclude: frozenset[int] = frozenset(),
) -> Decision:
    """Who gets a new case of one specialty at one institution at ``at``.

    Only experts on call then (not on leave, not in ``exclude``: those who already held the
    case) are candidates. An expert below their open-case limit comes before one at it (so a
    backup with room takes the case of a primary who has too many); then primaries before
    backups; then the better skill fit for the diagnosis, then the lighter load, then the lower
    user id (so the decision is deterministic). When nobody is on call the case stays in the
    pool and the coordinator is told."""
    covering = rota.at(at)
    if not covering:
        return Decision(None, RouteReason.NOBODY_ON_CALL)
    best: tuple[int, int, int, int, int] | None = None
    chosen: Shift | None = None
    skipped_full_primary = False
    for s in covering:
        if s.user_id in exclude:
            continue
        expert = experts.get(s.user_id) or Expert(s.user_id)
        load = open_load.get(s.user_id, 0)
        full = load >= expert.max_open
        primary = s.role == ShiftRole.PRIMARY
        skipped_full_primary = skipped_full_primary or (primary and full)
        key = (
            1 if full else 0,
            0 if primary else 1,
            -skill_score(expert, icd10_code),
            load,
            s.user_id,
        )
        if best is None or key < best:
            best, chosen = key, s
    if chosen is None or best is None:
        return Decision(None, RouteReason.ALL_EXCLUDED)
    if chosen.role == ShiftRole.BACKUP:
        return Decision(chosen.user_id, RouteReason.BACKUP)
    if skipped_full_primary and best[0] == 0:
        return Decision(chosen.user_id, RouteReason.ON_CALL_LOADED)
    return Decision(chosen.user_id, RouteReason.ON_CALL)


# --- scheduling a video or MDT session ----------------------------------------------------


def common_slots(
    busy: Mapping[int, Sequence[tuple[datetime, datetime]]],
    start: datetime,
    end: datetime,
    duration: timedelta,
    step: timedelta = timedelta(minutes=30),
    day_hours: tuple[int, int] = (8, 20),
    tz_offset_hours: int = 8,
    limit: int = 10,
) -> list[datetime]:
    """Start times between ``start`` and ``end``, on the ``step`` grid, at which every
    participant is free for ``duration`` within working hours (local time, UTC+8 by default).
    ``busy`` maps each participant to the intervals they are taken."""
    out: list[datetime] = []
    if duration <= timedelta(0) or step <= timedelta(0):
        return out
    zone = timedelta(hours=tz_offset_hours)
    # the first point of the grid (whole hours plus multiples of step) at or after start
    hour = start.replace(minute=0, second=0, microsecond=0)
    past = (start - hour) % step
    t = start if not past else start + (step - past)
    while t + duration <= end and len(out) < limit:
        local = t + zone
        local_end = t + duration + zone
        in_day = (
            day_hours[0] * 60 <= local.hour * 60 + local.minute
            and local_end.date() == local.date()
            and local_end.hour * 60 + local_end.minute <= day_hours[1] * 60
        )
        if in_day and all(
            not (a < t + duration and t < b) for spans in busy.values() for a, b in spans
        ):
            out.append(t)
        t += step
    return out


# --- labels -------------------------------------------------------------------------------

STATUS_LABELS: dict[Status, str] = {
    S.POOL: N_("Waiting for an expert"),
    S.ASSIGNED: N_("With the expert"),
    S.AWAITING_ASKER: N_("Question for the asker"),
    S.ANSWERED: N_("Answered"),
    S.CLOSED: N_("Closed"),
    S.CANCELLED: N_("Cancelled"),
}

ACTION_LABELS: dict[Action, str] = {
    Action.CLAIM: N_("Take this case"),
    Action.ASSIGN: N_("Assign to an expert"),
    Action.RELEASE: N_("Give back to the pool"),
    Action.REDIRECT: N_("Redirect to another specialty"),
    Action.ASK_ASKER: N_("Ask the asker"),
    Action.REPLY: N_("Reply"),
    Action.ANSWER: N_("Give the opinion"),
    Action.FOLLOW_UP: N_("Ask a follow-up question"),
    Action.CLOSE: N_("Close"),
    Action.CANCEL: N_("Cancel consultation"),
    Action.ESCALATE: N_("Escalated"),
}

MODE_LABELS: dict[Mode, str] = {
    Mode.WRITTEN: N_("Written"),
    Mode.VIDEO: N_("Video"),
    Mode.MDT: N_("Multi-disciplinary team"),
}

TURN_LABELS: dict[Side, str] = {
    Side.POOL_EXPERT: N_("An expert's turn"),
    Side.ASSIGNEE: N_("The expert's turn"),
    Side.ASKER: N_("The asker's turn"),
}
