"""The referral loop as data: states, transitions, who may make each, and the timers.

Nothing here touches the database; the service walks these tables and a property test walks
them too, so a transition exists in exactly one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from medcircle.kit.i18n import N_


class Status(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    REDIRECTED = "redirected"
    SCHEDULED = "scheduled"
    ARRIVED = "arrived"
    COMPLETED = "completed"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"
    CLOSED = "closed"


class Direction(StrEnum):
    UP = "up"
    DOWN = "down"


class Urgency(StrEnum):
    EMERGENCY = "emergency"
    URGENT = "urgent"
    ROUTINE = "routine"


# emergency sorts first on every worklist
URGENCY_RANK: dict[Urgency, int] = {Urgency.EMERGENCY: 0, Urgency.URGENT: 1, Urgency.ROUTINE: 2}


class CareType(StrEnum):
    OUTPATIENT = "outpatient"
    ADMISSION = "admission"
    TRANSFER = "transfer"


class Side(StrEnum):
    """Which institution's staff may make a transition."""

    SENDER = "sender"
    RECEIVER = "receiver"


class Action(StrEnum):
    SUBMIT = "submit"
    ACCEPT = "accept"
    DECLINE = "decline"
    REDIRECT = "redirect"
    SCHEDULE = "schedule"
    RESCHEDULE = "reschedule"
    ARRIVE = "arrive"
    NO_SHOW = "no_show"
    COMPLETE = "complete"
    CLOSE = "close"
    CANCEL = "cancel"


@dataclass(frozen=True)
class Transition:
    action: Action
    sources: frozenset[Status]
    target: Status
    sides: frozenset[Side]
    # fields the request must carry (names of the service's transition input)
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
TRANSITIONS: tuple[Transition, ...] = (
    _t(Action.SUBMIT, {S.DRAFT}, S.SUBMITTED, {Side.SENDER}),
    _t(Action.ACCEPT, {S.SUBMITTED}, S.ACCEPTED, {Side.RECEIVER}),
    _t(Action.DECLINE, {S.SUBMITTED}, S.DECLINED, {Side.RECEIVER}, ("reason",)),
    # the original ends as redirected; a new submitted referral goes to the new target
    _t(
        Action.REDIRECT,
        {S.SUBMITTED},
        S.REDIRECTED,
        {Side.RECEIVER},
        ("reason", "receiver_department_id"),
    ),
    _t(
        Action.SCHEDULE,
        {S.ACCEPTED},
        S.SCHEDULED,
        {Side.RECEIVER},
        ("appointment_at", "appointment_place"),
    ),
    _t(
        Action.RESCHEDULE,
        {S.SCHEDULED},
        S.SCHEDULED,
        {Side.RECEIVER},
        ("appointment_at", "appointment_place"),
    ),
    _t(Action.ARRIVE, {S.SCHEDULED}, S.ARRIVED, {Side.RECEIVER}),
    _t(Action.NO_SHOW, {S.SCHEDULED}, S.NO_SHOW, {Side.RECEIVER}),
    _t(Action.COMPLETE, {S.ARRIVED}, S.COMPLETED, {Side.RECEIVER}, ("outcome_summary",)),
    # the sender closes the loop once they have read the answer
    _t(
        Action.CLOSE,
        {S.COMPLETED, S.DECLINED, S.REDIRECTED, S.NO_SHOW},
        S.CLOSED,
        {Side.SENDER},
    ),
    _t(Action.CANCEL, {S.DRAFT}, S.CANCELLED, {Side.SENDER}),
    _t(
        Action.CANCEL,
        {S.SUBMITTED, S.ACCEPTED, S.SCHEDULED},
        S.CANCELLED,
        {Side.SENDER, Side.RECEIVER},
        ("reason",),
    ),
)

TERMINAL: frozenset[Status] = frozenset({S.CLOSED, S.CANCELLED})
# states in which the receiving side still owes something
OPEN_FOR_RECEIVER: frozenset[Status] = frozenset({S.SUBMITTED, S.ACCEPTED, S.SCHEDULED, S.ARRIVED})


