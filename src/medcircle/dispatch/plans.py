"""Rosters of visiting experts: planning a horizon from the database, reviewing, editing by
hand within the rules, publishing, re-planning after a cancellation or a reported conflict,
and what experts and sites see of the published roster.

A plan belongs to the supporting institution whose experts it sends (its planners are that
institution's DISPATCH_PLAN holders). It plans the demand made of that institution and
approved by it, with its experts' availability, over whole weeks (Monday to Friday).

Publishing makes a plan the roster: the published plan it overlaps is superseded, and the
experts with visits are told. A re-plan (after an expert's leave, a new duty, changed demand or
a reported conflict) is a new draft that changes as little as it can of the published one; days
already past are kept as they were.
"""

from __future__ import annotations

import hashlib
import secrets
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from medcircle.audit import service as audit
from medcircle.auth.domain import ROLE_PERMISSIONS, Actor, Permission
from medcircle.auth.models import User
from medcircle.auth.repository import display_names
from medcircle.auth.service import actor_for
from medcircle.config import Settings
from medcircle.dispatch import planner as P
from medcircle.dispatch.access import can_manage, require_manage, require_read, valid_id
from medcircle.dispatch.availability import ExpertAvailability, experts_for_planning
from medcircle.dispatch.demand import approved_demand
from medcircle.dispatch.models import (
    CalendarFeed,
    DispatchDemand,
    RosterConflict,
    RosterPlan,
    RosterVisit,
)
from medcircle.dispatch.rules import working_days
from medcircle.dispatch.travel_service import travel_minutes
from medcircle.kit import clock
from medcircle.kit.clock import CST
from medcircle.kit.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from medcircle.kit.i18n import N_
from medcircle.notifications import service as notifications
from medcircle.referrals.service import users_with_roles
from medcircle.registry.models import Institution

PLAN = "roster_plan"
VISIT = "roster_visit"
CONFLICT = "roster_conflict"
FEED = "calendar_feed"

DEFAULT_WEEKS = 4
MAX_WEEKS = 12
# a plan starts at most this many days ahead (demand is approved for months, not years)
MAX_DAYS_AHEAD = 366
# the planner's time budget when no settings are given (see Settings.dispatch_*_seconds)
PLAN_SECONDS = 20.0
REPLAN_SECONDS = 5.0

NOT_FOUND = N_("No such roster.")
VISIT_NOT_FOUND = N_("No such visit.")
WEEKS_RANGE = N_("Plan 1 to %(most)s weeks.")
NOT_MONDAY = N_("A plan starts on a Monday.")
IN_THE_PAST = N_("A plan cannot start in a week already over.")
TOO_FAR = N_("A plan starts at most %(days)s days ahead.")
STALE = N_("Someone changed this roster meanwhile: reload it and try again.")
NOT_DRAFT = N_("Only a draft can be published or discarded.")
NOT_PUBLISHED = N_("Only the published roster can be re-planned.")
NOTHING_TO_PLAN = N_(
    "There is nothing to plan: no approved demand of your institution in these weeks."
)
NO_EXPERTS = N_("None of your institution's experts takes part in dispatch yet.")
# hand edits: which rule a change would break
RULE_SPECIALTY = N_("%(name)s does not practise this specialty.")
RULE_SKILL = N_("%(name)s does not have the skill %(skill)s this visit needs.")
RULE_UNAVAILABLE = N_("%(name)s is not available on %(day)s (home duty or leave).")
RULE_BUSY = N_("%(name)s is already somewhere else on %(day)s.")
RULE_WEEK = N_("%(name)s would travel on more than %(most)s days in that week.")
RULE_RESIDENT = N_("%(name)s is a resident expert that week and makes no visits.")
RULE_HORIZON = N_("The day must be a working day inside the roster's weeks.")
RULE_SPECIAL_DAY = N_("A special request keeps its day.")
RULE_PAST = N_("Days already past cannot be changed.")
NOT_YOURS = N_("You can report a conflict only for your own visits to come.")
REASON_NEEDED = N_("Say what the conflict is.")
NOT_AN_EXPERT = N_("No such expert at your institution.")
ALREADY_REPORTED = N_(
    "A conflict with this visit is already reported: the planners are reviewing a re-plan."
)


