"""Recording what visits achieved: one record per expert and trip to a site, with the dates,
the department, outpatients seen, operations (ICD-10 and procedure), ward rounds, teaching
sessions and difficult cases consulted. The records feed the visit measures.

Who may do what:

- ``VISIT_RECORD``: experts record and correct their own visits; planners (those who also
  hold ``DISPATCH_PLAN``: institution admins, coordinators) those of any expert of their
  institution.
- ``DISPATCH_READ``: read the records of one's institution, as the experts' home or as the
  site. Commission analysts and platform admins (``AGREEMENT_MANAGE_ALL``) read every record.
  A record of other institutions does not exist for anyone else (404).

Rules of a record: the site is an institution the expert's home institution supports under a
cooperation agreement active on every day of the visit (``no_agreement``); the dates are in
order, not in the future, at most 366 days apart; an expert's records do not overlap (nobody
is at two sites at once); counts are 0 or more; each operation row has a valid ICD-10 code
(``invalid_icd10`` naming the row), a procedure and a count of 1 or more; the department is
one of the site's; a record linked to a planned roster visit is that expert's.

Edits carry the version read (``stale_version`` when it changed). Every write is audited;
refusals are audited by the error handler.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, delete, func, or_, select, true, update
from sqlalchemy.orm import Session

from medcircle.agreements.models import CooperationAgreement
from medcircle.audit import service as audit
from medcircle.auth.domain import Actor, Permission, Role
from medcircle.auth.models import User, UserRole
from medcircle.auth.repository import display_names
from medcircle.dispatch import visit_rules as rules
from medcircle.dispatch.models import RosterVisit, VisitOperation, VisitRecord
from medcircle.dispatch.visit_schemas import OperationIn, VisitCreate, VisitUpdate
from medcircle.kit import clock
from medcircle.kit.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from medcircle.kit.i18n import N_
from medcircle.kit.pagination import PageParams
from medcircle.registry.models import Department, Institution, SpecialtyRow

OBJECT = "visit_record"

NOT_FOUND = N_("No visit record with this number.")
OWN_ONLY = N_("You may record only your own visits.")
NOT_EXPERT = N_("This user is not an active expert of your institution.")
UNKNOWN_SITE = N_("There is no institution with this number.")
SITE_IS_HOME = N_("The site is the expert's own institution: a visit goes to another one.")
NO_AGREEMENT = N_(
    "%(home)s does not support %(site)s under an agreement active on every day of this "
    "visit. Check the dates, or record the visit under the agreement it was made for."
)
DEPARTMENT_ELSEWHERE = N_("This department is not one of the site's.")
UNKNOWN_SPECIALTY = N_("There is no specialty with the code %(code)s.")
SPECIALTY_MISMATCH = N_("The specialty does not match the department's.")
ROSTER_NOT_THEIRS = N_("This planned visit is not one of this expert's.")
OVERLAP = N_("%(name)s already has a visit recorded from %(start)s to %(end)s.")
STALE = N_(
    "Someone else changed this record after you opened it. Reload it and apply your change again."
)


# --- views --------------------------------------------------------------------------------


@dataclass
class VisitView:
    """A record with what a reader needs next to it."""

    record: VisitRecord
    operations: list[VisitOperation]
    expert_name: str
    home: Institution
    site: Institution
    department: Department | None = None
    specialty: SpecialtyRow | None = None

    @property
    def days(self) -> int:
        return rules.visit_days(self.record.starts_on, self.record.ends_on)

    @property
    def operations_total(self) -> int:
        return sum(o.count for o in self.operations)


@dataclass(frozen=True)
class VisitFilter:
    """What the list is narrowed to: visits starting from ``start`` to ``end`` (both
    included), at a site, by an expert, from a home institution, in a specialty."""

    start: date | None = None
    end: date | None = None
    site_institution_id: int | None = None
    home_institution_id: int | None = None
    user_id: int | None = None
    specialty: str | None = None


@dataclass
class Choices:
    """What the record form offers: the experts the actor may record for, the sites their
    home institutions support (under any agreement; the dates are checked on saving), the
    sites' departments and the specialties."""

    experts: list[tuple[int, str]] = field(default_factory=list)
    sites: list[Institution] = field(default_factory=list)
    departments: list[Department] = field(default_factory=list)
    specialties: list[SpecialtyRow] = field(default_factory=list)


