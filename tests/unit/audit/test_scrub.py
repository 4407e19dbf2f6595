"""Secrets never reach the trail; national ID numbers are masked (first 6 and last 4 kept)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from medcircle.audit.domain import SECRET_KEYS, mask_national_id, scrub

digits = st.text(alphabet="0123456789", min_size=17, max_size=17)
national_ids = st.builds(lambda d, c: d + c, digits, st.sampled_from(list("0123456789X")))


def test_mask_national_id_keeps_first_six_and_last_four() -> None:
    assert mask_national_id("110105199001011234") == "110105********1234"
    assert mask_national_id(" 13060220100101123X ") == "130602********123X"


def test_short_values_are_masked_entirely() -> None:
    assert mask_national_id("1234567890") == "**********"
    assert mask_national_id("") == ""


@given(national_ids)
def test_mask_shape(value: str) -> None:
    masked = mask_national_id(value)
    assert len(masked) == len(value)
    assert masked[:6] == value[:6] and masked[-4:] == value[-4:]
    assert masked[6:-4] == "*" * 8


def _nest(draw: st.DrawFn, leaf: str) -> Any:
    """``leaf`` buried somewhere in a random structure of dicts, lists and text."""
    depth = draw(st.integers(0, 4))
    no_digits = st.text(st.characters(categories=["L", "P", "Zs"]), max_size=6)
    value: Any = draw(no_digits) + leaf + draw(no_digits)
    for _ in range(depth):
        key = draw(st.sampled_from(["note", "patient", "items", "id_number", "x"]))
        if draw(st.booleans()):
            value = {key: value, "other": draw(st.integers())}
        else:
            value = [draw(st.text(max_size=5)), value]
    return value


@given(national_ids, st.data())
def test_an_id_number_never_survives_unmasked(value: str, data: st.DataObject) -> None:
    detail = {"detail": data.draw(st.composite(lambda draw: _nest(draw, value))())}
    dumped = json.dumps(scrub(detail), ensure_ascii=False)
    assert value not in dumped
    assert mask_national_id(value) in dumped


def test_fifteen_digit_old_style_ids_are_masked() -> None:
    assert scrub({"id": "old card 110105900101123"}) == {"id": "old card 110105*****1123"}


def test_other_numbers_are_left_alone() -> None:
    detail = {"count": 12345, "phone": "13800138000", "ratio": 0.5, "ok": True, "none": None}
    assert scrub(detail) == detail


@given(st.sampled_from(sorted(SECRET_KEYS)), st.text(min_size=1))
def test_secret_fields_are_removed_at_any_depth(key: str, secret: str) -> None:
    detail = {"outer": [{key: secret}], key.upper(): secret}
    cleaned = scrub(detail)
    assert cleaned == {"outer": [{key: "[removed]"}], key.upper(): "[removed]"}


def test_scrub_copies_and_handles_tuples_and_objects() -> None:
    original = {"ids": ("110105199001011234",), "when": object}
    cleaned = scrub(original)
    assert cleaned["ids"] == ["110105********1234"]
    assert isinstance(cleaned["when"], str)
    assert original["ids"] == ("110105199001011234",)


def test_ids_glued_to_words_are_masked() -> None:
    assert scrub("ID110105199001011234号") == "ID110105********1234号"
    assert scrub("身份证13060220100101123x。") == "身份证130602********123x。"
