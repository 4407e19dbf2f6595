"""The map of the circle: institutions (or their cities) placed by their coordinates and the
flows between them (experts visiting, patients referred up or down), laid out for an inline SVG
drawn on the server.

Pure: plain values in, plain values out (no database, no translation, no network, no map
tiles). The projection is equirectangular, fitted to the institutions shown: longitudes are
shrunk by the cosine of the middle latitude so that distances look right at the circle's
latitude, and the whole is scaled to the drawing with its shape kept.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

# colours by hospital level (tertiary, secondary, primary, unrated): a palette that stays
# apart for the common kinds of colour blindness, with the level also named in the legend
LEVEL_COLOURS: dict[str, str] = {
    "tertiary": "#1f4e9c",
    "secondary": "#e07b00",
    "primary": "#2e8540",
    "unrated": "#6f6f6f",
}
LEVEL_ORDER: tuple[str, ...] = ("tertiary", "secondary", "primary", "unrated")
LEVEL_RADIUS: dict[str, float] = {"tertiary": 7.0, "secondary": 5.5, "primary": 4.5}
DEFAULT_RADIUS = 4.5
MIN_WIDTH = 1.5
MAX_WIDTH = 9.0
FONT_SIZE = 12.0
# how far a flow bends away from the straight line, as a share of its length (flows in the
# two directions between one pair bend to opposite sides, so both stay visible)
BEND = 0.15
# pixels per degree at most (a millimetre a pixel)
MAX_SCALE = 1e8

# the kinds of flow: experts visiting a site, patients referred up, patients referred down
VISITS = "visits"
UP = "up"
DOWN = "down"
KINDS: tuple[str, ...] = (VISITS, UP, DOWN)
# each kind its colour (apart from the levels' and from each other), referrals down dashed too
KIND_COLOURS: dict[str, str] = {VISITS: "#b3261e", UP: "#6a3d9a", DOWN: "#00838f"}
KIND_DASHES: dict[str, str] = {DOWN: "6 4"}
# referrals bend further than visits, so a visit and a referral between one pair both show
KIND_BENDS: dict[str, float] = {VISITS: BEND, UP: 0.3, DOWN: 0.3}
# the four municipalities, each one place when grouped by city (their districts fold in)
MUNICIPALITIES: frozenset[str] = frozenset({"11", "12", "31", "50"})
# a city's marker: its radius grows with the square root of its institutions, up to a limit
CITY_RADIUS = 4.0
CITY_RADIUS_STEP = 2.5
MAX_CITY_RADIUS = 16.0


@dataclass(frozen=True)
class Place:
    id: int
    name: str
    level: str
    latitude: float | None
    longitude: float | None
    # a city: how many institutions it stands for (0 for an institution itself)
    institutions: int = 0

    @property
    def placed(self) -> bool:
        return (
            self.latitude is not None
            and self.longitude is not None
            and -90.0 <= self.latitude <= 90.0
            and -180.0 <= self.longitude <= 180.0
        )


@dataclass(frozen=True)
class Flow:
    """A flow of one kind from one place to another and its count: experts going from their
    home institution to a site (visits), or patients referred from the referring institution
    to the receiving one (referrals up or down)."""

    origin_id: int
    site_id: int
    count: int
    kind: str = VISITS


def _order(f: Flow) -> tuple[int, int, int, int]:
    kind = KINDS.index(f.kind) if f.kind in KINDS else len(KINDS)
    return (kind, -f.count, f.origin_id, f.site_id)


def aggregate(pairs: Iterable[tuple[int, int, int]], kind: str = VISITS) -> list[Flow]:
    """Flows of ``kind`` from ``(origin, site, count)`` rows: counts of one pair summed, an
    institution to itself and empty counts left out; the largest first (then by ids, for a
    stable order)."""
    sums: dict[tuple[int, int], int] = defaultdict(int)
    for origin, site, count in pairs:
        if origin != site and count > 0:
            sums[(origin, site)] += count
    flows = [Flow(o, s, n, kind) for (o, s), n in sums.items()]
    return sorted(flows, key=_order)


def city_of(division_code: str) -> str:
    """The prefecture-level division of a 6-digit division code (the city of county 130602 is
    130600); a municipality (Beijing, Tianjin, Shanghai, Chongqing) is one place, its
    province-level code (every district of Beijing folds into 110000)."""
    if division_code[:2] in MUNICIPALITIES:
        return division_code[:2] + "0000"
    return division_code[:4] + "00"


@dataclass(frozen=True)
class Grouped:
    """Institutions merged into their cities: one place per city, the flows between cities
    summed, and those within one city (not drawn, listed)."""

    places: list[Place]
    flows: list[Flow]
    inside: list[Flow]


def _best_level(levels: Iterable[str]) -> str:
    ranked = sorted(levels, key=lambda lv: LEVEL_ORDER.index(lv) if lv in LEVEL_ORDER else 99)
    return ranked[0] if ranked else "unrated"


def group(
    places: Sequence[Place],
    flows: Iterable[Flow],
    city: Mapping[int, int],
    names: Mapping[int, str],
    centres: Mapping[int, tuple[float, float]],
) -> Grouped:
    """Merge ``places`` into their cities (``city``: institution id to city id): a city at its
    division's coordinates (``centres``) when known, else at the mean of its placed
    institutions, coloured by its highest level; flows between two cities summed by kind,
    those within one city kept apart."""
    members: dict[int, list[Place]] = defaultdict(list)
    for p in places:
        members[city[p.id]].append(p)
    cities: list[Place] = []
    for cid in sorted(members):
        inside = members[cid]
        placed = [p for p in inside if p.placed]
        lat: float | None
        lon: float | None
        if cid in centres:
            lat, lon = centres[cid]
        elif placed:
            lat = sum(float(p.latitude or 0.0) for p in placed) / len(placed)
            lon = sum(float(p.longitude or 0.0) for p in placed) / len(placed)
        else:
            lat = lon = None
        level = _best_level(p.level for p in inside)
        cities.append(Place(cid, names.get(cid, str(cid)), level, lat, lon, len(inside)))
    between: dict[tuple[str, int, int], int] = defaultdict(int)
    within: dict[tuple[str, int, int], int] = defaultdict(int)
    for f in flows:
        a, b = city[f.origin_id], city[f.site_id]
        (within if a == b else between)[(f.kind, a, b)] += f.count
    return Grouped(
        cities,
        sorted((Flow(a, b, n, k) for (k, a, b), n in between.items()), key=_order),
        sorted((Flow(a, b, n, k) for (k, a, b), n in within.items()), key=_order),
    )


def volumes(flows: Iterable[Flow]) -> dict[int, int]:
    """Visits in and out of each institution."""
    out: dict[int, int] = defaultdict(int)
    for f in flows:
        out[f.origin_id] += f.count
        out[f.site_id] += f.count
    return dict(out)


@dataclass(frozen=True)
class Projection:
    """Latitude and longitude to drawing coordinates (y grows downwards)."""

    min_longitude: float
    max_latitude: float
    # the shrinking of longitudes at the middle latitude
    kx: float
    scale: float
    offset_x: float
    offset_y: float

    def __call__(self, latitude: float, longitude: float) -> tuple[float, float]:
        x = self.offset_x + (longitude - self.min_longitude) * self.kx * self.scale
        y = self.offset_y + (self.max_latitude - latitude) * self.scale
        return x, y

    def inverse(self, x: float, y: float) -> tuple[float, float]:
        """The latitude and longitude at a point of the drawing."""
        longitude = self.min_longitude + (x - self.offset_x) / (self.kx * self.scale)
        latitude = self.max_latitude - (y - self.offset_y) / self.scale
        return latitude, longitude


def fit(
    points: Sequence[tuple[float, float]], width: float, height: float, margin: float
) -> Projection:
    """The equirectangular projection that fits ``points`` (latitude, longitude) inside the
    drawing less its margin, with the shape kept and the points centred; a single place (or
    none) sits in the middle."""
    inner_w, inner_h = max(width - 2 * margin, 1.0), max(height - 2 * margin, 1.0)
    if not points:
        return Projection(0.0, 0.0, 1.0, 1.0, width / 2, height / 2)
    lats = [p[0] for p in points]
    lons = [p[1] for p in points]
    min_lat, max_lat, min_lon, max_lon = min(lats), max(lats), min(lons), max(lons)
    kx = max(math.cos(math.radians((min_lat + max_lat) / 2)), 0.01)
    span_x = (max_lon - min_lon) * kx
    span_y = max_lat - min_lat
    # places a hair apart (less than the drawing can show) never blow the scale up
    scales = [inner / span for inner, span in ((inner_w, span_x), (inner_h, span_y)) if span > 0]
    scale = min([*scales, MAX_SCALE]) if scales else 1.0
    offset_x = margin + (inner_w - span_x * scale) / 2
    offset_y = margin + (inner_h - span_y * scale) / 2
    return Projection(min_lon, max_lat, kx, scale, offset_x, offset_y)


def drawing_height(
    points: Sequence[tuple[float, float]],
    width: float,
    margin: float,
    *,
    least: float = 320.0,
    most: float = 720.0,
) -> float:
    """A height for the drawing that follows the shape of the places, within bounds."""
    if len(points) < 2:
        return least
    lats = [p[0] for p in points]
    lons = [p[1] for p in points]
    kx = max(math.cos(math.radians((min(lats) + max(lats)) / 2)), 0.01)
    span_x = (max(lons) - min(lons)) * kx
    span_y = max(lats) - min(lats)
    if span_x <= 0:
        return most
    wanted = (width - 2 * margin) * span_y / span_x + 2 * margin
    return float(round(min(most, max(least, wanted))))


@dataclass(frozen=True)
class Marker:
    place: Place
    x: float
    y: float
    r: float
    colour: str
    # a label is shown for the main institutions, where it does not cover another label
    label: bool
    label_x: float
    label_y: float
    anchor: str


@dataclass(frozen=True)
class Line:
    flow: Flow
    path: str
    width: float


@dataclass(frozen=True)
class GridLine:
    """A parallel or meridian, for orientation where there is no base map."""

    x1: float
    y1: float
    x2: float
    y2: float
    label: str
    label_x: float
    label_y: float


GRID_STEPS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0)


def grid_step(span: float, most: int = 8) -> float:
    """The smallest round step in degrees that draws at most ``most`` lines across ``span``."""
    for step in GRID_STEPS:
        if span / step <= most:
            return step
    return GRID_STEPS[-1]


def _degrees(value: float, positive: str, negative: str) -> str:
    text = f"{abs(value):.2f}".rstrip("0").rstrip(".")
    return f"{text}°{positive if value >= 0 else negative}"


def graticule(project: Projection, width: float, height: float) -> list[GridLine]:
    """Parallels and meridians at round degrees across the drawing, labelled at its edges."""
    top, left = project.inverse(0.0, 0.0)
    bottom, right = project.inverse(width, height)
    top, bottom = min(top, 90.0), max(bottom, -90.0)
    left, right = max(left, -180.0), min(right, 180.0)
    step = grid_step(max(top - bottom, right - left))
    lines: list[GridLine] = []
    lat = math.ceil(bottom / step) * step
    while lat <= top:
        _, y = project(lat, left)
        lines.append(GridLine(0.0, y, width, y, _degrees(lat, "N", "S"), 4.0, y - 3))
        lat = round(lat + step, 6)
    lon = math.ceil(left / step) * step
    while lon <= right:
        x, _ = project(top, lon)
        lines.append(GridLine(x, 0.0, x, height, _degrees(lon, "E", "W"), x + 3, height - 4))
        lon = round(lon + step, 6)
    return lines


@dataclass(frozen=True)
class MapLayout:
    width: float
    height: float
    markers: list[Marker]
    lines: list[Line]
    # institutions without usable coordinates (listed, not drawn)
    unplaced: list[Place]
    # flows with an end that is not drawn
    undrawn: list[Flow]
    # the levels present, in legend order
    levels: list[str]
    grid: list[GridLine]


def width_of(count: int, largest: int) -> float:
    """The stroke width of a flow: from MIN_WIDTH to MAX_WIDTH in proportion to its count."""
    if largest <= 0 or count <= 0:
        return MIN_WIDTH
    share = min(count, largest) / largest
    return round(MIN_WIDTH + (MAX_WIDTH - MIN_WIDTH) * share, 2)


def curve(
    a: tuple[float, float], b: tuple[float, float], end_gap: float = 0.0, bend: float = BEND
) -> str:
    """A quadratic curve from ``a`` to ``b`` bending to the left of its direction, stopping
    ``end_gap`` short of ``b`` (the marker's edge, where the arrow's tip goes)."""
    (x1, y1), (x2, y2) = a, b
    dx, dy = x2 - x1, y2 - y1
    length = math.hypot(dx, dy)
    if length == 0:
        return f"M{x1:.1f},{y1:.1f}"
    cx = (x1 + x2) / 2 + dy / length * bend * length
    cy = (y1 + y2) / 2 - dx / length * bend * length
    # step back from b towards the control point (the curve's direction at its end)
    tx, ty = x2 - cx, y2 - cy
    tl = math.hypot(tx, ty) or 1.0
    gap = min(end_gap, length / 3)
    ex, ey = x2 - tx / tl * gap, y2 - ty / tl * gap
    return f"M{x1:.1f},{y1:.1f} Q{cx:.1f},{cy:.1f} {ex:.1f},{ey:.1f}"


def text_width(text: str, size: float = FONT_SIZE) -> float:
    """About how wide ``text`` is drawn: a CJK character a full em, others about half."""
    return sum(size if ord(ch) > 0x2E80 else size * 0.55 for ch in text)


def _overlaps(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return not (a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1])


def radius_of(place: Place) -> float:
    """A city as large as the square root of its institutions, an institution by its level."""
    if place.institutions:
        grown = CITY_RADIUS + CITY_RADIUS_STEP * math.sqrt(place.institutions)
        return round(min(MAX_CITY_RADIUS, grown), 2)
    return LEVEL_RADIUS.get(place.level, DEFAULT_RADIUS)


def main_places(places: Sequence[Place], flows: Sequence[Flow], most: int) -> list[int]:
    """The ids of the institutions worth a label: the busiest first, tertiary hospitals
    before others at equal volume."""
    vol = volumes(flows)
    rank = sorted(
        places,
        key=lambda p: (
            -vol.get(p.id, 0),
            LEVEL_ORDER.index(p.level) if p.level in LEVEL_ORDER else len(LEVEL_ORDER),
            p.name,
            p.id,
        ),
    )
    return [p.id for p in rank[: max(0, most)]]


def layout(
    places: Sequence[Place],
    flows: Sequence[Flow],
    *,
    width: float = 800.0,
    margin: float = 48.0,
    max_labels: int = 12,
) -> MapLayout:
    """Where every institution and flow goes on the drawing."""
    drawn = [p for p in places if p.placed]
    unplaced = [p for p in places if not p.placed]
    points = [(float(p.latitude or 0.0), float(p.longitude or 0.0)) for p in drawn]
    height = drawing_height(points, width, margin)
    project = fit(points, width, height, margin)
    at: dict[int, tuple[float, float]] = {
        p.id: project(float(p.latitude or 0.0), float(p.longitude or 0.0)) for p in drawn
    }
    wanted = set(main_places(drawn, flows, max_labels))
    boxes: list[tuple[float, float, float, float]] = []
    markers: list[Marker] = []
    # labels in order of importance, so a busier institution keeps its label
    order = {pid: i for i, pid in enumerate(main_places(drawn, flows, len(drawn)))}
    for p in sorted(drawn, key=lambda q: order.get(q.id, 0)):
        x, y = at[p.id]
        r = radius_of(p)
        colour = LEVEL_COLOURS.get(p.level, LEVEL_COLOURS["unrated"])
        w = text_width(p.name)
        # to the right of the marker, or to its left near the right edge
        right = x + r + 4 + w <= width - 2
        lx = x + r + 4 if right else x - r - 4
        ly = y + FONT_SIZE * 0.35
        box = (
            lx if right else lx - w,
            y - FONT_SIZE * 0.6,
            lx + w if right else lx,
            y + FONT_SIZE * 0.6,
        )
        label = p.id in wanted and not any(_overlaps(box, b) for b in boxes)
        if label:
            boxes.append(box)
        markers.append(Marker(p, x, y, r, colour, label, lx, ly, "start" if right else "end"))
    # the widths of each kind in proportion to its own largest flow (visits and referrals
    # are not counted in the same units)
    largest: dict[str, int] = defaultdict(int)
    for f in flows:
        largest[f.kind] = max(largest[f.kind], f.count)
    lines: list[Line] = []
    undrawn: list[Flow] = []
    radius = {m.place.id: m.r for m in markers}
    # the widest first, so the narrow ones stay visible on top
    for f in sorted(flows, key=lambda f: (-width_of(f.count, largest[f.kind]), _order(f))):
        if f.origin_id not in at or f.site_id not in at or f.origin_id == f.site_id:
            undrawn.append(f)
            continue
        gap = radius.get(f.site_id, DEFAULT_RADIUS) + 2
        path = curve(at[f.origin_id], at[f.site_id], gap, KIND_BENDS.get(f.kind, BEND))
        lines.append(Line(f, path, width_of(f.count, largest[f.kind])))
    levels = [lv for lv in LEVEL_ORDER if any(p.level == lv for p in drawn)]
    levels += sorted({p.level for p in drawn} - set(LEVEL_ORDER))
    # the markers drawn over the lines, tertiary (largest) first so small ones stay on top
    markers.sort(key=lambda m: (-m.r, m.place.id))
    # lines of latitude and longitude only where there is a spread of places to orient
    grid = graticule(project, width, height) if len(set(points)) > 1 else []
    return MapLayout(width, height, markers, lines, unplaced, undrawn, levels, grid)
