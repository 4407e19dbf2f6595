"""The pure consultation domain: the transition table walked by a state machine, the response
clock under pauses, and common session slots against everyone's busy time."""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from medcircle.consultations.domain import (
    AT_RISK_SHARE,
    CLOCK_RUNS,
    OPEN,
    TERMINAL,
    TRANSITIONS,
    TURN,
    Action,
    Clock,
    Side,
    Status,
    Targets,
    Urgency,
    allowed_actions,
    common_slots,
    find_transition,
    transitions_from,
)

T0 = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)


def _reachable(start: Status) -> set[Status]:
    seen = {start}
    todo = deque([start])
    while todo:
        here = todo.popleft()
        for t in transitions_from(here):
            if t.target not in seen:
                seen.add(t.target)
                todo.append(t.target)
    return seen


def _table(status: Status) -> set[tuple[Action, Status]]:
    return {(t.action, t.target) for t in TRANSITIONS if status in t.sources}


SIDES = st.sets(st.sampled_from(list(Side)))


class ConsultationMachine(RuleBasedStateMachine):
    """A case pushed around by any action to any target, from the pool (where ``ask`` puts a
    case nobody holds) or with an expert (routed): only table moves happen."""

    def __init__(self) -> None:
        super().__init__()
        self.status = Status.POOL
        self.path: list[Status] = [self.status]

    @rule(start=st.sampled_from([Status.POOL, Status.ASSIGNED]))
    def ask_again(self, start: Status) -> None:
        # a new case: the two states ``ask`` may leave it in
        self.status = start
        self.path = [start]

    @rule(action=st.sampled_from(list(Action)), to=st.sampled_from(list(Status)))
    def try_move(self, action: Action, to: Status) -> None:
        t = find_transition(self.status, action, to)
        if (action, to) in _table(self.status):
            assert t is not None and t.target == to and t.action == action
            assert self.status in t.sources
            self.status = to
            self.path.append(to)
        else:
            assert t is None

    @rule(action=st.sampled_from(list(Action)))
    def move_without_target(self, action: Action) -> None:
        t = find_transition(self.status, action)
        targets = {tg for a, tg in _table(self.status) if a == action}
        if not targets:
            assert t is None
            return
        assert t is not None and t.target in targets
        self.status = t.target
        self.path.append(t.target)

    @rule(sides=SIDES)
    def allowed_matches_the_table(self, sides: set[Side]) -> None:
        got = allowed_actions(self.status, sides)
        expected: list[Action] = []
        for t in TRANSITIONS:
            if self.status in t.sources and t.sides & sides and t.action not in expected:
                expected.append(t.action)
        assert got == expected
        assert len(got) == len(set(got))
        for a in got:
            assert find_transition(self.status, a) is not None

    @invariant()
    def terminal_states_are_dead_ends(self) -> None:
        if self.status in TERMINAL:
            assert transitions_from(self.status) == []
            assert all(find_transition(self.status, a) is None for a in Action)
            assert TURN[self.status] is None

    @invariant()
    def open_states_can_still_end(self) -> None:
        if self.status not in TERMINAL:
            assert _reachable(self.status) & TERMINAL
            assert TURN[self.status] is not None

    @invariant()
    def every_step_was_in_the_table(self) -> None:
        for a, b in zip(self.path, self.path[1:], strict=False):
            assert any(tg == b for _, tg in _table(a))


TestConsultationMachine = ConsultationMachine.TestCase
TestConsultationMachine.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)


def test_turn_and_labels_cover_every_state() -> None:
    assert set(TURN) == set(Status)
    assert OPEN | TERMINAL | {Status.ANSWERED} == set(Status)
    assert CLOCK_RUNS <= OPEN
    # the asker's turn while asked, the expert's while holding it
    assert TURN[Status.AWAITING_ASKER] == Side.ASKER
    assert TURN[Status.ASSIGNED] == Side.ASSIGNEE


def test_every_state_is_reachable_from_the_pool() -> None:
    assert _reachable(Status.POOL) == set(Status)


