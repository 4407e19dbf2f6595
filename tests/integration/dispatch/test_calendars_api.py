"""The calendar API: my published visits (JSON and iCalendar), the private feed (made,
replaced, revoked, unknown), conflicts, and who is coming to a site, each as the right people."""

from __future__ import annotations

import json
from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from medcircle.audit.models import AuditEvent
from medcircle.auth.domain import Role
from medcircle.consultations.ical import unfold
from tests.integration.dispatch.calendar_support import (  # noqa: F401  (fixtures)
    Roster,
    dw_fixture,
    frozen_fixture,
    roster_fixture,
)
from tests.integration.dispatch.setup_support import audited

ME = "/api/v1/dispatch/me/visits"


def _days(items: list[dict[str, object]]) -> list[str]:
    return [str(i["day"]) for i in items]


def test_my_visits_are_the_published_ones(client: TestClient, ros: Roster) -> None:
    r = client.get(ME, headers=ros.dw.auth_user("expert"))
    assert r.status_code == 200, r.text
    items = r.json()
    # a month back to half a year ahead; the draft's visit is nowhere
    assert _days(items) == ["2026-11-24", "2026-12-01", "2026-12-03", "2026-12-08"]
    first = items[1]
    assert first["id"] == ros.visits["tue1"].id
    assert first["site_name"] == "Baoding Hospital A"  # the expert reads English
    assert first["home_name"] == "Beijing Hospital A"
    assert first["specialty_name"] == "Paediatric cardiology"
    assert first["department_name"] == "Paediatric cardiology"
    assert first["plan_version"] == 3
    assert first["uid"] == f"roster-visit-{first['id']}@medcircle"
    # a window of one's choosing
    r = client.get(
        ME, params={"first": "2026-12-02", "last": "2026-12-05"}, headers=ros.dw.auth_user("expert")
    )
    assert _days(r.json()) == ["2026-12-03"]
    # someone else's roster is not mine
    r = client.get(ME, headers=ros.dw.auth_user("expert2"))
    assert _days(r.json()) == ["2026-12-02"]
    assert r.json()[0]["kind"] == "special"


def test_bad_windows_are_refused_clearly(client: TestClient, ros: Roster) -> None:
    auth = ros.dw.auth_user("expert")
    r = client.get(ME, params={"first": "2026-12-05", "last": "2026-12-01"}, headers=auth)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["code"] == "range_reversed"
    r = client.get(ME, params={"first": "2026-01-01", "last": "2027-06-01"}, headers=auth)
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "range_too_long"
    r = client.get(ME, params={"first": "someday"}, headers=auth)
    assert r.status_code == 422


def _events(text: str) -> list[dict[str, str]]:
    events: list[dict[str, str]] = []
    for line in unfold(text):
        if line == "BEGIN:VEVENT":
            events.append({})
        elif events and line != "END:VEVENT" and not line.startswith("END:VCALENDAR"):
            name, _, value = line.partition(":")
            events[-1][name] = value
    return events


def test_my_calendar_file(client: TestClient, ros: Roster, session: Session) -> None:
    r = client.get(ME + ".ics", headers=ros.dw.auth_user("expert"))
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/calendar; charset=utf-8"
    assert r.headers["cache-control"] == "private, no-store"
    assert "attachment" in r.headers["content-disposition"]
    events = _events(r.text)
    assert [e["DTSTART;VALUE=DATE"] for e in events] == [
        "20261124",
        "20261201",
        "20261203",
        "20261208",
    ]
    tue1 = events[1]
    assert tue1["UID"] == f"roster-visit-{ros.visits['tue1'].id}@medcircle"
    assert tue1["DTEND;VALUE=DATE"] == "20261202"
    assert tue1["SEQUENCE"] == "3" and events[0]["SEQUENCE"] == "2"
    assert tue1["SUMMARY"] == "Expert visit: Baoding Hospital A"
    assert "Paediatric cardiology" in tue1["DESCRIPTION"]
    assert tue1["LOCATION"] == "Baoding Hospital A\\, 保定市竞秀区长城北大街 1号"
    assert audited(session, "dispatch.calendar.download")


