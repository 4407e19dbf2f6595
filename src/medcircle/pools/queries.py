"""What the pool pages and the API read: a pool with its units, line and figures; one entry with
its offers, decisions and estimate; one decision with its ranked candidates; the families'
status links.

Names of patients are shown to their own institution's staff and masked for the rest of the
pool (who allocate by urgency, readiness and order). Each read of patient data is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from medcircle.audit import service as audit
from medcircle.auth.domain import Actor, Permission
from medcircle.auth.repository import display_names
from medcircle.config import Settings
from medcircle.kit import clock, crypto
from medcircle.kit.errors import Conflict, DomainError, Forbidden, NotFound
from medcircle.kit.i18n import N_
from medcircle.patients.models import Patient
from medcircle.pools import forecast, measures, service
from medcircle.pools.estimates import Estimator
from medcircle.pools.models import (
    Admission,
    AllocationDecision,
    Offer,
    ResourcePool,
    ResourceUnit,
    WaitlistEntry,
    WaitlistStatusLink,
)
from medcircle.pools.policy import Position
from medcircle.pools.schemas import EntryStatus, OfferStatus
from medcircle.registry.models import Institution

LINK_SUBJECT = "waitlist_status_link"
LINK_REFUSED = N_("This link is not valid or has expired. Ask the hospital for a new one.")
LINK_CLOSED = N_("This entry is closed; a status link is only for patients on the list.")


def mask_name(name: str) -> str:
    """The name as shown outside the patient's institution: first character then "*"."""
    return (name[:1] + "*") if name else "*"


def _names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {
        p.id: p.name for p in session.scalars(select(Patient).where(Patient.id.in_(sorted(ids))))
    }


def institution_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.scalars(select(Institution).where(Institution.id.in_(sorted(ids))))
    return {row.id: service.name_of(row) for row in rows}


# --- a pool -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnitRow:
    unit: ResourceUnit
    institution: str
    open_offer: Offer | None
    admission: Admission | None
    may_keep: bool


@dataclass(frozen=True)
class EntryRow:
    entry: WaitlistEntry
    patient_name: str
    listing_institution: str
    ready: bool
    position: Position | None
    estimate: forecast.AdmissionRange | None
    open_offer: Offer | None
    waited_days: int
    own: bool


@dataclass(frozen=True)
class ClassFigures:
    """Per room class: pooled against separate lists, observed waits, the backtest."""

    room_class: str
    units: int
    comparison: forecast.PoolingComparison | None
    before: forecast.ObservedWaits
    after: forecast.ObservedWaits
    backtest: forecast.Backtest


@dataclass(frozen=True)
class PoolView:
    pool: ResourcePool
    today: date
    members: dict[int, str]
    units: list[UnitRow]
    entries: list[EntryRow]
    decisions: list[AllocationDecision]
    figures: list[ClassFigures]
    leads: bool
    may_list: bool
    may_coordinate: bool


def _open_offers(session: Session, pool_id: int) -> dict[int, Offer]:
    """Entry -> its open offer (one at most)."""
    rows = session.scalars(
        select(Offer).where(Offer.pool_id == pool_id, Offer.status == OfferStatus.OPEN.value)
    )
    return {o.entry_id: o for o in rows}


def _current_admissions(session: Session, pool_id: int) -> dict[int, Admission]:
    rows = session.scalars(
        select(Admission).where(Admission.pool_id == pool_id, Admission.discharged_at.is_(None))
    )
    return {a.unit_id: a for a in rows}


def entry_rows(
    session: Session,
    actor: Actor,
    pool: ResourcePool,
    estimator: Estimator,
    entries: list[WaitlistEntry],
    names: dict[int, str],
) -> list[EntryRow]:
    offers = _open_offers(session, pool.id)
    patients = _names(session, {e.patient_id for e in entries})
    rows: list[EntryRow] = []
    for e in entries:
        own = service.sees_patient(actor, e)
        name = patients.get(e.patient_id, "")
        rows.append(
            EntryRow(
                entry=e,
                patient_name=name if own else mask_name(name),
                listing_institution=names.get(e.listing_institution_id, ""),
                ready=service.ready(e),
                position=estimator.position(e.id),
                estimate=estimator.estimate(e),
                open_offer=offers.get(e.id),
                waited_days=max(0, (estimator.today - e.listed_on).days),
                own=own,
            )
        )
    return rows


def _order(row: EntryRow) -> tuple[int, str, int, int]:
    """Offered first, then the line in the policy's order, per room class."""
    offered = 0 if row.open_offer is not None else 1
    place = row.position.place if row.position else 10**9
    return (offered, row.entry.room_class, place, row.entry.id)


