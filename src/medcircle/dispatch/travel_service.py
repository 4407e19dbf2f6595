"""Set travel times between institutions, checked against the map, and the minutes the planner
uses (a set time in either direction, else the estimate from coordinates).

A coordinator (``DISPATCH_PLAN``) keeps the set times of pairs that include their own
institution; everyone with ``DISPATCH_READ`` reads those pairs and the estimate beside each.
A set time is refused when it is inconsistent (see ``travel.check_overrides``): faster than
any train over the distance, out of 1 minute to a day, the same place twice, an unknown
institution, or more than twice the other direction's set time. An institution without
coordinates has no estimate; its set times are checked for range only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from medcircle.agreements.models import CooperationAgreement
from medcircle.audit import service as audit
from medcircle.auth.domain import Actor
from medcircle.dispatch import travel
from medcircle.dispatch.access import (
    require_manage,
    require_read,
    valid_id,
)
from medcircle.dispatch.models import TravelTime
from medcircle.dispatch.setup_schemas import TravelIn
from medcircle.kit import clock
from medcircle.kit.errors import FieldError, NotFound, ValidationFailed
from medcircle.kit.i18n import N_
from medcircle.registry.models import Institution

TRAVEL = "dispatch_travel"

NOT_FOUND = N_("No such travel time for your institution.")
UNKNOWN_PLACE = N_("There is no institution with this number.")
SAME_PLACE = N_("A trip needs two different institutions.")
NOT_YOUR_PAIR = N_("Set travel times only for trips from or to your institution.")
MINUTES_RANGE = N_("Travel takes at least 1 minute and at most a day (1440 minutes).")
FASTER_THAN_POSSIBLE = N_(
    "%(minutes)s minutes is faster than any train over %(km)s km (at least %(fastest)s "
    "minutes). Check the number."
)
DIRECTIONS_DISAGREE = N_(
    "The way back is set to %(back)s minutes: the two directions may differ at most twice. "
    "Change that one too, or remove it."
)
MESSAGES: dict[str, tuple[str, str]] = {
    # code -> (field, message)
    "unknown_place": ("destination_institution_id", UNKNOWN_PLACE),
    "same_place": ("destination_institution_id", SAME_PLACE),
    "minutes_out_of_range": ("minutes", MINUTES_RANGE),
    "faster_than_possible": ("minutes", FASTER_THAN_POSSIBLE),
    "directions_disagree": ("minutes", DIRECTIONS_DISAGREE),
}


@dataclass(frozen=True)
class TravelView:
    """A pair of institutions with its set time (if any) and its estimate (None without
    coordinates)."""

    origin: Institution
    destination: Institution
    row: TravelTime | None
    estimate: int | None
    distance_km: float | None
    # a pair of one of the actor's institution's agreements
    agreement_pair: bool = False


def place_of(inst: Institution) -> travel.Place | None:
    """The institution on the map, or None without coordinates."""
    if inst.latitude is None or inst.longitude is None:
        return None
    return travel.Place(str(inst.id), inst.latitude, inst.longitude)


def _view(
    origin: Institution, destination: Institution, row: TravelTime | None, pair: bool = False
) -> TravelView:
    a, b = place_of(origin), place_of(destination)
    if a is None or b is None:
        return TravelView(origin, destination, row, None, None, pair)
    return TravelView(
        origin, destination, row, travel.estimate_minutes(a, b), travel.distance_km(a, b), pair
    )


def _institutions(session: Session, ids: Iterable[int]) -> dict[int, Institution]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    return {i.id: i for i in session.scalars(select(Institution).where(Institution.id.in_(wanted)))}


def list_travel(session: Session, actor: Actor) -> list[TravelView]:
    """The set travel times of pairs with the actor's institution, then the pairs of its
    agreements (either side) that have none; each with the estimate beside it."""
    require_read(actor)
    me = actor.institution_id
    rows = list(
        session.scalars(
            select(TravelTime)
            .where(
                or_(
                    TravelTime.origin_institution_id == me,
                    TravelTime.destination_institution_id == me,
                )
            )
            .order_by(TravelTime.origin_institution_id, TravelTime.destination_institution_id)
        )
    )
    partners = session.execute(
        select(
            CooperationAgreement.supporting_institution_id,
            CooperationAgreement.supported_institution_id,
        ).where(
            or_(
                CooperationAgreement.supporting_institution_id == me,
                CooperationAgreement.supported_institution_id == me,
            ),
            CooperationAgreement.ends_on > clock.today(),
        )
    )
    pairs = sorted({(a, b) for a, b in partners})
    insts = _institutions(
        session,
        [x for r in rows for x in (r.origin_institution_id, r.destination_institution_id)]
        + [x for p in pairs for x in p],
    )
    set_pairs = {(r.origin_institution_id, r.destination_institution_id) for r in rows}
    out = [
        _view(
            insts[r.origin_institution_id],
            insts[r.destination_institution_id],
            r,
            (r.origin_institution_id, r.destination_institution_id) in pairs
            or (r.destination_institution_id, r.origin_institution_id) in pairs,
        )
        for r in rows
    ]
    for a, b in pairs:
        if (a, b) not in set_pairs and (b, a) not in set_pairs:
            out.append(_view(insts[a], insts[b], None, True))
    return out


def institutions(session: Session) -> list[Institution]:
    """Every institution, by code (the choices of the travel form)."""
    return list(session.scalars(select(Institution).order_by(Institution.code)))


def _problem(code: str, **params: object) -> FieldError:
    field, message = MESSAGES[code]
    return FieldError(field, message, dict(params), code=code)


def _refuse(errors: list[FieldError]) -> ValidationFailed:
    return ValidationFailed(code=errors[0].code, field_errors=errors)


def check_pair(
    origin: Institution | None,
    destination: Institution | None,
    minutes: int,
    back: int | None,
) -> list[FieldError]:
    """What is wrong with setting ``minutes`` from ``origin`` to ``destination`` when the way
    back is set to ``back`` (None: not set)."""
    if origin is None or destination is None:
        field = "origin_institution_id" if origin is None else "destination_institution_id"
        return [FieldError(field, UNKNOWN_PLACE, code="unknown_place")]
    if origin.id == destination.id:
        return [_problem("same_place")]
    a, b = place_of(origin), place_of(destination)
    if a is None or b is None:
        # off the map: only the range can be checked
        if not 0 < minutes <= travel.LONGEST_MINUTES:
            return [_problem("minutes_out_of_range")]
        if back is not None and max(minutes, back) > 2 * min(minutes, back):
            return [_problem("directions_disagree", back=back)]
        return []
    overrides = {(a.key, b.key): minutes}
    if back is not None:
        overrides[(b.key, a.key)] = back
    found = travel.check_overrides({a.key: a, b.key: b}, overrides)
    out: list[FieldError] = []
    for p in found:
        if p.code == "faster_than_possible" and (p.origin, p.destination) != (a.key, b.key):
            continue  # the way back was accepted before; only this setting is judged
        if p.code == "faster_than_possible":
            km = travel.distance_km(a, b)
            fastest = int(km / travel.FASTEST_KMH * 60) + 1
            out.append(_problem(p.code, minutes=minutes, km=round(km), fastest=fastest))
        elif p.code == "directions_disagree":
            out.append(_problem(p.code, back=back))
        elif p.code in MESSAGES and (p.origin, p.destination) == (a.key, b.key):
            out.append(_problem(p.code))
    return out


def set_travel(session: Session, actor: Actor, data: TravelIn) -> TravelTime:
    """Set (or change) the one-way minutes of a trip from or to the actor's institution."""
    require_manage(actor)
    insts = _institutions(session, [data.origin_institution_id, data.destination_institution_id])
    origin = insts.get(data.origin_institution_id)
    destination = insts.get(data.destination_institution_id)
    me = actor.institution_id
    if origin is not None and destination is not None and me not in (origin.id, destination.id):
        raise _refuse([FieldError("origin_institution_id", NOT_YOUR_PAIR, code="not_your_pair")])
    back_row = (
        session.scalar(
            select(TravelTime).where(
                TravelTime.origin_institution_id == data.destination_institution_id,
                TravelTime.destination_institution_id == data.origin_institution_id,
            )
        )
        if origin is not None and destination is not None
        else None
    )
    problems = check_pair(
        origin, destination, data.minutes, back_row.minutes if back_row is not None else None
    )
    if problems:
        raise _refuse(problems)
    assert origin is not None and destination is not None
    row = session.scalar(
        select(TravelTime).where(
            TravelTime.origin_institution_id == origin.id,
            TravelTime.destination_institution_id == destination.id,
        )
    )
    before = row.minutes if row is not None else None
    if row is None:
        row = TravelTime(origin_institution_id=origin.id, destination_institution_id=destination.id)
        session.add(row)
    row.minutes = data.minutes
    row.note = data.note or None
    row.set_by_user_id = actor.user_id
    row.updated_at = clock.now()
    session.flush()
    audit.record(
        session,
        actor,
        "dispatch.travel_set",
        object_type=TRAVEL,
        object_id=row.id,
        detail={
            "origin_institution_id": origin.id,
            "destination_institution_id": destination.id,
            "before": before,
            "minutes": row.minutes,
        },
    )
    return row


