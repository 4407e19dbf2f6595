"""API of visit records: what each expert's visit to a site achieved."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Query, status

from medcircle.dispatch import visits
from medcircle.dispatch.visit_schemas import OperationRead, VisitCreate, VisitRead, VisitUpdate
from medcircle.kit.pagination import Page
from medcircle.web.deps import DB, CurrentActor, Paging
from medcircle.web.routing import QuickRouter

router = QuickRouter(prefix="/api/v1", tags=["visits"])


def visit_read(v: visits.VisitView) -> VisitRead:
    r = v.record
    return VisitRead(
        id=r.id,
        user_id=r.user_id,
        expert_name=v.expert_name,
        home_institution_id=r.home_institution_id,
        site_institution_id=r.site_institution_id,
        department_id=r.department_id,
        specialty_code=r.specialty_code,
        roster_visit_id=r.roster_visit_id,
        starts_on=r.starts_on,
        ends_on=r.ends_on,
        days=v.days,
        outpatients=r.outpatients,
        ward_rounds=r.ward_rounds,
        teaching_sessions=r.teaching_sessions,
        difficult_cases=r.difficult_cases,
        operations_total=v.operations_total,
        operations=[OperationRead.model_validate(o) for o in v.operations],
        note=r.note,
        recorded_by_user_id=r.recorded_by_user_id,
        created_at=r.created_at,
        updated_at=r.updated_at,
        version=r.version,
    )


@router.get("/visits", response_model=Page[VisitRead])
def list_visits(
    session: DB,
    actor: CurrentActor,
    paging: Paging,
    start: Annotated[date | None, Query(description="visits starting on or after")] = None,
    end: Annotated[date | None, Query(description="visits starting on or before")] = None,
    site_institution_id: Annotated[int | None, Query()] = None,
    home_institution_id: Annotated[int | None, Query()] = None,
    user_id: Annotated[int | None, Query(description="the expert")] = None,
    specialty: Annotated[str | None, Query(max_length=32)] = None,
) -> Page[VisitRead]:
    """The visit records of your institution (as the experts' home or as the site; every
    record for commission analysts and platform admins), newest visit first."""
    f = visits.VisitFilter(
        start=start,
        end=end,
        site_institution_id=site_institution_id,
        home_institution_id=home_institution_id,
        user_id=user_id,
        specialty=specialty or None,
    )
    rows, total = visits.list_visits(session, actor, f, paging)
    return Page(
        items=[visit_read(v) for v in rows], total=total, page=paging.page, size=paging.size
    )


@router.post("/visits", response_model=VisitRead, status_code=status.HTTP_201_CREATED)
def record_visit(data: VisitCreate, session: DB, actor: CurrentActor) -> VisitRead:
    """Record a visit that has happened: an expert their own, a coordinator or institution
    admin any of their institution's experts'. 422 `no_agreement` when the expert's home
    institution does not support the site under an agreement active on those dates,
    `invalid_icd10` naming the operation row, `visit_overlap` when the expert already has a
    visit on those days."""
    return visit_read(visits.record_visit(session, actor, data))


@router.get("/visits/{visit_id:int}", response_model=VisitRead)
def get_visit(visit_id: int, session: DB, actor: CurrentActor) -> VisitRead:
    return visit_read(visits.get_visit(session, actor, visit_id))


@router.patch("/visits/{visit_id:int}", response_model=VisitRead)
def update_visit(visit_id: int, data: VisitUpdate, session: DB, actor: CurrentActor) -> VisitRead:
    """Correct a record; send the `version` you read (409 `stale_version` if it changed).
    `operations`, when sent, replaces the rows."""
    return visit_read(visits.update_visit(session, actor, visit_id, data))
