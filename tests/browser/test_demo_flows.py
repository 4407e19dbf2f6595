"""The demo world in a real browser: every demo login, and the flows a visitor of the demo
deployment goes through (registry, alliance, agreements, language, an institution's office).

The module serves a database of its own holding the generated demo world (seed 2017), loaded
once as ``medcircle demo load`` does. The flows write to it, each with its own data, so they
do not depend on one another's order. SQLite only: the load itself is covered on PostgreSQL
by tests/integration/demo.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from playwright.sync_api import Error as PlaywrightError
from sqlalchemy import select

from medcircle.agreements.domain import SPECIALTY_COUNT_MESSAGE
from medcircle.cli.db import upgrade_database
from medcircle.cli.user import OPERATOR
from medcircle.config import Settings
from medcircle.db import make_engine, make_session_factory, unit_of_work
from medcircle.demo import service as demo_service
from medcircle.demo.generator import generate
from medcircle.demo.world import DEFAULT_SEED, DEMO_PASSWORD, World
from medcircle.kit import i18n
from medcircle.main import create_app
from medcircle.referrals.models import Referral
from medcircle.registry.models import Institution
from tests.browser.conftest import _FAILED, ACTION_TIMEOUT_MS
from tests.browser.support import PageWatch
from tests.live import serve

pytestmark = pytest.mark.browser

BAODING_CHILDRENS = "BDCH"
BEIJING_CHILDRENS = "BCH"


@dataclass(frozen=True)
class DemoSite:
    """medcircle serving the demo world on a loopback port."""

    url: str
    world: World
    # database ids of the institutions, by code (for links a person would follow)
    institution_ids: dict[str, int]
    # database ids of the referrals, by reference
    referral_ids: dict[str, int]
    # the database it serves (for tests that look up what the pages made)
    database_url: str = ""

    def url_for(self, path: str) -> str:
        return self.url + path


def zh(message: str) -> str:
    """The Simplified Chinese catalogue's text for ``message`` (what the page must show)."""
    text: str = i18n.translations("zh_Hans").ugettext(message)
    return text


@pytest.fixture(scope="module")
def demo_site(
    db_backend: str, tmp_path_factory: pytest.TempPathFactory, fast_password_hashing: None
) -> Iterator[DemoSite]:
    if db_backend != "sqlite":
        pytest.skip(
            "the demo world is served from a SQLite file here; its load on PostgreSQL is "
            "covered by tests/integration/demo"
        )
    url = f"sqlite:///{tmp_path_factory.mktemp('demo-db') / 'demo.sqlite3'}"
    upgrade_database(url)
    world = generate(DEFAULT_SEED)
    engine = make_engine(url)
    settings = Settings(
        database_url=url,
        data_dir=tmp_path_factory.mktemp("demo-data"),
        secret_key="demo-browser-test-secret-key-0123456789-abcdef",
    )
    try:
        with unit_of_work(make_session_factory(engine, writes=True)) as session:
            demo_service.load_world(session, OPERATOR, world, settings)
        with unit_of_work(make_session_factory(engine)) as session:
            ids = {
                code: id_ for code, id_ in session.execute(select(Institution.code, Institution.id))
            }
            referral_ids = {
                ref: id_ for ref, id_ in session.execute(select(Referral.reference, Referral.id))
            }
        app = create_app(settings, engine=engine)
        with serve(app) as (base, _server, _thread):
            app.state.settings = settings.model_copy(update={"base_url": base})
            yield DemoSite(
                url=base,
                world=world,
                institution_ids=ids,
                referral_ids=referral_ids,
                database_url=url,
            )
    finally:
        engine.dispose()


