"""Demand for visiting experts: written by the supported institution (the site) under one of its
active agreements, decided by the supporting one; the planner takes the approved demand.

Who may do what:

- ``DISPATCH_DEMAND`` at the site: add demand, change it while a draft (or after a rejection,
  which makes it a draft again), submit it, withdraw it;
- ``DISPATCH_DEMAND`` at the supporting institution: approve or reject submitted demand (a
  rejection says why);
- ``DISPATCH_READ`` at either: read it (the supporter does not see drafts).

Other institutions see nothing (404). Demand must name one of the agreement's specialties in
which the supporting institution has at least one expert taking part in dispatch, and lie
inside the agreement's period; each kind needs its amounts (see ``rules.demand_problems``).
Each step carries the version read (409 ``stale_version`` otherwise) and is audited.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from medcircle.agreements.domain import AgreementStatus, status_on
from medcircle.agreements.models import AgreementSpecialty, CooperationAgreement
from medcircle.audit import service as audit
from medcircle.auth.domain import Actor, Permission
from medcircle.auth.models import User
from medcircle.dispatch import rules
from medcircle.dispatch.models import DispatchDemand, ExpertProfile
from medcircle.dispatch.rules import DemandAction, DemandKind, DemandStatus, Side
from medcircle.dispatch.setup_schemas import DecisionIn, DemandIn, DemandUpdate
from medcircle.kit import clock
from medcircle.kit.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from medcircle.kit.i18n import N_
from medcircle.kit.pagination import PageParams
from medcircle.registry.models import Department, Institution, SpecialtyRow

DEMAND = "dispatch_demand"

NOT_FOUND = N_("No such demand for your institution.")
UNKNOWN_AGREEMENT = N_("Your institution is not supported under an agreement with this number.")
AGREEMENT_NOT_ACTIVE = N_("The agreement is not active today: demand needs an active agreement.")
NOT_IN_AGREEMENT = N_("The agreement does not cover this specialty.")
NO_EXPERT = N_(
    "%(supporter)s has no expert taking part in dispatch in this specialty, so nobody could "
    "be sent. Ask them to set up an expert's dispatch profile first."
)
BAD_DEPARTMENT = N_("Choose one of your institution's active departments in this specialty.")
REQUIRED_DATE = N_("This date is required.")
STALE = N_("The demand was changed by someone else since you read it. Reload and try again.")
NOT_NOW: dict[DemandAction, str] = {
    DemandAction.EDIT: N_("Only draft or rejected demand can be changed."),
    DemandAction.SUBMIT: N_("Only draft demand can be submitted."),
    DemandAction.APPROVE: N_("Only submitted demand can be approved or rejected."),
    DemandAction.REJECT: N_("Only submitted demand can be approved or rejected."),
    DemandAction.WITHDRAW: N_("This demand is already withdrawn."),
}
SITE_ONLY = N_("Only the institution that asked for the demand may do this.")
SUPPORTER_ONLY = N_("Only the supporting institution may approve or reject demand.")
NOTE_REQUIRED = N_("Say why the demand is rejected.")


@dataclass(frozen=True)
class DemandView:
    row: DispatchDemand
    # which side the reader is on, and what they may do now
    side: Side
    actions: tuple[DemandAction, ...]
    site: Institution
    supporter: Institution
    specialty: SpecialtyRow
    agreement_code: str
    department: Department | None


@dataclass(frozen=True)
class AgreementChoice:
    """An active agreement under which the actor's institution may ask for experts."""

    agreement: CooperationAgreement
    supporter: Institution
    first_day: date
    last_day: date
    specialties: tuple[SpecialtyRow, ...]


# --- access -----------------------------------------------------------------------------------


def can_read(actor: Actor) -> bool:
    return actor.can(Permission.DISPATCH_READ)


def can_write(actor: Actor) -> bool:
    return actor.can(Permission.DISPATCH_DEMAND)


def _require_read(actor: Actor) -> None:
    if not can_read(actor):
        raise Forbidden()


