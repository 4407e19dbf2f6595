"""Remote consultation at night in a real browser: a Baoding county doctor asks about a child;
the Beijing paediatric cardiologist on call (a night shift covering now) finds it first in
their worklist, asks a clarifying question, gets the reply and answers that the child needs to
be seen; the doctor turns the consultation into a referral in one step and lands on it. The
doctor works in English, the expert in Chinese."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from playwright.sync_api import Browser, Page, expect

from medcircle.auth.domain import Role
from medcircle.consultations.domain import URGENCY_RANK, Status, Urgency
from medcircle.consultations.models import Consultation, OnCallShift
from medcircle.kit import i18n
from medcircle.kit.crypto import cipher_for
from medcircle.registry.models import Institution
from tests import agreement_factories, factories, registry_factories
from tests import referral_factories as rf
from tests.browser.conftest import ACTION_TIMEOUT_MS
from tests.browser.support import LiveServer, PageWatch, log_in

pytestmark = pytest.mark.browser

CST = timezone(timedelta(hours=8))
# the live server's secret (tests/browser/conftest.py): the patient's sealed fields use it
LIVE_SECRET = "browser-test-secret-key-0123456789-abcdefghij"
SPECIALTY = "ped_cardiology"
_seq = itertools.count(1)


def zh(message: str) -> str:
    text: str = i18n.translations("zh_Hans").ugettext(message)
    return text


@dataclass
class Night:
    beijing: Institution
    county: Institution
    doctor: str
    expert: str
    expert_name: str
    patient_id: int
    patient_name: str
    earlier_reference: str


@pytest.fixture
def night(live_server: LiveServer) -> Night:
    """A Beijing children's hospital supporting a Baoding county hospital in paediatric
    cardiology; its cardiologist is on a night shift that covers now (in China, 20:00 to 08:00
    is the night shift; the test stretches it around the real clock), and already holds a
    routine case; a child at the county hospital whose guardian consented to a consultation."""
    n = next(_seq)
    now = datetime.now(UTC)
    with live_server.db() as session:
        beijing = factories.institution(
            session, name_zh=f"北京会诊儿童医院{n}", name_en=f"Beijing Consult Children's {n}"
        )
        county = factories.institution(
            session,
            name_zh=f"保定会诊县医院{n}",
            name_en=f"Baoding Consult County {n}",
            level="secondary",
            division_code="130602",
            latitude=38.87,
            longitude=115.45,
        )
        paeds = registry_factories.department(
            session, beijing, SPECIALTY, name_zh="小儿心脏科", name_en="Paediatric cardiology"
        )
        agreement_factories.agreement(
            session,
            beijing,
            county,
            starts_on=date(2017, 1, 1),
            ends_on=date(2035, 1, 1),
            specialties=(SPECIALTY,),
        )
        doctor = factories.user(session, county, Role.CLINICIAN, username=f"nightdoc{n}")
        expert = factories.user(
            session, beijing, Role.EXPERT, username=f"nightexpert{n}", locale="zh_Hans"
        )
        registry_factories.practitioner(
            session, beijing, specialty_code=SPECIALTY, user_id=expert.id, department_id=paeds.id
        )
        session.add(
            OnCallShift(
                institution_id=beijing.id,
                specialty_code=SPECIALTY,
                user_id=expert.id,
                starts_at=now - timedelta(hours=6),
                ends_at=now + timedelta(hours=6),
                role="primary",
                created_at=now,
            )
        )
        child = rf.patient(session, county, name=f"张小宝{n}", cipher=cipher_for(None, LIVE_SECRET))
        rf.consent(session, child, beijing, doctor, purpose="consultation")
        # a routine case the expert already holds: the urgent new one must come before it
        earlier = Consultation(
            reference=f"CB-{n:04d}-{now:%H%M%S}",
            status=Status.ASSIGNED.value,
            mode="written",
            urgency=Urgency.ROUTINE.value,
            urgency_rank=URGENCY_RANK[Urgency.ROUTINE],
            patient_id=child.id,
            asker_institution_id=county.id,
            asker_user_id=doctor.id,
            answer_institution_id=beijing.id,
            specialty_code=SPECIALTY,
            assignee_user_id=expert.id,
            question="Routine follow-up of a small ASD?",
            clinical_summary="Small secundum ASD, asymptomatic.",
            icd10_code="Q21.1",
            diagnosis="Atrial septal defect",
            asked_at=now - timedelta(hours=2),
            target_minutes=24 * 60,
            paused_seconds=0,
            due_at=now + timedelta(hours=22),
            created_at=now - timedelta(hours=2),
            updated_at=now - timedelta(hours=2),
        )
        session.add(earlier)
        session.flush()
        return Night(
            beijing,
            county,
            doctor.username,
            expert.username,
            expert.display_name or expert.username,
            child.id,
            child.name,
            earlier.reference,
        )


@pytest.fixture
def expert_page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    """The expert's own browser, at home at night, in Chinese."""
    ctx = browser.new_context(
        base_url=live_server.url, locale="zh-CN", viewport={"width": 1280, "height": 800}
    )
    ctx.set_default_timeout(ACTION_TIMEOUT_MS)
    watch = PageWatch(origin=live_server.url)
    pg = ctx.new_page()
    watch.attach(pg)
    yield pg
    ctx.close()
    assert not watch.foreign_requests, watch.foreign_requests
    assert not watch.page_errors, watch.page_errors


