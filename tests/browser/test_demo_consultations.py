"""The remote consultation story of the demo world, in a real browser (issue 4's "done when").

``bdch.doctor`` (Beijing Children's Hospital Baoding Hospital) asks about a child; the case goes
at once to the expert of Beijing Children's Hospital on call in paediatric respiratory medicine
(``oncall``, on call around the load day, so whatever the hour), who finds it first in their
worklist, asks a clarifying question (the clock stops), gets the reply and answers that the
child needs to be seen; the doctor turns the case into a referral in one step. A
multi-disciplinary case gets a session at a suggested time, with its minutes once it has
started; the measures page shows the figures of Beijing Children's Hospital.

Every test asks its own case through the pages, so that a failure points at one step. The demo
world is the one of tests/browser/test_demo_flows.py (seed 2017, SQLite), loaded once for this
module; every demo account works in Chinese, so texts are compared with the catalogue's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
import time_machine
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from medcircle.consultations.models import Consultation
from medcircle.consultations.session_pages import NOT_DONE
from medcircle.consultations.sessions import NOT_STARTED
from medcircle.db import make_engine
from medcircle.demo.world import DemoConsent, DemoPatient, World
from medcircle.kit import clock
from tests.browser import test_demo_flows as flows
from tests.browser.test_demo_flows import BEIJING_CHILDRENS, DemoSite, log_in, zh

# the demo world of test_demo_flows, loaded once for this module, and its watched pages
demo_site = flows.demo_site
demo_page = flows.demo_page

pytestmark = pytest.mark.browser

BAODING_CHILDRENS = "BDCH"
DOCTOR = "bdch.doctor"
ON_CALL = "oncall"
RESPIRATORY = "ped_respiratory"
# the demo's live cases that oncall already holds (routine, asked in the night of the load day)
LIVE_ROUTINE = ("C-2026-003723", "C-2026-003721")


@dataclass(frozen=True)
class Child:
    name: str
    birth: str


def _child(world: World) -> Child:
    """A child of the Baoding hospital whose guardian consented to consultation by Beijing
    Children's Hospital (consent in force), with a name no other patient of the hospital has."""
    own: dict[str, DemoPatient] = {
        p.key: p for p in world.patients if p.institution == BAODING_CHILDRENS
    }
    names: dict[str, int] = {}
    for p in own.values():
        names[p.name] = names.get(p.name, 0) + 1
    today = clock.today()

    def fits(c: DemoConsent) -> bool:
        return (
            c.patient in own
            and c.receiving_institution == BEIJING_CHILDRENS
            and c.purpose == "consultation"
            and c.withdrawn_at is None
            and (c.valid_until is None or c.valid_until > today)
            and names[own[c.patient].name] == 1
            and own[c.patient].guardian_name is not None
        )

    patient = next(own[c.patient] for c in world.consents if fits(c))
    return Child(patient.name, patient.birth_date.isoformat())


def _on_call_name(site: DemoSite) -> str:
    return next(u.display_name for u in site.world.users if u.username == ON_CALL)


def _shift_now(site: DemoSite) -> str:
    """Who the demo's rota puts on call in paediatric respiratory medicine right now."""
    now = clock.now()
    return next(
        s.user
        for s in site.world.shifts
        if (s.institution, s.specialty_code, s.role) == (BEIJING_CHILDRENS, RESPIRATORY, "primary")
        and s.starts_at <= now < s.ends_at
    )


# a minutes form posted from the session's card, with the card's token and version
SEND_MINUTES_NOW = """(reschedule) => {
  const form = document.createElement("form");
  form.method = "post";
  form.action = reschedule.action.replace(/\\/reschedule$/, "/minutes");
  for (const hidden of reschedule.querySelectorAll("input[type=hidden]")) {
    form.appendChild(hidden.cloneNode());
  }
  const text = document.createElement("textarea");
  text.name = "minutes";
  text.value = "written before the start";
  form.appendChild(text);
  document.body.appendChild(form);
  form.submit();
}"""


def switch_user(page: Page, site: DemoSite, username: str) -> None:
    page.context.clear_cookies()
    log_in(page, site, username)


