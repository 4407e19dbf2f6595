"""Pages of visiting-expert rosters: the list with a form to plan a horizon, and the planner
run page (what it covered against the proven bound, the fair limit, continuity, travel, the
gap and the time it took, with charts; what is uncovered and why; the roster by day, hand
edits within the rules; publish, discard, re-plan)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from medcircle.auth.domain import Actor, Permission
from medcircle.auth.repository import display_names
from medcircle.dispatch import plans as svc
from medcircle.dispatch.availability import experts_for_planning
from medcircle.dispatch.planner import Reason, week_of
from medcircle.kit import clock
from medcircle.kit.errors import DomainError, Forbidden
from medcircle.kit.i18n import N_, gettext
from medcircle.registry import service as registry
from medcircle.web import forms
from medcircle.web.deps import DB, PageActor, settings_of
from medcircle.web.forms import Errors, Form, form_date, form_int
from medcircle.web.routing import QuickRouter
from medcircle.web.templating import localised, render

router = QuickRouter()

STATUS_LABELS = {
    "draft": N_("Draft"),
    "published": N_("Published"),
    "superseded": N_("Superseded"),
    "discarded": N_("Discarded"),
}
KIND_LABELS = {
    "visit": N_("Visit"),
    "special": N_("Special request"),
    "resident": N_("Resident"),
}
REASON_TEXT = {
    Reason.NO_SPECIALTY.value: N_("no expert of this specialty takes part"),
    Reason.NO_SKILL.value: N_("no expert has the skill asked for"),
    Reason.NONE_FREE.value: N_(
        "all %(count)s experts who could go are unavailable or at their most days that week"
    ),
    Reason.NONE_FREE_THAT_DAY.value: N_(
        "all %(count)s experts who could go are unavailable or busy that day"
    ),
}
CONFLICT_LABELS = {
    "open": N_("open"),
    "replanned": N_("answered by a re-plan"),
    "dismissed": N_("dismissed"),
}
PLAN_REASONS = {
    "plan": N_("planned"),
    "replan": N_("re-planned after changes"),
    "conflict": N_("re-planned after a reported conflict"),
}
DONE = {
    "published": N_("The roster is published; the experts are told."),
    "discarded": N_("The draft is discarded."),
    "replanned": N_("A re-plan is ready below: review it, then publish it."),
    "moved": N_("The visit is moved."),
}


def _require_read(actor: Actor) -> None:
    if not actor.can(Permission.DISPATCH_READ):
        raise Forbidden()


def next_monday(today: date) -> date:
    return today + timedelta(days=7 - today.weekday())


@router.get("/dispatch")
def dispatch_home(actor: PageActor) -> Response:
    _require_read(actor)
    target = "/dispatch/plans" if svc.can_plan(actor) else "/dispatch/me"
    return RedirectResponse(target, status_code=303)


def _list_page(
    request: Request,
    session: Session,
    actor: Actor,
    errors: Errors | None = None,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    rows = svc.list_plans(session, actor)
    return render(
        request,
        "dispatch/plans.html",
        {
            "plans": rows,
            "status_labels": STATUS_LABELS,
            "reasons": PLAN_REASONS,
            "can_plan": svc.can_plan(actor),
            "errors": errors or Errors(),
            "values": values
            or {
                "starts_on": next_monday(clock.today()).isoformat(),
                "weeks": str(svc.DEFAULT_WEEKS),
                "title": "",
            },
            "max_weeks": svc.MAX_WEEKS,
        },
        status_code=status_code,
    )


@router.get("/dispatch/plans")
def plans_page(request: Request, session: DB, actor: PageActor) -> Response:
    _require_read(actor)
    return _list_page(request, session, actor)


@router.post("/dispatch/plans")
def plan_submit(request: Request, session: DB, actor: PageActor, form: Form) -> Response:
    _require_read(actor)
    if not svc.can_plan(actor):
        raise Forbidden()
    errors = Errors()
    starts_on = form_date(form, "starts_on", errors, required=True)
    weeks = form_int(form, "weeks", errors, required=True)
    status_code = 422
    if not errors and starts_on is not None and weeks is not None:
        try:
            row = svc.create_plan(
                session,
                actor,
                starts_on,
                weeks,
                title=form.get("title"),
                time_limit=settings_of(request).dispatch_plan_seconds,
            )
        except DomainError as exc:
            status_code = forms.refusal_status(session, exc, errors)
        else:
            return RedirectResponse(f"/dispatch/plans/{row.id}", status_code=303)
    values = {k: form.get(k) or "" for k in ("starts_on", "weeks", "title")}
    return _list_page(request, session, actor, errors, values, status_code)


@dataclass
class Bar:
    label: str
    value: float
    # a second value drawn behind (the demand behind the covered)
    total: float = 0.0
    note: str = ""


def _charts(view: svc.PlanView, report: dict[str, Any]) -> dict[str, list[Bar]]:
    """Coverage per week, load per expert (how many experts travel how many days) and
    travel per site."""
    by_week_covered: Counter[date] = Counter()
    for v in view.visits:
        if v.kind != "resident":
            monday = v.day - timedelta(days=v.day.weekday())
            by_week_covered[monday] += 1
    by_week_missing: Counter[date] = Counter()
    for u in report.get("uncovered", []):
        if u["kind"] != "resident":
            day = date.fromisoformat(u["day"])
            by_week_missing[day - timedelta(days=day.weekday())] += u["missing"]
    weeks = sorted(set(by_week_covered) | set(by_week_missing))
    coverage = [
        Bar(
            w.strftime("%m-%d"),
            by_week_covered[w],
            by_week_covered[w] + by_week_missing[w],
        )
        for w in weeks
    ]
    loads: Counter[int] = Counter(v.user_id for v in view.visits if v.kind != "resident")
    experts = int(report.get("experts", len(loads)))
    spread: Counter[int] = Counter(loads.values())
    spread[0] += max(0, experts - len(loads))
    load = [Bar(str(n), spread[n]) for n in range(0, max(spread, default=0) + 1)]
    travel: defaultdict[int, int] = defaultdict(int)
    for v in view.visits:
        if v.kind != "resident":
            travel[v.site_institution_id] += 2 * v.travel_minutes
    top = sorted(travel.items(), key=lambda kv: -kv[1])[:12]
    travel_bars = [
        Bar(
            localised(view.sites[s]) if s in view.sites else str(s),
            round(minutes / 60, 1),
        )
        for s, minutes in top
    ]
    return {"coverage": coverage, "load": load, "travel": travel_bars}


def _roster(view: svc.PlanView) -> list[tuple[date, list[svc.VisitView]]]:
    days: defaultdict[date, list[svc.VisitView]] = defaultdict(list)
    for v in view.visits:
        days[v.day].append(v)
    return sorted(days.items())


def _reason_text(u: dict[str, Any]) -> str:
    return gettext(REASON_TEXT.get(u["reason"], u["reason"]), count=u.get("candidates", 0))


def _plan_page(
    request: Request,
    session: Session,
    actor: Actor,
    plan_id: int,
    errors: Errors | None = None,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    view = svc.get_plan(session, actor, plan_id)
    plan = view.plan
    report = plan.report or {}
    specialties = registry.specialties_by_code(session, actor)
    experts: list[tuple[int, str]] = []
    if view.can_plan and plan.status in ("draft", "published"):
        found = experts_for_planning(session, plan.institution_ids, plan.starts_on, plan.ends_on)
        names = display_names(session, [e.user_id for e in found])
        experts = sorted(
            ((e.user_id, names.get(e.user_id, "?")) for e in found), key=lambda x: x[1]
        )
    done = request.query_params.get("done")
    uncovered = report.get("uncovered", [])
    return render(
        request,
        "dispatch/plan.html",
        {
            "v": view,
            "plan": plan,
            "report": report,
            "charts": _charts(view, report),
            "roster": _roster(view),
            "uncovered": uncovered,
            "reason_text": _reason_text,
            "status_labels": STATUS_LABELS,
            "kind_labels": KIND_LABELS,
            "conflict_labels": CONFLICT_LABELS,
            "reasons": PLAN_REASONS,
            "specialties": specialties,
            "experts": experts,
            "done": DONE.get(done or ""),
            "errors": errors or Errors(),
            "values": values or {},
            "gap": float(report.get("gap", 0.0)),
            "share": report.get("share_bound", "0"),
            "week_of": week_of,
        },
        status_code=status_code,
    )


@router.get("/dispatch/plans/{plan_id:int}")
def plan_page(request: Request, session: DB, actor: PageActor, plan_id: int) -> Response:
    _require_read(actor)
    return _plan_page(request, session, actor, plan_id)


def _version(form: Any) -> int | None:
    raw = form.get("version") or ""
    return int(raw) if raw.isdigit() else None


def _act(
    request: Request, session: Session, actor: Actor, plan_id: int, form: Any, action: str
) -> Response:
    errors = Errors()
    try:
        if action == "publish":
            svc.publish(session, actor, plan_id, _version(form))
            target, done = plan_id, "published"
        elif action == "discard":
            svc.discard(session, actor, plan_id, _version(form))
            target, done = plan_id, "discarded"
        else:
            row = svc.replan(
                session,
                actor,
                plan_id,
                time_limit=settings_of(request).dispatch_replan_seconds,
            )
            target, done = row.id, "replanned"
    except DomainError as exc:
        status_code = forms.refusal_status(session, exc, errors)
        return _plan_page(request, session, actor, plan_id, errors, None, status_code)
    return RedirectResponse(f"/dispatch/plans/{target}?done={done}", status_code=303)


@router.post("/dispatch/plans/{plan_id:int}/publish")
def publish_submit(
    request: Request, session: DB, actor: PageActor, plan_id: int, form: Form
) -> Response:
    return _act(request, session, actor, plan_id, form, "publish")


@router.post("/dispatch/plans/{plan_id:int}/discard")
def discard_submit(
    request: Request, session: DB, actor: PageActor, plan_id: int, form: Form
) -> Response:
    return _act(request, session, actor, plan_id, form, "discard")


@router.post("/dispatch/plans/{plan_id:int}/replan")
def replan_submit(
    request: Request, session: DB, actor: PageActor, plan_id: int, form: Form
) -> Response:
    return _act(request, session, actor, plan_id, form, "replan")


@router.post("/dispatch/plans/{plan_id:int}/visits/{visit_id:int}/move")
def move_submit(
    request: Request, session: DB, actor: PageActor, plan_id: int, visit_id: int, form: Form
) -> Response:
    errors = Errors()
    user_id = form_int(form, "user_id", errors, required=True)
    day = form_date(form, "day", errors, required=True)
    status_code = 422
    if not errors and user_id is not None and day is not None:
        try:
            svc.move_visit(
                session, actor, visit_id, user_id=user_id, day=day, version=_version(form)
            )
        except DomainError as exc:
            status_code = forms.refusal_status(session, exc, errors)
        else:
            return RedirectResponse(f"/dispatch/plans/{plan_id}?done=moved", status_code=303)
    values = {"visit_id": visit_id, "user_id": form.get("user_id"), "day": form.get("day")}
    return _plan_page(request, session, actor, plan_id, errors, values, status_code)
