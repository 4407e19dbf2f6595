"""What the pool's members read: positions and estimates in the policy's order, names masked
outside the patient's institution, decisions with their candidates, the families' links."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from medcircle.audit.models import AuditEvent
from medcircle.config import Settings
from medcircle.kit import clock
from medcircle.kit.errors import NotFound
from medcircle.pools import forecast, queries, service
from medcircle.pools.estimates import Estimator
from medcircle.pools.models import Admission, Offer
from medcircle.pools.schemas import OfferAccept, UnitStatusIn
from tests import referral_factories as rf
from tests.factories import World
from tests.pool_factories import PoolWorld, entry_in, listable_patient, pool_world


@pytest.fixture
def pw(session: Session, world: World) -> PoolWorld:
    return pool_world(session, rf.referral_world(session, world))


def test_the_line_is_in_the_policy_order_with_ranges_and_masked_names_outside(
    session: Session, pw: PoolWorld
) -> None:
    routine = service.list_patient(
        session, pw.team, pw.pool.id, entry_in(listable_patient(session, pw))
    )
    urgent = service.list_patient(
        session, pw.team, pw.pool.id, entry_in(listable_patient(session, pw), urgency="urgent")
    )
    late = service.list_patient(
        session, pw.team, pw.pool.id, entry_in(listable_patient(session, pw), ready=False)
    )

    own = queries.pool_view(session, pw.team, pw.pool.id)
    assert [r.entry.id for r in own.entries] == [urgent.id, routine.id, late.id]
    assert [r.position.place for r in own.entries if r.position] == [1, 2, 3]
    assert own.entries[0].estimate is not None
    assert own.entries[0].estimate.earliest <= own.entries[1].estimate.earliest  # type: ignore[union-attr]
    assert all(not r.patient_name.endswith("*") for r in own.entries)
    # the prediction at listing was kept for the backtest, and (no past admissions to calibrate
    # against) it is the forecast's own
    assert routine.predicted_median_on is not None
    assert routine.forecast_median_on == routine.predicted_median_on

    lead = queries.pool_view(session, pw.lead, pw.pool.id)
    assert all(r.patient_name.endswith("*") for r in lead.entries)
    read = session.scalars(select(AuditEvent).where(AuditEvent.action == "pool.read")).all()
    assert len(read) == 2
    assert {c.room_class for c in lead.figures} == {"100", "1000"}


def test_ranges_are_calibrated_against_the_admissions_of_the_last_year(
    session: Session, pw: PoolWorld
) -> None:
    now = clock.now()
    today = service.today_of(now)
    room = pw.units["bj1"]
    # 22 children admitted lately, 10 to 14 days after the medians predicted at their listing
    for i in range(22):
        past = service.list_patient(
            session, pw.team, pw.pool.id, entry_in(listable_patient(session, pw))
        )
        admitted_at = now - timedelta(days=30 - i)
        past.status = "admitted"
        past.forecast_median_on = service.today_of(admitted_at) - timedelta(days=10 + i % 5)
        session.add(
            Admission(
                pool_id=pw.pool.id,
                unit_id=room.id,
                entry_id=past.id,
                patient_id=past.patient_id,
                admitted_at=admitted_at,
                discharged_at=admitted_at + timedelta(hours=1),
                length_of_stay_days=1,
            )
        )
    session.flush()

    new = service.list_patient(
        session, pw.team, pw.pool.id, entry_in(listable_patient(session, pw))
    )
    estimator = Estimator(session, pw.pool, today)
    errors = forecast.Calibration(scored=22, low_days=10, median_days=12, high_days=14)
    assert estimator.calibration("100") == errors
    assert estimator.calibration("1000") is None
    shown = estimator.estimate(new)
    assert shown is not None and shown.calibrated and shown.uncalibrated is not None
    own = shown.uncalibrated.median
    assert (shown.earliest, shown.median, shown.latest) == tuple(
        max(today, own + timedelta(days=d)) for d in (10, 12, 14)
    )
    # the listing kept the range shown and the forecast's own median, for later calibrations
    assert (new.predicted_median_on, new.forecast_median_on) == (shown.median, own)

    # the entry's view shows the calibrated range
    assert queries.entry_view(session, pw.team, new.id).row.estimate == shown


def test_a_family_link_shows_the_place_and_moves_when_someone_ahead_is_admitted(
    session: Session, pw: PoolWorld, settings: Settings
) -> None:
    first = service.list_patient(
        session, pw.team, pw.pool.id, entry_in(listable_patient(session, pw))
    )
    second = service.list_patient(
        session, pw.team, pw.pool.id, entry_in(listable_patient(session, pw))
    )
    _, token = queries.create_status_link(session, pw.team, second.id, settings)
    before = queries.family_status(session, token, clock.now())
    assert before.position == 2 and before.estimate is not None
    assert "name" not in before.as_json() and "icd10" not in str(before.as_json())

    unit = pw.units["bd1"]
    service.set_unit_status(
        session, pw.bd_coord, unit.id, UnitStatusIn(version=unit.version, status="free")
    )
    offer = session.scalar(select(Offer).where(Offer.entry_id == first.id))
    assert offer is not None
    service.accept_offer(session, pw.team, offer.id, OfferAccept(version=offer.version))

    after = queries.family_status(session, token, clock.now())
    assert after.position == 1

    with pytest.raises(NotFound):
        queries.family_status(session, token, clock.now() + timedelta(days=400))
    with pytest.raises(NotFound):
        queries.family_status(session, "not-a-token", clock.now())


def test_a_decision_shows_its_candidates_and_outsiders_see_nothing(
    session: Session, pw: PoolWorld, world: World
) -> None:
    a = service.list_patient(session, pw.team, pw.pool.id, entry_in(listable_patient(session, pw)))
    service.list_patient(session, pw.team, pw.pool.id, entry_in(listable_patient(session, pw)))
    unit = pw.units["bj1"]
    service.set_unit_status(
        session, pw.lead, unit.id, UnitStatusIn(version=unit.version, status="free")
    )
    offer = session.scalar(select(Offer).where(Offer.entry_id == a.id))
    assert offer is not None
    view = queries.decision_view(session, pw.lead, offer.decision_id)
    assert view.candidates[0].chosen and view.candidates[0].entry_id == a.id
    assert len(view.candidates) == 2
    assert view.decision.rule == "waiting_time" or view.decision.rule == "listing_order"
    assert view.chosen_name is not None and view.chosen_name.endswith("*")


def test_monthly_figures_count_an_admission_and_its_wait(session: Session, pw: PoolWorld) -> None:
    entry = service.list_patient(
        session, pw.team, pw.pool.id, entry_in(listable_patient(session, pw))
    )
    unit = pw.units["bd1"]
    service.set_unit_status(
        session, pw.bd_coord, unit.id, UnitStatusIn(version=unit.version, status="free")
    )
    offer = session.scalar(select(Offer).where(Offer.entry_id == entry.id))
    assert offer is not None
    service.accept_offer(session, pw.team, offer.id, OfferAccept(version=offer.version))

    figures = queries.monthly_figures(session, pw.lead, pw.pool.id, months=3)

    assert set(figures) == {"100", "1000"}
    this_month = figures["100"][-1]
    assert this_month.admissions == 1 and this_month.median_wait_days == 0
    assert this_month.occupied_days >= 1 and this_month.room_days >= 3
    assert all(m.admissions == 0 for m in figures["1000"])
