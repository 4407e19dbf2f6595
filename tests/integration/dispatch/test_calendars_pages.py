"""The expert's and the site's calendar pages: my visits by week, the calendar file, the
private feed made (shown once), replaced and revoked, a site's week with who is coming as each
side sees it, week navigation, both languages, and the feed's token kept out of the logs."""

from __future__ import annotations

import logging
import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from medcircle.dispatch.calendar_pages import HideFeedTokens, hide_feed_tokens
from tests.factories import csrf_of, login
from tests.integration.dispatch.calendar_support import (  # noqa: F401  (fixtures)
    Roster,
    dw_fixture,
    frozen_fixture,
    roster_fixture,
)
from tests.integration.dispatch.setup_support import zh

FEED_URL = re.compile(r'id="feed-url" class="feed-url" type="text" readonly value="([^"]+)"')


def _visit_ids(html: str, testid: str = "my-visit") -> list[int]:
    return [int(x) for x in re.findall(rf'data-testid="{testid}" data-visit-id="(\d+)"', html)]


def test_my_visits_by_week(client: TestClient, ros: Roster) -> None:
    login(client, "expert")
    r = client.get("/dispatch/me")
    assert r.status_code == 200
    html = r.text
    up, past = html.split('data-testid="recent"')
    v = ros.visits
    assert _visit_ids(up) == [v["tue1"].id, v["thu3"].id, v["tue8"].id]
    assert _visit_ids(past) == [v["past"].id]
    assert v["draft"].id not in _visit_ids(html)
    assert "Week of 2026-11-30" in up and "Week of 2026-12-07" in up
    assert "Week of 2026-11-23" in past
    assert "Visits to come (3)" in up
    # a conflict form on each visit to come, none on those past
    assert up.count('data-testid="conflict-form"') == 3
    assert 'data-testid="conflict-form"' not in past
    assert "Baoding Hospital A" in html and "Paediatric cardiology" in html
    assert 'href="/dispatch/me.ics"' in html
    assert 'data-testid="feed-none"' in html


def test_nothing_to_come(client: TestClient, ros: Roster) -> None:
    login(client, "bjclinician")
    html = client.get("/dispatch/me").text
    assert 'data-testid="no-upcoming"' in html


def test_the_calendar_file_from_the_page(client: TestClient, ros: Roster) -> None:
    login(client, "expert")
    r = client.get("/dispatch/me.ics")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/calendar; charset=utf-8"
    assert r.headers["cache-control"] == "private, no-store"
    assert r.text.count("BEGIN:VEVENT") == 4
    assert client.get("/dispatch/me.ics", follow_redirects=False).status_code == 200
    anonymous = TestClient(client.app).get("/dispatch/me.ics", follow_redirects=False)
    assert anonymous.status_code == 303 and "/login" in anonymous.headers["location"]


