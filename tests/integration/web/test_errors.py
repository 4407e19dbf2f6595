"""The web edge: problem+json for every API error, readable pages, limits and headers."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medcircle.auth.domain import Role
from medcircle.auth.models import ApiToken
from medcircle.config import Settings
from medcircle.main import NODE_MODULES, create_app
from tests import factories
from tests.factories import World, login

PROBLEM = "application/problem+json"


def _problem(r, status: int, code: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body = r.json()
    assert body["status"] == status and body["code"] == code
    assert body["type"].endswith("/" + code)
    assert body["title"]
    assert "Traceback" not in r.text
    return body  # type: ignore[no-any-return]


def _tokens(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(ApiToken)) or 0


def test_ping(client: TestClient) -> None:
    r = client.get("/api/v1/ping")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


def test_malformed_json(client: TestClient, world: World, session: Session) -> None:
    before = _tokens(session)
    for language, title in (
        ("en", "The request body is not valid JSON"),
        ("zh-CN", "请求正文不是有效的 JSON"),
    ):
        r = client.post(
            "/api/v1/me/tokens",
            content=b'{"name": "x",',
            headers={
                **world.auth(Role.EXPERT),
                "content-type": "application/json",
                "Accept-Language": language,
            },
        )
        body = _problem(r, 400, "malformed_json")
        assert body["title"] == title
    assert _tokens(session) == before


def test_schema_violation_lists_each_field(client: TestClient, world: World) -> None:
    r = client.post(
        "/api/v1/users",
        json={"username": "a", "display_name": "", "institution_id": "x", "roles": ["king"]},
        headers=world.auth(Role.PLATFORM_ADMIN),
    )
    body = _problem(r, 422, "validation_failed")
    fields = {e["field"] for e in body["errors"]}
    assert {"username", "display_name", "password", "institution_id", "roles.0"} <= fields
    assert all(e["message"] and e["code"] for e in body["errors"])


def test_domain_validation_has_field_errors(client: TestClient, world: World) -> None:
    r = client.post(
        "/api/v1/users",
        json={
            "username": "weakling",
            "display_name": "W",
            "password": "aaaaaaaaaaaa",
            "institution_id": world.baoding.id,
            "roles": ["clinician"],
        },
        headers=world.auth(Role.PLATFORM_ADMIN),
    )
    body = _problem(r, 422, "validation_failed")
    assert body["errors"] == [
        {
            "field": "password",
            "message": "Use more varied characters.",
            "code": "password_too_plain",
        }
    ]


def test_unknown_api_route_is_a_404_problem(client: TestClient) -> None:
    body = _problem(client.get("/api/v1/no-such-thing"), 404, "not_found")
    assert body["instance"] == "/api/v1/no-such-thing"


def test_wrong_method_is_a_405_problem(client: TestClient) -> None:
    _problem(client.put("/api/v1/ping"), 405, "method_not_allowed")


def test_unknown_page_is_a_readable_404(client: TestClient) -> None:
    r = client.get("/no-such-page", headers={"Accept-Language": "en"})
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "Not found" in r.text and "Back to the home page" in r.text


@pytest.mark.parametrize(
    ("language", "unauthenticated", "not_found"),
    [("en-GB,en;q=0.9", "Please log in", "Not found"), ("zh-CN,zh;q=0.9", "请登录", "未找到")],
)
def test_errors_speak_the_browsers_language(
    client: TestClient, language: str, unauthenticated: str, not_found: str
) -> None:
    h = {"Accept-Language": language}
    assert client.get("/api/v1/me", headers=h).json()["title"] == unauthenticated
    assert client.get("/api/v1/nothing", headers=h).json()["title"] == not_found


def test_errors_speak_the_users_language(
    client: TestClient, world: World, session: Session
) -> None:
    zh = factories.user(session, world.baoding, Role.CLINICIAN, locale="zh_Hans")
    token = factories.api_token(session, zh)
    session.commit()
    auth = {"Authorization": f"Bearer {token}", "Accept-Language": "en"}
    r = client.post("/api/v1/me/tokens", json={"name": ""}, headers=auth)
    assert _problem(r, 422, "validation_failed")["title"] == "部分字段需要修改"
    r = client.get("/api/v1/audit-events", headers=auth)
    assert _problem(r, 403, "forbidden")["title"] == "您没有执行此操作的权限"
    en = client.get("/api/v1/audit-events", headers=world.auth(Role.CLINICIAN))
    assert en.json()["title"] == "You do not have permission to do this"


def _small_app(settings: Settings, engine, session_factory) -> FastAPI:  # type: ignore[no-untyped-def]
    small = settings.model_copy(update={"max_upload_bytes": 4096})
    return create_app(small, engine=engine, session_factory=session_factory)


def test_oversized_body_with_content_length(
    settings: Settings,
    engine,
    session_factory,
    world: World,
    session: Session,  # type: ignore[no-untyped-def]
) -> None:
    before = _tokens(session)
    with TestClient(_small_app(settings, engine, session_factory)) as c:
        r = c.post(
            "/api/v1/me/tokens",
            content=b'{"name": "' + b"x" * 5000 + b'"}',
            headers={
                **world.auth(Role.EXPERT),
                "content-type": "application/json",
                "Accept-Language": "en",
            },
        )
        body = _problem(r, 413, "payload_too_large")
        assert body["title"] == "The upload is too large"
        assert "MB" in body["detail"]
        small = c.post("/api/v1/me/tokens", json={"name": "fits"}, headers=world.auth(Role.EXPERT))
        assert small.status_code == 201
    assert _tokens(session) == before + 1


def test_oversized_body_without_content_length(
    settings: Settings,
    engine,
    session_factory,
    world: World,
    session: Session,  # type: ignore[no-untyped-def]
) -> None:
    before = _tokens(session)

    def chunks() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}'

    with TestClient(_small_app(settings, engine, session_factory)) as c:
        r = c.post(
            "/api/v1/me/tokens",
            content=chunks(),
            headers={
                **world.auth(Role.EXPERT),
                "content-type": "application/json",
                "Accept-Language": "zh-CN",
            },
        )
        assert "content-length" not in r.request.headers
        body = _problem(r, 413, "payload_too_large")
        assert body["title"] == "上传的内容过大"
    assert _tokens(session) == before


def test_default_upload_limit_is_20_mb() -> None:
    assert Settings().max_upload_bytes == 20 * 1024 * 1024


@pytest.fixture
def boom_client(app: FastAPI) -> Iterator[TestClient]:
    def boom() -> None:
        raise RuntimeError("secret internals 110105199001011234")

    app.add_api_route("/api/v1/boom", boom, methods=["GET"])
    app.add_api_route("/boom", boom, methods=["GET"])
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_unexpected_error_is_a_500_problem_without_trace(
    boom_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="medcircle.web"):
        r = boom_client.get("/api/v1/boom", headers={"Accept-Language": "en"})
    body = _problem(r, 500, "internal_error")
    assert "secret internals" not in r.text
    assert body["title"] == "Something went wrong on our side. The error has been logged."
    # the log has the trace for operators, with the ID number masked
    assert "RuntimeError: secret internals 110105********1234" in caplog.text
    assert "110105199001011234" not in caplog.text


def test_unexpected_error_on_a_page_shows_no_trace(boom_client: TestClient) -> None:
    r = boom_client.get("/boom", headers={"Accept": "text/html"})
    assert r.status_code == 500
    assert r.headers["content-type"].startswith("text/html")
    assert "Traceback" not in r.text and "secret internals" not in r.text
    assert "RuntimeError" not in r.text


def test_page_errors_are_pages_and_htmx_errors_are_fragments(
    client: TestClient, world: World
) -> None:
    login(client, "clinician")
    page = client.get("/audit")
    assert page.status_code == 403
    assert "<html" in page.text and "You do not have permission to do this" in page.text
    fragment = client.get("/audit", headers={"HX-Request": "true"})
    assert fragment.status_code == 403
    assert "<html" not in fragment.text
    assert fragment.headers["HX-Retarget"] == "#flash"


@pytest.mark.parametrize("path", ["/login", "/api/v1/ping", "/api/v1/me", "/static/app.css"])
def test_security_headers(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "same-origin"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert "default-src 'self'" in r.headers["content-security-policy"]


def test_docs_load_swagger_from_vendor(client: TestClient) -> None:
    r = client.get("/docs")
    assert r.status_code == 200
    assert "/vendor/swagger-ui-dist/swagger-ui-bundle.js" in r.text
    assert "cdn" not in r.text.lower()
    spec = client.get("/api/v1/openapi.json")
    assert spec.status_code == 200
    assert "/api/v1/me/tokens" in spec.json()["paths"]
    if (NODE_MODULES / "swagger-ui-dist").is_dir():
        js = client.get("/vendor/swagger-ui-dist/swagger-ui-bundle.js")
        assert js.status_code == 200
