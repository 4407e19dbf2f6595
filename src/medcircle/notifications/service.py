"""Telling users: a message in their inbox and, when they have an address, an email.

Messages are catalogue strings with parameters, stored untranslated, so each reader sees them
in their own language; the email is rendered in the recipient's language when it is queued.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from medcircle.audit.service import record
from medcircle.auth.domain import Actor
from medcircle.auth.models import User
from medcircle.kit import clock, i18n
from medcircle.kit.errors import NotFound
from medcircle.kit.i18n import N_
from medcircle.kit.pagination import PageParams
from medcircle.notifications.models import Notification, OutgoingEmail


def notify(
    session: Session,
    user_ids: Iterable[int],
    kind: str,
    message: str,
    params: dict[str, Any] | None = None,
    *,
    link: str | None = None,
    subject_type: str | None = None,
    subject_id: int | None = None,
    base_url: str = "",
    email: bool = True,
) -> list[Notification]:
    """One inbox message per (distinct, active) user and, with ``email``, one queued email."""
    ids = sorted(set(user_ids))
    if not ids:
        return []
    params = params or {}
    now = clock.now()
    users = session.scalars(select(User).where(User.id.in_(ids), User.is_active.is_(True)))
    created: list[Notification] = []
    for user in users:
        note = Notification(
            user_id=user.id,
            kind=kind,
            message=message,
            params=params,
            link=link,
            subject_type=subject_type,
            subject_id=subject_id,
            created_at=now,
        )
        session.add(note)
        created.append(note)
        if email and user.email:
            queue_email(
                session,
                user.email,
                *render_email(user.locale, message, params, link, base_url),
            )
    return created


def render_email(
    locale: str, message: str, params: dict[str, Any], link: str | None, base_url: str
) -> tuple[str, str]:
    """Subject and body of a notification email in ``locale``."""
    previous = i18n.get_locale()
    i18n.set_locale(locale)
    try:
        text = i18n.gettext(message, **params)
        subject = "[medcircle] " + text.splitlines()[0][:200]
        lines = [text, ""]
        if link:
            lines += [i18n.gettext("Open it in medcircle:"), base_url.rstrip("/") + link, ""]
        lines.append(i18n.gettext("You receive this because of your role in the care circle."))
        return subject, "\n".join(lines)
    finally:
        i18n.set_locale(previous)


def queue_email(session: Session, to_address: str, subject: str, body: str) -> OutgoingEmail:
    """Queue one email; the timer runner sends it (see ``medcircle.notifications.mailer``)."""
    now = clock.now()
    mail = OutgoingEmail(
        to_address=to_address,
        subject=subject,
        body=body,
        created_at=now,
        next_attempt_at=now - timedelta(seconds=1),
        attempts=0,
    )
    session.add(mail)
    return mail


# --- the inbox --------------------------------------------------------------------------------

ORDERS = ("unread_first", "newest")


def message_text(note: Notification) -> str:
    """The message in the current locale, with its parameters filled in."""
    try:
        return i18n.gettext(note.message, **(note.params or {}))
    except (KeyError, ValueError, TypeError):
        # parameters that no longer fit the message: show it without them rather than fail
        return i18n.gettext(note.message)


def unread_count(session: Session, user_id: int) -> int:
    """How many unread messages a user has (one COUNT on the inbox index)."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        )
        or 0
    )


def inbox(
    session: Session,
    actor: Actor,
    page: PageParams,
    *,
    unread: bool | None = None,
    order: str = "unread_first",
) -> tuple[list[Notification], int]:
    """A page of the actor's own messages (unread ones first, or newest first) and the total."""
    conditions = [Notification.user_id == actor.user_id]
    if unread is True:
        conditions.append(Notification.read_at.is_(None))
    elif unread is False:
        conditions.append(Notification.read_at.is_not(None))
    total = int(
        session.scalar(select(func.count()).select_from(Notification).where(*conditions)) or 0
    )
    ordering: list[ColumnElement[Any]] = [Notification.created_at.desc(), Notification.id.desc()]
    if order == "unread_first":
        ordering.insert(0, Notification.read_at.is_not(None))
    rows = session.scalars(
        select(Notification)
        .where(*conditions)
        .order_by(*ordering)
        .offset(page.offset)
        .limit(page.size)
    )
    return list(rows), total


def _own(session: Session, actor: Actor, notification_id: int) -> Notification:
    note = session.get(Notification, notification_id)
    if note is None or note.user_id != actor.user_id:
        # someone else's message is as unknown as a missing one
        raise NotFound(N_("No such message in your inbox."), code="notification_not_found")
    return note


def mark_read(session: Session, actor: Actor, notification_id: int) -> Notification:
    """Mark one of the actor's own messages read (again is harmless)."""
    note = _own(session, actor, notification_id)
    if note.read_at is None:
        note.read_at = clock.now()
        record(session, actor, "notification.read", object_type="notification", object_id=note.id)
    return note


def mark_all_read(session: Session, actor: Actor) -> int:
    """Mark every unread message of the actor read; how many."""
    result = session.execute(
        update(Notification)
        .where(Notification.user_id == actor.user_id, Notification.read_at.is_(None))
        .values(read_at=clock.now())
        .execution_options(synchronize_session="fetch")
    )
    count = int(result.rowcount or 0)  # type: ignore[attr-defined]
    if count:
        record(session, actor, "notification.read_all", detail={"count": count})
    return count
