"""Tables of agreements."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from medcircle.db import Base


class FrameworkAgreement(Base):
    """An agreement between governments (e.g. Beijing and Baoding) under which pairings run."""

    __tablename__ = "framework_agreement"
    __table_args__ = (
        CheckConstraint("ends_on IS NULL OR ends_on > starts_on", name="dates_ordered"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    title_zh: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(300))
    party_a: Mapped[str] = mapped_column(String(128))
    party_a_division_code: Mapped[str] = mapped_column(ForeignKey("division.code"))
    party_b: Mapped[str] = mapped_column(String(128))
    party_b_division_code: Mapped[str] = mapped_column(ForeignKey("division.code"))
    signed_on: Mapped[date]
    starts_on: Mapped[date]
    ends_on: Mapped[date | None]
    summary: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class CooperationAgreement(Base):
    """A pairing: a supporting institution helps a supported one (specialty support,
    trusteeship or departmental exchange)."""

    __tablename__ = "cooperation_agreement"
    __table_args__ = (
        CheckConstraint("ends_on > starts_on", name="dates_ordered"),
        CheckConstraint(
            "supporting_institution_id <> supported_institution_id", name="distinct_parties"
        ),
        Index("ix_coop_dates", "starts_on", "ends_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    framework_id: Mapped[int | None] = mapped_column(
        ForeignKey("framework_agreement.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    supporting_institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"), index=True)
    supported_institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"), index=True)
    title_zh: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(300))
    signed_on: Mapped[date | None]
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    terminated_on: Mapped[date | None]
    licensed_name_zh: Mapped[str | None] = mapped_column(String(128))
    licensed_name_en: Mapped[str | None] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class AgreementSpecialty(Base):
    __tablename__ = "agreement_specialty"
    __table_args__ = (UniqueConstraint("agreement_id", "specialty_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(
        ForeignKey("cooperation_agreement.id", ondelete="CASCADE"), index=True
    )
    specialty_code: Mapped[str] = mapped_column(ForeignKey("specialty.code"))


class AgreementGoal(Base):
    __tablename__ = "agreement_goal"
    __table_args__ = (Index("ix_goal_due", "status", "due_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(
        ForeignKey("cooperation_agreement.id", ondelete="CASCADE"), index=True
    )
    description_zh: Mapped[str] = mapped_column(String(500))
    description_en: Mapped[str] = mapped_column(String(500))
    due_on: Mapped[date]
    status: Mapped[str] = mapped_column(String(16))
    progress_note: Mapped[str | None] = mapped_column(Text)
    achieved_on: Mapped[date | None]
    updated_at: Mapped[datetime]


class AgreementDocument(Base):
    """A file attached to an agreement; the bytes live in the data folder by content hash."""

    __tablename__ = "agreement_document"

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(
        ForeignKey("cooperation_agreement.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime]
    uploaded_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