@dataclass
class VisitView:
    id: int
    user_id: int
    name: str
    day: date
    site_institution_id: int
    site_name: str
    department_id: int | None
    specialty_code: str
    kind: str
    demand_id: int | None
    travel_minutes: int
    edited: bool
    plan_id: int


@dataclass
class PlanView:
    plan: RosterPlan
    visits: list[VisitView]
    names: dict[int, str]
    sites: dict[int, Institution]
    conflicts: list[RosterConflict] = field(default_factory=list)
    can_plan: bool = False


# --- access -----------------------------------------------------------------------------------


can_plan = can_manage


def _plan_row(session: Session, actor: Actor, plan_id: int) -> RosterPlan:
    """A plan of the actor's institution, else 404."""
    require_read(actor)
    row = session.get(RosterPlan, plan_id) if valid_id(plan_id) else None
    if row is None or actor.institution_id not in (row.institution_ids or []):
        raise NotFound(NOT_FOUND)
    return row


def _check_version(row: RosterPlan, version: int | None) -> None:
    if version is not None and version != row.version:
        raise Conflict(STALE, code="stale_version")


# --- from the database to the planner and back -------------------------------------------------


@dataclass
class Context:
    """What a plan was made from, to store its answer."""

    problem: P.Problem
    demand: dict[int, DispatchDemand]
    experts: dict[int, ExpertAvailability]
    # resident position id (planner) -> demand row id
    positions: dict[int, int]
    travel: dict[tuple[int, int], int]
    # sites or homes without coordinates or set travel time
    no_travel: set[tuple[int, int]]


def week_days(starts_on: date, weeks: int) -> list[date]:
    return working_days(starts_on, starts_on + timedelta(days=7 * weeks - 3))


def _weeks_between(days: Sequence[date], first: date, last: date) -> frozenset[P.Week]:
    return frozenset(P.week_of(d) for d in days if first <= d <= last)


def build_problem(
    session: Session,
    institution_id: int,
    days: Sequence[date],
    *,
    used_before: dict[int, set[date]] | None = None,
    today: date | None = None,
    unavailable: dict[int, set[date]] | None = None,
) -> Context:
    """The planner's problem for the institution's experts and approved demand over
    ``days``. Days before ``today`` are closed to everyone but on the days in
    ``used_before`` (the visits already made), so a re-plan keeps the past as it was;
    ``unavailable`` adds days an expert cannot go (reported conflicts)."""
    first, last = days[0], days[-1]
    experts = experts_for_planning(session, [institution_id], first, last)
    demand_rows = approved_demand(session, [institution_id], first, last)
    past = {d for d in days if today is not None and d < today}
    p_experts = []
    for e in experts:
        used = (used_before or {}).get(e.user_id, set())
        blocked = (past - used) | (unavailable or {}).get(e.user_id, set())
        p_experts.append(
            P.Expert(
                id=e.user_id,
                specialty=e.specialty_code,
                home=str(e.institution_id),
                skills=e.skills,
                max_days_per_week=e.max_days_per_week,
                duties=frozenset(e.duty_days | blocked),
                leave=frozenset(e.leave_days),
            )
        )
    demands: list[P.Demand] = []
    specials: list[P.Special] = []
    residents: list[P.Resident] = []
    positions: dict[int, int] = {}
    for row in demand_rows:
        site = str(row.site_institution_id)
        weeks = _weeks_between(days, row.starts_on, row.ends_on)
        if row.kind == "visits" and row.visits_per_week:
            demands.append(
                P.Demand(row.id, site, row.specialty_code, row.visits_per_week, row.skill, weeks)
            )
        elif row.kind == "special" and row.day is not None and row.day in days:
            specials.append(P.Special(row.id, site, row.specialty_code, row.day, row.skill))
        elif row.kind == "resident" and row.positions:
            for k in range(row.positions):
                pid = row.id * 100 + k
                positions[pid] = row.id
                residents.append(P.Resident(pid, site, row.specialty_code, row.skill, weeks))
    homes = {e.institution_id for e in experts}
    sites = {row.site_institution_id for row in demand_rows}
    travel = travel_minutes(session, homes, sites)
    no_travel = {(h, s) for h in homes for s in sites if (h, s) not in travel}
    problem = P.Problem(
        days=tuple(days),
        experts=tuple(p_experts),
        demands=tuple(demands),
        specials=tuple(specials),
        residents=tuple(residents),
        travel={(str(h), str(s)): m for (h, s), m in travel.items()},
    )
    return Context(
        problem,
        {r.id: r for r in demand_rows},
        {e.user_id: e for e in experts},
        positions,
        travel,
        no_travel,
    )


