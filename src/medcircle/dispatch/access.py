"""Who may do what in dispatch: everyone but the auditor reads (DISPATCH_READ); planners
(DISPATCH_PLAN) keep experts' availability, travel times and rosters."""

from __future__ import annotations

from medcircle.auth.domain import Actor, Permission
from medcircle.kit.errors import Forbidden


def can_read(actor: Actor) -> bool:
    return actor.can(Permission.DISPATCH_READ)


def can_manage(actor: Actor) -> bool:
    """Keep availability, travel times and rosters of one's institution."""
    return actor.can(Permission.DISPATCH_PLAN)


def require_read(actor: Actor) -> None:
    if not can_read(actor):
        raise Forbidden()


def require_manage(actor: Actor) -> None:
    if not can_manage(actor):
        raise Forbidden()


def valid_id(value: int) -> bool:
    """Whether an id from a path can be stored (larger ones are simply not found)."""
    return 0 < value < 2**31
