"""What experts and sites see of the published roster: an expert's visits with what they are
about, their iCalendar file and private feed, and a site's week of who is coming.

Access is the roster's (``plans.my_visits``, ``plans.site_visits``): an expert sees their own
visits; a site's staff see everyone coming to it, a supporting institution its own experts
going there. The feed answers anyone holding its secret address, and nothing else: an unknown
or revoked address is a refused read in the audit trail (without the address itself).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from medcircle.audit import service as audit
from medcircle.audit.domain import Outcome
from medcircle.audit.service import RequestInfo
from medcircle.auth.domain import Actor, Permission
from medcircle.auth.models import User
from medcircle.dispatch import ical_feed, plans
from medcircle.dispatch.models import RosterConflict, RosterPlan, RosterVisit
from medcircle.dispatch.plans import VisitView
from medcircle.kit import clock, i18n
from medcircle.kit.errors import FieldError, ValidationFailed
from medcircle.kit.i18n import N_, gettext
from medcircle.registry.models import Department, Division, Institution, SpecialtyRow

# the window of the private feed and of a downloaded calendar
FEED_DAYS_BACK = 30
FEED_DAYS_AHEAD = 180
# the longest window one question may ask about
MAX_SITE_DAYS = 92
MAX_MY_DAYS = 366

KIND_LABELS: dict[str, str] = {
    "visit": N_("Visit"),
    "special": N_("Special request"),
    "resident": N_("Resident expert"),
}
SUMMARIES: dict[str, str] = {
    "visit": N_("Expert visit: %(site)s"),
    "special": N_("Special request: %(site)s"),
    "resident": N_("Resident expert: %(site)s"),
}
RANGE_REVERSED = N_("The last day comes before the first.")
RANGE_TOO_LONG = N_("Ask for at most %(most)s days at a time.")
CALENDAR_NAME = N_("medcircle: my visits")
FEED = plans.FEED


# --- windows ----------------------------------------------------------------------------------


def feed_window(today: date) -> tuple[date, date]:
    """The days a feed or a downloaded calendar holds: a month back, half a year ahead."""
    return today - timedelta(days=FEED_DAYS_BACK), today + timedelta(days=FEED_DAYS_AHEAD)


def check_range(first: date, last: date, most: int) -> None:
    """``first`` to ``last`` (both included) must be in order and at most ``most`` days."""
    if last < first:
        raise ValidationFailed(
            field_errors=[FieldError("last", RANGE_REVERSED, code="range_reversed")]
        )
    if (last - first).days + 1 > most:
        raise ValidationFailed(
            field_errors=[FieldError("last", RANGE_TOO_LONG, {"most": most}, code="range_too_long")]
        )


# --- visits with what they are about -----------------------------------------------------------


def name_of(
    obj: Institution | Department | SpecialtyRow | Division | None, fallback: str = "?"
) -> str:
    """The Chinese or English name of a registry row, by the current language."""
    if obj is None:
        return fallback
    if i18n.get_locale() == "en":
        return obj.name_en or obj.name_zh or fallback
    return obj.name_zh or obj.name_en or fallback


@dataclass
class CalendarVisit:
    """A published visit and the rows it points to, for words and places."""

    view: VisitView
    site: Institution | None
    home: Institution | None
    department: Department | None
    specialty: SpecialtyRow | None
    plan_version: int

    @property
    def site_name(self) -> str:
        return name_of(self.site, self.view.site_name)

    @property
    def home_name(self) -> str:
        return name_of(self.home)

    @property
    def specialty_name(self) -> str:
        return name_of(self.specialty, self.view.specialty_code)

    @property
    def department_name(self) -> str:
        return name_of(self.department, "")

    @property
    def kind_label(self) -> str:
        return gettext(KIND_LABELS.get(self.view.kind, self.view.kind))


def _institutions(session: Session, ids: Iterable[int]) -> dict[int, Institution]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = session.scalars(select(Institution).where(Institution.id.in_(wanted)))
    return {r.id: r for r in rows}


def _departments(session: Session, ids: Iterable[int]) -> dict[int, Department]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = session.scalars(select(Department).where(Department.id.in_(wanted)))
    return {r.id: r for r in rows}


def enrich(session: Session, views: Sequence[VisitView]) -> list[CalendarVisit]:
    """The visits with their site, the expert's home, department, specialty and the version
    of their roster (five queries whatever the number of visits)."""
    sites = _institutions(session, (v.site_institution_id for v in views))
    departments = _departments(session, (v.department_id for v in views if v.department_id))
    homes_of: dict[int, int] = {}
    users = sorted({v.user_id for v in views})
    if users:
        homes_of = {
            uid: iid
            for uid, iid in session.execute(
                select(User.id, User.institution_id).where(User.id.in_(users))
            )
        }
    homes = _institutions(session, homes_of.values())
    codes = sorted({v.specialty_code for v in views})
    specialties = (
        {
            s.code: s
            for s in session.scalars(select(SpecialtyRow).where(SpecialtyRow.code.in_(codes)))
        }
        if codes
        else {}
    )
    plan_ids = sorted({v.plan_id for v in views})
    versions: dict[int, int] = {}
    if plan_ids:
        versions = {
            pid: version
            for pid, version in session.execute(
                select(RosterPlan.id, RosterPlan.version).where(RosterPlan.id.in_(plan_ids))
            )
        }
    return [
        CalendarVisit(
            v,
            sites.get(v.site_institution_id),
            homes.get(homes_of.get(v.user_id, 0)),
            departments.get(v.department_id) if v.department_id else None,
            specialties.get(v.specialty_code),
            versions.get(v.plan_id, 1),
        )
        for v in views
    ]


# --- iCalendar ---------------------------------------------------------------------------------


def event_of(v: CalendarVisit, base_url: str = "") -> ical_feed.DayEvent:
    """One visit as an all-day event, worded in the current language."""
    site = v.site_name
    lines = [
        gettext(N_("Specialty: %(specialty)s"), specialty=v.specialty_name),
    ]
    if v.department_name:
        lines.append(gettext(N_("Department: %(department)s"), department=v.department_name))
    lines.append(gettext(N_("Kind: %(kind)s"), kind=v.kind_label))
    if v.view.travel_minutes:
        lines.append(
            gettext(N_("Travel: about %(minutes)s minutes each way"), minutes=v.view.travel_minutes)
        )
    address = (v.site.address or "").strip() if v.site else ""
    return ical_feed.DayEvent(
        uid=ical_feed.visit_uid(v.view.id),
        day=v.view.day,
        sequence=v.plan_version,
        summary=gettext(SUMMARIES.get(v.view.kind, SUMMARIES["visit"]), site=site),
        description="\n".join(lines),
        location=f"{site}, {address}" if address else site,
        url=f"{base_url.rstrip('/')}/dispatch/me" if base_url else "",
    )


def calendar_text(visits: Sequence[CalendarVisit], stamp: datetime, base_url: str = "") -> str:
    return ical_feed.render(
        [event_of(v, base_url) for v in visits], name=gettext(CALENDAR_NAME), stamp=stamp
    )


def my_visits(session: Session, actor: Actor, first: date, last: date) -> list[CalendarVisit]:
    """The actor's published visits from ``first`` to ``last`` (at most MAX_MY_DAYS days)."""
    check_range(first, last, MAX_MY_DAYS)
    return enrich(session, plans.my_visits(session, actor, first, last))