def test_the_feed_is_shown_once_then_replaced_and_revoked(client: TestClient, ros: Roster) -> None:
    login(client, "expert")
    csrf = csrf_of(client.get("/dispatch/me").text)
    made = client.post("/dispatch/me/feed", data={"csrf_token": csrf})
    assert made.status_code == 200
    assert made.headers["cache-control"] == "private, no-store"
    m = FEED_URL.search(made.text)
    assert m, "the address is shown"
    url = m.group(1)
    assert "is a secret" in made.text and "shown only once" in made.text
    assert 'href="webcal://' in made.text
    path = url.removeprefix("http://127.0.0.1:8000")
    outsider = TestClient(client.app)
    assert outsider.get(path).status_code == 200

    # never shown again
    later = client.get("/dispatch/me").text
    assert url not in later and 'data-testid="feed-active"' in later
    assert 'data-testid="feed-revoke"' in later

    # replaced: the old address stops
    again = client.post("/dispatch/me/feed", data={"csrf_token": csrf})
    m2 = FEED_URL.search(again.text)
    assert m2 and m2.group(1) != url
    assert outsider.get(path).status_code == 404

    # revoked
    r = client.post("/dispatch/me/feed/revoke", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/dispatch/me?done=revoked#feed"
    page = client.get(r.headers["location"]).text
    assert "Your private feed is revoked" in page and 'data-testid="feed-none"' in page
    assert outsider.get(m2.group(1).removeprefix("http://127.0.0.1:8000")).status_code == 404

    # without the form's token: refused
    assert client.post("/dispatch/me/feed", data={}).status_code == 403


def test_my_visits_in_chinese(client: TestClient, ros: Roster, session: Session) -> None:
    ros.dw.expert.locale = "zh_Hans"
    session.commit()
    login(client, "expert")
    html = client.get("/dispatch/me").text
    assert zh("My visits") == "我的出诊" and "我的出诊" in html
    assert "保定甲医院" in html and "小儿心脏科" in html
    assert zh("Private calendar feed") in html
    assert "2026-11-30 起的一周" in html
    csrf = csrf_of(html)
    made = client.post("/dispatch/me/feed", data={"csrf_token": csrf}).text
    assert "该地址须保密" in made


def test_sites_redirects_to_ones_own(client: TestClient, ros: Roster) -> None:
    login(client, "coordinator")
    r = client.get("/dispatch/sites", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == f"/dispatch/sites/{ros.dw.base.baoding.id}"


def test_the_site_sees_everyone_coming(client: TestClient, ros: Roster) -> None:
    login(client, "coordinator")
    bd = ros.dw.base.baoding.id
    html = client.get(f"/dispatch/sites/{bd}").text
    v = ros.visits
    assert sorted(_visit_ids(html, "site-visit")) == sorted(
        [v["tue1"].id, v["e2wed"].id, v["bj2wed"].id, v["thu3"].id]
    )
    assert 'data-day="2026-11-30"' in html and 'data-day="2026-12-04"' in html
    assert 'data-day="2026-12-05"' not in html  # Monday to Friday
    assert "Week of 2026-11-30 to 2026-12-04" in html
    assert "You see every expert coming here." in html
    assert "Beijing Hospital B" in html  # where the expert comes from
    assert 'data-kind="special"' in html
    assert f'href="/dispatch/sites/{bd}?week=2026-12-07"' in html
    assert f'href="/dispatch/sites/{bd}?week=2026-11-23"' in html
    nxt = client.get(f"/dispatch/sites/{bd}?week=2026-12-09").text
    assert _visit_ids(nxt, "site-visit") == [v["tue8"].id]
    # an odd week falls back to this one
    odd = client.get(f"/dispatch/sites/{bd}?week=someday")
    assert odd.status_code == 200 and "Week of 2026-11-30" in odd.text


def test_a_supporting_institution_sees_its_own_experts(client: TestClient, ros: Roster) -> None:
    login(client, "bjcoord")
    bd = ros.dw.base.baoding.id
    html = client.get(f"/dispatch/sites/{bd}").text
    v = ros.visits
    assert sorted(_visit_ids(html, "site-visit")) == sorted(
        [v["tue1"].id, v["e2wed"].id, v["thu3"].id]
    )
    assert 'data-testid="own-experts-only"' in html
    # its own calendar links to the sites its experts go to
    own = client.get(f"/dispatch/sites/{ros.dw.base.beijing.id}").text
    assert f'href="/dispatch/sites/{bd}?week=2026-11-30"' in own


def test_site_calendar_refusals(client: TestClient, ros: Roster) -> None:
    login(client, "coordinator")
    assert client.get("/dispatch/sites/999999").status_code == 404
    client.cookies.clear()
    login(client, "auditor")
    # the auditor holds no dispatch access
    assert client.get(f"/dispatch/sites/{ros.dw.base.baoding.id}").status_code == 403
    assert client.get("/dispatch/me").status_code == 403


def test_the_site_calendar_in_chinese(client: TestClient, ros: Roster, session: Session) -> None:
    ros.dw.site_coordinator.locale = "zh_Hans"
    session.commit()
    login(client, "coordinator")
    html = client.get(f"/dispatch/sites/{ros.dw.base.baoding.id}").text
    assert "受援单位日历" in html and "专项请求" in html and "北京乙医院" in html
    assert "2026-11-30 至 2026-12-04 这一周" in html


def test_feed_tokens_never_reach_the_logs() -> None:
    assert (
        hide_feed_tokens('1.2.3.4 - "GET /dispatch/feed/AbC-123_x.ics HTTP/1.1" 200')
        == '1.2.3.4 - "GET /dispatch/feed/[token] HTTP/1.1" 200'
    )
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("1.2.3.4:5", "GET", "/dispatch/feed/SeCrEt.ics", "1.1", 404),
        None,
    )
    assert HideFeedTokens().filter(record)
    assert "SeCrEt" not in record.getMessage()
    for name in ("uvicorn.access", "medcircle.web"):
        assert any(isinstance(f, HideFeedTokens) for f in logging.getLogger(name).filters)
