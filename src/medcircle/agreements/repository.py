"""Every query of agreements (and the registry rows they refer to)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, Select, and_, delete, exists, func, or_, select
from sqlalchemy.orm import Session

from medcircle.agreements.domain import OPEN_GOAL_STATUSES, AgreementStatus
from medcircle.agreements.models import (
    AgreementDocument,
    AgreementGoal,
    AgreementSpecialty,
    CooperationAgreement,
    FrameworkAgreement,
)
from medcircle.kit.pagination import PageParams
from medcircle.registry.models import Division, Institution, SpecialtyRow

_OPEN = sorted(s.value for s in OPEN_GOAL_STATUSES)


@dataclass(frozen=True)
class AgreementFilter:
    """What the agreements list shows; ``on`` is the date statuses are judged on."""

    on: date
    status: AgreementStatus | None = None
    kind: str | None = None
    institution_id: int | None = None
    specialty: str | None = None
    framework_id: int | None = None
    ends_before: date | None = None
    has_overdue_goals: bool | None = None
    q: str | None = None


# --- registry rows ------------------------------------------------------------------------


def institution_by_id(session: Session, institution_id: int) -> Institution | None:
    return session.get(Institution, institution_id)


def institution_by_code(session: Session, code: str) -> Institution | None:
    return session.scalar(select(Institution).where(Institution.code == code))


def institutions_by_ids(session: Session, ids: Sequence[int]) -> dict[int, Institution]:
    if not ids:
        return {}
    rows = session.scalars(select(Institution).where(Institution.id.in_(set(ids))))
    return {i.id: i for i in rows}


def institution_choices(session: Session) -> Sequence[Institution]:
    return session.scalars(select(Institution).order_by(Institution.code)).all()


def existing_specialties(session: Session, codes: Sequence[str]) -> set[str]:
    if not codes:
        return set()
    return set(session.scalars(select(SpecialtyRow.code).where(SpecialtyRow.code.in_(codes))))


def all_specialties(session: Session) -> Sequence[SpecialtyRow]:
    return session.scalars(select(SpecialtyRow).order_by(SpecialtyRow.code)).all()


def specialties_by_code(session: Session, codes: Sequence[str]) -> dict[str, SpecialtyRow]:
    if not codes:
        return {}
    rows = session.scalars(select(SpecialtyRow).where(SpecialtyRow.code.in_(set(codes))))
    return {s.code: s for s in rows}


def division_exists(session: Session, code: str) -> bool:
    return session.get(Division, code) is not None


def divisions_by_code(session: Session, codes: Sequence[str]) -> dict[str, Division]:
    if not codes:
        return {}
    rows = session.scalars(select(Division).where(Division.code.in_(set(codes))))
    return {d.code: d for d in rows}


def province_and_city_divisions(session: Session) -> Sequence[Division]:
    """Divisions a government party can be (provinces and cities)."""
    return session.scalars(
        select(Division).where(Division.level.in_(("province", "city"))).order_by(Division.code)
    ).all()


# --- framework agreements -----------------------------------------------------------------


def framework_by_id(session: Session, framework_id: int) -> FrameworkAgreement | None:
    return session.get(FrameworkAgreement, framework_id)


def framework_code_taken(session: Session, code: str, except_id: int | None = None) -> bool:
    q = select(FrameworkAgreement.id).where(FrameworkAgreement.code == code)
    if except_id is not None:
        q = q.where(FrameworkAgreement.id != except_id)
    return session.scalar(q) is not None


def list_frameworks(session: Session, page: PageParams) -> tuple[Sequence[FrameworkAgreement], int]:
    total = session.scalar(select(func.count()).select_from(FrameworkAgreement)) or 0
    rows = session.scalars(
        select(FrameworkAgreement)
        .order_by(FrameworkAgreement.starts_on.desc(), FrameworkAgreement.id.desc())
        .offset(page.offset)
        .limit(page.size)
    ).all()
    return rows, total


def framework_choices(session: Session) -> Sequence[FrameworkAgreement]:
    return session.scalars(
        select(FrameworkAgreement).order_by(FrameworkAgreement.starts_on.desc())
    ).all()


def agreement_counts_by_framework(session: Session, ids: Sequence[int]) -> dict[int, int]:
    if not ids:
        return {}
    rows = session.execute(
        select(CooperationAgreement.framework_id, func.count())
        .where(CooperationAgreement.framework_id.in_(ids))
        .group_by(CooperationAgreement.framework_id)
    )
    return {fid: n for fid, n in rows if fid is not None}


# --- cooperation agreements ---------------------------------------------------------------


def agreement_by_id(session: Session, agreement_id: int) -> CooperationAgreement | None:
    return session.get(CooperationAgreement, agreement_id)


def agreement_code_taken(session: Session, code: str, except_id: int | None = None) -> bool:
    q = select(CooperationAgreement.id).where(CooperationAgreement.code == code)
    if except_id is not None:
        q = q.where(CooperationAgreement.id != except_id)
    return session.scalar(q) is not None


def agreement_codes_with_prefix(session: Session, prefix: str) -> int:
    return (
        session.scalar(
            select(func.count()).where(
                CooperationAgreement.code.startswith(prefix, autoescape=True)
            )
        )
        or 0
    )


def _party(institution_id: int) -> ColumnElement[bool]:
    return or_(
        CooperationAgreement.supporting_institution_id == institution_id,
        CooperationAgreement.supported_institution_id == institution_id,
    )


def _status_clause(status: AgreementStatus, on: date) -> ColumnElement[bool]:
    terminated = and_(
        CooperationAgreement.terminated_on.is_not(None), CooperationAgreement.terminated_on <= on
    )
    running = or_(
        CooperationAgreement.terminated_on.is_(None), CooperationAgreement.terminated_on > on
    )
    if status is AgreementStatus.TERMINATED:
        return terminated
    if status is AgreementStatus.UPCOMING:
        return and_(running, CooperationAgreement.starts_on > on)
    if status is AgreementStatus.ENDED:
        return and_(running, CooperationAgreement.ends_on <= on)
    return and_(running, CooperationAgreement.starts_on <= on, CooperationAgreement.ends_on > on)


def _overdue_exists(on: date) -> ColumnElement[bool]:
    return exists().where(
        AgreementGoal.agreement_id == CooperationAgreement.id,
        AgreementGoal.status.in_(_OPEN),
        AgreementGoal.due_on < on,
    )


def _filtered(f: AgreementFilter, scope_institution_id: int | None) -> Select[CooperationAgreement]:
    q = select(CooperationAgreement)
    if scope_institution_id is not None:
        q = q.where(_party(scope_institution_id))
    if f.status is not None:
        q = q.where(_status_clause(f.status, f.on))
    if f.kind:
        q = q.where(CooperationAgreement.kind == f.kind)
    if f.institution_id is not None:
        q = q.where(_party(f.institution_id))
    if f.framework_id is not None:
        q = q.where(CooperationAgreement.framework_id == f.framework_id)
    if f.specialty:
        q = q.where(
            exists().where(
                AgreementSpecialty.agreement_id == CooperationAgreement.id,
                AgreementSpecialty.specialty_code == f.specialty,
            )
        )
    if f.ends_before is not None:
        q = q.where(
            CooperationAgreement.terminated_on.is_(None),
            CooperationAgreement.ends_on > f.on,
            CooperationAgreement.ends_on <= f.ends_before,
        )
    if f.has_overdue_goals is True:
        q = q.where(_overdue_exists(f.on))
    elif f.has_overdue_goals is False:
        q = q.where(~_overdue_exists(f.on))
    if f.q:
        # % and _ typed in the search are matched as themselves, not as wildcards
        text = f.q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = f"%{text}%"
        q = q.where(
            or_(
                func.lower(CooperationAgreement.code).like(like, escape="\\"),
                func.lower(CooperationAgreement.title_zh).like(like, escape="\\"),
                func.lower(CooperationAgreement.title_en).like(like, escape="\\"),
            )
        )
    return q


def list_agreements(
    session: Session, f: AgreementFilter, page: PageParams, scope_institution_id: int | None
) -> tuple[Sequence[CooperationAgreement], int]:
    q = _filtered(f, scope_institution_id)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.scalars(
        q.order_by(CooperationAgreement.ends_on, CooperationAgreement.id)
        .offset(page.offset)
        .limit(page.size)
    ).all()
    return rows, total


def specialties_of(session: Session, agreement_ids: Sequence[int]) -> dict[int, list[str]]:
    result: dict[int, list[str]] = {i: [] for i in agreement_ids}
    if not agreement_ids:
        return result
    for aid, code in session.execute(
        select(AgreementSpecialty.agreement_id, AgreementSpecialty.specialty_code)
        .where(AgreementSpecialty.agreement_id.in_(agreement_ids))
        .order_by(AgreementSpecialty.specialty_code)
    ):
        result[aid].append(code)
    return result


def replace_specialties(session: Session, agreement_id: int, codes: Sequence[str]) -> None:
    session.execute(
        delete(AgreementSpecialty).where(AgreementSpecialty.agreement_id == agreement_id)
    )
    session.add_all(
        AgreementSpecialty(agreement_id=agreement_id, specialty_code=c) for c in sorted(set(codes))
    )
    session.flush()


def overdue_counts(session: Session, agreement_ids: Sequence[int], on: date) -> dict[int, int]:
    if not agreement_ids:
        return {}
    rows = session.execute(
        select(AgreementGoal.agreement_id, func.count())
        .where(
            AgreementGoal.agreement_id.in_(agreement_ids),
            AgreementGoal.status.in_(_OPEN),
            AgreementGoal.due_on < on,
        )
        .group_by(AgreementGoal.agreement_id)
    )
    return {aid: n for aid, n in rows}


# --- goals --------------------------------------------------------------------------------


def goals_of(session: Session, agreement_id: int) -> Sequence[AgreementGoal]:
    return session.scalars(
        select(AgreementGoal)
        .where(AgreementGoal.agreement_id == agreement_id)
        .order_by(AgreementGoal.due_on, AgreementGoal.id)
    ).all()


def goal_by_id(session: Session, goal_id: int) -> AgreementGoal | None:
    return session.get(AgreementGoal, goal_id)


def overdue_goals(
    session: Session, on: date, page: PageParams, scope_institution_id: int | None
) -> tuple[Sequence[tuple[AgreementGoal, CooperationAgreement]], int]:
    """Open goals due before ``on`` of agreements not terminated, most overdue first (a goal
    left open when its agreement ended still needs closing, so it stays on the list)."""
    q = (
        select(AgreementGoal, CooperationAgreement)
        .join(CooperationAgreement, CooperationAgreement.id == AgreementGoal.agreement_id)
        .where(
            AgreementGoal.status.in_(_OPEN),
            AgreementGoal.due_on < on,
            or_(
                CooperationAgreement.terminated_on.is_(None),
                CooperationAgreement.terminated_on > on,
            ),
        )
    )
    if scope_institution_id is not None:
        q = q.where(_party(scope_institution_id))
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.execute(
        q.order_by(AgreementGoal.due_on, AgreementGoal.id).offset(page.offset).limit(page.size)
    ).all()
    return [(g, a) for g, a in rows], total


# --- documents ----------------------------------------------------------------------------


def documents_of(session: Session, agreement_id: int) -> Sequence[AgreementDocument]:
    return session.scalars(
        select(AgreementDocument)
        .where(AgreementDocument.agreement_id == agreement_id)
        .order_by(AgreementDocument.uploaded_at.desc(), AgreementDocument.id.desc())
    ).all()


def document_by_id(session: Session, document_id: int) -> AgreementDocument | None:
    return session.get(AgreementDocument, document_id)


def document_hash_in_use(session: Session, sha256: str) -> bool:
    return (
        session.scalar(
            select(AgreementDocument.id).where(AgreementDocument.sha256 == sha256).limit(1)
        )
        is not None
    )
