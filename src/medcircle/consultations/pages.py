"""Pages of consultations: worklists, asking, the case with its thread and opinion.

The asking doctor opens a case for a patient of their institution and follows whose turn it
is; the expert sees their worklist by time left, claims, asks the asker, answers; the
coordinator assigns and redirects (patients' names masked). Every read and write goes
through ``consultations.service`` (access, audit, history); the worklists through
``consultations.queries``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import File, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from medcircle.auth.domain import Actor, Permission
from medcircle.config import Settings
from medcircle.consultations import attachments, queries, rota, service, teaching
from medcircle.consultations.domain import (
    ACTION_LABELS,
    AT_RISK_SHARE,
    MODE_LABELS,
    ROUTE_LABELS,
    STATUS_LABELS,
    TURN_LABELS,
    URGENCY_LABELS,
    Action,
    Mode,
    Side,
    Status,
    Urgency,
    find_transition,
)
from medcircle.consultations.models import Consultation
from medcircle.consultations.schemas import ActIn, ConsultationCreate, MessageIn
from medcircle.consultations.sessions import EVENT_LABELS as SESSION_EVENT_LABELS
from medcircle.kit import clock
from medcircle.kit.errors import Conflict, DomainError, Forbidden, NotFound
from medcircle.kit.i18n import N_, gettext
from medcircle.kit.pagination import PageParams
from medcircle.patients import service as patients
from medcircle.patients.domain import SEX_LABELS, Sex
from medcircle.patients.models import Patient
from medcircle.referrals import icd10
from medcircle.registry import service as registry
from medcircle.web import forms
from medcircle.web.deps import DB, PageActor, Paging, settings_of
from medcircle.web.forms import CHECK_VALUE, REQUIRED, Form, FormValues, build, form_int
from medcircle.web.routing import QuickRouter
from medcircle.web.templating import localised, render

router = QuickRouter()

CHOOSE_PATIENT = N_("Choose the patient.")
CHOOSE_POOL = N_("Choose who should answer: an institution and specialty.")
CHOOSE_EXPERT = N_("Choose the expert.")
CHOOSE_SPECIALTY = N_("Choose the specialty.")
CHOOSE_FILE = N_("Choose a file to attach.")
ASKED = N_("The question is sent.")
DONE = N_("Done: %(action)s.")
NOTED = N_("The note is added.")
UPLOADED = N_("The file is attached.")
NOT_DONE = N_("The action was not carried out.")
STALE = N_(
    "Someone else changed this consultation while you were reading it. The page now shows "
    "the latest state: check it and try again if still needed."
)
LOST_CLAIM = N_("Another expert took this case a moment before you: it is theirs now.")
ON_CALL_HINT = N_("The expert on call gets the case at once.")
NOBODY_HINT = N_(
    "Nobody is on call for this specialty now: the case waits in the pool and the "
    "coordinator assigns it. You will be told."
)

PICKER_PATIENTS = PageParams(1, 50)
MAX_ID = 2**31 - 1

LIST_HELP: dict[str, str] = {
    "mine": N_(
        "Cases you hold as the expert: the most urgent first, then the least time left. "
        "The clock stands still while the asker is asked."
    ),
    "pool": N_(
        "Cases in your specialties' pools that nobody holds yet: take one, or (coordinators) "
        "assign it to an expert."
    ),
    "asked": N_("Consultations your institution asked, with whose turn it is and the time left."),
    "at_risk": N_(
        "Open cases of your institution whose response target is at risk or missed: "
        "reassign or redirect them before the promise is broken."
    ),
}

# messages of the thread, by kind
KIND_LABELS: dict[str, str] = {
    "question": N_("Question to the asker"),
    "reply": N_("Reply"),
    "follow_up": N_("Follow-up question"),
    "note": N_("Note"),
}

# steps of the history that are not transitions of the table
EVENT_LABELS: dict[str, str] = {
    "ask": N_("Consultation asked"),
    "route": N_("Routed"),
    "note": N_("Note added"),
    "to_referral": N_("Turned into a referral"),
    "referral": N_("Turned into a referral"),
    "teaching_case": N_("Marked as a teaching case"),
    "autoclose": N_("Closed automatically"),
    "escalate": N_("Escalated"),
    "target_missed": N_("Response target missed: the coordinators were told"),
    **SESSION_EVENT_LABELS,
}

BODY_LABELS: dict[str, str] = {
    "ask_asker": N_("Your question to the asker"),
    "reply": N_("Your reply"),
    "follow_up": N_("Your follow-up question"),
}

LABELS: dict[str, Any] = {
    "status_labels": STATUS_LABELS,
    "action_labels": ACTION_LABELS,
    "urgency_labels": URGENCY_LABELS,
    "mode_labels": MODE_LABELS,
    "turn_labels": TURN_LABELS,
    "route_labels": ROUTE_LABELS,
    "kind_labels": KIND_LABELS,
    "event_labels": EVENT_LABELS,
}

# service field names the asking form shows under another name
ASK_FIELD = {
    "answer_institution_id": "pool",
    "specialty_code": "pool",
    "consultation_id": "_form",
}

# the sides that make it "your turn" when the case's turn is theirs
TURN_SIDES: dict[Side, set[Side]] = {
    Side.POOL_EXPERT: {Side.POOL_EXPERT, Side.COORDINATOR},
    Side.ASSIGNEE: {Side.ASSIGNEE},
    Side.ASKER: {Side.ASKER},
}


class Errors(forms.Errors):
    field_names = {"consultation_id": "_form"}


class AskErrors(Errors):
    """The asking form's: the pool picker stands for the institution and the specialty."""

    field_names = ASK_FIELD


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _choice(raw: str, kind: type[Any]) -> Any:
    try:
        return kind(raw) if raw else None
    except ValueError:
        return None