def my_calendar(session: Session, actor: Actor, base_url: str = "") -> str:
    """The actor's published visits of the feed's window as an iCalendar file."""
    first, last = feed_window(clock.today())
    visits = enrich(session, plans.my_visits(session, actor, first, last))
    audit.record(
        session, actor, "dispatch.calendar.download", object_type=FEED, object_id=actor.user_id
    )
    return calendar_text(visits, clock.now(), base_url)


def open_feed(
    session: Session, token: str, *, info: RequestInfo | None = None, base_url: str = ""
) -> str | None:
    """The calendar of the expert whose live feed ``token`` is, in their language; None (and
    a refused read in the trail) for an unknown or revoked token. The token itself is never
    written anywhere."""
    owner = plans.feed_owner(session, token)
    if owner is None:
        audit.record(
            session,
            None,
            "dispatch.feed.read",
            object_type=FEED,
            outcome=Outcome.FAILURE,
            detail={"code": "feed_not_found"},
            username="calendar-feed",
            info=info,
        )
        return None
    i18n.set_locale(owner.locale if owner.locale in i18n.LOCALES else i18n.DEFAULT_LOCALE)
    first, last = feed_window(clock.today())
    views = plans.published_visits(session, first=first, last=last, user_id=owner.id)
    audit.record(
        session,
        None,
        "dispatch.feed.read",
        object_type=FEED,
        object_id=owner.id,
        detail={"visits": len(views)},
        username=owner.username,
        info=info,
    )
    return calendar_text(enrich(session, views), clock.now(), base_url)


