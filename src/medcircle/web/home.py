"""What needs the attention of each role, for the home page."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from medcircle.auth.domain import Actor


@dataclass
class Card:
    """One box on the home page: a title, a figure, lines and a link."""

    title: str
    value: str | None = None
    lines: list[str] = field(default_factory=list)
    href: str | None = None
    tone: str = "normal"


def attention(session: Session, actor: Actor) -> list[Card]:
    """The cards for ``actor``'s roles, most pressing first."""
    return []
