"""Video and multi-disciplinary (MDT) sessions of a consultation: a time that suits everyone,
a meeting link, rescheduling and cancelling with calendar invitations, attendance and minutes.

Who may schedule: the expert holding the case, a coordinator of the answering institution,
and (for a video consultation) the asking side; only for video or MDT consultations that are
open or answered. The asker and the assigned expert always take part; an MDT adds experts of
the answering institution chosen from the pools of the case's specialties.

Every write is audited, written into the case's history (an event that leaves the case's
state as it is) and told to each participant in their inbox.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from medcircle.audit import service as audit
from medcircle.auth.domain import Actor, Permission
from medcircle.auth.models import User
from medcircle.auth.repository import display_names
from medcircle.config import Settings
from medcircle.consultations import ical, rota
from medcircle.consultations import service as consult
from medcircle.consultations.domain import (
    MODE_LABELS,
    OPEN,
    Mode,
    Side,
    Status,
    common_slots,
)
from medcircle.consultations.models import (
    Consultation,
    ConsultationEvent,
    ConsultationSpecialty,
    ConsultSession,
    ExpertLeave,
    SessionParticipant,
)
from medcircle.consultations.session_schemas import (
    CancelIn,
    MinutesIn,
    RescheduleIn,
    ScheduleIn,
)
from medcircle.kit import clock, i18n
from medcircle.kit.clock import CST
from medcircle.kit.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from medcircle.kit.i18n import N_
from medcircle.registry.models import SpecialtyRow

SUBJECT = "consult_session"
NOTIFY_KIND = "consult_session"


class SessionStatus(StrEnum):
    SCHEDULED = "scheduled"
    HELD = "held"
    CANCELLED = "cancelled"


SESSION_STATUS_LABELS: dict[SessionStatus, str] = {
    SessionStatus.SCHEDULED: N_("Scheduled"),
    SessionStatus.HELD: N_("Held"),
    SessionStatus.CANCELLED: N_("Session cancelled"),
}

# the history steps a session writes into its consultation's history
EVENT_LABELS: dict[str, str] = {
    "session_scheduled": N_("Session scheduled"),
    "session_rescheduled": N_("Session moved"),
    "session_cancelled": N_("Session cancelled"),
    "session_minuted": N_("Session minutes recorded"),
}

SESSION_MODES: frozenset[Mode] = frozenset({Mode.VIDEO, Mode.MDT})
# the case states in which a session may be booked or moved
SCHEDULABLE: frozenset[Status] = OPEN | {Status.ANSWERED}
DEFAULT_MINUTES: dict[Mode, int] = {Mode.VIDEO: 30, Mode.MDT: 60}
SLOT_STEP = timedelta(minutes=30)
# working hours in China time for suggested times
DAY_HOURS = (8, 20)
DEFAULT_DAYS = 7
MAX_DAYS = 31
MAX_SLOTS = 12
MIN_PARTICIPANTS = 2

NOT_FOUND_MESSAGE = N_("No session with this number.")
NOT_A_SESSION_MODE = N_(
    "Sessions are for video and multi-disciplinary consultations; this one is written."
)
CASE_NOT_OPEN = N_("A session can be arranged only while the consultation is open or answered.")
IN_PAST = N_("The session must start in the future.")
NOT_STARTED = N_("Attendance and minutes can be recorded once the session has started.")
NOT_SCHEDULED = N_("This session is %(status)s; it can no longer be changed.")
STALE_MESSAGE = N_(
    "Someone else changed this session after you opened it. Reload it and try again."
)
UNKNOWN_PARTICIPANT = N_("%(id)s is not someone who can take part in this session.")
UNKNOWN_ATTENDEE = N_("%(id)s is not a participant of this session.")
TOO_FEW = N_("A session needs at least two participants.")
BUSY = N_("Not everyone is free then: %(names)s.")
FORCE_REASON = N_("Give the reason for booking a time at which someone is busy.")
DAYS_RANGE = N_("Choose between 1 and %(max)s days.")
DURATION_RANGE = N_("Choose a duration between %(min)s and %(max)s minutes.")

SCHEDULED_NOTE = N_(
    "A session of consultation %(reference)s is scheduled for %(when)s (China time). "
    "The meeting link and the calendar invitation are on its sessions page."
)
RESCHEDULED_NOTE = N_(
    "The session of consultation %(reference)s is moved to %(when)s (China time)."
)
CANCELLED_NOTE = N_("The session of consultation %(reference)s on %(when)s is cancelled.")

INVITE_SUMMARY = N_("Consultation %(reference)s · %(specialty)s")
INVITE_MODE = N_("Mode: %(mode)s")
INVITE_LINK = N_("Meeting link: %(url)s")
INVITE_PRIVACY = N_(
    "No patient identifiers in invitations: open the consultation in medcircle for the "
    "clinical details."
)


# --- who may do what ----------------------------------------------------------------------


def may_manage(actor: Actor, c: Consultation, session: Session | None = None) -> bool:
    """Whether ``actor`` may arrange sessions of ``c`` (whatever its state)."""
    if Mode(c.mode) not in SESSION_MODES:
        return False
    found = consult.sides(actor, c, session)
    if Side.ASSIGNEE in found and actor.can(Permission.CONSULT_ANSWER):
        return True
    if Side.COORDINATOR in found and actor.can(Permission.CONSULT_COORDINATE):
        return True
    return Mode(c.mode) == Mode.VIDEO and Side.ASKER in found and actor.can(Permission.CONSULT_ASK)


def may_schedule(actor: Actor, c: Consultation, session: Session | None = None) -> bool:
    """Whether ``actor`` may book a new session of ``c`` now."""
    return Status(c.status) in SCHEDULABLE and may_manage(actor, c, session)


def _may_change(actor: Actor, c: Consultation, s: ConsultSession, session: Session) -> bool:
    return may_manage(actor, c, session) or (
        s.organiser_user_id == actor.user_id and Mode(c.mode) in SESSION_MODES
    )


def _check_mode(c: Consultation) -> None:
    if Mode(c.mode) not in SESSION_MODES:
        raise Conflict(NOT_A_SESSION_MODE, code="not_a_session_mode")


def _check_open(c: Consultation) -> None:
    if Status(c.status) not in SCHEDULABLE:
        raise Conflict(CASE_NOT_OPEN, code="consultation_not_open")


def _check_may_schedule(session: Session, actor: Actor, c: Consultation) -> None:
    _check_mode(c)
    if not may_manage(actor, c, session):
        raise Forbidden()
    _check_open(c)


# --- reads --------------------------------------------------------------------------------


def specialties_of(session: Session, c: Consultation) -> list[str]:
    """The case's specialty first, then the further ones of an MDT."""
    codes = [c.specialty_code]
    for code in session.scalars(
        select(ConsultationSpecialty.specialty_code)
        .where(ConsultationSpecialty.consultation_id == c.id)
        .order_by(ConsultationSpecialty.id)
    ):
        if code not in codes:
            codes.append(code)
    return codes


