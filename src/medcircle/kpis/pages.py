"""The indicators page: pick an indicator, a year, a region and an institution; see its value
with numerator and denominator, the trend by month, where it comes from by institution,
alliance and specialty, and download it as CSV or Excel; below, its trend over a range of
years with the institution's agreements marked and the twelve months before and after one of
them (``/indicators/{slug}/trend.csv|.xlsx`` downloads that table). Computed live, with the
reader's rights (a hospital office sees its own institution)."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import select

from medcircle.auth.domain import Actor, Permission
from medcircle.kit import clock
from medcircle.kit.errors import DomainError, Forbidden, NotFound
from medcircle.kit.i18n import N_
from medcircle.kpis import charts, service
from medcircle.kpis.catalogue import Scope
from medcircle.registry.domain import DivisionLevel
from medcircle.registry.models import Division, Institution
from medcircle.web.deps import DB, PageActor
from medcircle.web.forms import Errors
from medcircle.web.routing import QuickRouter
from medcircle.web.templating import render

router = QuickRouter()

YEARS_SHOWN = 12
DEFAULT_REGION = "130000"
# the years of the trend offered in the form, and shown unless asked
TREND_YEARS_OFFERED = service.MAX_TREND_YEARS
TREND_YEARS = 12


def _choices(session: DB, actor: Actor) -> dict[str, Any]:
    """The regions and institutions the form offers."""
    everything = actor.can(Permission.AGREEMENT_MANAGE_ALL)
    q = select(Institution).order_by(Institution.code)
    if not everything:
        q = q.where(Institution.id == actor.institution_id)
    return {
        "regions": list(
            session.scalars(
                select(Division)
                .where(Division.level == DivisionLevel.PROVINCE.value)
                .order_by(Division.code)
            )
        ),
        "institutions": list(session.scalars(q)),
        "everything": everything,
    }


def _asked(request: Request, errors: Errors) -> dict[str, Any]:
    qp = request.query_params
    today = clock.today()
    year_text = qp.get("year") or str(today.year - 1)
    year = int(year_text) if year_text.isdigit() and len(year_text) == 4 else None
    if year is None:
        errors.add(
            "year",
            N_("Choose a year from %(first)s to %(last)s."),
            first=service.FIRST_YEAR,
            last=today.year,
        )
    last_text = qp.get("last") or str(year or today.year - 1)
    last = _year_of(last_text, "last", errors, today)
    first_text = qp.get("first") or str((last or today.year - 1) - TREND_YEARS + 1)
    first = _year_of(first_text, "first", errors, today)
    return {
        "year": year,
        "year_text": year_text[:8],
        "first": first,
        "first_text": first_text[:8],
        "last": last,
        "last_text": last_text[:8],
        "region": (qp.get("region") or "").strip()[:6] or None,
        "institution": (qp.get("institution") or "").strip()[:32] or None,
        "agreement": (qp.get("agreement") or "").strip()[:32] or None,
        "years": list(range(today.year, today.year - YEARS_SHOWN, -1)),
        "trend_years": list(range(today.year, today.year - TREND_YEARS_OFFERED - 1, -1)),
    }


def _year_of(text: str, name: str, errors: Errors, today: date) -> int | None:
    """A year of the trend's range as asked (its range is the service's to check)."""
    if text.isdigit() and len(text) == 4:
        return int(text)
    errors.add(
        name,
        N_("Choose a year from %(first)s to %(last)s."),
        first=service.FIRST_YEAR,
        last=today.year,
    )
    return None


def _trend(session: DB, actor: Actor, slug: str, asked: dict[str, Any]) -> service.Trend:
    return service.trend(
        session,
        actor,
        slug,
        asked["first"] or 0,
        asked["last"] or 0,
        region=asked["region"],
        institution=asked["institution"],
        agreement=asked["agreement"],
    )


def _compute(session: DB, actor: Actor, slug: str, asked: dict[str, Any]) -> service.Computed:
    """The indicator for the year, region and institution asked (a year that could not be
    read is refused by the service's check of the year)."""
    return service.compute(
        session,
        actor,
        slug,
        asked["year"] or 0,
        region=asked["region"],
        institution=asked["institution"],
    )


@router.get("/indicators")
def dashboard_page(request: Request, session: DB, actor: PageActor) -> Response:
    """Every indicator one may compute, for a year and a region (and an institution), each
    with its value and its months; each links to its page."""
    readable = service.readable(actor)
    if not readable:
        raise Forbidden()
    errors = Errors()
    asked = _asked(request, errors)
    asked["region"] = asked["region"] or DEFAULT_REGION
    cards = []
    if not errors and asked["year"] is not None:
        for ind in readable:
            try:
                computed = _compute(session, actor, ind.slug, asked)
            except DomainError as exc:
                if exc.status != 422:
                    raise
                errors.from_domain(exc)
                break
            peak = max((f.value or 0 for f in computed.by_month), default=0)
            cards.append({"indicator": ind, "c": computed, "peak": peak})
    if cards and not errors:
        service.audited(
            session,
            actor,
            "kpis.dashboard.read",
            year=asked["year"],
            region=asked["region"],
            institution=asked["institution"],
        )
    return render(
        request,
        "kpis/dashboard.html",
        {"cards": cards, "asked": asked, "errors": errors, **_choices(session, actor)},
        status_code=422 if errors else 200,
    )


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _download(extension: str, what: Any, as_csv: Any, as_xlsx: Any, name: Any) -> Response:
    """``what`` as CSV (``as_csv``) or as an Excel workbook (``as_xlsx``), named by ``name``."""
    if extension == "csv":
        content, media_type = as_csv(what).encode("utf-8"), "text/csv; charset=utf-8"
    elif extension == "xlsx":
        content, media_type = as_xlsx(what), XLSX
    else:
        raise NotFound()
    return Response(
        content=content,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{name(what, extension)}"',
            "Cache-Control": "private, no-store",
        },
    )


