"""Pages of demand for visiting experts.

``/dispatch/demand`` lists the demand of the reader's institution as the site (what it asks)
and as the supporter (what is asked of it), filtered by side and status; ``/dispatch/demand/new``
and ``/dispatch/demand/{id}/edit`` hold the form; ``/dispatch/demand/{id}`` shows one demand
with the steps the reader's side may take (submit, withdraw; approve, reject with a note).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from medcircle.auth.domain import Actor
from medcircle.dispatch import demand as svc
from medcircle.dispatch.rules import (
    KIND_LABELS,
    STATUS_LABELS,
    DemandAction,
    DemandKind,
    DemandStatus,
    Side,
)
from medcircle.dispatch.setup_schemas import DecisionIn, DemandIn, DemandUpdate
from medcircle.kit.errors import DomainError, Forbidden
from medcircle.kit.i18n import N_, gettext
from medcircle.kit.pagination import PageParams
from medcircle.web import forms
from medcircle.web.deps import DB, PageActor
from medcircle.web.forms import Form, FormValues, build, form_date, form_int
from medcircle.web.routing import QuickRouter
from medcircle.web.templating import localised, render

router = QuickRouter()

PAGE_SIZE = 50
SIDE_LABELS: dict[Side, str] = {
    Side.SITE: N_("Asked by us"),
    Side.SUPPORTER: N_("Asked of us"),
}
ACTION_LABELS: dict[DemandAction, str] = {
    DemandAction.EDIT: N_("Change"),
    DemandAction.SUBMIT: N_("Submit to the supporting hospital"),
    DemandAction.APPROVE: N_("Approve"),
    DemandAction.REJECT: N_("Reject"),
    DemandAction.WITHDRAW: N_("Withdraw"),
}
DONE: dict[str, str] = {
    "created": N_("The demand is saved as a draft. Submit it when it is complete."),
    "edit": N_("The demand is changed."),
    "submit": N_("The demand is submitted to the supporting hospital."),
    "approve": N_("The demand is approved: the planner will plan it."),
    "reject": N_("The demand is rejected."),
    "withdraw": N_("The demand is withdrawn."),
}
ONE_VISIT = N_("%(count)s visit day a week")
VISITS = N_("%(count)s visit days a week")
ONE_POSITION = N_("%(count)s resident position")
POSITIONS = N_("%(count)s resident positions")
CHOOSE_AGREEMENT = N_("Choose the agreement.")
CHOOSE_SPECIALTY = N_("Choose the specialty.")
CHOOSE_KIND = N_("Choose what you ask for.")


class Errors(forms.Errors):
    field_names = {"version": "_form"}


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _require_read(actor: Actor) -> None:
    if not svc.can_read(actor):
        raise Forbidden()


def _require_write(actor: Actor) -> None:
    if not svc.can_write(actor):
        raise Forbidden()


def amount_text(row: Any) -> str:
    """What a demand asks, in words: "2 visit days a week", "1 resident position", "cochlear
    implant on 2026-12-09"."""
    kind = DemandKind(row.kind)
    if kind is DemandKind.VISITS:
        n = row.visits_per_week or 0
        return gettext(ONE_VISIT if n == 1 else VISITS, count=n)
    if kind is DemandKind.RESIDENT:
        n = row.positions or 0
        return gettext(ONE_POSITION if n == 1 else POSITIONS, count=n)
    return gettext(
        N_("%(skill)s on %(day)s"),
        skill=row.skill or "?",
        day=row.day.isoformat() if row.day else "?",
    )


def _common() -> dict[str, Any]:
    return {
        "kind_labels": KIND_LABELS,
        "status_labels": STATUS_LABELS,
        "side_labels": SIDE_LABELS,
        "action_labels": ACTION_LABELS,
        "amount_text": amount_text,
    }


# --- the list ---------------------------------------------------------------------------------


