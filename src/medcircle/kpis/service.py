"""Computing the indicators live. Those of hospital activity read the monthly summary
(``activity_month``) that every import keeps up to date: a year of a region is a few grouped
sums over that summary, not a scan of the records. The others group their own records (visit
records, referrals, consultations, cleanroom admissions) in the database, by month and
institution; cleanroom occupancy counts room-days in Python over the year's stays.

Who sees what: the commission (and a platform administrator) every indicator for any region
and institution; a hospital office its own institution's institution-level indicators.
"""

from __future__ import annotations

import calendar
import csv
import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select, true
from sqlalchemy.orm import Session, aliased

from medcircle.activity.models import ActivityMonth, ActivityMonthSpecialty
from medcircle.activity.summary import days_between, month_of
from medcircle.agreements.models import CooperationAgreement
from medcircle.audit import service as audit
from medcircle.audit.service import safe_cells
from medcircle.auth.domain import Actor, Permission
from medcircle.consultations.models import Consultation
from medcircle.dispatch.models import VisitOperation, VisitRecord
from medcircle.kit import clock
from medcircle.kit.clock import CST
from medcircle.kit.errors import FieldError, Forbidden, NotFound, ValidationFailed
from medcircle.kit.i18n import N_
from medcircle.kpis import periods
from medcircle.kpis.catalogue import (
    BY_SLUG,
    CAPITAL,
    Breakdown,
    Indicator,
    Scope,
    Unit,
    province_of,
    share,
)
from medcircle.pools.models import Admission, ResourcePool, ResourceUnit, WaitlistEntry
from medcircle.referrals.models import Referral
from medcircle.registry.domain import SPECIALTY_BY_CODE, Level
from medcircle.registry.models import Alliance, AllianceMember, Department, Division, Institution

FIRST_YEAR = 2000
# the longest trend, in calendar years
MAX_TREND_YEARS = 20
VISITS = ("outpatient", "emergency")
STAYS = "inpatient"


@dataclass(frozen=True)
class Figure:
    """One line of a breakdown: a month (``2024-03``), an institution (its code), an alliance
    (its code), a specialty (its code; ``-`` for records that name none), a year (``2024``) or
    a run of months (``2014-06/2015-05``)."""

    key: str
    label_zh: str
    label_en: str
    value: float | None
    numerator: int
    denominator: int


@dataclass(frozen=True)
class Computed:
    indicator: Indicator
    year: int
    region: str | None
    institution: str | None
    value: float | None
    numerator: int
    denominator: int
    by_month: list[Figure]
    by_institution: list[Figure]
    # empty where the indicator does not declare the breakdown
    by_alliance: list[Figure] = field(default_factory=list)
    by_specialty: list[Figure] = field(default_factory=list)


@dataclass(frozen=True)
class Milestone:
    """An agreement of the institution, marked on its trend where it starts."""

    code: str
    kind: str
    title_zh: str
    title_en: str
    starts_on: date
    # the other party, and whether the institution is the supporting side
    partner: str
    partner_zh: str
    partner_en: str
    supporting: bool


@dataclass(frozen=True)
class BeforeAfter:
    """The indicator over the twelve months before an agreement's start and the twelve from
    it, and the change (after − before, after ÷ before)."""

    agreement: Milestone
    before: Figure
    after: Figure
    difference: float | None
    ratio: float | None
    # False while the months after are not all past
    complete: bool


@dataclass(frozen=True)
class Trend:
    indicator: Indicator
    first_year: int
    last_year: int
    region: str | None
    institution: str | None
    by_year: list[Figure]
    agreements: list[Milestone]
    before_after: BeforeAfter | None


def indicator(slug: str) -> Indicator:
    found = BY_SLUG.get(slug)
    if found is None:
        raise NotFound(N_("No indicator %(slug)s."), code="unknown_indicator", slug=slug)
    return found


def audited(
    session: Session, actor: Actor, action: str, slug: str | None = None, **asked: Any
) -> None:
    """Keep ``actor``'s read or export of indicators in the audit trail, with what was asked
    (the figures are sums over records and name no patient, but who looked at what is kept,
    as for every other view and export). ``slug``: the indicator, None for the dashboard or the
    bulletin (then ``asked`` names the year and region)."""
    audit.record(
        session,
        actor,
        action,
        object_type="indicator" if slug else "indicators",
        object_id=slug,
        detail={k: v for k, v in asked.items() if v is not None},
    )


def audited_computed(
    session: Session, actor: Actor, action: str, c: Computed, **more: Any
) -> Computed:
    """``c``, with ``actor``'s read (or export) of it audited."""
    audited(
        session,
        actor,
        action,
        c.indicator.slug,
        year=c.year,
        region=c.region,
        institution=c.institution,
        **more,
    )
    return c


