"""Pages of video and multi-disciplinary sessions: the sessions of one consultation (suggested
times, the schedule form, moving, cancelling, attendance and minutes, the invitation) and
the reader's own upcoming sessions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from medcircle.auth.domain import Actor
from medcircle.auth.repository import display_names
from medcircle.consultations import sessions
from medcircle.consultations.domain import MODE_LABELS, STATUS_LABELS, Mode
from medcircle.consultations.models import Consultation, ConsultSession, SessionParticipant
from medcircle.consultations.session_schemas import (
    MAX_MINUTES,
    MIN_MINUTES,
    CancelIn,
    MinutesIn,
    RescheduleIn,
    ScheduleIn,
)
from medcircle.kit import clock
from medcircle.kit.clock import CST
from medcircle.kit.errors import DomainError, NotFound
from medcircle.kit.i18n import N_, gettext
from medcircle.web import forms
from medcircle.web.deps import DB, PageActor, settings_of
from medcircle.web.forms import CHECK_VALUE, REQUIRED, Form, FormValues, form_int
from medcircle.web.routing import QuickRouter
from medcircle.web.templating import render

router = QuickRouter()

CASE = "/consultations/{consultation_id:int}/sessions"
ONE = CASE + "/{consult_session_id:int}"

DONE: dict[str, str] = {
    "scheduled": N_("The session is scheduled and the participants are told."),
    "rescheduled": N_("The session is moved and the participants are told."),
    "cancelled": N_("The session is cancelled and the participants are told."),
    "minuted": N_("Attendance and minutes are recorded."),
}
NOT_DONE = N_("The session was not changed.")
DURATIONS = (15, 30, 45, 60, 90, 120)


class Errors(forms.Errors):
    field_names = {"duration_minutes": "duration", "days": "_form"}


def local_input(value: datetime | None) -> str:
    return value.astimezone(CST).strftime("%Y-%m-%dT%H:%M") if value else ""


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _ids(form: FormValues, name: str, errors: Errors) -> list[int]:
    out: list[int] = []
    for raw in form.getlist(name):
        try:
            out.append(int(raw))
        except ValueError:
            errors.add(name, CHECK_VALUE)
    return out


def _start(form: FormValues, errors: Errors) -> datetime | None:
    """The start: a suggested slot's button, else the typed China time."""
    slot = form.get("slot")
    if slot:
        try:
            value = datetime.fromisoformat(slot)
        except ValueError:
            errors.add("starts_at", CHECK_VALUE)
            return None
        return value if value.tzinfo else value.replace(tzinfo=CST)
    return forms.form_local_datetime(form, "starts_at", errors, required=True)


def _model(model: type[Any], values: dict[str, Any], errors: Errors) -> Any:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        for e in exc.errors():
            name = str(e["loc"][0]) if e["loc"] else "_form"
            kind = e["type"]
            if name == "duration_minutes":
                errors.add(
                    "duration",
                    N_("Choose a duration between %(min)s and %(max)s minutes."),
                    min=MIN_MINUTES,
                    max=MAX_MINUTES,
                )
            else:
                errors.add(name, errors.pydantic_message(name, kind))
        return None


@dataclass
class SessionCard:
    """One session as the page shows it, with the forms its reader may use."""

    row: ConsultSession
    participants: list[SessionParticipant]
    may_change: bool
    may_minute: bool
    duration_minutes: int
    failed: str | None = None
    errors: Errors = field(default_factory=Errors)
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class Failure:
    """A form of the page that was refused: which one, what was typed, and why."""

    form: str
    session_id: int | None
    values: dict[str, Any]
    errors: Errors


