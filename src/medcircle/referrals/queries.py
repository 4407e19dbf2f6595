"""Read-side queries of referrals: worklists, counts, the directory with current waits, savings.

Worklists are the hot path (every triager keeps one open): each is one joined query over the
columns it shows, walking the index made for it, plus one COUNT on the same index; rows are
light slotted dataclasses, never ORM entities, and nothing is queried per row.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    exists,
    false,
    func,
    literal_column,
    null,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.orm import Session, aliased

from medcircle.agreements.models import CooperationAgreement
from medcircle.audit import service as audit
from medcircle.auth.domain import Actor, Permission, Role
from medcircle.config import Settings
from medcircle.kit import clock
from medcircle.kit.clock import CST
from medcircle.kit.errors import Forbidden
from medcircle.kit.i18n import N_
from medcircle.kit.pagination import Page, PageParams
from medcircle.patients.models import Patient
from medcircle.referrals.domain import TERMINAL, Direction, Status, Urgency
from medcircle.referrals.models import Referral
from medcircle.registry.models import (
    Alliance,
    AllianceMember,
    Department,
    Division,
    Institution,
    SpecialtyRow,
)

# the circle's working day (dates of reports are days in China Standard Time)
# fewer appointments than this in the window, and a department's wait is not shown
MIN_WAIT_SAMPLE = 3
WAIT_STATUSES: tuple[str, ...] = (
    Status.SCHEDULED,
    Status.ARRIVED,
    Status.COMPLETED,
    Status.CLOSED,
    Status.NO_SHOW,
)
ONLY_OVERSEERS = N_("Only alliance coordinators see escalated referrals.")


class Worklist(StrEnum):
    INCOMING = "incoming"
    SCHEDULED = "scheduled"
    OUTGOING = "outgoing"
    AWAITING_RETURN = "awaiting_return"
    ESCALATED = "escalated"


WORKLIST_LABELS: dict[Worklist, str] = {
    Worklist.INCOMING: N_("Incoming to triage"),
    Worklist.SCHEDULED: N_("Accepted and scheduled"),
    Worklist.OUTGOING: N_("Sent by us"),
    Worklist.AWAITING_RETURN: N_("Awaiting return"),
    Worklist.ESCALATED: N_("Escalated in our alliances"),
}

_RECEIVER_SCHEDULED: tuple[str, ...] = (Status.ACCEPTED, Status.SCHEDULED, Status.ARRIVED)
_OUTGOING: tuple[str, ...] = tuple(s.value for s in Status if s not in TERMINAL)


@dataclass(frozen=True, slots=True)
class WorklistFilter:
    urgency: Urgency | None = None
    direction: Direction | None = None
    # a reference prefix, or the start of a patient's name
    q: str | None = None


@dataclass(frozen=True, slots=True)
class WorklistRow:
    """One line of a worklist. The patient fields are None on the escalated list."""

    id: int
    reference: str
    direction: str
    status: str
    urgency: str
    care_type: str
    patient_id: int | None
    patient_name: str | None
    patient_id_masked: str | None
    counterpart_institution_id: int
    counterpart_name_zh: str
    counterpart_name_en: str
    department_id: int
    department_name_zh: str
    department_name_en: str
    submitted_at: datetime | None
    triage_due_at: datetime | None
    overdue: bool
    appointment_at: datetime | None
    updated_at: datetime
    version: int


def _like_prefix(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def may_read(actor: Actor, name: Worklist) -> bool:
    if name is Worklist.ESCALATED:
        return actor.can(Permission.REFERRAL_OVERSEE)
    return actor.can(Permission.REFERRAL_READ)


# The statements are built once per shape (list, filters sent, scope) from Core tables with
# bound parameters, and run on the session's connection: no ORM entities, and SQLAlchemy's
# statement cache is hit on every request.
_R = Referral.__table__
_P = Patient.__table__
_CP = Institution.__table__.alias("cp")
_DEPT = Department.__table__.alias("dept")
_CHILD = Referral.__table__.alias("child")
_AM = AllianceMember.__table__
_AL = Alliance.__table__
_INST = bindparam("inst", type_=Integer)


def _returned(sqlite: bool) -> ColumnElement[bool]:
    """A downward referral returning from this one exists (a cancelled one does not count).

    On SQLite the child is looked up through ix_referral_parent by name: when nearly every
    parent_id is NULL (no returns yet), ANALYZE tells the planner the index is useless and it
    would scan the whole table once per candidate row."""
    child: Any = text("referral AS child INDEXED BY ix_referral_parent") if sqlite else _CHILD
    return exists(
        select(literal_column("1"))
        .select_from(child)
        .where(
            literal_column("child.parent_id") == _R.c.id,
            literal_column("child.direction") == Direction.DOWN.value,
            literal_column("child.status") != Status.CANCELLED.value,
        )
    )


def _overseen_institutions() -> Select[Any]:
    """Current members of the alliances led by the actor's institution (on ``:today``)."""
    today = bindparam("today", type_=Date)
    return (
        select(_AM.c.institution_id)
        .join(_AL, _AL.c.id == _AM.c.alliance_id)
        .where(
            _AL.c.lead_institution_id == _INST,
            _AM.c.joined_on <= today,
            or_(_AM.c.left_on.is_(None), _AM.c.left_on > today),
        )
    )


