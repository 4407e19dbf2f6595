"""Pages of referrals: worklists, the referral form, the detail with its history and actions,
the return referral, attachments, and the directory of departments with their current wait."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import File, Request, UploadFile
from fastapi.responses import FileResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from medcircle.auth.domain import Actor, Permission
from medcircle.kit import clock
from medcircle.kit.clock import CST
from medcircle.kit.errors import Conflict, DomainError, Forbidden, NotFound
from medcircle.kit.i18n import N_, gettext
from medcircle.kit.pagination import PageParams
from medcircle.patients import service as patients
from medcircle.patients.models import Patient
from medcircle.referrals import attachments, icd10, queries, service
from medcircle.referrals.domain import (
    ACTION_LABELS,
    CARE_TYPE_LABELS,
    DIRECTION_LABELS,
    STATUS_LABELS,
    TERMINAL,
    URGENCY_LABELS,
    Action,
    CareType,
    Direction,
    Side,
    Status,
    Urgency,
    find_transition,
)
from medcircle.referrals.models import Referral
from medcircle.referrals.schemas import ReferralCreate, ReferralUpdate, TransitionIn
from medcircle.registry import service as registry
from medcircle.registry.repository import InstitutionFilter
from medcircle.web import forms
from medcircle.web.deps import DB, PageActor, Paging, settings_of
from medcircle.web.forms import (
    CHECK_VALUE,
    REQUIRED,
    Form,
    FormValues,
    build,
    form_int,
    form_local_datetime,
)
from medcircle.web.routing import QuickRouter
from medcircle.web.templating import render

router = QuickRouter()

CHOOSE_DEPARTMENT = N_("Choose the receiving department.")
CHOOSE_PATIENT = N_("Choose the patient.")
SAVED_DRAFT = N_("The draft is saved. Submit it when it is complete.")
SUBMITTED = N_("The referral is submitted.")
DONE = N_("Done: %(action)s.")
LINK_MADE = N_("The status link is made. Copy it now: it is shown only once.")
UPLOADED = N_("The file is attached.")
CHOOSE_FILE = N_("Choose a file to attach.")

# departments offered by the referral form's picker, in-network first
PICKER_SIZE = 300
PICKER_PATIENTS = PageParams(1, 50)
# the largest id a row can have (a larger number is no record, not a database error)
MAX_ID = 2**31 - 1

# what each worklist holds, under its tabs
LIST_HELP: dict[str, str] = {
    "incoming": N_(
        "Referrals sent to your institution that wait for triage: the most urgent first, "
        "then the oldest. Overdue ones are marked and escalate by themselves."
    ),
    "scheduled": N_("Referrals your institution accepted: the next appointment first."),
    "outgoing": N_(
        "Referrals your institution sent that are still open, drafts included, with their "
        "live state: the most recently changed first."
    ),
    "awaiting_return": N_(
        "Patients sent up who arrived or completed their care and have no return referral "
        "back to the local hospital yet."
    ),
    "escalated": N_(
        "Referrals still not triaged after their institution's admins were told, in the "
        "alliances your institution leads. No clinical details are shown."
    ),
}

# steps of the history that are not transitions
EVENT_LABELS: dict[str, str] = {
    "create": N_("Referral created"),
    "update": N_("Draft edited"),
    "escalate": N_("Escalated"),
    "appointment_passed": N_("Appointment passed: asked whether the patient came"),
    "return": N_("Return referral created"),
    "patient_merged": N_("Patient's duplicate records merged"),
}

LABELS: dict[str, Any] = {
    "status_labels": STATUS_LABELS,
    "action_labels": ACTION_LABELS,
    "urgency_labels": URGENCY_LABELS,
    "care_type_labels": CARE_TYPE_LABELS,
    "direction_labels": DIRECTION_LABELS,
    "event_labels": EVENT_LABELS,
}

# service field names the forms show under another name
FORM_FIELD = {"receiver_institution_id": "receiver_department_id", "referral_id": "_form"}


# --- forms --------------------------------------------------------------------------------


class Errors(forms.Errors):
    field_names = FORM_FIELD


def local_input(value: datetime | None) -> str:
    """An aware instant as the value of a ``datetime-local`` input (China Standard Time)."""
    return value.astimezone(CST).strftime("%Y-%m-%dT%H:%M") if value else ""


def _refused(session: Session, errors: Errors, exc: DomainError) -> int:
    """A form the service refused: access errors go on to the error page; anything the user
    can correct is rolled back and shown by its field. Returns the status to answer with."""
    if exc.status in (401, 403, 404):
        raise exc
    session.rollback()
    errors.from_domain(exc)
    return 409 if isinstance(exc, Conflict) else 422


def _labels(mapping: dict[Any, str]) -> list[tuple[str, str]]:
    return [(k.value, gettext(v)) for k, v in mapping.items()]


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _choice(raw: str, kind: type[Any]) -> Any:
    try:
        return kind(raw) if raw else None
    except ValueError:
        return None


# --- worklists ----------------------------------------------------------------------------


def _require_any_list(actor: Actor) -> None:
    if not (actor.can(Permission.REFERRAL_READ) or actor.can(Permission.REFERRAL_OVERSEE)):
        raise Forbidden()


@router.get("/referrals")
def worklists_page(request: Request, session: DB, actor: PageActor, paging: Paging) -> Response:
    _require_any_list(actor)
    qp = request.query_params
    counts = queries.counts(session, actor)
    tabs = list(counts)
    if not tabs:
        raise Forbidden()
    errors = Errors()
    name = _choice(qp.get("list", ""), queries.Worklist)
    if qp.get("list") and name not in tabs:
        errors.add("list", CHECK_VALUE)
    if name not in tabs:
        name = tabs[0]
    urgency = _choice(qp.get("urgency", ""), Urgency)
    if qp.get("urgency") and urgency is None:
        errors.add("urgency", CHECK_VALUE)
    direction = _choice(qp.get("direction", ""), Direction)
    if qp.get("direction") and direction is None:
        errors.add("direction", CHECK_VALUE)
    q = qp.get("q", "").strip()[:100]
    filters = queries.WorklistFilter(urgency=urgency, direction=direction, q=q or None)
    found = queries.worklist(session, actor, name, paging, filters)
    shown = {
        "list": name.value,
        "urgency": urgency.value if urgency else "",
        "direction": direction.value if direction else "",
        "q": q,
    }
    base_query = {k: v for k, v in shown.items() if v}
    return render(
        request,
        "referrals/worklists.html",
        {
            "tabs": tabs,
            "counts": counts,
            "current": name,
            "rows": found.items,
            "total": found.total,
            "page": found.page,
            "pages": found.pages,
            "base": "/referrals?" + urlencode(base_query),
            "f": shown,
            "errors": errors,
            "now": clock.now(),
            "urgencies": _labels(URGENCY_LABELS),
            "directions": _labels(DIRECTION_LABELS),
            "may_send": actor.can(Permission.REFERRAL_SEND),
            "may_open": actor.can(Permission.REFERRAL_READ),
            "list_labels": queries.WORKLIST_LABELS,
            "list_help": LIST_HELP,
            **LABELS,
        },
        status_code=422 if errors else 200,
    )


# --- the referral form --------------------------------------------------------------------


def _department_choices(
    session: Session, actor: Actor, request: Request, q: str | None = None
) -> list[queries.DirectoryRow]:
    """Departments the sender may pick (in-network first), each with its current wait."""
    found = queries.directory(
        session,
        actor,
        queries.DirectoryFilter(q=q or None),
        PageParams(1, PICKER_SIZE),
        settings_of(request),
    )
    return list(found.items)


def _patient_choices(
    session: Session, actor: Actor, request: Request, q: str | None = None
) -> list[Patient]:
    """Patients of the actor's institution for the form's picker (a search narrows them)."""
    rows, _ = patients.list_patients(
        session, actor, patients.Search(q=q or None), PICKER_PATIENTS, settings_of(request)
    )
    return list(rows)


def _form_page(
    request: Request,
    session: Session,
    actor: Actor,
    *,
    values: dict[str, Any],
    errors: Errors | None = None,
    action: str = "/referrals/new",
    parent: Referral | None = None,
    referral: Referral | None = None,
    status_code: int = 200,
) -> Response:
    patient: Patient | None = None
    patient_id = values.get("patient_id")
    if isinstance(patient_id, int) and 0 < patient_id <= MAX_ID:
        try:
            patient = patients.get_patient(session, actor, patient_id)
        except (NotFound, Forbidden):
            patient = None
    own_departments, _ = registry.list_departments(
        session, actor, actor.institution_id, PageParams(1, 500)
    )
    return render(
        request,
        "referrals/form.html",
        {
            "v": values,
            "errors": errors or Errors(),
            "action": action,
            "parent": parent,
            "referral": referral,
            "patient": patient,
            "patients": [] if parent else _patient_choices(session, actor, request),
            "departments": _department_choices(session, actor, request),
            "own_departments": own_departments,
            "urgencies": _labels(URGENCY_LABELS),
            "care_types": _labels(CARE_TYPE_LABELS),
            "directions": _labels(DIRECTION_LABELS),
            "may_register": actor.can(Permission.PATIENT_MANAGE),
            **LABELS,
        },
        status_code=status_code,
    )


def _require_send(actor: Actor) -> None:
    if not actor.can(Permission.REFERRAL_SEND):
        raise Forbidden()


def _referral_values(form: FormValues, errors: Errors) -> dict[str, Any]:
    return {
        "patient_id": form_int(form, "patient_id", errors),
        "receiver_department_id": form_int(form, "receiver_department_id", errors),
        "sender_department_id": form_int(form, "sender_department_id", errors),
        "urgency": form.get("urgency") or None,
        "care_type": form.get("care_type") or None,
        "direction": form.get("direction") or None,
        "icd10_code": form.get("icd10_code"),
        "diagnosis": form.get("diagnosis") or None,
        "reason": form.get("reason"),
        "clinical_summary": form.get("clinical_summary"),
        "outside_network_reason": form.get("outside_network_reason") or None,
        "submit": form.get("submit") != "0",
    }


def _check_required(values: dict[str, Any], errors: Errors, with_patient: bool = True) -> None:
    if with_patient and not values["patient_id"] and "patient_id" not in errors:
        errors.add("patient_id", CHOOSE_PATIENT)
    if not values["receiver_department_id"] and "receiver_department_id" not in errors:
        errors.add("receiver_department_id", CHOOSE_DEPARTMENT)
    for name in ("urgency", "care_type", "icd10_code", "reason", "clinical_summary"):
        if not values[name]:
            errors.add(name, REQUIRED)


def _saved_url(referral: Referral) -> str:
    saved = "draft" if referral.status == Status.DRAFT.value else "submitted"
    return f"/referrals/{referral.id}?saved={saved}"


@router.get("/referrals/new")
def new_referral_page(request: Request, session: DB, actor: PageActor) -> Response:
    _require_send(actor)
    raw = request.query_params.get("patient_id", "")
    values: dict[str, Any] = {
        "patient_id": int(raw) if raw.isdecimal() else None,
        "urgency": Urgency.ROUTINE.value,
        "care_type": CareType.OUTPATIENT.value,
    }
    return _form_page(request, session, actor, values=values)


@router.post("/referrals/new")
def new_referral_submit(request: Request, session: DB, actor: PageActor, form: Form) -> Response:
    _require_send(actor)
    errors = Errors()
    values = _referral_values(form, errors)
    _check_required(values, errors)
    data = None if errors else build(ReferralCreate, values, errors)
    status_code = 422
    if data is not None:
        try:
            referral = service.create(session, actor, data, settings_of(request))
        except DomainError as exc:
            status_code = _refused(session, errors, exc)
        else:
            return _redirect(_saved_url(referral))
    return _form_page(
        request, session, actor, values=values, errors=errors, status_code=status_code
    )


@router.get("/referrals/icd10")
def icd10_lookup(request: Request, session: DB, actor: PageActor) -> Response:
    """The ICD-10 look-up under the form's code field (an HTMX partial)."""
    _require_send(actor)
    q = (request.query_params.get("icd10_code") or request.query_params.get("q") or "").strip()
    results = icd10.search(q[:60], limit=12) if len(q) >= 2 else []
    return render(request, "referrals/_icd10_results.html", {"results": results, "q": q})


