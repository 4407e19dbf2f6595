"""Pages of agreements: the list with ending-soon and overdue sections, pairing forms and
details (goals, documents, termination), framework agreements."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import File, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from medcircle.agreements import service
from medcircle.agreements.domain import (
    ENDING_SOON_MONTHS,
    GOAL_STATUS_LABELS,
    KIND_LABELS,
    STATUS_LABELS,
    AgreementKind,
    AgreementStatus,
    AgreementTerms,
    GoalStatus,
    add_months,
    date_errors,
    term_warnings,
)
from medcircle.agreements.repository import AgreementFilter
from medcircle.agreements.router import download_response, store_of
from medcircle.agreements.schemas import (
    AgreementCreate,
    AgreementTerminate,
    AgreementUpdate,
    FrameworkCreate,
    FrameworkUpdate,
    GoalCreate,
    GoalUpdate,
)
from medcircle.auth.domain import Actor
from medcircle.kit import clock
from medcircle.kit.errors import Conflict, DomainError, Forbidden
from medcircle.kit.i18n import N_, gettext
from medcircle.kit.pagination import PageParams
from medcircle.web import forms
from medcircle.web.deps import DB, PageActor, Paging, settings_of
from medcircle.web.forms import (
    CHECK_VALUE,
    REQUIRED,
    Form,
    FormValues,
    build,
    form_date,
    form_int,
)
from medcircle.web.routing import QuickRouter
from medcircle.web.templating import render

router = QuickRouter()

SAVED = N_("Saved.")

LABELS = {
    "kind_labels": KIND_LABELS,
    "status_labels": STATUS_LABELS,
    "goal_status_labels": GOAL_STATUS_LABELS,
}

# API field names that the forms show under another name
FORM_FIELD = {
    "supporting_institution_code": "supporting_institution_id",
    "supported_institution_code": "supported_institution_id",
    # the registry's answer when a trusteeship renames the supported hospital
    "name_zh": "licensed_name_zh",
    "name_en": "licensed_name_en",
    "valid_from": "licensed_name_zh",
    "agreement_id": "_form",
}


class Errors(forms.Errors):
    field_names = FORM_FIELD


def _labels(mapping: dict[Any, str]) -> list[tuple[str, str]]:
    return [(k.value, gettext(v)) for k, v in mapping.items()]


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


# --- the list -----------------------------------------------------------------------------


def _page_filter(request: Request, errors: Errors) -> tuple[AgreementFilter, dict[str, str]]:
    """Filters from the query string, forgiving blanks; bad values are reported, not fatal."""
    qp = request.query_params
    form = FormValues({k: qp.getlist(k) for k in qp})
    on = form_date(form, "active_on", errors) or clock.today()
    for problem in date_errors(active_on=on):
        errors.add(problem.field, problem.message, **problem.params_dict)
        on = clock.today()
    status_raw = form.get("status") or AgreementStatus.ACTIVE.value
    status = None
    if status_raw != "all":
        try:
            status = AgreementStatus(status_raw)
        except ValueError:
            errors.add("status", CHECK_VALUE)
            status = AgreementStatus.ACTIVE
    kind = form.get("kind")
    if kind and kind not in {k.value for k in AgreementKind}:
        errors.add("kind", CHECK_VALUE)
        kind = ""
    months = form_int(form, "ending_within_months", errors)
    if months is not None and not 1 <= months <= 120:
        errors.add("ending_within_months", CHECK_VALUE)
        months = None
    overdue_raw = form.get("has_overdue_goals")
    overdue = {"yes": True, "true": True, "no": False, "false": False}.get(overdue_raw)
    f = AgreementFilter(
        on=on,
        status=status,
        kind=kind or None,
        institution_id=form_int(form, "institution_id", errors),
        specialty=form.get("specialty")[:32] or None,
        framework_id=form_int(form, "framework_id", errors),
        ends_before=add_months(on, months) if months else None,
        has_overdue_goals=overdue,
        q=form.get("q")[:100] or None,
    )
    shown = {k: form.get(k) for k in form.values}
    shown.setdefault("status", status_raw)
    shown["active_on"] = on.isoformat()
    return f, shown


def _refused(session: Session, errors: Errors, exc: DomainError) -> int:
    """A form the service refused: access errors go on to the error page; anything the user
    can correct is rolled back and shown by its field. Returns the status to answer with."""
    if exc.status in (401, 403, 404):
        raise exc
    session.rollback()
    errors.from_domain(exc)
    return 409 if isinstance(exc, Conflict) else 422


@router.get("/agreements")
def agreements_page(request: Request, session: DB, actor: PageActor, paging: Paging) -> Response:
    errors = Errors()
    f, shown = _page_filter(request, errors)
    views, total = service.list_agreements(session, actor, f, paging)
    soon_filter = AgreementFilter(
        on=f.on,
        status=AgreementStatus.ACTIVE,
        ends_before=add_months(f.on, ENDING_SOON_MONTHS),
    )
    soon, soon_total = service.list_agreements(session, actor, soon_filter, PageParams(1, 20))
    overdue, overdue_total = service.list_overdue_goals(session, actor, PageParams(1, 20), f.on)
    query = {k: v for k, v in request.query_params.items() if k != "page" and v}
    return render(
        request,
        "agreements/list.html",
        {
            "rows": views,
            "total": total,
            "page": paging.page,
            "pages": max(1, -(-total // paging.size)),
            "base": "/agreements?" + urlencode(query),
            "f": shown,
            "on": f.on,
            "errors": errors,
            "soon": soon,
            "soon_total": soon_total,
            "overdue": overdue,
            "overdue_total": overdue_total,
            "may_create": service.may_create(actor),
            **_choices(session, actor),
        },
        status_code=422 if errors else 200,
    )


def _choices(session: Session, actor: Actor) -> dict[str, Any]:
    return {
        "institutions": service.institution_choices(session, actor),
        "specialties": service.specialty_choices(session, actor),
        "frameworks": service.framework_choices(session, actor),
        "kinds": _labels(KIND_LABELS),
        "statuses": _labels(STATUS_LABELS),
        "goal_statuses": _labels(GOAL_STATUS_LABELS),
        **LABELS,
    }


# --- new and edit -------------------------------------------------------------------------


def _agreement_values(form: FormValues, errors: Errors) -> dict[str, Any]:
    kind = form.get("kind")
    return {
        "code": form.get("code") or None,
        "framework_id": form_int(form, "framework_id", errors),
        "kind": kind or None,
        "supporting_institution_id": form_int(form, "supporting_institution_id", errors),
        "supported_institution_id": form_int(form, "supported_institution_id", errors),
        "title_zh": form.get("title_zh") or None,
        "title_en": form.get("title_en") or None,
        "signed_on": form_date(form, "signed_on", errors),
        "starts_on": form_date(form, "starts_on", errors, required=True),
        "ends_on": form_date(form, "ends_on", errors, required=True),
        "specialties": form.getlist("specialties"),
        "licensed_name_zh": form.get("licensed_name_zh") or None,
        "licensed_name_en": form.get("licensed_name_en") or None,
        "notes": form.get("notes") or None,
    }


def _form_page(
    request: Request,
    session: Session,
    actor: Actor,
    *,
    values: dict[str, Any],
    errors: Errors | None = None,
    agreement: service.AgreementView | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "agreements/form.html",
        {
            "v": values,
            "errors": errors or Errors(),
            "agreement": agreement,
            **_choices(session, actor),
        },
        status_code=status_code,
    )


def _require_create(actor: Actor) -> None:
    if not service.may_create(actor):
        raise Forbidden()


@router.get("/agreements/new")
def new_agreement_page(request: Request, session: DB, actor: PageActor) -> Response:
    _require_create(actor)
    values: dict[str, Any] = {
        "kind": AgreementKind.SPECIALTY_SUPPORT.value,
        "specialties": [],
        "supporting_institution_id": None,
        "supported_institution_id": None,
    }
    framework_id = request.query_params.get("framework_id", "")
    if framework_id.isdecimal():
        values["framework_id"] = int(framework_id)
    return _form_page(request, session, actor, values=values)


@router.post("/agreements/new")
def new_agreement_submit(request: Request, session: DB, actor: PageActor, form: Form) -> Response:
    _require_create(actor)
    errors = Errors()
    values = _agreement_values(form, errors)
    if not values["kind"]:
        errors.add("kind", REQUIRED)
    if not values["supporting_institution_id"]:
        errors.add("supporting_institution_id", N_("Choose the supporting institution."))
    if not values["supported_institution_id"]:
        errors.add("supported_institution_id", N_("Choose the supported institution."))
    data = None if errors else build(AgreementCreate, values, errors)
    if data is not None:
        try:
            view = service.create_agreement(session, actor, data)
        except DomainError as exc:
            if exc.status in (401, 403):
                raise
            session.rollback()
            errors.from_domain(exc)
        else:
            return _redirect(f"/agreements/{view.agreement.id}?saved=1")
    return _form_page(request, session, actor, values=values, errors=errors, status_code=422)


def _values_of(view: service.AgreementView) -> dict[str, Any]:
    a = view.agreement
    return {
        "code": a.code,
        "framework_id": a.framework_id,
        "kind": a.kind,
        "supporting_institution_id": a.supporting_institution_id,
        "supported_institution_id": a.supported_institution_id,
        "title_zh": a.title_zh,
        "title_en": a.title_en,
        "signed_on": a.signed_on,
        "starts_on": a.starts_on,
        "ends_on": a.ends_on,
        "specialties": [s.code for s in view.specialties],
        "licensed_name_zh": a.licensed_name_zh,
        "licensed_name_en": a.licensed_name_en,
        "notes": a.notes,
        "version": a.version,
    }


@router.get("/agreements/{agreement_id}/edit")
def edit_agreement_page(
    request: Request, session: DB, actor: PageActor, agreement_id: int
) -> Response:
    view = service.get_agreement(session, actor, agreement_id)
    if not service.may_manage(actor, view.agreement):
        raise Forbidden()
    return _form_page(request, session, actor, values=_values_of(view), agreement=view)


@router.post("/agreements/{agreement_id}/edit")
def edit_agreement_submit(
    request: Request, session: DB, actor: PageActor, agreement_id: int, form: Form
) -> Response:
    view = service.get_agreement(session, actor, agreement_id)
    errors = Errors()
    values = _agreement_values(form, errors)
    values["version"] = form_int(form, "version", errors, required=True)
    for name in ("kind", "supporting_institution_id", "supported_institution_id"):
        if not values[name]:
            errors.add(name, REQUIRED)
    if not values["code"]:
        values["code"] = view.agreement.code
    # blank optional fields clear the stored value; required ones were checked above
    data = None if errors else build(AgreementUpdate, values, errors)
    status_code = 422
    if data is not None:
        try:
            service.update_agreement(session, actor, agreement_id, data)
        except DomainError as exc:
            status_code = _refused(session, errors, exc)
        else:
            return _redirect(f"/agreements/{agreement_id}?saved=1")
    view = service.get_agreement(session, actor, agreement_id)
    return _form_page(
        request,
        session,
        actor,
        values=values,
        errors=errors,
        agreement=view,
        status_code=status_code,
    )


# --- details: goals, documents, termination -----------------------------------------------


def _warnings_of(view: service.AgreementView) -> list[str]:
    a = view.agreement
    terms = AgreementTerms(
        kind=AgreementKind(a.kind),
        supporting_institution_id=a.supporting_institution_id,
        supported_institution_id=a.supported_institution_id,
        starts_on=a.starts_on,
        ends_on=a.ends_on,
        specialty_codes=tuple(s.code for s in view.specialties),
        licensed_name_zh=a.licensed_name_zh,
    )
    return [gettext(w.message, **w.params_dict) for w in term_warnings(terms)]


def _detail(
    request: Request,
    session: Session,
    actor: Actor,
    agreement_id: int,
    *,
    errors: Errors | None = None,
    goal_values: dict[str, Any] | None = None,
    goal_errors: dict[int, Errors] | None = None,
    terminate_values: dict[str, Any] | None = None,
    flash: str | None = None,
    flash_kind: str = "ok",
    warnings: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    view = service.get_agreement(session, actor, agreement_id)
    framework = (
        service.get_framework(session, actor, view.agreement.framework_id)
        if view.agreement.framework_id
        else None
    )
    return render(
        request,
        "agreements/detail.html",
        {
            "view": view,
            "a": view.agreement,
            "framework": framework,
            "goals": service.list_goals(session, actor, agreement_id),
            "documents": service.list_documents(session, actor, agreement_id),
            "may_manage": service.may_manage(actor, view.agreement),
            "errors": errors or Errors(),
            "goal_values": goal_values or {},
            "goal_errors": goal_errors or {},
            "terminate_values": terminate_values or {},
            "flash": flash,
            "flash_kind": flash_kind,
            "warnings": warnings or [],
            "max_upload_mb": settings_of(request).max_upload_bytes / (1024 * 1024),
            "today": clock.today(),
            **_choices(session, actor),
        },
        status_code=status_code,
    )


@router.get("/agreements/{agreement_id}")
def agreement_page(
    request: Request, session: DB, actor: PageActor, agreement_id: int, saved: int = 0
) -> Response:
    flash = None
    warnings: list[str] = []
    if saved:
        view = service.get_agreement(session, actor, agreement_id)
        warnings = _warnings_of(view)
        flash = gettext(SAVED)
    return _detail(
        request,
        session,
        actor,
        agreement_id,
        flash=flash,
        flash_kind="warn" if warnings else "ok",
        warnings=warnings,
    )


@router.post("/agreements/{agreement_id}/goals")
def add_goal_submit(
    request: Request, session: DB, actor: PageActor, agreement_id: int, form: Form
) -> Response:
    errors = Errors()
    values: dict[str, Any] = {
        "description_zh": form.get("description_zh"),
        "description_en": form.get("description_en") or None,
        "due_on": form_date(form, "due_on", errors, required=True),
        "status": form.get("status") or GoalStatus.PLANNED.value,
        "progress_note": form.get("progress_note") or None,
    }
    if not values["description_zh"]:
        errors.add("description_zh", REQUIRED)
    data = None if errors else build(GoalCreate, values, errors)
    if data is not None:
        try:
            service.add_goal(session, actor, agreement_id, data)
        except DomainError as exc:
            _refused(session, errors, exc)
        else:
            return _redirect(f"/agreements/{agreement_id}#goals")
    return _detail(
        request, session, actor, agreement_id, errors=errors, goal_values=values, status_code=422
    )


@router.post("/agreements/goals/{goal_id}")
def update_goal_submit(
    request: Request, session: DB, actor: PageActor, goal_id: int, form: Form
) -> Response:
    """Inline status update: HTMX swaps the goal's row; without JavaScript, back to the page."""
    errors = Errors()
    values: dict[str, Any] = {
        "status": form.get("status") or None,
        "progress_note": form.get("progress_note") or None,
        "achieved_on": form_date(form, "achieved_on", errors),
    }
    goal, agreement = service.get_goal(session, actor, goal_id)
    if values["status"] not in (None, "achieved") and values["achieved_on"] == goal.achieved_on:
        # the form shows the stored achievement date: moving the goal away from "achieved"
        # takes that date away with it instead of refusing the change
        values["achieved_on"] = None
    data = None if errors else build(GoalUpdate, values, errors)
    view: service.GoalView | None = None
    if data is not None:
        try:
            view = service.update_goal(session, actor, goal_id, data)
        except DomainError as exc:
            _refused(session, errors, exc)
    if not errors and not _is_htmx(request):
        return _redirect(f"/agreements/{agreement.id}#goal-{goal_id}")
    if _is_htmx(request):
        if view is None:
            goal, agreement = service.get_goal(session, actor, goal_id)
            view = service.GoalView(goal, False)
        # htmx swaps only successful responses, so a refused change comes back as the row
        # with its messages (the change itself was not saved)
        return render(
            request,
            "agreements/_goal_row.html",
            {
                "g": view,
                "may_manage": True,
                "row_errors": errors,
                "goal_statuses": _labels(GOAL_STATUS_LABELS),
                "row_values": values if errors else {},
                **LABELS,
            },
        )
    return _detail(
        request,
        session,
        actor,
        agreement.id,
        errors=errors,
        goal_errors={goal_id: errors},
        status_code=422,
    )


