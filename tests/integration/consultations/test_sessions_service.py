"""Video and MDT sessions through the service: suggested times avoid busy people, a busy time
is refused unless forced with a reason, who may schedule, the invitation (valid iCalendar,
same UID across changes, SEQUENCE up, METHOD:CANCEL), minutes only after the start, and every
write told, audited and in the case's history."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import icalendar
import pytest
import time_machine
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from medcircle.audit.models import AuditEvent
from medcircle.auth import service as auth_service
from medcircle.auth.domain import Actor, Role
from medcircle.auth.models import User
from medcircle.config import Settings
from medcircle.consultations import service as consult
from medcircle.consultations import sessions
from medcircle.consultations.domain import Action, Mode, Status
from medcircle.consultations.models import (
    Consultation,
    ConsultationEvent,
    ConsultSession,
    SessionParticipant,
)
from medcircle.consultations.schemas import ActIn
from medcircle.consultations.session_schemas import CancelIn, MinutesIn, RescheduleIn, ScheduleIn
from medcircle.db import make_engine, make_session_factory, unit_of_work
from medcircle.kit.clock import CST
from medcircle.kit.errors import Conflict, Forbidden, NotFound, ValidationFailed
from medcircle.notifications.models import Notification
from tests import consult_factories as cf
from tests import factories
from tests import referral_factories as rf
from tests.databases import own_database
from tests.factories import World, user

# Monday 30 November 2026, 09:00 China time
NOW = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
# Tuesday 10:00 China time
TUESDAY_10 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


@dataclass
class Setup:
    session: Session
    w: cf.ConsultWorld
    settings: Settings
    traveller: time_machine.Coordinates
    video: Consultation
    mdt: Consultation
    written: Consultation
    outsider: User

    def actor(self, u: User) -> Actor:
        return auth_service.actor_for(self.session, u)


@pytest.fixture
def setup(session: Session, world: World, settings: Settings) -> Iterator[Setup]:
    with time_machine.travel(NOW, tick=False) as traveller:
        w = cf.consult_world(session, rf.referral_world(session, world))
        video = cf.consultation(session, w, mode=Mode.VIDEO)
        mdt = cf.consultation(session, w, mode=Mode.MDT)
        written = cf.consultation(session, w, mode=Mode.WRITTEN)
        outsider = user(session, world.beijing2, Role.EXPERT, username="elsewhere")
        session.commit()
        yield Setup(session, w, settings, traveller, video, mdt, written, outsider)


def _schedule(
    s: Setup, who: User, c: Consultation, starts_at: datetime = TUESDAY_10, **kw: object
) -> ConsultSession:
    data = ScheduleIn.model_validate({"starts_at": starts_at, **kw})
    return sessions.schedule(s.session, s.actor(who), c.id, data, s.settings)


def _count(session: Session, model: type[Any], *where: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_suggestions_avoid_leave_and_other_sessions(setup: Setup) -> None:
    s, w = setup, setup.w
    # expert2 is away Tuesday 10:00-14:00 China time; the asker has a video session at 15:00
    cf.leave(s.session, w.expert2, TUESDAY_10, TUESDAY_10 + timedelta(hours=4))
    _schedule(s, w.expert, s.video, TUESDAY_10 + timedelta(hours=5))
    found = sessions.suggest(
        s.session, s.actor(w.expert), s.mdt.id, days=3, participant_user_ids=[w.expert2.id]
    )
    assert found.duration_minutes == 60
    assert found.participant_user_ids == [w.asker.id, w.expert.id, w.expert2.id]
    assert found.slots
    taken = [
        (TUESDAY_10, TUESDAY_10 + timedelta(hours=4)),
        (TUESDAY_10 + timedelta(hours=5), TUESDAY_10 + timedelta(hours=5, minutes=30)),
    ]
    for t in found.slots:
        assert t > NOW
        local = t.astimezone(CST)
        assert local.minute in (0, 30) and local.hour >= 8 and local.hour + 1 <= 20
        assert all(not (a < t + timedelta(hours=1) and t < b) for a, b in taken)
    # the first suggestion is the next half hour today
    assert found.slots[0] == NOW + timedelta(minutes=30)
    # without expert2, the time of their leave is free for the others on Tuesday
    more = sessions.suggest(s.session, s.actor(w.expert), s.mdt.id, days=3)
    assert more.participant_user_ids == [w.asker.id, w.expert.id]
    week = sessions.suggest(s.session, s.actor(w.expert), s.mdt.id, days=7, duration_minutes=30)
    assert len(week.slots) == sessions.MAX_SLOTS


def test_suggestions_find_tuesday_around_leave(setup: Setup) -> None:
    s, w = setup, setup.w
    # everyone is busy all of Monday: the first suggestion is Tuesday 08:00 China time
    cf.leave(s.session, w.expert, NOW, NOW + timedelta(hours=12))
    cf.leave(s.session, w.expert2, TUESDAY_10 - timedelta(hours=2), TUESDAY_10 + timedelta(hours=1))
    found = sessions.suggest(
        s.session, s.actor(w.coordinator), s.mdt.id, participant_user_ids=[w.expert2.id]
    )
    assert found.slots[0] == TUESDAY_10 + timedelta(hours=1)
    alone = sessions.suggest(s.session, s.actor(w.coordinator), s.mdt.id)
    assert alone.slots[0] == TUESDAY_10 - timedelta(hours=2)


def test_schedule_an_mdt_with_link_participants_history_audit_and_inbox(setup: Setup) -> None:
    s, w = setup, setup.w
    row = _schedule(s, w.coordinator, s.mdt, participant_user_ids=[w.expert3.id, w.expert3.id])
    s.session.commit()
    assert row.status == "scheduled" and row.sequence == 0
    assert row.ends_at - row.starts_at == timedelta(minutes=60)
    assert row.organiser_user_id == w.coordinator.id
    m = re.fullmatch(r"https://meet\.jit\.si/medcircle-([0-9a-f]{32})", row.meeting_url)
    assert m, row.meeting_url
    people = s.session.scalars(
        select(SessionParticipant.user_id).where(SessionParticipant.session_id == row.id)
    ).all()
    assert sorted(people) == sorted([w.asker.id, w.expert.id, w.expert3.id])
    # another session gets another room
    other = _schedule(s, w.expert, s.video, TUESDAY_10 + timedelta(hours=2))
    assert other.meeting_url != row.meeting_url and other.uid != row.uid
    events = s.session.scalars(
        select(ConsultationEvent).where(
            ConsultationEvent.consultation_id == s.mdt.id,
            ConsultationEvent.action == "session_scheduled",
        )
    ).all()
    assert len(events) == 1
    assert events[0].from_status == events[0].to_status == Status.ASSIGNED.value
    assert events[0].detail["session_id"] == row.id
    # the case itself is unchanged
    s.session.refresh(s.mdt)
    assert s.mdt.status == Status.ASSIGNED.value
    told = s.session.scalars(
        select(Notification.user_id).where(
            Notification.kind == sessions.NOTIFY_KIND, Notification.subject_id == s.mdt.id
        )
    ).all()
    assert sorted(told) == sorted([w.asker.id, w.expert.id, w.expert3.id])
    assert (
        _count(
            s.session,
            AuditEvent,
            AuditEvent.action == "consult_session.schedule",
            AuditEvent.object_id == str(row.id),
        )
        == 1
    )


def test_a_busy_participant_is_refused_unless_forced_with_a_reason(setup: Setup) -> None:
    s, w = setup, setup.w
    cf.leave(s.session, w.expert3, TUESDAY_10 - timedelta(hours=1), TUESDAY_10 + timedelta(hours=1))
    with pytest.raises(Conflict) as refused:
        _schedule(s, w.expert, s.mdt, participant_user_ids=[w.expert3.id])
    assert refused.value.code == "participant_busy"
    assert w.expert3.display_name in refused.value.text()
    assert _count(s.session, ConsultSession) == 0
    with pytest.raises(ValidationFailed) as no_reason:
        _schedule(s, w.expert, s.mdt, participant_user_ids=[w.expert3.id], force=True)
    assert no_reason.value.code == "force_reason_required"
    row = _schedule(
        s,
        w.expert,
        s.mdt,
        participant_user_ids=[w.expert3.id],
        force=True,
        force_reason="Only time the surgeon can join",
    )
    event = s.session.scalars(
        select(ConsultationEvent).where(ConsultationEvent.action == "session_scheduled")
    ).one()
    assert event.note == "Only time the surgeon can join"
    assert event.detail["forced_reason"] == "Only time the surgeon can join"
    # a second session at the same time: everyone is now busy with the first
    with pytest.raises(Conflict) as again:
        _schedule(s, w.expert, s.video, row.starts_at + timedelta(minutes=30))
    assert again.value.code == "participant_busy"


def test_times_in_the_past_are_refused(setup: Setup) -> None:
    s, w = setup, setup.w
    with pytest.raises(ValidationFailed) as refused:
        _schedule(s, w.expert, s.video, NOW - timedelta(minutes=1))
    assert refused.value.code == "in_past"
    assert refused.value.field_errors[0].field == "starts_at"
    with pytest.raises(ValidationFailed):
        _schedule(s, w.expert, s.video, NOW)
    assert _count(s.session, ConsultSession) == 0


def test_written_consultations_have_no_sessions(setup: Setup) -> None:
    s, w = setup, setup.w
    with pytest.raises(Conflict) as refused:
        _schedule(s, w.expert, s.written)
    assert refused.value.code == "not_a_session_mode"
    with pytest.raises(Conflict):
        sessions.suggest(s.session, s.actor(w.expert), s.written.id)


def test_who_may_schedule(setup: Setup) -> None:
    s, w = setup, setup.w
    # an expert of the pool who does not hold the case may not
    with pytest.raises(Forbidden):
        _schedule(s, w.expert3, s.video)
    # the asker may book a video session, not an MDT
    assert _schedule(s, w.asker, s.video).organiser_user_id == w.asker.id
    with pytest.raises(Forbidden):
        _schedule(s, w.asker, s.mdt, TUESDAY_10 + timedelta(hours=3))
    # outsiders do not see the case at all
    with pytest.raises(NotFound):
        _schedule(s, s.outsider, s.video)
    with pytest.raises(NotFound):
        sessions.suggest(s.session, s.actor(s.outsider), s.video.id)
    with pytest.raises(NotFound):
        sessions.list_for(s.session, s.actor(s.outsider), s.video.id)


def test_closed_cases_and_too_few_or_unknown_participants(setup: Setup) -> None:
    s, w = setup, setup.w
    closed = cf.consultation(s.session, w, mode=Mode.VIDEO, status=Status.CLOSED)
    with pytest.raises(Conflict) as refused:
        _schedule(s, w.expert, closed)
    assert refused.value.code == "consultation_not_open"
    # a video case in the pool: only the asker could take part
    pooled = cf.consultation(s.session, w, mode=Mode.VIDEO, status=Status.POOL)
    with pytest.raises(ValidationFailed) as few:
        _schedule(s, w.coordinator, pooled)
    assert few.value.code == "too_few_participants"
    # experts of another institution, or of a video case, cannot be added
    with pytest.raises(ValidationFailed) as unknown:
        _schedule(s, w.expert, s.mdt, participant_user_ids=[s.outsider.id])
    assert unknown.value.code == "unknown_participant"
    with pytest.raises(ValidationFailed):
        _schedule(s, w.expert, s.video, participant_user_ids=[w.expert3.id])
    assert _count(s.session, ConsultSession) == 0


def _calendar(s: Setup, who: User, sid: int) -> Any:
    name, text = sessions.invitation(s.session, s.actor(who), sid)
    assert name.endswith(".ics")
    return icalendar.Calendar.from_ical(text)


def test_invitation_reschedule_and_cancel(setup: Setup) -> None:
    s, w = setup, setup.w
    row = _schedule(s, w.expert, s.mdt, participant_user_ids=[w.expert2.id])
    s.session.commit()
    cal = _calendar(s, w.asker, row.id)
    assert cal["METHOD"] == "REQUEST"
    ev = next(iter(cal.walk("VEVENT")))
    assert str(ev["UID"]) == row.uid and int(ev["SEQUENCE"]) == 0
    assert ev.decoded("DTSTART") == TUESDAY_10
    assert s.mdt.reference in str(ev["SUMMARY"])
    assert str(ev["URL"]) == row.meeting_url
    text = sessions.invitation(s.session, s.actor(w.asker), row.id)[1]
    assert w.patient.name not in text
    assert len(ev["ATTENDEE"]) == 3
    # moved: same UID, SEQUENCE up, the participants told
    moved = sessions.reschedule(
        s.session,
        s.actor(w.expert),
        row.id,
        RescheduleIn(version=row.version, starts_at=TUESDAY_10 + timedelta(hours=2)),
        s.settings,
    )
    s.session.commit()
    assert moved.sequence == 1 and moved.ends_at - moved.starts_at == timedelta(hours=1)
    ev = next(iter(_calendar(s, w.expert2, row.id).walk("VEVENT")))
    assert str(ev["UID"]) == row.uid and int(ev["SEQUENCE"]) == 1
    assert ev.decoded("DTSTART") == TUESDAY_10 + timedelta(hours=2)
    # a stale version is refused
    with pytest.raises(Conflict) as stale:
        sessions.cancel(s.session, s.actor(w.expert), row.id, CancelIn(version=1), s.settings)
    assert stale.value.code == "stale_version"
    cancelled = sessions.cancel(
        s.session,
        s.actor(w.coordinator),
        row.id,
        CancelIn(version=moved.version, reason="Family cannot come"),
        s.settings,
    )
    s.session.commit()
    assert cancelled.status == "cancelled" and cancelled.sequence == 2
    cal = _calendar(s, w.asker, row.id)
    assert cal["METHOD"] == "CANCEL"
    ev = next(iter(cal.walk("VEVENT")))
    assert str(ev["STATUS"]) == "CANCELLED" and int(ev["SEQUENCE"]) == 2
    assert str(ev["UID"]) == row.uid
    actions = s.session.scalars(
        select(ConsultationEvent.action)
        .where(ConsultationEvent.consultation_id == s.mdt.id)
        .order_by(ConsultationEvent.id)
    ).all()
    assert actions[-3:] == ["session_scheduled", "session_rescheduled", "session_cancelled"]
    # asker and expert2 were told of each of the three; the expert acted each time but the last
    for uid, n in ((w.asker.id, 3), (w.expert2.id, 3), (w.expert.id, 1)):
        assert (
            _count(
                s.session,
                Notification,
                Notification.user_id == uid,
                Notification.kind == sessions.NOTIFY_KIND,
            )
            == n
        )
    for action in ("reschedule", "cancel", "invite"):
        assert _count(s.session, AuditEvent, AuditEvent.action == f"consult_session.{action}")
    # a cancelled session cannot be moved again
    with pytest.raises(Conflict) as gone:
        sessions.reschedule(
            s.session,
            s.actor(w.expert),
            row.id,
            RescheduleIn(version=cancelled.version, starts_at=TUESDAY_10 + timedelta(hours=4)),
            s.settings,
        )
    assert gone.value.code == "session_not_scheduled"


def test_reschedule_checks_time_and_others(setup: Setup) -> None:
    s, w = setup, setup.w
    first = _schedule(s, w.expert, s.video)
    # moving within its own time is fine (its own booking does not count as busy)
    moved = sessions.reschedule(
        s.session,
        s.actor(w.expert),
        first.id,
        RescheduleIn(version=first.version, starts_at=TUESDAY_10 + timedelta(minutes=15)),
        s.settings,
    )
    assert moved.sequence == 1
    other = _schedule(s, w.expert, s.mdt, TUESDAY_10 + timedelta(hours=2))
    with pytest.raises(Conflict) as busy:
        sessions.reschedule(
            s.session,
            s.actor(w.expert),
            first.id,
            RescheduleIn(version=moved.version, starts_at=other.starts_at),
            s.settings,
        )
    assert busy.value.code == "participant_busy"
    with pytest.raises(ValidationFailed):
        sessions.reschedule(
            s.session,
            s.actor(w.expert),
            first.id,
            RescheduleIn(version=moved.version, starts_at=NOW - timedelta(hours=1)),
            s.settings,
        )
    with pytest.raises(Forbidden):
        sessions.cancel(
            s.session, s.actor(w.expert3), first.id, CancelIn(version=moved.version), s.settings
        )
    with pytest.raises(NotFound):
        sessions.invitation(s.session, s.actor(s.outsider), first.id)
    with pytest.raises(NotFound):
        sessions.invitation(s.session, s.actor(w.expert), 987654)


def test_minutes_only_after_the_start(setup: Setup) -> None:
    s, w = setup, setup.w
    row = _schedule(s, w.expert, s.mdt, participant_user_ids=[w.expert3.id])
    s.session.commit()
    data = MinutesIn(
        version=row.version, minutes="Agreed: surgery in January.", attended_user_ids=[w.asker.id]
    )
    with pytest.raises(Conflict) as early:
        sessions.record_minutes(s.session, s.actor(w.expert), row.id, data)
    assert early.value.code == "session_not_started"
    s.traveller.move_to(TUESDAY_10 + timedelta(minutes=50))
    with pytest.raises(ValidationFailed) as stranger:
        sessions.record_minutes(
            s.session,
            s.actor(w.expert),
            row.id,
            data.model_copy(update={"attended_user_ids": [w.expert2.id]}),
        )
    assert stranger.value.code == "unknown_participant"
    held = sessions.record_minutes(
        s.session,
        s.actor(w.expert),
        row.id,
        data.model_copy(update={"attended_user_ids": [w.asker.id, w.expert.id]}),
    )
    s.session.commit()
    assert held.status == "held" and held.minutes == "Agreed: surgery in January."
    attended = dict(
        s.session.execute(
            select(SessionParticipant.user_id, SessionParticipant.attended).where(
                SessionParticipant.session_id == row.id
            )
        ).all()
    )
    assert attended == {w.asker.id: True, w.expert.id: True, w.expert3.id: False}
    event = s.session.scalars(
        select(ConsultationEvent).where(ConsultationEvent.action == "session_minuted")
    ).one()
    assert event.detail["absent"] == [w.expert3.id]
    assert _count(s.session, AuditEvent, AuditEvent.action == "consult_session.minutes") == 1
    # a held session is not in anyone's upcoming list, nor can it be cancelled
    assert sessions.upcoming_for(s.session, s.actor(w.asker)) == []
    with pytest.raises(Conflict):
        sessions.cancel(
            s.session, s.actor(w.expert), row.id, CancelIn(version=held.version), s.settings
        )


def test_my_upcoming_sessions(setup: Setup) -> None:
    s, w = setup, setup.w
    a = _schedule(s, w.expert, s.video, TUESDAY_10 + timedelta(hours=3))
    b = _schedule(s, w.coordinator, s.mdt, TUESDAY_10, participant_user_ids=[w.expert3.id])
    assert [x.id for x, _ in sessions.upcoming_for(s.session, s.actor(w.expert))] == [b.id, a.id]
    assert [x.id for x, _ in sessions.upcoming_for(s.session, s.actor(w.expert3))] == [b.id]
    # the organiser sees what they organised even without taking part
    assert [x.id for x, _ in sessions.upcoming_for(s.session, s.actor(w.coordinator))] == [b.id]
    assert sessions.upcoming_for(s.session, s.actor(w.expert2)) == []


# --- two bookings of the same people at once (PostgreSQL: row locks) ----------------------


@dataclass
class RaceWorld:
    factory: sessionmaker[Session]
    settings: Settings
    expert_id: int
    cases: tuple[int, int]

    def actor(self, session: Session) -> Actor:
        u = session.get(User, self.expert_id)
        assert u is not None
        return auth_service.actor_for(session, u)


@pytest.fixture(scope="module")
def race(db_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RaceWorld]:
    if db_backend != "postgresql":
        # SQLite runs one writing transaction at a time: no race to lose
        pytest.skip("concurrent booking is tested on PostgreSQL")
    with own_database(db_backend, tmp_path_factory.mktemp("sessions-race"), "sessions") as url:
        engine = make_engine(url)
        try:
            factory = make_session_factory(engine, writes=True)
            with unit_of_work(factory) as session:
                base = factories.small_world(session)
                w = cf.consult_world(session, rf.referral_world(session, base))
                a = cf.consultation(session, w, mode=Mode.VIDEO)
                b = cf.consultation(session, w, mode=Mode.VIDEO)
                ids = (w.expert.id, (a.id, b.id))
            settings = Settings(
                database_url=url,
                data_dir=Path(tmp_path_factory.mktemp("sessions-race-data")),
                secret_key=rf.TEST_SECRET,
            )
            yield RaceWorld(factory, settings, ids[0], ids[1])
        finally:
            engine.dispose()


def test_two_bookings_of_the_same_people_at_once_one_wins(race: RaceWorld) -> None:
    """The first holds the participants' rows; the second waits, then finds them busy."""
    at = sessions.grid_after(datetime.now(UTC) + timedelta(days=2))
    first = race.factory()
    second = race.factory()
    outcome: dict[str, BaseException | ConsultSession] = {}
    try:
        sessions.schedule(
            first, race.actor(first), race.cases[0], ScheduleIn(starts_at=at), race.settings
        )
        actor = race.actor(second)

        def late() -> None:
            try:
                outcome["second"] = sessions.schedule(
                    second, actor, race.cases[1], ScheduleIn(starts_at=at), race.settings
                )
            except BaseException as exc:  # collected for the assertion below
                outcome["second"] = exc

        thread = threading.Thread(target=late)
        thread.start()
        time.sleep(0.5)  # the second now waits for the first's row locks
        assert thread.is_alive()
        first.commit()
        thread.join(timeout=30)
        error = outcome["second"]
        assert isinstance(error, Conflict) and error.code == "participant_busy"
        second.rollback()
    finally:
        first.close()
        second.close()
    with unit_of_work(race.factory) as session:
        assert _count(session, ConsultSession, ConsultSession.starts_at == at) == 1


