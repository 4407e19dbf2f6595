"""Permissions are data per role: the table, the union of several roles, who may grant what."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medcircle.auth.domain import (
    ROLE_PERMISSIONS,
    ROLES_GRANTABLE_BY_INSTITUTION,
    Actor,
    Permission,
    Role,
    grantable_roles,
    may_grant,
    permissions_for,
)

P = Permission
CARE = {
    P.PATIENT_READ,
    P.PATIENT_MANAGE,
    P.REFERRAL_READ,
    P.REFERRAL_SEND,
    P.REFERRAL_TRIAGE,
    P.CONSULT_READ,
    P.CONSULT_ASK,
    P.POOL_READ,
    P.POOL_LIST,
}
EXPECTED: dict[Role, set[Permission]] = {
    Role.PLATFORM_ADMIN: set(Permission),
    Role.COMMISSION_ANALYST: {
        P.REGISTRY_READ,
        P.AGREEMENT_READ,
        P.DISPATCH_READ,
        P.FRAMEWORK_MANAGE,
        P.AGREEMENT_MANAGE_ALL,
    },
    Role.ALLIANCE_ADMIN: {
        P.REGISTRY_READ,
        P.AGREEMENT_READ,
        P.DISPATCH_READ,
        P.ALLIANCE_MANAGE,
        P.REFERRAL_OVERSEE,
    },
    Role.INSTITUTION_ADMIN: {
        P.REGISTRY_READ,
        P.AGREEMENT_READ,
        P.DISPATCH_READ,
        P.REGISTRY_MANAGE_OWN,
        P.AGREEMENT_MANAGE,
        P.USER_MANAGE_OWN,
        P.PATIENT_UNMASK,
        P.CONSULT_COORDINATE,
        P.ROTA_MANAGE,
        P.DISPATCH_DEMAND,
        P.DISPATCH_PLAN,
        P.VISIT_RECORD,
        P.POOL_COORDINATE,
        P.ACTIVITY_IMPORT,
        *CARE,
    },
    Role.EXPERT: {
        P.REGISTRY_READ,
        P.AGREEMENT_READ,
        P.DISPATCH_READ,
        P.PATIENT_READ,
        P.REFERRAL_READ,
        P.CONSULT_READ,
        P.CONSULT_ANSWER,
        P.VISIT_RECORD,
        P.POOL_READ,
    },
    Role.CLINICIAN: {P.REGISTRY_READ, P.AGREEMENT_READ, P.DISPATCH_READ, *CARE},
    Role.COORDINATOR: {
        P.REGISTRY_READ,
        P.AGREEMENT_READ,
        P.DISPATCH_READ,
        P.CONSULT_READ,
        P.CONSULT_COORDINATE,
        P.ROTA_MANAGE,
        P.DISPATCH_DEMAND,
        P.DISPATCH_PLAN,
        P.VISIT_RECORD,
        P.POOL_READ,
        P.POOL_COORDINATE,
    },
    Role.AUDITOR: {P.REGISTRY_READ, P.AUDIT_READ},
}


def actor(*roles: Role, institution_id: int = 1) -> Actor:
    return Actor(user_id=1, username="u", institution_id=institution_id, roles=frozenset(roles))


def test_every_role_has_a_declared_permission_set() -> None:
    assert set(ROLE_PERMISSIONS) == set(Role)


@pytest.mark.parametrize("role", list(Role))
def test_permissions_of_each_role(role: Role) -> None:
    assert set(ROLE_PERMISSIONS[role]) == EXPECTED[role]
    assert permissions_for([role]) == ROLE_PERMISSIONS[role]


def test_only_auditors_and_platform_admins_read_the_trail() -> None:
    readers = {r for r in Role if P.AUDIT_READ in ROLE_PERMISSIONS[r]}
    assert readers == {Role.AUDITOR, Role.PLATFORM_ADMIN}


def test_only_institution_and_platform_admins_unmask_identifiers() -> None:
    unmaskers = {r for r in Role if P.PATIENT_UNMASK in ROLE_PERMISSIONS[r]}
    assert unmaskers == {Role.INSTITUTION_ADMIN, Role.PLATFORM_ADMIN}


def test_analysts_auditors_and_coordinators_see_no_patient_data() -> None:
    for role in (Role.COMMISSION_ANALYST, Role.AUDITOR, Role.COORDINATOR):
        assert not {p for p in ROLE_PERMISSIONS[role] if p.value.startswith("patient.")}
        assert P.REFERRAL_READ not in ROLE_PERMISSIONS[role]


def test_auditors_read_no_agreements_and_manage_nothing() -> None:
    assert P.AGREEMENT_READ not in ROLE_PERMISSIONS[Role.AUDITOR]
    assert not {p for p in ROLE_PERMISSIONS[Role.AUDITOR] if "manage" in p.value}


@given(st.sets(st.sampled_from(list(Role))))
def test_permissions_for_is_the_union(roles: set[Role]) -> None:
    union: set[Permission] = set()
    for r in roles:
        union |= ROLE_PERMISSIONS[r]
    assert permissions_for(roles) == frozenset(union)
    assert actor(*roles).permissions == frozenset(union) if roles else True


def test_no_roles_no_permissions() -> None:
    assert permissions_for([]) == frozenset()
    assert not actor().can(P.REGISTRY_READ)


def test_actor_can_and_has_role() -> None:
    a = actor(Role.CLINICIAN, Role.COORDINATOR)
    assert a.can(P.AGREEMENT_READ)
    assert not a.can(P.AUDIT_READ)
    assert a.has_role(Role.COORDINATOR)
    assert not a.has_role(Role.EXPERT)


@given(st.sets(st.sampled_from(list(Role)), min_size=1), st.integers(1, 5))
def test_platform_admin_may_grant_anything_anywhere(roles: set[Role], inst: int) -> None:
    assert may_grant(actor(Role.PLATFORM_ADMIN), roles, inst)


@given(st.sets(st.sampled_from(list(Role)), min_size=1), st.integers(1, 3))
def test_institution_admin_grants_staff_roles_in_own_institution_only(
    roles: set[Role], inst: int
) -> None:
    admin = actor(Role.INSTITUTION_ADMIN, institution_id=1)
    expected = inst == 1 and roles <= ROLES_GRANTABLE_BY_INSTITUTION
    assert may_grant(admin, roles, inst) is expected


@pytest.mark.parametrize(
    "role",
    [
        Role.COMMISSION_ANALYST,
        Role.ALLIANCE_ADMIN,
        Role.EXPERT,
        Role.CLINICIAN,
        Role.COORDINATOR,
        Role.AUDITOR,
    ],
)
def test_other_roles_grant_nothing(role: Role) -> None:
    a = actor(role)
    assert not may_grant(a, [Role.CLINICIAN], a.institution_id)
    assert grantable_roles(a) == []


def test_grantable_roles_for_pickers() -> None:
    assert grantable_roles(actor(Role.PLATFORM_ADMIN)) == list(Role)
    assert set(grantable_roles(actor(Role.INSTITUTION_ADMIN))) == set(
        ROLES_GRANTABLE_BY_INSTITUTION
    )
    assert Role.PLATFORM_ADMIN not in ROLES_GRANTABLE_BY_INSTITUTION
    assert Role.AUDITOR not in ROLES_GRANTABLE_BY_INSTITUTION
