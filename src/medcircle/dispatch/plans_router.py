"""API of visiting-expert rosters: plan a horizon, read a plan with its report, move a visit
by hand, publish, discard, re-plan.

Plans belong to the supporting institution whose experts they send; another institution's
plans answer 404. Refusals are problem+json with a stable ``code``: ``horizon_out_of_range``,
``not_monday``, ``in_the_past``, ``no_experts``, ``nothing_to_plan``, ``rule_violation`` (422,
the rule in ``errors``: ``wrong_specialty``, ``missing_skill``, ``unavailable``, ``busy``,
``too_many_days``, ``resident_that_week``, ``outside_horizon``, ``special_day``), ``not_draft``,
``not_published``, ``stale_version`` (409).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import Request, status
from pydantic import BaseModel, Field

from medcircle.dispatch import plans as svc
from medcircle.dispatch.models import RosterPlan
from medcircle.web.deps import DB, CurrentActor, settings_of
from medcircle.web.routing import QuickRouter

router = QuickRouter(prefix="/api/v1", tags=["dispatch"])


class PlanIn(BaseModel):
    starts_on: date = Field(description="the Monday the plan starts")
    weeks: int = Field(default=svc.DEFAULT_WEEKS, description=f"1 to {svc.MAX_WEEKS}")
    title: str | None = Field(default=None, max_length=200)


class VersionIn(BaseModel):
    version: int


class MoveIn(BaseModel):
    user_id: int
    day: date
    version: int


class PlanRead(BaseModel):
    id: int
    title: str
    starts_on: date
    ends_on: date
    status: str
    parent_id: int | None
    reason: str | None
    created_at: datetime
    published_at: datetime | None
    version: int
    # measures, proven bounds, gap, seconds per stage, uncovered demand with reasons
    report: dict[str, Any]


class VisitRead(BaseModel):
    id: int
    user_id: int
    name: str
    day: date
    site_institution_id: int
    department_id: int | None
    specialty_code: str
    kind: str
    demand_id: int | None
    travel_minutes: int
    edited: bool


class PlanDetail(PlanRead):
    visits: list[VisitRead]


def _plan(row: RosterPlan) -> PlanRead:
    return PlanRead(
        id=row.id,
        title=row.title,
        starts_on=row.starts_on,
        ends_on=row.ends_on,
        status=row.status,
        parent_id=row.parent_id,
        reason=row.reason,
        created_at=row.created_at,
        published_at=row.published_at,
        version=row.version,
        report=row.report or {},
    )


def _visit(v: svc.VisitView) -> VisitRead:
    return VisitRead(
        id=v.id,
        user_id=v.user_id,
        name=v.name,
        day=v.day,
        site_institution_id=v.site_institution_id,
        department_id=v.department_id,
        specialty_code=v.specialty_code,
        kind=v.kind,
        demand_id=v.demand_id,
        travel_minutes=v.travel_minutes,
        edited=v.edited,
    )


def _detail(view: svc.PlanView) -> PlanDetail:
    return PlanDetail(**_plan(view.plan).model_dump(), visits=[_visit(v) for v in view.visits])


@router.get("/dispatch/plans", response_model=list[PlanRead])
def list_plans(session: DB, actor: CurrentActor) -> list[PlanRead]:
    """Your institution's rosters, newest first."""
    return [_plan(r) for r in svc.list_plans(session, actor)]


@router.post("/dispatch/plans", response_model=PlanDetail, status_code=status.HTTP_201_CREATED)
def create_plan(request: Request, body: PlanIn, session: DB, actor: CurrentActor) -> PlanDetail:
    """Plan your institution's experts for the approved demand of `weeks` weeks from
    `starts_on` (DISPATCH_PLAN): a draft with its report (coverage and its proven bound, the
    fair limit, pairs, travel, gap, seconds, what is uncovered and why)."""
    row = svc.create_plan(
        session,
        actor,
        body.starts_on,
        body.weeks,
        title=body.title,
        time_limit=settings_of(request).dispatch_plan_seconds,
    )
    return _detail(svc.get_plan(session, actor, row.id))


@router.get("/dispatch/plans/{plan_id:int}", response_model=PlanDetail)
def get_plan(plan_id: int, session: DB, actor: CurrentActor) -> PlanDetail:
    return _detail(svc.get_plan(session, actor, plan_id))


@router.post("/dispatch/plans/{plan_id:int}/publish", response_model=PlanRead)
def publish(plan_id: int, body: VersionIn, session: DB, actor: CurrentActor) -> PlanRead:
    """Make a draft the roster; the published roster it overlaps is superseded and the
    experts are told."""
    return _plan(svc.publish(session, actor, plan_id, body.version))


@router.post("/dispatch/plans/{plan_id:int}/discard", response_model=PlanRead)
def discard(plan_id: int, body: VersionIn, session: DB, actor: CurrentActor) -> PlanRead:
    return _plan(svc.discard(session, actor, plan_id, body.version))


@router.post(
    "/dispatch/plans/{plan_id:int}/replan",
    response_model=PlanDetail,
    status_code=status.HTTP_201_CREATED,
)
def replan(request: Request, plan_id: int, session: DB, actor: CurrentActor) -> PlanDetail:
    """A new draft from the published roster after what changed (leave, duties, demand,
    reported conflicts), changing as little as it can; past days stay as they were."""
    row = svc.replan(
        session, actor, plan_id, time_limit=settings_of(request).dispatch_replan_seconds
    )
    return _detail(svc.get_plan(session, actor, row.id))


@router.patch("/dispatch/roster-visits/{visit_id:int}", response_model=VisitRead)
def move_visit(visit_id: int, body: MoveIn, session: DB, actor: CurrentActor) -> VisitRead:
    """Give a visit to another expert or day by hand; 422 `rule_violation` names the rule it
    would break; send the plan's `version` you read (409 `stale_version`)."""
    row = svc.move_visit(
        session, actor, visit_id, user_id=body.user_id, day=body.day, version=body.version
    )
    return _visit(svc.visit_views(session, [row])[0])