def _report(ctx: Context, result: P.Plan, settings: P.Settings) -> dict[str, Any]:
    m = result.measures
    return {
        "demand": m.demand,
        "covered": m.covered,
        "coverage_bound": result.coverage_bound,
        "share_bound": str(result.share_bound),
        "max_load": m.max_load,
        "pairs": m.pairs,
        "travel_minutes": m.travel_minutes,
        "objective": m.objective,
        "objective_bound": result.objective_bound,
        "gap": result.gap,
        "seconds": {k: round(v, 3) for k, v in result.seconds.items()},
        "time_limit": settings.time_limit,
        "parts": result.parts,
        "parts_optimal": result.parts_optimal,
        "kept": result.kept,
        "removed": result.removed,
        "added": result.added,
        "limits": {str(k): v for k, v in result.limits.items()},
        "experts": len(ctx.problem.experts),
        "no_travel": sorted([h, s] for h, s in ctx.no_travel),
        "uncovered": [
            {
                "kind": u.kind.value,
                "demand_id": ctx.positions.get(u.demand_id, u.demand_id),
                "site_institution_id": int(u.site),
                "specialty_code": u.specialty,
                "day": u.day.isoformat(),
                "missing": u.missing,
                "reason": u.reason.value,
                "candidates": u.candidates,
            }
            for u in result.uncovered
        ],
    }


def _store(
    session: Session,
    actor: Actor,
    ctx: Context,
    result: P.Plan,
    settings: P.Settings,
    *,
    title: str,
    starts_on: date,
    ends_on: date,
    parent: RosterPlan | None,
    reason: str,
) -> RosterPlan:
    now = clock.now()
    row = RosterPlan(
        title=title,
        starts_on=starts_on,
        ends_on=ends_on,
        institution_ids=list(parent.institution_ids) if parent else [actor.institution_id],
        status="draft",
        parent_id=parent.id if parent else None,
        reason=reason,
        report=_report(ctx, result, settings),
        created_by_user_id=actor.user_id,
        created_at=now,
    )
    session.add(row)
    session.flush()
    experts = ctx.experts
    rows = []
    for a in result.assignments:
        demand_id = ctx.positions.get(a.demand_id, a.demand_id)
        d = ctx.demand.get(demand_id)
        home = experts[a.expert_id].institution_id
        rows.append(
            RosterVisit(
                plan_id=row.id,
                user_id=a.expert_id,
                day=a.day,
                site_institution_id=int(a.site),
                department_id=d.department_id if d else None,
                specialty_code=a.specialty,
                kind=a.kind.value,
                demand_id=demand_id if d else None,
                travel_minutes=ctx.travel.get((home, int(a.site)), 0),
            )
        )
    session.add_all(rows)
    session.flush()
    return row


# --- planning ---------------------------------------------------------------------------------


def _check_horizon(starts_on: date, weeks: int) -> None:
    errors = []
    if not 1 <= weeks <= MAX_WEEKS:
        errors.append(
            FieldError("weeks", WEEKS_RANGE, {"most": MAX_WEEKS}, code="horizon_out_of_range")
        )
    if starts_on.weekday() != 0:
        errors.append(FieldError("starts_on", NOT_MONDAY, code="not_monday"))
    elif starts_on + timedelta(days=4) < clock.now().astimezone(CST).date():
        errors.append(FieldError("starts_on", IN_THE_PAST, code="in_the_past"))
    elif starts_on > clock.now().astimezone(CST).date() + timedelta(days=MAX_DAYS_AHEAD):
        errors.append(
            FieldError("starts_on", TOO_FAR, {"days": MAX_DAYS_AHEAD}, code="too_far_ahead")
        )
    if errors:
        raise ValidationFailed(field_errors=errors)


