"""The map of the circle: an inline SVG drawn on the server (no tiles, no network, no script),
institutions by their coordinates and level, the flows of experts as curves as wide as their
numbers, and the same flows in a table for screen readers and exact numbers."""

from __future__ import annotations

from datetime import date

from fastapi import Request
from fastapi.responses import Response

from medcircle.dispatch import circle_map, map_service
from medcircle.dispatch.calendars import name_of
from medcircle.kit import clock
from medcircle.kit.errors import DomainError
from medcircle.kit.i18n import N_, gettext
from medcircle.registry.domain import LEVEL_LABELS, Level
from medcircle.web import forms
from medcircle.web.deps import DB, PageActor
from medcircle.web.forms import FormValues, form_date
from medcircle.web.routing import QuickRouter
from medcircle.web.templating import render

router = QuickRouter()

SOURCE_LABELS: dict[str, str] = {
    map_service.PLANNED: N_("Planned visits (published roster)"),
    map_service.RECORDED: N_("Recorded visits (visit records)"),
}
COUNT_HEADERS: dict[str, str] = {
    map_service.PLANNED: N_("Visit days planned"),
    map_service.RECORDED: N_("Visits recorded"),
}


class Errors(forms.Errors):
    field_names = {"last": "period", "first": "period"}


def level_label(level: str) -> str:
    try:
        return gettext(LEVEL_LABELS[Level(level)])
    except (ValueError, KeyError):
        return level


@router.get("/dispatch/map")
def map_page(request: Request, session: DB, actor: PageActor) -> Response:
    qp = request.query_params
    form = FormValues({k: qp.getlist(k) for k in qp})
    errors = Errors()
    default_first, default_last = map_service.default_period(clock.today())
    first: date = form_date(form, "first", errors) or default_first
    last: date = form_date(form, "last", errors) or default_last
    source = form.get("source") or map_service.PLANNED
    status_code = 200
    try:
        found = map_service.circle(session, actor, first, last, source)
    except DomainError as exc:
        status_code = forms.refusal_status(session, exc, errors)
        first, last, source = default_first, default_last, map_service.PLANNED
        found = map_service.circle(session, actor, first, last, source)
    if errors:
        status_code = 422
    places = [
        circle_map.Place(i.id, name_of(i), i.level, i.latitude, i.longitude)
        for i in found.institutions
    ]
    names = {p.id: p.name for p in places}
    drawing = circle_map.layout(places, found.flows)
    total = sum(f.count for f in found.flows)
    return render(
        request,
        "dispatch/map.html",
        {
            "c": found,
            "map": drawing,
            "names": names,
            "level_label": level_label,
            "colours": circle_map.LEVEL_COLOURS,
            "source_labels": SOURCE_LABELS,
            "count_header": COUNT_HEADERS[found.source],
            "total": total,
            "largest": max((f.count for f in found.flows), default=0),
            "errors": errors,
            "first_value": form.get("first") or found.first.isoformat(),
            "last_value": form.get("last") or found.last.isoformat(),
        },
        status_code=status_code,
    )