def ask(page: Page, site: DemoSite, *, mode: str = "written", urgency: str = "urgent") -> str:
    """As the Baoding doctor, ask Beijing Children's paediatric respiratory pool about the
    child through the form; the case's address (the page is left on the case)."""
    child = _child(site.world)
    switch_user(page, site, DOCTOR)
    page.get_by_test_id("nav-consultations").click()
    page.get_by_test_id("new-consultation").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(zh("Ask for a consultation"))
    # find the child by name: the picker fills with the one match (names are unique here)
    with page.expect_response(re.compile(r"/consultations/patients\?")):
        page.locator("#f-patient_q").fill(child.name)
    picker = page.get_by_test_id("patient-picker")
    expect(picker.locator("option")).to_have_count(2)
    option = picker.locator("option").filter(has_text=child.name).filter(has_text=child.birth)
    expect(option).to_have_count(1)
    picker.select_option(option.get_attribute("value"))

    pool_key = f"{site.institution_ids[BEIJING_CHILDRENS]}:{RESPIRATORY}"
    pool = page.get_by_test_id("pool-picker")
    expect(pool.locator(f"option[value='{pool_key}']")).to_contain_text(
        zh("On call now: %(name)s") % {"name": _on_call_name(site)}
    )
    pool.select_option(pool_key)
    expect(page.get_by_test_id("pool-hint")).to_have_text(
        zh("The expert on call gets the case at once.")
    )
    page.get_by_test_id("mode-picker").select_option(mode)
    if mode == "mdt":
        team = page.get_by_test_id("mdt-specialties")
        expect(team).to_be_visible()
        team.locator("input[name=other_specialties]").first.check()
    page.get_by_test_id("urgency-picker").select_option(urgency)
    page.locator("#f-question").fill("夜间高热伴气促，是否需要转上级医院？")
    page.locator("#f-clinical_summary").fill(
        "5岁，发热3天，今晚呼吸急促，SpO2 92%，胸片右下肺实变，已用头孢曲松24小时。"
    )
    page.locator("#f-icd10_code").fill("J18")
    page.locator("[data-code='J18.9']").click()
    expect(page.locator("#f-icd10_code")).to_have_value("J18.9")
    page.get_by_test_id("ask-consultation").click()
    expect(page).to_have_url(re.compile(r"/consultations/\d+\?asked=1$"))
    return page.url.split("?")[0]


def _act(page: Page, action: str, **fields: str) -> None:
    """Fill and send one of the case page's action forms; the page says it is done."""
    form = page.get_by_test_id(f"action-{action}")
    for name, value in fields.items():
        form.locator(f"[name={name}]").fill(value)
    form.locator("button[type=submit]").click()
    expect(page.get_by_test_id("flash")).to_contain_text(zh("Done: %(action)s.").split("%")[0])


def _expert_asks_back(page: Page, site: DemoSite, case_url: str) -> None:
    switch_user(page, site, ON_CALL)
    page.goto(case_url)
    expect(page.get_by_test_id("your-turn")).to_be_visible()
    _act(page, "ask_asker", body="请补充血常规、CRP及最近一次血气结果。")
    expect(page.get_by_test_id("turn-text")).to_have_text(zh("The asker's turn"))


# --- 1. the doctor asks at night; the case goes to the expert on call ----------------------


