"""The yearly bulletin in a real browser: a commission analyst opens Bulletin, picks 2025 and
Hebei, reads the sentences and the charts drawn on the page, and follows the PDF link to a PDF
in English; the Chinese PDF's link gives the Chinese text."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from medcircle.auth.domain import Role
from tests.browser.support import LiveServer, PageWatch, import_activity, log_in
from tests.integration.activity.test_service import write
from tests.integration.kpis.test_service import TODAY, lines_of_2025

pytestmark = pytest.mark.browser


def _text(path: str) -> str:
    content = Path(path).read_bytes()
    assert content.startswith(b"%PDF")
    return "".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages)


def test_the_commission_reads_the_bulletin_and_downloads_its_pdf(
    page: Page, live_server: LiveServer, watch: PageWatch, tmp_path: Path
) -> None:
    import_activity(live_server, write(tmp_path, lines_of_2025()), TODAY)
    analyst = live_server.new_user(Role.COMMISSION_ANALYST, institution=live_server.world.beijing)
    log_in(page, live_server, analyst.username)
    page.get_by_test_id("nav-bulletin").click()
    form = page.get_by_test_id("bulletin-form")
    form.locator("#f-year").select_option("2025")
    form.locator("#f-region").select_option("130000")
    form.get_by_role("button", name="Show").click()
    expect(page).to_have_url(live_server.url_for("/bulletin/2025?region=130000"))
    text = page.get_by_test_id("bulletin-text")
    expect(text).to_contain_text(
        "The proportion of Hebei patients released from secondary-level or above hospitals in "
        "Beijing was 36.4 percent in 2025."
    )
    expect(text).to_contain_text("No expert out-calls to Hebei were recorded in 2025.")
    expect(page.get_by_test_id("chart-outflow").locator("circle")).to_have_count(1)
    expect(page.get_by_test_id("chart-referrals").locator("svg > rect")).to_have_count(24 + 2)
    with page.expect_download() as info:
        page.get_by_test_id("bulletin-pdf").click()
    assert info.value.suggested_filename == "medcircle-bulletin-2025-en.pdf"
    assert "36.4 percent in 2025" in _text(info.value.path())
    with page.expect_download() as info:
        page.get_by_test_id("bulletin-pdf-zh_Hans").click()
    assert info.value.suggested_filename == "medcircle-bulletin-2025-zh_Hans.pdf"
    assert "河北省患者占36.4%" in _text(info.value.path()).replace("\n", "")
    assert not watch.failed and not watch.bad_responses, (watch.failed, watch.bad_responses)
