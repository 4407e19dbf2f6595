"""Keeping the on-call rotas: shifts (add, edit, delete, repeat a week), experts' leave and
skills, the warnings a coordinator must see before they happen, and who is on call now.

A rota is one institution's on-call list for one specialty. Everything here is scoped to the
actor's own institution: another institution's rotas, shifts, leave and experts do not exist
for them (404).

Who may do what:

- ``ROTA_MANAGE`` (coordinators, institution admins): keep their institution's rotas, any
  of its experts' leave, and skills.
- ``CONSULT_ANSWER`` (experts): read the rotas and their own shifts, record their own leave.
- anyone else with ``CONSULT_READ`` at the institution: read.

Editing a shift: the table has no version column, so an edit carries the values the editor
read (start, end, role); if the row no longer has them the edit is refused as stale (409).
A shift that has ended is history: it is neither edited nor deleted. Deleting a running shift
ends it now instead (the part already served stays on record).

Every write is audited; refusals are audited by the error handler.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from medcircle.audit import service as audit
from medcircle.auth.domain import Actor, Permission
from medcircle.auth.models import User
from medcircle.auth.repository import display_names
from medcircle.consultations import rota
from medcircle.consultations.domain import (
    Leave,
    RotaIndex,
    RotaWarning,
    ShiftRole,
    WarningKind,
    rota_warnings,
)
from medcircle.consultations.models import ExpertLeave, ExpertSkill, OnCallShift
from medcircle.consultations.schemas import LeaveIn, ShiftIn
from medcircle.kit import clock
from medcircle.kit.clock import CST
from medcircle.kit.errors import (
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    ValidationFailed,
)
from medcircle.kit.i18n import N_
from medcircle.registry.models import Department, SpecialtyRow

SHIFT = "oncall_shift"
LEAVE = "expert_leave"
SKILLS = "expert_skill"

# how far ahead warnings look by default, and at most
WARNING_DAYS = 14
MAX_WARNING_DAYS = 62
# how many weeks one "repeat" may copy to
MAX_REPEAT_WEEKS = 12
# the longest leave one record may hold
MAX_LEAVE = timedelta(days=366)
# how many ICD-10 prefixes an expert may have
MAX_SKILLS = 40
# an ICD-10 prefix: a letter, then up to two digits, then optionally a dot and 1-4 digits
SKILL_PATTERN = re.compile(r"^[A-Z](?:[0-9]{1,2}(?:\.[0-9]{1,4})?)?$")
# the warnings a coordinator must act on (handovers are information)
PROBLEMS = frozenset({WarningKind.GAP, WarningKind.NO_PRIMARY, WarningKind.LEAVE})

NOT_FOUND = N_("No such rota, shift or expert at your institution.")
UNKNOWN_SPECIALTY = N_("There is no specialty with the code %(code)s.")
NO_DEPARTMENT = N_("Your institution has no department in this specialty.")
SPECIALTY_MISMATCH = N_("The specialty of the shift does not match the rota.")
NOT_EXPERT = N_("This user is not an active expert of your institution.")
ORDER = N_("The end must be after the start.")
SHIFT_TOO_LONG = N_("A shift may last at most 7 days.")
LEAVE_TOO_LONG = N_("One leave record may last at most a year.")
OVERLAP = N_("%(name)s already has a shift on this rota from %(start)s to %(end)s.")
LEAVE_OVERLAP = N_("%(name)s already has leave from %(start)s to %(end)s.")
SHIFT_ENDED = N_("This shift has ended: it stays on record and cannot be changed.")
SHIFT_STARTED = N_("This shift has started: its start cannot be moved.")
LEAVE_ENDED = N_("This leave has ended: it stays on record.")
STALE = N_("The shift was changed by someone else since you read it. Reload and try again.")
WEEKS_RANGE = N_("Repeat to 1 to 12 weeks.")
NOTHING_TO_REPEAT = N_("The week has no shifts to repeat.")
REPEAT_CONFLICT = N_("Copy for %(name)s, %(start)s to %(end)s: %(reason)s")
REPEAT_REFUSED = N_("Nothing was copied: %(count)s copies conflict with the rota.")
REASON_OVERLAP = N_("overlaps another shift of the same expert")
REASON_NOT_EXPERT = N_("no longer an active expert")
BAD_SKILL = N_("%(value)s is not an ICD-10 prefix (a letter, then digits, e.g. Q2, C91, Q21.0).")
TOO_MANY_SKILLS = N_("At most 40 prefixes.")
OWN_LEAVE_ONLY = N_("You may record only your own leave.")
DAYS_RANGE = N_("Look 1 to 62 days ahead.")


# --- views ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    user_id: int
    name: str


@dataclass(frozen=True)
class ShiftView:
    id: int
    user_id: int
    name: str
    specialty_code: str
    starts_at: datetime
    ends_at: datetime
    role: ShiftRole
    # the parts of the shift inside the expert's leave
    leave: tuple[tuple[datetime, datetime], ...] = ()


@dataclass(frozen=True)
class LeaveView:
    id: int
    user_id: int
    name: str
    starts_at: datetime
    ends_at: datetime
    # shown only to the expert and to rota managers
    reason: str | None


@dataclass(frozen=True)
class OnCallNow:
    user_id: int
    name: str
    role: ShiftRole
    ends_at: datetime


@dataclass(frozen=True)
class WarningView:
    specialty_code: str
    warning: RotaWarning
    # the expert concerned and the one handing over (handovers), by name
    name: str | None = None
    from_name: str | None = None

    @property
    def kind(self) -> WarningKind:
        return self.warning.kind


@dataclass
class RotaSummary:
    specialty: SpecialtyRow
    # False while the specialty has had no shift lately: nobody keeps a rota for it, so its
    # cases go to the pool and the coordinators and it has no problems to warn of
    kept: bool
    on_call: list[OnCallNow]
    # the problems (gaps, backup only, leave) in the window
    warning_count: int
    next_problem: WarningView | None


@dataclass
class RotaView:
    specialty: SpecialtyRow
    start: datetime
    end: datetime
    shifts: list[ShiftView]
    leaves: list[LeaveView]
    warnings: list[WarningView]
    on_call: list[OnCallNow]
    # who may be put on this rota (active experts of the institution), with their skills
    experts: list[ExpertInfo]
    can_manage: bool


@dataclass(frozen=True)
class ExpertInfo:
    user_id: int
    name: str
    skills: tuple[str, ...] = ()


@dataclass
class RepeatConflict:
    user_id: int
    name: str
    starts_at: datetime
    ends_at: datetime
    reason: str
    # the shift it would overlap, when an overlap
    with_shift_id: int | None = None


@dataclass
class ShiftEdit:
    """New values of a shift with the values the editor read (the optimistic check)."""

    starts_at: datetime
    ends_at: datetime
    role: ShiftRole
    was_starts_at: datetime
    was_ends_at: datetime
    was_role: ShiftRole


# --- access -----------------------------------------------------------------------------------


def can_read(actor: Actor) -> bool:
    return any(
        actor.can(p)
        for p in (Permission.CONSULT_READ, Permission.CONSULT_ANSWER, Permission.ROTA_MANAGE)
    )


def can_manage(actor: Actor) -> bool:
    return actor.can(Permission.ROTA_MANAGE)


def _require_read(actor: Actor) -> None:
    if not can_read(actor):
        raise Forbidden()


def _require_manage(actor: Actor) -> None:
    if not can_manage(actor):
        raise Forbidden()


def _invalid(errors: list[FieldError]) -> ValidationFailed:
    return ValidationFailed(code=errors[0].code, field_errors=errors)


def _local(value: datetime) -> str:
    return value.astimezone(CST).strftime("%Y-%m-%d %H:%M")


def expert_name(session: Session, user_id: int) -> str:
    return display_names(session, [user_id]).get(user_id, "?")


def _valid_id(value: int) -> bool:
    return 0 < value < 2**31


# --- the rotas of an institution ------------------------------------------------------------


def rota_codes(session: Session, institution_id: int) -> list[str]:
    """The specialties with a rota at the institution: those with shifts or with an active
    department."""
    with_shifts = set(
        session.scalars(
            select(OnCallShift.specialty_code)
            .where(OnCallShift.institution_id == institution_id)
            .distinct()
        )
    )
    with_departments = set(
        session.scalars(
            select(Department.specialty_code)
            .where(Department.institution_id == institution_id, Department.is_active.is_(True))
            .distinct()
        )
    )
    return sorted(with_shifts | with_departments)


def _specialty(session: Session, actor: Actor, code: str) -> SpecialtyRow:
    """The specialty of one of the actor's institution's rotas, else 404."""
    row = session.get(SpecialtyRow, code) if len(code) <= 32 else None
    if row is None or code not in rota_codes(session, actor.institution_id):
        raise NotFound(NOT_FOUND)
    return row


def _window(start: datetime | None, days: int) -> tuple[datetime, datetime]:
    if not 1 <= days <= MAX_WARNING_DAYS:
        raise _invalid([FieldError("days", DAYS_RANGE, code="days_out_of_range")])
    begin = start if start is not None else clock.now()
    return begin, begin + timedelta(days=days)


def _warning_views(
    code: str, warnings: Sequence[RotaWarning], names: dict[int, str]
) -> list[WarningView]:
    return [
        WarningView(
            code,
            w,
            names.get(w.user_id) if w.user_id is not None else None,
            names.get(w.from_user_id) if w.from_user_id is not None else None,
        )
        for w in warnings
    ]


def _on_call_now(index: RotaIndex, at: datetime, names: dict[int, str]) -> list[OnCallNow]:
    return [
        OnCallNow(s.user_id, names.get(s.user_id, "?"), s.role, s.ends_at) for s in index.at(at)
    ]


def on_call_now(
    session: Session, actor: Actor, at: datetime | None = None
) -> dict[str, list[OnCallNow]]:
    """Who is on call now for each rota of the actor's institution (primaries first)."""
    _require_read(actor)
    moment = at or clock.now()
    out: dict[str, list[OnCallNow]] = {}
    for code in rota_codes(session, actor.institution_id):
        index = rota.rota_index(
            session, actor.institution_id, code, moment, moment + timedelta(microseconds=1)
        )
        names = display_names(session, (s.user_id for s in index.shifts))
        out[code] = _on_call_now(index, moment, names)
    return out


