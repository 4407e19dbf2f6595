"""Pages of on-call rotas: the week grid, warnings, leave and skills.

``/rotas`` lists the institution's rotas with who is on call now and the problems ahead;
``/rotas/{specialty}`` shows one week (Monday to Sunday, China time) as seven columns of
shift blocks, the warnings of that week in words above it, the handovers, the leave, and the
forms that keep the rota (for ROTA_MANAGE; experts get the leave form for themselves).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from medcircle.auth.domain import Actor, Permission
from medcircle.consultations import rota_service as svc
from medcircle.consultations.domain import ShiftRole, WarningKind
from medcircle.consultations.schemas import LeaveIn, ShiftIn
from medcircle.kit import clock
from medcircle.kit.clock import CST
from medcircle.kit.errors import DomainError, Forbidden
from medcircle.kit.i18n import N_, gettext
from medcircle.web import forms
from medcircle.web.deps import DB, PageActor
from medcircle.web.forms import Form, FormValues, build, form_int, form_local_datetime
from medcircle.web.routing import QuickRouter
from medcircle.web.templating import render

router = QuickRouter()

WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))
ROLE_LABELS: dict[ShiftRole, str] = {
    # not plain "Primary": that word is a hospital level elsewhere (一级)
    ShiftRole.PRIMARY: N_("Primary on call"),
    ShiftRole.BACKUP: N_("Backup on call"),
}
# how each warning reads: what, then when
WARNING_TEXT: dict[WarningKind, str] = {
    WarningKind.GAP: N_("Nobody on call %(when)s"),
    WarningKind.NO_PRIMARY: N_("Only a backup on call %(when)s"),
    WarningKind.LEAVE: N_("%(name)s is on leave during their shift %(when)s"),
    WarningKind.HANDOVER: N_("Handover %(when)s: %(from_name)s to %(name)s"),
}
DONE: dict[str, str] = {
    "shift": N_("The shift is added."),
    "deleted": N_("The shift is removed."),
    "ended": N_("The shift was running: it ends now."),
    "repeat": N_("The week is repeated."),
    "leave": N_("The leave is recorded."),
    "leave_deleted": N_("The leave is withdrawn."),
    "skills": N_("The skills are saved."),
}
CHOOSE_EXPERT = N_("Choose the expert.")
BAD_WEEKS = N_("Enter a number of weeks from 1 to 12.")


class Errors(forms.Errors):
    field_names = {"specialty_code": "_form", "days": "_form"}


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _week_of(raw: str) -> date:
    """The Monday of the week of a ``YYYY-MM-DD`` value; this week when absent or odd."""
    try:
        day = date.fromisoformat(raw) if raw else clock.today()
    except ValueError:
        day = clock.today()
    if not 2000 <= day.year <= 2999:
        day = clock.today()
    return monday_of(day)


def _week_param(request: Request) -> date:
    return _week_of(request.query_params.get("week", ""))


def day_of(t: datetime) -> str:
    """The day (China time) of an instant, as the ``week`` parameter of a rota page."""
    return t.astimezone(CST).date().isoformat()


def _rota_url(code: str, week: date, **params: str) -> str:
    return f"/rotas/{code}?" + urlencode({"week": week.isoformat(), **params})


# --- words for times -----------------------------------------------------------------------


def when_text(starts_at: datetime, ends_at: datetime) -> str:
    """ "Sat 12-05 02:00–08:00", or across days "Sat 12-05 20:00 – Sun 12-06 08:00" (China
    time); an instant (a handover) is just "Sat 12-05 08:00"."""
    a, b = starts_at.astimezone(CST), ends_at.astimezone(CST)

    def day(t: datetime) -> str:
        return f"{gettext(WEEKDAYS[t.weekday()])} {t:%m-%d}"

    if a == b:
        return f"{day(a)} {a:%H:%M}"
    if b.date() == a.date():
        return f"{day(a)} {a:%H:%M}–{b:%H:%M}"
    if b.date() == a.date() + timedelta(days=1) and (b.hour, b.minute) == (0, 0):
        return f"{day(a)} {a:%H:%M}–24:00"
    return f"{day(a)} {a:%H:%M} – {day(b)} {b:%H:%M}"


def warning_text(v: svc.WarningView) -> str:
    w = v.warning
    return gettext(
        WARNING_TEXT[w.kind],
        when=when_text(w.starts_at, w.ends_at),
        name=v.name or "?",
        from_name=v.from_name or "?",
    )


# --- the week grid -------------------------------------------------------------------------


@dataclass
class Piece:
    """Part of a block: its times that day and whether the expert is on leave then."""

    start: str
    end: str
    on_leave: bool


@dataclass
class Block:
    shift: svc.ShiftView
    pieces: list[Piece]
    # the shift goes on before this day / after it
    from_before: bool
    goes_on: bool
    # not ended yet, and this is its first day in the week (where its button is)
    deletable: bool


@dataclass
class Day:
    day: date
    label: str
    today: bool
    blocks: list[Block] = field(default_factory=list)


def _hm(t: datetime, day_start: datetime) -> str:
    return "24:00" if t - day_start >= timedelta(days=1) else t.astimezone(CST).strftime("%H:%M")


def week_grid(view: svc.RotaView, monday: date, now: datetime) -> list[Day]:
    days: list[Day] = []
    shown: set[int] = set()
    today = now.astimezone(CST).date()
    for i in range(7):
        d = monday + timedelta(days=i)
        start = svc.week_start_of(d)
        end = start + timedelta(days=1)
        col = Day(d, f"{gettext(WEEKDAYS[i])} {d:%m-%d}", d == today)
        for s in view.shifts:
            a, b = max(s.starts_at, start), min(s.ends_at, end)
            if a >= b:
                continue
            # cut the day's part at the edges of the expert's leave
            cuts = sorted({a, b} | {t for lv in s.leave for t in lv if a < t < b})
            pieces = []
            for x, y in itertools.pairwise(cuts):
                away = any(la <= x and y <= lb for la, lb in s.leave)
                pieces.append(Piece(_hm(x, start), _hm(y, start), away))
            first = s.id not in shown
            shown.add(s.id)
            col.blocks.append(
                Block(s, pieces, s.starts_at < start, s.ends_at > end, first and s.ends_at > now)
            )
        col.blocks.sort(key=lambda blk: (blk.pieces[0].start, blk.shift.role != ShiftRole.PRIMARY))
        days.append(col)
    return days


# --- pages ---------------------------------------------------------------------------------


def _require_read(actor: Actor) -> None:
    if not svc.can_read(actor):
        raise Forbidden()


@router.get("/rotas")
def rotas_page(request: Request, session: DB, actor: PageActor) -> Response:
    _require_read(actor)
    rotas = svc.list_rotas(session, actor)
    problems = svc.warnings_summary(session, actor)
    mine: list[svc.ShiftView] = []
    if actor.can(Permission.CONSULT_ANSWER):
        mine = svc.expert_shifts(session, actor, actor.user_id)
    return render(
        request,
        "rota/list.html",
        {
            "rotas": rotas,
            "problems": problems[:30],
            "problem_total": len(problems),
            "mine": mine,
            "days": svc.WARNING_DAYS,
            "warning_text": warning_text,
            "when_text": when_text,
            "role_labels": ROLE_LABELS,
            "this_week": monday_of(clock.today()),
            "specialties": {r.specialty.code: r.specialty for r in rotas},
            "day_of": day_of,
        },
    )


def _week_page(
    request: Request,
    session: Session,
    actor: Actor,
    code: str,
    monday: date,
    *,
    errors: dict[str, Errors] | None = None,
    values: dict[str, dict[str, Any]] | None = None,
    status_code: int = 200,
) -> Response:
    start = svc.week_start_of(monday)
    view = svc.rota_view(session, actor, code, start=start, days=7)
    now = clock.now()
    warnings = [w for w in view.warnings if w.kind != WarningKind.HANDOVER]
    handovers = [w for w in view.warnings if w.kind == WarningKind.HANDOVER]
    flash_key = request.query_params.get("done", "")
    leave_people = (
        view.experts if view.can_manage else [e for e in view.experts if e.user_id == actor.user_id]
    )
    may_record_leave = view.can_manage or (
        actor.can(Permission.CONSULT_ANSWER) and bool(leave_people)
    )
    return render(
        request,
        "rota/week.html",
        {
            "v": view,
            "code": code,
            "monday": monday,
            "sunday": monday + timedelta(days=6),
            "prev_url": _rota_url(code, monday - timedelta(days=7)),
            "next_url": _rota_url(code, monday + timedelta(days=7)),
            "this_url": _rota_url(code, monday_of(clock.today())),
            "grid": week_grid(view, monday, now),
            "warnings": warnings,
            "handovers": handovers,
            "warning_text": warning_text,
            "when_text": when_text,
            "role_labels": ROLE_LABELS,
            "role_options": [(r.value, gettext(label)) for r, label in ROLE_LABELS.items()],
            "expert_options": [(str(e.user_id), e.name) for e in view.experts],
            "leave_options": [(str(e.user_id), e.name) for e in leave_people],
            "may_record_leave": may_record_leave,
            "leave_deletable": {
                lv.id
                for lv in view.leaves
                if lv.ends_at > now and (view.can_manage or lv.user_id == actor.user_id)
            },
            "errors": errors or {},
            "values": values or {},
            "flash": gettext(DONE[flash_key]) if flash_key in DONE else None,
            "flash_kind": "ok",
            "now": now,
        },
        status_code=status_code,
    )


@router.get("/rotas/{code}")
def week_page(request: Request, session: DB, actor: PageActor, code: str) -> Response:
    _require_read(actor)
    return _week_page(request, session, actor, code, _week_param(request))


def _form_week(form: FormValues, request: Request) -> date:
    return _week_of(form.get("week") or request.query_params.get("week", ""))


def _expert(form: FormValues, errors: Errors) -> int | None:
    user_id = form_int(form, "user_id", errors)
    if user_id is None and "user_id" not in errors:
        errors.add("user_id", CHOOSE_EXPERT)
    return user_id


def _expert_and_times(form: FormValues, errors: Errors) -> dict[str, Any]:
    """The expert, start and end that the shift and leave forms ask for."""
    return {
        "user_id": _expert(form, errors),
        "starts_at": form_local_datetime(form, "starts_at", errors, required=True),
        "ends_at": form_local_datetime(form, "ends_at", errors, required=True),
    }


def _again(
    request: Request,
    session: Session,
    actor: Actor,
    code: str,
    monday: date,
    name: str,
    errors: Errors,
    form: FormValues,
    status_code: int,
) -> Response:
    values = {k: form.get(k) for k in form.values}
    return _week_page(
        request,
        session,
        actor,
        code,
        monday,
        errors={name: errors},
        values={name: values},
        status_code=status_code,
    )


@router.post("/rotas/{code}/shifts")
def add_shift_submit(
    request: Request, session: DB, actor: PageActor, code: str, form: Form
) -> Response:
    monday = _form_week(form, request)
    errors = Errors()
    asked = _expert_and_times(form, errors)
    status_code = 422
    if not errors:
        data = build(
            ShiftIn,
            {**asked, "specialty_code": code, "role": form.get("role") or ShiftRole.PRIMARY.value},
            errors,
        )
        if data is not None:
            try:
                svc.add_shift(session, actor, data, specialty_code=code)
            except DomainError as exc:
                status_code = forms.refusal_status(session, exc, errors)
            else:
                week = monday_of(data.starts_at.astimezone(CST).date())
                return _redirect(_rota_url(code, week, done="shift"))
    return _again(request, session, actor, code, monday, "shift", errors, form, status_code)


@router.post("/rotas/{code}/shifts/{shift_id:int}/delete")
def delete_shift_submit(
    request: Request, session: DB, actor: PageActor, code: str, shift_id: int, form: Form
) -> Response:
    monday = _form_week(form, request)
    kept = svc.delete_shift(session, actor, shift_id)
    return _redirect(_rota_url(code, monday, done="ended" if kept is not None else "deleted"))


@router.post("/rotas/{code}/repeat")
def repeat_submit(
    request: Request, session: DB, actor: PageActor, code: str, form: Form
) -> Response:
    monday = _form_week(form, request)
    errors = Errors()
    weeks = form_int(form, "weeks", errors, required=True)
    status_code = 422
    if weeks is not None and not 1 <= weeks <= svc.MAX_REPEAT_WEEKS:
        errors.add("weeks", BAD_WEEKS)
    if not errors and weeks is not None:
        try:
            svc.repeat_week(session, actor, code, monday, weeks)
        except DomainError as exc:
            status_code = forms.refusal_status(session, exc, errors)
            # the report of each conflict goes with the summary, by the form
            if exc.field_errors and exc.code == "overlap":
                errors.setdefault("_form", []).insert(0, exc.text())
        else:
            return _redirect(_rota_url(code, monday, done="repeat"))
    return _again(request, session, actor, code, monday, "repeat", errors, form, status_code)


@router.post("/rotas/{code}/leave")
def add_leave_submit(
    request: Request, session: DB, actor: PageActor, code: str, form: Form
) -> Response:
    monday = _form_week(form, request)
    errors = Errors()
    asked = _expert_and_times(form, errors)
    status_code = 422
    if not errors:
        data = build(
            LeaveIn,
            {**asked, "reason": form.get("reason") or None},
            errors,
        )
        if data is not None:
            try:
                svc.add_leave(session, actor, data)
            except DomainError as exc:
                status_code = forms.refusal_status(session, exc, errors)
            else:
                return _redirect(_rota_url(code, monday, done="leave"))
    return _again(request, session, actor, code, monday, "leave", errors, form, status_code)


@router.post("/rotas/{code}/leave/{leave_id:int}/delete")
def delete_leave_submit(
    request: Request, session: DB, actor: PageActor, code: str, leave_id: int, form: Form
) -> Response:
    monday = _form_week(form, request)
    svc.delete_leave(session, actor, leave_id)
    return _redirect(_rota_url(code, monday, done="leave_deleted"))


@router.post("/rotas/{code}/skills")
def skills_submit(
    request: Request, session: DB, actor: PageActor, code: str, form: Form
) -> Response:
    monday = _form_week(form, request)
    errors = Errors()
    user_id = _expert(form, errors)
    raw = form.get("skills").replace(",", " ").replace("，", " ").split()
    status_code = 422
    if not errors and user_id is not None:
        try:
            svc.set_skills(session, actor, user_id, raw)
        except DomainError as exc:
            status_code = forms.refusal_status(session, exc, errors)
        else:
            return _redirect(_rota_url(code, monday, done="skills"))
    return _again(request, session, actor, code, monday, "skills", errors, form, status_code)


__all__ = ["router"]