@router.get("/dispatch/demand")
def demand_list(request: Request, session: DB, actor: PageActor) -> Response:
    _require_read(actor)
    q = request.query_params
    side = Side(q["side"]) if q.get("side") in {s.value for s in Side} else None
    status = (
        DemandStatus(q["status"]) if q.get("status") in {s.value for s in DemandStatus} else None
    )
    try:
        page_no = max(1, min(10_000, int(q.get("page", "1"))))
    except ValueError:
        page_no = 1
    paging = PageParams(page=page_no, size=PAGE_SIZE)
    views, total = svc.list_demand(session, actor, side=side, status=status, page=paging)
    params = {k: v for k, v in (("side", side), ("status", status)) if v is not None}
    return render(
        request,
        "dispatch/demand_list.html",
        {
            **_common(),
            "views": views,
            "total": total,
            "page": page_no,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "base": "/dispatch/demand" + ("?" + urlencode(params) if params else ""),
            "side": side.value if side else "",
            "status": status.value if status else "",
            "side_options": [(s.value, gettext(label)) for s, label in SIDE_LABELS.items()],
            "status_options": [(s.value, gettext(label)) for s, label in STATUS_LABELS.items()],
            "can_write": svc.can_write(actor),
            "has_agreements": bool(svc.agreement_choices(session, actor)),
        },
    )


# --- the form ---------------------------------------------------------------------------------


def _form_page(
    request: Request,
    session: Session,
    actor: Actor,
    *,
    values: dict[str, Any],
    errors: Errors | None = None,
    view: svc.DemandView | None = None,
    status_code: int = 200,
) -> Response:
    choices = svc.agreement_choices(session, actor)
    specialties: dict[str, Any] = {}
    for c in choices:
        for s in c.specialties:
            specialties.setdefault(s.code, s)
    departments = svc.site_departments(session, actor)
    return render(
        request,
        "dispatch/demand_form.html",
        {
            **_common(),
            "view": view,
            "choices": choices,
            "agreement_options": [
                (
                    str(c.agreement.id),
                    f"{c.agreement.code} · {localised(c.supporter)} "
                    f"({c.first_day.isoformat()} – {c.last_day.isoformat()})",
                )
                for c in choices
            ],
            "specialty_options": [(code, localised(s)) for code, s in specialties.items()],
            "kind_options": [(k.value, gettext(label)) for k, label in KIND_LABELS.items()],
            "department_options": [(str(d.id), localised(d)) for d in departments],
            "values": values,
            "errors": errors or Errors(),
        },
        status_code=status_code,
    )


def _read_form(form: FormValues, errors: Errors) -> dict[str, Any]:
    """The demand fields of the form (numbers and dates parsed, messages by the field)."""
    kind = form.get("kind")
    if kind not in {k.value for k in DemandKind}:
        errors.add("kind", CHOOSE_KIND)
    if not form.get("specialty_code"):
        errors.add("specialty_code", CHOOSE_SPECIALTY)
    chosen = DemandKind(kind) if kind in {k.value for k in DemandKind} else None
    return {
        "specialty_code": form.get("specialty_code"),
        "kind": kind,
        "visits_per_week": form_int(form, "visits_per_week", errors)
        if chosen is DemandKind.VISITS
        else None,
        "positions": form_int(form, "positions", errors) if chosen is DemandKind.RESIDENT else None,
        "day": form_date(form, "day", errors) if chosen is DemandKind.SPECIAL else None,
        "skill": (form.get("skill") or None) if chosen is DemandKind.SPECIAL else None,
        "starts_on": form_date(form, "starts_on", errors),
        "ends_on": form_date(form, "ends_on", errors),
        "department_id": form_int(form, "department_id", errors),
        "note": form.get("note") or None,
    }


def _values(form: FormValues) -> dict[str, Any]:
    return {k: form.get(k) for k in form.values}


@router.get("/dispatch/demand/new")
def new_demand(request: Request, session: DB, actor: PageActor) -> Response:
    _require_write(actor)
    values: dict[str, str] = {"kind": DemandKind.VISITS.value, "visits_per_week": "1"}
    choices = svc.agreement_choices(session, actor)
    if len(choices) == 1:
        values["agreement_id"] = str(choices[0].agreement.id)
    return _form_page(request, session, actor, values=values)


@router.post("/dispatch/demand/new")
def create_submit(request: Request, session: DB, actor: PageActor, form: Form) -> Response:
    _require_write(actor)
    errors = Errors()
    agreement_id = form_int(form, "agreement_id", errors)
    if agreement_id is None and "agreement_id" not in errors:
        errors.add("agreement_id", CHOOSE_AGREEMENT)
    fields = _read_form(form, errors)
    status_code = 422
    if not errors:
        data = build(DemandIn, {**fields, "agreement_id": agreement_id}, errors)
        if data is not None:
            try:
                row = svc.create_demand(session, actor, data)
            except DomainError as exc:
                status_code = forms.refusal_status(session, exc, errors)
            else:
                return _redirect(f"/dispatch/demand/{row.id}?done=created")
    return _form_page(
        request, session, actor, values=_values(form), errors=errors, status_code=status_code
    )