# a rota with no shift in this long before the window and none in it is not kept
KEPT_LOOKBACK = timedelta(days=28)


def _kept_codes(session: Session, institution_id: int, start: datetime, end: datetime) -> set[str]:
    """The specialties whose rota is kept: a shift in the window or in the four weeks before."""
    return set(
        session.scalars(
            select(OnCallShift.specialty_code)
            .where(
                OnCallShift.institution_id == institution_id,
                OnCallShift.ends_at > start - KEPT_LOOKBACK,
                OnCallShift.starts_at < end,
            )
            .distinct()
        )
    )


def _problems(
    session: Session, institution_id: int, code: str, start: datetime, end: datetime
) -> tuple[RotaIndex, dict[int, str], list[WarningView]]:
    """One rota's index over the window, its experts' names and its problems there."""
    index = rota.rota_index(session, institution_id, code, start, end)
    names = display_names(session, [s.user_id for s in index.shifts])
    problems = [
        w for w in rota_warnings(index.shifts, index.leaves, start, end) if w.kind in PROBLEMS
    ]
    return index, names, _warning_views(code, problems, names)


def list_rotas(
    session: Session, actor: Actor, *, days: int = WARNING_DAYS, at: datetime | None = None
) -> list[RotaSummary]:
    """The institution's rotas with who is on call now and their problems ahead. A specialty
    whose rota nobody keeps (no shift lately) is listed without problems."""
    _require_read(actor)
    start, end = _window(at, days)
    codes = rota_codes(session, actor.institution_id)
    kept = _kept_codes(session, actor.institution_id, start, end)
    specialties = {
        s.code: s for s in session.scalars(select(SpecialtyRow).where(SpecialtyRow.code.in_(codes)))
    }
    out: list[RotaSummary] = []
    for code in codes:
        if code not in kept:
            out.append(RotaSummary(specialties[code], False, [], 0, None))
            continue
        index, names, views = _problems(session, actor.institution_id, code, start, end)
        out.append(
            RotaSummary(
                specialties[code],
                True,
                _on_call_now(index, start, names),
                len(views),
                min(views, key=lambda v: v.warning.starts_at) if views else None,
            )
        )
    return out


