"""Experts' availability for dispatch: their profile (specialty, most visit days a week, weekly
home duties, whether they take part), single duty days, named skills, and their leave (the
on-call rota's leave, shown here, kept there).

Everything is about the actor's own institution's active experts: another institution's
experts do not exist for them (404). Reading needs ``DISPATCH_READ``; keeping needs
``DISPATCH_PLAN`` (coordinators, institution admins). Every write is audited.

An expert whose home duties cover all five working days and who may visit some days a week
could never be sent: that is refused (``never_available``) with the advice to switch taking
part off instead.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from medcircle.audit import service as audit
from medcircle.auth.domain import Actor, Role
from medcircle.auth.models import User
from medcircle.auth.repository import display_names
from medcircle.consultations.models import ExpertLeave
from medcircle.dispatch import rules
from medcircle.dispatch.access import (
    require_manage,
    require_read,
    valid_id,
)
from medcircle.dispatch.models import DispatchSkill, ExpertDuty, ExpertProfile
from medcircle.dispatch.setup_schemas import DutyIn, ProfileIn, SkillIn
from medcircle.kit import clock
from medcircle.kit.clock import CST
from medcircle.kit.errors import Conflict, FieldError, NotFound, ValidationFailed
from medcircle.kit.i18n import N_
from medcircle.referrals.service import users_with_roles
from medcircle.registry.models import Practitioner, SpecialtyRow

PROFILE = "dispatch_expert"
DUTY = "dispatch_duty"
SKILL = "dispatch_skill"

# how far ahead duties and leave are shown
AHEAD_DAYS = 56

NOT_FOUND = N_("No such expert, duty day or skill at your institution.")
UNKNOWN_SPECIALTY = N_("There is no specialty with the code %(code)s.")
STALE = N_("The profile was changed by someone else since you read it. Reload and try again.")
DUTY_EXISTS = N_("%(day)s is already a duty day of this expert.")
DUTY_PAST = N_("Record duty days from today on.")
SKILL_EXISTS = N_("The expert already has the skill %(skill)s.")
TOO_MANY_SKILLS = N_("An expert may have at most 30 skills.")


@dataclass(frozen=True)
class LeaveSpan:
    starts_at: datetime
    ends_at: datetime


@dataclass
class ExpertSetup:
    """One expert as the dispatch pages show them."""

    user_id: int
    name: str
    # the specialty of their practitioner record (the profile's default)
    practice_specialty: str | None
    profile: ExpertProfile | None
    skills: list[DispatchSkill] = field(default_factory=list)
    duties: list[ExpertDuty] = field(default_factory=list)
    leave: list[LeaveSpan] = field(default_factory=list)

    @property
    def takes_part(self) -> bool:
        return self.profile is not None and self.profile.is_active


@dataclass(frozen=True)
class ExpertAvailability:
    """What the planner needs of one expert over a horizon."""

    user_id: int
    institution_id: int
    specialty_code: str
    max_days_per_week: int
    skills: frozenset[str]
    # working days of home duty: the weekly pattern over the horizon and single duty days
    duty_days: frozenset[date]
    # working days touched by leave
    leave_days: frozenset[date]


# --- access -----------------------------------------------------------------------------------


def _invalid(problems: list[rules.Problem | FieldError]) -> ValidationFailed:
    errors = [
        p
        if isinstance(p, FieldError)
        else FieldError(p.field, p.message, p.params_dict, code=p.code)
        for p in problems
    ]
    return ValidationFailed(code=errors[0].code, field_errors=errors)


def institution_experts(session: Session, institution_ids: Iterable[int]) -> list[int]:
    """The active users holding the expert role at the institutions."""
    return users_with_roles(session, institution_ids, [Role.EXPERT.value])


def _expert(session: Session, actor: Actor, user_id: int) -> User:
    """An active expert of the actor's institution, else 404."""
    u = session.get(User, user_id) if valid_id(user_id) else None
    if (
        u is None
        or u.institution_id != actor.institution_id
        or user_id not in institution_experts(session, [actor.institution_id])
    ):
        raise NotFound(NOT_FOUND)
    return u


