"""JSON API of the registry: institutions, names, departments, staff, alliances, places."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, Query, status

from medcircle.kit.pagination import Page
from medcircle.registry import service
from medcircle.registry.domain import DivisionLevel, Grade, InstitutionType, Level, Title
from medcircle.registry.repository import InstitutionFilter, MemberFilter, PractitionerFilter
from medcircle.registry.schemas import (
    AllianceCreate,
    AllianceDetail,
    AllianceRead,
    CentreCreate,
    CentreRead,
    DepartmentCreate,
    DepartmentRead,
    DepartmentUpdate,
    DivisionRead,
    InstitutionCreate,
    InstitutionDetail,
    InstitutionNameRead,
    InstitutionRead,
    InstitutionRename,
    InstitutionUpdate,
    MemberCreate,
    MemberRead,
    MemberUpdate,
    PractitionerCreate,
    PractitionerRead,
    PractitionerUpdate,
    SpecialtyRead,
)
from medcircle.web.deps import DB, CurrentActor, Paging
from medcircle.web.routing import QuickRouter

router = QuickRouter(prefix="/api/v1", tags=["registry"])

Adcode = Annotated[str | None, Query(pattern=r"^\d{6}$", description="6-digit division code")]


async def institution_filter(
    q: Annotated[
        str | None, Query(max_length=100, description="name (Chinese or English) or code")
    ] = None,
    level: Level | None = None,
    grade: Grade | None = None,
    type: InstitutionType | None = None,
    province_code: Adcode = None,
    city_code: Adcode = None,
    division_code: Annotated[
        str | None,
        Query(pattern=r"^\d{6}$", description="inside this province, city or county"),
    ] = None,
    specialty: Annotated[
        str | None, Query(max_length=32, description="has an active department of it")
    ] = None,
    alliance_id: Annotated[
        int | None, Query(description="member of this alliance (on `on`, default today)")
    ] = None,
    on: date | None = None,
) -> InstitutionFilter:
    return InstitutionFilter(
        q=(q or "").strip() or None,
        level=level.value if level else None,
        grade=grade.value if grade else None,
        type=type.value if type else None,
        province_code=province_code,
        city_code=city_code,
        division_code=division_code,
        specialty=specialty or None,
        alliance_id=alliance_id,
        on=on,
    )


InstFilter = Annotated[InstitutionFilter, Depends(institution_filter)]


# --- places and specialties -------------------------------------------------------------


@router.get("/divisions", response_model=Page[DivisionRead])
def list_divisions(
    session: DB,
    actor: CurrentActor,
    paging: Paging,
    parent_code: Adcode = None,
    level: DivisionLevel | None = None,
    q: Annotated[str | None, Query(max_length=64)] = None,
) -> Page[DivisionRead]:
    """Administrative divisions (province, city, county) by parent, level, name or code."""
    rows, total = service.list_divisions(
        session,
        actor,
        paging,
        parent_code=parent_code,
        level=level.value if level else None,
        q=(q or "").strip() or None,
    )
    return Page(
        items=[DivisionRead.model_validate(d) for d in rows],
        total=total,
        page=paging.page,
        size=paging.size,
    )


@router.get("/specialties", response_model=list[SpecialtyRead])
def list_specialties(
    session: DB, actor: CurrentActor, q: Annotated[str | None, Query(max_length=64)] = None
) -> list[SpecialtyRead]:
    """The standard specialty list (its codes are used across the platform)."""
    return [
        SpecialtyRead.model_validate(s)
        for s in service.list_specialties(session, actor, (q or "").strip() or None)
    ]


# --- institutions -----------------------------------------------------------------------


@router.get("/institutions", response_model=Page[InstitutionRead])
def list_institutions(
    session: DB, actor: CurrentActor, paging: Paging, f: InstFilter
) -> Page[InstitutionRead]:
    """Institutions by name or code, level, grade, type, place, specialty and alliance."""
    rows, total = service.list_institutions(session, actor, f, paging)
    return Page(
        items=[InstitutionRead.model_validate(i) for i in rows],
        total=total,
        page=paging.page,
        size=paging.size,
    )


@router.post("/institutions", response_model=InstitutionRead, status_code=status.HTTP_201_CREATED)
def create_institution(
    body: InstitutionCreate, session: DB, actor: CurrentActor
) -> InstitutionRead:
    """Register an institution (platform admins)."""
    return InstitutionRead.model_validate(service.create_institution(session, actor, body))


def _detail(profile: service.InstitutionProfile) -> InstitutionDetail:
    return InstitutionDetail(
        **InstitutionRead.model_validate(profile.institution).model_dump(),
        department_count=profile.department_count,
        practitioner_count=profile.practitioner_count,
        branch_count=profile.branch_count,
        alliance_ids=profile.alliance_ids,
    )


@router.get("/institutions/{institution_id}", response_model=InstitutionDetail)
def read_institution(institution_id: int, session: DB, actor: CurrentActor) -> InstitutionDetail:
    """One institution with its department, staff and branch counts."""
    return _detail(service.institution_profile(session, actor, institution_id))


@router.patch("/institutions/{institution_id}", response_model=InstitutionDetail)
def update_institution(
    institution_id: int, body: InstitutionUpdate, session: DB, actor: CurrentActor
) -> InstitutionDetail:
    """Change the fields sent; ``version`` must be the one read (else 409 ``stale_version``)."""
    service.update_institution(session, actor, institution_id, body)
    return _detail(service.institution_profile(session, actor, institution_id))


@router.get("/institutions/{institution_id}/names", response_model=list[InstitutionNameRead])
def list_names(institution_id: int, session: DB, actor: CurrentActor) -> list[InstitutionNameRead]:
    """The licensed-name history, the current name first."""
    return [
        InstitutionNameRead.model_validate(n)
        for n in service.list_names(session, actor, institution_id)
    ]


@router.post(
    "/institutions/{institution_id}/names",
    response_model=InstitutionNameRead,
    status_code=status.HTTP_201_CREATED,
)
def rename_institution(
    institution_id: int, body: InstitutionRename, session: DB, actor: CurrentActor
) -> InstitutionNameRead:
    """Record a new licensed name from ``valid_from``; the current one closes that day."""
    row = service.rename_institution(
        session, actor, institution_id, body.name_zh, body.name_en, body.valid_from, body.reason
    )
    return InstitutionNameRead.model_validate(row)


# --- departments ------------------------------------------------------------------------


@router.get("/institutions/{institution_id}/departments", response_model=Page[DepartmentRead])
def list_departments(
    institution_id: int, session: DB, actor: CurrentActor, paging: Paging
) -> Page[DepartmentRead]:
    rows, total = service.list_departments(session, actor, institution_id, paging)
    return Page(
        items=[DepartmentRead.model_validate(d) for d in rows],
        total=total,
        page=paging.page,
        size=paging.size,
    )


@router.post(
    "/institutions/{institution_id}/departments",
    response_model=DepartmentRead,
    status_code=status.HTTP_201_CREATED,
)
def create_department(
    institution_id: int, body: DepartmentCreate, session: DB, actor: CurrentActor
) -> DepartmentRead:
    """Add a department of a standard specialty."""
    return DepartmentRead.model_validate(
        service.create_department(session, actor, institution_id, body)
    )


@router.get("/departments/{department_id}", response_model=DepartmentRead)
def read_department(department_id: int, session: DB, actor: CurrentActor) -> DepartmentRead:
    return DepartmentRead.model_validate(service.get_department(session, actor, department_id))


@router.patch("/departments/{department_id}", response_model=DepartmentRead)
def update_department(
    department_id: int, body: DepartmentUpdate, session: DB, actor: CurrentActor
) -> DepartmentRead:
    return DepartmentRead.model_validate(
        service.update_department(session, actor, department_id, body)
    )


# --- practitioners ----------------------------------------------------------------------


@router.get("/practitioners", response_model=Page[PractitionerRead])
def list_practitioners(
    session: DB,
    actor: CurrentActor,
    paging: Paging,
    q: Annotated[str | None, Query(max_length=100, description="name or licence number")] = None,
    institution_id: int | None = None,
    department_id: int | None = None,
    specialty: Annotated[str | None, Query(max_length=32)] = None,
    title: Title | None = None,
    active: Annotated[bool | None, Query(description="active staff only (default)")] = True,
) -> Page[PractitionerRead]:
    """Staff by name, institution, department, specialty and title."""
    f = PractitionerFilter(
        q=(q or "").strip() or None,
        institution_id=institution_id,
        department_id=department_id,
        specialty=specialty or None,
        title=title.value if title else None,
        active=active,
    )
    rows, total = service.list_practitioners(session, actor, f, paging)
    return Page(
        items=[PractitionerRead.model_validate(p) for p in rows],
        total=total,
        page=paging.page,
        size=paging.size,
    )


@router.post("/practitioners", response_model=PractitionerRead, status_code=status.HTTP_201_CREATED)
def create_practitioner(
    body: PractitionerCreate, session: DB, actor: CurrentActor
) -> PractitionerRead:
    return PractitionerRead.model_validate(service.create_practitioner(session, actor, body))


@router.get("/practitioners/{practitioner_id}", response_model=PractitionerRead)
def read_practitioner(practitioner_id: int, session: DB, actor: CurrentActor) -> PractitionerRead:
    return PractitionerRead.model_validate(
        service.get_practitioner(session, actor, practitioner_id)
    )


@router.patch("/practitioners/{practitioner_id}", response_model=PractitionerRead)
def update_practitioner(
    practitioner_id: int, body: PractitionerUpdate, session: DB, actor: CurrentActor
) -> PractitionerRead:
    return PractitionerRead.model_validate(
        service.update_practitioner(session, actor, practitioner_id, body)
    )


# --- alliances --------------------------------------------------------------------------


@router.get("/alliances", response_model=Page[AllianceRead])
def list_alliances(
    session: DB,
    actor: CurrentActor,
    paging: Paging,
    q: Annotated[str | None, Query(max_length=100)] = None,
    institution_id: Annotated[
        int | None, Query(description="alliances this institution is or was a member of")
    ] = None,
) -> Page[AllianceRead]:
    rows, total = service.list_alliances(
        session, actor, paging, q=(q or "").strip() or None, member_institution_id=institution_id
    )
    return Page(
        items=[AllianceRead.model_validate(a) for a in rows],
        total=total,
        page=paging.page,
        size=paging.size,
    )


@router.post("/alliances", response_model=AllianceRead, status_code=status.HTTP_201_CREATED)
def create_alliance(body: AllianceCreate, session: DB, actor: CurrentActor) -> AllianceRead:
    """Found an alliance (platform admins); the lead institution joins on the founding day."""
    return AllianceRead.model_validate(service.create_alliance(session, actor, body))


@router.get("/alliances/{alliance_id}", response_model=AllianceDetail)
def read_alliance(alliance_id: int, session: DB, actor: CurrentActor) -> AllianceDetail:
    alliance = service.get_alliance(session, actor, alliance_id)
    counts = service.active_member_counts(session, actor, [alliance.id])
    return AllianceDetail(
        **AllianceRead.model_validate(alliance).model_dump(),
        active_member_count=counts.get(alliance.id, 0),
        centre_count=service.centre_count(session, actor, alliance.id),
    )


def _member(row: service.MemberRow) -> MemberRead:
    return MemberRead(
        id=row.member.id,
        alliance_id=row.member.alliance_id,
        institution_id=row.institution.id,
        institution_code=row.institution.code,
        institution_name_zh=row.institution.name_zh,
        institution_name_en=row.institution.name_en,
        division_code=row.institution.division_code,
        joined_on=row.member.joined_on,
        left_on=row.member.left_on,
        active=row.active,
    )


@router.get("/alliances/{alliance_id}/members", response_model=Page[MemberRead])
def list_members(
    alliance_id: int,
    session: DB,
    actor: CurrentActor,
    paging: Paging,
    active_on: Annotated[date | None, Query(description="members on this day only")] = None,
    division_code: Annotated[
        str | None, Query(pattern=r"^\d{6}$", description="in this province, city or county")
    ] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
) -> Page[MemberRead]:
    """Members with their joining and leaving days (``active`` is as of today)."""
    f = MemberFilter(active_on=active_on, division_code=division_code, q=(q or "").strip() or None)
    rows, total = service.list_members(session, actor, alliance_id, f, paging)
    return Page(items=[_member(r) for r in rows], total=total, page=paging.page, size=paging.size)


@router.post(
    "/alliances/{alliance_id}/members",
    response_model=MemberRead,
    status_code=status.HTTP_201_CREATED,
)
def add_member(
    alliance_id: int, body: MemberCreate, session: DB, actor: CurrentActor
) -> MemberRead:
    """An institution joins (the lead institution's alliance admins, or platform admins)."""
    member = service.add_member(session, actor, alliance_id, body)
    return _member(service.member_row(session, actor, member))


@router.patch("/alliance-members/{member_id}", response_model=MemberRead)
def update_member(
    member_id: int, body: MemberUpdate, session: DB, actor: CurrentActor
) -> MemberRead:
    """Set (or clear) the day a member leaves."""
    member = service.set_member_leave(session, actor, member_id, body)
    return _member(service.member_row(session, actor, member))


@router.get("/alliances/{alliance_id}/centres", response_model=list[CentreRead])
def list_centres(alliance_id: int, session: DB, actor: CurrentActor) -> list[CentreRead]:
    return [CentreRead.model_validate(c) for c in service.list_centres(session, actor, alliance_id)]


@router.post(
    "/alliances/{alliance_id}/centres",
    response_model=CentreRead,
    status_code=status.HTTP_201_CREATED,
)
def create_centre(
    alliance_id: int, body: CentreCreate, session: DB, actor: CurrentActor
) -> CentreRead:
    """Open a shared centre (e.g. a regional inspection centre) hosted by a member."""
    return CentreRead.model_validate(service.create_centre(session, actor, alliance_id, body))
