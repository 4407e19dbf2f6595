"""What the referral timers do when they fall due (registered with the timer runner on import).

Each handler runs in the timer's own transaction and is safe to run twice: it acts only when
the referral is still in the state the timer was set for, and an escalation raises the level
with a conditional UPDATE (which leaves the row's version alone, so a triager who opened the
referral before the escalation can still act on it).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from medcircle.audit import service as audit
from medcircle.config import get_settings
from medcircle.kit import clock
from medcircle.kit.i18n import N_
from medcircle.notifications import service as notifications
from medcircle.referrals import service
from medcircle.referrals.domain import Status, TimerKind, TriageLimits, Urgency
from medcircle.referrals.models import Referral, ReferralEvent
from medcircle.tasks import service as tasks
from medcircle.tasks.models import Timer

ESCALATED_TO_ADMINS = N_(
    "Referral %(reference)s has not been triaged in time. Please see that it is answered."
)
ESCALATED_TO_ALLIANCE = N_(
    "Referral %(reference)s is still not triaged after two time limits. "
    "The alliance coordinator is asked to step in."
)
APPOINTMENT_PASSED = N_(
    "The appointment of referral %(reference)s has passed. Mark arrived or did not attend."
)


def _limit(timer: Timer, referral: Referral) -> timedelta:
    seconds = timer.payload.get("limit_seconds")
    if isinstance(seconds, (int, float)) and seconds > 0:
        return timedelta(seconds=seconds)
    return TriageLimits().for_urgency(Urgency(referral.urgency))


def _tell(
    session: Session, user_ids: list[int], referral: Referral, kind: str, message: str
) -> None:
    notifications.notify(
        session,
        user_ids,
        kind,
        message,
        {"reference": referral.reference},
        link=service.link_of(referral),
        subject_type=service.SUBJECT,
        subject_id=referral.id,
        base_url=get_settings().base_url,
    )


def triage_overdue(session: Session, timer: Timer, now: datetime) -> None:
    """Step 1 tells the receiving institution's admins and sets step 2; step 2 tells the
    coordinators of the alliances the receiver or the sender belongs to or leads."""
    referral = session.get(Referral, timer.subject_id)
    if referral is None:
        return
    step = int(timer.payload.get("step", 1))
    raised = session.execute(
        update(Referral)
        .where(
            Referral.id == referral.id,
            Referral.status == Status.SUBMITTED.value,
            Referral.escalation_level < step,
        )
        .values(escalation_level=step)
        .execution_options(synchronize_session=False)
    )
    if not raised.rowcount:  # type: ignore[attr-defined]
        return  # triaged meanwhile, or this step already ran
    session.refresh(referral)
    if step == 1:
        recipients = service.institution_admins(session, referral.receiver_institution_id)
        kind, message = "referral.escalated", ESCALATED_TO_ADMINS
        tasks.schedule(
            session,
            TimerKind.TRIAGE_OVERDUE.value,
            service.SUBJECT,
            referral.id,
            timer.due_at + _limit(timer, referral),
            {"step": 2, "limit_seconds": _limit(timer, referral).total_seconds()},
        )
    else:
        recipients = service.alliance_coordinators(
            session,
            [referral.receiver_institution_id, referral.sender_institution_id],
            clock.today(),
        )
        kind, message = "referral.escalated_alliance", ESCALATED_TO_ALLIANCE
    session.add(
        ReferralEvent(
            referral_id=referral.id,
            at=now,
            action="escalate",
            from_status=referral.status,
            to_status=referral.status,
            actor_user_id=None,
            actor_institution_id=None,
            detail={"level": step, "notified": len(recipients)},
        )
    )
    audit.record(
        session,
        None,
        "referral.escalated",
        object_type=service.SUBJECT,
        object_id=referral.id,
        detail={"reference": referral.reference, "level": step, "notified": recipients},
        username="timer",
    )
    _tell(session, recipients, referral, kind, message)


def appointment_passed(session: Session, timer: Timer, now: datetime) -> None:
    """Ask the receiving side whether the patient came, once per appointment."""
    referral = session.get(Referral, timer.subject_id)
    if referral is None or referral.status != Status.SCHEDULED.value:
        return
    planned = timer.payload.get("appointment_at")
    if (
        isinstance(planned, str)
        and referral.appointment_at is not None
        and datetime.fromisoformat(planned) != referral.appointment_at
    ):
        return  # rescheduled: the new appointment has its own timer
    asked = session.scalar(
        select(ReferralEvent.id).where(
            ReferralEvent.referral_id == referral.id,
            ReferralEvent.action == "appointment_passed",
            ReferralEvent.at >= (referral.appointment_at or now),
        )
    )
    if asked is not None:
        return
    recipients = service.triagers_for(session, referral)
    session.add(
        ReferralEvent(
            referral_id=referral.id,
            at=now,
            action="appointment_passed",
            from_status=referral.status,
            to_status=referral.status,
            actor_user_id=None,
            actor_institution_id=None,
            detail={"appointment_at": planned, "notified": len(recipients)},
        )
    )
    audit.record(
        session,
        None,
        "referral.appointment_passed",
        object_type=service.SUBJECT,
        object_id=referral.id,
        detail={"reference": referral.reference},
        username="timer",
    )
    _tell(session, recipients, referral, "referral.appointment_passed", APPOINTMENT_PASSED)


tasks.register(TimerKind.TRIAGE_OVERDUE.value, triage_overdue)
tasks.register(TimerKind.APPOINTMENT_PASSED.value, appointment_passed)