@dataclass(frozen=True)
class Candidates:
    """Who takes part: ``required`` always (the asker, the assigned expert), ``optional`` may
    be chosen (experts of the MDT's pools)."""

    required: list[int]
    optional: list[int]

    @property
    def all(self) -> list[int]:
        return self.required + [u for u in self.optional if u not in self.required]


def candidates(session: Session, c: Consultation) -> Candidates:
    required = [c.asker_user_id]
    if c.assignee_user_id is not None and c.assignee_user_id not in required:
        required.append(c.assignee_user_id)
    optional: list[int] = []
    if Mode(c.mode) == Mode.MDT:
        for code in specialties_of(session, c):
            for uid in rota.pool_experts(session, c.answer_institution_id, code):
                if uid not in required and uid not in optional:
                    optional.append(uid)
    return Candidates(required, optional)


def users_of(session: Session, ids: Iterable[int]) -> dict[int, User]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    return {u.id: u for u in session.scalars(select(User).where(User.id.in_(wanted)))}


def busy_of(
    session: Session,
    user_ids: Iterable[int],
    start: datetime,
    end: datetime,
    exclude_session_id: int | None = None,
) -> dict[int, list[tuple[datetime, datetime]]]:
    """When each user is taken between ``start`` and ``end``: their other scheduled sessions
    and their leave."""
    ids = sorted(set(user_ids))
    busy: dict[int, list[tuple[datetime, datetime]]] = {u: [] for u in ids}
    if not ids:
        return busy
    q = (
        select(SessionParticipant.user_id, ConsultSession.starts_at, ConsultSession.ends_at)
        .join(ConsultSession, ConsultSession.id == SessionParticipant.session_id)
        .where(
            SessionParticipant.user_id.in_(ids),
            ConsultSession.status == SessionStatus.SCHEDULED.value,
            ConsultSession.starts_at < end,
            ConsultSession.ends_at > start,
        )
    )
    if exclude_session_id is not None:
        q = q.where(ConsultSession.id != exclude_session_id)
    for uid, a, b in session.execute(q):
        busy[uid].append((a, b))
    for lv in session.scalars(
        select(ExpertLeave).where(
            ExpertLeave.user_id.in_(ids),
            ExpertLeave.starts_at < end,
            ExpertLeave.ends_at > start,
        )
    ):
        busy[lv.user_id].append((lv.starts_at, lv.ends_at))
    for spans in busy.values():
        spans.sort()
    return busy