def create_plan(
    session: Session,
    actor: Actor,
    starts_on: date,
    weeks: int = DEFAULT_WEEKS,
    *,
    title: str | None = None,
    time_limit: float = PLAN_SECONDS,
) -> RosterPlan:
    """Plan ``weeks`` from ``starts_on`` (a Monday) for the actor's institution: a draft."""
    require_manage(actor)
    _check_horizon(starts_on, weeks)
    days = week_days(starts_on, weeks)
    ctx = build_problem(session, actor.institution_id, days)
    if not ctx.problem.experts:
        raise ValidationFailed(NO_EXPERTS, code="no_experts")
    if not (ctx.problem.demands or ctx.problem.specials or ctx.problem.residents):
        raise ValidationFailed(NOTHING_TO_PLAN, code="nothing_to_plan")
    settings = P.Settings(time_limit=time_limit)
    result = P.plan(ctx.problem, settings)
    ends_on = days[-1]
    row = _store(
        session,
        actor,
        ctx,
        result,
        settings,
        title=(title or "").strip()[:200] or f"{starts_on.isoformat()} + {weeks}w",
        starts_on=starts_on,
        ends_on=ends_on,
        parent=None,
        reason="plan",
    )
    audit.record(
        session,
        actor,
        "dispatch.plan.create",
        object_type=PLAN,
        object_id=row.id,
        detail={
            "starts_on": starts_on.isoformat(),
            "weeks": weeks,
            "covered": result.measures.covered,
            "demand": result.measures.demand,
        },
    )
    return row


def _published_assignments(
    session: Session, plan: RosterPlan, ctx_positions: dict[int, int] | None = None
) -> list[P.Assignment]:
    rows = session.scalars(
        select(RosterVisit).where(RosterVisit.plan_id == plan.id).order_by(RosterVisit.id)
    ).all()
    out = []
    # resident positions are interchangeable: the k-th expert of a position row in a week
    # holds position k
    resident_index: dict[tuple[int, P.Week], list[int]] = defaultdict(list)
    for r in rows:
        if r.kind == "resident" and r.demand_id is not None:
            key = (r.demand_id, P.week_of(r.day))
            if r.user_id not in resident_index[key]:
                resident_index[key].append(r.user_id)
    for r in rows:
        demand_id = r.demand_id or 0
        if r.kind == "resident" and r.demand_id is not None:
            k = resident_index[(r.demand_id, P.week_of(r.day))].index(r.user_id)
            demand_id = r.demand_id * 100 + k
        out.append(
            P.Assignment(
                r.user_id,
                r.day,
                str(r.site_institution_id),
                r.specialty_code,
                P.Kind(r.kind),
                demand_id,
            )
        )
    return out


def _open_conflicts(session: Session, plan: RosterPlan) -> list[tuple[RosterConflict, RosterVisit]]:
    rows = session.execute(
        select(RosterConflict, RosterVisit)
        .join(RosterVisit, RosterVisit.id == RosterConflict.visit_id)
        .where(RosterVisit.plan_id == plan.id, RosterConflict.status == "open")
    ).all()
    return [(c, v) for c, v in rows]


def replan(
    session: Session,
    actor: Actor | None,
    plan_id: int,
    *,
    reason: str = "replan",
    planner_actor: Actor | None = None,
    time_limit: float = REPLAN_SECONDS,
) -> RosterPlan:
    """A new draft from the published roster ``plan_id`` after what changed since (leave,
    duties, demand, reported conflicts), keeping the past and as much as it can of the rest.

    ``planner_actor`` is whose right to plan it uses when ``actor`` is not a planner (an expert
    whose reported conflict makes it): the draft and its audit event name ``actor``."""
    who = planner_actor or actor
    if who is None:
        raise Forbidden()
    require_manage(who)
    by = actor or who
    plan = _plan_row(session, who, plan_id)
    if plan.status != "published":
        raise Conflict(NOT_PUBLISHED, code="not_published")
    days = working_days(plan.starts_on, plan.ends_on)
    today = clock.now().astimezone(CST).date()
    published = _published_assignments(session, plan)
    used_before: dict[int, set[date]] = defaultdict(set)
    for a in published:
        if a.day < today:
            used_before[a.expert_id].add(a.day)
    conflicts = _open_conflicts(session, plan)
    unavailable: dict[int, set[date]] = defaultdict(set)
    for _, v in conflicts:
        unavailable[v.user_id].add(v.day)
    ctx = build_problem(
        session,
        who.institution_id,
        days,
        used_before=used_before,
        today=today,
        unavailable=unavailable,
    )
    settings = P.Settings(time_limit=time_limit)
    result = P.replan(ctx.problem, published, settings)
    row = _store(
        session,
        by,
        ctx,
        result,
        settings,
        title=plan.title,
        starts_on=plan.starts_on,
        ends_on=plan.ends_on,
        parent=plan,
        reason=reason,
    )
    audit.record(
        session,
        by,
        "dispatch.plan.replan",
        object_type=PLAN,
        object_id=row.id,
        detail={
            "parent": plan.id,
            "reason": reason,
            "kept": result.kept,
            "removed": result.removed,
            "added": result.added,
        },
    )
    return row


