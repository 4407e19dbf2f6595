"""The live cases of the demo world whatever the hour of the load: never in the future, the
3 a.m. child with ``oncall``, ``oncall`` on call at the load (``consultations.demo_day``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from medcircle.consultations.domain import Status
from medcircle.demo import consultations as dc
from medcircle.demo.generator import generate
from medcircle.demo.referrals import CHINA
from medcircle.demo.world import DemoConsultation, World
from medcircle.kit import clock

BCH = "BCH"


def china(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """``day`` at the given China time, as a UTC instant."""
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=UTC) - CHINA


DAY = date(2026, 12, 1)
# loads just after midnight, in the small hours, at 03:00 sharp, by day and late at night
LOADS = (
    china(DAY, 0, 0, 1),
    china(DAY, 0, 5),
    china(DAY, 2, 59, 59),
    china(DAY, 3, 0, 0),
    china(DAY, 12, 0),
    china(DAY, 23, 59, 59),
)


def live_cases(world: World) -> dict[str, DemoConsultation]:
    """The open consultations by topic's diagnosis code (the three live ones)."""
    open_ = [c for c in world.consultations if c.closed_at is None and c.answered_at is None]
    return {c.icd10_code: c for c in open_}


def primary_at(world: World, specialty: str, at: datetime) -> str:
    return next(
        s.user
        for s in world.shifts
        if (s.institution, s.specialty_code, s.role) == (BCH, specialty, "primary")
        and s.starts_at <= at < s.ends_at
    )


@pytest.mark.parametrize("load", LOADS, ids=lambda t: (t + CHINA).strftime("%H:%M:%S"))
def test_nothing_after_the_load_and_the_live_cases_as_told(load: datetime) -> None:
    with time_machine.travel(load, tick=False):
        now = clock.now()
        world = generate(2017)
    assert world.as_of == dc.demo_day(now)
    assert dc.live_from(world.as_of) <= now

    for c in world.consultations:
        assert c.asked_at <= now and c.created_at <= now and c.updated_at <= now, c.reference
        for instant in (c.first_answered_at, c.answered_at, c.rated_at, c.closed_at):
            assert instant is None or instant <= now, c.reference
        assert all(e.at <= now for e in c.events), c.reference
        assert all(m.at <= now for m in c.messages), c.reference

    live = live_cases(world)
    assert sorted(live) == ["C91.0", "J18.9", "J45.9"]
    night, asthma, leukaemia = live["J18.9"], live["J45.9"], live["C91.0"]
    # the last three asked, in this order, in the night of the demo day
    last = sorted(world.consultations, key=lambda c: c.asked_at)[-3:]
    assert [c.reference for c in last] == [asthma.reference, leukaemia.reference, night.reference]
    assert [(c.asked_at + CHINA).date() for c in last] == [world.as_of] * 3
    assert [(c.asked_at + CHINA).hour for c in last] == list(dc.LIVE_HOURS)
    # the 3 a.m. child is with oncall, the primary on call then and at the load
    assert (night.asked_at + CHINA).hour == 3
    assert night.status == Status.ASSIGNED.value and night.assignee == dc.ONCALL_LOGIN
    assert primary_at(world, dc.DEMO_SPECIALTY, night.asked_at) == dc.ONCALL_LOGIN
    assert primary_at(world, dc.DEMO_SPECIALTY, now) == dc.ONCALL_LOGIN
    # its clock still runs at the load: not missed yet
    assert night.due_at is not None and night.due_at > now
    # oncall asked the asthma child's doctor a question: the clock stands still
    assert asthma.status == Status.AWAITING_ASKER.value and asthma.assignee == dc.ONCALL_LOGIN
    assert asthma.paused_since is not None and asthma.paused_since <= now
    assert [m.kind for m in asthma.messages] == ["question"]
    # the leukaemia waits in the haematology-oncology pool, given back
    assert leukaemia.status == Status.POOL.value and leukaemia.assignee is None
    assert leukaemia.specialty_code == "ped_hem_onc"


def test_a_load_before_three_is_the_world_of_the_day_before() -> None:
    """Deterministic for the same inputs: the hour only picks the day."""
    with time_machine.travel(china(DAY, 0, 5), tick=False):
        early = generate(2017)
    assert early.as_of == DAY - timedelta(days=1)
    assert early.digest() == generate(2017, as_of=DAY - timedelta(days=1)).digest()
    with time_machine.travel(china(DAY, 3, 0), tick=False):
        assert generate(2017).as_of == DAY


@pytest.mark.parametrize(
    ("at", "day"),
    [
        (china(DAY, 0, 0), DAY - timedelta(days=1)),
        (china(DAY, 2, 59, 59), DAY - timedelta(days=1)),
        (china(DAY, 3, 0), DAY),
        (china(DAY, 23, 59, 59), DAY),
    ],
)
def test_demo_day(at: datetime, day: date) -> None:
    assert dc.demo_day(at) == day
    assert dc.live_from(dc.demo_day(at)) <= at
