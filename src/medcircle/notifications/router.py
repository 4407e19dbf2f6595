"""The inbox (API): one's own messages, in one's own language, and marking them read."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import Query
from pydantic import BaseModel

from medcircle.kit.pagination import Page
from medcircle.notifications import service
from medcircle.notifications.models import Notification
from medcircle.web.deps import DB, CurrentActor, Paging
from medcircle.web.routing import QuickRouter

router = QuickRouter(prefix="/api/v1", tags=["notifications"])


class NotificationRead(BaseModel):
    """One inbox message; ``text`` is in the reader's language."""

    id: int
    kind: str
    text: str
    link: str | None
    subject_type: str | None
    subject_id: int | None
    created_at: datetime
    read_at: datetime | None
    unread: bool


class MarkedRead(BaseModel):
    marked: int
    unread: int


def notification_read(note: Notification) -> NotificationRead:
    return NotificationRead(
        id=note.id,
        kind=note.kind,
        text=service.message_text(note),
        link=note.link,
        subject_type=note.subject_type,
        subject_id=note.subject_id,
        created_at=note.created_at,
        read_at=note.read_at,
        unread=note.read_at is None,
    )


@router.get("/me/notifications", response_model=Page[NotificationRead])
def list_notifications(
    session: DB,
    actor: CurrentActor,
    paging: Paging,
    unread: Annotated[
        bool | None, Query(description="true: only unread; false: only read; absent: all")
    ] = None,
    order: Annotated[
        Literal["unread_first", "newest"], Query(description="unread first (default) or newest")
    ] = "unread_first",
) -> Page[NotificationRead]:
    """The caller's own inbox."""
    rows, total = service.inbox(session, actor, paging, unread=unread, order=order)
    return Page(
        items=[notification_read(n) for n in rows],
        total=total,
        page=paging.page,
        size=paging.size,
    )


@router.post("/me/notifications/{notification_id:int}/read", response_model=NotificationRead)
def mark_read(session: DB, actor: CurrentActor, notification_id: int) -> NotificationRead:
    """Mark one message read (404 for a message that is not the caller's)."""
    return notification_read(service.mark_read(session, actor, notification_id))


@router.post("/me/notifications/read-all", response_model=MarkedRead)
def mark_all_read(session: DB, actor: CurrentActor) -> MarkedRead:
    """Mark every unread message of the caller read."""
    marked = service.mark_all_read(session, actor)
    return MarkedRead(marked=marked, unread=service.unread_count(session, actor.user_id))