def _scope(
    name: Worklist, everything: bool = False, sqlite: bool = False
) -> tuple[list[ColumnElement[bool]], Any]:
    """The conditions of a worklist (on ``:inst``) and the column naming the counterpart
    institution; ``everything``: the escalated list of the whole platform."""
    r = _R.c
    if name is Worklist.INCOMING:
        return [
            r.receiver_institution_id == _INST,
            r.status == Status.SUBMITTED.value,
        ], r.sender_institution_id
    if name is Worklist.SCHEDULED:
        return [
            r.receiver_institution_id == _INST,
            r.status.in_(_RECEIVER_SCHEDULED),
        ], r.sender_institution_id
    if name is Worklist.OUTGOING:
        return [
            r.sender_institution_id == _INST,
            r.status.in_(_OUTGOING),
        ], r.receiver_institution_id
    if name is Worklist.AWAITING_RETURN:
        receiving = and_(
            r.receiver_institution_id == _INST,
            r.status.in_((Status.ARRIVED.value, Status.COMPLETED.value)),
        )
        sending = and_(r.sender_institution_id == _INST, r.status == Status.COMPLETED.value)
        return [
            r.direction == Direction.UP.value,
            or_(receiving, sending),
            ~_returned(sqlite),
        ], case(
            (r.sender_institution_id == _INST, r.receiver_institution_id),
            else_=r.sender_institution_id,
        )
    # escalated: stalled in triage, for the coordinators of the alliance
    conditions: list[ColumnElement[bool]] = [
        r.status == Status.SUBMITTED.value,
        r.escalation_level >= 2,
    ]
    if not everything:
        members = _overseen_institutions()
        conditions.append(
            or_(r.receiver_institution_id.in_(members), r.sender_institution_id.in_(members))
        )
    return conditions, r.receiver_institution_id


def _order(name: Worklist) -> list[Any]:
    r = _R.c
    if name in (Worklist.INCOMING, Worklist.ESCALATED):
        # most urgent first, then the longest waiting
        return [r.urgency_rank, r.submitted_at, r.id]
    if name is Worklist.SCHEDULED:
        return [r.appointment_at.is_(None), r.appointment_at, r.urgency_rank, r.id]
    if name is Worklist.OUTGOING:
        return [r.updated_at.desc(), r.id.desc()]
    # awaiting return: the longest waiting first
    return [r.updated_at, r.id]


@dataclass(frozen=True, slots=True)
class _Shape:
    name: Worklist
    urgency: bool
    direction: bool
    q: bool
    everything: bool
    sqlite: bool


@dataclass(frozen=True, slots=True)
class _Statements:
    count: Select[Any]
    page: Select[Any]
    with_patients: bool


