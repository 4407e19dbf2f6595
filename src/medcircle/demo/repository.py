"""Queries of the demo world: is it there, bulk inserts, and a snapshot of what was loaded."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from medcircle.agreements.models import (
    AgreementGoal,
    AgreementSpecialty,
    CooperationAgreement,
    FrameworkAgreement,
)
from medcircle.auth.models import User, UserRole
from medcircle.consultations.models import (
    Consultation,
    ConsultationEvent,
    ConsultationMessage,
    ConsultationSpecialty,
    ExpertLeave,
    ExpertSkill,
    OnCallShift,
)
from medcircle.db import Base
from medcircle.demo.models import DemoWorld
from medcircle.dispatch.models import (
    DispatchDemand,
    DispatchSkill,
    ExpertDuty,
    ExpertProfile,
    TravelTime,
)
from medcircle.patients.models import Consent, Patient
from medcircle.pools.models import (
    Admission,
    AllocationDecision,
    Offer,
    PoolMember,
    ResourcePool,
    ResourceUnit,
    UnitEvent,
    WaitlistEntry,
)
from medcircle.referrals.models import Referral, ReferralEvent
from medcircle.registry.models import (
    Alliance,
    AllianceCentre,
    AllianceMember,
    Department,
    Division,
    Institution,
    InstitutionName,
    Practitioner,
)
from medcircle.tasks.models import Timer


def latest_world(session: Session) -> DemoWorld | None:
    """The demo world record of this database, if one was loaded."""
    return session.scalar(select(DemoWorld).order_by(DemoWorld.id.desc()).limit(1))


def has_world(session: Session) -> bool:
    return session.scalar(select(DemoWorld.id).limit(1)) is not None


def has_other_data(session: Session) -> bool:
    """Whether institutions or accounts exist (reference data does not count)."""
    if session.scalar(select(Institution.id).limit(1)) is not None:
        return True
    return session.scalar(select(User.id).limit(1)) is not None


def missing_divisions(session: Session, codes: Iterable[str]) -> set[str]:
    wanted = set(codes)
    found = set(session.scalars(select(Division.code).where(Division.code.in_(wanted))))
    return wanted - found


def insert_returning_ids(
    session: Session, model: type[Base], rows: Sequence[dict[str, Any]]
) -> list[int]:
    """Insert ``rows`` in one statement; the new ids in the order of ``rows``."""
    if not rows:
        return []
    id_column = model.__table__.c.id
    stmt = insert(model).returning(id_column, sort_by_parameter_order=True)
    return list(session.scalars(stmt, list(rows)))


def insert_rows(session: Session, model: type[Base], rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(model), list(rows))


def update_rows(session: Session, model: type[Base], rows: Sequence[dict[str, Any]]) -> None:
    """Update rows by id (each dict holds ``id`` and the new values; all the same keys),
    on the table itself: no version check, the rows were written in this transaction."""
    if not rows:
        return
    table = cast(Table, model.__table__)
    names = [k for k in rows[0] if k != "id"]
    stmt = (
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values({n: bindparam(f"new_{n}") for n in names})
    )
    params = [{"row_id": r["id"]} | {f"new_{n}": r[n] for n in names} for r in rows]
    session.connection().execute(stmt, params)


def add_world_record(session: Session, record: DemoWorld) -> DemoWorld:
    session.add(record)
    session.flush()
    return record


def users_with_institutions(
    session: Session, usernames: Sequence[str]
) -> list[tuple[User, Institution, list[str]]]:
    """The named accounts with their institution and roles, in the order given."""
    rows = session.execute(
        select(User, Institution)
        .join(Institution, Institution.id == User.institution_id)
        .where(User.username.in_(usernames))
    ).all()
    roles: dict[int, list[str]] = {}
    ids = [u.id for u, _ in rows]
    for user_id, role in session.execute(
        select(UserRole.user_id, UserRole.role)
        .where(UserRole.user_id.in_(ids))
        .order_by(UserRole.role)
    ):
        roles.setdefault(user_id, []).append(role)
    by_name = {u.username: (u, inst, roles.get(u.id, [])) for u, inst in rows}
    return [by_name[n] for n in usernames if n in by_name]


def _key_map(
    session: Session, id_column: InstrumentedAttribute[int], key_column: InstrumentedAttribute[str]
) -> dict[int, str]:
    return {row_id: key for row_id, key in session.execute(select(id_column, key_column))}


def snapshot(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """The content of every table the demo writes, with ids replaced by natural keys.

    Generated ids depend on the database's sequences, so two loads are compared by content.
    Password hashes are left out: each load salts them afresh.
    """
    inst = _key_map(session, Institution.id, Institution.code)
    fw = _key_map(session, FrameworkAgreement.id, FrameworkAgreement.code)
    ag = _key_map(session, CooperationAgreement.id, CooperationAgreement.code)
    al = _key_map(session, Alliance.id, Alliance.code)
    users = _key_map(session, User.id, User.username)
    dept = {
        d_id: (inst[i_id], spec)
        for d_id, i_id, spec in session.execute(
            select(Department.id, Department.institution_id, Department.specialty_code)
        )
    }

    def rows(model: type[Base], exclude: frozenset[str], **fks: dict[int, Any]) -> list[Any]:
        table = model.__table__
        cols = [c for c in table.c if c.name not in exclude and c.name != "id"]
        out = []
        for r in session.execute(select(*cols)):
            values: list[Any] = []
            for c, v in zip(cols, r, strict=True):
                keys = fks.get(c.name)
                values.append(keys.get(v, v) if keys is not None and isinstance(v, int) else v)
            out.append(tuple(values))
        return sorted(out, key=repr)

    patients = {
        p_id: digest or f"patient {p_id}"
        for p_id, digest in session.execute(select(Patient.id, Patient.national_id_hash))
    }
    referrals = _key_map(session, Referral.id, Referral.reference)
    consents = {
        c_id: (patients[p_id], inst[r_id], given.isoformat())
        for c_id, p_id, r_id, given in session.execute(
            select(
                Consent.id, Consent.patient_id, Consent.receiving_institution_id, Consent.given_at
            )
        )
    }
    consultations = _key_map(session, Consultation.id, Consultation.reference)
    pools = _key_map(session, ResourcePool.id, ResourcePool.code)
    units = _key_map(session, ResourceUnit.id, ResourceUnit.code)
    # an entry by its patient, a decision by its unit and time, an offer by its unit and time
    entries = {
        e_id: patients[p_id]
        for e_id, p_id in session.execute(select(WaitlistEntry.id, WaitlistEntry.patient_id))
    }
    decisions = {
        d_id: (units[u_id], at.isoformat())
        for d_id, u_id, at in session.execute(
            select(AllocationDecision.id, AllocationDecision.unit_id, AllocationDecision.at)
        )
    }
    offers = {
        o_id: (units[u_id], at.isoformat())
        for o_id, u_id, at in session.execute(select(Offer.id, Offer.unit_id, Offer.offered_at))
    }
    # timers name their subject by type and id: ids of either kind, replaced by references
    subjects: dict[str, dict[int, Any]] = {
        "referral": referrals,
        "consultation": consultations,
        "unit_offer": offers,
    }
    timers: list[Any] = []
    for t in session.execute(
        select(
            Timer.kind,
            Timer.subject_type,
            Timer.subject_id,
            Timer.due_at,
            Timer.payload,
            Timer.created_at,
            Timer.done_at,
            Timer.outcome,
        )
    ):
        subject: Any = subjects.get(t.subject_type, {}).get(t.subject_id, t.subject_id)
        timers.append((t.kind, t.subject_type, subject, *t[3:]))
    timers.sort(key=repr)
    none: frozenset[str] = frozenset()
    # sealed values differ at every load (random nonces): their hashes and masks stand for them
    sealed = frozenset({"national_id_sealed", "phone_sealed", "guardian_phone_sealed"})
    # the candidates of a decision name entries and institutions by id
    decision_rows = rows(
        AllocationDecision,
        frozenset({"candidates"}),
        pool_id=pools,
        unit_id=units,
        chosen_entry_id=entries,
        decided_by_user_id=users,
    )
    candidates: list[tuple[str, str, tuple[Any, ...]]] = []
    for row in session.execute(select(AllocationDecision.id, AllocationDecision.candidates)):
        d_id: int = row[0]
        ranked: list[dict[str, Any]] = row[1]
        named = tuple(
            (entries.get(c["entry_id"]), inst.get(c["listing_institution_id"]), c["urgency"])
            for c in ranked
        )
        candidates.append((*decisions[d_id], named))
    candidates.sort(key=repr)
    return {
        "resource_pool": rows(ResourcePool, none, lead_institution_id=inst),
        "pool_member": rows(PoolMember, none, pool_id=pools, institution_id=inst),
        "resource_unit": rows(ResourceUnit, none, pool_id=pools, institution_id=inst),
        "unit_event": rows(UnitEvent, none, unit_id=units, by_user_id=users),
        "waitlist_entry": rows(
            WaitlistEntry,
            frozenset({"acceptable_institution_ids"}),
            pool_id=pools,
            patient_id=patients,
            listing_institution_id=inst,
            listed_by_user_id=users,
        ),
        "allocation_decision": decision_rows,
        "allocation_candidates": candidates,
        "unit_offer": rows(
            Offer,
            none,
            pool_id=pools,
            unit_id=units,
            entry_id=entries,
            decision_id=decisions,
            responded_by_user_id=users,
        ),
        "unit_admission": rows(
            Admission,
            none,
            pool_id=pools,
            unit_id=units,
            entry_id=entries,
            patient_id=patients,
            offer_id=offers,
        ),
        "patient": rows(Patient, sealed, institution_id=inst, merged_into_id=patients),
        "consent": rows(
            Consent,
            none,
            patient_id=patients,
            receiving_institution_id=inst,
            recorded_by_user_id=users,
            withdrawn_by_user_id=users,
        ),
        "referral": rows(
            Referral,
            none,
            patient_id=patients,
            consent_id=consents,
            sender_institution_id=inst,
            receiver_institution_id=inst,
            sender_department_id=dept,
            receiver_department_id=dept,
            sender_user_id=users,
            triaged_by_user_id=users,
            parent_id=referrals,
            redirected_to_id=referrals,
        ),
        "referral_event": rows(
            ReferralEvent,
            frozenset({"detail"}),
            referral_id=referrals,
            actor_user_id=users,
            actor_institution_id=inst,
        ),
        "timer": timers,
        "oncall_shift": rows(
            OnCallShift, none, institution_id=inst, user_id=users, created_by_user_id=users
        ),
        "expert_leave": rows(ExpertLeave, none, user_id=users, created_by_user_id=users),
        "expert_skill": rows(ExpertSkill, none, user_id=users),
        "consultation": rows(
            Consultation,
            none,
            patient_id=patients,
            consent_id=consents,
            asker_institution_id=inst,
            asker_department_id=dept,
            asker_user_id=users,
            answer_institution_id=inst,
            agreement_id=ag,
            assignee_user_id=users,
            opinion_by_user_id=users,
            referral_id=referrals,
        ),
        "consultation_specialty": rows(ConsultationSpecialty, none, consultation_id=consultations),
        "consultation_event": rows(
            ConsultationEvent,
            none,
            consultation_id=consultations,
            actor_user_id=users,
            actor_institution_id=inst,
        ),
        "consultation_message": rows(
            ConsultationMessage,
            none,
            consultation_id=consultations,
            author_user_id=users,
            author_institution_id=inst,
        ),
        "institution": rows(Institution, none, parent_id=inst),
        "institution_name": rows(InstitutionName, none, institution_id=inst, agreement_id=ag),
        "department": rows(Department, none, institution_id=inst),
        "practitioner": rows(
            Practitioner,
            none,
            institution_id=inst,
            department_id=dept,
            user_id=users,
        ),
        "user_account": rows(User, frozenset({"password_hash"}), institution_id=inst),
        "user_role": rows(UserRole, none, user_id=users),
        "alliance": rows(Alliance, none, lead_institution_id=inst),
        "alliance_member": rows(AllianceMember, none, alliance_id=al, institution_id=inst),
        "alliance_centre": rows(AllianceCentre, none, alliance_id=al, host_institution_id=inst),
        "framework_agreement": rows(FrameworkAgreement, none),
        "cooperation_agreement": rows(
            CooperationAgreement,
            none,
            framework_id=fw,
            supporting_institution_id=inst,
            supported_institution_id=inst,
        ),
        "agreement_specialty": rows(AgreementSpecialty, none, agreement_id=ag),
        "agreement_goal": rows(AgreementGoal, none, agreement_id=ag),
        "demo_world": rows(DemoWorld, frozenset({"loaded_at"})),
        "dispatch_expert": rows(ExpertProfile, none, user_id=users),
        "dispatch_skill": rows(DispatchSkill, none, user_id=users),
        "dispatch_duty": rows(ExpertDuty, none, user_id=users),
        "dispatch_demand": rows(
            DispatchDemand,
            none,
            agreement_id=ag,
            site_institution_id=inst,
            supporting_institution_id=inst,
            department_id=dept,
            decided_by_user_id=users,
            created_by_user_id=users,
        ),
        "dispatch_travel": rows(
            TravelTime,
            none,
            origin_institution_id=inst,
            destination_institution_id=inst,
            set_by_user_id=users,
        ),
    }
