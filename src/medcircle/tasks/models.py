"""The table of timers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from medcircle.db import Base


class Timer(Base):
    """Something to do at ``due_at`` about one object (e.g. escalate referral 12). Any app
    process may run it: it claims the row with a conditional update, so exactly one does."""

    __tablename__ = "timer"
    __table_args__ = (
        Index("ix_timer_due", "done_at", "due_at"),
        Index("ix_timer_subject", "subject_type", "subject_id", "kind"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(48))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int]
    due_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_until: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    # run (or cancelled, with cancelled=True in outcome)
    done_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(String(500))
