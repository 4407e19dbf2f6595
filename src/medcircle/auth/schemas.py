"""Shapes of accounts and tokens at the edges."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from medcircle.auth.domain import Role


class UserCreate(BaseModel):
    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    display_name: str = Field(min_length=1, max_length=128)
    email: EmailStr | None = None
    password: str = Field(min_length=1, max_length=256)
    institution_id: int
    roles: list[Role] = Field(min_length=1)
    locale: str = "zh_Hans"


class UserUpdate(BaseModel):
    display_name: str | None = Field(default=None, min_length=1, max_length=128)
    email: EmailStr | None = None
    roles: list[Role] | None = Field(default=None, min_length=1)
    is_active: bool | None = None
    locale: str | None = None


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    email: str | None
    institution_id: int
    locale: str
    is_active: bool
    roles: list[str] = []
    created_at: datetime
    last_login_at: datetime | None


class MeRead(UserRead):
    permissions: list[str]


class PasswordChange(BaseModel):
    current_password: str = Field(max_length=256)
    new_password: str = Field(max_length=256)


class PasswordReset(BaseModel):
    """A new password set by an administrator; the policy's problems come back per field."""

    new_password: str = Field(max_length=256)


class TokenCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    expires_in_days: int | None = Field(default=90, ge=1, le=730)


class TokenRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenRead):
    token: str = Field(description="The secret: shown this once, never again.")
