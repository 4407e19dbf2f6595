"""API of demand for visiting experts.

Demand of your institution as the site (the supported side) and as the supporter; another
institution's demand answers 404, and the supporter never sees drafts. Refusals are
problem+json with a stable ``code``: ``unknown_agreement``, ``agreement_not_active``,
``specialty_not_in_agreement``, ``no_expert_in_specialty``, ``visits_out_of_range``,
``positions_out_of_range``, ``day_required``, ``skill_required``, ``invalid_skill``,
``not_a_working_day``, ``outside_agreement``, ``end_before_start``, ``in_the_past``,
``required``, ``bad_department``, ``note_required`` (422); ``stale_version``, ``wrong_status``
(409); ``site_only``, ``supporter_only``, ``forbidden`` (403).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import Query, status
from pydantic import BaseModel

from medcircle.dispatch import demand as svc
from medcircle.dispatch.rules import DemandAction, DemandKind, DemandStatus, Side
from medcircle.dispatch.setup_schemas import DecisionIn, DemandIn, DemandUpdate
from medcircle.kit.pagination import Page
from medcircle.web.deps import DB, CurrentActor, Paging
from medcircle.web.routing import QuickRouter

router = QuickRouter(prefix="/api/v1", tags=["dispatch"])


class DemandRead(BaseModel):
    id: int
    agreement_id: int
    agreement_code: str
    site_institution_id: int
    site_name_zh: str
    site_name_en: str
    supporting_institution_id: int
    supporter_name_zh: str
    supporter_name_en: str
    department_id: int | None
    specialty_code: str
    specialty_zh: str
    specialty_en: str
    kind: DemandKind
    visits_per_week: int | None
    positions: int | None
    day: date | None
    skill: str | None
    starts_on: date
    ends_on: date
    note: str | None
    status: DemandStatus
    decided_by_user_id: int | None
    decided_at: datetime | None
    decision_note: str | None
    created_at: datetime
    updated_at: datetime
    version: int
    # your side of it and what you may do now
    side: Side
    actions: list[DemandAction]


def demand_read(v: svc.DemandView) -> DemandRead:
    r = v.row
    return DemandRead(
        id=r.id,
        agreement_id=r.agreement_id,
        agreement_code=v.agreement_code,
        site_institution_id=r.site_institution_id,
        site_name_zh=v.site.name_zh,
        site_name_en=v.site.name_en,
        supporting_institution_id=r.supporting_institution_id,
        supporter_name_zh=v.supporter.name_zh,
        supporter_name_en=v.supporter.name_en,
        department_id=r.department_id,
        specialty_code=r.specialty_code,
        specialty_zh=v.specialty.name_zh,
        specialty_en=v.specialty.name_en,
        kind=DemandKind(r.kind),
        visits_per_week=r.visits_per_week,
        positions=r.positions,
        day=r.day,
        skill=r.skill,
        starts_on=r.starts_on,
        ends_on=r.ends_on,
        note=r.note,
        status=DemandStatus(r.status),
        decided_by_user_id=r.decided_by_user_id,
        decided_at=r.decided_at,
        decision_note=r.decision_note,
        created_at=r.created_at,
        updated_at=r.updated_at,
        version=r.version,
        side=v.side,
        actions=list(v.actions),
    )


def _one(session: DB, actor: CurrentActor, demand_id: int) -> DemandRead:
    return demand_read(svc.get_demand(session, actor, demand_id))


@router.get("/dispatch/demand", response_model=Page[DemandRead])
def list_demand(
    session: DB,
    actor: CurrentActor,
    paging: Paging,
    side: Annotated[
        Side | None, Query(description="site: what you ask; supporter: asked of you")
    ] = None,
    status_: Annotated[DemandStatus | None, Query(alias="status")] = None,
) -> Page[DemandRead]:
    """Demand of your institution as the site and as the supporter (no drafts), soonest first."""
    views, total = svc.list_demand(session, actor, side=side, status=status_, page=paging)
    return Page(
        items=[demand_read(v) for v in views], total=total, page=paging.page, size=paging.size
    )


@router.post("/dispatch/demand", response_model=DemandRead, status_code=status.HTTP_201_CREATED)
def create_demand(body: DemandIn, session: DB, actor: CurrentActor) -> DemandRead:
    """Ask for experts under one of your active agreements (a draft). Kinds: `visits`
    (`visits_per_week` 1 to 5), `resident` (`positions` at least 1), `special` (a `day` and
    a `skill`; the period defaults to the day)."""
    row = svc.create_demand(session, actor, body)
    return _one(session, actor, row.id)


@router.get("/dispatch/demand/{demand_id:int}", response_model=DemandRead)
def read_demand(demand_id: int, session: DB, actor: CurrentActor) -> DemandRead:
    return _one(session, actor, demand_id)


@router.patch("/dispatch/demand/{demand_id:int}", response_model=DemandRead)
def edit_demand(demand_id: int, body: DemandUpdate, session: DB, actor: CurrentActor) -> DemandRead:
    """Change draft or rejected demand (a rejected one becomes a draft); send the version
    you read (409 `stale_version`)."""
    row = svc.edit_demand(session, actor, demand_id, body)
    return _one(session, actor, row.id)


@router.post("/dispatch/demand/{demand_id:int}/submit", response_model=DemandRead)
def submit_demand(demand_id: int, body: DecisionIn, session: DB, actor: CurrentActor) -> DemandRead:
    """Send a draft to the supporting institution for its decision."""
    return _one(session, actor, svc.submit_demand(session, actor, demand_id, body).id)


@router.post("/dispatch/demand/{demand_id:int}/approve", response_model=DemandRead)
def approve_demand(
    demand_id: int, body: DecisionIn, session: DB, actor: CurrentActor
) -> DemandRead:
    """Approve submitted demand made of your institution (the planner will plan it)."""
    return _one(session, actor, svc.approve_demand(session, actor, demand_id, body).id)


@router.post("/dispatch/demand/{demand_id:int}/reject", response_model=DemandRead)
def reject_demand(demand_id: int, body: DecisionIn, session: DB, actor: CurrentActor) -> DemandRead:
    """Reject submitted demand made of your institution; `note` says why (422
    `note_required`)."""
    return _one(session, actor, svc.reject_demand(session, actor, demand_id, body).id)


@router.post("/dispatch/demand/{demand_id:int}/withdraw", response_model=DemandRead)
def withdraw_demand(
    demand_id: int, body: DecisionIn, session: DB, actor: CurrentActor
) -> DemandRead:
    """Withdraw your institution's demand (approved demand drops out of later plans)."""
    return _one(session, actor, svc.withdraw_demand(session, actor, demand_id, body).id)


__all__ = ["router"]