def audited_trend(session: Session, actor: Actor, action: str, t: Trend, **more: Any) -> Trend:
    """``t``, with ``actor``'s read (or export) of it audited (and the agreement compared)."""
    audited(
        session,
        actor,
        action,
        t.indicator.slug,
        first=t.first_year,
        last=t.last_year,
        region=t.region,
        institution=t.institution,
        agreement=t.before_after.agreement.code if t.before_after else None,
        **more,
    )
    return t


def may_read(actor: Actor, ind: Indicator) -> bool:
    if actor.can(Permission.AGREEMENT_MANAGE_ALL):
        return True
    return ind.scope is Scope.INSTITUTION and actor.can(Permission.ACTIVITY_IMPORT)


def readable(actor: Actor) -> list[Indicator]:
    """The indicators the actor may compute."""
    return [i for i in BY_SLUG.values() if may_read(actor, i)]


def _bad(field: str, code: str, message: str, **params: Any) -> ValidationFailed:
    return ValidationFailed(
        code=code, field_errors=[FieldError(field, message, params=params, code=code)]
    )


def compute(
    session: Session,
    actor: Actor,
    slug: str,
    year: int,
    *,
    region: str | None = None,
    institution: str | None = None,
    today: date | None = None,
) -> Computed:
    """One indicator over a calendar year, for a region (a province code; the region
    indicators need one) or an institution (a code), with its breakdowns by month and by
    institution (and by alliance and by specialty where the indicator has them)."""
    ind = _readable(actor, slug)
    today = today or clock.today()
    _check_year("year", year, today)
    inst = _where(session, actor, ind, region, institution)
    months = periods.year_months(year)
    days = {m: periods.days_in(m, today) for m in months}
    parts = _parts(session, ind, months, region, inst, today)
    specialties = None
    if ind.source == "activity" and Breakdown.SPECIALTY in ind.breakdowns:
        specialties = _parts(session, ind, months, region, inst, today, by_specialty=True)
    return _assemble(session, ind, year, region, inst, parts, days, specialties)


def trend(
    session: Session,
    actor: Actor,
    slug: str,
    first_year: int,
    last_year: int,
    *,
    region: str | None = None,
    institution: str | None = None,
    agreement: str | None = None,
    today: date | None = None,
) -> Trend:
    """One indicator year by year, computed as ``compute`` computes one year (one reading of
    the records over the whole range). For an institution, its agreements (either side) are
    marked where they start, and the indicator is given over the twelve months before and
    the twelve from the start of ``agreement`` (a code; by default the earliest)."""
    ind = _readable(actor, slug)
    today = today or clock.today()
    _check_year("first", first_year, today)
    _check_year("last", last_year, today)
    if first_year > last_year:
        raise _bad("first", "bad_range", N_("The first year comes after the last."))
    if last_year - first_year + 1 > MAX_TREND_YEARS:
        raise _bad(
            "last",
            "range_too_long",
            N_("Choose at most %(years)s years."),
            years=MAX_TREND_YEARS,
        )
    inst = _where(session, actor, ind, region, institution)
    milestones = _milestones(session, inst) if inst is not None else []
    chosen = None
    if agreement is not None:
        chosen = next((a for a in milestones if a.code == agreement), None)
        if chosen is None:
            raise _bad(
                "agreement",
                "unknown_agreement",
                N_("%(agreement)s is not an agreement of this institution."),
                agreement=agreement,
            )
    elif milestones:
        chosen = milestones[0]
    months = periods.year_months(first_year, last_year)
    windows = periods.around(chosen.starts_on) if chosen is not None else ([], [])
    # one reading of the records covers the years and the months compared
    span = periods.months(min([months[0], *windows[0]]), max([months[-1], *windows[1]]))
    days = {m: periods.days_in(m, today) for m in span}
    parts = _parts(session, ind, span, region, inst, today)
    by_year = []
    for year in range(first_year, last_year + 1):
        of_year = {m: days[m] for m in periods.year_months(year)}
        by_year.append(_total(ind, str(year), parts, of_year))
    before_after = None
    if chosen is not None:
        before, after = (
            _total(ind, periods.spans(w), parts, {m: days[m] for m in w}) for w in windows
        )
        difference, ratio = periods.change(before.value, after.value)
        before_after = BeforeAfter(
            agreement=chosen,
            before=before,
            after=after,
            difference=difference,
            ratio=ratio,
            complete=windows[1][-1] < periods.month_of(today),
        )
    return Trend(
        indicator=ind,
        first_year=first_year,
        last_year=last_year,
        region=region,
        institution=inst.code if inst is not None else None,
        by_year=by_year,
        agreements=milestones,
        before_after=before_after,
    )


def _readable(actor: Actor, slug: str) -> Indicator:
    ind = indicator(slug)
    if not may_read(actor, ind):
        raise Forbidden()
    return ind


