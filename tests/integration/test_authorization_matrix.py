"""Every JSON API route, called as each role and anonymously: never a 5xx, anonymous gets
401, a valid token never gets 401, and the routes whose answer per role matters answer as
declared below. Routes are enumerated from the app, so new endpoints are covered as they land.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import Integer, func, select
from sqlalchemy.orm import Session

from medcircle.auth.domain import Role
from medcircle.auth.models import ApiToken
from medcircle.models import Base
from medcircle.pools.models import PoolMember, ResourcePool
from tests import factories, pool_factories
from tests.factories import World

MISSING_ID = 999999
PUBLIC = {("GET", "/api/v1/ping")}
# public too: the family's status link, where a made-up token is simply not found
PUBLIC_NOT_FOUND = {("GET", "/api/v1/status/{token}"), ("GET", "/api/v1/pool-status/{token}")}
EVERYONE = frozenset(Role)
ALL_BUT_AUDITOR = EVERYONE - {Role.AUDITOR}
TRAIL_READERS = frozenset({Role.AUDITOR, Role.PLATFORM_ADMIN})
USER_ADMINS = frozenset({Role.PLATFORM_ADMIN, Role.INSTITUTION_ADMIN})
# those with POOL_READ (the pool of the matrix has every institution of the world as member)
POOL_READERS = frozenset(
    {Role.PLATFORM_ADMIN, Role.INSTITUTION_ADMIN, Role.EXPERT, Role.CLINICIAN, Role.COORDINATOR}
)


@dataclass(frozen=True)
class Expect:
    """Roles that succeed; every other role gets ``otherwise``."""

    allowed: frozenset[Role]
    otherwise: int = 403
    body: Any = None  # a valid body, so the answer depends on the role alone


def _new_user(world: World) -> dict[str, Any]:
    return {
        "username": "matrix.newcomer",
        "display_name": "Newcomer",
        "password": "Varied-Password-77",
        "institution_id": world.baoding.id,  # the institution admin's own
        "roles": ["clinician"],
    }


EXPECTATIONS: dict[tuple[str, str], Expect] = {
    ("GET", "/api/v1/me"): Expect(EVERYONE),
    ("GET", "/api/v1/me/tokens"): Expect(EVERYONE),
    ("POST", "/api/v1/me/tokens"): Expect(EVERYONE, body={"name": "matrix"}),
    ("GET", "/api/v1/audit-events"): Expect(TRAIL_READERS),
    ("GET", "/api/v1/audit-events.csv"): Expect(TRAIL_READERS),
    ("GET", "/api/v1/users"): Expect(USER_ADMINS),
    ("POST", "/api/v1/users"): Expect(USER_ADMINS, body=_new_user),
    # the clinician of Baoding A: their own record, or their administrators'
    ("GET", "/api/v1/users/{user_id}"): Expect(USER_ADMINS | {Role.CLINICIAN}, otherwise=404),
    ("PATCH", "/api/v1/users/{user_id}"): Expect(
        USER_ADMINS, otherwise=404, body={"display_name": "Dr Li"}
    ),
    ("GET", "/api/v1/institutions"): Expect(EVERYONE),
    ("GET", "/api/v1/institutions/{institution_id}"): Expect(EVERYONE),
    ("GET", "/api/v1/agreements"): Expect(ALL_BUT_AUDITOR),
    ("GET", "/api/v1/framework-agreements"): Expect(ALL_BUT_AUDITOR),
    # dispatch set-up: everyone but the auditor reads their institution's
    ("GET", "/api/v1/dispatch/demand"): Expect(ALL_BUT_AUDITOR),
    ("GET", "/api/v1/dispatch/experts"): Expect(ALL_BUT_AUDITOR),
    ("GET", "/api/v1/dispatch/travel"): Expect(ALL_BUT_AUDITOR),
    ("GET", "/api/v1/dispatch/plans"): Expect(ALL_BUT_AUDITOR),
    ("GET", "/api/v1/dispatch/map"): Expect(ALL_BUT_AUDITOR),
    ("GET", "/api/v1/visits"): Expect(ALL_BUT_AUDITOR),
    ("GET", "/api/v1/visit-measures"): Expect(ALL_BUT_AUDITOR),
    ("GET", "/api/v1/visit-measures.csv"): Expect(ALL_BUT_AUDITOR),
    # activity imports: the hospital office (its own) and the platform administrator
    ("GET", "/api/v1/activity/imports"): Expect(
        frozenset({Role.PLATFORM_ADMIN, Role.INSTITUTION_ADMIN})
    ),
    # the indicators' catalogue answers everyone with those they may compute (maybe none)
    ("GET", "/api/v1/kpis"): Expect(EVERYONE),
    # pools: their members' staff with POOL_READ; to the rest a pool does not exist
    ("GET", "/api/v1/pools"): Expect(POOL_READERS),
    ("GET", "/api/v1/pools/{pool_id:int}"): Expect(POOL_READERS, otherwise=404),
    ("GET", "/api/v1/pools/{pool_id:int}/units"): Expect(POOL_READERS, otherwise=404),
    ("GET", "/api/v1/pools/{pool_id:int}/waitlist"): Expect(POOL_READERS, otherwise=404),
    ("GET", "/api/v1/pools/{pool_id:int}/decisions"): Expect(POOL_READERS, otherwise=404),
    ("GET", "/api/v1/pools/{pool_id:int}/figures"): Expect(POOL_READERS, otherwise=404),
}


@dataclass(frozen=True, eq=False)
class Endpoint:
    method: str
    path: str  # as mounted, with the /api/v1 prefix
    route: APIRoute


def _mounted(app: FastAPI) -> Iterator[tuple[str, set[str], APIRoute]]:
    """(full path, methods, route) of every APIRoute, including those of included routers
    (which newer FastAPI versions keep inside lazily-resolved router entries)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: included routes are flattened into app.routes
        for r in app.routes:
            if isinstance(r, APIRoute):
                yield r.path, set(r.methods), r
        return
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        if isinstance(route, APIRoute) and ctx.path is not None:
            yield ctx.path, set(ctx.methods or route.methods), route