def publish(session: Session, actor: Actor, plan_id: int, version: int | None) -> RosterPlan:
    """Make a draft the roster: the published roster it overlaps is superseded; experts with
    visits in it (and those whose visits it removes) are told; conflicts it answers close."""
    require_manage(actor)
    plan = _plan_row(session, actor, plan_id)
    _check_version(plan, version)
    if plan.status != "draft":
        raise Conflict(NOT_DRAFT, code="not_draft")
    now = clock.now()
    got = session.execute(
        update(RosterPlan)
        .where(RosterPlan.id == plan.id, RosterPlan.version == plan.version)
        .values(
            status="published",
            published_at=now,
            published_by_user_id=actor.user_id,
            version=RosterPlan.version + 1,
        )
    )
    if got.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(STALE, code="stale_version")
    session.refresh(plan)
    overlapped = [
        p
        for p in session.scalars(
            select(RosterPlan).where(
                RosterPlan.status == "published",
                RosterPlan.id != plan.id,
                RosterPlan.starts_on <= plan.ends_on,
                RosterPlan.ends_on >= plan.starts_on,
            )
        )
        if set(p.institution_ids or []) & set(plan.institution_ids or [])
    ]
    before: set[int] = set()
    for old in overlapped:
        old.status = "superseded"
        old.version += 1
        before |= set(
            session.scalars(select(RosterVisit.user_id).where(RosterVisit.plan_id == old.id))
        )
        for conflict, _ in _open_conflicts(session, old):
            conflict.status = "replanned"
            conflict.resolved_plan_id = plan.id
            conflict.resolved_at = now
    now_experts = set(
        session.scalars(select(RosterVisit.user_id).where(RosterVisit.plan_id == plan.id))
    )
    notifications.notify(
        session,
        now_experts | before,
        "dispatch.published",
        N_("The visiting roster %(title)s is published: see your visits."),
        {"title": plan.title},
        link="/dispatch/me",
        subject_type=PLAN,
        subject_id=plan.id,
    )
    audit.record(
        session,
        actor,
        "dispatch.plan.publish",
        object_type=PLAN,
        object_id=plan.id,
        detail={"superseded": [p.id for p in overlapped]},
    )
    return plan


def discard(session: Session, actor: Actor, plan_id: int, version: int | None) -> RosterPlan:
    require_manage(actor)
    plan = _plan_row(session, actor, plan_id)
    _check_version(plan, version)
    if plan.status != "draft":
        raise Conflict(NOT_DRAFT, code="not_draft")
    plan.status = "discarded"
    plan.version += 1
    audit.record(session, actor, "dispatch.plan.discard", object_type=PLAN, object_id=plan.id)
    return plan


# --- reading ----------------------------------------------------------------------------------


def _sites(session: Session, ids: Iterable[int]) -> dict[int, Institution]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    return {i.id: i for i in session.scalars(select(Institution).where(Institution.id.in_(wanted)))}


def visit_views(session: Session, rows: Sequence[RosterVisit]) -> list[VisitView]:
    names = display_names(session, (r.user_id for r in rows))
    sites = _sites(session, (r.site_institution_id for r in rows))
    return [
        VisitView(
            r.id,
            r.user_id,
            names.get(r.user_id, "?"),
            r.day,
            r.site_institution_id,
            sites[r.site_institution_id].name_zh if r.site_institution_id in sites else "?",
            r.department_id,
            r.specialty_code,
            r.kind,
            r.demand_id,
            r.travel_minutes,
            r.edited,
            r.plan_id,
        )
        for r in rows
    ]


