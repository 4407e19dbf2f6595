"""Personal API tokens: shown once, stored as a digest, usable, revocable, expiring."""

from __future__ import annotations

import re
from datetime import timedelta

import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import Connection, select, text
from sqlalchemy.orm import Session

from medcircle.audit.models import AuditEvent
from medcircle.auth.domain import Role
from medcircle.auth.models import ApiToken
from medcircle.auth.security import token_digest
from medcircle.kit import clock
from tests.factories import World, csrf_of, login


def _stored_anywhere(connection: Connection, secret: str) -> bool:
    """Whether ``secret`` appears in any text of the token or audit tables."""
    for table in ("api_token", "audit_event", "web_session", "login_attempt"):
        for row in connection.execute(text(f"SELECT * FROM {table}")):  # noqa: S608
            if any(secret in str(v) for v in row):
                return True
    return False


def _events(session: Session, action: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_create_use_and_revoke_through_the_api(
    client: TestClient, world: World, session: Session, connection: Connection
) -> None:
    r = client.post(
        "/api/v1/me/tokens",
        json={"name": "report script", "expires_in_days": 30},
        headers=world.auth(Role.CLINICIAN),
    )
    assert r.status_code == 201
    body = r.json()
    raw = body["token"]
    assert raw.startswith("mc_") and len(raw) > 40
    assert body["prefix"] == raw[:10]
    assert body["name"] == "report script"
    stored = session.get(ApiToken, body["id"])
    assert stored is not None
    assert stored.token_digest == token_digest(raw)
    assert not _stored_anywhere(connection, raw)

    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})
    assert me.status_code == 200
    assert me.json()["username"] == "clinician"
    listed = client.get("/api/v1/me/tokens", headers={"Authorization": f"Bearer {raw}"})
    assert all("token" not in t for t in listed.json())
    assert any(t["id"] == body["id"] and t["last_used_at"] for t in listed.json())

    gone = client.delete(f"/api/v1/me/tokens/{body['id']}", headers=world.auth(Role.CLINICIAN))
    assert gone.status_code == 204
    refused = client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})
    assert refused.status_code == 401
    assert refused.json()["code"] == "invalid_token"

    created, revoked = _events(session, "auth.token.create"), _events(session, "auth.token.revoke")
    assert len(created) == 1 and len(revoked) == 1
    assert created[0].object_id == revoked[0].object_id == str(body["id"])
    assert created[0].actor_username == "clinician"


def test_expired_token_is_refused(client: TestClient, world: World) -> None:
    r = client.post(
        "/api/v1/me/tokens",
        json={"name": "short", "expires_in_days": 1},
        headers=world.auth(Role.EXPERT),
    )
    raw = r.json()["token"]
    with time_machine.travel(clock.now() + timedelta(days=1, minutes=1), tick=False):
        refused = client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})
    assert refused.status_code == 401
    assert refused.json()["code"] == "invalid_token"


def test_unknown_or_malformed_tokens_are_refused(client: TestClient, world: World) -> None:
    for value in ("mc_not-a-real-token", "abc", ""):
        r = client.get("/api/v1/me", headers={"Authorization": f"Bearer {value}"})
        assert r.status_code == 401
        assert r.json()["code"] == "invalid_token"


def test_token_bad_input(client: TestClient, world: World, session: Session) -> None:
    before = len(session.scalars(select(ApiToken)).all())
    for body in ({"name": ""}, {"name": "x", "expires_in_days": 0}, {"name": "x" * 101}):
        r = client.post("/api/v1/me/tokens", json=body, headers=world.auth(Role.EXPERT))
        assert r.status_code == 422
        assert r.json()["code"] == "validation_failed"
    assert len(session.scalars(select(ApiToken)).all()) == before


def test_cannot_revoke_someone_elses_token(
    client: TestClient, world: World, session: Session
) -> None:
    theirs = session.scalars(
        select(ApiToken).where(ApiToken.user_id == world.users[Role.AUDITOR].id)
    ).one()
    r = client.delete(f"/api/v1/me/tokens/{theirs.id}", headers=world.auth(Role.EXPERT))
    assert r.status_code == 404
    session.refresh(theirs)
    assert theirs.revoked_at is None
    assert client.get("/api/v1/me", headers=world.auth(Role.AUDITOR)).status_code == 200


def test_create_and_revoke_on_the_account_page(
    client: TestClient, world: World, session: Session, connection: Connection
) -> None:
    csrf = login(client, "expert")
    page = client.post(
        "/account/tokens", data={"csrf_token": csrf, "name": "laptop", "expires_in_days": "30"}
    )
    assert page.status_code == 200
    m = re.search(r'data-testid="new-token">(mc_[^<]+)<', page.text)
    assert m, "the secret is shown once"
    raw = m.group(1)
    assert not _stored_anywhere(connection, raw)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 200
    again = client.get("/account")
    assert raw not in again.text
    assert "laptop" in again.text
    tok = session.scalars(select(ApiToken).where(ApiToken.name == "laptop")).one()
    assert tok.expires_at is not None
    r = client.post(
        f"/account/tokens/{tok.id}/revoke",
        data={"csrf_token": csrf_of(again.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 401
    assert len(_events(session, "auth.token.create")) == 1
    assert len(_events(session, "auth.token.revoke")) == 1


def test_account_page_token_needs_a_name(
    client: TestClient, world: World, session: Session
) -> None:
    csrf = login(client, "expert")
    r = client.post("/account/tokens", data={"csrf_token": csrf, "name": "  "})
    assert r.status_code == 422
    assert 'id="name-error"' in r.text
    bad_days = client.post(
        "/account/tokens", data={"csrf_token": csrf, "name": "ci", "expires_in_days": "0"}
    )
    assert bad_days.status_code == 422
    assert 'id="expires_in_days-error"' in bad_days.text
    assert "Enter a number of days from 1 to 730." in bad_days.text
    assert 'value="ci"' in bad_days.text
    too_long = client.post("/account/tokens", data={"csrf_token": csrf, "name": "x" * 101})
    assert too_long.status_code == 422
    assert _events(session, "auth.token.create") == []
