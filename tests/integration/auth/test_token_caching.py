"""Answers that carry a new API token's secret are never kept in a cache."""

from __future__ import annotations

from fastapi.testclient import TestClient

from medcircle.auth.domain import Role
from tests.factories import World, login


def test_account_page_with_new_token_is_not_cached(client: TestClient, world: World) -> None:
    csrf = login(client, "expert")
    page = client.post(
        "/account/tokens", data={"csrf_token": csrf, "name": "laptop", "expires_in_days": "30"}
    )
    assert page.status_code == 200
    assert 'data-testid="new-token">mc_' in page.text
    assert page.headers["cache-control"] == "no-store"


def test_api_token_creation_is_not_cached(client: TestClient, world: World) -> None:
    r = client.post(
        "/api/v1/me/tokens",
        json={"name": "script", "expires_in_days": 30},
        headers=world.auth(Role.EXPERT),
    )
    assert r.status_code == 201
    assert r.json()["token"].startswith("mc_")
    assert r.headers["cache-control"] == "no-store"
