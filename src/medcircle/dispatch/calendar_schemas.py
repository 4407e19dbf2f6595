"""Shapes of the expert and site calendars in the JSON API."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from medcircle.dispatch.calendars import CalendarVisit
from medcircle.dispatch.ical_feed import visit_uid


class CalendarVisitRead(BaseModel):
    """One published visit: who goes where on which day, and what for."""

    id: int
    user_id: int
    name: str
    day: date
    site_institution_id: int
    site_name: str
    home_institution_id: int | None
    home_name: str
    department_id: int | None
    department_name: str
    specialty_code: str
    specialty_name: str
    kind: str = Field(description="visit, special or resident")
    travel_minutes: int = Field(description="one way, from the expert's home institution")
    edited: bool = Field(description="moved by hand by a planner")
    plan_id: int
    plan_version: int
    uid: str = Field(description="the UID of the visit in iCalendar files and the feed")


class FeedRead(BaseModel):
    """The private feed's address, shown only once: it is a secret (whoever has it sees the
    visits). A new one replaces the old; revoking stops it."""

    url: str
    webcal_url: str


class FeedStatusRead(BaseModel):
    active: bool


class ConflictIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, description="what keeps you from going")


class ConflictRead(BaseModel):
    id: int
    visit_id: int
    status: str
    reason: str
    created_at: datetime
    replan_plan_id: int | None = Field(
        description="the draft re-plan made for the planners (none when your institution has "
        "no planner)"
    )


def visit_read(v: CalendarVisit) -> CalendarVisitRead:
    return CalendarVisitRead(
        id=v.view.id,
        user_id=v.view.user_id,
        name=v.view.name,
        day=v.view.day,
        site_institution_id=v.view.site_institution_id,
        site_name=v.site_name,
        home_institution_id=v.home.id if v.home else None,
        home_name=v.home_name if v.home else "",
        department_id=v.view.department_id,
        department_name=v.department_name,
        specialty_code=v.view.specialty_code,
        specialty_name=v.specialty_name,
        kind=v.view.kind,
        travel_minutes=v.view.travel_minutes,
        edited=v.view.edited,
        plan_id=v.view.plan_id,
        plan_version=v.plan_version,
        uid=visit_uid(v.view.id),
    )
