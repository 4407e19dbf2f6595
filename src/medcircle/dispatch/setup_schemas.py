"""Pydantic shapes of dispatch set-up input: demand, experts' availability and travel times.

Ranges are checked by the services (with stable codes), not here: these shapes only fix types
and lengths, so a number out of range gets the same message on a page and in the API.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from medcircle.dispatch.rules import DemandKind

Id = Annotated[int, Field(ge=1, le=2**31 - 1)]
Count = Annotated[int, Field(ge=-1000, le=1000)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
SkillText = Annotated[str, StringConstraints(max_length=200)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)]
Version = Annotated[int, Field(ge=1, le=2**31 - 1)]


class DemandIn(BaseModel):
    """New demand. A special request's period defaults to its day."""

    agreement_id: Id
    specialty_code: Code
    kind: DemandKind
    visits_per_week: Count | None = None
    positions: Count | None = None
    day: date | None = None
    skill: SkillText | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    department_id: Id | None = None
    note: Note | None = None


class DemandUpdate(BaseModel):
    """A change of draft (or rejected) demand: only the fields sent change; send the version
    you read."""

    version: Version
    specialty_code: Code | None = None
    kind: DemandKind | None = None
    visits_per_week: Count | None = None
    positions: Count | None = None
    day: date | None = None
    skill: SkillText | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    department_id: Id | None = None
    note: Note | None = None


class DecisionIn(BaseModel):
    """A step of demand (submit, approve, reject, withdraw) with the version you read; a
    rejection says why in ``note``."""

    version: Version
    note: Note | None = None


class ProfileIn(BaseModel):
    """An expert's dispatch profile; send the version you read when changing one."""

    specialty_code: Code
    max_days_per_week: Count = 2
    duty_weekdays: list[Annotated[int, Field(ge=-10, le=10)]] = Field(
        default_factory=list, max_length=7
    )
    is_active: bool = True
    version: Version | None = None


class DutyIn(BaseModel):
    day: date
    reason: Reason | None = None


class SkillIn(BaseModel):
    skill: SkillText


class TravelIn(BaseModel):
    """A set one-way travel time between two institutions, one of them yours."""

    origin_institution_id: Id
    destination_institution_id: Id
    minutes: Annotated[int, Field(ge=-100000, le=100000)]
    note: Reason | None = None


__all__ = [
    "DecisionIn",
    "DemandIn",
    "DemandUpdate",
    "DutyIn",
    "ProfileIn",
    "SkillIn",
    "TravelIn",
]