def test_baoding_doctor_asks_and_the_case_goes_to_the_expert_on_call(
    demo_page: Page, demo_site: DemoSite
) -> None:
    page = demo_page
    # the demo's rota has oncall as the primary of paediatric respiratory medicine now
    assert _shift_now(demo_site) == ON_CALL
    case_url = ask(page, demo_site)

    expect(page.get_by_test_id("flash")).to_have_text(zh("The question is sent."))
    expect(page.locator("h1 [data-testid=status-badge]")).to_have_attribute(
        "data-status", "assigned"
    )
    expect(page.get_by_test_id("turn-text")).to_have_text(zh("The expert's turn"))
    expect(page.get_by_test_id("your-turn")).to_have_count(0)
    expect(page.get_by_test_id("assignee")).to_have_text(_on_call_name(demo_site))
    expect(page.get_by_test_id("answerer")).to_contain_text(
        demo_site.world.institution(BEIJING_CHILDRENS).name_zh
    )
    expect(page.get_by_test_id("patient")).to_contain_text(_child(demo_site.world).name)
    # an urgent case: the first answer is due within 4 hours, and the clock runs
    left = re.escape(zh("%(time)s left")).replace(
        re.escape("%(time)s"),
        re.escape(zh("%(h)s h %(m)02d min"))
        .replace(re.escape("%(h)s"), "[34]")
        .replace(re.escape("%(m)02d"), r"\d\d"),
    )
    expect(page.get_by_test_id("time-left")).to_have_text(re.compile(f"^{left}$"))
    # the history says why: routed to the expert on call
    expect(page.locator("[data-testid=history] [data-testid=route-note]").first).to_contain_text(
        _on_call_name(demo_site)
    )
    # the doctor's hospital follows it in its "asked" list
    page.goto(demo_site.url_for("/consultations?list=asked"))
    case_id = case_url.rsplit("/", 1)[1]
    expect(page.locator(f"[data-testid=worklist] tr[data-id='{case_id}']")).to_have_count(1)


# --- 2. the expert on call finds it first, and asks a clarifying question -------------------


def test_on_call_expert_sees_the_urgent_case_first_and_asks_back(
    demo_page: Page, demo_site: DemoSite
) -> None:
    page = demo_page
    case_url = ask(page, demo_site)
    reference = page.get_by_test_id("reference").inner_text()

    switch_user(page, demo_site, ON_CALL)
    page.get_by_test_id("nav-consultations").click()
    expect(page.get_by_test_id("tab-mine")).to_have_attribute("aria-current", "page")
    rows = page.get_by_test_id("worklist").locator("tbody tr")
    expect(rows.filter(has=page.locator(f"a:text-is('{reference}')"))).to_have_count(1)
    order = [r.get_attribute("data-reference") for r in rows.all()]
    urgencies = [r.locator("[data-urgency]").get_attribute("data-urgency") for r in rows.all()]
    # the list is in order of deadline, so the new urgent case comes above the demo's routine
    # live cases due after it (one asked at 03:00 is due before it once the day has turned);
    # only urgent ones (asked earlier in this module) may come before it
    assert all(ref in order for ref in LIVE_ROUTINE), order
    due = _due_at(demo_site, order)
    later = [ref for ref in LIVE_ROUTINE if due[ref] is None or due[ref] > due[reference]]
    assert all(order.index(reference) < order.index(ref) for ref in later), (order, due)
    place = order.index(reference)
    ahead = [(r, u) for r, u in zip(order[:place], urgencies[:place], strict=True)]
    assert all(u == "urgent" or (r in LIVE_ROUTINE and r not in later) for r, u in ahead), (
        order,
        urgencies,
        due,
    )
    assert urgencies[place] == "urgent"
    new_row = rows.nth(order.index(reference))
    expect(new_row.get_by_test_id("row-patient")).to_have_text(_child(demo_site.world).name)
    expect(new_row.get_by_test_id("row-turn")).to_have_text(zh("The expert's turn"))

    new_row.get_by_role("link", name=reference).click()
    expect(page).to_have_url(case_url)
    expect(page.get_by_test_id("your-turn")).to_be_visible()
    _act(page, "ask_asker", body="请补充血常规、CRP及最近一次血气结果。")
    expect(page.get_by_test_id("turn-text")).to_have_text(zh("The asker's turn"))
    expect(page.get_by_test_id("time-left")).to_have_text(zh("paused: waiting for the asker"))
    expect(page.get_by_test_id("thread")).to_contain_text("血常规")


def _due_at(site: DemoSite, references: list[str | None]) -> dict[str | None, datetime | None]:
    """The deadlines of the cases, as stored (a paused case has none)."""
    engine = make_engine(site.database_url)
    try:
        with Session(engine) as session:
            rows = session.execute(
                select(Consultation.reference, Consultation.due_at).where(
                    Consultation.reference.in_([r for r in references if r])
                )
            )
            return {ref: due for ref, due in rows}
    finally:
        engine.dispose()


# --- 3. reply, opinion "needs to be seen", and a referral in one step ------------------------


