"""The map of the circle: an inline SVG drawn on the server (no tiles, no network, no script),
institutions (or their cities) by their coordinates and level, the flows of experts and of
referrals as curves as wide as their numbers, each kind in its colour, and the same flows in a
table for screen readers and exact numbers (and as CSV)."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response

from medcircle.auth.domain import Actor
from medcircle.dispatch import circle_map, map_service
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
    map_service.REFERRALS: N_("Referrals (sent, up and down)"),
    map_service.RECORDED_AND_REFERRALS: N_("Recorded visits + referrals"),
    map_service.PLANNED_AND_REFERRALS: N_("Planned visits + referrals"),
}
GROUPING_LABELS: dict[str, str] = {
    map_service.BY_INSTITUTION: N_("By institution"),
    map_service.BY_CITY: N_("By city"),
}
# what a flow of each kind counts (the visits by the source of visits shown)
COUNT_HEADERS: dict[str, str] = {
    map_service.PLANNED: N_("Visit days planned"),
    map_service.RECORDED: N_("Visits recorded"),
    circle_map.UP: N_("Referrals up"),
    circle_map.DOWN: N_("Referrals down"),
}
PERIOD_FIELDS = ("first", "last", "period")


class Errors(forms.Errors):
    field_names = {"last": "period", "first": "period"}


def level_label(level: str) -> str:
    try:
        return gettext(LEVEL_LABELS[Level(level)])
    except (ValueError, KeyError):
        return level


def kind_label(c: map_service.Circle, kind: str) -> str:
    """What a flow of ``kind`` counts, in the page's language."""
    if kind == circle_map.VISITS:
        return gettext(COUNT_HEADERS[c.visits or map_service.PLANNED])
    return gettext(COUNT_HEADERS.get(kind, kind))


def _asked(
    request: Request, session: DB, actor: Actor, errors: Errors
) -> tuple[map_service.Circle, FormValues]:
    """The circle asked for in the query; what cannot be read is explained in ``errors`` and
    replaced by the default (the period, the source or the grouping)."""
    qp = request.query_params
    form = FormValues({k: qp.getlist(k) for k in qp})
    default_first, default_last = map_service.default_period(clock.today())
    first: date = form_date(form, "first", errors) or default_first
    last: date = form_date(form, "last", errors) or default_last
    source = form.get("source") or map_service.PLANNED
    grouping = form.get("grouping") or map_service.BY_INSTITUTION
    try:
        found = map_service.circle(session, actor, first, last, source, grouping)
    except DomainError as exc:
        forms.refusal_status(session, exc, errors)
        if any(fe.field in PERIOD_FIELDS for fe in exc.field_errors):
            first, last = default_first, default_last
        if source not in map_service.SOURCES:
            source = map_service.PLANNED
        if grouping not in map_service.GROUPINGS:
            grouping = map_service.BY_INSTITUTION
        found = map_service.circle(session, actor, first, last, source, grouping)
    return found, form


@router.get("/dispatch/map")
def map_page(request: Request, session: DB, actor: PageActor) -> Response:
    errors = Errors()
    found, form = _asked(request, session, actor, errors)
    # (what is shown, the defaults where the question could not be read)
    map_service.audited(session, actor, found)
    shown = map_service.shown(found)
    drawing = circle_map.layout(shown.places, shown.flows)
    every = [f for f, _ in shown.rows()]
    totals = shown.totals()
    kinds = list(totals)
    largest = {k: max((f.count for f in shown.flows if f.kind == k), default=0) for k in kinds}
    query = {"first": found.first.isoformat(), "last": found.last.isoformat()}
    query |= {"source": found.source, "grouping": found.grouping}
    context: dict[str, Any] = {
        "c": found,
        "map": drawing,
        "shown": shown,
        "every": every,
        "names": shown.names,
        "level_label": level_label,
        "kind_label": lambda kind: kind_label(found, kind),
        "colours": circle_map.LEVEL_COLOURS,
        "kind_colours": circle_map.KIND_COLOURS,
        "kind_dashes": circle_map.KIND_DASHES,
        "source_labels": SOURCE_LABELS,
        "grouping_labels": GROUPING_LABELS,
        "kinds": kinds,
        "totals": totals,
        "largest": largest,
        "csv_query": urlencode(query),
        "errors": errors,
        "first_value": form.get("first") or found.first.isoformat(),
        "last_value": form.get("last") or found.last.isoformat(),
        "period_refused": bool(errors.get("period")),
    }
    return render(request, "dispatch/map.html", context, status_code=422 if errors else 200)


@router.get("/dispatch/map.csv")
def map_table(request: Request, session: DB, actor: PageActor) -> Response:
    """The table under the map as CSV: every flow with its kind, ends and count. A question
    that cannot be read is refused (422) with the reasons by field, not answered with the
    defaults."""
    qp = request.query_params
    first, last = map_service.asked_period(qp.get("first"), qp.get("last"), clock.today())
    found = map_service.circle(
        session,
        actor,
        first,
        last,
        qp.get("source") or map_service.PLANNED,
        qp.get("grouping") or map_service.BY_INSTITUTION,
    )
    map_service.audited(session, actor, found, "dispatch.map.export")
    return Response(
        content=map_service.csv_text(map_service.shown(found)).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{map_service.csv_name(found)}"',
            "Cache-Control": "private, no-store",
        },
    )
