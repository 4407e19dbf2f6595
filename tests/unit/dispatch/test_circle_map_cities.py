"""The map by city and with referrals: the city of a division code, institutions merged into
their cities (sums kept, flows within one city listed and not drawn), and flows of several
kinds on one drawing."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medcircle.dispatch import circle_map
from medcircle.dispatch.circle_map import DOWN, UP, VISITS, Flow, Place

BEIJING = Place(1, "北京儿童医院", "tertiary", 39.9, 116.35)
BEIJING2 = Place(2, "北京安贞医院", "tertiary", 39.97, 116.40)
BAODING = Place(3, "保定市儿童医院", "secondary", 38.87, 115.46)
XUSHUI = Place(4, "Xushui People's Hospital", "primary", 39.02, 115.65)
NOWHERE = Place(5, "No coordinates", "primary", None, None)
CITY = {1: 110000, 2: 110000, 3: 130600, 4: 130600, 5: 130900}
NAMES = {110000: "北京市", 130600: "保定市", 130900: "沧州市"}


@pytest.mark.parametrize(
    ("code", "city"),
    [
        ("130602", "130600"),
        ("130600", "130600"),
        ("130000", "130000"),
        ("110105", "110000"),
        ("110100", "110000"),
        ("120101", "120000"),
        ("310115", "310000"),
        ("500101", "500000"),
        ("440305", "440300"),
    ],
)
def test_the_city_of_a_division(code: str, city: str) -> None:
    assert circle_map.city_of(code) == city


def test_aggregate_keeps_the_kind() -> None:
    assert circle_map.aggregate([(3, 1, 2), (3, 1, 1)], UP) == [Flow(3, 1, 3, UP)]
    assert circle_map.aggregate([(1, 3, 1)]) == [Flow(1, 3, 1, VISITS)]


def test_cities_are_placed_sized_and_coloured() -> None:
    flows = [Flow(1, 3, 5), Flow(4, 1, 2, UP), Flow(3, 4, 1, DOWN), Flow(2, 3, 1)]
    g = circle_map.group(
        [BEIJING, BEIJING2, BAODING, XUSHUI, NOWHERE], flows, CITY, NAMES, {110000: (39.9, 116.4)}
    )
    by_id = {p.id: p for p in g.places}
    # Beijing at its division's coordinates, Baoding at the mean of its institutions
    assert (by_id[110000].latitude, by_id[110000].longitude) == (39.9, 116.4)
    assert by_id[130600].latitude == pytest.approx((38.87 + 39.02) / 2)
    assert by_id[130600].longitude == pytest.approx((115.46 + 115.65) / 2)
    # a city none of whose institutions has coordinates is not placed
    assert not by_id[130900].placed
    assert [by_id[c].institutions for c in (110000, 130600, 130900)] == [2, 2, 1]
    assert (by_id[110000].level, by_id[130600].level) == ("tertiary", "secondary")
    assert by_id[130600].name == "保定市"
    # visits of both Beijing hospitals summed; the referral down inside Baoding listed apart
    assert g.flows == [Flow(110000, 130600, 6), Flow(130600, 110000, 2, UP)]
    assert g.inside == [Flow(130600, 130600, 1, DOWN)]


def test_a_city_is_drawn_larger_the_more_institutions() -> None:
    one = Place(130600, "保定市", "secondary", 38.87, 115.46, institutions=1)
    many = Place(110000, "北京市", "tertiary", 39.9, 116.4, institutions=30)
    assert circle_map.radius_of(one) < circle_map.radius_of(many) == circle_map.MAX_CITY_RADIUS
    assert circle_map.radius_of(BEIJING) == circle_map.LEVEL_RADIUS["tertiary"]


def test_kinds_between_one_pair_are_drawn_apart_with_their_own_widths() -> None:
    flows = [Flow(1, 3, 100), Flow(1, 3, 2, DOWN), Flow(3, 1, 1, UP)]
    drawing = circle_map.layout([BEIJING, BAODING], flows)
    lines = {line.flow.kind: line for line in drawing.lines}
    assert set(lines) == {VISITS, UP, DOWN}
    # each kind's widest line is as wide as can be, whatever the other kinds count
    assert {line.width for line in lines.values()} == {circle_map.MAX_WIDTH}
    # a visit and a referral down along the same way bend differently
    assert lines[VISITS].path != lines[DOWN].path


def test_a_flow_within_one_place_is_never_drawn() -> None:
    city = Place(130600, "保定市", "secondary", 38.87, 115.46, institutions=2)
    drawing = circle_map.layout([city], [Flow(130600, 130600, 4, DOWN)])
    assert drawing.lines == [] and drawing.undrawn == [Flow(130600, 130600, 4, DOWN)]


_ids = st.integers(min_value=1, max_value=12)
_flows = st.lists(
    st.builds(
        Flow, _ids, _ids, st.integers(min_value=1, max_value=500), st.sampled_from(circle_map.KINDS)
    ),
    max_size=40,
)


@given(
    _flows,
    st.fixed_dictionaries({i: st.sampled_from([110000, 130600, 131000]) for i in range(1, 13)}),
)
def test_grouping_keeps_the_sums(flows: list[Flow], city: dict[int, int]) -> None:
    places = [Place(i, f"H{i}", "secondary", 38.0 + i / 10, 115.0 + i / 10) for i in city]
    g = circle_map.group(places, flows, city, {}, {})
    # every kind's total is kept, between cities and within them together
    before: Counter[str] = Counter()
    for f in flows:
        before[f.kind] += f.count
    after: Counter[str] = Counter()
    for f in [*g.flows, *g.inside]:
        after[f.kind] += f.count
    assert after == before
    # and so is each pair of cities' total
    pairs: Counter[tuple[str, int, int]] = Counter()
    for f in flows:
        pairs[(f.kind, city[f.origin_id], city[f.site_id])] += f.count
    assert {(f.kind, f.origin_id, f.site_id): f.count for f in [*g.flows, *g.inside]} == pairs
    # no self-loop drawn; within a city only listed
    assert all(f.origin_id != f.site_id for f in g.flows)
    assert all(f.origin_id == f.site_id for f in g.inside)
    # one place per city, standing for all its institutions
    assert sorted(p.id for p in g.places) == sorted(set(city.values()))
    assert sum(p.institutions for p in g.places) == len(places)
    drawing = circle_map.layout(g.places, g.flows)
    assert len(drawing.lines) == len(g.flows)