@lru_cache(maxsize=128)
def _statements(shape: _Shape) -> _Statements:
    """The COUNT and the page query of one worklist shape, with bound parameters."""
    r = _R.c
    with_patients = shape.name is not Worklist.ESCALATED
    conditions, counterpart = _scope(shape.name, shape.everything, shape.sqlite)
    if shape.urgency:
        conditions.append(r.urgency == bindparam("urgency", type_=String))
    if shape.direction:
        conditions.append(r.direction == bindparam("direction", type_=String))
    needs_patient = shape.q and with_patients
    if shape.q:
        ref = r.reference.like(bindparam("q_ref", type_=String), escape="\\")
        conditions.append(
            or_(ref, _P.c.name.like(bindparam("q_name", type_=String), escape="\\"))
            if needs_patient
            else ref
        )
    source: Any = _R.join(_P, _P.c.id == r.patient_id) if needs_patient else _R
    count = select(func.count().label("total")).select_from(source).where(*conditions)
    # the page's ids first, from the referral table alone (walking the list's index), then
    # the names joined to those rows only
    page_ids = (
        select(r.id)
        .select_from(source)
        .where(*conditions)
        .order_by(*_order(shape.name))
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
        .subquery("page")
    )
    patient_cols: list[Any] = (
        [_P.c.id, _P.c.name, _P.c.national_id_masked] if with_patients else [null(), null(), null()]
    )
    joined: Any = page_ids.join(_R, r.id == page_ids.c.id)
    if with_patients:
        joined = joined.join(_P, _P.c.id == r.patient_id)
    joined = joined.join(_CP, _CP.c.id == counterpart).join(
        _DEPT, _DEPT.c.id == r.receiver_department_id
    )
    columns = [
        r.id,
        r.reference,
        r.direction,
        r.status,
        r.urgency,
        r.care_type,
        *patient_cols,
        _CP.c.id,
        _CP.c.name_zh,
        _CP.c.name_en,
        _DEPT.c.id,
        _DEPT.c.name_zh,
        _DEPT.c.name_en,
        r.submitted_at,
        r.triage_due_at,
        r.appointment_at,
        r.updated_at,
        r.version,
        r.urgency_rank,
    ]
    rows = (
        select(*(c.label(n) for c, n in zip(columns, _ROW_LABELS, strict=True)))
        .select_from(joined)
        .subquery("rows")
    )
    # one round trip: the total, joined to the page's rows (none past the last page)
    totals = count.subquery("totals")
    page = (
        select(totals.c.total, *(rows.c[n] for n in _ROW_LABELS[:-1]))
        .select_from(totals.outerjoin(rows, true()))
        .order_by(*_row_order(shape.name, rows.c))
    )
    return _Statements(count, page, with_patients)


_ROW_LABELS = (
    "id",
    "reference",
    "direction",
    "status",
    "urgency",
    "care_type",
    "patient_id",
    "patient_name",
    "patient_id_masked",
    "cp_id",
    "cp_name_zh",
    "cp_name_en",
    "dept_id",
    "dept_name_zh",
    "dept_name_en",
    "submitted_at",
    "triage_due_at",
    "appointment_at",
    "updated_at",
    "version",
    "urgency_rank",
)


def _row_order(name: Worklist, c: Any) -> list[Any]:
    """The list's order over the labelled columns of the page's rows."""
    if name in (Worklist.INCOMING, Worklist.ESCALATED):
        return [c.urgency_rank, c.submitted_at, c.id]
    if name is Worklist.SCHEDULED:
        return [c.appointment_at.is_(None), c.appointment_at, c.urgency_rank, c.id]
    if name is Worklist.OUTGOING:
        return [c.updated_at.desc(), c.id.desc()]
    return [c.updated_at, c.id]


def _shape_and_params(
    session: Session, actor: Actor, name: Worklist, f: WorklistFilter
) -> tuple[_Shape, dict[str, Any]]:
    q = (f.q or "").strip()
    everything = name is Worklist.ESCALATED and actor.has_role(Role.PLATFORM_ADMIN)
    sqlite = session.get_bind().dialect.name == "sqlite"
    shape = _Shape(
        name, f.urgency is not None, f.direction is not None, bool(q), everything, sqlite
    )
    params: dict[str, Any] = {"inst": actor.institution_id}
    if name is Worklist.ESCALATED and not everything:
        params["today"] = clock.today()
    if f.urgency is not None:
        params["urgency"] = Urgency(f.urgency).value
    if f.direction is not None:
        params["direction"] = Direction(f.direction).value
    if q:
        params["q_ref"] = _like_prefix(q.upper())
        params["q_name"] = _like_prefix(q)
    return shape, params