def test_cancelling_the_case_cancels_its_sessions_to_come(setup: Setup) -> None:
    """A session of a case that ends would be an orphan in everyone's calendar: cancelling the
    consultation cancels it (the invitation becomes a cancellation) and tells the others."""
    s, w = setup, setup.w
    row = _schedule(s, w.coordinator, s.mdt, participant_user_ids=[w.expert3.id])
    s.session.commit()
    s.session.refresh(s.mdt)
    consult.act(
        s.session,
        s.actor(w.asker),
        s.mdt.id,
        ActIn(action=Action.CANCEL, version=s.mdt.version, reason="Seen locally after all."),
        s.settings,
    )
    s.session.commit()
    s.session.refresh(row)
    assert (row.status, row.sequence) == ("cancelled", 1)
    _, text = sessions.invitation(s.session, s.actor(w.expert), row.id)
    assert "METHOD:CANCEL" in text
    told = s.session.scalars(
        select(Notification.user_id).where(
            Notification.kind == sessions.NOTIFY_KIND, Notification.subject_id == s.mdt.id
        )
    ).all()
    # scheduled: all three told; cancelled with the case: all but the asker who cancelled
    assert sorted(told) == sorted(
        [w.asker.id, w.expert.id, w.expert3.id, w.expert.id, w.expert3.id]
    )
    assert (
        _count(
            s.session,
            AuditEvent,
            AuditEvent.action == "consult_session.cancel",
            AuditEvent.object_id == str(row.id),
        )
        == 1
    )
