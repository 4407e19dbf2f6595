"""A care circle ready for referrals, and short ways to drive the real service in tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medcircle.audit.models import AuditEvent
from medcircle.auth import service as auth_service
from medcircle.auth.domain import Actor, Role
from medcircle.auth.models import User
from medcircle.config import Settings
from medcircle.kit import clock
from medcircle.notifications.models import Notification
from medcircle.patients.models import Patient
from medcircle.referrals import service
from medcircle.referrals.domain import Action, CareType, Urgency
from medcircle.referrals.models import Referral, ReferralEvent
from medcircle.referrals.schemas import ReferralCreate, TransitionIn
from medcircle.tasks import service as tasks
from tests import referral_factories as rf
from tests.factories import World


@dataclass
class Loop:
    """The circle of ``referral_factories.referral_world`` with a Baoding child who has
    consented to Beijing Hospital A (BD-A's clinician refers up to BJ-A's paediatrics)."""

    session: Session
    settings: Settings
    cw: rf.CircleWorld
    child: Patient
    actors: dict[str, Actor] = field(default_factory=dict)

    def user(self, username: str) -> User:
        found = self.session.scalar(select(User).where(User.username == username))
        assert found is not None, username
        return found

    def actor(self, username: str) -> Actor:
        if username not in self.actors:
            self.actors[username] = auth_service.actor_for(self.session, self.user(username))
        return self.actors[username]

    def data(self, **overrides: Any) -> ReferralCreate:
        values: dict[str, Any] = {
            "patient_id": self.child.id,
            "receiver_department_id": self.cw.bj_paeds.id,
            "urgency": Urgency.ROUTINE,
            "care_type": CareType.OUTPATIENT,
            "icd10_code": "Q21.0",
            "reason": "Surgical assessment of a ventricular septal defect",
            "clinical_summary": "Murmur since birth; echo shows a 6 mm perimembranous VSD.",
        }
        values.update(overrides)
        return ReferralCreate(**values)

    def create(self, username: str = "clinician", **overrides: Any) -> Referral:
        return service.create(
            self.session, self.actor(username), self.data(**overrides), self.settings
        )

    def move(self, referral: Referral, action: Action, username: str, **fields: Any) -> Referral:
        fields.setdefault("version", referral.version)
        if action in (Action.DECLINE, Action.REDIRECT, Action.CANCEL):
            fields.setdefault("reason", "Reason given")
        if action in (Action.SCHEDULE, Action.RESCHEDULE):
            fields.setdefault("appointment_at", clock.now() + timedelta(days=3))
            fields.setdefault("appointment_place", "Clinic building 2, room 305")
            fields.setdefault("what_to_bring", "Previous echo reports")
        if action == Action.COMPLETE:
            fields.setdefault("outcome_summary", "VSD closed; follow up in 3 months.")
        if action == Action.REDIRECT:
            fields.setdefault("receiver_department_id", self.cw.bj_cardio.id)
        return service.transition(
            self.session,
            self.actor(username),
            referral.id,
            TransitionIn(action=action, **fields),
            self.settings,
        )

    def walk(self, referral: Referral, *steps: Action) -> Referral:
        """Take ``steps`` with the side each belongs to (sender: clinician, else bjclinician)."""
        for step in steps:
            who = "clinician" if step in (Action.SUBMIT, Action.CLOSE) else "bjclinician"
            referral = self.move(referral, step, who)
        return referral

    # --- what the database holds ------------------------------------------------------------

    def events(self, referral: Referral) -> list[ReferralEvent]:
        return list(
            self.session.scalars(
                select(ReferralEvent)
                .where(ReferralEvent.referral_id == referral.id)
                .order_by(ReferralEvent.at, ReferralEvent.id)
            )
        )

    def timer_kinds(self, referral: Referral) -> list[str]:
        return [t.kind for t in tasks.pending(self.session, "referral", referral.id)]

    def notified(self, kind: str | None = None) -> set[str]:
        """Usernames who got an inbox message (of ``kind``)."""
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

    def referral_count(self) -> int:
        return int(self.session.scalar(select(func.count()).select_from(Referral)) or 0)


def build_loop(session: Session, world: World, settings: Settings) -> Loop:
    cw = rf.referral_world(session, world)
    child = rf.patient(session, world.baoding)
    rf.consent(session, child, world.beijing, world.users[Role.CLINICIAN])
    session.commit()
    return Loop(session=session, settings=settings, cw=cw, child=child)


def later(hours: float) -> datetime:
    return clock.now() + timedelta(hours=hours)