def _act(page: Page, action: str, done: str, **fields: str) -> None:
    form = page.get_by_test_id(f"action-{action}")
    for name, value in fields.items():
        form.locator(f"[name={name}]").fill(value)
    form.locator("button[type=submit]").click()
    expect(page.get_by_test_id("flash")).to_contain_text(done)


def test_ask_at_night_answer_and_refer_in_one_step(
    page: Page, expert_page: Page, live_server: LiveServer, night: Night
) -> None:
    expert = expert_page
    # --- the county doctor asks about the child --------------------------------------------
    log_in(page, live_server, night.doctor)
    page.get_by_test_id("nav-consultations").click()
    page.get_by_test_id("new-consultation").click()
    page.get_by_test_id("patient-picker").select_option(str(night.patient_id))
    pool = page.get_by_test_id("pool-picker")
    option = pool.locator(f"option[value='{night.beijing.id}:{SPECIALTY}']")
    expect(option).to_contain_text(f"On call now: {night.expert_name}")
    pool.select_option(f"{night.beijing.id}:{SPECIALTY}")
    expect(page.get_by_test_id("pool-hint")).to_have_text(
        "The expert on call gets the case at once."
    )
    page.get_by_test_id("urgency-picker").select_option("urgent")
    expect(page.get_by_test_id("urgency-picker")).to_contain_text("first answer within 4 h")
    page.locator("#f-question").fill("Is this VSD closing, or does the child need surgery soon?")
    page.locator("#f-clinical_summary").fill(
        "6-year-old, murmur since birth, poor weight gain; echo: 7 mm perimembranous VSD."
    )
    page.locator("#f-icd10_code").fill("Q21")
    page.locator("[data-code='Q21.0']").click()
    expect(page.locator("#f-icd10_code")).to_have_value("Q21.0")
    page.get_by_test_id("ask-consultation").click()
    expect(page).to_have_url(re.compile(r"/consultations/\d+\?asked=1"))
    expect(page.get_by_test_id("flash")).to_have_text("The question is sent.")
    expect(page.get_by_test_id("turn-text")).to_have_text("The expert's turn")
    expect(page.get_by_test_id("assignee")).to_have_text(night.expert_name)
    expect(page.get_by_test_id("time-left")).to_contain_text("left")
    reference = page.get_by_test_id("reference").inner_text()
    case_url = page.url.split("?")[0]

    # --- the expert on call sees it first in their worklist, in Chinese --------------------
    log_in(expert, live_server, night.expert)
    expert.get_by_test_id("nav-consultations").click()
    expect(expert.get_by_test_id("tab-mine")).to_have_attribute("aria-current", "page")
    rows = expert.get_by_test_id("worklist").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_have_attribute("data-reference", reference)
    expect(rows.nth(1)).to_have_attribute("data-reference", night.earlier_reference)
    expect(rows.nth(0)).to_contain_text(night.patient_name)
    expect(rows.nth(0)).to_contain_text(zh("Urgent"))
    rows.nth(0).get_by_role("link", name=reference).click()
    expect(expert.get_by_test_id("turn-text")).to_have_text(zh("The expert's turn"))
    expect(expert.get_by_test_id("your-turn")).to_be_visible()
    _act(
        expert,
        "ask_asker",
        zh("Done: %(action)s.").split("%")[0],
        body="Any cyanosis or breathlessness on feeding?",
    )
    expect(expert.get_by_test_id("turn-text")).to_have_text(zh("The asker's turn"))
    expect(expert.get_by_test_id("time-left")).to_have_text(zh("paused: waiting for the asker"))

    # --- the doctor replies ---------------------------------------------------------------
    page.goto(case_url)
    expect(page.get_by_test_id("turn-text")).to_have_text("The asker's turn")
    expect(page.get_by_test_id("your-turn")).to_be_visible()
    expect(page.get_by_test_id("thread")).to_contain_text("Any cyanosis")
    _act(page, "reply", "Done", body="Breathless when feeding, no cyanosis.")
    expect(page.get_by_test_id("turn-text")).to_have_text("The expert's turn")

    # --- the expert answers: the child needs to be seen -----------------------------------
    expert.reload()
    expect(expert.get_by_test_id("thread")).to_contain_text("Breathless when feeding")
    form = expert.get_by_test_id("action-answer")
    form.locator("[name=assessment]").fill("Large VSD with heart failure symptoms.")
    form.locator("[name=recommendations]").fill("Surgical closure; furosemide until then.")
    form.get_by_test_id("needs-visit-box").check()
    form.locator("button[type=submit]").click()
    expect(expert.get_by_test_id("opinion")).to_contain_text("Large VSD")
    expect(expert.get_by_test_id("needs-visit")).to_have_text(zh("Yes"))

    # --- the doctor turns it into a referral in one step ----------------------------------
    page.goto(case_url)
    expect(page.get_by_test_id("opinion")).to_contain_text("Surgical closure")
    page.get_by_test_id("to-referral").click()
    expect(page).to_have_url(re.compile(r"/referrals/\d+"))
    expect(page.get_by_test_id("patient")).to_contain_text(night.patient_name)
    expect(page.get_by_test_id("receiver")).to_contain_text(night.beijing.name_en)
    referral_path = re.search(r"/referrals/\d+", page.url).group(0)  # type: ignore[union-attr]
    page.goto(case_url)
    expect(page.get_by_test_id("referral-link")).to_have_attribute("href", referral_path)