def _lock_user(session: Session, user_id: int) -> None:
    """Serialise writes about one expert (a row lock on PostgreSQL)."""
    session.execute(select(User.id).where(User.id == user_id).with_for_update())


# --- reading ----------------------------------------------------------------------------------


def _setups(session: Session, ids: list[int], start: date) -> list[ExpertSetup]:
    if not ids:
        return []
    names = display_names(session, ids)
    practice: dict[int, str] = {}
    for uid, code in session.execute(
        select(Practitioner.user_id, Practitioner.specialty_code)
        .where(Practitioner.user_id.in_(ids), Practitioner.is_active.is_(True))
        .order_by(Practitioner.id)
    ):
        if uid is not None:
            practice.setdefault(uid, code)
    profiles = {
        p.user_id: p
        for p in session.scalars(select(ExpertProfile).where(ExpertProfile.user_id.in_(ids)))
    }
    skills: dict[int, list[DispatchSkill]] = defaultdict(list)
    for s in session.scalars(
        select(DispatchSkill).where(DispatchSkill.user_id.in_(ids)).order_by(DispatchSkill.skill)
    ):
        skills[s.user_id].append(s)
    end = start + timedelta(days=AHEAD_DAYS)
    duties: dict[int, list[ExpertDuty]] = defaultdict(list)
    for d in session.scalars(
        select(ExpertDuty)
        .where(ExpertDuty.user_id.in_(ids), ExpertDuty.day >= start, ExpertDuty.day <= end)
        .order_by(ExpertDuty.day)
    ):
        duties[d.user_id].append(d)
    leave: dict[int, list[LeaveSpan]] = defaultdict(list)
    for lv in _leave_rows(session, ids, start, end):
        leave[lv.user_id].append(LeaveSpan(lv.starts_at, lv.ends_at))
    out = [
        ExpertSetup(
            uid,
            names.get(uid, "?"),
            practice.get(uid),
            profiles.get(uid),
            skills[uid],
            duties[uid],
            leave[uid],
        )
        for uid in ids
    ]
    return sorted(out, key=lambda e: (e.name, e.user_id))


def _leave_rows(session: Session, ids: Iterable[int], start: date, end: date) -> list[ExpertLeave]:
    """Leave of the experts touching the days ``start`` to ``end`` (China time)."""
    wanted = sorted(set(ids))
    if not wanted:
        return []
    begin = datetime(start.year, start.month, start.day, tzinfo=CST)
    finish = datetime(end.year, end.month, end.day, tzinfo=CST) + timedelta(days=1)
    return list(
        session.scalars(
            select(ExpertLeave)
            .where(
                ExpertLeave.user_id.in_(wanted),
                ExpertLeave.starts_at < finish,
                ExpertLeave.ends_at > begin,
            )
            .order_by(ExpertLeave.starts_at, ExpertLeave.id)
        )
    )


def list_experts(session: Session, actor: Actor) -> list[ExpertSetup]:
    """The active experts of the actor's institution with their dispatch set-up, by name;
    duties and leave of the next eight weeks."""
    require_read(actor)
    ids = institution_experts(session, [actor.institution_id])
    return _setups(session, ids, clock.today())


def get_expert(session: Session, actor: Actor, user_id: int) -> ExpertSetup:
    """One expert of the actor's institution with their dispatch set-up."""
    require_read(actor)
    _expert(session, actor, user_id)
    return _setups(session, [user_id], clock.today())[0]


def specialties(session: Session) -> list[SpecialtyRow]:
    return list(session.scalars(select(SpecialtyRow).order_by(SpecialtyRow.code)))


# --- writing ----------------------------------------------------------------------------------


def _profile_detail(p: ExpertProfile) -> dict[str, Any]:
    return {
        "specialty": p.specialty_code,
        "max_days_per_week": p.max_days_per_week,
        "duty_weekdays": list(p.duty_weekdays),
        "is_active": p.is_active,
    }


