"""Rules of patients: ID numbers (GB 11643-1999), phones and masks, children and guardians."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medcircle.patients.domain import (
    ConsentState,
    GuardianRelation,
    PersonFacts,
    Sex,
    age_on,
    check_character,
    checksum_ok,
    china_date,
    consent_state,
    is_child,
    looks_like_national_id,
    make_national_id,
    mask_phone,
    normalise_national_id,
    normalise_phone,
    parse_national_id,
    person_problems,
)
from tests.referral_factories import ADULT_ID, CHILD_ID

TODAY = date(2026, 11, 23)

regions = st.from_regex(r"[1-6][0-9]{5}", fullmatch=True)
births = st.dates(min_value=date(1900, 1, 1), max_value=TODAY)
sequences = st.integers(min_value=0, max_value=999)


def test_known_numbers_parse() -> None:
    child, problem = parse_national_id(CHILD_ID, TODAY)
    assert problem is None and child is not None
    assert child.birth_date == date(2015, 5, 12)
    assert child.sex is Sex.MALE
    assert child.masked == "130602********0012"
    adult, problem = parse_national_id(ADULT_ID.lower() + "  ", TODAY)
    assert problem is None and adult is not None
    assert adult.number == ADULT_ID
    assert adult.birth_date == date(1949, 12, 31)
    assert adult.sex is Sex.FEMALE


@given(regions, births, sequences)
def test_generated_numbers_round_trip(region: str, born: date, sequence: int) -> None:
    number = make_national_id(region, born, sequence)
    parsed, problem = parse_national_id(f" {number.lower()} ", TODAY)
    assert problem is None
    assert parsed is not None
    assert parsed.number == number
    assert parsed.birth_date == born
    assert parsed.region == region
    assert parsed.sex is (Sex.MALE if sequence % 2 else Sex.FEMALE)
    assert looks_like_national_id(number)


@given(regions, births, sequences, st.integers(0, 17), st.integers(1, 10))
def test_any_single_change_breaks_the_checksum(
    region: str, born: date, sequence: int, position: int, shift: int
) -> None:
    number = make_national_id(region, born, sequence)
    alphabet = "0123456789X" if position == 17 else "0123456789"
    old = alphabet.index(number[position])
    new = alphabet[(old + shift) % len(alphabet)]
    if new == number[position]:
        return
    changed = number[:position] + new + number[position + 1 :]
    assert not checksum_ok(changed)
    parsed, problem = parse_national_id(changed, TODAY)
    assert parsed is None and problem is not None


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("13060220150512001", "national_id_format"),
        ("1306022015051200123", "national_id_format"),
        ("13060220150512001A", "national_id_format"),
        ("130602201505120013", "national_id_checksum"),
    ],
    ids=["short", "long", "letter", "checksum"],
)
def test_malformed_numbers_are_refused(value: str, code: str) -> None:
    parsed, problem = parse_national_id(value, TODAY)
    assert parsed is None and problem is not None
    assert problem.code == code and problem.field == "national_id"


def test_birth_date_inside_the_number_must_be_real_and_past() -> None:
    impossible = "11010520150230" + "001"
    parsed, problem = parse_national_id(impossible + check_character(impossible), TODAY)
    assert parsed is None and problem is not None and problem.code == "national_id_birth"
    future = make_national_id("110105", date(2027, 1, 1), 1)
    parsed, problem = parse_national_id(future, TODAY)
    assert parsed is None and problem is not None and problem.code == "national_id_birth"


def facts(**kw: object) -> PersonFacts:
    values: dict[str, object] = {
        "name": "王小明",
        "sex": Sex.MALE,
        "birth_date": date(2015, 5, 12),
        "national_id": CHILD_ID,
        "phone": None,
        "guardian_name": "王芳",
        "guardian_relation": GuardianRelation.MOTHER,
        "guardian_phone": "13800138000",
    }
    values.update(kw)
    return PersonFacts(**values)  # type: ignore[arg-type]


def test_number_must_match_birth_date_and_sex() -> None:
    checked, problems = person_problems(facts(), TODAY)
    assert problems == []
    assert checked.national_id is not None and checked.guardian_phone == "13800138000"
    _, problems = person_problems(facts(birth_date=date(2015, 5, 13)), TODAY)
    assert [p.code for p in problems] == ["national_id_birth_mismatch"]
    assert problems[0].params_dict == {"day": "2015-05-12"}
    _, problems = person_problems(facts(sex=Sex.FEMALE), TODAY)
    assert [p.code for p in problems] == ["national_id_sex_mismatch"]
    _, problems = person_problems(facts(sex=Sex.UNKNOWN), TODAY)
    assert problems == []


def test_a_child_needs_a_guardian_an_adult_does_not() -> None:
    _, problems = person_problems(
        facts(guardian_name=None, guardian_relation=None, guardian_phone=None), TODAY
    )
    assert sorted(p.field for p in problems) == [
        "guardian_name",
        "guardian_phone",
        "guardian_relation",
    ]
    assert {p.code for p in problems} == {"guardian_required"}
    _, problems = person_problems(
        facts(
            sex=Sex.FEMALE,
            birth_date=date(1949, 12, 31),
            national_id=ADULT_ID,
            guardian_name=None,
            guardian_relation=None,
            guardian_phone=None,
        ),
        TODAY,
    )
    assert problems == []


@pytest.mark.parametrize(
    ("born", "day", "child"),
    [
        (date(2008, 11, 23), date(2026, 11, 23), False),
        (date(2008, 11, 24), date(2026, 11, 23), True),
        (date(2008, 2, 29), date(2026, 2, 28), True),
        (date(2008, 2, 29), date(2026, 3, 1), False),
    ],
    ids=["18th-birthday", "day-before", "leap-day-before", "leap-day-after"],
)
def test_child_is_under_18_on_the_day(born: date, day: date, child: bool) -> None:
    assert is_child(born, day) is child
    assert (age_on(born, day) < 18) is child


def test_birth_date_in_the_future_is_refused() -> None:
    _, problems = person_problems(facts(national_id=None, birth_date=date(2027, 1, 1)), TODAY)
    assert [p.code for p in problems] == ["birth_date_future"]


@pytest.mark.parametrize(
    ("raw", "stored", "masked"),
    [
        ("13812345678", "13812345678", "138****5678"),
        ("+86 138-1234-5678", "13812345678", "138****5678"),
        ("0312-1234567", "0312-1234567", "0312-***4567"),
        ("010 62345678", "010-62345678", "010-****5678"),
        ("(0312)5678901", "0312-5678901", "0312-***8901"),
    ],
    ids=["mobile", "mobile-prefixed", "fixed-4", "fixed-3", "fixed-brackets"],
)
def test_phones_normalise_and_mask(raw: str, stored: str, masked: str) -> None:
    assert normalise_phone(raw) == stored
    assert mask_phone(stored) == masked


@pytest.mark.parametrize(
    "raw",
    ["12812345678", "1381234567", "138123456789", "0312-0234567", "0312-123", "phone", ""],
    ids=["mobile-12", "mobile-short", "mobile-long", "local-0", "local-short", "text", "empty"],
)
def test_bad_phones_are_refused(raw: str) -> None:
    assert normalise_phone(raw) is None


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_every_mobile_number_masks_to_3_and_4(number: str) -> None:
    assert normalise_phone(number) == number
    masked = mask_phone(number)
    assert masked[:3] == number[:3] and masked[-4:] == number[-4:] and masked[3:7] == "****"


def test_normalise_national_id() -> None:
    assert normalise_national_id(" 11010519491231002x\n") == ADULT_ID


def test_consent_states() -> None:
    assert consent_state(False, None, TODAY) is ConsentState.VALID
    assert consent_state(False, TODAY, TODAY) is ConsentState.VALID
    assert consent_state(False, date(2026, 11, 22), TODAY) is ConsentState.EXPIRED
    assert consent_state(True, None, TODAY) is ConsentState.WITHDRAWN


def test_china_date_is_the_day_in_china() -> None:
    assert china_date(datetime(2026, 11, 23, 16, 30, tzinfo=UTC)) == date(2026, 11, 24)
    assert china_date(datetime(2026, 11, 23, 15, 59, tzinfo=UTC)) == date(2026, 11, 23)


def test_only_ascii_digits_make_a_number() -> None:
    arabic = CHILD_ID.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    parsed, problem = parse_national_id(arabic, TODAY)
    assert parsed is None and problem is not None and problem.code == "national_id_format"
    assert normalise_phone("١٣٨١٢٣٤٥٦٧٨") is None
