"""Use cases of pooled resources: list a patient, keep readiness, free a unit and give it to the
next patient by the pool's policy, offers and their answers, admissions and discharges,
overrides with a written reason.

Every change to a pool's units, entries or offers first locks the pool's row (``_lock``: a row
lock on PostgreSQL; on SQLite the writing transaction already holds the database). So the
allocations of one pool run one after another whichever app process makes them, and each sees
what the previous one committed; the partial unique indexes of ``pools.models`` are the second
line: a unit never has two open offers or two current admissions, an entry neither.

An offer's expiry timer is never cancelled: once the offer is answered it runs as a no-op
(``expire_offer`` acts only on an open offer past its expiry). Cancelling it would write the
timer's row while holding the pool's lock, the reverse of the timer runner's order (it holds
the timer's row, then asks for the pool's lock), and the two could deadlock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from medcircle.audit import service as audit
from medcircle.auth.domain import Actor, Permission, Role
from medcircle.config import get_settings
from medcircle.kit import clock, i18n
from medcircle.kit.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from medcircle.kit.i18n import N_
from medcircle.notifications import service as notifications
from medcircle.patients import service as patients
from medcircle.patients.domain import china_date
from medcircle.patients.models import Patient
from medcircle.pools import estimates, ranking
from medcircle.pools.models import (
    Admission,
    AllocationDecision,
    Offer,
    PoolMember,
    ResourcePool,
    ResourceUnit,
    UnitEvent,
    WaitlistEntry,
)
from medcircle.pools.policy import (
    Candidate,
    Decision,
    PolicySettings,
    Rule,
    Slot,
    Urgency,
    policy_from,
)
from medcircle.pools.schemas import (
    OFFER_STATUS_LABELS,
    UNIT_STATUS_LABELS,
    DischargeIn,
    EntryClose,
    EntryCreate,
    EntryStatus,
    EntryUpdate,
    MemberIn,
    OfferAccept,
    OfferDecline,
    OfferStatus,
    OverrideIn,
    PolicyUpdate,
    PoolCreate,
    Trigger,
    UnitCreate,
    UnitStatus,
    UnitStatusIn,
)
from medcircle.referrals import icd10
from medcircle.referrals import service as referrals
from medcircle.registry.models import Institution
from medcircle.tasks import service as tasks

T = TypeVar("T")

SUBJECT = "waitlist_entry"
CONSENT_PURPOSE = "waitlist"
TIMER_OFFER_EXPIRY = "pool.offer_expiry"
# who runs units and pools, and who answers for a listed patient
COORDINATOR_ROLES = (Role.COORDINATOR.value, Role.INSTITUTION_ADMIN.value)
TEAM_ROLES = (Role.CLINICIAN.value, Role.INSTITUTION_ADMIN.value)
# how many of the next candidates a decision keeps
KEPT_CANDIDATES = 10

NOT_FOUND = N_("No such pool, unit, entry or offer of yours.")
STALE = N_("Someone else changed this after you opened it. Reload it and try again.")
ALREADY_LISTED = N_("This patient is already on this pool's waitlist (entry %(entry)s).")
ALREADY_ADMITTED = N_(
    "This patient is in one of this pool's units now (entry %(entry)s); list them again after "
    "the discharge."
)
UNKNOWN_PATIENT = N_("No patient of your hospital has the number %(id)s.")
PATIENT_MERGED = N_("This patient record was merged into another one; use that record.")
NOT_ICD10 = N_("“%(code)s” is not an ICD-10 code.")
NO_SUCH_CLASS = N_("This pool has no units of class “%(room_class)s”; it has: %(classes)s.")
NOT_A_SITE = N_("These hospitals have no units of this class in the pool: %(names)s.")
NOT_A_MEMBER = N_("Your hospital is not a member of this pool.")
OFFER_CLOSED = N_("This offer is %(status)s already; nothing was changed.")
OFFER_EXPIRED = N_("This offer expired at %(at)s; the unit is being offered to the next patient.")
UNIT_OCCUPIED = N_(
    "This unit has a patient in it; record the discharge first (its status follows)."
)
UNIT_NOT_OCCUPIED = N_("This unit has no patient in it (it is %(status)s): nothing to discharge.")
OCCUPIED_BY_ADMISSION = N_("A unit becomes occupied by admitting a patient through an offer.")
UNIT_NOT_FREE = N_("This unit is %(status)s, not free: only a free unit can be given.")
ENTRY_NOT_WAITING = N_("This entry is %(status)s, not waiting.")
WRONG_CLASS = N_("This patient needs a class %(needed)s unit; this one is class %(room_class)s.")
SITE_NOT_ACCEPTED = N_("This patient's team does not accept units of this hospital.")
CLOSE_STATUS = N_("An entry is closed as withdrawn or removed.")
NOT_BEFORE_OFFER = N_("Admission cannot be before the offer (%(day)s).")
TOO_FAR = N_("At most %(days)s days from today.")
NOT_BEFORE_ADMISSION = N_("Discharge cannot be before the admission (%(day)s).")
IN_FUTURE = N_("This date is in the future.")
NEEDS_DATE = N_("Give the date the unit is expected to be free again.")
DUPLICATE_CODE = N_("This pool already has a unit with this code.")
DUPLICATE_POOL = N_("A pool with this code exists already.")
UNKNOWN_INSTITUTION = N_("No institution has the number %(id)s.")

OFFER_MADE = N_(
    "%(unit)s at %(site)s is offered to your patient (entry %(entry)s) until %(until)s. "
    "Please accept or decline."
)
OFFER_DECLINED = N_(
    "The offer of %(unit)s to entry %(entry)s was declined; it goes to the next patient."
)
OFFER_LAPSED = N_(
    "The offer of %(unit)s to entry %(entry)s expired unanswered; it goes to the next patient."
)
OFFER_TAKEN = N_("Entry %(entry)s accepted %(unit)s: please prepare the admission.")


# --- helpers ------------------------------------------------------------------------------


def _require(actor: Actor, permission: Permission) -> None:
    if not actor.can(permission):
        raise Forbidden()


def _invalid(*errors: FieldError) -> ValidationFailed:
    return ValidationFailed(code=errors[0].code, field_errors=list(errors))


def _flush(session: Session) -> None:
    try:
        session.flush()
    except StaleDataError as exc:
        raise Conflict(STALE, code="stale_version") from exc


def _check_version(current: int, sent: int) -> None:
    if current != sent:
        raise Conflict(STALE, code="stale_version")


def today_of(now: datetime) -> date:
    return china_date(now)


def name_of(row: Institution | ResourcePool) -> str:
    return row.name_zh if i18n.get_locale() == "zh_Hans" else row.name_en


def is_platform_admin(actor: Actor) -> bool:
    return actor.has_role(Role.PLATFORM_ADMIN)


def member_ids(session: Session, pool_id: int) -> set[int]:
    return set(
        session.scalars(select(PoolMember.institution_id).where(PoolMember.pool_id == pool_id))
    )


def _lock(session: Session, pool_id: int) -> ResourcePool:
    """Take the pool's lock for the rest of the transaction and read it afresh."""
    session.execute(select(ResourcePool.id).where(ResourcePool.id == pool_id).with_for_update())
    pool = session.get(ResourcePool, pool_id, populate_existing=True)
    if pool is None:
        raise NotFound(NOT_FOUND)
    return pool