def _require_write(actor: Actor) -> None:
    if not can_write(actor):
        raise Forbidden()


def _invalid(problems: Sequence[rules.Problem | FieldError]) -> ValidationFailed:
    errors = [
        p
        if isinstance(p, FieldError)
        else FieldError(p.field, p.message, p.params_dict, code=p.code)
        for p in problems
    ]
    return ValidationFailed(code=errors[0].code, field_errors=errors)


def _valid_id(value: int) -> bool:
    return 0 < value < 2**31


def side_of(actor: Actor, row: DispatchDemand) -> Side | None:
    """The reader's side of the demand, or None when it is not theirs to see (the supporter
    does not see drafts)."""
    if row.site_institution_id == actor.institution_id:
        return Side.SITE
    if row.supporting_institution_id == actor.institution_id and row.status != DemandStatus.DRAFT:
        return Side.SUPPORTER
    return None


def _actions(actor: Actor, row: DispatchDemand, side: Side) -> tuple[DemandAction, ...]:
    if not can_write(actor):
        return ()
    return tuple(rules.actions_for(DemandStatus(row.status), side))


# --- reading ----------------------------------------------------------------------------------


def _views(session: Session, actor: Actor, rows: Sequence[DispatchDemand]) -> list[DemandView]:
    inst_ids = {r.site_institution_id for r in rows} | {r.supporting_institution_id for r in rows}
    insts = _by_id(session, Institution, inst_ids)
    codes = sorted({r.specialty_code for r in rows})
    specialties = {
        s.code: s for s in session.scalars(select(SpecialtyRow).where(SpecialtyRow.code.in_(codes)))
    }
    agreement_codes: dict[int, str] = {
        aid: code
        for aid, code in session.execute(
            select(CooperationAgreement.id, CooperationAgreement.code).where(
                CooperationAgreement.id.in_(sorted({r.agreement_id for r in rows}))
            )
        )
    }
    departments = _by_id(
        session, Department, {r.department_id for r in rows if r.department_id is not None}
    )
    out = []
    for r in rows:
        side = side_of(actor, r)
        assert side is not None
        out.append(
            DemandView(
                row=r,
                side=side,
                actions=_actions(actor, r, side),
                site=insts[r.site_institution_id],
                supporter=insts[r.supporting_institution_id],
                specialty=specialties[r.specialty_code],
                agreement_code=agreement_codes.get(r.agreement_id, "?"),
                department=departments.get(r.department_id) if r.department_id else None,
            )
        )
    return out


def _by_id(session: Session, model: Any, ids: Iterable[int]) -> dict[int, Any]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    found: list[Any] = list(session.scalars(select(model).where(model.id.in_(wanted))))
    return {x.id: x for x in found}


def list_demand(
    session: Session,
    actor: Actor,
    *,
    side: Side | None = None,
    status: DemandStatus | None = None,
    page: PageParams | None = None,
) -> tuple[list[DemandView], int]:
    """Demand of the actor's institution as the site, as the supporter (no drafts), or both;
    optionally of one status; soonest first."""
    _require_read(actor)
    me = actor.institution_id
    as_site = DispatchDemand.site_institution_id == me
    as_supporter = (DispatchDemand.supporting_institution_id == me) & (
        DispatchDemand.status != DemandStatus.DRAFT.value
    )
    where: list[Any] = [
        as_site
        if side is Side.SITE
        else as_supporter
        if side is Side.SUPPORTER
        else or_(as_site, as_supporter)
    ]
    if status is not None:
        where.append(DispatchDemand.status == status.value)
    total = int(session.scalar(select(func.count(DispatchDemand.id)).where(*where)) or 0)
    query = (
        select(DispatchDemand).where(*where).order_by(DispatchDemand.starts_on, DispatchDemand.id)
    )
    if page is not None:
        query = query.offset(page.offset).limit(page.size)
    return _views(session, actor, list(session.scalars(query))), total


