"""Rules of dispatch set-up (pure): demand kinds, its state machine and checks, experts'
availability (home duties, leave, most visit days a week) and skill names.

Demand moves as the table ``TRANSITIONS`` says, each step made by one side: the supported
institution (the site) writes, submits and withdraws it; the supporting one approves or rejects
what was submitted. Editing a rejected demand makes it a draft again.

An expert's working days are Monday to Friday; a day is a duty day when its weekday is one of the
expert's home-duty weekdays or it is one of their single duty days, and a leave day when any of
their leave touches it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from medcircle.kit.clock import CST
from medcircle.kit.i18n import N_


class DemandKind(StrEnum):
    VISITS = "visits"
    RESIDENT = "resident"
    SPECIAL = "special"


class DemandStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class DemandAction(StrEnum):
    EDIT = "edit"
    SUBMIT = "submit"
    APPROVE = "approve"
    REJECT = "reject"
    WITHDRAW = "withdraw"


class Side(StrEnum):
    """Which party of the agreement acts: the site (supported) or the supporter."""

    SITE = "site"
    SUPPORTER = "supporter"


KIND_LABELS: dict[DemandKind, str] = {
    DemandKind.VISITS: N_("Weekly visits"),
    DemandKind.RESIDENT: N_("Resident experts"),
    DemandKind.SPECIAL: N_("Special request"),
}
STATUS_LABELS: dict[DemandStatus, str] = {
    DemandStatus.DRAFT: N_("Draft"),
    DemandStatus.SUBMITTED: N_("Submitted"),
    DemandStatus.APPROVED: N_("Approved"),
    DemandStatus.REJECTED: N_("Rejected"),
    DemandStatus.WITHDRAWN: N_("Withdrawn"),
}
WEEKDAY_LABELS: tuple[str, ...] = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"))

# (from, action) -> (to, the side that may take it)
TRANSITIONS: dict[tuple[DemandStatus, DemandAction], tuple[DemandStatus, Side]] = {
    (DemandStatus.DRAFT, DemandAction.EDIT): (DemandStatus.DRAFT, Side.SITE),
    (DemandStatus.REJECTED, DemandAction.EDIT): (DemandStatus.DRAFT, Side.SITE),
    (DemandStatus.DRAFT, DemandAction.SUBMIT): (DemandStatus.SUBMITTED, Side.SITE),
    (DemandStatus.SUBMITTED, DemandAction.APPROVE): (DemandStatus.APPROVED, Side.SUPPORTER),
    (DemandStatus.SUBMITTED, DemandAction.REJECT): (DemandStatus.REJECTED, Side.SUPPORTER),
    (DemandStatus.DRAFT, DemandAction.WITHDRAW): (DemandStatus.WITHDRAWN, Side.SITE),
    (DemandStatus.SUBMITTED, DemandAction.WITHDRAW): (DemandStatus.WITHDRAWN, Side.SITE),
    (DemandStatus.APPROVED, DemandAction.WITHDRAW): (DemandStatus.WITHDRAWN, Side.SITE),
    (DemandStatus.REJECTED, DemandAction.WITHDRAW): (DemandStatus.WITHDRAWN, Side.SITE),
}


def next_status(status: DemandStatus, action: DemandAction) -> DemandStatus | None:
    """Where ``action`` takes demand in ``status``, or None when it may not be taken there."""
    found = TRANSITIONS.get((status, action))
    return found[0] if found else None


def side_of(status: DemandStatus, action: DemandAction) -> Side | None:
    """The side that may take ``action`` in ``status`` (None: nobody)."""
    found = TRANSITIONS.get((status, action))
    return found[1] if found else None


def actions_for(status: DemandStatus, side: Side) -> list[DemandAction]:
    """What ``side`` may do with demand in ``status``, in the order of ``DemandAction``."""
    return [a for a in DemandAction if TRANSITIONS.get((status, a), (None, None))[1] == side]


MIN_VISITS = 1
MAX_VISITS = 5
MIN_POSITIONS = 1
MAX_POSITIONS = 20
MAX_DAYS_PER_WEEK = 5
DEFAULT_DAYS_PER_WEEK = 2
WORKING_WEEKDAYS = frozenset(range(5))
MAX_SKILL_LENGTH = 64
MAX_SKILLS = 30

VISITS_RANGE = N_("Ask for 1 to 5 visit days a week.")
POSITIONS_RANGE = N_("Ask for 1 to 20 resident positions.")
DAY_REQUIRED = N_("A special request needs the day it is for.")
SKILL_REQUIRED = N_("A special request needs the skill it asks for (e.g. cochlear implant).")
END_BEFORE_START = N_("The last day must not be before the first.")
OUTSIDE_AGREEMENT = N_("Demand must lie inside the agreement's period, %(first)s to %(last)s.")
IN_THE_PAST = N_("The demand would be over before today (%(today)s).")
DAY_OUTSIDE = N_("The day must lie inside the agreement's period, %(first)s to %(last)s.")
DAY_NOT_WORKING = N_("Experts visit on working days: choose a day from Monday to Friday.")
BAD_SKILL = N_("A skill is a name of 2 to 64 letters, digits, spaces, - / + . ( ).")
DAYS_RANGE = N_("Maximum visit days a week are 0 to 5.")
BAD_WEEKDAY = N_("Home duties fall on working days, Monday to Friday.")
NEVER_AVAILABLE = N_(
    "With home duties on all five working days this expert can never visit. "
    "Switch 'takes part in dispatch' off instead."
)


@dataclass(frozen=True)
class Problem:
    """Something wrong with one field, with a stable code."""

    field: str
    message: str
    code: str
    params: tuple[tuple[str, object], ...] = ()

    @property
    def params_dict(self) -> dict[str, object]:
        return dict(self.params)


@dataclass(frozen=True)
class DemandTerms:
    """What a demand asks, as typed (before checks)."""

    kind: DemandKind
    starts_on: date
    ends_on: date
    visits_per_week: int | None = None
    positions: int | None = None
    day: date | None = None
    skill: str | None = None


def agreement_last_day(ends_on: date, terminated_on: date | None) -> date:
    """The last day an agreement runs (it ends the day before ``ends_on``, or before it was
    terminated)."""
    end = min(ends_on, terminated_on) if terminated_on is not None else ends_on
    return end - timedelta(days=1)


def demand_problems(terms: DemandTerms, first: date, last: date, today: date) -> list[Problem]:
    """What is wrong with demand inside an agreement running ``first`` to ``last`` (both
    included), judged on ``today``: the amounts each kind needs, the period in order, inside
    the agreement and not all past; a special request's day and skill."""
    out: list[Problem] = []
    period = (("first", first.isoformat()), ("last", last.isoformat()))
    if terms.kind is DemandKind.VISITS:
        v = terms.visits_per_week
        if v is None or not MIN_VISITS <= v <= MAX_VISITS:
            out.append(Problem("visits_per_week", VISITS_RANGE, "visits_out_of_range"))
    elif terms.kind is DemandKind.RESIDENT:
        p = terms.positions
        if p is None or not MIN_POSITIONS <= p <= MAX_POSITIONS:
            out.append(Problem("positions", POSITIONS_RANGE, "positions_out_of_range"))
    else:
        if terms.day is None:
            out.append(Problem("day", DAY_REQUIRED, "day_required"))
        elif not first <= terms.day <= last:
            out.append(Problem("day", DAY_OUTSIDE, "outside_agreement", period))
        elif terms.day.weekday() not in WORKING_WEEKDAYS:
            out.append(Problem("day", DAY_NOT_WORKING, "not_a_working_day"))
        skill = normalise_skill(terms.skill or "")
        if not skill:
            out.append(Problem("skill", SKILL_REQUIRED, "skill_required"))
        elif not valid_skill(skill):
            out.append(Problem("skill", BAD_SKILL, "invalid_skill"))
    if terms.ends_on < terms.starts_on:
        out.append(Problem("ends_on", END_BEFORE_START, "end_before_start"))
    elif terms.starts_on < first or terms.ends_on > last:
        field = "starts_on" if terms.starts_on < first else "ends_on"
        out.append(Problem(field, OUTSIDE_AGREEMENT, "outside_agreement", period))
    elif terms.ends_on < today:
        out.append(Problem("ends_on", IN_THE_PAST, "in_the_past", (("today", today.isoformat()),)))
    return out


