"""API of the map of the circle: the institutions of a period with their level, city and
coordinates, and the flows between them (expert visits planned or recorded, referrals up and
down), by institution or by city, with the totals of each kind; what the map page shows.

Refusals are problem+json with a stable ``code``: ``validation_failed`` (422) with, by field,
``invalid_date``, ``range_reversed``, ``range_too_long`` (more than three years),
``invalid_source``, ``invalid_grouping``; ``forbidden`` (403: no dispatch access).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field, computed_field

from medcircle.dispatch import circle_map, map_service
from medcircle.kit import clock
from medcircle.web.deps import DB, CurrentActor
from medcircle.web.routing import QuickRouter

router = QuickRouter(prefix="/api/v1", tags=["dispatch"])


class MapInstitutionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name_zh: str
    name_en: str
    level: str
    division_code: str
    latitude: float | None
    longitude: float | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def city(self) -> str:
        """The code of its city in ``cities``, the one it is grouped into (a municipality is
        one city: every district of Beijing is 110000)."""
        return circle_map.city_of(self.division_code)


class MapCityRead(BaseModel):
    code: str
    name_zh: str
    name_en: str
    # the highest level of its institutions
    level: str
    # the division's coordinates in the registry, else the mean of its institutions'
    latitude: float | None
    longitude: float | None
    institutions: int


class MapFlowRead(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    kind: str = Field(description="visits, up (referrals up) or down (referrals down)")
    from_: str = Field(
        alias="from",
        description="the code of the home or referring institution (of its city, by city)",
    )
    to: str = Field(description="the code of the site or receiving institution (of its city)")
    count: int
    within_one_city: bool


class MapRead(BaseModel):
    first: date
    last: date
    source: str
    # the expert visits shown: planned (published roster), recorded (visit records) or none
    visits: str | None
    referrals: bool
    grouping: str
    # the institution whose referrals alone are counted; null: every referral of the circle
    referrals_of: int | None
    institutions: list[MapInstitutionRead]
    cities: list[MapCityRead]
    flows: list[MapFlowRead]
    # the sum of each kind of flow present, within one city too
    totals: dict[str, int]


def map_read(c: map_service.Circle) -> MapRead:
    # a city's place on the map is numbered by its division code
    city_codes = {
        int(code): code for code in (circle_map.city_of(i.division_code) for i in c.institutions)
    }
    shown = map_service.shown(c)
    if c.grouping == map_service.BY_CITY:
        codes = city_codes
        # the places drawn are the cities already: not grouped a second time
        cities = shown.places
    else:
        codes = {i.id: i.code for i in c.institutions}
        cities = map_service.cities(c)
    return MapRead(
        first=c.first,
        last=c.last,
        source=c.source,
        visits=c.visits,
        referrals=c.referrals,
        grouping=c.grouping,
        referrals_of=c.referrals_of,
        institutions=[MapInstitutionRead.model_validate(i) for i in c.institutions],
        cities=[_city_read(c, city_codes[p.id], p) for p in cities],
        flows=[
            MapFlowRead(
                kind=f.kind,
                from_=codes[f.origin_id],
                to=codes[f.site_id],
                count=f.count,
                within_one_city=within,
            )
            for f, within in shown.rows()
        ],
        totals=shown.totals(),
    )


def _city_read(c: map_service.Circle, code: str, p: circle_map.Place) -> MapCityRead:
    d = c.divisions.get(code)
    return MapCityRead(
        code=code,
        name_zh=d.name_zh if d else code,
        name_en=d.name_en if d else code,
        level=p.level,
        latitude=p.latitude,
        longitude=p.longitude,
        institutions=p.institutions,
    )


@router.get("/dispatch/map", response_model=MapRead)
def get_map(
    session: DB,
    actor: CurrentActor,
    first: Annotated[
        str | None, Query(max_length=32, description="first day, YYYY-MM-DD (default: 90 days ago)")
    ] = None,
    last: Annotated[
        str | None,
        Query(max_length=32, description="last day, included (default: 90 days ahead)"),
    ] = None,
    source: Annotated[
        str | None,
        Query(
            max_length=32,
            description="planned, recorded, referrals, recorded-and-referrals or "
            "planned-and-referrals (default: planned)",
        ),
    ] = None,
    grouping: Annotated[
        str | None, Query(max_length=32, description="institution (default) or city")
    ] = None,
) -> MapRead:
    """The institutions of the circle in the period (the parties of the agreements in force,
    and the ends of every flow) and the flows between them, by institution or by city, at
    most three years at a time. Everyone with dispatch access sees the whole circle's expert
    visits; the commission every referral flow, anyone else only the referrals sent by or to
    their own institution (`referrals_of`). Referrals count by the day they were sent
    (Beijing time). Numbers only, never a patient. Audited."""
    a, b = map_service.asked_period(first, last, clock.today())
    found = map_service.circle(
        session,
        actor,
        a,
        b,
        source or map_service.PLANNED,
        grouping or map_service.BY_INSTITUTION,
    )
    return map_read(map_service.audited(session, actor, found))