def _visible(session: Session, actor: Actor, demand_id: int) -> tuple[DispatchDemand, Side]:
    row = session.get(DispatchDemand, demand_id) if _valid_id(demand_id) else None
    side = side_of(actor, row) if row is not None else None
    if row is None or side is None:
        raise NotFound(NOT_FOUND)
    return row, side


def get_demand(session: Session, actor: Actor, demand_id: int) -> DemandView:
    """One demand the actor's institution asked for or is asked for."""
    _require_read(actor)
    row, _ = _visible(session, actor, demand_id)
    return _views(session, actor, [row])[0]


def agreement_choices(session: Session, actor: Actor) -> list[AgreementChoice]:
    """The agreements active today under which the actor's institution is supported, with
    their specialties: where its demand may go."""
    _require_read(actor)
    today = clock.today()
    rows = session.scalars(
        select(CooperationAgreement)
        .where(
            CooperationAgreement.supported_institution_id == actor.institution_id,
            CooperationAgreement.starts_on <= today,
            CooperationAgreement.ends_on > today,
        )
        .order_by(CooperationAgreement.starts_on, CooperationAgreement.id)
    ).all()
    rows = [
        a
        for a in rows
        if status_on(a.starts_on, a.ends_on, a.terminated_on, today) is AgreementStatus.ACTIVE
    ]
    if not rows:
        return []
    pairs = session.execute(
        select(AgreementSpecialty.agreement_id, SpecialtyRow)
        .join(SpecialtyRow, SpecialtyRow.code == AgreementSpecialty.specialty_code)
        .where(AgreementSpecialty.agreement_id.in_([a.id for a in rows]))
        .order_by(SpecialtyRow.code)
    ).all()
    insts = _by_id(session, Institution, {a.supporting_institution_id for a in rows})
    return [
        AgreementChoice(
            a,
            insts[a.supporting_institution_id],
            a.starts_on,
            rules.agreement_last_day(a.ends_on, a.terminated_on),
            tuple(s for aid, s in pairs if aid == a.id),
        )
        for a in rows
        if any(aid == a.id for aid, _ in pairs)
    ]


def site_departments(session: Session, actor: Actor) -> list[Department]:
    """The active departments of the actor's institution (where visiting experts may work)."""
    return list(
        session.scalars(
            select(Department)
            .where(
                Department.institution_id == actor.institution_id, Department.is_active.is_(True)
            )
            .order_by(Department.specialty_code, Department.id)
        )
    )


# --- checks -----------------------------------------------------------------------------------


def _agreement(session: Session, actor: Actor, agreement_id: int) -> CooperationAgreement:
    a = session.get(CooperationAgreement, agreement_id) if _valid_id(agreement_id) else None
    if a is None or a.supported_institution_id != actor.institution_id:
        raise _invalid([FieldError("agreement_id", UNKNOWN_AGREEMENT, code="unknown_agreement")])
    return a


def _require_active(a: CooperationAgreement) -> None:
    if status_on(a.starts_on, a.ends_on, a.terminated_on, clock.today()) is not (
        AgreementStatus.ACTIVE
    ):
        raise _invalid(
            [FieldError("agreement_id", AGREEMENT_NOT_ACTIVE, code="agreement_not_active")]
        )


def has_expert(session: Session, institution_id: int, specialty_code: str) -> bool:
    """Whether the institution has an active user with an active dispatch profile in the
    specialty who may visit on some day (most days a week above 0)."""
    found = session.scalar(
        select(ExpertProfile.user_id)
        .join(User, User.id == ExpertProfile.user_id)
        .where(
            User.institution_id == institution_id,
            User.is_active.is_(True),
            ExpertProfile.is_active.is_(True),
            ExpertProfile.specialty_code == specialty_code,
            ExpertProfile.max_days_per_week > 0,
        )
        .limit(1)
    )
    return found is not None


