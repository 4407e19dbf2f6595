"""Pages of the expert and site calendars.

``/dispatch/me`` lists the reader's published visits (those to come and those of the last
month, by week) with a report-a-conflict form on each visit to come, the calendar file and
the private feed (made or replaced, then shown once; revoked). ``/dispatch/sites/{id}`` is a
site's week, Monday to Friday: who is coming, in which specialty, for what.
``/dispatch/feed/{token}.ics`` is the feed itself: no login, the token is the key.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from medcircle.auth.domain import Actor
from medcircle.dispatch import calendars, plans
from medcircle.dispatch.calendars import CalendarVisit
from medcircle.kit import clock, i18n
from medcircle.kit.errors import DomainError
from medcircle.kit.i18n import N_, gettext
from medcircle.web import forms
from medcircle.web.deps import DB, PageActor, request_info, settings_of
from medcircle.web.forms import REQUIRED, Form
from medcircle.web.routing import QuickRouter
from medcircle.web.templating import render

router = QuickRouter()

WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))
DONE: dict[str, str] = {
    "conflict": N_(
        "Your conflict is recorded and a re-plan is ready for your planners to review. The "
        "visit stays on your calendar until they publish the new roster."
    ),
    "conflict_alone": N_(
        "Your conflict is recorded, but your institution has no planner to re-plan the "
        "roster: tell your coordinator."
    ),
    "revoked": N_("Your private feed is revoked: its address no longer works."),
}
FEED_MADE = N_("A new private feed is ready. Copy its address now: it is shown only once.")
FEED_GONE = N_("This calendar feed does not exist or was revoked.")
NOT_REPORTED = N_("The conflict was not reported.")
CALENDAR = "text/calendar; charset=utf-8"
PRIVATE = {"Cache-Control": "private, no-store"}

# --- the feed's token stays out of the logs ---------------------------------------------------

_FEED_PATH = re.compile(r"(/dispatch/feed/)[^/\s\"?#]+")


def hide_feed_tokens(text: str) -> str:
    """``text`` with the token of any feed address replaced by ``[token]``."""
    return _FEED_PATH.sub(r"\1[token]", text)


class HideFeedTokens(logging.Filter):
    """Log records (the server's access log, error reports) never carry a feed's token."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/dispatch/feed/" in message:
            record.msg = hide_feed_tokens(message)
            record.args = None
        return True


def install_log_filters() -> None:
    """Hide feed tokens in the loggers that write request paths (idempotent)."""
    for name in ("uvicorn.access", "uvicorn.error", "medcircle.web"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, HideFeedTokens) for f in logger.filters):
            logger.addFilter(HideFeedTokens())


install_log_filters()


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def day_label(day: date) -> str:
    return f"{gettext(WEEKDAYS[day.weekday()])} {day:%m-%d}"


# --- my visits ---------------------------------------------------------------------------------


@dataclass
class Week:
    monday: date
    visits: list[CalendarVisit] = field(default_factory=list)


def by_week(visits: list[CalendarVisit], newest_first: bool = False) -> list[Week]:
    weeks: dict[date, Week] = {}
    for v in visits:
        monday = calendars.monday_of(v.view.day)
        weeks.setdefault(monday, Week(monday)).visits.append(v)
    out = sorted(weeks.values(), key=lambda w: w.monday, reverse=newest_first)
    for w in out:
        w.visits.sort(key=lambda v: v.view.day, reverse=newest_first)
    return out


@dataclass
class Failure:
    """The conflict form that was refused: on which visit, what was typed and why."""

    visit_id: int
    reason: str
    errors: forms.Errors


def _my_page(
    request: Request,
    session: Session,
    actor: Actor,
    *,
    flash: str | None = None,
    flash_kind: str = "ok",
    feed_url: str | None = None,
    failure: Failure | None = None,
    status_code: int = 200,
) -> Response:
    today = clock.today()
    first, last = calendars.feed_window(today)
    visits = calendars.my_visits(session, actor, first, last)
    upcoming = [v for v in visits if v.view.day >= today]
    recent = [v for v in visits if v.view.day < today]
    return render(
        request,
        "dispatch/me.html",
        {
            "upcoming": by_week(upcoming),
            "recent": by_week(recent, newest_first=True),
            "count_upcoming": len(upcoming),
            "conflicted": calendars.open_conflicts(session, actor, [v.view.id for v in upcoming]),
            "has_feed": plans.has_feed(session, actor),
            "feed_url": feed_url,
            "webcal_url": calendars.webcal_url(feed_url) if feed_url else None,
            "failure": failure,
            "today": today,
            "days_back": calendars.FEED_DAYS_BACK,
            "days_ahead": calendars.FEED_DAYS_AHEAD,
            "day_label": day_label,
            "flash": flash,
            "flash_kind": flash_kind,
        },
        status_code=status_code,
        # the page that shows a feed's address once is never kept by a browser or proxy
        headers=PRIVATE if feed_url else None,
    )


