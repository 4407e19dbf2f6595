"""Tables of hospital activity imported from the hospitals' own systems: the encounter records
(one row per outpatient or emergency visit, or inpatient stay; no names, no ID numbers), each
import with its row-by-row report, and the rows an import set aside.

A record is known by its institution and the hospital's own record id, which is what makes a
second import of the same file change nothing.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from medcircle.db import Base


class ActivityImport(Base):
    """One uploaded file: who sent it, how it was read, what came of each row."""

    __tablename__ = "activity_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    # the institution the file was imported for (its rows may name only that one, unless the
    # importer may import for every institution)
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id"))
    uploaded_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    file_name: Mapped[str] = mapped_column(String(255))
    # csv, xlsx, parquet (None: the file could not be read at all)
    kind: Mapped[str | None] = mapped_column(String(16))
    encoding: Mapped[str | None] = mapped_column(String(32))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    # all_or_nothing: a bad row refuses the file; quarantine: good rows in, bad rows set aside
    mode: Mapped[str] = mapped_column(String(16))
    # imported, refused
    status: Mapped[str] = mapped_column(String(16))
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_inserted: Mapped[int] = mapped_column(Integer, default=0)
    rows_updated: Mapped[int] = mapped_column(Integer, default=0)
    rows_unchanged: Mapped[int] = mapped_column(Integer, default=0)
    rows_quarantined: Mapped[int] = mapped_column(Integer, default=0)
    # the file-level error, if the file could not be read: {"code", "message", "line"}
    failure: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # every row error: [{"line", "column", "code", "message"}], at most REPORT_LIMIT of them
    report: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    errors_total: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]

    __table_args__ = (Index("ix_activity_import_institution", "institution_id", "started_at"),)


class ActivityRecord(Base):
    """One encounter as the hospital's system recorded it."""

    __tablename__ = "activity_record"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    # the institution and the import are not foreign keys: the import, the only writer of
    # records, takes both ids from the rows it has just read or written, and neither
    # institutions nor imports are deleted; checking both keys of every record took as long as
    # writing it (migration 0011)
    institution_id: Mapped[int] = mapped_column(Integer)
    record_id: Mapped[str] = mapped_column(String(64))
    department: Mapped[str] = mapped_column(String(64))
    # outpatient, emergency, inpatient
    type: Mapped[str] = mapped_column(String(16))
    # the visit day, or the admission day of a stay
    start_on: Mapped[date]
    # the discharge day of a stay (None: still admitted, or a visit)
    end_on: Mapped[date | None]
    # the 6-digit division code of the patient's residence
    residence_code: Mapped[str] = mapped_column(String(6))
    age_band: Mapped[str] = mapped_column(String(8))
    icd10: Mapped[str] = mapped_column(String(8))
    # in fen (a hundredth of a yuan)
    cost_fen: Mapped[int | None] = mapped_column(BigInteger)
    referral: Mapped[str | None] = mapped_column(String(32))
    # the import that last wrote the record
    import_id: Mapped[int] = mapped_column(Integer)
    # the specialty its department stands for ('' when none is known), found at import
    specialty_code: Mapped[str] = mapped_column(String(32), default="", server_default="")

    # looked up by its key only: the indicators read the monthly summary, not the records
    __table_args__ = (
        UniqueConstraint("institution_id", "record_id", name="uq_activity_record_key"),
    )


class ActivityQuarantine(Base):
    """A row an import set aside (quarantine mode), as it was read, with its errors."""

    __tablename__ = "activity_quarantine"

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("activity_import.id"))
    line: Mapped[int] = mapped_column(Integer)
    values: Mapped[dict[str, Any]] = mapped_column(JSON)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON)

    __table_args__ = (Index("ix_activity_quarantine_import", "import_id", "line"),)


class ActivityMonth(Base):
    """The records summed by institution, month, type and the city the patients live in, kept
    up to date by every import (the way analytics tables are, without a nightly delay): what
    the indicators read instead of the records.

    ``starts`` counts the records whose visit or admission falls in the month (``cost_fen`` is
    their cost); ``ends`` counts the stays discharged in the month (``stay_days`` their days).
    """

    __tablename__ = "activity_month"

    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"), primary_key=True)
    # YYYY-MM
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    type: Mapped[str] = mapped_column(String(16), primary_key=True)
    # the city-level division code of the residence (its first four digits, then 00)
    residence_city: Mapped[str] = mapped_column(String(6), primary_key=True)
    starts: Mapped[int] = mapped_column(BigInteger, default=0)
    ends: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    stay_days: Mapped[int] = mapped_column(BigInteger, default=0)

    __table_args__ = (Index("ix_activity_month_month", "month", "residence_city"),)


class ActivityMonthSpecialty(Base):
    """The records summed by institution, month, type, the province the patients live in and
    the specialty their department stands for ('' for none known), kept up to date by every
    import with ``activity_month``: what the indicators' breakdown by specialty reads (the
    province is all the activity indicators need of the residence)."""

    __tablename__ = "activity_month_specialty"

    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"), primary_key=True)
    # YYYY-MM
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    type: Mapped[str] = mapped_column(String(16), primary_key=True)
    # the province-level division code of the residence (its first two digits, then 0000)
    residence_province: Mapped[str] = mapped_column(String(6), primary_key=True)
    specialty: Mapped[str] = mapped_column(String(32), primary_key=True)
    starts: Mapped[int] = mapped_column(BigInteger, default=0)
    ends: Mapped[int] = mapped_column(BigInteger, default=0)

    __table_args__ = (Index("ix_activity_month_specialty_month", "month", "residence_province"),)
