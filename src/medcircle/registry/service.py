"""Use cases of the registry: institutions, names, departments, staff, alliances, centres.

Everyone with ``REGISTRY_READ`` reads. A platform admin (``REGISTRY_MANAGE_ALL``) manages
everything; an institution admin (``REGISTRY_MANAGE_OWN``) edits their own institution's
profile, departments and staff; an alliance admin (``ALLIANCE_MANAGE``) manages the members
and centres of alliances their institution leads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from medcircle.audit import service as audit
from medcircle.auth.domain import Actor, Permission
from medcircle.kit import clock
from medcircle.kit.errors import (
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    ValidationFailed,
)
from medcircle.kit.i18n import N_
from medcircle.kit.pagination import PageParams
from medcircle.registry import repository
from medcircle.registry.domain import (
    RESTRICTED_INSTITUTION_FIELDS,
    adcode_parts,
    creates_cycle,
    is_valid_code,
    latitude_ok,
    leave_after_join,
    longitude_ok,
    membership_active,
    normalise_code,
    periods_overlap,
    rename_allowed,
)
from medcircle.registry.models import (
    Alliance,
    AllianceCentre,
    AllianceMember,
    Department,
    Division,
    Institution,
    InstitutionName,
    Practitioner,
    SpecialtyRow,
)
from medcircle.registry.repository import InstitutionFilter, MemberFilter, PractitionerFilter
from medcircle.registry.schemas import (
    AllianceCreate,
    CentreCreate,
    DepartmentCreate,
    DepartmentUpdate,
    InstitutionCreate,
    InstitutionUpdate,
    MemberCreate,
    MemberUpdate,
    PractitionerCreate,
    PractitionerUpdate,
)

REQUIRED = N_("This field is required.")
INVALID_CODE = N_(
    "Use 2 to 32 capital letters, digits or hyphens, starting with a letter or a digit."
)
UNKNOWN_INSTITUTION = N_("There is no institution with the number %(id)s.")
UNKNOWN_SPECIALTY = N_("%(code)s is not on the specialty list.")
STALE = N_(
    "Someone else changed this record after you opened it. Reload it and make your changes again."
)


class _Problems:
    """Field errors gathered before raising one ValidationFailed (its code: the first's)."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []
        self.code: str | None = None

    def add(
        self, field: str, message: str, error_code: str = "validation_failed", /, **params: Any
    ) -> None:
        self.errors.append(FieldError(field, message, params))
        if self.code is None:
            self.code = error_code

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationFailed(code=self.code, field_errors=self.errors)


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


# --- permissions ------------------------------------------------------------------------


def _require_read(actor: Actor) -> None:
    if not actor.can(Permission.REGISTRY_READ):
        raise Forbidden()


def is_platform_admin(actor: Actor) -> bool:
    return actor.can(Permission.REGISTRY_MANAGE_ALL)


def may_manage_institution(actor: Actor, institution_id: int) -> bool:
    """Platform admins manage every institution; institution admins only their own."""
    return is_platform_admin(actor) or (
        actor.can(Permission.REGISTRY_MANAGE_OWN) and actor.institution_id == institution_id
    )


def may_manage_alliance(actor: Actor, alliance: Alliance) -> bool:
    """Platform admins manage every alliance; alliance admins those their institution leads."""
    return is_platform_admin(actor) or (
        actor.can(Permission.ALLIANCE_MANAGE)
        and alliance.lead_institution_id == actor.institution_id
    )


def may_rename(actor: Actor, institution_id: int, parties: tuple[int, int] | None) -> bool:
    """Who may record a new licensed name: whoever manages the institution, or, for a name
    that a trusteeship gives, whoever manages that agreement."""
    if may_manage_institution(actor, institution_id):
        return True
    if parties is None:
        return False
    return actor.can(Permission.AGREEMENT_MANAGE_ALL) or (
        actor.can(Permission.AGREEMENT_MANAGE) and actor.institution_id in parties
    )


def _require_manage_institution(actor: Actor, institution_id: int) -> None:
    if not may_manage_institution(actor, institution_id):
        raise Forbidden(N_("You may only manage your own institution."))


# --- reference data ---------------------------------------------------------------------


def list_divisions(
    session: Session,
    actor: Actor,
    page: PageParams,
    *,
    parent_code: str | None = None,
    level: str | None = None,
    q: str | None = None,
) -> tuple[Sequence[Division], int]:
    """Administrative divisions, by parent, level or name."""
    _require_read(actor)
    return repository.list_divisions(session, page, parent_code=parent_code, level=level, q=q)


def all_divisions(session: Session, actor: Actor) -> Sequence[Division]:
    _require_read(actor)
    return repository.all_divisions(session)


def list_specialties(
    session: Session, actor: Actor, q: str | None = None
) -> Sequence[SpecialtyRow]:
    """The standard specialty list."""
    _require_read(actor)
    return repository.list_specialties(session, q)


def _check_specialty(session: Session, p: _Problems, field: str, code: str) -> None:
    if code not in repository.specialty_codes(session, [code]):
        p.add(field, UNKNOWN_SPECIALTY, "unknown_specialty", code=code)


# --- institutions -----------------------------------------------------------------------


def list_institutions(
    session: Session, actor: Actor, f: InstitutionFilter, page: PageParams
) -> tuple[Sequence[Institution], int]:
    """Institutions matching a search (name or code in both languages) and filters."""
    _require_read(actor)
    if f.alliance_id is not None and f.on is None:
        f = InstitutionFilter(**{**vars(f), "on": clock.today()})
    return repository.list_institutions(session, f, page)


def get_institution(session: Session, actor: Actor, institution_id: int) -> Institution:
    _require_read(actor)
    inst = repository.institution_by_id(session, institution_id)
    if inst is None:
        raise NotFound(N_("There is no institution with the number %(id)s."), id=institution_id)
    return inst


@dataclass(frozen=True)
class InstitutionProfile:
    institution: Institution
    department_count: int
    practitioner_count: int
    branch_count: int
    memberships: Sequence[tuple[AllianceMember, Alliance]]

    @property
    def alliance_ids(self) -> list[int]:
        return sorted({a.id for _m, a in self.memberships})


def institution_profile(session: Session, actor: Actor, institution_id: int) -> InstitutionProfile:
    """An institution with its counts and the alliances it belongs (or belonged) to."""
    inst = get_institution(session, actor, institution_id)
    departments, practitioners, branches = repository.institution_counts(session, inst.id)
    return InstitutionProfile(
        inst,
        departments,
        practitioners,
        branches,
        repository.memberships_of_institution(session, inst.id),
    )


def _check_place(
    session: Session,
    p: _Problems,
    division_code: str | None,
    latitude: float | None,
    longitude: float | None,
) -> Division | None:
    division = None
    if division_code is not None:
        division = repository.division_by_code(session, division_code.strip())
        if division is None:
            p.add(
                "division_code",
                N_("%(code)s is not a known administrative division code."),
                "unknown_division",
                code=division_code,
            )
    if (latitude is None) != (longitude is None):
        p.add(
            "latitude" if latitude is None else "longitude",
            N_("Give both latitude and longitude, or neither."),
            "incomplete_coordinates",
        )
    if latitude is not None and not latitude_ok(latitude):
        p.add("latitude", N_("A latitude lies between -90 and 90."), "invalid_coordinates")
    if longitude is not None and not longitude_ok(longitude):
        p.add("longitude", N_("A longitude lies between -180 and 180."), "invalid_coordinates")
    return division


def _check_beds(p: _Problems, field: str, beds: int | None) -> None:
    if beds is not None and beds < 0:
        p.add(field, N_("The bed count cannot be negative."), "negative_beds")


def _check_parent(
    session: Session, p: _Problems, institution_id: int | None, parent_id: int
) -> None:
    if repository.institution_by_id(session, parent_id) is None:
        p.add("parent_id", UNKNOWN_INSTITUTION, "unknown_institution", id=parent_id)
    elif parent_id == institution_id or creates_cycle(
        institution_id, parent_id, repository.parent_map(session)
    ):
        p.add(
            "parent_id",
            N_("An institution cannot be a branch of itself or of one of its own branches."),
            "parent_cycle",
        )


def _code_taken(code: str) -> Conflict:
    return Conflict(
        N_("The code %(value)s is already used by another institution."),
        code="institution_code_taken",
        field_errors=[FieldError("code", N_("This code is already taken."))],
        value=code,
    )


def create_institution(session: Session, actor: Actor, data: InstitutionCreate) -> Institution:
    """Register an institution (platform admins); its first licensed name opens with it."""
    if not is_platform_admin(actor):
        raise Forbidden(N_("Only a platform admin may register institutions."))
    p = _Problems()
    code = normalise_code(data.code)
    if not is_valid_code(code):
        p.add("code", INVALID_CODE, "invalid_code")
    division = _check_place(session, p, data.division_code, data.latitude, data.longitude)
    _check_beds(p, "bed_count", data.bed_count)
    if data.parent_id is not None:
        _check_parent(session, p, None, data.parent_id)
    p.raise_if_any()
    assert division is not None
    if repository.institution_by_code(session, code) is not None:
        raise _code_taken(code)
    province, city, _county = adcode_parts(division.code)
    now = clock.now()
    inst = Institution(
        code=code,
        name_zh=data.name_zh.strip(),
        name_en=data.name_en.strip(),
        level=data.level.value,
        grade=data.grade.value,
        type=data.type.value,
        division_code=division.code,
        province_code=province,
        city_code=city,
        latitude=data.latitude,
        longitude=data.longitude,
        address=(data.address or "").strip() or None,
        bed_count=data.bed_count,
        parent_id=data.parent_id,
        is_synthetic=False,
        created_at=now,
        updated_at=now,
    )
    session.add(inst)
    session.flush()
    session.add(
        InstitutionName(
            institution_id=inst.id, name_zh=inst.name_zh, name_en=inst.name_en, valid_from=None
        )
    )
    session.flush()
    audit.record(
        session,
        actor,
        "registry.institution.create",
        object_type="institution",
        object_id=inst.id,
        detail={"code": inst.code, "name_zh": inst.name_zh},
    )
    return inst


_NOT_NULL_FIELDS = ("code", "name_zh", "name_en", "level", "grade", "type", "division_code")


def update_institution(
    session: Session, actor: Actor, institution_id: int, data: InstitutionUpdate
) -> Institution:
    """Change an institution's profile (only the fields sent), refusing a stale version.

    Institution admins may not change the code, level, grade or parent; names changed here
    are corrections of the current name (a new licensed name goes through a rename)."""
    inst = get_institution(session, actor, institution_id)
    _require_manage_institution(actor, inst.id)
    if data.version != inst.version:
        raise Conflict(STALE, code="stale_version")
    changes = {k: _plain(v) for k, v in data.model_dump(exclude_unset=True).items()}
    changes.pop("version", None)
    if "code" in changes and changes["code"] is not None:
        changes["code"] = normalise_code(changes["code"])
    changes = {k: v for k, v in changes.items() if getattr(inst, k) != v}
    if not is_platform_admin(actor):
        restricted = sorted(RESTRICTED_INSTITUTION_FIELDS & changes.keys())
        if restricted:
            raise Forbidden(
                N_("Only a platform admin may change the code, level, grade or parent."),
                field_errors=[
                    FieldError(f, N_("Only a platform admin may change this.")) for f in restricted
                ],
            )
    p = _Problems()
    for name in _NOT_NULL_FIELDS:
        if name in changes and changes[name] is None:
            p.add(name, REQUIRED, "required")
    if changes.get("code") is not None and not is_valid_code(changes["code"]):
        p.add("code", INVALID_CODE, "invalid_code")
    latitude = changes.get("latitude", inst.latitude)
    longitude = changes.get("longitude", inst.longitude)
    division = _check_place(session, p, changes.get("division_code"), latitude, longitude)
    _check_beds(p, "bed_count", changes.get("bed_count"))
    if changes.get("parent_id") is not None:
        _check_parent(session, p, inst.id, changes["parent_id"])
    p.raise_if_any()
    if "code" in changes and repository.institution_by_code(session, changes["code"]):
        raise _code_taken(changes["code"])
    before = {k: getattr(inst, k) for k in changes}
    for key, value in changes.items():
        setattr(inst, key, value.strip() if isinstance(value, str) else value)
    if division is not None:
        inst.province_code, inst.city_code, _ = adcode_parts(division.code)
    if "name_zh" in changes or "name_en" in changes:
        current = repository.current_name(session, inst.id)
        if current is not None:
            current.name_zh, current.name_en = inst.name_zh, inst.name_en
    if not changes:
        return inst  # nothing to write, so nothing to audit
    inst.updated_at = clock.now()
    try:
        session.flush()
    except StaleDataError as exc:
        raise Conflict(STALE, code="stale_version") from exc
    audit.record(
        session,
        actor,
        "registry.institution.update",
        object_type="institution",
        object_id=inst.id,
        detail={"changed": {k: [before[k], getattr(inst, k)] for k in changes}},
    )
    return inst


def list_names(session: Session, actor: Actor, institution_id: int) -> Sequence[InstitutionName]:
    """The licensed-name history of an institution, the current name first."""
    inst = get_institution(session, actor, institution_id)
    return repository.names_of(session, inst.id)


def rename_institution(
    session: Session,
    actor: Actor,
    institution_id: int,
    name_zh: str,
    name_en: str,
    valid_from: date,
    reason: str | None,
    agreement_id: int | None = None,
) -> InstitutionName:
    """Give an institution a new licensed name from ``valid_from`` (e.g. under a trusteeship).

    The current name row closes the day the new one starts, so the history has no gap and
    no overlap; the institution's names become the new ones."""
    inst = get_institution(session, actor, institution_id)
    parties = None
    p = _Problems()
    if agreement_id is not None:
        parties = repository.agreement_parties(session, agreement_id)
        if parties is None:
            p.add(
                "agreement_id",
                N_("There is no agreement with the number %(id)s."),
                "unknown_agreement",
                id=agreement_id,
            )
        elif inst.id != parties[1]:
            # an agreement gives a licensed name to the hospital it supports, never the other way
            p.add(
                "agreement_id",
                N_("Only the institution this agreement supports can take a name under it."),
                "agreement_mismatch",
            )
    if not may_rename(actor, inst.id, parties):
        raise Forbidden(N_("You may not rename this institution."))
    name_zh, name_en = name_zh.strip(), name_en.strip()
    if not name_zh:
        p.add("name_zh", REQUIRED, "required")
    if not name_en:
        p.add("name_en", REQUIRED, "required")
    current = repository.current_name(session, inst.id)
    if current is not None and not rename_allowed(current.valid_from, valid_from):
        p.add(
            "valid_from",
            N_("The new name must start after %(day)s, when the current name started."),
            "rename_before_current",
            day=current.valid_from.isoformat() if current.valid_from else "",
        )
    if name_zh == inst.name_zh and name_en == inst.name_en:
        p.add("name_zh", N_("This is already the institution's name."), "same_name")
    p.raise_if_any()
    if current is None:
        # institutions loaded without a history: keep the old name as the first row
        current = InstitutionName(
            institution_id=inst.id, name_zh=inst.name_zh, name_en=inst.name_en, valid_from=None
        )
        session.add(current)
    current.valid_to = valid_from
    new = InstitutionName(
        institution_id=inst.id,
        name_zh=name_zh,
        name_en=name_en,
        valid_from=valid_from,
        valid_to=None,
        reason=(reason or "").strip() or None,
        agreement_id=agreement_id,
    )
    session.add(new)
    old_zh = inst.name_zh
    inst.name_zh, inst.name_en = name_zh, name_en
    inst.updated_at = clock.now()
    session.flush()
    audit.record(
        session,
        actor,
        "registry.institution.rename",
        object_type="institution",
        object_id=inst.id,
        detail={
            "from": old_zh,
            "to": name_zh,
            "valid_from": valid_from.isoformat(),
            "agreement_id": agreement_id,
        },
    )
    return new


# --- departments ------------------------------------------------------------------------


def _save_changes(
    session: Session,
    actor: Actor,
    obj: Department | Practitioner,
    changes: dict[str, Any],
    object_type: str,
) -> None:
    """Apply validated ``changes`` (text trimmed) and audit what really changed."""
    before = {k: getattr(obj, k) for k in changes}
    for key, value in changes.items():
        setattr(obj, key, value.strip() if isinstance(value, str) else value)
    session.flush()
    audit.record(
        session,
        actor,
        f"registry.{object_type}.update",
        object_type=object_type,
        object_id=obj.id,
        detail={"changed": {k: [before[k], v] for k, v in changes.items() if before[k] != v}},
    )


def list_departments(
    session: Session, actor: Actor, institution_id: int, page: PageParams
) -> tuple[Sequence[Department], int]:
    inst = get_institution(session, actor, institution_id)
    return repository.departments_of(session, inst.id, page)


def get_department(session: Session, actor: Actor, department_id: int) -> Department:
    _require_read(actor)
    dept = repository.department_by_id(session, department_id)
    if dept is None:
        raise NotFound(N_("There is no department with the number %(id)s."), id=department_id)
    return dept


def _name_taken() -> Conflict:
    return Conflict(
        N_("This institution already has a department with this name."),
        code="department_name_taken",
        field_errors=[FieldError("name_zh", N_("This name is already used here."))],
    )


def create_department(
    session: Session, actor: Actor, institution_id: int, data: DepartmentCreate
) -> Department:
    """Add a department of a standard specialty to an institution."""
    inst = get_institution(session, actor, institution_id)
    _require_manage_institution(actor, inst.id)
    p = _Problems()
    _check_specialty(session, p, "specialty_code", data.specialty_code)
    _check_beds(p, "bed_count", data.bed_count)
    p.raise_if_any()
    name_zh = data.name_zh.strip()
    if repository.department_name_taken(session, inst.id, name_zh):
        raise _name_taken()
    dept = Department(
        institution_id=inst.id,
        specialty_code=data.specialty_code,
        name_zh=name_zh,
        name_en=data.name_en.strip(),
        bed_count=data.bed_count,
        is_active=True,
    )
    session.add(dept)
    session.flush()
    audit.record(
        session,
        actor,
        "registry.department.create",
        object_type="department",
        object_id=dept.id,
        detail={"institution_id": inst.id, "specialty": dept.specialty_code},
    )
    return dept


def update_department(
    session: Session, actor: Actor, department_id: int, data: DepartmentUpdate
) -> Department:
    """Change a department (only the fields sent)."""
    dept = get_department(session, actor, department_id)
    _require_manage_institution(actor, dept.institution_id)
    changes = {k: v for k, v in data.model_dump(exclude_unset=True).items()}
    p = _Problems()
    for name in ("specialty_code", "name_zh", "name_en", "is_active"):
        if name in changes and changes[name] is None:
            p.add(name, REQUIRED, "required")
    if changes.get("specialty_code"):
        _check_specialty(session, p, "specialty_code", changes["specialty_code"])
    _check_beds(p, "bed_count", changes.get("bed_count"))
    p.raise_if_any()
    if changes.get("name_zh"):
        changes["name_zh"] = changes["name_zh"].strip()
        if repository.department_name_taken(
            session, dept.institution_id, changes["name_zh"], except_id=dept.id
        ):
            raise _name_taken()
    _save_changes(session, actor, dept, changes, "department")
    return dept


# --- practitioners ----------------------------------------------------------------------


def list_practitioners(
    session: Session, actor: Actor, f: PractitionerFilter, page: PageParams
) -> tuple[Sequence[Practitioner], int]:
    """Staff by name or licence number, institution, department, specialty and title."""
    _require_read(actor)
    return repository.list_practitioners(session, f, page)


def get_practitioner(session: Session, actor: Actor, practitioner_id: int) -> Practitioner:
    _require_read(actor)
    pr = repository.practitioner_by_id(session, practitioner_id)
    if pr is None:
        raise NotFound(N_("There is no practitioner with the number %(id)s."), id=practitioner_id)
    return pr


def _check_department(
    session: Session, p: _Problems, institution_id: int, department_id: int
) -> None:
    dept = repository.department_by_id(session, department_id)
    if dept is None or dept.institution_id != institution_id:
        p.add(
            "department_id",
            N_("Choose a department of the practitioner's own institution."),
            "unknown_department",
        )


def _license_taken() -> Conflict:
    return Conflict(
        N_("Another practitioner has this licence number."),
        code="license_taken",
        field_errors=[FieldError("license_no", N_("This licence number is already recorded."))],
    )


def create_practitioner(session: Session, actor: Actor, data: PractitionerCreate) -> Practitioner:
    """Add a member of staff to an institution (its admins, or a platform admin)."""
    _require_read(actor)
    _require_manage_institution(actor, data.institution_id)
    p = _Problems()
    if repository.institution_by_id(session, data.institution_id) is None:
        p.add("institution_id", UNKNOWN_INSTITUTION, "unknown_institution", id=data.institution_id)
        p.raise_if_any()
    _check_specialty(session, p, "specialty_code", data.specialty_code)
    if data.department_id is not None:
        _check_department(session, p, data.institution_id, data.department_id)
    if data.user_id is not None:
        home = repository.user_institution(session, data.user_id)
        if home is None or home != data.institution_id:
            p.add(
                "user_id",
                N_("Choose a user account of the same institution."),
                "unknown_user",
            )
    p.raise_if_any()
    license_no = (data.license_no or "").strip() or None
    if license_no and repository.practitioner_by_license(session, license_no) is not None:
        raise _license_taken()
    if data.user_id is not None and repository.practitioner_by_user(session, data.user_id):
        raise Conflict(
            N_("This user account is already linked to a practitioner."),
            code="user_already_linked",
            field_errors=[FieldError("user_id", N_("Already linked to a practitioner."))],
        )
    pr = Practitioner(
        institution_id=data.institution_id,
        department_id=data.department_id,
        user_id=data.user_id,
        name_zh=data.name_zh.strip(),
        name_en=data.name_en.strip(),
        title=data.title.value,
        specialty_code=data.specialty_code,
        license_no=license_no,
        is_active=True,
        is_synthetic=False,
    )
    session.add(pr)
    session.flush()
    audit.record(
        session,
        actor,
        "registry.practitioner.create",
        object_type="practitioner",
        object_id=pr.id,
        detail={"institution_id": pr.institution_id, "title": pr.title},
    )
    return pr


def update_practitioner(
    session: Session, actor: Actor, practitioner_id: int, data: PractitionerUpdate
) -> Practitioner:
    """Change a member of staff (only the fields sent)."""
    pr = get_practitioner(session, actor, practitioner_id)
    _require_manage_institution(actor, pr.institution_id)
    changes = {k: _plain(v) for k, v in data.model_dump(exclude_unset=True).items()}
    p = _Problems()
    for name in ("name_zh", "name_en", "title", "specialty_code", "is_active"):
        if name in changes and changes[name] is None:
            p.add(name, REQUIRED, "required")
    if changes.get("specialty_code"):
        _check_specialty(session, p, "specialty_code", changes["specialty_code"])
    if changes.get("department_id") is not None:
        _check_department(session, p, pr.institution_id, changes["department_id"])
    p.raise_if_any()
    if changes.get("license_no"):
        changes["license_no"] = changes["license_no"].strip()
        other = repository.practitioner_by_license(session, changes["license_no"])
        if other is not None and other.id != pr.id:
            raise _license_taken()
    _save_changes(session, actor, pr, changes, "practitioner")
    return pr


# --- alliances --------------------------------------------------------------------------


def list_alliances(
    session: Session,
    actor: Actor,
    page: PageParams,
    *,
    q: str | None = None,
    member_institution_id: int | None = None,
) -> tuple[Sequence[Alliance], int]:
    _require_read(actor)
    return repository.list_alliances(
        session, page, q=q, member_institution_id=member_institution_id
    )


def active_member_counts(
    session: Session, actor: Actor, alliance_ids: Sequence[int], on: date | None = None
) -> dict[int, int]:
    _require_read(actor)
    return repository.active_member_counts(session, alliance_ids, on or clock.today())


def get_alliance(session: Session, actor: Actor, alliance_id: int) -> Alliance:
    _require_read(actor)
    alliance = repository.alliance_by_id(session, alliance_id)
    if alliance is None:
        raise NotFound(N_("There is no alliance with the number %(id)s."), id=alliance_id)
    return alliance


def centre_count(session: Session, actor: Actor, alliance_id: int) -> int:
    _require_read(actor)
    return repository.centre_count(session, alliance_id)


def create_alliance(session: Session, actor: Actor, data: AllianceCreate) -> Alliance:
    """Found a medical alliance (platform admins); its lead joins it on the founding day."""
    if not is_platform_admin(actor):
        raise Forbidden(N_("Only a platform admin may create alliances."))
    p = _Problems()
    code = normalise_code(data.code)
    if not is_valid_code(code):
        p.add("code", INVALID_CODE, "invalid_code")
    if repository.institution_by_id(session, data.lead_institution_id) is None:
        p.add(
            "lead_institution_id",
            UNKNOWN_INSTITUTION,
            "unknown_institution",
            id=data.lead_institution_id,
        )
    p.raise_if_any()
    if repository.alliance_by_code(session, code) is not None:
        raise Conflict(
            N_("The code %(value)s is already used by another alliance."),
            code="alliance_code_taken",
            field_errors=[FieldError("code", N_("This code is already taken."))],
            value=code,
        )
    alliance = Alliance(
        code=code,
        name_zh=data.name_zh.strip(),
        name_en=data.name_en.strip(),
        lead_institution_id=data.lead_institution_id,
        founded_on=data.founded_on,
        description=(data.description or "").strip() or None,
    )
    session.add(alliance)
    session.flush()
    session.add(
        AllianceMember(
            alliance_id=alliance.id,
            institution_id=alliance.lead_institution_id,
            joined_on=alliance.founded_on,
        )
    )
    session.flush()
    audit.record(
        session,
        actor,
        "registry.alliance.create",
        object_type="alliance",
        object_id=alliance.id,
        detail={"code": alliance.code, "lead_institution_id": alliance.lead_institution_id},
    )
    return alliance


def _require_manage_alliance(actor: Actor, alliance: Alliance) -> None:
    if not may_manage_alliance(actor, alliance):
        raise Forbidden(N_("Only the lead institution of this alliance may manage it."))


@dataclass(frozen=True)
class MemberRow:
    member: AllianceMember
    institution: Institution
    active: bool


def list_members(
    session: Session, actor: Actor, alliance_id: int, f: MemberFilter, page: PageParams
) -> tuple[list[MemberRow], int]:
    """A page of an alliance's members (optionally those active on a day, or in a place)."""
    alliance = get_alliance(session, actor, alliance_id)
    rows, total = repository.list_members(session, alliance.id, f, page)
    today = clock.today()
    return [
        MemberRow(m, inst, membership_active(m.joined_on, m.left_on, today)) for m, inst in rows
    ], total


def member_row(session: Session, actor: Actor, member: AllianceMember) -> MemberRow:
    """A membership with its institution and whether it is active today."""
    inst = get_institution(session, actor, member.institution_id)
    return MemberRow(
        member, inst, membership_active(member.joined_on, member.left_on, clock.today())
    )


def member_divisions(session: Session, actor: Actor, alliance_id: int) -> Sequence[Division]:
    alliance = get_alliance(session, actor, alliance_id)
    return repository.member_divisions(session, alliance.id)


def add_member(
    session: Session, actor: Actor, alliance_id: int, data: MemberCreate
) -> AllianceMember:
    """An institution joins an alliance; it cannot hold two overlapping memberships."""
    alliance = get_alliance(session, actor, alliance_id)
    _require_manage_alliance(actor, alliance)
    p = _Problems()
    if repository.institution_by_id(session, data.institution_id) is None:
        p.add("institution_id", UNKNOWN_INSTITUTION, "unknown_institution", id=data.institution_id)
    if data.joined_on < alliance.founded_on:
        p.add(
            "joined_on",
            N_("The alliance was founded on %(day)s; a member cannot join before."),
            "joined_before_founding",
            day=alliance.founded_on.isoformat(),
        )
    if not leave_after_join(data.joined_on, data.left_on):
        p.add("left_on", N_("The leaving day must be after the joining day."), "leave_before_join")
    p.raise_if_any()
    for other in repository.memberships(session, alliance.id, data.institution_id):
        if periods_overlap(data.joined_on, data.left_on, other.joined_on, other.left_on):
            raise Conflict(
                N_("This institution is already a member of the alliance in this period."),
                code="already_member",
                field_errors=[FieldError("institution_id", N_("Already a member in this period."))],
            )
    member = AllianceMember(
        alliance_id=alliance.id,
        institution_id=data.institution_id,
        joined_on=data.joined_on,
        left_on=data.left_on,
    )
    session.add(member)
    session.flush()
    audit.record(
        session,
        actor,
        "registry.alliance_member.add",
        object_type="alliance_member",
        object_id=member.id,
        detail={
            "alliance_id": alliance.id,
            "institution_id": member.institution_id,
            "joined_on": member.joined_on.isoformat(),
        },
    )
    return member


def get_member(session: Session, actor: Actor, member_id: int) -> AllianceMember:
    _require_read(actor)
    member = repository.member_by_id(session, member_id)
    if member is None:
        raise NotFound(N_("There is no alliance membership with the number %(id)s."), id=member_id)
    return member


def set_member_leave(
    session: Session, actor: Actor, member_id: int, data: MemberUpdate
) -> AllianceMember:
    """Record (or undo) the day a member leaves its alliance."""
    member = get_member(session, actor, member_id)
    alliance = get_alliance(session, actor, member.alliance_id)
    _require_manage_alliance(actor, alliance)
    if not leave_after_join(member.joined_on, data.left_on):
        raise ValidationFailed(
            code="leave_before_join",
            field_errors=[
                FieldError("left_on", N_("The leaving day must be after the joining day."))
            ],
        )
    if data.left_on is None:
        for other in repository.memberships(session, alliance.id, member.institution_id):
            if other.id != member.id and periods_overlap(
                member.joined_on, None, other.joined_on, other.left_on
            ):
                raise Conflict(
                    N_("This institution is already a member of the alliance in this period."),
                    code="already_member",
                )
    before = member.left_on
    member.left_on = data.left_on
    session.flush()
    audit.record(
        session,
        actor,
        "registry.alliance_member.update",
        object_type="alliance_member",
        object_id=member.id,
        detail={
            "alliance_id": alliance.id,
            "left_on": [
                before.isoformat() if before else None,
                data.left_on.isoformat() if data.left_on else None,
            ],
        },
    )
    return member


def list_centres(session: Session, actor: Actor, alliance_id: int) -> Sequence[AllianceCentre]:
    alliance = get_alliance(session, actor, alliance_id)
    return repository.centres_of(session, alliance.id)


def create_centre(
    session: Session, actor: Actor, alliance_id: int, data: CentreCreate
) -> AllianceCentre:
    """Open a shared centre inside an alliance, hosted by a member active on its opening day."""
    alliance = get_alliance(session, actor, alliance_id)
    _require_manage_alliance(actor, alliance)
    p = _Problems()
    if repository.institution_by_id(session, data.host_institution_id) is None:
        p.add(
            "host_institution_id",
            UNKNOWN_INSTITUTION,
            "unknown_institution",
            id=data.host_institution_id,
        )
    elif not any(
        membership_active(m.joined_on, m.left_on, data.established_on)
        for m in repository.memberships(session, alliance.id, data.host_institution_id)
    ):
        p.add(
            "host_institution_id",
            N_("The host must be a member of the alliance on the opening day."),
            "host_not_member",
        )
    p.raise_if_any()
    centre = AllianceCentre(
        alliance_id=alliance.id,
        host_institution_id=data.host_institution_id,
        kind=data.kind.value,
        name_zh=data.name_zh.strip(),
        name_en=data.name_en.strip(),
        established_on=data.established_on,
    )
    session.add(centre)
    session.flush()
    audit.record(
        session,
        actor,
        "registry.alliance_centre.create",
        object_type="alliance_centre",
        object_id=centre.id,
        detail={"alliance_id": alliance.id, "kind": centre.kind},
    )
    return centre


def institutions_by_ids(
    session: Session, actor: Actor, ids: Sequence[int]
) -> dict[int, Institution]:
    """Institutions by number, for naming them in lists."""
    _require_read(actor)
    return repository.institutions_by_ids(session, ids)


def departments_by_ids(session: Session, actor: Actor, ids: Sequence[int]) -> dict[int, Department]:
    _require_read(actor)
    return repository.departments_by_ids(session, ids)


def specialties_by_code(session: Session, actor: Actor) -> dict[str, SpecialtyRow]:
    _require_read(actor)
    return repository.specialties_by_code(session)


def branches_of(session: Session, actor: Actor, institution_id: int) -> Sequence[Institution]:
    _require_read(actor)
    return repository.branches_of(session, institution_id)