def _row_values(v: svc.DemandView) -> dict[str, Any]:
    r = v.row
    return {
        "agreement_id": str(r.agreement_id),
        "specialty_code": r.specialty_code,
        "kind": r.kind,
        "visits_per_week": r.visits_per_week or "",
        "positions": r.positions or "",
        "day": r.day.isoformat() if r.day else "",
        "skill": r.skill or "",
        "starts_on": r.starts_on.isoformat(),
        "ends_on": r.ends_on.isoformat(),
        "department_id": str(r.department_id or ""),
        "note": r.note or "",
        "version": str(r.version),
    }


@router.get("/dispatch/demand/{demand_id:int}/edit")
def edit_demand(request: Request, session: DB, actor: PageActor, demand_id: int) -> Response:
    _require_write(actor)
    view = svc.get_demand(session, actor, demand_id)
    if DemandAction.EDIT not in view.actions:
        return _redirect(f"/dispatch/demand/{demand_id}")
    return _form_page(request, session, actor, values=_row_values(view), view=view)


@router.post("/dispatch/demand/{demand_id:int}/edit")
def edit_submit(
    request: Request, session: DB, actor: PageActor, demand_id: int, form: Form
) -> Response:
    _require_write(actor)
    view = svc.get_demand(session, actor, demand_id)
    errors = Errors()
    version = form_int(form, "version", errors, required=True)
    fields = _read_form(form, errors)
    status_code = 422
    if not errors:
        data = build(DemandUpdate, {**fields, "version": version}, errors)
        if data is not None:
            try:
                svc.edit_demand(session, actor, demand_id, data)
            except DomainError as exc:
                status_code = forms.refusal_status(session, exc, errors)
            else:
                return _redirect(f"/dispatch/demand/{demand_id}?done=edit")
            view = svc.get_demand(session, actor, demand_id)
    values = _values(form)
    return _form_page(
        request, session, actor, values=values, errors=errors, view=view, status_code=status_code
    )


# --- one demand and its steps -----------------------------------------------------------------


def _detail_page(
    request: Request,
    session: Session,
    actor: Actor,
    demand_id: int,
    *,
    errors: Errors | None = None,
    note: str = "",
    status_code: int = 200,
) -> Response:
    view = svc.get_demand(session, actor, demand_id)
    flash_key = request.query_params.get("done", "")
    return render(
        request,
        "dispatch/demand_detail.html",
        {
            **_common(),
            "v": view,
            "errors": errors or Errors(),
            "note": note,
            "flash": gettext(DONE[flash_key]) if flash_key in DONE else None,
            "flash_kind": "ok",
        },
        status_code=status_code,
    )


@router.get("/dispatch/demand/{demand_id:int}")
def demand_detail(request: Request, session: DB, actor: PageActor, demand_id: int) -> Response:
    _require_read(actor)
    return _detail_page(request, session, actor, demand_id)


STEPS = {
    DemandAction.SUBMIT: svc.submit_demand,
    DemandAction.APPROVE: svc.approve_demand,
    DemandAction.REJECT: svc.reject_demand,
    DemandAction.WITHDRAW: svc.withdraw_demand,
}


@router.post("/dispatch/demand/{demand_id:int}/{action}")
def step_submit(
    request: Request, session: DB, actor: PageActor, demand_id: int, action: str, form: Form
) -> Response:
    _require_write(actor)
    chosen = next((a for a in STEPS if a.value == action), None)
    if chosen is None:
        return _redirect(f"/dispatch/demand/{demand_id}")
    errors = Errors()
    version = form_int(form, "version", errors, required=True)
    status_code = 422
    if not errors:
        data = build(DecisionIn, {"version": version, "note": form.get("note") or None}, errors)
        if data is not None:
            try:
                STEPS[chosen](session, actor, demand_id, data)
            except DomainError as exc:
                status_code = forms.refusal_status(session, exc, errors)
            else:
                return _redirect(f"/dispatch/demand/{demand_id}?done={chosen.value}")
    return _detail_page(
        request,
        session,
        actor,
        demand_id,
        errors=errors,
        note=form.get("note"),
        status_code=status_code,
    )


__all__ = ["amount_text", "router"]
