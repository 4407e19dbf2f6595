"""Scrubbing identifiers for teaching cases: names (and runs of their characters), ID, phone and
record numbers, e-mail addresses and dates never survive, wherever they sit in the text; the
clinical content around them does; age bands."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medcircle.consultations.anonymise import (
    DATE,
    EMAIL,
    ID_NUMBER,
    NAME,
    NUMBER,
    PHONE,
    RECORD,
    Identifiers,
    age_band,
    age_years,
    name_runs,
    scrub,
)

WHO = Identifiers(names=("王小明", "李秀英"), numbers=("13912345678",))

# characters of Chinese names, none of which occurs in a placeholder
NAME_CHARS = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗小明秀英伟芳娜敏静丽强磊军洋勇艳杰涛超"
# random clinical text: Chinese, Latin letters, digits, punctuation and separators
TEXT = st.text(
    alphabet=st.sampled_from(
        list("患儿心脏杂音超声室间隔缺损建议手术随访 abcXYZ0123456789-/:：.，。()年月日号")
    ),
    max_size=40,
)
NAMES = st.text(alphabet=st.sampled_from(list(NAME_CHARS)), min_size=2, max_size=4)
MOBILES = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
LANDLINES = st.from_regex(r"0[1-9][0-9]{1,2}-[1-9][0-9]{6,7}", fullmatch=True)
IDS18 = st.from_regex(
    r"[1-6][0-9]{5}(19|20)[0-9]{2}(0[1-9]|1[0-2])[0-2][0-9][0-9]{3}[0-9X]", fullmatch=True
)
IDS15 = st.from_regex(r"[1-6][0-9]{14}", fullmatch=True)
EMAILS = st.from_regex(r"[a-z][a-z0-9._]{0,8}@[a-z]{2,8}\.(com|cn|org)", fullmatch=True)
DATES = st.one_of(
    st.dates(date(1950, 1, 1), date(2030, 12, 31)).map(lambda d: d.isoformat()),
    st.dates(date(1950, 1, 1), date(2030, 12, 31)).map(
        lambda d: f"{d.year}/{d.month:02d}/{d.day:02d}"
    ),
    st.dates(date(1950, 1, 1), date(2030, 12, 31)).map(lambda d: f"{d.year}年{d.month}月{d.day}日"),
)


@given(before=TEXT, after=TEXT, name=NAMES)
def test_a_name_anywhere_never_survives(before: str, after: str, name: str) -> None:
    out = scrub(before + name + after, Identifiers(names=(name,)))
    assert name not in out
    # nor any run of two or more of its characters
    assert not any(run in out for run in name_runs(name))


@given(before=TEXT, after=TEXT, guardian=NAMES, patient=NAMES)
def test_the_guardians_name_goes_too(before: str, after: str, guardian: str, patient: str) -> None:
    out = scrub(f"{before}{guardian}{after}", Identifiers(names=(patient, guardian)))
    assert guardian not in out


@given(
    before=TEXT,
    after=TEXT,
    number=st.one_of(MOBILES, LANDLINES, IDS18, IDS15, EMAILS, DATES),
)
def test_a_number_address_or_date_anywhere_never_survives(
    before: str, after: str, number: str
) -> None:
    out = scrub(before + number + after)
    assert number not in out


@given(before=TEXT, after=TEXT, number=MOBILES)
def test_a_known_number_goes_whole(before: str, after: str, number: str) -> None:
    assert number not in scrub(before + number + after, Identifiers(numbers=(number,)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("患儿王小明，男，5岁", f"患儿{NAME}，男，5岁"),
        ("小明昨日发热", f"{NAME}昨日发热"),
        ("母亲李秀英陪同", f"母亲{NAME}陪同"),
        ("身份证 110101201505120017", f"身份证 {ID_NUMBER}"),
        ("旧证 110101150512001", f"旧证 {ID_NUMBER}"),
        ("电话13812345678联系", f"电话{PHONE}联系"),
        ("Tel +86 138 1234 5678", f"Tel {PHONE}"),
        ("Tel 138-1234-5678", f"Tel {PHONE}"),
        ("座机010-12345678", f"座机{PHONE}"),
        ("座机(0312) 5551234", f"座机{PHONE}"),
        ("mail: wang.ma@example.com.cn.", f"mail: {EMAIL}."),
        ("2019-03-05入院", f"{DATE}入院"),
        ("2019/3/5入院", f"{DATE}入院"),
        ("2019年3月5日入院", f"{DATE}入院"),
        ("住院号12345", RECORD),
        ("门诊号：A-778 复诊", f"{RECORD} 复诊"),
        ("MRN 12345, echo", f"{RECORD}, echo"),
        ("mrn: 0098", RECORD),
        ("医保卡 1234567890", f"医保卡 {NUMBER}"),
        ("已知号码13912345678", f"已知号码{NUMBER}"),
    ],
)
def test_patterns(text: str, expected: str) -> None:
    assert scrub(text, WHO) == expected


def test_clinical_content_stays() -> None:
    text = "7 mm perimembranous VSD; Qp/Qs 1.8; weight 15.2 kg; SpO2 98%; 3 months follow-up."
    assert scrub(text, WHO) == text
    assert scrub("血小板 250×10^9/L，体重 15 kg", WHO) == "血小板 250×10^9/L，体重 15 kg"


def test_latin_names_word_by_word_ignoring_case() -> None:
    ids = Identifiers(names=("Wang Xiaoming",))
    assert scrub("Patient WANG xiaoming, Wangfujing clinic", ids) == (
        f"Patient {NAME} {NAME}, Wangfujing clinic"
    )


def test_name_runs() -> None:
    assert name_runs("王小明") == {"王小", "小明", "王小明"}
    assert name_runs("王芳") == {"王芳"}
    assert name_runs("王") == set()
    assert name_runs("") == set()
    assert name_runs("Li Na") == {"Li", "Na"}


def test_empty_text_and_no_identifiers() -> None:
    assert scrub("") == ""
    assert scrub("没有标识符") == "没有标识符"


@pytest.mark.parametrize(
    ("birth", "on", "band"),
    [
        (date(2020, 5, 1), date(2020, 5, 1), "0–1"),
        (date(2020, 5, 1), date(2021, 4, 30), "0–1"),
        (date(2020, 5, 1), date(2021, 5, 1), "1–5"),
        (date(2015, 5, 12), date(2021, 5, 11), "1–5"),
        (date(2015, 5, 12), date(2021, 5, 12), "6–11"),
        (date(2009, 1, 1), date(2021, 1, 1), "12–17"),
        (date(2000, 1, 1), date(2018, 1, 1), "18–44"),
        (date(1960, 1, 1), date(2020, 1, 1), "45–64"),
        (date(1950, 1, 1), date(2015, 1, 1), "65+"),
        # a birth date after the day asked (a typing mistake) is not a negative age
        (date(2030, 1, 1), date(2020, 1, 1), "0–1"),
    ],
)
def test_age_bands(birth: date, on: date, band: str) -> None:
    assert age_band(birth, on) == band


def test_age_years_counts_completed_years() -> None:
    assert age_years(date(2016, 2, 29), date(2020, 2, 28)) == 3
    assert age_years(date(2016, 2, 29), date(2020, 2, 29)) == 4