def save_profile(session: Session, actor: Actor, user_id: int, data: ProfileIn) -> ExpertProfile:
    """Set an expert's dispatch profile (a new one, or a change with the version read)."""
    require_manage(actor)
    u = _expert(session, actor, user_id)
    problems: list[rules.Problem | FieldError] = []
    code = data.specialty_code
    if len(code) > 32 or session.get(SpecialtyRow, code) is None:
        problems.append(
            FieldError(
                "specialty_code", UNKNOWN_SPECIALTY, {"code": code[:32]}, "unknown_specialty"
            )
        )
    weekdays = sorted(set(data.duty_weekdays))
    problems.extend(rules.profile_problems(data.max_days_per_week, weekdays, data.is_active))
    if problems:
        raise _invalid(problems)
    _lock_user(session, u.id)
    row = session.get(ExpertProfile, u.id)
    now = clock.now()
    if row is None:
        row = ExpertProfile(user_id=u.id, version=1)
        before: dict[str, Any] | None = None
        session.add(row)
    else:
        if data.version != row.version:
            raise Conflict(STALE, code="stale_version")
        before = _profile_detail(row)
        row.version += 1
    row.specialty_code = code
    row.max_days_per_week = data.max_days_per_week
    row.duty_weekdays = weekdays
    row.is_active = data.is_active
    row.updated_at = now
    session.flush()
    audit.record(
        session,
        actor,
        "dispatch.profile_save",
        object_type=PROFILE,
        object_id=u.id,
        detail={"before": before, "after": _profile_detail(row)},
    )
    return row


def add_duty(session: Session, actor: Actor, user_id: int, data: DutyIn) -> ExpertDuty:
    """Record a single day of home duty (a working day from today on)."""
    require_manage(actor)
    u = _expert(session, actor, user_id)
    if data.day < clock.today():
        raise _invalid([FieldError("day", DUTY_PAST, code="in_the_past")])
    if data.day.weekday() not in rules.WORKING_WEEKDAYS:
        raise _invalid([FieldError("day", rules.DAY_NOT_WORKING, code="not_a_working_day")])
    _lock_user(session, u.id)
    exists = session.scalar(
        select(ExpertDuty.id).where(ExpertDuty.user_id == u.id, ExpertDuty.day == data.day)
    )
    if exists is not None:
        params = {"day": data.day.isoformat()}
        raise Conflict(
            DUTY_EXISTS,
            code="duty_exists",
            field_errors=[FieldError("day", DUTY_EXISTS, params, code="duty_exists")],
            **params,
        )
    row = ExpertDuty(user_id=u.id, day=data.day, reason=data.reason or None)
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "dispatch.duty_add",
        object_type=DUTY,
        object_id=row.id,
        detail={"user_id": u.id, "day": row.day.isoformat()},
    )
    return row


def remove_duty(session: Session, actor: Actor, user_id: int, duty_id: int) -> None:
    """Remove a single duty day of an expert."""
    require_manage(actor)
    u = _expert(session, actor, user_id)
    row = session.get(ExpertDuty, duty_id) if valid_id(duty_id) else None
    if row is None or row.user_id != u.id:
        raise NotFound(NOT_FOUND)
    detail = {"user_id": u.id, "day": row.day.isoformat()}
    session.delete(row)
    session.flush()
    audit.record(
        session, actor, "dispatch.duty_remove", object_type=DUTY, object_id=duty_id, detail=detail
    )


