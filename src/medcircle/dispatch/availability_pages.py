"""Pages of experts' availability for dispatch.

``/dispatch/experts`` lists the institution's experts with their dispatch profile, skills,
single duty days and leave ahead; ``/dispatch/experts/{user_id}`` holds the forms that keep one
expert's profile, duty days and skills (for ``DISPATCH_PLAN``), and shows their leave, which is
kept with the on-call rota.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from medcircle.auth.domain import Actor
from medcircle.dispatch import access
from medcircle.dispatch import availability as svc
from medcircle.dispatch.rules import DEFAULT_DAYS_PER_WEEK, WEEKDAY_LABELS
from medcircle.dispatch.setup_schemas import DutyIn, ProfileIn, SkillIn
from medcircle.kit.errors import DomainError, Forbidden
from medcircle.kit.i18n import N_, gettext
from medcircle.web import forms
from medcircle.web.deps import DB, PageActor
from medcircle.web.forms import Form, FormValues, build, form_date, form_int
from medcircle.web.routing import QuickRouter
from medcircle.web.templating import localised, render

router = QuickRouter()

DONE: dict[str, str] = {
    "profile": N_("The dispatch profile is saved."),
    "duty": N_("The duty day is recorded."),
    "duty_removed": N_("The duty day is removed."),
    "skill": N_("The skill is added."),
    "skill_removed": N_("The skill is removed."),
}
CHOOSE_SPECIALTY = N_("Choose the specialty.")


class Errors(forms.Errors):
    field_names = {"version": "_form"}


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _require_read(actor: Actor) -> None:
    if not access.can_read(actor):
        raise Forbidden()


def weekdays_text(days: list[int] | None) -> str:
    """Home-duty weekdays in words ("Mon, Thu"), or a dash."""
    return ", ".join(gettext(WEEKDAY_LABELS[d]) for d in sorted(days or []) if 0 <= d < 5) or "—"


@router.get("/dispatch/experts")
def experts_page(request: Request, session: DB, actor: PageActor) -> Response:
    _require_read(actor)
    experts = svc.list_experts(session, actor)
    specialties = {s.code: s for s in svc.specialties(session)}
    return render(
        request,
        "dispatch/experts.html",
        {
            "experts": experts,
            "specialties": specialties,
            "weekdays_text": weekdays_text,
            "can_manage": access.can_manage(actor),
            "taking_part": sum(1 for e in experts if e.takes_part),
        },
    )


def _expert_page(
    request: Request,
    session: Session,
    actor: Actor,
    user_id: int,
    *,
    errors: dict[str, Errors] | None = None,
    values: dict[str, dict[str, Any]] | None = None,
    status_code: int = 200,
) -> Response:
    e = svc.get_expert(session, actor, user_id)
    specialties = svc.specialties(session)
    flash_key = request.query_params.get("done", "")
    p = e.profile
    profile_values: dict[str, Any] = {
        "specialty_code": p.specialty_code if p else (e.practice_specialty or ""),
        "max_days_per_week": str(p.max_days_per_week if p else DEFAULT_DAYS_PER_WEEK),
        "duty_weekdays": [str(d) for d in (p.duty_weekdays if p else [])],
        "is_active": "1" if (p.is_active if p else True) else "",
        "version": str(p.version) if p else "",
    }
    given = (values or {}).get("profile")
    if given is not None:
        profile_values = given
    return render(
        request,
        "dispatch/expert.html",
        {
            "e": e,
            "specialty_options": [(s.code, localised(s)) for s in specialties],
            "specialties": {s.code: s for s in specialties},
            "weekday_options": [(str(i), gettext(label)) for i, label in enumerate(WEEKDAY_LABELS)],
            "weekdays_text": weekdays_text,
            "profile_values": profile_values,
            "values": values or {},
            "errors": errors or {},
            "can_manage": access.can_manage(actor),
            "flash": gettext(DONE[flash_key]) if flash_key in DONE else None,
            "flash_kind": "ok",
        },
        status_code=status_code,
    )


@router.get("/dispatch/experts/{user_id:int}")
def expert_page(request: Request, session: DB, actor: PageActor, user_id: int) -> Response:
    _require_read(actor)
    return _expert_page(request, session, actor, user_id)


def _again(
    request: Request,
    session: Session,
    actor: Actor,
    user_id: int,
    name: str,
    errors: Errors,
    values: dict[str, Any],
    status_code: int,
) -> Response:
    return _expert_page(
        request,
        session,
        actor,
        user_id,
        errors={name: errors},
        values={name: values},
        status_code=status_code,
    )


def _url(user_id: int, done: str) -> str:
    return f"/dispatch/experts/{user_id}?done={done}"


def _plain(form: FormValues) -> dict[str, Any]:
    return {k: form.get(k) for k in form.values}


@router.post("/dispatch/experts/{user_id:int}/profile")
def profile_submit(
    request: Request, session: DB, actor: PageActor, user_id: int, form: Form
) -> Response:
    errors = Errors()
    if not form.get("specialty_code"):
        errors.add("specialty_code", CHOOSE_SPECIALTY)
    max_days = form_int(form, "max_days_per_week", errors, required=True)
    weekdays: list[int] = []
    for raw in form.getlist("duty_weekdays"):
        try:
            weekdays.append(int(raw))
        except ValueError:
            errors.add("duty_weekdays", forms.CHECK_VALUE)
    version = form_int(form, "version", errors)
    status_code = 422
    if not errors:
        data = build(
            ProfileIn,
            {
                "specialty_code": form.get("specialty_code"),
                "max_days_per_week": max_days,
                "duty_weekdays": weekdays,
                "is_active": form.get("is_active") == "1",
                "version": version,
            },
            errors,
        )
        if data is not None:
            try:
                svc.save_profile(session, actor, user_id, data)
            except DomainError as exc:
                status_code = forms.refusal_status(session, exc, errors)
            else:
                return _redirect(_url(user_id, "profile"))
    values = _plain(form) | {"duty_weekdays": form.getlist("duty_weekdays")}
    return _again(request, session, actor, user_id, "profile", errors, values, status_code)


@router.post("/dispatch/experts/{user_id:int}/duties")
def duty_submit(
    request: Request, session: DB, actor: PageActor, user_id: int, form: Form
) -> Response:
    errors = Errors()
    day = form_date(form, "day", errors, required=True)
    status_code = 422
    if not errors:
        data = build(DutyIn, {"day": day, "reason": form.get("reason") or None}, errors)
        if data is not None:
            try:
                svc.add_duty(session, actor, user_id, data)
            except DomainError as exc:
                status_code = forms.refusal_status(session, exc, errors)
            else:
                return _redirect(_url(user_id, "duty"))
    return _again(request, session, actor, user_id, "duty", errors, _plain(form), status_code)


@router.post("/dispatch/experts/{user_id:int}/duties/{duty_id:int}/delete")
def duty_delete(
    request: Request, session: DB, actor: PageActor, user_id: int, duty_id: int, form: Form
) -> Response:
    svc.remove_duty(session, actor, user_id, duty_id)
    return _redirect(_url(user_id, "duty_removed"))


@router.post("/dispatch/experts/{user_id:int}/skills")
def skill_submit(
    request: Request, session: DB, actor: PageActor, user_id: int, form: Form
) -> Response:
    errors = Errors()
    status_code = 422
    data = build(SkillIn, {"skill": form.get("skill")}, errors)
    if data is not None:
        try:
            svc.add_skill(session, actor, user_id, data)
        except DomainError as exc:
            status_code = forms.refusal_status(session, exc, errors)
        else:
            return _redirect(_url(user_id, "skill"))
    return _again(request, session, actor, user_id, "skill", errors, _plain(form), status_code)


@router.post("/dispatch/experts/{user_id:int}/skills/{skill_id:int}/delete")
def skill_delete(
    request: Request, session: DB, actor: PageActor, user_id: int, skill_id: int, form: Form
) -> Response:
    svc.remove_skill(session, actor, user_id, skill_id)
    return _redirect(_url(user_id, "skill_removed"))


__all__ = ["router", "weekdays_text"]