# --- skills -----------------------------------------------------------------------------------

_SPACES = re.compile(r"\s+")
_SKILL = re.compile(r"^[\w][\w +\-/.()]*$")


def normalise_skill(value: str) -> str:
    """A skill as stored and matched: lower case, single spaces, no spaces at the ends."""
    return _SPACES.sub(" ", value).strip().lower()


def valid_skill(value: str) -> bool:
    """Whether a normalised skill is a name of 2 to 64 letters, digits and a few signs."""
    return 2 <= len(value) <= MAX_SKILL_LENGTH and _SKILL.match(value) is not None


# --- availability -----------------------------------------------------------------------------


def profile_problems(
    max_days_per_week: int, duty_weekdays: Iterable[int], active: bool
) -> list[Problem]:
    """What is wrong with a dispatch profile: days out of range, duties on a weekend day, or an
    expert who takes part but whose weekly duties leave no day to visit."""
    out: list[Problem] = []
    days = set(duty_weekdays)
    if not 0 <= max_days_per_week <= MAX_DAYS_PER_WEEK:
        out.append(Problem("max_days_per_week", DAYS_RANGE, "days_out_of_range"))
    if not days <= WORKING_WEEKDAYS:
        out.append(Problem("duty_weekdays", BAD_WEEKDAY, "invalid_weekday"))
    elif active and max_days_per_week > 0 and days == WORKING_WEEKDAYS:
        out.append(Problem("duty_weekdays", NEVER_AVAILABLE, "never_available"))
    return out


def working_days(starts_on: date, ends_on: date) -> list[date]:
    """Monday to Friday from ``starts_on`` to ``ends_on`` (both included)."""
    out = []
    d = starts_on
    while d <= ends_on:
        if d.weekday() in WORKING_WEEKDAYS:
            out.append(d)
        d += timedelta(days=1)
    return out


def duty_days(
    days: Iterable[date], weekdays: Iterable[int], single_days: Iterable[date]
) -> frozenset[date]:
    """The days among ``days`` that are home duty: on a duty weekday or a single duty day."""
    pattern = set(weekdays)
    singles = set(single_days)
    return frozenset(d for d in days if d.weekday() in pattern or d in singles)


def leave_days(days: Iterable[date], leave: Iterable[tuple[datetime, datetime]]) -> frozenset[date]:
    """The days among ``days`` (China time) that any leave [start, end) touches."""
    spans = [(a.astimezone(CST), b.astimezone(CST)) for a, b in leave]
    out = set()
    for d in days:
        day_start = datetime(d.year, d.month, d.day, tzinfo=CST)
        day_end = day_start + timedelta(days=1)
        if any(a < day_end and day_start < b for a, b in spans):
            out.add(d)
    return frozenset(out)


__all__ = [
    "DemandAction",
    "DemandKind",
    "DemandStatus",
    "DemandTerms",
    "Problem",
    "Side",
    "actions_for",
    "agreement_last_day",
    "demand_problems",
    "duty_days",
    "leave_days",
    "next_status",
    "normalise_skill",
    "profile_problems",
    "side_of",
    "valid_skill",
    "working_days",
]
