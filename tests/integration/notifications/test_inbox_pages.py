"""The inbox page and the unread badge in the header: forms with CSRF, opening a message's
link, marking all read, the empty state, someone else's message."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from medcircle.auth.domain import Role
from tests.factories import World, login
from tests.integration.notifications.inbox_data import three_messages

BADGE = re.compile(r'data-testid="unread-count">(\d+)<')


def badge(html: str) -> int | None:
    found = BADGE.search(html)
    return int(found.group(1)) if found else None


def test_inbox_lists_messages_and_the_badge_counts_unread(
    client: TestClient, session: Session, world: World
) -> None:
    oldest, middle, newest = three_messages(session, world.users[Role.CLINICIAN].id)
    three_messages(session, world.users[Role.EXPERT].id)
    csrf = login(client, "clinician")
    assert badge(client.get("/").text) == 3
    page = client.get("/inbox")
    assert page.status_code == 200
    assert badge(page.text) == 3
    assert page.text.count('data-testid="notification"') == 3
    assert page.text.count('data-testid="unread-marker"') == 3
    assert "This agreement was already terminated on 2026-11-20." in page.text
    assert "R-2026-000101" in page.text
    assert 'data-testid="read-all"' in page.text

    r = client.post(
        f"/inbox/{middle.id}/read", data={"csrf_token": csrf, "page": "1"}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == "/inbox"
    after = client.get("/inbox")
    assert badge(after.text) == 2
    assert after.text.count('data-testid="unread-marker"') == 2

    opened = client.post(
        f"/inbox/{oldest.id}/read",
        data={"csrf_token": csrf, "open": "true"},
        follow_redirects=False,
    )
    assert opened.status_code == 303 and opened.headers["location"] == "/referrals/101"
    unread_only = client.get("/inbox", params={"show": "unread"})
    assert unread_only.text.count('data-testid="notification"') == 1
    assert f'data-id="{newest.id}"' in unread_only.text


def test_read_all_then_empty_states(client: TestClient, session: Session, world: World) -> None:
    three_messages(session, world.users[Role.CLINICIAN].id)
    csrf = login(client, "clinician")
    r = client.post("/inbox/read-all", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/inbox?all_read=1"
    page = client.get(r.headers["location"])
    assert "Every message is marked read." in page.text
    assert badge(page.text) is None
    assert 'data-testid="read-all"' not in page.text
    assert page.text.count('data-testid="unread-marker"') == 0
    empty = client.get("/inbox", params={"show": "unread"})
    assert 'data-testid="inbox-empty"' in empty.text
    assert "No unread messages." in empty.text


def test_an_empty_inbox_in_chinese(client: TestClient, session: Session, world: World) -> None:
    expert = world.users[Role.EXPERT]
    expert.locale = "zh_Hans"
    session.commit()
    login(client, "expert")
    page = client.get("/inbox")
    assert page.status_code == 200
    assert 'data-testid="inbox-empty"' in page.text
    assert "收件箱是空的" in page.text


def test_messages_in_chinese_for_a_chinese_reader(
    client: TestClient, session: Session, world: World
) -> None:
    clinician = world.users[Role.CLINICIAN]
    clinician.locale = "zh_Hans"
    session.commit()
    three_messages(session, clinician.id)
    login(client, "clinician")
    page = client.get("/inbox")
    assert "此协议已于 2026-11-20 终止。" in page.text
    assert "全部标为已读" in page.text


def test_someone_elses_message_and_forged_forms_are_refused(
    client: TestClient, session: Session, world: World
) -> None:
    theirs = three_messages(session, world.users[Role.EXPERT].id)[0]
    mine = three_messages(session, world.users[Role.CLINICIAN].id)[0]
    csrf = login(client, "clinician")
    r = client.post(f"/inbox/{theirs.id}/read", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 404
    no_token = client.post(f"/inbox/{mine.id}/read", data={}, follow_redirects=False)
    assert no_token.status_code == 403
    assert badge(client.get("/inbox").text) == 3


def test_the_inbox_needs_a_login(client: TestClient, world: World) -> None:
    r = client.get("/inbox", follow_redirects=False)
    assert r.status_code in (302, 303)
    assert r.headers["location"].startswith("/login")
