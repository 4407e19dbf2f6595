"""The circle on a map: which institutions take part in a period, how many expert visits
went (or are planned to go) from each home institution to each site, and how many patients
were referred up or down from each institution to another; by institution or by city.

Everyone with dispatch access sees the whole circle's visits: the map shows institutions,
which the registry shows to all, and numbers of visits per pair, never who made them.
Referrals are counted by the day they were sent (submitted, Beijing time): a draft, or one
withdrawn before it was sent, is never counted; one cancelled after it was sent was sent and
counts, as on the indicators. The commission sees every referral flow; anyone else (a hospital
office, its doctors and experts) sees only the referrals sent by or to their own institution,
and only their numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, or_, select, true
from sqlalchemy.orm import Session

from medcircle.agreements.models import CooperationAgreement
from medcircle.audit import service as audit
from medcircle.audit.service import safe_cells
from medcircle.auth.domain import Actor, Permission
from medcircle.auth.models import User
from medcircle.dispatch import circle_map
from medcircle.dispatch.calendars import check_range, name_of
from medcircle.dispatch.models import RosterPlan, RosterVisit, VisitRecord
from medcircle.kit.clock import CST
from medcircle.kit.errors import FieldError, Forbidden, ValidationFailed
from medcircle.kit.i18n import N_
from medcircle.referrals.models import Referral
from medcircle.registry.models import Division, Institution

PLANNED = "planned"
RECORDED = "recorded"
REFERRALS = "referrals"
PLANNED_AND_REFERRALS = "planned-and-referrals"
RECORDED_AND_REFERRALS = "recorded-and-referrals"
SOURCES = (PLANNED, RECORDED, REFERRALS, RECORDED_AND_REFERRALS, PLANNED_AND_REFERRALS)
BY_INSTITUTION = "institution"
BY_CITY = "city"
GROUPINGS = (BY_INSTITUTION, BY_CITY)
# the default period: the last 90 days and the next 90
DEFAULT_DAYS = 90
MAX_DAYS = 3 * 366
BAD_SOURCE = N_("Choose expert visits (planned or recorded), referrals, or both.")
BAD_GROUPING = N_("Choose by institution or by city.")
BAD_DATE = N_("Enter a date as YYYY-MM-DD.")


@dataclass
class Circle:
    first: date
    last: date
    source: str
    institutions: list[Institution]
    flows: list[circle_map.Flow]
    grouping: str = BY_INSTITUTION
    # the institution whose referrals alone are counted (None: every referral of the circle)
    referrals_of: int | None = None
    # the cities of the institutions, by code
    divisions: dict[str, Division] = field(default_factory=dict)

    @property
    def visits(self) -> str | None:
        """Which expert visits are shown: planned, recorded or none."""
        return visits_of(self.source)

    @property
    def referrals(self) -> bool:
        return with_referrals(self.source)


def visits_of(source: str) -> str | None:
    if source in (PLANNED, PLANNED_AND_REFERRALS):
        return PLANNED
    if source in (RECORDED, RECORDED_AND_REFERRALS):
        return RECORDED
    return None


def with_referrals(source: str) -> bool:
    return source in (REFERRALS, PLANNED_AND_REFERRALS, RECORDED_AND_REFERRALS)


def referrals_of(actor: Actor) -> int | None:
    """Whose referrals ``actor`` sees counted on the map: the commission every institution's
    (None), anyone else their own institution's."""
    return None if actor.can(Permission.AGREEMENT_MANAGE_ALL) else actor.institution_id


def default_period(today: date) -> tuple[date, date]:
    return today - timedelta(days=DEFAULT_DAYS), today + timedelta(days=DEFAULT_DAYS)


def asked_period(first: str | None, last: str | None, today: date) -> tuple[date, date]:
    """The period of a question given as text (``YYYY-MM-DD``), the default for a day not
    given; a day that cannot be read is refused by its field (``invalid_date``)."""
    default_first, default_last = default_period(today)
    days: list[date] = []
    bad: list[FieldError] = []
    for name, raw, default in (("first", first, default_first), ("last", last, default_last)):
        try:
            days.append(date.fromisoformat(raw) if raw else default)
        except ValueError:
            bad.append(FieldError(name, BAD_DATE, code="invalid_date"))
    if bad:
        raise ValidationFailed(field_errors=bad)
    return days[0], days[1]


