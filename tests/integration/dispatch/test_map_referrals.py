"""The map with referrals: flows up and down counted by the day they were sent (Beijing time),
drafts left out; the commission sees every referral, a hospital office only its own
institution's; by city (Beijing one place, Baoding's districts one city, flows within a city
listed and not drawn); visits and referrals together; the CSV of the table; bad choices."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from medcircle.auth.domain import Role
from medcircle.dispatch import map_service
from medcircle.dispatch.circle_map import DOWN, UP, Flow
from medcircle.kit.errors import ValidationFailed
from medcircle.referrals.domain import Direction, Status
from tests import referral_factories as rf
from tests.factories import login
from tests.integration.dispatch.calendar_support import (  # noqa: F401  (fixtures)
    Roster,
    dw_fixture,
    frozen_fixture,
    roster_fixture,
)
from tests.integration.dispatch.setup_support import actor, zh
from tests.integration.dispatch.test_map import records_fixture, rows_of  # noqa: F401

YEAR = {"first": "2026-01-01", "last": "2026-12-31"}
BEIJING, BAODING = 110000, 130600


def _at(y: int, m: int, d: int, h: int = 2, minute: int = 0) -> datetime:
    return datetime(y, m, d, h, minute, tzinfo=UTC)


@pytest.fixture(name="refs")
def referrals_fixture(session: Session, recs: Roster) -> Roster:
    c = recs.dw.circle
    w = c.base
    bd_doctor = w.users[Role.CLINICIAN]
    bd_patient = rf.patient(session, w.baoding)
    bd2_patient = rf.patient(session, w.baoding2)
    bj_patient = rf.patient(session, w.beijing)
    up = Direction.UP
    # up from BD-A to BJ-A: three sent in 2026 (one cancelled after it was sent, one sent at
    # 00:30 on 1 January Beijing time), one sent at 23:30 on 31 December 2025 Beijing time,
    # and a draft never sent
    for at, status in (
        (_at(2026, 3, 10), Status.SUBMITTED),
        (_at(2026, 6, 1), Status.CANCELLED),
        (_at(2025, 12, 31, 16, 30), Status.COMPLETED),
        (_at(2025, 12, 31, 15, 30), Status.COMPLETED),
        (None, Status.DRAFT),
    ):
        rf.referral(session, bd_patient, bd_doctor, c.bj_paeds, status=status, submitted_at=at)
    # up from BD-B to BJ-A
    rf.referral(
        session,
        bd2_patient,
        c.bd2_clinician,
        c.bj_paeds,
        direction=up,
        submitted_at=_at(2026, 4, 1),
    )
    # down from BJ-A to BD-A, and down inside Baoding from BD-A to BD-B
    rf.referral(
        session,
        bj_patient,
        c.bj_clinician,
        c.bd_paeds,
        direction=Direction.DOWN,
        submitted_at=_at(2026, 5, 5),
    )
    rf.referral(
        session,
        bd_patient,
        bd_doctor,
        c.bd2_paeds,
        direction=Direction.DOWN,
        submitted_at=_at(2026, 7, 1),
    )
    session.commit()
    return recs


def _in_2026(
    session: Session, username: str, source: str = "referrals", grouping: str = "institution"
) -> map_service.Circle:
    a = actor(session, username)
    return map_service.circle(session, a, date(2026, 1, 1), date(2026, 12, 31), source, grouping)


def test_referral_flows_for_the_commission(session: Session, refs: Roster) -> None:
    w = refs.dw.base
    c = _in_2026(session, "commissionanalyst")
    assert c.referrals_of is None
    assert c.flows == [
        Flow(w.baoding.id, w.beijing.id, 3, UP),
        Flow(w.baoding2.id, w.beijing.id, 1, UP),
        Flow(w.beijing.id, w.baoding.id, 1, DOWN),
        Flow(w.baoding.id, w.baoding2.id, 1, DOWN),
    ]
    # the ends of the flows are on the map, BD-B too (it has no agreement)
    assert {w.baoding2.id, w.beijing.id, w.baoding.id} <= {i.id for i in c.institutions}


def test_a_hospital_office_sees_only_its_own_referrals(session: Session, refs: Roster) -> None:
    w = refs.dw.base
    office = _in_2026(session, "institutionadmin")
    assert office.referrals_of == w.baoding.id
    assert office.flows == [
        Flow(w.baoding.id, w.beijing.id, 3, UP),
        Flow(w.beijing.id, w.baoding.id, 1, DOWN),
        Flow(w.baoding.id, w.baoding2.id, 1, DOWN),
    ]
    # BD-B's coordinator: the referrals BD-B sent or received, not the others
    other = _in_2026(session, "bd2coord")
    assert other.flows == [
        Flow(w.baoding2.id, w.beijing.id, 1, UP),
        Flow(w.baoding.id, w.baoding2.id, 1, DOWN),
    ]


def test_by_city(session: Session, refs: Roster) -> None:
    shown = map_service.shown(
        _in_2026(session, "commissionanalyst", "recorded-and-referrals", "city")
    )
    assert sorted(p.id for p in shown.places) == [BEIJING, BAODING]
    by_id = {p.id: p for p in shown.places}
    # BJ-A (BJ-B has no agreement in force and no flow in 2026) and the two Baoding
    # hospitals (Jingxiu, Lianchi districts)
    assert by_id[BEIJING].institutions == 1 and by_id[BAODING].institutions == 2
    # at the divisions' coordinates in the registry
    assert (by_id[BEIJING].latitude, by_id[BEIJING].longitude) == pytest.approx((39.9042, 116.4074))
    assert shown.flows == [
        Flow(BEIJING, BAODING, 2),
        Flow(BAODING, BEIJING, 4, UP),
        Flow(BEIJING, BAODING, 1, DOWN),
    ]
    assert shown.inside == [Flow(BAODING, BAODING, 1, DOWN)]
    assert shown.names[BEIJING] == "北京市"


def test_bad_source_and_grouping(session: Session, refs: Roster) -> None:
    a = actor(session, "commissionanalyst")
    with pytest.raises(ValidationFailed) as bad:
        map_service.circle(session, a, date(2026, 1, 1), date(2026, 2, 1), "rumours", "county")
    assert {e.code for e in bad.value.field_errors} == {"invalid_source", "invalid_grouping"}


def test_the_map_page_with_referrals_by_city(client: TestClient, refs: Roster) -> None:
    login(client, "commissionanalyst")
    r = client.get(
        "/dispatch/map", params={**YEAR, "source": "recorded-and-referrals", "grouping": "city"}
    )
    assert r.status_code == 200
    html = r.text
    assert 'value="recorded-and-referrals" checked' in html and 'value="city" checked' in html
    svg = html[html.index("<svg") : html.index("</svg>")]
    # two cities sized by their institutions; three flows drawn, each kind its arrow
    assert svg.count("<circle") == 2
    assert 'data-institutions="1"' in svg and 'data-institutions="2"' in svg
    assert svg.count("marker-end") == 3
    for kind in ("visits", "up", "down"):
        assert f'marker-end="url(#flow-arrow-{kind})" data-kind="{kind}"' in svg
    assert 'stroke-dasharray="6 4"' in svg  # referrals down dashed
    # the legend names both kinds of referral; the note on cities
    legend = html[html.index('data-testid="map-legend"') :]
    assert "Referrals up" in legend and "Referrals down" in legend and "Visits recorded" in legend
    assert 'data-testid="by-city"' in html
    assert 'data-testid="own-referrals"' not in html
    assert rows_of(html) == [
        ("Visits recorded", "Beijing", "Baoding", "2"),
        ("Referrals up", "Baoding", "Beijing", "4"),
        ("Referrals down", "Beijing", "Baoding", "1"),
        ("Referrals down", "Baoding", "Baoding (within the city)", "1"),
    ]
    assert "Total: Referrals up" in html
    # no patient: neither names nor references
    assert "患者" not in html and "T-0" not in html
    assert (
        'href="/dispatch/map.csv?first=2026-01-01&amp;last=2026-12-31&amp;source=recorded-and-referrals&amp;grouping=city"'
        in html
    )


def test_a_hospital_office_page(client: TestClient, refs: Roster) -> None:
    login(client, "bd2coord")
    html = client.get("/dispatch/map", params={**YEAR, "source": "referrals"}).text
    assert 'data-testid="own-referrals"' in html
    assert rows_of(html) == [
        ("Referrals up", "Baoding Hospital B", "Beijing Hospital A", "1"),
        ("Referrals down", "Baoding Hospital A", "Baoding Hospital B", "1"),
    ]


def test_the_csv_of_the_table(client: TestClient, refs: Roster) -> None:
    login(client, "commissionanalyst")
    r = client.get("/dispatch/map.csv", params={**YEAR, "source": "referrals", "grouping": "city"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "circle-map-referrals-city-2026-01-01-2026-12-31.csv" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows == [
        ["kind", "from", "to", "count", "within_one_city"],
        ["up", "Baoding", "Beijing", "4", "no"],
        ["down", "Beijing", "Baoding", "1", "no"],
        ["down", "Baoding", "Baoding", "1", "yes"],
    ]
    bad = client.get("/dispatch/map.csv", params={"source": "rumours", "grouping": "county"})
    assert bad.status_code == 422
    assert client.get("/dispatch/map.csv", params={"first": "soon"}).status_code == 422
    client.cookies.clear()
    login(client, "auditor")
    assert client.get("/dispatch/map.csv").status_code == 403


def test_bad_choices_are_explained_by_their_fields(client: TestClient, refs: Roster) -> None:
    login(client, "commissionanalyst")
    r = client.get("/dispatch/map", params={**YEAR, "source": "referrals", "grouping": "county"})
    assert r.status_code == 422
    assert 'data-testid="grouping-error"' in r.text
    assert "Choose by institution or by city." in r.text
    # the valid choices are kept: referrals over the year asked, by institution
    assert 'value="referrals" checked' in r.text and 'value="institution" checked' in r.text
    assert "shows the default period instead" not in r.text
    r = client.get("/dispatch/map", params={"source": "gossip"})
    assert r.status_code == 422 and 'data-testid="source-error"' in r.text


def test_in_chinese(client: TestClient, refs: Roster, session: Session) -> None:
    refs.dw.base.users[Role.COMMISSION_ANALYST].locale = "zh_Hans"
    session.commit()
    login(client, "commissionanalyst")
    html = client.get(
        "/dispatch/map", params={**YEAR, "source": "referrals", "grouping": "city"}
    ).text
    assert zh("Referrals up") in html and zh("By city") in html and "保定市" in html


def test_from_the_indicators_to_the_map(client: TestClient, refs: Roster) -> None:
    """The analyst opens the dashboard, follows its link to the map of the year, and from a
    referral indicator to its referrals on the map."""
    login(client, "commissionanalyst")
    dashboard = client.get("/indicators", params={"year": "2026"}).text
    link = re.search(r'<a href="([^"]+)" data-testid="map-link">', dashboard)
    assert link is not None
    href = link.group(1).replace("&amp;", "&")
    assert href == (
        "/dispatch/map?first=2026-01-01&last=2026-12-31&source=recorded-and-referrals&grouping=city"
    )
    r = client.get(href)
    assert r.status_code == 200
    assert rows_of(r.text)[1] == ("Referrals up", "Baoding", "Beijing", "4")
    page = client.get("/indicators/referrals-up", params={"year": "2026"}).text
    link = re.search(r'<a href="([^"]+)" data-testid="map-link">', page)
    assert link is not None
    r = client.get(link.group(1).replace("&amp;", "&"))
    assert 'value="referrals" checked' in r.text
    assert "map-link" not in client.get("/indicators/remote-consultations?year=2026").text