def list_plans(session: Session, actor: Actor) -> list[RosterPlan]:
    """The actor's institution's plans, newest first."""
    require_read(actor)
    rows = session.scalars(
        select(RosterPlan).order_by(RosterPlan.created_at.desc(), RosterPlan.id.desc()).limit(200)
    ).all()
    return [r for r in rows if actor.institution_id in (r.institution_ids or [])]


def get_plan(session: Session, actor: Actor, plan_id: int) -> PlanView:
    plan = _plan_row(session, actor, plan_id)
    rows = session.scalars(
        select(RosterVisit)
        .where(RosterVisit.plan_id == plan.id)
        .order_by(RosterVisit.day, RosterVisit.site_institution_id, RosterVisit.user_id)
    ).all()
    views = visit_views(session, rows)
    conflicts = list(
        session.scalars(
            select(RosterConflict)
            .join(RosterVisit, RosterVisit.id == RosterConflict.visit_id)
            .where(RosterVisit.plan_id == plan.id)
            .order_by(RosterConflict.created_at)
        )
    )
    sites = _sites(session, {v.site_institution_id for v in views})
    uncovered_sites = {u["site_institution_id"] for u in plan.report.get("uncovered", [])}
    sites |= _sites(session, uncovered_sites - set(sites))
    audit.record(session, actor, "dispatch.plan.read", object_type=PLAN, object_id=plan.id)
    return PlanView(
        plan,
        views,
        {v.user_id: v.name for v in views},
        sites,
        conflicts,
        can_plan(actor),
    )


def published_visits(
    session: Session,
    *,
    first: date,
    last: date,
    user_id: int | None = None,
    site_id: int | None = None,
    home_ids: Sequence[int] | None = None,
) -> list[VisitView]:
    q = (
        select(RosterVisit)
        .join(RosterPlan, RosterPlan.id == RosterVisit.plan_id)
        .where(RosterPlan.status == "published", RosterVisit.day >= first, RosterVisit.day <= last)
        .order_by(RosterVisit.day, RosterVisit.site_institution_id, RosterVisit.user_id)
    )
    if user_id is not None:
        q = q.where(RosterVisit.user_id == user_id)
    if site_id is not None:
        q = q.where(RosterVisit.site_institution_id == site_id)
    if home_ids is not None:
        q = q.join(User, User.id == RosterVisit.user_id).where(User.institution_id.in_(home_ids))
    return visit_views(session, session.scalars(q).all())


def my_visits(session: Session, actor: Actor, first: date, last: date) -> list[VisitView]:
    """The actor's own published visits."""
    require_read(actor)
    return published_visits(session, first=first, last=last, user_id=actor.user_id)


def site_visits(
    session: Session, actor: Actor, site_id: int, first: date, last: date
) -> list[VisitView]:
    """Who is coming to ``site_id``: its own staff see everyone coming; a supporting
    institution sees its own experts going there."""
    require_read(actor)
    if not valid_id(site_id) or session.get(Institution, site_id) is None:
        raise NotFound(N_("No such institution."))
    if actor.institution_id == site_id or actor.can(Permission.REGISTRY_MANAGE_ALL):
        out = published_visits(session, first=first, last=last, site_id=site_id)
    else:
        out = published_visits(
            session, first=first, last=last, site_id=site_id, home_ids=[actor.institution_id]
        )
    audit.record(session, actor, "dispatch.site.read", object_type="institution", object_id=site_id)
    return out


# --- hand edits -------------------------------------------------------------------------------


def _visit(session: Session, actor: Actor, visit_id: int) -> tuple[RosterVisit, RosterPlan]:
    row = session.get(RosterVisit, visit_id) if valid_id(visit_id) else None
    if row is None:
        raise NotFound(VISIT_NOT_FOUND)
    plan = session.get(RosterPlan, row.plan_id)
    if plan is None or actor.institution_id not in (plan.institution_ids or []):
        raise NotFound(VISIT_NOT_FOUND)
    return row, plan