def warnings_summary(
    session: Session, actor: Actor, *, days: int = WARNING_DAYS, at: datetime | None = None
) -> list[WarningView]:
    """The problems of every kept rota of the institution ahead: gaps and backup-only stretches
    first, then shifts during leave; each group soonest first."""
    _require_read(actor)
    start, end = _window(at, days)
    found: list[WarningView] = []
    for code in sorted(_kept_codes(session, actor.institution_id, start, end)):
        found.extend(_problems(session, actor.institution_id, code, start, end)[2])
    found.sort(key=lambda v: (v.kind == WarningKind.LEAVE, v.warning.starts_at, v.specialty_code))
    return found


def experts(session: Session, actor: Actor) -> list[ExpertInfo]:
    """The active experts of the actor's institution with their skills, by name."""
    _require_read(actor)
    ids = rota.active_experts(session, actor.institution_id)
    names = display_names(session, ids)
    facts = rota.experts_of(session, ids)
    return sorted(
        (ExpertInfo(i, names.get(i, "?"), facts[i].skills) for i in ids),
        key=lambda e: (e.name, e.user_id),
    )


def _leave_views(
    actor: Actor, rows: Sequence[ExpertLeave], names: dict[int, str]
) -> list[LeaveView]:
    manager = can_manage(actor)
    return [
        LeaveView(
            r.id,
            r.user_id,
            names.get(r.user_id, "?"),
            r.starts_at,
            r.ends_at,
            r.reason if manager or r.user_id == actor.user_id else None,
        )
        for r in rows
    ]


