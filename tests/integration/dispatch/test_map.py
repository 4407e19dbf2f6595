"""The map of the circle: planned flows from the published roster and recorded ones from
visit records, the institutions of the period's agreements, the inline SVG (no network) with
its title, description, legend and table, the period and source controls, both languages;
the page and its table audited."""

from __future__ import annotations

import re
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from medcircle.dispatch import map_service
from medcircle.dispatch.circle_map import Flow
from medcircle.dispatch.models import VisitRecord
from medcircle.kit.errors import Forbidden, ValidationFailed
from tests.factories import login, now
from tests.integration.dispatch.calendar_support import (  # noqa: F401  (fixtures)
    Roster,
    dw_fixture,
    frozen_fixture,
    roster_fixture,
)
from tests.integration.dispatch.setup_support import actor, audited, zh


def rows_of(html: str) -> list[tuple[str, ...]]:
    """The table's rows: kind, from, to, number."""
    table = html[html.index('data-testid="flows"') : html.index("</tbody>")]
    cells = r"\s*".join([r"<td>([^<]+?)\s*</td>"] * 4)
    return [tuple(c.strip() for c in row) for row in re.findall(cells, table)]


def _record(session: Session, ros: Roster, starts_on: date, home_id: int | None = None) -> None:
    session.add(
        VisitRecord(
            user_id=ros.dw.expert.id,
            home_institution_id=home_id or ros.dw.base.beijing.id,
            site_institution_id=ros.dw.base.baoding.id,
            starts_on=starts_on,
            ends_on=starts_on,
            outpatients=12,
            created_at=now(),
            updated_at=now(),
        )
    )
    session.flush()


@pytest.fixture(name="recs")
def records_fixture(session: Session, ros: Roster) -> Roster:
    _record(session, ros, date(2026, 11, 10))
    _record(session, ros, date(2026, 11, 17))
    _record(session, ros, date(2025, 1, 6))  # long before the default period
    session.commit()
    return ros


def test_planned_flows_and_the_circles_institutions(session: Session, recs: Roster) -> None:
    w = recs.dw.base
    c = map_service.circle(
        session, actor(session, "expert"), date(2026, 9, 1), date(2027, 2, 28), "planned"
    )
    # BJ-A: Tue 1, Wed 2 (expert2), Thu 3, Tue 8 December and 24 November; BJ-B: Wed 2
    assert c.flows == [Flow(w.beijing.id, w.baoding.id, 5), Flow(w.beijing2.id, w.baoding.id, 1)]
    # the parties of the agreement in force, and the ends of the flows; not BD-B
    assert {i.id for i in c.institutions} == {w.beijing.id, w.beijing2.id, w.baoding.id}


def test_recorded_flows(session: Session, recs: Roster) -> None:
    w = recs.dw.base
    c = map_service.circle(
        session, actor(session, "coordinator"), date(2026, 9, 1), date(2027, 2, 28), "recorded"
    )
    assert c.flows == [Flow(w.beijing.id, w.baoding.id, 2)]
    whole = map_service.circle(
        session, actor(session, "coordinator"), date(2024, 1, 1), date(2026, 12, 31), "recorded"
    )
    assert whole.flows == [Flow(w.beijing.id, w.baoding.id, 3)]


def test_bad_questions(session: Session, recs: Roster) -> None:
    a = actor(session, "expert")
    with pytest.raises(ValidationFailed) as bad:
        map_service.circle(session, a, date(2026, 1, 1), date(2025, 1, 1), "sideways")
    assert {e.code for e in bad.value.field_errors} == {"invalid_source", "range_reversed"}
    with pytest.raises(ValidationFailed):
        map_service.circle(session, a, date(2020, 1, 1), date(2026, 1, 1), "planned")
    with pytest.raises(Forbidden):
        map_service.circle(
            session, actor(session, "auditor"), date(2026, 1, 1), date(2026, 2, 1), "planned"
        )