def _require(actor: Actor, permission: Permission) -> None:
    if not actor.can(permission):
        raise Forbidden()


# --- the response clock in words ----------------------------------------------------------


@dataclass(frozen=True)
class TimeLeft:
    text: str
    # ok, risk, overdue, paused, done
    tone: str


def duration_text(minutes: int) -> str:
    """A span of minutes as a person says it: "45 min", "1 h 20 min", "2 d 3 h"."""
    minutes = max(0, minutes)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return gettext(N_("%(d)s d %(h)s h"), d=days, h=hours)
    if hours:
        if mins:
            return gettext(N_("%(h)s h %(m)s min"), h=hours, m=mins)
        return gettext(N_("%(h)s h"), h=hours)
    return gettext(N_("%(m)s min"), m=mins)


def time_left(
    status: str, minutes_left: int | None, paused: bool, target_minutes: int | None = None
) -> TimeLeft:
    """What the response clock of a case says: time left, overdue, paused, or finished."""
    if status == Status.AWAITING_ASKER.value or (
        paused and status in (Status.POOL.value, Status.ASSIGNED.value)
    ):
        return TimeLeft(gettext(N_("paused: waiting for the asker")), "paused")
    if status == Status.ANSWERED.value:
        return TimeLeft(gettext(N_("answered: waiting for the asker")), "done")
    if status in (Status.CLOSED.value, Status.CANCELLED.value):
        return TimeLeft(gettext(STATUS_LABELS[Status(status)]), "done")
    if minutes_left is None:
        return TimeLeft("—", "done")
    if minutes_left < 0:
        return TimeLeft(
            gettext(N_("overdue by %(time)s"), time=duration_text(-minutes_left)), "overdue"
        )
    text = gettext(N_("%(time)s left"), time=duration_text(minutes_left))
    at_risk = bool(target_minutes) and minutes_left <= (target_minutes or 0) * (1 - AT_RISK_SHARE)
    return TimeLeft(text, "risk" if at_risk else "ok")


def _specialty_names(session: Session, actor: Actor) -> dict[str, str]:
    try:
        rows = registry.list_specialties(session, actor)
    except Forbidden:
        return {}
    return {s.code: localised(s) for s in rows}


# --- worklists ----------------------------------------------------------------------------


@router.get("/consultations")
def worklists_page(request: Request, session: DB, actor: PageActor, paging: Paging) -> Response:
    _require(actor, Permission.CONSULT_READ)
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
    found = queries.worklist(session, actor, name, paging)
    rows = list(found.items)
    clocks = [time_left(r.status, r.minutes_left, r.paused) for r in rows]
    turns = [_choice(r.turn or "", Side) for r in rows]
    return render(
        request,
        "consultations/worklists.html",
        {
            "tabs": tabs,
            "counts": counts,
            "current": name,
            "rows": rows,
            "clocks": clocks,
            "turns": turns,
            "total": found.total,
            "page": found.page,
            "pages": found.pages,
            "base": "/consultations?" + urlencode({"list": name.value}),
            "errors": errors,
            "may_ask": actor.can(Permission.CONSULT_ASK),
            "list_labels": queries.WORKLIST_LABELS,
            "list_help": LIST_HELP,
            **LABELS,
        },
        status_code=422 if errors else 200,
    )


