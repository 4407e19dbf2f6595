"""Scrubbing identifiers out of clinical free text for the teaching case library (pure).

One left-to-right pass of one regular expression replaces, in this order of preference at
each position:

- e-mail addresses → ``[邮箱]``
- hospital record numbers after their label ("住院号12345", "门诊号：A-778", "MRN 12345",
  "病案号 0098") → ``[病案号]``
- Chinese resident ID numbers (18 digits, the last may be X; or the old 15 digits) → ``[身份证号]``
- mobile numbers (optionally +86, optionally grouped 3-4-4) and landlines with an area
  code ("010-12345678", "(0312) 5551234") → ``[电话]``
- dates: yyyy-mm-dd, yyyy/mm/dd, yyyy.mm.dd, yyyy年m月d日 (and yyyy年m月) → ``[日期]``
- any other run of 7 or more digits (insurance, card or patient numbers) → ``[号码]``
- the patient's and guardian's names, and every run of two or more of their characters (so
  "王小明" also removes "王小" and "小明"); Latin-letter names word by word, ignoring case
  → ``[姓名]``
- numbers known to belong to the person (their ID and phone numbers) wherever they appear.

Number patterns do not require digit boundaries: an identifier glued to other digits is still
consumed (with its neighbours). The placeholders hold no digits, no Latin letters and no
characters that occur in Chinese names, and the pass never looks at its own output, so an
identifier cannot re-form from the replacement.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

EMAIL = "[邮箱]"
RECORD = "[病案号]"
ID_NUMBER = "[身份证号]"
PHONE = "[电话]"
DATE = "[日期]"
NUMBER = "[号码]"
NAME = "[姓名]"

_EMAIL = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+"
_RECORD = (
    r"(?:住院号|门诊号|病案号|病历号|就诊卡号|就诊号|登记号|档案号"
    r"|(?i:MRN|medical\s+record\s+(?:no\.?|number)|record\s+(?:no\.?|number)|hospital\s+no\.?))"
    r"\s*[:：#]?\s*[A-Za-z]{0,4}[\-]?\d[A-Za-z0-9\-]*"
)
_ID = r"\d{17}[\dXx]|\d{15}"
_PHONE = (
    r"(?:\+?86[\-\s]?)?1[3-9]\d[\-\s]?\d{4}[\-\s]?\d{4}"
    r"|(?:\(0\d{2,3}\)\s?|0\d{2,3}[\-\s]?)\d{7,8}"
)
_DATE = (
    r"\d{4}\s*年\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*[日号])?"
    r"|\d{4}-\d{1,2}-\d{1,2}|\d{4}/\d{1,2}/\d{1,2}|\d{4}\.\d{1,2}\.\d{1,2}"
)
_LONG_NUMBER = r"\d{7,}"

_KINDS: tuple[tuple[str, str, str], ...] = (
    ("email", _EMAIL, EMAIL),
    ("record", _RECORD, RECORD),
    ("id", _ID, ID_NUMBER),
    ("phone", _PHONE, PHONE),
    ("date", _DATE, DATE),
    ("number", _LONG_NUMBER, NUMBER),
)
_REPLACEMENT = {name: placeholder for name, _, placeholder in _KINDS}
_REPLACEMENT["name"] = NAME
_REPLACEMENT["known"] = NUMBER
_LATIN = re.compile(r"[A-Za-z]")


@dataclass(frozen=True)
class Identifiers:
    """What is known to identify the person: names (patient, guardian) and numbers (ID,
    phones) to remove wherever they appear, on top of the general patterns."""

    names: tuple[str, ...] = ()
    numbers: tuple[str, ...] = ()


def name_runs(name: str) -> set[str]:
    """The pieces of a name to remove: for a name in Chinese characters every run of two or
    more of its characters; for a name in Latin letters each word of two or more letters."""
    name = " ".join((name or "").split())
    if not name:
        return set()
    if _LATIN.search(name):
        return {w for w in re.split(r"[\s\-·.]+", name) if len(w) >= 2}
    compact = "".join(c for c in name if not c.isspace() and c not in "·•.")
    return {compact[i:j] for i in range(len(compact)) for j in range(i + 2, len(compact) + 1)}


def _name_pattern(names: Iterable[str]) -> str | None:
    runs: set[str] = set()
    for n in names:
        runs |= name_runs(n)
    if not runs:
        return None
    ordered = sorted(runs, key=lambda r: (-len(r), r))
    parts = []
    for r in ordered:
        if _LATIN.search(r):
            parts.append(rf"(?<![A-Za-z])(?i:{re.escape(r)})(?![A-Za-z])")
        else:
            parts.append(re.escape(r))
    return "|".join(parts)


def _known_pattern(numbers: Iterable[str]) -> str | None:
    wanted = sorted(
        {n.strip() for n in numbers if n and len(n.strip()) >= 5}, key=lambda n: (-len(n), n)
    )
    return "|".join(re.escape(n) for n in wanted) or None


def scrubber(ids: Identifiers) -> Callable[[str], str]:
    """A function that scrubs text of ``ids`` and of the general identifier patterns."""
    alternatives = [f"(?P<{name}>{pattern})" for name, pattern, _ in _KINDS]
    known = _known_pattern(ids.numbers)
    if known:
        # before the general patterns: a known number is removed whole
        alternatives.insert(0, f"(?P<known>{known})")
    names = _name_pattern(ids.names)
    if names:
        alternatives.append(f"(?P<name>{names})")
    pattern = re.compile("|".join(alternatives))

    def replace(match: re.Match[str]) -> str:
        return _REPLACEMENT[match.lastgroup or "number"]

    def scrub(text: str) -> str:
        return pattern.sub(replace, text or "")

    return scrub


def scrub(text: str, ids: Identifiers = Identifiers()) -> str:
    """``text`` with the identifiers replaced by placeholders such as ``[姓名]``."""
    return scrubber(ids)(text)


AGE_BANDS: tuple[tuple[int, str], ...] = (
    (1, "0–1"),
    (6, "1–5"),
    (12, "6–11"),
    (18, "12–17"),
    (45, "18–44"),
    (65, "45–64"),
)
OLDEST_BAND = "65+"


def age_years(birth: date, on: date) -> int:
    """Completed years of age on ``on`` (0 before the first birthday; never negative)."""
    years = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    return max(years, 0)


def age_band(birth: date, on: date) -> str:
    """The band of the age on ``on``: under one year is "0–1", then 1–5, 6–11, 12–17,
    18–44, 45–64, 65+."""
    years = age_years(birth, on)
    for upper, label in AGE_BANDS:
        if years < upper:
            return label
    return OLDEST_BAND
