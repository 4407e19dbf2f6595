"""What a family saves when care happens locally instead of in the capital.

A referral counts as care kept local when it is a **downward** referral (the capital hospital
sends the patient back to a local one) or an **upward** referral the receiving capital hospital
answered with a **local plan** (treatment carried out locally). For such a referral::

    distance_km = haversine(home point, capital hospital)
    saving_yuan = 2 * distance_km * saving_yuan_per_km * saving_travellers
                  + nights(care_type) * saving_yuan_per_night

- the round trip (2 x the great-circle distance) is paid for every traveller (the patient and,
  by default, one companion: ``saving_travellers`` = 2) at ``saving_yuan_per_km`` each;
- the nights away are ``saving_nights_outpatient`` / ``_admission`` / ``_transfer`` by care type,
  at ``saving_yuan_per_night`` (the companion's lodging; an admitted patient sleeps in hospital);
- the capital hospital is the receiver of an upward referral and the sender of a downward one;
- the home point is the patient's place of residence (its division's coordinates, else those of
  the division above it), else the patient's registering institution. No point, no estimate.

The distance is the great-circle one (a lower bound of the road distance), so the estimate is
conservative.
"""

from __future__ import annotations

import math

from sqlalchemy import select
from sqlalchemy.orm import Session

from medcircle.config import Settings
from medcircle.patients.models import Patient
from medcircle.referrals.domain import CareType, Direction
from medcircle.referrals.models import Referral
from medcircle.registry.models import Division, Institution

EARTH_RADIUS_KM = 6371.0088


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The great-circle distance between two points given in degrees, in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def nights(care_type: CareType | str, settings: Settings) -> int:
    """Nights a companion would spend in the capital for this kind of care."""
    return {
        CareType.OUTPATIENT: settings.saving_nights_outpatient,
        CareType.ADMISSION: settings.saving_nights_admission,
        CareType.TRANSFER: settings.saving_nights_transfer,
    }[CareType(care_type)]


def estimate(distance_km: float, care_type: CareType | str, settings: Settings) -> float:
    """The cost avoided (yuan, 2 decimals) for a home ``distance_km`` from the capital
    hospital: round-trip transport for every traveller plus the nights away (see the module)."""
    if distance_km < 0:
        raise ValueError("distance must not be negative")
    transport = 2 * distance_km * settings.saving_yuan_per_km * settings.saving_travellers
    lodging = nights(care_type, settings) * settings.saving_yuan_per_night
    return round(transport + lodging, 2)


def kept_local(direction: str, local_plan: bool) -> bool:
    """Whether a referral is care kept local: any downward one, an upward one with a local plan."""
    return direction == Direction.DOWN or (direction == Direction.UP and local_plan)


def _division_point(session: Session, code: str | None) -> tuple[float, float] | None:
    """The coordinates of a division, else of the one above it (two steps at most)."""
    for _ in range(3):
        if code is None:
            return None
        row = session.execute(
            select(Division.latitude, Division.longitude, Division.parent_code).where(
                Division.code == code
            )
        ).first()
        if row is None:
            return None
        if row.latitude is not None and row.longitude is not None:
            return float(row.latitude), float(row.longitude)
        code = row.parent_code
    return None


def _institution_point(session: Session, institution_id: int) -> tuple[float, float] | None:
    row = session.execute(
        select(Institution.latitude, Institution.longitude).where(Institution.id == institution_id)
    ).first()
    if row is None or row.latitude is None or row.longitude is None:
        return None
    return float(row.latitude), float(row.longitude)


def home_point(session: Session, patient_id: int) -> tuple[float, float] | None:
    """Where the family lives: the residence division, else its parent, else the patient's
    registering institution."""
    row = session.execute(
        select(Patient.residence_division_code, Patient.institution_id).where(
            Patient.id == patient_id
        )
    ).first()
    if row is None:
        return None
    return _division_point(session, row.residence_division_code) or _institution_point(
        session, row.institution_id
    )


def saving_for(
    session: Session, referral: Referral, settings: Settings
) -> tuple[float, float] | None:
    """(yuan, km) avoided by this referral, or None when it is not care kept local or no
    point is known for the family's home or the capital hospital."""
    if not kept_local(referral.direction, referral.local_plan):
        return None
    capital_id = (
        referral.receiver_institution_id
        if referral.direction == Direction.UP
        else referral.sender_institution_id
    )
    capital = _institution_point(session, capital_id)
    home = home_point(session, referral.patient_id)
    if capital is None or home is None:
        return None
    km = round(haversine_km(home[0], home[1], capital[0], capital[1]), 1)
    return estimate(km, referral.care_type, settings), km
