"""The sessions API end to end: suggestions, scheduling and its refusals as problem+json with
stable codes, moving, cancelling, minutes, and the .ics download for participants only."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import icalendar
import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medcircle.auth.domain import Role
from medcircle.consultations.domain import Mode
from medcircle.consultations.models import Consultation, ConsultSession
from tests import consult_factories as cf
from tests import referral_factories as rf
from tests.factories import World, api_token, user

NOW = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
TUESDAY_10 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


@dataclass
class Api:
    w: cf.ConsultWorld
    traveller: time_machine.Coordinates
    video: Consultation
    mdt: Consultation
    written: Consultation

    def h(self, username: str) -> dict[str, str]:
        return self.w.auth_user(username)


@pytest.fixture
def api(session: Session, world: World) -> Iterator[Api]:
    with time_machine.travel(NOW, tick=False) as traveller:
        w = cf.consult_world(session, rf.referral_world(session, world))
        video = cf.consultation(session, w, mode=Mode.VIDEO)
        mdt = cf.consultation(session, w, mode=Mode.MDT)
        written = cf.consultation(session, w, mode=Mode.WRITTEN)
        outsider = user(session, world.beijing2, Role.EXPERT, username="elsewhere")
        w.tokens["elsewhere"] = api_token(session, outsider)
        session.commit()
        yield Api(w, traveller, video, mdt, written)


def _schedule(client: TestClient, a: Api, c: Consultation, who: str = "expert", **body: Any) -> Any:
    payload: dict[str, Any] = {"starts_at": TUESDAY_10.isoformat()}
    payload.update(body)
    return client.post(f"/api/v1/consultations/{c.id}/sessions", json=payload, headers=a.h(who))


def test_schedule_list_move_cancel_and_the_invitation(client: TestClient, api: Api) -> None:
    a, w = api, api.w
    r = _schedule(client, a, a.mdt, participant_user_ids=[w.expert3.id])
    assert r.status_code == 201, r.text
    s = r.json()
    assert s["status"] == "scheduled" and s["sequence"] == 0
    assert {p["user_id"] for p in s["participants"]} == {w.asker.id, w.expert.id, w.expert3.id}
    assert s["meeting_url"].startswith("https://meet.jit.si/medcircle-")
    listed = client.get(f"/api/v1/consultations/{a.mdt.id}/sessions", headers=a.h("clinician"))
    assert listed.status_code == 200 and [x["id"] for x in listed.json()] == [s["id"]]

    ics = client.get(s["invite_url"], headers=a.h("expert3"))
    assert ics.status_code == 200
    assert ics.headers["content-type"].startswith("text/calendar")
    assert "attachment" in ics.headers["content-disposition"]
    assert b"\r\n" in ics.content
    cal: Any = icalendar.Calendar.from_ical(ics.content)
    assert cal["METHOD"] == "REQUEST"

    moved = client.post(
        f"/api/v1/consult-sessions/{s['id']}/reschedule",
        json={"version": s["version"], "starts_at": (TUESDAY_10 + timedelta(hours=1)).isoformat()},
        headers=a.h("bjcoord"),
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["sequence"] == 1 and moved.json()["uid"] == s["uid"]
    stale = client.post(
        f"/api/v1/consult-sessions/{s['id']}/cancel",
        json={"version": s["version"]},
        headers=a.h("expert"),
    )
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"
    cancelled = client.post(
        f"/api/v1/consult-sessions/{s['id']}/cancel",
        json={"version": moved.json()["version"], "reason": "Patient transferred"},
        headers=a.h("expert"),
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    cal = icalendar.Calendar.from_ical(
        client.get(s["invite_url"], headers=a.h("clinician")).content
    )
    assert cal["METHOD"] == "CANCEL"
    ev: Any = next(iter(cal.walk("VEVENT")))
    assert int(ev["SEQUENCE"]) == 2 and str(ev["UID"]) == s["uid"]


def test_suggestions(client: TestClient, api: Api) -> None:
    a, w = api, api.w
    r = client.get(
        f"/api/v1/consultations/{a.mdt.id}/session-slots?days=2&duration=90"
        f"&participant={w.expert2.id}",
        headers=a.h("expert"),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["duration_minutes"] == 90
    assert body["participant_user_ids"] == [w.asker.id, w.expert.id, w.expert2.id]
    first = datetime.fromisoformat(body["slots"][0])
    assert first == NOW + timedelta(minutes=30)
    bad = client.get(
        f"/api/v1/consultations/{a.mdt.id}/session-slots?days=90", headers=a.h("expert")
    )
    assert bad.status_code == 422
    stranger = client.get(
        f"/api/v1/consultations/{a.mdt.id}/session-slots?participant=999999",
        headers=a.h("expert"),
    )
    assert stranger.status_code == 422 and stranger.json()["code"] == "unknown_participant"


def test_refusals_have_stable_codes_and_write_nothing(
    client: TestClient, api: Api, session: Session
) -> None:
    a, w = api, api.w
    past = _schedule(client, a, a.video, starts_at=(NOW - timedelta(hours=1)).isoformat())
    assert past.status_code == 422 and past.json()["code"] == "in_past"
    naive = _schedule(client, a, a.video, starts_at="2026-12-01T10:00:00")
    assert naive.status_code == 422
    written = _schedule(client, a, a.written)
    assert written.status_code == 409 and written.json()["code"] == "not_a_session_mode"
    hidden = _schedule(client, a, a.video, who="elsewhere")
    assert hidden.status_code == 404
    forbidden = _schedule(client, a, a.video, who="expert3")
    assert forbidden.status_code == 403
    cf.leave(session, w.expert, TUESDAY_10 - timedelta(hours=1), TUESDAY_10 + timedelta(hours=1))
    session.commit()
    busy = _schedule(client, a, a.video)
    assert busy.status_code == 409
    problem = busy.json()
    assert problem["code"] == "participant_busy"
    assert w.expert.display_name in problem["detail"]
    assert session.scalar(select(func.count()).select_from(ConsultSession)) == 0
    forced = _schedule(client, a, a.video, force=True, force_reason="Emergency review")
    assert forced.status_code == 201, forced.text


def test_minutes_and_who_may_download(client: TestClient, api: Api) -> None:
    a, w = api, api.w
    s = _schedule(client, a, a.video, who="clinician").json()
    body = {"version": s["version"], "minutes": "Discussed echo.", "attended_user_ids": []}
    early = client.post(
        f"/api/v1/consult-sessions/{s['id']}/minutes", json=body, headers=a.h("expert")
    )
    assert early.status_code == 409 and early.json()["code"] == "session_not_started"
    a.traveller.move_to(TUESDAY_10 + timedelta(minutes=10))
    body["attended_user_ids"] = [w.asker.id, w.expert.id]
    held = client.post(
        f"/api/v1/consult-sessions/{s['id']}/minutes", json=body, headers=a.h("expert")
    )
    assert held.status_code == 200, held.text
    assert held.json()["status"] == "held"
    assert all(p["attended"] for p in held.json()["participants"])
    assert client.get(s["invite_url"], headers=a.h("elsewhere")).status_code == 404
    assert client.get(s["invite_url"], headers=a.h("bd2clinician")).status_code == 404
    assert client.get(s["invite_url"]).status_code == 401
    assert (
        client.get("/api/v1/consult-sessions/99999/invite.ics", headers=a.h("expert")).status_code
        == 404
    )
    listed = client.get(f"/api/v1/consultations/{a.video.id}/sessions", headers=a.h("elsewhere"))
    assert listed.status_code == 404
