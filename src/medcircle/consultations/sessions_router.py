"""API of video and multi-disciplinary sessions and their calendar invitations."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response, status
from sqlalchemy.orm import Session

from medcircle.auth.repository import display_names
from medcircle.consultations import sessions
from medcircle.consultations.models import ConsultSession
from medcircle.consultations.session_schemas import (
    MAX_MINUTES,
    MIN_MINUTES,
    CancelIn,
    MinutesIn,
    ParticipantRead,
    RescheduleIn,
    ScheduleIn,
    SessionRead,
    SlotsRead,
)
from medcircle.web.deps import DB, CurrentActor, settings_of
from medcircle.web.routing import QuickRouter

router = QuickRouter(prefix="/api/v1", tags=["consultations"])

CASE = "/consultations/{consultation_id:int}"
ONE = "/consult-sessions/{consult_session_id:int}"


def invite_url(s: ConsultSession) -> str:
    return f"/api/v1/consult-sessions/{s.id}/invite.ics"


def session_read(db: Session, s: ConsultSession) -> SessionRead:
    rows = sessions.participants_of(db, [s.id])[s.id]
    names = display_names(db, [p.user_id for p in rows])
    return SessionRead(
        id=s.id,
        consultation_id=s.consultation_id,
        starts_at=s.starts_at,
        ends_at=s.ends_at,
        meeting_url=s.meeting_url,
        status=s.status,
        minutes=s.minutes,
        organiser_user_id=s.organiser_user_id,
        uid=s.uid,
        sequence=s.sequence,
        version=s.version,
        participants=[
            ParticipantRead(user_id=p.user_id, name=names.get(p.user_id, ""), attended=p.attended)
            for p in rows
        ],
        invite_url=invite_url(s),
    )


@router.post(CASE + "/sessions", response_model=SessionRead, status_code=status.HTTP_201_CREATED)
def schedule_session(
    consultation_id: int, body: ScheduleIn, request: Request, session: DB, actor: CurrentActor
) -> SessionRead:
    """Book a video or MDT session. 409 `participant_busy` (the detail names who) unless
    `force` with a `force_reason`; 422 `in_past`, `unknown_participant`,
    `too_few_participants`, `force_reason_required`; 409 `not_a_session_mode` (a written
    consultation), `consultation_not_open`."""
    s = sessions.schedule(session, actor, consultation_id, body, settings_of(request))
    return session_read(session, s)


@router.get(CASE + "/sessions", response_model=list[SessionRead])
def list_sessions(consultation_id: int, session: DB, actor: CurrentActor) -> list[SessionRead]:
    """The sessions of a consultation, the latest first."""
    _, rows = sessions.list_for(session, actor, consultation_id)
    return [session_read(session, s) for s in rows]


@router.get(CASE + "/session-slots", response_model=SlotsRead)
def suggest_slots(
    consultation_id: int,
    session: DB,
    actor: CurrentActor,
    days: Annotated[int, Query(ge=1, le=sessions.MAX_DAYS)] = sessions.DEFAULT_DAYS,
    duration: Annotated[int | None, Query(ge=MIN_MINUTES, le=MAX_MINUTES)] = None,
    participant: Annotated[list[int] | None, Query(max_length=50)] = None,
) -> SlotsRead:
    """Start times in the next `days` days (half-hour grid, 08:00–20:00 China time) at which
    the asker, the assigned expert and any `participant` given are all free (no other
    session, no leave)."""
    found = sessions.suggest(
        session,
        actor,
        consultation_id,
        days=days,
        duration_minutes=duration,
        participant_user_ids=participant or [],
    )
    return SlotsRead(
        duration_minutes=found.duration_minutes,
        participant_user_ids=found.participant_user_ids,
        slots=found.slots,
    )


@router.post(ONE + "/reschedule", response_model=SessionRead)
def reschedule_session(
    consult_session_id: int,
    body: RescheduleIn,
    request: Request,
    session: DB,
    actor: CurrentActor,
) -> SessionRead:
    """Move a scheduled session (invitation SEQUENCE one higher). 409 `stale_version`,
    `session_not_scheduled`, `participant_busy`; 422 `in_past`."""
    s = sessions.reschedule(session, actor, consult_session_id, body, settings_of(request))
    return session_read(session, s)


@router.post(ONE + "/cancel", response_model=SessionRead)
def cancel_session(
    consult_session_id: int, body: CancelIn, request: Request, session: DB, actor: CurrentActor
) -> SessionRead:
    """Cancel a scheduled session (its invitation becomes METHOD:CANCEL)."""
    s = sessions.cancel(session, actor, consult_session_id, body, settings_of(request))
    return session_read(session, s)


@router.post(ONE + "/minutes", response_model=SessionRead)
def record_minutes(
    consult_session_id: int, body: MinutesIn, session: DB, actor: CurrentActor
) -> SessionRead:
    """Attendance and minutes once the session has started (409 `session_not_started`
    before); the session is then held."""
    s = sessions.record_minutes(session, actor, consult_session_id, body)
    return session_read(session, s)


@router.get(
    ONE + "/invite.ics",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}},
)
def download_invitation(consult_session_id: int, session: DB, actor: CurrentActor) -> Response:
    """The iCalendar invitation (METHOD:CANCEL once cancelled), for the participants and
    those who may read the consultation; no patient identifiers in it."""
    filename, text = sessions.invitation(session, actor, consult_session_id)
    return Response(
        content=text.encode("utf-8"),
        media_type="text/calendar; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )
