"""The page of the visit measures, with a CSV per grouping."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import select

from medcircle.dispatch import visit_measures as vm
from medcircle.dispatch.visit_measures_router import csv_download
from medcircle.dispatch.visit_rules import Period, PeriodError, period_of
from medcircle.kit import clock
from medcircle.kit.errors import Forbidden, ValidationFailed
from medcircle.kit.i18n import N_, gettext
from medcircle.registry.models import SpecialtyRow
from medcircle.web.deps import DB, PageActor
from medcircle.web.routing import QuickRouter
from medcircle.web.templating import render

router = QuickRouter()

BAD_DATE = N_("Enter a date as YYYY-MM-DD.")
# the columns of the tables and the CSV, with their headings
COLUMNS: tuple[tuple[str, str], ...] = (
    ("out_calls", N_("Out-calls")),
    ("person_visits", N_("Person-visits")),
    ("trips", N_("Trips")),
    ("experts", N_("Experts")),
    ("outpatients", N_("Patients received")),
    ("operations", N_("Operations")),
    ("ward_rounds", N_("Ward rounds")),
    ("teaching_sessions", N_("Teaching sessions")),
    ("difficult_cases", N_("Difficult cases")),
)


def _day(raw: str | None, name: str, errors: dict[str, list[str]]) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        errors.setdefault(name, []).append(gettext(BAD_DATE))
        return None


def _period(qp: Any, errors: dict[str, list[str]]) -> Period:
    start = _day(qp.get("start"), "start", errors)
    end = _day(qp.get("end"), "end", errors)
    try:
        return period_of(qp.get("year"), start, end, clock.today())
    except PeriodError as exc:
        errors.setdefault(exc.problem.field, []).append(exc.problem.text())
        return period_of(None, None, None, clock.today())


def _require(actor: Any) -> None:
    if not vm.may_read(actor):
        raise Forbidden()


@router.get("/visits/measures")
def measures_page(request: Request, session: DB, actor: PageActor) -> Response:
    _require(actor)
    qp = request.query_params
    errors: dict[str, list[str]] = {}
    when = _period(qp, errors)
    specialty = (qp.get("specialty") or "").strip()[:32] or None
    tables = vm.read_all(session, actor, when, specialty)
    query = {"start": when.start.isoformat(), "end": when.end.isoformat()}
    if specialty:
        query["specialty"] = specialty
    year = (qp.get("year") or "").strip()
    return render(
        request,
        "visits/measures.html",
        {
            "tables": list(tables.items()),
            "when": when,
            "specialty": specialty,
            "specialties": list(session.scalars(select(SpecialtyRow).order_by(SpecialtyRow.code))),
            "errors": errors,
            "raw": {
                "year": year if "year" not in errors else qp.get("year", ""),
                "start": qp.get("start", ""),
                "end": qp.get("end", ""),
            },
            "years": list(range(clock.today().year, 2014, -1)),
            "group_labels": vm.GROUP_LABELS,
            "columns": COLUMNS,
            "csv_query": urlencode(query),
        },
        status_code=422 if errors else 200,
    )


@router.get("/visits/measures.csv")
def measures_csv(request: Request, session: DB, actor: PageActor) -> Response:
    _require(actor)
    qp = request.query_params
    try:
        group = vm.Group(qp.get("group") or vm.Group.HOME.value)
    except ValueError:
        raise ValidationFailed(
            N_("Choose home institution, site institution or specialty."), code="bad_group"
        ) from None
    errors: dict[str, list[str]] = {}
    when = _period(qp, errors)
    if errors:
        return measures_page(request, session, actor)
    specialty = (qp.get("specialty") or "").strip()[:32] or None
    return csv_download(vm.read(session, actor, group, when, specialty, export=True))