def _fresh(session: Session, model: type[T], row_id: int) -> T:
    found = session.get(model, row_id, populate_existing=True)
    if found is None:
        raise NotFound(NOT_FOUND)
    return found


def settings_of(pool: ResourcePool) -> PolicySettings:
    return policy_from(pool.policy)


def ready(entry: WaitlistEntry) -> bool:
    """Ready to be admitted: donor (or graft) found and work-up done."""
    return bool(entry.donor_found and entry.workup_done)


# --- who may do what ----------------------------------------------------------------------


def may_read(session: Session, actor: Actor, pool: ResourcePool) -> bool:
    if not actor.can(Permission.POOL_READ):
        return False
    return is_platform_admin(actor) or actor.institution_id in member_ids(session, pool.id)


def leads(actor: Actor, pool: ResourcePool) -> bool:
    """May change the pool itself: policy, members, units, overrides."""
    return is_platform_admin(actor) or (
        actor.can(Permission.POOL_COORDINATE) and actor.institution_id == pool.lead_institution_id
    )


def keeps(actor: Actor, pool: ResourcePool, unit: ResourceUnit) -> bool:
    """May set the unit's status, admit and discharge: its institution's coordinators (and
    the pool's lead)."""
    if leads(actor, pool):
        return True
    return actor.can(Permission.POOL_COORDINATE) and actor.institution_id == unit.institution_id


def on_team(actor: Actor, entry: WaitlistEntry) -> bool:
    """Answers for the listed patient: the listing institution's staff who may list."""
    return is_platform_admin(actor) or (
        actor.can(Permission.POOL_LIST) and actor.institution_id == entry.listing_institution_id
    )


def sees_patient(actor: Actor, entry: WaitlistEntry) -> bool:
    """Reads the patient's name: the listing institution's own staff; others of the pool see
    it masked (they allocate by the clinical fields and the order)."""
    return is_platform_admin(actor) or actor.institution_id == entry.listing_institution_id


def get_pool(session: Session, actor: Actor, pool_id: int) -> ResourcePool:
    pool = session.get(ResourcePool, pool_id)
    if pool is None or not may_read(session, actor, pool):
        raise NotFound(NOT_FOUND)
    return pool


def list_pools(session: Session, actor: Actor) -> list[ResourcePool]:
    _require(actor, Permission.POOL_READ)
    query = select(ResourcePool).order_by(ResourcePool.code)
    if not is_platform_admin(actor):
        query = query.join(PoolMember, PoolMember.pool_id == ResourcePool.id).where(
            PoolMember.institution_id == actor.institution_id
        )
    return list(session.scalars(query))


def _unit(session: Session, actor: Actor, unit_id: int) -> tuple[ResourcePool, ResourceUnit]:
    unit = session.get(ResourceUnit, unit_id)
    if unit is None:
        raise NotFound(NOT_FOUND)
    return get_pool(session, actor, unit.pool_id), unit


def get_entry(session: Session, actor: Actor, entry_id: int) -> WaitlistEntry:
    entry = session.get(WaitlistEntry, entry_id)
    if entry is None:
        raise NotFound(NOT_FOUND)
    get_pool(session, actor, entry.pool_id)
    return entry


def _offer(session: Session, actor: Actor, offer_id: int) -> tuple[Offer, WaitlistEntry]:
    offer = session.get(Offer, offer_id)
    if offer is None:
        raise NotFound(NOT_FOUND)
    entry = get_entry(session, actor, offer.entry_id)
    return offer, entry


# --- the pool itself ------------------------------------------------------------------------


def _institutions(session: Session, ids: Iterable[int], field: str) -> None:
    wanted = sorted(set(ids))
    if not wanted:
        return
    found = set(session.scalars(select(Institution.id).where(Institution.id.in_(wanted))))
    missing = [i for i in wanted if i not in found]
    if missing:
        raise _invalid(
            FieldError(field, UNKNOWN_INSTITUTION, {"id": missing[0]}, "unknown_institution")
        )


def create_pool(session: Session, actor: Actor, data: PoolCreate) -> ResourcePool:
    """A new pool led by the actor's institution (its coordinators run it)."""
    _require(actor, Permission.POOL_COORDINATE)
    if session.scalar(select(ResourcePool.id).where(ResourcePool.code == data.code)):
        raise _invalid(FieldError("code", DUPLICATE_POOL, code="duplicate_code"))
    _institutions(session, data.member_institution_ids, "member_institution_ids")
    now = clock.now()
    pool = ResourcePool(
        code=data.code,
        name_zh=data.name_zh,
        name_en=data.name_en,
        kind=data.kind.value,
        lead_institution_id=actor.institution_id,
        policy=data.policy.model_dump(),
        pooled_since=data.pooled_since or today_of(now),
        created_at=now,
        updated_at=now,
    )
    session.add(pool)
    _flush(session)
    for institution_id in sorted({actor.institution_id, *data.member_institution_ids}):
        session.add(
            PoolMember(pool_id=pool.id, institution_id=institution_id, joined_on=today_of(now))
        )
    _flush(session)
    audit.record(
        session,
        actor,
        "pool.create",
        object_type="resource_pool",
        object_id=pool.id,
        detail={"code": pool.code},
    )
    return pool