# --- asking -------------------------------------------------------------------------------


def _patient_choices(
    session: Session, actor: Actor, request: Request, q: str | None = None
) -> list[Patient]:
    if not actor.can(Permission.PATIENT_READ):
        return []
    rows, _ = patients.list_patients(
        session, actor, patients.Search(q=q or None), PICKER_PATIENTS, settings_of(request)
    )
    return list(rows)


def _targets(settings: Settings) -> list[tuple[str, str, str]]:
    minutes = {
        Urgency.EMERGENCY: settings.consult_minutes_emergency,
        Urgency.URGENT: settings.consult_minutes_urgent,
        Urgency.ROUTINE: settings.consult_minutes_routine,
    }
    return [
        (u.value, gettext(URGENCY_LABELS[u]), duration_text(minutes[u]))
        for u in (Urgency.EMERGENCY, Urgency.URGENT, Urgency.ROUTINE)
    ]


def _form_page(
    request: Request,
    session: Session,
    actor: Actor,
    *,
    values: dict[str, Any],
    errors: AskErrors | None = None,
    consent_missing: int | None = None,
    status_code: int = 200,
) -> Response:
    now = clock.now()
    options = service.answer_options(session, actor, now)
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
    # an MDT's further specialties: those of the chosen institution (any when none chosen)
    pool = values.get("pool") or ""
    chosen_inst = pool.split(":", 1)[0] if ":" in pool else ""
    seen: dict[str, str] = {}
    for o in options:
        if chosen_inst and str(o.institution_id) != chosen_inst:
            continue
        seen.setdefault(o.specialty_code, localised(o, "specialty"))
    return render(
        request,
        "consultations/form.html",
        {
            "v": values,
            "errors": errors or AskErrors(),
            "patient": patient,
            "patients": _patient_choices(session, actor, request),
            "options": options,
            "own_departments": own_departments,
            "modes": [(k.value, gettext(t)) for k, t in MODE_LABELS.items()],
            "urgencies": _targets(settings_of(request)),
            "mdt_choices": sorted(seen.items(), key=lambda kv: kv[1]),
            "consent_missing": consent_missing,
            "on_call_text": gettext(ON_CALL_HINT),
            "nobody_text": gettext(NOBODY_HINT),
        },
        status_code=status_code,
    )


@router.get("/consultations/new")
def new_consultation_page(request: Request, session: DB, actor: PageActor) -> Response:
    _require(actor, Permission.CONSULT_ASK)
    raw = request.query_params.get("patient_id", "")
    values: dict[str, Any] = {
        "patient_id": int(raw) if raw.isdecimal() and int(raw) <= MAX_ID else None,
        "urgency": Urgency.ROUTINE.value,
        "mode": Mode.WRITTEN.value,
        "other_specialties": [],
    }
    return _form_page(request, session, actor, values=values)


def _ask_values(form: FormValues, errors: AskErrors) -> dict[str, Any]:
    pool = form.get("pool")
    institution_id: int | None = None
    specialty_code: str | None = None
    if pool:
        inst, _, code = pool.partition(":")
        if inst.isdecimal() and 0 < int(inst) <= MAX_ID and code:
            institution_id, specialty_code = int(inst), code
        else:
            errors.add("pool", CHECK_VALUE)
    elif "pool" not in errors:
        errors.add("pool", CHOOSE_POOL)
    values: dict[str, Any] = {
        "patient_id": form_int(form, "patient_id", errors),
        "pool": pool,
        "answer_institution_id": institution_id,
        "specialty_code": specialty_code,
        "mode": form.get("mode") or Mode.WRITTEN.value,
        "urgency": form.get("urgency") or Urgency.ROUTINE.value,
        "question": form.get("question"),
        "clinical_summary": form.get("clinical_summary"),
        "icd10_code": form.get("icd10_code"),
        "diagnosis": form.get("diagnosis") or None,
        "asker_department_id": form_int(form, "asker_department_id", errors),
        "other_specialties": form.getlist("other_specialties"),
    }
    if not values["patient_id"] and "patient_id" not in errors:
        errors.add("patient_id", CHOOSE_PATIENT)
    for name in ("question", "clinical_summary", "icd10_code"):
        if not values[name]:
            errors.add(name, REQUIRED)
    if values["mode"] != Mode.MDT.value:
        values["other_specialties"] = []
    return values


