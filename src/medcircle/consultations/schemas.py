"""Shapes of consultations, their actions, thread and rota at the API edge (and the inputs
the service takes from pages too)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from medcircle.consultations.domain import Action, Mode, Side, Status, Urgency

Icd10 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=8)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
Question = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
Summary = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20000)]
Body = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10000)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=20000)]
Id = Annotated[int, Field(ge=1, le=2**31 - 1)]


class ConsultationCreate(BaseModel):
    patient_id: Id
    answer_institution_id: Id
    specialty_code: Code
    # an MDT's further specialties
    other_specialties: list[Code] = Field(default_factory=list, max_length=6)
    mode: Mode = Mode.WRITTEN
    urgency: Urgency = Urgency.ROUTINE
    question: Question
    clinical_summary: Summary
    icd10_code: Icd10
    diagnosis: Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)] | None = (
        Field(default=None, description="the ICD-10 title if omitted")
    )
    asker_department_id: Id | None = None


class ActIn(BaseModel):
    """One transition of a consultation; which fields it needs is in domain.TRANSITIONS."""

    action: Action
    version: int = Field(description="the version you read; a newer one on the server is a 409")
    reason: Short | None = Field(default=None, description="release, redirect, cancel")
    assignee_user_id: Id | None = Field(default=None, description="assign")
    specialty_code: Code | None = Field(default=None, description="redirect: the new pool")
    body: Body | None = Field(default=None, description="ask_asker, reply, follow_up")
    assessment: Note | None = Field(default=None, description="answer")
    recommendations: Note | None = Field(default=None, description="answer")
    needs_visit: bool = Field(default=False, description="answer: the patient needs to be seen")
    follow_up: Note | None = Field(default=None, description="answer: follow-up advice")
    helpful: int | None = Field(default=None, ge=1, le=5, description="close: 1 (no) to 5")
    referral_avoided: bool | None = Field(
        default=None, description="close: a referral you had in mind was avoided"
    )


class MessageIn(BaseModel):
    """A note in the thread that does not change whose turn it is."""

    body: Body


class PartyRead(BaseModel):
    institution_id: int
    institution_zh: str
    institution_en: str


class PersonRead(BaseModel):
    user_id: int
    display_name: str
    institution_id: int


class ConsultationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    reference: str
    status: Status
    mode: Mode
    urgency: Urgency
    patient_id: int
    patient_name: str
    patient_national_id_masked: str | None
    patient_age_years: int | None
    patient_sex: str
    consent_id: int | None
    asker: PartyRead
    asker_user: PersonRead
    answerer: PartyRead
    specialty_code: str
    other_specialties: list[str]
    agreement_id: int | None
    assignee: PersonRead | None
    question: str
    clinical_summary: str
    icd10_code: str
    diagnosis: str
    asked_at: datetime
    target_minutes: int
    due_at: datetime | None
    paused: bool
    minutes_left: int | None = Field(description="to the target; negative once missed")
    escalation_level: int
    route_reason: str | None
    first_answered_at: datetime | None
    first_answer_seconds: int | None
    within_target: bool | None
    assessment: str | None
    recommendations: str | None
    needs_visit: bool | None
    follow_up: str | None
    answered_at: datetime | None
    helpful: int | None
    referral_avoided: bool | None
    closed_at: datetime | None
    cancel_reason: str | None
    referral_id: int | None
    teaching_case_id: int | None
    created_at: datetime
    updated_at: datetime
    version: int
    turn: Side | None = Field(description="whose turn it is")
    sides: list[Side] = Field(description="your part in this consultation")
    actions: list[Action] = Field(description="the transitions you may make now")


class MessageRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    kind: str
    author_user_id: int
    author_institution_id: int
    body: str


class EventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    action: str
    from_status: Status | None
    to_status: Status
    actor_user_id: int | None
    actor_institution_id: int | None
    note: str | None
    detail: dict[str, Any]


class ShiftIn(BaseModel):
    user_id: Id
    specialty_code: Code
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    role: Annotated[str, StringConstraints(pattern="^(primary|backup)$")] = "primary"


class LeaveIn(BaseModel):
    user_id: Id
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    reason: Short | None = None
