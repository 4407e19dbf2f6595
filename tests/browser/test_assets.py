"""What the pages load: htmx and Swagger UI from this server, nothing from anywhere else."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from medcircle.auth.domain import Role
from tests.browser.support import LiveServer, PageWatch, log_in

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("path", ["/", "/account"])
def test_pages_load_htmx_from_this_server_without_errors(
    page: Page, live_server: LiveServer, watch: PageWatch, path: str
) -> None:
    log_in(page, live_server, live_server.world.users[Role.COORDINATOR].username)
    watch.clear()
    page.goto(live_server.url_for(path))
    page.wait_for_load_state("networkidle")

    assert page.evaluate("typeof window.htmx") == "object"
    assert page.evaluate("typeof window.htmx.ajax") == "function"
    # htmx sends the session's CSRF token with every request it makes
    hx_headers = page.locator("body").get_attribute("hx-headers")
    assert hx_headers and '"X-CSRF-Token"' in hx_headers
    assert any("/vendor/htmx.org/" in u for u in watch.requests)
    assert any(u.endswith("/static/app.css") for u in watch.requests)

    assert watch.foreign_requests == []
    assert watch.failed == []
    assert watch.bad_responses == []
    assert watch.console_errors == []
    assert watch.page_errors == []


def test_login_page_loads_without_errors(
    page: Page, live_server: LiveServer, watch: PageWatch
) -> None:
    page.goto(live_server.url_for("/login"))
    page.wait_for_load_state("networkidle")
    assert page.evaluate("typeof window.htmx") == "object"
    assert watch.requests and watch.foreign_requests == []
    assert watch.failed == []
    assert watch.bad_responses == []
    assert watch.console_errors == []


def test_api_docs_render_swagger_ui_from_vendor(
    page: Page, live_server: LiveServer, watch: PageWatch
) -> None:
    page.goto(live_server.url_for("/docs"))
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("medcircle")
    # the operations come from this server's OpenAPI document: one folded line per area
    expect(page.locator(".opblock-tag-section")).to_have_count(16)
    page.locator(".opblock-tag", has_text="meta").click()
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/ping").first).to_be_visible()
    page.wait_for_load_state("networkidle")

    assert any(u.endswith("/vendor/swagger-ui-dist/swagger-ui-bundle.js") for u in watch.requests)
    assert any(u.endswith("/vendor/swagger-ui-dist/swagger-ui.css") for u in watch.requests)
    assert any(u.endswith("/api/v1/openapi.json") for u in watch.requests)
    assert all(u.startswith(live_server.url) for u in watch.requests), watch.requests
    assert watch.failed == []
    assert watch.bad_responses == []
    assert watch.page_errors == []