def pool_view(session: Session, actor: Actor, pool_id: int, *, figures: bool = True) -> PoolView:
    """A pool as its members see it (audited: the patients on its line were read)."""
    pool = service.get_pool(session, actor, pool_id)
    now = clock.now()
    today = service.today_of(now)
    members = service.member_ids(session, pool.id)
    estimator = Estimator(session, pool, today)
    units = estimator.units()
    names = institution_names(session, members | {u.institution_id for u in units})
    live = list(
        session.scalars(
            select(WaitlistEntry).where(
                WaitlistEntry.pool_id == pool.id,
                WaitlistEntry.status.in_([EntryStatus.WAITING.value, EntryStatus.OFFERED.value]),
            )
        )
    )
    entries = sorted(entry_rows(session, actor, pool, estimator, live, names), key=_order)
    offers = {o.unit_id: o for o in _open_offers(session, pool.id).values()}
    admissions = _current_admissions(session, pool.id)
    unit_rows = [
        UnitRow(
            unit=u,
            institution=names.get(u.institution_id, ""),
            open_offer=offers.get(u.id),
            admission=admissions.get(u.id),
            may_keep=service.keeps(actor, pool, u),
        )
        for u in sorted(units, key=lambda u: (u.room_class, u.institution_id, u.code))
        if u.status != "retired"
    ]
    decisions = list(
        session.scalars(
            select(AllocationDecision)
            .where(AllocationDecision.pool_id == pool.id)
            .order_by(AllocationDecision.at.desc(), AllocationDecision.id.desc())
            .limit(20)
        )
    )
    class_figures: list[ClassFigures] = []
    if figures:
        for room_class in sorted({u.room_class for u in units}):
            before, after = estimator.observed(room_class)
            class_figures.append(
                ClassFigures(
                    room_class=room_class,
                    units=sum(1 for u in units if u.room_class == room_class),
                    comparison=estimator.comparison(room_class),
                    before=before,
                    after=after,
                    backtest=estimator.backtest(room_class),
                )
            )
    audit.record(
        session,
        actor,
        "pool.read",
        object_type="resource_pool",
        object_id=pool.id,
        detail={"entries": [e.id for e in live]},
    )
    return PoolView(
        pool=pool,
        today=today,
        members={i: names.get(i, "") for i in sorted(members)},
        units=unit_rows,
        entries=entries,
        decisions=decisions,
        figures=class_figures,
        leads=service.leads(actor, pool),
        may_list=actor.can(Permission.POOL_LIST) and actor.institution_id in members,
        may_coordinate=actor.can(Permission.POOL_COORDINATE),
    )


def monthly_figures(
    session: Session, actor: Actor, pool_id: int, months: int = 24
) -> dict[str, list[measures.Month]]:
    """Occupancy and the waits of admissions month by month, per room class, for the last
    ``months`` months (the rooms of the class counted as they are now)."""
    pool = service.get_pool(session, actor, pool_id)
    today = service.today_of(clock.now())
    first = measures.month_starts(today - timedelta(days=31 * (months - 1)), today)[0]
    rooms: dict[str, int] = {}
    for room_class, status in session.execute(
        select(ResourceUnit.room_class, ResourceUnit.status).where(ResourceUnit.pool_id == pool.id)
    ):
        if status != "retired":
            rooms[room_class] = rooms.get(room_class, 0) + 1
    since = datetime.combine(first, datetime.min.time(), clock.CST)
    rows = session.execute(
        select(
            ResourceUnit.room_class,
            Admission.admitted_at,
            Admission.discharged_at,
            WaitlistEntry.listed_on,
        )
        .join(ResourceUnit, ResourceUnit.id == Admission.unit_id)
        .join(WaitlistEntry, WaitlistEntry.id == Admission.entry_id)
        .where(
            Admission.pool_id == pool.id,
            or_(Admission.discharged_at.is_(None), Admission.discharged_at >= since),
        )
    )
    stays: dict[str, list[measures.Stay]] = {c: [] for c in rooms}
    for room_class, admitted_at, discharged_at, listed_on in rows:
        stays.setdefault(room_class, []).append(
            measures.Stay(
                service.today_of(admitted_at),
                service.today_of(discharged_at) if discharged_at is not None else None,
                listed_on,
            )
        )
    return {c: measures.monthly(stays.get(c, []), rooms[c], first, today) for c in sorted(rooms)}


# --- one entry ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EntryView:
    pool: ResourcePool
    row: EntryRow
    offers: list[Offer]
    decisions: list[AllocationDecision]
    admissions: list[Admission]
    units: dict[int, ResourceUnit]
    institutions: dict[int, str]
    on_team: bool
    links: list[WaitlistStatusLink]


