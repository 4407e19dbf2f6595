"""Tables of expert dispatch: demand for visiting experts, experts' availability and skills,
set travel times, planned rosters and their visits, conflicts reported on them, private
calendar feeds, and records of what each visit achieved."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from medcircle.db import Base


class DispatchDemand(Base):
    """What a supported institution asks of an agreement's supporting one, in one specialty:

    - ``visits``: ``visits_per_week`` visit days every week from ``starts_on`` to ``ends_on``;
    - ``resident``: ``positions`` resident experts stationed there over that period;
    - ``special``: one visit on ``day`` by an expert with ``skill`` (an operation, say).

    Written by the supported institution (draft, submitted), decided by the supporting one
    (approved, rejected); only approved demand is planned."""

    __tablename__ = "dispatch_demand"
    __table_args__ = (
        CheckConstraint("kind in ('visits', 'resident', 'special')", name="kind"),
        CheckConstraint(
            "status in ('draft', 'submitted', 'approved', 'rejected', 'withdrawn')", name="status"
        ),
        CheckConstraint("starts_on <= ends_on", name="ordered"),
        Index("ix_dispatch_demand_agreement", "agreement_id", "status"),
        Index("ix_dispatch_demand_site", "site_institution_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("cooperation_agreement.id"))
    # the supported institution (where experts go) and the supporting one (who sends them)
    site_institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))
    supporting_institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    specialty_code: Mapped[str] = mapped_column(ForeignKey("specialty.code"))
    kind: Mapped[str] = mapped_column(String(16))
    visits_per_week: Mapped[int | None] = mapped_column(Integer)
    positions: Mapped[int | None] = mapped_column(Integer)
    day: Mapped[date | None]
    skill: Mapped[str | None] = mapped_column(String(64))
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(Text)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(default=1)
    is_synthetic: Mapped[bool] = mapped_column(Boolean, default=False)


class ExpertProfile(Base):
    """A visiting expert's specialty, home duties (weekdays, Monday 0) and most visit days a
    week. Leave is the expert's leave (``expert_leave``), shared with the on-call rota."""

    __tablename__ = "dispatch_expert"
    __table_args__ = (CheckConstraint("max_days_per_week between 0 and 5", name="max_days"),)

    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True
    )
    specialty_code: Mapped[str] = mapped_column(ForeignKey("specialty.code"))
    max_days_per_week: Mapped[int] = mapped_column(Integer, default=2)
    # weekdays of fixed home duties (clinic, theatre), e.g. [0, 3]
    duty_weekdays: Mapped[list[int]] = mapped_column(JSON, default=list)
    # whether the expert takes part in dispatch at all
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(default=1)