@router.post("/consultations/new")
def new_consultation_submit(
    request: Request, session: DB, actor: PageActor, form: Form
) -> Response:
    _require(actor, Permission.CONSULT_ASK)
    errors = AskErrors()
    values = _ask_values(form, errors)
    data = None
    if not errors:
        data = build(
            ConsultationCreate,
            {k: v for k, v in values.items() if k != "pool"},
            errors,
        )
    status_code = 422
    consent_missing: int | None = None
    if data is not None:
        try:
            c = service.ask(session, actor, data, settings_of(request))
        except DomainError as exc:
            status_code = forms.refusal_status(session, exc, errors)
            if exc.code == "consent_missing" or any(
                fe.code == "consent_missing" for fe in exc.field_errors
            ):
                consent_missing = data.patient_id
        else:
            return _redirect(f"/consultations/{c.id}?asked=1")
    return _form_page(
        request,
        session,
        actor,
        values=values,
        errors=errors,
        consent_missing=consent_missing,
        status_code=status_code,
    )


@router.get("/consultations/icd10")
def icd10_lookup(request: Request, session: DB, actor: PageActor) -> Response:
    """The ICD-10 look-up under the asking form's code field (an HTMX partial)."""
    _require(actor, Permission.CONSULT_ASK)
    q = (request.query_params.get("icd10_code") or request.query_params.get("q") or "").strip()
    results = icd10.search(q[:60], limit=12) if len(q) >= 2 else []
    return render(request, "referrals/_icd10_results.html", {"results": results, "q": q})


@router.get("/consultations/patients")
def patient_options(request: Request, session: DB, actor: PageActor) -> Response:
    """The patient picker's options for a search by name or ID number (an HTMX partial)."""
    _require(actor, Permission.CONSULT_ASK)
    q = request.query_params.get("patient_q", "").strip()[:64]
    return render(
        request,
        "consultations/_patient_options.html",
        {
            "patients": _patient_choices(session, actor, request, q),
            "selected": request.query_params.get("patient_id", ""),
        },
    )


# --- the case -----------------------------------------------------------------------------


@dataclass
class ActionForm:
    """One action the actor may take, with what its form needs."""

    action: Action
    requires: tuple[str, ...]
    values: dict[str, Any]
    errors: Errors


def _action_forms(
    c: Consultation,
    actions: list[Action],
    failed: Action | None,
    failed_values: dict[str, Any],
    failed_errors: Errors | None,
) -> list[ActionForm]:
    out = []
    for action in actions:
        if action == Action.ESCALATE:
            continue
        t = find_transition(Status(c.status), action)
        out.append(
            ActionForm(
                action=action,
                requires=t.requires if t else (),
                values=failed_values if action == failed else {},
                errors=failed_errors if action == failed and failed_errors else Errors(),
            )
        )
    return out