def _check_year(name: str, year: int, today: date) -> None:
    if not FIRST_YEAR <= year <= today.year:
        raise _bad(
            name,
            "bad_year",
            N_("Choose a year from %(first)s to %(last)s."),
            first=FIRST_YEAR,
            last=today.year,
        )


def _where(
    session: Session,
    actor: Actor,
    ind: Indicator,
    region: str | None,
    institution: str | None,
) -> Institution | None:
    """Check the region and the institution asked (a hospital office is given its own); the
    institution, if any."""
    if region is not None:
        found = session.get(Division, region)
        if found is None or province_of(region) != region:
            raise _bad(
                "region",
                "unknown_region",
                N_("%(region)s is not a province-level division."),
                region=region,
            )
    inst: Institution | None = None
    if institution is not None:
        inst = session.scalar(select(Institution).where(Institution.code == institution))
        if inst is None or not _may_see(actor, inst):
            raise NotFound(
                N_("No institution %(institution)s."),
                code="unknown_institution",
                institution=institution,
            )
    elif not actor.can(Permission.AGREEMENT_MANAGE_ALL):
        # a hospital office sees its own institution
        inst = session.get(Institution, actor.institution_id)
        if inst is None:
            raise Forbidden()
    if ind.scope is Scope.REGION and region is None:
        raise _bad("region", "region_required", N_("Choose a region."))
    return inst


def _parts(
    session: Session,
    ind: Indicator,
    months: list[str],
    region: str | None,
    inst: Institution | None,
    today: date,
    *,
    by_specialty: bool = False,
) -> Parts:
    """The indicator's numerators and denominators over a run of months, by month,
    institution and specialty (for the activity indicators, the specialty only when asked
    ``by_specialty``: it is read from a summary of its own)."""
    if ind.source == "visits":
        return _expert_visits(session, ind.slug, months, region, inst)
    if ind.source == "referrals":
        return _referrals(session, ind.slug, months, region, inst)
    if ind.source == "pools":
        return _cleanrooms(session, ind.slug, months, region, inst, today)
    if ind.source == "consultations":
        return _consultations(session, ind.slug, months, region, inst)
    summary = _BY_SPECIALTY if by_specialty else _BY_CITY
    if ind.slug == "outpatient-visits-per-day":
        return _visits(session, months, region, inst, summary)
    assert region is not None
    if ind.slug == "outflow-share":
        return _outflow(session, months, region, inst, summary)
    return _local(session, months, region, inst, summary)


def _milestones(session: Session, inst: Institution) -> list[Milestone]:
    """The institution's agreements, on either side, by their start."""
    partner = aliased(Institution)
    supporting = CooperationAgreement.supporting_institution_id == inst.id
    found: Any = session.execute(
        select(CooperationAgreement, partner)
        .join(
            partner,
            partner.id
            == case(
                (supporting, CooperationAgreement.supported_institution_id),
                else_=CooperationAgreement.supporting_institution_id,
            ),
        )
        .where(or_(supporting, CooperationAgreement.supported_institution_id == inst.id))
        .order_by(CooperationAgreement.starts_on, CooperationAgreement.code)
    )
    return [
        Milestone(
            code=a.code,
            kind=a.kind,
            title_zh=a.title_zh,
            title_en=a.title_en,
            starts_on=a.starts_on,
            partner=p.code,
            partner_zh=p.name_zh,
            partner_en=p.name_en,
            supporting=a.supporting_institution_id == inst.id,
        )
        for a, p in found
    ]


def _may_see(actor: Actor, inst: Institution) -> bool:
    return actor.can(Permission.AGREEMENT_MANAGE_ALL) or inst.id == actor.institution_id


# (month, institution id, specialty code or "") -> (numerator, denominator); for a count per day
# the denominator is 0 and the days of the months are used
Key = tuple[str, int, str]
Parts = dict[Key, tuple[int, int]]
NO_SPECIALTY = ""
# the month and institution of a part by specialty alone
ANY_MONTH = ""
ANY_INSTITUTION = 0


@dataclass(frozen=True)
class _Summary:
    """One of the activity summaries, as the activity indicators read it: by the patients'
    city (the indicators' own figures), or by their province and the specialty (the
    breakdown by specialty)."""

    table: Any
    residence: Any
    specialty: Any | None

    def columns(self) -> list[Any]:
        """What the parts are grouped by: month and institution, or the specialty alone (the
        breakdown by specialty sums over the months and institutions)."""
        if self.specialty is None:
            return [self.table.month, self.table.institution_id]
        return [self.specialty]

    def key(self, row: Sequence[Any]) -> tuple[Key, Sequence[Any]]:
        """The part's key of a row grouped by :meth:`columns`, and the rest of the row."""
        if self.specialty is None:
            return (row[0], row[1], NO_SPECIALTY), row[2:]
        return (ANY_MONTH, ANY_INSTITUTION, row[0]), row[1:]

    def in_months(self, months: list[str]) -> ColumnElement[bool]:
        return self.table.month.between(months[0], months[-1])  # type: ignore[no-any-return]

    def lives_in(self, region: str) -> ColumnElement[bool]:
        if self.specialty is not None:
            # the summary by specialty keeps the province itself
            return self.residence == region  # type: ignore[no-any-return]
        return self.residence.startswith(region[:2], autoescape=True)  # type: ignore[no-any-return]