@pytest.fixture
def demo_page(
    browser: Browser, demo_site: DemoSite, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Page]:
    """A fresh profile's page on the demo site, watched like the harness's ``page``: no
    request may leave the server, none may fail, and no script may raise."""
    ctx = browser.new_context(
        base_url=demo_site.url, locale="en-US", viewport={"width": 1280, "height": 800}
    )
    ctx.set_default_timeout(ACTION_TIMEOUT_MS)
    watch = PageWatch(origin=demo_site.url)
    pg = ctx.new_page()
    watch.attach(pg)
    try:
        yield pg
        if request.node.stash.get(_FAILED, False):
            shot = tmp_path / "failure.png"
            try:
                pg.screenshot(path=str(shot), full_page=True)
                print(f"screenshot of the failing page: {shot}")
            except PlaywrightError as exc:
                print(f"no screenshot of the failing page: {exc}")
    finally:
        ctx.close()
    assert not watch.foreign_requests, f"requests to other hosts: {watch.foreign_requests}"
    assert not watch.page_errors, f"JavaScript errors: {watch.page_errors}"
    assert not watch.failed, f"requests that failed: {watch.failed}"


def log_in(page: Page, site: DemoSite, username: str) -> None:
    """Log in through the form with the published demo password, from the home page."""
    page.goto(site.url_for("/"))
    expect(page).to_have_url(site.url_for("/login?next=%2F"))
    page.locator("#username").fill(username)
    page.locator("#password").fill(DEMO_PASSWORD)
    page.locator("form[action='/login'] button[type=submit]").click()
    expect(page).to_have_url(site.url_for("/"))


# --- every demo login ------------------------------------------------------------------

DEMO_LOGINS = (
    "admin",
    "analyst",
    "alliance",
    "office",
    "expert",
    "clinician",
    "coordinator",
    "auditor",
    "county",
    "bch",
    "oncall",
    "bchcoord",
    "transplant",
)


def test_the_demo_logins_are_the_ones_tested(demo_site: DemoSite) -> None:
    assert sorted(u.username for u in demo_site.world.users if u.listed) == sorted(DEMO_LOGINS)


@pytest.mark.parametrize("username", DEMO_LOGINS)
def test_each_demo_login_reaches_its_home_page(
    demo_page: Page, demo_site: DemoSite, username: str
) -> None:
    user = next(u for u in demo_site.world.users if u.username == username)
    log_in(demo_page, demo_site, username)

    # in the account's own language, welcomed by name, under the demo banner
    lang = "zh-Hans" if user.locale == "zh_Hans" else "en"
    expect(demo_page.locator("html")).to_have_attribute("lang", lang)
    heading = demo_page.get_by_role("heading", level=1)
    expect(heading).to_contain_text(user.display_name)
    expect(demo_page.get_by_test_id("demo-banner")).to_be_visible()
    cards = demo_page.get_by_test_id("home-cards").locator("section.card")
    expect(cards.first).to_be_visible()
    # everyone but the auditor reads the registry, and is shown their own institution
    if username != "auditor":
        inst = demo_site.world.institution(user.institution)
        own = demo_page.get_by_test_id("card-institution")
        expect(own).to_contain_text(inst.name_zh if lang == "zh-Hans" else inst.name_en)


# --- the registry and the alliance, as the commission's analyst --------------------------