# --- access -------------------------------------------------------------------------------


def sees_everything(actor: Actor) -> bool:
    return actor.can(Permission.AGREEMENT_MANAGE_ALL)


def may_read(actor: Actor) -> bool:
    return sees_everything(actor) or actor.can(Permission.DISPATCH_READ)


def may_record(actor: Actor) -> bool:
    return actor.can(Permission.VISIT_RECORD)


def is_planner(actor: Actor) -> bool:
    """Records for any expert of the institution (coordinators and institution admins)."""
    return actor.can(Permission.VISIT_RECORD) and actor.can(Permission.DISPATCH_PLAN)


def may_edit(actor: Actor, record: VisitRecord) -> bool:
    """The expert themself, or a planner of the expert's home institution."""
    if not may_record(actor):
        return False
    if record.user_id == actor.user_id:
        return True
    return is_planner(actor) and record.home_institution_id == actor.institution_id


def _require_read(actor: Actor) -> None:
    if not may_read(actor):
        raise Forbidden()


def _require_record(actor: Actor) -> None:
    if not may_record(actor):
        raise Forbidden()


def scope(actor: Actor) -> ColumnElement[bool]:
    """The records the actor may see."""
    if sees_everything(actor):
        return true()
    return or_(
        VisitRecord.home_institution_id == actor.institution_id,
        VisitRecord.site_institution_id == actor.institution_id,
    )


def _invalid(problems: list[FieldError]) -> ValidationFailed:
    return ValidationFailed(code=problems[0].code, field_errors=problems)


def _bad(field_name: str, message: str, code: str, **params: Any) -> ValidationFailed:
    return ValidationFailed(
        code=code, field_errors=[FieldError(field_name, message, params, code=code)]
    )


# --- reading ------------------------------------------------------------------------------


def _views(session: Session, records: Sequence[VisitRecord]) -> list[VisitView]:
    if not records:
        return []
    ids = [r.id for r in records]
    ops: dict[int, list[VisitOperation]] = {}
    for op in session.scalars(
        select(VisitOperation)
        .where(VisitOperation.visit_id.in_(ids))
        .order_by(VisitOperation.visit_id, VisitOperation.id)
    ):
        ops.setdefault(op.visit_id, []).append(op)
    names = display_names(session, (r.user_id for r in records))
    inst_ids = {r.home_institution_id for r in records} | {r.site_institution_id for r in records}
    insts = {
        i.id: i for i in session.scalars(select(Institution).where(Institution.id.in_(inst_ids)))
    }
    dept_ids = {r.department_id for r in records if r.department_id is not None}
    depts = (
        {d.id: d for d in session.scalars(select(Department).where(Department.id.in_(dept_ids)))}
        if dept_ids
        else {}
    )
    codes = {r.specialty_code for r in records if r.specialty_code}
    specs = (
        {
            s.code: s
            for s in session.scalars(select(SpecialtyRow).where(SpecialtyRow.code.in_(codes)))
        }
        if codes
        else {}
    )
    return [
        VisitView(
            record=r,
            operations=ops.get(r.id, []),
            expert_name=names.get(r.user_id, "?"),
            home=insts[r.home_institution_id],
            site=insts[r.site_institution_id],
            department=depts.get(r.department_id) if r.department_id else None,
            specialty=specs.get(r.specialty_code) if r.specialty_code else None,
        )
        for r in records
    ]


def _visible(session: Session, actor: Actor, visit_id: int) -> VisitRecord:
    _require_read(actor)
    record = session.scalar(select(VisitRecord).where(VisitRecord.id == visit_id, scope(actor)))
    if record is None:
        raise NotFound(NOT_FOUND)
    return record


def get_visit(session: Session, actor: Actor, visit_id: int) -> VisitView:
    """One record the actor may see (404 otherwise)."""
    return _views(session, [_visible(session, actor, visit_id)])[0]


