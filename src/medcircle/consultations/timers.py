"""Timers of consultations: a response promise at risk, a promise missed, the auto-close of an
answered case the asker has not come back to (registered with the timer runner on import).

Each handler runs in the timer's own transaction and is safe to run twice: it acts only when
the case is still in the state the timer was set for, with the clock it was set for (the
``due_at`` in its payload: a pause, a reply or a follow-up moves the clock and schedules timers
of its own), and only once per escalation level.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from medcircle.audit import service as audit
from medcircle.config import get_settings
from medcircle.consultations import service
from medcircle.consultations.domain import Action, Status
from medcircle.consultations.models import Consultation, ConsultationEvent
from medcircle.kit.i18n import N_
from medcircle.tasks import service as tasks
from medcircle.tasks.models import Timer

ESCALATED_TO_YOU = N_(
    "Consultation %(reference)s is at risk of missing its response time and is now yours."
)
ESCALATED_AWAY = N_(
    "Consultation %(reference)s was passed to the next expert on call: its response time "
    "is at risk."
)
AT_RISK_TO_POOL = N_(
    "Consultation %(reference)s is at risk of missing its response time and nobody else is "
    "on call: please find an expert."
)
AT_RISK_HOLDER = N_(
    "Consultation %(reference)s is at risk of missing its response time; nobody else is on "
    "call, the coordinators have been told."
)
TARGET_MISSED = N_(
    "Consultation %(reference)s has missed its promised response time. Please step in."
)
AUTOCLOSED = N_("Consultation %(reference)s was closed: nobody came back to it after the opinion.")

CLOCK_STATES = (Status.POOL.value, Status.ASSIGNED.value)


def _tell(session: Session, user_ids: list[int], c: Consultation, kind: str, message: str) -> None:
    service.tell(session, user_ids, c, kind, message, get_settings())


def _same_clock(c: Consultation, timer: Timer) -> bool:
    """The case's clock is still the one the timer was set for."""
    planned = timer.payload.get("due_at")
    if c.due_at is None or c.paused_since is not None:
        return False
    if not isinstance(planned, str):
        return True
    return datetime.fromisoformat(planned) == c.due_at


def _event(
    session: Session,
    c: Consultation,
    action: str,
    from_status: str,
    now: datetime,
    detail: dict[str, Any],
) -> None:
    session.add(
        ConsultationEvent(
            consultation_id=c.id,
            at=now,
            action=action,
            from_status=from_status,
            to_status=c.status,
            actor_user_id=None,
            actor_institution_id=None,
            detail=detail,
        )
    )


def at_risk(session: Session, timer: Timer, now: datetime) -> None:
    """Three quarters of the time gone without an answer: to the next expert on call who has
    not held the case yet; nobody left, the coordinators are told (the case stays where it
    is)."""
    c = session.get(Consultation, timer.subject_id)
    if (
        c is None
        or c.status not in CLOCK_STATES
        or not _same_clock(c, timer)
        or c.escalation_level >= 1
    ):
        return
    old_status, old_holder = c.status, c.assignee_user_id
    exclude = frozenset(service.holders_of(session, c))
    decision = service.decide(
        session, c.answer_institution_id, c.specialty_code, now, c.icd10_code, exclude
    )
    c.escalation_level = 1
    c.route_reason = decision.reason.value
    if decision.user_id is not None:
        c.assignee_user_id = decision.user_id
        c.status = Status.ASSIGNED.value
    # nobody else on call: the case stays with whoever holds it (they may be writing the
    # answer), or in the pool; either way the coordinators are told to find someone
    c.updated_at = now
    session.flush()
    _event(
        session,
        c,
        Action.ESCALATE.value,
        old_status,
        now,
        {
            "level": 1,
            "reason": decision.reason.value,
            "assignee_user_id": decision.user_id,
            "previous_assignee_user_id": old_holder,
        },
    )
    audit.record(
        session,
        None,
        "consultation.escalate",
        object_type=service.SUBJECT,
        object_id=c.id,
        detail={
            "reference": c.reference,
            "level": 1,
            "from_user_id": old_holder,
            "to_user_id": decision.user_id,
        },
        username="timer",
    )
    if decision.user_id is not None:
        _tell(session, [decision.user_id], c, "consultation.escalated", ESCALATED_TO_YOU)
        if old_holder is not None:
            _tell(session, [old_holder], c, "consultation.escalated_away", ESCALATED_AWAY)
    else:
        _tell(
            session,
            service.coordinators(session, c.answer_institution_id),
            c,
            "consultation.at_risk",
            AT_RISK_TO_POOL,
        )
        if old_holder is not None:
            _tell(session, [old_holder], c, "consultation.at_risk_holder", AT_RISK_HOLDER)


def missed(session: Session, timer: Timer, now: datetime) -> None:
    """The promised time is up without an answer: the coordinators are told (once)."""
    c = session.get(Consultation, timer.subject_id)
    if c is None or c.status not in CLOCK_STATES or not _same_clock(c, timer):
        return
    # a conditional UPDATE (the row's version stays: whoever has the case open can still act)
    raised = session.execute(
        update(Consultation)
        .where(
            Consultation.id == c.id,
            Consultation.status.in_(CLOCK_STATES),
            Consultation.escalation_level < 2,
        )
        .values(escalation_level=2)
        .execution_options(synchronize_session=False)
    )
    if not raised.rowcount:  # type: ignore[attr-defined]
        return
    session.refresh(c)
    recipients = service.coordinators(session, c.answer_institution_id)
    _event(
        session,
        c,
        "target_missed",
        c.status,
        now,
        {"level": 2, "notified": len(recipients), "due_at": timer.payload.get("due_at")},
    )
    audit.record(
        session,
        None,
        "consultation.target_missed",
        object_type=service.SUBJECT,
        object_id=c.id,
        detail={"reference": c.reference, "level": 2, "notified": recipients},
        username="timer",
    )
    _tell(session, recipients, c, "consultation.target_missed", TARGET_MISSED)


def autoclose(session: Session, timer: Timer, now: datetime) -> None:
    """Close an answered case the asker has not come back to (the platform closes it)."""
    c = session.get(Consultation, timer.subject_id)
    if c is None or c.status != Status.ANSWERED.value:
        return
    planned = timer.payload.get("answered_at")
    if (
        isinstance(planned, str)
        and c.answered_at is not None
        and datetime.fromisoformat(planned) != c.answered_at
    ):
        return  # answered again since: that answer has its own timer
    c.status = Status.CLOSED.value
    c.closed_at = now
    c.updated_at = now
    session.flush()
    _event(session, c, Action.CLOSE.value, Status.ANSWERED.value, now, {"automatic": True})
    audit.record(
        session,
        None,
        "consultation.close",
        object_type=service.SUBJECT,
        object_id=c.id,
        detail={"reference": c.reference, "automatic": True},
        username="timer",
    )
    recipients = sorted({u for u in (c.asker_user_id, c.opinion_by_user_id) if u is not None})
    _tell(session, recipients, c, "consultation.autoclosed", AUTOCLOSED)


tasks.register(service.TIMER_AT_RISK, at_risk)
tasks.register(service.TIMER_MISSED, missed)
tasks.register(service.TIMER_AUTOCLOSE, autoclose)
