"""The yearly bulletin: a page in the reader's language, and the same as a PDF (A4, header,
page numbers, footnotes on the sources) in Chinese or English. Computed live from the
indicators with the reader's rights; the commission and a platform administrator may read it."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from medcircle.auth.domain import Actor
from medcircle.kit import clock, i18n
from medcircle.kit.errors import DomainError, FieldError, Forbidden, ValidationFailed
from medcircle.kit.i18n import N_, gettext
from medcircle.kpis import bulletin, bulletin_charts, bulletin_pdf, service
from medcircle.kpis import bulletin_text as text
from medcircle.kpis.catalogue import Unit
from medcircle.registry.domain import DivisionLevel
from medcircle.registry.models import Division
from medcircle.web.deps import DB, PageActor
from medcircle.web.forms import Errors
from medcircle.web.routing import QuickRouter
from medcircle.web.templating import localised, render, templates

router = QuickRouter()

YEARS_SHOWN = 12
PDF = "application/pdf"


def _allowed(actor: Actor) -> None:
    if not bulletin.may_read(actor):
        raise Forbidden()


def _region(request: Request) -> str:
    return (request.query_params.get("region") or "").strip()[:6] or bulletin.DEFAULT_REGION


def year_of(text_: str) -> int:
    """The year of the address, or the indicators' refusal of a year, by its field."""
    if text_.isdigit() and len(text_) == 4:
        return int(text_)
    raise ValidationFailed(
        code="bad_year",
        field_errors=[
            FieldError(
                "year",
                N_("Choose a year from %(first)s to %(last)s."),
                params={"first": service.FIRST_YEAR, "last": clock.today().year},
                code="bad_year",
            )
        ],
    )


def _shown(c: service.Computed) -> str | None:
    """An indicator's value for the table of figures (None: no records)."""
    unit = c.indicator.unit
    if unit is Unit.COUNT:
        return text.number(c.numerator) if c.numerator else None
    if c.value is None:
        return None
    if unit is Unit.DAYS:
        return gettext("%(days)s days", days=text.decimal(c.value))
    if unit is Unit.YUAN:
        return text.money(c.value) if c.denominator else None
    return f"{text.percent(c.value)} %"


def content(b: bulletin.Bulletin) -> dict[str, Any]:
    """What the page and the PDF show, in the current language."""
    f = b.figures
    taking_part = text.number(f.institutions) if f.institutions else None
    rows = [(gettext("Hospitals in Beijing taking part"), taking_part)]
    rows += [(localised(b.computed[s].indicator), _shown(b.computed[s])) for s in text.SLUGS]
    months = [m.key[5:] for m in f.months]
    return {
        "title": text.title(f),
        "paragraphs": text.paragraphs(f),
        "notes": text.notes(),
        "rows": rows,
        "region_name": text.region_name(f),
        "outflow": [(y, None if v is None else text.percent(v)) for y, v in f.outflow],
        "outflow_chart": bulletin_charts.line(
            [(str(y), None if v is None else v * 100) for y, v in f.outflow]
        ),
        "calls_chart": bulletin_charts.bars(months, [[m.out_calls for m in f.months]]),
        "referrals_chart": bulletin_charts.bars(
            months, [[m.referrals_up for m in f.months], [m.referrals_down for m in f.months]]
        ),
        "figures": f,
    }


def _regions(session: DB) -> list[Division]:
    return list(
        session.scalars(
            select(Division)
            .where(Division.level == DivisionLevel.PROVINCE.value)
            .order_by(Division.code)
        )
    )


@router.get("/bulletin")
def bulletin_chooser(request: Request, actor: PageActor) -> Response:
    """The bulletin of the year and region chosen (last year's of Hebei by default)."""
    _allowed(actor)
    year = (request.query_params.get("year") or str(clock.today().year - 1)).strip()[:8]
    query = urlencode({"region": _region(request)})
    return RedirectResponse(f"/bulletin/{quote(year, safe='')}?{query}", status_code=303)


@router.get("/bulletin/{year}.pdf")
def bulletin_file(request: Request, session: DB, actor: PageActor, year: str) -> Response:
    """The bulletin as a PDF, in ``?lang=`` (zh_Hans or en) or the reader's language."""
    _allowed(actor)
    locale = i18n.normalise_locale(request.query_params.get("lang")) or i18n.get_locale()
    found = bulletin.gather(session, actor, year_of(year), _region(request))
    bulletin.audited(session, actor, found, "kpis.bulletin.export", language=locale)
    with text.speaking(locale):
        html = templates.get_template("kpis/bulletin_print.html").render(
            {"c": content(found), "locale": locale, "printed": clock.today().isoformat()}
        )
    name = bulletin.file_name(found.figures, locale)
    return Response(
        content=bulletin_pdf.pdf_bytes(html),
        media_type=PDF,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "private, no-store",
        },
    )


@router.get("/bulletin/{year}")
def bulletin_page(request: Request, session: DB, actor: PageActor, year: str) -> Response:
    _allowed(actor)
    errors = Errors()
    region = _region(request)
    found = None
    try:
        found = bulletin.gather(session, actor, year_of(year), region)
        bulletin.audited(session, actor, found, "kpis.bulletin.read")
    except DomainError as exc:
        if exc.status != 422:
            raise
        errors.from_domain(exc)
    today = clock.today()
    return render(
        request,
        "kpis/bulletin.html",
        {
            "c": content(found) if found else None,
            "asked": {"year_text": year[:8], "region": region},
            "years": list(range(today.year, today.year - YEARS_SHOWN, -1)),
            "regions": _regions(session),
            "errors": errors,
        },
        status_code=422 if errors else 200,
    )
