"""Pages of the registry: institutions, staff, alliances (the same services as the API)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from medcircle.auth.domain import Actor
from medcircle.kit import clock
from medcircle.kit.errors import Conflict, DomainError, Forbidden, ValidationFailed
from medcircle.kit.i18n import N_, get_locale, gettext
from medcircle.kit.pagination import PageParams
from medcircle.registry import service
from medcircle.registry.domain import (
    CENTRE_LABELS,
    GRADE_LABELS,
    LEVEL_LABELS,
    TITLE_LABELS,
    TYPE_LABELS,
    Grade,
    InstitutionType,
    Level,
    Title,
    membership_active,
)
from medcircle.registry.repository import InstitutionFilter, MemberFilter, PractitionerFilter
from medcircle.registry.schemas import (
    AllianceCreate,
    CentreCreate,
    DepartmentCreate,
    DepartmentUpdate,
    InstitutionCreate,
    InstitutionUpdate,
    MemberCreate,
    MemberUpdate,
    PractitionerCreate,
    PractitionerUpdate,
)
from medcircle.web.deps import DB, PageActor, Paging
from medcircle.web.routing import QuickRouter
from medcircle.web.templating import render

router = QuickRouter()
M = TypeVar("M", bound=BaseModel)
Errors = dict[str, list[str]]

LABELS = {
    "level": LEVEL_LABELS,
    "grade": GRADE_LABELS,
    "type": TYPE_LABELS,
    "title": TITLE_LABELS,
    "centre": CENTRE_LABELS,
}
# messages for the ways a form value can fail to parse (Pydantic's own are English only)
PARSE_MESSAGES = {
    "missing": N_("This field is required."),
    "int_parsing": N_("Enter a whole number."),
    "int_from_float": N_("Enter a whole number."),
    "float_parsing": N_("Enter a number."),
    "finite_number": N_("Enter a number."),
    "date_parsing": N_("Enter a date as YYYY-MM-DD."),
    "date_from_datetime_parsing": N_("Enter a date as YYYY-MM-DD."),
    "date_type": N_("Enter a date as YYYY-MM-DD."),
    "enum": N_("Choose one of the options."),
    "string_too_short": N_("This field is required."),
    "string_too_long": N_("This is too long."),
    "bool_parsing": N_("Choose yes or no."),
}
SKIP_FIELDS = frozenset({"csrf_token"})


async def form_fields(request: Request) -> dict[str, str]:
    """The posted form as text, trimmed; empty fields are left out (they mean "none")."""
    form = await request.form()
    return {
        k: v.strip()
        for k, v in form.items()
        if isinstance(v, str) and k not in SKIP_FIELDS and v.strip()
    }


FormData = Annotated[dict[str, str], Depends(form_fields)]


def _parse(model: type[M], data: dict[str, Any]) -> tuple[M | None, Errors]:
    """Build a schema from form values; on failure, a readable message per field."""
    try:
        return model.model_validate(data), {}
    except ValidationError as exc:
        errors: Errors = {}
        for e in exc.errors():
            field = str(e["loc"][0]) if e.get("loc") else "_form"
            message = PARSE_MESSAGES.get(e["type"], N_("This value is not valid."))
            errors.setdefault(field, []).append(gettext(message))
        return None, errors


def _domain_errors(exc: DomainError) -> Errors:
    errors: Errors = {}
    for fe in exc.field_errors:
        errors.setdefault(fe.field, []).append(fe.text())
    if not errors:
        errors["_form"] = [exc.text()]
    return errors


def _name(obj: Any) -> str:
    """The name of an object in the current language (falling back to the other)."""
    zh, en = getattr(obj, "name_zh", ""), getattr(obj, "name_en", "")
    return str((en or zh) if get_locale() == "en" else (zh or en))


def _options(labels: dict[Any, str]) -> list[tuple[str, str]]:
    return [(str(k), gettext(v)) for k, v in labels.items()]


def _named_options(rows: Sequence[Any], key: str = "code") -> list[tuple[str, str]]:
    return [(str(getattr(r, key)), _name(r)) for r in rows]


def _division_options(session: Session, actor: Actor) -> list[tuple[str, str]]:
    return [(d.code, f"{d.code} {_name(d)}") for d in service.all_divisions(session, actor)]


def _query(request: Request) -> str:
    return urlencode({k: v for k, v in request.query_params.items() if k != "page" and v})


def _pages(total: int, page: PageParams) -> int:
    return max(1, -(-total // page.size))


def _redirect(url: str) -> Response:
    return RedirectResponse(url, status_code=303)


def _common() -> dict[str, Any]:
    return {
        "labels": LABELS,
        "level_options": _options(LEVEL_LABELS),
        "grade_options": _options(GRADE_LABELS),
        "type_options": _options(TYPE_LABELS),
        "title_options": _options(TITLE_LABELS),
        "centre_options": _options(CENTRE_LABELS),
    }


# --- institutions -----------------------------------------------------------------------


def _institution_filter(request: Request) -> tuple[InstitutionFilter, Errors]:
    """Filters from the query string; a bad value is reported and ignored, never a 500."""
    params = request.query_params
    errors: Errors = {}

    def choice(name: str, allowed: type[Any]) -> str | None:
        value = params.get(name) or None
        if value is not None and value not in {m.value for m in allowed}:
            errors[name] = [gettext(N_("Choose one of the options."))]
            return None
        return value

    division = params.get("division_code") or None
    if division is not None and not (division.isdigit() and len(division) == 6):
        errors["division_code"] = [gettext(N_("Choose one of the options."))]
        division = None
    return (
        InstitutionFilter(
            q=(params.get("q") or "").strip()[:100] or None,
            level=choice("level", Level),
            grade=choice("grade", Grade),
            type=choice("type", InstitutionType),
            division_code=division,
            specialty=(params.get("specialty") or None),
        ),
        errors,
    )


@router.get("/institutions")
def institutions_page(request: Request, session: DB, actor: PageActor, paging: Paging) -> Response:
    f, errors = _institution_filter(request)
    rows, total = service.list_institutions(session, actor, f, paging)
    query = _query(request)
    context = {
        **_common(),
        "rows": rows,
        "total": total,
        "page": paging.page,
        "pages": _pages(total, paging),
        "f": f,
        "errors": errors,
        "base": "/institutions?" + query,
        "divisions": {d.code: d for d in service.all_divisions(session, actor)},
        "division_options": _division_options(session, actor),
        "specialty_options": _named_options(service.list_specialties(session, actor)),
        "can_create": service.is_platform_admin(actor),
    }
    if request.headers.get("HX-Request") == "true" and request.headers.get("HX-Target") == (
        "institution-results"
    ):
        return render(request, "registry/_institution_results.html", context)
    return render(request, "registry/institutions.html", context)


def _institution_form(
    request: Request,
    session: Session,
    actor: Actor,
    *,
    inst: Any = None,
    values: dict[str, Any] | None = None,
    errors: Errors | None = None,
    status_code: int = 200,
) -> Response:
    restricted = inst is not None and not service.is_platform_admin(actor)
    return render(
        request,
        "registry/institution_form.html",
        {
            **_common(),
            "inst": inst,
            "v": values or {},
            "errors": errors or {},
            "restricted": restricted,
            "division_options": _division_options(session, actor),
        },
        status_code=status_code,
    )


@router.get("/institutions/new")
def institution_new(request: Request, session: DB, actor: PageActor) -> Response:
    if not service.is_platform_admin(actor):
        raise Forbidden(N_("Only a platform admin may register institutions."))
    return _institution_form(request, session, actor, values={"grade": "A"})


@router.post("/institutions/new")
def institution_create(request: Request, session: DB, actor: PageActor, form: FormData) -> Response:
    data, errors = _parse(InstitutionCreate, form)
    if data is not None:
        try:
            inst = service.create_institution(session, actor, data)
            return _redirect(f"/institutions/{inst.id}")
        except (ValidationFailed, Conflict) as exc:
            session.rollback()
            errors = _domain_errors(exc)
    return _institution_form(request, session, actor, values=form, errors=errors, status_code=422)


def _profile(
    request: Request,
    session: Session,
    actor: Actor,
    institution_id: int,
    *,
    errors: Errors | None = None,
    form: str | None = None,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    profile = service.institution_profile(session, actor, institution_id)
    inst = profile.institution
    departments, _n = service.list_departments(
        session, actor, inst.id, PageParams(page=1, size=500)
    )
    staff, staff_total = service.list_practitioners(
        session, actor, PractitionerFilter(institution_id=inst.id), PageParams(page=1, size=25)
    )
    parent_ids = [inst.parent_id] if inst.parent_id else []
    return render(
        request,
        "registry/institution.html",
        {
            **_common(),
            "p": profile,
            "inst": inst,
            "parent": service.institutions_by_ids(session, actor, parent_ids).get(
                inst.parent_id or 0
            ),
            "branches": service.branches_of(session, actor, inst.id),
            "division": {d.code: d for d in service.all_divisions(session, actor)}.get(
                inst.division_code
            ),
            "names": service.list_names(session, actor, inst.id),
            "departments": departments,
            "dept_names": {d.id: d for d in departments},
            "staff": staff,
            "staff_total": staff_total,
            "specialties": service.specialties_by_code(session, actor),
            "specialty_options": _named_options(service.list_specialties(session, actor)),
            "department_options": _named_options([d for d in departments if d.is_active], key="id"),
            "can_manage": service.may_manage_institution(actor, inst.id),
            "errors": errors or {},
            "open_form": form,
            "v": values or {},
            "today": clock.today(),
        },
        status_code=status_code,
    )


@router.get("/institutions/{institution_id}")
def institution_page(
    request: Request, session: DB, actor: PageActor, institution_id: int
) -> Response:
    return _profile(request, session, actor, institution_id)


@router.get("/institutions/{institution_id}/edit")
def institution_edit(
    request: Request, session: DB, actor: PageActor, institution_id: int
) -> Response:
    inst = service.get_institution(session, actor, institution_id)
    if not service.may_manage_institution(actor, inst.id):
        raise Forbidden(N_("You may only manage your own institution."))
    values = {
        k: getattr(inst, k)
        for k in (
            "code",
            "name_zh",
            "name_en",
            "level",
            "grade",
            "type",
            "division_code",
            "latitude",
            "longitude",
            "address",
            "bed_count",
            "parent_id",
            "version",
        )
    }
    return _institution_form(request, session, actor, inst=inst, values=values)


EDITABLE = (
    "name_zh",
    "name_en",
    "type",
    "division_code",
    "latitude",
    "longitude",
    "address",
    "bed_count",
)


@router.post("/institutions/{institution_id}/edit")
def institution_update(
    request: Request, session: DB, actor: PageActor, institution_id: int, form: FormData
) -> Response:
    inst = service.get_institution(session, actor, institution_id)
    fields = list(EDITABLE)
    if service.is_platform_admin(actor):
        fields += ["code", "level", "grade", "parent_id"]
    # every editable field is on the form: an empty one clears the value
    data, errors = _parse(
        InstitutionUpdate,
        {"version": form.get("version"), **{k: form.get(k) for k in fields}},
    )
    if data is not None:
        try:
            service.update_institution(session, actor, inst.id, data)
            return _redirect(f"/institutions/{inst.id}")
        except (ValidationFailed, Conflict) as exc:
            session.rollback()
            errors = _domain_errors(exc)
    inst = service.get_institution(session, actor, institution_id)
    return _institution_form(
        request, session, actor, inst=inst, values=form, errors=errors, status_code=422
    )


@router.post("/institutions/{institution_id}/rename")
def institution_rename(
    request: Request, session: DB, actor: PageActor, institution_id: int, form: FormData
) -> Response:
    errors: Errors = {}
    for name in ("name_zh", "name_en", "valid_from"):
        if not form.get(name):
            errors[name] = [gettext(N_("This field is required."))]
    valid_from: date | None = None
    if form.get("valid_from"):
        try:
            valid_from = date.fromisoformat(form["valid_from"])
        except ValueError:
            errors["valid_from"] = [gettext(N_("Enter a date as YYYY-MM-DD."))]
    if not errors and valid_from is not None:
        try:
            service.rename_institution(
                session,
                actor,
                institution_id,
                form["name_zh"],
                form["name_en"],
                valid_from,
                form.get("reason"),
            )
            return _redirect(f"/institutions/{institution_id}#names")
        except (ValidationFailed, Conflict) as exc:
            session.rollback()
            errors = _domain_errors(exc)
    return _profile(
        request,
        session,
        actor,
        institution_id,
        errors=errors,
        form="rename",
        values=form,
        status_code=422,
    )


@router.post("/institutions/{institution_id}/departments")
def department_create(
    request: Request, session: DB, actor: PageActor, institution_id: int, form: FormData
) -> Response:
    data, errors = _parse(DepartmentCreate, form)
    if data is not None:
        try:
            service.create_department(session, actor, institution_id, data)
            return _redirect(f"/institutions/{institution_id}#departments")
        except (ValidationFailed, Conflict) as exc:
            session.rollback()
            errors = _domain_errors(exc)
    return _profile(
        request,
        session,
        actor,
        institution_id,
        errors=errors,
        form="department",
        values=form,
        status_code=422,
    )


@router.post("/institutions/{institution_id}/practitioners")
def practitioner_create(
    request: Request, session: DB, actor: PageActor, institution_id: int, form: FormData
) -> Response:
    data, errors = _parse(PractitionerCreate, {**form, "institution_id": institution_id})
    if data is not None:
        try:
            service.create_practitioner(session, actor, data)
            return _redirect(f"/institutions/{institution_id}#staff")
        except (ValidationFailed, Conflict) as exc:
            session.rollback()
            errors = _domain_errors(exc)
    return _profile(
        request,
        session,
        actor,
        institution_id,
        errors=errors,
        form="practitioner",
        values=form,
        status_code=422,
    )


def _department_form(
    request: Request,
    session: Session,
    actor: Actor,
    department_id: int,
    *,
    values: dict[str, Any] | None = None,
    errors: Errors | None = None,
    status_code: int = 200,
) -> Response:
    dept = service.get_department(session, actor, department_id)
    if not service.may_manage_institution(actor, dept.institution_id):
        raise Forbidden(N_("You may only manage your own institution."))
    inst = service.get_institution(session, actor, dept.institution_id)
    if values is None:
        values = {
            k: getattr(dept, k) for k in ("specialty_code", "name_zh", "name_en", "bed_count")
        }
        values["is_active"] = "true" if dept.is_active else "false"
    return render(
        request,
        "registry/department_form.html",
        {
            "dept": dept,
            "inst": inst,
            "v": values,
            "errors": errors or {},
            "specialty_options": _named_options(service.list_specialties(session, actor)),
        },
        status_code=status_code,
    )


@router.get("/departments/{department_id}/edit")
def department_edit(
    request: Request, session: DB, actor: PageActor, department_id: int
) -> Response:
    return _department_form(request, session, actor, department_id)


@router.post("/departments/{department_id}/edit")
def department_update(
    request: Request, session: DB, actor: PageActor, department_id: int, form: FormData
) -> Response:
    data, errors = _parse(
        DepartmentUpdate,
        {
            k: form.get(k)
            for k in ("specialty_code", "name_zh", "name_en", "bed_count", "is_active")
        },
    )
    if data is not None:
        try:
            dept = service.update_department(session, actor, department_id, data)
            return _redirect(f"/institutions/{dept.institution_id}#departments")
        except (ValidationFailed, Conflict) as exc:
            session.rollback()
            errors = _domain_errors(exc)
    return _department_form(
        request, session, actor, department_id, values=form, errors=errors, status_code=422
    )


# --- practitioners ----------------------------------------------------------------------


@router.get("/practitioners")
def practitioners_page(request: Request, session: DB, actor: PageActor, paging: Paging) -> Response:
    params = request.query_params
    errors: Errors = {}
    title = params.get("title") or None
    if title is not None and title not in {t.value for t in Title}:
        errors["title"] = [gettext(N_("Choose one of the options."))]
        title = None
    institution_id: int | None = None
    if params.get("institution_id"):
        try:
            institution_id = int(params["institution_id"])
        except ValueError:
            errors["institution_id"] = [gettext(N_("Choose one of the options."))]
    f = PractitionerFilter(
        q=(params.get("q") or "").strip()[:100] or None,
        institution_id=institution_id,
        specialty=params.get("specialty") or None,
        title=title,
    )
    rows, total = service.list_practitioners(session, actor, f, paging)
    insts = service.institutions_by_ids(session, actor, [p.institution_id for p in rows])
    depts = service.departments_by_ids(
        session, actor, [p.department_id for p in rows if p.department_id]
    )
    chosen = service.institutions_by_ids(session, actor, [institution_id] if institution_id else [])
    return render(
        request,
        "registry/practitioners.html",
        {
            **_common(),
            "rows": rows,
            "total": total,
            "page": paging.page,
            "pages": _pages(total, paging),
            "f": f,
            "errors": errors,
            "insts": insts,
            "depts": depts,
            "chosen": chosen.get(institution_id or 0),
            "specialties": service.specialties_by_code(session, actor),
            "specialty_options": _named_options(service.list_specialties(session, actor)),
            "base": "/practitioners?" + _query(request),
        },
    )


def _practitioner_form(
    request: Request,
    session: Session,
    actor: Actor,
    practitioner_id: int,
    *,
    values: dict[str, Any] | None = None,
    errors: Errors | None = None,
    status_code: int = 200,
) -> Response:
    pr = service.get_practitioner(session, actor, practitioner_id)
    if not service.may_manage_institution(actor, pr.institution_id):
        raise Forbidden(N_("You may only manage your own institution."))
    inst = service.get_institution(session, actor, pr.institution_id)
    departments, _n = service.list_departments(
        session, actor, inst.id, PageParams(page=1, size=500)
    )
    if values is None:
        values = {
            k: getattr(pr, k)
            for k in (
                "name_zh",
                "name_en",
                "title",
                "specialty_code",
                "license_no",
                "department_id",
            )
        }
        values["is_active"] = "true" if pr.is_active else "false"
    return render(
        request,
        "registry/practitioner_form.html",
        {
            **_common(),
            "pr": pr,
            "inst": inst,
            "v": values,
            "errors": errors or {},
            "specialty_options": _named_options(service.list_specialties(session, actor)),
            "department_options": _named_options(departments, key="id"),
        },
        status_code=status_code,
    )


@router.get("/practitioners/{practitioner_id}/edit")
def practitioner_edit(
    request: Request, session: DB, actor: PageActor, practitioner_id: int
) -> Response:
    return _practitioner_form(request, session, actor, practitioner_id)


@router.post("/practitioners/{practitioner_id}/edit")
def practitioner_update(
    request: Request, session: DB, actor: PageActor, practitioner_id: int, form: FormData
) -> Response:
    data, errors = _parse(
        PractitionerUpdate,
        {
            k: form.get(k)
            for k in (
                "name_zh",
                "name_en",
                "title",
                "specialty_code",
                "license_no",
                "department_id",
                "is_active",
            )
        },
    )
    if data is not None:
        try:
            pr = service.update_practitioner(session, actor, practitioner_id, data)
            return _redirect(f"/institutions/{pr.institution_id}#staff")
        except (ValidationFailed, Conflict) as exc:
            session.rollback()
            errors = _domain_errors(exc)
    return _practitioner_form(
        request, session, actor, practitioner_id, values=form, errors=errors, status_code=422
    )


# --- alliances --------------------------------------------------------------------------


def _alliances(
    request: Request,
    session: Session,
    actor: Actor,
    paging: PageParams,
    *,
    values: dict[str, Any] | None = None,
    errors: Errors | None = None,
    status_code: int = 200,
) -> Response:
    q = (request.query_params.get("q") or "").strip()[:100] or None
    rows, total = service.list_alliances(session, actor, paging, q=q)
    is_admin = service.is_platform_admin(actor)
    leads = service.institutions_by_ids(session, actor, [a.lead_institution_id for a in rows])
    institution_options: list[tuple[str, str]] = []
    if is_admin:
        every, _n = service.list_institutions(
            session, actor, InstitutionFilter(), PageParams(page=1, size=500)
        )
        institution_options = [(str(i.id), f"{i.code} {_name(i)}") for i in every]
    return render(
        request,
        "registry/alliances.html",
        {
            "rows": rows,
            "total": total,
            "page": paging.page,
            "pages": _pages(total, paging),
            "q": q or "",
            "leads": leads,
            "counts": service.active_member_counts(session, actor, [a.id for a in rows]),
            "can_create": is_admin,
            "institution_options": institution_options,
            "v": values or {},
            "errors": errors or {},
            "base": "/alliances?" + _query(request),
        },
        status_code=status_code,
    )


@router.get("/alliances")
def alliances_page(request: Request, session: DB, actor: PageActor, paging: Paging) -> Response:
    return _alliances(request, session, actor, paging)


@router.post("/alliances")
def alliance_create(
    request: Request, session: DB, actor: PageActor, paging: Paging, form: FormData
) -> Response:
    data, errors = _parse(AllianceCreate, form)
    if data is not None:
        try:
            alliance = service.create_alliance(session, actor, data)
            return _redirect(f"/alliances/{alliance.id}")
        except (ValidationFailed, Conflict) as exc:
            session.rollback()
            errors = _domain_errors(exc)
    return _alliances(request, session, actor, paging, values=form, errors=errors, status_code=422)


def _alliance(
    request: Request,
    session: Session,
    actor: Actor,
    alliance_id: int,
    paging: PageParams,
    *,
    values: dict[str, Any] | None = None,
    errors: Errors | None = None,
    form: str | None = None,
    status_code: int = 200,
) -> Response:
    alliance = service.get_alliance(session, actor, alliance_id)
    params = request.query_params
    filter_errors: Errors = {}
    active_on: date | None = None
    if params.get("active_on"):
        try:
            active_on = date.fromisoformat(params["active_on"])
        except ValueError:
            filter_errors["active_on"] = [gettext(N_("Enter a date as YYYY-MM-DD."))]
    division = params.get("division_code") or None
    if division is not None and not (division.isdigit() and len(division) == 6):
        filter_errors["division_code"] = [gettext(N_("Choose one of the options."))]
        division = None
    f = MemberFilter(
        active_on=active_on,
        division_code=division,
        q=(params.get("q") or "").strip()[:100] or None,
    )
    members, total = service.list_members(session, actor, alliance.id, f, paging)
    # the badge tells the status on the day the list is filtered by (today without one)
    status_day = active_on or clock.today()
    members = [
        replace(row, active=membership_active(row.member.joined_on, row.member.left_on, status_day))
        for row in members
    ]
    centres = service.list_centres(session, actor, alliance.id)
    can_manage = service.may_manage_alliance(actor, alliance)
    institution_options: list[tuple[str, str]] = []
    if can_manage:
        every, _n = service.list_institutions(
            session, actor, InstitutionFilter(), PageParams(page=1, size=500)
        )
        institution_options = [(str(i.id), f"{i.code} {_name(i)}") for i in every]
    counties = service.member_divisions(session, actor, alliance.id)
    hosts = service.institutions_by_ids(
        session,
        actor,
        [c.host_institution_id for c in centres] + [alliance.lead_institution_id],
    )
    return render(
        request,
        "registry/alliance.html",
        {
            **_common(),
            "alliance": alliance,
            "lead": hosts.get(alliance.lead_institution_id),
            "members": members,
            "total": total,
            "active_count": service.active_member_counts(session, actor, [alliance.id]).get(
                alliance.id, 0
            ),
            "page": paging.page,
            "pages": _pages(total, paging),
            "f": f,
            "filter_errors": filter_errors,
            "county_options": [(d.code, f"{d.code} {_name(d)}") for d in counties],
            "divisions": {d.code: d for d in counties},
            "centres": centres,
            "hosts": hosts,
            "can_manage": can_manage,
            "institution_options": institution_options,
            "v": values or {},
            "errors": errors or {},
            "open_form": form,
            "base": f"/alliances/{alliance.id}?" + _query(request),
        },
        status_code=status_code,
    )


@router.get("/alliances/{alliance_id}")
def alliance_page(
    request: Request, session: DB, actor: PageActor, paging: Paging, alliance_id: int
) -> Response:
    return _alliance(request, session, actor, alliance_id, paging)


@router.post("/alliances/{alliance_id}/members")
def member_add(
    request: Request,
    session: DB,
    actor: PageActor,
    paging: Paging,
    alliance_id: int,
    form: FormData,
) -> Response:
    data, errors = _parse(MemberCreate, form)
    if data is not None:
        try:
            service.add_member(session, actor, alliance_id, data)
            return _redirect(f"/alliances/{alliance_id}#members")
        except (ValidationFailed, Conflict) as exc:
            session.rollback()
            errors = _domain_errors(exc)
    return _alliance(
        request,
        session,
        actor,
        alliance_id,
        paging,
        values=form,
        errors=errors,
        form="member",
        status_code=422,
    )


@router.post("/alliance-members/{member_id}/leave")
def member_leave(
    request: Request, session: DB, actor: PageActor, paging: Paging, member_id: int, form: FormData
) -> Response:
    member = service.get_member(session, actor, member_id)
    alliance_id = member.alliance_id
    data, errors = _parse(MemberUpdate, {"left_on": form.get("left_on")})
    if data is not None:
        try:
            service.set_member_leave(session, actor, member_id, data)
            return _redirect(f"/alliances/{alliance_id}#members")
        except (ValidationFailed, Conflict) as exc:
            session.rollback()
            errors = _domain_errors(exc)
    errors = {f"left_on_{member_id}": [m for ms in errors.values() for m in ms]}
    return _alliance(request, session, actor, alliance_id, paging, errors=errors, status_code=422)


@router.post("/alliances/{alliance_id}/centres")
def centre_create(
    request: Request,
    session: DB,
    actor: PageActor,
    paging: Paging,
    alliance_id: int,
    form: FormData,
) -> Response:
    data, errors = _parse(CentreCreate, form)
    if data is not None:
        try:
            service.create_centre(session, actor, alliance_id, data)
            return _redirect(f"/alliances/{alliance_id}#centres")
        except (ValidationFailed, Conflict) as exc:
            session.rollback()
            errors = _domain_errors(exc)
    return _alliance(
        request,
        session,
        actor,
        alliance_id,
        paging,
        values=form,
        errors=errors,
        form="centre",
        status_code=422,
    )
