"""The world of the dispatch set-up tests (demand, availability, travel times): the dispatch
world (tests.dispatch_factories) at a fixed instant, Monday 30 November 2026, 10:00 China time.
Import the fixtures into a test module to use them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.orm import Session

from medcircle.audit.models import AuditEvent
from medcircle.auth import service as auth_service
from medcircle.auth.domain import Actor
from medcircle.auth.models import User
from medcircle.kit import i18n
from medcircle.kit.clock import CST
from tests import dispatch_factories as df
from tests import referral_factories as rf
from tests.factories import World

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=CST).astimezone(UTC)
TODAY = date(2026, 11, 30)


@pytest.fixture(name="frozen")
def frozen_fixture() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture(name="dw")
def dw_fixture(
    session: Session, world: World, frozen: time_machine.Coordinates
) -> df.DispatchWorld:
    w = df.dispatch_world(session, rf.referral_world(session, world))
    session.commit()
    return w


def actor(session: Session, username: str) -> Actor:
    u = session.scalar(select(User).where(User.username == username))
    assert u is not None, username
    return auth_service.actor_for(session, u)


def audited(session: Session, action: str) -> list[AuditEvent]:
    session.expire_all()
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
    )


def zh(message: str) -> str:
    text: str = i18n.translations("zh_Hans").ugettext(message)
    return text