@router.get("/referrals/patients")
def patient_options(request: Request, session: DB, actor: PageActor) -> Response:
    """The patient picker's options for a search by name or ID number (an HTMX partial)."""
    _require_send(actor)
    q = request.query_params.get("patient_q", "").strip()[:64]
    return render(
        request,
        "referrals/_patient_options.html",
        {
            "patients": _patient_choices(session, actor, request, q),
            "selected": request.query_params.get("patient_id", ""),
        },
    )


@router.get("/referrals/departments")
def department_options(request: Request, session: DB, actor: PageActor) -> Response:
    """The receiving-department picker's options for a search (an HTMX partial)."""
    _require_send(actor)
    q = request.query_params.get("department_q", "").strip()[:100]
    raw = request.query_params.get("receiver_department_id", "")
    return render(
        request,
        "referrals/_department_options.html",
        {
            "departments": _department_choices(session, actor, request, q),
            "selected": raw,
        },
    )


def _draft_values(r: Referral) -> dict[str, Any]:
    return {
        "patient_id": r.patient_id,
        "receiver_department_id": r.receiver_department_id,
        "sender_department_id": r.sender_department_id,
        "urgency": r.urgency,
        "care_type": r.care_type,
        "direction": r.direction,
        "icd10_code": r.icd10_code,
        "diagnosis": r.diagnosis,
        "reason": r.reason,
        "clinical_summary": r.clinical_summary,
        "outside_network_reason": r.outside_network_reason,
        "version": r.version,
    }


