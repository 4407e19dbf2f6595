"""API of experts' availability for dispatch: profiles, single duty days, named skills, and the
leave they have (read-only here; it is kept with the on-call rota, ``/api/v1/expert-leave``).

Only your institution's active experts: others answer 404. Refusals are problem+json with a
stable ``code``: ``unknown_specialty``, ``days_out_of_range``, ``invalid_weekday``,
``never_available``, ``in_the_past``, ``not_a_working_day``, ``skill_required``,
``invalid_skill``, ``too_many_skills`` (422); ``stale_version``, ``duty_exists``,
``skill_exists`` (409); ``forbidden`` (403, without ``DISPATCH_PLAN``).
"""

from __future__ import annotations

from datetime import date, datetime

from fastapi import Response, status
from pydantic import BaseModel

from medcircle.dispatch import availability as svc
from medcircle.dispatch.models import DispatchSkill, ExpertDuty, ExpertProfile
from medcircle.dispatch.setup_schemas import DutyIn, ProfileIn, SkillIn
from medcircle.web.deps import DB, CurrentActor
from medcircle.web.routing import QuickRouter

router = QuickRouter(prefix="/api/v1", tags=["dispatch"])


class ProfileRead(BaseModel):
    specialty_code: str
    max_days_per_week: int
    # Monday 0 … Friday 4
    duty_weekdays: list[int]
    is_active: bool
    updated_at: datetime
    version: int


class DutyRead(BaseModel):
    id: int
    day: date
    reason: str | None


class SkillRead(BaseModel):
    id: int
    skill: str


class LeaveRead(BaseModel):
    starts_at: datetime
    ends_at: datetime


class ExpertRead(BaseModel):
    user_id: int
    name: str
    # the specialty of the expert's practitioner record (the profile's default)
    practice_specialty: str | None
    # null until the expert's dispatch profile is set
    profile: ProfileRead | None
    skills: list[SkillRead]
    # single duty days and leave in the next eight weeks
    duties: list[DutyRead]
    leave: list[LeaveRead]


def profile_read(p: ExpertProfile) -> ProfileRead:
    return ProfileRead(
        specialty_code=p.specialty_code,
        max_days_per_week=p.max_days_per_week,
        duty_weekdays=list(p.duty_weekdays or []),
        is_active=p.is_active,
        updated_at=p.updated_at,
        version=p.version,
    )


def duty_read(d: ExpertDuty) -> DutyRead:
    return DutyRead(id=d.id, day=d.day, reason=d.reason)


def skill_read(s: DispatchSkill) -> SkillRead:
    return SkillRead(id=s.id, skill=s.skill)


def expert_read(e: svc.ExpertSetup) -> ExpertRead:
    return ExpertRead(
        user_id=e.user_id,
        name=e.name,
        practice_specialty=e.practice_specialty,
        profile=profile_read(e.profile) if e.profile is not None else None,
        skills=[skill_read(s) for s in e.skills],
        duties=[duty_read(d) for d in e.duties],
        leave=[LeaveRead(starts_at=lv.starts_at, ends_at=lv.ends_at) for lv in e.leave],
    )


@router.get("/dispatch/experts", response_model=list[ExpertRead])
def list_experts(session: DB, actor: CurrentActor) -> list[ExpertRead]:
    """Your institution's active experts with their dispatch set-up, by name."""
    return [expert_read(e) for e in svc.list_experts(session, actor)]


@router.get("/dispatch/experts/{user_id:int}", response_model=ExpertRead)
def read_expert(user_id: int, session: DB, actor: CurrentActor) -> ExpertRead:
    return expert_read(svc.get_expert(session, actor, user_id))


@router.put("/dispatch/experts/{user_id:int}/profile", response_model=ProfileRead)
def save_profile(user_id: int, body: ProfileIn, session: DB, actor: CurrentActor) -> ProfileRead:
    """Set an expert's dispatch profile: specialty, most visit days a week (0 to 5, default
    2), home-duty weekdays (Monday 0 to Friday 4), whether they take part. Changing one needs
    the `version` you read. Duties on all five weekdays with visit days above 0: 422
    `never_available` (switch `is_active` off instead)."""
    return profile_read(svc.save_profile(session, actor, user_id, body))


@router.post(
    "/dispatch/experts/{user_id:int}/duties",
    response_model=DutyRead,
    status_code=status.HTTP_201_CREATED,
)
def add_duty(user_id: int, body: DutyIn, session: DB, actor: CurrentActor) -> DutyRead:
    """Record a single day of home duty (a working day, today or later)."""
    return duty_read(svc.add_duty(session, actor, user_id, body))


@router.delete(
    "/dispatch/experts/{user_id:int}/duties/{duty_id:int}",
    status_code=status.HTTP_204_NO_CONTENT,
)
def remove_duty(user_id: int, duty_id: int, session: DB, actor: CurrentActor) -> Response:
    svc.remove_duty(session, actor, user_id, duty_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/dispatch/experts/{user_id:int}/skills",
    response_model=SkillRead,
    status_code=status.HTTP_201_CREATED,
)
def add_skill(user_id: int, body: SkillIn, session: DB, actor: CurrentActor) -> SkillRead:
    """Give an expert a named skill (stored in lower case with single spaces)."""
    return skill_read(svc.add_skill(session, actor, user_id, body))


@router.delete(
    "/dispatch/experts/{user_id:int}/skills/{skill_id:int}",
    status_code=status.HTTP_204_NO_CONTENT,
)
def remove_skill(user_id: int, skill_id: int, session: DB, actor: CurrentActor) -> Response:
    svc.remove_skill(session, actor, user_id, skill_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


__all__ = ["router"]
