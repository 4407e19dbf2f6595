"""A shared transplant cleanroom in a real browser: two Baoding children wait on the pool's one
list; the Beijing lead's coordinator frees a class-100 room and sees at once who gets it and
why; the first child's team accepts the offer; the second child's family link (no login, no
names) now shows place 1."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from playwright.sync_api import Browser, Page, expect

from medcircle.auth.domain import Role
from medcircle.config import Settings
from medcircle.kit.crypto import cipher_for
from medcircle.pools import queries, service
from medcircle.pools.models import PoolMember, ResourcePool
from tests import factories
from tests import referral_factories as rf
from tests.browser.support import LiveServer, PageWatch, log_in
from tests.pool_factories import actor_of, entry_in, unit

pytestmark = pytest.mark.browser

# the live server's secret (tests/browser/conftest.py): the patients' sealed fields use it
LIVE_SECRET = "browser-test-secret-key-0123456789-abcdefghij"
_seq = itertools.count(1)


@dataclass
class Cleanrooms:
    pool_id: int
    pool_name: str
    room_id: int
    coordinator: str
    clinician: str
    first_id: int
    first_name: str
    second_name: str
    token: str


@pytest.fixture
def cleanrooms(live_server: LiveServer) -> Cleanrooms:
    """A pool led by a Beijing hospital with a Baoding member, one class-100 room in
    maintenance at Beijing, and two ready children of the Baoding hospital on its list (the
    second with a family link)."""
    n = next(_seq)
    cipher = cipher_for(None, LIVE_SECRET)
    with live_server.db() as session:
        bj = factories.institution(
            session, name_zh=f"北京移植中心{n}", name_en=f"Beijing Transplant Centre {n}"
        )
        bd = factories.institution(
            session,
            name_zh=f"保定儿童医院{n}",
            name_en=f"Baoding Children's {n}",
            level="secondary",
            division_code="130602",
        )
        coordinator = factories.user(session, bj, Role.COORDINATOR, username=f"poolcoord{n}")
        clinician = factories.user(session, bd, Role.CLINICIAN, username=f"pooldoc{n}")
        pool = ResourcePool(
            code=f"cleanrooms-{n}",
            name_zh=f"京保层流仓{n}",
            name_en=f"Cleanrooms {n}",
            kind="cleanroom",
            lead_institution_id=bj.id,
            policy={"offer_hours": 24, "aging_days": 90, "turnaround_days": 2},
            pooled_since=date(2020, 1, 1),
            created_at=factories.now(),
            updated_at=factories.now(),
        )
        session.add(pool)
        session.flush()
        for inst in (bj, bd):
            session.add(
                PoolMember(pool_id=pool.id, institution_id=inst.id, joined_on=pool.pooled_since)
            )
        room = unit(session, pool, bj, f"BJ-100-{n}")
        room.status = "maintenance"
        room.expected_free_on = date.today() + timedelta(days=7)
        team = actor_of(clinician, Role.CLINICIAN)
        children = []
        for i in (1, 2):
            child = rf.patient(session, bd, name=f"王小{i}号{n}", national_id=None, cipher=cipher)
            rf.consent(session, child, bj, clinician, purpose="waitlist")
            children.append(child)
        first = service.list_patient(session, team, pool.id, entry_in(children[0]))
        second = service.list_patient(session, team, pool.id, entry_in(children[1]))
        settings = Settings(database_url=live_server.database_url, secret_key=LIVE_SECRET)
        _, token = queries.create_status_link(session, team, second.id, settings)
        return Cleanrooms(
            pool.id,
            pool.name_en,
            room.id,
            coordinator.username,
            clinician.username,
            first.id,
            children[0].name,
            children[1].name,
            token,
        )


def test_free_a_room_see_why_accept_and_the_family_sees_the_new_place(
    page: Page, browser: Browser, live_server: LiveServer, watch: PageWatch, cleanrooms: Cleanrooms
) -> None:
    c = cleanrooms
    family_path = f"/pools/status/{c.token}?lang=en"

    # the family's page before: place 2, no names
    family = browser.new_context(base_url=live_server.url)
    fam = family.new_page()
    fam.goto(live_server.url_for(family_path))
    expect(fam.get_by_test_id("position")).to_contain_text("2")
    expect(fam.get_by_test_id("estimate")).to_be_visible()

    # --- the lead's coordinator frees the room and sees who gets it and why ------------------
    log_in(page, live_server, c.coordinator)
    page.get_by_test_id("nav-pools").click()
    page.get_by_role("link", name=c.pool_name, exact=True).click()
    expect(page.get_by_test_id(f"unit-status-{c.room_id}")).to_have_text("Maintenance")
    page.get_by_test_id(f"free-{c.room_id}").click()
    expect(page.get_by_test_id("done")).to_contain_text("went to the next eligible patient")
    expect(page.get_by_test_id(f"unit-offer-{c.room_id}")).to_contain_text(f"#{c.first_id}")
    # another hospital's coordinator sees the children's names masked
    expect(page.get_by_test_id(f"name-{c.first_id}")).to_have_text(c.first_name[:1] + "*")
    page.get_by_test_id("decisions").get_by_role("link", name="Why").first.click()
    expect(page.get_by_test_id("decision-rule")).to_have_text(
        "Same urgency and listing day, listed first"
    )
    expect(page.locator("tr.chosen")).to_contain_text(c.first_name[:1] + "*")
    expect(page.get_by_test_id("policy-in-force")).to_contain_text("Hours to answer an offer")

    # --- the first child's team accepts the offer -------------------------------------------
    team_ctx = browser.new_context(base_url=live_server.url, locale="en-US")
    team = team_ctx.new_page()
    watch.attach(team)
    log_in(team, live_server, c.clinician)
    team.goto(live_server.url_for(f"/pools/entries/{c.first_id}"))
    expect(team.get_by_test_id("entry-name")).to_have_text(c.first_name)
    expect(team.get_by_test_id("open-offer")).to_be_visible()
    team.get_by_test_id("accept").click()
    expect(team.get_by_test_id("entry-status")).to_have_text("Admitted")
    team_ctx.close()

    # --- the family's link shows the new place ----------------------------------------------
    fam.reload()
    expect(fam.get_by_test_id("position")).to_contain_text("1")
    expect(fam.get_by_test_id("status-label")).to_have_text("Waiting for a room")
    body = fam.locator("body").inner_text()
    assert c.first_name not in body and c.second_name not in body
    fam.get_by_test_id("lang-zh_Hans").click()
    expect(fam.locator("html")).to_have_attribute("lang", "zh-Hans")
    family.close()