def planned_rows(session: Session, first: date, last: date) -> list[tuple[int, int, int]]:
    """(home, site, visit days) on the published roster from ``first`` to ``last``."""
    q = (
        select(User.institution_id, RosterVisit.site_institution_id, func.count(RosterVisit.id))
        .join(RosterPlan, RosterPlan.id == RosterVisit.plan_id)
        .join(User, User.id == RosterVisit.user_id)
        .where(RosterPlan.status == "published", RosterVisit.day >= first, RosterVisit.day <= last)
        .group_by(User.institution_id, RosterVisit.site_institution_id)
    )
    return [(int(h), int(s), int(n)) for h, s, n in session.execute(q)]


def recorded_rows(session: Session, first: date, last: date) -> list[tuple[int, int, int]]:
    """(home, site, visits) of the visit records that overlap ``first`` to ``last``."""
    q = (
        select(
            VisitRecord.home_institution_id,
            VisitRecord.site_institution_id,
            func.count(VisitRecord.id),
        )
        .where(VisitRecord.starts_on <= last, VisitRecord.ends_on >= first)
        .group_by(VisitRecord.home_institution_id, VisitRecord.site_institution_id)
    )
    return [(int(h), int(s), int(n)) for h, s, n in session.execute(q)]


def _instant(day: date) -> datetime:
    """The start of ``day`` in Beijing time, as a UTC instant (how timestamps are kept)."""
    return datetime.combine(day, time(), tzinfo=CST).astimezone(UTC)


def referral_rows(
    session: Session, first: date, last: date, institution_id: int | None = None
) -> list[tuple[str, int, int, int]]:
    """(direction, referring institution, receiving institution, referrals) of the referrals
    sent from ``first`` to ``last`` (Beijing days, both included); only those sent by or to
    ``institution_id`` when given."""
    r = Referral
    q = (
        select(
            r.direction,
            r.sender_institution_id,
            r.receiver_institution_id,
            func.count(r.id),
        )
        .where(
            r.submitted_at >= _instant(first),
            r.submitted_at < _instant(last + timedelta(days=1)),
            true()
            if institution_id is None
            else or_(
                r.sender_institution_id == institution_id,
                r.receiver_institution_id == institution_id,
            ),
        )
        .group_by(r.direction, r.sender_institution_id, r.receiver_institution_id)
    )
    return [(str(d), int(a), int(b), int(n)) for d, a, b, n in session.execute(q)]


def parties(session: Session, first: date, last: date) -> set[int]:
    """The institutions of the agreements in force at some time from ``first`` to ``last``."""
    q = select(
        CooperationAgreement.supporting_institution_id,
        CooperationAgreement.supported_institution_id,
    ).where(
        CooperationAgreement.starts_on <= last,
        CooperationAgreement.ends_on > first,
        or_(
            CooperationAgreement.terminated_on.is_(None),
            CooperationAgreement.terminated_on > first,
        ),
    )
    out: set[int] = set()
    for a, b in session.execute(q):
        out |= {int(a), int(b)}
    return out


def _institutions(session: Session, ids: Iterable[int]) -> list[Institution]:
    wanted = sorted(set(ids))
    if not wanted:
        return []
    return list(
        session.scalars(
            select(Institution).where(Institution.id.in_(wanted)).order_by(Institution.id)
        )
    )


def _divisions(session: Session, codes: Iterable[str]) -> dict[str, Division]:
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    return {d.code: d for d in session.scalars(select(Division).where(Division.code.in_(wanted)))}


