"""``medcircle demo load`` just after midnight China time: the world of the day before
(``consultations.demo_day``), nothing in it after the load, the live cases held as the story
tells, ``oncall`` routed the next child, every running clock still before its timers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from medcircle.auth.models import User
from medcircle.consultations import rota
from medcircle.consultations import service as consult_service
from medcircle.consultations.domain import OPEN, route
from medcircle.consultations.models import Consultation, ConsultationEvent, ConsultationMessage
from medcircle.demo import consultations as dc
from medcircle.demo import facts, service
from medcircle.demo.generator import generate
from medcircle.demo.referrals import CHINA
from medcircle.kit import clock
from medcircle.registry.models import Institution
from medcircle.tasks.models import Timer
from tests.integration.demo.conftest import DEMO_SETTINGS, OPERATOR

# five past midnight China time, tomorrow (whatever the hour the tests run)
_TOMORROW = (clock.now() + CHINA).date() + timedelta(days=1)
LOAD_AT = datetime(_TOMORROW.year, _TOMORROW.month, _TOMORROW.day, 0, 5, tzinfo=UTC) - CHINA


@pytest.fixture(scope="module")
def loaded(engine: Engine) -> Iterator[Session]:
    """The default world loaded at ``LOAD_AT`` (the clock stopped there), rolled back after."""
    conn = engine.connect()
    trans = conn.begin()
    session = Session(bind=conn, join_transaction_mode="create_savepoint")
    with time_machine.travel(LOAD_AT, tick=False):
        service.load_world(session, OPERATOR, generate(2017), DEMO_SETTINGS)
        session.flush()
    yield session
    session.close()
    trans.rollback()
    conn.close()


def user_id(session: Session, username: str) -> int:
    found = session.scalar(select(User.id).where(User.username == username))
    assert found is not None
    return found


def institution_id(session: Session, code: str) -> int:
    found = session.scalar(select(Institution.id).where(Institution.code == code))
    assert found is not None
    return found


def test_nothing_is_after_the_load(loaded: Session) -> None:
    latest = [
        loaded.scalar(select(func.max(Consultation.asked_at))),
        loaded.scalar(select(func.max(Consultation.updated_at))),
        loaded.scalar(select(func.max(ConsultationEvent.at))),
        loaded.scalar(select(func.max(ConsultationMessage.at))),
    ]
    assert all(at is not None and at <= LOAD_AT for at in latest), latest
    # the world of the day before: its last live case asked at 03:00 China time that day
    assert latest[0] == dc.live_from(dc.demo_day(LOAD_AT))
    assert dc.demo_day(LOAD_AT) == _TOMORROW - timedelta(days=1)


def test_the_live_cases_are_held_as_told(loaded: Session) -> None:
    oncall = user_id(loaded, dc.ONCALL_LOGIN)
    live = {
        c.icd10_code: c
        for c in loaded.scalars(
            select(Consultation).where(Consultation.status.in_([s.value for s in OPEN]))
        )
    }
    night, asthma, leukaemia = live["J18.9"], live["J45.9"], live["C91.0"]
    assert (night.asked_at + CHINA).hour == 3
    assert (night.status, night.assignee_user_id) == ("assigned", oncall)
    assert (asthma.status, asthma.assignee_user_id) == ("awaiting_asker", oncall)
    assert (leukaemia.status, leukaemia.assignee_user_id) == ("pool", None)
    # the running clocks have not missed their promise at the load
    assert night.due_at is not None and night.due_at > LOAD_AT
    missed = loaded.scalars(
        select(Timer.due_at).where(
            Timer.subject_type == consult_service.SUBJECT,
            Timer.subject_id == night.id,
            Timer.kind == consult_service.TIMER_MISSED,
        )
    ).all()
    assert missed and all(at > LOAD_AT for at in missed)


def test_oncall_is_on_call_at_the_load(loaded: Session) -> None:
    bch = institution_id(loaded, facts.BEIJING_CHILDRENS)
    hour = timedelta(hours=1)
    index = rota.rota_index(loaded, bch, dc.DEMO_SPECIALTY, LOAD_AT - hour, LOAD_AT + hour)
    pool = rota.pool_experts(loaded, bch, dc.DEMO_SPECIALTY)
    decision = route(
        index, rota.experts_of(loaded, pool), rota.open_load(loaded, pool), LOAD_AT, "J18.9"
    )
    assert decision.user_id == user_id(loaded, dc.ONCALL_LOGIN)
