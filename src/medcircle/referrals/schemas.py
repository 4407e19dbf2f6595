"""Shapes of referrals, their transitions, history and status links at the API edge."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from medcircle.referrals.domain import Action, CareType, Direction, Side, Status, Urgency

Icd10 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=8)]
Diagnosis = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
Summary = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20000)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
Place = Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=20000)]
Id = Annotated[int, Field(ge=1, le=2**31 - 1)]


class ReferralCreate(BaseModel):
    patient_id: Id
    receiver_department_id: Id
    urgency: Urgency = Urgency.ROUTINE
    care_type: CareType = CareType.OUTPATIENT
    icd10_code: Icd10
    diagnosis: Diagnosis | None = Field(default=None, description="the ICD-10 title if omitted")
    reason: Reason
    clinical_summary: Summary
    sender_department_id: Id | None = None
    direction: Direction | None = Field(
        default=None, description="derived from the institutions' levels when omitted"
    )
    outside_network_reason: Short | None = Field(
        default=None,
        description="needed when no agreement or alliance joins the two institutions",
    )
    submit: bool = Field(default=True, description="false keeps it as a draft")


class ReferralUpdate(BaseModel):
    """A draft's fields; only those sent change."""

    version: int = Field(description="the version you read; a newer one on the server is a 409")
    patient_id: Id | None = None
    receiver_department_id: Id | None = None
    urgency: Urgency | None = None
    care_type: CareType | None = None
    icd10_code: Icd10 | None = None
    diagnosis: Diagnosis | None = None
    reason: Reason | None = None
    clinical_summary: Summary | None = None
    sender_department_id: Id | None = None
    direction: Direction | None = None
    outside_network_reason: Short | None = None


class TransitionIn(BaseModel):
    action: Action
    version: int = Field(description="the version you read; a newer one on the server is a 409")
    reason: Short | None = Field(default=None, description="decline, redirect, cancel")
    appointment_at: AwareDatetime | None = Field(
        default=None, description="schedule, reschedule; with a time zone"
    )
    appointment_place: Place | None = None
    what_to_bring: Short | None = None
    outcome_summary: Note | None = Field(default=None, description="complete")
    local_plan: bool = Field(
        default=False, description="complete: the care plan is carried out locally"
    )
    receiver_department_id: Id | None = Field(default=None, description="redirect: new target")


class PartyRead(BaseModel):
    institution_id: int
    institution_zh: str
    institution_en: str
    department_id: int | None
    department_zh: str | None
    department_en: str | None


class ReferralRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    reference: str
    direction: Direction
    status: Status
    urgency: Urgency
    care_type: CareType
    patient_id: int
    patient_name: str
    patient_national_id_masked: str | None
    consent_id: int | None
    sender: PartyRead
    sender_user_id: int
    receiver: PartyRead
    icd10_code: str
    diagnosis: str
    reason: str
    clinical_summary: str
    outside_network: bool
    outside_network_reason: str | None
    parent_id: int | None
    redirected_to_id: int | None
    submitted_at: datetime | None
    triage_due_at: datetime | None
    escalation_level: int
    triaged_at: datetime | None
    decision_reason: str | None
    appointment_at: datetime | None
    appointment_place: str | None
    what_to_bring: str | None
    arrived_at: datetime | None
    completed_at: datetime | None
    outcome_summary: str | None
    local_plan: bool
    closed_at: datetime | None
    cancel_reason: str | None
    saving_yuan: float | None
    saving_distance_km: float | None
    created_at: datetime
    updated_at: datetime
    version: int
    sides: list[Side] = Field(description="your institution's part in this referral")
    actions: list[Action] = Field(description="the transitions you may make now")


class EventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    referral_id: int
    at: datetime
    action: str
    from_status: Status | None
    to_status: Status
    actor_user_id: int | None
    actor_institution_id: int | None
    note: str | None
    detail: dict[str, Any]


class StatusLinkRead(BaseModel):
    """A new status link for the family: the token is shown once, never stored."""

    id: int
    referral_id: int
    token: str
    url: str
    expires_at: datetime


class FamilyStatusRead(BaseModel):
    """What the family sees: the state, the appointment and what to bring; nothing clinical."""

    reference: str
    status: Status
    direction: Direction
    institution_zh: str
    institution_en: str
    department_zh: str
    department_en: str
    appointment_at: datetime | None
    appointment_place: str | None
    what_to_bring: str | None
    updated_at: datetime
    expires_at: datetime
