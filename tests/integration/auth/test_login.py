from __future__ import annotations

from fastapi.testclient import TestClient

from medcircle.auth.domain import Role
from tests.factories import PASSWORD, World, csrf_of, login


def test_login_sets_httponly_samesite_cookie_and_shows_home(
    client: TestClient, world: World
) -> None:
    page = client.get("/login")
    r = client.post(
        "/login",
        data={
            "username": "clinician",
            "password": PASSWORD,
            "csrf_token": csrf_of(page.text),
            "next": "/",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    home = client.get("/")
    assert home.status_code == 200
    assert "User" in home.text


def test_home_redirects_to_login_when_anonymous(client: TestClient) -> None:
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login?next=%2F")


def test_api_me_with_token(client: TestClient, world: World) -> None:
    r = client.get("/api/v1/me", headers=world.auth(Role.AUDITOR))
    assert r.status_code == 200
    body = r.json()
    assert body["username"] == "auditor"
    assert "audit.read" in body["permissions"]


def test_api_without_token_is_problem_json(client: TestClient) -> None:
    r = client.get("/api/v1/me")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "unauthenticated"


def test_logout_needs_csrf(client: TestClient, world: World) -> None:
    token = login(client, "expert")
    bad = client.post("/logout", data={"csrf_token": "forged"}, follow_redirects=False)
    assert bad.status_code == 403
    ok = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert ok.status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 303