def update_policy(session: Session, actor: Actor, pool_id: int, data: PolicyUpdate) -> ResourcePool:
    pool = get_pool(session, actor, pool_id)
    if not leads(actor, pool):
        raise Forbidden()
    pool = _lock(session, pool_id)
    _check_version(pool.version, data.version)
    before = dict(pool.policy)
    pool.policy = data.policy.model_dump()
    pool.updated_at = clock.now()
    _flush(session)
    audit.record(
        session,
        actor,
        "pool.policy",
        object_type="resource_pool",
        object_id=pool.id,
        detail={"before": before, "after": pool.policy},
    )
    return pool


def add_member(session: Session, actor: Actor, pool_id: int, data: MemberIn) -> PoolMember:
    pool = get_pool(session, actor, pool_id)
    if not leads(actor, pool):
        raise Forbidden()
    _institutions(session, [data.institution_id], "institution_id")
    _lock(session, pool_id)
    existing = session.scalar(
        select(PoolMember).where(
            PoolMember.pool_id == pool_id, PoolMember.institution_id == data.institution_id
        )
    )
    if existing is not None:
        return existing
    member = PoolMember(
        pool_id=pool_id, institution_id=data.institution_id, joined_on=today_of(clock.now())
    )
    session.add(member)
    _flush(session)
    audit.record(
        session,
        actor,
        "pool.member_add",
        object_type="resource_pool",
        object_id=pool_id,
        detail={"institution_id": data.institution_id},
    )
    return member


def add_unit(session: Session, actor: Actor, pool_id: int, data: UnitCreate) -> ResourceUnit:
    """A new unit, free from now (and given at once if someone is waiting for it)."""
    pool = get_pool(session, actor, pool_id)
    if not leads(actor, pool):
        raise Forbidden()
    pool = _lock(session, pool_id)
    if data.institution_id not in member_ids(session, pool_id):
        raise _invalid(FieldError("institution_id", NOT_A_MEMBER, code="not_a_member"))
    if session.scalar(
        select(ResourceUnit.id).where(
            ResourceUnit.pool_id == pool_id, ResourceUnit.code == data.code
        )
    ):
        raise _invalid(FieldError("code", DUPLICATE_CODE, code="duplicate_code"))
    now = clock.now()
    unit = ResourceUnit(
        pool_id=pool_id,
        institution_id=data.institution_id,
        code=data.code,
        name=data.name,
        room_class=data.room_class,
        status=UnitStatus.FREE.value,
        status_since=now,
        created_at=now,
    )
    session.add(unit)
    _flush(session)
    _unit_event(session, unit, None, actor, now, None)
    audit.record(
        session,
        actor,
        "pool.unit_add",
        object_type="resource_unit",
        object_id=unit.id,
        detail={"pool_id": pool_id, "code": unit.code, "room_class": unit.room_class},
    )
    allocate(session, pool, now, Trigger.UNIT_FREED, focus={unit.id}, actor=actor)
    return unit


# --- allocation ------------------------------------------------------------------------------


def _unit_event(
    session: Session,
    unit: ResourceUnit,
    from_status: str | None,
    actor: Actor | None,
    now: datetime,
    note: str | None,
) -> None:
    session.add(
        UnitEvent(
            unit_id=unit.id,
            at=now,
            from_status=from_status,
            to_status=unit.status,
            expected_free_on=unit.expected_free_on,
            by_user_id=actor.user_id if actor else None,
            note=note,
        )
    )


def candidate_of(entry: WaitlistEntry, declined: frozenset[int] = frozenset()) -> Candidate:
    return Candidate(
        entry_id=entry.id,
        urgency=Urgency(entry.urgency),
        listed_on=entry.listed_on,
        room_class=entry.room_class,
        sites=frozenset(entry.acceptable_institution_ids),
        ready=ready(entry),
        listing_institution_id=entry.listing_institution_id,
        declined_units=declined,
    )


def _declined_since_free(session: Session, units: Sequence[ResourceUnit]) -> dict[int, set[int]]:
    """Entry -> the free units it declined (or let expire) since each was last freed."""
    result: dict[int, set[int]] = {}
    if not units:
        return result
    since = {u.id: u.status_since for u in units}
    rows = session.execute(
        select(Offer.entry_id, Offer.unit_id, Offer.offered_at).where(
            Offer.unit_id.in_(sorted(since)),
            Offer.status.in_([OfferStatus.DECLINED.value, OfferStatus.EXPIRED.value]),
        )
    )
    for entry_id, unit_id, offered_at in rows:
        if offered_at >= since[unit_id]:
            result.setdefault(entry_id, set()).add(unit_id)
    return result


def waiting_candidates(
    session: Session,
    pool_id: int,
    declined: dict[int, set[int]] | None = None,
    room_classes: Iterable[str] | None = None,
) -> list[Candidate]:
    """The pool's waiting entries as the policy sees them (read in one query); only those
    needing one of ``room_classes`` when given. (An allocation reads only the front of the
    line: ``ranking.decide_in_db``.)"""
    query = select(*ranking.CANDIDATE_COLUMNS).where(
        WaitlistEntry.pool_id == pool_id,
        WaitlistEntry.status == EntryStatus.WAITING.value,
    )
    if room_classes is not None:
        query = query.where(WaitlistEntry.room_class.in_(sorted(set(room_classes))))
    read = ranking.CandidateReader(declined)
    return [read(row) for row in session.execute(query)]


def _free_units(session: Session, pool_id: int) -> list[ResourceUnit]:
    """Free units with no open offer, the longest free first."""
    offered = select(Offer.unit_id).where(
        Offer.pool_id == pool_id, Offer.status == OfferStatus.OPEN.value
    )
    return list(
        session.scalars(
            select(ResourceUnit)
            .where(
                ResourceUnit.pool_id == pool_id,
                ResourceUnit.status == UnitStatus.FREE.value,
                ResourceUnit.id.not_in(offered),
            )
            .order_by(ResourceUnit.status_since, ResourceUnit.id)
        )
    )


