"""Choosing the language with the header button."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from medcircle.auth.domain import Role
from medcircle.kit import i18n
from tests.browser.support import LiveServer, log_in

pytestmark = pytest.mark.browser


def zh(message: str) -> str:
    """The Simplified Chinese catalogue's text for ``message`` (what the page must show)."""
    text: str = i18n.translations("zh_Hans").ugettext(message)
    return text


def test_switching_to_chinese_translates_the_page_and_is_remembered(
    page: Page, live_server: LiveServer, browser: Browser
) -> None:
    user = live_server.new_user(Role.CLINICIAN, locale="en")
    log_in(page, live_server, user.username)
    html = page.locator("html")
    nav = page.get_by_role("navigation")
    expect(html).to_have_attribute("lang", "en")
    expect(nav.locator("a[href='/']")).to_have_text("Home")
    expect(page.get_by_test_id("logout")).to_have_text("Log out")

    page.get_by_test_id("switch-zh_Hans").click()

    expect(html).to_have_attribute("lang", "zh-Hans")
    expect(page).to_have_url(live_server.url_for("/"))
    expect(nav.locator("a[href='/']")).to_have_text(zh("Home"))
    expect(page.get_by_test_id("logout")).to_have_text(zh("Log out"))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        zh("Welcome, %(name)s") % {"name": user.display_name}
    )
    # the way back is offered in its own language
    expect(page.get_by_test_id("switch-en")).to_have_text("English")
    expect(page.get_by_test_id("switch-zh_Hans")).to_have_count(0)

    # the choice is saved on the account: another browser logging in gets Chinese
    other = browser.new_context(base_url=live_server.url, locale="en-US")
    try:
        second = other.new_page()
        log_in(second, live_server, user.username)
        expect(second.locator("html")).to_have_attribute("lang", "zh-Hans")
    finally:
        other.close()

    page.get_by_test_id("switch-en").click()
    expect(html).to_have_attribute("lang", "en")
    expect(nav.locator("a[href='/']")).to_have_text("Home")


def test_the_switch_keeps_the_page_and_its_query(page: Page, live_server: LiveServer) -> None:
    user = live_server.new_user(Role.EXPERT, institution=live_server.world.beijing)
    log_in(page, live_server, user.username)
    page.goto(live_server.url_for("/account?tab=tokens"))
    page.get_by_test_id("switch-zh_Hans").click()
    expect(page).to_have_url(live_server.url_for("/account?tab=tokens"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    expect(page.get_by_role("heading", level=1)).to_have_text(zh("Account"))


def test_anonymous_visitor_can_switch_the_login_page(page: Page, live_server: LiveServer) -> None:
    page.goto(live_server.url_for("/login"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_test_id("switch-zh_Hans").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    expect(page.get_by_role("heading", level=1)).to_have_text(zh("Log in to medcircle"))
    # remembered by a cookie for the next visit
    page.goto(live_server.url_for("/login"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