@router.get("/referrals/{referral_id:int}/edit")
def edit_draft_page(request: Request, session: DB, actor: PageActor, referral_id: int) -> Response:
    _require_send(actor)
    r = service.get(session, actor, referral_id)
    if r.status != Status.DRAFT.value or Side.SENDER not in service.sides(actor, r):
        raise Forbidden()
    return _form_page(
        request,
        session,
        actor,
        values=_draft_values(r),
        action=f"/referrals/{r.id}/edit",
        referral=r,
    )


@router.post("/referrals/{referral_id:int}/edit")
def edit_draft_submit(
    request: Request, session: DB, actor: PageActor, referral_id: int, form: Form
) -> Response:
    _require_send(actor)
    errors = Errors()
    values = _referral_values(form, errors)
    values["version"] = form_int(form, "version", errors, required=True)
    _check_required(values, errors)
    submit = values.pop("submit")
    data = None if errors else build(ReferralUpdate, values, errors)
    status_code = 422
    if data is not None:
        try:
            r = service.update_draft(session, actor, referral_id, data)
            if submit:
                r = service.transition(
                    session,
                    actor,
                    referral_id,
                    TransitionIn(action=Action.SUBMIT, version=r.version),
                    settings_of(request),
                )
        except DomainError as exc:
            status_code = _refused(session, errors, exc)
        else:
            return _redirect(_saved_url(r))
    values["submit"] = submit
    r = service.get(session, actor, referral_id)
    return _form_page(
        request,
        session,
        actor,
        values=values,
        errors=errors,
        action=f"/referrals/{referral_id}/edit",
        referral=r,
        status_code=status_code,
    )


