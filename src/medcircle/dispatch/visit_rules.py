"""Pure rules of visit records: dates, counts, operations, the agreement a visit runs under,
and the periods the visit measures are asked for. No I/O: values in, problems out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from medcircle.kit.errors import FieldError
from medcircle.kit.i18n import N_
from medcircle.referrals import icd10

# one record covers at most a year of residence (a longer stay is recorded per year)
MAX_VISIT_DAYS = 366
# the largest count a field of one record may hold (a year of daily clinics stays far below)
MAX_COUNT = 100_000
MAX_OPERATION_ROWS = 100
COUNT_FIELDS = ("outpatients", "ward_rounds", "teaching_sessions", "difficult_cases")

DATES_ORDER = N_("The visit ends before it starts.")
IN_FUTURE = N_("A visit is recorded once it has happened: this date is in the future.")
TOO_LONG = N_("One record covers at most %(days)s days; record a longer stay in parts.")
NEGATIVE = N_("Enter 0 or more.")
TOO_LARGE = N_("Enter at most %(most)s.")
BAD_ICD10 = N_("Operation %(row)s: %(code)s is not an ICD-10 code (e.g. K40.9).")
NO_PROCEDURE = N_("Operation %(row)s: name the procedure.")
PROCEDURE_TOO_LONG = N_("Operation %(row)s: the procedure is longer than 200 characters.")
BAD_OPERATION_COUNT = N_("Operation %(row)s: the count is 1 or more.")
TOO_MANY_ROWS = N_("At most %(most)s operation rows.")


@dataclass(frozen=True)
class OperationLine:
    """One row of operations, normalised: ICD-10 code, procedure, how many."""

    icd10_code: str
    procedure: str
    count: int


def visit_days(starts_on: date, ends_on: date) -> int:
    """Expert-days on site: both ends included (a day trip is one)."""
    return (ends_on - starts_on).days + 1


def date_problems(starts_on: date, ends_on: date, today: date) -> list[FieldError]:
    """Dates ordered, neither in the future, at most ``MAX_VISIT_DAYS`` long."""
    problems: list[FieldError] = []
    if ends_on < starts_on:
        problems.append(FieldError("ends_on", DATES_ORDER, code="dates_order"))
    for name, day in (("starts_on", starts_on), ("ends_on", ends_on)):
        if day > today:
            problems.append(FieldError(name, IN_FUTURE, code="date_in_future"))
    if ends_on >= starts_on and visit_days(starts_on, ends_on) > MAX_VISIT_DAYS:
        problems.append(
            FieldError("ends_on", TOO_LONG, {"days": MAX_VISIT_DAYS}, code="visit_too_long")
        )
    return problems


def count_problems(counts: dict[str, int]) -> list[FieldError]:
    """Each count is a whole number from 0 to ``MAX_COUNT``."""
    problems: list[FieldError] = []
    for name in COUNT_FIELDS:
        value = counts.get(name, 0)
        if value < 0:
            problems.append(FieldError(name, NEGATIVE, code="negative_count"))
        elif value > MAX_COUNT:
            problems.append(
                FieldError(name, TOO_LARGE, {"most": MAX_COUNT}, code="count_too_large")
            )
    return problems


def operation_lines(
    rows: Sequence[tuple[str, str, int]],
) -> tuple[list[OperationLine], list[FieldError]]:
    """The operation rows normalised (ICD-10 codes as ``K40.9``), and what is wrong with
    them; each problem names its row (1-based) and points at ``operations.<index>.<field>``."""
    lines: list[OperationLine] = []
    problems: list[FieldError] = []
    if len(rows) > MAX_OPERATION_ROWS:
        problems.append(
            FieldError(
                "operations", TOO_MANY_ROWS, {"most": MAX_OPERATION_ROWS}, code="too_many_rows"
            )
        )
        return lines, problems
    for index, (raw_code, raw_procedure, count) in enumerate(rows):
        row = index + 1
        code = icd10.normalise(raw_code)
        procedure = " ".join((raw_procedure or "").split())
        if not icd10.is_valid(code):
            problems.append(
                FieldError(
                    f"operations.{index}.icd10_code",
                    BAD_ICD10,
                    {"row": row, "code": (raw_code or "").strip()[:16] or "—"},
                    code="invalid_icd10",
                )
            )
        if not procedure:
            problems.append(
                FieldError(
                    f"operations.{index}.procedure",
                    NO_PROCEDURE,
                    {"row": row},
                    code="procedure_required",
                )
            )
        elif len(procedure) > 200:
            problems.append(
                FieldError(
                    f"operations.{index}.procedure",
                    PROCEDURE_TOO_LONG,
                    {"row": row},
                    code="procedure_too_long",
                )
            )
        if count < 1 or count > MAX_COUNT:
            problems.append(
                FieldError(
                    f"operations.{index}.count",
                    BAD_OPERATION_COUNT,
                    {"row": row},
                    code="bad_operation_count",
                )
            )
        lines.append(OperationLine(code, procedure, count))
    return lines, problems


def agreement_covers(
    agreement_starts_on: date,
    agreement_ends_on: date,
    terminated_on: date | None,
    starts_on: date,
    ends_on: date,
) -> bool:
    """Whether an agreement is active on every day of a visit: it runs from its start to the
    day before its end, and stops on the day it is terminated."""
    last_day = agreement_ends_on - timedelta(days=1)
    if terminated_on is not None:
        last_day = min(last_day, terminated_on - timedelta(days=1))
    return agreement_starts_on <= starts_on and ends_on <= last_day


def overlaps(a_start: date, a_end: date, b_start: date, b_end: date) -> bool:
    """Two visits share a day (an expert cannot be at two sites at once)."""
    return a_start <= b_end and b_start <= a_end


# --- periods of the measures -----------------------------------------------------------------

# twenty years: the whole history of a circle, not a runaway scan
MAX_PERIOD_DAYS = 7320
BAD_YEAR = N_("Enter a year such as 2016.")
PERIOD_ORDER = N_("The end of the period is before its start.")
PERIOD_TOO_LONG = N_("Choose at most %(days)s days.")


@dataclass(frozen=True)
class Period:
    """Days from ``start`` to ``end``, both included."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


class PeriodError(ValueError):
    """A period that cannot be asked for; ``problem`` says why and where."""

    def __init__(self, problem: FieldError) -> None:
        super().__init__(problem.message)
        self.problem = problem


def parse_year(raw: str) -> int:
    """A year typed by a person (``" 2016 "``): four digits from 2000 to 2999."""
    text = raw.strip()
    if len(text) != 4 or not text.isdigit() or not 2000 <= int(text) <= 2999:
        raise PeriodError(FieldError("year", BAD_YEAR, code="bad_year"))
    return int(text)


def period_of(year: str | None, start: date | None, end: date | None, today: date) -> Period:
    """The period asked for: a whole year when ``year`` is given; else ``start`` to ``end``
    (by default 1 January of this year to today; a start alone runs to today)."""
    if year and year.strip():
        y = parse_year(year)
        return Period(date(y, 1, 1), date(y, 12, 31))
    end = end or today
    start = start or date(end.year, 1, 1)
    if end < start:
        raise PeriodError(FieldError("end", PERIOD_ORDER, code="bad_period"))
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        raise PeriodError(
            FieldError("start", PERIOD_TOO_LONG, {"days": MAX_PERIOD_DAYS}, code="period_too_long")
        )
    return Period(start, end)
