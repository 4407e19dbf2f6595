"""An offer's time runs out through the real timer runner: the offer expires with its reason
kept, the unit goes on to the next patient, a second run changes nothing, and an offer
accepted in time makes its timer a no-op. Time moves with time-machine."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from medcircle.audit.models import AuditEvent
from medcircle.kit import clock
from medcircle.pools import service
from medcircle.pools import timers as pool_timers
from medcircle.pools.models import AllocationDecision, Offer, WaitlistEntry
from medcircle.pools.schemas import OfferAccept, UnitStatusIn
from medcircle.tasks import runner
from medcircle.tasks import service as tasks
from medcircle.tasks.models import Timer
from tests import referral_factories as rf
from tests.factories import World
from tests.pool_factories import PoolWorld, entry_in, listable_patient, pool_world


@pytest.fixture
def pw(session: Session, world: World) -> PoolWorld:
    w = pool_world(session, rf.referral_world(session, world))
    session.commit()
    return w


@pytest.fixture
def traveller() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(clock.now(), tick=False) as t:
        yield t


def _run(session: Session, factory: sessionmaker[Session]) -> int:
    session.commit()
    ran = tasks.run_due(factory, clock.now())
    session.expire_all()
    return ran


def _two_listed_and_bd1_offered(session: Session, pw: PoolWorld) -> tuple[int, int, Offer]:
    first = service.list_patient(
        session, pw.team, pw.pool.id, entry_in(listable_patient(session, pw))
    )
    second = service.list_patient(
        session, pw.team, pw.pool.id, entry_in(listable_patient(session, pw))
    )
    unit = pw.units["bd1"]
    service.set_unit_status(
        session, pw.bd_coord, unit.id, UnitStatusIn(version=unit.version, status="free")
    )
    offer = _open_offer(session, first.id)
    assert offer is not None and offer.unit_id == unit.id
    session.commit()
    return first.id, second.id, offer


def _open_offer(session: Session, entry_id: int) -> Offer | None:
    return session.scalar(select(Offer).where(Offer.entry_id == entry_id, Offer.status == "open"))


def _timer_of(session: Session, offer_id: int) -> Timer:
    found = session.scalar(
        select(Timer).where(
            Timer.kind == service.TIMER_OFFER_EXPIRY,
            Timer.subject_type == "unit_offer",
            Timer.subject_id == offer_id,
        )
    )
    assert found is not None
    return found


def _count(session: Session, model: type[object]) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_the_offer_expiry_handler_is_registered_with_the_runner() -> None:
    assert "medcircle.pools.timers" in runner.HANDLER_MODULES
    runner.load_handlers()
    assert tasks.handlers()[service.TIMER_OFFER_EXPIRY] is pool_timers.offer_expiry


def test_an_offer_is_timed_to_expire_after_the_pools_offer_hours(
    session: Session, pw: PoolWorld, traveller: time_machine.Coordinates
) -> None:
    _, _, offer = _two_listed_and_bd1_offered(session, pw)
    timer = _timer_of(session, offer.id)
    assert timer.due_at == offer.expires_at == offer.offered_at + timedelta(hours=24)
    assert timer.done_at is None


def test_an_expired_offer_moves_on_to_the_next_patient_with_the_reason_kept(
    session: Session,
    pw: PoolWorld,
    session_factory: sessionmaker[Session],
    traveller: time_machine.Coordinates,
) -> None:
    first_id, second_id, offer = _two_listed_and_bd1_offered(session, pw)
    traveller.shift(timedelta(hours=23, minutes=59))
    assert _run(session, session_factory) == 0  # not due yet
    assert _open_offer(session, first_id) is not None

    traveller.shift(timedelta(minutes=2))
    assert _run(session, session_factory) == 1

    expired = session.get(Offer, offer.id)
    first = session.get(WaitlistEntry, first_id)
    assert expired is not None and first is not None
    assert (expired.status, expired.reason) == ("expired", service.EXPIRED_REASON)
    assert expired.responded_by_user_id is None
    # the first patient keeps its place, with the reason, and the unit went on
    assert (first.status, first.status_reason) == ("waiting", service.EXPIRED_REASON)
    moved = _open_offer(session, second_id)
    assert moved is not None and moved.unit_id == offer.unit_id
    decision = session.get(AllocationDecision, moved.decision_id)
    assert decision is not None and decision.trigger == "offer_expired"
    assert decision.chosen_entry_id == second_id
    # the first patient let this unit expire: passed over for it until it is freed again
    assert decision.passed_over == {"declined": 1}
    timer = _timer_of(session, offer.id)
    assert (timer.outcome, timer.attempts) == ("done", 1)
    assert _timer_of(session, moved.id).done_at is None  # the next offer has its own clock
    audits = session.scalars(select(AuditEvent).where(AuditEvent.action == "pool.offer_expire"))
    assert [a.detail["offer_id"] for a in audits] == [offer.id]


def test_running_the_expiry_twice_does_nothing_more(
    session: Session,
    pw: PoolWorld,
    session_factory: sessionmaker[Session],
    traveller: time_machine.Coordinates,
) -> None:
    first_id, second_id, offer = _two_listed_and_bd1_offered(session, pw)
    traveller.shift(timedelta(hours=25))
    assert _run(session, session_factory) == 1
    decisions, offers = _count(session, AllocationDecision), _count(session, Offer)

    assert _run(session, session_factory) == 0  # done: not run again
    # and the handler itself, run again on the same timer (a lapsed claim taken over)
    pool_timers.offer_expiry(session, _timer_of(session, offer.id), clock.now())
    session.commit()
    session.expire_all()

    assert (_count(session, AllocationDecision), _count(session, Offer)) == (decisions, offers)
    again = session.get(Offer, offer.id)
    assert again is not None and again.status == "expired"
    moved = _open_offer(session, second_id)
    assert moved is not None and moved.unit_id == offer.unit_id
    assert _open_offer(session, first_id) is None
    expiries = session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "pool.offer_expire")
    )
    assert expiries == 1


def test_an_offer_accepted_in_time_makes_its_timer_a_no_op(
    session: Session,
    pw: PoolWorld,
    session_factory: sessionmaker[Session],
    traveller: time_machine.Coordinates,
) -> None:
    first_id, second_id, offer = _two_listed_and_bd1_offered(session, pw)
    traveller.shift(timedelta(hours=20))
    service.accept_offer(session, pw.team, offer.id, OfferAccept(version=offer.version))
    session.commit()
    # the timer stays (cancelling it under the pool's lock could deadlock with the runner)
    assert _timer_of(session, offer.id).done_at is None
    decisions = _count(session, AllocationDecision)

    traveller.shift(timedelta(hours=5))  # past the offer's old expiry
    assert _run(session, session_factory) == 1
    assert _timer_of(session, offer.id).outcome == "done"
    # and run once more by hand, it still changes nothing
    pool_timers.offer_expiry(session, _timer_of(session, offer.id), clock.now())
    session.commit()
    session.expire_all()

    accepted = session.get(Offer, offer.id)
    first = session.get(WaitlistEntry, first_id)
    second = session.get(WaitlistEntry, second_id)
    assert accepted is not None and first is not None and second is not None
    assert (accepted.status, first.status, second.status) == ("accepted", "admitted", "waiting")
    assert _count(session, AllocationDecision) == decisions
    assert _open_offer(session, second_id) is None