def _require_expert(session: Session, a: CooperationAgreement, specialty_code: str) -> None:
    if not has_expert(session, a.supporting_institution_id, specialty_code):
        supporter = session.get(Institution, a.supporting_institution_id)
        name = supporter.name_zh if supporter is not None else "?"
        raise _invalid(
            [
                FieldError(
                    "specialty_code",
                    NO_EXPERT,
                    {"supporter": name},
                    code="no_expert_in_specialty",
                )
            ]
        )


@dataclass
class _Wanted:
    """The demand's fields after defaults, before checks."""

    specialty_code: str
    kind: DemandKind
    visits_per_week: int | None
    positions: int | None
    day: date | None
    skill: str | None
    starts_on: date | None
    ends_on: date | None
    department_id: int | None
    note: str | None


def _check(
    session: Session, actor: Actor, a: CooperationAgreement, w: _Wanted
) -> tuple[date, date, int | None]:
    """Refuse what is wrong with ``w`` under ``a`` (all field problems at once); the period
    and the department to store."""
    _require_active(a)
    codes = set(
        session.scalars(
            select(AgreementSpecialty.specialty_code).where(AgreementSpecialty.agreement_id == a.id)
        )
    )
    if w.specialty_code not in codes:
        raise _invalid(
            [FieldError("specialty_code", NOT_IN_AGREEMENT, code="specialty_not_in_agreement")]
        )
    problems: list[rules.Problem | FieldError] = []
    if w.kind is DemandKind.SPECIAL and w.day is not None:
        w.starts_on = w.starts_on or w.day
        w.ends_on = w.ends_on or w.day
    for name in ("starts_on", "ends_on"):
        if getattr(w, name) is None:
            problems.append(FieldError(name, REQUIRED_DATE, code="required"))
    department_id = w.department_id
    if department_id is None:
        found = [
            d.id for d in site_departments(session, actor) if d.specialty_code == w.specialty_code
        ]
        department_id = found[0] if len(found) == 1 else None
    else:
        d = session.get(Department, department_id)
        if (
            d is None
            or d.institution_id != actor.institution_id
            or not d.is_active
            or d.specialty_code != w.specialty_code
        ):
            problems.append(FieldError("department_id", BAD_DEPARTMENT, code="bad_department"))
    if w.starts_on is not None and w.ends_on is not None:
        terms = rules.DemandTerms(
            w.kind, w.starts_on, w.ends_on, w.visits_per_week, w.positions, w.day, w.skill
        )
        first, last = a.starts_on, rules.agreement_last_day(a.ends_on, a.terminated_on)
        problems.extend(rules.demand_problems(terms, first, last, clock.today()))
    if problems:
        raise _invalid(problems)
    _require_expert(session, a, w.specialty_code)
    assert w.starts_on is not None and w.ends_on is not None
    return w.starts_on, w.ends_on, department_id


def _store(
    row: DispatchDemand, w: _Wanted, starts_on: date, ends_on: date, dept: int | None
) -> None:
    """Write the checked fields; the amounts of other kinds are cleared."""
    row.specialty_code = w.specialty_code
    row.kind = w.kind.value
    row.visits_per_week = w.visits_per_week if w.kind is DemandKind.VISITS else None
    row.positions = w.positions if w.kind is DemandKind.RESIDENT else None
    special = w.kind is DemandKind.SPECIAL
    row.day = w.day if special else None
    row.skill = rules.normalise_skill(w.skill or "") if special else None
    row.starts_on, row.ends_on = starts_on, ends_on
    row.department_id = dept
    row.note = w.note or None


def _detail(row: DispatchDemand) -> dict[str, Any]:
    return {
        "agreement_id": row.agreement_id,
        "site_institution_id": row.site_institution_id,
        "supporting_institution_id": row.supporting_institution_id,
        "specialty": row.specialty_code,
        "kind": row.kind,
        "visits_per_week": row.visits_per_week,
        "positions": row.positions,
        "day": row.day.isoformat() if row.day else None,
        "skill": row.skill,
        "starts_on": row.starts_on.isoformat(),
        "ends_on": row.ends_on.isoformat(),
        "status": row.status,
    }


# --- writing ----------------------------------------------------------------------------------


