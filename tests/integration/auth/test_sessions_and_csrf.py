"""Idle page sessions expire; forms and cookie-authenticated API calls need the CSRF token."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medcircle.audit.models import AuditEvent
from medcircle.auth.domain import Role
from medcircle.auth.models import ApiToken, LoginAttempt
from medcircle.kit import clock
from tests.factories import PASSWORD, World, csrf_of, login

IDLE = timedelta(minutes=30)  # Settings().session_idle_minutes


def _tokens(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(ApiToken)) or 0


def test_idle_session_redirects_to_login_with_expired_notice(
    client: TestClient, world: World
) -> None:
    start = clock.now()
    with time_machine.travel(start, tick=False) as traveller:
        login(client, "clinician")
        traveller.shift(IDLE - timedelta(minutes=1))
        assert client.get("/account", follow_redirects=False).status_code == 200
        # activity keeps the session alive: another 29 minutes is still fine
        traveller.shift(IDLE - timedelta(minutes=1))
        assert client.get("/account", follow_redirects=False).status_code == 200
        traveller.shift(IDLE + timedelta(minutes=1))
        r = client.get("/account", follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"] == "/login?next=%2Faccount&expired=1"
        page = client.get(r.headers["location"])
        assert page.status_code == 200
        assert "Your session has expired. Please log in again." in page.text


def test_idle_session_htmx_gets_hx_redirect(client: TestClient, world: World) -> None:
    with time_machine.travel(clock.now(), tick=False) as traveller:
        login(client, "clinician")
        traveller.shift(IDLE + timedelta(minutes=1))
        r = client.get("/account", headers={"HX-Request": "true"}, follow_redirects=False)
        assert r.status_code == 204
        assert r.headers["HX-Redirect"] == "/login?next=%2Faccount&expired=1"


def test_idle_session_on_the_api_is_a_401_problem(client: TestClient, world: World) -> None:
    with time_machine.travel(clock.now(), tick=False) as traveller:
        login(client, "clinician")
        assert client.get("/api/v1/me").status_code == 200
        traveller.shift(IDLE + timedelta(minutes=1))
        r = client.get("/api/v1/me")
        assert r.status_code == 401
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "session_expired"


def test_session_ends_after_its_maximum_age_even_when_active(
    client: TestClient, world: World
) -> None:
    with time_machine.travel(clock.now(), tick=False) as traveller:
        login(client, "clinician")
        cookie = client.cookies["medcircle_session"]
        for _ in range(26):  # 26 × 29 minutes: past the 12 hours
            traveller.shift(timedelta(minutes=29))
            # the browser would drop the cookie at its Max-Age; replay it to test the server
            client.cookies.clear()
            client.cookies.set("medcircle_session", cookie)
            client.get("/account", follow_redirects=False)
        client.cookies.clear()
        client.cookies.set("medcircle_session", cookie)
        r = client.get("/account", follow_redirects=False)
        assert r.status_code == 303 and "expired=1" in r.headers["location"]


def test_tampered_session_cookie_is_refused(client: TestClient, world: World) -> None:
    login(client, "clinician")
    client.cookies.clear()
    client.cookies.set("medcircle_session", "forged.value.here")
    r = client.get("/account", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login")


def test_logout_ends_the_session_server_side(client: TestClient, world: World) -> None:
    token = login(client, "expert")
    cookie = client.cookies["medcircle_session"]
    client.post("/logout", data={"csrf_token": token})
    client.cookies.set("medcircle_session", cookie)  # replaying the old cookie
    assert client.get("/account", follow_redirects=False).status_code == 303


def test_form_with_wrong_or_missing_csrf_is_refused_and_changes_nothing(
    client: TestClient, world: World, session: Session
) -> None:
    login(client, "expert")
    before = _tokens(session)
    for data in ({"name": "ci", "csrf_token": "forged"}, {"name": "ci"}):
        r = client.post("/account/tokens", data=data)
        assert r.status_code == 403
        assert "The form has expired or did not come from this site." in r.text
        assert "Traceback" not in r.text
    assert _tokens(session) == before
    assert not session.scalars(
        select(AuditEvent).where(AuditEvent.action == "auth.token.create")
    ).all()
    # the refusal itself is on the trail
    denied = session.scalars(
        select(AuditEvent).where(AuditEvent.outcome == "denied", AuditEvent.action.like("post %"))
    ).all()
    assert len(denied) == 2
    assert denied[0].detail["code"] == "csrf_failed"


def test_csrf_refusal_is_translated(client: TestClient, world: World) -> None:
    token = login(client, "expert")
    client.post("/locale", data={"csrf_token": token, "locale": "zh_Hans", "next": "/"})
    r = client.post("/account/tokens", data={"name": "ci", "csrf_token": "forged"})
    assert r.status_code == 403
    assert "表单已过期" in r.text


def test_login_form_needs_its_csrf_cookie(
    client: TestClient, world: World, session: Session
) -> None:
    page = client.get("/login")
    token = csrf_of(page.text)
    form = {"username": "expert", "password": PASSWORD, "csrf_token": token}
    wrong = client.post("/login", data={**form, "csrf_token": "forged"}, follow_redirects=False)
    assert wrong.status_code == 403
    assert "The form has expired" in wrong.text
    client.cookies.delete("medcircle_login_csrf")
    no_cookie = client.post("/login", data=form, follow_redirects=False)
    assert no_cookie.status_code == 403
    assert "medcircle_session" not in client.cookies
    assert session.scalar(select(func.count()).select_from(LoginAttempt)) == 0
    # a fresh form works
    page = client.get("/login")
    ok = client.post(
        "/login", data={**form, "csrf_token": csrf_of(page.text)}, follow_redirects=False
    )
    assert ok.status_code == 303


def test_login_with_blank_fields_is_a_422(client: TestClient, world: World) -> None:
    page = client.get("/login")
    r = client.post(
        "/login", data={"username": " ", "password": "", "csrf_token": csrf_of(page.text)}
    )
    assert r.status_code == 422
    assert "Enter your user name and password." in r.text


def test_login_only_follows_same_site_next(client: TestClient, world: World) -> None:
    page = client.get("/login")
    r = client.post(
        "/login",
        data={
            "username": "expert",
            "password": PASSWORD,
            "csrf_token": csrf_of(page.text),
            "next": "//evil.example/steal",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/"


def test_bearer_api_calls_need_no_csrf(client: TestClient, world: World) -> None:
    r = client.post("/api/v1/me/tokens", json={"name": "ci"}, headers=world.auth(Role.EXPERT))
    assert r.status_code == 201


def test_cookie_api_calls_need_the_csrf_header(
    client: TestClient, world: World, session: Session
) -> None:
    token = login(client, "expert")
    before = _tokens(session)
    refused = client.post("/api/v1/me/tokens", json={"name": "from the browser"})
    assert refused.status_code == 403
    assert refused.json()["code"] == "csrf_failed"
    assert _tokens(session) == before
    forged = client.post(
        "/api/v1/me/tokens", json={"name": "x"}, headers={"X-CSRF-Token": "forged"}
    )
    assert forged.status_code == 403
    ok = client.post(
        "/api/v1/me/tokens", json={"name": "from the browser"}, headers={"X-CSRF-Token": token}
    )
    assert ok.status_code == 201
    assert _tokens(session) == before + 1
    # safe methods need no token
    assert client.get("/api/v1/me/tokens").status_code == 200


def test_a_form_posted_after_expiry_writes_nothing(
    client: TestClient, world: World, session: Session
) -> None:
    before = _tokens(session)
    with time_machine.travel(clock.now(), tick=False) as traveller:
        csrf = login(client, "clinician")
        traveller.shift(IDLE + timedelta(minutes=1))
        r = client.post(
            "/account/tokens", data={"csrf_token": csrf, "name": "late"}, follow_redirects=False
        )
        assert r.status_code == 303
        assert r.headers["location"] == "/login?next=%2Faccount%2Ftokens&expired=1"
    assert _tokens(session) == before
