"""Tables of pooled scarce resources: pools spanning institutions, their units (cleanrooms, beds,
rooms) with a live status, one waitlist per pool, offers, the allocation decisions with their
reasons, admissions, and the families' status links.

The rules that must never fail are also constraints of the database, so that no code path (and
no second app process) can break them: a unit has at most one open offer and one current
admission, a patient at most one live entry per pool, and an entry at most one open offer and
one current admission.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from medcircle.db import Base

LIVE_ENTRY = text("status IN ('waiting', 'offered')")
OPEN_OFFER = text("status = 'open'")
CURRENT_ADMISSION = text("discharged_at IS NULL")


class ResourcePool(Base):
    """Units of one kind run as one list across institutions, with the allocation policy's
    parameters (``policy``, validated by ``pools.policy.PolicySettings``)."""

    __tablename__ = "resource_pool"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(48), unique=True)
    name_zh: Mapped[str] = mapped_column(String(128))
    name_en: Mapped[str] = mapped_column(String(128))
    # cleanroom, bed, room
    kind: Mapped[str] = mapped_column(String(16))
    # whose coordinators run the pool (policy, overrides, members)
    lead_institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))
    policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # when the institutions started running their units as one list; entries listed before it
    # were on each hospital's own list (kept for the before/after comparison)
    pooled_since: Mapped[date | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    is_synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class PoolMember(Base):
    """An institution of a pool: it may list patients and hold units."""

    __tablename__ = "pool_member"
    __table_args__ = (UniqueConstraint("pool_id", "institution_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("resource_pool.id", ondelete="CASCADE"))
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))
    joined_on: Mapped[date]


class ResourceUnit(Base):
    """One room or bed of a pool at an institution, with its live status."""

    __tablename__ = "resource_unit"
    __table_args__ = (
        UniqueConstraint("pool_id", "code"),
        CheckConstraint(
            "status IN ('free', 'occupied', 'cleaning', 'maintenance', 'retired')",
            name="known_status",
        ),
        Index("ix_resource_unit_pool_status", "pool_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("resource_pool.id"))
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(64))
    # "100", "1000" for cleanrooms; free text for other kinds (e.g. "picu")
    room_class: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    # when a unit not free now is expected to be free (occupied, cleaning, maintenance)
    expected_free_on: Mapped[date | None]
    # since when it has been in its status (a free unit's wait for a patient starts here)
    status_since: Mapped[datetime]
    note: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    is_synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class UnitEvent(Base):
    """A change of a unit's status: the history behind occupancy figures."""

    __tablename__ = "unit_event"
    __table_args__ = (Index("ix_unit_event_unit_at", "unit_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("resource_unit.id"))
    at: Mapped[datetime]
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    expected_free_on: Mapped[date | None]
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    note: Mapped[str | None] = mapped_column(String(255))


class WaitlistEntry(Base):
    """A patient waiting for a unit of a pool."""

    __tablename__ = "waitlist_entry"
    __table_args__ = (
        # one live entry per patient and pool: a second listing is refused
        Index(
            "uq_waitlist_entry_live_patient",
            "pool_id",
            "patient_id",
            unique=True,
            sqlite_where=LIVE_ENTRY,
            postgresql_where=LIVE_ENTRY,
        ),
        CheckConstraint(
            "status IN ('waiting', 'offered', 'admitted', 'withdrawn', 'removed')",
            name="known_status",
        ),
        # the line of a room class in the policy's order within each urgency (the effective
        # rank only falls with the waiting time): an allocation reads the front of each
        Index(
            "ix_waitlist_entry_pool_status",
            "pool_id",
            "status",
            "room_class",
            "urgency",
            "listed_on",
            "id",
        ),
        Index("ix_waitlist_entry_patient", "patient_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("resource_pool.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    listing_institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))
    listed_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    listed_at: Mapped[datetime]
    # waiting time counts from this day (China time)
    listed_on: Mapped[date]
    icd10_code: Mapped[str] = mapped_column(String(8))
    # autologous, allogeneic_related, allogeneic_unrelated, haploidentical, cord_blood, other
    transplant_type: Mapped[str] = mapped_column(String(24))
    room_class: Mapped[str] = mapped_column(String(16))
    # critical, urgent, routine
    urgency: Mapped[str] = mapped_column(String(16))
    donor_found: Mapped[bool] = mapped_column(Boolean, default=False)
    workup_done: Mapped[bool] = mapped_column(Boolean, default=False)
    # institutions whose units the patient's team accepts (ids, sorted)
    acceptable_institution_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str | None] = mapped_column(String(500))
    status_changed_at: Mapped[datetime]
    # the prediction made when listed (the range shown then, calibrated or not), kept to check
    # predictions against what happened
    predicted_earliest_on: Mapped[date | None]
    predicted_latest_on: Mapped[date | None]
    predicted_median_on: Mapped[date | None]
    # the forecast's own median at listing, before calibration: later ranges are calibrated
    # against its error (``pools.forecast.ScoredMedian``)
    forecast_median_on: Mapped[date | None]
    note: Mapped[str | None] = mapped_column(Text)
    # the list the entry was on before the pool started (the listing hospital's own)
    before_pool: Mapped[bool] = mapped_column(Boolean, default=False)
    is_synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class AllocationDecision(Base):
    """Who a unit went to and why: the ranked candidates, the rule that decided, and the
    written reason of an override."""

    __tablename__ = "allocation_decision"
    __table_args__ = (
        Index("ix_allocation_decision_pool_at", "pool_id", "at"),
        Index("ix_allocation_decision_entry", "chosen_entry_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("resource_pool.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("resource_unit.id"))
    at: Mapped[datetime]
    # unit_freed, entry_ready, entry_listed, offer_declined, offer_expired, offer_withdrawn,
    # override, requested
    trigger: Mapped[str] = mapped_column(String(24))
    # only_candidate, urgency, waiting_time, listing_order, override, no_candidate
    rule: Mapped[str] = mapped_column(String(24))
    chosen_entry_id: Mapped[int | None] = mapped_column(ForeignKey("waitlist_entry.id"))
    # the first candidates in the policy's order: entry id, urgency, effective urgency,
    # listed on, days waited, listing institution
    candidates: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    candidate_count: Mapped[int] = mapped_column(default=0)
    # waiting entries of the room class passed over, by reason (not ready, site, declined)
    passed_over: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    override_reason: Mapped[str | None] = mapped_column(String(1000))
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    is_synthetic: Mapped[bool] = mapped_column(Boolean, default=False)


class Offer(Base):
    """A unit offered to a waiting patient's team until ``expires_at``."""

    __tablename__ = "unit_offer"
    __table_args__ = (
        Index(
            "uq_unit_offer_open_unit",
            "unit_id",
            unique=True,
            sqlite_where=OPEN_OFFER,
            postgresql_where=OPEN_OFFER,
        ),
        Index(
            "uq_unit_offer_open_entry",
            "entry_id",
            unique=True,
            sqlite_where=OPEN_OFFER,
            postgresql_where=OPEN_OFFER,
        ),
        CheckConstraint(
            "status IN ('open', 'accepted', 'declined', 'expired', 'withdrawn')",
            name="known_status",
        ),
        Index("ix_unit_offer_pool_status", "pool_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("resource_pool.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("resource_unit.id"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("waitlist_entry.id"))
    decision_id: Mapped[int] = mapped_column(ForeignKey("allocation_decision.id"))
    offered_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    responded_at: Mapped[datetime | None]
    responded_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    reason: Mapped[str | None] = mapped_column(String(500))
    is_synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class Admission(Base):
    """A patient in a unit, from admission to discharge."""

    __tablename__ = "unit_admission"
    __table_args__ = (
        Index(
            "uq_unit_admission_current_unit",
            "unit_id",
            unique=True,
            sqlite_where=CURRENT_ADMISSION,
            postgresql_where=CURRENT_ADMISSION,
        ),
        Index(
            "uq_unit_admission_current_entry",
            "entry_id",
            unique=True,
            sqlite_where=CURRENT_ADMISSION,
            postgresql_where=CURRENT_ADMISSION,
        ),
        CheckConstraint("discharged_at IS NULL OR discharged_at >= admitted_at", name="ordered"),
        Index("ix_unit_admission_pool_discharged", "pool_id", "discharged_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("resource_pool.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("resource_unit.id"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("waitlist_entry.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    offer_id: Mapped[int | None] = mapped_column(ForeignKey("unit_offer.id"))
    admitted_at: Mapped[datetime]
    expected_discharge_on: Mapped[date | None]
    discharged_at: Mapped[datetime | None]
    # whole days from admission to discharge, kept at discharge for the wait estimates
    length_of_stay_days: Mapped[int | None]
    discharge_note: Mapped[str | None] = mapped_column(String(255))
    is_synthetic: Mapped[bool] = mapped_column(Boolean, default=False)


class WaitlistStatusLink(Base):
    """A family's link to an entry's position and estimate: a random token (kept hashed), no
    clinical detail behind it, expiring."""

    __tablename__ = "waitlist_status_link"
    __table_args__ = (Index("ix_waitlist_status_link_entry", "entry_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("waitlist_entry.id"))
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_seen_at: Mapped[datetime | None]
