"""The catalogue of indicators: every indicator named in both languages with a formula, slugs
unique, and the pure helpers."""

from __future__ import annotations

from medcircle.kpis.catalogue import BY_SLUG, INDICATORS, province_of, share


def test_every_indicator_is_described_in_both_languages() -> None:
    assert len(BY_SLUG) == len(INDICATORS)
    for i in INDICATORS:
        assert i.slug == i.slug.lower() and " " not in i.slug
        assert i.name_zh and i.name_en and i.formula_zh and i.formula_en and i.source
        assert i.breakdowns


def test_helpers() -> None:
    assert province_of("130606") == "130000"
    assert share(1, 4) == 0.25
    assert share(0, 0) is None
