from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from starlette.routing import Match

from medcircle.web.routing import QuickRouter, literal_heads


def test_literal_heads_keep_the_shortest_covering_starts() -> None:
    paths = ["/api/v1/referrals/{id}", "/api/v1/referrals", "/api/v1/icd10", "/status/{token}"]
    assert literal_heads(paths) == ("/status/", "/api/v1/icd10", "/api/v1/referrals")


def test_a_parameter_first_path_covers_everything() -> None:
    assert literal_heads(["/{anything}", "/api/v1/x"]) == ("/",)


@given(st.lists(st.from_regex(r"/[a-z]{1,4}(/\{[a-z]{1,3}\})?(/[a-z]{1,4})?", fullmatch=True)))
def test_every_path_starts_with_one_of_its_heads(paths: list[str]) -> None:
    heads = literal_heads(paths)
    for path in paths:
        assert path.split("{", 1)[0].startswith(heads)


def _app() -> tuple[FastAPI, QuickRouter]:
    router = QuickRouter(prefix="/api/v1")

    @router.get("/things/{thing_id}")
    def thing(thing_id: int) -> dict[str, int]:
        return {"id": thing_id}

    app = FastAPI()
    app.include_router(router)

    @app.get("/api/v1/other")
    def other() -> dict[str, str]:
        return {"other": "yes"}

    return app, router


def test_the_router_declines_paths_none_of_its_routes_can_match() -> None:
    _, router = _app()
    scope = {"type": "http", "path": "/api/v1/other", "root_path": "", "method": "GET"}
    assert router.matches(scope) == (Match.NONE, {})


def test_routes_behind_the_quick_test_match_as_before() -> None:
    app, _ = _app()
    with TestClient(app) as client:
        assert client.get("/api/v1/things/7").json() == {"id": 7}
        assert client.get("/api/v1/other").json() == {"other": "yes"}
        assert client.get("/api/v1/things/x").status_code == 422
        assert client.post("/api/v1/things/7").status_code == 405
        assert client.get("/api/v1/nothing").status_code == 404