def test_the_map_page(client: TestClient, recs: Roster) -> None:
    w = recs.dw.base
    login(client, "expert")
    r = client.get("/dispatch/map")
    assert r.status_code == 200
    html = r.text
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert 'role="img"' in svg and 'aria-labelledby="map-title map-desc"' in svg
    assert '<title id="map-title">Flows in the circle: Planned visits' in svg
    assert "3 places on the map and 2 flows between them. Visit days planned: 6." in svg
    # works offline: no address outside the page but the SVG namespace
    assert re.findall(r"https?://[^\s\"']+", svg) == ["http://www.w3.org/2000/svg"]
    assert svg.count("<circle") == 3 and svg.count("marker-end") == 2
    widths = re.findall(r'stroke-width="([\d.]+)" marker-end', svg)
    assert float(widths[0]) > float(widths[1])
    assert (
        f'data-kind="visits" data-origin="{w.beijing.id}" data-site="{w.baoding.id}" data-count="5"'
        in svg
    )
    # the legend names the levels present; the table holds the numbers
    legend = html[html.index('data-testid="map-legend"') :]
    assert "Tertiary" in legend and "Secondary" in legend
    table = html[html.index('data-testid="flows"') :]
    assert rows_of(html) == [
        ("Visit days planned", "Beijing Hospital A", "Baoding Hospital A", "5"),
        ("Visit days planned", "Beijing Hospital B", "Baoding Hospital A", "1"),
    ]
    assert "Visit days planned" in table
    # the default period: the last 90 days and the next 90
    assert 'value="2026-09-01"' in html and 'value="2027-02-28"' in html


def test_the_toggle_to_recorded_visits(client: TestClient, recs: Roster) -> None:
    login(client, "coordinator")
    html = client.get("/dispatch/map", params={"source": "recorded"}).text
    assert 'value="recorded" checked' in html
    assert "Visits recorded" in html
    assert html.count("marker-end") == 1
    earlier = client.get(
        "/dispatch/map", params={"source": "recorded", "first": "2025-01-01", "last": "2025-01-31"}
    ).text
    assert re.search(r"<td>1</td>", earlier)
    empty = client.get(
        "/dispatch/map", params={"source": "recorded", "first": "2019-01-01", "last": "2019-01-31"}
    ).text
    assert 'data-testid="no-flows"' in empty


def test_bad_controls_are_explained(client: TestClient, recs: Roster) -> None:
    login(client, "expert")
    r = client.get("/dispatch/map", params={"first": "2027-01-01", "last": "2026-01-01"})
    assert r.status_code == 422
    assert 'data-testid="map-errors"' in r.text
    assert "The last day comes before the first." in r.text
    assert "shows the default period instead" in r.text
    assert 'value="2027-01-01"' in r.text  # what was typed stays
    r = client.get("/dispatch/map", params={"first": "soon"})
    assert r.status_code == 422 and "YYYY-MM-DD" in r.text
    r = client.get("/dispatch/map", params={"source": "rumoured"})
    assert (
        r.status_code == 422
        and "Choose expert visits (planned or recorded), referrals, or both." in r.text
    )


def test_institutions_without_coordinates_are_listed(
    client: TestClient, recs: Roster, session: Session
) -> None:
    recs.dw.base.beijing2.latitude = None
    session.commit()
    login(client, "expert")
    html = client.get("/dispatch/map").text
    assert 'data-testid="unplaced"' in html and "Beijing Hospital B" in html
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert svg.count("<circle") == 2 and svg.count("marker-end") == 1


def test_the_map_in_chinese_and_for_those_without_access(
    client: TestClient, recs: Roster, session: Session
) -> None:
    recs.dw.expert.locale = "zh_Hans"
    session.commit()
    login(client, "expert")
    html = client.get("/dispatch/map").text
    assert "医联体地图" in html and "北京甲医院" in html and "计划出诊天数" in html
    assert zh("Tertiary") in html and zh("Secondary") in html
    client.cookies.clear()
    login(client, "auditor")
    assert client.get("/dispatch/map").status_code == 403


def test_the_page_and_its_table_are_audited(
    client: TestClient, recs: Roster, session: Session
) -> None:
    login(client, "expert")
    client.get("/dispatch/map", params={"source": "recorded"})
    [read] = audited(session, "dispatch.map.read")
    assert (read.actor_username, read.object_type, read.outcome) == (
        "expert",
        "circle_map",
        "success",
    )
    assert read.detail["source"] == "recorded" and read.detail["first"] == "2026-09-01"
    r = client.get("/dispatch/map.csv", params={"first": "2026-11-01", "last": "2026-11-30"})
    assert r.status_code == 200
    [export] = audited(session, "dispatch.map.export")
    assert (export.detail["first"], export.detail["last"]) == ("2026-11-01", "2026-11-30")