def _rule_problem(
    session: Session, plan: RosterPlan, row: RosterVisit, user_id: int, day: date
) -> FieldError | None:
    """Which rule moving ``row`` to ``user_id`` on ``day`` would break, if any."""
    days = working_days(plan.starts_on, plan.ends_on)
    if day not in days:
        return FieldError("day", RULE_HORIZON, code="outside_horizon")
    if row.kind == "special" and day != row.day:
        return FieldError("day", RULE_SPECIAL_DAY, code="special_day")
    found = {
        e.user_id: e for e in experts_for_planning(session, plan.institution_ids, days[0], days[-1])
    }
    e = found.get(user_id)
    if e is None:
        return FieldError("user_id", NOT_AN_EXPERT, code="not_an_expert")
    name = display_names(session, [user_id]).get(user_id, "?")
    if e.specialty_code != row.specialty_code:
        return FieldError("user_id", RULE_SPECIALTY, {"name": name}, code="wrong_specialty")
    demand = session.get(DispatchDemand, row.demand_id) if row.demand_id else None
    if demand is not None and demand.skill and demand.skill not in e.skills:
        return FieldError(
            "user_id", RULE_SKILL, {"name": name, "skill": demand.skill}, code="missing_skill"
        )
    if day in e.duty_days or day in e.leave_days:
        return FieldError(
            "day", RULE_UNAVAILABLE, {"name": name, "day": day.isoformat()}, code="unavailable"
        )
    others = session.scalars(
        select(RosterVisit).where(
            RosterVisit.plan_id == plan.id,
            RosterVisit.user_id == user_id,
            RosterVisit.id != row.id,
        )
    ).all()
    week = P.week_of(day)
    if any(o.day == day for o in others):
        return FieldError("day", RULE_BUSY, {"name": name, "day": day.isoformat()}, code="busy")
    if row.kind != "resident" and any(
        o.kind == "resident" and P.week_of(o.day) == week for o in others
    ):
        return FieldError("user_id", RULE_RESIDENT, {"name": name}, code="resident_that_week")
    if row.kind != "resident":
        in_week = sum(1 for o in others if o.kind != "resident" and P.week_of(o.day) == week)
        if in_week + 1 > e.max_days_per_week:
            return FieldError(
                "day",
                RULE_WEEK,
                {"name": name, "most": e.max_days_per_week},
                code="too_many_days",
            )
    return None


def move_visit(
    session: Session,
    actor: Actor,
    visit_id: int,
    *,
    user_id: int,
    day: date,
    version: int | None,
) -> RosterVisit:
    """Give a visit of a draft or published roster to another expert or day, within the
    rules (a clear message names the rule it would break)."""
    require_manage(actor)
    row, plan = _visit(session, actor, visit_id)
    _check_version(plan, version)
    if plan.status not in ("draft", "published"):
        raise Conflict(NOT_DRAFT, code="not_draft")
    today = clock.now().astimezone(CST).date()
    if row.day < today or day < today:
        raise ValidationFailed(field_errors=[FieldError("day", RULE_PAST, code="in_the_past")])
    problem = _rule_problem(session, plan, row, user_id, day)
    if problem is not None:
        raise ValidationFailed(field_errors=[problem], code="rule_violation")
    before = {"user_id": row.user_id, "day": row.day.isoformat()}
    old_user = row.user_id
    row.user_id = user_id
    row.day = day
    row.edited = True
    plan.version += 1
    session.flush()
    audit.record(
        session,
        actor,
        "dispatch.visit.move",
        object_type=VISIT,
        object_id=row.id,
        detail={"before": before, "after": {"user_id": user_id, "day": day.isoformat()}},
    )
    if plan.status == "published":
        notifications.notify(
            session,
            {old_user, user_id},
            "dispatch.visit_moved",
            N_("A visit of the published roster %(title)s changed: see your visits."),
            {"title": plan.title},
            link="/dispatch/me",
            subject_type=PLAN,
            subject_id=plan.id,
        )
    return row


# --- conflicts --------------------------------------------------------------------------------


