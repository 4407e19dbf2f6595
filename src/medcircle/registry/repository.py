"""Every query of the registry."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from medcircle.agreements.models import CooperationAgreement
from medcircle.auth.models import User
from medcircle.kit.pagination import PageParams
from medcircle.registry.domain import DivisionLevel, division_level
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


def _page(
    session: Session, stmt: Select[*tuple[Any, ...]], page: PageParams
) -> tuple[Sequence[Any], int]:
    """One page of ``stmt`` (already ordered) and the total count."""
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = session.execute(stmt.offset(page.offset).limit(page.size)).all()
    return rows, total


def _like(text: str) -> str:
    escaped = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _contains(column: Any, text: str) -> ColumnElement[bool]:
    result: ColumnElement[bool] = func.lower(column).like(_like(text), escape="\\")
    return result


def _in_division(code: str) -> ColumnElement[bool]:
    """Institutions inside a division of any level (province, city or county)."""
    level = division_level(code)
    if level is DivisionLevel.PROVINCE:
        return Institution.province_code == code
    if level is DivisionLevel.CITY:
        return Institution.city_code == code
    return Institution.division_code == code


def _active_on(on: date) -> ColumnElement[bool]:
    return and_(
        AllianceMember.joined_on <= on,
        or_(AllianceMember.left_on.is_(None), AllianceMember.left_on > on),
    )


# --- reference data ---------------------------------------------------------------------


def division_by_code(session: Session, code: str) -> Division | None:
    return session.get(Division, code)


def divisions_by_codes(session: Session, codes: Sequence[str]) -> dict[str, Division]:
    if not codes:
        return {}
    rows = session.scalars(select(Division).where(Division.code.in_(set(codes))))
    return {d.code: d for d in rows}


def list_divisions(
    session: Session,
    page: PageParams,
    *,
    parent_code: str | None = None,
    level: str | None = None,
    q: str | None = None,
) -> tuple[Sequence[Division], int]:
    stmt = select(Division)
    if parent_code:
        stmt = stmt.where(Division.parent_code == parent_code)
    if level:
        stmt = stmt.where(Division.level == level)
    if q:
        stmt = stmt.where(
            or_(
                _contains(Division.name_zh, q),
                _contains(Division.name_en, q),
                Division.code.startswith(q.strip(), autoescape=True),
            )
        )
    rows, total = _page(session, stmt.order_by(Division.code), page)
    return [r[0] for r in rows], total


def all_divisions(session: Session) -> Sequence[Division]:
    return session.scalars(select(Division).order_by(Division.code)).all()


def specialty_codes(session: Session, codes: Sequence[str]) -> set[str]:
    """Which of ``codes`` are on the specialty list."""
    if not codes:
        return set()
    return set(session.scalars(select(SpecialtyRow.code).where(SpecialtyRow.code.in_(codes))))


def list_specialties(session: Session, q: str | None = None) -> Sequence[SpecialtyRow]:
    stmt = select(SpecialtyRow)
    if q:
        stmt = stmt.where(
            or_(
                _contains(SpecialtyRow.name_zh, q),
                _contains(SpecialtyRow.name_en, q),
                _contains(SpecialtyRow.code, q),
            )
        )
    return session.scalars(stmt.order_by(SpecialtyRow.name_en)).all()


# --- institutions -----------------------------------------------------------------------


def institution_by_id(session: Session, institution_id: int) -> Institution | None:
    return session.get(Institution, institution_id)


def institution_by_code(session: Session, code: str) -> Institution | None:
    return session.scalar(select(Institution).where(Institution.code == code))


def institutions_by_ids(session: Session, ids: Sequence[int]) -> dict[int, Institution]:
    if not ids:
        return {}
    rows = session.scalars(select(Institution).where(Institution.id.in_(set(ids))))
    return {i.id: i for i in rows}


def parent_map(session: Session) -> dict[int, int | None]:
    """Every institution's parent, for the cycle check (branches are few)."""
    rows = session.execute(
        select(Institution.id, Institution.parent_id).where(Institution.parent_id.is_not(None))
    )
    return {i: p for i, p in rows}


@dataclass(frozen=True)
class InstitutionFilter:
    q: str | None = None
    level: str | None = None
    grade: str | None = None
    type: str | None = None
    province_code: str | None = None
    city_code: str | None = None
    division_code: str | None = None
    specialty: str | None = None
    alliance_id: int | None = None
    on: date | None = None  # the day alliance membership is judged on


