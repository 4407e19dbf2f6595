"""The map of the circle: the fitted equirectangular projection, flow aggregation and the
layout of markers, labels and curves."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medcircle.dispatch import circle_map
from medcircle.dispatch.circle_map import Flow, Place

BEIJING = Place(1, "北京儿童医院", "tertiary", 39.9, 116.35)
BEIJING2 = Place(2, "北京安贞医院", "tertiary", 39.97, 116.40)
BAODING = Place(3, "保定市儿童医院", "secondary", 38.87, 115.46)
COUNTY = Place(4, "Xushui People's Hospital", "primary", 39.02, 115.65)
NOWHERE = Place(5, "No coordinates", "secondary", None, None)


def test_aggregate_sums_pairs_and_drops_loops_and_zeros() -> None:
    flows = circle_map.aggregate([(1, 3, 2), (2, 3, 5), (1, 3, 4), (3, 3, 9), (1, 4, 0)])
    assert flows == [Flow(1, 3, 6), Flow(2, 3, 5)]


def test_aggregate_keeps_directions_apart() -> None:
    assert circle_map.aggregate([(1, 3, 1), (3, 1, 1)]) == [Flow(1, 3, 1), Flow(3, 1, 1)]


def test_volumes() -> None:
    assert circle_map.volumes([Flow(1, 3, 6), Flow(2, 3, 5)]) == {1: 6, 2: 5, 3: 11}


def test_projection_keeps_north_up_east_right_and_the_shape() -> None:
    points = [(p.latitude or 0.0, p.longitude or 0.0) for p in (BEIJING, BAODING, COUNTY)]
    project = circle_map.fit(points, 800, 600, 40)
    bx, by = project(39.9, 116.35)
    dx, dy = project(38.87, 115.46)
    assert bx > dx  # Beijing is east of Baoding
    assert by < dy  # and north of it
    # one degree of latitude is 1/cos(lat) times as long on the drawing as one of longitude
    x0, y0 = project(39.0, 116.0)
    x1, _ = project(39.0, 116.1)
    _, y1 = project(39.1, 116.0)
    ratio = (y0 - y1) / (x1 - x0)
    assert ratio == pytest.approx(1 / math.cos(math.radians((38.87 + 39.9) / 2)), rel=1e-9)


@given(
    st.lists(
        st.tuples(
            st.floats(min_value=-60, max_value=60, allow_nan=False),
            st.floats(min_value=-170, max_value=170, allow_nan=False),
        ),
        min_size=1,
        max_size=30,
    ),
    st.floats(min_value=200, max_value=1200),
    st.floats(min_value=200, max_value=900),
)
def test_every_place_is_inside_the_margins(
    points: list[tuple[float, float]], width: float, height: float
) -> None:
    margin = 30.0
    project = circle_map.fit(points, width, height, margin)
    for lat, lon in points:
        x, y = project(lat, lon)
        assert margin - 1e-6 <= x <= width - margin + 1e-6
        assert margin - 1e-6 <= y <= height - margin + 1e-6


def test_a_single_place_sits_in_the_middle() -> None:
    project = circle_map.fit([(38.87, 115.46)], 800, 400, 40)
    assert project(38.87, 115.46) == pytest.approx((400, 200))
    assert circle_map.fit([], 800, 400, 40)(0, 0) == pytest.approx((400, 200))


def test_the_fit_uses_the_tighter_side() -> None:
    # a wide, flat circle fills the width; a tall, narrow one the height
    wide = circle_map.fit([(39.0, 110.0), (39.0, 120.0), (39.1, 115.0)], 800, 600, 0)
    xs = [wide(39.0, 110.0)[0], wide(39.0, 120.0)[0]]
    assert xs == pytest.approx([0, 800])
    tall = circle_map.fit([(30.0, 115.0), (40.0, 115.0), (35.0, 115.1)], 800, 600, 0)
    ys = [tall(40.0, 115.0)[1], tall(30.0, 115.0)[1]]
    assert ys == pytest.approx([0, 600])


def test_width_grows_with_the_count() -> None:
    assert circle_map.width_of(10, 10) == circle_map.MAX_WIDTH
    assert circle_map.width_of(1, 10) < circle_map.width_of(5, 10) < circle_map.width_of(10, 10)
    assert circle_map.width_of(0, 10) == circle_map.MIN_WIDTH
    assert circle_map.width_of(3, 0) == circle_map.MIN_WIDTH


def test_curves_bend_to_opposite_sides_in_opposite_directions() -> None:
    there = circle_map.curve((0, 0), (100, 0))
    back = circle_map.curve((100, 0), (0, 0))
    # control points: above the line one way, below it the other
    cy_there = float(there.split("Q")[1].split()[0].split(",")[1])
    cy_back = float(back.split("Q")[1].split()[0].split(",")[1])
    assert cy_there < 0 < cy_back
    assert circle_map.curve((5, 5), (5, 5)) == "M5.0,5.0"


def test_layout_places_markers_lines_and_labels() -> None:
    places = [BEIJING, BEIJING2, BAODING, COUNTY, NOWHERE]
    flows = circle_map.aggregate([(1, 3, 12), (2, 3, 3), (1, 4, 1), (2, 5, 2)])
    m = circle_map.layout(places, flows, width=800)
    assert {mk.place.id for mk in m.markers} == {1, 2, 3, 4}
    assert [p.id for p in m.unplaced] == [5]
    assert [f.site_id for f in m.undrawn] == [5]
    assert [line.flow.count for line in m.lines] == [12, 3, 1]
    assert m.lines[0].width == circle_map.MAX_WIDTH > m.lines[1].width > m.lines[2].width
    assert m.levels == ["tertiary", "secondary", "primary"]
    colours = {mk.place.id: mk.colour for mk in m.markers}
    assert colours[1] == circle_map.LEVEL_COLOURS["tertiary"]
    assert colours[3] == circle_map.LEVEL_COLOURS["secondary"]
    # the busiest institution is labelled; no two labels overlap
    labelled = {mk.place.id for mk in m.markers if mk.label}
    assert 3 in labelled and 1 in labelled
    for mk in m.markers:
        assert 0 <= mk.x <= m.width and 0 <= mk.y <= m.height


def test_labels_stay_within_the_limit() -> None:
    places = [Place(i, f"H{i}", "primary", 30 + i, 100 + 2 * i) for i in range(1, 30)]
    m = circle_map.layout(places, [], max_labels=5)
    assert sum(1 for mk in m.markers if mk.label) <= 5


def test_main_places_prefer_the_busy_then_tertiary() -> None:
    flows = [Flow(4, 3, 9)]
    assert circle_map.main_places([BEIJING, BAODING, COUNTY], flows, 2) == [3, 4]
    assert circle_map.main_places([BAODING, BEIJING], [], 1) == [1]


def test_out_of_range_coordinates_are_not_placed() -> None:
    assert not Place(9, "x", "primary", 91.0, 10.0).placed
    assert not Place(9, "x", "primary", 10.0, 181.0).placed
    assert Place(9, "x", "primary", 0.0, 0.0).placed


def test_the_graticule_marks_round_degrees_inside_the_drawing() -> None:
    assert circle_map.grid_step(1.2) == 0.25
    assert circle_map.grid_step(3.0) == 0.5
    assert circle_map.grid_step(400.0) == 30.0
    m = circle_map.layout([BEIJING, BAODING, COUNTY], [], width=800)
    labels = [g.label for g in m.grid]
    assert "39°N" in labels and "116°E" in labels
    for g in m.grid:
        assert 0 <= g.x1 <= m.width and 0 <= g.y1 <= m.height
        assert g.x1 == g.x2 or g.y1 == g.y2  # parallels and meridians are straight
    # a parallel passes through a place on it
    project = circle_map.fit(
        [(p.latitude or 0.0, p.longitude or 0.0) for p in (BEIJING, BAODING, COUNTY)],
        m.width,
        m.height,
        48.0,
    )
    y39 = next(g.y1 for g in m.grid if g.label == "39°N")
    assert y39 == pytest.approx(project(39.0, 115.5)[1])
    lat, lon = project.inverse(*project(39.3, 115.8))
    assert (lat, lon) == pytest.approx((39.3, 115.8))
    assert circle_map.layout([NOWHERE], []).grid == []
    south_west = circle_map.layout(
        [Place(1, "a", "primary", -34.6, -58.4), Place(2, "b", "primary", -33.4, -70.6)], []
    )
    assert any(g.label.endswith("°S") for g in south_west.grid)
    assert any(g.label.endswith("°W") for g in south_west.grid)


@given(
    st.lists(
        st.tuples(
            st.floats(min_value=-90, max_value=90, allow_nan=False),
            st.floats(min_value=-180, max_value=180, allow_nan=False),
        ),
        min_size=0,
        max_size=12,
    )
)
def test_any_places_lay_out_without_failing(points: list[tuple[float, float]]) -> None:
    places = [Place(i, f"H{i}", "primary", lat, lon) for i, (lat, lon) in enumerate(points)]
    flows = [Flow(i, i + 1, i + 1) for i in range(len(points) - 1)]
    m = circle_map.layout(places, flows)
    for mk in m.markers:
        assert math.isfinite(mk.x) and math.isfinite(mk.y)
        assert 0 <= mk.x <= m.width and 0 <= mk.y <= m.height
    for g in m.grid:
        assert math.isfinite(g.x1) and math.isfinite(g.y1)
    assert len(m.lines) + len(m.undrawn) == len(flows)
