"""The indicators page: pick an indicator, a year, a region and an institution; see its value
with numerator and denominator, the trend by month, where it comes from by institution, and
download it as CSV. Computed live, with the reader's rights (a hospital office sees its own
institution)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import select

from medcircle.auth.domain import Actor, Permission
from medcircle.kit import clock
from medcircle.kit.errors import DomainError, Forbidden, NotFound
from medcircle.kit.i18n import N_
from medcircle.kpis import service
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
    return {
        "year": year,
        "year_text": year_text[:8],
        "region": (qp.get("region") or "").strip()[:6] or None,
        "institution": (qp.get("institution") or "").strip()[:32] or None,
        "years": list(range(today.year, today.year - YEARS_SHOWN, -1)),
    }


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
    return render(
        request,
        "kpis/dashboard.html",
        {"cards": cards, "asked": asked, "errors": errors, **_choices(session, actor)},
        status_code=422 if errors else 200,
    )


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/indicators/{slug}.{extension:str}")
def indicator_file(
    request: Request, session: DB, actor: PageActor, slug: str, extension: str
) -> Response:
    """The indicator with its breakdowns as CSV or as an Excel workbook."""
    if extension not in ("csv", "xlsx"):
        raise NotFound()
    errors = Errors()
    asked = _asked(request, errors)
    computed = _compute(session, actor, slug, asked)
    if extension == "csv":
        content = service.csv_text(computed).encode("utf-8")
        media_type = "text/csv; charset=utf-8"
    else:
        content, media_type = service.xlsx_bytes(computed), XLSX
    return Response(
        content=content,
        media_type=media_type,
        headers={
            "Content-Disposition": (
                f'attachment; filename="{service.file_name(computed, extension)}"'
            ),
            "Cache-Control": "private, no-store",
        },
    )


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
    computed = None
    if not errors and asked["year"] is not None:
        try:
            computed = _compute(session, actor, slug, asked)
        except DomainError as exc:
            if exc.status != 422:
                raise
            errors.from_domain(exc)
    peak = max((f.value or 0 for f in computed.by_month), default=0) if computed else 0
    return render(
        request,
        "kpis/indicator.html",
        {
            "indicator": ind,
            "indicators": service.readable(actor),
            "asked": asked,
            "c": computed,
            "peak": peak,
            "errors": errors,
            **_choices(session, actor),
        },
        status_code=422 if errors else 200,
    )
