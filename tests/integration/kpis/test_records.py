"""Indicators of the care records: referrals up and down and their ratio by the local side, the
costs families avoided by the referrals that kept care local, and remote consultations with
their answer time and share within target by the asking side, each in Beijing-time months."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from medcircle.auth.domain import Actor, Role
from medcircle.config import Settings
from medcircle.kit import clock
from medcircle.kit.errors import Forbidden, NotFound
from medcircle.kpis import service
from medcircle.pools.models import Admission, WaitlistEntry
from medcircle.referrals.domain import Action, Direction, Status
from tests import consult_factories as cf
from tests import pool_factories as pf
from tests import referral_factories as rf
from tests.factories import World
from tests.integration.activity.test_service import actor_of
from tests.integration.kpis.test_service import HEBEI, TODAY, compute
from tests.integration.referrals.loop_support import build_loop


def test_referrals_up_and_down_of_hebei(world: World, session: Session) -> None:
    circle = rf.referral_world(session, world)
    child = rf.patient(session, world.baoding)
    local = world.users[Role.CLINICIAN]  # of Baoding A
    # 17:00 UTC on New Year's Eve is 01:00 on 1 January in Beijing: 2025's
    for at in (datetime(2024, 12, 31, 17, tzinfo=UTC), datetime(2025, 3, 10, 2, tzinfo=UTC)):
        rf.referral(session, child, local, circle.bj_paeds, submitted_at=at)
    rf.referral(
        session,
        child,
        circle.bj_clinician,
        circle.bd_paeds,
        direction=Direction.DOWN,
        submitted_at=datetime(2025, 6, 1, 8, tzinfo=UTC),
    )
    # not submitted, and of 2024 in Beijing time: not counted
    rf.referral(session, child, local, circle.bj_paeds, status=Status.DRAFT)
    rf.referral(
        session, child, local, circle.bj_paeds, submitted_at=datetime(2024, 12, 31, 15, tzinfo=UTC)
    )
    up = compute(world, session, "referrals-up", region=HEBEI)
    down = compute(world, session, "referrals-down", region=HEBEI)
    ratio = compute(world, session, "referral-down-up-ratio", region=HEBEI)
    assert (up.value, down.value) == (2, 1)
    assert {f.key: f.value for f in up.by_month if f.value} == {"2025-01": 1, "2025-03": 1}
    assert (ratio.numerator, ratio.denominator, ratio.value) == (1, 2, 0.5)
    assert [f.key for f in ratio.by_institution] == ["BD-A"]
    # Beijing's residents: none of these
    assert compute(world, session, "referrals-up", region="110000").value == 0


def _kept_local(session: Session, world: World) -> rf.CircleWorld:
    """Hebei's care kept local in 2025: Baoding A's referral up answered with a local plan
    (sent on New Year's Eve at 17:00 UTC, 1 January in Beijing), Beijing A's referral down to
    Baoding B in June; neither a referral up without a plan nor one of 2024 in Beijing time
    counts."""
    circle = rf.referral_world(session, world)
    child = rf.patient(session, world.baoding)
    local = world.users[Role.CLINICIAN]  # of Baoding A
    new_year = datetime(2024, 12, 31, 17, tzinfo=UTC)
    rf.kept_local(session, circle, child, submitted_at=new_year, yuan=1234.56, up_from=local)
    june = datetime(2025, 6, 1, 8, tzinfo=UTC)
    rf.kept_local(session, circle, child, submitted_at=june, yuan=800.4, to=circle.bd2_paeds)
    rf.referral(session, child, local, circle.bj_paeds, status=Status.COMPLETED)
    of_2024 = new_year - timedelta(hours=2)
    rf.kept_local(session, circle, child, submitted_at=of_2024, yuan=999.0, up_from=local)
    return circle


def test_family_costs_avoided_by_the_local_side_in_beijing_months(
    world: World, session: Session
) -> None:
    _kept_local(session, world)
    costs = compute(world, session, "family-costs-avoided", region=HEBEI)
    # in fen, over the two referrals with an estimate
    assert (costs.numerator, costs.denominator) == (203496, 2)
    assert costs.value == pytest.approx(2034.96)
    months = {f.key: f.value for f in costs.by_month if f.value}
    assert months == {"2025-01": pytest.approx(1234.56), "2025-06": pytest.approx(800.4)}
    assert [f.value for f in costs.by_month].count(0) == 10
    # the local side: the sender of the referral up, the receiver of the one down
    places = {f.key: f.value for f in costs.by_institution}
    assert places == {"BD-A": pytest.approx(1234.56), "BD-B": pytest.approx(800.4)}
    # Baoding B was a member of Baoding A's alliance; both referrals name paediatric cardiology
    assert [f.value for f in costs.by_alliance] == [pytest.approx(2034.96)]
    assert [(f.key, f.value) for f in costs.by_specialty] == [
        ("ped_cardiology", pytest.approx(2034.96))
    ]
    assert compute(world, session, "family-costs-avoided", region="110000").value == 0
    # 2024 in Beijing time: the one sent at 15:00 UTC on New Year's Eve
    earlier = compute(world, session, "family-costs-avoided", region=HEBEI, year=2024)
    assert (earlier.value, earlier.denominator) == (pytest.approx(999.0), 1)
    # a year without referrals kept local: nothing saved, of none
    none = compute(world, session, "family-costs-avoided", region=HEBEI, year=2023)
    assert (none.value, none.numerator, none.denominator) == (0, 0, 0)


def test_a_hospital_sees_the_costs_avoided_of_its_own_referrals(
    world: World, session: Session
) -> None:
    circle = _kept_local(session, world)
    # Baoding A's office: its referral up, not Beijing A's referral down to Baoding B
    own = compute(world, session, "family-costs-avoided", Role.INSTITUTION_ADMIN)
    assert own.value == pytest.approx(1234.56)
    assert [f.key for f in own.by_institution] == ["BD-A"]
    with pytest.raises(NotFound):
        compute(world, session, "family-costs-avoided", Role.INSTITUTION_ADMIN, institution="BD-B")
    # Beijing A's office: both (it received the one and sent the other), by the local side
    bj = circle.bj_admin
    beijing = service.compute(
        session,
        Actor(
            user_id=bj.id,
            username=bj.username,
            institution_id=bj.institution_id,
            roles=frozenset({Role.INSTITUTION_ADMIN}),
        ),
        "family-costs-avoided",
        2025,
        today=TODAY,
    )
    assert beijing.value == pytest.approx(2034.96)
    assert {f.key for f in beijing.by_institution} == {"BD-A", "BD-B"}
    with pytest.raises(Forbidden):
        compute(world, session, "family-costs-avoided", Role.CLINICIAN)


def test_the_costs_avoided_are_those_the_referral_loop_recorded(
    world: World, session: Session, settings: Settings
) -> None:
    loop = build_loop(session, world, settings)
    kept = loop.create()
    kept = loop.walk(kept, Action.ACCEPT, Action.SCHEDULE, Action.ARRIVE)
    kept = loop.move(kept, Action.COMPLETE, "bjclinician", local_plan=True)
    # completed without a local plan: the care was the capital's, nothing avoided
    loop.walk(loop.create(), Action.ACCEPT, Action.SCHEDULE, Action.ARRIVE, Action.COMPLETE)
    assert kept.saving_yuan is not None and kept.saving_yuan > 0
    today = clock.today()
    costs = service.compute(
        session,
        actor_of(world, Role.COMMISSION_ANALYST),
        "family-costs-avoided",
        today.year,
        region=HEBEI,
        today=today,
    )
    assert costs.denominator == 1
    assert costs.value == pytest.approx(kept.saving_yuan)


def test_consultations_their_answer_time_and_share_within_target(
    world: World, session: Session
) -> None:
    cw = cf.consult_world(session, rf.referral_world(session, world))
    march = datetime(2025, 3, 3, 1, tzinfo=UTC)
    cf.consultation(session, cw, asked_at=march, first_answer_seconds=3600, within_target=True)
    cf.consultation(session, cw, asked_at=march, first_answer_seconds=7200, within_target=False)
    cf.consultation(session, cw, asked_at=datetime(2025, 7, 1, 1, tzinfo=UTC))
    asked = compute(world, session, "remote-consultations", region=HEBEI)
    minutes = compute(world, session, "consultation-answer-minutes", region=HEBEI)
    within = compute(world, session, "consultation-within-target", region=HEBEI)
    assert asked.value == 3
    assert (minutes.numerator, minutes.denominator) == (10800, 2)
    assert minutes.value == pytest.approx(90)
    assert (within.numerator, within.denominator, within.value) == (1, 2, 0.5)
    july = next(f for f in minutes.by_month if f.key == "2025-07")
    assert (july.denominator, july.value) == (0, None)
    # the answering hospital's office sees them too (its institution is a party)
    assert compute(world, session, "remote-consultations", Role.INSTITUTION_ADMIN).value == 3


def test_the_referral_wait_counts_those_given_an_appointment(
    world: World, session: Session
) -> None:
    circle = rf.referral_world(session, world)
    child = rf.patient(session, world.baoding)
    local = world.users[Role.CLINICIAN]
    sent = datetime(2025, 4, 1, 2, tzinfo=UTC)
    rf.referral(
        session,
        child,
        local,
        circle.bj_paeds,
        submitted_at=sent,
        appointment_at=sent + timedelta(days=6),
    )
    rf.referral(
        session,
        child,
        local,
        circle.bj_paeds,
        submitted_at=sent,
        appointment_at=sent + timedelta(days=3),
    )
    rf.referral(session, child, local, circle.bj_paeds, submitted_at=sent)  # none yet
    wait = compute(world, session, "referral-wait-days", region=HEBEI)
    assert (wait.numerator, wait.denominator) == (9 * 86400, 2)
    assert wait.value == pytest.approx(4.5)


def _stay(
    session: Session,
    pw: pf.PoolWorld,
    unit: str,
    listed: datetime,
    admitted: datetime,
    discharged: datetime | None,
) -> None:
    child = rf.patient(session, pw.bd, national_id=None)
    entry = WaitlistEntry(
        pool_id=pw.pool.id,
        patient_id=child.id,
        listing_institution_id=pw.bd.id,
        listed_at=listed,
        listed_on=listed.date(),
        icd10_code="C91.0",
        transplant_type="allogeneic_related",
        room_class=pw.units[unit].room_class,
        urgency="routine",
        acceptable_institution_ids=[],
        status="admitted",
        status_changed_at=admitted,
    )
    session.add(entry)
    session.flush()
    session.add(
        Admission(
            pool_id=pw.pool.id,
            unit_id=pw.units[unit].id,
            entry_id=entry.id,
            patient_id=child.id,
            admitted_at=admitted,
            discharged_at=discharged,
        )
    )
    session.flush()


def test_cleanroom_wait_and_occupancy_of_hebeis_rooms(world: World, session: Session) -> None:
    pw = pf.pool_world(session, rf.referral_world(session, world))
    for u in pw.units.values():
        u.created_at = datetime(2024, 12, 31, 16, tzinfo=UTC)  # 1 January 2025 in Beijing
    # Baoding A has a class-100 and a class-1000 room: 730 room-days in 2025
    day = timedelta(days=1)
    march = datetime(2025, 3, 1, tzinfo=UTC)
    _stay(session, pw, "bd1", march - 30 * day, march, march + 30 * day)
    december = datetime(2025, 12, 20, tzinfo=UTC)
    _stay(session, pw, "bd1000", december - 10 * day, december, None)
    # a Beijing room is not Hebei's
    _stay(session, pw, "bj1", march - 90 * day, march, march + 40 * day)
    wait = compute(world, session, "cleanroom-wait-days", region=HEBEI)
    assert wait.denominator == 2 and wait.value == pytest.approx(20)
    occupancy = compute(world, session, "cleanroom-occupancy", region=HEBEI)
    # 1-30 March (the day of discharge is the room's again) and 20-31 December
    assert (occupancy.numerator, occupancy.denominator) == (30 + 12, 730)
    months = {f.key: (f.numerator, f.denominator) for f in occupancy.by_month}
    assert months["2025-03"] == (30, 62) and months["2025-12"] == (12, 62)
    assert months["2025-06"] == (0, 60)
