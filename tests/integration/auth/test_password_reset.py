"""Administrators set a new password for a user they manage: API and page, scope, the password
policy, sessions ending, the lock-out lifted, and the audit trail (never the password)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medcircle.audit.models import AuditEvent
from medcircle.auth.domain import Role
from medcircle.auth.models import LoginAttempt, User, WebSession
from tests import factories
from tests.factories import PASSWORD, World, csrf_of, login

NEW = "Fresh-Start-2026"


@pytest.fixture
def other(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """A second browser: the user whose password is reset."""
    with TestClient(app, base_url="http://testserver", headers={"Accept-Language": "en"}) as c:
        yield c


def _login_status(client: TestClient, username: str, password: str) -> int:
    client.cookies.clear()
    page = client.get("/login")
    r = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    return r.status_code


def _resets(session: Session) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "user.password_reset")
            .order_by(AuditEvent.id)
        )
    )


def _live_sessions(session: Session, user_id: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(WebSession)
            .where(WebSession.user_id == user_id, WebSession.revoked_at.is_(None))
        )
        or 0
    )


def _reset(client: TestClient, world: World, as_role: Role, user_id: int, password: str) -> Any:
    """The API call that sets a new password, as the user holding ``as_role``."""
    return client.post(
        f"/api/v1/users/{user_id}/password",
        json={"new_password": password},
        headers=world.auth(as_role),
    )


def test_platform_admin_resets_a_password_over_the_api(
    client: TestClient, other: TestClient, world: World, session: Session
) -> None:
    clinician = world.users[Role.CLINICIAN]
    login(other, "clinician")
    assert other.get("/account", follow_redirects=False).status_code == 200
    assert _live_sessions(session, clinician.id) == 1

    r = _reset(client, world, Role.PLATFORM_ADMIN, clinician.id, NEW)
    assert r.status_code == 204, r.text
    assert r.content == b""

    # the page session has ended; the API token keeps working
    session.expire_all()
    assert _live_sessions(session, clinician.id) == 0
    r = other.get("/account", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert client.get("/api/v1/me", headers=world.auth(Role.CLINICIAN)).status_code == 200

    assert _login_status(other, "clinician", PASSWORD) == 401
    assert _login_status(other, "clinician", NEW) == 303

    events = _resets(session)
    assert len(events) == 1
    event = events[0]
    assert event.actor_username == "platformadmin"
    assert event.object_type == "user" and event.object_id == str(clinician.id)
    assert event.outcome == "success"
    assert event.detail == {"username": "clinician", "sessions_ended": 1}
    assert NEW not in str(event.detail) and PASSWORD not in str(event.detail)


def test_institution_admin_resets_staff_of_their_own_institution(
    client: TestClient, world: World, session: Session
) -> None:
    coordinator = world.users[Role.COORDINATOR]  # Baoding A, like the institution admin
    r = _reset(client, world, Role.INSTITUTION_ADMIN, coordinator.id, NEW)
    assert r.status_code == 204, r.text
    assert _login_status(client, "coordinator", NEW) == 303
    assert [e.actor_username for e in _resets(session)] == ["institutionadmin"]


def test_institution_admin_cannot_reset_outside_their_scope(
    client: TestClient, world: World, session: Session
) -> None:
    # another institution's user does not exist for them
    r = _reset(client, world, Role.INSTITUTION_ADMIN, world.users[Role.EXPERT].id, NEW)
    assert r.status_code == 404
    assert r.json()["code"] == "not_found"
    # a platform admin in their own institution is visible but out of reach
    boss = factories.user(session, world.baoding, Role.PLATFORM_ADMIN, username="bdboss")
    analyst = factories.user(session, world.baoding, Role.COMMISSION_ANALYST)
    session.commit()
    for target in (boss, analyst):
        r = _reset(client, world, Role.INSTITUTION_ADMIN, target.id, NEW)
        assert r.status_code == 403, r.text
        assert r.json()["code"] == "forbidden"
    # users without user administration rights see nobody
    r = _reset(client, world, Role.CLINICIAN, world.users[Role.COORDINATOR].id, NEW)
    assert r.status_code == 404
    assert _reset(client, world, Role.PLATFORM_ADMIN, 999_999, NEW).status_code == 404
    assert _resets(session) == []
    session.expire_all()
    assert _login_status(client, "bdboss", PASSWORD) == 303


def test_own_password_is_changed_on_the_account_page_instead(
    client: TestClient, world: World, session: Session
) -> None:
    me = world.users[Role.PLATFORM_ADMIN]
    r = _reset(client, world, Role.PLATFORM_ADMIN, me.id, NEW)
    assert r.status_code == 409
    assert r.json()["code"] == "own_password"
    assert _resets(session) == []


@pytest.mark.parametrize(
    ("password", "codes"),
    [
        ("short-1", {"password_too_short"}),
        ("clinician-and-more", {"password_contains_username"}),
        ("abababababab", {"password_too_plain"}),
        ("aaaa", {"password_too_short", "password_too_plain"}),
    ],
)
def test_password_policy_errors_have_stable_codes(
    client: TestClient, world: World, session: Session, password: str, codes: set[str]
) -> None:
    clinician = world.users[Role.CLINICIAN]
    r = _reset(client, world, Role.PLATFORM_ADMIN, clinician.id, password)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["code"] == "validation_failed"
    assert {e["code"] for e in problem["errors"]} == codes
    assert {e["field"] for e in problem["errors"]} == {"new_password"}
    assert all(e["message"] for e in problem["errors"])
    # nothing changed
    assert _resets(session) == []
    assert _login_status(client, "clinician", PASSWORD) == 303


def test_missing_or_oversized_password_is_a_validation_problem(
    client: TestClient, world: World
) -> None:
    target = world.users[Role.CLINICIAN].id
    r = client.post(
        f"/api/v1/users/{target}/password", json={}, headers=world.auth(Role.PLATFORM_ADMIN)
    )
    assert r.status_code == 422
    assert _reset(client, world, Role.PLATFORM_ADMIN, target, "x" * 300).status_code == 422


def test_a_reset_lifts_a_lock_out_without_deleting_the_attempts(
    client: TestClient, world: World, session: Session
) -> None:
    for n in range(5):
        status = _login_status(client, "expert", f"wrong-password-{n}")
    assert status == 423
    assert _login_status(client, "expert", PASSWORD) == 423
    assert (
        _reset(client, world, Role.PLATFORM_ADMIN, world.users[Role.EXPERT].id, NEW).status_code
        == 204
    )
    assert _login_status(client, "expert", NEW) == 303
    failures = session.scalar(
        select(func.count())
        .select_from(LoginAttempt)
        .where(LoginAttempt.username == "expert", LoginAttempt.succeeded.is_(False))
    )
    assert failures == 6  # the trail of failed attempts stays


def test_page_form_sets_a_new_password(
    client: TestClient, other: TestClient, world: World, session: Session
) -> None:
    clinician = world.users[Role.CLINICIAN]
    login(other, "clinician")
    token = login(client, "institutionadmin")
    page = client.get(f"/users/{clinician.id}")
    assert page.status_code == 200
    assert "Set a new password" in page.text
    assert f'action="/users/{clinician.id}/password#password"' in page.text

    url = f"/users/{clinician.id}/password"
    differ = client.post(
        url, data={"csrf_token": token, "new_password": NEW, "confirm_password": NEW + "x"}
    )
    assert differ.status_code == 422
    assert "The two new passwords differ." in differ.text
    short = client.post(
        url, data={"csrf_token": token, "new_password": "short", "confirm_password": "short"}
    )
    assert short.status_code == 422
    assert "Use at least 10 characters." in short.text
    assert 'aria-invalid="true"' in short.text
    empty = client.post(url, data={"csrf_token": token})
    assert empty.status_code == 422
    assert "Enter the new password." in empty.text
    assert _resets(session) == []

    ok = client.post(
        url,
        data={"csrf_token": token, "new_password": NEW, "confirm_password": NEW},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    assert ok.headers["location"] == f"/users/{clinician.id}?password_set=1"
    shown = client.get(ok.headers["location"])
    assert "The new password has been set" in shown.text
    assert NEW not in shown.text

    assert other.get("/account", follow_redirects=False).status_code == 303
    assert _login_status(other, "clinician", PASSWORD) == 401
    assert _login_status(other, "clinician", NEW) == 303
    (event,) = _resets(session)
    assert event.actor_username == "institutionadmin"
    assert NEW not in str(event.detail)


def test_page_needs_the_csrf_token(client: TestClient, world: World, session: Session) -> None:
    login(client, "platformadmin")
    target = world.users[Role.CLINICIAN].id
    r = client.post(
        f"/users/{target}/password", data={"new_password": NEW, "confirm_password": NEW}
    )
    assert r.status_code == 403
    assert _resets(session) == []


def test_page_scope_of_an_institution_admin(
    client: TestClient, world: World, session: Session
) -> None:
    boss = factories.user(session, world.baoding, Role.PLATFORM_ADMIN, username="bdboss")
    session.commit()
    token = login(client, "institutionadmin")
    page = client.get(f"/users/{boss.id}")
    assert page.status_code == 200
    assert "Only a platform admin can set a password for this account." in page.text
    assert 'data-testid="password-reset-form"' not in page.text
    data = {"csrf_token": token, "new_password": NEW, "confirm_password": NEW}
    assert client.post(f"/users/{boss.id}/password", data=data).status_code == 403
    expert = world.users[Role.EXPERT].id  # Beijing A
    assert client.post(f"/users/{expert}/password", data=data).status_code == 404
    own = world.users[Role.INSTITUTION_ADMIN].id
    mine = client.get(f"/users/{own}")
    assert "Change your own password on your account page." in mine.text
    assert 'data-testid="password-reset-form"' not in mine.text
    self_reset = client.post(f"/users/{own}/password", data=data)
    assert self_reset.status_code == 422
    assert "Change your own password on your account page." in self_reset.text
    assert _resets(session) == []
    session.expire_all()
    stored = session.get(User, boss.id)
    assert stored is not None
    assert _login_status(client, "bdboss", PASSWORD) == 303


def test_page_in_chinese(client: TestClient, world: World, session: Session) -> None:
    factories.user(
        session, world.beijing, Role.PLATFORM_ADMIN, username="zhadmin", locale="zh_Hans"
    )
    session.commit()
    token = login(client, "zhadmin")
    target = world.users[Role.CLINICIAN].id
    r = client.post(
        f"/users/{target}/password",
        data={"csrf_token": token, "new_password": "short", "confirm_password": "short"},
    )
    assert r.status_code == 422
    assert "设置新密码" in r.text
    assert "请至少使用 10 个字符。" in r.text
    ok = client.post(
        f"/users/{target}/password",
        data={"csrf_token": token, "new_password": NEW, "confirm_password": NEW},
    )
    assert ok.status_code == 200
    assert "新密码已设置" in ok.text