def entry_view(session: Session, actor: Actor, entry_id: int) -> EntryView:
    entry = service.get_entry(session, actor, entry_id)
    pool = service.get_pool(session, actor, entry.pool_id)
    today = service.today_of(clock.now())
    estimator = Estimator(session, pool, today)
    units = {u.id: u for u in estimator.units()}
    names = institution_names(
        session,
        service.member_ids(session, pool.id) | {u.institution_id for u in units.values()},
    )
    row = entry_rows(session, actor, pool, estimator, [entry], names)[0]
    offers = list(
        session.scalars(select(Offer).where(Offer.entry_id == entry.id).order_by(Offer.id))
    )
    decision_ids = {o.decision_id for o in offers}
    decisions = list(
        session.scalars(
            select(AllocationDecision)
            .where(
                or_(
                    AllocationDecision.chosen_entry_id == entry.id,
                    AllocationDecision.id.in_(sorted(decision_ids)),
                )
            )
            .order_by(AllocationDecision.at, AllocationDecision.id)
        )
    )
    admissions = list(session.scalars(select(Admission).where(Admission.entry_id == entry.id)))
    team = service.on_team(actor, entry)
    links = (
        list(
            session.scalars(
                select(WaitlistStatusLink)
                .where(WaitlistStatusLink.entry_id == entry.id)
                .order_by(WaitlistStatusLink.id.desc())
            )
        )
        if team
        else []
    )
    audit.record(
        session,
        actor,
        "pool.entry_read",
        object_type=service.SUBJECT,
        object_id=entry.id,
        detail={"patient_id": entry.patient_id, "masked": not row.own},
    )
    return EntryView(pool, row, offers, decisions, admissions, units, names, team, links)


# --- one decision -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CandidateRow:
    entry_id: int
    name: str
    urgency: str
    effective_rank: int
    listed_on: str
    waited_days: int
    listing_institution: str
    chosen: bool


@dataclass(frozen=True)
class DecisionView:
    pool: ResourcePool
    decision: AllocationDecision
    unit: ResourceUnit
    unit_institution: str
    candidates: list[CandidateRow]
    chosen_name: str | None
    offer: Offer | None
    decided_by: str | None


def decision_view(session: Session, actor: Actor, decision_id: int) -> DecisionView:
    """Who a unit went to and why, with the ranked candidates (names masked outside their
    institution)."""
    d = session.get(AllocationDecision, decision_id)
    if d is None:
        raise NotFound(service.NOT_FOUND)
    pool = service.get_pool(session, actor, d.pool_id)
    unit = session.get(ResourceUnit, d.unit_id)
    assert unit is not None
    entry_ids = {int(c["entry_id"]) for c in d.candidates}
    if d.chosen_entry_id is not None:
        entry_ids.add(d.chosen_entry_id)
    entries = {
        e.id: e
        for e in session.scalars(
            select(WaitlistEntry).where(WaitlistEntry.id.in_(sorted(entry_ids)))
        )
    }
    patients = _names(session, {e.patient_id for e in entries.values()})
    inst = institution_names(
        session,
        {unit.institution_id} | {e.listing_institution_id for e in entries.values()},
    )

    def shown(entry_id: int) -> str:
        e = entries.get(entry_id)
        if e is None:
            return ""
        name = patients.get(e.patient_id, "")
        return name if service.sees_patient(actor, e) else mask_name(name)

    candidates = [
        CandidateRow(
            entry_id=int(c["entry_id"]),
            name=shown(int(c["entry_id"])),
            urgency=str(c["urgency"]),
            effective_rank=int(c["effective_rank"]),
            listed_on=str(c["listed_on"]),
            waited_days=int(c["waited_days"]),
            listing_institution=inst.get(int(c.get("listing_institution_id") or 0), ""),
            chosen=int(c["entry_id"]) == d.chosen_entry_id,
        )
        for c in d.candidates
    ]
    offer = session.scalar(select(Offer).where(Offer.decision_id == d.id))
    decided_by = None
    if d.decided_by_user_id is not None:
        decided_by = display_names(session, {d.decided_by_user_id}).get(d.decided_by_user_id)
    audit.record(
        session,
        actor,
        "pool.decision_read",
        object_type="allocation_decision",
        object_id=d.id,
        detail={"entries": sorted(entry_ids)},
    )
    return DecisionView(
        pool=pool,
        decision=d,
        unit=unit,
        unit_institution=inst.get(unit.institution_id, ""),
        candidates=candidates,
        chosen_name=shown(d.chosen_entry_id) if d.chosen_entry_id is not None else None,
        offer=offer,
        decided_by=decided_by,
    )


def decisions_of(
    session: Session, actor: Actor, pool_id: int, *, overrides_only: bool = False, limit: int = 200
) -> list[AllocationDecision]:
    """The pool's decisions, newest first (the overrides alone for the report)."""
    pool = service.get_pool(session, actor, pool_id)
    query = select(AllocationDecision).where(AllocationDecision.pool_id == pool.id)
    if overrides_only:
        query = query.where(AllocationDecision.override_reason.is_not(None))
    return list(
        session.scalars(
            query.order_by(AllocationDecision.at.desc(), AllocationDecision.id.desc()).limit(limit)
        )
    )


