"""The audit trail: one event per write, append-only in the database, filters, CSV export."""

from __future__ import annotations

import csv
import io
from datetime import timedelta, timezone

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import Connection, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from medcircle.audit import service as audit
from medcircle.audit.models import AuditEvent
from medcircle.auth.domain import Actor, Role
from medcircle.kit import clock
from tests.factories import PASSWORD, World, csrf_of, login


def _actor(world: World, role: Role) -> Actor:
    u = world.users[role]
    return Actor(
        user_id=u.id, username=u.username, institution_id=u.institution_id, roles=frozenset({role})
    )


def _all(session: Session) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def test_each_account_write_leaves_exactly_one_event(
    client: TestClient, world: World, session: Session
) -> None:
    base = len(_all(session))
    csrf = login(client, "institutionadmin")  # auth.login
    client.post("/locale", data={"csrf_token": csrf, "locale": "en", "next": "/"})  # user.locale
    client.post(
        "/account/password",
        data={
            "csrf_token": csrf,
            "current_password": PASSWORD,
            "new_password": "Fresh-Password-2026",
            "confirm_password": "Fresh-Password-2026",
        },
    )  # user.password_change
    client.post(
        "/users/new",
        data={
            "csrf_token": csrf,
            "username": "nurse.zhao",
            "display_name": "Zhao",
            "password": "Varied-Password-77",
            "roles": ["coordinator"],
        },
    )  # user.create
    target = world.users[Role.CLINICIAN]
    client.post(
        f"/users/{target.id}",
        data={
            "csrf_token": csrf,
            "display_name": "Dr Li",
            "roles": ["clinician"],
            "is_active": "1",
        },
    )  # user.update
    client.post("/account/tokens", data={"csrf_token": csrf, "name": "t"})  # auth.token.create
    client.post("/logout", data={"csrf_token": csrf})  # auth.logout
    actions = [e.action for e in _all(session)[base:]]
    assert actions == [
        "auth.login",
        "user.locale",
        "user.password_change",
        "user.create",
        "user.update",
        "auth.token.create",
        "auth.logout",
    ]
    for e in _all(session)[base:]:
        assert e.actor_username == "institutionadmin"
        assert e.outcome == "success"
        assert e.ip
        assert "Fresh-Password-2026" not in str(e.detail)
        assert "Varied-Password-77" not in str(e.detail)


def test_events_record_who_what_when_where(session: Session, world: World) -> None:
    at = clock.now().replace(microsecond=0)
    with time_machine.travel(at, tick=False):
        e = audit.record(
            session,
            _actor(world, Role.EXPERT),
            "test.write",
            object_type="thing",
            object_id=42,
            detail={"note": "patient 110105199001011234", "password": "hunter2-secret"},
            info=audit.RequestInfo(ip="10.1.2.3", user_agent="UA/1.0"),
        )
    session.expire_all()
    got = session.get(AuditEvent, e.id)
    assert got is not None
    assert got.occurred_at == at
    assert (got.actor_user_id, got.actor_username) == (world.users[Role.EXPERT].id, "expert")
    assert got.actor_institution_id == world.beijing.id
    assert (got.object_type, got.object_id, got.outcome) == ("thing", "42", "success")
    assert (got.ip, got.user_agent) == ("10.1.2.3", "UA/1.0")
    assert got.detail == {"note": "patient 110105********1234", "password": "[removed]"}


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_event SET action = 'tampered'", "DELETE FROM audit_event"],
)
def test_the_database_refuses_update_and_delete(
    connection: Connection, session: Session, world: World, statement: str
) -> None:
    audit.record(session, _actor(world, Role.EXPERT), "test.write")
    session.commit()
    count = connection.execute(text("SELECT count(*) FROM audit_event")).scalar_one()
    savepoint = connection.begin_nested()
    with pytest.raises(DBAPIError, match="append-only"):
        connection.execute(text(statement))
    savepoint.rollback()
    assert connection.execute(text("SELECT count(*) FROM audit_event")).scalar_one() == count
    assert (
        connection.execute(
            text("SELECT count(*) FROM audit_event WHERE action = 'tampered'")
        ).scalar_one()
        == 0
    )


