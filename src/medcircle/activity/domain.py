"""Checking hospital activity rows, as pure functions: the header, each row, duplicates.

A row is one encounter (an outpatient or emergency visit, or an inpatient stay) as the
hospital's system exported it, its values raw text. ``parse_row`` returns the typed row or every
problem of the row, each naming its line, column and reason, so that a file with bad rows can be
refused with one complete report. Activity data carries no patient names and no ID numbers: a
free-text value that looks like a national ID number is refused, and no message repeats one.

Validation runs for every row of files of millions of rows, so the valid path is kept cheap:
no exceptions, precompiled patterns, and the checks that cost most (ICD-10 codes, dates) cached
per distinct value in the ``Checks`` of one import.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from medcircle.referrals.icd10 import normalise


class EncounterType(StrEnum):
    OUTPATIENT = "outpatient"
    EMERGENCY = "emergency"
    INPATIENT = "inpatient"


AGE_BANDS: tuple[str, ...] = ("<1", "1-4", "5-14", "15-44", "45-64", "65+")
COLUMNS: tuple[str, ...] = (
    "record_id",
    "institution",
    "department",
    "type",
    "start_on",
    "end_on",
    "residence",
    "age_band",
    "icd10",
    "cost",
    "referral",
)
# columns that may be absent from the header, and whose values may be empty
OPTIONAL: frozenset[str] = frozenset({"end_on", "cost", "referral"})
REQUIRED: tuple[str, ...] = tuple(c for c in COLUMNS if c not in OPTIONAL)

MAX_RECORD_ID = 64
MAX_DEPARTMENT = 64
MAX_REFERRAL = 32
MAX_COST_FEN = 1_000_000_000  # 10 million yuan

_TYPES: dict[str, EncounterType] = {
    **{t.value: t for t in EncounterType},
    "门诊": EncounterType.OUTPATIENT,
    "急诊": EncounterType.EMERGENCY,
    "住院": EncounterType.INPATIENT,
}
_AGE_BANDS = frozenset(AGE_BANDS)
_COLUMNS = frozenset(COLUMNS)

# a second-generation national ID number: region, birth date, sequence, check character; not
# part of a longer run of digits (a longer number is something else)
_ID_NUMBER = re.compile(
    r"(?<![0-9])[1-9][0-9]{5}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
    r"[0-9]{3}[0-9Xx](?![0-9Xx])"
)
_ID_LENGTH = 18
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# ISO dates, with slashes or Chinese 年月日 as spreadsheets write them, and a time of day
# (spreadsheets export dates as midnight datetimes) that is ignored
_DATE = re.compile(
    r"([0-9]{4})(?:([-/])([0-9]{1,2})\2([0-9]{1,2})|年([0-9]{1,2})月([0-9]{1,2})日?)"
    r"(?:[ T][0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?)?"
)
_DIVISION = re.compile(r"[0-9]{6}")
# a per-import cache stops growing here (only a file of garbage gets so many distinct values)
_CACHE_LIMIT = 100_000
_QUOTE_LIMIT = 40
# words in a header that suggest personal data, for a clearer message
_PERSONAL = ("name", "姓名", "身份证", "id_card", "idcard", "id_number", "phone", "电话", "手机")


@dataclass(frozen=True, slots=True)
class ActivityRow:
    """One valid encounter record, typed."""

    line: int
    record_id: str
    institution: str
    department: str
    type: EncounterType
    start_on: date
    end_on: date | None
    residence: str
    age_band: str
    icd10: str
    cost_fen: int | None
    referral: str | None


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem of a file: its line, column (None for a whole row, the header or the file),
    a stable code and a plain English sentence naming the value."""

    line: int
    column: str | None
    code: str
    message: str


