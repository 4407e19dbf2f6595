"""A crawl of the loaded demo world as each printed demo login sees it: the home page, every
link on it, and every link on the pages it leads to in the consultation, rota, session,
teaching case, referral and patient areas (bounded). No page may fail (5xx), and every page
speaks the account's language.

The world is loaded once for the module, in a transaction rolled back at the end; the app
shares that transaction (every request commits to a savepoint of it)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from medcircle.config import Settings
from medcircle.demo import service
from medcircle.demo.generator import generate
from medcircle.demo.service import DemoLogin
from medcircle.demo.world import DEMO_PASSWORD
from medcircle.main import create_app
from medcircle.registry.domain import SPECIALTY_BY_CODE
from tests.factories import login
from tests.integration.demo.conftest import DEMO_DAY, DEMO_SETTINGS, OPERATOR

DOCS = Path(__file__).resolve().parents[3] / "docs" / "demo.md"
# the areas whose pages are crawled one click further
AREAS = ("/consultations", "/rotas", "/sessions", "/teaching-cases", "/referrals", "/patients")
MAX_PAGES = 60
# pages of one shape (ids and query values aside) fetched at most, so the crawl spreads
PER_SHAPE = 3
# not pages: leaving, switching the language, the API's own pages, files
SKIP = re.compile(
    r"^/(logout|locale|static/|docs|redoc|openapi\.json|api/)"
    r"|/(download|export|files?)(/|$|\?)|\.(pdf|csv|xlsx|zip|png|jpe?g|svg|ics)$"
)
LANG = {"en": "en", "zh_Hans": "zh-Hans"}
HTML_LANG = re.compile(r"<html[^>]*\blang=\"([^\"]+)\"")


class Links(HTMLParser):
    """The targets of the ``<a href>`` of a page and of its HTMX ``hx-get`` (no forms: they
    may post)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        href = attr.get("href") if tag == "a" and "download" not in attr else None
        for target in (href, attr.get("hx-get")):
            if target:
                self.found.append(target)


def same_site_links(base: str, html: str) -> list[str]:
    """The same-site page links of ``html`` (at ``base``), as paths with their query."""
    parser = Links()
    parser.feed(html)
    out: list[str] = []
    for href in parser.found:
        if href.startswith(("mailto:", "tel:", "javascript:", "#")):
            continue
        url, _ = urldefrag(urljoin(f"http://testserver{base}", href))
        parts = urlsplit(url)
        if parts.netloc != "testserver":
            continue
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if SKIP.search(path) or path in out:
            continue
        out.append(path)
    return out


def shape(path: str) -> str:
    """``/patients/12?list=x`` and ``/patients/7?list=y`` have one shape, and so have
    ``/rotas/neonatology`` and ``/rotas/ped_icu``: ids and specialty codes aside."""
    parts = urlsplit(path)
    segments = ["#" if s.isdigit() or s in SPECIALTY_BY_CODE else s for s in parts.path.split("/")]
    keys = sorted(q.split("=", 1)[0] for q in parts.query.split("&") if q)
    return "/".join(segments) + "?" + "&".join(keys)


def in_areas(path: str) -> bool:
    return any(path == a or path.startswith((f"{a}/", f"{a}?")) for a in AREAS)


def printed_logins() -> list[str]:
    """The user names of the logins table of docs/demo.md."""
    table = DOCS.read_text(encoding="utf-8").split("## Logins", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([a-z.]+)` \|", table, flags=re.MULTILINE)


@pytest.fixture(scope="module")
def demo_logins(engine: Engine) -> Iterator[tuple[sessionmaker[Session], list[DemoLogin]]]:
    """The loaded demo world (one transaction, rolled back) and its printed logins."""
    conn = engine.connect()
    trans = conn.begin()
    factory = sessionmaker(
        bind=conn, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    session = factory()
    world = generate(2017, as_of=DEMO_DAY)
    service.load_world(session, OPERATOR, world, DEMO_SETTINGS)
    session.flush()
    logins = service.demo_logins(session, world)
    session.commit()
    session.close()
    yield factory, logins
    trans.rollback()
    conn.close()


@pytest.fixture(scope="module")
def site(
    demo_logins: tuple[sessionmaker[Session], list[DemoLogin]],
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    engine: Engine,
) -> Iterator[TestClient]:
    factory, _ = demo_logins
    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path_factory.mktemp("crawl"),
        # the key the demo sealed the patients' numbers with
        secret_key=DEMO_SETTINGS.secret_key,
        timer_interval_seconds=0,
    )
    app = create_app(settings, engine=engine, session_factory=factory)
    with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as c:
        yield c


def test_the_printed_logins_are_the_listed_accounts(
    demo_logins: tuple[sessionmaker[Session], list[DemoLogin]],
) -> None:
    _, logins = demo_logins
    printed = printed_logins()
    assert len(printed) >= 12 and "oncall" in printed and "bchcoord" in printed
    assert sorted(printed) == sorted(x.username for x in logins)


def crawl(client: TestClient) -> dict[str, tuple[int, str | None]]:
    """Home, every link on it, and the links of its pages in ``AREAS``: status and html lang
    of each page fetched (at most ``MAX_PAGES``)."""
    seen: dict[str, tuple[int, str | None]] = {}
    shapes: Counter[str] = Counter()

    def wanted(path: str) -> bool:
        return len(seen) < MAX_PAGES and path not in seen and shapes[shape(path)] < PER_SHAPE

    def fetch(path: str) -> str | None:
        shapes[shape(path)] += 1
        r = client.get(path)
        lang = None
        html = None
        if r.headers.get("content-type", "").startswith("text/html"):
            html = r.text
            m = HTML_LANG.search(html)
            # a whole page says its language; a fragment (HTMX) has none to say
            lang = m.group(1) if m else ("" if "<html" in html.lower() else None)
        seen[path] = (r.status_code, lang)
        return html if r.status_code < 400 else None

    home = fetch("/")
    assert home is not None
    first = same_site_links("/", home)
    second: list[str] = []
    for path in first:
        if not wanted(path):
            continue
        html = fetch(path)
        if html is not None and in_areas(urlsplit(path).path):
            second.extend(p for p in same_site_links(path, html) if p not in second)
    for path in second:
        if wanted(path):
            fetch(path)
    return seen


def test_every_page_of_every_demo_login_works_in_its_language(
    site: TestClient, demo_logins: tuple[sessionmaker[Session], list[DemoLogin]]
) -> None:
    _, logins = demo_logins
    failures: list[str] = []
    for who in logins:
        site.cookies.clear()
        login(site, who.username, DEMO_PASSWORD)
        pages = crawl(site)
        # more than the navigation: the crawl went one click into the areas
        assert len(pages) > 5, (who.username, pages)
        want = LANG[who.locale]
        for path, (status, lang) in pages.items():
            if status >= 500:
                failures.append(f"{who.username} GET {path}: {status}")
            elif lang is not None and lang != want:
                failures.append(f"{who.username} GET {path}: lang {lang}, wants {want}")
        # the home page is a page of the site, in the account's language
        assert pages["/"] == (200, want), who.username
    assert not failures, "\n".join(failures)
