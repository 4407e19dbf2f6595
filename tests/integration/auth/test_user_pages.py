"""User administration pages: list, create, edit, deactivate; scope and field errors."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medcircle.audit.models import AuditEvent
from medcircle.auth.domain import Role
from medcircle.auth.models import User, UserRole, WebSession
from tests import factories
from tests.factories import PASSWORD, World, csrf_of, login


def _roles(session: Session, user_id: int) -> set[str]:
    return set(session.scalars(select(UserRole.role).where(UserRole.user_id == user_id)))


def _events(session: Session, action: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_platform_admin_lists_everyone_and_searches(client: TestClient, world: World) -> None:
    login(client, "platformadmin")
    page = client.get("/users")
    assert page.status_code == 200
    for name in ("clinician", "expert", "auditor"):
        assert f">{name}</a>" in page.text
    found = client.get("/users", params={"q": "audit"})
    assert ">auditor</a>" in found.text
    assert ">clinician</a>" not in found.text


def test_users_list_is_paginated(client: TestClient, world: World, session: Session) -> None:
    for _ in range(3):
        factories.user(session, world.baoding, Role.CLINICIAN)
    session.commit()
    login(client, "platformadmin")
    first = client.get("/users", params={"size": 5})
    assert "Page 1 of 3" in first.text
    assert 'rel="next"' in first.text
    last = client.get("/users", params={"size": 5, "page": 3})
    assert last.text.count('href="/users/') - last.text.count('href="/users/new"') == 1


def test_institution_admin_sees_only_own_institution(client: TestClient, world: World) -> None:
    login(client, "institutionadmin")
    page = client.get("/users")
    assert page.status_code == 200
    assert ">clinician</a>" in page.text  # Baoding A, like the admin
    assert ">expert</a>" not in page.text  # Beijing A
    other = world.users[Role.EXPERT].id
    assert client.get(f"/users/{other}").status_code == 404


def test_clinician_cannot_administer_users(client: TestClient, world: World) -> None:
    login(client, "clinician")
    assert client.get("/users").status_code == 403
    assert client.get("/users/new").status_code == 403
    own = world.users[Role.CLINICIAN].id
    assert client.get(f"/users/{own}").status_code == 404


def test_new_user_form_offers_only_grantable_roles(client: TestClient, world: World) -> None:
    login(client, "institutionadmin")
    form = client.get("/users/new")
    assert form.status_code == 200
    assert 'data-testid="role-clinician"' in form.text
    assert 'data-testid="role-platform_admin"' not in form.text
    assert f'name="institution_id" value="{world.baoding.id}"' in form.text
    assert '<select id="f-institution_id"' not in form.text
    client.cookies.clear()
    login(client, "platformadmin")
    form = client.get("/users/new")
    assert 'data-testid="role-platform_admin"' in form.text
    assert '<select id="f-institution_id"' in form.text
    assert "At least 10 characters" in form.text


def test_create_user_through_the_page(client: TestClient, world: World, session: Session) -> None:
    token = login(client, "institutionadmin")
    r = client.post(
        "/users/new",
        data={
            "csrf_token": token,
            "username": "Dr.Wang",
            "display_name": "王医生",
            "email": "wang@example.org",
            "password": "Baoding-2026-wards",
            "institution_id": str(world.beijing.id),  # ignored: an institution admin's own
            "roles": ["clinician", "coordinator"],
            "locale": "zh_Hans",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    created = session.scalar(select(User).where(User.username == "dr.wang"))
    assert created is not None
    assert created.institution_id == world.baoding.id
    assert _roles(session, created.id) == {"clinician", "coordinator"}
    assert r.headers["location"] == f"/users/{created.id}?created=1"
    shown = client.get(r.headers["location"])
    assert "The account has been created." in shown.text
    events = _events(session, "user.create")
    assert len(events) == 1
    assert events[0].object_id == str(created.id)
    assert "Baoding-2026-wards" not in str(events[0].detail)
    # the new account can log in with its initial password
    client.post("/logout", data={"csrf_token": csrf_of(shown.text)})
    login(client, "dr.wang", "Baoding-2026-wards")


def test_create_user_shows_field_errors(client: TestClient, world: World, session: Session) -> None:
    token = login(client, "platformadmin")
    before = session.scalar(select(func.count()).select_from(User))
    r = client.post(
        "/users/new",
        data={
            "csrf_token": token,
            "username": "a b",
            "display_name": "",
            "email": "not-an-email",
            "password": "short",
            "institution_id": "",
        },
    )
    assert r.status_code == 422
    for field in ("username", "display_name", "email", "institution_id", "roles"):
        assert f'id="{field}-error"' in r.text, field
    assert "Choose at least one role." in r.text
    assert 'value="not-an-email"' in r.text  # what was typed stays in the form
    weak = client.post(
        "/users/new",
        data={
            "csrf_token": token,
            "username": "newdoc",
            "display_name": "New Doctor",
            "password": "newdoc1234",
            "institution_id": str(world.baoding.id),
            "roles": ["clinician"],
        },
    )
    assert weak.status_code == 422
    assert 'id="password-error"' in weak.text
    assert "Do not include the user name." in weak.text
    taken = client.post(
        "/users/new",
        data={
            "csrf_token": token,
            "username": "Clinician",
            "display_name": "Another",
            "password": "Varied-Password-77",
            "institution_id": str(world.baoding.id),
            "roles": ["clinician"],
        },
    )
    assert taken.status_code == 422
    assert "This user name is taken." in taken.text
    assert session.scalar(select(func.count()).select_from(User)) == before
    assert _events(session, "user.create") == []


def test_create_user_in_chinese(client: TestClient, world: World, session: Session) -> None:
    token = login(client, "platformadmin")
    client.post("/locale", data={"csrf_token": token, "locale": "zh_Hans", "next": "/users/new"})
    r = client.post(
        "/users/new",
        data={"csrf_token": token, "username": "x", "display_name": "", "password": ""},
    )
    assert r.status_code == 422
    assert "请至少选择一个角色" in r.text


def test_institution_admin_cannot_grant_platform_roles(
    client: TestClient, world: World, session: Session
) -> None:
    token = login(client, "institutionadmin")
    r = client.post(
        "/users/new",
        data={
            "csrf_token": token,
            "username": "sneaky",
            "display_name": "Sneaky",
            "password": "Varied-Password-77",
            "roles": ["platform_admin"],
        },
    )
    assert r.status_code == 403
    assert session.scalar(select(User).where(User.username == "sneaky")) is None


def test_edit_user_roles_and_details(client: TestClient, world: World, session: Session) -> None:
    token = login(client, "institutionadmin")
    target = world.users[Role.CLINICIAN]
    form = client.get(f"/users/{target.id}")
    assert form.status_code == 200
    assert 'data-testid="is-active"' in form.text
    r = client.post(
        f"/users/{target.id}",
        data={
            "csrf_token": token,
            "display_name": "Dr Li",
            "email": "li@example.org",
            "roles": ["clinician", "coordinator"],
            "is_active": "1",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    session.expire_all()
    changed = session.get(User, target.id)
    assert changed is not None
    assert (changed.display_name, changed.email, changed.is_active) == (
        "Dr Li",
        "li@example.org",
        True,
    )
    assert _roles(session, target.id) == {"clinician", "coordinator"}
    [event] = _events(session, "user.update")
    assert event.detail == {
        "display_name": "Dr Li",
        "email": "li@example.org",
        "roles": ["clinician", "coordinator"],
        "roles_before": ["clinician"],
        "is_active": True,
    }
    saved = client.get(r.headers["location"])
    assert "The changes have been saved." in saved.text
    # clearing the email is allowed
    client.post(
        f"/users/{target.id}",
        data={
            "csrf_token": token,
            "display_name": "Dr Li",
            "email": "",
            "roles": ["clinician"],
            "is_active": "1",
        },
    )
    session.expire_all()
    assert session.get(User, target.id).email is None  # type: ignore[union-attr]


def test_edit_user_field_errors(client: TestClient, world: World, session: Session) -> None:
    token = login(client, "platformadmin")
    target = world.users[Role.EXPERT]
    r = client.post(
        f"/users/{target.id}",
        data={"csrf_token": token, "display_name": " ", "email": "bad", "is_active": "1"},
    )
    assert r.status_code == 422
    assert 'id="display_name-error"' in r.text
    assert 'id="email-error"' in r.text
    assert 'id="roles-error"' in r.text
    session.expire_all()
    assert session.get(User, target.id).display_name == target.display_name  # type: ignore[union-attr]
    assert _events(session, "user.update") == []


def test_deactivating_ends_sessions(client: TestClient, world: World, session: Session) -> None:
    other = TestClient(client.app, base_url="http://testserver")
    login(other, "coordinator")
    assert other.get("/", follow_redirects=False).status_code == 200
    token = login(client, "institutionadmin")
    target = world.users[Role.COORDINATOR]
    r = client.post(
        f"/users/{target.id}",
        data={"csrf_token": token, "display_name": target.display_name, "roles": ["coordinator"]},
        follow_redirects=False,
    )
    assert r.status_code == 303
    live = session.scalar(
        select(func.count())
        .select_from(WebSession)
        .where(WebSession.user_id == target.id, WebSession.revoked_at.is_(None))
    )
    assert live == 0
    gone = other.get("/", follow_redirects=False)
    assert gone.status_code == 303
    assert "/login" in gone.headers["location"]
    # the deactivated account cannot log in again, and its API token stops working
    page = other.get("/login")
    refused = other.post(
        "/login",
        data={"username": "coordinator", "password": PASSWORD, "csrf_token": csrf_of(page.text)},
    )
    assert refused.status_code == 401
    api = client.get("/api/v1/me", headers=world.auth(Role.COORDINATOR))
    assert api.status_code == 401


def test_admin_cannot_deactivate_self_or_touch_wider_roles(
    client: TestClient, world: World, session: Session
) -> None:
    admin = world.users[Role.PLATFORM_ADMIN]
    token = login(client, "platformadmin")
    own = client.get(f"/users/{admin.id}")
    assert 'data-testid="is-active"' not in own.text
    r = client.post(
        f"/users/{admin.id}",
        data={"csrf_token": token, "display_name": "Admin", "roles": ["auditor"]},
    )
    assert r.status_code == 422
    assert "You cannot remove your own platform admin role." in r.text
    assert _roles(session, admin.id) == {"platform_admin"}
    # an institution admin cannot strip a wider role of a colleague nor switch that account off
    colleague = factories.user(session, world.baoding, Role.PLATFORM_ADMIN, Role.CLINICIAN)
    session.commit()
    client.cookies.clear()
    token = login(client, "institutionadmin")
    form = client.get(f"/users/{colleague.id}")
    assert 'data-testid="role-platform_admin"' in form.text and "disabled" in form.text
    kept = client.post(
        f"/users/{colleague.id}",
        data={
            "csrf_token": token,
            "display_name": "Colleague",
            "roles": ["clinician"],
            "is_active": "1",
        },
        follow_redirects=False,
    )
    # saving the name without touching wider roles or the active flag is fine
    assert kept.status_code == 303
    assert _roles(session, colleague.id) == {"platform_admin", "clinician"}
    switched_off = client.post(
        f"/users/{colleague.id}",
        data={"csrf_token": token, "display_name": "Colleague", "roles": ["clinician"]},
        follow_redirects=False,
    )
    assert switched_off.status_code == 403  # switching off a wider account is refused
    session.expire_all()
    assert _roles(session, colleague.id) == {"platform_admin", "clinician"}
    assert session.get(User, colleague.id).is_active


def test_users_list_filters_by_institution_and_status(
    client: TestClient, world: World, session: Session
) -> None:
    gone = factories.user(session, world.baoding, Role.CLINICIAN, username="retired.doc")
    gone.is_active = False
    session.commit()
    login(client, "platformadmin")
    page = client.get("/users", params={"institution_id": world.beijing.id})
    assert ">expert</a>" in page.text and ">clinician</a>" not in page.text
    off = client.get("/users", params={"status": "deactivated"})
    assert ">retired.doc</a>" in off.text and ">expert</a>" not in off.text
    assert "Deactivated" in off.text
    on = client.get("/users", params={"status": "active", "q": "doc"})
    assert ">retired.doc</a>" not in on.text
    # the pager keeps the filters
    many = client.get("/users", params={"status": "active", "size": 2})
    assert 'href="/users?status=active&amp;page=2"' in many.text
    # an institution admin cannot look into another institution by editing the query
    client.cookies.clear()
    login(client, "institutionadmin")
    other = client.get("/users", params={"institution_id": world.beijing.id})
    assert ">expert</a>" not in other.text and ">clinician</a>" in other.text
