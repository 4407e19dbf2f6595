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
    demo_mode: bool = False
    page_size_default: int = Field(default=50, ge=1, le=500)
    page_size_max: int = Field(default=500, ge=1)
    sql_echo: bool = False
    # connections per app process; requests beyond pool size + overflow wait their turn
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_max_overflow: int = Field(default=10, ge=0, le=200)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process (cached; tests build their own ``Settings``)."""
    return Settings()