def grid_after(at: datetime, step: timedelta = SLOT_STEP) -> datetime:
    """The first point of the ``step`` grid (counted from the hour) strictly after ``at``."""
    base = at.replace(minute=0, second=0, microsecond=0)
    t = base
    while t <= at:
        t += step
    return t


def default_minutes(c: Consultation) -> int:
    return DEFAULT_MINUTES.get(Mode(c.mode), 30)


@dataclass(frozen=True)
class Suggestion:
    duration_minutes: int
    participant_user_ids: list[int]
    slots: list[datetime]


def suggest(
    session: Session,
    actor: Actor,
    consultation_id: int,
    *,
    days: int = DEFAULT_DAYS,
    duration_minutes: int | None = None,
    participant_user_ids: Sequence[int] = (),
    now: datetime | None = None,
) -> Suggestion:
    """Start times in the next ``days`` days, on the half-hour grid within working hours
    (08:00 to 20:00 China time), at which everyone taking part is free."""
    from medcircle.consultations.session_schemas import MAX_MINUTES, MIN_MINUTES

    c = consult.get(session, actor, consultation_id)
    _check_may_schedule(session, actor, c)
    errors: list[FieldError] = []
    if not 1 <= days <= MAX_DAYS:
        errors.append(FieldError("days", DAYS_RANGE, {"max": MAX_DAYS}, code="out_of_range"))
    minutes = duration_minutes or default_minutes(c)
    if not MIN_MINUTES <= minutes <= MAX_MINUTES:
        errors.append(
            FieldError(
                "duration",
                DURATION_RANGE,
                {"min": MIN_MINUTES, "max": MAX_MINUTES},
                code="out_of_range",
            )
        )
    if errors:
        raise ValidationFailed(code=errors[0].code, field_errors=errors)
    people = _participants(session, c, participant_user_ids, check_count=False)
    start = grid_after(now or clock.now())
    end = start + timedelta(days=days)
    busy = busy_of(session, people, start, end)
    slots = common_slots(
        busy,
        start,
        end,
        timedelta(minutes=minutes),
        step=SLOT_STEP,
        day_hours=DAY_HOURS,
        tz_offset_hours=8,
        limit=MAX_SLOTS,
    )
    return Suggestion(minutes, people, slots)


def get(session: Session, actor: Actor, session_id: int) -> tuple[ConsultSession, Consultation]:
    """A session and its case, for those who may read the case (NotFound otherwise)."""
    s = session.get(ConsultSession, session_id) if 0 < session_id < 2**31 else None
    if s is None:
        raise NotFound(NOT_FOUND_MESSAGE)
    c = consult.get(session, actor, s.consultation_id)
    return s, c


def _participant_ids(session: Session, session_id: int) -> list[int]:
    return list(
        session.scalars(
            select(SessionParticipant.user_id)
            .where(SessionParticipant.session_id == session_id)
            .order_by(SessionParticipant.id)
        )
    )


