"""The response targets of an agreement in a real browser: the section of the agreement page
loads by HTMX, an institution admin sets the emergency target with the form, a refusal is
shown next to its field, and a saved target is marked as the agreement's own."""

from __future__ import annotations

import itertools
from datetime import date

import pytest
from playwright.sync_api import Page, expect

from medcircle.auth.domain import Role
from tests import agreement_factories, factories
from tests.browser.support import LiveServer, log_in

pytestmark = pytest.mark.browser

_seq = itertools.count(1)


def test_an_admin_sets_a_target_on_the_agreement_page(page: Page, live_server: LiveServer) -> None:
    n = next(_seq)
    with live_server.db() as session:
        beijing = factories.institution(
            session, name_zh=f"北京时限医院{n}", name_en=f"Beijing Targets {n}"
        )
        county = factories.institution(
            session, name_zh=f"保定时限医院{n}", name_en=f"Baoding Targets {n}", level="secondary"
        )
        agreement = agreement_factories.agreement(
            session, beijing, county, starts_on=date(2017, 1, 1), ends_on=date(2035, 1, 1)
        )
        agreement_id = agreement.id
        factories.user(session, county, Role.INSTITUTION_ADMIN, username=f"targetadmin{n}")
    log_in(page, live_server, f"targetadmin{n}")
    page.goto(live_server.url_for(f"/agreements/{agreement_id}"))
    section = page.locator("#consult-targets")
    expect(section.get_by_role("heading")).to_have_text("Consultation response targets")
    table = section.get_by_test_id("consult-targets-table")
    expect(table.locator("tr[data-urgency=emergency]")).to_contain_text("30 min")
    expect(section.get_by_test_id("default-target")).to_have_count(3)

    # out of order: the message is next to the field, nothing saved
    section.get_by_label("Emergency (minutes)").fill("300")
    section.get_by_role("button", name="Save targets").click()
    error = page.locator("#ct-emergency-error")
    expect(error).to_contain_text("may not be shorter than")
    expect(page.get_by_label("Emergency (minutes)")).to_have_attribute("aria-invalid", "true")

    page.get_by_label("Emergency (minutes)").fill("20")
    page.get_by_role("button", name="Save targets").click()
    expect(page).to_have_url(
        live_server.url_for(f"/agreements/{agreement_id}?saved=1#consult-targets")
    )
    row = page.locator("#consult-targets tr[data-urgency=emergency]")
    expect(row).to_contain_text("20 min")
    expect(row.get_by_test_id("own-target")).to_be_visible()
