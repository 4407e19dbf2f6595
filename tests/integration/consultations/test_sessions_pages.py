"""The session pages through the real app: suggested times as buttons, booking by a button or a
typed time, refusals shown by their field, moving, cancelling, minutes with attendance, my
upcoming sessions, both languages, and nothing for outsiders."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from medcircle.auth.domain import Role
from medcircle.consultations.domain import Mode
from medcircle.consultations.models import Consultation, ConsultSession, SessionParticipant
from medcircle.kit import i18n
from tests import consult_factories as cf
from tests import referral_factories as rf
from tests.factories import World, csrf_of, login, user

NOW = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
TUESDAY_10 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


@dataclass
class Pages:
    w: cf.ConsultWorld
    traveller: time_machine.Coordinates
    video: Consultation
    mdt: Consultation
    written: Consultation


@pytest.fixture
def pages(session: Session, world: World) -> Iterator[Pages]:
    with time_machine.travel(NOW, tick=False) as traveller:
        w = cf.consult_world(session, rf.referral_world(session, world))
        video = cf.consultation(session, w, mode=Mode.VIDEO)
        mdt = cf.consultation(session, w, mode=Mode.MDT)
        written = cf.consultation(session, w, mode=Mode.WRITTEN)
        user(session, world.beijing2, Role.EXPERT, username="elsewhere")
        session.commit()
        yield Pages(w, traveller, video, mdt, written)


def _sessions(session: Session) -> list[ConsultSession]:
    session.expire_all()
    return list(session.scalars(select(ConsultSession).order_by(ConsultSession.id)))


def test_book_a_suggested_time_for_an_mdt(
    client: TestClient, pages: Pages, session: Session
) -> None:
    p, w = pages, pages.w
    login(client, "expert")
    page = client.get(f"/consultations/{p.mdt.id}/sessions")
    assert page.status_code == 200
    html = page.text
    assert 'data-testid="schedule-form"' in html
    assert f'data-testid="participant-{w.expert3.id}"' in html
    slots = re.findall(r'name="slot" value="([^"]+)"', html)
    assert slots and datetime.fromisoformat(slots[0]) == NOW + timedelta(minutes=30)
    # the patient's name is nowhere on the page
    assert w.patient.name not in html
    r = client.post(
        f"/consultations/{p.mdt.id}/sessions",
        data={
            "csrf_token": csrf_of(html),
            "participants": [str(w.expert3.id)],
            "duration": "60",
            "slot": slots[1],
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    [row] = _sessions(session)
    assert row.starts_at == datetime.fromisoformat(slots[1])
    assert row.ends_at - row.starts_at == timedelta(minutes=60)
    people = set(
        session.scalars(
            select(SessionParticipant.user_id).where(SessionParticipant.session_id == row.id)
        )
    )
    assert people == {w.asker.id, w.expert.id, w.expert3.id}
    shown = client.get(r.headers["location"])
    assert 'data-testid="flash"' in shown.text
    assert row.meeting_url in shown.text
    assert f"/api/v1/consult-sessions/{row.id}/invite.ics" in shown.text
    # the invitation link works with the page's login too
    ics = client.get(f"/api/v1/consult-sessions/{row.id}/invite.ics")
    assert ics.status_code == 200 and "BEGIN:VCALENDAR" in ics.text
    # choosing expert2 (on leave at the first time) changes the suggestions
    cf.leave(session, w.expert2, NOW, NOW + timedelta(hours=2))
    session.commit()
    found = client.post(
        f"/consultations/{p.mdt.id}/sessions/find",
        data={"csrf_token": csrf_of(shown.text), "participants": [str(w.expert2.id)]},
        follow_redirects=False,
    )
    assert found.status_code == 303
    assert found.headers["location"].endswith(f"?participant={w.expert2.id}#schedule")
    again = client.get(found.headers["location"])
    assert f'value="{w.expert2.id}" checked' in again.text
    first = re.findall(r'name="slot" value="([^"]+)"', again.text)[0]
    assert datetime.fromisoformat(first) >= NOW + timedelta(hours=2)


def test_refusals_are_shown_by_their_field(
    client: TestClient, pages: Pages, session: Session
) -> None:
    p, w = pages, pages.w
    login(client, "expert")
    token = csrf_of(client.get(f"/consultations/{p.video.id}/sessions").text)
    past = client.post(
        f"/consultations/{p.video.id}/sessions",
        data={"csrf_token": token, "starts_at": "2026-11-29T10:00", "duration": "30"},
    )
    assert past.status_code == 422
    assert 'id="starts_at-error"' in past.text
    assert "The session must start in the future." in past.text
    missing = client.post(f"/consultations/{p.video.id}/sessions", data={"csrf_token": token})
    assert missing.status_code == 422 and 'id="starts_at-error"' in missing.text
    cf.leave(session, w.asker, TUESDAY_10, TUESDAY_10 + timedelta(hours=1))
    session.commit()
    busy = client.post(
        f"/consultations/{p.video.id}/sessions",
        data={"csrf_token": token, "starts_at": "2026-12-01T10:00", "duration": "30"},
    )
    assert busy.status_code == 409
    assert w.asker.display_name in busy.text and 'id="starts_at-error"' in busy.text
    no_reason = client.post(
        f"/consultations/{p.video.id}/sessions",
        data={"csrf_token": token, "starts_at": "2026-12-01T10:00", "force": "1"},
    )
    assert no_reason.status_code == 422 and 'id="force_reason-error"' in no_reason.text
    assert _sessions(session) == []
    forced = client.post(
        f"/consultations/{p.video.id}/sessions",
        data={
            "csrf_token": token,
            "starts_at": "2026-12-01T10:00",
            "force": "1",
            "force_reason": "Only slot before surgery",
        },
        follow_redirects=False,
    )
    assert forced.status_code == 303
    [row] = _sessions(session)
    assert row.starts_at == TUESDAY_10


def test_move_cancel_and_minutes_through_the_page(
    client: TestClient, pages: Pages, session: Session
) -> None:
    p, w = pages, pages.w
    login(client, "expert")
    base = f"/consultations/{p.video.id}/sessions"
    token = csrf_of(client.get(base).text)
    client.post(base, data={"csrf_token": token, "starts_at": "2026-12-01T10:00"})
    [row] = _sessions(session)
    page = client.get(base).text
    assert 'data-testid="reschedule-form"' in page and 'data-testid="minutes-form"' not in page
    stale = client.post(
        f"{base}/{row.id}/reschedule",
        data={"csrf_token": token, "version": "99", "starts_at": "2026-12-01T14:00"},
    )
    assert stale.status_code == 409
    moved = client.post(
        f"{base}/{row.id}/reschedule",
        data={"csrf_token": token, "version": str(row.version), "starts_at": "2026-12-01T14:00"},
        follow_redirects=False,
    )
    assert moved.status_code == 303
    [row] = _sessions(session)
    assert row.starts_at == TUESDAY_10 + timedelta(hours=4) and row.sequence == 1
    p.traveller.move_to(row.starts_at + timedelta(minutes=5))
    # a day later the page session has timed out: log in again
    client.cookies.clear()
    token = login(client, "expert")
    page = client.get(base).text
    assert 'data-testid="minutes-form"' in page
    empty = client.post(
        f"{base}/{row.id}/minutes", data={"csrf_token": token, "version": str(row.version)}
    )
    assert empty.status_code == 422 and f'id="s{row.id}-m-minutes-error"' in empty.text
    done = client.post(
        f"{base}/{row.id}/minutes",
        data={
            "csrf_token": token,
            "version": str(row.version),
            "attended": [str(w.asker.id)],
            "minutes": "Surgery advised; follow-up in 3 months.",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    [row] = _sessions(session)
    assert row.status == "held"
    page = client.get(base).text
    assert "Surgery advised; follow-up in 3 months." in page
    # a second session, then cancelled from the page
    token = csrf_of(page)
    client.post(base, data={"csrf_token": token, "starts_at": "2026-12-02T10:00"})
    second = _sessions(session)[-1]
    gone = client.post(
        f"{base}/{second.id}/cancel",
        data={"csrf_token": token, "version": str(second.version), "reason": "Not needed"},
        follow_redirects=False,
    )
    assert gone.status_code == 303
    assert _sessions(session)[-1].status == "cancelled"
    # a session of another case cannot be reached through this case's address
    other = f"/consultations/{p.mdt.id}/sessions/{second.id}/cancel"
    assert client.post(other, data={"csrf_token": token, "version": "1"}).status_code == 404


def test_my_sessions_and_languages(client: TestClient, pages: Pages, session: Session) -> None:
    p, w = pages, pages.w
    login(client, "expert")
    base = f"/consultations/{p.video.id}/sessions"
    token = csrf_of(client.get(base).text)
    client.post(base, data={"csrf_token": token, "starts_at": "2026-12-01T10:00"})
    mine = client.get("/sessions")
    assert mine.status_code == 200
    assert p.video.reference in mine.text and 'data-testid="my-session"' in mine.text
    w.expert.locale = "zh_Hans"
    session.commit()
    client.cookies.clear()
    login(client, "expert")
    zh_page = client.get("/sessions").text
    assert i18n.translations("zh_Hans").ugettext("My sessions") in zh_page
    assert "我的会诊日程" in zh_page
    case_zh = client.get(base).text
    assert i18n.translations("zh_Hans").ugettext("Schedule a session") in case_zh


def test_outsiders_and_written_cases(client: TestClient, pages: Pages) -> None:
    p = pages
    login(client, "elsewhere")
    assert client.get(f"/consultations/{p.video.id}/sessions").status_code == 404
    assert client.get("/sessions").status_code == 200
    client.cookies.clear()
    login(client, "auditor")
    assert client.get("/sessions").status_code == 403
    client.cookies.clear()
    login(client, "expert")
    page = client.get(f"/consultations/{p.written.id}/sessions")
    assert page.status_code == 200
    assert 'data-testid="no-sessions-mode"' in page.text
    assert 'data-testid="schedule-form"' not in page.text
    # the asker may not book an MDT: no form for them
    client.cookies.clear()
    login(client, "clinician")
    mdt = client.get(f"/consultations/{p.mdt.id}/sessions").text
    assert 'data-testid="schedule-form"' not in mdt
    video = client.get(f"/consultations/{p.video.id}/sessions").text
    assert 'data-testid="schedule-form"' in video


def test_minutes_before_the_start_are_refused_saying_why(
    client: TestClient, pages: Pages, session: Session
) -> None:
    # the card shows no minutes form before the start; minutes sent all the same (a page kept
    # open, another tab) are refused with the reason on the session's card, not only "not
    # changed"
    p = pages
    login(client, "expert")
    base = f"/consultations/{p.video.id}/sessions"
    token = csrf_of(client.get(base).text)
    client.post(base, data={"csrf_token": token, "starts_at": "2026-12-01T10:00"})
    [row] = _sessions(session)
    refused = client.post(
        f"{base}/{row.id}/minutes",
        data={"csrf_token": token, "version": str(row.version), "minutes": "Too early."},
    )
    assert refused.status_code == 409
    assert 'data-testid="minutes-form"' not in refused.text
    assert 'data-testid="session-refusal"' in refused.text
    assert "Attendance and minutes can be recorded once the session has started." in refused.text
    [row] = _sessions(session)
    assert row.status == "scheduled" and row.minutes is None
    # a form the card still shows keeps its refusal by the form, not twice
    stale = client.post(
        f"{base}/{row.id}/reschedule",
        data={"csrf_token": token, "version": "99", "starts_at": "2026-12-01T14:00"},
    )
    assert stale.status_code == 409 and 'data-testid="session-refusal"' not in stale.text
