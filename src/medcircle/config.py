"""Typed settings, read from the environment with the prefix ``MEDCIRCLE_``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting of a deployment; see docs/operator-guide.md for each."""

    model_config = SettingsConfigDict(env_prefix="MEDCIRCLE_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///var/medcircle.sqlite3"
    data_dir: Path = Path("var/data")
    secret_key: str = Field(default="change-me-in-production-please-0123456789", min_length=32)
    base_url: str = "http://127.0.0.1:8000"
    default_locale: str = "zh_Hans"
    session_idle_minutes: int = Field(default=30, ge=1)
    session_max_hours: int = Field(default=12, ge=1)
    cookie_secure: bool = False
    lockout_attempts: int = Field(default=5, ge=1)
    lockout_window_minutes: int = Field(default=15, ge=1)
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    # the largest activity file `medcircle activity import` reads (uploads keep max_upload_bytes)
    activity_max_bytes: int = Field(default=1024 * 1024 * 1024, ge=1024)
    demo_mode: bool = False
    page_size_default: int = Field(default=50, ge=1, le=500)
    page_size_max: int = Field(default=500, ge=1)
    sql_echo: bool = False
    # connections per app process; requests beyond pool size + overflow wait their turn
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_max_overflow: int = Field(default=10, ge=0, le=200)

    # key of the encrypted patient fields and of their keyed hashes: 32 bytes, base64 (urlsafe).
    # Unset, it is derived from secret_key; set it before the first patient and never change it.
    data_key: str | None = None

    # referral timers: hours a referral may wait for triage, per urgency, before escalation to
    # the receiving institution's admins; as long again, and it goes to the alliance coordinators
    triage_hours_emergency: float = Field(default=1, gt=0)
    triage_hours_urgent: float = Field(default=24, gt=0)
    triage_hours_routine: float = Field(default=72, gt=0)
    # hours after a missed appointment before the receiving side is asked: arrived or no-show?
    appointment_grace_hours: float = Field(default=2, ge=0)
    # seconds between two looks at the due timers by each app process (0: only `medcircle timers`)
    timer_interval_seconds: float = Field(default=30, ge=0)
    # days a patient status link stays valid
    status_link_days: int = Field(default=30, ge=1, le=365)
    # days of recent referrals that make a department's current wait
    wait_window_days: int = Field(default=90, ge=7)

    # consultations: minutes to the first answer per urgency (an agreement may set its own);
    # the clock stands still while the expert waits for the asker
    consult_minutes_emergency: int = Field(default=30, ge=1)
    consult_minutes_urgent: int = Field(default=4 * 60, ge=1)
    consult_minutes_routine: int = Field(default=24 * 60, ge=1)
    # days an answered consultation waits for the asker before it closes by itself
    consult_autoclose_days: int = Field(default=14, ge=1)
    # the meeting link of a video or MDT session: {room} is replaced by the session's own
    # random room name (a self-hosted Jitsi, or any provider that takes a room in the URL)
    consult_meeting_url_pattern: str = "https://meet.jit.si/medcircle-{room}"

    # the roster planner's time budget in seconds for a plan and for a re-plan (the request
    # waits for it; small institutions' plans finish in well under a second)
    dispatch_plan_seconds: float = Field(default=20.0, ge=1, le=300)
    dispatch_replan_seconds: float = Field(default=5.0, ge=0.5, le=120)

    # email through an SMTP server; no host, no email (the in-app inbox still works)
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    smtp_timeout_seconds: float = Field(default=10, gt=0)
    mail_from: str = "medcircle <no-reply@medcircle.invalid>"

    # the cost a family avoids when care happens locally instead of in the capital
    saving_yuan_per_km: float = Field(default=0.8, ge=0)
    saving_travellers: int = Field(default=2, ge=1)
    saving_yuan_per_night: float = Field(default=350, ge=0)
    saving_nights_outpatient: int = Field(default=2, ge=0)
    saving_nights_admission: int = Field(default=10, ge=0)
    saving_nights_transfer: int = Field(default=14, ge=0)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process (cached; tests build their own ``Settings``)."""
    return Settings()
