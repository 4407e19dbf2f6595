"""Tables of the in-app inbox and the email outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from medcircle.db import Base


class Notification(Base):
    """One message in a user's inbox. The text is a catalogue message with parameters, so
    each reader sees it in their own language."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_user", "user_id", "read_at", "created_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(48))
    message: Mapped[str] = mapped_column(String(255))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # where the message leads, e.g. /referrals/12
    link: Mapped[str | None] = mapped_column(String(255))
    subject_type: Mapped[str | None] = mapped_column(String(32))
    subject_id: Mapped[int | None]
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]


class OutgoingEmail(Base):
    """An email waiting for (or done with) the SMTP server; sent by the timer runner."""

    __tablename__ = "outgoing_email"
    __table_args__ = (Index("ix_outgoing_email_due", "sent_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # a process that took it for sending, until when
    claimed_until: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    # given up after too many failures
    failed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
