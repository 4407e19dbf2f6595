"""API of pooled scarce resources (transplant cleanrooms shared across hospitals): pools and their
members and units, the waitlist, offers and their answers, admissions and discharges, the
allocation decisions with their reasons, the pooled-against-separate figures, and the
families' status links.

A pool is seen by the staff of its member institutions (POOL_READ); anything else answers 404,
as do unknown ids. Patients' names are shown to their own institution's staff and masked for
the rest of the pool. Listing patients and answering offers is for the listing institution's
team (POOL_LIST); keeping units, admitting and discharging for the unit's institution's
coordinators (POOL_COORDINATE); policy, members, units and overrides for the coordinators of
the pool's lead institution.

Refusals are problem+json with a stable ``code``:

- 422: ``room_class_unknown``, ``not_a_site``, ``unknown_patient``, ``patient_merged``,
  ``not_icd10``, ``consent_missing``, ``wrong_class``, ``site_not_accepted``,
  ``occupied_by_admission``, ``required``, ``in_past``, ``in_future``, ``too_far_ahead``,
  ``before_offer``, ``before_admission``, ``bad_status``, ``duplicate_code``,
  ``unknown_institution``, ``not_a_member``, ``validation_failed`` (a malformed body, e.g. an
  override without a reason);
- 409: ``already_listed``, ``stale_version``, ``entry_closed``, ``entry_not_waiting``,
  ``offer_closed``, ``offer_expired``, ``unit_occupied``, ``unit_not_occupied``,
  ``unit_not_free``;
- 403 ``forbidden``, 404 ``not_found``; the family's link (no login): 404 ``link_invalid``
  (unknown, revoked or expired).
"""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Annotated

from fastapi import Query, Request, Response, status
from sqlalchemy.orm import Session

from medcircle.auth.domain import Actor
from medcircle.kit import clock
from medcircle.pools import forecast, queries
from medcircle.pools import service as svc
from medcircle.pools.estimates import Estimator
from medcircle.pools.models import AllocationDecision, ResourcePool, WaitlistEntry
from medcircle.pools.schemas import (
    AdmissionRead,
    BacktestRead,
    CandidateRead,
    ClassFiguresRead,
    ComparisonRead,
    DecisionDetail,
    DecisionRead,
    DischargeIn,
    EntryClose,
    EntryCreate,
    EntryDetail,
    EntryRead,
    EntryUpdate,
    EstimateRead,
    FamilyStatusRead,
    MemberIn,
    MemberRead,
    ObservedWaitsRead,
    OfferAccept,
    OfferDecline,
    OfferRead,
    OverrideIn,
    PolicyUpdate,
    PoolCountsRead,
    PoolCreate,
    PoolDetail,
    PoolFiguresRead,
    PoolRead,
    QueueRead,
    SiteQueueRead,
    StatusLinkCreated,
    StatusLinkInfo,
    UnitCreate,
    UnitRead,
    UnitStatusIn,
)
from medcircle.web.deps import DB, CurrentActor, settings_of, write_session_factory_of
from medcircle.web.routing import QuickRouter

router = QuickRouter(prefix="/api/v1", tags=["pools"])

POOL = "/pools/{pool_id:int}"
UNIT = "/pool-units/{unit_id:int}"
ENTRY = "/waitlist-entries/{entry_id:int}"
OFFER = "/pool-offers/{offer_id:int}"

# the family's answer is never cached, indexed or passed on as a referrer
PRIVATE_HEADERS = {
    "Cache-Control": "no-store, max-age=0",
    "Pragma": "no-cache",
    "X-Robots-Tag": "noindex, nofollow",
    "Referrer-Policy": "no-referrer",
}


# --- shapes -------------------------------------------------------------------------------------


def _pool(session: Session, pool: ResourcePool) -> PoolDetail:
    return PoolDetail(
        **PoolRead.model_validate(pool).model_dump(),
        member_institution_ids=sorted(svc.member_ids(session, pool.id)),
        counts=PoolCountsRead(**asdict(svc.counts(session, pool.id))),
    )