def _filtered(actor: Actor, f: VisitFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [scope(actor)]
    if f.start is not None:
        where.append(VisitRecord.starts_on >= f.start)
    if f.end is not None:
        where.append(VisitRecord.starts_on <= f.end)
    if f.site_institution_id is not None:
        where.append(VisitRecord.site_institution_id == f.site_institution_id)
    if f.home_institution_id is not None:
        where.append(VisitRecord.home_institution_id == f.home_institution_id)
    if f.user_id is not None:
        where.append(VisitRecord.user_id == f.user_id)
    if f.specialty:
        where.append(VisitRecord.specialty_code == f.specialty)
    return where


def list_visits(
    session: Session, actor: Actor, f: VisitFilter, paging: PageParams
) -> tuple[list[VisitView], int]:
    """The records the actor may see, newest visit first."""
    _require_read(actor)
    where = _filtered(actor, f)
    total = session.scalar(select(func.count()).select_from(VisitRecord).where(*where)) or 0
    rows = session.scalars(
        select(VisitRecord)
        .where(*where)
        .order_by(VisitRecord.starts_on.desc(), VisitRecord.id.desc())
        .offset(paging.offset)
        .limit(paging.size)
    ).all()
    return _views(session, rows), total


# --- choices for the form -----------------------------------------------------------------


def _experts_of(session: Session, institution_id: int) -> list[tuple[int, str]]:
    return [
        (uid, name)
        for uid, name in session.execute(
            select(User.id, User.display_name)
            .join(UserRole, UserRole.user_id == User.id)
            .where(
                User.institution_id == institution_id,
                User.is_active.is_(True),
                UserRole.role == Role.EXPERT.value,
            )
            .order_by(User.display_name, User.id)
        ).all()
    ]


def choices(session: Session, actor: Actor) -> Choices:
    """The form's options for ``actor`` (see ``Choices``)."""
    _require_record(actor)
    if is_planner(actor):
        experts = _experts_of(session, actor.institution_id)
    else:
        experts = [(actor.user_id, actor.display_name or actor.username)]
    site_ids = set(
        session.scalars(
            select(CooperationAgreement.supported_institution_id).where(
                CooperationAgreement.supporting_institution_id == actor.institution_id
            )
        )
    )
    sites = (
        list(
            session.scalars(
                select(Institution).where(Institution.id.in_(site_ids)).order_by(Institution.code)
            )
        )
        if site_ids
        else []
    )
    departments = (
        list(
            session.scalars(
                select(Department)
                .where(Department.institution_id.in_(site_ids), Department.is_active.is_(True))
                .order_by(Department.institution_id, Department.specialty_code, Department.id)
            )
        )
        if site_ids
        else []
    )
    specialties = list(session.scalars(select(SpecialtyRow).order_by(SpecialtyRow.code)))
    return Choices(experts, sites, departments, specialties)


# --- writing ------------------------------------------------------------------------------


@dataclass
class _Values:
    """A record's values after the request is applied, before they are checked."""

    user_id: int
    site_institution_id: int
    department_id: int | None
    specialty_code: str | None
    roster_visit_id: int | None
    starts_on: date
    ends_on: date
    outpatients: int
    ward_rounds: int
    teaching_sessions: int
    difficult_cases: int
    note: str | None
    operations: list[rules.OperationLine] | None


def _expert(session: Session, actor: Actor, user_id: int) -> User:
    """The expert a record is for: oneself, or (for planners) an active expert of one's
    institution."""
    if user_id != actor.user_id and not is_planner(actor):
        raise Forbidden(OWN_ONLY)
    user = session.scalar(
        select(User)
        .join(UserRole, UserRole.user_id == User.id)
        .where(
            User.id == user_id,
            User.institution_id == actor.institution_id,
            User.is_active.is_(True),
            UserRole.role == Role.EXPERT.value,
        )
    )
    if user is None:
        raise _bad("user_id", NOT_EXPERT, "not_expert")
    return user


def _lines(rows: Sequence[OperationIn]) -> tuple[list[rules.OperationLine], list[FieldError]]:
    return rules.operation_lines([(r.icd10_code, r.procedure, r.count) for r in rows])


def _check(
    session: Session, v: _Values, expert: User, *, record_id: int | None
) -> tuple[Institution, Institution]:
    """Every rule of a record (see the module's docstring); the home and the site."""
    problems = rules.date_problems(v.starts_on, v.ends_on, clock.today())
    problems += rules.count_problems(
        {
            "outpatients": v.outpatients,
            "ward_rounds": v.ward_rounds,
            "teaching_sessions": v.teaching_sessions,
            "difficult_cases": v.difficult_cases,
        }
    )
    home = session.get(Institution, expert.institution_id)
    site = session.get(Institution, v.site_institution_id)
    assert home is not None
    if site is None:
        problems.append(FieldError("site_institution_id", UNKNOWN_SITE, code="unknown_site"))
    elif site.id == home.id:
        problems.append(FieldError("site_institution_id", SITE_IS_HOME, code="site_is_home"))
    department = session.get(Department, v.department_id) if v.department_id else None
    if v.department_id is not None and (
        department is None or site is None or department.institution_id != site.id
    ):
        problems.append(
            FieldError("department_id", DEPARTMENT_ELSEWHERE, code="department_not_at_site")
        )
        department = None
    if v.specialty_code is not None and session.get(SpecialtyRow, v.specialty_code) is None:
        problems.append(
            FieldError(
                "specialty_code",
                UNKNOWN_SPECIALTY,
                {"code": v.specialty_code},
                code="unknown_specialty",
            )
        )
    elif (
        department is not None
        and v.specialty_code is not None
        and department.specialty_code != v.specialty_code
    ):
        problems.append(FieldError("specialty_code", SPECIALTY_MISMATCH, code="specialty_mismatch"))
    if v.roster_visit_id is not None:
        planned = session.get(RosterVisit, v.roster_visit_id)
        if planned is None or planned.user_id != expert.id:
            problems.append(
                FieldError("roster_visit_id", ROSTER_NOT_THEIRS, code="roster_visit_not_theirs")
            )
    if problems:
        raise _invalid(problems)
    assert site is not None
    if not _agreement_covers(session, home.id, site.id, v.starts_on, v.ends_on):
        raise _bad(
            "site_institution_id",
            NO_AGREEMENT,
            "no_agreement",
            home=home.name_zh,
            site=site.name_zh,
        )
    clash = session.scalar(
        select(VisitRecord)
        .where(
            VisitRecord.user_id == expert.id,
            VisitRecord.starts_on <= v.ends_on,
            VisitRecord.ends_on >= v.starts_on,
            VisitRecord.id != (record_id or 0),
        )
        .order_by(VisitRecord.starts_on)
        .limit(1)
    )
    if clash is not None:
        raise _bad(
            "starts_on",
            OVERLAP,
            "visit_overlap",
            name=expert.display_name,
            start=clash.starts_on.isoformat(),
            end=clash.ends_on.isoformat(),
        )
    return home, site


def _agreement_covers(
    session: Session, home_id: int, site_id: int, starts_on: date, ends_on: date
) -> bool:
    terms = session.execute(
        select(
            CooperationAgreement.starts_on,
            CooperationAgreement.ends_on,
            CooperationAgreement.terminated_on,
        ).where(
            CooperationAgreement.supporting_institution_id == home_id,
            CooperationAgreement.supported_institution_id == site_id,
            CooperationAgreement.starts_on <= starts_on,
        )
    ).all()
    return any(rules.agreement_covers(s, e, t, starts_on, ends_on) for s, e, t in terms)


def _write_operations(
    session: Session, record_id: int, lines: Iterable[rules.OperationLine]
) -> None:
    session.execute(delete(VisitOperation).where(VisitOperation.visit_id == record_id))
    session.add_all(
        VisitOperation(
            visit_id=record_id, icd10_code=ln.icd10_code, procedure=ln.procedure, count=ln.count
        )
        for ln in lines
    )


def _specialty_of(session: Session, v: _Values) -> str | None:
    """The specialty recorded: the one given, else the department's."""
    if v.specialty_code is None and v.department_id is not None:
        department = session.get(Department, v.department_id)
        return department.specialty_code if department is not None else None
    return v.specialty_code


def _clean_note(note: str | None) -> str | None:
    return (note or "").strip() or None


def record_visit(session: Session, actor: Actor, data: VisitCreate) -> VisitView:
    """Record a visit that has happened (see the module's docstring for the rules)."""
    _require_record(actor)
    expert = _expert(session, actor, data.user_id or actor.user_id)
    lines, problems = _lines(data.operations)
    if problems:
        raise _invalid(problems)
    v = _Values(
        user_id=expert.id,
        site_institution_id=data.site_institution_id,
        department_id=data.department_id,
        specialty_code=(data.specialty_code or "").strip() or None,
        roster_visit_id=data.roster_visit_id,
        starts_on=data.starts_on,
        ends_on=data.ends_on,
        outpatients=data.outpatients,
        ward_rounds=data.ward_rounds,
        teaching_sessions=data.teaching_sessions,
        difficult_cases=data.difficult_cases,
        note=_clean_note(data.note),
        operations=lines,
    )
    home, site = _check(session, v, expert, record_id=None)
    now = clock.now()
    record = VisitRecord(
        user_id=expert.id,
        home_institution_id=home.id,
        site_institution_id=site.id,
        department_id=v.department_id,
        specialty_code=_specialty_of(session, v),
        roster_visit_id=v.roster_visit_id,
        starts_on=v.starts_on,
        ends_on=v.ends_on,
        outpatients=v.outpatients,
        ward_rounds=v.ward_rounds,
        teaching_sessions=v.teaching_sessions,
        difficult_cases=v.difficult_cases,
        note=v.note,
        recorded_by_user_id=actor.user_id,
        created_at=now,
        updated_at=now,
        version=1,
        is_synthetic=False,
    )
    session.add(record)
    session.flush()
    _write_operations(session, record.id, lines)
    session.flush()
    audit.record(
        session,
        actor,
        "visit.record",
        object_type=OBJECT,
        object_id=record.id,
        detail={
            "expert_user_id": expert.id,
            "site_institution_id": site.id,
            "starts_on": v.starts_on.isoformat(),
            "ends_on": v.ends_on.isoformat(),
            "operations": sum(ln.count for ln in lines),
        },
    )
    return get_visit(session, actor, record.id)


# the fields a PATCH may change, besides the operations
_EDITABLE = (
    "site_institution_id",
    "department_id",
    "specialty_code",
    "roster_visit_id",
    "starts_on",
    "ends_on",
    "outpatients",
    "ward_rounds",
    "teaching_sessions",
    "difficult_cases",
    "note",
)
# fields that cannot be cleared: a null leaves them as they are
_REQUIRED = frozenset(
    {
        "site_institution_id",
        "starts_on",
        "ends_on",
        "outpatients",
        "ward_rounds",
        "teaching_sessions",
        "difficult_cases",
    }
)


def update_visit(session: Session, actor: Actor, visit_id: int, data: VisitUpdate) -> VisitView:
    """Correct a record: the fields sent change, the others stay; the same rules as a new
    record hold for the result. ``version`` must be the one read (409 ``stale_version``)."""
    record = _visible(session, actor, visit_id)
    if not may_edit(actor, record):
        raise Forbidden(OWN_ONLY)
    if record.version != data.version:
        raise Conflict(STALE, code="stale_version")
    sent = data.model_fields_set
    current = {name: getattr(record, name) for name in _EDITABLE}
    changed: dict[str, Any] = {}
    for name in _EDITABLE:
        if name not in sent:
            continue
        value = getattr(data, name)
        if value is None and name in _REQUIRED:
            continue
        if name == "specialty_code":
            value = (value or "").strip() or None
        if name == "note":
            value = _clean_note(value)
        if value != current[name]:
            changed[name] = value
    merged = {**current, **changed}
    lines: list[rules.OperationLine] | None = None
    if "operations" in sent and data.operations is not None:
        lines, problems = _lines(data.operations)
        if problems:
            raise _invalid(problems)
    # a new department without a specialty sent takes the department's specialty
    if "department_id" in changed and "specialty_code" not in sent:
        merged["specialty_code"] = None
    expert = session.get(User, record.user_id)
    assert expert is not None
    v = _Values(user_id=record.user_id, operations=lines, **merged)
    _check(session, v, expert, record_id=record.id)
    merged["specialty_code"] = _specialty_of(session, v)
    # the version in the WHERE clause: an edit racing this one changes nothing and is stale
    result = session.execute(
        update(VisitRecord)
        .where(VisitRecord.id == record.id, VisitRecord.version == data.version)
        .values(
            **{name: merged[name] for name in _EDITABLE},
            version=data.version + 1,
            updated_at=clock.now(),
        )
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult[Any], result).rowcount != 1:
        raise Conflict(STALE, code="stale_version")
    session.expire(record)
    if lines is not None:
        _write_operations(session, record.id, lines)
    session.flush()
    audit.record(
        session,
        actor,
        "visit.update",
        object_type=OBJECT,
        object_id=record.id,
        detail={
            "changed": sorted(changed) + (["operations"] if lines is not None else []),
            "version": data.version + 1,
        },
    )
    return get_visit(session, actor, record.id)