def test_analyst_finds_the_renamed_hospital_and_browses_the_alliance(
    demo_page: Page, demo_site: DemoSite
) -> None:
    page = demo_page
    log_in(page, demo_site, "analyst")
    nav = page.get_by_role("navigation", name=zh("Main"))

    nav.get_by_role("link", name=zh("Institutions")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(zh("Institutions"))
    page.get_by_label(zh("Name or code")).fill("保定")
    page.get_by_role("button", name=zh("Search")).click()
    results = page.get_by_test_id("institution-table")
    hospital = results.get_by_role("link", name="北京儿童医院保定医院", exact=True)
    expect(hospital).to_be_visible()
    # Beijing's hospitals are not among the matches
    expect(results.get_by_role("link", name="北京协和医院", exact=True)).to_have_count(0)
    hospital.click()

    expect(page.get_by_test_id("institution-name")).to_have_text("北京儿童医院保定医院")
    history = page.get_by_test_id("name-history").locator("tbody tr")
    expect(history).to_have_count(2)
    former = history.filter(has_text="保定市儿童医院")
    expect(former.locator("td")).to_have_text(
        [
            "保定市儿童医院",
            "Baoding Children's Hospital",
            "—",
            "2015-06-01",
            "Licensed name before the trusteeship",
        ]
    )
    current = history.filter(has_text="北京儿童医院保定医院")
    expect(current.locator("td").nth(2)).to_have_text("2015-06-01")
    expect(current.locator("td").nth(3)).to_have_text("—")

    nav.get_by_role("link", name=zh("Alliances")).click()
    page.get_by_test_id("alliance-table").get_by_role("link", name="保定市儿科医疗联合体").click()
    expect(page.get_by_test_id("alliance-name")).to_have_text("保定市儿科医疗联合体")
    # 133 institutions have joined, 5 of which have since left; 8 centres
    expect(page.get_by_test_id("active-count")).to_have_text("128")
    expect(page.get_by_test_id("centres").locator("tbody tr")).to_have_count(8)
    pager = page.get_by_role("navigation", name=zh("Pages"))
    expect(pager).to_contain_text(zh("%(total)s in all") % {"total": 133})
    members = page.get_by_test_id("members").locator("tbody tr")
    per_page = members.count()
    assert 0 < per_page < 133
    pages = -(-133 // per_page)
    expect(pager).to_contain_text(zh("Page %(page)s of %(pages)s") % {"page": 1, "pages": pages})
    first_page = members.first.locator("td").first.inner_text()

    pager.get_by_role("link", name=zh("Next")).click()
    expect(pager).to_contain_text(zh("Page %(page)s of %(pages)s") % {"page": 2, "pages": pages})
    expect(pager).to_contain_text(zh("%(total)s in all") % {"total": 133})
    expect(members.first.locator("td").first).not_to_have_text(first_page)
    expect(members).to_have_count(min(per_page, 133 - per_page))


# --- a cooperation agreement, as the commission's analyst --------------------------------


def prop(page: Page, label: str) -> Locator:
    """The value shown next to ``label`` in a page's list of properties."""
    term = page.locator("dl.props > dt").filter(has_text=re.compile(f"^{re.escape(label)}$"))
    return term.locator("xpath=following-sibling::dd[1]")


def test_analyst_records_and_edits_a_specialty_support_agreement(
    demo_page: Page, demo_site: DemoSite
) -> None:
    page = demo_page
    world = demo_site.world
    supporting, supported = world.institution("PUMCH"), world.institution("BD1C")
    chosen = ["心血管内科", "内分泌科", "肾内科"]
    log_in(page, demo_site, "analyst")

    page.get_by_role("navigation", name=zh("Main")).get_by_role(
        "link", name=zh("Agreements")
    ).click()
    page.get_by_test_id("new-agreement").click()
    expect(page).to_have_url(demo_site.url_for("/agreements/new"))
    expect(page.get_by_role("heading", level=1)).to_have_text(zh("New cooperation agreement"))
    form = page.get_by_test_id("agreement-form")
    form.get_by_label(zh("Kind")).select_option(label=zh("Specialty support"))
    form.get_by_label(zh("Supporting institution")).select_option(
        label=f"{supporting.code} · {supporting.name_zh}"
    )
    form.get_by_label(zh("Supported institution")).select_option(
        label=f"{supported.code} · {supported.name_zh}"
    )
    specialties = form.locator("#f-specialties")
    for name in chosen:
        specialties.get_by_label(name, exact=True).check()
    form.get_by_label(zh("Starts on")).fill("2027-01-01")
    form.get_by_label(zh("Ends on")).fill("2030-01-01")
    form.get_by_role("button", name=zh("Save")).click()

    expect(page).to_have_url(re.compile(r"/agreements/\d+\?saved=1$"))
    detail_url = page.url.removesuffix("?saved=1")
    expect(page.get_by_test_id("flash")).to_be_visible()
    expect(prop(page, zh("Kind"))).to_have_text(zh("Specialty support"))
    expect(prop(page, zh("Parties")).get_by_role("link")).to_have_text(
        [supporting.name_zh, supported.name_zh]
    )
    expect(prop(page, zh("Specialties")).locator(".badge")).to_have_text(chosen)
    expect(prop(page, zh("Term"))).to_have_text("2027-01-01 – 2030-01-01")
    expect(prop(page, zh("Status today"))).to_have_text(zh("Upcoming"))

    # five specialties are too many for specialty support: the form says so where it matters
    page.get_by_test_id("edit-agreement").click()
    form = page.get_by_test_id("agreement-form")
    specialties = form.locator("#f-specialties")
    for name in chosen:
        expect(specialties.get_by_label(name, exact=True)).to_be_checked()
    extra = ["神经内科", "眼科"]
    for name in extra:
        specialties.get_by_label(name, exact=True).check()
    form.get_by_role("button", name=zh("Save")).click()
    error = specialties.locator(".field-error")
    expect(error).to_have_text(zh(SPECIALTY_COUNT_MESSAGE) % {"count": 5})
    expect(specialties.locator("input:checked")).to_have_count(5)
    # nothing was saved
    page.goto(detail_url)
    expect(prop(page, zh("Specialties")).locator(".badge")).to_have_text(chosen)

    # a shorter term is saved and shown
    page.get_by_test_id("edit-agreement").click()
    form = page.get_by_test_id("agreement-form")
    expect(form.get_by_label(zh("Ends on"))).to_have_value("2030-01-01")
    form.get_by_label(zh("Ends on")).fill("2029-07-01")
    form.get_by_role("button", name=zh("Save")).click()
    expect(page).to_have_url(detail_url + "?saved=1")
    expect(prop(page, zh("Term"))).to_have_text("2027-01-01 – 2029-07-01")
    expect(prop(page, zh("Specialties")).locator(".badge")).to_have_text(chosen)


# --- the language switch -------------------------------------------------------------------


def test_header_button_switches_the_language_and_back(demo_page: Page, demo_site: DemoSite) -> None:
    page = demo_page
    log_in(page, demo_site, "admin")  # an English-speaking account
    html = page.locator("html")
    # the main navigation, found by its place rather than its (translated) name
    nav = page.locator("header nav.mainnav")
    nav.get_by_role("link", name="Agreements").click()
    expect(page).to_have_url(demo_site.url_for("/agreements"))
    expect(html).to_have_attribute("lang", "en")
    expect(nav.locator("a[href='/agreements']")).to_have_text("Agreements")
    expect(nav.locator("a[href='/institutions']")).to_have_text("Institutions")

    page.get_by_test_id("switch-zh_Hans").click()
    expect(html).to_have_attribute("lang", "zh-Hans")
    expect(page).to_have_url(demo_site.url_for("/agreements"))
    expect(nav.locator("a[href='/agreements']")).to_have_text("合作协议")
    expect(nav.locator("a[href='/institutions']")).to_have_text("医疗机构")
    expect(page.get_by_test_id("demo-banner")).to_contain_text(
        zh(
            "Demo deployment: the institutions are real names, but every person, patient "
            "and activity record here is synthetic."
        )
    )

    page.get_by_test_id("switch-en").click()
    expect(html).to_have_attribute("lang", "en")
    expect(page).to_have_url(demo_site.url_for("/agreements"))
    expect(nav.locator("a[href='/agreements']")).to_have_text("Agreements")
    expect(nav.locator("a[href='/institutions']")).to_have_text("Institutions")
    expect(page.get_by_test_id("demo-banner")).to_contain_text("Demo deployment")


# --- an institution's office ---------------------------------------------------------------


def test_office_adds_a_department_to_its_own_hospital_only(
    demo_page: Page, demo_site: DemoSite
) -> None:
    page = demo_page
    log_in(page, demo_site, "office")
    own = demo_site.world.institution(BAODING_CHILDRENS)
    page.get_by_test_id("card-institution").get_by_role("link", name=own.name_zh).first.click()
    own_url = demo_site.url_for(f"/institutions/{demo_site.institution_ids[own.code]}")
    expect(page).to_have_url(own_url)
    expect(page.get_by_test_id("institution-name")).to_have_text(own.name_zh)
    expect(page.get_by_test_id("institution-edit")).to_be_visible()
    departments = page.get_by_test_id("departments").locator("tbody tr")
    before = departments.count()
    expect(departments.filter(has_text="小儿心脏科")).to_have_count(0)

    page.locator("summary").filter(has_text=zh("Add a department")).click()
    form = page.get_by_test_id("department-form")
    form.get_by_label(zh("Specialty")).select_option(label="小儿心脏科")
    form.get_by_label(zh("Name in Chinese")).fill("小儿心脏科")
    form.get_by_label(zh("Name in English")).fill("Paediatric cardiology")
    form.get_by_label(zh("Beds")).fill("24")
    form.get_by_role("button", name=zh("Add department")).click()

    expect(page).to_have_url(own_url + "#departments")
    expect(departments).to_have_count(before + 1)
    added = departments.filter(has_text="小儿心脏科")
    expect(added.locator("td").nth(2)).to_have_text("24")
    expect(added.locator("td").nth(3)).to_have_text(zh("Open"))
    expect(prop(page, zh("Departments"))).to_have_text(str(before + 1))

    # another hospital's page is for reading only
    other = demo_site.world.institution(BEIJING_CHILDRENS)
    page.goto(f"/institutions/{demo_site.institution_ids[other.code]}")
    expect(page.get_by_test_id("institution-name")).to_have_text(other.name_zh)
    expect(page.get_by_test_id("institution-edit")).to_have_count(0)
    expect(page.get_by_test_id("department-form")).to_have_count(0)
    expect(page.get_by_test_id("rename-form")).to_have_count(0)
    expect(page.get_by_test_id("departments").get_by_role("link", name=zh("Edit"))).to_have_count(0)


# --- the referral loop, between a county hospital and Beijing Children's Hospital ---------


def test_bch_accepts_a_county_referral_and_the_county_sees_it(
    demo_page: Page, demo_site: DemoSite
) -> None:
    page = demo_page
    waiting = next(
        r
        for r in demo_site.world.referrals
        if (r.sender, r.receiver, r.status) == ("BD-TX-H", BEIJING_CHILDRENS, "submitted")
    )
    log_in(page, demo_site, "bch")
    page.goto(demo_site.url_for("/referrals?list=incoming"))
    incoming = page.get_by_test_id("worklist")
    expect(incoming).to_have_attribute("data-list", "incoming")
    incoming.get_by_role("link", name=waiting.reference, exact=True).click()
    expect(page.get_by_test_id("reference")).to_have_text(waiting.reference)
    history = page.get_by_test_id("history").locator("li")
    expect(history).to_have_count(len(waiting.events))
    page.get_by_test_id("action-accept").get_by_role("button").click()
    expect(page.get_by_test_id("action-schedule")).to_be_visible()
    expect(page.locator("[data-testid=history] li[data-action=accept]")).to_have_count(1)

    # the county hospital follows it in its outgoing worklist and in the history
    page.context.clear_cookies()
    log_in(page, demo_site, "county")
    page.goto(demo_site.url_for("/referrals?list=outgoing"))
    outgoing = page.get_by_test_id("worklist")
    outgoing.get_by_role("link", name=waiting.reference, exact=True).click()
    expect(page.locator("[data-testid=history] li[data-action=accept]")).to_have_count(1)
    expect(page.get_by_test_id("receiver")).to_contain_text("首都医科大学附属北京儿童医院")


def test_a_closed_upward_referral_links_to_its_way_back_down(
    demo_page: Page, demo_site: DemoSite
) -> None:
    page = demo_page
    by_ref = {r.reference: r for r in demo_site.world.referrals}
    back = next(
        r
        for r in demo_site.world.referrals
        if r.parent
        and r.sender == BEIJING_CHILDRENS
        and by_ref[r.parent].status == "closed"
        and by_ref[r.parent].redirected_to is None
    )
    log_in(page, demo_site, "bch")
    # closed referrals leave the worklists: the link from a notification or a search leads here
    page.goto(demo_site.url_for(f"/referrals/{demo_site.referral_ids[back.reference]}"))
    expect(page.get_by_test_id("reference")).to_have_text(back.reference)
    expect(page.get_by_test_id("parent-link")).to_have_text(back.parent or "")
    page.get_by_test_id("parent-link").click()
    note = page.locator("[data-testid=history] li[data-action=return]")
    expect(note).to_have_count(1)
    expect(note.get_by_role("link", name=back.reference)).to_be_visible()
