"""Tables of the registry."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from medcircle.db import Base


class Division(Base):
    """An administrative division (province, city, county) by its 6-digit code."""

    __tablename__ = "division"

    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(96))
    level: Mapped[str] = mapped_column(String(16))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("division.code"))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)


class SpecialtyRow(Base):
    """The standard specialty list, kept in the database for joins and foreign keys."""

    __tablename__ = "specialty"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(96))


class Institution(Base):
    __tablename__ = "institution"
    __table_args__ = (
        CheckConstraint("bed_count IS NULL OR bed_count >= 0", name="beds_non_negative"),
        Index("ix_institution_division", "division_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(String(128))
    name_en: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(16))
    grade: Mapped[str] = mapped_column(String(8))
    type: Mapped[str] = mapped_column(String(32))
    division_code: Mapped[str] = mapped_column(ForeignKey("division.code"))
    province_code: Mapped[str] = mapped_column(String(6), index=True)
    city_code: Mapped[str] = mapped_column(String(6), index=True)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(255))
    bed_count: Mapped[int | None]
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id"))
    is_synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class InstitutionName(Base):
    """One licensed name an institution carried, and from when to when."""

    __tablename__ = "institution_name"

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(
        ForeignKey("institution.id", ondelete="CASCADE"), index=True
    )
    name_zh: Mapped[str] = mapped_column(String(128))
    name_en: Mapped[str] = mapped_column(String(200))
    valid_from: Mapped[date | None]
    valid_to: Mapped[date | None]
    reason: Mapped[str | None] = mapped_column(String(255))
    agreement_id: Mapped[int | None] = mapped_column(
        ForeignKey("cooperation_agreement.id", ondelete="SET NULL")
    )


class Department(Base):
    __tablename__ = "department"
    __table_args__ = (UniqueConstraint("institution_id", "name_zh"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(
        ForeignKey("institution.id", ondelete="CASCADE"), index=True
    )
    specialty_code: Mapped[str] = mapped_column(ForeignKey("specialty.code"), index=True)
    name_zh: Mapped[str] = mapped_column(String(128))
    name_en: Mapped[str] = mapped_column(String(200))
    bed_count: Mapped[int | None]
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class Practitioner(Base):
    """A member of staff: a physician with a title, specialty and home institution."""

    __tablename__ = "practitioner"
    __table_args__ = (Index("ix_practitioner_inst_spec", "institution_id", "specialty_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("department.id", ondelete="SET NULL")
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), unique=True
    )
    name_zh: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(String(32))
    specialty_code: Mapped[str] = mapped_column(ForeignKey("specialty.code"))
    license_no: Mapped[str | None] = mapped_column(String(32), unique=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_synthetic: Mapped[bool] = mapped_column(Boolean, default=False)


class Alliance(Base):
    """A medical alliance (医联体) led by one institution."""

    __tablename__ = "alliance"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(String(128))
    name_en: Mapped[str] = mapped_column(String(200))
    lead_institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"), index=True)
    founded_on: Mapped[date]
    description: Mapped[str | None] = mapped_column(Text)


class AllianceMember(Base):
    __tablename__ = "alliance_member"
    __table_args__ = (
        Index("ix_alliance_member_alliance", "alliance_id", "left_on"),
        CheckConstraint("left_on IS NULL OR left_on > joined_on", name="dates_ordered"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    alliance_id: Mapped[int] = mapped_column(ForeignKey("alliance.id", ondelete="CASCADE"))
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"), index=True)
    joined_on: Mapped[date]
    left_on: Mapped[date | None]


class AllianceCentre(Base):
    """A shared centre inside an alliance, hosted by one member (e.g. regional inspection)."""

    __tablename__ = "alliance_centre"

    id: Mapped[int] = mapped_column(primary_key=True)
    alliance_id: Mapped[int] = mapped_column(
        ForeignKey("alliance.id", ondelete="CASCADE"), index=True
    )
    host_institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))
    kind: Mapped[str] = mapped_column(String(32))
    name_zh: Mapped[str] = mapped_column(String(128))
    name_en: Mapped[str] = mapped_column(String(200))
    established_on: Mapped[date]
