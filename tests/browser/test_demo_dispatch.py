"""Expert dispatch in the demo world, in a real browser (issue 5's "done when").

``bchcoord``, coordinator of Beijing Children's Hospital, plans a 4-week roster for the Baoding
pairings from the approved demand, reviews the planner run page (figures with their proofs,
charts, what is not covered and why), publishes it and re-plans it after changes; an expert
with visits on it finds them on **My visits** with the calendar file; an expert records what a
visit achieved. The demo world is the one of tests/browser/test_demo_flows.py (seed 2017,
SQLite), loaded once for this module; every demo account works in Chinese.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from medcircle.auth.models import User
from medcircle.db import make_engine
from medcircle.dispatch.models import RosterPlan, RosterVisit, VisitRecord
from medcircle.kit import clock
from tests.browser import test_demo_flows as flows
from tests.browser.test_demo_flows import DemoSite, log_in, zh

demo_site = flows.demo_site
demo_page = flows.demo_page

pytestmark = pytest.mark.browser

COORDINATOR = "bchcoord"


def _published_expert(site: DemoSite) -> tuple[str, str]:
    """The username of an expert with a visit to come on the published roster, and the
    visit's site name as the page shows it."""
    engine = make_engine(site.database_url)
    try:
        with Session(engine) as session:
            row = session.execute(
                select(User.username, RosterVisit.site_institution_id)
                .join(RosterVisit, RosterVisit.user_id == User.id)
                .join(RosterPlan, RosterPlan.id == RosterVisit.plan_id)
                .where(RosterPlan.status == "published", RosterVisit.kind == "visit")
                .order_by(RosterVisit.day, User.username)
            ).first()
            assert row is not None
            return row[0], str(row[1])
    finally:
        engine.dispose()


def _log_out(page: Page) -> None:
    page.get_by_test_id("logout").click()


def test_a_coordinator_plans_reviews_publishes_and_replans(
    demo_page: Page, demo_site: DemoSite
) -> None:
    page = demo_page
    log_in(page, demo_site, COORDINATOR)
    page.get_by_test_id("nav-dispatch").click()
    expect(page).to_have_url(demo_site.url_for("/dispatch/plans"))
    form = page.get_by_test_id("new-plan")
    # the next Monday and four weeks are offered
    expect(form.locator("#f-weeks")).to_have_value("4")
    form.get_by_role("button", name=zh("Run the planner")).click()
    expect(page).to_have_url(re.compile(r"/dispatch/plans/\d+$"))
    expect(page.get_by_test_id("plan-status")).to_have_text(zh("Draft"))
    covered = page.get_by_test_id("covered").inner_text()
    done, asked = (int(x.replace(",", "")) for x in covered.split("/"))
    assert 0 < done <= asked
    for chart in ("coverage", "load", "travel"):
        expect(page.get_by_test_id(f"chart-{chart}")).to_be_visible()
    expect(page.get_by_test_id("uncovered")).to_be_visible()
    expect(page.get_by_test_id("roster").locator("tr[data-visit]").first).to_be_visible()
    page.get_by_test_id("publish").click()
    expect(page.get_by_test_id("done")).to_have_text(
        zh("The roster is published; the experts are told.")
    )
    expect(page.get_by_test_id("plan-status")).to_have_text(zh("Published"))
    page.get_by_test_id("replan").click()
    expect(page.get_by_test_id("done")).to_have_text(
        zh("A re-plan is ready below: review it, then publish it.")
    )
    expect(page.get_by_test_id("changes")).to_be_visible()
    page.get_by_test_id("publish").click()
    expect(page.get_by_test_id("plan-status")).to_have_text(zh("Published"))


def test_an_expert_sees_their_visits_and_records_one(demo_page: Page, demo_site: DemoSite) -> None:
    page = demo_page
    username, site_id = _published_expert(demo_site)
    log_in(page, demo_site, username)
    page.get_by_test_id("nav-dispatch").click()
    expect(page).to_have_url(demo_site.url_for("/dispatch/me"))
    expect(page.get_by_test_id("my-visit").first).to_be_visible()
    expect(page.get_by_test_id("ics-link")).to_be_visible()
    # record what yesterday's visit to that site achieved
    page.goto(demo_site.url_for("/visits/new"))
    form = page.get_by_test_id("visit-form")
    yesterday = clock.today() - timedelta(days=1)
    form.locator("#f-site_institution_id").select_option(site_id)
    form.locator("#f-starts_on").fill(yesterday.isoformat())
    form.locator("#f-ends_on").fill(yesterday.isoformat())
    form.locator("#f-outpatients").fill("23")
    form.locator("#f-teaching_sessions").fill("1")
    form.get_by_role("button", name=zh("Record the visit")).click()
    expect(page).to_have_url(re.compile(r"/visits/\d+\?saved=1$"))
    engine = make_engine(demo_site.database_url)
    try:
        with Session(engine) as session:
            record = session.scalars(
                select(VisitRecord).order_by(VisitRecord.id.desc()).limit(1)
            ).one()
            assert record.outpatients == 23 and record.starts_on == yesterday
            assert str(record.site_institution_id) == site_id
    finally:
        engine.dispose()


def test_the_analyst_opens_the_map_from_the_indicators(
    demo_page: Page, demo_site: DemoSite
) -> None:
    """The commission analyst opens the dashboard, follows its link to the map of the year
    (visits and referrals by city, drawn with nothing fetched from outside), switches to
    institutions and downloads the table."""
    page = demo_page
    log_in(page, demo_site, "analyst")
    page.get_by_test_id("nav-indicators").click()
    page.get_by_test_id("map-link").click()
    expect(page).to_have_url(re.compile(r"/dispatch/map\?first=\d{4}-01-01&.*grouping=city"))
    form = page.get_by_test_id("map-form")
    expect(form.locator("input[value='recorded-and-referrals']")).to_be_checked()
    svg = page.get_by_test_id("map-svg")
    # Beijing and Baoding among the cities; visits and referrals up both drawn
    expect(svg.locator("circle[data-city='110000']")).to_have_count(1)
    expect(svg.locator("circle[data-city='130600']")).to_have_count(1)
    expect(svg.locator("path[data-kind='visits']").first).to_be_attached()
    expect(svg.locator("path[data-kind='up']").first).to_be_attached()
    legend = page.get_by_test_id("map-legend")
    expect(legend.locator("li[data-kind='up']")).to_contain_text(zh("Referrals up"))
    table = page.get_by_test_id("flows")
    expect(table.locator("tbody tr[data-kind='up']").first).to_be_visible()
    form.get_by_label(zh("By institution")).check()
    form.get_by_role("button", name=zh("Show the map")).click()
    expect(page).to_have_url(re.compile(r"grouping=institution"))
    expect(svg.locator("circle[data-institution]").first).to_be_attached()
    with page.expect_download() as info:
        page.get_by_test_id("map-csv").click()
    assert info.value.suggested_filename.startswith("circle-map-recorded-and-referrals-institution")
    text = info.value.path().read_text(encoding="utf-8-sig")
    assert text.splitlines()[0] == "kind,from,to,count,within_one_city"
    assert "\nup," in text
