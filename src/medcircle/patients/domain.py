"""Rules of patients: national ID numbers (GB 11643-1999), phone numbers and their masks,
sexes, guardians of children, consent purposes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from medcircle.audit.domain import mask_national_id
from medcircle.kit.clock import CST
from medcircle.kit.i18n import N_


class Sex(StrEnum):
    MALE = "male"
    FEMALE = "female"
    UNKNOWN = "unknown"


class GuardianRelation(StrEnum):
    MOTHER = "mother"
    FATHER = "father"
    GRANDPARENT = "grandparent"
    OTHER_GUARDIAN = "other_guardian"


class ConsentPurpose(StrEnum):
    REFERRAL = "referral"
    CONSULTATION = "consultation"
    WAITLIST = "waitlist"


class GivenBy(StrEnum):
    PATIENT = "patient"
    GUARDIAN = "guardian"


class UnmaskField(StrEnum):
    NATIONAL_ID = "national_id"
    PHONE = "phone"
    GUARDIAN_PHONE = "guardian_phone"


SEX_LABELS = {Sex.MALE: N_("Male"), Sex.FEMALE: N_("Female"), Sex.UNKNOWN: N_("Unknown")}
RELATION_LABELS = {
    GuardianRelation.MOTHER: N_("Mother"),
    GuardianRelation.FATHER: N_("Father"),
    GuardianRelation.GRANDPARENT: N_("Grandparent"),
    GuardianRelation.OTHER_GUARDIAN: N_("Other guardian"),
}
PURPOSE_LABELS = {
    ConsentPurpose.REFERRAL: N_("Referral"),
    ConsentPurpose.CONSULTATION: N_("Consultation"),
    ConsentPurpose.WAITLIST: N_("Shared waitlist"),
}
GIVEN_BY_LABELS = {GivenBy.PATIENT: N_("The patient"), GivenBy.GUARDIAN: N_("The guardian")}
UNMASK_LABELS = {
    UnmaskField.NATIONAL_ID: N_("National ID number"),
    UnmaskField.PHONE: N_("Phone"),
    UnmaskField.GUARDIAN_PHONE: N_("Guardian's phone"),
}

ADULT_AGE = 18
# the oldest birth date an ID number may carry
EARLIEST_BIRTH = date(1880, 1, 1)

ID_LENGTH_MESSAGE = N_("An ID number has 18 characters: 17 digits and a digit or X.")
ID_CHECKSUM_MESSAGE = N_("This ID number is not valid: its last character does not match.")
ID_BIRTH_INVALID_MESSAGE = N_("The birth date inside this ID number is not a real date.")
ID_BIRTH_FUTURE_MESSAGE = N_("The birth date inside this ID number is in the future.")
ID_BIRTH_MISMATCH_MESSAGE = N_(
    "The ID number gives the birth date %(day)s, not the birth date entered."
)
ID_SEX_MISMATCH_MESSAGES = {
    Sex.MALE: N_("The ID number belongs to a male, not to the sex entered."),
    Sex.FEMALE: N_("The ID number belongs to a female, not to the sex entered."),
}
PHONE_MESSAGE = N_(
    "Enter a mobile number (11 digits starting 13 to 19) or a fixed line with its area code, "
    "e.g. 0312-1234567."
)
BIRTH_FUTURE_MESSAGE = N_("The birth date cannot be in the future.")
BIRTH_TOO_EARLY_MESSAGE = N_("The birth date is too far in the past.")
GUARDIAN_REQUIRED_MESSAGES = {
    "guardian_name": N_("A child under 18 needs a guardian: enter the guardian's name."),
    "guardian_relation": N_("A child under 18 needs a guardian: choose the relation."),
    "guardian_phone": N_("A child under 18 needs a guardian: enter the guardian's phone."),
}
CHILD_CONSENT_MESSAGE = N_("A child's consent is given by the guardian.")

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_ID_SHAPE = re.compile(r"^[0-9]{17}[0-9X]$")


@dataclass(frozen=True)
class Problem:
    """A message about one field of a form."""

    field: str
    message: str
    params: tuple[tuple[str, object], ...] = ()
    code: str = "invalid"

    @property
    def params_dict(self) -> dict[str, object]:
        return dict(self.params)


# --- national ID numbers ------------------------------------------------------------------


def normalise_national_id(value: str) -> str:
    """The ID number as stored and hashed: no surrounding blanks, a capital X."""
    return value.strip().upper()


def check_character(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def checksum_ok(number: str) -> bool:
    """Whether an 18-character ID number has the right shape and check character."""
    return bool(_ID_SHAPE.match(number)) and check_character(number[:17]) == number[17]


@dataclass(frozen=True)
class NationalId:
    """A parsed ID number: its normalised form, the birth date and sex it carries."""

    number: str
    birth_date: date
    sex: Sex
    region: str

    @property
    def masked(self) -> str:
        return mask_national_id(self.number)


def parse_national_id(value: str, today: date) -> tuple[NationalId | None, Problem | None]:
    """Parse an ID number; a problem (field ``national_id``) when it is not valid on ``today``."""
    number = normalise_national_id(value)
    if not _ID_SHAPE.match(number):
        return None, Problem("national_id", ID_LENGTH_MESSAGE, code="national_id_format")
    if check_character(number[:17]) != number[17]:
        return None, Problem("national_id", ID_CHECKSUM_MESSAGE, code="national_id_checksum")
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None, Problem("national_id", ID_BIRTH_INVALID_MESSAGE, code="national_id_birth")
    if born < EARLIEST_BIRTH:
        return None, Problem("national_id", ID_BIRTH_INVALID_MESSAGE, code="national_id_birth")
    if born > today:
        return None, Problem("national_id", ID_BIRTH_FUTURE_MESSAGE, code="national_id_birth")
    sex = Sex.MALE if int(number[16]) % 2 else Sex.FEMALE
    return NationalId(number, born, sex, number[:6]), None


def make_national_id(region: str, born: date, sequence: int) -> str:
    """An ID number with a correct check character (tests and synthetic data)."""
    first17 = f"{region}{born:%Y%m%d}{sequence:03d}"
    return first17 + check_character(first17)


# --- phone numbers ------------------------------------------------------------------------

_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
_FIXED = re.compile(r"^0[0-9]{9,11}$")


def normalise_phone(value: str) -> str | None:
    """A mainland number in its stored form (``13812345678`` or ``0312-1234567``), or None."""
    raw = re.sub(r"[\s\-()]", "", value)
    if raw.startswith("+86"):
        raw = raw[3:]
    if _MOBILE.match(raw):
        return raw
    if not _FIXED.match(raw):
        return None
    # Beijing (010) and the big cities (020-029) have 3-digit area codes, the rest 4
    area_len = 3 if raw.startswith(("010", "02")) else 4
    area, local = raw[:area_len], raw[area_len:]
    if len(local) not in (7, 8) or local[0] == "0":
        return None
    return f"{area}-{local}"


def mask_phone(number: str) -> str:
    """Mobile: the first 3 and last 4 digits (``138****5678``); fixed line: the area code and
    the last 4 digits (``0312-***4567``)."""
    if "-" in number:
        area, local = number.split("-", 1)
        return f"{area}-{'*' * (len(local) - 4)}{local[-4:]}"
    return number[:3] + "*" * (len(number) - 7) + number[-4:]


# --- people -------------------------------------------------------------------------------


def age_on(born: date, day: date) -> int:
    """Full years of age on ``day``."""
    years = day.year - born.year
    if (day.month, day.day) < (born.month, born.day):
        years -= 1
    return years


def is_child(born: date, day: date) -> bool:
    """Under 18 on ``day`` (the day of registration)."""
    return age_on(born, day) < ADULT_AGE


@dataclass(frozen=True)
class PersonFacts:
    """What a registration or an edit says about a person, before it is stored."""

    name: str
    sex: Sex
    birth_date: date
    national_id: str | None = None
    phone: str | None = None
    guardian_name: str | None = None
    guardian_relation: GuardianRelation | None = None
    guardian_phone: str | None = None


@dataclass(frozen=True)
class CheckedPerson:
    """The facts in stored form: normalised numbers and their masks."""

    national_id: NationalId | None
    phone: str | None
    guardian_phone: str | None


def person_problems(facts: PersonFacts, today: date) -> tuple[CheckedPerson, list[Problem]]:
    """Check a person's facts on ``today``: the ID number against the birth date and sex, the
    phone numbers, and a guardian for a child."""
    problems: list[Problem] = []
    if facts.birth_date > today:
        problems.append(Problem("birth_date", BIRTH_FUTURE_MESSAGE, code="birth_date_future"))
    elif facts.birth_date < EARLIEST_BIRTH:
        problems.append(Problem("birth_date", BIRTH_TOO_EARLY_MESSAGE, code="birth_date_invalid"))
    parsed: NationalId | None = None
    if facts.national_id:
        parsed, problem = parse_national_id(facts.national_id, today)
        if problem:
            problems.append(problem)
        elif parsed is not None:
            if parsed.birth_date != facts.birth_date:
                problems.append(
                    Problem(
                        "national_id",
                        ID_BIRTH_MISMATCH_MESSAGE,
                        (("day", parsed.birth_date.isoformat()),),
                        code="national_id_birth_mismatch",
                    )
                )
            if facts.sex is not Sex.UNKNOWN and parsed.sex is not facts.sex:
                problems.append(
                    Problem(
                        "national_id",
                        ID_SEX_MISMATCH_MESSAGES[parsed.sex],
                        code="national_id_sex_mismatch",
                    )
                )
    phones: dict[str, str | None] = {}
    for name, value in (("phone", facts.phone), ("guardian_phone", facts.guardian_phone)):
        phones[name] = None
        if value:
            phones[name] = normalise_phone(value)
            if phones[name] is None:
                problems.append(Problem(name, PHONE_MESSAGE, code="phone_invalid"))
    if facts.birth_date <= today and is_child(facts.birth_date, today):
        for name, value in (
            ("guardian_name", facts.guardian_name),
            ("guardian_relation", facts.guardian_relation),
            ("guardian_phone", facts.guardian_phone),
        ):
            if not value:
                problems.append(
                    Problem(name, GUARDIAN_REQUIRED_MESSAGES[name], code="guardian_required")
                )
    return CheckedPerson(parsed, phones["phone"], phones["guardian_phone"]), problems


def looks_like_national_id(value: str) -> bool:
    """Whether a search text is a full ID number (then it is looked up by its keyed hash)."""
    return bool(_ID_SHAPE.match(normalise_national_id(value)))


# --- consent ------------------------------------------------------------------------------

CHINA = CST


def china_date(moment: datetime) -> date:
    """The calendar day in China of an instant (consent runs to the end of its last day)."""
    return moment.astimezone(CHINA).date()


class ConsentState(StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


CONSENT_STATE_LABELS = {
    ConsentState.VALID: N_("Valid"),
    ConsentState.EXPIRED: N_("Expired"),
    ConsentState.WITHDRAWN: N_("Withdrawn"),
}


def consent_state(withdrawn: bool, valid_until: date | None, today: date) -> ConsentState:
    if withdrawn:
        return ConsentState.WITHDRAWN
    if valid_until is not None and valid_until < today:
        return ConsentState.EXPIRED
    return ConsentState.VALID
