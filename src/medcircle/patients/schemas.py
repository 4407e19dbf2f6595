"""Shapes of patients and consent at the API edge. Sealed values and keyed hashes never leave
the service: a patient is shown with the masked copies of its numbers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from medcircle.patients.domain import (
    ConsentPurpose,
    ConsentState,
    GivenBy,
    GuardianRelation,
    Sex,
    UnmaskField,
)

Name64 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Number32 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
Adcode = Annotated[str, StringConstraints(pattern=r"^\d{6}$")]
Text255 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=255)]


class PatientCreate(BaseModel):
    name: Name64
    sex: Sex
    birth_date: date
    national_id: Number32 | None = Field(
        default=None, description="18 characters (GB 11643); stored encrypted, shown masked"
    )
    phone: Number32 | None = Field(default=None, description="mobile or fixed line")
    residence_division_code: Adcode = Field(description="division code of the place of residence")
    address: Text255 | None = None
    guardian_name: Name64 | None = Field(default=None, description="required for a child")
    guardian_relation: GuardianRelation | None = None
    guardian_phone: Number32 | None = None
    email: Email | None = None


class PatientUpdate(BaseModel):
    version: int = Field(description="the version you read; a newer one on the server is a 409")
    name: Name64 | None = None
    sex: Sex | None = None
    birth_date: date | None = None
    national_id: Number32 | None = None
    phone: Number32 | None = None
    residence_division_code: Adcode | None = None
    address: Text255 | None = None
    guardian_name: Name64 | None = None
    guardian_relation: GuardianRelation | None = None
    guardian_phone: Number32 | None = None
    email: Email | None = None


class PatientRead(BaseModel):
    """A patient as others see it: identifiers masked. A merged record carries
    ``merged_into_id``, the record that now stands for the person."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    institution_id: int
    name: str
    sex: Sex
    birth_date: date
    national_id_masked: str | None
    phone_masked: str | None
    residence_division_code: str | None
    address: str | None
    guardian_name: str | None
    guardian_relation: GuardianRelation | None
    guardian_phone_masked: str | None
    email: str | None
    merged_into_id: int | None
    created_at: datetime
    updated_at: datetime
    version: int


class PatientSearch(BaseModel):
    """A search in the body, so that an ID number never appears in a URL or an access log."""

    national_id: Number32 | None = None
    name: Name64 | None = Field(default=None, description="the start of the name")
    birth_date: date | None = None


class MergeIn(BaseModel):
    duplicate_id: int = Field(description="the record that goes; this one stays")
    version: int = Field(description="the version of the record that stays, as you read it")
    duplicate_version: int = Field(description="the version of the duplicate, as you read it")


class DuplicateRead(BaseModel):
    first: PatientRead
    second: PatientRead
    reason: Literal["same_national_id", "same_name_and_birth_date"]


class UnmaskIn(BaseModel):
    field: UnmaskField
    reason: Reason = Field(description="why the full number is needed (kept in the audit trail)")


class UnmaskOut(BaseModel):
    field: UnmaskField
    value: str


class ConsentCreate(BaseModel):
    receiving_institution_id: int
    purpose: ConsentPurpose = ConsentPurpose.REFERRAL
    given_by: GivenBy
    given_by_name: Name64
    given_at: AwareDatetime
    valid_until: date | None = Field(default=None, description="last day of validity")


class ConsentWithdraw(BaseModel):
    reason: Reason


class ConsentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    patient_id: int
    receiving_institution_id: int
    purpose: ConsentPurpose
    given_by: GivenBy
    given_by_name: str
    given_at: datetime
    valid_until: date | None
    recorded_by_user_id: int
    recorded_at: datetime
    withdrawn_at: datetime | None
    withdrawal_reason: str | None
    state: ConsentState = ConsentState.VALID
    receiving_institution_name_zh: str | None = None
    receiving_institution_name_en: str | None = None