# --- families' status links ---------------------------------------------------------------------


def status_url(settings: Settings, token: str) -> str:
    return f"{settings.base_url.rstrip('/')}/pools/status/{token}"


def create_status_link(
    session: Session, actor: Actor, entry_id: int, settings: Settings
) -> tuple[WaitlistStatusLink, str]:
    """A random link for the family (the token is returned once; its digest is kept)."""
    entry = service.get_entry(session, actor, entry_id)
    if not service.on_team(actor, entry):
        raise Forbidden()
    if entry.status not in (EntryStatus.WAITING.value, EntryStatus.OFFERED.value):
        raise Conflict(LINK_CLOSED, code="entry_closed")
    token = crypto.new_token()
    now = clock.now()
    link = WaitlistStatusLink(
        entry_id=entry.id,
        token_digest=crypto.token_digest(token),
        created_at=now,
        created_by_user_id=actor.user_id,
        expires_at=now + timedelta(days=settings.status_link_days),
    )
    session.add(link)
    session.flush()
    audit.record(
        session,
        actor,
        "pool.status_link",
        object_type=service.SUBJECT,
        object_id=entry.id,
        detail={"link_id": link.id, "expires_at": link.expires_at.isoformat()},
    )
    return link, token


def revoke_status_link(session: Session, actor: Actor, link_id: int) -> WaitlistStatusLink:
    link = session.get(WaitlistStatusLink, link_id)
    if link is None:
        raise NotFound(service.NOT_FOUND)
    entry = service.get_entry(session, actor, link.entry_id)
    if not service.on_team(actor, entry):
        raise Forbidden()
    if link.revoked_at is None:
        link.revoked_at = clock.now()
        session.flush()
        audit.record(
            session,
            actor,
            "pool.status_link_revoke",
            object_type=service.SUBJECT,
            object_id=entry.id,
            detail={"link_id": link.id},
        )
    return link


@dataclass(frozen=True)
class FamilyStatus:
    """What the family sees: the pool's name, the status, the place in the line and the
    estimated range; no name, no diagnosis, no hospital detail."""

    pool_zh: str
    pool_en: str
    status: str
    position: int | None
    ready: bool
    estimate: forecast.AdmissionRange | None
    listed_on: date
    updated_at: datetime
    offered: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "pool_zh": self.pool_zh,
            "pool_en": self.pool_en,
            "status": self.status,
            "position": self.position,
            "ready": self.ready,
            "estimate": None
            if self.estimate is None
            else {
                "earliest": self.estimate.earliest.isoformat(),
                "median": self.estimate.median.isoformat(),
                "latest": self.estimate.latest.isoformat(),
            },
            "listed_on": self.listed_on.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


def family_status(session: Session, token: str, now: datetime) -> FamilyStatus:
    link = session.scalar(
        select(WaitlistStatusLink).where(
            WaitlistStatusLink.token_digest == crypto.token_digest(token)
        )
    )
    if link is None or link.revoked_at is not None or now >= link.expires_at:
        audit.record(
            session,
            None,
            "pool.status_link_refused",
            object_type=LINK_SUBJECT,
            object_id=link.id if link else None,
            username="family",
        )
        raise NotFound(LINK_REFUSED, code="link_invalid")
    entry = session.get(WaitlistEntry, link.entry_id)
    pool = session.get(ResourcePool, entry.pool_id) if entry else None
    if entry is None or pool is None:
        raise NotFound(LINK_REFUSED, code="link_invalid")
    estimator = Estimator(session, pool, service.today_of(now))
    p = estimator.position(entry.id)
    link.last_seen_at = now
    session.flush()
    audit.record(
        session,
        None,
        "pool.status_link_open",
        object_type=service.SUBJECT,
        object_id=entry.id,
        detail={"link_id": link.id},
        username="family",
    )
    return FamilyStatus(
        pool_zh=pool.name_zh,
        pool_en=pool.name_en,
        status=entry.status,
        position=p.ahead_competing + 1 if p is not None else None,
        ready=service.ready(entry),
        estimate=estimator.estimate(entry),
        listed_on=entry.listed_on,
        updated_at=now,
        offered=entry.status == EntryStatus.OFFERED.value,
    )


def open_status_link(factory: sessionmaker[Session], token: str) -> FamilyStatus:
    """``family_status`` in a transaction of its own, committed even when the link is refused
    (the refusal stays in the audit trail)."""
    session = factory()
    try:
        try:
            found = family_status(session, token, clock.now())
        except DomainError:
            session.commit()
            raise
        session.commit()
        return found
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
