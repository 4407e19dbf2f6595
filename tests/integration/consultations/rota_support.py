"""The world of the rota tests: the consultation world (tests.consult_factories) at a fixed
instant, a Monday 10:00 China time, so weeks and warnings fall at known hours."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.orm import Session

from medcircle.audit.models import AuditEvent
from medcircle.kit.clock import CST
from tests import consult_factories as cf
from tests import referral_factories as rf
from tests.factories import World

# Monday 30 November 2026, 10:00 in Beijing
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=CST).astimezone(UTC)
MONDAY = datetime(2026, 11, 30, 0, 0, tzinfo=CST)
H = timedelta(hours=1)
D = timedelta(days=1)


@pytest.fixture(name="frozen")
def frozen_fixture() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture(name="cw")
def cw_fixture(session: Session, world: World, frozen: time_machine.Coordinates) -> cf.ConsultWorld:
    """consult_world: expert primary and expert2 backup from 04:00 to 04:00 next day."""
    w = cf.consult_world(session, rf.referral_world(session, world))
    session.commit()
    return w


def audited(session: Session, action: str) -> list[AuditEvent]:
    session.expire_all()
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
    )


def iso(value: datetime) -> str:
    return value.isoformat()