def _seed(session: Session, world: World) -> None:
    start = clock.now() - timedelta(days=10)
    for day, role, action, outcome in [
        (0, Role.EXPERT, "auth.login", audit.Outcome.SUCCESS),
        (1, Role.EXPERT, "auth.token.create", audit.Outcome.SUCCESS),
        (2, Role.CLINICIAN, "auth.login", audit.Outcome.FAILURE),
        (3, Role.CLINICIAN, "user.update", audit.Outcome.DENIED),
        (4, Role.AUDITOR, "audit.export", audit.Outcome.SUCCESS),
    ]:
        with time_machine.travel(start + timedelta(days=day), tick=False):
            audit.record(
                session,
                _actor(world, role),
                action,
                outcome=outcome,
                object_type="user",
                object_id=world.users[role].id,
            )
    session.commit()


def test_filters(client: TestClient, world: World, session: Session) -> None:
    _seed(session, world)
    h = world.auth(Role.AUDITOR)

    def actions(**params: str) -> list[str]:
        r = client.get("/api/v1/audit-events", params={**params, "size": "100"}, headers=h)
        assert r.status_code == 200, r.text
        return [e["action"] for e in r.json()["items"]]

    assert actions(actor="expert") == ["auth.token.create", "auth.login"]
    assert actions(action="auth.login") == ["auth.login", "auth.login"]
    assert sorted(actions(action="auth.")) == ["auth.login", "auth.login", "auth.token.create"]
    assert actions(outcome="denied") == ["user.update"]
    assert actions(outcome="failure", actor="clinician") == ["auth.login"]
    since = (clock.now() - timedelta(days=8, hours=12)).isoformat()
    until = (clock.now() - timedelta(days=6, hours=12)).isoformat()
    assert actions(since=since, until=until) == ["user.update", "auth.login"]
    assert actions(object_type="user", object_id=str(world.users[Role.AUDITOR].id)) == [
        "audit.export"
    ]
    page = client.get("/api/v1/audit-events", params={"size": 2}, headers=h).json()
    assert page["size"] == 2 and len(page["items"]) == 2 and page["total"] >= 5
    bad = client.get("/api/v1/audit-events", params={"outcome": "maybe"}, headers=h)
    assert bad.status_code == 422
    assert bad.json()["code"] == "validation_failed"


def test_audit_page_filters_for_auditors(
    client: TestClient, world: World, session: Session
) -> None:
    _seed(session, world)
    login(client, "auditor")
    page = client.get("/audit", params={"actor": "clinician"})
    assert page.status_code == 200
    assert "user.update" in page.text
    assert "auth.token.create" not in page.text
    assert 'href="/audit.csv?actor=clinician"' in page.text


def _read_csv(body: bytes) -> list[list[str]]:
    assert body.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_csv_export(client: TestClient, world: World, session: Session) -> None:
    audit.record(
        session,
        _actor(world, Role.EXPERT),
        "test.write",
        object_type="note",
        object_id='=HYPERLINK("http://x")',
        detail={"title": "北京儿童医院"},
    )
    audit.record(session, None, "auth.login", username="@evil", outcome=audit.Outcome.FAILURE)
    session.commit()
    r = client.get("/api/v1/audit-events.csv", headers=world.auth(Role.AUDITOR))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = _read_csv(r.content)
    assert rows[0][:3] == ["id", "occurred_at", "actor_username"]
    assert "detail" in rows[0]
    by_action = {row[5]: row for row in rows[1:]}
    assert by_action["test.write"][7] == '\'=HYPERLINK("http://x")'  # neutralised formula
    assert "北京儿童医院" in by_action["test.write"][11]
    assert by_action["auth.login"][2] == "'@evil"
    # the export itself is audited, with the filter used
    exports = session.scalars(select(AuditEvent).where(AuditEvent.action == "audit.export")).all()
    assert len(exports) == 1
    assert exports[0].actor_username == "auditor"


def test_csv_export_honours_filters_and_page_route(
    client: TestClient, world: World, session: Session
) -> None:
    _seed(session, world)
    login(client, "auditor")
    r = client.get("/audit.csv", params={"actor": "expert"})
    assert r.status_code == 200
    rows = _read_csv(r.content)
    assert sorted(row[5] for row in rows[1:]) == ["auth.login", "auth.token.create"]
    export = session.scalars(select(AuditEvent).where(AuditEvent.action == "audit.export")).all()
    assert export[-1].detail == {"filter": {"actor": "expert"}}