@pytest.mark.parametrize("status", sorted(set(Status) - TERMINAL), ids=str)
def test_every_open_state_can_end(status: Status) -> None:
    assert _reachable(status) & TERMINAL


def test_escalate_has_two_targets_found_by_target() -> None:
    for source in (Status.POOL, Status.ASSIGNED):
        to_next = find_transition(source, Action.ESCALATE, Status.ASSIGNED)
        to_pool = find_transition(source, Action.ESCALATE, Status.POOL)
        assert to_next is not None and to_next.target == Status.ASSIGNED
        assert to_pool is not None and to_pool.target == Status.POOL
        assert to_next.sides == to_pool.sides == {Side.SYSTEM}
    assert find_transition(Status.POOL, Action.ESCALATE, Status.CLOSED) is None
    assert find_transition(Status.AWAITING_ASKER, Action.ESCALATE) is None
    # only escalate has several targets from one state
    for status in Status:
        for action in Action:
            targets = {t.target for t in TRANSITIONS if t.action == action and status in t.sources}
            assert len(targets) <= 1 or action == Action.ESCALATE


def test_the_system_only_escalates_and_closes() -> None:
    system = {t.action for t in TRANSITIONS if Side.SYSTEM in t.sides}
    assert system == {Action.ESCALATE, Action.CLOSE}
    assert allowed_actions(Status.ANSWERED, {Side.SYSTEM}) == [Action.CLOSE]


# --- the clock ----------------------------------------------------------------------------

MINUTES = st.integers(min_value=0, max_value=3 * 24 * 60)


@st.composite
def clocks(draw: st.DrawFn) -> tuple[Clock, list[tuple[str, datetime]], datetime]:
    """A clock started at T0 with a target, then pauses and resumes at increasing times
    (some repeated), and an instant after all of them."""
    target = timedelta(minutes=draw(st.sampled_from([30, 240, 1440])))
    clock = Clock(T0, target)
    at = T0
    steps: list[tuple[str, datetime]] = []
    for kind, gap in draw(
        st.lists(st.tuples(st.sampled_from(["pause", "resume"]), MINUTES), max_size=8)
    ):
        at = at + timedelta(minutes=gap)
        steps.append((kind, at))
        clock = clock.pause(at) if kind == "pause" else clock.resume(at)
    now = at + timedelta(minutes=draw(MINUTES))
    return clock, steps, now


@given(clocks())
def test_elapsed_never_exceeds_wall_time_and_left_is_the_rest(
    case: tuple[Clock, list[tuple[str, datetime]], datetime],
) -> None:
    clock, _, now = case
    elapsed = clock.elapsed(now)
    assert timedelta(0) <= elapsed <= now - clock.started_at
    assert clock.left(now) == clock.target - elapsed
    # time only adds up
    assert clock.elapsed(now + timedelta(hours=1)) >= elapsed


@given(clocks())
def test_elapsed_is_wall_time_minus_the_pauses(
    case: tuple[Clock, list[tuple[str, datetime]], datetime],
) -> None:
    clock, steps, now = case
    paused = timedelta(0)
    since: datetime | None = None
    for kind, at in steps:
        if kind == "pause" and since is None:
            since = at
        elif kind == "resume" and since is not None:
            paused += at - since
            since = None
    end = since if since is not None else now
    assert clock.elapsed(now) == end - T0 - paused
    assert clock.paused_seconds == paused.total_seconds()
    if since is None:
        assert clock.due_at() == T0 + paused + clock.target
        at_risk = clock.at_risk_at()
        assert at_risk is not None and at_risk == T0 + paused + clock.target * AT_RISK_SHARE
    else:
        assert clock.due_at() is None and clock.at_risk_at() is None


