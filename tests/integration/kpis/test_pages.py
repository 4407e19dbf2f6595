"""The indicators page: the commission picks an indicator, a year and a region and sees the
value, the months and the institutions, in Chinese; a hospital office sees its own institution
only; a bad year is named by its field; the CSV export carries the same figures; every read
and export is audited."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from medcircle.activity import service as activity
from medcircle.audit.models import AuditEvent
from medcircle.auth.domain import Role
from medcircle.kpis.catalogue import INDICATORS
from tests import referral_factories as rf
from tests.agreement_factories import agreement
from tests.factories import World, login
from tests.integration.activity.test_service import actor_of, write
from tests.integration.kpis.test_service import TODAY, lines_of_2025


def _imported(session: Session, world: World, tmp_path: Path) -> None:
    done = activity.import_file(
        session, actor_of(world, Role.PLATFORM_ADMIN), write(tmp_path, lines_of_2025()), today=TODAY
    )
    assert done.status == "imported"
    session.commit()


def test_the_commission_reads_the_outflow_share_by_month_and_institution(
    client: TestClient, world: World, session: Session, tmp_path: Path
) -> None:
    _imported(session, world, tmp_path)
    token = login(client, "commissionanalyst")
    client.post("/locale", data={"csrf_token": token, "locale": "zh_Hans", "next": "/"})
    home = client.get("/")
    assert 'data-testid="nav-indicators"' in home.text
    page = client.get("/indicators/outflow-share", params={"year": 2025, "region": "130000"})
    assert page.status_code == 200, page.text
    assert "首都二级及以上医院出院人次" in page.text
    # 4 of 11 discharges
    assert "36.4 %" in page.text
    assert 'data-key="2025-03"' in page.text and 'data-key="BJ-A"' in page.text
    csv = client.get("/indicators/outflow-share.csv", params={"year": 2025, "region": "130000"})
    assert csv.status_code == 200
    assert csv.headers["content-disposition"].endswith('outflow-share-2025-130000.csv"')
    lines = csv.content.decode("utf-8-sig").splitlines()
    assert lines[1].startswith("outflow-share,2025,130000,total,*,,,0.363636,4,11")
    assert any(line.startswith("outflow-share,2025,130000,month,2025-03,") for line in lines)
    xlsx = client.get("/indicators/outflow-share.xlsx", params={"year": 2025, "region": "130000"})
    assert xlsx.status_code == 200
    assert xlsx.headers["content-disposition"].endswith('outflow-share-2025-130000.xlsx"')
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("indicator", "year", "region", "breakdown")
    assert rows[1][3:] == ("total", "*", None, None, pytest.approx(4 / 11), 4, 11)
    # the total, 12 months, one institution, one specialty (none named: "-")
    assert len(rows) == 1 + 1 + 12 + 1 + 1
    assert rows[-1][3] == "specialty" and rows[-1][6] == "No specialty named"
    assert client.get("/indicators/outflow-share.pdf?year=2025").status_code == 404


def test_the_commission_reads_the_costs_families_avoided_in_yuan(
    client: TestClient, world: World, session: Session
) -> None:
    circle = rf.referral_world(session, world)
    child = rf.patient(session, world.baoding)
    for day, yuan in ((3, 1234.56), (20, 800.4)):
        at = datetime(2025, 3, day, 2, tzinfo=UTC)
        rf.kept_local(session, circle, child, submitted_at=at, yuan=yuan)
    session.commit()
    token = login(client, "commissionanalyst")
    ask = {"year": 2025, "region": "130000"}
    client.post("/locale", data={"csrf_token": token, "locale": "en", "next": "/"})
    page = client.get("/indicators/family-costs-avoided", params=ask)
    assert page.status_code == 200, page.text
    assert 'data-testid="indicator-value">2,035 yuan<' in page.text
    assert 'data-testid="indicator-parts">the sum of 2<' in page.text
    assert '<tr data-key="2025-03"><td>2025-03</td><td class="num">2,035 yuan</td>' in page.text
    board = client.get("/indicators", params=ask)
    costs = board.text.split('data-slug="family-costs-avoided"')[1]
    assert 'data-testid="card-value">2,035 yuan<' in costs
    client.post("/locale", data={"csrf_token": token, "locale": "zh_Hans", "next": "/"})
    page = client.get("/indicators/family-costs-avoided", params=ask)
    assert "为患者家庭节省费用" in page.text
    assert 'data-testid="indicator-value">2,035 元<' in page.text
    assert "2 例之和" in page.text
    # the exports keep the yuan to the fen (the numerator in fen, over the referrals summed)
    csv = client.get("/indicators/family-costs-avoided.csv", params=ask)
    lines = csv.content.decode("utf-8-sig").splitlines()
    assert lines[1] == "family-costs-avoided,2025,130000,total,*,,,2034.96,203496,2"
    xlsx = client.get("/indicators/family-costs-avoided.xlsx", params=ask)
    rows = list(load_workbook(io.BytesIO(xlsx.content)).active.iter_rows(values_only=True))
    assert rows[1][3:] == ("total", "*", None, None, pytest.approx(2034.96), 203496, 2)
    trend = client.get(
        "/indicators/family-costs-avoided/trend.csv", params={"first": 2024, "last": 2025}
    )
    lines = trend.content.decode("utf-8-sig").splitlines()
    assert "family-costs-avoided,2024-2025,,,year,2025,,,2034.96,203496,2" in lines


def test_an_office_sees_its_own_daily_visits_only(
    client: TestClient, world: World, session: Session, tmp_path: Path
) -> None:
    _imported(session, world, tmp_path)
    login(client, "institutionadmin")
    board = client.get("/indicators", params={"year": 2025})
    assert board.status_code == 200
    assert 'data-slug="outpatient-visits-per-day"' in board.text
    assert "outflow-share" not in board.text and 'id="f-region"' not in board.text
    page = client.get("/indicators/outpatient-visits-per-day", params={"year": 2025})
    assert 'data-testid="indicator-value">0.2<' in page.text
    assert 'data-key="BD-A"' in page.text and 'data-key="BJ-A"' not in page.text
    assert client.get("/indicators/outflow-share?year=2025").status_code == 403


def test_a_bad_year_is_named_by_its_field(client: TestClient, world: World) -> None:
    login(client, "commissionanalyst")
    page = client.get("/indicators/local-treatment-rate", params={"year": "1990"})
    assert page.status_code == 422
    assert 'id="year-error"' in page.text and "2000" in page.text
    page = client.get("/indicators/local-treatment-rate", params={"year": "abc"})
    assert page.status_code == 422 and 'id="year-error"' in page.text
    assert client.get("/indicators/nothing?year=2025").status_code == 404


def test_the_dashboard_shows_every_indicator_of_the_year_and_region(
    client: TestClient, world: World, session: Session, tmp_path: Path
) -> None:
    _imported(session, world, tmp_path)
    login(client, "commissionanalyst")
    board = client.get("/indicators", params={"year": 2025, "region": "130000"})
    assert board.status_code == 200
    cards = re.findall(r'data-slug="([^"]+)"', board.text)
    assert cards == [i.slug for i in INDICATORS]
    outflow = board.text.split('data-slug="outflow-share"')[1]
    assert 'data-testid="card-value">36.4 %<' in outflow
    assert 'href="/indicators/outflow-share?year=2025&amp;region=130000"' in outflow
    bad = client.get("/indicators", params={"year": "1999"})
    assert bad.status_code == 422 and 'id="year-error"' in bad.text


def test_an_institutions_trend_with_its_agreement_and_the_months_around_it(
    client: TestClient, world: World, session: Session, tmp_path: Path
) -> None:
    _imported(session, world, tmp_path)
    agreement(
        session,
        world.beijing,
        world.baoding,
        kind="trusteeship",
        starts_on=date(2024, 6, 1),
        code="CA-BDA",
        title_en="Trusteeship of Baoding A",
    )
    session.commit()
    login(client, "commissionanalyst")
    ask = {"year": 2025, "first": 2014, "last": 2025}
    page = client.get("/indicators/outpatient-visits-per-day", params=ask)
    # the institutions' rows lead to their own trend
    assert "institution=BD-A#trend-h" in page.text
    page = client.get(
        "/indicators/outpatient-visits-per-day", params={**ask, "institution": "BD-A"}
    )
    assert page.status_code == 200, page.text
    trend = page.text.split('data-testid="trend"')[1]
    assert trend.count("<tr data-key=") >= 12 and 'data-key="2025"' in trend
    assert 'data-testid="agreement-marker" data-code="CA-BDA"' in trend
    assert "<title>Trusteeship of Baoding A (2024-06-01)</title>" in trend
    # 73 visits in May 2025: after the start, none before
    assert 'data-key="before"><td>12 months before</td><td>2023-06/2024-05</td>' in trend
    assert "2024-06/2025-05" in trend and 'data-testid="chart-before-after"' in trend
    csv = client.get(
        "/indicators/outpatient-visits-per-day/trend.csv",
        params={"first": 2014, "last": 2025, "institution": "BD-A"},
    )
    assert csv.status_code == 200
    assert csv.headers["content-disposition"].endswith(
        'outpatient-visits-per-day-2014-2025-BD-A.csv"'
    )
    lines = csv.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("indicator,years,region,institution,breakdown")
    assert any(
        line.startswith("outpatient-visits-per-day,2014-2025,,BD-A,after,") for line in lines
    )
    xlsx = client.get(
        "/indicators/outpatient-visits-per-day/trend.xlsx",
        params={"first": 2014, "last": 2025, "institution": "BD-A"},
    )
    rows = list(load_workbook(io.BytesIO(xlsx.content)).active.iter_rows(values_only=True))
    assert rows[1][4:6] == ("year", "2014") and len(rows) == 1 + 12 + 1 + 4
    bad = client.get("/indicators/outpatient-visits-per-day", params={**ask, "first": 2026})
    assert bad.status_code == 422 and 'id="first-error"' in bad.text


def test_an_office_drills_into_its_own_institution_only(
    client: TestClient, world: World, session: Session, tmp_path: Path
) -> None:
    _imported(session, world, tmp_path)
    login(client, "institutionadmin")
    page = client.get("/indicators/outpatient-visits-per-day", params={"year": 2025})
    assert "institution=BD-A#trend-h" in page.text and 'data-testid="trend"' in page.text
    other = client.get(
        "/indicators/outpatient-visits-per-day/trend.csv",
        params={"first": 2020, "last": 2025, "institution": "BJ-A"},
    )
    assert other.status_code == 404


def audited(session: Session, action: str) -> list[AuditEvent]:
    session.expire_all()
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
    )


def test_every_read_and_export_is_audited(
    client: TestClient, world: World, session: Session, tmp_path: Path
) -> None:
    _imported(session, world, tmp_path)
    login(client, "commissionanalyst")
    hebei = {"year": 2025, "region": "130000"}
    assert client.get("/indicators", params=hebei).status_code == 200
    [board] = audited(session, "kpis.dashboard.read")
    assert (board.actor_username, board.object_type, board.object_id) == (
        "commissionanalyst",
        "indicators",
        None,
    )
    assert board.detail == {"year": 2025, "region": "130000"}
    client.get("/indicators/outflow-share", params={**hebei, "first": 2020, "last": 2025})
    [read] = audited(session, "kpis.read")
    assert (read.object_type, read.object_id) == ("indicator", "outflow-share")
    assert read.detail == {"year": 2025, "region": "130000", "first": 2020, "last": 2025}
    client.get("/indicators/outflow-share.xlsx", params=hebei)
    [export] = audited(session, "kpis.export")
    assert export.detail == {"year": 2025, "region": "130000", "format": "xlsx"}
    client.get("/indicators/outflow-share/trend.csv", params={**hebei, "first": 2024})
    [trend] = audited(session, "kpis.trend.export")
    assert trend.detail["format"] == "csv" and trend.detail["first"] == 2024
    # a question that cannot be answered is not a read
    client.get("/indicators", params={"year": "1999"})
    assert len(audited(session, "kpis.dashboard.read")) == 1
