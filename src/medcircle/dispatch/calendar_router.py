"""API of the expert and site calendars: my published visits (JSON and iCalendar), my private
calendar feed, reporting a conflict on a visit, and who is coming to a site.

Refusals are problem+json with a stable ``code``: ``range_reversed``, ``range_too_long``
(422: a site's window is at most 92 days, one's own at most 366), ``not_your_visit``,
``required`` (422), ``not_found`` (404: an unknown visit or one of someone else's, an
unknown institution), ``forbidden`` (403: no dispatch access).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import Query, Request, Response, status

from medcircle.dispatch import calendars, plans
from medcircle.dispatch.calendar_schemas import (
    CalendarVisitRead,
    ConflictIn,
    ConflictRead,
    FeedRead,
    FeedStatusRead,
    visit_read,
)
from medcircle.kit import clock
from medcircle.web.deps import DB, CurrentActor, settings_of
from medcircle.web.routing import QuickRouter

router = QuickRouter(prefix="/api/v1", tags=["dispatch"])

First = Annotated[date | None, Query(description="first day (default: 30 days ago)")]
Last = Annotated[date | None, Query(description="last day, included (default: 180 days ahead)")]
CALENDAR = "text/calendar; charset=utf-8"
PRIVATE = {"Cache-Control": "private, no-store"}


def _window(first: date | None, last: date | None) -> tuple[date, date]:
    default_first, default_last = calendars.feed_window(clock.today())
    return first or default_first, last or default_last


@router.get("/dispatch/me/visits", response_model=list[CalendarVisitRead])
def my_visits(
    session: DB, actor: CurrentActor, first: First = None, last: Last = None
) -> list[CalendarVisitRead]:
    """Your visits on the published roster, by day (at most 366 days at a time)."""
    a, b = _window(first, last)
    return [visit_read(v) for v in calendars.my_visits(session, actor, a, b)]


@router.get(
    "/dispatch/me/visits.ics",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}},
)
def my_calendar(request: Request, session: DB, actor: CurrentActor) -> Response:
    """Your published visits from 30 days back to 180 days ahead as an iCalendar file, one
    all-day event per visit with a stable UID (importing it again updates the events)."""
    text = calendars.my_calendar(session, actor, settings_of(request).base_url)
    return Response(
        content=text.encode("utf-8"),
        media_type=CALENDAR,
        headers={"Content-Disposition": 'attachment; filename="medcircle-visits.ics"', **PRIVATE},
    )


@router.get("/dispatch/me/feed", response_model=FeedStatusRead)
def feed_status(session: DB, actor: CurrentActor) -> FeedStatusRead:
    """Whether you have a live private feed (its address is never shown again)."""
    return FeedStatusRead(active=plans.has_feed(session, actor))


@router.post("/dispatch/me/feed", response_model=FeedRead, status_code=status.HTTP_201_CREATED)
def create_feed(request: Request, response: Response, session: DB, actor: CurrentActor) -> FeedRead:
    """A new private feed address for calendar apps; the old one stops working. The address
    is returned only now: it is a secret, keep it as you would a password."""
    token = plans.new_feed(session, actor)
    url = calendars.feed_url(settings_of(request).base_url, token)
    response.headers.update(PRIVATE)
    return FeedRead(url=url, webcal_url=calendars.webcal_url(url))


@router.delete("/dispatch/me/feed", status_code=status.HTTP_204_NO_CONTENT)
def revoke_feed(session: DB, actor: CurrentActor) -> Response:
    """Stop your private feed (its address answers 404 from now on)."""
    plans.revoke_feed(session, actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/dispatch/visits/{visit_id:int}/conflicts",
    response_model=ConflictRead,
    status_code=status.HTTP_201_CREATED,
)
def report_conflict(
    visit_id: int, body: ConflictIn, request: Request, session: DB, actor: CurrentActor
) -> ConflictRead:
    """You cannot make one of your published visits to come: the conflict is recorded, a
    re-plan is made at once as a draft and your institution's planners are told.
    422 `not_your_visit` (a past visit, or one of a roster no longer published), `required`
    (an empty reason); 404 for someone else's visit."""
    conflict, draft = plans.report_conflict(
        session, actor, visit_id, body.reason, settings_of(request)
    )
    return ConflictRead(
        id=conflict.id,
        visit_id=conflict.visit_id,
        status=conflict.status,
        reason=conflict.reason,
        created_at=conflict.created_at,
        replan_plan_id=draft.id if draft else None,
    )


@router.get("/dispatch/sites/{institution_id:int}/visits", response_model=list[CalendarVisitRead])
def site_visits(
    institution_id: int,
    session: DB,
    actor: CurrentActor,
    first: Annotated[date | None, Query(description="first day (default: this Monday)")] = None,
    last: Annotated[
        date | None, Query(description="last day, included (default: four days after the first)")
    ] = None,
) -> list[CalendarVisitRead]:
    """Who is coming to a site, by day, from the published roster: the site's own staff see
    everyone; a supporting institution sees its own experts going there. At most 92 days at
    a time (422 `range_too_long`)."""
    a = first or calendars.monday_of(clock.today())
    b = last or a + timedelta(days=4)
    return [visit_read(v) for v in calendars.site_visits(session, actor, institution_id, a, b)]
