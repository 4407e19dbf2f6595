"""The indicators in a real browser: a commission analyst opens Indicators, picks the outflow
share for Hebei in 2025, reads the value, the bars by month and the institutions, then drills
into one institution and downloads the CSV."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from medcircle.auth.domain import Role
from medcircle.kpis.catalogue import INDICATORS
from tests.agreement_factories import agreement
from tests.browser.support import LiveServer, PageWatch, import_activity, log_in
from tests.integration.activity.test_service import write
from tests.integration.kpis.test_service import TODAY, lines_of_2025

pytestmark = pytest.mark.browser


def test_the_commission_reads_and_downloads_an_indicator(
    page: Page, live_server: LiveServer, watch: PageWatch, tmp_path: Path
) -> None:
    import_activity(live_server, write(tmp_path, lines_of_2025()), TODAY)
    analyst = live_server.new_user(Role.COMMISSION_ANALYST, institution=live_server.world.beijing)
    log_in(page, live_server, analyst.username)
    page.get_by_test_id("nav-indicators").click()
    board = page.get_by_test_id("dashboard")
    expect(board.locator("section[data-slug]")).to_have_count(len(INDICATORS))
    board.get_by_role(
        "link", name="Share of the region's residents among the capital's discharges"
    ).click()
    expect(page.get_by_test_id("indicator-list")).to_be_visible()
    form = page.get_by_test_id("indicator-form")
    form.locator("#f-year").select_option("2025")
    form.locator("#f-region").select_option("130000")
    form.get_by_role("button", name="Show").click()
    expect(page.get_by_test_id("indicator-value")).to_have_text("36.4 %")
    expect(page.get_by_test_id("chart-month").locator("rect")).to_have_count(12)
    expect(
        page.get_by_test_id("by-month").locator("tr[data-key='2025-03'] td").nth(2)
    ).to_have_text("3")
    page.get_by_test_id("by-institution").get_by_role("link", name="Beijing Hospital A").click()
    expect(page.locator("#f-institution")).to_have_value("BJ-A")
    expect(page.get_by_test_id("indicator-value")).to_have_text("36.4 %")
    with page.expect_download() as info:
        page.get_by_test_id("indicator-csv").click()
    assert info.value.suggested_filename == "outflow-share-2025-BJ-A.csv"
    text = Path(info.value.path()).read_text(encoding="utf-8-sig")
    assert "outflow-share,2025,130000,total,*,,,0.363636,4,11" in text
    assert not watch.failed and not watch.bad_responses, (watch.failed, watch.bad_responses)


def test_the_commission_drills_into_an_institutions_trend(
    page: Page, live_server: LiveServer, watch: PageWatch, tmp_path: Path
) -> None:
    world = live_server.world
    import_activity(live_server, write(tmp_path, lines_of_2025()), TODAY)
    with live_server.db() as session:
        code = f"CA-DRILL-{uuid.uuid4().hex[:6]}"
        agreement(
            session,
            world.beijing,
            world.baoding,
            kind="trusteeship",
            starts_on=date(2024, 6, 1),
            code=code,
            title_en="Trusteeship of Baoding Hospital A",
        )
    analyst = live_server.new_user(Role.COMMISSION_ANALYST, institution=world.beijing)
    log_in(page, live_server, analyst.username)
    page.get_by_test_id("nav-indicators").click()
    form = page.get_by_test_id("indicator-form")
    form.locator("#f-year").select_option("2025")
    form.get_by_role("button", name="Show").click()
    page.get_by_test_id("dashboard").get_by_role("link", name="Daily outpatient visits").click()
    page.get_by_test_id("by-institution").get_by_role("link", name="Baoding Hospital A").click()
    expect(page.locator("#f-institution")).to_have_value("BD-A")
    trend = page.get_by_test_id("trend")
    expect(trend.get_by_test_id("by-year").locator("tbody tr")).to_have_count(12)
    marker = trend.locator(f"[data-testid='agreement-marker'][data-code='{code}']")
    expect(marker).to_have_count(1)
    expect(marker.locator("title")).to_have_text("Trusteeship of Baoding Hospital A (2024-06-01)")
    rows = trend.get_by_test_id("before-after")
    expect(rows.locator("tr[data-key='before'] td").nth(1)).to_have_text("2023-06/2024-05")
    expect(rows.locator("tr[data-key='after'] td").nth(1)).to_have_text("2024-06/2025-05")
    # a narrower range through the years filter
    form.locator("#f-first").select_option("2020")
    form.get_by_role("button", name="Show").click()
    expect(page.get_by_test_id("by-year").locator("tbody tr")).to_have_count(6)
    with page.expect_download() as info:
        page.get_by_test_id("trend-csv").click()
    assert info.value.suggested_filename == "outpatient-visits-per-day-2020-2025-BD-A.csv"
    assert not watch.failed and not watch.bad_responses, (watch.failed, watch.bad_responses)