def feed_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/dispatch/feed/{token}.ics"


def webcal_url(url: str) -> str:
    """The same address for calendar apps that subscribe on a ``webcal:`` link."""
    for scheme in ("https://", "http://"):
        if url.startswith(scheme):
            return "webcal://" + url[len(scheme) :]
    return url


# --- conflicts ---------------------------------------------------------------------------------


def open_conflicts(session: Session, actor: Actor, visit_ids: Iterable[int]) -> set[int]:
    """Which of the actor's visits already have a conflict reported and not yet resolved."""
    wanted = sorted(set(visit_ids))
    if not wanted:
        return set()
    return set(
        session.scalars(
            select(RosterConflict.visit_id).where(
                RosterConflict.visit_id.in_(wanted),
                RosterConflict.user_id == actor.user_id,
                RosterConflict.status == "open",
            )
        )
    )


# --- a site's week -----------------------------------------------------------------------------


@dataclass
class SiteDay:
    day: date
    visits: list[CalendarVisit] = field(default_factory=list)


@dataclass
class SiteWeek:
    site: Institution
    monday: date
    days: list[SiteDay]
    # the actor sees everyone coming (the site's own staff), else only their own experts
    everyone: bool


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def site_visits(
    session: Session, actor: Actor, site_id: int, first: date, last: date
) -> list[CalendarVisit]:
    """Who is coming to a site from ``first`` to ``last`` (at most MAX_SITE_DAYS days)."""
    check_range(first, last, MAX_SITE_DAYS)
    return enrich(session, plans.site_visits(session, actor, site_id, first, last))


def site_week(session: Session, actor: Actor, site_id: int, monday: date) -> SiteWeek:
    """Monday to Friday at a site: who is coming each day."""
    friday = monday + timedelta(days=4)
    visits = site_visits(session, actor, site_id, monday, friday)
    site = session.get(Institution, site_id)
    assert site is not None  # plans.site_visits answered 404 otherwise
    by_day: dict[date, list[CalendarVisit]] = defaultdict(list)
    for v in visits:
        by_day[v.view.day].append(v)
    days = [SiteDay(d, by_day.get(d, [])) for d in (monday + timedelta(days=i) for i in range(5))]
    return SiteWeek(site, monday, days, sees_everyone_at(actor, site_id))


def sees_everyone_at(actor: Actor, site_id: int) -> bool:
    """Whether the actor sees every expert coming to the site (as ``plans.site_visits``
    decides: its own staff and registry managers), not only their own institution's."""
    return actor.institution_id == site_id or actor.can(Permission.REGISTRY_MANAGE_ALL)


def sites_of_my_experts(
    session: Session, actor: Actor, first: date, last: date
) -> list[Institution]:
    """The sites the actor's institution's experts visit from ``first`` to ``last`` on the
    published roster (for choosing a site calendar)."""
    ids = session.scalars(
        select(RosterVisit.site_institution_id)
        .join(RosterPlan, RosterPlan.id == RosterVisit.plan_id)
        .join(User, User.id == RosterVisit.user_id)
        .where(
            RosterPlan.status == "published",
            RosterVisit.day >= first,
            RosterVisit.day <= last,
            User.institution_id == actor.institution_id,
        )
        .distinct()
    ).all()
    found = _institutions(session, ids)
    return sorted(found.values(), key=lambda i: (i.name_zh, i.id))
