"""Pages of the consultation response targets of an agreement.

The agreement page loads the section from ``GET /agreements/{id}/consult-targets`` (an HTMX
fragment; without JavaScript the same address is a page of its own). Editors change the
targets with the form there: blank means the platform default; on success back to the
agreement page, otherwise the page again with the messages by the fields.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from medcircle.auth.domain import Actor
from medcircle.consultations import targets
from medcircle.consultations.targets import MAX_MINUTES, MIN_MINUTES, ORDER, TargetsIn
from medcircle.kit.errors import DomainError
from medcircle.kit.i18n import N_, gettext
from medcircle.web import forms
from medcircle.web.deps import DB, PageActor, settings_of
from medcircle.web.forms import Form, build, form_int
from medcircle.web.routing import QuickRouter
from medcircle.web.templating import render

router = QuickRouter()

RANGE_MESSAGE = N_("Enter whole minutes from %(low)s to %(high)s, or leave it blank.")
HOURS_MINUTES = N_("%(hours)s h %(minutes)s min")
HOURS = N_("%(hours)s h")
MINUTES = N_("%(minutes)s min")


class Errors(forms.Errors):
    pass


def duration(minutes: int) -> str:
    """Minutes in hours and minutes, in the reader's language: 90 -> "1 h 30 min"."""
    hours, rest = divmod(minutes, 60)
    if hours and rest:
        return gettext(HOURS_MINUTES, hours=hours, minutes=rest)
    if hours:
        return gettext(HOURS, hours=hours)
    return gettext(MINUTES, minutes=rest)


def _is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _render(
    request: Request,
    session: Session,
    actor: Actor,
    agreement_id: int,
    *,
    values: dict[str, Any] | None = None,
    errors: Errors | None = None,
    status_code: int = 200,
) -> Response:
    t = targets.get_targets(session, actor, settings_of(request), agreement_id)
    if values is None:
        values = {x.urgency.value: (x.minutes if x.own else None) for x in t.targets}
    return render(
        request,
        "consultations/_targets.html" if _is_htmx(request) else "consultations/targets.html",
        {
            "t": t,
            "a": t.agreement,
            "rows": [(x, duration(x.minutes), duration(x.default_minutes)) for x in t.targets],
            "values": values,
            "errors": errors or Errors(),
            "min_minutes": MIN_MINUTES,
            "max_minutes": MAX_MINUTES,
        },
        status_code=status_code,
    )


@router.get("/agreements/{agreement_id}/consult-targets")
def targets_page(request: Request, session: DB, actor: PageActor, agreement_id: int) -> Response:
    """The section of the agreement page (HTMX), or a page of its own without JavaScript."""
    return _render(request, session, actor, agreement_id)


@router.post("/agreements/{agreement_id}/consult-targets")
def targets_submit(
    request: Request, session: DB, actor: PageActor, agreement_id: int, form: Form
) -> Response:
    errors = Errors()
    values: dict[str, Any] = {}
    for u in ORDER:
        minutes = form_int(form, u.value, errors)
        if minutes is not None and not MIN_MINUTES <= minutes <= MAX_MINUTES:
            errors.add(u.value, RANGE_MESSAGE, low=MIN_MINUTES, high=f"{MAX_MINUTES:,}")
        values[u.value] = minutes if minutes is not None else form.get(u.value) or None
    data = None if errors else build(TargetsIn, values, errors)
    status_code = 422
    if data is not None:
        try:
            targets.set_targets(session, actor, settings_of(request), agreement_id, data)
        except DomainError as exc:
            status_code = forms.refusal_status(session, exc, errors)
        else:
            return RedirectResponse(f"/agreements/{agreement_id}?saved=1#consult-targets", 303)
    return _render(
        request, session, actor, agreement_id, values=values, errors=errors, status_code=status_code
    )