@router.post("/agreements/{agreement_id}/terminate")
def terminate_submit(
    request: Request, session: DB, actor: PageActor, agreement_id: int, form: Form
) -> Response:
    errors = Errors()
    values: dict[str, Any] = {
        "terminated_on": form_date(form, "terminated_on", errors, required=True),
        "reason": form.get("reason"),
        "version": form_int(form, "version", errors, required=True),
    }
    if not values["reason"]:
        errors.add("reason", REQUIRED)
    data = None if errors else build(AgreementTerminate, values, errors)
    status_code = 422
    if data is not None:
        try:
            service.terminate_agreement(session, actor, agreement_id, data)
        except DomainError as exc:
            status_code = _refused(session, errors, exc)
        else:
            return _redirect(f"/agreements/{agreement_id}?saved=1")
    return _detail(
        request,
        session,
        actor,
        agreement_id,
        errors=errors,
        terminate_values=values,
        status_code=status_code,
    )


@router.post("/agreements/{agreement_id}/documents")
def upload_submit(
    request: Request,
    session: DB,
    actor: PageActor,
    agreement_id: int,
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    errors = Errors()
    if file is None or not file.filename:
        errors.add("file", N_("Choose a file to attach."))
    else:
        try:
            service.upload_document(
                session,
                actor,
                agreement_id,
                filename=file.filename,
                source=file.file,
                store=store_of(request),
                max_bytes=settings_of(request).max_upload_bytes,
            )
        except DomainError as exc:
            _refused(session, errors, exc)
            if exc.status == 413:
                errors.setdefault("file", []).append(exc.text())
        else:
            return _redirect(f"/agreements/{agreement_id}#documents")
    return _detail(request, session, actor, agreement_id, errors=errors, status_code=422)


@router.get("/agreements/documents/{document_id}")
def download_page(request: Request, session: DB, actor: PageActor, document_id: int) -> Response:
    doc, path = service.open_document(session, actor, document_id, store_of(request))
    return download_response(doc, path)


# --- framework agreements -----------------------------------------------------------------


@router.get("/frameworks")
def frameworks_page(request: Request, session: DB, actor: PageActor, paging: Paging) -> Response:
    rows, total, counts = service.list_frameworks(session, actor, paging)
    return render(
        request,
        "agreements/frameworks.html",
        {
            "rows": rows,
            "counts": counts,
            "total": total,
            "page": paging.page,
            "pages": max(1, -(-total // paging.size)),
            "may_manage": service.may_manage_frameworks(actor),
        },
    )


def _framework_values(form: FormValues, errors: Errors) -> dict[str, Any]:
    return {
        "code": form.get("code") or None,
        "title_zh": form.get("title_zh"),
        "title_en": form.get("title_en"),
        "party_a": form.get("party_a"),
        "party_a_division_code": form.get("party_a_division_code"),
        "party_b": form.get("party_b"),
        "party_b_division_code": form.get("party_b_division_code"),
        "signed_on": form_date(form, "signed_on", errors, required=True),
        "starts_on": form_date(form, "starts_on", errors, required=True),
        "ends_on": form_date(form, "ends_on", errors),
        "summary": form.get("summary") or None,
    }


def _framework_form(
    request: Request,
    session: Session,
    actor: Actor,
    *,
    values: dict[str, Any],
    errors: Errors | None = None,
    framework_id: int | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "agreements/framework_form.html",
        {
            "v": values,
            "errors": errors or Errors(),
            "framework_id": framework_id,
            "divisions": service.party_divisions(session, actor),
        },
        status_code=status_code,
    )


def _require_frameworks(actor: Actor) -> None:
    if not service.may_manage_frameworks(actor):
        raise Forbidden()


@router.get("/frameworks/new")
def new_framework_page(request: Request, session: DB, actor: PageActor) -> Response:
    _require_frameworks(actor)
    return _framework_form(request, session, actor, values={})


@router.post("/frameworks/new")
def new_framework_submit(request: Request, session: DB, actor: PageActor, form: Form) -> Response:
    _require_frameworks(actor)
    errors = Errors()
    values = _framework_values(form, errors)
    data = None if errors else build(FrameworkCreate, values, errors)
    if data is not None:
        try:
            fw = service.create_framework(session, actor, data)
        except DomainError as exc:
            if exc.status in (401, 403):
                raise
            session.rollback()
            errors.from_domain(exc)
        else:
            return _redirect(f"/frameworks/{fw.id}?saved=1")
    return _framework_form(request, session, actor, values=values, errors=errors, status_code=422)


@router.get("/frameworks/{framework_id}")
def framework_page(
    request: Request, session: DB, actor: PageActor, framework_id: int, saved: int = 0
) -> Response:
    fw = service.get_framework(session, actor, framework_id)
    pairings, total = service.list_agreements(
        session,
        actor,
        AgreementFilter(on=clock.today(), framework_id=fw.id),
        PageParams(1, 200),
    )
    return render(
        request,
        "agreements/framework.html",
        {
            "fw": fw,
            "pairings": pairings,
            "pairings_total": total,
            "may_manage": service.may_manage_frameworks(actor),
            "may_create": service.may_create(actor),
            "flash": gettext(SAVED) if saved else None,
            **LABELS,
        },
    )


@router.get("/frameworks/{framework_id}/edit")
def edit_framework_page(
    request: Request, session: DB, actor: PageActor, framework_id: int
) -> Response:
    _require_frameworks(actor)
    fw = service.get_framework(session, actor, framework_id)
    values = {
        name: getattr(fw, name)
        for name in (
            "code",
            "title_zh",
            "title_en",
            "party_a",
            "party_a_division_code",
            "party_b",
            "party_b_division_code",
            "signed_on",
            "starts_on",
            "ends_on",
            "summary",
            "version",
        )
    }
    return _framework_form(request, session, actor, values=values, framework_id=fw.id)


@router.post("/frameworks/{framework_id}/edit")
def edit_framework_submit(
    request: Request, session: DB, actor: PageActor, framework_id: int, form: Form
) -> Response:
    _require_frameworks(actor)
    errors = Errors()
    values = _framework_values(form, errors)
    values["version"] = form_int(form, "version", errors, required=True)
    data = None if errors else build(FrameworkUpdate, values, errors)
    status_code = 422
    if data is not None:
        try:
            service.update_framework(session, actor, framework_id, data)
        except DomainError as exc:
            status_code = _refused(session, errors, exc)
        else:
            return _redirect(f"/frameworks/{framework_id}?saved=1")
    return _framework_form(
        request,
        session,
        actor,
        values=values,
        errors=errors,
        framework_id=framework_id,
        status_code=status_code,
    )
