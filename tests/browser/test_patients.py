"""Patients in a real browser: register a child with a guardian, record the guardian's consent,
see the ID number masked, and show it in full as an institution admin (with a reason)."""

from __future__ import annotations

import secrets
from datetime import date

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from medcircle.audit.models import AuditEvent
from medcircle.auth.domain import Role
from medcircle.patients.domain import make_national_id
from tests.browser.support import LiveServer, log_in

pytestmark = pytest.mark.browser


def test_register_child_consent_and_unmask(page: Page, live_server: LiveServer) -> None:
    admin = live_server.new_user(Role.INSTITUTION_ADMIN)
    # a number of its own: the live server's data is shared by the whole run
    sequence = secrets.randbelow(500) * 2 + 1  # odd: a boy
    national_id = make_national_id("130602", date(2016, 3, 14), sequence)
    masked = national_id[:6] + "********" + national_id[-4:]
    log_in(page, live_server, admin.username)

    page.get_by_role("link", name="Patients").click()
    page.get_by_test_id("new-patient").click()
    form = page.get_by_test_id("patient-form")
    form.get_by_label("Name").first.fill("刘小宝")
    form.get_by_label("Sex").select_option("male")
    form.get_by_label("Birth date").fill("2016-03-14")
    form.get_by_label("National ID number").fill(national_id)
    form.get_by_label("Place of residence").select_option("130602")
    form.get_by_role("button", name="Save").click()
    # a child without a guardian is refused, with the message by the field
    expect(page.locator("#guardian_name-error")).to_contain_text("needs a guardian")
    form = page.get_by_test_id("patient-form")
    form.get_by_label("Guardian's name").fill("刘芳")
    form.get_by_label("Relation to the child").select_option("mother")
    form.get_by_label("Guardian's phone").fill("139 1234 5678")
    form.get_by_role("button", name="Save").click()

    expect(page.get_by_test_id("flash")).to_have_text("The patient is registered.")
    expect(page.get_by_test_id("national-id")).to_have_text(masked)
    expect(page.get_by_test_id("guardian")).to_contain_text("139****5678")
    assert national_id not in page.content()

    consent = page.get_by_test_id("consent-form")
    consent.get_by_label("Receiving institution").select_option(label="BJ-A · Beijing Hospital A")
    consent.locator("#f-given_by").select_option("guardian")
    consent.get_by_label("Name of the person consenting").fill("刘芳")
    consent.get_by_role("button", name="Record consent").click()
    expect(page.get_by_test_id("flash")).to_have_text("The consent is recorded.")
    row = page.get_by_test_id("consents-table").locator("tbody tr").first
    expect(row).to_contain_text("Beijing Hospital A")
    expect(row).to_have_attribute("data-state", "valid")

    unmask = page.get_by_test_id("unmask-form")
    unmask.get_by_label("Number").select_option("national_id")
    unmask.get_by_label("Reason for viewing").fill("identity check with the mother")
    unmask.get_by_role("button", name="Show full number").click()
    expect(page.get_by_test_id("revealed-value")).to_have_text(national_id)

    with live_server.db() as session:
        event = session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "patient.unmask", AuditEvent.actor_username == admin.username
            )
        ).one()
        assert event.detail == {"field": "national_id", "reason": "identity check with the mother"}