def add_skill(session: Session, actor: Actor, user_id: int, data: SkillIn) -> DispatchSkill:
    """Give an expert a named skill, stored normalised (lower case, single spaces)."""
    require_manage(actor)
    u = _expert(session, actor, user_id)
    skill = rules.normalise_skill(data.skill)
    if not skill:
        raise _invalid([FieldError("skill", rules.SKILL_REQUIRED, code="skill_required")])
    if not rules.valid_skill(skill):
        raise _invalid([FieldError("skill", rules.BAD_SKILL, code="invalid_skill")])
    _lock_user(session, u.id)
    have = list(session.scalars(select(DispatchSkill.skill).where(DispatchSkill.user_id == u.id)))
    if skill in have:
        params = {"skill": skill}
        raise Conflict(
            SKILL_EXISTS,
            code="skill_exists",
            field_errors=[FieldError("skill", SKILL_EXISTS, params, code="skill_exists")],
            **params,
        )
    if len(have) >= rules.MAX_SKILLS:
        raise _invalid([FieldError("skill", TOO_MANY_SKILLS, code="too_many_skills")])
    row = DispatchSkill(user_id=u.id, skill=skill)
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "dispatch.skill_add",
        object_type=SKILL,
        object_id=row.id,
        detail={"user_id": u.id, "skill": skill},
    )
    return row


def remove_skill(session: Session, actor: Actor, user_id: int, skill_id: int) -> None:
    """Take a named skill from an expert."""
    require_manage(actor)
    u = _expert(session, actor, user_id)
    row = session.get(DispatchSkill, skill_id) if valid_id(skill_id) else None
    if row is None or row.user_id != u.id:
        raise NotFound(NOT_FOUND)
    detail = {"user_id": u.id, "skill": row.skill}
    session.delete(row)
    session.flush()
    audit.record(
        session,
        actor,
        "dispatch.skill_remove",
        object_type=SKILL,
        object_id=skill_id,
        detail=detail,
    )


# --- for the planner --------------------------------------------------------------------------


def experts_for_planning(
    session: Session, institution_ids: Iterable[int], starts_on: date, ends_on: date
) -> list[ExpertAvailability]:
    """The experts of ``institution_ids`` who take part in dispatch (active user and profile,
    at least one visit day a week), with their duty and leave days among the working days of
    ``starts_on`` to ``ends_on``; by institution and user. No access check: the planner's
    service checks its actor."""
    ids = sorted(set(institution_ids))
    if not ids:
        return []
    rows = session.execute(
        select(ExpertProfile, User.institution_id)
        .join(User, User.id == ExpertProfile.user_id)
        .where(
            User.institution_id.in_(ids),
            User.is_active.is_(True),
            ExpertProfile.is_active.is_(True),
            ExpertProfile.max_days_per_week > 0,
        )
        .order_by(User.institution_id, User.id)
    ).all()
    users = [p.user_id for p, _ in rows]
    if not users:
        return []
    days = rules.working_days(starts_on, ends_on)
    skills: dict[int, set[str]] = defaultdict(set)
    for uid, skill in session.execute(
        select(DispatchSkill.user_id, DispatchSkill.skill).where(DispatchSkill.user_id.in_(users))
    ):
        skills[uid].add(skill)
    singles: dict[int, set[date]] = defaultdict(set)
    for uid, day in session.execute(
        select(ExpertDuty.user_id, ExpertDuty.day).where(
            ExpertDuty.user_id.in_(users), ExpertDuty.day >= starts_on, ExpertDuty.day <= ends_on
        )
    ):
        singles[uid].add(day)
    leave: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for lv in _leave_rows(session, users, starts_on, ends_on):
        leave[lv.user_id].append((lv.starts_at, lv.ends_at))
    return [
        ExpertAvailability(
            user_id=p.user_id,
            institution_id=inst,
            specialty_code=p.specialty_code,
            max_days_per_week=p.max_days_per_week,
            skills=frozenset(skills[p.user_id]),
            duty_days=rules.duty_days(days, p.duty_weekdays or [], singles[p.user_id]),
            leave_days=rules.leave_days(days, leave[p.user_id]),
        )
        for p, inst in rows
    ]


__all__ = [
    "ExpertAvailability",
    "ExpertSetup",
    "LeaveSpan",
    "add_duty",
    "add_skill",
    "experts_for_planning",
    "get_expert",
    "list_experts",
    "remove_duty",
    "remove_skill",
    "save_profile",
]
