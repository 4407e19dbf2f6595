"""Travel times between places (pure).

By default a trip takes the great-circle distance times a road factor, at a travel speed
(1.3 and 90 km/h: Beijing to Baoding, 140 km apart, comes out at about 2 hours). A coordinator
can set the minutes for a pair (a high-speed train, a mountain road); such a setting is checked
against the map so a typing slip is caught: no trip is faster than 350 km/h in a straight line,
none longer than a day, and the two directions of a pair may not differ by more than twice.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

EARTH_RADIUS_KM = 6371.0088
ROAD_FACTOR = 1.3
SPEED_KMH = 90.0
# faster than any train: a set time quicker than this is a slip
FASTEST_KMH = 350.0
LONGEST_MINUTES = 24 * 60


@dataclass(frozen=True)
class Place:
    key: str
    latitude: float
    longitude: float


@dataclass(frozen=True)
class TravelProblem:
    """One thing wrong with travel data: which pair and what."""

    code: str
    origin: str
    destination: str
    message: str


def distance_km(a: Place, b: Place) -> float:
    """Great-circle distance (haversine)."""
    phi1, phi2 = math.radians(a.latitude), math.radians(b.latitude)
    dphi = phi2 - phi1
    dlambda = math.radians(b.longitude - a.longitude)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def estimate_minutes(
    a: Place, b: Place, *, road_factor: float = ROAD_FACTOR, speed_kmh: float = SPEED_KMH
) -> int:
    """Minutes by road: distance times the road factor at the travel speed (at least 15)."""
    if a.key == b.key:
        return 0
    return max(15, round(distance_km(a, b) * road_factor / speed_kmh * 60))


def check_places(places: Iterable[Place]) -> list[TravelProblem]:
    out = []
    for p in places:
        if not (-90 <= p.latitude <= 90 and -180 <= p.longitude <= 180):
            out.append(
                TravelProblem("bad_coordinates", p.key, p.key, "Coordinates lie outside the globe.")
            )
    return out


def check_overrides(
    places: Mapping[str, Place], overrides: Mapping[tuple[str, str], int]
) -> list[TravelProblem]:
    """What is inconsistent in set travel times."""
    out: list[TravelProblem] = []
    for (a, b), minutes in sorted(overrides.items()):
        if a not in places or b not in places:
            out.append(TravelProblem("unknown_place", a, b, "No such place."))
            continue
        if a == b:
            out.append(TravelProblem("same_place", a, b, "A trip needs two different places."))
            continue
        if minutes <= 0 or minutes > LONGEST_MINUTES:
            out.append(
                TravelProblem(
                    "minutes_out_of_range",
                    a,
                    b,
                    "Travel takes more than 0 minutes and at most a day.",
                )
            )
            continue
        fastest = distance_km(places[a], places[b]) / FASTEST_KMH * 60
        if minutes < fastest:
            out.append(
                TravelProblem(
                    "faster_than_possible",
                    a,
                    b,
                    f"{minutes} minutes is faster than any train for this distance "
                    f"({distance_km(places[a], places[b]):.0f} km).",
                )
            )
        back = overrides.get((b, a))
        if back is not None and back > 0 and max(minutes, back) > 2 * min(minutes, back) and a < b:
            out.append(
                TravelProblem(
                    "directions_disagree",
                    a,
                    b,
                    f"There and back differ too much ({minutes} and {back} minutes).",
                )
            )
    return out


def travel_table(
    places: Mapping[str, Place],
    origins: Iterable[str],
    destinations: Iterable[str],
    overrides: Mapping[tuple[str, str], int] | None = None,
    *,
    road_factor: float = ROAD_FACTOR,
    speed_kmh: float = SPEED_KMH,
) -> dict[tuple[str, str], int]:
    """One-way minutes from each origin to each destination: the set time of the pair (either
    direction) if there is one, else the estimate."""
    overrides = overrides or {}
    dests = list(destinations)
    table: dict[tuple[str, str], int] = {}
    for a in origins:
        for b in dests:
            set_time = overrides.get((a, b), overrides.get((b, a)))
            table[(a, b)] = (
                set_time
                if set_time is not None
                else estimate_minutes(
                    places[a], places[b], road_factor=road_factor, speed_kmh=speed_kmh
                )
            )
    return table