@dataclass(frozen=True)
class Checks:
    """What a row is checked against: the institutions the importer may import for (codes), the
    known division codes, today (no date after it) and the ICD-10 check.

    It also keeps, for one import, what was learnt about each distinct ICD-10 code and date."""

    institutions: frozenset[str]
    divisions: frozenset[str]
    today: date
    is_icd10: Callable[[str], bool]
    _icd10: dict[str, str | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _dates: dict[str, date | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )


def column_key(name: str) -> str:
    """A header name as it is matched: stripped, lower case, without a byte-order mark."""
    return name.replace("\ufeff", "").strip().lower()


def quote(value: str) -> str:
    """A value as a message shows it: quoted, shortened, and with anything that looks like an
    ID number masked (a report must not carry one)."""
    if len(value) >= _ID_LENGTH:
        value = _ID_NUMBER.sub("[ID number]", value)
    if len(value) > _QUOTE_LIMIT:
        value = value[: _QUOTE_LIMIT - 1] + "…"
    return f"'{value}'"


def looks_like_id_number(value: str) -> bool:
    """Whether a text holds what looks like an 18-character national ID number."""
    return len(value) >= _ID_LENGTH and _ID_NUMBER.search(value) is not None


def redacted(values: Mapping[str, str | None]) -> dict[str, str | None]:
    """The raw values of a row with anything that looks like an ID number masked, for keeping a
    refused row without keeping the ID number it held."""
    return {
        k: _ID_NUMBER.sub("[ID number]", v) if v and len(v) >= _ID_LENGTH else v
        for k, v in values.items()
    }


def check_header(columns: Sequence[str]) -> list[RowError]:
    """The problems of a header (line 1): every required column present, no unknown column, no
    column twice; names compared stripped and in any case."""
    errors: list[RowError] = []
    keys = [column_key(c) for c in columns]
    if not any(keys):
        return [
            RowError(
                1,
                None,
                "empty_header",
                "Line 1 has no column names; it must name the columns: " + ", ".join(COLUMNS) + ".",
            )
        ]
    first: dict[str, int] = {}
    for position, key in enumerate(keys, start=1):
        if not key:
            errors.append(
                RowError(1, None, "unknown_column", f"Column {position} of line 1 has no name.")
            )
        elif key in first:
            errors.append(
                RowError(
                    1,
                    key,
                    "duplicate_column",
                    f"Column {quote(key)} appears twice, as columns {first[key]} and {position}.",
                )
            )
        elif key not in _COLUMNS:
            first[key] = position
            personal = any(word in key for word in _PERSONAL)
            errors.append(
                RowError(
                    1,
                    key,
                    "unknown_column",
                    f"Column {quote(key)} is not an activity column"
                    + (
                        "; activity data carries no names, ID numbers or phone numbers."
                        if personal
                        else "; the columns are: " + ", ".join(COLUMNS) + "."
                    ),
                )
            )
        else:
            first[key] = position
    for name in REQUIRED:
        if name not in first:
            errors.append(RowError(1, name, "missing_column", f"Column {quote(name)} is missing."))
    return errors


def parse_row(
    line: int, values: Mapping[str, str | None], checks: Checks
) -> ActivityRow | list[RowError]:
    """One row checked: the typed row, or every problem of it (not only the first).

    ``values`` are the raw texts by column; None, empty and blank are all empty. Rules: the
    required columns have values; the institution is one the importer may import for and the
    residence a known division; dates are real and not after today, a stay does not end before
    it starts and a visit ends the day it starts; the cost is in yuan with at most two
    decimals; no free text holds an ID number."""
    errors: list[RowError] = []
    get = values.get

    # free text: record id, department, referral
    v = get("record_id")
    record_id = v.strip() if v else ""
    if not record_id or len(record_id) > MAX_RECORD_ID or not record_id.isprintable():
        _text_error(errors, line, "record_id", record_id, MAX_RECORD_ID, True)
    elif len(record_id) >= _ID_LENGTH and _ID_NUMBER.search(record_id):
        errors.append(_id_error(line, "record_id"))
    v = get("department")
    department = v.strip() if v else ""
    if not department or len(department) > MAX_DEPARTMENT or not department.isprintable():
        _text_error(errors, line, "department", department, MAX_DEPARTMENT, True)
    elif len(department) >= _ID_LENGTH and _ID_NUMBER.search(department):
        errors.append(_id_error(line, "department"))
    v = get("referral")
    referral = v.strip() if v else None
    if referral:
        if len(referral) > MAX_REFERRAL or not referral.isprintable():
            _text_error(errors, line, "referral", referral, MAX_REFERRAL, False)
        elif len(referral) >= _ID_LENGTH and _ID_NUMBER.search(referral):
            errors.append(_id_error(line, "referral"))
    else:
        referral = None

    v = get("institution")
    institution = v.strip() if v else ""
    if institution not in checks.institutions:
        errors.append(
            _required(line, "institution")
            if not institution
            else RowError(
                line,
                "institution",
                "unknown_institution",
                f"Institution {quote(institution)} is not one you may import activity for.",
            )
        )

    v = get("type")
    raw_type = v.strip() if v else ""
    kind = _TYPES.get(raw_type) or _TYPES.get(raw_type.lower())
    if kind is None:
        errors.append(
            _required(line, "type")
            if not raw_type
            else RowError(
                line,
                "type",
                "bad_type",
                f"Type {quote(raw_type)} is not one of outpatient, emergency, inpatient"
                " (or 门诊, 急诊, 住院).",
            )
        )

    start_on = _date(errors, line, "start_on", get("start_on"), checks, True)
    end_on = _date(errors, line, "end_on", get("end_on"), checks, False)
    if start_on is not None and end_on is not None:
        if end_on < start_on:
            errors.append(
                RowError(
                    line,
                    "end_on",
                    "end_before_start",
                    f"End date {end_on.isoformat()} is before the start date"
                    f" {start_on.isoformat()}.",
                )
            )
        elif kind is not None and kind is not EncounterType.INPATIENT:
            if end_on != start_on:
                errors.append(
                    RowError(
                        line,
                        "end_on",
                        "end_on_outpatient",
                        f"An {kind.value} visit ends on the day it starts, but its end date"
                        f" {end_on.isoformat()} is not its start date {start_on.isoformat()}.",
                    )
                )
            # a visit's end day says nothing more than its start day
            end_on = None

    v = get("residence")
    residence = v.strip() if v else ""
    if residence not in checks.divisions:
        if not residence:
            errors.append(_required(line, "residence"))
        elif not _DIVISION.fullmatch(residence):
            errors.append(
                RowError(
                    line,
                    "residence",
                    "unknown_division",
                    f"Residence {quote(residence)} is not a 6-digit division code.",
                )
            )
        else:
            errors.append(
                RowError(
                    line,
                    "residence",
                    "unknown_division",
                    f"Residence {quote(residence)} is not a known division code.",
                )
            )

    v = get("age_band")
    age_band = v.strip() if v else ""
    if age_band not in _AGE_BANDS:
        if not age_band:
            errors.append(_required(line, "age_band"))
        else:
            # a spreadsheet turns 1-4 and 5-14 into dates unless the column is text
            hint = (
                " (a spreadsheet may have turned it into a date: format the column as text)"
                if _DATE.fullmatch(age_band)
                else ""
            )
            errors.append(
                RowError(
                    line,
                    "age_band",
                    "bad_age_band",
                    f"Age band {quote(age_band)} is not one of {', '.join(AGE_BANDS)}{hint}.",
                )
            )

    v = get("icd10")
    raw_code = v.strip() if v else ""
    cache = checks._icd10
    if raw_code in cache:
        icd10 = cache[raw_code]
    else:
        icd10 = _valid_icd10(raw_code, checks) if raw_code else None
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[raw_code] = icd10
    if icd10 is None:
        errors.append(
            _required(line, "icd10")
            if not raw_code
            else RowError(
                line, "icd10", "bad_icd10", f"ICD-10 code {quote(raw_code)} does not exist."
            )
        )

    v = get("cost")
    cost = v.strip() if v else ""
    cost_fen: int | None = None
    if cost:
        whole, dot, cents = cost.partition(".")
        if (
            whole.isdigit()
            and whole.isascii()
            and len(whole) <= 9
            and (not dot or (cents.isdigit() and cents.isascii() and len(cents) <= 2))
        ):
            # "12.5" is 1250 fen, "12.05" 1205
            cents_fen = int(cents) * (10 if len(cents) == 1 else 1) if dot else 0
            cost_fen = int(whole) * 100 + cents_fen
        if cost_fen is None or cost_fen > MAX_COST_FEN:
            errors.append(_cost_error(line, cost))
            cost_fen = None

    if errors or kind is None or start_on is None or icd10 is None:
        return errors
    return ActivityRow(
        line,
        record_id,
        institution,
        department,
        kind,
        start_on,
        end_on,
        residence,
        age_band,
        icd10,
        cost_fen,
        referral,
    )


class DuplicateCheck:
    """The records seen so far in one file, to refuse a record (institution and record id)
    given twice: the later line is the error, naming the first."""

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        # by institution, then record id: the first line of each record
        self._seen: dict[str, dict[str, int]] = {}

    def see(self, row: ActivityRow) -> RowError | None:
        """Note a valid row; the error if its record was already seen in the file."""
        lines = self._seen.get(row.institution)
        if lines is None:
            lines = self._seen[row.institution] = {}
        first = lines.setdefault(row.record_id, row.line)
        if first == row.line:
            return None
        return RowError(
            row.line,
            "record_id",
            "duplicate_record",
            f"Record {quote(row.record_id)} of institution {quote(row.institution)} is given"
            f" twice: first on line {first}.",
        )


def _required(line: int, column: str) -> RowError:
    return RowError(line, column, "required", f"A value for {column} is required.")


def _id_error(line: int, column: str) -> RowError:
    # the value is not repeated: the report must not carry the ID number either
    return RowError(
        line,
        column,
        "looks_like_id_number",
        f"The {column} holds what looks like a national ID number; activity data carries none.",
    )


def _text_error(
    errors: list[RowError], line: int, column: str, value: str, limit: int, required: bool
) -> None:
    """The error of a free text that is empty, too long or holds a control character."""
    if not value:
        if required:
            errors.append(_required(line, column))
    elif len(value) > limit:
        errors.append(
            RowError(
                line,
                column,
                "too_long",
                f"The {column} {quote(value)} has {len(value)} characters; at most {limit}"
                " are allowed.",
            )
        )
    elif _CONTROL.search(value):
        errors.append(
            RowError(
                line,
                column,
                "control_character",
                f"The {column} {quote(_CONTROL.sub('?', value))} holds a control character"
                " (a line break, tab or other invisible character).",
            )
        )
    elif looks_like_id_number(value):
        # printable apart from unusual spaces: still checked for an ID number
        errors.append(_id_error(line, column))


def _parse_date(text: str) -> date | None:
    """A date from ISO ``YYYY-MM-DD`` and the spreadsheet forms; None if it is not one."""
    if len(text) == 10 and text[4] == "-" and text[7] == "-" and text.isascii():
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    m = _DATE.fullmatch(text)
    if m is None:
        return None
    year, _, month, day, month_zh, day_zh = m.groups()
    try:
        return date(int(year), int(month or month_zh), int(day or day_zh))
    except ValueError:
        return None


def _date(
    errors: list[RowError],
    line: int,
    column: str,
    value: str | None,
    checks: Checks,
    required: bool,
) -> date | None:
    """A date column: the date, or None with its error noted (none when it may be empty)."""
    text = value.strip() if value else ""
    if not text:
        if required:
            errors.append(_required(line, column))
        return None
    cache = checks._dates
    if text in cache:
        found = cache[text]
    else:
        found = _parse_date(text)
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[text] = found
    if found is None:
        errors.append(
            RowError(
                line,
                column,
                "bad_date",
                f"Date {quote(text)} in {column} is not a valid date (write YYYY-MM-DD).",
            )
        )
    elif found > checks.today:
        errors.append(
            RowError(
                line,
                column,
                "future_date",
                f"Date {found.isoformat()} in {column} is in the future"
                f" (today is {checks.today.isoformat()}).",
            )
        )
        return None
    return found


def _valid_icd10(raw: str, checks: Checks) -> str | None:
    """The normalised code, or None when it is not a valid ICD-10 code."""
    code = normalise(raw)
    return code if code and checks.is_icd10(code) else None


def _cost_error(line: int, cost: str) -> RowError:
    whole, dot, cents = cost.partition(".")
    if cost.startswith("-"):
        reason = "it is negative"
    elif "," in cost or "，" in cost:
        reason = "write it without thousands separators"
    elif whole.isdigit() and whole.isascii() and (not dot or (cents.isdigit() and cents.isascii())):
        reason = (
            "it has more than two decimals" if len(cents) > 2 else "it is more than 10 million yuan"
        )
    else:
        reason = "write yuan with at most two decimals, like 123.45"
    return RowError(line, "cost", "bad_cost", f"Cost {quote(cost)} is not valid: {reason}.")
