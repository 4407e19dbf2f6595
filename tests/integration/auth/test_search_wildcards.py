"""A search for "_" or "%" finds those characters, not every user (LIKE wildcards escaped)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from medcircle.auth.domain import Role
from tests import factories
from tests.factories import World


def _usernames(client: TestClient, world: World, q: str) -> list[str]:
    r = client.get(
        "/api/v1/users",
        params={"q": q, "institution_id": world.baoding2.id},
        headers=world.auth(Role.PLATFORM_ADMIN),
    )
    assert r.status_code == 200, r.text
    return sorted(u["username"] for u in r.json()["items"])


def test_user_search_treats_underscore_and_percent_literally(
    client: TestClient, world: World, session: Session
) -> None:
    factories.user(session, world.baoding2, Role.CLINICIAN, username="dr_wang")
    factories.user(session, world.baoding2, Role.CLINICIAN, username="drxwang")
    factories.user(session, world.baoding2, Role.CLINICIAN, username="ward100%")
    session.commit()
    assert _usernames(client, world, "dr_") == ["dr_wang"]
    assert _usernames(client, world, "%") == ["ward100%"]
    assert _usernames(client, world, "wang") == ["dr_wang", "drxwang"]
