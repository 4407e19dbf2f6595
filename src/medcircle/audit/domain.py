"""Audit outcomes, and the scrubbing that keeps secrets and ID numbers out of the trail."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"


SECRET_KEYS = frozenset(
    {"password", "new_password", "current_password", "token", "secret", "csrf_token", "api_token"}
)


def mask_national_id(value: str) -> str:
    """Show the first 6 and last 4 characters of an ID number, mask the rest."""
    v = value.strip()
    if len(v) <= 10:
        return "*" * len(v)
    return v[:6] + "*" * (len(v) - 10) + v[-4:]


def _mask_in_text(text: str) -> str:
    def repl(m: re.Match[str]) -> str:
        return mask_national_id(m.group(0))

    # only digits bound an ID: letters next to it ("ID110105…") must not let it through
    return re.sub(r"(?<!\d)\d{17}[\dXx](?!\d)|(?<!\d)\d{15}(?!\d)", repl, text)


def scrub(detail: Any) -> Any:
    """A copy of ``detail`` with secret fields removed and ID numbers masked."""
    if isinstance(detail, dict):
        return {
            str(k): ("[removed]" if str(k).lower() in SECRET_KEYS else scrub(v))
            for k, v in detail.items()
        }
    if isinstance(detail, list | tuple):
        return [scrub(v) for v in detail]
    if isinstance(detail, str):
        return _mask_in_text(detail)
    if detail is None or isinstance(detail, bool | int | float):
        return detail
    return _mask_in_text(str(detail))