@pytest.mark.parametrize("role", [r for r in Role if r not in (Role.AUDITOR, Role.PLATFORM_ADMIN)])
def test_trail_is_forbidden_to_non_auditors(
    client: TestClient, world: World, session: Session, role: Role
) -> None:
    for path in ("/api/v1/audit-events", "/api/v1/audit-events.csv"):
        r = client.get(path, headers=world.auth(role))
        assert r.status_code == 403, path
        assert r.json()["code"] == "forbidden"
    assert not session.scalars(select(AuditEvent).where(AuditEvent.action == "audit.export")).all()


def test_trail_page_is_forbidden_to_non_auditors(client: TestClient, world: World) -> None:
    login(client, "institutionadmin")
    assert client.get("/audit").status_code == 403
    assert client.get("/audit.csv").status_code == 403


def test_platform_admin_reads_the_trail(client: TestClient, world: World) -> None:
    r = client.get("/api/v1/audit-events", headers=world.auth(Role.PLATFORM_ADMIN))
    assert r.status_code == 200


def test_auditors_see_the_trail_but_not_accounts_or_agreements(
    client: TestClient, world: World
) -> None:
    h = world.auth(Role.AUDITOR)
    assert client.get("/api/v1/users", headers=h).status_code == 403
    other = world.users[Role.CLINICIAN].id
    assert client.get(f"/api/v1/users/{other}", headers=h).status_code == 404
    assert client.patch(f"/api/v1/users/{other}", json={}, headers=h).status_code == 404
    for path in ("/api/v1/agreements", "/api/v1/framework-agreements"):
        assert client.get(path, headers=h).status_code == 403, path
    login(client, "auditor")
    assert client.get("/users").status_code == 403
    home = client.get("/")
    assert 'href="/audit"' in home.text
    assert 'href="/agreements"' not in home.text and 'href="/users"' not in home.text


def test_password_of_failed_login_never_reaches_the_trail(
    client: TestClient, world: World, session: Session
) -> None:
    page = client.get("/login")
    client.post(
        "/login",
        data={
            "username": "expert",
            "password": "my-Secret-guess-1",
            "csrf_token": csrf_of(page.text),
        },
    )
    dumped = " ".join(f"{e.detail} {e.actor_username}" for e in _all(session))
    assert "my-Secret-guess-1" not in dumped


def test_times_without_a_zone_are_beijing_time(
    client: TestClient, world: World, session: Session
) -> None:
    at = clock.now().replace(microsecond=0)
    with time_machine.travel(at, tick=False):
        audit.record(session, _actor(world, Role.EXPERT), "test.write")
    session.commit()
    beijing = at.astimezone(timezone(timedelta(hours=8))).replace(tzinfo=None)
    h = world.auth(Role.AUDITOR)

    def count(**params: str) -> int:
        r = client.get("/api/v1/audit-events", params={**params, "action": "test."}, headers=h)
        assert r.status_code == 200, r.text
        return int(r.json()["total"])

    assert count(since=beijing.isoformat()) == 1
    assert count(since=(beijing + timedelta(seconds=1)).isoformat()) == 0
    assert count(until=beijing.date().isoformat()) == 0
    assert count(since=beijing.date().isoformat()) == 1
    bad = client.get("/api/v1/audit-events", params={"since": "yesterday"}, headers=h)
    assert bad.status_code == 422
    login(client, "auditor")
    page = client.get("/audit", params={"since": "not a date"})
    assert page.status_code == 422
    assert "Traceback" not in page.text


def test_audit_page_reports_a_bad_date_by_its_field(client: TestClient, world: World) -> None:
    login(client, "auditor")
    r = client.get("/audit?since=yesterday&until=2026-01-01", headers={"Accept-Language": "en"})
    assert r.status_code == 422
    assert 'id="since-error"' in r.text and "2026-01-31T08:00" in r.text
    assert 'value="yesterday"' in r.text  # what was typed stays for correcting
    ok = client.get("/audit?since=2020-01-01&outcome=failure")
    assert ok.status_code == 200