_BY_CITY = _Summary(ActivityMonth, ActivityMonth.residence_city, None)
_BY_SPECIALTY = _Summary(
    ActivityMonthSpecialty,
    ActivityMonthSpecialty.residence_province,
    ActivityMonthSpecialty.specialty,
)


def _visits(
    session: Session,
    months: list[str],
    region: str | None,
    inst: Institution | None,
    summary: _Summary = _BY_CITY,
) -> Parts:
    t = summary.table
    where = [summary.in_months(months), t.type.in_(VISITS)]
    if inst is not None:
        where.append(t.institution_id == inst.id)
    q = select(*summary.columns(), func.sum(t.starts)).where(*where).group_by(*summary.columns())
    if region is not None:
        q = q.join(Institution, Institution.id == t.institution_id).where(
            Institution.province_code == region
        )
    out: Parts = {}
    for row in session.execute(q):
        key, (n,) = summary.key(row)
        out[key] = (int(n), 0)
    return out


def _outflow(
    session: Session,
    months: list[str],
    region: str,
    inst: Institution | None,
    summary: _Summary = _BY_CITY,
) -> Parts:
    """Discharges of the capital's secondary-and-above hospitals: of the region's residents,
    and all."""
    t = summary.table
    q = (
        select(
            *summary.columns(),
            func.sum(case((summary.lives_in(region), t.ends), else_=0)),
            func.sum(t.ends),
        )
        .join(Institution, Institution.id == t.institution_id)
        .where(
            summary.in_months(months),
            t.type == STAYS,
            Institution.province_code == CAPITAL,
            Institution.level.in_((Level.SECONDARY.value, Level.TERTIARY.value)),
            true() if inst is None else t.institution_id == inst.id,
        )
        .group_by(*summary.columns())
    )
    out: Parts = {}
    for row in session.execute(q):
        key, (a, b) = summary.key(row)
        out[key] = (int(a), int(b))
    return out


def _local(
    session: Session,
    months: list[str],
    region: str,
    inst: Institution | None,
    summary: _Summary = _BY_CITY,
) -> Parts:
    """Visits and admissions of the region's residents: at institutions inside the region,
    and everywhere (by institution, so the breakdown shows where they went)."""
    t = summary.table
    inside = Institution.province_code == region
    q = (
        select(*summary.columns(), inside, func.sum(t.starts))
        .join(Institution, Institution.id == t.institution_id)
        .where(
            summary.in_months(months),
            summary.lives_in(region),
            true() if inst is None else t.institution_id == inst.id,
        )
        .group_by(*summary.columns(), inside)
    )
    out: Parts = {}
    for row in session.execute(q):
        key, (local, n) = summary.key(row)
        out[key] = (int(n) if local else 0, int(n))
    return out


# what each visit indicator sums over the records
_VISIT_MEASURES = ("out-calls", "expert-person-visits", "patients-received", "visiting-operations")


def _expert_visits(
    session: Session, slug: str, months: list[str], region: str | None, inst: Institution | None
) -> Parts:
    """Visit records starting in the months, by month, home institution (the experts') and
    specialty (the record's, or its department's): counted, their days on site, outpatients
    seen and operations summed."""
    postgres = session.get_bind().dialect.name == "postgresql"
    ops = (
        select(VisitOperation.visit_id, func.sum(VisitOperation.count).label("n"))
        .group_by(VisitOperation.visit_id)
        .subquery()
    )
    v = VisitRecord
    month = month_of(v.starts_on, postgres)
    site = aliased(Institution)
    specialty = func.coalesce(v.specialty_code, Department.specialty_code, NO_SPECIALTY)
    q = (
        select(
            month,
            v.home_institution_id,
            specialty,
            func.count(),
            func.sum(days_between(v.starts_on, v.ends_on, postgres) + 1),
            func.sum(v.outpatients),
            func.sum(func.coalesce(ops.c.n, 0)),
        )
        .outerjoin(ops, ops.c.visit_id == v.id)
        .outerjoin(Department, Department.id == v.department_id)
        .join(site, site.id == v.site_institution_id)
        .where(
            v.starts_on.between(*_first_and_last_day(months)),
            true() if region is None else site.province_code == region,
            true()
            if inst is None
            else or_(v.home_institution_id == inst.id, v.site_institution_id == inst.id),
        )
        .group_by(month, v.home_institution_id, specialty)
    )
    at = 3 + _VISIT_MEASURES.index(slug)
    found: Any = session.execute(q)
    return {(row[0], row[1], row[2]): (int(row[at] or 0), 0) for row in found}