def list_institutions(
    session: Session, f: InstitutionFilter, page: PageParams
) -> tuple[Sequence[Institution], int]:
    stmt = select(Institution)
    if f.q:
        stmt = stmt.where(
            or_(
                _contains(Institution.name_zh, f.q),
                _contains(Institution.name_en, f.q),
                _contains(Institution.code, f.q),
            )
        )
    if f.level:
        stmt = stmt.where(Institution.level == f.level)
    if f.grade:
        stmt = stmt.where(Institution.grade == f.grade)
    if f.type:
        stmt = stmt.where(Institution.type == f.type)
    if f.province_code:
        stmt = stmt.where(Institution.province_code == f.province_code)
    if f.city_code:
        stmt = stmt.where(Institution.city_code == f.city_code)
    if f.division_code:
        stmt = stmt.where(_in_division(f.division_code))
    if f.specialty:
        stmt = stmt.where(
            exists().where(
                Department.institution_id == Institution.id,
                Department.specialty_code == f.specialty,
                Department.is_active.is_(True),
            )
        )
    if f.alliance_id is not None:
        member = exists().where(
            AllianceMember.institution_id == Institution.id,
            AllianceMember.alliance_id == f.alliance_id,
        )
        if f.on is not None:
            member = member.where(_active_on(f.on))
        stmt = stmt.where(member)
    rows, total = _page(session, stmt.order_by(Institution.code), page)
    return [r[0] for r in rows], total


def institution_counts(session: Session, institution_id: int) -> tuple[int, int, int]:
    """How many departments, active practitioners and branches an institution has."""
    departments = session.scalar(
        select(func.count()).where(Department.institution_id == institution_id)
    )
    practitioners = session.scalar(
        select(func.count()).where(
            Practitioner.institution_id == institution_id, Practitioner.is_active.is_(True)
        )
    )
    branches = session.scalar(select(func.count()).where(Institution.parent_id == institution_id))
    return departments or 0, practitioners or 0, branches or 0


def branches_of(session: Session, institution_id: int) -> Sequence[Institution]:
    return session.scalars(
        select(Institution)
        .where(Institution.parent_id == institution_id)
        .order_by(Institution.code)
    ).all()


def names_of(session: Session, institution_id: int) -> Sequence[InstitutionName]:
    """The licensed-name history, the current name first."""
    return session.scalars(
        select(InstitutionName)
        .where(InstitutionName.institution_id == institution_id)
        .order_by(InstitutionName.valid_to.is_(None).desc(), InstitutionName.valid_to.desc())
    ).all()


def current_name(session: Session, institution_id: int) -> InstitutionName | None:
    return session.scalar(
        select(InstitutionName)
        .where(InstitutionName.institution_id == institution_id, InstitutionName.valid_to.is_(None))
        .order_by(InstitutionName.id.desc())
        .limit(1)
    )


def agreement_parties(session: Session, agreement_id: int) -> tuple[int, int] | None:
    """The supporting and supported institution of a cooperation agreement."""
    row = session.execute(
        select(
            CooperationAgreement.supporting_institution_id,
            CooperationAgreement.supported_institution_id,
        ).where(CooperationAgreement.id == agreement_id)
    ).first()
    return (row[0], row[1]) if row else None


# --- departments and staff --------------------------------------------------------------


def department_by_id(session: Session, department_id: int) -> Department | None:
    return session.get(Department, department_id)


def department_name_taken(
    session: Session, institution_id: int, name_zh: str, except_id: int | None = None
) -> bool:
    stmt = select(Department.id).where(
        Department.institution_id == institution_id, Department.name_zh == name_zh
    )
    if except_id is not None:
        stmt = stmt.where(Department.id != except_id)
    return session.scalar(stmt.limit(1)) is not None


def departments_of(
    session: Session, institution_id: int, page: PageParams
) -> tuple[Sequence[Department], int]:
    stmt = (
        select(Department)
        .where(Department.institution_id == institution_id)
        .order_by(Department.is_active.desc(), Department.name_en)
    )
    rows, total = _page(session, stmt, page)
    return [r[0] for r in rows], total


def practitioner_by_id(session: Session, practitioner_id: int) -> Practitioner | None:
    return session.get(Practitioner, practitioner_id)


def practitioner_by_license(session: Session, license_no: str) -> Practitioner | None:
    return session.scalar(select(Practitioner).where(Practitioner.license_no == license_no))


def practitioner_by_user(session: Session, user_id: int) -> Practitioner | None:
    return session.scalar(select(Practitioner).where(Practitioner.user_id == user_id))


def user_institution(session: Session, user_id: int) -> int | None:
    """The home institution of a user account, or None if there is no such user."""
    return session.scalar(select(User.institution_id).where(User.id == user_id))


@dataclass(frozen=True)
class PractitionerFilter:
    q: str | None = None
    institution_id: int | None = None
    department_id: int | None = None
    specialty: str | None = None
    title: str | None = None
    active: bool | None = True


def list_practitioners(
    session: Session, f: PractitionerFilter, page: PageParams
) -> tuple[Sequence[Practitioner], int]:
    stmt = select(Practitioner)
    if f.q:
        stmt = stmt.where(
            or_(
                _contains(Practitioner.name_zh, f.q),
                _contains(Practitioner.name_en, f.q),
                _contains(Practitioner.license_no, f.q),
            )
        )
    if f.institution_id is not None:
        stmt = stmt.where(Practitioner.institution_id == f.institution_id)
    if f.department_id is not None:
        stmt = stmt.where(Practitioner.department_id == f.department_id)
    if f.specialty:
        stmt = stmt.where(Practitioner.specialty_code == f.specialty)
    if f.title:
        stmt = stmt.where(Practitioner.title == f.title)
    if f.active is not None:
        stmt = stmt.where(Practitioner.is_active.is_(f.active))
    rows, total = _page(session, stmt.order_by(Practitioner.name_en, Practitioner.id), page)
    return [r[0] for r in rows], total