def _shift_views(
    rows: Sequence[OnCallShift], leaves: Sequence[Leave], names: dict[int, str]
) -> list[ShiftView]:
    out: list[ShiftView] = []
    for r in rows:
        cut = tuple(
            (max(r.starts_at, lv.starts_at), min(r.ends_at, lv.ends_at))
            for lv in leaves
            if lv.user_id == r.user_id and lv.starts_at < r.ends_at and r.starts_at < lv.ends_at
        )
        out.append(
            ShiftView(
                r.id,
                r.user_id,
                names.get(r.user_id, "?"),
                r.specialty_code,
                r.starts_at,
                r.ends_at,
                ShiftRole(r.role),
                cut,
            )
        )
    return out


def rota_view(
    session: Session,
    actor: Actor,
    specialty_code: str,
    *,
    start: datetime | None = None,
    days: int = WARNING_DAYS,
) -> RotaView:
    """One rota between ``start`` (now by default) and ``days`` later: its shifts, the leave of
    its experts, the warnings (handovers included) and who is on call now."""
    _require_read(actor)
    specialty = _specialty(session, actor, specialty_code)
    begin, end = _window(start, days)
    rows = rota.shifts_between(session, actor.institution_id, specialty.code, begin, end)
    people = experts(session, actor)
    leave_rows = rota.leaves_between(
        session, {r.user_id for r in rows} | {e.user_id for e in people}, begin, end
    )
    names = {e.user_id: e.name for e in people} | display_names(
        session, [r.user_id for r in rows] + [lv.user_id for lv in leave_rows]
    )
    shifts = [rota.as_shift(r) for r in rows]
    leaves = [rota.as_leave(lv) for lv in leave_rows]
    now = clock.now()
    index_now = rota.rota_index(
        session, actor.institution_id, specialty.code, now, now + timedelta(microseconds=1)
    )
    return RotaView(
        specialty=specialty,
        start=begin,
        end=end,
        shifts=_shift_views(rows, leaves, names),
        leaves=_leave_views(actor, leave_rows, names),
        warnings=_warning_views(specialty.code, rota_warnings(shifts, leaves, begin, end), names),
        on_call=_on_call_now(
            index_now, now, names | display_names(session, [s.user_id for s in index_now.shifts])
        ),
        experts=people,
        can_manage=can_manage(actor),
    )


def expert_shifts(
    session: Session, actor: Actor, user_id: int, *, start: datetime | None = None, days: int = 14
) -> list[ShiftView]:
    """The shifts of one expert of the institution across its rotas (one's own, for experts)."""
    _require_read(actor)
    begin, end = _window(start, days)
    _expert_user(session, actor, user_id, active=False)
    rows = list(
        session.scalars(
            select(OnCallShift)
            .where(
                OnCallShift.institution_id == actor.institution_id,
                OnCallShift.user_id == user_id,
                OnCallShift.starts_at < end,
                OnCallShift.ends_at > begin,
            )
            .order_by(OnCallShift.starts_at, OnCallShift.id)
        )
    )
    leaves = [rota.as_leave(lv) for lv in rota.leaves_between(session, [user_id], begin, end)]
    return _shift_views(rows, leaves, display_names(session, [user_id]))


# --- shifts -----------------------------------------------------------------------------------


def _expert_user(session: Session, actor: Actor, user_id: int, *, active: bool = True) -> User:
    """A user of the actor's institution (an active expert when ``active``), else 404/422."""
    u = session.get(User, user_id) if _valid_id(user_id) else None
    if u is None or u.institution_id != actor.institution_id:
        raise NotFound(NOT_FOUND)
    if active and user_id not in rota.active_experts(session, actor.institution_id):
        raise _invalid([FieldError("user_id", NOT_EXPERT, code="not_expert")])
    return u