def read_worklist(
    session: Session,
    actor: Actor,
    name: Worklist,
    paging: PageParams,
    filters: WorklistFilter | None = None,
) -> Page[WorklistRow]:
    """One page of a worklist of the actor's institution (not audited: see :func:`worklist`)."""
    name = Worklist(name)
    if not may_read(actor, name):
        raise Forbidden(ONLY_OVERSEERS if name is Worklist.ESCALATED else None)
    shape, params = _shape_and_params(session, actor, name, filters or WorklistFilter())
    statements = _statements(shape)
    params["limit"] = paging.size
    params["offset"] = paging.offset
    with_patients = statements.with_patients
    now = clock.now()
    submitted = Status.SUBMITTED.value
    total = 0
    items = []
    rows: Any = session.connection().execute(statements.page, params).all()
    for row in rows:
        (
            total,
            rid,
            reference,
            direction,
            status,
            urgency,
            care_type,
            pid,
            pname,
            pmasked,
            cid,
            cname_zh,
            cname_en,
            did,
            dname_zh,
            dname_en,
            submitted_at,
            due,
            appointment_at,
            updated_at,
            version,
        ) = row
        if rid is None:  # past the last page
            break
        items.append(
            WorklistRow(
                rid,
                reference,
                direction,
                status,
                urgency,
                care_type,
                pid if with_patients else None,
                pname if with_patients else None,
                pmasked if with_patients else None,
                cid,
                cname_zh,
                cname_en,
                did,
                dname_zh,
                dname_en,
                submitted_at,
                due,
                status == submitted and due is not None and due < now,
                appointment_at,
                updated_at,
                version,
            )
        )
    return Page[WorklistRow].model_construct(
        items=items, total=total, page=paging.page, size=paging.size
    )


def audit_worklist(session: Session, actor: Actor, name: Worklist, page: Page[WorklistRow]) -> None:
    """Record that ``actor`` read a worklist (it shows patient names): once per request."""
    audit.record(
        session,
        actor,
        "referral.worklist",
        object_type="worklist",
        object_id=str(name),
        detail={
            "name": str(name),
            "count": len(page.items),
            "total": page.total,
            "page": page.page,
            "referral_ids": [row.id for row in page.items],
        },
    )


def worklist(
    session: Session,
    actor: Actor,
    name: Worklist,
    paging: PageParams,
    filters: WorklistFilter | None = None,
) -> Page[WorklistRow]:
    """One page of a worklist, audited (action ``referral.worklist``).

    - incoming: sent to the actor's institution, waiting for triage; most urgent, then oldest;
    - scheduled: accepted, scheduled or arrived there; next appointment first (none last);
    - outgoing: sent by the actor's institution and not yet closed or cancelled, drafts
      included; most recently changed first;
    - awaiting_return: upward referrals arrived or completed there with no downward referral
      back yet, and the institution's own upward referrals completed without one;
    - escalated: still untriaged after the second escalation, in the alliances the actor's
      institution leads (REFERRAL_OVERSEE; no patient fields).
    """
    page = read_worklist(session, actor, name, paging, filters)
    audit_worklist(session, actor, Worklist(name), page)
    return page


def counts(session: Session, actor: Actor) -> dict[Worklist, int]:
    """How many referrals each worklist the actor may read holds (for the home page)."""
    out: dict[Worklist, int] = {}
    conn = session.connection()
    for name in Worklist:
        if not may_read(actor, name):
            continue
        shape, params = _shape_and_params(session, actor, name, WorklistFilter())
        out[name] = conn.execute(_statements(shape).count, params).scalar_one()
    return out


# --- current wait -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Wait:
    """A department's current wait: median days from submission to appointment."""

    median_days: float | None
    sample: int


_IN_CHUNK = 500


