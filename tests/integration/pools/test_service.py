"""The pool's use cases through the service: listing, allocation by the policy, offers and
their answers, admissions, discharges, overrides; each refusal named by its code and nothing
written by a refused call."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medcircle.audit.models import AuditEvent
from medcircle.kit import clock
from medcircle.kit.errors import Conflict, Forbidden, ValidationFailed
from medcircle.patients.models import Patient
from medcircle.pools import service
from medcircle.pools.models import AllocationDecision, Offer, WaitlistEntry
from medcircle.pools.schemas import (
    DischargeIn,
    EntryClose,
    EntryUpdate,
    OfferAccept,
    OfferDecline,
    OverrideIn,
    UnitStatusIn,
)
from tests import referral_factories as rf
from tests.factories import World
from tests.pool_factories import PoolWorld, entry_in, listable_patient, pool_world


@pytest.fixture
def pw(session: Session, world: World) -> PoolWorld:
    return pool_world(session, rf.referral_world(session, world))


def _free(session: Session, pw: PoolWorld, key: str) -> None:
    u = pw.units[key]
    actor = pw.lead if u.institution_id == pw.bj.id else pw.bd_coord
    service.set_unit_status(session, actor, u.id, UnitStatusIn(version=u.version, status="free"))


def _open_offer(session: Session, entry_id: int) -> Offer | None:
    return session.scalar(select(Offer).where(Offer.entry_id == entry_id, Offer.status == "open"))


def test_a_freed_unit_goes_to_the_most_urgent_ready_patient_with_the_reason_kept(
    session: Session, pw: PoolWorld
) -> None:
    routine = service.list_patient(
        session, pw.team, pw.pool.id, entry_in(listable_patient(session, pw))
    )
    urgent = service.list_patient(
        session, pw.team, pw.pool.id, entry_in(listable_patient(session, pw), urgency="urgent")
    )
    not_ready = service.list_patient(
        session,
        pw.team,
        pw.pool.id,
        entry_in(listable_patient(session, pw), urgency="critical", ready=False),
    )
    assert _open_offer(session, urgent.id) is None  # every unit in maintenance

    _free(session, pw, "bd1")

    offer = _open_offer(session, urgent.id)
    assert offer is not None and offer.unit_id == pw.units["bd1"].id
    assert urgent.status == "offered" and routine.status == "waiting"
    decision = session.get(AllocationDecision, offer.decision_id)
    assert decision is not None
    assert decision.rule == "urgency" and decision.trigger == "unit_freed"
    assert [c["entry_id"] for c in decision.candidates] == [urgent.id, routine.id]
    assert decision.passed_over == {"not_ready": 1}
    assert not_ready.status == "waiting"


def test_declining_moves_the_unit_on_and_the_decliner_keeps_its_place(
    session: Session, pw: PoolWorld
) -> None:
    first = service.list_patient(
        session, pw.team, pw.pool.id, entry_in(listable_patient(session, pw))
    )
    second = service.list_patient(
        session, pw.team, pw.pool.id, entry_in(listable_patient(session, pw))
    )
    _free(session, pw, "bd1")
    offer = _open_offer(session, first.id)
    assert offer is not None

    service.decline_offer(
        session, pw.team, offer.id, OfferDecline(version=offer.version, reason="Fever today")
    )

    assert first.status == "waiting" and offer.status == "declined"
    moved = _open_offer(session, second.id)
    assert moved is not None and moved.unit_id == offer.unit_id
    # the next free unit goes to the decliner first: it kept its place
    _free(session, pw, "bj1")
    again = _open_offer(session, first.id)
    assert again is not None and again.unit_id == pw.units["bj1"].id


def test_accept_admits_and_discharge_frees_after_cleaning(session: Session, pw: PoolWorld) -> None:
    entry = service.list_patient(
        session, pw.team, pw.pool.id, entry_in(listable_patient(session, pw))
    )
    _free(session, pw, "bd1")
    offer = _open_offer(session, entry.id)
    assert offer is not None
    admission = service.accept_offer(session, pw.team, offer.id, OfferAccept(version=offer.version))
    unit = pw.units["bd1"]
    assert entry.status == "admitted" and unit.status == "occupied"
    assert admission.discharged_at is None

    with pytest.raises(Conflict) as refused:
        service.accept_offer(session, pw.team, offer.id, OfferAccept(version=offer.version))
    assert refused.value.code in {"offer_closed", "stale_version"}

    with pytest.raises(Conflict) as in_unit:
        service.list_patient(
            session, pw.team, pw.pool.id, entry_in(session.get(Patient, entry.patient_id))
        )
    assert in_unit.value.code == "already_admitted"

    service.discharge(session, pw.bd_coord, unit.id, DischargeIn())
    assert unit.status == "cleaning" and admission.length_of_stay_days == 0
    with pytest.raises(Conflict) as twice:
        service.discharge(session, pw.bd_coord, unit.id, DischargeIn())
    assert twice.value.code == "unit_not_occupied"


def test_an_offer_accepted_after_its_expiry_is_refused_and_the_timer_moves_it_on(
    session: Session, pw: PoolWorld
) -> None:
    first = service.list_patient(
        session, pw.team, pw.pool.id, entry_in(listable_patient(session, pw))
    )
    second = service.list_patient(
        session, pw.team, pw.pool.id, entry_in(listable_patient(session, pw))
    )
    _free(session, pw, "bd1")
    offer = _open_offer(session, first.id)
    assert offer is not None
    later = clock.now() + timedelta(hours=25)
    with time_machine.travel(later, tick=False):
        with pytest.raises(Conflict) as late:
            service.accept_offer(session, pw.team, offer.id, OfferAccept(version=offer.version))
        assert late.value.code == "offer_expired"
        assert service.expire_offer(session, offer.id, clock.now())
        assert not service.expire_offer(session, offer.id, clock.now())
    assert offer.status == "expired" and first.status == "waiting"
    moved = _open_offer(session, second.id)
    assert moved is not None and moved.unit_id == offer.unit_id


def test_bad_input_is_refused_by_its_code_and_nothing_is_written(
    session: Session, pw: PoolWorld
) -> None:
    p = listable_patient(session, pw)
    before = session.scalar(select(func.count()).select_from(WaitlistEntry))
    with pytest.raises(ValidationFailed) as no_class:
        service.list_patient(session, pw.team, pw.pool.id, entry_in(p, room_class="10"))
    assert no_class.value.code == "room_class_unknown"
    stranger = rf.patient(session, pw.bd, national_id=None)
    with pytest.raises(ValidationFailed) as no_consent:
        service.list_patient(session, pw.team, pw.pool.id, entry_in(stranger))
    assert no_consent.value.code == "consent_missing"
    assert len(no_consent.value.field_errors) == 3
    assert session.scalar(select(func.count()).select_from(WaitlistEntry)) == before

    service.list_patient(session, pw.team, pw.pool.id, entry_in(p))
    with pytest.raises(Conflict) as twice:
        service.list_patient(session, pw.team, pw.pool.id, entry_in(p))
    assert twice.value.code == "already_listed"

    with pytest.raises(Conflict) as free_discharge:
        service.discharge(session, pw.lead, pw.units["bj1"].id, DischargeIn())
    assert free_discharge.value.code == "unit_not_occupied"


def test_an_override_needs_the_lead_and_a_reason_and_is_audited(
    session: Session, pw: PoolWorld
) -> None:
    first = service.list_patient(
        session, pw.team, pw.pool.id, entry_in(listable_patient(session, pw))
    )
    second = service.list_patient(
        session, pw.team, pw.pool.id, entry_in(listable_patient(session, pw))
    )
    _free(session, pw, "bj1")
    assert _open_offer(session, first.id) is not None
    reason = "Relapse confirmed this morning; the transplant cannot wait"
    with pytest.raises(Forbidden):
        service.override(
            session,
            pw.bd_coord,
            pw.pool.id,
            OverrideIn(unit_id=pw.units["bj1"].id, entry_id=second.id, reason=reason),
        )

    row = service.override(
        session,
        pw.lead,
        pw.pool.id,
        OverrideIn(unit_id=pw.units["bj1"].id, entry_id=second.id, reason=reason),
    )

    assert row.rule == "override" and row.override_reason == reason
    assert row.chosen_entry_id == second.id
    assert row.candidates[0]["entry_id"] == first.id  # what the policy would have done
    assert first.status == "waiting" and second.status == "offered"
    logged = session.scalar(select(AuditEvent).where(AuditEvent.action == "pool.override"))
    assert logged is not None and logged.detail["reason"] == reason


def test_a_patient_becoming_ready_gets_a_free_unit_at_once(session: Session, pw: PoolWorld) -> None:
    _free(session, pw, "bd1")
    entry = service.list_patient(
        session, pw.team, pw.pool.id, entry_in(listable_patient(session, pw), ready=False)
    )
    assert entry.status == "waiting"
    service.update_entry(
        session,
        pw.team,
        entry.id,
        EntryUpdate(version=entry.version, donor_found=True, workup_done=True),
    )
    assert entry.status == "offered"


def test_withdrawing_an_offered_entry_passes_its_unit_on(session: Session, pw: PoolWorld) -> None:
    first = service.list_patient(
        session, pw.team, pw.pool.id, entry_in(listable_patient(session, pw))
    )
    second = service.list_patient(
        session, pw.team, pw.pool.id, entry_in(listable_patient(session, pw))
    )
    _free(session, pw, "bd1")
    service.close_entry(
        session,
        pw.team,
        first.id,
        EntryClose(version=first.version, status="withdrawn", reason="Family moved abroad"),
    )
    assert first.status == "withdrawn"
    assert _open_offer(session, second.id) is not None
