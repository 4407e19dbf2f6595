"""The inbox API: one's own messages only, in one's own language, paged and filtered, marked
read one by one or all at once (and audited)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medcircle.audit.models import AuditEvent
from medcircle.auth.domain import Role
from medcircle.notifications.models import Notification
from tests.factories import World
from tests.integration.notifications.inbox_data import three_messages

URL = "/api/v1/me/notifications"


def audited(session: Session, action: str) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
        )
        or 0
    )


def test_lists_own_messages_in_the_readers_language(
    client: TestClient, session: Session, world: World
) -> None:
    clinician = world.users[Role.CLINICIAN]
    notes = three_messages(session, clinician.id)
    three_messages(session, world.users[Role.EXPERT].id)  # someone else's

    r = client.get(URL, headers=world.auth(Role.CLINICIAN))
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 3 and body["page"] == 1
    assert [i["id"] for i in body["items"]] == [n.id for n in reversed(notes)]
    newest = body["items"][0]
    assert newest["text"] == "This agreement was already terminated on 2026-11-20."
    assert newest["link"] == "/agreements/3" and newest["unread"] is True
    assert body["items"][1]["text"].startswith("The appointment of referral R-2026-000102")

    clinician.locale = "zh_Hans"
    session.commit()
    zh = client.get(URL, headers=world.auth(Role.CLINICIAN)).json()
    assert zh["items"][0]["text"] == "此协议已于 2026-11-20 终止。"


def test_unread_first_filters_and_paging(
    client: TestClient, session: Session, world: World
) -> None:
    auth = world.auth(Role.CLINICIAN)
    oldest, middle, newest = three_messages(session, world.users[Role.CLINICIAN].id)
    assert client.post(f"{URL}/{newest.id}/read", headers=auth).status_code == 200

    unread_first = client.get(URL, headers=auth).json()["items"]
    assert [i["id"] for i in unread_first] == [middle.id, oldest.id, newest.id]
    by_time = client.get(URL, params={"order": "newest"}, headers=auth).json()["items"]
    assert [i["id"] for i in by_time] == [newest.id, middle.id, oldest.id]
    unread = client.get(URL, params={"unread": "true"}, headers=auth).json()
    assert unread["total"] == 2 and {i["id"] for i in unread["items"]} == {middle.id, oldest.id}
    read = client.get(URL, params={"unread": "false"}, headers=auth).json()
    assert [i["id"] for i in read["items"]] == [newest.id]
    page2 = client.get(URL, params={"size": 2, "page": 2}, headers=auth).json()
    assert page2["total"] == 3 and [i["id"] for i in page2["items"]] == [newest.id]
    assert client.get(URL, params={"order": "sideways"}, headers=auth).status_code == 422


def test_mark_read_once_and_audited(client: TestClient, session: Session, world: World) -> None:
    auth = world.auth(Role.CLINICIAN)
    note = three_messages(session, world.users[Role.CLINICIAN].id)[0]
    before = audited(session, "notification.read")
    first = client.post(f"{URL}/{note.id}/read", headers=auth)
    assert first.status_code == 200
    assert first.json()["unread"] is False and first.json()["read_at"]
    again = client.post(f"{URL}/{note.id}/read", headers=auth)
    assert again.json()["read_at"] == first.json()["read_at"]
    assert audited(session, "notification.read") == before + 1


def test_others_messages_are_not_found(client: TestClient, session: Session, world: World) -> None:
    theirs = three_messages(session, world.users[Role.EXPERT].id)[0]
    r = client.post(f"{URL}/{theirs.id}/read", headers=world.auth(Role.CLINICIAN))
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "notification_not_found"
    assert client.post(f"{URL}/999999/read", headers=world.auth(Role.CLINICIAN)).status_code == 404
    session.expire_all()
    assert session.get(Notification, theirs.id).read_at is None  # type: ignore[union-attr]
    assert client.get(URL).status_code == 401


def test_read_all_marks_only_ones_own(client: TestClient, session: Session, world: World) -> None:
    three_messages(session, world.users[Role.CLINICIAN].id)
    three_messages(session, world.users[Role.EXPERT].id)
    auth = world.auth(Role.CLINICIAN)
    r = client.post(f"{URL}/read-all", headers=auth)
    assert r.status_code == 200 and r.json() == {"marked": 3, "unread": 0}
    assert client.post(f"{URL}/read-all", headers=auth).json() == {"marked": 0, "unread": 0}
    assert audited(session, "notification.read_all") == 1
    expert = client.get(URL, params={"unread": "true"}, headers=world.auth(Role.EXPERT)).json()
    assert expert["total"] == 3