def test_the_feed_lives_until_replaced_or_revoked(
    client: TestClient, ros: Roster, session: Session
) -> None:
    auth = ros.dw.auth_user("expert")
    assert client.get("/api/v1/dispatch/me/feed", headers=auth).json() == {"active": False}
    made = client.post("/api/v1/dispatch/me/feed", headers=auth)
    assert made.status_code == 201
    assert made.headers["cache-control"] == "private, no-store"
    url = made.json()["url"]
    assert url.startswith("http://127.0.0.1:8000/dispatch/feed/") and url.endswith(".ics")
    assert made.json()["webcal_url"] == "webcal://" + url.removeprefix("http://")
    path = url.removeprefix("http://127.0.0.1:8000")
    token = path.removeprefix("/dispatch/feed/").removesuffix(".ics")
    assert client.get("/api/v1/dispatch/me/feed", headers=auth).json() == {"active": True}

    # the feed needs no login
    fresh = TestClient(client.app)
    got = fresh.get(path)
    assert got.status_code == 200
    assert got.headers["content-type"] == "text/calendar; charset=utf-8"
    assert got.headers["cache-control"] == "private, no-store"
    assert len(_events(got.text)) == 4

    # a new feed replaces the old one
    again = client.post("/api/v1/dispatch/me/feed", headers=auth).json()["url"]
    assert again != url
    assert fresh.get(path).status_code == 404
    new_path = again.removeprefix("http://127.0.0.1:8000")
    assert fresh.get(new_path).status_code == 200

    # revoked: gone
    assert client.delete("/api/v1/dispatch/me/feed", headers=auth).status_code == 204
    gone = fresh.get(new_path)
    assert gone.status_code == 404
    assert gone.headers["cache-control"] == "private, no-store"
    assert client.get("/api/v1/dispatch/me/feed", headers=auth).json() == {"active": False}

    # reads and refusals are in the trail, the token nowhere
    reads = audited(session, "dispatch.feed.read")
    assert [e.outcome for e in reads] == ["success", "failure", "success", "failure"]
    assert reads[0].actor_username == "expert" and reads[0].object_id == str(ros.dw.expert.id)
    everything = session.scalars(select(AuditEvent)).all()
    for e in everything:
        blob = json.dumps([e.detail, e.object_id, e.action, e.user_agent])
        assert token not in blob


def test_an_unknown_feed_is_not_found_and_audited(
    client: TestClient, ros: Roster, session: Session
) -> None:
    r = client.get("/dispatch/feed/made-up-token.ics")
    assert r.status_code == 404
    assert r.text == "该日历订阅不存在或已被撤销。"  # no login: the default language
    r = client.get("/dispatch/feed/made-up-token.ics", headers={"Accept-Language": "en"})
    assert r.status_code == 404
    assert r.text == "This calendar feed does not exist or was revoked."
    very_long = client.get("/dispatch/feed/" + "x" * 400 + ".ics")
    assert very_long.status_code == 404
    refused = audited(session, "dispatch.feed.read")
    assert [e.outcome for e in refused] == ["failure", "failure", "failure"]
    assert refused[0].detail == {"code": "feed_not_found"}
    assert "made-up-token" not in json.dumps(refused[0].detail)


def test_a_deactivated_experts_feed_stops(
    client: TestClient, ros: Roster, session: Session
) -> None:
    url = client.post("/api/v1/dispatch/me/feed", headers=ros.dw.auth_user("expert2")).json()["url"]
    ros.dw.expert2.is_active = False
    session.commit()
    assert TestClient(client.app).get(url.removeprefix("http://127.0.0.1:8000")).status_code == 404


def test_the_feed_speaks_the_experts_language(
    client: TestClient, ros: Roster, session: Session
) -> None:
    ros.dw.expert.locale = "zh_Hans"
    session.commit()
    url = client.post("/api/v1/dispatch/me/feed", headers=ros.dw.auth_user("expert")).json()["url"]
    text = TestClient(client.app).get(url.removeprefix("http://127.0.0.1:8000")).text
    events = _events(text)
    assert events[1]["SUMMARY"] == "专家出诊：保定甲医院"
    assert "小儿心脏科" in events[1]["DESCRIPTION"]