def departments_by_ids(session: Session, ids: Sequence[int]) -> dict[int, Department]:
    if not ids:
        return {}
    rows = session.scalars(select(Department).where(Department.id.in_(set(ids))))
    return {d.id: d for d in rows}


def specialties_by_code(session: Session) -> dict[str, SpecialtyRow]:
    return {s.code: s for s in session.scalars(select(SpecialtyRow))}


# --- alliances --------------------------------------------------------------------------


def alliance_by_id(session: Session, alliance_id: int) -> Alliance | None:
    return session.get(Alliance, alliance_id)


def alliance_by_code(session: Session, code: str) -> Alliance | None:
    return session.scalar(select(Alliance).where(Alliance.code == code))


def list_alliances(
    session: Session,
    page: PageParams,
    *,
    q: str | None = None,
    lead_institution_id: int | None = None,
    member_institution_id: int | None = None,
) -> tuple[Sequence[Alliance], int]:
    stmt = select(Alliance)
    if q:
        stmt = stmt.where(
            or_(
                _contains(Alliance.name_zh, q),
                _contains(Alliance.name_en, q),
                _contains(Alliance.code, q),
            )
        )
    if lead_institution_id is not None:
        stmt = stmt.where(Alliance.lead_institution_id == lead_institution_id)
    if member_institution_id is not None:
        stmt = stmt.where(
            exists().where(
                AllianceMember.alliance_id == Alliance.id,
                AllianceMember.institution_id == member_institution_id,
            )
        )
    rows, total = _page(session, stmt.order_by(Alliance.code), page)
    return [r[0] for r in rows], total


def active_member_counts(session: Session, alliance_ids: Sequence[int], on: date) -> dict[int, int]:
    if not alliance_ids:
        return {}
    rows = session.execute(
        select(AllianceMember.alliance_id, func.count())
        .where(AllianceMember.alliance_id.in_(set(alliance_ids)), _active_on(on))
        .group_by(AllianceMember.alliance_id)
    )
    return {a: n for a, n in rows}


def centre_count(session: Session, alliance_id: int) -> int:
    return (
        session.scalar(select(func.count()).where(AllianceCentre.alliance_id == alliance_id)) or 0
    )


def member_by_id(session: Session, member_id: int) -> AllianceMember | None:
    return session.get(AllianceMember, member_id)


def memberships(
    session: Session, alliance_id: int, institution_id: int
) -> Sequence[AllianceMember]:
    """Every period an institution was a member of an alliance."""
    return session.scalars(
        select(AllianceMember).where(
            AllianceMember.alliance_id == alliance_id,
            AllianceMember.institution_id == institution_id,
        )
    ).all()


@dataclass(frozen=True)
class MemberFilter:
    active_on: date | None = None
    division_code: str | None = None
    q: str | None = None


def list_members(
    session: Session, alliance_id: int, f: MemberFilter, page: PageParams
) -> tuple[Sequence[tuple[AllianceMember, Institution]], int]:
    stmt = (
        select(AllianceMember, Institution)
        .join(Institution, Institution.id == AllianceMember.institution_id)
        .where(AllianceMember.alliance_id == alliance_id)
    )
    if f.active_on is not None:
        stmt = stmt.where(_active_on(f.active_on))
    if f.division_code:
        stmt = stmt.where(_in_division(f.division_code))
    if f.q:
        stmt = stmt.where(
            or_(
                _contains(Institution.name_zh, f.q),
                _contains(Institution.name_en, f.q),
                _contains(Institution.code, f.q),
            )
        )
    rows, total = _page(
        session, stmt.order_by(AllianceMember.joined_on, Institution.code, AllianceMember.id), page
    )
    return [(r[0], r[1]) for r in rows], total


def member_divisions(session: Session, alliance_id: int) -> Sequence[Division]:
    """The counties (divisions) where members of an alliance are, for the filter."""
    codes = (
        select(Institution.division_code)
        .join(AllianceMember, AllianceMember.institution_id == Institution.id)
        .where(AllianceMember.alliance_id == alliance_id)
    )
    return session.scalars(
        select(Division).where(Division.code.in_(codes)).order_by(Division.code)
    ).all()


def memberships_of_institution(
    session: Session, institution_id: int
) -> Sequence[tuple[AllianceMember, Alliance]]:
    rows = session.execute(
        select(AllianceMember, Alliance)
        .join(Alliance, Alliance.id == AllianceMember.alliance_id)
        .where(AllianceMember.institution_id == institution_id)
        .order_by(AllianceMember.joined_on.desc())
    )
    return [(m, a) for m, a in rows]


def centres_of(session: Session, alliance_id: int) -> Sequence[AllianceCentre]:
    return session.scalars(
        select(AllianceCentre)
        .where(AllianceCentre.alliance_id == alliance_id)
        .order_by(AllianceCentre.established_on, AllianceCentre.id)
    ).all()
