"""Lock-out after repeated failed logins, through the login page, and its audit trail."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from medcircle.audit.models import AuditEvent
from medcircle.auth.domain import Role
from medcircle.config import Settings
from medcircle.kit import clock
from medcircle.main import create_app
from tests.factories import PASSWORD, World, csrf_of


def _try(client: TestClient, username: str, password: str) -> tuple[int, str]:
    page = client.get("/login")
    r = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    return r.status_code, r.text


def _login_events(session: Session, username: str) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "auth.login", AuditEvent.actor_username == username)
            .order_by(AuditEvent.id)
        )
    )


def test_five_failures_lock_then_the_window_unlocks(
    client: TestClient, world: World, session: Session
) -> None:
    start = clock.now()
    with time_machine.travel(start, tick=False) as traveller:
        for n in range(1, 5):
            status, text = _try(client, "expert", f"wrong-password-{n}")
            assert status == 401
            assert f"{5 - n} attempts left" in text
            traveller.shift(timedelta(minutes=2))
        status, text = _try(client, "expert", "wrong-password-5")
        assert status == 423
        assert "The account is locked" in text
        # the right password is refused while locked
        status, text = _try(client, "expert", PASSWORD)
        assert status == 423
        assert "Too many failed attempts. The account is locked; try again in" in text
        assert "medcircle_session" not in client.cookies
        traveller.shift(timedelta(minutes=15))
        status, _ = _try(client, "expert", PASSWORD)
        assert status == 303

    events = _login_events(session, "expert")
    assert [e.outcome for e in events] == ["failure"] * 5 + ["denied", "success"]
    assert events[0].detail == {"reason": "bad_credentials"}
    assert events[5].detail == {"reason": "locked"}
    assert events[-1].actor_user_id == world.users[Role.EXPERT].id
    for e in events:
        assert e.actor_username == "expert"
        assert e.ip
        assert "wrong-password" not in str(e.detail) and PASSWORD not in str(e.detail)


def test_failures_outside_the_window_do_not_lock(client: TestClient, world: World) -> None:
    start = clock.now()
    with time_machine.travel(start, tick=False) as traveller:
        for n in range(8):
            status, _ = _try(client, "clinician", f"wrong-{n}")
            assert status == 401
            traveller.shift(timedelta(minutes=4))  # never 5 within 15 minutes
        assert _try(client, "clinician", PASSWORD)[0] == 303


def test_a_success_resets_the_count(client: TestClient, world: World) -> None:
    with time_machine.travel(clock.now(), tick=False):
        for n in range(4):
            assert _try(client, "auditor", f"wrong-{n}")[0] == 401
        assert _try(client, "auditor", PASSWORD)[0] == 303
        client.cookies.clear()
        for n in range(4):
            assert _try(client, "auditor", f"again-{n}")[0] == 401


def test_unknown_user_gets_the_same_answer_and_locks_too(
    client: TestClient, world: World, session: Session
) -> None:
    status, text = _try(client, "nobody-here", "whatever-123")
    assert status == 401
    assert "The user name or password is wrong." in text
    for _ in range(4):
        _try(client, "nobody-here", "whatever-123")
    assert _try(client, "nobody-here", "whatever-123")[0] == 423
    assert len(_login_events(session, "nobody-here")) == 6


def test_lockout_attempts_are_configurable(
    settings: Settings,
    engine,
    session_factory,
    world: World,  # type: ignore[no-untyped-def]
) -> None:
    strict = settings.model_copy(update={"lockout_attempts": 3})
    app = create_app(strict, engine=engine, session_factory=session_factory)
    with (
        TestClient(app, headers={"Accept-Language": "en"}) as c,
        time_machine.travel(clock.now(), tick=False),
    ):
        assert _try(c, "coordinator", "wrong-1")[0] == 401
        status, text = _try(c, "coordinator", "wrong-2")
        assert status == 401 and "1 attempts left" in text
        assert _try(c, "coordinator", "wrong-3")[0] == 423
        assert _try(c, "coordinator", PASSWORD)[0] == 423


def test_lockout_is_reported_in_chinese(client: TestClient, world: World) -> None:
    client.cookies.set("medcircle_lang", "zh_Hans")
    with time_machine.travel(clock.now(), tick=False):
        for n in range(5):
            status, text = _try(client, "expert", f"wrong-{n}")
        assert status == 423
        assert "账户已锁定" in text