def transitions_from(status: Status) -> list[Transition]:
    """Every transition that may start at ``status``."""
    return [t for t in TRANSITIONS if status in t.sources]


def find_transition(status: Status, action: Action) -> Transition | None:
    """The transition ``action`` from ``status``, or None when it is not allowed there."""
    for t in TRANSITIONS:
        if t.action == action and status in t.sources:
            return t
    return None


def allowed_actions(status: Status, sides: set[Side]) -> list[Action]:
    """The actions someone on ``sides`` may take from ``status``, in table order, once each."""
    seen: list[Action] = []
    for t in transitions_from(status):
        if t.sides & sides and t.action not in seen:
            seen.append(t.action)
    return seen


# --- timers -------------------------------------------------------------------------------


class TimerKind(StrEnum):
    # not triaged in time: step 1 tells the receiving institution's admins, step 2 the alliance
    TRIAGE_OVERDUE = "referral.triage_overdue"
    # appointment passed without arrival: ask arrived or no-show
    APPOINTMENT_PASSED = "referral.appointment_passed"


@dataclass(frozen=True)
class TriageLimits:
    emergency: timedelta = timedelta(hours=1)
    urgent: timedelta = timedelta(hours=24)
    routine: timedelta = timedelta(hours=72)

    def for_urgency(self, urgency: Urgency) -> timedelta:
        return {
            Urgency.EMERGENCY: self.emergency,
            Urgency.URGENT: self.urgent,
            Urgency.ROUTINE: self.routine,
        }[urgency]


def triage_due(submitted_at: datetime, urgency: Urgency, limits: TriageLimits) -> datetime:
    return submitted_at + limits.for_urgency(urgency)


# which timers a state keeps running; leaving the state cancels the others
TIMERS_OF_STATE: dict[Status, frozenset[TimerKind]] = {
    S.SUBMITTED: frozenset({TimerKind.TRIAGE_OVERDUE}),
    S.SCHEDULED: frozenset({TimerKind.APPOINTMENT_PASSED}),
}


def timers_for(status: Status) -> frozenset[TimerKind]:
    return TIMERS_OF_STATE.get(status, frozenset())


# --- labels -------------------------------------------------------------------------------

STATUS_LABELS: dict[Status, str] = {
    S.DRAFT: N_("Draft"),
    S.SUBMITTED: N_("Submitted"),
    S.ACCEPTED: N_("Accepted"),
    S.DECLINED: N_("Declined"),
    S.REDIRECTED: N_("Redirected"),
    S.SCHEDULED: N_("Scheduled"),
    S.ARRIVED: N_("Arrived"),
    S.COMPLETED: N_("Completed"),
    S.NO_SHOW: N_("Did not attend"),
    S.CANCELLED: N_("Cancelled"),
    S.CLOSED: N_("Loop closed"),
}

ACTION_LABELS: dict[Action, str] = {
    Action.SUBMIT: N_("Submit"),
    Action.ACCEPT: N_("Accept"),
    Action.DECLINE: N_("Decline"),
    Action.REDIRECT: N_("Redirect"),
    Action.SCHEDULE: N_("Schedule"),
    Action.RESCHEDULE: N_("Reschedule"),
    Action.ARRIVE: N_("Mark arrived"),
    Action.NO_SHOW: N_("Mark did not attend"),
    Action.COMPLETE: N_("Complete"),
    Action.CLOSE: N_("Close"),
    Action.CANCEL: N_("Cancel referral"),
}

URGENCY_LABELS: dict[Urgency, str] = {
    Urgency.EMERGENCY: N_("Emergency"),
    Urgency.URGENT: N_("Urgent"),
    Urgency.ROUTINE: N_("Routine"),
}

CARE_TYPE_LABELS: dict[CareType, str] = {
    CareType.OUTPATIENT: N_("Outpatient visit"),
    CareType.ADMISSION: N_("Admission"),
    CareType.TRANSFER: N_("Transfer"),
}

DIRECTION_LABELS: dict[Direction, str] = {
    Direction.UP: N_("Up (to a higher-level hospital)"),
    Direction.DOWN: N_("Down (back to a local hospital)"),
}