def _estimate(found: forecast.AdmissionRange | None) -> EstimateRead | None:
    if found is None:
        return None
    return EstimateRead(earliest=found.earliest, median=found.median, latest=found.latest)


def _entry(row: queries.EntryRow) -> EntryRead:
    e = row.entry
    return EntryRead(
        id=e.id,
        pool_id=e.pool_id,
        patient_id=e.patient_id,
        patient_name=row.patient_name,
        listing_institution_id=e.listing_institution_id,
        listed_on=e.listed_on,
        icd10_code=e.icd10_code,
        transplant_type=e.transplant_type,
        room_class=e.room_class,
        urgency=e.urgency,
        donor_found=e.donor_found,
        workup_done=e.workup_done,
        ready=row.ready,
        acceptable_institution_ids=list(e.acceptable_institution_ids or ()),
        status=e.status,
        status_reason=e.status_reason,
        position=row.position.place if row.position else None,
        ahead=row.position.ahead_competing if row.position else None,
        estimate=_estimate(row.estimate),
        version=e.version,
    )


def _written_entry(session: Session, actor: Actor, entry: WaitlistEntry) -> EntryRead:
    """An entry just written, with its place and range as they stand now (the write itself is
    in the audit trail already)."""
    pool = svc.get_pool(session, actor, entry.pool_id)
    estimator = Estimator(session, pool, svc.today_of(clock.now()))
    return _entry(queries.entry_rows(session, actor, pool, estimator, [entry], {})[0])


def _decisions(rows: list[AllocationDecision]) -> list[DecisionRead]:
    return [DecisionRead.model_validate(d) for d in rows]


def _queue(q: forecast.QueueEstimate) -> QueueRead:
    return QueueRead(
        servers=q.servers,
        arrivals_per_day=q.arrivals_per_day,
        service_days=q.service_days,
        utilisation=q.utilisation if math.isfinite(q.utilisation) else None,
        unbounded=q.unbounded,
        wait_probability=q.wait_probability,
        mean_wait_days=q.mean_wait_days,
    )


def _comparison(
    found: forecast.PoolingComparison | None, names: dict[int, str]
) -> ComparisonRead | None:
    if found is None:
        return None
    return ComparisonRead(
        service_days=found.service_days,
        sites=[
            SiteQueueRead(
                institution_id=int(s.key),
                institution=names.get(int(s.key), ""),
                queue=_queue(s.queue),
            )
            for s in found.sites
        ],
        separate_unbounded=found.separate_unbounded,
        separate_mean_wait_days=found.separate_mean_wait_days,
        pooled=_queue(found.pooled),
        days_saved=found.days_saved,
    )


# --- pools --------------------------------------------------------------------------------------


@router.get("/pools", response_model=list[PoolRead])
def list_pools(session: DB, actor: CurrentActor) -> list[PoolRead]:
    """The pools your institution belongs to (POOL_READ), by code."""
    return [PoolRead.model_validate(p) for p in svc.list_pools(session, actor)]


@router.post("/pools", response_model=PoolDetail, status_code=status.HTTP_201_CREATED)
def create_pool(body: PoolCreate, session: DB, actor: CurrentActor) -> PoolDetail:
    """A new pool led by your institution (POOL_COORDINATE); your institution is a member.
    422 `duplicate_code`, `unknown_institution`."""
    return _pool(session, svc.create_pool(session, actor, body))


@router.get(POOL, response_model=PoolDetail)
def read_pool(pool_id: int, session: DB, actor: CurrentActor) -> PoolDetail:
    """One pool with its members and the counts of its units and waitlist."""
    return _pool(session, svc.get_pool(session, actor, pool_id))


@router.put(POOL + "/policy", response_model=PoolDetail)
def update_policy(pool_id: int, body: PolicyUpdate, session: DB, actor: CurrentActor) -> PoolDetail:
    """Change the allocation policy's parameters (the lead's coordinators); send the pool's
    `version` you read (409 `stale_version`)."""
    return _pool(session, svc.update_policy(session, actor, pool_id, body))


