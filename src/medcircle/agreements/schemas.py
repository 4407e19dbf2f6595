"""Shapes of framework agreements, cooperation agreements, goals and documents at the edges."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from medcircle.agreements.domain import AgreementKind, AgreementStatus, GoalStatus

Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=32)]
Text200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text300 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Name128 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
Name200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Adcode = Annotated[str, StringConstraints(pattern=r"^\d{6}$")]
Goal500 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=10000)]
SpecialtyCode = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)
]


class Message(BaseModel):
    """A warning about one field: the agreement was saved, but something looks unusual."""

    field: str
    code: str
    message: str


# --- framework agreements -----------------------------------------------------------------


class FrameworkCreate(BaseModel):
    code: Code | None = Field(default=None, description="generated when omitted")
    title_zh: Text200
    title_en: Text300
    party_a: Name128 = Field(description="e.g. Beijing Municipal Health Commission")
    party_a_division_code: Adcode
    party_b: Name128
    party_b_division_code: Adcode
    signed_on: date
    starts_on: date
    ends_on: date | None = None
    summary: Note | None = None


class FrameworkUpdate(BaseModel):
    version: int = Field(description="the version you read; a newer one on the server is a 409")
    code: Code | None = None
    title_zh: Text200 | None = None
    title_en: Text300 | None = None
    party_a: Name128 | None = None
    party_a_division_code: Adcode | None = None
    party_b: Name128 | None = None
    party_b_division_code: Adcode | None = None
    signed_on: date | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    summary: Note | None = None


class FrameworkRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    title_zh: str
    title_en: str
    party_a: str
    party_a_division_code: str
    party_b: str
    party_b_division_code: str
    signed_on: date
    starts_on: date
    ends_on: date | None
    summary: str | None
    agreement_count: int = 0
    created_at: datetime
    updated_at: datetime
    version: int


# --- cooperation agreements ---------------------------------------------------------------


class AgreementCreate(BaseModel):
    code: Code | None = Field(default=None, description="generated when omitted")
    framework_id: int | None = None
    kind: AgreementKind
    supporting_institution_id: int | None = Field(default=None, description="or give the code")
    supporting_institution_code: Code | None = None
    supported_institution_id: int | None = Field(default=None, description="or give the code")
    supported_institution_code: Code | None = None
    title_zh: Text200 | None = Field(default=None, description="built from the parties if omitted")
    title_en: Text300 | None = None
    signed_on: date | None = None
    starts_on: date
    ends_on: date
    specialties: list[SpecialtyCode] = Field(default_factory=list, max_length=40)
    licensed_name_zh: Name128 | None = Field(
        default=None, description="trusteeship: the supported hospital's new licensed name"
    )
    licensed_name_en: Name200 | None = None
    notes: Note | None = None


class AgreementUpdate(BaseModel):
    """Only the fields sent are changed; ``framework_id: null`` detaches the framework."""

    version: int = Field(description="the version you read; a newer one on the server is a 409")
    code: Code | None = None
    framework_id: int | None = None
    kind: AgreementKind | None = None
    supporting_institution_id: int | None = None
    supporting_institution_code: Code | None = None
    supported_institution_id: int | None = None
    supported_institution_code: Code | None = None
    title_zh: Text200 | None = None
    title_en: Text300 | None = None
    signed_on: date | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    specialties: list[SpecialtyCode] | None = Field(default=None, max_length=40)
    licensed_name_zh: Name128 | None = None
    licensed_name_en: Name200 | None = None
    notes: Note | None = None


class AgreementTerminate(BaseModel):
    version: int
    terminated_on: date
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class InstitutionRef(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name_zh: str
    name_en: str


class SpecialtyRef(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name_zh: str
    name_en: str


class AgreementRead(BaseModel):
    id: int
    code: str
    framework_id: int | None
    kind: AgreementKind
    supporting_institution: InstitutionRef
    supported_institution: InstitutionRef
    title_zh: str
    title_en: str
    signed_on: date | None
    starts_on: date
    ends_on: date
    terminated_on: date | None
    status: AgreementStatus = Field(description="status on the list's date (today by default)")
    ends_soon: bool = Field(description="running and ending within six months of that date")
    overdue_goals: int
    specialties: list[SpecialtyRef]
    licensed_name_zh: str | None
    licensed_name_en: str | None
    notes: str | None
    created_at: datetime
    updated_at: datetime
    version: int


class AgreementSaved(AgreementRead):
    warnings: list[Message] = Field(default_factory=list)


# --- goals --------------------------------------------------------------------------------


class GoalCreate(BaseModel):
    description_zh: Goal500
    description_en: Goal500 | None = Field(default=None, description="the Chinese text if omitted")
    due_on: date
    status: GoalStatus = GoalStatus.PLANNED
    progress_note: Note | None = None
    achieved_on: date | None = None


class GoalUpdate(BaseModel):
    """Only the fields sent are changed; ``achieved_on: null`` clears the date."""

    description_zh: Goal500 | None = None
    description_en: Goal500 | None = None
    due_on: date | None = None
    status: GoalStatus | None = None
    progress_note: Note | None = None
    achieved_on: date | None = None


class GoalRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    agreement_id: int
    description_zh: str
    description_en: str
    due_on: date
    status: GoalStatus
    progress_note: str | None
    achieved_on: date | None
    updated_at: datetime
    overdue: bool = False


class OverdueGoalRead(GoalRead):
    agreement_code: str
    agreement_title_zh: str
    agreement_title_en: str
    days_overdue: int


# --- documents ----------------------------------------------------------------------------


class DocumentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    agreement_id: int
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    uploaded_at: datetime
    uploaded_by_user_id: int | None
    download_url: str = ""
