"""Inbox messages for the tests, written through ``notify`` as the referral services do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy.orm import Session

from medcircle.notifications.models import Notification
from medcircle.notifications.service import notify
from medcircle.referrals.timers import APPOINTMENT_PASSED, ESCALATED_TO_ADMINS

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
# a message with a Simplified Chinese translation in the catalogue
TRANSLATED = "This agreement was already terminated on %(day)s."


def three_messages(session: Session, user_id: int) -> list[Notification]:
    """Three messages, an hour apart (oldest first), with links."""
    notes: list[Notification] = []
    for hours, (message, params, link) in enumerate(
        [
            (ESCALATED_TO_ADMINS, {"reference": "R-2026-000101"}, "/referrals/101"),
            (APPOINTMENT_PASSED, {"reference": "R-2026-000102"}, "/referrals/102"),
            (TRANSLATED, {"day": "2026-11-20"}, "/agreements/3"),
        ]
    ):
        with time_machine.travel(T0 + timedelta(hours=hours), tick=False):
            notes += notify(
                session, [user_id], "test.event", message, params, link=link, email=False
            )
    session.commit()
    return notes