def _detail(
    request: Request,
    session: Session,
    actor: Actor,
    consultation_id: int,
    *,
    failed: Action | None = None,
    failed_values: dict[str, Any] | None = None,
    failed_errors: Errors | None = None,
    note_values: dict[str, Any] | None = None,
    note_errors: Errors | None = None,
    upload_errors: Errors | None = None,
    flash: str | None = None,
    flash_kind: str = "ok",
    status_code: int = 200,
) -> Response:
    c = service.get(session, actor, consultation_id)
    now = clock.now()
    v = service.view_of(session, actor, c, now)
    messages = service.thread(session, actor, c)
    events = service.history(session, actor, c)
    ids = {m.author_user_id for m in messages}
    ids |= {e.actor_user_id for e in events if e.actor_user_id}
    ids |= {
        int(e.detail["assignee_user_id"])
        for e in events
        if e.detail and isinstance(e.detail.get("assignee_user_id"), int)
    }
    ids |= {i for i in (c.opinion_by_user_id, c.assignee_user_id, c.asker_user_id) if i}
    experts: list[tuple[int, str]] = []
    on_call_ids: set[int] = set()
    if Action.ASSIGN in v.actions:
        pool = rota.pool_experts(session, c.answer_institution_id, c.specialty_code)
        ids |= set(pool)
        idx = rota.rota_index(
            session, c.answer_institution_id, c.specialty_code, now, now + timedelta(seconds=1)
        )
        on_call_ids = {s.user_id for s in idx.at(now)}
    people = service.people_of(session, ids)
    if Action.ASSIGN in v.actions:
        pool_ids = rota.pool_experts(session, c.answer_institution_id, c.specialty_code)
        experts = sorted(((uid, people.get(uid, str(uid))) for uid in pool_ids), key=lambda x: x[1])
    specialty_names = _specialty_names(session, actor)
    redirect_specialties = (
        sorted(
            ((k, n) for k, n in specialty_names.items() if k != c.specialty_code),
            key=lambda kv: kv[1],
        )
        if Action.REDIRECT in v.actions
        else []
    )
    if failed is not None and failed not in v.actions and failed_errors:
        # the form is gone (someone else moved the case on): say why on the page itself
        reasons = [m for msgs in failed_errors.values() for m in msgs]
        flash = " ".join([flash or "", *reasons]).strip()
    forms_ = _action_forms(c, v.actions, failed, failed_values or {}, failed_errors)
    may_refer = (
        bool(c.needs_visit)
        and c.referral_id is None
        and c.status in (Status.ANSWERED.value, Status.CLOSED.value)
        and Side.ASKER in v.sides
        and actor.can(Permission.REFERRAL_SEND)
    )
    # the expert who answered or holds it, or a coordinator, may keep it for teaching
    may_teach = c.status in (Status.ANSWERED.value, Status.CLOSED.value) and teaching.may_mark(
        actor, c, v.sides
    )
    my_turn = [s.value for turn, sides in TURN_SIDES.items() if sides & v.sides for s in [turn]]
    sex_label = ""
    if v.patient_sex:
        try:
            sex_label = gettext(SEX_LABELS[Sex(v.patient_sex)])
        except ValueError:
            sex_label = v.patient_sex
    return render(
        request,
        "consultations/detail.html",
        {
            "c": c,
            "v": v,
            "clock": time_left(
                c.status, v.minutes_left, c.paused_since is not None, c.target_minutes
            ),
            "messages": messages,
            "events": events,
            "people": people,
            "forms": forms_,
            "experts": experts,
            "on_call_ids": on_call_ids,
            "redirect_specialties": redirect_specialties,
            "specialty_names": specialty_names,
            "body_labels": {k: gettext(t) for k, t in BODY_LABELS.items()},
            "may_refer": may_refer,
            "may_teach": may_teach,
            "may_note": c.status not in (Status.CLOSED.value, Status.CANCELLED.value)
            and bool(v.sides),
            "note_values": note_values or {},
            "note_errors": note_errors or Errors(),
            "may_attach": attachments.may_attach(actor, c.status, v.sides),
            "files": attachments.list_for(session, actor, c.id),
            "download_base": f"/api/v1/consultations/{c.id}/attachments",
            "upload_errors": upload_errors or Errors(),
            "my_turn_sides": my_turn,
            "sex_label": sex_label,
            "flash": flash,
            "flash_kind": flash_kind,
            **LABELS,
        },
        status_code=status_code,
    )


@router.get("/consultations/{consultation_id:int}")
def consultation_page(
    request: Request, session: DB, actor: PageActor, consultation_id: int
) -> Response:
    _require(actor, Permission.CONSULT_READ)
    qp = request.query_params
    flash = None
    if qp.get("asked"):
        flash = gettext(ASKED)
    done = _choice(qp.get("done", ""), Action)
    if done is not None:
        flash = gettext(DONE, action=gettext(ACTION_LABELS[done]))
    if qp.get("noted"):
        flash = gettext(NOTED)
    if qp.get("attached"):
        flash = gettext(UPLOADED)
    return _detail(request, session, actor, consultation_id, flash=flash)


def _yes_no(raw: str) -> bool | None:
    return {"yes": True, "no": False}.get(raw)


def _act_values(form: FormValues, errors: Errors) -> dict[str, Any]:
    return {
        "action": form.get("action") or None,
        "version": form_int(form, "version", errors, required=True),
        "reason": form.get("reason") or None,
        "assignee_user_id": form_int(form, "assignee_user_id", errors),
        "specialty_code": form.get("specialty_code") or None,
        "body": form.get("body") or None,
        "assessment": form.get("assessment") or None,
        "recommendations": form.get("recommendations") or None,
        "needs_visit": form.get("needs_visit") in ("1", "on", "true"),
        "follow_up": form.get("follow_up") or None,
        "helpful": form_int(form, "helpful", errors),
        "referral_avoided": _yes_no(form.get("referral_avoided")),
    }


