"""Pages of patients and consent: search and list, registration and edit forms, the patient's
page (masked numbers, unmasking with a reason, consents, referrals), duplicates and merging."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from medcircle.auth.domain import Actor, Permission
from medcircle.kit import clock
from medcircle.kit.errors import BadRequest, Conflict, DomainError, Forbidden
from medcircle.kit.i18n import N_, gettext
from medcircle.kit.pagination import PageParams
from medcircle.patients import service
from medcircle.patients.domain import (
    CHINA,
    CONSENT_STATE_LABELS,
    GIVEN_BY_LABELS,
    PURPOSE_LABELS,
    RELATION_LABELS,
    SEX_LABELS,
    UNMASK_LABELS,
    looks_like_national_id,
)
from medcircle.patients.schemas import (
    ConsentCreate,
    ConsentWithdraw,
    MergeIn,
    PatientCreate,
    PatientUpdate,
    UnmaskIn,
)
from medcircle.referrals.domain import DIRECTION_LABELS
from medcircle.referrals.domain import STATUS_LABELS as REFERRAL_STATUS_LABELS
from medcircle.web import forms
from medcircle.web.deps import DB, PageActor, Paging, settings_of
from medcircle.web.forms import (
    REQUIRED,
    Form,
    FormValues,
    build,
    form_date,
    form_int,
    form_local_datetime,
)
from medcircle.web.routing import QuickRouter
from medcircle.web.templating import render

router = QuickRouter()

REASON_TOO_SHORT = N_("Give a reason of at least 3 characters.")
SAVED = N_("Saved.")
REGISTERED = N_("The patient is registered.")
CONSENT_RECORDED = N_("The consent is recorded.")
CONSENT_WITHDRAWN = N_("The consent is withdrawn: it allows no further sharing.")
MERGED = N_("The records are merged.")
MERGED_FROM = N_("Record no. %(id)s was merged into this one.")

LABELS = {
    "sex_labels": SEX_LABELS,
    "relation_labels": RELATION_LABELS,
    "purpose_labels": PURPOSE_LABELS,
    "given_by_labels": GIVEN_BY_LABELS,
    "consent_state_labels": CONSENT_STATE_LABELS,
    "unmask_labels": UNMASK_LABELS,
    "referral_status_labels": REFERRAL_STATUS_LABELS,
    "direction_labels": DIRECTION_LABELS,
}
NO_STORE = {"Cache-Control": "no-store"}


class Errors(forms.Errors):
    """Messages per form field; a refused registration remembers the record it duplicates."""

    duplicate_id: int | None = None

    def from_domain(self, exc: DomainError) -> None:
        if isinstance(exc, service.DuplicatePatient):
            self.duplicate_id = exc.existing_id
        super().from_domain(exc)

    def pydantic_message(self, name: str, kind: str) -> str:
        if kind == "string_too_short" and name == "reason":
            return REASON_TOO_SHORT
        return super().pydantic_message(name, kind)


def _refused(session: Session, errors: Errors, exc: DomainError) -> int:
    """A refusal the user can correct is rolled back and shown by its field; access errors go
    on to the error page."""
    if exc.status in (401, 403, 404):
        raise exc
    session.rollback()
    errors.from_domain(exc)
    return 409 if isinstance(exc, Conflict) else 422


def _labels(mapping: dict[Any, str]) -> list[tuple[str, str]]:
    return [(k.value, gettext(v)) for k, v in mapping.items()]


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _require_manage(actor: Actor) -> None:
    if not actor.can(Permission.PATIENT_MANAGE):
        raise Forbidden()


# --- search and list ----------------------------------------------------------------------


@router.get("/patients")
def patients_page(request: Request, session: DB, actor: PageActor, paging: Paging) -> Response:
    errors = Errors()
    qp = request.query_params
    form = FormValues({k: [qp.get(k, "")] for k in ("q", "birth_date")})
    q = form.get("q")[:64]
    if q and looks_like_national_id(q):
        # ID numbers are searched by POST only: they never stay in a URL
        q = ""
    born = form_date(form, "birth_date", errors)
    return _list(request, session, actor, paging, service.Search(q=q, birth_date=born), errors)


@router.post("/patients")
def patients_search(request: Request, session: DB, actor: PageActor, form: Form) -> Response:
    """The search form posts: an ID number is looked up at once (and stays out of the URL),
    any other search goes on as a plain link."""
    errors = Errors()
    q = form.get("q")[:64]
    born = form_date(form, "birth_date", errors)
    if errors or not looks_like_national_id(q):
        query = {k: v for k, v in (("q", q), ("birth_date", form.get("birth_date"))) if v}
        return _redirect("/patients" + ("?" + urlencode(query) if query else ""))
    return _list(
        request,
        session,
        actor,
        PageParams(1, 50),
        service.Search(national_id=q, birth_date=born),
        errors,
        by_id=True,
    )


def _list(
    request: Request,
    session: Session,
    actor: Actor,
    paging: PageParams,
    search: service.Search,
    errors: Errors,
    by_id: bool = False,
) -> Response:
    rows, total = service.list_patients(session, actor, search, paging, settings_of(request))
    query = {
        k: v
        for k, v in (
            ("q", search.q or ""),
            ("birth_date", search.birth_date.isoformat() if search.birth_date else ""),
        )
        if v
    }
    return render(
        request,
        "patients/list.html",
        {
            "rows": rows,
            "total": total,
            "page": paging.page,
            "pages": max(1, -(-total // paging.size)),
            "base": "/patients?" + urlencode(query),
            "f": {"q": "" if by_id else (search.q or ""), **query},
            "by_id": by_id,
            "errors": errors,
            "today": clock.today(),
            "may_manage": actor.can(Permission.PATIENT_MANAGE),
            **LABELS,
        },
        status_code=422 if errors else 200,
        headers=NO_STORE,
    )


# --- register and edit --------------------------------------------------------------------

_PERSON_FIELDS = (
    "name",
    "sex",
    "national_id",
    "phone",
    "residence_division_code",
    "address",
    "guardian_name",
    "guardian_relation",
    "guardian_phone",
    "email",
)


def _person_values(form: FormValues, errors: Errors) -> dict[str, Any]:
    values: dict[str, Any] = {name: form.get(name) or None for name in _PERSON_FIELDS}
    values["birth_date"] = form_date(form, "birth_date", errors, required=True)
    for name in ("name", "sex", "residence_division_code"):
        if not values[name]:
            errors.add(name, REQUIRED)
    return values


def _form_page(
    request: Request,
    session: Session,
    actor: Actor,
    *,
    values: dict[str, Any],
    errors: Errors | None = None,
    patient: Any = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "patients/form.html",
        {
            "v": values,
            "errors": errors or Errors(),
            "patient": patient,
            "sexes": _labels(SEX_LABELS),
            "relations": _labels(RELATION_LABELS),
            "divisions": service.division_choices(session, actor),
        },
        status_code=status_code,
        headers=NO_STORE,
    )


@router.get("/patients/new")
def new_patient_page(request: Request, session: DB, actor: PageActor) -> Response:
    _require_manage(actor)
    return _form_page(request, session, actor, values={"sex": ""})


@router.post("/patients/new")
def new_patient_submit(request: Request, session: DB, actor: PageActor, form: Form) -> Response:
    _require_manage(actor)
    errors = Errors()
    values = _person_values(form, errors)
    data = None if errors else build(PatientCreate, values, errors)
    status_code = 422
    if data is not None:
        try:
            patient = service.register(session, actor, data, settings_of(request))
        except DomainError as exc:
            status_code = _refused(session, errors, exc)
        else:
            return _redirect(f"/patients/{patient.id}?registered=1")
    return _form_page(
        request, session, actor, values=values, errors=errors, status_code=status_code
    )


@router.get("/patients/{patient_id:int}/edit")
def edit_patient_page(request: Request, session: DB, actor: PageActor, patient_id: int) -> Response:
    patient = service.get_patient(session, actor, patient_id)
    if patient.merged_into_id is not None:
        return _redirect(f"/patients/{patient.merged_into_id}")
    if not service.may_manage(actor, patient):
        raise Forbidden()
    values = {
        name: getattr(patient, name)
        for name in (
            "name",
            "sex",
            "birth_date",
            "residence_division_code",
            "address",
            "guardian_name",
            "guardian_relation",
            "email",
            "version",
        )
    }
    return _form_page(request, session, actor, values=values, patient=patient)


@router.post("/patients/{patient_id:int}/edit")
def edit_patient_submit(
    request: Request, session: DB, actor: PageActor, patient_id: int, form: Form
) -> Response:
    """Blank number fields keep the stored numbers (the form never shows them); other blank
    optional fields clear the stored value."""
    patient = service.get_patient(session, actor, patient_id)
    errors = Errors()
    values = _person_values(form, errors)
    version = form_int(form, "version", errors, required=True)
    for number in ("national_id", "phone", "guardian_phone"):
        if values[number] is None:
            values.pop(number)
    data = None if errors else build(PatientUpdate, {**values, "version": version}, errors)
    status_code = 422
    if data is not None:
        try:
            service.update(session, actor, patient_id, data, settings_of(request))
        except DomainError as exc:
            status_code = _refused(session, errors, exc)
        else:
            return _redirect(f"/patients/{patient_id}?saved=1")
        patient = service.get_patient(session, actor, patient_id)
    values["version"] = version
    return _form_page(
        request,
        session,
        actor,
        values=values,
        errors=errors,
        patient=patient,
        status_code=status_code,
    )


# --- the patient's page -------------------------------------------------------------------


def _detail(
    request: Request,
    session: Session,
    actor: Actor,
    patient_id: int,
    *,
    errors: Errors | None = None,
    consent_values: dict[str, Any] | None = None,
    withdraw_errors: dict[int, Errors] | None = None,
    unmask_values: dict[str, Any] | None = None,
    revealed: tuple[str, str] | None = None,
    flash: str | None = None,
    status_code: int = 200,
) -> Response:
    d = service.details(session, actor, patient_id)
    if d.patient.merged_into_id is not None:
        return _redirect(f"/patients/{d.patient.merged_into_id}?merged_from={d.patient.id}")
    now_local = clock.now().astimezone(CHINA).strftime("%Y-%m-%dT%H:%M")
    return render(
        request,
        "patients/detail.html",
        {
            "d": d,
            "p": d.patient,
            "errors": errors or Errors(),
            "consent_values": consent_values or {"given_at": now_local, "purpose": "referral"},
            "withdraw_errors": withdraw_errors or {},
            "unmask_values": unmask_values or {},
            "revealed": revealed,
            "flash": flash,
            "today": clock.today(),
            "may_refer": d.own and actor.can(Permission.REFERRAL_SEND),
            "institution_choices": service.consent_institution_choices(session, actor),
            "purposes": _labels(PURPOSE_LABELS),
            "given_bys": _labels(GIVEN_BY_LABELS),
            "unmask_fields": [
                (k.value, gettext(v))
                for k, v in UNMASK_LABELS.items()
                if getattr(d.patient, f"{k.value}_sealed") is not None
            ],
            **LABELS,
        },
        status_code=status_code,
        headers=NO_STORE,
    )


@router.get("/patients/{patient_id:int}")
def patient_page(
    request: Request,
    session: DB,
    actor: PageActor,
    patient_id: int,
    saved: int = 0,
    registered: int = 0,
    merged: int = 0,
    merged_from: int = 0,
    consent: str = "",
) -> Response:
    flash = None
    if registered:
        flash = gettext(REGISTERED)
    elif saved:
        flash = gettext(SAVED)
    elif merged:
        flash = gettext(MERGED)
    elif merged_from:
        flash = gettext(MERGED_FROM, id=merged_from)
    elif consent == "recorded":
        flash = gettext(CONSENT_RECORDED)
    elif consent == "withdrawn":
        flash = gettext(CONSENT_WITHDRAWN)
    return _detail(request, session, actor, patient_id, flash=flash)


@router.post("/patients/{patient_id:int}/unmask")
def unmask_submit(
    request: Request, session: DB, actor: PageActor, patient_id: int, form: Form
) -> Response:
    """Shows the full number once, in this answer only (never in a URL or a stored page)."""
    errors = Errors()
    values = {"field": form.get("field"), "reason": form.get("reason")}
    data = build(UnmaskIn, values, errors)
    if data is not None:
        try:
            value = service.unmask(session, actor, patient_id, data, settings_of(request))
        except DomainError as exc:
            _refused(session, errors, exc)
        else:
            return _detail(request, session, actor, patient_id, revealed=(data.field.value, value))
    return _detail(
        request,
        session,
        actor,
        patient_id,
        errors=errors,
        unmask_values=values,
        status_code=422,
    )


@router.post("/patients/{patient_id:int}/consents")
def consent_submit(
    request: Request, session: DB, actor: PageActor, patient_id: int, form: Form
) -> Response:
    errors = Errors()
    values: dict[str, Any] = {
        "receiving_institution_id": form.get("receiving_institution_id"),
        "purpose": form.get("purpose") or None,
        "given_by": form.get("given_by") or None,
        "given_by_name": form.get("given_by_name"),
        "given_at": form_local_datetime(form, "given_at", errors, required=True),
        "valid_until": form_date(form, "valid_until", errors),
    }
    for name in ("receiving_institution_id", "given_by", "given_by_name"):
        if not values[name]:
            errors.add(name, REQUIRED)
    data = None if errors else build(ConsentCreate, values, errors)
    status_code = 422
    if data is not None:
        try:
            service.record_consent(session, actor, patient_id, data)
        except DomainError as exc:
            status_code = _refused(session, errors, exc)
        else:
            return _redirect(f"/patients/{patient_id}?consent=recorded#consents")
    shown = {**values, "given_at": form.get("given_at"), "valid_until": form.get("valid_until")}
    return _detail(
        request,
        session,
        actor,
        patient_id,
        errors=errors,
        consent_values=shown,
        status_code=status_code,
    )


@router.post("/patients/consents/{consent_id:int}/withdraw")
def withdraw_submit(
    request: Request, session: DB, actor: PageActor, consent_id: int, form: Form
) -> Response:
    errors = Errors()
    patient_id = form_int(form, "patient_id", errors, required=True)
    data = build(ConsentWithdraw, {"reason": form.get("reason")}, errors)
    status_code = 422
    if data is not None:
        try:
            view = service.withdraw_consent(session, actor, consent_id, data)
        except DomainError as exc:
            status_code = _refused(session, errors, exc)
        else:
            return _redirect(f"/patients/{view.consent.patient_id}?consent=withdrawn#consents")
    if patient_id is None:
        raise BadRequest()
    return _detail(
        request,
        session,
        actor,
        patient_id,
        withdraw_errors={consent_id: errors},
        status_code=status_code,
    )


# --- duplicates and merging ---------------------------------------------------------------


@router.get("/patients/duplicates")
def duplicates_page(request: Request, session: DB, actor: PageActor) -> Response:
    return render(
        request,
        "patients/duplicates.html",
        {"pairs": service.possible_duplicates(session, actor), **LABELS},
        headers=NO_STORE,
    )


def _merge_page(
    request: Request,
    session: Session,
    actor: Actor,
    survivor_id: int,
    duplicate_id: int,
    errors: Errors | None = None,
    status_code: int = 200,
) -> Response:
    preview = service.merge_preview(session, actor, survivor_id, duplicate_id)
    divisions = {d.code: d for d in service.division_choices(session, actor)}
    return render(
        request,
        "patients/merge.html",
        {
            "mp": preview,
            "divisions": divisions,
            "errors": errors or Errors(),
            **LABELS,
        },
        status_code=status_code,
        headers=NO_STORE,
    )


@router.get("/patients/{patient_id:int}/merge")
def merge_page(
    request: Request, session: DB, actor: PageActor, patient_id: int, duplicate_id: int
) -> Response:
    return _merge_page(request, session, actor, patient_id, duplicate_id)


@router.post("/patients/{patient_id:int}/merge")
def merge_submit(
    request: Request, session: DB, actor: PageActor, patient_id: int, form: Form
) -> Response:
    errors = Errors()
    values = {
        "duplicate_id": form_int(form, "duplicate_id", errors, required=True),
        "version": form_int(form, "version", errors, required=True),
        "duplicate_version": form_int(form, "duplicate_version", errors, required=True),
    }
    data = None if errors else build(MergeIn, values, errors)
    status_code = 422
    if data is not None:
        try:
            service.merge(session, actor, patient_id, data)
        except DomainError as exc:
            status_code = _refused(session, errors, exc)
        else:
            return _redirect(f"/patients/{patient_id}?merged=1")
    if values["duplicate_id"] is None:
        raise BadRequest()
    return _merge_page(
        request, session, actor, patient_id, values["duplicate_id"], errors, status_code
    )