class ExpertDuty(Base):
    """A single day of home duty outside the weekly pattern (an exam board, a congress)."""

    __tablename__ = "dispatch_duty"
    __table_args__ = (UniqueConstraint("user_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    day: Mapped[date]
    reason: Mapped[str | None] = mapped_column(String(255))


class DispatchSkill(Base):
    """A named skill of an expert ("cochlear implant", "PICC line"), matched by special
    requests; stored normalised (lower case, single spaces)."""

    __tablename__ = "dispatch_skill"
    __table_args__ = (UniqueConstraint("user_id", "skill"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    skill: Mapped[str] = mapped_column(String(64))


class TravelTime(Base):
    """A set one-way travel time between two institutions, overriding the estimate from
    coordinates; it holds for both directions unless the other direction is set too."""

    __tablename__ = "dispatch_travel"
    __table_args__ = (
        UniqueConstraint("origin_institution_id", "destination_institution_id"),
        CheckConstraint("minutes > 0", name="positive"),
        CheckConstraint("origin_institution_id <> destination_institution_id", name="two_places"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    origin_institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))
    destination_institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))
    minutes: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(String(255))
    set_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    updated_at: Mapped[datetime]


class RosterPlan(Base):
    """One run of the planner over a horizon for the demand of some agreements: a draft to
    review, then published (the roster experts see); a re-plan supersedes its parent."""

    __tablename__ = "roster_plan"
    __table_args__ = (
        CheckConstraint(
            "status in ('draft', 'published', 'superseded', 'discarded')", name="status"
        ),
        Index("ix_roster_plan_status", "status", "starts_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    # the supporting institutions whose experts and demand the plan covers
    institution_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("roster_plan.id"))
    # why it was made: "plan", "replan: cancellation", "replan: conflict"
    reason: Mapped[str | None] = mapped_column(String(255))
    # measures, bounds, gap, seconds per stage, uncovered demand with reasons
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime]
    published_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    published_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)
    is_synthetic: Mapped[bool] = mapped_column(Boolean, default=False)


class RosterVisit(Base):
    """One expert at one site on one day in a plan (a visit, a special request or a day of
    residence)."""

    __tablename__ = "roster_visit"
    __table_args__ = (
        CheckConstraint("kind in ('visit', 'special', 'resident')", name="kind"),
        UniqueConstraint("plan_id", "user_id", "day"),
        Index("ix_roster_visit_site", "site_institution_id", "day"),
        Index("ix_roster_visit_user", "user_id", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("roster_plan.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    day: Mapped[date]
    site_institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    specialty_code: Mapped[str] = mapped_column(ForeignKey("specialty.code"))
    kind: Mapped[str] = mapped_column(String(16))
    demand_id: Mapped[int | None] = mapped_column(ForeignKey("dispatch_demand.id"))
    # one-way minutes from the expert's home institution
    travel_minutes: Mapped[int] = mapped_column(Integer, default=0)
    # a coordinator moved it by hand
    edited: Mapped[bool] = mapped_column(Boolean, default=False)


class RosterConflict(Base):
    """An expert reporting they cannot make a published visit; resolved by a re-plan."""

    __tablename__ = "roster_conflict"
    __table_args__ = (
        CheckConstraint("status in ('open', 'replanned', 'dismissed')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("roster_visit.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")
    # the re-plan that resolved it
    resolved_plan_id: Mapped[int | None] = mapped_column(ForeignKey("roster_plan.id"))
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]


class CalendarFeed(Base):
    """A private calendar feed of an expert's published visits: only the token's hash is
    kept; a new one replaces the old."""

    __tablename__ = "calendar_feed"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class VisitRecord(Base):
    """What one expert's trip to a site achieved, from ``starts_on`` to ``ends_on``."""

    __tablename__ = "visit_record"
    __table_args__ = (
        CheckConstraint("starts_on <= ends_on", name="ordered"),
        CheckConstraint(
            "outpatients >= 0 and ward_rounds >= 0 and teaching_sessions >= 0 "
            "and difficult_cases >= 0",
            name="counts",
        ),
        Index("ix_visit_record_site", "site_institution_id", "starts_on"),
        Index("ix_visit_record_user", "user_id", "starts_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    # the expert's home institution at the time (out-calls count per home hospital)
    home_institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))
    site_institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    specialty_code: Mapped[str | None] = mapped_column(ForeignKey("specialty.code"))
    roster_visit_id: Mapped[int | None] = mapped_column(
        ForeignKey("roster_visit.id", ondelete="SET NULL")
    )
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    outpatients: Mapped[int] = mapped_column(Integer, default=0)
    ward_rounds: Mapped[int] = mapped_column(Integer, default=0)
    teaching_sessions: Mapped[int] = mapped_column(Integer, default=0)
    difficult_cases: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(default=1)
    is_synthetic: Mapped[bool] = mapped_column(Boolean, default=False)


class VisitOperation(Base):
    """Operations performed during a visit: ICD-10 diagnosis, procedure, how many."""

    __tablename__ = "visit_operation"
    __table_args__ = (CheckConstraint("count > 0", name="positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit_record.id", ondelete="CASCADE"))
    icd10_code: Mapped[str] = mapped_column(String(8))
    procedure: Mapped[str] = mapped_column(String(200))
    count: Mapped[int] = mapped_column(Integer, default=1)