def participants_of(
    session: Session, session_ids: Iterable[int]
) -> dict[int, list[SessionParticipant]]:
    ids = sorted(set(session_ids))
    found: dict[int, list[SessionParticipant]] = {i: [] for i in ids}
    if ids:
        for p in session.scalars(
            select(SessionParticipant)
            .where(SessionParticipant.session_id.in_(ids))
            .order_by(SessionParticipant.id)
        ):
            found[p.session_id].append(p)
    return found


def list_for(
    session: Session, actor: Actor, consultation_id: int
) -> tuple[Consultation, list[ConsultSession]]:
    """The sessions of a case, the next first then the earlier ones."""
    c = consult.get(session, actor, consultation_id)
    rows = list(
        session.scalars(
            select(ConsultSession)
            .where(ConsultSession.consultation_id == c.id)
            .order_by(ConsultSession.starts_at.desc(), ConsultSession.id.desc())
        )
    )
    return c, rows


def upcoming_for(
    session: Session, actor: Actor, now: datetime | None = None, limit: int = 200
) -> list[tuple[ConsultSession, Consultation]]:
    """The actor's sessions still to come (as participant or organiser), the next first."""
    if not actor.can(Permission.CONSULT_READ):
        raise Forbidden()
    now = now or clock.now()
    mine = select(SessionParticipant.session_id).where(SessionParticipant.user_id == actor.user_id)
    rows = session.execute(
        select(ConsultSession, Consultation)
        .join(Consultation, Consultation.id == ConsultSession.consultation_id)
        .where(
            ConsultSession.status == SessionStatus.SCHEDULED.value,
            ConsultSession.ends_at > now,
            (ConsultSession.id.in_(mine)) | (ConsultSession.organiser_user_id == actor.user_id),
        )
        .order_by(ConsultSession.starts_at, ConsultSession.id)
        .limit(limit)
    ).all()
    found = [(s, c) for s, c in rows]
    audit.record(
        session,
        actor,
        "consult_session.list_mine",
        object_type=SUBJECT,
        detail={"count": len(found)},
    )
    return found


# --- writes -------------------------------------------------------------------------------


def _participants(
    session: Session, c: Consultation, chosen: Sequence[int], *, check_count: bool = True
) -> list[int]:
    cand = candidates(session, c)
    allowed = set(cand.all)
    errors = [
        FieldError(
            "participant_user_ids", UNKNOWN_PARTICIPANT, {"id": uid}, code="unknown_participant"
        )
        for uid in dict.fromkeys(chosen)
        if uid not in allowed
    ]
    if errors:
        raise ValidationFailed(code="unknown_participant", field_errors=errors)
    people = cand.required + [u for u in dict.fromkeys(chosen) if u not in cand.required]
    if check_count and len(people) < MIN_PARTICIPANTS:
        raise ValidationFailed(
            code="too_few_participants",
            field_errors=[FieldError("participant_user_ids", TOO_FEW, code="too_few_participants")],
        )
    return people


def _check_future(starts_at: datetime, now: datetime) -> None:
    if starts_at <= now:
        raise ValidationFailed(
            code="in_past", field_errors=[FieldError("starts_at", IN_PAST, code="in_past")]
        )


def _lock_people(session: Session, people: Sequence[int]) -> None:
    """Hold the participants' user rows (in id order) until the transaction ends, so that two
    bookings of the same people at once are checked one after the other (PostgreSQL; SQLite
    runs one writing transaction at a time anyway)."""
    session.execute(
        select(User.id).where(User.id.in_(sorted(set(people)))).order_by(User.id).with_for_update()
    ).all()


def _busy_people(
    session: Session,
    people: Sequence[int],
    starts_at: datetime,
    ends_at: datetime,
    exclude_session_id: int | None = None,
) -> list[int]:
    _lock_people(session, people)
    busy = busy_of(session, people, starts_at, ends_at, exclude_session_id)
    return [uid for uid in people if busy.get(uid)]