@given(
    st.sampled_from([30, 240, 1440]),
    MINUTES,
    st.integers(min_value=0, max_value=600),
    st.integers(min_value=0, max_value=600),
)
def test_a_pause_moves_the_due_time_by_exactly_its_length(
    target: int, before: int, length: int, later: int
) -> None:
    clock = Clock(T0, timedelta(minutes=target))
    due = clock.due_at()
    assert due is not None
    start = T0 + timedelta(minutes=before)
    paused = clock.pause(start)
    # pausing again changes nothing; resuming a running clock changes nothing
    assert paused.pause(start + timedelta(minutes=later)) == paused
    assert clock.resume(start) == clock
    resumed = paused.resume(start + timedelta(minutes=length))
    assert resumed.resume(start + timedelta(minutes=length + later)) == resumed
    assert resumed.due_at() == due + timedelta(minutes=length)
    assert resumed.elapsed(start + timedelta(minutes=length)) == timedelta(minutes=before)


def test_targets_per_urgency_and_at_risk_share() -> None:
    t = Targets()
    assert t.for_urgency(Urgency.EMERGENCY) == timedelta(minutes=30)
    assert t.for_urgency(Urgency.URGENT) == timedelta(hours=4)
    assert t.for_urgency(Urgency.ROUTINE) == timedelta(hours=24)
    assert 0 < AT_RISK_SHARE < 1


# --- common slots -------------------------------------------------------------------------

CST = timedelta(hours=8)


@st.composite
def calendars(draw: st.DrawFn) -> dict[int, list[tuple[datetime, datetime]]]:
    busy: dict[int, list[tuple[datetime, datetime]]] = {}
    for person in range(draw(st.integers(min_value=1, max_value=4))):
        spans = []
        for start, length in draw(
            st.lists(
                st.tuples(
                    st.integers(min_value=0, max_value=4 * 48),
                    st.integers(min_value=1, max_value=8),
                ),
                max_size=6,
            )
        ):
            a = T0 + timedelta(minutes=30 * start + draw(st.sampled_from([0, 7, 15])))
            spans.append((a, a + timedelta(minutes=30 * length)))
        busy[person] = spans
    return busy


@settings(max_examples=150, deadline=None)
@given(
    calendars(),
    st.sampled_from([15, 30, 45, 60, 90]),
    st.sampled_from([15, 30, 60]),
    st.integers(min_value=1, max_value=40),
)
def test_slots_are_free_for_everyone_within_working_hours(
    busy: dict[int, list[tuple[datetime, datetime]]], minutes: int, step: int, limit: int
) -> None:
    duration = timedelta(minutes=minutes)
    end = T0 + timedelta(days=4)
    slots = common_slots(busy, T0, end, duration, timedelta(minutes=step), limit=limit)
    assert len(slots) <= limit
    assert slots == sorted(set(slots))
    for t in slots:
        assert t >= T0 and t + duration <= end
        assert (t - T0) % timedelta(minutes=step) == timedelta(0)
        local, local_end = t + CST, t + duration + CST
        assert local.date() == local_end.date()
        assert local.hour >= 8
        assert local_end.hour * 60 + local_end.minute <= 20 * 60
        for spans in busy.values():
            for a, b in spans:
                assert not (a < t + duration and t < b), (t, a, b)
    # nothing free was missed before the last slot found
    t = T0
    last = slots[-1] if slots else end
    while t < last:
        local, local_end = t + CST, t + duration + CST
        working = (
            local.hour >= 8
            and local.date() == local_end.date()
            and local_end.hour * 60 + local_end.minute <= 20 * 60
        )
        free = all(not (a < t + duration and t < b) for s in busy.values() for a, b in s)
        assert (working and free) == (t in slots)
        t += timedelta(minutes=step)


def test_no_slot_for_an_empty_or_negative_duration() -> None:
    assert common_slots({1: []}, T0, T0 + timedelta(days=1), timedelta(0)) == []
    assert common_slots({1: []}, T0, T0 + timedelta(days=1), timedelta(minutes=-30)) == []
    assert common_slots({1: []}, T0, T0 + timedelta(days=1), timedelta(hours=1), timedelta(0)) == []