def current_wait(
    session: Session, department_ids: list[int] | set[int], now: datetime, window_days: int
) -> dict[int, Wait]:
    """The current wait of each department: the median of the days from submission to the
    appointment over referrals to it submitted in the last ``window_days`` days that got an
    appointment (scheduled, arrived, completed, closed or did not attend). None below
    MIN_WAIT_SAMPLE such referrals; every asked department has an entry."""
    ids = sorted(set(department_ids))
    since = now - timedelta(days=window_days)
    days: dict[int, list[float]] = defaultdict(list)
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        rows: Any = session.execute(
            select(Referral.receiver_department_id, Referral.submitted_at, Referral.appointment_at)
            .where(
                Referral.receiver_department_id.in_(chunk),
                Referral.submitted_at >= since,
                Referral.submitted_at <= now,
                Referral.appointment_at.is_not(None),
                Referral.status.in_(WAIT_STATUSES),
            )
            .order_by(None)
        )
        for dept_id, submitted_at, appointment_at in rows:
            days[dept_id].append((appointment_at - submitted_at).total_seconds() / 86400)
    out: dict[int, Wait] = {}
    for dept_id in ids:
        sample = days.get(dept_id, [])
        median = (
            round(max(0.0, statistics.median(sample)), 1)
            if len(sample) >= MIN_WAIT_SAMPLE
            else None
        )
        out[dept_id] = Wait(median, len(sample))
    return out


# --- directory ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DirectoryFilter:
    specialty: str | None = None
    institution_id: int | None = None
    # part of an institution's or department's name (either language)
    q: str | None = None
    level: str | None = None


@dataclass(frozen=True, slots=True)
class DirectoryRow:
    department_id: int
    department_name_zh: str
    department_name_en: str
    institution_id: int
    institution_code: str
    institution_name_zh: str
    institution_name_en: str
    level: str
    city_code: str
    city_name_zh: str | None
    city_name_en: str | None
    specialty_code: str
    specialty_name_zh: str
    specialty_name_en: str
    wait_median_days: float | None
    wait_sample: int
    in_network: bool


def network_of(session: Session, institution_id: int, on: date) -> set[int]:
    """Institutions in a cooperation agreement in force with ``institution_id`` on ``on``, or
    in an alliance with it (both current members, or its lead)."""
    ca = CooperationAgreement
    in_force = and_(
        ca.starts_on <= on,
        ca.ends_on > on,
        or_(ca.terminated_on.is_(None), ca.terminated_on > on),
    )
    out: set[int] = set()
    for a, b in session.execute(
        select(ca.supporting_institution_id, ca.supported_institution_id).where(
            in_force,
            or_(
                ca.supporting_institution_id == institution_id,
                ca.supported_institution_id == institution_id,
            ),
        )
    ):
        out.add(b if a == institution_id else a)
    current = and_(
        AllianceMember.joined_on <= on,
        or_(AllianceMember.left_on.is_(None), AllianceMember.left_on > on),
    )
    mine = (
        select(AllianceMember.alliance_id)
        .where(AllianceMember.institution_id == institution_id, current)
        .union(select(Alliance.id).where(Alliance.lead_institution_id == institution_id))
    )
    alliance_ids = [a for (a,) in session.execute(mine)]
    if alliance_ids:
        out.update(
            i
            for (i,) in session.execute(
                select(AllianceMember.institution_id).where(
                    AllianceMember.alliance_id.in_(alliance_ids), current
                )
            )
        )
        out.update(
            i
            for (i,) in session.execute(
                select(Alliance.lead_institution_id).where(Alliance.id.in_(alliance_ids))
            )
        )
    out.discard(institution_id)
    return out