def _check_rota_specialty(session: Session, actor: Actor, code: str) -> SpecialtyRow:
    row = session.get(SpecialtyRow, code) if len(code) <= 32 else None
    if row is None:
        raise _invalid(
            [FieldError("specialty_code", UNKNOWN_SPECIALTY, {"code": code}, "unknown_specialty")]
        )
    has_department = session.scalar(
        select(Department.id)
        .where(
            Department.institution_id == actor.institution_id,
            Department.specialty_code == code,
            Department.is_active.is_(True),
        )
        .limit(1)
    )
    if has_department is None:
        raise _invalid([FieldError("specialty_code", NO_DEPARTMENT, code="no_department")])
    return row


def _check_times(starts_at: datetime, ends_at: datetime, longest: timedelta, message: str) -> None:
    if ends_at <= starts_at:
        raise _invalid([FieldError("ends_at", ORDER, code="end_before_start")])
    if ends_at - starts_at > longest:
        raise _invalid([FieldError("ends_at", message, code="too_long")])


def _lock_user(session: Session, user_id: int) -> None:
    """Serialise writes about one expert (two coordinators adding overlapping shifts at once):
    a row lock on PostgreSQL; SQLite has one writer at a time anyway."""
    session.execute(select(User.id).where(User.id == user_id).with_for_update())


def _overlapping(
    session: Session,
    institution_id: int,
    specialty_code: str,
    user_id: int,
    starts_at: datetime,
    ends_at: datetime,
    exclude_id: int | None = None,
) -> OnCallShift | None:
    query = select(OnCallShift).where(
        OnCallShift.institution_id == institution_id,
        OnCallShift.specialty_code == specialty_code,
        OnCallShift.user_id == user_id,
        OnCallShift.starts_at < ends_at,
        OnCallShift.ends_at > starts_at,
    )
    if exclude_id is not None:
        query = query.where(OnCallShift.id != exclude_id)
    return session.scalars(query.order_by(OnCallShift.starts_at).limit(1)).first()


def _refuse_overlap(found: OnCallShift | None, name: str) -> None:
    if found is not None:
        raise Conflict(
            OVERLAP,
            code="overlap",
            field_errors=[
                FieldError(
                    "starts_at",
                    OVERLAP,
                    {"name": name, "start": _local(found.starts_at), "end": _local(found.ends_at)},
                    code="overlap",
                )
            ],
            name=name,
            start=_local(found.starts_at),
            end=_local(found.ends_at),
            shift_id=found.id,
        )


def add_shift(
    session: Session, actor: Actor, data: ShiftIn, *, specialty_code: str | None = None
) -> OnCallShift:
    """Put an active expert of the institution on one of its rotas. ``specialty_code`` is the
    rota named by the URL, which the body must match."""
    _require_manage(actor)
    if specialty_code is not None and data.specialty_code != specialty_code:
        raise _invalid(
            [FieldError("specialty_code", SPECIALTY_MISMATCH, code="specialty_mismatch")]
        )
    _check_rota_specialty(session, actor, data.specialty_code)
    u = _expert_user(session, actor, data.user_id)
    _check_times(data.starts_at, data.ends_at, rota.MAX_SHIFT, SHIFT_TOO_LONG)
    _lock_user(session, u.id)
    _refuse_overlap(
        _overlapping(
            session, actor.institution_id, data.specialty_code, u.id, data.starts_at, data.ends_at
        ),
        u.display_name,
    )
    row = OnCallShift(
        institution_id=actor.institution_id,
        specialty_code=data.specialty_code,
        user_id=u.id,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        role=ShiftRole(data.role).value,
        created_by_user_id=actor.user_id,
        created_at=clock.now(),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "rota.shift_add",
        object_type=SHIFT,
        object_id=row.id,
        detail={
            "specialty": row.specialty_code,
            "user_id": row.user_id,
            "starts_at": row.starts_at.isoformat(),
            "ends_at": row.ends_at.isoformat(),
            "role": row.role,
        },
    )
    return row


def _own_shift(session: Session, actor: Actor, shift_id: int) -> OnCallShift:
    row = session.get(OnCallShift, shift_id) if _valid_id(shift_id) else None
    if row is None or row.institution_id != actor.institution_id:
        raise NotFound(NOT_FOUND)
    return row