def _first_and_last_day(months: list[str]) -> tuple[date, date]:
    last = months[-1]
    end = calendar.monthrange(int(last[:4]), int(last[5:]))[1]
    return date.fromisoformat(months[0] + "-01"), date.fromisoformat(f"{last}-{end:02d}")


def _cst_month(column: Any, postgres: bool) -> ColumnElement[str]:
    """YYYY-MM of a UTC timestamp, in Beijing time (SQLite keeps them as naive UTC text)."""
    if postgres:
        return func.to_char(func.timezone("Asia/Shanghai", column), "YYYY-MM")
    return func.substr(func.datetime(column, "+8 hours"), 1, 7)


def _bounds(months: list[str]) -> tuple[datetime, datetime]:
    """The months in Beijing time, as UTC instants (the end excluded)."""
    after = periods.shift(months[-1], 1)
    return (
        datetime(int(months[0][:4]), int(months[0][5:]), 1, tzinfo=CST).astimezone(UTC),
        datetime(int(after[:4]), int(after[5:]), 1, tzinfo=CST).astimezone(UTC),
    )


def _referrals(
    session: Session, slug: str, months: list[str], region: str | None, inst: Institution | None
) -> Parts:
    """Referrals submitted in the months, by month, the local side (the sender of a referral
    up, the receiver of one down) and the specialty of the receiving department: up and down
    counted, the waits for an appointment summed, and the costs families avoided (those that
    kept care local have one) summed in fen over the referrals that have one."""
    postgres = session.get_bind().dialect.name == "postgresql"
    r = Referral
    local = case((r.direction == "up", r.sender_institution_id), else_=r.receiver_institution_id)
    place = aliased(Institution)
    month = _cst_month(r.submitted_at, postgres)
    start, end = _bounds(months)
    waited = r.direction == "up"
    if slug == "referral-wait-days":
        # the upward referrals given an appointment
        waited = and_(r.direction == "up", r.appointment_at.is_not(None))
    q = (
        select(
            month,
            local,
            Department.specialty_code,
            func.sum(case((r.direction == "up", 1), else_=0)),
            func.sum(case((r.direction == "down", 1), else_=0)),
            func.coalesce(
                func.sum(case((waited, _seconds(r.submitted_at, r.appointment_at, postgres)))), 0
            ),
            func.sum(case((waited, 1), else_=0)),
            func.coalesce(func.sum(r.saving_yuan), 0),
            func.count(r.saving_yuan),
        )
        .join(place, place.id == local)
        .join(Department, Department.id == r.receiver_department_id)
        .where(
            r.submitted_at >= start,
            r.submitted_at < end,
            true() if region is None else place.province_code == region,
            true()
            if inst is None
            else or_(r.sender_institution_id == inst.id, r.receiver_institution_id == inst.id),
        )
        .group_by(month, local, Department.specialty_code)
    )
    found: Any = session.execute(q)
    out: Parts = {}
    for m, i, spec, up, down, seconds, waits, yuan, saved in found:
        up, down = int(up or 0), int(down or 0)
        out[(m, i, spec)] = {
            "referrals-up": (up, 0),
            "referrals-down": (down, 0),
            "referral-wait-days": (round(seconds or 0), int(waits or 0)),
            "family-costs-avoided": (round(float(yuan) * 100), int(saved)),
        }.get(slug, (down, up))
    return out


