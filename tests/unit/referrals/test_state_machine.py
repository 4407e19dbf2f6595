"""The transition table as a graph: every state is reachable from a draft, every open state
can still end, the ends accept nothing, and timers belong to the states that wait."""

from __future__ import annotations

from collections import deque

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medcircle.referrals.domain import (
    TERMINAL,
    TRANSITIONS,
    Action,
    Side,
    Status,
    TimerKind,
    allowed_actions,
    find_transition,
    timers_for,
    transitions_from,
)


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


def test_every_state_is_reachable_from_draft() -> None:
    assert _reachable(Status.DRAFT) == set(Status)


@pytest.mark.parametrize("status", sorted(set(Status) - TERMINAL), ids=str)
def test_every_open_state_can_end(status: Status) -> None:
    assert _reachable(status) & TERMINAL, f"{status} can never end"


@pytest.mark.parametrize("status", sorted(TERMINAL), ids=str)
def test_terminal_states_accept_nothing(status: Status) -> None:
    assert transitions_from(status) == []
    assert all(find_transition(status, a) is None for a in Action)


def test_one_transition_per_state_and_action() -> None:
    for status in Status:
        for action in Action:
            matching = [t for t in TRANSITIONS if t.action == action and status in t.sources]
            assert len(matching) <= 1, (status, action)


def test_every_action_is_used_and_every_transition_has_a_side() -> None:
    assert {t.action for t in TRANSITIONS} == set(Action)
    assert all(t.sides for t in TRANSITIONS)


def test_only_the_receiver_triages_and_only_the_sender_closes() -> None:
    for t in TRANSITIONS:
        if t.action in (Action.ACCEPT, Action.DECLINE, Action.REDIRECT, Action.SCHEDULE):
            assert t.sides == {Side.RECEIVER}
        if t.action in (Action.SUBMIT, Action.CLOSE):
            assert t.sides == {Side.SENDER}


def test_timers_run_only_while_waiting() -> None:
    assert timers_for(Status.SUBMITTED) == {TimerKind.TRIAGE_OVERDUE}
    assert timers_for(Status.SCHEDULED) == {TimerKind.APPOINTMENT_PASSED}
    for status in TERMINAL:
        assert timers_for(status) == frozenset()


@given(
    status=st.sampled_from(list(Status)),
    sides=st.sets(st.sampled_from(list(Side))),
)
def test_allowed_actions_agree_with_the_table(status: Status, sides: set[Side]) -> None:
    actions = allowed_actions(status, sides)
    assert len(actions) == len(set(actions))
    for action in Action:
        t = find_transition(status, action)
        assert (action in actions) == (t is not None and bool(t.sides & sides))


@given(st.lists(st.tuples(st.sampled_from(list(Action)), st.sampled_from(list(Side)))))
def test_random_walks_stay_in_the_table(steps: list[tuple[Action, Side]]) -> None:
    status = Status.DRAFT
    for action, side in steps:
        t = find_transition(status, action)
        if t is None or side not in t.sides:
            assert action not in allowed_actions(status, {side})
            continue
        assert status not in TERMINAL
        status = t.target
    assert status in set(Status)
