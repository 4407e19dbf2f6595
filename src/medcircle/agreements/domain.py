"""Rules of agreements: kinds, specialty counts, terms, activity on a date, overdue goals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from medcircle.kit.i18n import N_


class AgreementKind(StrEnum):
    SPECIALTY_SUPPORT = "specialty_support"
    TRUSTEESHIP = "trusteeship"
    DEPARTMENTAL_EXCHANGE = "departmental_exchange"


class GoalStatus(StrEnum):
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    ACHIEVED = "achieved"
    MISSED = "missed"
    DROPPED = "dropped"


class AgreementStatus(StrEnum):
    UPCOMING = "upcoming"
    ACTIVE = "active"
    ENDED = "ended"
    TERMINATED = "terminated"


KIND_LABELS = {
    AgreementKind.SPECIALTY_SUPPORT: N_("Specialty support"),
    AgreementKind.TRUSTEESHIP: N_("Trusteeship"),
    AgreementKind.DEPARTMENTAL_EXCHANGE: N_("Departmental exchange"),
}
GOAL_STATUS_LABELS = {
    GoalStatus.PLANNED: N_("Planned"),
    GoalStatus.IN_PROGRESS: N_("In progress"),
    GoalStatus.ACHIEVED: N_("Achieved"),
    GoalStatus.MISSED: N_("Missed"),
    GoalStatus.DROPPED: N_("Dropped"),
}
STATUS_LABELS = {
    AgreementStatus.UPCOMING: N_("Upcoming"),
    AgreementStatus.ACTIVE: N_("Active"),
    AgreementStatus.ENDED: N_("Ended"),
    AgreementStatus.TERMINATED: N_("Terminated"),
}

SPECIALTY_SUPPORT_MIN = 2
SPECIALTY_SUPPORT_MAX = 4
TERM_MIN_YEARS = 3
TERM_MAX_YEARS = 5
ENDING_SOON_MONTHS = 6
OPEN_GOAL_STATUSES = frozenset({GoalStatus.PLANNED, GoalStatus.IN_PROGRESS})


@dataclass(frozen=True)
class Problem:
    """A message about one field: an error refuses the agreement, a warning only informs."""

    field: str
    message: str
    params: tuple[tuple[str, object], ...] = ()

    @property
    def params_dict(self) -> dict[str, object]:
        return dict(self.params)


@dataclass(frozen=True)
class AgreementTerms:
    kind: AgreementKind
    supporting_institution_id: int
    supported_institution_id: int
    starts_on: date
    ends_on: date
    specialty_codes: tuple[str, ...]
    licensed_name_zh: str | None = None


def add_years(d: date, years: int) -> date:
    """The same day ``years`` later (28 February for 29 February in a common year)."""
    try:
        return d.replace(year=d.year + years)
    except ValueError:
        return d.replace(year=d.year + years, day=28)


def add_months(d: date, months: int) -> date:
    month0 = d.month - 1 + months
    year, month = d.year + month0 // 12, month0 % 12 + 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def term_errors(terms: AgreementTerms) -> list[Problem]:
    """What makes an agreement impossible to record."""
    errors: list[Problem] = []
    if terms.supporting_institution_id == terms.supported_institution_id:
        errors.append(
            Problem(
                "supported_institution_id",
                N_("The supporting and the supported institution must be different."),
            )
        )
    if terms.ends_on <= terms.starts_on:
        errors.append(Problem("ends_on", N_("The end date must be after the start date.")))
    if len(set(terms.specialty_codes)) != len(terms.specialty_codes):
        errors.append(Problem("specialties", N_("A specialty is listed twice.")))
    n = len(set(terms.specialty_codes))
    if terms.kind is AgreementKind.SPECIALTY_SUPPORT and not (
        SPECIALTY_SUPPORT_MIN <= n <= SPECIALTY_SUPPORT_MAX
    ):
        errors.append(
            Problem(
                "specialties",
                N_("Specialty support covers 2 to 4 specialties; %(count)s were given."),
                (("count", n),),
            )
        )
    if terms.kind is AgreementKind.DEPARTMENTAL_EXCHANGE and n < 1:
        errors.append(
            Problem("specialties", N_("A departmental exchange names at least one specialty."))
        )
    return errors


def term_warnings(terms: AgreementTerms) -> list[Problem]:
    """What is allowed but unusual: a term outside 3 to 5 years."""
    warnings: list[Problem] = []
    if terms.ends_on > terms.starts_on and not (
        add_years(terms.starts_on, TERM_MIN_YEARS)
        <= terms.ends_on
        <= add_years(terms.starts_on, TERM_MAX_YEARS)
    ):
        warnings.append(
            Problem(
                "ends_on",
                N_("Cooperation agreements usually run 3 to 5 years; this one runs %(days)s days."),
                (("days", (terms.ends_on - terms.starts_on).days),),
            )
        )
    if terms.kind is AgreementKind.TRUSTEESHIP and not terms.licensed_name_zh:
        warnings.append(
            Problem(
                "licensed_name_zh",
                N_("A trusteeship usually gives the supported hospital a licensed name."),
            )
        )
    return warnings


def status_on(
    starts_on: date, ends_on: date, terminated_on: date | None, on: date
) -> AgreementStatus:
    """Where an agreement stands on a date (it runs from start to the day before its end)."""
    if terminated_on is not None and terminated_on <= on:
        return AgreementStatus.TERMINATED
    if on < starts_on:
        return AgreementStatus.UPCOMING
    if on >= ends_on:
        return AgreementStatus.ENDED
    return AgreementStatus.ACTIVE


def ends_soon(ends_on: date, terminated_on: date | None, on: date) -> bool:
    """Active and ending within the next six months."""
    return terminated_on is None and on < ends_on <= add_months(on, ENDING_SOON_MONTHS)


def goal_overdue(status: GoalStatus, due_on: date, on: date) -> bool:
    """An open goal whose due date has passed."""
    return status in OPEN_GOAL_STATUSES and due_on < on
