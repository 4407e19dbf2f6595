"""API of on-call rotas, experts' leave and skills.

Everything is about the caller's own institution: another institution's shifts, leave and
experts answer 404. Refusals are problem+json with a stable ``code``: ``overlap`` (409, with
one entry in ``errors`` per conflict for a repeat), ``too_long``, ``end_before_start``,
``not_expert``, ``unknown_specialty``, ``no_department``, ``specialty_mismatch``,
``weeks_out_of_range``, ``nothing_to_repeat``, ``days_out_of_range``, ``invalid_skill``
(422), ``stale``, ``shift_ended``, ``shift_started``, ``leave_overlap``, ``leave_ended`` (409),
``own_leave_only`` (403).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Annotated

from fastapi import Query, Response, status
from pydantic import AwareDatetime, BaseModel, Field

from medcircle.consultations import rota_service as svc
from medcircle.consultations.domain import ShiftRole, WarningKind
from medcircle.consultations.models import ExpertLeave, OnCallShift
from medcircle.consultations.schemas import Icd10, LeaveIn, ShiftIn
from medcircle.web.deps import DB, CurrentActor
from medcircle.web.routing import QuickRouter

router = QuickRouter(prefix="/api/v1", tags=["consultations"])

Days = Annotated[int, Query(ge=1, le=svc.MAX_WARNING_DAYS, description="days to look ahead")]
Start = Annotated[
    AwareDatetime | None, Query(description="start of the window (an instant with its offset)")
]


class OnCallRead(BaseModel):
    user_id: int
    name: str
    role: ShiftRole
    ends_at: datetime


class WarningRead(BaseModel):
    specialty_code: str
    kind: WarningKind
    starts_at: datetime
    ends_at: datetime
    # LEAVE: the expert on leave; HANDOVER: the one taking over
    user_id: int | None = None
    name: str | None = None
    # HANDOVER: the one handing over
    from_user_id: int | None = None
    from_name: str | None = None


class RotaListItem(BaseModel):
    specialty_code: str
    specialty_zh: str
    specialty_en: str
    # false while nobody keeps this rota (no shift in the window or the four weeks before):
    # its cases go to the pool and the coordinators, and it has no warnings
    kept: bool
    on_call: list[OnCallRead]
    # gaps, backup-only stretches and shifts during leave in the window
    warning_count: int
    next_warning: WarningRead | None


class ShiftRead(BaseModel):
    id: int
    user_id: int
    name: str
    specialty_code: str
    starts_at: datetime
    ends_at: datetime
    role: ShiftRole
    # the parts of the shift inside its expert's leave (they do not count)
    during_leave: list[tuple[datetime, datetime]] = Field(default_factory=list)


class LeaveRead(BaseModel):
    id: int
    user_id: int
    name: str
    starts_at: datetime
    ends_at: datetime
    # only for the expert and rota managers
    reason: str | None = None


class ExpertRead(BaseModel):
    user_id: int
    name: str
    skills: list[str]


class RotaRead(BaseModel):
    specialty_code: str
    specialty_zh: str
    specialty_en: str
    start: datetime
    end: datetime
    on_call: list[OnCallRead]
    shifts: list[ShiftRead]
    leave: list[LeaveRead]
    warnings: list[WarningRead]
    experts: list[ExpertRead]
    can_manage: bool


class ShiftEditIn(BaseModel):
    """New start, end and role, with the values you read (409 ``stale`` if they changed)."""

    starts_at: AwareDatetime
    ends_at: AwareDatetime
    role: ShiftRole
    was_starts_at: AwareDatetime
    was_ends_at: AwareDatetime
    was_role: ShiftRole


class ShiftDeleteRead(BaseModel):
    # true: removed; false: it was running and now ends now (``shift``)
    deleted: bool
    shift: ShiftRead | None = None


class RepeatIn(BaseModel):
    # the first day (China time) of the 7 days whose shifts are copied
    week_start: date
    weeks: Annotated[int, Field(ge=1, le=svc.MAX_REPEAT_WEEKS)]


class SkillsIn(BaseModel):
    skills: list[Icd10] = Field(max_length=svc.MAX_SKILLS)


class SkillsRead(BaseModel):
    user_id: int
    skills: list[str]


def _on_call(items: list[svc.OnCallNow]) -> list[OnCallRead]:
    return [
        OnCallRead(user_id=o.user_id, name=o.name, role=o.role, ends_at=o.ends_at) for o in items
    ]


def _warning(v: svc.WarningView) -> WarningRead:
    w = v.warning
    return WarningRead(
        specialty_code=v.specialty_code,
        kind=w.kind,
        starts_at=w.starts_at,
        ends_at=w.ends_at,
        user_id=w.user_id,
        name=v.name,
        from_user_id=w.from_user_id,
        from_name=v.from_name,
    )


def _shift(v: svc.ShiftView) -> ShiftRead:
    return _shift_row(v, v.name, v.leave)


def _shift_row(
    row: OnCallShift | svc.ShiftView,
    name: str,
    during_leave: Iterable[tuple[datetime, datetime]] = (),
) -> ShiftRead:
    return ShiftRead(
        id=row.id,
        user_id=row.user_id,
        name=name,
        specialty_code=row.specialty_code,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        role=ShiftRole(row.role),
        during_leave=list(during_leave),
    )


def _leave(v: svc.LeaveView) -> LeaveRead:
    return _leave_row(v, v.name)


def _leave_row(row: ExpertLeave | svc.LeaveView, name: str) -> LeaveRead:
    return LeaveRead(
        id=row.id,
        user_id=row.user_id,
        name=name,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        reason=row.reason,
    )


@router.get("/rotas", response_model=list[RotaListItem])
def list_rotas(
    session: DB, actor: CurrentActor, days: Days = svc.WARNING_DAYS
) -> list[RotaListItem]:
    """Your institution's rotas (specialties with shifts or departments), who is on call now
    and how many problems lie ahead (gaps, backup only, shifts during leave)."""
    return [
        RotaListItem(
            specialty_code=r.specialty.code,
            specialty_zh=r.specialty.name_zh,
            specialty_en=r.specialty.name_en,
            kept=r.kept,
            on_call=_on_call(r.on_call),
            warning_count=r.warning_count,
            next_warning=_warning(r.next_problem) if r.next_problem else None,
        )
        for r in svc.list_rotas(session, actor, days=days)
    ]


@router.get("/rota-warnings", response_model=list[WarningRead])
def rota_warnings(
    session: DB, actor: CurrentActor, days: Days = svc.WARNING_DAYS
) -> list[WarningRead]:
    """The problems of all your institution's rotas ahead: gaps and backup-only stretches
    first, then shifts during leave, each soonest first."""
    return [_warning(v) for v in svc.warnings_summary(session, actor, days=days)]


@router.get("/rotas/{specialty_code}", response_model=RotaRead)
def read_rota(
    specialty_code: str,
    session: DB,
    actor: CurrentActor,
    start: Start = None,
    days: Days = svc.WARNING_DAYS,
) -> RotaRead:
    """One rota from `start` (now by default) for `days` days: shifts, the leave of the
    institution's experts, warnings (with handovers), who is on call now."""
    v = svc.rota_view(session, actor, specialty_code, start=start, days=days)
    return RotaRead(
        specialty_code=v.specialty.code,
        specialty_zh=v.specialty.name_zh,
        specialty_en=v.specialty.name_en,
        start=v.start,
        end=v.end,
        on_call=_on_call(v.on_call),
        shifts=[_shift(s) for s in v.shifts],
        leave=[_leave(lv) for lv in v.leaves],
        warnings=[_warning(w) for w in v.warnings],
        experts=[
            ExpertRead(user_id=e.user_id, name=e.name, skills=list(e.skills)) for e in v.experts
        ],
        can_manage=v.can_manage,
    )