@router.post(POOL + "/members", response_model=MemberRead)
def add_member(pool_id: int, body: MemberIn, session: DB, actor: CurrentActor) -> MemberRead:
    """Add an institution to the pool (the lead's coordinators); adding a member twice changes
    nothing. 422 `unknown_institution`."""
    return MemberRead.model_validate(svc.add_member(session, actor, pool_id, body))


@router.get(POOL + "/units", response_model=list[UnitRead])
def list_units(pool_id: int, session: DB, actor: CurrentActor) -> list[UnitRead]:
    """The pool's units with their live status (retired ones too), by room class, institution
    and code."""
    pool = svc.get_pool(session, actor, pool_id)
    units = Estimator(session, pool, svc.today_of(clock.now())).units()
    return [
        UnitRead.model_validate(u)
        for u in sorted(units, key=lambda u: (u.room_class, u.institution_id, u.code))
    ]


@router.post(POOL + "/units", response_model=UnitRead, status_code=status.HTTP_201_CREATED)
def add_unit(pool_id: int, body: UnitCreate, session: DB, actor: CurrentActor) -> UnitRead:
    """A new unit at a member institution (the lead's coordinators), free from now and offered
    at once if someone is waiting for it. 422 `not_a_member`, `duplicate_code`."""
    return UnitRead.model_validate(svc.add_unit(session, actor, pool_id, body))


@router.put(UNIT + "/status", response_model=UnitRead)
def set_unit_status(unit_id: int, body: UnitStatusIn, session: DB, actor: CurrentActor) -> UnitRead:
    """Free, cleaning, maintenance or retired, by the unit's institution's coordinators (or the
    lead's). Freeing offers the unit to the next patient; taking it out withdraws an open
    offer. 409 `unit_occupied` (discharge first), `stale_version`; 422
    `occupied_by_admission`, `required` (cleaning or maintenance need `expected_free_on`)."""
    return UnitRead.model_validate(svc.set_unit_status(session, actor, unit_id, body))


@router.post(UNIT + "/discharge", response_model=AdmissionRead)
def discharge(unit_id: int, body: DischargeIn, session: DB, actor: CurrentActor) -> AdmissionRead:
    """The patient in the unit leaves; the unit goes to cleaning (or free, and on to the next
    patient). 409 `unit_not_occupied`; 422 `in_future`, `before_admission`, `bad_status`."""
    return AdmissionRead.model_validate(svc.discharge(session, actor, unit_id, body))


# --- the waitlist -------------------------------------------------------------------------------


@router.get(POOL + "/waitlist", response_model=list[EntryRead])
def read_waitlist(pool_id: int, session: DB, actor: CurrentActor) -> list[EntryRead]:
    """The live entries: those offered a unit first, then per room class in the policy's
    order, each with its `position` (place among the ready of its class; a patient not ready
    yet shows where they would stand), the ready patients `ahead` of it who compete for the
    same hospitals, and its likely admission range. Names are masked outside the patient's
    institution."""
    view = queries.pool_view(session, actor, pool_id, figures=False)
    return [_entry(row) for row in view.entries]


@router.post(POOL + "/waitlist", response_model=EntryRead, status_code=status.HTTP_201_CREATED)
def list_patient(pool_id: int, body: EntryCreate, session: DB, actor: CurrentActor) -> EntryRead:
    """Put one of your institution's patients on the waitlist (POOL_LIST). A ready patient is
    offered a free unit at once if one is there for them. 422 `room_class_unknown`,
    `not_a_site`, `unknown_patient`, `patient_merged`, `not_icd10`, `consent_missing` (consent
    to share with every other member, purpose `waitlist`); 409 `already_listed`."""
    entry = svc.list_patient(session, actor, pool_id, body)
    return _written_entry(session, actor, entry)