def create_demand(session: Session, actor: Actor, data: DemandIn) -> DispatchDemand:
    """Ask the supporting institution of one of the actor's institution's active agreements for
    experts (a draft, to be submitted)."""
    _require_write(actor)
    a = _agreement(session, actor, data.agreement_id)
    w = _Wanted(
        data.specialty_code,
        data.kind,
        data.visits_per_week,
        data.positions,
        data.day,
        data.skill,
        data.starts_on,
        data.ends_on,
        data.department_id,
        data.note,
    )
    starts_on, ends_on, dept = _check(session, actor, a, w)
    now = clock.now()
    row = DispatchDemand(
        agreement_id=a.id,
        site_institution_id=actor.institution_id,
        supporting_institution_id=a.supporting_institution_id,
        status=DemandStatus.DRAFT.value,
        created_by_user_id=actor.user_id,
        created_at=now,
        updated_at=now,
        version=1,
    )
    _store(row, w, starts_on, ends_on, dept)
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "dispatch.demand_create",
        object_type=DEMAND,
        object_id=row.id,
        detail=_detail(row),
    )
    return row


def _step(
    session: Session, actor: Actor, demand_id: int, action: DemandAction, version: int
) -> tuple[DispatchDemand, DemandStatus]:
    """The demand and where ``action`` takes it, if the actor's side may take it now and the
    demand still has the version read."""
    _require_write(actor)
    row, side = _visible(session, actor, demand_id)
    status = DemandStatus(row.status)
    target = rules.next_status(status, action)
    needed = rules.side_of(status, action)
    if needed is not None and needed is not side:
        raise Forbidden(
            SITE_ONLY if needed is Side.SITE else SUPPORTER_ONLY,
            code="site_only" if needed is Side.SITE else "supporter_only",
        )
    if row.version != version:
        raise Conflict(STALE, code="stale_version")
    if target is None:
        raise Conflict(NOT_NOW[action], code="wrong_status", status=status.value)
    return row, target


def _changed(session: Session, row: DispatchDemand) -> None:
    row.version += 1
    row.updated_at = clock.now()
    session.flush()


def edit_demand(
    session: Session, actor: Actor, demand_id: int, data: DemandUpdate
) -> DispatchDemand:
    """Change draft or rejected demand (which becomes a draft again); only the fields sent."""
    row, target = _step(session, actor, demand_id, DemandAction.EDIT, data.version)
    a = session.get(CooperationAgreement, row.agreement_id)
    assert a is not None
    sent = data.model_fields_set

    def pick(name: str) -> Any:
        return getattr(data, name) if name in sent else getattr(row, name)

    w = _Wanted(
        pick("specialty_code"),
        DemandKind(pick("kind")),
        pick("visits_per_week"),
        pick("positions"),
        pick("day"),
        pick("skill"),
        pick("starts_on"),
        pick("ends_on"),
        pick("department_id"),
        pick("note"),
    )
    if w.kind is DemandKind.SPECIAL and "day" in sent and not {"starts_on", "ends_on"} & sent:
        # a special request moved to another day moves its period with it
        w.starts_on = w.ends_on = w.day
    before = _detail(row)
    starts_on, ends_on, dept = _check(session, actor, a, w)
    _store(row, w, starts_on, ends_on, dept)
    row.status = target.value
    row.decided_by_user_id, row.decided_at, row.decision_note = None, None, None
    _changed(session, row)
    audit.record(
        session,
        actor,
        "dispatch.demand_edit",
        object_type=DEMAND,
        object_id=row.id,
        detail={"before": before, "after": _detail(row)},
    )
    return row


def submit_demand(
    session: Session, actor: Actor, demand_id: int, data: DecisionIn
) -> DispatchDemand:
    """Send draft demand to the supporting institution for its decision (the rules are checked
    again: the agreement and the supporter's experts may have changed)."""
    row, target = _step(session, actor, demand_id, DemandAction.SUBMIT, data.version)
    a = session.get(CooperationAgreement, row.agreement_id)
    assert a is not None
    w = _Wanted(
        row.specialty_code,
        DemandKind(row.kind),
        row.visits_per_week,
        row.positions,
        row.day,
        row.skill,
        row.starts_on,
        row.ends_on,
        row.department_id,
        row.note,
    )
    _check(session, actor, a, w)
    return _move(session, actor, row, target, "dispatch.demand_submit", data.note)


