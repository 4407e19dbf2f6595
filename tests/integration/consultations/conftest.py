"""Fixtures of the consultation tests: the consultation world (tests.consult_factories) and
short ways to drive the real service."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.orm import Session

from medcircle.audit.models import AuditEvent
from medcircle.auth import service as auth_service
from medcircle.auth.domain import Actor
from medcircle.auth.models import User
from medcircle.config import Settings
from medcircle.consultations import service
from medcircle.consultations.domain import Action, Mode, Urgency
from medcircle.consultations.models import Consultation, ConsultationEvent
from medcircle.consultations.schemas import ActIn, ConsultationCreate
from medcircle.kit import clock
from medcircle.notifications.models import Notification
from medcircle.tasks import service as tasks
from tests import consult_factories as cf
from tests import referral_factories as rf
from tests.factories import World


@dataclass
class Desk:
    """The consultation world with the service at hand: BD-A's clinician asks BJ-A's
    paediatric cardiology pool about a consenting child."""

    session: Session
    settings: Settings
    w: cf.ConsultWorld
    actors: dict[str, Actor] = field(default_factory=dict)

    def user(self, username: str) -> User:
        found = self.session.scalar(select(User).where(User.username == username))
        assert found is not None, username
        return found

    def actor(self, username: str) -> Actor:
        if username not in self.actors:
            self.actors[username] = auth_service.actor_for(self.session, self.user(username))
        return self.actors[username]

    def data(self, **overrides: Any) -> ConsultationCreate:
        values: dict[str, Any] = {
            "patient_id": self.w.patient.id,
            "answer_institution_id": self.w.answerer.id,
            "specialty_code": cf.SPECIALTY,
            "mode": Mode.WRITTEN,
            "urgency": Urgency.ROUTINE,
            "question": "Is surgical closure of this VSD indicated now?",
            "clinical_summary": "Murmur since birth; echo shows a 7 mm perimembranous VSD.",
            "icd10_code": "Q21.0",
        }
        values.update(overrides)
        return ConsultationCreate(**values)

    def ask(self, username: str = "clinician", **overrides: Any) -> Consultation:
        return service.ask(
            self.session, self.actor(username), self.data(**overrides), self.settings
        )

    def act(self, c: Consultation, action: Action, username: str, **fields: Any) -> Consultation:
        fields.setdefault("version", c.version)
        if action in (Action.RELEASE, Action.REDIRECT, Action.CANCEL):
            fields.setdefault("reason", "Reason given")
        if action in (Action.ASK_ASKER, Action.REPLY, Action.FOLLOW_UP):
            fields.setdefault("body", f"{action.value} text")
        if action == Action.ANSWER:
            fields.setdefault("assessment", "Haemodynamically significant VSD.")
            fields.setdefault("recommendations", "Refer for surgical closure within 3 months.")
        return service.act(
            self.session, self.actor(username), c.id, ActIn(action=action, **fields), self.settings
        )

    # --- what the database holds ------------------------------------------------------------

    def events(self, c: Consultation) -> list[tuple[str, str | None, str]]:
        rows = self.session.scalars(
            select(ConsultationEvent)
            .where(ConsultationEvent.consultation_id == c.id)
            .order_by(ConsultationEvent.at, ConsultationEvent.id)
        )
        return [(e.action, e.from_status, e.to_status) for e in rows]

    def timers(self, c: Consultation) -> list[str]:
        return sorted(t.kind for t in tasks.pending(self.session, service.SUBJECT, c.id))

    def notified(self, kind: str | None = None) -> set[str]:
        q = select(User.username).join(Notification, Notification.user_id == User.id)
        if kind:
            q = q.where(Notification.kind == kind)
        return set(self.session.scalars(q))

    def audits(self, action: str) -> list[AuditEvent]:
        return list(
            self.session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
            )
        )


@pytest.fixture
def consult_world(session: Session, world: World) -> cf.ConsultWorld:
    circle = rf.referral_world(session, world)
    w = cf.consult_world(session, circle)
    session.commit()
    return w


@pytest.fixture
def desk(session: Session, settings: Settings, consult_world: cf.ConsultWorld) -> Desk:
    return Desk(session, settings, consult_world)


@pytest.fixture
def traveller() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(clock.now(), tick=False) as t:
        yield t
