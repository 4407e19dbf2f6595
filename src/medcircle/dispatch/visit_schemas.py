"""Shapes of visit records at the edges: what a client sends and what it reads back."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from medcircle.dispatch.visit_rules import MAX_COUNT, MAX_OPERATION_ROWS


class OperationIn(BaseModel):
    """One row of operations: the diagnosis (ICD-10), the procedure and how many."""

    icd10_code: str = Field(max_length=16, description="ICD-10 category or subcategory, K40.9")
    procedure: str = Field(max_length=400)
    count: int = Field(default=1, ge=1, le=MAX_COUNT)


class VisitCreate(BaseModel):
    """A visit that has happened. ``user_id`` is the expert (default: the caller)."""

    model_config = ConfigDict(extra="forbid")

    user_id: int | None = None
    site_institution_id: int
    department_id: int | None = None
    specialty_code: str | None = Field(default=None, max_length=32)
    roster_visit_id: int | None = None
    starts_on: date
    ends_on: date
    outpatients: int = Field(default=0, ge=0, le=MAX_COUNT)
    ward_rounds: int = Field(default=0, ge=0, le=MAX_COUNT)
    teaching_sessions: int = Field(default=0, ge=0, le=MAX_COUNT)
    difficult_cases: int = Field(default=0, ge=0, le=MAX_COUNT)
    note: str | None = Field(default=None, max_length=4000)
    operations: list[OperationIn] = Field(default_factory=list, max_length=MAX_OPERATION_ROWS)


class VisitUpdate(BaseModel):
    """The fields to change (those sent; ``null`` clears an optional one) and the version
    read. ``operations``, when sent, replaces the rows. The expert cannot change."""

    model_config = ConfigDict(extra="forbid")

    version: int
    site_institution_id: int | None = None
    department_id: int | None = None
    specialty_code: str | None = Field(default=None, max_length=32)
    roster_visit_id: int | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    outpatients: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    ward_rounds: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    teaching_sessions: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    difficult_cases: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    note: str | None = Field(default=None, max_length=4000)
    operations: list[OperationIn] | None = Field(default=None, max_length=MAX_OPERATION_ROWS)


class OperationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    icd10_code: str
    procedure: str
    count: int


class VisitRead(BaseModel):
    id: int
    user_id: int
    expert_name: str
    home_institution_id: int
    site_institution_id: int
    department_id: int | None
    specialty_code: str | None
    roster_visit_id: int | None
    starts_on: date
    ends_on: date
    days: int = Field(description="expert-days on site, both ends included")
    outpatients: int
    ward_rounds: int
    teaching_sessions: int
    difficult_cases: int
    operations_total: int
    operations: list[OperationRead]
    note: str | None
    recorded_by_user_id: int | None
    created_at: datetime
    updated_at: datetime
    version: int