def _seconds(start: Any, end: Any, postgres: bool) -> Any:
    """The seconds from one timestamp column to another."""
    if postgres:
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def _cleanrooms(
    session: Session,
    slug: str,
    months: list[str],
    region: str | None,
    inst: Institution | None,
    today: date,
) -> Parts:
    """Cleanroom admissions of the months by month and the room's institution: their waits
    from listing; or the room-days occupied against the room-days of the pools' cleanrooms."""
    postgres = session.get_bind().dialect.name == "postgresql"
    place = aliased(Institution)
    where = [
        ResourcePool.kind == "cleanroom",
        true() if region is None else place.province_code == region,
        true() if inst is None else ResourceUnit.institution_id == inst.id,
    ]
    start, end = _bounds(months)
    if slug == "cleanroom-wait-days":
        month = _cst_month(Admission.admitted_at, postgres)
        q = (
            select(
                month,
                ResourceUnit.institution_id,
                func.sum(_seconds(WaitlistEntry.listed_at, Admission.admitted_at, postgres)),
                func.count(),
            )
            .join(ResourceUnit, ResourceUnit.id == Admission.unit_id)
            .join(ResourcePool, ResourcePool.id == ResourceUnit.pool_id)
            .join(WaitlistEntry, WaitlistEntry.id == Admission.entry_id)
            .join(place, place.id == ResourceUnit.institution_id)
            .where(Admission.admitted_at >= start, Admission.admitted_at < end, *where)
            .group_by(month, ResourceUnit.institution_id)
        )
        found: Any = session.execute(q)
        return {(m, i, NO_SPECIALTY): (round(sec or 0), int(n)) for m, i, sec, n in found}
    # occupancy: day by day within the months, in Beijing time
    first, last = _first_and_last_day(months)
    units: Any = session.execute(
        select(ResourceUnit.institution_id, ResourceUnit.created_at)
        .join(ResourcePool, ResourcePool.id == ResourceUnit.pool_id)
        .join(place, place.id == ResourceUnit.institution_id)
        .where(*where)
    )
    out: dict[Key, list[int]] = {}

    def add(i: int, a: date, b: date, which: int) -> None:
        """Count the days from ``a`` to ``b`` (both included) into their months."""
        a, b = max(a, first), min(b, last, today)
        while a <= b:
            month_end = date(a.year, a.month, calendar.monthrange(a.year, a.month)[1])
            stop = min(b, month_end)
            at = out.setdefault((periods.month_of(a), i, NO_SPECIALTY), [0, 0])
            at[which] += (stop - a).days + 1
            a = stop + timedelta(days=1)

    for i, created in units:
        add(i, created.astimezone(CST).date(), last, 1)
    stays: Any = session.execute(
        select(ResourceUnit.institution_id, Admission.admitted_at, Admission.discharged_at)
        .join(ResourceUnit, ResourceUnit.id == Admission.unit_id)
        .join(ResourcePool, ResourcePool.id == ResourceUnit.pool_id)
        .join(place, place.id == ResourceUnit.institution_id)
        .where(
            Admission.admitted_at < end,
            or_(Admission.discharged_at.is_(None), Admission.discharged_at >= start),
            *where,
        )
    )
    for i, admitted, discharged in stays:
        # the day of discharge is the room's again (cleaning counts as free of patients)
        left = discharged.astimezone(CST).date() - timedelta(days=1) if discharged else last
        add(i, admitted.astimezone(CST).date(), left, 0)
    return {k: (a, b) for k, (a, b) in out.items()}


def _consultations(
    session: Session, slug: str, months: list[str], region: str | None, inst: Institution | None
) -> Parts:
    """Consultations asked in the months, by month, asking institution and specialty (the
    pool asked): counted, their time to the first opinion summed over those answered, and
    those answered within target."""
    postgres = session.get_bind().dialect.name == "postgresql"
    c = Consultation
    place = aliased(Institution)
    month = _cst_month(c.asked_at, postgres)
    start, end = _bounds(months)
    q = (
        select(
            month,
            c.asker_institution_id,
            c.specialty_code,
            func.count(),
            func.coalesce(func.sum(c.first_answer_seconds), 0),
            func.count(c.first_answer_seconds),
            func.sum(case((c.within_target.is_(True), 1), else_=0)),
            func.count(c.within_target),
        )
        .join(place, place.id == c.asker_institution_id)
        .where(
            c.asked_at >= start,
            c.asked_at < end,
            true() if region is None else place.province_code == region,
            true()
            if inst is None
            else or_(c.asker_institution_id == inst.id, c.answer_institution_id == inst.id),
        )
        .group_by(month, c.asker_institution_id, c.specialty_code)
    )
    found: Any = session.execute(q)
    out: Parts = {}
    for m, i, spec, asked, seconds, answered, within, known in found:
        if slug == "remote-consultations":
            out[(m, i, spec)] = (int(asked), 0)
        elif slug == "consultation-answer-minutes":
            out[(m, i, spec)] = (int(seconds), int(answered))
        else:
            out[(m, i, spec)] = (int(within or 0), int(known))
    return out


def _figure(ind: Indicator, key: str, zh: str, en: str, num: int, den: int) -> Figure:
    """A line of the indicator from its numerator and denominator, in its unit."""
    if ind.unit is Unit.COUNT:
        return Figure(key, zh, en, float(num), num, 0)
    if ind.unit is Unit.YUAN:
        # a sum of fen, given in yuan (no records: nothing avoided, 0 as for a count)
        return Figure(key, zh, en, num / 100, num, den)
    value = share(num, den)
    if value is not None and ind.unit is Unit.MINUTES:
        value /= 60
    elif value is not None and ind.unit is Unit.DAYS:
        value /= 86400
    return Figure(key, zh, en, value, num, den)