@router.get("/indicators/{slug}.{extension:str}")
def indicator_file(
    request: Request, session: DB, actor: PageActor, slug: str, extension: str
) -> Response:
    """The indicator with its breakdowns as CSV or as an Excel workbook."""
    if extension not in ("csv", "xlsx"):
        raise NotFound()
    computed = _compute(session, actor, slug, _asked(request, Errors()))
    service.audited_computed(session, actor, "kpis.export", computed, format=extension)
    return _download(extension, computed, service.csv_text, service.xlsx_bytes, service.file_name)


@router.get("/indicators/{slug}/trend.{extension:str}")
def trend_file(
    request: Request, session: DB, actor: PageActor, slug: str, extension: str
) -> Response:
    """The indicator's trend (``first`` to ``last``), its agreements and the months before
    and after one of them, as CSV or as an Excel workbook."""
    if extension not in ("csv", "xlsx"):
        raise NotFound()
    t = _trend(session, actor, slug, _asked(request, Errors()))
    service.audited_trend(session, actor, "kpis.trend.export", t, format=extension)
    return _download(extension, t, service.trend_csv, service.trend_xlsx, service.trend_file_name)


@router.get("/indicators/{slug}")
def indicator_page(request: Request, session: DB, actor: PageActor, slug: str) -> Response:
    return _page(request, session, actor, slug)


def _page(request: Request, session: DB, actor: Actor, slug: str) -> Response:
    ind = service.indicator(slug)
    if not service.may_read(actor, ind):
        raise Forbidden()
    errors = Errors()
    asked = _asked(request, errors)
    if ind.scope is Scope.REGION and asked["region"] is None:
        asked["region"] = DEFAULT_REGION
    computed = trend = None
    if not errors:
        try:
            computed = _compute(session, actor, slug, asked)
            trend = _trend(session, actor, slug, asked)
            service.audited_computed(
                session, actor, "kpis.read", computed, first=trend.first_year, last=trend.last_year
            )
        except DomainError as exc:
            if exc.status != 422:
                raise
            errors.from_domain(exc)
    peak = max((f.value or 0 for f in computed.by_month), default=0) if computed else 0
    chart = None
    if trend is not None:
        chart = charts.layout(
            trend.first_year,
            [f.value for f in trend.by_year],
            [a.starts_on for a in trend.agreements],
        )
    ba = trend.before_after if trend is not None else None
    choices = _choices(session, actor)
    return render(
        request,
        "kpis/indicator.html",
        {
            "indicator": ind,
            "indicators": service.readable(actor),
            "asked": asked,
            "c": computed,
            "peak": peak,
            "trend": trend,
            "chart": chart,
            "ba": ba,
            "ba_peak": max(ba.before.value or 0, ba.after.value or 0) if ba else 0,
            # the institutions one may drill into
            "visible": {i.code for i in choices["institutions"]},
            "errors": errors,
            **choices,
        },
        status_code=422 if errors else 200,
    )
