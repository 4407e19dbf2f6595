"""Values the database cannot take (ids beyond its integer range, NUL characters, times beyond
the calendar in UTC) are the client's mistake: a clear 4xx, never a 500."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from medcircle.audit.models import AuditEvent
from medcircle.auth.domain import Role
from tests.factories import World, login

HUGE = "99999999999999999999"


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/institutions/{HUGE}",
        f"/api/v1/agreements/{HUGE}",
        f"/api/v1/documents/{HUGE}",
        f"/api/v1/users/{HUGE}",
    ],
)
def test_api_id_beyond_integer_range_is_400_problem(
    client: TestClient, world: World, session: Session, path: str
) -> None:
    session.commit()
    r = client.get(path, headers=world.auth(Role.PLATFORM_ADMIN))
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "unstorable_value"


def test_page_id_beyond_integer_range_is_readable_400(
    client: TestClient, world: World, session: Session
) -> None:
    session.commit()
    login(client, "platformadmin")
    r = client.get(f"/institutions/{HUGE}")
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("text/html")
    assert "out of range" in r.text


def test_refused_write_with_huge_id_is_audited_as_failure(
    client: TestClient, world: World, session: Session
) -> None:
    session.commit()
    r = client.post(
        f"/api/v1/agreements/{HUGE}/terminate",
        json={"version": 1, "reason": "x", "terminated_on": "2026-01-01"},
        headers=world.auth(Role.PLATFORM_ADMIN),
    )
    assert r.status_code == 400
    failed = session.scalars(select(AuditEvent).where(AuditEvent.outcome == "failure")).all()
    assert [e.detail["code"] for e in failed] == ["unstorable_value"]


def test_nul_character_in_search_is_refused_on_postgresql_and_harmless_elsewhere(
    client: TestClient, world: World, session: Session, db_backend: str
) -> None:
    session.commit()
    r = client.get("/api/v1/institutions", params={"q": "\x00"}, headers=world.auth(Role.CLINICIAN))
    if db_backend == "postgresql":
        assert r.status_code == 400
        assert r.json()["code"] == "unstorable_value"
    else:
        assert r.status_code == 200


@pytest.mark.parametrize("since", ["0001-01-01", "9999-12-31T23:00:00-12:00"])
def test_audit_api_time_beyond_calendar_is_field_error(
    client: TestClient, world: World, session: Session, since: str
) -> None:
    session.commit()
    r = client.get(
        "/api/v1/audit-events", params={"since": since}, headers=world.auth(Role.AUDITOR)
    )
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["since"]


def test_audit_page_and_export_time_beyond_calendar(
    client: TestClient, world: World, session: Session
) -> None:
    session.commit()
    login(client, "auditor")
    page = client.get("/audit", params={"since": "0001-01-01"})
    assert page.status_code == 422
    assert 'id="since-error"' in page.text
    export = client.get("/audit.csv", params={"since": "0001-01-01"})
    assert export.status_code == 422