def _check_busy(
    session: Session, busy: list[int], force: bool, force_reason: str | None
) -> str | None:
    """Refuse a time at which someone is busy unless forced with a reason; the reason kept."""
    if not busy:
        return None
    reason = (force_reason or "").strip()
    if force and reason:
        return reason
    if force:
        raise ValidationFailed(
            code="force_reason_required",
            field_errors=[FieldError("force_reason", FORCE_REASON, code="force_reason_required")],
        )
    names = display_names(session, busy)
    listed = ", ".join(names.get(u, str(u)) for u in busy)
    raise Conflict(
        BUSY,
        code="participant_busy",
        field_errors=[FieldError("starts_at", BUSY, {"names": listed}, code="participant_busy")],
        names=listed,
    )


def meeting_url(settings: Settings) -> str:
    """The provider's URL with a random room that nobody can guess."""
    room = secrets.token_hex(16)
    return settings.consult_meeting_url_pattern.replace("{room}", room)


def _when(at: datetime) -> str:
    return at.astimezone(CST).strftime("%Y-%m-%d %H:%M")


def link_of(c: Consultation) -> str:
    return f"/consultations/{c.id}/sessions"


def _event(
    session: Session,
    c: Consultation,
    actor: Actor,
    action: str,
    s: ConsultSession,
    *,
    note: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        ConsultationEvent(
            consultation_id=c.id,
            at=clock.now(),
            action=action,
            from_status=c.status,
            to_status=c.status,
            actor_user_id=actor.user_id,
            actor_institution_id=actor.institution_id,
            note=note,
            detail={
                "session_id": s.id,
                "starts_at": s.starts_at.isoformat(),
                "ends_at": s.ends_at.isoformat(),
                "sequence": s.sequence,
                **(detail or {}),
            },
        )
    )


def _tell(
    session: Session,
    actor: Actor,
    c: Consultation,
    s: ConsultSession,
    message: str,
    settings: Settings | None,
) -> None:
    consult.tell(
        session,
        _participant_ids(session, s.id),
        c,
        NOTIFY_KIND,
        message,
        settings,
        exclude=actor.user_id,
        link=link_of(c),
        params={"when": _when(s.starts_at)},
    )


def _flush(session: Session) -> None:
    try:
        session.flush()
    except StaleDataError as exc:
        raise Conflict(STALE_MESSAGE, code="stale_version") from exc


def _audit(
    session: Session, actor: Actor, action: str, s: ConsultSession, c: Consultation, **more: Any
) -> None:
    audit.record(
        session,
        actor,
        f"consult_session.{action}",
        object_type=SUBJECT,
        object_id=s.id,
        detail={
            "consultation_id": c.id,
            "reference": c.reference,
            "patient_id": c.patient_id,
            "starts_at": s.starts_at.isoformat(),
            "sequence": s.sequence,
            **more,
        },
    )


def schedule(
    session: Session, actor: Actor, consultation_id: int, data: ScheduleIn, settings: Settings
) -> ConsultSession:
    """Book a session. 409 ``participant_busy`` (naming who) unless forced with a reason,
    422 ``in_past``, ``unknown_participant``, ``too_few_participants``,
    ``force_reason_required``; 409 ``not_a_session_mode``, ``consultation_not_open``."""
    c = consult.get(session, actor, consultation_id)
    _check_may_schedule(session, actor, c)
    now = clock.now()
    _check_future(data.starts_at, now)
    people = _participants(session, c, data.participant_user_ids)
    starts_at = data.starts_at
    ends_at = starts_at + timedelta(minutes=data.duration_minutes or default_minutes(c))
    forced = _check_busy(
        session,
        _busy_people(session, people, starts_at, ends_at),
        data.force,
        data.force_reason,
    )
    s = ConsultSession(
        consultation_id=c.id,
        starts_at=starts_at,
        ends_at=ends_at,
        meeting_url=meeting_url(settings),
        status=SessionStatus.SCHEDULED.value,
        organiser_user_id=actor.user_id,
        uid=f"{uuid.uuid4()}@medcircle",
        sequence=0,
        created_at=now,
        updated_at=now,
    )
    session.add(s)
    session.flush()
    for uid in people:
        session.add(SessionParticipant(session_id=s.id, user_id=uid))
    session.flush()
    extra: dict[str, Any] = {"participants": people}
    if forced:
        extra["forced_reason"] = forced
    _event(session, c, actor, "session_scheduled", s, note=forced, detail=extra)
    _audit(session, actor, "schedule", s, c, **extra)
    _tell(session, actor, c, s, SCHEDULED_NOTE, settings)
    session.flush()
    return s


