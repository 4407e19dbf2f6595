"""Browser harness: medcircle served by Uvicorn on a committed database of its own, driven by
Debian's Chromium through Playwright.

The server's database follows ``--db``: a temporary SQLite file, or a PostgreSQL database
created for the run. It is filled once with ``factories.small_world``; a test that needs more
data adds it with ``live_server.db()`` (committed) or ``live_server.new_user(...)``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from medcircle.config import Settings
from medcircle.db import make_engine, make_session_factory, unit_of_work
from medcircle.main import create_app
from tests import factories
from tests.browser.support import LiveServer, PageWatch
from tests.databases import own_database
from tests.live import serve

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# one limit for actions and assertions: a failing step fails in seconds, not after
# Playwright's default 30 s, and a loaded machine (tests in parallel) does not fail a good one
ACTION_TIMEOUT_MS = 10_000
expect.set_options(timeout=ACTION_TIMEOUT_MS)


def _chromium() -> str:
    """Debian's Chromium (``make browser`` installs it); Playwright never downloads one."""
    found = os.environ.get("MEDCIRCLE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(found).exists():
        pytest.fail(
            "Chromium is missing: run `make browser` (scripts/ensure-chromium.sh) or set "
            "MEDCIRCLE_CHROMIUM, or leave the browser tests out with -m 'not browser'",
            pytrace=False,
        )
    return found


@pytest.fixture(scope="session")
def live_database_url(db_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database for the live server only, apart from the rolled-back one of the other tests
    (the server needs committed data that its own connections can see)."""
    with own_database(db_backend, tmp_path_factory.mktemp("browser-db"), "live") as url:
        yield url


@pytest.fixture(scope="session")
def live_server(
    live_database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    fast_password_hashing: None,
) -> Iterator[LiveServer]:
    """medcircle on 127.0.0.1 (a free port), serving the small world."""
    engine = make_engine(live_database_url)
    session_factory = make_session_factory(engine)
    with unit_of_work(session_factory) as session:
        world = factories.small_world(session)

    settings = Settings(
        database_url=live_database_url,
        data_dir=tmp_path_factory.mktemp("browser-data"),
        secret_key="browser-test-secret-key-0123456789-abcdefghij",
    )
    app = create_app(settings, engine=engine)
    try:
        with serve(app) as (url, server, thread):
            app.state.settings = settings.model_copy(update={"base_url": url})
            yield LiveServer(
                url=url,
                database_url=live_database_url,
                world=world,
                engine=engine,
                server=server,
                thread=thread,
                session_factory=session_factory,
            )
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the whole run; each test gets a fresh context."""
    executable = _chromium()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def context(browser: Browser, live_server: LiveServer) -> Iterator[BrowserContext]:
    """A fresh browser profile (no cookies), in English, on a desktop-sized window."""
    ctx = browser.new_context(
        base_url=live_server.url,
        locale="en-US",
        viewport={"width": 1280, "height": 800},
    )
    ctx.set_default_timeout(ACTION_TIMEOUT_MS)
    yield ctx
    ctx.close()


@pytest.fixture
def watch(live_server: LiveServer) -> PageWatch:
    return PageWatch(origin=live_server.url)


_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Note whether the test itself failed, for the ``page`` fixture's screenshot."""
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


@pytest.fixture
def page(
    context: BrowserContext, watch: PageWatch, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Page]:
    """A page whose every request is watched. No page may call a host other than the
    server, and a failing test leaves a screenshot in its tmp_path."""
    pg = context.new_page()
    watch.attach(pg)
    yield pg
    if request.node.stash.get(_FAILED, False):
        shot = tmp_path / "failure.png"
        try:
            pg.screenshot(path=str(shot), full_page=True)
            print(f"screenshot of the failing page: {shot}")
        except PlaywrightError as exc:  # a crashed page: the test's own failure says more
            print(f"no screenshot of the failing page: {exc}")
    assert not watch.foreign_requests, f"requests to other hosts: {watch.foreign_requests}"
    assert not watch.page_errors, f"JavaScript errors: {watch.page_errors}"