def _record(
    session: Session,
    pool: ResourcePool,
    decision: Decision,
    now: datetime,
    trigger: Trigger,
    actor: Actor | None,
    *,
    eligible: int,
    rule: Rule | None = None,
    chosen_entry_id: int | None = None,
    override_reason: str | None = None,
) -> AllocationDecision:
    row = AllocationDecision(
        pool_id=pool.id,
        unit_id=decision.slot.unit_id,
        at=now,
        trigger=trigger.value,
        rule=(rule or decision.rule).value,
        chosen_entry_id=chosen_entry_id
        if chosen_entry_id is not None
        else (decision.chosen.entry_id if decision.chosen else None),
        candidates=[r.as_json() for r in decision.ranked],
        candidate_count=eligible,
        passed_over={k.value: v for k, v in decision.passed_over.items()},
        policy=settings_of(pool).as_json(),
        override_reason=override_reason,
        decided_by_user_id=actor.user_id if actor else None,
    )
    session.add(row)
    _flush(session)
    return row


def _make_offer(
    session: Session,
    pool: ResourcePool,
    unit: ResourceUnit,
    entry: WaitlistEntry,
    decision: AllocationDecision,
    now: datetime,
) -> Offer:
    hours = settings_of(pool).offer_hours
    offer = Offer(
        pool_id=pool.id,
        unit_id=unit.id,
        entry_id=entry.id,
        decision_id=decision.id,
        offered_at=now,
        expires_at=now + timedelta(hours=hours),
        status=OfferStatus.OPEN.value,
    )
    session.add(offer)
    entry.status = EntryStatus.OFFERED.value
    entry.status_changed_at = now
    entry.status_reason = None
    _flush(session)
    tasks.schedule(session, TIMER_OFFER_EXPIRY, "unit_offer", offer.id, offer.expires_at)
    site = session.get(Institution, unit.institution_id)
    notifications.notify(
        session,
        referrals.users_with_roles(session, [entry.listing_institution_id], TEAM_ROLES),
        "pool.offer",
        OFFER_MADE,
        {
            "unit": unit.name,
            "site": site.name_zh if site else "",
            "entry": entry.id,
            "until": offer.expires_at.astimezone(clock.CST).strftime("%Y-%m-%d %H:%M"),
        },
        link=f"/pools/entries/{entry.id}",
        subject_type=SUBJECT,
        subject_id=entry.id,
        base_url=get_settings().base_url,
    )
    return offer


def allocate(
    session: Session,
    pool: ResourcePool,
    now: datetime,
    trigger: Trigger,
    *,
    focus: Iterable[int] = (),
    actor: Actor | None = None,
) -> list[AllocationDecision]:
    """Offer every free unit without an open offer to the next eligible patient. The caller
    holds the pool's lock. A unit nobody can take is recorded as such only when the event was
    about it (``focus``), so the log is not filled with the same "nobody" on every event."""
    units = _free_units(session, pool.id)
    if not units:
        return []
    focus = set(focus)
    declined = _declined_since_free(session, units)
    today, settings = today_of(now), settings_of(pool)
    # entries offered a unit earlier in this round
    chosen: set[int] = set()
    made: list[AllocationDecision] = []
    for unit in units:
        slot = Slot(unit.id, unit.institution_id, unit.room_class)
        decision = ranking.decide_in_db(
            session, pool.id, slot, today, settings, declined, chosen, top=KEPT_CANDIDATES
        )
        if decision.chosen is None:
            if unit.id in focus:
                made.append(_record(session, pool, decision, now, trigger, actor, eligible=0))
            continue
        row = _record(session, pool, decision, now, trigger, actor, eligible=decision.eligible)
        entry = _fresh(session, WaitlistEntry, decision.chosen.entry_id)
        _make_offer(session, pool, unit, entry, row, now)
        chosen.add(entry.id)
        made.append(row)
    return made


def run_allocation(session: Session, actor: Actor, pool_id: int) -> list[AllocationDecision]:
    """Allocate what can be allocated now (after a catch-up, or to check)."""
    pool = get_pool(session, actor, pool_id)
    if not actor.can(Permission.POOL_COORDINATE) and not is_platform_admin(actor):
        raise Forbidden()
    pool = _lock(session, pool_id)
    made = allocate(session, pool, clock.now(), Trigger.REQUESTED, actor=actor)
    audit.record(
        session,
        actor,
        "pool.allocate",
        object_type="resource_pool",
        object_id=pool.id,
        detail={"decisions": [d.id for d in made]},
    )
    return made


# --- the waitlist ----------------------------------------------------------------------------


def classes_of(session: Session, pool_id: int) -> dict[str, set[int]]:
    """Room class -> the institutions with units of it in the pool (retired units aside)."""
    result: dict[str, set[int]] = {}
    rows = session.execute(
        select(ResourceUnit.room_class, ResourceUnit.institution_id).where(
            ResourceUnit.pool_id == pool_id, ResourceUnit.status != UnitStatus.RETIRED.value
        )
    )
    for room_class, institution_id in rows:
        result.setdefault(room_class, set()).add(institution_id)
    return result


def _institution_names(session: Session, ids: Iterable[int]) -> dict[int, str]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = session.scalars(select(Institution).where(Institution.id.in_(wanted)))
    return {row.id: name_of(row) for row in rows}


def _sites(
    session: Session, pool_id: int, room_class: str, wanted: Sequence[int], field: str
) -> list[int]:
    having = classes_of(session, pool_id).get(room_class, set())
    if not wanted:
        return sorted(having)
    bad = sorted(set(wanted) - having)
    if bad:
        names = _institution_names(session, bad)
        shown = ", ".join(names.get(i, str(i)) for i in bad)
        raise _invalid(FieldError(field, NOT_A_SITE, {"names": shown}, "not_a_site"))
    return sorted(set(wanted))


def _check_class(session: Session, pool_id: int, room_class: str) -> None:
    classes = classes_of(session, pool_id)
    if room_class not in classes:
        shown = ", ".join(sorted(classes)) or "—"
        raise _invalid(
            FieldError(
                "room_class",
                NO_SUCH_CLASS,
                {"room_class": room_class, "classes": shown},
                "room_class_unknown",
            )
        )


def _check_consent(session: Session, pool_id: int, patient: Patient, now: datetime) -> None:
    """Consent to share with every other institution of the pool (they see the entry)."""
    problems: list[FieldError] = []
    for institution_id in sorted(member_ids(session, pool_id) - {patient.institution_id}):
        try:
            patients.require_consent(session, patient.id, institution_id, CONSENT_PURPOSE, now)
        except ValidationFailed as exc:
            problems.extend(exc.field_errors)
    if problems:
        raise ValidationFailed(code="consent_missing", field_errors=problems)