def _total(ind: Indicator, key: str, parts: Parts, days: dict[str, int]) -> Figure:
    """The indicator over the months of ``days`` (for visits per day: one institution's, or
    the sum of a region's institutions, over those days)."""
    num = den = 0
    seen = False
    for (m, _, _), (a, b) in parts.items():
        if m in days:
            num, den, seen = num + a, den + b, True
    if ind.unit is Unit.PER_DAY:
        den = sum(days.values())
        if not seen:
            # no visit recorded in the period: no data, not none a day
            return Figure(key, "", "", None, 0, den)
    return _figure(ind, key, "", "", num, den)


def _sums(parts: Parts, groups: Callable[[Key], Iterable[Any]]) -> dict[Any, list[int]]:
    """The numerators and denominators summed by group (a part may be in several groups, or
    none)."""
    out: dict[Any, list[int]] = {}
    for k, (a, b) in parts.items():
        for g in groups(k):
            at = out.setdefault(g, [0, 0])
            at[0] += a
            at[1] += b
    return out


def _assemble(
    session: Session,
    ind: Indicator,
    year: int,
    region: str | None,
    inst: Institution | None,
    parts: Parts,
    days: dict[str, int],
    specialties: Parts | None = None,
) -> Computed:
    """The computed indicator from its parts (``specialties``: the parts by specialty, where
    they come from elsewhere than ``parts``)."""
    per_day = ind.unit is Unit.PER_DAY
    institutions = {
        i.id: i
        for i in session.scalars(
            select(Institution).where(Institution.id.in_({i for _, i, _ in parts}))
        )
    }
    total_days = sum(days.values())
    all_b = sum(b for _, b in parts.values())

    def placed(key: str, zh: str, en: str, sums: list[int]) -> Figure:
        """A line of a place (an institution, an alliance)."""
        num, den = sums
        if per_day:
            den = total_days
        elif ind.slug == "local-treatment-rate":
            # the place's part of all the region's residents' encounters
            num, den = den, all_b
        return _figure(ind, key, zh, en, num, den)

    months = _sums(parts, lambda k: (k[0],))
    by_month = []
    for m in days:
        num, den = months.get(m, [0, 0])
        if per_day and m not in months:
            by_month.append(Figure(m, m, m, None, 0, days[m]))
            continue
        by_month.append(_figure(ind, m, m, m, num, days[m] if per_day else den))
    places = _sums(parts, lambda k: (k[1],))
    by_institution = [
        placed(i.code, i.name_zh, i.name_en, places[iid])
        for iid, i in sorted(institutions.items(), key=lambda kv: kv[1].code)
    ]
    by_alliance = []
    if Breakdown.ALLIANCE in ind.breakdowns:
        alliances, members = _memberships(session, set(institutions))
        sums = _sums(parts, lambda k: members(k[0], k[1]))
        by_alliance = [
            placed(a.code, a.name_zh, a.name_en, sums[a.id]) for a in alliances if a.id in sums
        ]
    by_specialty = []
    if Breakdown.SPECIALTY in ind.breakdowns:
        by_code = _sums(parts if specialties is None else specialties, lambda k: (k[2],))
        for code, (num, den) in sorted(by_code.items()):
            known = SPECIALTY_BY_CODE.get(code)
            zh, en = (known.name_zh, known.name_en) if known else _UNNAMED.get(code, (code, code))
            by_specialty.append(
                _figure(ind, code or "-", zh, en, num, total_days if per_day else den)
            )
    total = _total(ind, "total", parts, days)
    return Computed(
        indicator=ind,
        year=year,
        region=region,
        institution=inst.code if inst is not None else None,
        value=total.value,
        numerator=total.numerator,
        denominator=total.denominator,
        by_month=by_month,
        by_institution=by_institution,
        by_alliance=by_alliance,
        by_specialty=by_specialty,
    )


# the records that name no specialty
_UNNAMED = {NO_SPECIALTY: ("未注明专科", "No specialty named")}


def _memberships(
    session: Session, institution_ids: set[int]
) -> tuple[list[Alliance], Callable[[str, int], list[int]]]:
    """The alliances the institutions were members of (by code), and which of them an
    institution was a member of in a month."""
    rows: Any = session.execute(
        select(
            Alliance,
            AllianceMember.institution_id,
            AllianceMember.joined_on,
            AllianceMember.left_on,
        )
        .join(AllianceMember, AllianceMember.alliance_id == Alliance.id)
        .where(AllianceMember.institution_id.in_(institution_ids))
        .order_by(Alliance.code)
    )
    alliances: dict[int, Alliance] = {}
    spells: dict[int, list[tuple[int, date, date | None]]] = {}
    for a, iid, joined, left in rows:
        alliances[a.id] = a
        spells.setdefault(iid, []).append((a.id, joined, left))

    def members(month: str, iid: int) -> list[int]:
        return [a for a, j, lt in spells.get(iid, ()) if periods.is_member(month, j, lt)]

    return list(alliances.values()), members