def edit_shift(session: Session, actor: Actor, shift_id: int, data: ShiftEdit) -> OnCallShift:
    """Move a shift or change its role, if it still has the values the editor read."""
    _require_manage(actor)
    row = _own_shift(session, actor, shift_id)
    _lock_user(session, row.user_id)
    session.refresh(row)
    if (row.starts_at, row.ends_at, row.role) != (
        data.was_starts_at,
        data.was_ends_at,
        ShiftRole(data.was_role).value,
    ):
        raise Conflict(STALE, code="stale_version")
    now = clock.now()
    if row.ends_at <= now:
        raise Conflict(SHIFT_ENDED, code="shift_ended")
    if row.starts_at <= now and data.starts_at != row.starts_at:
        raise Conflict(SHIFT_STARTED, code="shift_started")
    _check_times(data.starts_at, data.ends_at, rota.MAX_SHIFT, SHIFT_TOO_LONG)
    if data.ends_at <= now:
        raise _invalid([FieldError("ends_at", SHIFT_ENDED, code="shift_ended")])
    if row.user_id not in rota.active_experts(session, actor.institution_id):
        raise _invalid([FieldError("user_id", NOT_EXPERT, code="not_expert")])
    _refuse_overlap(
        _overlapping(
            session,
            actor.institution_id,
            row.specialty_code,
            row.user_id,
            data.starts_at,
            data.ends_at,
            exclude_id=row.id,
        ),
        display_names(session, [row.user_id]).get(row.user_id, "?"),
    )
    before = {
        "starts_at": row.starts_at.isoformat(),
        "ends_at": row.ends_at.isoformat(),
        "role": row.role,
    }
    row.starts_at, row.ends_at, row.role = data.starts_at, data.ends_at, ShiftRole(data.role).value
    session.flush()
    audit.record(
        session,
        actor,
        "rota.shift_edit",
        object_type=SHIFT,
        object_id=row.id,
        detail={
            "specialty": row.specialty_code,
            "user_id": row.user_id,
            "before": before,
            "after": {
                "starts_at": row.starts_at.isoformat(),
                "ends_at": row.ends_at.isoformat(),
                "role": row.role,
            },
        },
    )
    return row


def delete_shift(session: Session, actor: Actor, shift_id: int) -> OnCallShift | None:
    """Remove a shift that has not started; end a running one now (its served part stays on
    record, returned); refuse one that has ended."""
    _require_manage(actor)
    row = _own_shift(session, actor, shift_id)
    now = clock.now()
    if row.ends_at <= now:
        raise Conflict(SHIFT_ENDED, code="shift_ended")
    detail = {
        "specialty": row.specialty_code,
        "user_id": row.user_id,
        "starts_at": row.starts_at.isoformat(),
        "ends_at": row.ends_at.isoformat(),
        "role": row.role,
    }
    kept: OnCallShift | None = None
    if row.starts_at < now:
        row.ends_at = now
        kept = row
        detail["ended_early_at"] = now.isoformat()
    else:
        session.delete(row)
    session.flush()
    audit.record(
        session, actor, "rota.shift_delete", object_type=SHIFT, object_id=shift_id, detail=detail
    )
    return kept


def week_start_of(day: date) -> datetime:
    """Midnight China time at the start of ``day``, as an instant."""
    return datetime.combine(day, time(0), tzinfo=CST)