def approve_demand(
    session: Session, actor: Actor, demand_id: int, data: DecisionIn
) -> DispatchDemand:
    """The supporting institution takes on submitted demand: the planner will plan it."""
    row, target = _step(session, actor, demand_id, DemandAction.APPROVE, data.version)
    a = session.get(CooperationAgreement, row.agreement_id)
    assert a is not None
    _require_active(a)
    _require_expert(session, a, row.specialty_code)
    return _decide(session, actor, row, target, "dispatch.demand_approve", data.note)


def reject_demand(
    session: Session, actor: Actor, demand_id: int, data: DecisionIn
) -> DispatchDemand:
    """The supporting institution declines submitted demand, saying why."""
    row, target = _step(session, actor, demand_id, DemandAction.REJECT, data.version)
    if not (data.note or "").strip():
        raise _invalid([FieldError("note", NOTE_REQUIRED, code="note_required")])
    return _decide(session, actor, row, target, "dispatch.demand_reject", data.note)


def withdraw_demand(
    session: Session, actor: Actor, demand_id: int, data: DecisionIn
) -> DispatchDemand:
    """The site no longer needs the demand (approved demand drops out of later plans)."""
    row, target = _step(session, actor, demand_id, DemandAction.WITHDRAW, data.version)
    return _move(session, actor, row, target, "dispatch.demand_withdraw", data.note)


def _decide(
    session: Session,
    actor: Actor,
    row: DispatchDemand,
    target: DemandStatus,
    action: str,
    note: str | None,
) -> DispatchDemand:
    row.decided_by_user_id = actor.user_id
    row.decided_at = clock.now()
    row.decision_note = (note or "").strip() or None
    return _move(session, actor, row, target, action, None)


def _move(
    session: Session,
    actor: Actor,
    row: DispatchDemand,
    target: DemandStatus,
    action: str,
    note: str | None,
) -> DispatchDemand:
    before = row.status
    row.status = target.value
    _changed(session, row)
    detail: dict[str, Any] = {"from": before, "to": row.status}
    if row.decision_note and action in ("dispatch.demand_approve", "dispatch.demand_reject"):
        detail["note"] = row.decision_note
    if note:
        detail["note"] = note
    audit.record(session, actor, action, object_type=DEMAND, object_id=row.id, detail=detail)
    return row


# --- for the planner --------------------------------------------------------------------------


def approved_demand(
    session: Session, supporting_institution_ids: Iterable[int], starts_on: date, ends_on: date
) -> list[DispatchDemand]:
    """The approved demand made of ``supporting_institution_ids`` whose period overlaps
    ``starts_on`` to ``ends_on`` (both included), by site, specialty and start. No access
    check: the planner's service checks its actor."""
    ids = sorted(set(supporting_institution_ids))
    if not ids:
        return []
    return list(
        session.scalars(
            select(DispatchDemand)
            .where(
                DispatchDemand.supporting_institution_id.in_(ids),
                DispatchDemand.status == DemandStatus.APPROVED.value,
                DispatchDemand.starts_on <= ends_on,
                DispatchDemand.ends_on >= starts_on,
            )
            .order_by(
                DispatchDemand.site_institution_id,
                DispatchDemand.specialty_code,
                DispatchDemand.starts_on,
                DispatchDemand.id,
            )
        )
    )


__all__ = [
    "AgreementChoice",
    "DemandView",
    "agreement_choices",
    "approve_demand",
    "approved_demand",
    "create_demand",
    "edit_demand",
    "get_demand",
    "has_expert",
    "list_demand",
    "reject_demand",
    "submit_demand",
    "withdraw_demand",
]
