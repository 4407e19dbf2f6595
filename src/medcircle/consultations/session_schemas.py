"""API shapes of video and multi-disciplinary sessions."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

# the shortest and longest session one may book, in minutes
MIN_MINUTES = 15
MAX_MINUTES = 240


class ScheduleIn(BaseModel):
    """A session at ``starts_at`` (with its offset) for ``duration_minutes`` (default: 30 for
    video, 60 for an MDT). ``participant_user_ids`` adds experts of the answering institution
    to an MDT (the asker and the assigned expert always take part). ``force`` books it even
    though someone is busy then; ``force_reason`` says why (required with ``force``)."""

    model_config = ConfigDict(extra="forbid")

    starts_at: AwareDatetime
    duration_minutes: int | None = Field(default=None, ge=MIN_MINUTES, le=MAX_MINUTES)
    participant_user_ids: list[int] = Field(default_factory=list, max_length=50)
    force: bool = False
    force_reason: str | None = Field(default=None, max_length=500)


class RescheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int
    starts_at: AwareDatetime
    duration_minutes: int | None = Field(default=None, ge=MIN_MINUTES, le=MAX_MINUTES)
    force: bool = False
    force_reason: str | None = Field(default=None, max_length=500)


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int
    reason: str | None = Field(default=None, max_length=500)


class MinutesIn(BaseModel):
    """Who attended (the other participants are recorded absent) and the minutes."""

    model_config = ConfigDict(extra="forbid")

    version: int
    minutes: str = Field(min_length=1, max_length=20000)
    attended_user_ids: list[int] = Field(default_factory=list, max_length=50)


class ParticipantRead(BaseModel):
    user_id: int
    name: str
    attended: bool | None


class SessionRead(BaseModel):
    id: int
    consultation_id: int
    starts_at: datetime
    ends_at: datetime
    meeting_url: str
    status: str
    minutes: str | None
    organiser_user_id: int
    uid: str
    sequence: int
    version: int
    participants: list[ParticipantRead]
    invite_url: str


class SlotsRead(BaseModel):
    """Start times at which everyone is free, and who was considered."""

    duration_minutes: int
    participant_user_ids: list[int]
    slots: list[datetime]
