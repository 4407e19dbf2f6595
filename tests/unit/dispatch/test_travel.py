"""Travel times: the estimate from coordinates (Beijing to Baoding about two hours), set times
taking precedence in either direction, and the checks that catch a slip in set times."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from medcircle.dispatch.travel import (
    Place,
    check_overrides,
    check_places,
    distance_km,
    estimate_minutes,
    travel_table,
)

BEIJING = Place("bj", 39.904, 116.407)
BAODING = Place("bd", 38.874, 115.464)
SHIJIAZHUANG = Place("sjz", 38.042, 114.514)
PLACES = {p.key: p for p in (BEIJING, BAODING, SHIJIAZHUANG)}


def test_beijing_to_baoding_is_about_two_hours() -> None:
    assert 135 < distance_km(BEIJING, BAODING) < 145
    assert 110 <= estimate_minutes(BEIJING, BAODING) <= 130
    assert estimate_minutes(BEIJING, BEIJING) == 0
    # a short hop still takes a quarter of an hour
    assert estimate_minutes(BEIJING, Place("bj2", 39.905, 116.408)) == 15


coords = st.builds(
    Place,
    st.sampled_from(["a", "b"]),
    st.floats(-80, 80, allow_nan=False),
    st.floats(-179, 179, allow_nan=False),
)


@given(coords, coords)
def test_distance_is_symmetric_and_bounded(a: Place, b: Place) -> None:
    assert abs(distance_km(a, b) - distance_km(b, a)) < 1e-6
    assert 0 <= distance_km(a, b) <= 20_040


def test_set_times_win_in_either_direction() -> None:
    table = travel_table(PLACES, ["bj"], ["bd", "sjz"], {("bd", "bj"): 45})
    assert table[("bj", "bd")] == 45  # the high-speed train, set the other way round
    assert table[("bj", "sjz")] == estimate_minutes(BEIJING, SHIJIAZHUANG)


def test_slips_in_set_times_are_caught() -> None:
    found = check_overrides(
        PLACES,
        {
            ("bj", "bd"): 5,  # faster than any train for 140 km
            ("bj", "sjz"): 100,
            ("sjz", "bj"): 400,  # there and back differ four times
            ("bj", "bj"): 10,
            ("bj", "xx"): 60,
            ("bd", "sjz"): 0,
        },
    )
    codes = {(p.code, p.origin, p.destination) for p in found}
    assert codes == {
        ("faster_than_possible", "bj", "bd"),
        ("directions_disagree", "bj", "sjz"),
        ("same_place", "bj", "bj"),
        ("unknown_place", "bj", "xx"),
        ("minutes_out_of_range", "bd", "sjz"),
    }
    assert check_overrides(PLACES, {("bj", "bd"): 45, ("bd", "bj"): 50}) == []
    assert [p.code for p in check_places([Place("p", 95.0, 10.0)])] == ["bad_coordinates"]