def directory(
    session: Session,
    actor: Actor,
    filters: DirectoryFilter | None,
    paging: PageParams,
    settings: Settings,
) -> Page[DirectoryRow]:
    """Active departments of other institutions to refer to, each with its current wait and
    whether the institution is in the actor's network; in-network first, then the shortest
    wait (unknown waits last), then by name. No patient data: REGISTRY_READ is enough."""
    if not actor.can(Permission.REGISTRY_READ):
        raise Forbidden()
    f = filters or DirectoryFilter()
    d, i, s = Department, Institution, SpecialtyRow
    city = aliased(Division, name="city")
    conditions: list[ColumnElement[bool]] = [
        d.is_active.is_(True),
        d.institution_id != actor.institution_id,
    ]
    if f.specialty:
        conditions.append(d.specialty_code == f.specialty)
    if f.institution_id is not None:
        conditions.append(d.institution_id == f.institution_id)
    if f.level:
        conditions.append(i.level == f.level)
    q = (f.q or "").strip()
    if q:
        pattern = "%" + _like_prefix(q.lower())
        conditions.append(
            or_(
                *(
                    func.lower(col).like(pattern, escape="\\")
                    for col in (i.name_zh, i.name_en, d.name_zh, d.name_en, i.code)
                )
            )
        )
    rows: Any = session.execute(
        select(
            d.id,
            d.name_zh,
            d.name_en,
            i.id,
            i.code,
            i.name_zh,
            i.name_en,
            i.level,
            i.city_code,
            city.name_zh,
            city.name_en,
            s.code,
            s.name_zh,
            s.name_en,
        )
        .join(i, i.id == d.institution_id)
        .join(s, s.code == d.specialty_code)
        .outerjoin(city, city.code == i.city_code)
        .where(*conditions)
    ).all()
    waits = current_wait(session, [r[0] for r in rows], clock.now(), settings.wait_window_days)
    network = network_of(session, actor.institution_id, clock.today())
    items: list[DirectoryRow] = []
    for row in rows:
        wait = waits[row[0]]
        values: tuple[Any, ...] = (*row, wait.median_days, wait.sample, row[3] in network)
        items.append(DirectoryRow(*values))
    items.sort(
        key=lambda x: (
            not x.in_network,
            x.wait_median_days is None,
            x.wait_median_days or 0.0,
            x.institution_name_en,
            x.department_name_en,
            x.department_id,
        )
    )
    start = paging.offset
    return Page[DirectoryRow].model_construct(
        items=items[start : start + paging.size],
        total=len(items),
        page=paging.page,
        size=paging.size,
    )


# --- savings ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SavingsSummary:
    """Costs families avoided by referrals completed in a period (days in China time)."""

    date_from: date
    date_to: date
    # None: the whole circle; else the institution whose referrals are counted
    institution_id: int | None
    count: int
    total_yuan: float
    up_count: int
    up_yuan: float
    down_count: int
    down_yuan: float


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=CST).astimezone(UTC)


def savings_summary(
    session: Session, actor: Actor, date_from: date, date_to: date
) -> SavingsSummary:
    """Count and total of the estimated savings of referrals completed from ``date_from`` to
    ``date_to`` (both included), split by direction. Commission analysts and platform admins
    see the whole circle; everyone else the referrals their institution sent or received."""
    if not actor.can(Permission.REGISTRY_READ):
        raise Forbidden()
    everything = actor.can(Permission.AGREEMENT_MANAGE_ALL)
    scope: ColumnElement[bool] = (
        true()
        if everything
        else or_(
            Referral.sender_institution_id == actor.institution_id,
            Referral.receiver_institution_id == actor.institution_id,
        )
    )
    if date_to < date_from:
        scope = false()
    sums: Any = session.execute(
        select(Referral.direction, func.count(), func.coalesce(func.sum(Referral.saving_yuan), 0))
        .where(
            scope,
            Referral.completed_at >= _day_start(date_from),
            Referral.completed_at < _day_start(date_to + timedelta(days=1)),
            Referral.saving_yuan.is_not(None),
        )
        .group_by(Referral.direction)
    ).all()
    by: dict[str, tuple[int, float]] = {
        direction: (int(n), round(float(total), 2)) for direction, n, total in sums
    }
    up = by.get(Direction.UP.value, (0, 0.0))
    down = by.get(Direction.DOWN.value, (0, 0.0))
    return SavingsSummary(
        date_from=date_from,
        date_to=date_to,
        institution_id=None if everything else actor.institution_id,
        count=up[0] + down[0],
        total_yuan=round(up[1] + down[1], 2),
        up_count=up[0],
        up_yuan=up[1],
        down_count=down[0],
        down_yuan=down[1],
    )
