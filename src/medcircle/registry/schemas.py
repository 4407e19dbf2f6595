"""Shapes of the registry at the edges: Create / Update / Read per object."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from medcircle.registry.domain import CentreKind, Grade, InstitutionType, Level, Title


class DivisionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name_zh: str
    name_en: str
    level: str
    parent_code: str | None
    latitude: float | None
    longitude: float | None


class SpecialtyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name_zh: str
    name_en: str


class InstitutionCreate(BaseModel):
    code: str = Field(min_length=1, max_length=32, examples=["BCH-BD"])
    name_zh: str = Field(min_length=1, max_length=128)
    name_en: str = Field(min_length=1, max_length=200)
    level: Level
    grade: Grade
    type: InstitutionType
    division_code: str = Field(min_length=1, max_length=6, examples=["130606"])
    latitude: float | None = None
    longitude: float | None = None
    address: str | None = Field(default=None, max_length=255)
    bed_count: int | None = None
    parent_id: int | None = None


class InstitutionUpdate(BaseModel):
    """Only the fields sent are changed; ``version`` is the one the editor read."""

    version: int = Field(description="The version read before editing (optimistic locking).")
    code: str | None = Field(default=None, min_length=1, max_length=32)
    name_zh: str | None = Field(default=None, min_length=1, max_length=128)
    name_en: str | None = Field(default=None, min_length=1, max_length=200)
    level: Level | None = None
    grade: Grade | None = None
    type: InstitutionType | None = None
    division_code: str | None = Field(default=None, min_length=1, max_length=6)
    latitude: float | None = None
    longitude: float | None = None
    address: str | None = Field(default=None, max_length=255)
    bed_count: int | None = None
    parent_id: int | None = None


class InstitutionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name_zh: str
    name_en: str
    level: str
    grade: str
    type: str
    division_code: str
    province_code: str
    city_code: str
    latitude: float | None
    longitude: float | None
    address: str | None
    bed_count: int | None
    parent_id: int | None
    is_synthetic: bool
    created_at: datetime
    updated_at: datetime
    version: int


class InstitutionDetail(InstitutionRead):
    department_count: int
    practitioner_count: int
    branch_count: int
    alliance_ids: list[int]


class InstitutionRename(BaseModel):
    name_zh: str = Field(min_length=1, max_length=128)
    name_en: str = Field(min_length=1, max_length=200)
    valid_from: date
    reason: str | None = Field(default=None, max_length=255)


class InstitutionNameRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    institution_id: int
    name_zh: str
    name_en: str
    valid_from: date | None
    valid_to: date | None
    reason: str | None
    agreement_id: int | None


class DepartmentCreate(BaseModel):
    specialty_code: str = Field(min_length=1, max_length=32)
    name_zh: str = Field(min_length=1, max_length=128)
    name_en: str = Field(min_length=1, max_length=200)
    bed_count: int | None = None


class DepartmentUpdate(BaseModel):
    specialty_code: str | None = Field(default=None, min_length=1, max_length=32)
    name_zh: str | None = Field(default=None, min_length=1, max_length=128)
    name_en: str | None = Field(default=None, min_length=1, max_length=200)
    bed_count: int | None = None
    is_active: bool | None = None


class DepartmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    institution_id: int
    specialty_code: str
    name_zh: str
    name_en: str
    bed_count: int | None
    is_active: bool


class PractitionerCreate(BaseModel):
    institution_id: int
    department_id: int | None = None
    name_zh: str = Field(min_length=1, max_length=64)
    name_en: str = Field(min_length=1, max_length=128)
    title: Title
    specialty_code: str = Field(min_length=1, max_length=32)
    license_no: str | None = Field(default=None, min_length=1, max_length=32)
    user_id: int | None = None


class PractitionerUpdate(BaseModel):
    department_id: int | None = None
    name_zh: str | None = Field(default=None, min_length=1, max_length=64)
    name_en: str | None = Field(default=None, min_length=1, max_length=128)
    title: Title | None = None
    specialty_code: str | None = Field(default=None, min_length=1, max_length=32)
    license_no: str | None = Field(default=None, min_length=1, max_length=32)
    is_active: bool | None = None


class PractitionerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    institution_id: int
    department_id: int | None
    user_id: int | None
    name_zh: str
    name_en: str
    title: str
    specialty_code: str
    license_no: str | None
    is_active: bool
    is_synthetic: bool


class AllianceCreate(BaseModel):
    code: str = Field(min_length=1, max_length=32)
    name_zh: str = Field(min_length=1, max_length=128)
    name_en: str = Field(min_length=1, max_length=200)
    lead_institution_id: int
    founded_on: date
    description: str | None = Field(default=None, max_length=4000)


class AllianceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name_zh: str
    name_en: str
    lead_institution_id: int
    founded_on: date
    description: str | None


class AllianceDetail(AllianceRead):
    active_member_count: int
    centre_count: int


class MemberCreate(BaseModel):
    institution_id: int
    joined_on: date
    left_on: date | None = None


class MemberUpdate(BaseModel):
    left_on: date | None = Field(description="The day the member left; null to undo a leave.")


class MemberRead(BaseModel):
    id: int
    alliance_id: int
    institution_id: int
    institution_code: str
    institution_name_zh: str
    institution_name_en: str
    division_code: str
    joined_on: date
    left_on: date | None
    active: bool


class CentreCreate(BaseModel):
    kind: CentreKind
    name_zh: str = Field(min_length=1, max_length=128)
    name_en: str = Field(min_length=1, max_length=200)
    host_institution_id: int
    established_on: date


class CentreRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    alliance_id: int
    host_institution_id: int
    kind: str
    name_zh: str
    name_en: str
    established_on: date
