"""API of set travel times between institutions, with the estimate from coordinates beside
each.

Pairs with your institution only (others answer 404). Refusals are problem+json with a stable
``code``: ``faster_than_possible``, ``directions_disagree``, ``minutes_out_of_range``,
``same_place``, ``unknown_place``, ``not_your_pair`` (422); ``forbidden`` (403, without
``DISPATCH_PLAN``).
"""

from __future__ import annotations

from datetime import datetime

from fastapi import Response, status
from pydantic import BaseModel

from medcircle.dispatch import travel_service as svc
from medcircle.dispatch.setup_schemas import TravelIn
from medcircle.web.deps import DB, CurrentActor
from medcircle.web.routing import QuickRouter

router = QuickRouter(prefix="/api/v1", tags=["dispatch"])


class TravelRead(BaseModel):
    # null for a pair of your agreements that has no set time
    id: int | None
    origin_institution_id: int
    origin_name_zh: str
    origin_name_en: str
    destination_institution_id: int
    destination_name_zh: str
    destination_name_en: str
    # the set one-way minutes (null: none set, the estimate holds)
    minutes: int | None
    note: str | None
    updated_at: datetime | None
    # from coordinates (road factor 1.3 at 90 km/h); null when a place has no coordinates
    estimate_minutes: int | None
    distance_km: float | None
    agreement_pair: bool


def travel_read(v: svc.TravelView) -> TravelRead:
    r = v.row
    return TravelRead(
        id=r.id if r is not None else None,
        origin_institution_id=v.origin.id,
        origin_name_zh=v.origin.name_zh,
        origin_name_en=v.origin.name_en,
        destination_institution_id=v.destination.id,
        destination_name_zh=v.destination.name_zh,
        destination_name_en=v.destination.name_en,
        minutes=r.minutes if r is not None else None,
        note=r.note if r is not None else None,
        updated_at=r.updated_at if r is not None else None,
        estimate_minutes=v.estimate,
        distance_km=round(v.distance_km, 1) if v.distance_km is not None else None,
        agreement_pair=v.agreement_pair,
    )


@router.get("/dispatch/travel", response_model=list[TravelRead])
def list_travel(session: DB, actor: CurrentActor) -> list[TravelRead]:
    """Set travel times of trips from or to your institution, then the pairs of your
    agreements without one; each with the estimate from coordinates."""
    return [travel_read(v) for v in svc.list_travel(session, actor)]


@router.put("/dispatch/travel", response_model=TravelRead)
def set_travel(body: TravelIn, session: DB, actor: CurrentActor) -> TravelRead:
    """Set or change the one-way minutes of a trip from or to your institution; it holds for
    both directions unless the other is set too (the two may differ at most twice)."""
    row = svc.set_travel(session, actor, body)
    return travel_read(svc.get_travel(session, actor, row.id))


@router.delete("/dispatch/travel/{travel_id:int}", status_code=status.HTTP_204_NO_CONTENT)
def remove_travel(travel_id: int, session: DB, actor: CurrentActor) -> Response:
    """Remove a set travel time: the estimate holds again."""
    svc.remove_travel(session, actor, travel_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


__all__ = ["router"]