@router.get(ENTRY, response_model=EntryDetail)
def read_entry(entry_id: int, session: DB, actor: CurrentActor) -> EntryDetail:
    """One entry with its offers, decisions and admissions; the team also sees its note and the
    families' links."""
    view = queries.entry_view(session, actor, entry_id)
    return EntryDetail(
        **_entry(view.row).model_dump(),
        note=view.row.entry.note if view.row.own else None,
        offers=[OfferRead.model_validate(o) for o in view.offers],
        decisions=_decisions(view.decisions),
        admissions=[AdmissionRead.model_validate(a) for a in view.admissions],
        status_links=[StatusLinkInfo.model_validate(link) for link in view.links],
    )


@router.patch(ENTRY, response_model=EntryRead)
def update_entry(entry_id: int, body: EntryUpdate, session: DB, actor: CurrentActor) -> EntryRead:
    """Readiness, urgency, acceptable hospitals or the note (the patient's team); an entry
    that became ready is offered a free unit at once. 409 `stale_version`, `entry_closed`."""
    entry = svc.update_entry(session, actor, entry_id, body)
    return _written_entry(session, actor, entry)


@router.post(ENTRY + "/close", response_model=EntryRead)
def close_entry(entry_id: int, body: EntryClose, session: DB, actor: CurrentActor) -> EntryRead:
    """Withdraw (`status: withdrawn`) or remove (`removed`) an entry with a reason (the
    patient's team or the lead's coordinators); a unit offered to it goes on. 409
    `stale_version`, `entry_closed`; 422 `bad_status`."""
    entry = svc.close_entry(session, actor, entry_id, body)
    return _written_entry(session, actor, entry)


@router.post(
    ENTRY + "/status-links", response_model=StatusLinkCreated, status_code=status.HTTP_201_CREATED
)
def create_status_link(
    entry_id: int, request: Request, session: DB, actor: CurrentActor
) -> StatusLinkCreated:
    """A link for the family (the patient's team; its token and URL are shown this once): the
    status, the place in the line and the likely range, nothing clinical, no names. It expires
    after the configured number of days. 409 `entry_closed`."""
    settings = settings_of(request)
    link, token = queries.create_status_link(session, actor, entry_id, settings)
    return StatusLinkCreated(
        id=link.id,
        entry_id=link.entry_id,
        token=token,
        url=queries.status_url(settings, token),
        expires_at=link.expires_at,
    )


@router.delete(
    "/waitlist-status-links/{link_id:int}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
)
def revoke_status_link(link_id: int, session: DB, actor: CurrentActor) -> None:
    """End a family's link before it expires (the patient's team)."""
    queries.revoke_status_link(session, actor, link_id)


# --- offers, allocation, decisions ----------------------------------------------------------------


@router.post(OFFER + "/accept", response_model=AdmissionRead)
def accept_offer(
    offer_id: int, body: OfferAccept, session: DB, actor: CurrentActor
) -> AdmissionRead:
    """The patient's team takes the unit: the patient is admitted (today or `admitted_on`).
    409 `offer_expired`, `offer_closed`, `stale_version`; 422 `before_offer`,
    `too_far_ahead`, `before_admission`."""
    return AdmissionRead.model_validate(svc.accept_offer(session, actor, offer_id, body))


@router.post(OFFER + "/decline", response_model=OfferRead)
def decline_offer(offer_id: int, body: OfferDecline, session: DB, actor: CurrentActor) -> OfferRead:
    """The patient's team turns the unit down with a reason; the entry keeps its place and the
    unit goes to the next patient. 409 `offer_expired`, `offer_closed`, `stale_version`."""
    return OfferRead.model_validate(svc.decline_offer(session, actor, offer_id, body))


@router.post(POOL + "/override", response_model=DecisionRead, status_code=status.HTTP_201_CREATED)
def override(pool_id: int, body: OverrideIn, session: DB, actor: CurrentActor) -> DecisionRead:
    """Offer a free unit to a patient other than the policy's choice, with a written reason
    (the lead's coordinators); kept with the decision and shown in reports. 409
    `unit_not_free`, `entry_not_waiting`; 422 `wrong_class`, `site_not_accepted`,
    `validation_failed` (no reason)."""
    return DecisionRead.model_validate(svc.override(session, actor, pool_id, body))