def repeat_week(
    session: Session, actor: Actor, specialty_code: str, week_start: date, weeks: int
) -> list[OnCallShift]:
    """Copy the shifts of the rota that start in the 7 days from ``week_start`` (midnight, China
    time) to each of the next ``weeks`` weeks. All or nothing: any copy that would overlap a
    shift of the same expert on this rota (existing or another copy), or whose expert is no
    longer active, refuses the whole repeat with a report of each conflict (409 ``overlap``)."""
    _require_manage(actor)
    if not 1 <= weeks <= MAX_REPEAT_WEEKS:
        raise _invalid([FieldError("weeks", WEEKS_RANGE, code="weeks_out_of_range")])
    specialty = _specialty(session, actor, specialty_code)
    _check_rota_specialty(session, actor, specialty.code)
    begin = week_start_of(week_start)
    end = begin + timedelta(days=7)
    originals = [
        r
        for r in rota.shifts_between(session, actor.institution_id, specialty.code, begin, end)
        if begin <= r.starts_at < end
    ]
    if not originals:
        raise _invalid([FieldError("week", NOTHING_TO_REPEAT, code="nothing_to_repeat")])
    for uid in sorted({r.user_id for r in originals}):
        _lock_user(session, uid)
    horizon_end = end + timedelta(days=7 * weeks) + rota.MAX_SHIFT
    existing = rota.shifts_between(
        session, actor.institution_id, specialty.code, begin, horizon_end
    )
    active = rota.active_experts(session, actor.institution_id)
    names = display_names(session, [r.user_id for r in originals])
    copies = [
        (
            r,
            r.starts_at + timedelta(days=7 * k),
            r.ends_at + timedelta(days=7 * k),
        )
        for k in range(1, weeks + 1)
        for r in originals
    ]
    by_user: dict[int, list[OnCallShift]] = defaultdict(list)
    for e in existing:
        by_user[e.user_id].append(e)
    conflicts: list[RepeatConflict] = []
    for i, (r, a, b) in enumerate(copies):
        name = names.get(r.user_id, "?")
        if r.user_id not in active:
            conflicts.append(RepeatConflict(r.user_id, name, a, b, REASON_NOT_EXPERT))
            continue
        clash = next((e for e in by_user[r.user_id] if e.starts_at < b and a < e.ends_at), None)
        if clash is not None:
            conflicts.append(RepeatConflict(r.user_id, name, a, b, REASON_OVERLAP, clash.id))
            continue
        other = next(
            (
                (o, c, d)
                for j, (o, c, d) in enumerate(copies)
                if j != i and o.user_id == r.user_id and c < b and a < d
            ),
            None,
        )
        if other is not None:
            conflicts.append(RepeatConflict(r.user_id, name, a, b, REASON_OVERLAP))
    if conflicts:
        raise Conflict(
            REPEAT_REFUSED,
            code="overlap",
            count=len(conflicts),
            field_errors=[
                FieldError(
                    f"conflicts.{n}",
                    REPEAT_CONFLICT,
                    {
                        "name": c.name,
                        "start": _local(c.starts_at),
                        "end": _local(c.ends_at),
                        "reason": c.reason,
                    },
                    code="not_expert" if c.reason == REASON_NOT_EXPERT else "overlap",
                )
                for n, c in enumerate(conflicts)
            ],
        )
    now = clock.now()
    created = [
        OnCallShift(
            institution_id=actor.institution_id,
            specialty_code=specialty.code,
            user_id=r.user_id,
            starts_at=a,
            ends_at=b,
            role=r.role,
            created_by_user_id=actor.user_id,
            created_at=now,
        )
        for r, a, b in copies
    ]
    session.add_all(created)
    session.flush()
    audit.record(
        session,
        actor,
        "rota.repeat",
        object_type="rota",
        object_id=specialty.code,
        detail={
            "specialty": specialty.code,
            "week_start": week_start.isoformat(),
            "weeks": weeks,
            "source_shift_ids": [r.id for r in originals],
            "created_shift_ids": [c.id for c in created],
        },
    )
    return created


# --- leave ------------------------------------------------------------------------------------


def _may_keep_leave_of(actor: Actor, user_id: int) -> None:
    if can_manage(actor):
        return
    if actor.can(Permission.CONSULT_ANSWER) and user_id == actor.user_id:
        return
    if actor.can(Permission.CONSULT_ANSWER):
        raise Forbidden(OWN_LEAVE_ONLY, code="own_leave_only")
    raise Forbidden()


def add_leave(session: Session, actor: Actor, data: LeaveIn) -> ExpertLeave:
    """Record an expert's leave: theirs, or any expert's of the institution with ROTA_MANAGE.
    Their shifts inside it stop counting and show as warnings."""
    _may_keep_leave_of(actor, data.user_id)
    u = _expert_user(session, actor, data.user_id)
    _check_times(data.starts_at, data.ends_at, MAX_LEAVE, LEAVE_TOO_LONG)
    _lock_user(session, u.id)
    clash = session.scalars(
        select(ExpertLeave)
        .where(
            ExpertLeave.user_id == u.id,
            ExpertLeave.starts_at < data.ends_at,
            ExpertLeave.ends_at > data.starts_at,
        )
        .limit(1)
    ).first()
    if clash is not None:
        params = {
            "name": u.display_name,
            "start": _local(clash.starts_at),
            "end": _local(clash.ends_at),
        }
        raise Conflict(
            LEAVE_OVERLAP,
            code="leave_overlap",
            field_errors=[FieldError("starts_at", LEAVE_OVERLAP, params, code="leave_overlap")],
            leave_id=clash.id,
            **params,
        )
    row = ExpertLeave(
        user_id=u.id,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        reason=data.reason or None,
        created_by_user_id=actor.user_id,
        created_at=clock.now(),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "rota.leave_add",
        object_type=LEAVE,
        object_id=row.id,
        detail={
            "user_id": row.user_id,
            "starts_at": row.starts_at.isoformat(),
            "ends_at": row.ends_at.isoformat(),
        },
    )
    return row


