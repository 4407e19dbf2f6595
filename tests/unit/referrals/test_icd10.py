"""ICD-10 codes: normalising (a property test), validity, descriptions and search order."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medcircle.referrals import icd10

# every category and subcategory of the list, as the package spells them
CODES = [c for c, _ in icd10.search("A", 100000)] + [c for c, _ in icd10.search("Z", 100000)]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("j189", "J18.9"),
        (" J18.9 ", "J18.9"),
        ("j 18 9", "J18.9"),
        ("q21", "Q21"),
        ("Q210", "Q21.0"),
        ("", ""),
    ],
    ids=["lower-no-dot", "spaces", "inner-spaces", "category", "subcategory", "empty"],
)
def test_normalise_examples(raw: str, expected: str) -> None:
    assert icd10.normalise(raw) == expected


@given(st.sampled_from(CODES), st.booleans(), st.booleans(), st.text(" ", max_size=3))
def test_normalise_recovers_every_code_however_typed(
    code: str, lower: bool, drop_dot: bool, pad: str
) -> None:
    typed = code.lower() if lower else code
    if drop_dot:
        typed = typed.replace(".", "")
    typed = pad + typed + pad
    assert icd10.normalise(typed) == code
    assert icd10.is_valid(typed)


@given(st.text(max_size=12))
def test_normalise_is_idempotent_and_never_fails(text: str) -> None:
    once = icd10.normalise(text)
    assert icd10.normalise(once) == once
    assert once == once.upper()
    assert " " not in once


@pytest.mark.parametrize(
    ("code", "valid"),
    [
        ("J18.9", True),
        ("J18", True),
        ("Q21.0", True),
        ("A00-A09", False),  # a block
        ("I", False),  # a chapter
        ("J18.99", False),
        ("XYZ", False),
        ("", False),
    ],
    ids=["subcategory", "category", "vsd", "block", "chapter", "too-long", "nonsense", "empty"],
)
def test_validity(code: str, valid: bool) -> None:
    assert icd10.is_valid(code) is valid


def test_describe() -> None:
    assert icd10.describe("j189") == "Pneumonia, unspecified"
    assert icd10.describe("Q21.0") == "Ventricular septal defect"
    assert icd10.describe("A00-A09") is None


def test_search_puts_code_prefix_first_and_leaves_before_parents() -> None:
    found = icd10.search("j18", limit=10)
    codes = [c for c, _ in found]
    assert codes[:5] == ["J18.0", "J18.1", "J18.2", "J18.8", "J18.9"]
    assert codes[5] == "J18"  # the parent after its leaves
    assert all(c.startswith("J18") for c in codes[:6])


def test_search_by_words_matches_every_word_as_prefix() -> None:
    found = icd10.search("ventricular septal", limit=50)
    assert ("Q21.0", "Ventricular septal defect") in found
    assert all("ventricular" in d.lower() and "septal" in d.lower() for _, d in found)


def test_search_limits_and_empty_queries() -> None:
    assert len(icd10.search("pneumonia", limit=3)) == 3
    assert icd10.search("   ") == []
    assert icd10.search("pneumonia", limit=0) == []
    assert icd10.search("zzzzqqq") == []


FIRST_USE_AT_ONCE = """
import threading
from medcircle.referrals import icd10

barrier = threading.Barrier(16)
seen = []

def first_use():
    barrier.wait()
    seen.append((icd10.is_valid("Q21.0"), len(icd10.search("Q21", limit=100))))

threads = [threading.Thread(target=first_use) for _ in range(16)]
for t in threads:
    t.start()
for t in threads:
    t.join()
codes = [code for code, _ in icd10.search("Q", limit=100000)]
print(sorted(set(seen)), len(codes) == len(set(codes)))
"""


def test_the_code_list_is_whole_when_many_threads_use_it_first_at_once() -> None:
    # a process of its own: the code list is read once a process
    out = subprocess.run(
        [sys.executable, "-c", FIRST_USE_AT_ONCE], capture_output=True, text=True, check=True
    ).stdout.strip()
    expected_q21 = len(icd10.search("Q21", limit=100))
    assert out == f"[(True, {expected_q21})] True"
