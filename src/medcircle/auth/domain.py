"""Roles and permissions as data, the actor of a request, and the lock-out rule."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from medcircle.kit.i18n import N_


class Role(StrEnum):
    PLATFORM_ADMIN = "platform_admin"
    COMMISSION_ANALYST = "commission_analyst"
    ALLIANCE_ADMIN = "alliance_admin"
    INSTITUTION_ADMIN = "institution_admin"
    EXPERT = "expert"
    CLINICIAN = "clinician"
    COORDINATOR = "coordinator"
    AUDITOR = "auditor"


ROLE_LABELS: dict[Role, str] = {
    Role.PLATFORM_ADMIN: N_("Platform admin"),
    Role.COMMISSION_ANALYST: N_("Commission analyst"),
    Role.ALLIANCE_ADMIN: N_("Alliance admin"),
    Role.INSTITUTION_ADMIN: N_("Institution admin"),
    Role.EXPERT: N_("Expert"),
    Role.CLINICIAN: N_("Clinician"),
    Role.COORDINATOR: N_("Coordinator"),
    Role.AUDITOR: N_("Auditor"),
}


class Permission(StrEnum):
    REGISTRY_READ = "registry.read"
    # create or edit any institution, division-level data, specialties
    REGISTRY_MANAGE_ALL = "registry.manage_all"
    # edit one's own institution: profile, departments, staff
    REGISTRY_MANAGE_OWN = "registry.manage_own"
    # manage alliances led by one's institution (members, centres)
    ALLIANCE_MANAGE = "alliance.manage"
    AGREEMENT_READ = "agreement.read"
    # framework agreements between governments
    FRAMEWORK_MANAGE = "framework.manage"
    # cooperation agreements where one's institution is a party (or any, with MANAGE_ALL)
    AGREEMENT_MANAGE = "agreement.manage"
    AGREEMENT_MANAGE_ALL = "agreement.manage_all"
    AUDIT_READ = "audit.read"
    USER_MANAGE_OWN = "user.manage_own"
    USER_MANAGE_ALL = "user.manage_all"
    # patients of one's own institution, and those referred to it
    PATIENT_READ = "patient.read"
    # register and edit patients, record and withdraw consent, merge duplicates
    PATIENT_MANAGE = "patient.manage"
    # see full national ID and phone numbers (each time audited)
    PATIENT_UNMASK = "patient.unmask"
    # referrals sent by or to one's institution
    REFERRAL_READ = "referral.read"
    # draft, submit, cancel and close referrals of one's institution
    REFERRAL_SEND = "referral.send"
    # triage, schedule, record arrival and outcome of referrals received by one's institution
    REFERRAL_TRIAGE = "referral.triage"
    # see stalled referrals of the alliances one's institution leads (no clinical details)
    REFERRAL_OVERSEE = "referral.oversee"
    # consultations asked by or answered at one's institution
    CONSULT_READ = "consult.read"
    # ask, reply, rate and close consultations of one's institution
    CONSULT_ASK = "consult.ask"
    # claim, ask back, answer consultations in one's institution's pools
    CONSULT_ANSWER = "consult.answer"
    # assign, redirect and oversee the consultations one's institution answers
    CONSULT_COORDINATE = "consult.coordinate"
    # keep one's institution's on-call rotas, experts' leave and skills
    ROTA_MANAGE = "rota.manage"
    # rosters, visits and visit records of one's institution (as home of experts or as site)
    DISPATCH_READ = "dispatch.read"
    # write one's institution's demand for visiting experts (as the supported side) and decide
    # the demand made of it (as the supporting side)
    DISPATCH_DEMAND = "dispatch.demand"
    # plan, review, publish and re-plan rosters of one's institution's experts; keep their
    # availability, skills and set travel times
    DISPATCH_PLAN = "dispatch.plan"
    # record what a visit achieved (experts their own; planners any of their institution's)
    VISIT_RECORD = "visit.record"
    # pools one's institution belongs to: units, the waitlist (patients of other institutions
    # masked), decisions and their reasons
    POOL_READ = "pool.read"
    # list one's institution's patients on a pool's waitlist, keep their readiness, answer
    # offers, give families a status link
    POOL_LIST = "pool.list"
    # keep the status of one's institution's units, admit and discharge; at a pool's lead
    # institution also its policy, members, units and overrides
    POOL_COORDINATE = "pool.coordinate"
    # import the activity (encounter records) of one's institution from its own systems
    ACTIVITY_IMPORT = "activity.import"


_EVERYONE_READS = {
    Permission.REGISTRY_READ,
    Permission.AGREEMENT_READ,
    Permission.DISPATCH_READ,
}
# the permissions of those who treat and refer patients
_CARE = {
    Permission.PATIENT_READ,
    Permission.PATIENT_MANAGE,
    Permission.REFERRAL_READ,
    Permission.REFERRAL_SEND,
    Permission.REFERRAL_TRIAGE,
    Permission.CONSULT_READ,
    Permission.CONSULT_ASK,
    Permission.POOL_READ,
    Permission.POOL_LIST,
}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.PLATFORM_ADMIN: frozenset(Permission),
    Role.COMMISSION_ANALYST: frozenset(
        _EVERYONE_READS | {Permission.FRAMEWORK_MANAGE, Permission.AGREEMENT_MANAGE_ALL}
    ),
    Role.ALLIANCE_ADMIN: frozenset(
        _EVERYONE_READS | {Permission.ALLIANCE_MANAGE, Permission.REFERRAL_OVERSEE}
    ),
    Role.INSTITUTION_ADMIN: frozenset(
        _EVERYONE_READS
        | _CARE
        | {
            Permission.REGISTRY_MANAGE_OWN,
            Permission.AGREEMENT_MANAGE,
            Permission.USER_MANAGE_OWN,
            Permission.PATIENT_UNMASK,
            Permission.CONSULT_COORDINATE,
            Permission.ROTA_MANAGE,
            Permission.DISPATCH_DEMAND,
            Permission.DISPATCH_PLAN,
            Permission.VISIT_RECORD,
            Permission.POOL_COORDINATE,
            Permission.ACTIVITY_IMPORT,
        }
    ),
    Role.EXPERT: frozenset(
        _EVERYONE_READS
        | {
            Permission.PATIENT_READ,
            Permission.REFERRAL_READ,
            Permission.CONSULT_READ,
            Permission.CONSULT_ANSWER,
            Permission.VISIT_RECORD,
            Permission.POOL_READ,
        }
    ),
    Role.CLINICIAN: frozenset(_EVERYONE_READS | _CARE),
    Role.COORDINATOR: frozenset(
        _EVERYONE_READS
        | {
            Permission.CONSULT_READ,
            Permission.CONSULT_COORDINATE,
            Permission.ROTA_MANAGE,
            Permission.DISPATCH_DEMAND,
            Permission.DISPATCH_PLAN,
            Permission.VISIT_RECORD,
            Permission.POOL_READ,
            Permission.POOL_COORDINATE,
        }
    ),
    Role.AUDITOR: frozenset({Permission.REGISTRY_READ, Permission.AUDIT_READ}),
}


def permissions_for(roles: Iterable[Role]) -> frozenset[Permission]:
    """The union of the permissions of ``roles``."""
    result: set[Permission] = set()
    for role in roles:
        result |= ROLE_PERMISSIONS[role]
    return frozenset(result)


@dataclass(frozen=True)
class Actor:
    """Who is acting: a logged-in user (page session or API token), with their scope."""

    user_id: int
    username: str
    institution_id: int
    roles: frozenset[Role]
    locale: str = "zh_Hans"
    display_name: str = ""
    ip: str | None = None
    via_token: bool = False
    permissions: frozenset[Permission] = field(default=frozenset())

    def __post_init__(self) -> None:
        if not self.permissions:
            object.__setattr__(self, "permissions", permissions_for(self.roles))

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    def has_role(self, role: Role) -> bool:
        return role in self.roles


@dataclass(frozen=True)
class LockoutPolicy:
    """Lock an account after ``attempts`` failures within ``window`` (since the last success)."""

    attempts: int = 5
    window: timedelta = timedelta(minutes=15)

    def locked_until(self, failures: Sequence[datetime], now: datetime) -> datetime | None:
        """When the lock ends, or None if not locked; ``failures`` are recent failure times."""
        recent = sorted(t for t in failures if now - t < self.window)
        if len(recent) < self.attempts:
            return None
        # the lock runs for one window from the failure that reached the limit
        until = recent[-self.attempts] + self.window
        return until if until > now else None


PASSWORD_MIN_LENGTH = 10


PASSWORD_TOO_SHORT = N_("Use at least 10 characters.")
PASSWORD_HAS_USERNAME = N_("Do not include the user name.")
PASSWORD_TOO_PLAIN = N_("Use more varied characters.")
# the stable code of each password problem, for API clients
PASSWORD_PROBLEM_CODES = {
    PASSWORD_TOO_SHORT: "password_too_short",
    PASSWORD_HAS_USERNAME: "password_contains_username",
    PASSWORD_TOO_PLAIN: "password_too_plain",
}


def password_problems(password: str, username: str) -> list[str]:
    """Why a new password is not acceptable (messages to translate); empty when fine."""
    problems: list[str] = []
    if len(password) < PASSWORD_MIN_LENGTH:
        problems.append(PASSWORD_TOO_SHORT)
    if username and username.lower() in password.lower():
        problems.append(PASSWORD_HAS_USERNAME)
    if len(set(password)) < 4:
        problems.append(PASSWORD_TOO_PLAIN)
    return problems


# Roles an institution admin may hand out inside their own institution.
ROLES_GRANTABLE_BY_INSTITUTION: frozenset[Role] = frozenset(
    {Role.INSTITUTION_ADMIN, Role.EXPERT, Role.CLINICIAN, Role.COORDINATOR}
)


def grantable_roles(actor: Actor) -> list[Role]:
    """The roles ``actor`` may hand out at all (in the order of ``Role``), for role pickers."""
    if actor.can(Permission.USER_MANAGE_ALL):
        return list(Role)
    if actor.can(Permission.USER_MANAGE_OWN):
        return [r for r in Role if r in ROLES_GRANTABLE_BY_INSTITUTION]
    return []


def may_grant(actor: Actor, roles: Iterable[Role], institution_id: int) -> bool:
    """Whether ``actor`` may give ``roles`` to a user of ``institution_id``."""
    if actor.can(Permission.USER_MANAGE_ALL):
        return True
    return (
        actor.can(Permission.USER_MANAGE_OWN)
        and institution_id == actor.institution_id
        and set(roles) <= ROLES_GRANTABLE_BY_INSTITUTION
    )