def _changeable(
    session: Session, actor: Actor, session_id: int, version: int
) -> tuple[ConsultSession, Consultation]:
    s, c = get(session, actor, session_id)
    _check_mode(c)
    if not _may_change(actor, c, s, session):
        raise Forbidden()
    if s.version != version:
        raise Conflict(STALE_MESSAGE, code="stale_version")
    return s, c


def _status_text(status: str) -> str:
    return i18n.gettext(SESSION_STATUS_LABELS[SessionStatus(status)])


def reschedule(
    session: Session, actor: Actor, session_id: int, data: RescheduleIn, settings: Settings
) -> ConsultSession:
    """Move a scheduled session (same invitation UID, SEQUENCE one higher)."""
    s, c = _changeable(session, actor, session_id, data.version)
    if s.status != SessionStatus.SCHEDULED.value:
        raise Conflict(NOT_SCHEDULED, code="session_not_scheduled", status=_status_text(s.status))
    _check_open(c)
    now = clock.now()
    _check_future(data.starts_at, now)
    minutes = data.duration_minutes or int((s.ends_at - s.starts_at).total_seconds() // 60)
    starts_at = data.starts_at
    ends_at = starts_at + timedelta(minutes=minutes)
    people = _participant_ids(session, s.id)
    forced = _check_busy(
        session,
        _busy_people(session, people, starts_at, ends_at, exclude_session_id=s.id),
        data.force,
        data.force_reason,
    )
    before = s.starts_at
    s.starts_at, s.ends_at = starts_at, ends_at
    s.sequence += 1
    s.updated_at = now
    _flush(session)
    extra: dict[str, Any] = {"from": before.isoformat()}
    if forced:
        extra["forced_reason"] = forced
    _event(session, c, actor, "session_rescheduled", s, note=forced, detail=extra)
    _audit(session, actor, "reschedule", s, c, **extra)
    _tell(session, actor, c, s, RESCHEDULED_NOTE, settings)
    session.flush()
    return s


def cancel(
    session: Session, actor: Actor, session_id: int, data: CancelIn, settings: Settings
) -> ConsultSession:
    """Cancel a scheduled session (its invitation becomes a METHOD:CANCEL, SEQUENCE+1)."""
    s, c = _changeable(session, actor, session_id, data.version)
    if s.status != SessionStatus.SCHEDULED.value:
        raise Conflict(NOT_SCHEDULED, code="session_not_scheduled", status=_status_text(s.status))
    reason = (data.reason or "").strip() or None
    s.status = SessionStatus.CANCELLED.value
    s.sequence += 1
    s.updated_at = clock.now()
    _flush(session)
    _event(session, c, actor, "session_cancelled", s, note=reason)
    _audit(session, actor, "cancel", s, c, reason=reason)
    _tell(session, actor, c, s, CANCELLED_NOTE, settings)
    session.flush()
    return s


def end_with_case(session: Session, actor: Actor, c: Consultation, settings: Settings) -> int:
    """A consultation cancelled or closed: its sessions still to come are cancelled (their
    invitations become cancellations) and their participants told. How many."""
    now = clock.now()
    rows = list(
        session.scalars(
            select(ConsultSession).where(
                ConsultSession.consultation_id == c.id,
                ConsultSession.status == SessionStatus.SCHEDULED.value,
                ConsultSession.starts_at > now,
            )
        )
    )
    for s in rows:
        s.status = SessionStatus.CANCELLED.value
        s.sequence += 1
        s.updated_at = now
    _flush(session)
    for s in rows:
        _event(session, c, actor, "session_cancelled", s, detail={"with_case": True})
        _audit(session, actor, "cancel", s, c, with_case=True)
        _tell(session, actor, c, s, CANCELLED_NOTE, settings)
    return len(rows)


def record_minutes(
    session: Session, actor: Actor, session_id: int, data: MinutesIn
) -> ConsultSession:
    """Attendance and minutes, once the session has started (it is then held); may be
    corrected later."""
    s, c = _changeable(session, actor, session_id, data.version)
    if s.status == SessionStatus.CANCELLED.value:
        raise Conflict(NOT_SCHEDULED, code="session_not_scheduled", status=_status_text(s.status))
    now = clock.now()
    if now < s.starts_at:
        raise Conflict(NOT_STARTED, code="session_not_started")
    rows = participants_of(session, [s.id])[s.id]
    members = {p.user_id for p in rows}
    errors = [
        FieldError("attended_user_ids", UNKNOWN_ATTENDEE, {"id": uid}, code="unknown_participant")
        for uid in dict.fromkeys(data.attended_user_ids)
        if uid not in members
    ]
    if errors:
        raise ValidationFailed(code="unknown_participant", field_errors=errors)
    attended = set(data.attended_user_ids)
    for p in rows:
        p.attended = p.user_id in attended
    s.minutes = data.minutes.strip()
    s.status = SessionStatus.HELD.value
    s.updated_at = now
    _flush(session)
    detail = {"attended": sorted(attended), "absent": sorted(members - attended)}
    _event(session, c, actor, "session_minuted", s, detail=detail)
    _audit(session, actor, "minutes", s, c, **detail)
    session.flush()
    return s


# --- the calendar invitation --------------------------------------------------------------


def _person(u: User | None, uid: int) -> ical.Person:
    if u is None:
        return ical.Person(str(uid), None, f"urn:medcircle:user:{uid}")
    return ical.Person(u.display_name or u.username, u.email, f"urn:medcircle:user:{uid}")


def invitation(session: Session, actor: Actor, session_id: int) -> tuple[str, str]:
    """The ``.ics`` of a session (file name, text) for its participants and those who may
    read its case; no patient identifiers in it."""
    s = session.get(ConsultSession, session_id) if 0 < session_id < 2**31 else None
    if s is None:
        raise NotFound(NOT_FOUND_MESSAGE)
    people = _participant_ids(session, s.id)
    if actor.user_id in people or actor.user_id == s.organiser_user_id:
        c = session.get(Consultation, s.consultation_id)
        if c is None:  # pragma: no cover - the foreign key forbids it
            raise NotFound(NOT_FOUND_MESSAGE)
    else:
        c = consult.get(session, actor, s.consultation_id)
    users = users_of(session, [*people, s.organiser_user_id])
    spec = session.get(SpecialtyRow, c.specialty_code)
    specialty = (
        (spec.name_zh if i18n.get_locale() == "zh_Hans" else spec.name_en)
        if spec
        else c.specialty_code
    )
    description = "\n".join(
        [
            i18n.gettext(INVITE_MODE, mode=i18n.gettext(MODE_LABELS[Mode(c.mode)])),
            i18n.gettext(INVITE_LINK, url=s.meeting_url),
            "",
            i18n.gettext(INVITE_PRIVACY),
        ]
    )
    inv = ical.Invitation(
        uid=s.uid,
        sequence=s.sequence,
        stamp=clock.now(),
        starts_at=s.starts_at,
        ends_at=s.ends_at,
        summary=i18n.gettext(INVITE_SUMMARY, reference=c.reference, specialty=specialty),
        description=description,
        location=s.meeting_url,
        url=s.meeting_url,
        organizer=_person(users.get(s.organiser_user_id), s.organiser_user_id),
        attendees=[_person(users.get(u), u) for u in people],
        cancelled=s.status == SessionStatus.CANCELLED.value,
    )
    audit.record(
        session,
        actor,
        "consult_session.invite",
        object_type=SUBJECT,
        object_id=s.id,
        detail={"consultation_id": c.id, "reference": c.reference, "sequence": s.sequence},
    )
    return f"{c.reference}-session-{s.id}.ics", ical.render(inv)
