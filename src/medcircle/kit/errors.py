"""Domain errors: each carries its HTTP status, a stable code and a translatable message.

One handler (``medcircle.web.errors``) turns them into RFC 9457 ``application/problem+json``
for the API and into a readable message on pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any, ClassVar

from medcircle.kit.i18n import N_, gettext


@dataclass(frozen=True)
class FieldError:
    """A message tied to one input field (``field`` is a dotted path such as ``specialties``)."""

    field: str
    message: str
    params: dict[str, Any] = dc_field(default_factory=dict)
    code: str = "invalid"

    def text(self) -> str:
        return gettext(self.message, **self.params)


class DomainError(Exception):
    """Base of every error a user can cause; never a bug."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    title: ClassVar[str] = N_("The request could not be processed")

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        field_errors: list[FieldError] | None = None,
        **params: Any,
    ) -> None:
        self.message = message or self.title
        self.params = params
        self.field_errors = field_errors or []
        if code:
            self.code = code  # type: ignore[misc]
        super().__init__(self.message % params if params else self.message)

    def text(self) -> str:
        return gettext(self.message, **self.params)


class BadRequest(DomainError):
    pass


class ValidationFailed(DomainError):
    status = 422
    code = "validation_failed"
    title = N_("Some fields need attention")


class Unauthenticated(DomainError):
    status = 401
    code = "unauthenticated"
    title = N_("Please log in")


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    title = N_("You do not have permission to do this")


class NotFound(DomainError):
    status = 404
    code = "not_found"
    title = N_("Not found")


class Conflict(DomainError):
    status = 409
    code = "conflict"
    title = N_("This conflicts with the current state")


class PayloadTooLarge(DomainError):
    status = 413
    code = "payload_too_large"
    title = N_("The upload is too large")


class Locked(DomainError):
    status = 423
    code = "account_locked"
    title = N_("The account is locked")


class TooManyRequests(DomainError):
    status = 429
    code = "too_many_requests"
    title = N_("Too many attempts")


__all__ = [
    "BadRequest",
    "Conflict",
    "DomainError",
    "FieldError",
    "Forbidden",
    "Locked",
    "NotFound",
    "PayloadTooLarge",
    "TooManyRequests",
    "Unauthenticated",
    "ValidationFailed",
]