@router.post(
    "/rotas/{specialty_code}/shifts", response_model=ShiftRead, status_code=status.HTTP_201_CREATED
)
def add_shift(specialty_code: str, body: ShiftIn, session: DB, actor: CurrentActor) -> ShiftRead:
    """Put an active expert of your institution on the rota (ROTA_MANAGE). At most 7 days;
    409 `overlap` if the expert already has a shift on this rota then."""
    row = svc.add_shift(session, actor, body, specialty_code=specialty_code)
    return _shift_row(row, svc.expert_name(session, row.user_id))


@router.post(
    "/rotas/{specialty_code}/repeat",
    response_model=list[ShiftRead],
    status_code=status.HTTP_201_CREATED,
)
def repeat_week(
    specialty_code: str, body: RepeatIn, session: DB, actor: CurrentActor
) -> list[ShiftRead]:
    """Copy the shifts starting in the 7 days from `week_start` to the next `weeks` weeks.
    All or nothing: 409 `overlap` with one entry in `errors` per conflicting copy."""
    rows = svc.repeat_week(session, actor, specialty_code, body.week_start, body.weeks)
    return [_shift_row(r, svc.expert_name(session, r.user_id)) for r in rows]


@router.get("/rota-shifts", response_model=list[ShiftRead])
def expert_shifts(
    session: DB,
    actor: CurrentActor,
    user_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    start: Start = None,
    days: Days = svc.WARNING_DAYS,
) -> list[ShiftRead]:
    """The shifts of one expert of your institution across its rotas (yours by default)."""
    who = user_id if user_id is not None else actor.user_id
    return [_shift(s) for s in svc.expert_shifts(session, actor, who, start=start, days=days)]