def test_who_is_coming_to_a_site(client: TestClient, ros: Roster) -> None:
    bd = ros.dw.base.baoding.id
    url = f"/api/v1/dispatch/sites/{bd}/visits"
    week = {"first": "2026-11-30", "last": "2026-12-04"}
    # the site's own staff see everyone coming
    r = client.get(url, params=week, headers=ros.dw.auth_user("coordinator"))
    assert r.status_code == 200
    seen = {(i["name"], i["day"]) for i in r.json()}
    names = {i["name"] for i in r.json()}
    assert len(seen) == 4 and ros.bj2expert.display_name in names
    # a supporting institution sees its own experts only
    r = client.get(url, params=week, headers=ros.dw.auth_user("bjcoord"))
    assert r.status_code == 200
    assert {i["user_id"] for i in r.json()} == {ros.dw.expert.id, ros.dw.expert2.id}
    # another institution with nobody going there sees nobody
    r = client.get(url, params=week, headers=ros.dw.auth_user("bd2coord"))
    assert r.status_code == 200 and r.json() == []
    # the default window is this week
    r = client.get(url, headers=ros.dw.auth_user("coordinator"))
    assert {i["day"] for i in r.json()} == {"2026-12-01", "2026-12-02", "2026-12-03"}


def test_site_windows_and_unknown_sites(client: TestClient, ros: Roster) -> None:
    bd = ros.dw.base.baoding.id
    auth = ros.dw.auth_user("coordinator")
    r = client.get(
        f"/api/v1/dispatch/sites/{bd}/visits",
        params={"first": "2026-11-30", "last": "2027-03-02"},
        headers=auth,
    )
    assert r.status_code == 422
    body = r.json()
    assert body["errors"][0]["code"] == "range_too_long" and "92" in body["errors"][0]["message"]
    ok = client.get(
        f"/api/v1/dispatch/sites/{bd}/visits",
        params={"first": "2026-11-30", "last": "2027-03-01"},
        headers=auth,
    )
    assert ok.status_code == 200  # 92 days, both ends included
    assert client.get("/api/v1/dispatch/sites/999999/visits", headers=auth).status_code == 404
    assert client.get("/api/v1/dispatch/sites/0/visits", headers=auth).status_code == 404
    auditor = ros.dw.base.auth(Role.AUDITOR)
    assert client.get(f"/api/v1/dispatch/sites/{bd}/visits", headers=auditor).status_code == 403
    assert client.get(ME).status_code == 401


def test_conflicts_on_visits_not_ones_own_or_past(client: TestClient, ros: Roster) -> None:
    auth = ros.dw.auth_user("expert")
    # someone else's visit: not found
    r = client.post(
        f"/api/v1/dispatch/visits/{ros.visits['e2wed'].id}/conflicts",
        json={"reason": "ill"},
        headers=auth,
    )
    assert r.status_code == 404
    # a visit already made
    r = client.post(
        f"/api/v1/dispatch/visits/{ros.visits['past'].id}/conflicts",
        json={"reason": "ill"},
        headers=auth,
    )
    assert r.status_code == 422 and r.json()["code"] == "not_your_visit"
    # a visit of a draft
    r = client.post(
        f"/api/v1/dispatch/visits/{ros.visits['draft'].id}/conflicts",
        json={"reason": "ill"},
        headers=auth,
    )
    assert r.status_code == 422
    # no reason
    for body in ({"reason": "   "}, {"reason": ""}, {}):
        r = client.post(
            f"/api/v1/dispatch/visits/{ros.visits['tue1'].id}/conflicts", json=body, headers=auth
        )
        assert r.status_code == 422, body
    assert (
        client.post(
            "/api/v1/dispatch/visits/999999/conflicts", json={"reason": "x"}, headers=auth
        ).status_code
        == 404
    )


def test_dates_in_the_visits_are_iso(client: TestClient, ros: Roster) -> None:
    r = client.get(ME, headers=ros.dw.auth_user("expert"))
    assert all(date.fromisoformat(str(i["day"])) for i in r.json())
