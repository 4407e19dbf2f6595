"""The account page: personal API tokens."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from medcircle.auth.domain import Role
from tests.browser.support import LiveServer, log_in

pytestmark = pytest.mark.browser


def test_new_api_token_is_shown_once_and_works_against_the_api(
    page: Page, live_server: LiveServer
) -> None:
    user = live_server.new_user(Role.INSTITUTION_ADMIN)
    log_in(page, live_server, user.username)
    page.get_by_role("link", name=user.display_name).click()
    expect(page).to_have_url(live_server.url_for("/account"))
    tokens = page.locator("#tokens")
    expect(tokens.get_by_role("cell", name="No tokens yet.")).to_be_visible()

    tokens.get_by_label("Token name").fill("Hospital information system")
    tokens.get_by_label("Valid for (days)").fill("30")
    tokens.get_by_role("button", name="Create token").click()

    secret = page.get_by_test_id("new-token")
    expect(secret).to_be_visible()
    raw = secret.inner_text().strip()
    assert raw.startswith("mc_")
    expect(tokens.get_by_role("status")).to_contain_text(
        "Your new token “Hospital information system”. Copy it now"
    )
    row = tokens.get_by_role("row").filter(has_text="Hospital information system")
    expect(row).to_have_count(1)
    expect(row.locator("code")).to_have_text(raw[:10] + "…")

    me = httpx.get(
        live_server.url_for("/api/v1/me"), headers={"Authorization": f"Bearer {raw}"}, timeout=5
    )
    assert me.status_code == 200, me.text
    assert me.json()["username"] == user.username

    # shown once: the account page never shows the secret again
    page.goto(live_server.url_for("/account"))
    expect(page.get_by_test_id("new-token")).to_have_count(0)
    assert raw not in page.content()
    expect(row).to_have_count(1)


def test_revoked_token_stops_working(page: Page, live_server: LiveServer) -> None:
    user = live_server.new_user(Role.EXPERT, institution=live_server.world.beijing)
    log_in(page, live_server, user.username)
    page.goto(live_server.url_for("/account"))
    page.get_by_label("Token name").fill("Script")
    page.get_by_role("button", name="Create token").click()
    raw = page.get_by_test_id("new-token").inner_text().strip()

    row = page.locator("#tokens").get_by_role("row").filter(has_text="Script")
    row.get_by_role("button", name="Revoke").click()
    expect(page).to_have_url(live_server.url_for("/account"))
    expect(row.get_by_text("Revoked")).to_be_visible()

    me = httpx.get(
        live_server.url_for("/api/v1/me"), headers={"Authorization": f"Bearer {raw}"}, timeout=5
    )
    assert me.status_code == 401
    assert me.json()["code"] == "invalid_token"


def test_token_without_a_name_is_refused_next_to_the_field(
    page: Page, live_server: LiveServer
) -> None:
    user = live_server.new_user(Role.CLINICIAN)
    log_in(page, live_server, user.username)
    page.goto(live_server.url_for("/account"))
    name = page.get_by_label("Token name")
    # spaces pass the browser's own required check, so the server must answer
    name.fill("   ")
    page.get_by_role("button", name="Create token").click()
    expect(name).to_have_attribute("aria-invalid", "true")
    error = page.locator("#" + str(name.get_attribute("aria-describedby")))
    expect(error).to_be_visible()
    expect(error).to_contain_text("Give the token a name")
    expect(page.get_by_test_id("new-token")).to_have_count(0)
    expect(page.locator("#tokens").get_by_role("cell", name="No tokens yet.")).to_be_visible()
