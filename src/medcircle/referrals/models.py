"""Tables of referrals, their history, attachments and patient status links."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from medcircle.db import Base


class Referral(Base):
    __tablename__ = "referral"
    __table_args__ = (
        CheckConstraint("sender_institution_id <> receiver_institution_id", name="not_to_itself"),
        # incoming worklist: receiver, state, urgency first, oldest first
        Index(
            "ix_referral_incoming",
            "receiver_institution_id",
            "status",
            "urgency_rank",
            "submitted_at",
        ),
        Index("ix_referral_outgoing", "sender_institution_id", "status", "updated_at"),
        # current wait of a department: recent submissions with an appointment
        Index("ix_referral_wait", "receiver_department_id", "submitted_at"),
        Index("ix_referral_patient", "patient_id"),
        Index("ix_referral_parent", "parent_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # human reference shown everywhere, e.g. R-2026-000123
    reference: Mapped[str] = mapped_column(String(24), unique=True)
    # up, down
    direction: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    # routine, urgent, emergency; rank 0 = emergency sorts first
    urgency: Mapped[str] = mapped_column(String(16))
    urgency_rank: Mapped[int] = mapped_column(Integer)
    # outpatient, admission, transfer
    care_type: Mapped[str] = mapped_column(String(16))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    consent_id: Mapped[int | None] = mapped_column(ForeignKey("consent.id"))
    sender_institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))
    sender_department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    sender_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    receiver_institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))
    receiver_department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    icd10_code: Mapped[str] = mapped_column(String(8))
    diagnosis: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(Text)
    clinical_summary: Mapped[str] = mapped_column(Text)
    # sent outside every agreement and alliance of the sender: allowed with a reason, flagged
    outside_network: Mapped[bool] = mapped_column(Boolean, default=False)
    outside_network_reason: Mapped[str | None] = mapped_column(String(500))
    # the upward referral this one returns from, or the one it was redirected from
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("referral.id"))
    redirected_to_id: Mapped[int | None] = mapped_column(ForeignKey("referral.id"))
    submitted_at: Mapped[datetime | None]
    triage_due_at: Mapped[datetime | None]
    # 0 none, 1 receiving institution's admins told, 2 alliance coordinators told
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    triaged_at: Mapped[datetime | None]
    triaged_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    appointment_at: Mapped[datetime | None]
    appointment_place: Mapped[str | None] = mapped_column(String(255))
    what_to_bring: Mapped[str | None] = mapped_column(String(500))
    arrived_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    outcome_summary: Mapped[str | None] = mapped_column(Text)
    # the receiving side answered with a plan carried out locally (counts as care kept local)
    local_plan: Mapped[bool] = mapped_column(Boolean, default=False)
    closed_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(String(500))
    # estimated cost the family avoided (yuan) and the distance it rests on
    saving_yuan: Mapped[float | None] = mapped_column(Numeric(12, 2, asdecimal=False))
    saving_distance_km: Mapped[float | None] = mapped_column(Numeric(8, 1, asdecimal=False))
    is_synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class ReferralEvent(Base):
    """One step of a referral's history: every transition and every change, by whom, when."""

    __tablename__ = "referral_event"
    __table_args__ = (Index("ix_referral_event_referral", "referral_id", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referral.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    # None when the platform acted (a timer)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    actor_institution_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id"))
    note: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ReferralAttachment(Base):
    """A file sent with a referral, stored by content hash under the data directory."""

    __tablename__ = "referral_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(
        ForeignKey("referral.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    uploaded_at: Mapped[datetime]


class StatusLink(Base):
    """A family's link to a referral's status: a random token, stored as its digest."""

    __tablename__ = "status_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(
        ForeignKey("referral.id", ondelete="CASCADE"), index=True
    )
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_viewed_at: Mapped[datetime | None]