# --- the return referral ------------------------------------------------------------------


@router.get("/referrals/{referral_id:int}/return")
def return_page(request: Request, session: DB, actor: PageActor, referral_id: int) -> Response:
    _require_send(actor)
    parent = service.get(session, actor, referral_id)
    prefill = service.return_prefill(session, actor, referral_id)
    values = prefill.model_dump(mode="json")
    return _form_page(
        request,
        session,
        actor,
        values=values,
        action=f"/referrals/{referral_id}/return",
        parent=parent,
    )


@router.post("/referrals/{referral_id:int}/return")
def return_submit(
    request: Request, session: DB, actor: PageActor, referral_id: int, form: Form
) -> Response:
    _require_send(actor)
    parent = service.get(session, actor, referral_id)
    errors = Errors()
    values = _referral_values(form, errors)
    values["patient_id"] = parent.patient_id
    _check_required(values, errors, with_patient=False)
    data = None if errors else build(ReferralCreate, values, errors)
    status_code = 422
    if data is not None:
        try:
            created = service.create_return(session, actor, referral_id, data, settings_of(request))
        except DomainError as exc:
            status_code = _refused(session, errors, exc)
        else:
            return _redirect(_saved_url(created))
    parent = service.get(session, actor, referral_id)
    return _form_page(
        request,
        session,
        actor,
        values=values,
        errors=errors,
        action=f"/referrals/{referral_id}/return",
        parent=parent,
        status_code=status_code,
    )