@router.get("/dispatch/me")
def my_visits_page(request: Request, session: DB, actor: PageActor) -> Response:
    done = DONE.get(request.query_params.get("done", ""))
    return _my_page(request, session, actor, flash=gettext(done) if done else None)


@router.get("/dispatch/me.ics")
def my_calendar_file(request: Request, session: DB, actor: PageActor) -> Response:
    text = calendars.my_calendar(session, actor, settings_of(request).base_url)
    return Response(
        content=text.encode("utf-8"),
        media_type=CALENDAR,
        headers={"Content-Disposition": 'attachment; filename="medcircle-visits.ics"', **PRIVATE},
    )


@router.post("/dispatch/me/feed")
def create_feed_submit(request: Request, session: DB, actor: PageActor, form: Form) -> Response:
    """A new feed: the page answers at once with its address (never stored, never shown
    again), not by a redirect that would have to carry it."""
    token = plans.new_feed(session, actor)
    url = calendars.feed_url(settings_of(request).base_url, token)
    return _my_page(request, session, actor, flash=gettext(FEED_MADE), feed_url=url)


@router.post("/dispatch/me/feed/revoke")
def revoke_feed_submit(request: Request, session: DB, actor: PageActor, form: Form) -> Response:
    plans.revoke_feed(session, actor)
    return _redirect("/dispatch/me?done=revoked#feed")


@router.post("/dispatch/me/visits/{visit_id:int}/conflict")
def report_conflict_submit(
    request: Request, session: DB, actor: PageActor, visit_id: int, form: Form
) -> Response:
    errors = forms.Errors()
    reason = form.get("reason")
    status_code = 422
    if not reason:
        errors.add("reason", REQUIRED)
    else:
        try:
            _, draft = plans.report_conflict(session, actor, visit_id, reason, settings_of(request))
        except DomainError as exc:
            status_code = forms.refusal_status(session, exc, errors)
        else:
            done = "conflict" if draft is not None else "conflict_alone"
            return _redirect(f"/dispatch/me?done={done}#visit-{visit_id}")
    return _my_page(
        request,
        session,
        actor,
        flash=gettext(NOT_REPORTED),
        flash_kind="error",
        failure=Failure(visit_id, reason, errors),
        status_code=status_code,
    )


# --- the private feed --------------------------------------------------------------------------


@router.get("/dispatch/feed/{token}.ics")
def feed(request: Request, session: DB, token: str) -> Response:
    """The expert's published visits for calendar apps (no login: the address is the key)."""
    i18n.set_locale(i18n.negotiate(request.headers.get("accept-language")) or i18n.DEFAULT_LOCALE)
    text = calendars.open_feed(
        session, token, info=request_info(request), base_url=settings_of(request).base_url
    )
    if text is None:
        return Response(
            content=gettext(FEED_GONE),
            status_code=404,
            media_type="text/plain; charset=utf-8",
            headers=PRIVATE,
        )
    return Response(content=text.encode("utf-8"), media_type=CALENDAR, headers=PRIVATE)


# --- a site's week -----------------------------------------------------------------------------


def _week_of(raw: str) -> date:
    """The Monday of the week of a ``YYYY-MM-DD`` value; this week when absent or odd."""
    try:
        day = date.fromisoformat(raw) if raw else clock.today()
    except ValueError:
        day = clock.today()
    if not 2000 <= day.year <= 2999:
        day = clock.today()
    return calendars.monday_of(day)


def _site_url(site_id: int, monday: date) -> str:
    return f"/dispatch/sites/{site_id}?" + urlencode({"week": monday.isoformat()})


@router.get("/dispatch/sites")
def my_site_page(actor: PageActor) -> Response:
    return _redirect(f"/dispatch/sites/{actor.institution_id}")


@router.get("/dispatch/sites/{institution_id:int}")
def site_page(request: Request, session: DB, actor: PageActor, institution_id: int) -> Response:
    monday = _week_of(request.query_params.get("week", ""))
    week = calendars.site_week(session, actor, institution_id, monday)
    this_monday = calendars.monday_of(clock.today())
    others = calendars.sites_of_my_experts(
        session, actor, monday - timedelta(days=91), monday + timedelta(days=91)
    )
    return render(
        request,
        "dispatch/site.html",
        {
            "w": week,
            "friday": monday + timedelta(days=4),
            "prev_url": _site_url(institution_id, monday - timedelta(days=7)),
            "next_url": _site_url(institution_id, monday + timedelta(days=7)),
            "this_url": _site_url(institution_id, this_monday),
            "today": clock.today(),
            "day_label": day_label,
            "site_name": calendars.name_of(week.site),
            "own_id": actor.institution_id,
            "others": [
                (s.id, calendars.name_of(s)) for s in others if s.id != actor.institution_id
            ],
            "count": sum(len(d.visits) for d in week.days),
            "week_param": monday.isoformat(),
        },
    )
