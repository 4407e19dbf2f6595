"""The inbox in a real browser: the unread badge, marking read, opening a message's link,
marking all read, the empty state, and the messages in the reader's language."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from medcircle.auth.domain import Role
from medcircle.notifications.service import notify
from tests.browser.support import LiveServer, log_in

pytestmark = pytest.mark.browser

TERMINATED = "This agreement was already terminated on %(day)s."
TERMINATED_EN = "This agreement was already terminated on 2026-11-20."
TERMINATED_ZH = "此协议已于 2026-11-20 终止。"


def test_reading_the_inbox(page: Page, live_server: LiveServer) -> None:
    user = live_server.new_user(Role.CLINICIAN)
    with live_server.db() as session:
        for day, link in (("2026-11-18", "/account"), ("2026-11-19", None), ("2026-11-20", None)):
            notify(session, [user.id], "test.event", TERMINATED, {"day": day}, link=link)
    log_in(page, live_server, user.username)
    expect(page.get_by_test_id("unread-count")).to_have_text("3")

    page.get_by_test_id("inbox-link").click()
    expect(page).to_have_url(live_server.url_for("/inbox"))
    rows = page.get_by_test_id("notification")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text(TERMINATED_EN)
    expect(page.get_by_test_id("unread-marker")).to_have_count(3)

    # mark one read: the badge follows
    rows.filter(has_text="2026-11-20").get_by_test_id("mark-read").click()
    expect(page.get_by_test_id("unread-count")).to_have_text("2")
    expect(page.get_by_test_id("unread-marker")).to_have_count(2)

    # open a message: it is marked read and its link is followed
    rows.filter(has_text="2026-11-18").get_by_test_id("open").click()
    expect(page).to_have_url(live_server.url_for("/account"))
    expect(page.get_by_test_id("unread-count")).to_have_text("1")

    page.get_by_test_id("inbox-link").click()
    page.get_by_test_id("read-all").click()
    expect(page.get_by_text("Every message is marked read.")).to_be_visible()
    expect(page.get_by_test_id("unread-count")).to_have_count(0)
    expect(page.get_by_test_id("unread-marker")).to_have_count(0)
    page.get_by_test_id("show-unread").click()
    expect(page.get_by_test_id("inbox-empty")).to_contain_text("No unread messages.")


def test_the_inbox_speaks_the_readers_language(page: Page, live_server: LiveServer) -> None:
    user = live_server.new_user(Role.EXPERT, institution=live_server.world.beijing)
    with live_server.db() as session:
        notify(session, [user.id], "test.event", TERMINATED, {"day": "2026-11-20"})
    log_in(page, live_server, user.username)
    page.goto(live_server.url_for("/inbox"))
    expect(page.get_by_test_id("notification")).to_contain_text(TERMINATED_EN)
    page.get_by_test_id("switch-zh_Hans").click()
    expect(page).to_have_url(live_server.url_for("/inbox"))
    expect(page.get_by_test_id("notification")).to_contain_text(TERMINATED_ZH)
    expect(page.get_by_test_id("read-all")).to_have_text("全部标为已读")
