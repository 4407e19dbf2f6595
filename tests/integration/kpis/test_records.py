"""Indicators of the care records: referrals up and down and their ratio by the local side, and
remote consultations with their answer time and share within target by the asking side, each
in Beijing-time months."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from medcircle.auth.domain import Role
from medcircle.referrals.domain import Direction, Status
from tests import consult_factories as cf
from tests import referral_factories as rf
from tests.factories import World
from tests.integration.kpis.test_service import HEBEI, compute


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