CSV_COLUMNS = (
    "indicator",
    "year",
    "region",
    "breakdown",
    "key",
    "label_zh",
    "label_en",
    "value",
    "numerator",
    "denominator",
)


def table_rows(c: Computed) -> list[tuple[Any, ...]]:
    """The indicator with its breakdowns as rows of ``CSV_COLUMNS``: the total, each month,
    each institution, each alliance, each specialty."""
    total = Figure("*", "", "", c.value, c.numerator, c.denominator)
    lines = [("total", total), *(("month", f) for f in c.by_month)]
    lines += [("institution", f) for f in c.by_institution]
    lines += [("alliance", f) for f in c.by_alliance]
    lines += [("specialty", f) for f in c.by_specialty]
    return [
        (
            c.indicator.slug,
            c.year,
            c.region or "",
            breakdown,
            f.key,
            f.label_zh,
            f.label_en,
            f.value,
            f.numerator,
            f.denominator,
        )
        for breakdown, f in lines
    ]


TREND_COLUMNS = (
    "indicator",
    "years",
    "region",
    "institution",
    "breakdown",
    "key",
    "label_zh",
    "label_en",
    "value",
    "numerator",
    "denominator",
)


def trend_rows(t: Trend) -> list[tuple[Any, ...]]:
    """The trend as rows of ``TREND_COLUMNS``: each year; each agreement (its start as the
    key, no value); the months before and after the agreement compared, with the difference
    and the ratio."""
    lines: list[tuple[str, Figure]] = [("year", f) for f in t.by_year]
    for a in t.agreements:
        lines.append(
            ("agreement", Figure(a.starts_on.isoformat(), a.title_zh, a.title_en, None, 0, 0))
        )
    ba = t.before_after
    if ba is not None:
        named = (ba.agreement.title_zh, ba.agreement.title_en)
        lines += [("before", ba.before), ("after", ba.after)]
        lines += [
            (name, Figure(ba.agreement.code, *named, value, 0, 0))
            for name, value in (("difference", ba.difference), ("ratio", ba.ratio))
        ]
    head = (t.indicator.slug, f"{t.first_year}-{t.last_year}", t.region or "", t.institution or "")
    return [
        (*head, name, f.key, f.label_zh, f.label_en, f.value, f.numerator, f.denominator)
        for name, f in lines
    ]


def _csv(columns: Sequence[str], rows: list[tuple[Any, ...]]) -> str:
    """Rows as CSV (UTF-8 with BOM so spreadsheets read Chinese; cells that start like a
    formula quoted so they stay text; values to six significant digits)."""
    at = columns.index("value")
    buf = io.StringIO()
    buf.write("\ufeff")
    writer = csv.writer(buf)
    writer.writerow(columns)
    for row in rows:
        value = row[at]
        shown = "" if value is None else f"{value:.6g}"
        writer.writerow(safe_cells(*row[:at], shown, *row[at + 1 :]))
    return buf.getvalue()


def _xlsx(sheet_name: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> bytes:
    """Rows as an Excel workbook (numbers as numbers; text that starts like a formula quoted
    so it stays text)."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(sheet_name[:31])
    sheet.append(list(columns))
    for row in rows:
        sheet.append([safe_cells(v)[0] if isinstance(v, str) else v for v in row])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def csv_text(c: Computed) -> str:
    """The indicator's table as CSV."""
    return _csv(CSV_COLUMNS, table_rows(c))


def xlsx_bytes(c: Computed) -> bytes:
    """The indicator's table as an Excel workbook."""
    return _xlsx(c.indicator.slug, CSV_COLUMNS, table_rows(c))


def trend_csv(t: Trend) -> str:
    return _csv(TREND_COLUMNS, trend_rows(t))


def trend_xlsx(t: Trend) -> bytes:
    return _xlsx(t.indicator.slug, TREND_COLUMNS, trend_rows(t))


def file_name(c: Computed, extension: str) -> str:
    where = c.institution or c.region or "all"
    return f"{c.indicator.slug}-{c.year}-{where}.{extension}"


def trend_file_name(t: Trend, extension: str) -> str:
    where = t.institution or t.region or "all"
    return f"{t.indicator.slug}-{t.first_year}-{t.last_year}-{where}.{extension}"


__all__ = [
    "BeforeAfter",
    "Breakdown",
    "Computed",
    "Figure",
    "Indicator",
    "Milestone",
    "Trend",
    "compute",
    "csv_text",
    "file_name",
    "indicator",
    "may_read",
    "readable",
    "table_rows",
    "trend",
    "trend_csv",
    "trend_file_name",
    "trend_rows",
    "trend_xlsx",
    "xlsx_bytes",
]