def list_patient(session: Session, actor: Actor, pool_id: int, data: EntryCreate) -> WaitlistEntry:
    """Put one of the actor's institution's patients on the pool's waitlist."""
    _require(actor, Permission.POOL_LIST)
    pool = get_pool(session, actor, pool_id)
    if actor.institution_id not in member_ids(session, pool.id):
        raise Forbidden(NOT_A_MEMBER)
    patient = session.get(Patient, data.patient_id)
    if patient is None or patient.institution_id != actor.institution_id:
        raise _invalid(
            FieldError("patient_id", UNKNOWN_PATIENT, {"id": data.patient_id}, "unknown_patient")
        )
    if patient.merged_into_id is not None:
        raise _invalid(FieldError("patient_id", PATIENT_MERGED, code="patient_merged"))
    code = icd10.normalise(data.icd10_code)
    if not icd10.is_valid(code):
        raise _invalid(FieldError("icd10_code", NOT_ICD10, {"code": data.icd10_code}, "not_icd10"))
    _check_class(session, pool.id, data.room_class)
    sites = _sites(
        session,
        pool.id,
        data.room_class,
        data.acceptable_institution_ids,
        "acceptable_institution_ids",
    )
    now = clock.now()
    _check_consent(session, pool.id, patient, now)
    pool = _lock(session, pool.id)
    live = session.scalar(
        select(WaitlistEntry.id).where(
            WaitlistEntry.pool_id == pool.id,
            WaitlistEntry.patient_id == patient.id,
            WaitlistEntry.status.in_([EntryStatus.WAITING.value, EntryStatus.OFFERED.value]),
        )
    )
    if live is not None:
        raise Conflict(ALREADY_LISTED, code="already_listed", entry=live)
    # a patient in one of the pool's units now is listed again only after the discharge
    in_unit = session.scalar(
        select(Admission.entry_id).where(
            Admission.pool_id == pool.id,
            Admission.patient_id == patient.id,
            Admission.discharged_at.is_(None),
        )
    )
    if in_unit is not None:
        raise Conflict(ALREADY_ADMITTED, code="already_admitted", entry=in_unit)
    entry = WaitlistEntry(
        pool_id=pool.id,
        patient_id=patient.id,
        listing_institution_id=actor.institution_id,
        listed_by_user_id=actor.user_id,
        listed_at=now,
        listed_on=today_of(now),
        icd10_code=code,
        transplant_type=data.transplant_type.value,
        room_class=data.room_class,
        urgency=data.urgency.value,
        donor_found=data.donor_found,
        workup_done=data.workup_done,
        acceptable_institution_ids=sites,
        status=EntryStatus.WAITING.value,
        status_changed_at=now,
        note=data.note,
    )
    try:
        with session.begin_nested():
            session.add(entry)
            session.flush()
    except IntegrityError as exc:
        raise Conflict(ALREADY_LISTED, code="already_listed", entry="?") from exc
    estimates.record_prediction(session, pool, entry, today_of(now))
    _flush(session)
    audit.record(
        session,
        actor,
        "pool.list",
        object_type=SUBJECT,
        object_id=entry.id,
        detail=_audit_detail(entry),
    )
    if ready(entry):
        allocate(session, pool, now, Trigger.ENTRY_LISTED, actor=actor)
    return entry


def _audit_detail(entry: WaitlistEntry) -> dict[str, Any]:
    return {
        "pool_id": entry.pool_id,
        "patient_id": entry.patient_id,
        "status": entry.status,
        "urgency": entry.urgency,
        "room_class": entry.room_class,
        "ready": ready(entry),
    }


def update_entry(session: Session, actor: Actor, entry_id: int, data: EntryUpdate) -> WaitlistEntry:
    """Readiness, urgency, acceptable sites or the note; an entry that became ready is
    offered a free unit at once if one is there for it."""
    entry = get_entry(session, actor, entry_id)
    if not on_team(actor, entry):
        raise Forbidden()
    pool = _lock(session, entry.pool_id)
    entry = _fresh(session, WaitlistEntry, entry_id)
    _check_version(entry.version, data.version)
    if entry.status not in (EntryStatus.WAITING.value, EntryStatus.OFFERED.value):
        raise Conflict(ENTRY_NOT_WAITING, code="entry_closed", status=entry.status)
    was_ready = ready(entry)
    before = _audit_detail(entry)
    if data.urgency is not None:
        entry.urgency = data.urgency.value
    if data.donor_found is not None:
        entry.donor_found = data.donor_found
    if data.workup_done is not None:
        entry.workup_done = data.workup_done
    if data.acceptable_institution_ids is not None:
        entry.acceptable_institution_ids = _sites(
            session,
            pool.id,
            entry.room_class,
            data.acceptable_institution_ids,
            "acceptable_institution_ids",
        )
    if data.note is not None:
        entry.note = data.note or None
    _flush(session)
    audit.record(
        session,
        actor,
        "pool.entry_update",
        object_type=SUBJECT,
        object_id=entry.id,
        detail={"before": before, "after": _audit_detail(entry)},
    )
    if ready(entry) and entry.status == EntryStatus.WAITING.value:
        allocate(
            session,
            pool,
            clock.now(),
            Trigger.ENTRY_READY if not was_ready else Trigger.REQUESTED,
            actor=actor,
        )
    return entry


def _withdraw_open_offer(
    session: Session, entry: WaitlistEntry, reason: str, now: datetime, actor: Actor | None
) -> Offer | None:
    offer = session.scalar(
        select(Offer).where(Offer.entry_id == entry.id, Offer.status == OfferStatus.OPEN.value)
    )
    if offer is None:
        return None
    offer.status = OfferStatus.WITHDRAWN.value
    offer.reason = reason
    offer.responded_at = now
    offer.responded_by_user_id = actor.user_id if actor else None
    return offer


