"""Tables of patients and consent."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from medcircle.db import Base


class Patient(Base):
    """A person registered by one institution. Identifiers are stored sealed (see kit.crypto),
    found by their keyed hash, and shown masked from the stored masked copy."""

    __tablename__ = "patient"
    __table_args__ = (
        # one live record per person and institution: a second registration is refused and
        # offered for merge instead
        Index(
            "uq_patient_institution_national_id",
            "institution_id",
            "national_id_hash",
            unique=True,
            sqlite_where=text("merged_into_id IS NULL AND national_id_hash IS NOT NULL"),
            postgresql_where=text("merged_into_id IS NULL AND national_id_hash IS NOT NULL"),
        ),
        Index("ix_patient_national_id_hash", "national_id_hash"),
        Index("ix_patient_institution_name", "institution_id", "name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))
    name: Mapped[str] = mapped_column(String(64))
    sex: Mapped[str] = mapped_column(String(8))
    birth_date: Mapped[date]
    national_id_sealed: Mapped[str | None] = mapped_column(Text)
    national_id_hash: Mapped[str | None] = mapped_column(String(64))
    national_id_masked: Mapped[str | None] = mapped_column(String(18))
    phone_sealed: Mapped[str | None] = mapped_column(Text)
    phone_masked: Mapped[str | None] = mapped_column(String(20))
    residence_division_code: Mapped[str | None] = mapped_column(ForeignKey("division.code"))
    address: Mapped[str | None] = mapped_column(String(255))
    # children: the adult who consents and is contacted
    guardian_name: Mapped[str | None] = mapped_column(String(64))
    guardian_relation: Mapped[str | None] = mapped_column(String(16))
    guardian_phone_sealed: Mapped[str | None] = mapped_column(Text)
    guardian_phone_masked: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("patient.id"))
    is_synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class Consent(Base):
    """Consent to share a patient's data with one receiving institution for one purpose."""

    __tablename__ = "consent"
    __table_args__ = (
        Index("ix_consent_patient_receiver", "patient_id", "receiving_institution_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    receiving_institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))
    # referral, consultation
    purpose: Mapped[str] = mapped_column(String(32))
    # patient, guardian
    given_by: Mapped[str] = mapped_column(String(16))
    given_by_name: Mapped[str] = mapped_column(String(64))
    given_at: Mapped[datetime]
    valid_until: Mapped[date | None]
    recorded_by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime]
    withdrawn_at: Mapped[datetime | None]
    withdrawn_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    withdrawal_reason: Mapped[str | None] = mapped_column(String(255))
    is_synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