def _leave_row(session: Session, actor: Actor, leave_id: int) -> ExpertLeave:
    row = session.get(ExpertLeave, leave_id) if _valid_id(leave_id) else None
    owner = session.get(User, row.user_id) if row is not None else None
    if row is None or owner is None or owner.institution_id != actor.institution_id:
        raise NotFound(NOT_FOUND)
    return row


def delete_leave(session: Session, actor: Actor, leave_id: int) -> None:
    """Withdraw leave that has not ended (ended leave stays on record)."""
    row = _leave_row(session, actor, leave_id)
    _may_keep_leave_of(actor, row.user_id)
    if row.ends_at <= clock.now():
        raise Conflict(LEAVE_ENDED, code="leave_ended")
    detail = {
        "user_id": row.user_id,
        "starts_at": row.starts_at.isoformat(),
        "ends_at": row.ends_at.isoformat(),
    }
    session.delete(row)
    session.flush()
    audit.record(
        session, actor, "rota.leave_delete", object_type=LEAVE, object_id=leave_id, detail=detail
    )


def list_leave(
    session: Session,
    actor: Actor,
    *,
    user_id: int | None = None,
    start: datetime | None = None,
    days: int = 31,
) -> list[LeaveView]:
    """Leave of the institution's experts (or of one) overlapping the window; the reason only
    for the expert and rota managers."""
    _require_read(actor)
    begin, end = _window(start, days)
    if user_id is not None:
        _expert_user(session, actor, user_id, active=False)
        ids: set[int] = {user_id}
    else:
        ids = rota.active_experts(session, actor.institution_id)
    rows = rota.leaves_between(session, ids, begin, end)
    return _leave_views(actor, rows, display_names(session, ids))


# --- skills -----------------------------------------------------------------------------------


def normalise_skill(value: str) -> str:
    return value.strip().upper()


def skills_of(session: Session, actor: Actor, user_id: int) -> list[str]:
    """The ICD-10 prefixes of an expert of the actor's institution."""
    _require_read(actor)
    _expert_user(session, actor, user_id, active=False)
    return sorted(
        session.scalars(select(ExpertSkill.icd10_prefix).where(ExpertSkill.user_id == user_id))
    )


def set_skills(session: Session, actor: Actor, user_id: int, prefixes: Sequence[str]) -> list[str]:
    """Replace the ICD-10 prefixes an expert is known for (used by routing)."""
    _require_manage(actor)
    u = _expert_user(session, actor, user_id)
    cleaned: list[str] = []
    errors: list[FieldError] = []
    for n, raw in enumerate(prefixes):
        value = normalise_skill(raw)
        if not value:
            continue
        if not SKILL_PATTERN.match(value):
            errors.append(
                FieldError(f"skills.{n}", BAD_SKILL, {"value": raw[:20]}, code="invalid_skill")
            )
        elif value not in cleaned:
            cleaned.append(value)
    if len(cleaned) > MAX_SKILLS:
        errors.append(FieldError("skills", TOO_MANY_SKILLS, code="too_many_skills"))
    if errors:
        raise _invalid(errors)
    before = sorted(
        session.scalars(select(ExpertSkill.icd10_prefix).where(ExpertSkill.user_id == u.id))
    )
    _lock_user(session, u.id)
    session.execute(delete(ExpertSkill).where(ExpertSkill.user_id == u.id))
    session.add_all(ExpertSkill(user_id=u.id, icd10_prefix=p) for p in cleaned)
    session.flush()
    after = sorted(cleaned)
    audit.record(
        session,
        actor,
        "rota.skills_set",
        object_type=SKILLS,
        object_id=u.id,
        detail={"user_id": u.id, "before": before, "after": after},
    )
    return after


__all__ = [
    "ExpertInfo",
    "LeaveView",
    "OnCallNow",
    "RepeatConflict",
    "RotaSummary",
    "RotaView",
    "ShiftEdit",
    "ShiftView",
    "WarningView",
    "add_leave",
    "add_shift",
    "delete_leave",
    "delete_shift",
    "edit_shift",
    "experts",
    "list_leave",
    "list_rotas",
    "on_call_now",
    "repeat_week",
    "rota_view",
    "set_skills",
    "skills_of",
    "warnings_summary",
]
