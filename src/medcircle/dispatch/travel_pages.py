"""The page of travel times: the set times of trips from or to the reader's institution and the
pairs of its agreements, each with the estimate from coordinates beside it, and (for
``DISPATCH_PLAN``) the form that sets, changes or removes one.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from medcircle.auth.domain import Actor
from medcircle.dispatch import access
from medcircle.dispatch import travel_service as svc
from medcircle.dispatch.setup_schemas import TravelIn
from medcircle.kit.errors import DomainError, Forbidden
from medcircle.kit.i18n import N_, gettext
from medcircle.web import forms
from medcircle.web.deps import DB, PageActor
from medcircle.web.forms import Form, build, form_int
from medcircle.web.routing import QuickRouter
from medcircle.web.templating import localised, render

router = QuickRouter()

DONE: dict[str, str] = {
    "set": N_("The travel time is set."),
    "removed": N_("The travel time is removed: the estimate holds again."),
}
CHOOSE_PLACE = N_("Choose the institution.")


class Errors(forms.Errors):
    pass


def _require_read(actor: Actor) -> None:
    if not access.can_read(actor):
        raise Forbidden()


def _page(
    request: Request,
    session: Session,
    actor: Actor,
    *,
    errors: Errors | None = None,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    views = svc.list_travel(session, actor)
    flash_key = request.query_params.get("done", "")
    places = svc.institutions(session)
    mine = next((i for i in places if i.id == actor.institution_id), None)
    return render(
        request,
        "dispatch/travel.html",
        {
            "views": views,
            "place_options": [(str(i.id), f"{i.code} · {localised(i)}") for i in places],
            "mine": mine,
            "values": values
            or {"origin_institution_id": str(actor.institution_id) if mine else ""},
            "errors": errors or Errors(),
            "can_manage": access.can_manage(actor),
            "flash": gettext(DONE[flash_key]) if flash_key in DONE else None,
            "flash_kind": "ok",
        },
        status_code=status_code,
    )


@router.get("/dispatch/travel")
def travel_page(request: Request, session: DB, actor: PageActor) -> Response:
    _require_read(actor)
    return _page(request, session, actor)


@router.post("/dispatch/travel")
def travel_submit(request: Request, session: DB, actor: PageActor, form: Form) -> Response:
    errors = Errors()
    origin = form_int(form, "origin_institution_id", errors)
    destination = form_int(form, "destination_institution_id", errors)
    for name, value in (
        ("origin_institution_id", origin),
        ("destination_institution_id", destination),
    ):
        if value is None and name not in errors:
            errors.add(name, CHOOSE_PLACE)
    minutes = form_int(form, "minutes", errors, required=True)
    status_code = 422
    if not errors:
        data = build(
            TravelIn,
            {
                "origin_institution_id": origin,
                "destination_institution_id": destination,
                "minutes": minutes,
                "note": form.get("note") or None,
            },
            errors,
        )
        if data is not None:
            try:
                svc.set_travel(session, actor, data)
            except DomainError as exc:
                status_code = forms.refusal_status(session, exc, errors)
            else:
                return RedirectResponse("/dispatch/travel?done=set", status_code=303)
    values = {k: form.get(k) for k in form.values}
    return _page(request, session, actor, errors=errors, values=values, status_code=status_code)


@router.post("/dispatch/travel/{travel_id:int}/delete")
def travel_delete(
    request: Request, session: DB, actor: PageActor, travel_id: int, form: Form
) -> Response:
    svc.remove_travel(session, actor, travel_id)
    return RedirectResponse("/dispatch/travel?done=removed", status_code=303)


__all__ = ["router"]
