"""More concurrent requests than the pool has connections: every one is answered, none stalls.

A real server (uvicorn on loopback) with a pool of two connections serves 60 concurrent API
calls that all authenticate with tokens needing their "last used" refreshed, then page views;
before the admission limit and the separate finishing threads, such a load stalled the process
until the pool timed out."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from medcircle.audit.models import AuditEvent
from medcircle.auth.domain import Role
from medcircle.auth.models import ApiToken
from medcircle.config import Settings
from medcircle.db import make_engine, make_session_factory, unit_of_work
from medcircle.main import create_app
from tests import factories
from tests.databases import own_database
from tests.live import serve


@pytest.fixture
def small_pool_server(db_backend: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    with own_database(db_backend, tmp_path, "load") as url:
        yield from _serve_with_two_connections(url, tmp_path)


def _serve_with_two_connections(url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = make_engine(url, pool_size=2, max_overflow=0)
    with unit_of_work(make_session_factory(engine, writes=True)) as session:
        world = factories.small_world(session)
        tokens = dict(world.tokens)
    settings = Settings(
        database_url=url,
        data_dir=tmp_path / "data",
        db_pool_size=2,
        db_max_overflow=0,
        secret_key="load-test-secret-key-0123456789-abcdef",
    )
    app = create_app(settings, engine=engine)
    with serve(app) as (base, _server, _thread):
        yield base, tokens, engine
    engine.dispose()


def test_many_more_requests_than_connections(small_pool_server) -> None:  # type: ignore[no-untyped-def]
    base, tokens, engine = small_pool_server

    calls = [tokens[role] for _ in range(8) for role in Role]

    def call(token: str) -> int:
        # plain threads: another test in this process may hold a running event loop
        with httpx.Client(base_url=base, timeout=20) as client:
            return client.get(
                "/api/v1/me", headers={"Authorization": f"Bearer {token}"}
            ).status_code

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        statuses = list(pool.map(call, calls))
    assert statuses == [200] * len(statuses)
    with unit_of_work(make_session_factory(engine)) as session:
        used = session.scalars(select(ApiToken.last_used_at)).all()
    assert all(u is not None for u in used)  # activity was recorded, once per token


def test_concurrent_writes_and_hot_reads_are_all_answered(small_pool_server) -> None:  # type: ignore[no-untyped-def]
    """Writers queue for their turn (on SQLite in order, in the process) and worklist reads
    take the hot path (on SQLite the event loop's own connection) at the same time: every
    request is answered, every write is kept, every read is audited."""
    base, tokens, engine = small_pool_server
    clinician = {"Authorization": f"Bearer {tokens[Role.CLINICIAN]}"}
    writes, reads = 30, 30

    def write(i: int) -> int:
        with httpx.Client(base_url=base, timeout=30) as client:
            body = {"name": f"load {i}", "expires_in_days": 1}
            return client.post("/api/v1/me/tokens", json=body, headers=clinician).status_code

    def read(_: int) -> int:
        with httpx.Client(base_url=base, timeout=30) as client:
            path = "/api/v1/referrals/worklists/incoming"
            return client.get(path, headers=clinician).status_code

    with ThreadPoolExecutor(max_workers=writes + reads) as pool:
        wrote = pool.map(write, range(writes))
        read_ = pool.map(read, range(reads))
        statuses = list(wrote), list(read_)
    assert statuses == ([201] * writes, [200] * reads)
    with unit_of_work(make_session_factory(engine)) as session:
        names = session.scalars(select(ApiToken.name).where(ApiToken.name.like("load %"))).all()
        audited = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "referral.worklist")
        )
    assert sorted(names) == sorted(f"load {i}" for i in range(writes))
    assert audited == reads