REQUIRED_MESSAGE = {
    "assignee_user_id": CHOOSE_EXPERT,
    "specialty_code": CHOOSE_SPECIALTY,
}


@router.post("/consultations/{consultation_id:int}/actions")
def action_submit(
    request: Request, session: DB, actor: PageActor, consultation_id: int, form: Form
) -> Response:
    _require(actor, Permission.CONSULT_READ)
    errors = Errors()
    values = _act_values(form, errors)
    action = _choice(values["action"] or "", Action)
    if action is None or action == Action.ESCALATE:
        errors.add("_form", CHECK_VALUE)
        action = None
    else:
        c = service.get(session, actor, consultation_id)
        t = find_transition(Status(c.status), action)
        for name in t.requires if t else ():
            if not values.get(name) and name not in errors:
                errors.add(name, REQUIRED_MESSAGE.get(name, REQUIRED))
    data = None if errors else build(ActIn, values, errors)
    status_code = 422
    if data is not None:
        assert action is not None
        try:
            service.act(session, actor, consultation_id, data, settings_of(request))
        except DomainError as exc:
            status_code = forms.refusal_status(session, exc)
            if isinstance(exc, Conflict) and exc.code == "already_claimed":
                # two experts claimed at once: exactly one wins, the other is told plainly
                errors.add("_form", LOST_CLAIM)
            elif isinstance(exc, Conflict) and exc.code == "stale_version":
                errors.add("_form", STALE)
            else:
                errors.from_domain(exc)
        else:
            return _redirect(f"/consultations/{consultation_id}?done={action.value}")
    shown: dict[str, Any] = {k: form.get(k) for k in form.values}
    shown["needs_visit"] = values["needs_visit"]
    return _detail(
        request,
        session,
        actor,
        consultation_id,
        failed=action,
        failed_values=shown,
        failed_errors=errors,
        flash=gettext(NOT_DONE),
        flash_kind="error",
        status_code=status_code,
    )


@router.post("/consultations/{consultation_id:int}/messages")
def note_submit(
    request: Request, session: DB, actor: PageActor, consultation_id: int, form: Form
) -> Response:
    _require(actor, Permission.CONSULT_READ)
    errors = Errors()
    values = {"body": form.get("body")}
    if not values["body"]:
        errors.add("body", REQUIRED)
    data = None if errors else build(MessageIn, values, errors)
    status_code = 422
    if data is not None:
        try:
            service.add_message(session, actor, consultation_id, data)
        except DomainError as exc:
            status_code = forms.refusal_status(session, exc, errors)
            if "_form" in errors:
                errors.setdefault("body", []).extend(errors.pop("_form"))
        else:
            return _redirect(f"/consultations/{consultation_id}?noted=1#thread")
    return _detail(
        request,
        session,
        actor,
        consultation_id,
        note_values=values,
        note_errors=errors,
        flash=gettext(NOT_DONE),
        flash_kind="error",
        status_code=status_code,
    )


@router.post("/consultations/{consultation_id:int}/referral")
def to_referral_submit(
    request: Request, session: DB, actor: PageActor, consultation_id: int
) -> Response:
    _require(actor, Permission.CONSULT_ASK)
    try:
        referral = service.to_referral(session, actor, consultation_id, settings_of(request))
    except DomainError as exc:
        status_code = forms.refusal_status(session, exc)
        return _detail(
            request,
            session,
            actor,
            consultation_id,
            flash=" ".join([gettext(NOT_DONE), exc.text()]),
            flash_kind="error",
            status_code=status_code,
        )
    return _redirect(f"/referrals/{referral.id}?saved=draft")


@router.post("/consultations/{consultation_id:int}/attachments")
def upload_submit(
    request: Request,
    session: DB,
    actor: PageActor,
    consultation_id: int,
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    _require(actor, Permission.CONSULT_READ)
    errors = Errors()
    if file is None or not file.filename:
        errors.add("file", CHOOSE_FILE)
    else:
        content = file.file.read(attachments.MAX_BYTES + 1)
        try:
            attachments.add(
                session, actor, consultation_id, file.filename, content, settings_of(request)
            )
        except DomainError as exc:
            forms.refusal_status(session, exc)
            for fe in exc.field_errors:
                errors.setdefault("file", []).append(fe.text())
            if not exc.field_errors:
                errors.setdefault("file", []).append(exc.text())
        else:
            return _redirect(f"/consultations/{consultation_id}?attached=1#attachments")
    return _detail(request, session, actor, consultation_id, upload_errors=errors, status_code=422)