# --- the detail: summary, history, actions ------------------------------------------------


def _linked(session: Session, actor: Actor, referral_id: int | None) -> Referral | None:
    """A referral linked to the one shown, if the actor's institution is a party to it too
    (after a redirect to another hospital, the first receiver is not)."""
    if referral_id is None:
        return None
    try:
        return service.get(session, actor, referral_id)
    except NotFound:
        return None


@dataclass
class ActionForm:
    """One action the actor may take, with what its form needs."""

    action: Action
    requires: tuple[str, ...]
    values: dict[str, Any]
    errors: Errors


def _action_forms(
    r: Referral,
    actions: list[Action],
    failed: Action | None,
    failed_values: dict[str, Any],
    failed_errors: Errors | None,
) -> list[ActionForm]:
    forms = []
    for action in actions:
        t = find_transition(Status(r.status), action)
        requires = t.requires if t else ()
        values: dict[str, Any] = {}
        if action == Action.RESCHEDULE:
            values = {
                "appointment_at": local_input(r.appointment_at),
                "appointment_place": r.appointment_place or "",
                "what_to_bring": r.what_to_bring or "",
            }
        if action == failed:
            values = failed_values
        forms.append(
            ActionForm(
                action=action,
                requires=requires,
                values=values,
                errors=failed_errors if action == failed and failed_errors else Errors(),
            )
        )
    return forms


