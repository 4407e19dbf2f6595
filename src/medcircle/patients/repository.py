"""Queries of patients and consent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session, aliased

from medcircle.kit.pagination import PageParams
from medcircle.patients.models import Consent, Patient
from medcircle.referrals.models import Referral, ReferralEvent
from medcircle.registry.models import Division, Institution

DRAFT = "draft"


@dataclass(frozen=True)
class PatientFilter:
    institution_id: int
    name_prefix: str | None = None
    national_id_hash: str | None = None
    birth_date: date | None = None


def patient_by_id(session: Session, patient_id: int) -> Patient | None:
    return session.get(Patient, patient_id)


def patient_for_update(session: Session, patient_id: int) -> Patient | None:
    return session.get(Patient, patient_id, populate_existing=True)


def live_by_hash(
    session: Session, institution_id: int, national_id_hash: str, except_id: int | None = None
) -> Patient | None:
    stmt = select(Patient).where(
        Patient.institution_id == institution_id,
        Patient.national_id_hash == national_id_hash,
        Patient.merged_into_id.is_(None),
    )
    if except_id is not None:
        stmt = stmt.where(Patient.id != except_id)
    return session.scalars(stmt.limit(1)).first()


def referred_to(session: Session, patient_id: int, institution_id: int) -> bool:
    """Whether a non-draft referral of the patient was sent to ``institution_id``."""
    stmt = select(
        exists().where(
            Referral.patient_id == patient_id,
            Referral.receiver_institution_id == institution_id,
            Referral.status != DRAFT,
        )
    )
    return bool(session.scalar(stmt))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_patients(
    session: Session, f: PatientFilter, page: PageParams
) -> tuple[Sequence[Patient], int]:
    conditions = [Patient.institution_id == f.institution_id, Patient.merged_into_id.is_(None)]
    if f.name_prefix:
        conditions.append(Patient.name.like(_escape_like(f.name_prefix) + "%", escape="\\"))
    if f.national_id_hash:
        conditions.append(Patient.national_id_hash == f.national_id_hash)
    if f.birth_date:
        conditions.append(Patient.birth_date == f.birth_date)
    total = session.scalar(select(func.count()).select_from(Patient).where(*conditions)) or 0
    rows = session.scalars(
        select(Patient)
        .where(*conditions)
        .order_by(Patient.name, Patient.birth_date, Patient.id)
        .offset(page.offset)
        .limit(page.size)
    ).all()
    return rows, total


def possible_duplicates(
    session: Session, institution_id: int, limit: int = 200
) -> list[tuple[Patient, Patient, bool]]:
    """Pairs of live records of one institution that may be one person:
    (first, second, same ID number)."""
    a = aliased(Patient)
    b = aliased(Patient)
    same_id = and_(a.national_id_hash.is_not(None), a.national_id_hash == b.national_id_hash)
    stmt = (
        select(a, b, same_id)
        .join(b, and_(b.institution_id == a.institution_id, b.id > a.id))
        .where(
            a.institution_id == institution_id,
            a.merged_into_id.is_(None),
            b.merged_into_id.is_(None),
            or_(same_id, and_(a.name == b.name, a.birth_date == b.birth_date)),
        )
        .order_by(a.name, a.id, b.id)
        .limit(limit)
    )
    return [(row[0], row[1], bool(row[2])) for row in session.execute(stmt)]


def division_exists(session: Session, code: str) -> bool:
    return session.get(Division, code) is not None


def division_by_code(session: Session, code: str | None) -> Division | None:
    return session.get(Division, code) if code else None


def all_divisions(session: Session) -> Sequence[Division]:
    return session.scalars(select(Division).order_by(Division.code)).all()


def institution_by_id(session: Session, institution_id: int) -> Institution | None:
    return session.get(Institution, institution_id)


def institutions_by_ids(session: Session, ids: Sequence[int]) -> dict[int, Institution]:
    if not ids:
        return {}
    rows = session.scalars(select(Institution).where(Institution.id.in_(set(ids)))).all()
    return {r.id: r for r in rows}


def institution_choices(session: Session, except_id: int) -> Sequence[Institution]:
    return session.scalars(
        select(Institution).where(Institution.id != except_id).order_by(Institution.code)
    ).all()


def consents_of(session: Session, patient_id: int) -> Sequence[Consent]:
    return session.scalars(
        select(Consent)
        .where(Consent.patient_id == patient_id)
        .order_by(Consent.given_at.desc(), Consent.id.desc())
    ).all()


def consent_by_id(session: Session, consent_id: int) -> Consent | None:
    return session.get(Consent, consent_id)


def usable_consent(
    session: Session,
    patient_id: int,
    receiving_institution_id: int,
    purpose: str,
    now: datetime,
    today: date,
) -> Consent | None:
    """The latest consent given, not withdrawn and not expired on ``today``."""
    return session.scalars(
        select(Consent)
        .where(
            Consent.patient_id == patient_id,
            Consent.receiving_institution_id == receiving_institution_id,
            Consent.purpose == purpose,
            Consent.withdrawn_at.is_(None),
            Consent.given_at <= now,
            or_(Consent.valid_until.is_(None), Consent.valid_until >= today),
        )
        .order_by(Consent.given_at.desc(), Consent.id.desc())
        .limit(1)
    ).first()


def referrals_of(session: Session, patient_id: int, institution_id: int) -> Sequence[Referral]:
    """The patient's referrals sent by ``institution_id``, or sent to it (not drafts)."""
    return session.scalars(
        select(Referral)
        .where(
            Referral.patient_id == patient_id,
            or_(
                Referral.sender_institution_id == institution_id,
                and_(
                    Referral.receiver_institution_id == institution_id,
                    Referral.status != DRAFT,
                ),
            ),
        )
        .order_by(Referral.created_at.desc(), Referral.id.desc())
    ).all()


