"""Tables of consultations, their conversation, history, files and sessions; the on-call
rota, leave and skills of experts; response targets per agreement; teaching cases."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
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


class OnCallShift(Base):
    """One expert on call for one specialty of one institution, [starts_at, ends_at)."""

    __tablename__ = "oncall_shift"
    __table_args__ = (
        CheckConstraint("starts_at < ends_at", name="ordered"),
        Index("ix_oncall_shift_rota", "institution_id", "specialty_code", "starts_at"),
        Index("ix_oncall_shift_user", "user_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))
    specialty_code: Mapped[str] = mapped_column(ForeignKey("specialty.code"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    # primary, backup
    role: Mapped[str] = mapped_column(String(16))
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime]
    is_synthetic: Mapped[bool] = mapped_column(Boolean, default=False)


class ExpertLeave(Base):
    """An expert away (leave, travel, illness), [starts_at, ends_at)."""

    __tablename__ = "expert_leave"
    __table_args__ = (
        CheckConstraint("starts_at < ends_at", name="ordered"),
        Index("ix_expert_leave_user", "user_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(String(255))
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime]


class ExpertSkill(Base):
    """An ICD-10 code prefix an expert is known for ("Q2", "C91"), used by routing."""

    __tablename__ = "expert_skill"
    __table_args__ = (UniqueConstraint("user_id", "icd10_prefix"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    icd10_prefix: Mapped[str] = mapped_column(String(8))


class ConsultTarget(Base):
    """A response target of one agreement for one urgency, overriding the platform's."""

    __tablename__ = "consult_target"
    __table_args__ = (
        UniqueConstraint("agreement_id", "urgency"),
        CheckConstraint("minutes > 0", name="positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(
        ForeignKey("cooperation_agreement.id", ondelete="CASCADE")
    )
    urgency: Mapped[str] = mapped_column(String(16))
    minutes: Mapped[int] = mapped_column(Integer)


class Consultation(Base):
    __tablename__ = "consultation"
    __table_args__ = (
        CheckConstraint("asker_institution_id <> answer_institution_id", name="not_to_itself"),
        # an expert's worklist: what they hold, by time left
        Index("ix_consultation_assignee", "assignee_user_id", "status", "due_at"),
        # the pool of a specialty of the answering institution, by time left
        Index(
            "ix_consultation_pool", "answer_institution_id", "specialty_code", "status", "due_at"
        ),
        Index("ix_consultation_asker", "asker_institution_id", "status", "updated_at"),
        Index("ix_consultation_patient", "patient_id"),
        Index("ix_consultation_asked", "asked_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # human reference shown everywhere, e.g. C-2026-000123
    reference: Mapped[str] = mapped_column(String(24), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    # written, video, mdt
    mode: Mapped[str] = mapped_column(String(8))
    # routine, urgent, emergency; rank 0 = emergency sorts first
    urgency: Mapped[str] = mapped_column(String(16))
    urgency_rank: Mapped[int] = mapped_column(Integer)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    consent_id: Mapped[int | None] = mapped_column(ForeignKey("consent.id"))
    asker_institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))
    asker_department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    asker_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    answer_institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))
    # the pool (specialty) it is in; an MDT adds the others in consultation_specialty
    specialty_code: Mapped[str] = mapped_column(ForeignKey("specialty.code"))
    # the agreement under which the answering institution supports the asker's (None: alliance)
    agreement_id: Mapped[int | None] = mapped_column(ForeignKey("cooperation_agreement.id"))
    assignee_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    question: Mapped[str] = mapped_column(Text)
    clinical_summary: Mapped[str] = mapped_column(Text)
    icd10_code: Mapped[str] = mapped_column(String(8))
    diagnosis: Mapped[str] = mapped_column(String(255))
    asked_at: Mapped[datetime]
    # the response clock (see domain.Clock): target, pauses, when due and when at risk
    target_minutes: Mapped[int] = mapped_column(Integer)
    paused_seconds: Mapped[int] = mapped_column(Integer, default=0)
    paused_since: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    # 0 none, 1 given to the next expert on call, 2 coordinators told (target missed)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    # the routing decision that placed it (domain.RouteReason)
    route_reason: Mapped[str | None] = mapped_column(String(24))
    first_answered_at: Mapped[datetime | None]
    # clock time (pauses left out) from asking to the first opinion
    first_answer_seconds: Mapped[int | None] = mapped_column(Integer)
    within_target: Mapped[bool | None] = mapped_column(Boolean)
    # the structured opinion (the latest)
    assessment: Mapped[str | None] = mapped_column(Text)
    recommendations: Mapped[str | None] = mapped_column(Text)
    needs_visit: Mapped[bool | None] = mapped_column(Boolean)
    follow_up: Mapped[str | None] = mapped_column(Text)
    opinion_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    answered_at: Mapped[datetime | None]
    # the asker's rating: helpful 1..5, and whether a referral they had in mind was avoided
    helpful: Mapped[int | None] = mapped_column(Integer)
    referral_avoided: Mapped[bool | None] = mapped_column(Boolean)
    rated_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(String(500))
    # the upward referral it became
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referral.id"))
    # counted among the difficult cases of the seeds' figures
    is_difficult: Mapped[bool] = mapped_column(Boolean, default=False)
    is_synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class ConsultationSpecialty(Base):
    """A further specialty of a multi-disciplinary consultation."""

    __tablename__ = "consultation_specialty"
    __table_args__ = (UniqueConstraint("consultation_id", "specialty_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultation.id", ondelete="CASCADE"))
    specialty_code: Mapped[str] = mapped_column(ForeignKey("specialty.code"))