@router.patch("/rota-shifts/{shift_id:int}", response_model=ShiftRead)
def edit_shift(shift_id: int, body: ShiftEditIn, session: DB, actor: CurrentActor) -> ShiftRead:
    """Move a shift or change its role. Send the values you read: 409 `stale` if they
    changed; 409 `shift_ended` for a shift that has ended, `shift_started` to move the start
    of a running one."""
    edit = svc.ShiftEdit(
        body.starts_at, body.ends_at, body.role, body.was_starts_at, body.was_ends_at, body.was_role
    )
    row = svc.edit_shift(session, actor, shift_id, edit)
    return _shift_row(row, svc.expert_name(session, row.user_id))


@router.delete("/rota-shifts/{shift_id:int}", response_model=ShiftDeleteRead)
def delete_shift(shift_id: int, session: DB, actor: CurrentActor) -> ShiftDeleteRead:
    """Remove a shift that has not started; a running one ends now (its served part stays);
    409 `shift_ended` for one that has ended."""
    kept = svc.delete_shift(session, actor, shift_id)
    if kept is None:
        return ShiftDeleteRead(deleted=True)
    return ShiftDeleteRead(
        deleted=False, shift=_shift_row(kept, svc.expert_name(session, kept.user_id))
    )


@router.get("/expert-leave", response_model=list[LeaveRead])
def list_leave(
    session: DB,
    actor: CurrentActor,
    user_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    start: Start = None,
    days: Annotated[int, Query(ge=1, le=svc.MAX_WARNING_DAYS)] = 31,
) -> list[LeaveRead]:
    """Leave of your institution's experts (or one of them) in the window."""
    return [
        _leave(v) for v in svc.list_leave(session, actor, user_id=user_id, start=start, days=days)
    ]


@router.post("/expert-leave", response_model=LeaveRead, status_code=status.HTTP_201_CREATED)
def add_leave(body: LeaveIn, session: DB, actor: CurrentActor) -> LeaveRead:
    """Record leave: your own (experts), or any expert's of your institution (ROTA_MANAGE).
    409 `leave_overlap` if it overlaps leave already recorded."""
    row = svc.add_leave(session, actor, body)
    return _leave_row(row, svc.expert_name(session, row.user_id))


@router.delete("/expert-leave/{leave_id:int}", status_code=status.HTTP_204_NO_CONTENT)
def delete_leave(leave_id: int, session: DB, actor: CurrentActor) -> Response:
    """Withdraw leave that has not ended (409 `leave_ended` otherwise)."""
    svc.delete_leave(session, actor, leave_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/experts/{user_id:int}/skills", response_model=SkillsRead)
def read_skills(user_id: int, session: DB, actor: CurrentActor) -> SkillsRead:
    """The ICD-10 prefixes an expert of your institution is known for."""
    return SkillsRead(user_id=user_id, skills=svc.skills_of(session, actor, user_id))


@router.put("/experts/{user_id:int}/skills", response_model=SkillsRead)
def set_skills(user_id: int, body: SkillsIn, session: DB, actor: CurrentActor) -> SkillsRead:
    """Replace an expert's ICD-10 prefixes (ROTA_MANAGE): a letter then digits, e.g. `Q2`,
    `C91`, `Q21.0`; 422 `invalid_skill` per bad one."""
    return SkillsRead(user_id=user_id, skills=svc.set_skills(session, actor, user_id, body.skills))


__all__ = ["router"]