def move_referrals(
    session: Session,
    from_id: int,
    to_id: int,
    *,
    by_user_id: int,
    by_institution_id: int,
    at: datetime,
) -> list[int]:
    """Move the referrals of patient ``from_id`` to ``to_id``: each gets a new version (an edit
    made on the old one is then refused as stale) and a step in its history."""
    rows = session.execute(
        select(Referral.id, Referral.status).where(Referral.patient_id == from_id)
    ).all()
    if rows:
        session.execute(
            update(Referral)
            .where(Referral.patient_id == from_id)
            .values(patient_id=to_id, version=Referral.version + 1, updated_at=at)
            .execution_options(synchronize_session="fetch")
        )
        session.execute(
            insert(ReferralEvent),
            [
                {
                    "referral_id": rid,
                    "at": at,
                    "action": "patient_merged",
                    "from_status": status,
                    "to_status": status,
                    "actor_user_id": by_user_id,
                    "actor_institution_id": by_institution_id,
                    "detail": {"from_patient_id": from_id, "to_patient_id": to_id},
                }
                for rid, status in rows
            ],
        )
    return [rid for rid, _ in rows]


def move_consents(session: Session, from_id: int, to_id: int) -> list[int]:
    ids = list(session.scalars(select(Consent.id).where(Consent.patient_id == from_id)).all())
    if ids:
        session.execute(
            update(Consent)
            .where(Consent.patient_id == from_id)
            .values(patient_id=to_id)
            .execution_options(synchronize_session="fetch")
        )
    return ids


def count_consents(session: Session, patient_id: int) -> int:
    stmt = select(func.count()).select_from(Consent).where(Consent.patient_id == patient_id)
    return session.scalar(stmt) or 0


def count_referrals(session: Session, patient_id: int) -> int:
    stmt = select(func.count()).select_from(Referral).where(Referral.patient_id == patient_id)
    return session.scalar(stmt) or 0