def close_entry(session: Session, actor: Actor, entry_id: int, data: EntryClose) -> WaitlistEntry:
    """Withdraw (the patient's side) or remove (no longer eligible) an entry, with a reason;
    a unit offered to it goes on to the next patient."""
    if data.status not in (EntryStatus.WITHDRAWN, EntryStatus.REMOVED):
        raise _invalid(FieldError("status", CLOSE_STATUS, code="bad_status"))
    entry = get_entry(session, actor, entry_id)
    pool = session.get(ResourcePool, entry.pool_id)
    assert pool is not None
    if not (on_team(actor, entry) or leads(actor, pool)):
        raise Forbidden()
    pool = _lock(session, entry.pool_id)
    entry = _fresh(session, WaitlistEntry, entry_id)
    _check_version(entry.version, data.version)
    if entry.status not in (EntryStatus.WAITING.value, EntryStatus.OFFERED.value):
        raise Conflict(ENTRY_NOT_WAITING, code="entry_closed", status=entry.status)
    now = clock.now()
    offer = _withdraw_open_offer(session, entry, data.reason, now, actor)
    entry.status = data.status.value
    entry.status_reason = data.reason
    entry.status_changed_at = now
    _flush(session)
    audit.record(
        session,
        actor,
        f"pool.entry_{data.status.value}",
        object_type=SUBJECT,
        object_id=entry.id,
        detail={"reason": data.reason, "offer_id": offer.id if offer else None},
    )
    if offer is not None:
        allocate(session, pool, now, Trigger.OFFER_WITHDRAWN, focus={offer.unit_id}, actor=actor)
    return entry


# --- offers -----------------------------------------------------------------------------------


def _open_offer_checked(session: Session, offer_id: int, version: int, now: datetime) -> Offer:
    offer = _fresh(session, Offer, offer_id)
    _check_version(offer.version, version)
    if offer.status != OfferStatus.OPEN.value:
        raise Conflict(
            OFFER_CLOSED, code="offer_closed", status=i18n.gettext(_offer_label(offer.status))
        )
    if now >= offer.expires_at:
        raise Conflict(
            OFFER_EXPIRED,
            code="offer_expired",
            at=offer.expires_at.astimezone(clock.CST).strftime("%Y-%m-%d %H:%M"),
        )
    return offer


def _offer_label(status: str) -> str:
    return OFFER_STATUS_LABELS[OfferStatus(status)]


def _tell_keepers(
    session: Session,
    pool: ResourcePool,
    unit: ResourceUnit,
    message: str,
    params: dict[str, Any],
    entry: WaitlistEntry,
    exclude: int | None,
    *,
    also_team: bool = False,
) -> None:
    """Tell the coordinators of the unit's hospital and of the pool's lead (and, with
    ``also_team``, the patient's team) how an offer ended."""
    users = referrals.users_with_roles(
        session, {unit.institution_id, pool.lead_institution_id}, COORDINATOR_ROLES
    )
    if also_team:
        users += referrals.users_with_roles(session, [entry.listing_institution_id], TEAM_ROLES)
    notifications.notify(
        session,
        [u for u in users if u != exclude],
        "pool.offer_answer",
        message,
        params,
        link=f"/pools/{pool.id}",
        subject_type=SUBJECT,
        subject_id=entry.id,
        base_url=get_settings().base_url,
    )


def accept_offer(session: Session, actor: Actor, offer_id: int, data: OfferAccept) -> Admission:
    """The team takes the unit: the patient is admitted (today, or the day given)."""
    offer, entry = _offer(session, actor, offer_id)
    if not on_team(actor, entry):
        raise Forbidden()
    pool = _lock(session, offer.pool_id)
    now = clock.now()
    offer = _open_offer_checked(session, offer_id, data.version, now)
    entry = _fresh(session, WaitlistEntry, offer.entry_id)
    unit = _fresh(session, ResourceUnit, offer.unit_id)
    today = today_of(now)
    admitted_on = data.admitted_on or today
    offered_on = today_of(offer.offered_at)
    if admitted_on < offered_on:
        raise _invalid(
            FieldError(
                "admitted_on", NOT_BEFORE_OFFER, {"day": offered_on.isoformat()}, "before_offer"
            )
        )
    if admitted_on > today + timedelta(days=7):
        raise _invalid(FieldError("admitted_on", TOO_FAR, {"days": 7}, "too_far_ahead"))
    stay = settings_of(pool).default_stay_days
    expected = data.expected_discharge_on or admitted_on + timedelta(days=stay)
    if expected < admitted_on:
        raise _invalid(
            FieldError(
                "expected_discharge_on",
                NOT_BEFORE_ADMISSION,
                {"day": admitted_on.isoformat()},
                "before_admission",
            )
        )
    admitted_at = (
        now
        if admitted_on == today
        else datetime.combine(admitted_on, datetime.min.time(), clock.CST)
    )
    offer.status = OfferStatus.ACCEPTED.value
    offer.responded_at = now
    offer.responded_by_user_id = actor.user_id
    entry.status = EntryStatus.ADMITTED.value
    entry.status_changed_at = now
    old = unit.status
    unit.status = UnitStatus.OCCUPIED.value
    unit.status_since = now
    unit.expected_free_on = expected + timedelta(days=settings_of(pool).turnaround_days)
    admission = Admission(
        pool_id=pool.id,
        unit_id=unit.id,
        entry_id=entry.id,
        patient_id=entry.patient_id,
        offer_id=offer.id,
        admitted_at=admitted_at,
        expected_discharge_on=expected,
    )
    session.add(admission)
    _flush(session)
    _unit_event(session, unit, old, actor, now, None)
    audit.record(
        session,
        actor,
        "pool.offer_accept",
        object_type=SUBJECT,
        object_id=entry.id,
        detail={"offer_id": offer.id, "unit_id": unit.id, "admission_id": admission.id},
    )
    _tell_keepers(
        session,
        pool,
        unit,
        OFFER_TAKEN,
        {"entry": entry.id, "unit": unit.name},
        entry,
        actor.user_id,
    )
    return admission


def _turn_down(
    session: Session,
    pool: ResourcePool,
    offer: Offer,
    status: OfferStatus,
    reason: str,
    now: datetime,
    actor: Actor | None,
) -> list[AllocationDecision]:
    entry = _fresh(session, WaitlistEntry, offer.entry_id)
    unit = _fresh(session, ResourceUnit, offer.unit_id)
    offer.status = status.value
    offer.reason = reason
    offer.responded_at = now
    offer.responded_by_user_id = actor.user_id if actor else None
    # the entry keeps its place for the next unit
    entry.status = EntryStatus.WAITING.value
    entry.status_changed_at = now
    entry.status_reason = reason
    _flush(session)
    _tell_keepers(
        session,
        pool,
        unit,
        OFFER_DECLINED if status == OfferStatus.DECLINED else OFFER_LAPSED,
        {"entry": entry.id, "unit": unit.name},
        entry,
        actor.user_id if actor else None,
        also_team=status == OfferStatus.EXPIRED,
    )
    trigger = Trigger.OFFER_DECLINED if status == OfferStatus.DECLINED else Trigger.OFFER_EXPIRED
    return allocate(session, pool, now, trigger, focus={unit.id}, actor=actor)


