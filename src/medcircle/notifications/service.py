"""Telling users: a message in their inbox and, when they have an address, an email.

Messages are catalogue strings with parameters, stored untranslated, so each reader sees them
in their own language; the email is rendered in the recipient's language when it is queued.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from medcircle.auth.models import User
from medcircle.kit import clock, i18n
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
