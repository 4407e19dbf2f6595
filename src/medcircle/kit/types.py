"""Small shared value types."""

from __future__ import annotations

from enum import StrEnum


class Locale(StrEnum):
    ZH_HANS = "zh_Hans"
    EN = "en"