def report_conflict(
    session: Session, actor: Actor, visit_id: int, reason: str, settings: Settings | None = None
) -> tuple[RosterConflict, RosterPlan | None]:
    """An expert cannot make one of their published visits to come: the conflict is recorded,
    a re-plan is made at once as a draft, and the planners are told."""
    require_read(actor)
    row = session.get(RosterVisit, visit_id) if valid_id(visit_id) else None
    plan = session.get(RosterPlan, row.plan_id) if row is not None else None
    today = clock.now().astimezone(CST).date()
    if row is None or plan is None or row.user_id != actor.user_id:
        raise NotFound(VISIT_NOT_FOUND)
    if plan.status != "published" or row.day < today:
        raise ValidationFailed(NOT_YOURS, code="not_your_visit")
    text = (reason or "").strip()
    if not text:
        raise ValidationFailed(field_errors=[FieldError("reason", REASON_NEEDED, code="required")])
    already = session.scalar(
        select(RosterConflict.id).where(
            RosterConflict.visit_id == row.id, RosterConflict.status == "open"
        )
    )
    if already is not None:
        raise Conflict(ALREADY_REPORTED, code="conflict_open")
    conflict = RosterConflict(
        visit_id=row.id,
        user_id=actor.user_id,
        reason=text[:2000],
        status="open",
        created_at=clock.now(),
    )
    session.add(conflict)
    session.flush()
    audit.record(
        session,
        actor,
        "dispatch.conflict.report",
        object_type=CONFLICT,
        object_id=conflict.id,
        detail={"visit": row.id, "day": row.day.isoformat()},
    )
    planners = planners_of(session, plan.institution_ids)
    draft: RosterPlan | None = None
    if planners:
        first = session.get(User, planners[0])
        assert first is not None
        planner = actor_for(session, first)
        draft = replan(
            session,
            actor,
            plan.id,
            reason="conflict",
            planner_actor=planner,
            time_limit=settings.dispatch_replan_seconds if settings else REPLAN_SECONDS,
        )
    notifications.notify(
        session,
        planners,
        "dispatch.conflict",
        N_("%(name)s cannot make a visit on %(day)s: a re-plan is ready for review."),
        {"name": actor.display_name or actor.username, "day": row.day.isoformat()},
        link=f"/dispatch/plans/{draft.id}" if draft else f"/dispatch/plans/{plan.id}",
        subject_type=PLAN,
        subject_id=plan.id,
        base_url=settings.base_url if settings else "",
    )
    return conflict, draft


def planners_of(session: Session, institution_ids: Sequence[int]) -> list[int]:
    """The active planners (holders of a role with DISPATCH_PLAN) of the institutions."""
    roles = [r.value for r, held in ROLE_PERMISSIONS.items() if Permission.DISPATCH_PLAN in held]
    return users_with_roles(session, institution_ids, roles)


# --- calendar feeds ---------------------------------------------------------------------------


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_feed(session: Session, actor: Actor) -> str:
    """A new private feed token for the actor's visits (the old one stops working)."""
    require_read(actor)
    now = clock.now()
    for old in session.scalars(
        select(CalendarFeed).where(
            CalendarFeed.user_id == actor.user_id, CalendarFeed.revoked_at.is_(None)
        )
    ):
        old.revoked_at = now
    token = secrets.token_urlsafe(32)
    session.add(CalendarFeed(user_id=actor.user_id, token_hash=_hash(token), created_at=now))
    session.flush()
    audit.record(session, actor, "dispatch.feed.create", object_type=FEED, object_id=actor.user_id)
    return token


def revoke_feed(session: Session, actor: Actor) -> None:
    require_read(actor)
    now = clock.now()
    for old in session.scalars(
        select(CalendarFeed).where(
            CalendarFeed.user_id == actor.user_id, CalendarFeed.revoked_at.is_(None)
        )
    ):
        old.revoked_at = now
    audit.record(session, actor, "dispatch.feed.revoke", object_type=FEED, object_id=actor.user_id)


def has_feed(session: Session, actor: Actor) -> bool:
    return (
        session.scalar(
            select(CalendarFeed.id).where(
                CalendarFeed.user_id == actor.user_id, CalendarFeed.revoked_at.is_(None)
            )
        )
        is not None
    )


def feed_owner(session: Session, token: str) -> User | None:
    """The expert whose live feed ``token`` is, if any."""
    if not token or len(token) > 100:
        return None
    row = session.scalar(
        select(CalendarFeed).where(
            CalendarFeed.token_hash == _hash(token), CalendarFeed.revoked_at.is_(None)
        )
    )
    if row is None:
        return None
    user = session.get(User, row.user_id)
    return user if user is not None and user.is_active else None