def decline_offer(session: Session, actor: Actor, offer_id: int, data: OfferDecline) -> Offer:
    """The team turns the unit down, with a reason; the entry keeps its place and the unit
    goes to the next patient."""
    offer, entry = _offer(session, actor, offer_id)
    if not on_team(actor, entry):
        raise Forbidden()
    pool = _lock(session, offer.pool_id)
    now = clock.now()
    offer = _open_offer_checked(session, offer_id, data.version, now)
    _turn_down(session, pool, offer, OfferStatus.DECLINED, data.reason, now, actor)
    audit.record(
        session,
        actor,
        "pool.offer_decline",
        object_type=SUBJECT,
        object_id=offer.entry_id,
        detail={"offer_id": offer.id, "unit_id": offer.unit_id, "reason": data.reason},
    )
    return offer


EXPIRED_REASON = "expired"


def expire_offer(session: Session, offer_id: int, now: datetime) -> bool:
    """The offer's time is up (timer): the entry keeps its place and the unit goes on. Safe
    to run twice and late: only an open offer past its expiry is expired."""
    found = session.get(Offer, offer_id)
    if found is None:
        return False
    pool = _lock(session, found.pool_id)
    offer = _fresh(session, Offer, offer_id)
    if offer.status != OfferStatus.OPEN.value or now < offer.expires_at:
        return False
    _turn_down(session, pool, offer, OfferStatus.EXPIRED, EXPIRED_REASON, now, None)
    audit.record(
        session,
        None,
        "pool.offer_expire",
        object_type=SUBJECT,
        object_id=offer.entry_id,
        detail={"offer_id": offer.id, "unit_id": offer.unit_id},
        username="system",
    )
    return True


def override(session: Session, actor: Actor, pool_id: int, data: OverrideIn) -> AllocationDecision:
    """Give a free unit to a patient other than the policy's choice, with a written reason
    (kept with the decision, audited, shown in reports). An open offer of the unit is
    withdrawn; its patient keeps their place."""
    pool = get_pool(session, actor, pool_id)
    if not leads(actor, pool):
        raise Forbidden()
    pool = _lock(session, pool_id)
    now = clock.now()
    unit = _fresh(session, ResourceUnit, data.unit_id)
    entry = _fresh(session, WaitlistEntry, data.entry_id)
    if unit.pool_id != pool.id or entry.pool_id != pool.id:
        raise NotFound(NOT_FOUND)
    if unit.status != UnitStatus.FREE.value:
        raise Conflict(UNIT_NOT_FREE, code="unit_not_free", status=unit.status)
    if entry.status != EntryStatus.WAITING.value:
        raise Conflict(ENTRY_NOT_WAITING, code="entry_not_waiting", status=entry.status)
    if entry.room_class != unit.room_class:
        raise _invalid(
            FieldError(
                "entry_id",
                WRONG_CLASS,
                {"needed": entry.room_class, "room_class": unit.room_class},
                "wrong_class",
            )
        )
    if unit.institution_id not in entry.acceptable_institution_ids:
        raise _invalid(FieldError("entry_id", SITE_NOT_ACCEPTED, code="site_not_accepted"))
    current = session.scalar(
        select(Offer).where(Offer.unit_id == unit.id, Offer.status == OfferStatus.OPEN.value)
    )
    if current is not None:
        displaced = _fresh(session, WaitlistEntry, current.entry_id)
        current.status = OfferStatus.WITHDRAWN.value
        current.reason = data.reason
        current.responded_at = now
        current.responded_by_user_id = actor.user_id
        displaced.status = EntryStatus.WAITING.value
        displaced.status_changed_at = now
        _flush(session)
    # the policy's own choice and ranking, recorded next to the override
    declined = _declined_since_free(session, [unit])
    slot = Slot(unit.id, unit.institution_id, unit.room_class)
    decision = ranking.decide_in_db(
        session, pool.id, slot, today_of(now), settings_of(pool), declined, top=KEPT_CANDIDATES
    )
    row = _record(
        session,
        pool,
        decision,
        now,
        Trigger.OVERRIDE,
        actor,
        eligible=decision.eligible,
        rule=Rule.OVERRIDE,
        chosen_entry_id=entry.id,
        override_reason=data.reason,
    )
    _make_offer(session, pool, unit, entry, row, now)
    audit.record(
        session,
        actor,
        "pool.override",
        object_type="resource_unit",
        object_id=unit.id,
        detail={
            "decision_id": row.id,
            "entry_id": entry.id,
            "policy_choice": decision.chosen.entry_id if decision.chosen else None,
            "reason": data.reason,
            "displaced_offer_id": current.id if current else None,
        },
    )
    if current is not None:
        allocate(session, pool, now, Trigger.OFFER_WITHDRAWN, actor=actor)
    return row


# --- units, admissions, discharges -----------------------------------------------------------


