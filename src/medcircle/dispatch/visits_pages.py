"""Pages of visit records: the list with its filters, the record form (with rows of
operations) and a record's details. ``/visits/measures`` lives in ``visit_measures_pages``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from medcircle.auth.domain import Actor
from medcircle.auth.models import User
from medcircle.dispatch import visits
from medcircle.dispatch.models import VisitRecord
from medcircle.dispatch.visit_rules import PeriodError, period_of
from medcircle.dispatch.visit_schemas import VisitCreate, VisitUpdate
from medcircle.kit import clock
from medcircle.kit.errors import DomainError, FieldError, Forbidden
from medcircle.kit.i18n import N_, gettext
from medcircle.registry.models import Institution, SpecialtyRow
from medcircle.web import forms
from medcircle.web.deps import DB, PageActor, Paging
from medcircle.web.forms import REQUIRED, Form, FormValues, build, form_date, form_int
from medcircle.web.routing import QuickRouter
from medcircle.web.templating import render

router = QuickRouter()

SAVED = N_("The visit is recorded.")
UPDATED = N_("The record is saved.")
CHOOSE_SITE = N_("Choose the site.")
CHOOSE_EXPERT = N_("Choose the expert.")
OPERATION_ROW = N_(
    "Operation %(row)s: fill in the code, the procedure and the count, or leave the row empty."
)
# blank operation rows the form offers below the filled ones, and the most it shows
SPARE_ROWS = 3
MAX_FORM_ROWS = 60
COUNT_NAMES = ("outpatients", "ward_rounds", "teaching_sessions", "difficult_cases")


class Errors(forms.Errors):
    """Messages by field; an operation row's messages go under ``op-<index>``."""

    field_names = {"operations": "_ops"}

    def from_domain(self, exc: DomainError) -> None:
        if not exc.field_errors:
            self.setdefault("_form", []).append(exc.text())
        for fe in exc.field_errors:
            self.setdefault(self._name_of(fe), []).append(fe.text())

    def _name_of(self, fe: FieldError) -> str:
        parts = fe.field.split(".") if fe.field else ["_form"]
        if parts[0] == "operations" and len(parts) > 1 and parts[1].isdecimal():
            return f"op-{parts[1]}"
        return self.field_names.get(parts[0], parts[0])


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# --- the list -----------------------------------------------------------------------------


def _filter(request: Request, errors: Errors) -> tuple[visits.VisitFilter, dict[str, str]]:
    """Filters from the query string; a bad value is reported and left out."""
    qp = request.query_params
    form = FormValues({k: qp.getlist(k) for k in qp})
    start = form_date(form, "start", errors)
    end = form_date(form, "end", errors)
    year = form.get("year")
    if year:
        try:
            p = period_of(year, None, None, clock.today())
        except PeriodError as exc:
            errors.add(exc.problem.field, exc.problem.message, **exc.problem.params)
        else:
            start, end = p.start, p.end
    elif start and end and end < start:
        errors.add("end", N_("The end of the period is before its start."))
        end = None
    f = visits.VisitFilter(
        start=start,
        end=end,
        site_institution_id=form_int(form, "site", errors),
        home_institution_id=form_int(form, "home", errors),
        user_id=form_int(form, "expert", errors),
        specialty=form.get("specialty")[:32] or None,
    )
    shown = {
        k: form.get(k) for k in ("year", "start", "end", "site", "home", "expert", "specialty")
    }
    return f, shown


def _list_choices(session: Session, actor: Actor) -> dict[str, Any]:
    """The institutions and experts that appear in the records the actor may see."""
    scope = visits.scope(actor)
    site_ids = set(session.scalars(select(VisitRecord.site_institution_id).where(scope).distinct()))
    home_ids = set(session.scalars(select(VisitRecord.home_institution_id).where(scope).distinct()))
    insts = {
        i.id: i
        for i in session.scalars(select(Institution).where(Institution.id.in_(site_ids | home_ids)))
    }
    expert_ids = select(VisitRecord.user_id).where(scope).distinct().scalar_subquery()
    experts = session.execute(
        select(User.id, User.display_name)
        .where(User.id.in_(expert_ids))
        .order_by(User.display_name, User.id)
    ).all()
    return {
        "sites": sorted((insts[i] for i in site_ids), key=lambda i: i.code),
        "homes": sorted((insts[i] for i in home_ids), key=lambda i: i.code),
        "experts": [(uid, name) for uid, name in experts],
        "specialties": list(session.scalars(select(SpecialtyRow).order_by(SpecialtyRow.code))),
    }