def remove_travel(session: Session, actor: Actor, travel_id: int) -> None:
    """Remove a set travel time of a pair with the actor's institution (the estimate holds
    again)."""
    require_manage(actor)
    row = session.get(TravelTime, travel_id) if valid_id(travel_id) else None
    if row is None or actor.institution_id not in (
        row.origin_institution_id,
        row.destination_institution_id,
    ):
        raise NotFound(NOT_FOUND)
    detail = {
        "origin_institution_id": row.origin_institution_id,
        "destination_institution_id": row.destination_institution_id,
        "minutes": row.minutes,
    }
    session.delete(row)
    session.flush()
    audit.record(
        session,
        actor,
        "dispatch.travel_remove",
        object_type=TRAVEL,
        object_id=travel_id,
        detail=detail,
    )


def get_travel(session: Session, actor: Actor, travel_id: int) -> TravelView:
    """One set travel time of a pair with the actor's institution."""
    require_read(actor)
    row = session.get(TravelTime, travel_id) if valid_id(travel_id) else None
    if row is None or actor.institution_id not in (
        row.origin_institution_id,
        row.destination_institution_id,
    ):
        raise NotFound(NOT_FOUND)
    insts = _institutions(session, [row.origin_institution_id, row.destination_institution_id])
    return _view(insts[row.origin_institution_id], insts[row.destination_institution_id], row)