@router.post(POOL + "/allocate", response_model=list[DecisionRead])
def allocate(pool_id: int, session: DB, actor: CurrentActor) -> list[DecisionRead]:
    """Offer every free unit without an offer to the next eligible patient now
    (POOL_COORDINATE); the decisions made, if any."""
    return _decisions(svc.run_allocation(session, actor, pool_id))


@router.get(POOL + "/decisions", response_model=list[DecisionRead])
def list_decisions(
    pool_id: int,
    session: DB,
    actor: CurrentActor,
    overrides: Annotated[bool, Query(description="the overrides alone")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> list[DecisionRead]:
    """The pool's allocation decisions, newest first."""
    return _decisions(
        queries.decisions_of(session, actor, pool_id, overrides_only=overrides, limit=limit)
    )


@router.get("/pool-decisions/{decision_id:int}", response_model=DecisionDetail)
def read_decision(decision_id: int, session: DB, actor: CurrentActor) -> DecisionDetail:
    """Who a unit went to and why: the rule, the ranked candidates (names masked outside their
    institution), the offer made and, for an override, its reason and author."""
    view = queries.decision_view(session, actor, decision_id)
    d = view.decision
    return DecisionDetail(
        id=d.id,
        pool_id=d.pool_id,
        unit_id=d.unit_id,
        unit_institution=view.unit_institution,
        at=d.at,
        trigger=d.trigger,
        rule=d.rule,
        chosen_entry_id=d.chosen_entry_id,
        chosen_name=view.chosen_name,
        candidates=[CandidateRead(**asdict(c)) for c in view.candidates],
        candidate_count=d.candidate_count,
        passed_over=d.passed_over,
        policy=d.policy,
        override_reason=d.override_reason,
        decided_by=view.decided_by,
        offer=OfferRead.model_validate(view.offer) if view.offer else None,
    )


@router.get(POOL + "/figures", response_model=PoolFiguresRead)
def read_figures(pool_id: int, session: DB, actor: CurrentActor) -> PoolFiguresRead:
    """Per room class: each hospital on its own list against the pool (M/M/c mean waits; a
    list whose arrivals outrun its units is `unbounded`), the waits observed before the pool
    started and since, and how the ranges predicted at listing fared (share inside, median
    absolute error in days)."""
    view = queries.pool_view(session, actor, pool_id, figures=True)
    return PoolFiguresRead(
        pool_id=view.pool.id,
        today=view.today,
        pooled_since=view.pool.pooled_since,
        room_classes=[
            ClassFiguresRead(
                room_class=f.room_class,
                units=f.units,
                comparison=_comparison(f.comparison, view.members),
                before=ObservedWaitsRead(**asdict(f.before)),
                after=ObservedWaitsRead(**asdict(f.after)),
                backtest=BacktestRead(**asdict(f.backtest)),
            )
            for f in view.figures
        ],
    )


# --- the family's link (no login) ---------------------------------------------------------------


@router.get("/pool-status/{token}", response_model=FamilyStatusRead, tags=["public"])
def read_family_status(token: str, request: Request, response: Response) -> FamilyStatusRead:
    """The family's view of a waitlist entry: status, place in the line, readiness and the
    likely range; no name, no diagnosis. 404 `link_invalid` (unknown, revoked or expired)."""
    # a transaction of its own, committed even when the link is refused (the refusal stays in
    # the audit trail); it writes (the last view)
    found = queries.open_status_link(write_session_factory_of(request), token)
    response.headers.update(PRIVATE_HEADERS)
    return FamilyStatusRead(
        pool_zh=found.pool_zh,
        pool_en=found.pool_en,
        status=found.status,
        position=found.position,
        ready=found.ready,
        estimate=_estimate(found.estimate),
        listed_on=found.listed_on,
        updated_at=found.updated_at,
    )