class ConsultationMessage(Base):
    """One message of a case's thread: a question, a reply, a note."""

    __tablename__ = "consultation_message"
    __table_args__ = (Index("ix_consultation_message_case", "consultation_id", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultation.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    # question (expert to asker), reply (asker), follow_up (asker after the opinion), note
    kind: Mapped[str] = mapped_column(String(16))
    author_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    author_institution_id: Mapped[int] = mapped_column(ForeignKey("institution.id"))
    body: Mapped[str] = mapped_column(Text)


class ConsultationEvent(Base):
    """One step of a consultation's history: every transition, by whom, when."""

    __tablename__ = "consultation_event"
    __table_args__ = (Index("ix_consultation_event_case", "consultation_id", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultation.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    # None when the platform acted (a timer)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    actor_institution_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id"))
    note: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ConsultationAttachment(Base):
    """A file of a consultation, stored by content hash under the data directory."""

    __tablename__ = "consultation_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(
        ForeignKey("consultation.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    uploaded_at: Mapped[datetime]


class ConsultSession(Base):
    """A video or multi-disciplinary session of a consultation at an agreed time."""

    __tablename__ = "consult_session"
    __table_args__ = (
        CheckConstraint("starts_at < ends_at", name="ordered"),
        Index("ix_consult_session_case", "consultation_id"),
        Index("ix_consult_session_time", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultation.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    meeting_url: Mapped[str] = mapped_column(String(500))
    # scheduled, held, cancelled
    status: Mapped[str] = mapped_column(String(16))
    minutes: Mapped[str | None] = mapped_column(Text)
    organiser_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    # the calendar identity of the invitation (iCalendar UID), kept across changes
    uid: Mapped[str] = mapped_column(String(64), unique=True)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class SessionParticipant(Base):
    __tablename__ = "consult_session_participant"
    __table_args__ = (UniqueConstraint("session_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("consult_session.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    # None until the minutes record it
    attended: Mapped[bool | None] = mapped_column(Boolean)


class TeachingCase(Base):
    """An anonymised copy of a consultation for the case library: no names, numbers or
    dates of the person; age as a band."""

    __tablename__ = "teaching_case"

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultation.id"), unique=True)
    specialty_code: Mapped[str] = mapped_column(ForeignKey("specialty.code"))
    icd10_code: Mapped[str] = mapped_column(String(8))
    diagnosis: Mapped[str] = mapped_column(String(255))
    age_band: Mapped[str] = mapped_column(String(16))
    sex: Mapped[str] = mapped_column(String(8))
    question: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text)
    assessment: Mapped[str] = mapped_column(Text)
    recommendations: Mapped[str] = mapped_column(Text)
    created_by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime]