def set_unit_status(
    session: Session, actor: Actor, unit_id: int, data: UnitStatusIn
) -> ResourceUnit:
    """Free, cleaning, maintenance or retired, by hand. Freeing gives the unit to the next
    patient at once; taking a unit out withdraws an open offer of it."""
    pool, unit = _unit(session, actor, unit_id)
    if not keeps(actor, pool, unit):
        raise Forbidden()
    if data.status == UnitStatus.OCCUPIED:
        raise _invalid(FieldError("status", OCCUPIED_BY_ADMISSION, code="occupied_by_admission"))
    now = clock.now()
    today = today_of(now)
    if data.status in (UnitStatus.CLEANING, UnitStatus.MAINTENANCE):
        if data.expected_free_on is None:
            raise _invalid(FieldError("expected_free_on", NEEDS_DATE, code="required"))
        if data.expected_free_on < today:
            raise _invalid(
                FieldError("expected_free_on", N_("This date has passed."), code="in_past")
            )
        if data.expected_free_on > today + timedelta(days=366):
            raise _invalid(FieldError("expected_free_on", TOO_FAR, {"days": 366}, "too_far_ahead"))
    pool = _lock(session, pool.id)
    unit = _fresh(session, ResourceUnit, unit_id)
    _check_version(unit.version, data.version)
    if unit.status == UnitStatus.OCCUPIED.value:
        raise Conflict(UNIT_OCCUPIED, code="unit_occupied")
    old = unit.status
    unit.status = data.status.value
    if old != unit.status:
        unit.status_since = now
    unit.expected_free_on = (
        data.expected_free_on
        if data.status in (UnitStatus.CLEANING, UnitStatus.MAINTENANCE)
        else None
    )
    unit.note = data.note
    withdrawn: Offer | None = None
    if data.status != UnitStatus.FREE:
        withdrawn = session.scalar(
            select(Offer).where(Offer.unit_id == unit.id, Offer.status == OfferStatus.OPEN.value)
        )
        if withdrawn is not None:
            entry = _fresh(session, WaitlistEntry, withdrawn.entry_id)
            withdrawn.status = OfferStatus.WITHDRAWN.value
            withdrawn.reason = data.note or data.status.value
            withdrawn.responded_at = now
            withdrawn.responded_by_user_id = actor.user_id
            entry.status = EntryStatus.WAITING.value
            entry.status_changed_at = now
    _flush(session)
    _unit_event(session, unit, old, actor, now, data.note)
    audit.record(
        session,
        actor,
        "pool.unit_status",
        object_type="resource_unit",
        object_id=unit.id,
        detail={
            "from": old,
            "to": unit.status,
            "withdrawn_offer_id": withdrawn.id if withdrawn else None,
        },
    )
    if unit.status == UnitStatus.FREE.value:
        allocate(session, pool, now, Trigger.UNIT_FREED, focus={unit.id}, actor=actor)
    elif withdrawn is not None:
        allocate(session, pool, now, Trigger.OFFER_WITHDRAWN, actor=actor)
    return unit


def current_admission(session: Session, unit_id: int) -> Admission | None:
    return session.scalar(
        select(Admission).where(Admission.unit_id == unit_id, Admission.discharged_at.is_(None))
    )


def discharge(session: Session, actor: Actor, unit_id: int, data: DischargeIn) -> Admission:
    """The patient leaves: the stay's length is kept (it feeds the wait estimates) and the unit
    goes to cleaning (or straight to free, and on to the next patient)."""
    pool, unit = _unit(session, actor, unit_id)
    if not keeps(actor, pool, unit):
        raise Forbidden()
    if data.then not in (UnitStatus.CLEANING, UnitStatus.FREE, UnitStatus.MAINTENANCE):
        raise _invalid(
            FieldError(
                "then",
                N_("After a discharge a unit is cleaned, free or in maintenance."),
                code="bad_status",
            )
        )
    pool = _lock(session, pool.id)
    unit = _fresh(session, ResourceUnit, unit_id)
    admission = current_admission(session, unit.id)
    if unit.status != UnitStatus.OCCUPIED.value or admission is None:
        raise Conflict(
            UNIT_NOT_OCCUPIED,
            code="unit_not_occupied",
            status=i18n.gettext(_unit_label(unit.status)),
        )
    now = clock.now()
    today = today_of(now)
    day = data.discharged_on or today
    admitted_on = today_of(admission.admitted_at)
    if day > today:
        raise _invalid(FieldError("discharged_on", IN_FUTURE, code="in_future"))
    if day < admitted_on:
        raise _invalid(
            FieldError(
                "discharged_on",
                NOT_BEFORE_ADMISSION,
                {"day": admitted_on.isoformat()},
                "before_admission",
            )
        )
    settings = settings_of(pool)
    admission.discharged_at = (
        now
        if day == today
        else max(admission.admitted_at, datetime.combine(day, datetime.min.time(), clock.CST))
    )
    admission.length_of_stay_days = (day - admitted_on).days
    admission.discharge_note = data.note
    old = unit.status
    unit.status = data.then.value
    unit.status_since = now
    if data.then == UnitStatus.FREE:
        unit.expected_free_on = None
    else:
        unit.expected_free_on = data.expected_free_on or today + timedelta(
            days=max(1, settings.turnaround_days)
        )
    _flush(session)
    _unit_event(session, unit, old, actor, now, data.note)
    audit.record(
        session,
        actor,
        "pool.discharge",
        object_type="resource_unit",
        object_id=unit.id,
        detail={
            "admission_id": admission.id,
            "entry_id": admission.entry_id,
            "length_of_stay_days": admission.length_of_stay_days,
            "then": unit.status,
        },
    )
    if unit.status == UnitStatus.FREE.value:
        allocate(session, pool, now, Trigger.UNIT_FREED, focus={unit.id}, actor=actor)
    return admission


def _unit_label(status: str) -> str:
    return UNIT_STATUS_LABELS[UnitStatus(status)]


# --- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolCounts:
    units: int
    free: int
    occupied: int
    waiting: int
    ready: int
    offered: int


def counts(session: Session, pool_id: int) -> PoolCounts:
    units = dict(
        session.execute(
            select(ResourceUnit.status, func.count())
            .where(ResourceUnit.pool_id == pool_id)
            .group_by(ResourceUnit.status)
        ).all()
    )
    entries = session.execute(
        select(
            WaitlistEntry.status, WaitlistEntry.donor_found, WaitlistEntry.workup_done, func.count()
        )
        .where(
            WaitlistEntry.pool_id == pool_id,
            WaitlistEntry.status.in_([EntryStatus.WAITING.value, EntryStatus.OFFERED.value]),
        )
        .group_by(WaitlistEntry.status, WaitlistEntry.donor_found, WaitlistEntry.workup_done)
    ).all()
    waiting = sum(n for status, _, _, n in entries if status == EntryStatus.WAITING.value)
    ready_count = sum(
        n
        for status, donor, workup, n in entries
        if status == EntryStatus.WAITING.value and donor and workup
    )
    offered = sum(n for status, _, _, n in entries if status == EntryStatus.OFFERED.value)
    return PoolCounts(
        units=sum(n for status, n in units.items() if status != UnitStatus.RETIRED.value),
        free=units.get(UnitStatus.FREE.value, 0),
        occupied=units.get(UnitStatus.OCCUPIED.value, 0),
        waiting=waiting,
        ready=ready_count,
        offered=offered,
    )