def _detail(
    request: Request,
    session: Session,
    actor: Actor,
    referral_id: int,
    *,
    failed: Action | None = None,
    failed_values: dict[str, Any] | None = None,
    failed_errors: Errors | None = None,
    upload_errors: Errors | None = None,
    flash: str | None = None,
    flash_kind: str = "ok",
    new_link: tuple[str, datetime] | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    r = service.get(session, actor, referral_id)
    events = service.history(session, actor, r)
    sides = service.sides(actor, r)
    actions = service.available_actions(actor, r)
    # the referral's access check covers its patient (sender's own, or referred to the actor)
    patient = service.view_of(session, r).patient if actor.can(Permission.PATIENT_READ) else None
    institutions = registry.institutions_by_ids(
        session,
        actor,
        [r.sender_institution_id, r.receiver_institution_id]
        + [e.actor_institution_id for e in events if e.actor_institution_id],
    )
    departments = registry.departments_by_ids(
        session,
        actor,
        [d for d in (r.sender_department_id, r.receiver_department_id) if d is not None],
    )
    users = service.people_of(session, actor, r, events)
    related = service.continuations(session, actor, r)
    parent = _linked(session, actor, r.parent_id)
    redirected_to = _linked(session, actor, r.redirected_to_id)
    now = clock.now()
    has_return = any(x.direction == Direction.DOWN.value for x in related)
    may_return = (
        r.direction == Direction.UP.value
        and r.status in (Status.COMPLETED.value, Status.CLOSED.value)
        and Side.RECEIVER in sides
        and actor.can(Permission.REFERRAL_SEND)
        and not has_return
    )
    may_link = (
        bool(sides)
        and Status(r.status) not in TERMINAL
        and r.status != Status.DRAFT.value
        and (actor.can(Permission.REFERRAL_SEND) or actor.can(Permission.REFERRAL_TRIAGE))
    )
    if failed is not None and failed not in actions and failed_errors:
        # the form is gone (someone else moved the referral on): say why on the page itself
        reasons = [m for messages in failed_errors.values() for m in messages]
        flash = " ".join([flash or "", *reasons]).strip()
    may_attach = (
        Side.SENDER in sides
        and r.status in attachments.OPEN_FOR_FILES
        and actor.can(Permission.REFERRAL_SEND)
    )
    redirect_choices: list[queries.DirectoryRow] = []
    redirect_own: list[tuple[Any, queries.Wait]] = []
    if Action.REDIRECT in actions:
        # another department of one's own hospital, or of another hospital
        redirect_choices = _department_choices(session, actor, request)
        own, _ = registry.list_departments(session, actor, actor.institution_id, PageParams(1, 500))
        own = [d for d in own if d.is_active and d.id != r.receiver_department_id]
        waits = queries.current_wait(
            session, [d.id for d in own], now, settings_of(request).wait_window_days
        )
        redirect_own = [(d, waits[d.id]) for d in own]
    return render(
        request,
        "referrals/detail.html",
        {
            "r": r,
            "events": events,
            "sides": sides,
            "forms": _action_forms(r, actions, failed, failed_values or {}, failed_errors),
            "patient": patient,
            "institutions": institutions,
            "departments": departments,
            "users": users,
            "related": related,
            "parent": parent,
            "redirected_to": redirected_to,
            "overdue": bool(
                r.status == Status.SUBMITTED.value and r.triage_due_at and r.triage_due_at < now
            ),
            "may_return": may_return,
            "may_link": may_link,
            "may_attach": may_attach,
            "may_edit": r.status == Status.DRAFT.value and Side.SENDER in sides,
            "attachments": attachments.list_for(session, actor, r.id),
            "upload_errors": upload_errors or Errors(),
            "redirect_choices": redirect_choices,
            "redirect_own": redirect_own,
            "new_link": new_link,
            "flash": flash,
            "flash_kind": flash_kind,
            "max_upload_mb": attachments.MAX_BYTES / (1024 * 1024),
            "now": now,
            **LABELS,
        },
        status_code=status_code,
        headers=headers,
    )


SAVED_FLASH = {"draft": SAVED_DRAFT, "submitted": SUBMITTED}


@router.get("/referrals/{referral_id:int}")
def referral_page(request: Request, session: DB, actor: PageActor, referral_id: int) -> Response:
    qp = request.query_params
    flash = None
    saved = SAVED_FLASH.get(qp.get("saved", ""))
    if saved is not None:
        flash = gettext(saved)
    done = _choice(qp.get("done", ""), Action)
    if done is not None:
        flash = gettext(DONE, action=gettext(ACTION_LABELS[done]))
    if qp.get("attached"):
        flash = gettext(UPLOADED)
    return _detail(request, session, actor, referral_id, flash=flash)


def _transition_values(form: FormValues, errors: Errors) -> dict[str, Any]:
    return {
        "action": form.get("action") or None,
        "version": form_int(form, "version", errors, required=True),
        "reason": form.get("reason") or None,
        "appointment_at": form_local_datetime(form, "appointment_at", errors),
        "appointment_place": form.get("appointment_place") or None,
        "what_to_bring": form.get("what_to_bring") or None,
        "outcome_summary": form.get("outcome_summary") or None,
        "local_plan": form.get("local_plan") in ("1", "on", "true"),
        "receiver_department_id": form_int(form, "receiver_department_id", errors),
    }


@router.post("/referrals/{referral_id:int}/transitions")
def transition_submit(
    request: Request, session: DB, actor: PageActor, referral_id: int, form: Form
) -> Response:
    errors = Errors()
    values = _transition_values(form, errors)
    action = _choice(values["action"] or "", Action)
    if action is None:
        errors.add("_form", CHECK_VALUE)
    else:
        r = service.get(session, actor, referral_id)
        t = find_transition(Status(r.status), action)
        for name in t.requires if t else ():
            if not values.get(name) and name not in errors:
                errors.add(
                    name, CHOOSE_DEPARTMENT if name == "receiver_department_id" else REQUIRED
                )
    data = None if errors else build(TransitionIn, values, errors)
    status_code = 422
    if data is not None:
        try:
            service.transition(session, actor, referral_id, data, settings_of(request))
        except DomainError as exc:
            status_code = _refused(session, errors, exc)
        else:
            assert action is not None
            return _redirect(f"/referrals/{referral_id}?done={action.value}#history")
    shown = {
        **{k: form.get(k) for k in form.values},
        "local_plan": values["local_plan"],
    }
    return _detail(
        request,
        session,
        actor,
        referral_id,
        failed=action,
        failed_values=shown,
        failed_errors=errors,
        flash=gettext(N_("The action was not carried out.")),
        flash_kind="error",
        status_code=status_code,
    )


@router.post("/referrals/{referral_id:int}/status-link")
def status_link_submit(
    request: Request, session: DB, actor: PageActor, referral_id: int
) -> Response:
    settings = settings_of(request)
    link, token = service.create_status_link(session, actor, referral_id, settings)
    url = settings.base_url.rstrip("/") + f"/status/{token}"
    return _detail(
        request,
        session,
        actor,
        referral_id,
        new_link=(url, link.expires_at),
        flash=gettext(LINK_MADE),
        # the page holds the secret once: never cached, never sent on as a referrer
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


@router.post("/referrals/{referral_id:int}/attachments")
def upload_submit(
    request: Request,
    session: DB,
    actor: PageActor,
    referral_id: int,
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    errors = Errors()
    if file is None or not file.filename:
        errors.add("file", CHOOSE_FILE)
    else:
        data = file.file.read()
        try:
            attachments.add(
                session,
                actor,
                referral_id,
                file.filename,
                file.content_type or "application/octet-stream",
                data,
                settings_of(request),
            )
        except DomainError as exc:
            if exc.status in (401, 403, 404):
                raise
            session.rollback()
            for fe in exc.field_errors:
                errors.setdefault("file", []).append(fe.text())
            if not exc.field_errors:
                errors.setdefault("file", []).append(exc.text())
        else:
            return _redirect(f"/referrals/{referral_id}?attached=1#attachments")
    return _detail(request, session, actor, referral_id, upload_errors=errors, status_code=422)


@router.get("/referrals/{referral_id:int}/attachments/{attachment_id:int}")
def download_attachment(
    request: Request, session: DB, actor: PageActor, referral_id: int, attachment_id: int
) -> Response:
    row, path = attachments.open(session, actor, referral_id, attachment_id, settings_of(request))
    return FileResponse(
        str(path),
        media_type=row.content_type,
        filename=row.filename,
        content_disposition_type="attachment",
        headers={"Cache-Control": "private, no-store"},
    )


# --- the directory ------------------------------------------------------------------------


@router.get("/directory")
def directory_page(request: Request, session: DB, actor: PageActor, paging: Paging) -> Response:
    qp = request.query_params
    errors = Errors()
    institution_id = None
    raw_inst = qp.get("institution_id", "")
    if raw_inst:
        if raw_inst.isdecimal() and 0 < int(raw_inst) <= MAX_ID:
            institution_id = int(raw_inst)
        else:
            errors.add("institution_id", CHECK_VALUE)
    specialty = qp.get("specialty", "").strip()[:32]
    q = qp.get("q", "").strip()[:100]
    found = queries.directory(
        session,
        actor,
        queries.DirectoryFilter(
            specialty=specialty or None, institution_id=institution_id, q=q or None
        ),
        paging,
        settings_of(request),
    )
    shown = {"specialty": specialty, "institution_id": raw_inst, "q": q}
    institutions, _ = registry.list_institutions(
        session, actor, InstitutionFilter(), PageParams(1, 500)
    )
    return render(
        request,
        "referrals/directory.html",
        {
            "rows": found.items,
            "total": found.total,
            "page": found.page,
            "pages": found.pages,
            "base": "/directory?" + urlencode({k: v for k, v in shown.items() if v}),
            "f": shown,
            "errors": errors,
            "specialties": registry.list_specialties(session, actor),
            "institutions": institutions,
            "window_days": settings_of(request).wait_window_days,
        },
        status_code=422 if errors else 200,
    )