def circle(
    session: Session,
    actor: Actor,
    first: date,
    last: date,
    source: str,
    grouping: str = BY_INSTITUTION,
) -> Circle:
    """The institutions of the circle in the period and the flows between them: of experts,
    planned (published roster, visit days) or recorded (visit records, trips), of patients
    referred up and down (referrals sent), or visits and referrals together."""
    if not actor.can(Permission.DISPATCH_READ):
        raise Forbidden()
    errors = []
    if source not in SOURCES:
        errors.append(FieldError("source", BAD_SOURCE, code="invalid_source"))
    if grouping not in GROUPINGS:
        errors.append(FieldError("grouping", BAD_GROUPING, code="invalid_grouping"))
    try:
        check_range(first, last, MAX_DAYS)
    except ValidationFailed as exc:
        errors += exc.field_errors
    if errors:
        raise ValidationFailed(field_errors=errors)
    flows: list[circle_map.Flow] = []
    visits = visits_of(source)
    if visits == PLANNED:
        flows += circle_map.aggregate(planned_rows(session, first, last))
    elif visits == RECORDED:
        flows += circle_map.aggregate(recorded_rows(session, first, last))
    scope = referrals_of(actor)
    if with_referrals(source):
        rows = referral_rows(session, first, last, scope)
        for kind in (circle_map.UP, circle_map.DOWN):
            flows += circle_map.aggregate([(a, b, n) for d, a, b, n in rows if d == kind], kind)
    ids = parties(session, first, last)
    for f in flows:
        ids |= {f.origin_id, f.site_id}
    institutions = _institutions(session, ids)
    divisions = _divisions(session, (circle_map.city_of(i.division_code) for i in institutions))
    return Circle(first, last, source, institutions, flows, grouping, scope, divisions)


def audited(session: Session, actor: Actor, c: Circle, action: str = "dispatch.map.read") -> Circle:
    """``c``, with ``actor``'s read (or, ``dispatch.map.export``, download) of it audited."""
    audit.record(
        session,
        actor,
        action,
        object_type="circle_map",
        detail={
            "first": c.first.isoformat(),
            "last": c.last.isoformat(),
            "source": c.source,
            "grouping": c.grouping,
            "referrals_of": c.referrals_of,
        },
    )
    return c


@dataclass
class Shown:
    """What the map draws: its places (institutions or cities), the flows between them, the
    flows within one city (listed, not drawn) and the places' names in the page's language."""

    places: list[circle_map.Place]
    flows: list[circle_map.Flow]
    inside: list[circle_map.Flow]
    names: dict[int, str]

    def rows(self) -> list[tuple[circle_map.Flow, bool]]:
        """Every flow of the table with whether it stays within one city: those drawn, then
        those within one city."""
        return [(f, False) for f in self.flows] + [(f, True) for f in self.inside]

    def totals(self) -> dict[str, int]:
        """The sum of each kind of flow present (those within one city too), by kind."""
        every = [f for f, _ in self.rows()]
        kinds = [k for k in circle_map.KINDS if any(f.kind == k for f in every)]
        return {k: sum(f.count for f in every if f.kind == k) for k in kinds}


def _places(c: Circle) -> list[circle_map.Place]:
    return [
        circle_map.Place(i.id, name_of(i), i.level, i.latitude, i.longitude) for i in c.institutions
    ]


def _by_city(c: Circle) -> circle_map.Grouped:
    city = {i.id: int(circle_map.city_of(i.division_code)) for i in c.institutions}
    names = {int(code): name_of(d, code) for code, d in c.divisions.items()}
    centres = {
        int(code): (d.latitude, d.longitude)
        for code, d in c.divisions.items()
        if d.latitude is not None and d.longitude is not None
    }
    return circle_map.group(_places(c), c.flows, city, names, centres)


def cities(c: Circle) -> list[circle_map.Place]:
    """The cities of the circle's institutions as the map places them by city (the id of
    each is its division code)."""
    return _by_city(c).places


def shown(c: Circle) -> Shown:
    """The circle's places and flows by institution, or merged into their cities."""
    if c.grouping != BY_CITY:
        places = _places(c)
        return Shown(places, c.flows, [], {p.id: p.name for p in places})
    g = _by_city(c)
    return Shown(g.places, g.flows, g.inside, {p.id: p.name for p in g.places})


CSV_COLUMNS = ("kind", "from", "to", "count", "within_one_city")


def csv_text(s: Shown) -> str:
    """The table of flows as CSV (UTF-8 with BOM so spreadsheets read Chinese): the kind
    (visits, up, down), the places in the page's language and the count; cells that start
    like a formula are quoted so they stay text."""
    buf = io.StringIO()
    buf.write("\ufeff")
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    for f, within in s.rows():
        writer.writerow(
            safe_cells(
                f.kind,
                s.names.get(f.origin_id, "?"),
                s.names.get(f.site_id, "?"),
                f.count,
                "yes" if within else "no",
            )
        )
    return buf.getvalue()


def csv_name(c: Circle) -> str:
    return f"circle-map-{c.source}-{c.grouping}-{c.first}-{c.last}.csv"