@router.get("/visits")
def visits_page(request: Request, session: DB, actor: PageActor, paging: Paging) -> Response:
    if not visits.may_read(actor):
        raise Forbidden()
    errors = Errors()
    f, shown = _filter(request, errors)
    rows, total = visits.list_visits(session, actor, f, paging)
    query = {k: v for k, v in request.query_params.items() if k != "page" and v}
    return render(
        request,
        "visits/list.html",
        {
            "rows": rows,
            "total": total,
            "page": paging.page,
            "pages": max(1, -(-total // paging.size)),
            "base": "/visits?" + urlencode(query),
            "f": shown,
            "errors": errors,
            "may_record": visits.may_record(actor),
            **_list_choices(session, actor),
        },
        status_code=422 if errors else 200,
    )


# --- the form -----------------------------------------------------------------------------


@dataclass
class OpRow:
    icd10_code: str = ""
    procedure: str = ""
    count: str = ""


def _op_rows(form: FormValues) -> list[OpRow]:
    rows: list[OpRow] = []
    for index in range(MAX_FORM_ROWS):
        if f"op-{index}-icd10" not in form.values:
            break
        rows.append(
            OpRow(
                form.get(f"op-{index}-icd10"),
                form.get(f"op-{index}-procedure"),
                form.get(f"op-{index}-count"),
            )
        )
    return rows


def _operations(rows: list[OpRow], errors: Errors) -> list[dict[str, Any]]:
    """The filled rows as the API's operations; a half-filled row is named."""
    out: list[dict[str, Any]] = []
    for row in rows:
        if not (row.icd10_code or row.procedure or row.count):
            continue
        count = 1
        if row.count:
            try:
                count = int(row.count)
            except ValueError:
                count = 0
        if not row.icd10_code or not row.procedure:
            errors.setdefault(f"op-{len(out)}", []).append(gettext(OPERATION_ROW, row=len(out) + 1))
        out.append({"icd10_code": row.icd10_code, "procedure": row.procedure, "count": count})
    return out


def _values(form: FormValues, errors: Errors) -> dict[str, Any]:
    values: dict[str, Any] = {
        "user_id": form_int(form, "user_id", errors),
        "site_institution_id": form_int(form, "site_institution_id", errors),
        "department_id": form_int(form, "department_id", errors),
        "specialty_code": form.get("specialty_code") or None,
        "roster_visit_id": form_int(form, "roster_visit_id", errors),
        "starts_on": form_date(form, "starts_on", errors, required=True),
        "ends_on": form_date(form, "ends_on", errors, required=True),
        "note": form.get("note") or None,
    }
    for name in COUNT_NAMES:
        value = form_int(form, name, errors)
        if value is not None and value < 0:
            errors.add(name, N_("Enter 0 or more."))
        values[name] = value if value is not None else 0
    return values


def _shown_rows(rows: list[OpRow], more: bool) -> list[OpRow]:
    filled = [r for r in rows if r.icd10_code or r.procedure or r.count]
    spare = SPARE_ROWS * (2 if more else 1)
    return (filled + [OpRow() for _ in range(spare)])[:MAX_FORM_ROWS]


def _form_page(
    request: Request,
    session: Session,
    actor: Actor,
    *,
    values: dict[str, Any],
    rows: list[OpRow],
    errors: Errors | None = None,
    view: visits.VisitView | None = None,
    status_code: int = 200,
) -> Response:
    c = visits.choices(session, actor)
    if view is not None and all(s.id != view.site.id for s in c.sites):
        c.sites.append(view.site)
    if view is not None and all(uid != view.record.user_id for uid, _ in c.experts):
        c.experts.append((view.record.user_id, view.expert_name))
    return render(
        request,
        "visits/form.html",
        {
            "v": values,
            "rows": rows,
            "errors": errors or Errors(),
            "view": view,
            "choices": c,
            "planner": visits.is_planner(actor),
            "today": clock.today(),
        },
        status_code=status_code,
    )


def _require_record(actor: Actor) -> None:
    if not visits.may_record(actor):
        raise Forbidden()


@router.get("/visits/new")
def new_visit_page(request: Request, session: DB, actor: PageActor) -> Response:
    _require_record(actor)
    today = clock.today().isoformat()
    values: dict[str, Any] = {"user_id": actor.user_id, "starts_on": today, "ends_on": today}
    for name in COUNT_NAMES:
        values[name] = 0
    site = request.query_params.get("site", "")
    if site.isdecimal():
        values["site_institution_id"] = int(site)
    return _form_page(request, session, actor, values=values, rows=_shown_rows([], False))


@router.post("/visits/new")
def new_visit_submit(request: Request, session: DB, actor: PageActor, form: Form) -> Response:
    _require_record(actor)
    errors = Errors()
    values = _values(form, errors)
    rows = _op_rows(form)
    if form.get("more"):
        errors.clear()
        return _form_page(request, session, actor, values=values, rows=_shown_rows(rows, True))
    if not values["site_institution_id"]:
        errors.add("site_institution_id", CHOOSE_SITE)
    if not values["user_id"]:
        errors.add("user_id", CHOOSE_EXPERT)
    values["operations"] = _operations(rows, errors)
    data = None if errors else build(VisitCreate, values, errors)
    status_code = 422
    if data is not None:
        try:
            view = visits.record_visit(session, actor, data)
        except DomainError as exc:
            status_code = forms.refusal_status(session, exc, errors)
        else:
            return _redirect(f"/visits/{view.record.id}?saved=1")
    return _form_page(
        request,
        session,
        actor,
        values=values,
        rows=_shown_rows(rows, False),
        errors=errors,
        status_code=status_code,
    )


def _values_of(view: visits.VisitView) -> tuple[dict[str, Any], list[OpRow]]:
    r = view.record
    values = {
        "user_id": r.user_id,
        "site_institution_id": r.site_institution_id,
        "department_id": r.department_id,
        "specialty_code": r.specialty_code,
        "roster_visit_id": r.roster_visit_id,
        "starts_on": r.starts_on.isoformat(),
        "ends_on": r.ends_on.isoformat(),
        "outpatients": r.outpatients,
        "ward_rounds": r.ward_rounds,
        "teaching_sessions": r.teaching_sessions,
        "difficult_cases": r.difficult_cases,
        "note": r.note,
        "version": r.version,
    }
    rows = [OpRow(o.icd10_code, o.procedure, str(o.count)) for o in view.operations]
    return values, rows


@router.get("/visits/{visit_id:int}")
def visit_page(request: Request, session: DB, actor: PageActor, visit_id: int) -> Response:
    view = visits.get_visit(session, actor, visit_id)
    flash = None
    if request.query_params.get("saved"):
        flash = gettext(SAVED)
    elif request.query_params.get("updated"):
        flash = gettext(UPDATED)
    return render(
        request,
        "visits/detail.html",
        {"view": view, "may_edit": visits.may_edit(actor, view.record), "flash": flash},
    )


@router.get("/visits/{visit_id:int}/edit")
def edit_visit_page(request: Request, session: DB, actor: PageActor, visit_id: int) -> Response:
    view = visits.get_visit(session, actor, visit_id)
    if not visits.may_edit(actor, view.record):
        raise Forbidden()
    values, rows = _values_of(view)
    return _form_page(
        request, session, actor, values=values, rows=_shown_rows(rows, False), view=view
    )


@router.post("/visits/{visit_id:int}/edit")
def edit_visit_submit(
    request: Request, session: DB, actor: PageActor, visit_id: int, form: Form
) -> Response:
    view = visits.get_visit(session, actor, visit_id)
    if not visits.may_edit(actor, view.record):
        raise Forbidden()
    errors = Errors()
    values = _values(form, errors)
    values["user_id"] = view.record.user_id
    values["version"] = form_int(form, "version", errors, required=True)
    rows = _op_rows(form)
    if form.get("more"):
        errors.clear()
        return _form_page(
            request, session, actor, values=values, rows=_shown_rows(rows, True), view=view
        )
    if not values["site_institution_id"]:
        errors.add("site_institution_id", REQUIRED)
    values["operations"] = _operations(rows, errors)
    update = {k: v for k, v in values.items() if k != "user_id"}
    data = None if errors else build(VisitUpdate, update, errors)
    status_code = 422
    if data is not None:
        try:
            visits.update_visit(session, actor, visit_id, data)
        except DomainError as exc:
            status_code = forms.refusal_status(session, exc, errors)
        else:
            return _redirect(f"/visits/{visit_id}?updated=1")
    view = visits.get_visit(session, actor, visit_id)
    return _form_page(
        request,
        session,
        actor,
        values=values,
        rows=_shown_rows(rows, False),
        errors=errors,
        view=view,
        status_code=status_code,
    )