def test_reply_answer_and_turn_into_a_referral(demo_page: Page, demo_site: DemoSite) -> None:
    page = demo_page
    beijing = demo_site.world.institution(BEIJING_CHILDRENS)
    case_url = ask(page, demo_site)
    _expert_asks_back(page, demo_site, case_url)

    # the doctor replies: the expert's turn again, the clock running
    switch_user(page, demo_site, DOCTOR)
    page.goto(case_url)
    expect(page.get_by_test_id("your-turn")).to_be_visible()
    expect(page.get_by_test_id("thread")).to_contain_text("血常规")
    _act(page, "reply", body="WBC 18.2×10^9/L，CRP 96 mg/L，PaO2 62 mmHg。")
    expect(page.get_by_test_id("turn-text")).to_have_text(zh("The expert's turn"))
    expect(page.get_by_test_id("time-left")).not_to_have_text(zh("paused: waiting for the asker"))

    # the expert answers: the child needs to be seen in Beijing
    switch_user(page, demo_site, ON_CALL)
    page.goto(case_url)
    expect(page.get_by_test_id("thread")).to_contain_text("CRP 96")
    form = page.get_by_test_id("action-answer")
    form.locator("[name=assessment]").fill("重症社区获得性肺炎，低氧血症，抗感染效果不佳。")
    form.locator("[name=recommendations]").fill("建议尽快转我院呼吸科住院，途中吸氧。")
    form.get_by_test_id("needs-visit-box").check()
    form.locator("button[type=submit]").click()
    expect(page.get_by_test_id("assessment")).to_contain_text("重症社区获得性肺炎")
    expect(page.get_by_test_id("needs-visit")).to_have_text(zh("Yes"))
    expect(page.locator("h1 [data-testid=status-badge]")).to_have_attribute(
        "data-status", "answered"
    )

    # the doctor turns it into a referral in one step: the draft, prefilled
    switch_user(page, demo_site, DOCTOR)
    page.goto(case_url)
    expect(page.get_by_test_id("opinion")).to_contain_text("建议尽快转我院呼吸科住院")
    page.get_by_test_id("to-referral").click()
    expect(page).to_have_url(re.compile(r"/referrals/\d+"))
    expect(page.locator("h1 [data-testid=status-badge]")).to_have_attribute("data-status", "draft")
    expect(page.get_by_test_id("edit-draft")).to_be_visible()
    expect(page.get_by_test_id("patient")).to_contain_text(_child(demo_site.world).name)
    expect(page.get_by_test_id("receiver")).to_contain_text(beijing.name_zh)
    expect(page.get_by_test_id("clinical")).to_contain_text("J18.9")
    referral_path = re.search(r"/referrals/\d+", page.url).group(0)  # type: ignore[union-attr]
    page.goto(case_url)
    expect(page.get_by_test_id("referral-link")).to_have_attribute("href", referral_path)
    expect(page.get_by_test_id("to-referral")).to_have_count(0)


# --- 4. an MDT case: a session at a suggested time, and its minutes -------------------------


