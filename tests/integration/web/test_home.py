"""The home page shows each role what needs its attention, and a demo deployment says so."""

from __future__ import annotations

from datetime import UTC, date, datetime

import time_machine
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from medcircle.auth.domain import Role
from medcircle.demo.models import DemoWorld
from tests import agreement_factories as af
from tests.factories import World, csrf_of, login


def _pairings(session: Session, world: World) -> None:
    # BJ-A supports BD-A (the institution admin's hospital): ends soon, one goal overdue
    a = af.agreement(
        session,
        world.beijing,
        world.baoding,
        starts_on=date(2023, 1, 1),
        ends_on=date(2026, 12, 31),
        title_en="Neonatal support",
    )
    af.goal(session, a, due_on=date(2026, 6, 30), status="in_progress")
    # BJ-B supports BD-B: nothing to do with BD-A
    af.agreement(
        session,
        world.beijing2,
        world.baoding2,
        starts_on=date(2024, 1, 1),
        ends_on=date(2028, 1, 1),
        title_en="Cardiology support",
    )
    session.commit()


@time_machine.travel(datetime(2026, 11, 23, 2, 0, tzinfo=UTC), tick=False)
def test_institution_admin_sees_own_ending_and_overdue(
    client: TestClient, session: Session, world: World
) -> None:
    _pairings(session, world)
    login(client, "institutionadmin")
    page = client.get("/").text
    assert 'data-testid="card-ending"' in page
    assert 'data-testid="card-overdue"' in page
    assert "Neonatal support" in page
    assert "Cardiology support" not in page  # another institution's pairing
    assert 'data-testid="card-users"' in page
    assert 'data-testid="card-failed-logins"' not in page


@time_machine.travel(datetime(2026, 11, 23, 2, 0, tzinfo=UTC), tick=False)
def test_commission_analyst_sees_the_region(
    client: TestClient, session: Session, world: World
) -> None:
    _pairings(session, world)
    login(client, "commissionanalyst")
    page = client.get("/").text
    assert "Neonatal support" in page and "Cardiology support" in page
    assert 'data-testid="card-users"' not in page


def test_auditor_sees_failed_logins(client: TestClient, world: World) -> None:
    for username in ("clinician", "nobody"):
        page = client.get("/login")
        client.post(
            "/login",
            data={
                "username": username,
                "password": "wrong-password",
                "csrf_token": csrf_of(page.text),
            },
        )
    login(client, "auditor")
    home = client.get("/").text
    assert 'data-testid="card-failed-logins"' in home
    assert 'data-testid="card-active"' not in home  # auditors do not read agreements
    start = home.index('data-testid="card-failed-logins"')
    assert '<div class="stat">2</div>' in home[start : start + 400]


def test_alliance_admin_sees_led_alliance(
    client: TestClient, session: Session, world: World
) -> None:
    from medcircle.registry.models import Alliance, AllianceMember

    alliance = Alliance(
        code="BD-PED",
        name_zh="保定儿科医联体",
        name_en="Baoding paediatric alliance",
        lead_institution_id=world.baoding.id,
        founded_on=date(2017, 1, 1),
    )
    session.add(alliance)
    session.flush()
    session.add_all(
        [
            AllianceMember(
                alliance_id=alliance.id, institution_id=world.baoding.id, joined_on=date(2017, 1, 1)
            ),
            AllianceMember(
                alliance_id=alliance.id,
                institution_id=world.baoding2.id,
                joined_on=date(2018, 1, 1),
            ),
        ]
    )
    session.commit()
    login(client, "allianceadmin")
    page = client.get("/").text
    start = page.index('data-testid="card-alliance"')
    assert "Baoding paediatric alliance" in page[start : start + 600]
    assert '<div class="stat">2</div>' in page[start : start + 600]


def test_every_role_has_a_home_page(client: TestClient, world: World) -> None:
    for role in Role:
        client.cookies.clear()
        login(client, role.value.replace("_", ""))
        r = client.get("/")
        assert r.status_code == 200, role
        assert 'data-testid="card-institution"' in r.text


def test_demo_banner_only_on_demo_deployments(
    client: TestClient, session: Session, world: World
) -> None:
    login(client, "clinician")
    assert 'data-testid="demo-banner"' not in client.get("/").text
    session.add(DemoWorld(seed=2017, generator_version="test", loaded_at=datetime.now(UTC)))
    session.commit()
    client.app.state.demo_flag = None  # type: ignore[attr-defined]
    assert 'data-testid="demo-banner"' in client.get("/").text
    assert 'data-testid="demo-banner"' in client.get("/login").text


def test_oversized_form_gets_a_readable_page(
    settings, engine, session_factory, world: World
) -> None:  # type: ignore[no-untyped-def]
    from medcircle.main import create_app

    app = create_app(
        settings.model_copy(update={"max_upload_bytes": 2048}),
        engine=engine,
        session_factory=session_factory,
    )
    with TestClient(app) as c:
        r = c.post(
            "/account/tokens",
            content=b"x" * 5000,
            headers={
                "content-type": "application/x-www-form-urlencoded",
                "accept-language": "en",
                "referer": "http://testserver/account",
            },
        )
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("text/html")
    assert "The upload is too large" in r.text and 'href="/account"' in r.text
