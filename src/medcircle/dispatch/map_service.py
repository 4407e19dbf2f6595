"""The circle on a map: which institutions take part in a period and how many expert visits
went (or are planned to go) from each home institution to each site.

Everyone with dispatch access sees the whole circle: the map shows institutions, which the
registry shows to all, and numbers of visits per pair, never who made them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from medcircle.agreements.models import CooperationAgreement
from medcircle.auth.domain import Actor, Permission
from medcircle.auth.models import User
from medcircle.dispatch import circle_map
from medcircle.dispatch.calendars import check_range
from medcircle.dispatch.models import RosterPlan, RosterVisit, VisitRecord
from medcircle.kit.errors import FieldError, Forbidden, ValidationFailed
from medcircle.kit.i18n import N_
from medcircle.registry.models import Institution

PLANNED = "planned"
RECORDED = "recorded"
SOURCES = (PLANNED, RECORDED)
# the default period: the last 90 days and the next 90
DEFAULT_DAYS = 90
MAX_DAYS = 3 * 366
BAD_SOURCE = N_("Choose planned visits or recorded visits.")


@dataclass
class Circle:
    first: date
    last: date
    source: str
    institutions: list[Institution]
    flows: list[circle_map.Flow]


def default_period(today: date) -> tuple[date, date]:
    return today - timedelta(days=DEFAULT_DAYS), today + timedelta(days=DEFAULT_DAYS)


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


def circle(session: Session, actor: Actor, first: date, last: date, source: str) -> Circle:
    """The institutions of the circle in the period and the flows of experts between them,
    planned (published roster, visit days) or recorded (visit records, trips)."""
    if not actor.can(Permission.DISPATCH_READ):
        raise Forbidden()
    errors = []
    if source not in SOURCES:
        errors.append(FieldError("source", BAD_SOURCE, code="invalid_source"))
    try:
        check_range(first, last, MAX_DAYS)
    except ValidationFailed as exc:
        errors += exc.field_errors
    if errors:
        raise ValidationFailed(field_errors=errors)
    rows = (
        planned_rows(session, first, last)
        if source == PLANNED
        else recorded_rows(session, first, last)
    )
    flows = circle_map.aggregate(rows)
    ids = parties(session, first, last)
    for f in flows:
        ids |= {f.origin_id, f.site_id}
    return Circle(first, last, source, _institutions(session, ids), flows)