def api_routes(app: FastAPI) -> list[Endpoint]:
    """Every JSON API endpoint and method: reads first, deletes last."""
    order = {"GET": 0, "POST": 1, "PUT": 2, "PATCH": 2, "DELETE": 3}
    found = {
        (method, path): Endpoint(method, path, route)
        for path, methods, route in _mounted(app)
        if path.startswith("/api/v1")
        for method in methods
        if method != "HEAD"
    }
    return sorted(found.values(), key=lambda e: (order.get(e.method, 9), e.path, e.method))


def _table_for(param: str) -> str | None:
    """The table a ``<thing>_id`` path parameter most likely points into."""
    stem = param.removesuffix("_id")
    names = [
        n
        for n, t in Base.metadata.tables.items()
        if "id" in t.c and isinstance(t.c.id.type, Integer)
    ]
    for candidate in (
        [n for n in names if n == stem],
        [n for n in names if n.endswith("_" + stem)],
        [n for n in names if n.startswith(stem + "_")],
    ):
        if candidate:
            return sorted(candidate, key=len)[0]
    return None


@dataclass
class Ids:
    known: dict[str, object]

    def fill(self, session: Session, endpoint: Endpoint) -> str:
        path = endpoint.path
        for param in endpoint.route.dependant.path_params:
            value = self.known.get(param.name)
            if value is None and param.name.endswith("_id"):
                table = _table_for(param.name)
                if table is not None:
                    col = Base.metadata.tables[table].c.id
                    value = session.scalar(select(func.min(col)))
            # "{name}" or, with a convertor, "{name:int}"
            path = re.sub(
                r"\{" + re.escape(param.name) + r"(:[^}]*)?\}", str(value or MISSING_ID), path
            )
        return re.sub(r"\{[^}]+\}", str(MISSING_ID), path)


def _pool(session: Session, world: World) -> ResourcePool:
    """A pool led by Beijing A with every institution of the world as member."""
    pool = ResourcePool(
        code="matrix",
        name_zh="层流仓",
        name_en="Cleanrooms",
        kind="cleanroom",
        lead_institution_id=world.beijing.id,
        policy={},
        pooled_since=date(2020, 1, 1),
        created_at=factories.now(),
        updated_at=factories.now(),
    )
    session.add(pool)
    session.flush()
    for inst in (world.beijing, world.beijing2, world.baoding, world.baoding2):
        session.add(PoolMember(pool_id=pool.id, institution_id=inst.id, joined_on=date(2020, 1, 1)))
    session.flush()
    return pool


