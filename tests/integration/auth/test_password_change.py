"""Changing one's own password ends the user's other sessions and keeps the current one."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from medcircle.auth.domain import Role
from tests.factories import PASSWORD, World, login

NEW = "Baoding-wards-2026"


def test_password_change_ends_other_sessions(
    app: FastAPI, client: TestClient, world: World
) -> None:
    with TestClient(app) as laptop:
        login(laptop, "clinician")
        token = login(client, "clinician")
        r = client.post(
            "/account/password",
            data={
                "csrf_token": token,
                "current_password": PASSWORD,
                "new_password": NEW,
                "confirm_password": NEW,
            },
        )
        assert r.status_code == 200
        assert client.get("/", follow_redirects=False).status_code == 200
        assert laptop.get("/", follow_redirects=False).status_code == 303


def test_api_password_change_ends_page_sessions(client: TestClient, world: World) -> None:
    login(client, "expert")
    r = client.post(
        "/api/v1/me/password",
        json={"current_password": PASSWORD, "new_password": NEW},
        headers=world.auth(Role.EXPERT),
    )
    assert r.status_code == 204
    assert client.get("/", follow_redirects=False).status_code == 303
