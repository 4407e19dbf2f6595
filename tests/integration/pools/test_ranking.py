"""The decision in SQL (``ranking.decide_in_db``) is the pure policy's (``policy.Queue``), field
by field: the chosen entry, the rule, the ranked candidates, the eligible count and the
entries passed over, for every unit, on random waitlists and on hand-made ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from medcircle.patients.models import Patient
from medcircle.pools import ranking, service
from medcircle.pools.models import WaitlistEntry
from medcircle.pools.policy import (
    Candidate,
    Decision,
    PassedOver,
    PolicySettings,
    Queue,
    Rule,
    Slot,
    Urgency,
)
from tests import referral_factories as rf
from tests.factories import World
from tests.pool_factories import PoolWorld, pool_world

TODAY = date(2026, 6, 1)
CLASSES = ("100", "1000")
MAX_ENTRIES = 40


@dataclass(frozen=True)
class Spec:
    """An entry to insert: urgency, days since listing, readiness, acceptable sites (indexes
    into the three hospitals), room class (index), status, declined units (indexes)."""

    urgency: Urgency
    days: int
    ready: bool = True
    sites: frozenset[int] = frozenset({0, 1, 2})
    room_class: int = 0
    status: str = "waiting"
    declined: frozenset[int] = frozenset()


@dataclass
class Line:
    pw: PoolWorld
    patients: list[Patient]

    @property
    def sites(self) -> list[int]:
        base = self.pw.circle.base
        return [base.beijing.id, base.beijing2.id, base.baoding.id]

    def slots(self) -> list[Slot]:
        """One unit per room class and hospital (unit ids need no rows: only compared)."""
        return [
            Slot(unit_id=1000 + 10 * k + i, institution_id=site, room_class=room_class)
            for k, room_class in enumerate(CLASSES)
            for i, site in enumerate(self.sites)
        ]


@pytest.fixture
def line(session: Session, world: World) -> Line:
    pw = pool_world(session, rf.referral_world(session, world))
    patients = [
        rf.patient(session, pw.bd, national_id=None, phone=None) for _ in range(MAX_ENTRIES)
    ]
    session.flush()
    return Line(pw, patients)


def insert(
    session: Session, line: Line, specs: list[Spec]
) -> tuple[list[Candidate], dict[int, set[int]]]:
    """The entries, and the reference: the waiting ones as the policy's candidates (built from
    the specs, not read back), and entry -> declined unit ids."""
    slots = line.slots()
    at = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
    rows = []
    for spec, patient in zip(specs, line.patients, strict=False):
        rows.append(
            WaitlistEntry(
                pool_id=line.pw.pool.id,
                patient_id=patient.id,
                listing_institution_id=line.pw.bd.id,
                listed_at=at,
                listed_on=TODAY - timedelta(days=spec.days),
                icd10_code="C91.0",
                transplant_type="allogeneic_related",
                room_class=CLASSES[spec.room_class],
                urgency=spec.urgency.value,
                # not ready: the donor or the work-up missing (one of them)
                donor_found=spec.ready or spec.days % 2 == 0,
                workup_done=spec.ready or spec.days % 2 == 1,
                acceptable_institution_ids=sorted(line.sites[i] for i in spec.sites),
                status=spec.status,
                status_changed_at=at,
            )
        )
    session.add_all(rows)
    session.flush()
    declined = {
        row.id: {slots[i].unit_id for i in spec.declined}
        for row, spec in zip(rows, specs, strict=False)
        if spec.declined
    }
    candidates = [
        Candidate(
            entry_id=row.id,
            urgency=spec.urgency,
            listed_on=row.listed_on,
            room_class=row.room_class,
            sites=frozenset(row.acceptable_institution_ids),
            ready=spec.ready,
            listing_institution_id=line.pw.bd.id,
            declined_units=frozenset(declined.get(row.id, ())),
        )
        for row, spec in zip(rows, specs, strict=False)
        if spec.status == "waiting"
    ]
    return candidates, declined


def same(got: Decision, expected: Decision) -> None:
    assert got.slot == expected.slot
    assert got.chosen == expected.chosen
    assert got.rule == expected.rule
    assert [r.as_json() for r in got.ranked] == [r.as_json() for r in expected.ranked]
    assert got.eligible == expected.eligible
    assert dict(got.passed_over) == dict(expected.passed_over)
    assert got.picked == expected.picked


def compare(
    session: Session,
    line: Line,
    candidates: list[Candidate],
    declined: dict[int, set[int]],
    policy: PolicySettings,
    *,
    exclude: frozenset[int] = frozenset(),
    top: int = 5,
) -> list[Decision]:
    """Both decisions for every unit; they must be the same. The SQL ones are returned."""
    queue = Queue([c for c in candidates if c.entry_id not in exclude], TODAY, policy)
    decisions = []
    for slot in line.slots():
        expected = queue.decide(slot, top)
        got = ranking.decide_in_db(
            session, line.pw.pool.id, slot, TODAY, policy, declined, exclude, top
        )
        same(got, expected)
        decisions.append(got)
    return decisions


_SPEC = st.builds(
    Spec,
    urgency=st.sampled_from(list(Urgency)),
    # listed over 400 days, a few of them "in the future" (a listing day after today); often
    # on a few days around the credit's boundaries (ties, a period just earned or not)
    days=st.one_of(st.integers(-3, 400), st.sampled_from([0, 1, 29, 30, 89, 90, 179, 180])),
    ready=st.booleans(),
    sites=st.frozensets(st.integers(0, 2)),
    room_class=st.integers(0, 1),
    status=st.sampled_from(["waiting"] * 5 + ["offered", "withdrawn"]),
    declined=st.frozensets(st.integers(0, 5), max_size=2),
)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    specs=st.lists(_SPEC, max_size=MAX_ENTRIES),
    aging_days=st.one_of(st.just(0), st.sampled_from([1, 30, 90]), st.integers(1, 400)),
    top=st.integers(1, 6),
    excluded=st.frozensets(st.integers(0, MAX_ENTRIES - 1), max_size=3),
)
def test_the_decision_in_sql_is_the_policys(
    session: Session,
    line: Line,
    specs: list[Spec],
    aging_days: int,
    top: int,
    excluded: frozenset[int],
) -> None:
    nested = session.begin_nested()
    try:
        candidates, declined = insert(session, line, specs)
        # the reading of the service (the old path of a round) is the same list
        assert sorted(
            service.waiting_candidates(session, line.pw.pool.id, declined),
            key=lambda c: c.entry_id,
        ) == sorted(candidates, key=lambda c: c.entry_id)
        exclude = frozenset(candidates[i].entry_id for i in excluded if i < len(candidates))
        compare(
            session,
            line,
            candidates,
            declined,
            PolicySettings(aging_days=aging_days),
            exclude=exclude,
            top=top,
        )
    finally:
        nested.rollback()


def test_a_tie_on_the_listing_day_goes_to_the_first_listed(session: Session, line: Line) -> None:
    candidates, declined = insert(
        session, line, [Spec(Urgency.URGENT, 10), Spec(Urgency.URGENT, 10), Spec(Urgency.URGENT, 9)]
    )
    first = compare(session, line, candidates, declined, PolicySettings())[0]
    assert first.chosen == candidates[0]
    assert first.rule == Rule.LISTING_ORDER
    assert [r.candidate.entry_id for r in first.ranked] == [c.entry_id for c in candidates]
    assert first.eligible == 3 and dict(first.passed_over) == {}


def test_the_credit_for_waiting_crosses_a_category_on_the_day_it_is_earned(
    session: Session, line: Line
) -> None:
    policy = PolicySettings(aging_days=90)
    candidates, declined = insert(
        session,
        line,
        [
            Spec(Urgency.URGENT, 1),
            # routine, 180 days: two periods, ranked with the critical ones
            Spec(Urgency.ROUTINE, 180),
            # routine, one day short of two periods: ranked with the urgent ones
            Spec(Urgency.ROUTINE, 179),
            # urgent, exactly one period: critical
            Spec(Urgency.URGENT, 90),
        ],
    )
    urgent, long_routine, short_routine, aged_urgent = candidates
    first = compare(session, line, candidates, declined, policy)[0]
    assert [(r.candidate, r.effective_rank) for r in first.ranked] == [
        (long_routine, 0),
        (aged_urgent, 0),
        (short_routine, 1),
        (urgent, 1),
    ]
    assert first.rule == Rule.WAITING_TIME
    # no credit for waiting: urgency alone
    plain = compare(session, line, candidates, declined, PolicySettings(aging_days=0))[0]
    assert [r.candidate for r in plain.ranked] == [
        aged_urgent,
        urgent,
        long_routine,
        short_routine,
    ]
    assert plain.rule == Rule.WAITING_TIME


def test_the_credit_for_waiting_decides_over_a_more_urgent_entry(
    session: Session, line: Line
) -> None:
    candidates, declined = insert(
        session, line, [Spec(Urgency.URGENT, 3), Spec(Urgency.ROUTINE, 200)]
    )
    first = compare(session, line, candidates, declined, PolicySettings(aging_days=90))[0]
    assert first.chosen == candidates[1]
    assert first.rule == Rule.WAITING_CREDIT


def test_nobody_eligible_leaves_the_unit_free_with_the_reasons(
    session: Session, line: Line
) -> None:
    candidates, declined = insert(
        session,
        line,
        [
            Spec(Urgency.CRITICAL, 5, ready=False),
            Spec(Urgency.URGENT, 5, sites=frozenset({1, 2})),
            Spec(Urgency.ROUTINE, 5, declined=frozenset({0})),
            Spec(Urgency.CRITICAL, 5, room_class=1),
        ],
    )
    first = compare(session, line, candidates, declined, PolicySettings())[0]
    assert first.chosen is None and first.rule == Rule.NO_CANDIDATE
    assert first.eligible == 0 and first.ranked == ()
    assert dict(first.passed_over) == {
        PassedOver.NOT_READY: 1,
        PassedOver.SITE: 1,
        PassedOver.DECLINED: 1,
    }


def test_entries_that_declined_the_unit_are_passed_over_and_not_eligible(
    session: Session, line: Line
) -> None:
    candidates, declined = insert(
        session,
        line,
        [
            Spec(Urgency.CRITICAL, 30, declined=frozenset({0})),
            Spec(Urgency.CRITICAL, 20, declined=frozenset({0, 1})),
            Spec(Urgency.CRITICAL, 25, ready=False),
            Spec(Urgency.URGENT, 10),
            # behind the chosen one: not passed over, but not eligible either
            Spec(Urgency.ROUTINE, 10, declined=frozenset({0})),
            Spec(Urgency.ROUTINE, 5),
        ],
    )
    first, second = compare(session, line, candidates, declined, PolicySettings(), top=10)[:2]
    assert first.chosen == candidates[3]
    assert dict(first.passed_over) == {PassedOver.NOT_READY: 1, PassedOver.DECLINED: 2}
    assert first.eligible == 2
    assert [r.candidate for r in first.ranked] == [candidates[3], candidates[5]]
    # the next unit: only the second entry declined it
    assert second.chosen == candidates[0]
    assert second.eligible == 4


def test_entries_chosen_earlier_in_the_round_are_left_out(session: Session, line: Line) -> None:
    candidates, declined = insert(
        session, line, [Spec(Urgency.CRITICAL, 3), Spec(Urgency.URGENT, 3)]
    )
    first = compare(
        session,
        line,
        candidates,
        declined,
        PolicySettings(),
        exclude=frozenset({candidates[0].entry_id}),
    )[0]
    assert first.chosen == candidates[1]
    assert first.rule == Rule.ONLY_CANDIDATE and first.eligible == 1
