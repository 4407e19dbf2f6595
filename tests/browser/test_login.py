"""Logging in and out through the real pages."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from medcircle.auth.domain import Role
from tests.browser.support import LiveServer, log_in
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


def test_clinician_logs_in_through_the_form_and_lands_on_home(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    clinician = live_server.world.users[Role.CLINICIAN]
    page.goto(live_server.url_for("/"))
    # anonymous: sent to the login form, which remembers where to come back to
    expect(page).to_have_url(live_server.url_for("/login?next=%2F"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in to medcircle")
    expect(page.get_by_label("User name")).to_be_focused()
    page.screenshot(path=str(tmp_path / "login.png"), full_page=True)

    page.get_by_label("User name").fill(clinician.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    expect(page).to_have_url(live_server.url_for("/"))
    expect(page).to_have_title("Home · medcircle")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Welcome, {clinician.display_name}")
    expect(page.locator("main .badge")).to_have_text(["Clinician"])
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Home")).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("link", name=clinician.display_name)).to_have_attribute(
        "href", "/account"
    )
    page.screenshot(path=str(tmp_path / "home.png"), full_page=True)


def test_login_returns_to_the_page_asked_for(page: Page, live_server: LiveServer) -> None:
    page.goto(live_server.url_for("/account"))
    expect(page).to_have_url(live_server.url_for("/login?next=%2Faccount"))
    page.get_by_label("User name").fill(live_server.world.users[Role.EXPERT].username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(live_server.url_for("/account"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Account")


def test_wrong_password_shows_the_error_on_the_form(page: Page, live_server: LiveServer) -> None:
    user = live_server.new_user(Role.CLINICIAN)
    page.goto(live_server.url_for("/login"))
    page.get_by_label("User name").fill(user.username)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()

    error = page.get_by_role("alert")
    expect(error).to_have_text(
        "The user name or password is wrong. 4 attempts left before a lock-out."
    )
    expect(page).to_have_url(live_server.url_for("/login"))
    # the user name is kept, the password is not sent back
    expect(page.get_by_label("User name")).to_have_value(user.username)
    expect(page.get_by_label("Password")).to_have_value("")
    # not logged in: the home page still sends to the form
    page.goto(live_server.url_for("/"))
    expect(page).to_have_url(live_server.url_for("/login?next=%2F"))


def test_empty_form_asks_for_user_name_and_password(page: Page, live_server: LiveServer) -> None:
    page.goto(live_server.url_for("/login"))
    # the browser itself refuses to send the form with empty required fields
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_label("User name")).to_have_js_property("validity.valueMissing", True)
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(page).to_have_url(live_server.url_for("/login"))


def test_log_out_ends_the_session(page: Page, live_server: LiveServer) -> None:
    log_in(page, live_server, live_server.world.users[Role.EXPERT].username)
    page.get_by_role("button", name="Log out").click()

    expect(page).to_have_url(live_server.url_for("/login"))
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
    # the old session does not come back with the browser's history
    page.goto(live_server.url_for("/"))
    expect(page).to_have_url(live_server.url_for("/login?next=%2F"))


def test_demo_banner_is_not_shown_on_a_database_without_the_demo_world(
    page: Page, live_server: LiveServer
) -> None:
    page.goto(live_server.url_for("/login"))
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.get_by_test_id("demo-banner")).to_have_count(0)
    log_in(page, live_server, live_server.world.users[Role.AUDITOR].username)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Welcome")
    expect(page.get_by_test_id("demo-banner")).to_have_count(0)
    expect(page.get_by_text("Demo deployment")).to_have_count(0)


def test_the_page_after_a_form_sees_what_the_form_wrote(
    page: Page, live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A redirect after a POST must not overtake the POST's commit: the request commits
    before its response leaves. Slow commits on the server make any race certain."""
    original = Session.commit

    def slow_commit(self: Session) -> None:
        # the server's requests run in worker threads; the test's own sessions do not
        if threading.current_thread() is not threading.main_thread():
            time.sleep(0.25)
        original(self)

    monkeypatch.setattr(Session, "commit", slow_commit)
    user = live_server.new_user(Role.CLINICIAN)
    log_in(page, live_server, user.username)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Welcome")