@pytest.fixture
def ids(world: World, session: Session) -> Ids:
    """Existing objects of every kind the API addresses, so routes answer about real rows."""
    from tests import agreement_factories as af
    from tests import registry_factories as rf

    # a token of someone else: revoking it must be refused to everyone in the matrix
    stranger = factories.user(session, world.beijing2, Role.EXPERT, username="stranger")
    factories.api_token(session, stranger)
    framework = af.framework(session)
    pairing = af.agreement(session, world.beijing, world.baoding, framework_id=framework.id)
    goal = af.goal(session, pairing, due_on=date(2026, 1, 1))
    alliance = rf.alliance(session, world.baoding)
    member = rf.member(session, alliance, world.baoding2)
    centre = rf.centre(session, alliance, world.baoding)
    department = rf.department(session, world.baoding)
    practitioner = rf.practitioner(session, world.beijing)
    pool = _pool(session, world)
    unit = pool_factories.unit(session, pool, world.baoding, "M-100-1")
    session.commit()
    token_id = session.scalar(select(ApiToken.id).where(ApiToken.user_id == stranger.id))
    return Ids(
        {
            "user_id": world.users[Role.CLINICIAN].id,
            "institution_id": world.baoding.id,
            "token_id": token_id,
            "framework_id": framework.id,
            "agreement_id": pairing.id,
            "goal_id": goal.id,
            "alliance_id": alliance.id,
            "member_id": member.id,
            "centre_id": centre.id,
            "department_id": department.id,
            "practitioner_id": practitioner.id,
            "pool_id": pool.id,
            "unit_id": unit.id,
        }
    )


@pytest.fixture
def api(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _call(client: TestClient, method: str, path: str, headers: dict[str, str], body: Any) -> int:
    kwargs: dict[str, Any] = {"headers": headers}
    if method in ("POST", "PUT", "PATCH"):
        kwargs["json"] = {} if body is None else body
    return client.request(method, path, **kwargs).status_code


def test_the_matrix_covers_the_api(app: FastAPI) -> None:
    routes = {(e.method, e.path) for e in api_routes(app)}
    assert len(routes) >= 12
    missing = set(EXPECTATIONS) - routes
    assert not missing, f"declared expectations for routes the app lacks: {missing}"


def test_anonymous_gets_401_everywhere(
    api: TestClient, app: FastAPI, ids: Ids, session: Session
) -> None:
    problems = []
    for e in api_routes(app):
        status = _call(api, e.method, ids.fill(session, e), {}, None)
        expected = 200 if (e.method, e.path) in PUBLIC else 401
        if (e.method, e.path) in PUBLIC_NOT_FOUND:
            expected = 404
        if status != expected:
            problems.append(f"{e.method} {e.path} -> {status}, expected {expected}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_each_role_on_every_route(
    api: TestClient, app: FastAPI, world: World, ids: Ids, session: Session, role: Role
) -> None:
    problems = []
    for e in api_routes(app):
        expect = EXPECTATIONS.get((e.method, e.path))
        body = expect.body if expect else None
        if callable(body):
            body = body(world)
        status = _call(api, e.method, ids.fill(session, e), world.auth(role), body)
        where = f"{e.method} {e.path} as {role.value} -> {status}"
        if status >= 500:
            problems.append(f"{where}: server error")
        elif status == 401:
            problems.append(f"{where}: a valid token was refused")
        elif expect is not None:
            ok = role in expect.allowed
            if ok and not 200 <= status < 300:
                problems.append(f"{where}, expected success")
            if not ok and status != expect.otherwise:
                problems.append(f"{where}, expected {expect.otherwise}")
        elif status not in (200, 201, 204, 400, 403, 404, 409, 413, 415, 422, 423):
            problems.append(f"{where}: unexpected status")
    assert not problems, "\n".join(problems)