def test_mdt_session_is_scheduled_and_minuted_once_started(
    demo_page: Page, demo_site: DemoSite
) -> None:
    page = demo_page
    case_url = ask(page, demo_site, mode="mdt", urgency="routine")
    expect(page.get_by_test_id("mode").locator("[data-mode]")).to_have_attribute("data-mode", "mdt")
    expect(page.get_by_test_id("assignee")).to_have_text(_on_call_name(demo_site))

    # the expert holding it opens its sessions and books the first suggested time
    switch_user(page, demo_site, ON_CALL)
    page.goto(case_url)
    page.get_by_test_id("sessions-link").click()
    expect(page).to_have_url(case_url + "/sessions")
    expect(page.get_by_test_id("no-sessions")).to_be_visible()
    schedule = page.get_by_test_id("schedule-form")
    # the expert and the asker always take part; one more expert of the team is chosen
    required = schedule.locator("input[data-testid^=required-]")
    expect(required).to_have_count(2)
    guest = schedule.locator("input[name=participants]").first
    guest.check()
    guest_id = guest.get_attribute("value")
    schedule.get_by_test_id("refresh-slots").click()
    slot = page.get_by_test_id("slots").get_by_test_id("slot").first
    expect(page.get_by_test_id(f"participant-{guest_id}")).to_be_checked()
    starts = datetime.fromisoformat(slot.get_attribute("value") or "")
    slot.click()

    expect(page).to_have_url(re.compile(r"/sessions\?done=scheduled#session-\d+$"))
    booked = page.get_by_test_id("session")
    expect(booked).to_have_count(1)
    expect(booked.get_by_test_id("session-status")).to_have_attribute("data-status", "scheduled")
    expect(booked.locator("time").first).to_have_attribute("datetime", starts.isoformat())
    expect(booked.get_by_test_id("participants").locator("li")).to_have_count(3)
    expect(booked.get_by_test_id("meeting-link")).to_be_visible()
    expect(booked.get_by_test_id("invite-link")).to_be_visible()
    # before it starts there is nothing to minute; minutes sent all the same (a form kept
    # open elsewhere) are refused, saying why, and nothing is written
    expect(booked.get_by_test_id("minutes-form")).to_have_count(0)
    booked.get_by_test_id("reschedule-form").evaluate(SEND_MINUTES_NOW)
    expect(page.get_by_test_id("flash")).to_have_text(zh(NOT_DONE))
    expect(page.get_by_test_id("session").get_by_test_id("session-refusal")).to_have_text(
        zh(NOT_STARTED)
    )
    expect(page.get_by_test_id("session").get_by_test_id("session-status")).to_have_attribute(
        "data-status", "scheduled"
    )
    expect(page.get_by_test_id("session").get_by_test_id("minutes")).to_have_count(0)

    # the session starts: the server's clock (same process) moves to ten minutes in
    with time_machine.travel(starts + timedelta(minutes=10), tick=True):
        switch_user(page, demo_site, ON_CALL)  # the idle log-in has expired meanwhile
        page.goto(case_url + "/sessions")
        minutes = page.get_by_test_id("session").get_by_test_id("minutes-form")
        expect(minutes).to_be_visible()
        for box in minutes.locator("input[name=attended]").all():
            box.check()
        minutes.locator("textarea[name=minutes]").fill(
            "多学科讨论：重症肺炎合并低氧血症，继续抗感染，48小时后复查胸片。"
        )
        minutes.locator("button[type=submit]").click()
        held = page.get_by_test_id("session")
        expect(held.get_by_test_id("session-status")).to_have_attribute("data-status", "held")
        expect(held.get_by_test_id("minutes")).to_contain_text("48小时后复查胸片")
        expect(held.get_by_test_id("participants").locator(".badge-ok")).to_have_count(3)


# --- 5. the measures of Beijing Children's Hospital, in both languages ----------------------


def test_measures_show_beijing_childrens_figures_in_both_languages(
    demo_page: Page, demo_site: DemoSite
) -> None:
    page = demo_page
    beijing = demo_site.world.institution(BEIJING_CHILDRENS)
    log_in(page, demo_site, "analyst")
    page.goto(demo_site.url_for("/consultations/measures"))
    row = page.get_by_test_id("table-institution").locator(
        f"tbody tr[data-key='{demo_site.institution_ids[BEIJING_CHILDRENS]}']"
    )

    def check(lang: str, name: str) -> None:
        expect(page.locator("html")).to_have_attribute("lang", lang)
        expect(row.locator("th")).to_have_text(name)
        cells = row.locator("td")
        asked = int(cells.nth(0).inner_text())
        answered = int(cells.nth(1).inner_text())
        assert asked > 0 and 0 < answered <= asked, (asked, answered)
        median = cells.nth(2).inner_text()
        assert median != "—" and re.search(r"[1-9]", median), median
        assert cells.nth(5).inner_text().endswith("%")

    expect(page.get_by_role("heading", level=1)).to_have_text(zh("Consultation measures"))
    check("zh-Hans", beijing.name_zh)
    median_zh = row.locator("td").nth(2).inner_text()

    page.get_by_test_id("switch-en").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Consultation measures")
    check("en", beijing.name_en)
    median_en = row.locator("td").nth(2).inner_text()
    # the same figure, in each language's words
    assert re.findall(r"\d+", median_zh) == re.findall(r"\d+", median_en), (median_zh, median_en)