def _cards(
    session: Session,
    actor: Actor,
    c: Consultation,
    rows: list[ConsultSession],
    failure: Failure | None,
) -> list[SessionCard]:
    now = clock.now()
    parts = sessions.participants_of(session, [r.id for r in rows])
    manage = sessions.may_manage(actor, c, session)
    cards = []
    for r in rows:
        may_change = manage or r.organiser_user_id == actor.user_id
        card = SessionCard(
            row=r,
            participants=parts[r.id],
            may_change=may_change and r.status == sessions.SessionStatus.SCHEDULED.value,
            may_minute=may_change and r.status != "cancelled" and now >= r.starts_at,
            duration_minutes=int((r.ends_at - r.starts_at).total_seconds() // 60),
        )
        if failure is not None and failure.session_id == r.id:
            card.failed, card.errors, card.values = failure.form, failure.errors, failure.values
        cards.append(card)
    return cards


def _case_page(
    request: Request,
    session: Session,
    actor: Actor,
    consultation_id: int,
    *,
    failure: Failure | None = None,
    flash: str | None = None,
    flash_kind: str = "ok",
    status_code: int = 200,
) -> Response:
    c, rows = sessions.list_for(session, actor, consultation_id)
    qp = request.query_params
    may_schedule = sessions.may_schedule(actor, c, session)
    cand = sessions.candidates(session, c)
    names = display_names(
        session,
        [*cand.all, *(r.organiser_user_id for r in rows)]
        + [
            p.user_id
            for ps in sessions.participants_of(session, [r.id for r in rows]).values()
            for p in ps
        ],
    )
    schedule_failed = failure is not None and failure.form == "schedule"
    values: dict[str, Any] = failure.values if failure and schedule_failed else {}
    chosen: list[int] = values.get("participants") or [
        int(x) for x in qp.getlist("participant") if x.isdigit()
    ]
    duration_raw = values.get("duration") or qp.get("duration", "")
    duration = (
        int(duration_raw)
        if str(duration_raw).isdigit() and MIN_MINUTES <= int(duration_raw) <= MAX_MINUTES
        else sessions.default_minutes(c)
    )
    slots: list[datetime] = []
    slot_error: str | None = None
    if may_schedule:
        try:
            found = sessions.suggest(
                session,
                actor,
                c.id,
                duration_minutes=duration,
                participant_user_ids=[u for u in chosen if u in cand.all],
            )
            slots = found.slots
        except DomainError as exc:
            slot_error = exc.text()
    return render(
        request,
        "sessions/case.html",
        {
            "c": c,
            "cards": _cards(session, actor, c, rows, failure),
            "may_schedule": may_schedule,
            "required": cand.required,
            "optional": cand.optional,
            "names": names,
            "chosen": chosen,
            "duration": duration,
            "durations": sorted({*DURATIONS, duration}),
            "slots": slots,
            "slot_error": slot_error,
            "schedule_values": values,
            "schedule_errors": failure.errors if failure and schedule_failed else Errors(),
            "mode_labels": MODE_LABELS,
            "status_labels": STATUS_LABELS,
            "session_status_labels": sessions.SESSION_STATUS_LABELS,
            "is_mdt": Mode(c.mode) == Mode.MDT,
            "session_mode": Mode(c.mode) in sessions.SESSION_MODES,
            "flash": flash,
            "flash_kind": flash_kind,
            "local_input": local_input,
            "min_start": local_input(clock.now() + timedelta(minutes=1)),
        },
        status_code=status_code,
    )


@router.get(CASE)
def case_sessions_page(
    request: Request, session: DB, actor: PageActor, consultation_id: int
) -> Response:
    done = DONE.get(request.query_params.get("done", ""))
    return _case_page(
        request, session, actor, consultation_id, flash=gettext(done) if done else None
    )


def _failed(
    request: Request,
    session: Session,
    actor: Actor,
    consultation_id: int,
    failure: Failure,
    status_code: int,
) -> Response:
    return _case_page(
        request,
        session,
        actor,
        consultation_id,
        failure=failure,
        flash=gettext(NOT_DONE),
        flash_kind="error",
        status_code=status_code,
    )


def _done(consultation_id: int, what: str, sid: int) -> RedirectResponse:
    return _redirect(f"/consultations/{consultation_id}/sessions?done={what}#session-{sid}")


def _on_session(
    request: Request,
    session: Session,
    actor: Actor,
    ids: tuple[int, int],
    failure: Failure,
    done: str,
    data: Any,
    act: Callable[..., object],
    *extra: object,
) -> Response:
    """``act(session, actor, ids[1], data, *extra)`` on session ``ids[1]`` of consultation
    ``ids[0]`` unless the form was refused (``data`` None); then back to the page with
    ``done``, or the page again with ``failure``."""
    consultation_id, consult_session_id = ids
    status_code = 422
    if data is not None:
        try:
            s, _ = sessions.get(session, actor, consult_session_id)
            if s.consultation_id != consultation_id:
                raise NotFound(sessions.NOT_FOUND_MESSAGE)
            act(session, actor, consult_session_id, data, *extra)
        except DomainError as exc:
            status_code = forms.refusal_status(session, exc, failure.errors)
        else:
            return _done(consultation_id, done, consult_session_id)
    return _failed(request, session, actor, consultation_id, failure, status_code)


def _force_values(form: FormValues) -> dict[str, Any]:
    return {
        "force": form.get("force") in ("1", "on", "true"),
        "force_reason": form.get("force_reason") or None,
    }


@router.post(CASE)
def schedule_submit(
    request: Request, session: DB, actor: PageActor, consultation_id: int, form: Form
) -> Response:
    errors = Errors()
    starts_at = _start(form, errors)
    duration = form_int(form, "duration", errors)
    participants = _ids(form, "participants", errors)
    shown = {
        "starts_at": form.get("starts_at") or local_input(starts_at),
        "duration": duration,
        "participants": participants,
        "force": form.get("force") in ("1", "on", "true"),
        "force_reason": form.get("force_reason"),
    }
    status_code = 422
    data = None
    if not errors:
        data = _model(
            ScheduleIn,
            {
                "starts_at": starts_at,
                "duration_minutes": duration,
                "participant_user_ids": participants,
                **_force_values(form),
            },
            errors,
        )
    if data is not None:
        try:
            s = sessions.schedule(session, actor, consultation_id, data, settings_of(request))
        except DomainError as exc:
            status_code = forms.refusal_status(session, exc, errors)
        else:
            return _done(consultation_id, "scheduled", s.id)
    return _failed(
        request,
        session,
        actor,
        consultation_id,
        Failure("schedule", None, shown, errors),
        status_code,
    )


@router.post(CASE + "/find")
def find_times_submit(
    request: Request, session: DB, actor: PageActor, consultation_id: int, form: Form
) -> Response:
    """The schedule form's "find times" button: the page again, with the suggestions for the
    participants and duration chosen (posted, so the form's token stays out of the address)."""
    sessions.list_for(session, actor, consultation_id)
    query = [("participant", v) for v in form.getlist("participants") if v.isdigit()]
    duration = form.get("duration")
    if duration.isdigit():
        query.append(("duration", duration))
    return _redirect(f"/consultations/{consultation_id}/sessions?{urlencode(query)}#schedule")


def _version(form: FormValues, errors: Errors) -> int | None:
    return form_int(form, "version", errors, required=True)


@router.post(ONE + "/reschedule")
def reschedule_submit(
    request: Request,
    session: DB,
    actor: PageActor,
    consultation_id: int,
    consult_session_id: int,
    form: Form,
) -> Response:
    errors = Errors()
    starts_at = forms.form_local_datetime(form, "starts_at", errors, required=True)
    duration = form_int(form, "duration", errors)
    version = _version(form, errors)
    data = None
    if not errors:
        data = _model(
            RescheduleIn,
            {
                "version": version,
                "starts_at": starts_at,
                "duration_minutes": duration,
                **_force_values(form),
            },
            errors,
        )
    shown = {k: form.get(k) for k in form.values}
    return _on_session(
        request,
        session,
        actor,
        (consultation_id, consult_session_id),
        Failure("reschedule", consult_session_id, shown, errors),
        "rescheduled",
        data,
        sessions.reschedule,
        settings_of(request),
    )


@router.post(ONE + "/cancel")
def cancel_submit(
    request: Request,
    session: DB,
    actor: PageActor,
    consultation_id: int,
    consult_session_id: int,
    form: Form,
) -> Response:
    errors = Errors()
    version = _version(form, errors)
    data = None
    if not errors:
        data = _model(CancelIn, {"version": version, "reason": form.get("reason") or None}, errors)
    shown = {k: form.get(k) for k in form.values}
    return _on_session(
        request,
        session,
        actor,
        (consultation_id, consult_session_id),
        Failure("cancel", consult_session_id, shown, errors),
        "cancelled",
        data,
        sessions.cancel,
        settings_of(request),
    )


@router.post(ONE + "/minutes")
def minutes_submit(
    request: Request,
    session: DB,
    actor: PageActor,
    consultation_id: int,
    consult_session_id: int,
    form: Form,
) -> Response:
    errors = Errors()
    version = _version(form, errors)
    attended = _ids(form, "attended", errors)
    if not form.get("minutes"):
        errors.add("minutes", REQUIRED)
    data = None
    if not errors:
        data = _model(
            MinutesIn,
            {"version": version, "minutes": form.get("minutes"), "attended_user_ids": attended},
            errors,
        )
    shown = {"minutes": form.get("minutes"), "attended": attended}
    return _on_session(
        request,
        session,
        actor,
        (consultation_id, consult_session_id),
        Failure("minutes", consult_session_id, shown, errors),
        "minuted",
        data,
        sessions.record_minutes,
    )


@router.get("/sessions")
def my_sessions_page(request: Request, session: DB, actor: PageActor) -> Response:
    found = sessions.upcoming_for(session, actor)
    parts = sessions.participants_of(session, [s.id for s, _ in found])
    names = display_names(
        session,
        [p.user_id for ps in parts.values() for p in ps] + [s.organiser_user_id for s, _ in found],
    )
    return render(
        request,
        "sessions/mine.html",
        {
            "found": found,
            "parts": parts,
            "names": names,
            "mode_labels": MODE_LABELS,
            "session_status_labels": sessions.SESSION_STATUS_LABELS,
            "now": clock.now(),
        },
    )