# --- for the planner --------------------------------------------------------------------------


def travel_minutes(
    session: Session, origin_ids: Iterable[int], destination_ids: Iterable[int]
) -> dict[tuple[int, int], int]:
    """One-way minutes from each origin to each destination: the set time of the pair (this
    direction first, else the other), else the estimate from coordinates (road factor 1.3 at
    90 km/h); 0 from a place to itself. A pair with no set time and a place without
    coordinates is left out."""
    origins = sorted(set(origin_ids))
    destinations = sorted(set(destination_ids))
    if not origins or not destinations:
        return {}
    insts = _institutions(session, origins + destinations)
    everyone = sorted(insts)
    overrides = {
        (str(o), str(d)): m
        for o, d, m in session.execute(
            select(
                TravelTime.origin_institution_id,
                TravelTime.destination_institution_id,
                TravelTime.minutes,
            ).where(
                TravelTime.origin_institution_id.in_(everyone),
                TravelTime.destination_institution_id.in_(everyone),
            )
        )
    }
    places = {str(i): p for i, inst in insts.items() if (p := place_of(inst)) is not None}
    out: dict[tuple[int, int], int] = {}
    for o in origins:
        for d in destinations:
            if o not in insts or d not in insts:
                continue
            key, back = (str(o), str(d)), (str(d), str(o))
            if o == d:
                out[(o, d)] = 0
            elif key in overrides or back in overrides:
                out[(o, d)] = overrides.get(key, overrides.get(back, 0))
            elif key[0] in places and key[1] in places:
                out[(o, d)] = travel.estimate_minutes(places[key[0]], places[key[1]])
    return out


__all__ = [
    "TravelView",
    "check_pair",
    "get_travel",
    "list_travel",
    "remove_travel",
    "set_travel",
    "travel_minutes",
]
