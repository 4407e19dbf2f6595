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
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select, true
from sqlalchemy.orm import Session, aliased

from medcircle.activity.models import ActivityMonth
from medcircle.activity.summary import days_between, month_of
from medcircle.audit.service import safe_cells
from medcircle.auth.domain import Actor, Permission
from medcircle.consultations.models import Consultation
from medcircle.dispatch.models import VisitOperation, VisitRecord
from medcircle.kit import clock
from medcircle.kit.clock import CST
from medcircle.kit.errors import FieldError, Forbidden, NotFound, ValidationFailed
from medcircle.kit.i18n import N_
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
from medcircle.registry.domain import Level
from medcircle.registry.models import Division, Institution

FIRST_YEAR = 2000
VISITS = ("outpatient", "emergency")
STAYS = "inpatient"


@dataclass(frozen=True)
class Figure:
    """One line of a breakdown: a month (``2024-03``) or an institution (its code)."""

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


def indicator(slug: str) -> Indicator:
    found = BY_SLUG.get(slug)
    if found is None:
        raise NotFound(N_("No indicator %(slug)s."), code="unknown_indicator", slug=slug)
    return found


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


def _days(month: str, today: date) -> int:
    """The calendar days of a month (up to today in the current month; 0 after today)."""
    y, m = int(month[:4]), int(month[5:])
    if (y, m) > (today.year, today.month):
        return 0
    if (y, m) == (today.year, today.month):
        return today.day
    return calendar.monthrange(y, m)[1]


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
    institution."""
    ind = indicator(slug)
    if not may_read(actor, ind):
        raise Forbidden()
    today = today or clock.today()
    if not FIRST_YEAR <= year <= today.year:
        raise _bad(
            "year",
            "bad_year",
            N_("Choose a year from %(first)s to %(last)s."),
            first=FIRST_YEAR,
            last=today.year,
        )
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
    months = [f"{year}-{m:02d}" for m in range(1, 13)]
    days = {m: _days(m, today) for m in months}
    if ind.source == "visits":
        parts = _expert_visits(session, ind.slug, months, region, inst)
    elif ind.source == "referrals":
        parts = _referrals(session, ind.slug, year, region, inst)
    elif ind.source == "pools":
        parts = _cleanrooms(session, ind.slug, year, region, inst, today)
    elif ind.source == "consultations":
        parts = _consultations(session, ind.slug, year, region, inst)
    elif ind.slug == "outpatient-visits-per-day":
        parts = _visits(session, months, region, inst)
    elif ind.slug == "outflow-share":
        assert region is not None
        parts = _outflow(session, months, region, inst)
    else:
        assert region is not None
        parts = _local(session, months, region, inst)
    return _assemble(session, ind, year, region, inst, parts, days)


def _may_see(actor: Actor, inst: Institution) -> bool:
    return actor.can(Permission.AGREEMENT_MANAGE_ALL) or inst.id == actor.institution_id


# (month, institution id) -> (numerator, denominator); for a count per day the denominator is 0
# and the days of the months are used
Parts = dict[tuple[str, int], tuple[int, int]]


def _in_year(months: list[str]) -> ColumnElement[bool]:
    return ActivityMonth.month.between(months[0], months[-1])


def _lives_in(region: str) -> ColumnElement[bool]:
    return ActivityMonth.residence_city.startswith(region[:2], autoescape=True)


def _visits(
    session: Session, months: list[str], region: str | None, inst: Institution | None
) -> Parts:
    where = [_in_year(months), ActivityMonth.type.in_(VISITS)]
    if inst is not None:
        where.append(ActivityMonth.institution_id == inst.id)
    q = (
        select(ActivityMonth.month, ActivityMonth.institution_id, func.sum(ActivityMonth.starts))
        .where(*where)
        .group_by(ActivityMonth.month, ActivityMonth.institution_id)
    )
    if region is not None:
        q = q.join(Institution, Institution.id == ActivityMonth.institution_id).where(
            Institution.province_code == region
        )
    return {(m, i): (int(n), 0) for m, i, n in session.execute(q)}


def _outflow(session: Session, months: list[str], region: str, inst: Institution | None) -> Parts:
    """Discharges of the capital's secondary-and-above hospitals: of the region's residents,
    and all."""
    q = (
        select(
            ActivityMonth.month,
            ActivityMonth.institution_id,
            func.sum(case((_lives_in(region), ActivityMonth.ends), else_=0)),
            func.sum(ActivityMonth.ends),
        )
        .join(Institution, Institution.id == ActivityMonth.institution_id)
        .where(
            _in_year(months),
            ActivityMonth.type == STAYS,
            Institution.province_code == CAPITAL,
            Institution.level.in_((Level.SECONDARY.value, Level.TERTIARY.value)),
            true() if inst is None else ActivityMonth.institution_id == inst.id,
        )
        .group_by(ActivityMonth.month, ActivityMonth.institution_id)
    )
    found: Any = session.execute(q)
    return {(m, i): (int(a), int(b)) for m, i, a, b in found}


def _local(session: Session, months: list[str], region: str, inst: Institution | None) -> Parts:
    """Visits and admissions of the region's residents: at institutions inside the region,
    and everywhere (by institution, so the breakdown shows where they went)."""
    inside = Institution.province_code == region
    q = (
        select(
            ActivityMonth.month,
            ActivityMonth.institution_id,
            inside,
            func.sum(ActivityMonth.starts),
        )
        .join(Institution, Institution.id == ActivityMonth.institution_id)
        .where(
            _in_year(months),
            _lives_in(region),
            true() if inst is None else ActivityMonth.institution_id == inst.id,
        )
        .group_by(ActivityMonth.month, ActivityMonth.institution_id, inside)
    )
    out: Parts = {}
    for m, i, local, n in session.execute(q):
        out[(m, i)] = (int(n) if local else 0, int(n))
    return out


# what each visit indicator sums over the records
_VISIT_MEASURES = ("out-calls", "expert-person-visits", "patients-received", "visiting-operations")


def _expert_visits(
    session: Session, slug: str, months: list[str], region: str | None, inst: Institution | None
) -> Parts:
    """Visit records starting in the year, by month and home institution (the experts'):
    counted, their days on site, outpatients seen and operations summed."""
    postgres = session.get_bind().dialect.name == "postgresql"
    ops = (
        select(VisitOperation.visit_id, func.sum(VisitOperation.count).label("n"))
        .group_by(VisitOperation.visit_id)
        .subquery()
    )
    v = VisitRecord
    month = month_of(v.starts_on, postgres)
    site = aliased(Institution)
    q = (
        select(
            month,
            v.home_institution_id,
            func.count(),
            func.sum(days_between(v.starts_on, v.ends_on, postgres) + 1),
            func.sum(v.outpatients),
            func.sum(func.coalesce(ops.c.n, 0)),
        )
        .outerjoin(ops, ops.c.visit_id == v.id)
        .join(site, site.id == v.site_institution_id)
        .where(
            v.starts_on.between(
                date.fromisoformat(months[0] + "-01"), date.fromisoformat(months[-1] + "-31")
            ),
            true() if region is None else site.province_code == region,
            true()
            if inst is None
            else or_(v.home_institution_id == inst.id, v.site_institution_id == inst.id),
        )
        .group_by(month, v.home_institution_id)
    )
    at = 2 + _VISIT_MEASURES.index(slug)
    found: Any = session.execute(q)
    return {(row[0], row[1]): (int(row[at] or 0), 0) for row in found}


def _cst_month(column: Any, postgres: bool) -> ColumnElement[str]:
    """YYYY-MM of a UTC timestamp, in Beijing time (SQLite keeps them as naive UTC text)."""
    if postgres:
        return func.to_char(func.timezone("Asia/Shanghai", column), "YYYY-MM")
    return func.substr(func.datetime(column, "+8 hours"), 1, 7)


def _year_bounds(year: int) -> tuple[datetime, datetime]:
    """The calendar year in Beijing time, as UTC instants (the end excluded)."""
    return (
        datetime(year, 1, 1, tzinfo=CST).astimezone(UTC),
        datetime(year + 1, 1, 1, tzinfo=CST).astimezone(UTC),
    )


def _referrals(
    session: Session, slug: str, year: int, region: str | None, inst: Institution | None
) -> Parts:
    """Referrals submitted in the year, by month and by the local side (the sender of a
    referral up, the receiver of one down): up and down counted."""
    postgres = session.get_bind().dialect.name == "postgresql"
    r = Referral
    local = case((r.direction == "up", r.sender_institution_id), else_=r.receiver_institution_id)
    place = aliased(Institution)
    month = _cst_month(r.submitted_at, postgres)
    start, end = _year_bounds(year)
    waited = r.direction == "up"
    if slug == "referral-wait-days":
        # the upward referrals given an appointment
        waited = and_(r.direction == "up", r.appointment_at.is_not(None))
    q = (
        select(
            month,
            local,
            func.sum(case((r.direction == "up", 1), else_=0)),
            func.sum(case((r.direction == "down", 1), else_=0)),
            func.coalesce(
                func.sum(case((waited, _seconds(r.submitted_at, r.appointment_at, postgres)))), 0
            ),
            func.sum(case((waited, 1), else_=0)),
        )
        .join(place, place.id == local)
        .where(
            r.submitted_at >= start,
            r.submitted_at < end,
            true() if region is None else place.province_code == region,
            true()
            if inst is None
            else or_(r.sender_institution_id == inst.id, r.receiver_institution_id == inst.id),
        )
        .group_by(month, local)
    )
    found: Any = session.execute(q)
    out: Parts = {}
    for m, i, up, down, seconds, waits in found:
        up, down = int(up or 0), int(down or 0)
        out[(m, i)] = {
            "referrals-up": (up, 0),
            "referrals-down": (down, 0),
            "referral-wait-days": (round(seconds or 0), int(waits or 0)),
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
    year: int,
    region: str | None,
    inst: Institution | None,
    today: date,
) -> Parts:
    """Cleanroom admissions of the year by month and the room's institution: their waits
    from listing; or the room-days occupied against the room-days of the pools' cleanrooms."""
    postgres = session.get_bind().dialect.name == "postgresql"
    place = aliased(Institution)
    where = [
        ResourcePool.kind == "cleanroom",
        true() if region is None else place.province_code == region,
        true() if inst is None else ResourceUnit.institution_id == inst.id,
    ]
    start, end = _year_bounds(year)
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
        return {(m, i): (round(sec or 0), int(n)) for m, i, sec, n in found}
    # occupancy: day by day within the year, in Beijing time
    first, last = date(year, 1, 1), date(year, 12, 31)
    units: Any = session.execute(
        select(ResourceUnit.institution_id, ResourceUnit.created_at)
        .join(ResourcePool, ResourcePool.id == ResourceUnit.pool_id)
        .join(place, place.id == ResourceUnit.institution_id)
        .where(*where)
    )
    out: dict[tuple[str, int], list[int]] = {}

    def add(i: int, a: date, b: date, which: int) -> None:
        """Count the days from ``a`` to ``b`` (both included) into their months."""
        a, b = max(a, first), min(b, last, today)
        while a <= b:
            month_end = date(a.year, a.month, calendar.monthrange(a.year, a.month)[1])
            stop = min(b, month_end)
            at = out.setdefault((f"{a.year}-{a.month:02d}", i), [0, 0])
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
    session: Session, slug: str, year: int, region: str | None, inst: Institution | None
) -> Parts:
    """Consultations asked in the year, by month and asking institution: counted, their time
    to the first opinion summed over those answered, and those answered within target."""
    postgres = session.get_bind().dialect.name == "postgresql"
    c = Consultation
    place = aliased(Institution)
    month = _cst_month(c.asked_at, postgres)
    start, end = _year_bounds(year)
    q = (
        select(
            month,
            c.asker_institution_id,
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
        .group_by(month, c.asker_institution_id)
    )
    found: Any = session.execute(q)
    out: Parts = {}
    for m, i, asked, seconds, answered, within, known in found:
        if slug == "remote-consultations":
            out[(m, i)] = (int(asked), 0)
        elif slug == "consultation-answer-minutes":
            out[(m, i)] = (int(seconds), int(answered))
        else:
            out[(m, i)] = (int(within or 0), int(known))
    return out


def _assemble(
    session: Session,
    ind: Indicator,
    year: int,
    region: str | None,
    inst: Institution | None,
    parts: Parts,
    days: dict[str, int],
) -> Computed:
    per_day = ind.unit is Unit.PER_DAY
    institutions = {
        i.id: i
        for i in session.scalars(
            select(Institution).where(Institution.id.in_({i for _, i in parts}))
        )
    }
    total_days = sum(days.values())

    count = ind.unit is Unit.COUNT

    def figure(key: str, zh: str, en: str, num: int, den: int) -> Figure:
        if count:
            return Figure(key, zh, en, float(num), num, 0)
        value = share(num, den)
        if value is not None and ind.unit is Unit.MINUTES:
            value /= 60
        elif value is not None and ind.unit is Unit.DAYS:
            value /= 86400
        return Figure(key, zh, en, value, num, den)

    by_month = []
    for m in days:
        num = sum(a for (mm, _), (a, _) in parts.items() if mm == m)
        den = days[m] if per_day else sum(b for (mm, _), (_, b) in parts.items() if mm == m)
        by_month.append(figure(m, m, m, num, den))
    by_institution = []
    for iid, i in sorted(institutions.items(), key=lambda kv: kv[1].code):
        num = sum(a for (_, ii), (a, _) in parts.items() if ii == iid)
        if per_day:
            den = total_days
        elif ind.slug == "local-treatment-rate":
            # each institution's part of all the region's residents' encounters
            num = sum(b for (_, ii), (_, b) in parts.items() if ii == iid)
            den = sum(b for _, b in parts.values())
        else:
            den = sum(b for (_, ii), (_, b) in parts.items() if ii == iid)
        by_institution.append(figure(i.code, i.name_zh, i.name_en, num, den))
    num = sum(a for a, _ in parts.values())
    # for visits per day: one institution's, or the sum of a region's institutions
    den = total_days if per_day else sum(b for _, b in parts.values())
    total = figure("total", "", "", num, den)
    return Computed(
        indicator=ind,
        year=year,
        region=region,
        institution=inst.code if inst is not None else None,
        value=total.value,
        numerator=num,
        denominator=den,
        by_month=by_month,
        by_institution=by_institution,
    )


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
    each institution."""
    total = Figure("*", "", "", c.value, c.numerator, c.denominator)
    lines = [("total", total), *(("month", f) for f in c.by_month)]
    lines += [("institution", f) for f in c.by_institution]
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


def csv_text(c: Computed) -> str:
    """The table as CSV (UTF-8 with BOM so spreadsheets read Chinese; cells that start like a
    formula quoted so they stay text)."""
    buf = io.StringIO()
    buf.write("\ufeff")
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    for row in table_rows(c):
        value = row[7]
        writer.writerow(safe_cells(*row[:7], "" if value is None else f"{value:.6g}", *row[8:]))
    return buf.getvalue()


def xlsx_bytes(c: Computed) -> bytes:
    """The table as an Excel workbook (numbers as numbers; text that starts like a formula
    quoted so it stays text)."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(c.indicator.slug[:31])
    sheet.append(CSV_COLUMNS)
    for row in table_rows(c):
        sheet.append([safe_cells(v)[0] if isinstance(v, str) else v for v in row])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def file_name(c: Computed, extension: str) -> str:
    where = c.institution or c.region or "all"
    return f"{c.indicator.slug}-{c.year}-{where}.{extension}"


__all__ = [
    "Breakdown",
    "Computed",
    "Figure",
    "Indicator",
    "compute",
    "csv_text",
    "file_name",
    "indicator",
    "may_read",
    "readable",
    "table_rows",
    "xlsx_bytes",
]
