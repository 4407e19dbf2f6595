"""The closed loop in a real browser: a county hospital refers a child up to a Beijing
hospital's paediatric cardiology, which triages, schedules, records arrival and completion and
sends the child back down; the sender follows every step, and the family follows the status
link in Chinese and English."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import pytest
from playwright.sync_api import Browser, Page, expect

from medcircle.auth.domain import Role
from medcircle.kit import i18n
from medcircle.registry.models import Department, Institution
from tests import agreement_factories, factories, registry_factories
from tests.browser.conftest import ACTION_TIMEOUT_MS
from tests.browser.support import LiveServer, PageWatch, log_in
from tests.referral_factories import CHILD_ID

pytestmark = pytest.mark.browser

CST = timezone(timedelta(hours=8))


def zh(message: str) -> str:
    text: str = i18n.translations("zh_Hans").ugettext(message)
    return text


@dataclass
class Circle:
    beijing: Institution
    county: Institution
    beijing_paeds: Department
    county_paeds: Department
    sender: str
    triager: str


@pytest.fixture
def circle(live_server: LiveServer) -> Circle:
    """A Beijing hospital supporting a Baoding county hospital in paediatric cardiology, with
    a clinician on each side (names of their own: the server's data is shared)."""
    with live_server.db() as session:
        beijing = factories.institution(
            session, name_zh="北京测试儿童医院", name_en="Beijing Test Children's Hospital"
        )
        county = factories.institution(
            session,
            name_zh="保定测试县医院",
            name_en="Baoding Test County Hospital",
            level="secondary",
            division_code="130602",
            latitude=38.87,
            longitude=115.45,
        )
        beijing_paeds = registry_factories.department(
            session,
            beijing,
            "ped_cardiology",
            name_zh="小儿心脏外科",
            name_en="Paediatric cardiac surgery",
        )
        county_paeds = registry_factories.department(
            session, county, "ped_cardiology", name_zh="儿科", name_en="Paediatrics"
        )
        agreement_factories.agreement(
            session,
            beijing,
            county,
            starts_on=date(2017, 1, 1),
            ends_on=date(2035, 1, 1),
            specialties=("ped_cardiology",),
        )
    sender = live_server.new_user(Role.CLINICIAN, institution=county)
    triager = live_server.new_user(Role.CLINICIAN, institution=beijing)
    return Circle(
        beijing,
        county,
        beijing_paeds,
        county_paeds,
        sender.username,
        triager.username,
    )


@pytest.fixture
def second_page(browser: Browser, live_server: LiveServer) -> Iterator[tuple[Page, PageWatch]]:
    """A page in a browser profile of its own (another person at another desk)."""
    ctx = browser.new_context(
        base_url=live_server.url, locale="en-US", viewport={"width": 1280, "height": 800}
    )
    ctx.set_default_timeout(ACTION_TIMEOUT_MS)
    watch = PageWatch(origin=live_server.url)
    pg = ctx.new_page()
    watch.attach(pg)
    yield pg, watch
    ctx.close()
    assert not watch.foreign_requests and not watch.page_errors


def _act(page: Page, action: str, **fields: str) -> None:
    form = page.get_by_test_id(f"action-{action}")
    for name, value in fields.items():
        form.locator(f"[name={name}]").fill(value)
    form.locator("button[type=submit]").click()
    expect(page.get_by_test_id("flash")).to_contain_text("Done")


def test_refer_up_triage_schedule_complete_and_return(
    page: Page, second_page: tuple[Page, PageWatch], live_server: LiveServer, circle: Circle
) -> None:
    triage, _ = second_page
    # --- the county clinician registers the child and records the guardian's consent -------
    log_in(page, live_server, circle.sender)
    page.goto(live_server.url_for("/patients/new"))
    page.locator("#f-name").fill("张小宝")
    page.locator("#f-sex").select_option("male")
    page.locator("#f-birth_date").fill("2015-05-12")
    page.locator("#f-national_id").fill(CHILD_ID)
    page.locator("#f-residence_division_code").select_option("130602")
    page.locator("#f-guardian_name").fill("张妈妈")
    page.locator("#f-guardian_relation").select_option("mother")
    page.locator("#f-guardian_phone").fill("13900139000")
    page.locator("form[data-testid=patient-form] button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/patients/\d+"))
    patient_id = int(re.search(r"/patients/(\d+)", page.url).group(1))  # type: ignore[union-attr]
    consent = page.get_by_test_id("consent-form")
    consent.locator("[name=receiving_institution_id]").select_option(str(circle.beijing.id))
    consent.locator("[name=purpose]").select_option("referral")
    consent.locator("[name=given_by]").select_option("guardian")
    consent.locator("[name=given_by_name]").fill("张妈妈")
    given = datetime.now(CST) - timedelta(minutes=5)
    consent.locator("[name=given_at]").fill(given.strftime("%Y-%m-%dT%H:%M"))
    consent.locator("button[type=submit]").click()
    expect(page.get_by_test_id("consents-table").locator("tr[data-state='valid']")).to_have_count(1)

    # --- ... and refers the child up, picking the department by its current wait -----------
    page.get_by_test_id("refer-patient").click()
    expect(page.get_by_test_id("patient-picker")).to_have_value(str(patient_id))
    picker = page.get_by_test_id("department-picker")
    expect(picker.locator(f"option[value='{circle.beijing_paeds.id}']")).to_contain_text(
        "not enough data"
    )
    picker.select_option(str(circle.beijing_paeds.id))
    page.locator("#f-urgency").select_option("urgent")
    page.locator("#f-icd10_code").fill("Q21")
    page.locator("[data-code='Q21.0']").click()
    expect(page.locator("#f-icd10_code")).to_have_value("Q21.0")
    page.locator("#f-reason").fill("Surgical assessment of a ventricular septal defect")
    page.locator("#f-clinical_summary").fill("Murmur since birth; echo shows a 6 mm VSD.")
    page.get_by_test_id("submit-referral").click()
    expect(page.get_by_test_id("flash")).to_have_text("The referral is submitted.")
    reference = page.get_by_test_id("reference").inner_text()
    referral_url = page.url.split("?")[0]

    # --- Beijing triages, schedules and hands the family a status link -----------------------
    log_in(triage, live_server, circle.triager)
    expect(triage.get_by_test_id("card-referrals").locator(".stat")).to_have_text("1")
    triage.goto(live_server.url_for("/referrals"))
    row = triage.get_by_test_id("worklist").locator(f"tr[data-reference='{reference}']")
    expect(row).to_contain_text("张小宝")
    row.get_by_role("link", name=reference).click()
    _act(triage, "accept")
    when = (datetime.now(CST) + timedelta(days=3)).replace(hour=9, minute=30)
    _act(
        triage,
        "schedule",
        appointment_at=when.strftime("%Y-%m-%dT%H:%M"),
        appointment_place="Clinic building 2, room 305",
        what_to_bring="Earlier echo reports",
    )
    expect(triage.get_by_test_id("appointment")).to_contain_text(when.strftime("%Y-%m-%d 09:30"))
    triage.get_by_test_id("create-status-link").click()
    link = triage.get_by_test_id("status-link-url").inner_text().strip()
    status_path = "/status/" + link.rsplit("/status/", 1)[1]

    # --- the family: no login, Chinese first, English on request -----------------------------
    family = page.context.browser.new_context(base_url=live_server.url)  # type: ignore[union-attr]
    fam = family.new_page()
    fam.goto(live_server.url_for(status_path))
    expect(fam.get_by_test_id("status-label")).to_have_text(zh("Appointment booked"))
    expect(fam.get_by_test_id("hospital")).to_have_text("北京测试儿童医院")
    expect(fam.get_by_test_id("appointment")).to_contain_text(when.strftime("%Y-%m-%d 09:30"))
    expect(fam.get_by_test_id("place")).to_have_text("Clinic building 2, room 305")
    fam.get_by_test_id("lang-en").click()
    expect(fam.get_by_test_id("status-label")).to_have_text("Appointment booked")
    expect(fam.get_by_test_id("hospital")).to_have_text("Beijing Test Children's Hospital")
    expect(fam.get_by_test_id("what-to-bring")).to_have_text("Earlier echo reports")
    assert "Q21" not in fam.content() and "Murmur" not in fam.content()
    family.close()

    # --- arrival, completion, and the return referral in one step ----------------------------
    triage.reload()
    _act(triage, "arrive")
    _act(triage, "complete", outcome_summary="VSD closed by catheter; follow up in 3 months.")
    triage.get_by_test_id("create-return").click()
    expect(triage.locator("#f-icd10_code")).to_have_value("Q21.0")
    expect(triage.get_by_test_id("department-picker")).to_have_value(str(circle.county_paeds.id))
    triage.locator("#f-reason").fill("Follow-up after VSD closure")
    triage.locator("#f-clinical_summary").fill("Check the wound and repeat the echo in 3 months.")
    triage.get_by_test_id("submit-referral").click()
    expect(triage.get_by_test_id("flash")).to_have_text("The referral is submitted.")
    return_reference = triage.get_by_test_id("reference").inner_text()

    # --- the sender followed every step, and receives the child back -------------------------
    page.goto(live_server.url_for("/referrals?list=outgoing"))
    outgoing = page.get_by_test_id("worklist").locator(f"tr[data-reference='{reference}']")
    expect(outgoing.get_by_test_id("status-badge")).to_have_text("Completed")
    page.goto(referral_url)
    history = page.get_by_test_id("history")
    for step in ("submit", "accept", "schedule", "arrive", "complete", "return"):
        expect(history.locator(f"li[data-action='{step}']")).to_have_count(1)
    expect(page.get_by_test_id("outcome")).to_contain_text("VSD closed by catheter")
    expect(page.get_by_test_id("related")).to_contain_text(return_reference)
    page.goto(live_server.url_for("/referrals?list=incoming"))
    expect(
        page.get_by_test_id("worklist").locator(f"tr[data-reference='{return_reference}']")
    ).to_contain_text("张小宝")
