"""A property test that walks the transition table through the real service and database:
random actions by random people on either side (and strangers), with current and stale
versions. Only the table's transitions succeed, each adds exactly one event, a refusal leaves
the row and its version untouched, and the pending timers always match the state."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy.orm import Session

from medcircle.config import Settings
from medcircle.kit import clock
from medcircle.kit.errors import Conflict, DomainError, Forbidden, NotFound
from medcircle.referrals import service
from medcircle.referrals.domain import TERMINAL, Action, Side, Status, find_transition, timers_for
from medcircle.referrals.models import Referral
from medcircle.referrals.schemas import TransitionIn
from tests.factories import World
from tests.integration.referrals.loop_support import Loop, build_loop

# who acts: the sending clinician, receiving triagers, a receiving expert (reads only), and a
# clinician of an institution with no part in the referral
PEOPLE = {
    "clinician": {Side.SENDER},
    "bjclinician": {Side.RECEIVER},
    "bjadmin": {Side.RECEIVER},
    "expert": set(),
    "bd2clinician": None,
}


def _fields(loop: Loop, action: Action) -> dict[str, Any]:
    return {
        "reason": "Because",
        "appointment_at": clock.now() + timedelta(days=4),
        "appointment_place": "Room 2",
        "what_to_bring": "Reports",
        "outcome_summary": "Treated",
        "receiver_department_id": loop.cw.bj_cardio.id,
        "local_plan": action == Action.COMPLETE,
    }


def test_the_service_walks_only_the_table(
    session: Session, world: World, settings: Settings
) -> None:
    loop = build_loop(session, world, settings)

    class LoopMachine(RuleBasedStateMachine):
        referral_id: int

        @initialize(submit=st.booleans())
        def start(self, submit: bool) -> None:
            self.referral_id = loop.create(submit=submit).id
            self.events = len(loop.events(self._row()))

        def _row(self) -> Referral:
            row = session.get(Referral, self.referral_id)
            assert row is not None
            return row

        @rule(
            action=st.sampled_from(list(Action)),
            who=st.sampled_from(sorted(PEOPLE)),
            stale=st.booleans(),
        )
        def act(self, action: Action, who: str, stale: bool) -> None:
            row = self._row()
            before = (row.status, row.version)
            status = Status(row.status)
            sides = PEOPLE[who]
            if sides is not None and Side.RECEIVER in sides and status == Status.DRAFT:
                sides = None  # a draft does not exist for the receiver yet
            if who == "expert" and status == Status.DRAFT:
                sides = None
            t = find_transition(status, action)
            version = row.version - 1 if stale else row.version
            data = TransitionIn(action=action, version=version, **_fields(loop, action))
            nested = session.begin_nested()
            try:
                after = service.transition(session, loop.actor(who), row.id, data, loop.settings)
            except DomainError as error:
                nested.rollback()
                session.expire_all()
                row = self._row()
                assert (row.status, row.version) == before, "a refusal changed the row"
                assert len(loop.events(row)) == self.events
                if sides is None:
                    assert isinstance(error, NotFound)
                elif stale:
                    assert isinstance(error, Conflict) and error.code == "stale_version"
                elif t is None:
                    assert isinstance(error, Conflict)
                    assert error.code == "transition_not_allowed"
                else:
                    assert isinstance(error, Forbidden) and not (t.sides & sides)
                return
            nested.commit()
            assert sides is not None and not stale and t is not None
            assert t.sides & sides, f"{who} made a {action} reserved to {t.sides}"
            assert (after.status, after.version) == (t.target.value, before[1] + 1)
            self.events += 1
            assert len(loop.events(after)) == self.events

        @invariant()
        def consistent(self) -> None:
            if not hasattr(self, "referral_id"):
                return
            row = self._row()
            status = Status(row.status)
            assert {k.value for k in timers_for(status)} == set(loop.timer_kinds(row))
            if status in TERMINAL:
                assert service.available_actions(loop.actor("clinician"), row) == []
                assert service.available_actions(loop.actor("bjadmin"), row) == []
            if status == Status.REDIRECTED:
                assert row.redirected_to_id is not None

    run_state_machine_as_test(
        LoopMachine,
        settings=settings_for_loop,
    )


settings_for_loop = settings(
    max_examples=25,
    stateful_step_count=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
