"""The pieces of the browser harness that tests use directly: the live server, a watch on
what a page loads, and logging in through the form."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import uvicorn
from playwright.sync_api import ConsoleMessage, Page, Request, Response, expect
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from medcircle.activity import service as activity
from medcircle.auth.domain import Actor, Role
from medcircle.auth.models import User
from medcircle.db import unit_of_work
from medcircle.registry.models import Institution
from tests import factories

# names of users made by tests, unique across the test process (the server's data is shared)
_user_seq = itertools.count(1)


@dataclass
class LiveServer:
    """medcircle served by Uvicorn in a background thread, on its own committed database."""

    url: str
    database_url: str
    world: factories.World
    engine: Engine
    server: uvicorn.Server
    thread: threading.Thread
    session_factory: sessionmaker[Session]

    def url_for(self, path: str) -> str:
        """The absolute URL of ``path`` on this server."""
        return self.url + path

    @contextmanager
    def db(self) -> Iterator[Session]:
        """A session on the server's database, committed when the block ends, so that the
        pages see what a test adds. Data outlives the test: give it unique names."""
        with unit_of_work(self.session_factory) as session:
            yield session

    def new_user(
        self, *roles: Role, institution: Institution | None = None, locale: str = "en"
    ) -> User:
        """A fresh user of its own (password ``factories.PASSWORD``), for a test that changes
        its user (language, tokens, failed log-ins) without touching the shared ones."""
        inst = institution or self.world.baoding
        username = f"browser{next(_user_seq)}"
        with self.db() as session:
            return factories.user(session, inst, *roles, username=username, locale=locale)


@dataclass
class PageWatch:
    """Everything a page asked for, failed to load or complained about."""

    origin: str
    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    bad_responses: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("request", self._on_request)
        page.on("requestfailed", self._on_failed)
        page.on("response", self._on_response)
        page.on("console", self._on_console)
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))

    def _on_request(self, request: Request) -> None:
        self.requests.append(request.url)

    def _on_failed(self, request: Request) -> None:
        # ERR_ABORTED is the browser cancelling a request itself (the user went on to another
        # page before, say, the favicon arrived), not the server or the network failing
        if request.failure and "ERR_ABORTED" in request.failure:
            return
        self.failed.append(f"{request.method} {request.url}: {request.failure}")

    def _on_response(self, response: Response) -> None:
        if response.status >= 400:
            self.bad_responses.append(f"{response.status} {response.url}")

    def clear(self) -> None:
        """Forget what was seen so far (e.g. before loading the page under test)."""
        for seen in (
            self.requests,
            self.failed,
            self.bad_responses,
            self.console_errors,
            self.page_errors,
        ):
            seen.clear()

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(f"{message.text} ({message.location.get('url', '')})")

    @property
    def foreign_requests(self) -> list[str]:
        """Requests to any other host: the pages must work without third-party calls."""
        here = urlsplit(self.origin)
        return [
            url
            for url in self.requests
            if urlsplit(url).scheme in ("http", "https", "ws", "wss")
            and urlsplit(url).hostname != here.hostname
        ]


def log_in(
    page: Page, server: LiveServer, username: str, password: str = factories.PASSWORD
) -> None:
    """Log in through the form, as a person would, starting from the home page."""
    page.goto(server.url_for("/"))
    # by id, not label, so that the helper works in either language
    page.locator("#username").fill(username)
    page.locator("#password").fill(password)
    page.locator("form[action='/login'] button[type=submit]").click()
    # expect (not wait_for_url) so that a failure reports the page it stayed on
    expect(page).to_have_url(server.url_for("/"))


def import_activity(live_server: LiveServer, path: Path, today: date) -> None:
    """Import an activity file into the live server's database, as a platform administrator
    (the same records every run: a second import changes nothing)."""
    admin = Actor(
        user_id=0, username="setup", institution_id=0, roles=frozenset({Role.PLATFORM_ADMIN})
    )
    with live_server.db() as session:
        done = activity.import_file(session, admin, path, today=today)
        assert done.status == "imported"
