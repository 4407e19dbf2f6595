"""Use cases of the demo world: load it into an empty database, tell whether one is loaded.

The loader writes a generated ``World`` with one bulk insert per table inside the caller's
transaction; ids come back from the inserts and are kept by natural key for the next table.
Timestamps come from the world's dates, so two loads with the same seed hold the same rows.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from medcircle.activity import service as activity_service
from medcircle.activity.models import ActivityImport
from medcircle.agreements.models import (
    AgreementGoal,
    AgreementSpecialty,
    CooperationAgreement,
    FrameworkAgreement,
)
from medcircle.audit import service as audit
from medcircle.audit.domain import mask_national_id
from medcircle.auth.domain import Actor, Permission
from medcircle.auth.models import User, UserRole
from medcircle.auth.security import hash_password
from medcircle.config import Settings
from medcircle.consultations.domain import URGENCY_RANK as CONSULT_URGENCY_RANK
from medcircle.consultations.domain import Clock as ConsultClock
from medcircle.consultations.domain import Status as ConsultStatus
from medcircle.consultations.domain import Urgency as ConsultUrgency
from medcircle.consultations.models import (
    Consultation,
    ConsultationEvent,
    ConsultationMessage,
    ConsultationSpecialty,
    ExpertLeave,
    ExpertSkill,
    OnCallShift,
)
from medcircle.consultations.service import SUBJECT as CONSULT_SUBJECT
from medcircle.consultations.service import (
    TIMER_AT_RISK,
    TIMER_AUTOCLOSE,
    TIMER_MISSED,
)
from medcircle.demo import activity as demo_activity
from medcircle.demo import dispatch as dispatch_setup
from medcircle.demo import pools as pool_history
from medcircle.demo import repository
from medcircle.demo import visits as visit_history
from medcircle.demo.models import DemoWorld
from medcircle.demo.world import DEMO_PASSWORD, DemoReferral, World
from medcircle.kit import clock
from medcircle.kit.crypto import FieldCipher, cipher_for
from medcircle.kit.errors import Conflict, Forbidden
from medcircle.kit.i18n import N_
from medcircle.patients.domain import mask_phone, normalise_national_id
from medcircle.patients.models import Consent, Patient
from medcircle.referrals import savings
from medcircle.referrals.domain import URGENCY_RANK, Status, TimerKind, Urgency
from medcircle.referrals.models import Referral, ReferralEvent
from medcircle.registry.domain import adcode_parts
from medcircle.registry.models import (
    Alliance,
    AllianceCentre,
    AllianceMember,
    Department,
    Institution,
    InstitutionName,
    Practitioner,
)
from medcircle.tasks.models import Timer

ALREADY_LOADED = N_("The demo world is already loaded in this database.")
NOT_EMPTY = N_(
    "This database already holds institutions or user accounts; "
    "the demo world loads only into an empty database."
)
NO_REFERENCE_DATA = N_(
    "Reference data is missing (%(count)s divisions); run \u201cmedcircle db upgrade\u201d first."
)


def stamp(d: date) -> datetime:
    """The instant a dated fact is recorded at: 09:00 China time on that day."""
    return datetime(d.year, d.month, d.day, 1, 0, tzinfo=UTC)


@dataclass
class Keys:
    """Database ids of what has been written so far, by natural key."""

    institutions: dict[str, int] = field(default_factory=dict)
    departments: dict[tuple[str, str], int] = field(default_factory=dict)
    practitioners: dict[str, int] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)
    alliances: dict[str, int] = field(default_factory=dict)
    frameworks: dict[str, int] = field(default_factory=dict)
    agreements: dict[str, int] = field(default_factory=dict)
    patients: dict[str, int] = field(default_factory=dict)
    consents: dict[str, int] = field(default_factory=dict)
    referrals: dict[str, int] = field(default_factory=dict)
    # the deployment's settings: its data key seals the patients' numbers
    settings: Settings | None = None

    def cipher(self) -> FieldCipher:
        assert self.settings is not None
        return cipher_for(self.settings.data_key, self.settings.secret_key)


LoadStep = Callable[[Session, World, Keys], None]


def core_insert(session: Session, model: type[Any], rows: Sequence[dict[str, Any]]) -> None:
    """One Core executemany on the table (the ORM's bulk insert splits rows by which values
    are None, which makes thousands of statements of rows like consultations)."""
    if rows:
        session.execute(insert(model.__table__), list(rows))


def insert_keyed(
    session: Session, model: type[Any], rows: Sequence[dict[str, Any]], key: tuple[str, ...]
) -> list[int]:
    """Insert ``rows`` with one executemany and find their ids by the natural ``key``
    columns (unique among the rows); the new ids in the order of ``rows``.

    ``repository.insert_returning_ids`` is exact on every database but SQLite answers it
    one row at a time; thousands of patients, consents and consultations go this way."""
    wanted = [tuple(r[k] for k in key) for r in rows]
    if len(set(wanted)) != len(wanted):
        return repository.insert_returning_ids(session, model, rows)
    if not rows:
        return []
    id_col = model.__table__.c.id
    before = session.scalar(select(func.max(id_col))) or 0
    core_insert(session, model, rows)
    cols = [model.__table__.c[k] for k in key]
    found = {
        tuple(r[1:]): int(r[0])
        for r in session.execute(select(id_col, *cols).where(id_col > before))
    }
    return [found[k] for k in wanted]


def _institutions(session: Session, world: World, keys: Keys) -> None:
    rows = []
    for i in world.institutions:
        province, city, _ = adcode_parts(i.division_code)
        at = stamp(i.recorded_on)
        rows.append(
            {
                "code": i.code,
                "name_zh": i.name_zh,
                "name_en": i.name_en,
                "level": i.level,
                "grade": i.grade,
                "type": i.type,
                "division_code": i.division_code,
                "province_code": province,
                "city_code": city,
                "latitude": i.latitude,
                "longitude": i.longitude,
                "address": i.address,
                "bed_count": i.bed_count,
                "parent_id": None,
                "is_synthetic": i.is_synthetic,
                "created_at": at,
                "updated_at": at,
                "version": 1,
            }
        )
    ids = repository.insert_returning_ids(session, Institution, rows)
    keys.institutions = {i.code: n for i, n in zip(world.institutions, ids, strict=True)}


def _departments(session: Session, world: World, keys: Keys) -> None:
    rows = [
        {
            "institution_id": keys.institutions[d.institution],
            "specialty_code": d.specialty_code,
            "name_zh": d.name_zh,
            "name_en": d.name_en,
            "bed_count": d.bed_count,
            "is_active": True,
        }
        for d in world.departments
    ]
    ids = repository.insert_returning_ids(session, Department, rows)
    keys.departments = {
        (d.institution, d.specialty_code): n for d, n in zip(world.departments, ids, strict=True)
    }


def _users(session: Session, world: World, keys: Keys) -> None:
    # one hash for the one shared password keeps the load fast
    password_hash = hash_password(DEMO_PASSWORD)
    rows = [
        {
            "username": u.username,
            "display_name": u.display_name,
            "email": None,
            "password_hash": password_hash,
            "institution_id": keys.institutions[u.institution],
            "locale": u.locale,
            "is_active": True,
            "created_at": stamp(u.created_on),
            "password_changed_at": stamp(u.created_on),
            "last_login_at": None,
        }
        for u in world.users
    ]
    ids = repository.insert_returning_ids(session, User, rows)
    keys.users = {u.username: n for u, n in zip(world.users, ids, strict=True)}
    repository.insert_rows(
        session,
        UserRole,
        [{"user_id": keys.users[u.username], "role": r} for u in world.users for r in u.roles],
    )


def _practitioners(session: Session, world: World, keys: Keys) -> None:
    linked = {u.practitioner: keys.users[u.username] for u in world.users if u.practitioner}
    rows = [
        {
            "institution_id": keys.institutions[p.institution],
            "department_id": keys.departments.get((p.institution, p.specialty_code)),
            "user_id": linked.get(p.key),
            "name_zh": p.name_zh,
            "name_en": p.name_en,
            "title": p.title,
            "specialty_code": p.specialty_code,
            "license_no": None,
            "is_active": True,
            "is_synthetic": True,
        }
        for p in world.practitioners
    ]
    ids = repository.insert_returning_ids(session, Practitioner, rows)
    keys.practitioners = {p.key: n for p, n in zip(world.practitioners, ids, strict=True)}


def _alliances(session: Session, world: World, keys: Keys) -> None:
    rows = [
        {
            "code": a.code,
            "name_zh": a.name_zh,
            "name_en": a.name_en,
            "lead_institution_id": keys.institutions[a.lead],
            "founded_on": a.founded_on,
            "description": a.description,
        }
        for a in world.alliances
    ]
    ids = repository.insert_returning_ids(session, Alliance, rows)
    keys.alliances = {a.code: n for a, n in zip(world.alliances, ids, strict=True)}
    repository.insert_rows(
        session,
        AllianceMember,
        [
            {
                "alliance_id": keys.alliances[m.alliance],
                "institution_id": keys.institutions[m.institution],
                "joined_on": m.joined_on,
                "left_on": m.left_on,
            }
            for m in world.members
        ],
    )
    repository.insert_rows(
        session,
        AllianceCentre,
        [
            {
                "alliance_id": keys.alliances[c.alliance],
                "host_institution_id": keys.institutions[c.host],
                "kind": c.kind,
                "name_zh": c.name_zh,
                "name_en": c.name_en,
                "established_on": c.established_on,
            }
            for c in world.centres
        ],
    )


def _agreements(session: Session, world: World, keys: Keys) -> None:
    fw_rows = [
        {
            "code": f.code,
            "title_zh": f.title_zh,
            "title_en": f.title_en,
            "party_a": f.party_a,
            "party_a_division_code": f.party_a_division_code,
            "party_b": f.party_b,
            "party_b_division_code": f.party_b_division_code,
            "signed_on": f.signed_on,
            "starts_on": f.starts_on,
            "ends_on": f.ends_on,
            "summary": f.summary,
            "created_at": stamp(f.signed_on),
            "updated_at": stamp(f.signed_on),
            "version": 1,
        }
        for f in world.frameworks
    ]
    fw_ids = repository.insert_returning_ids(session, FrameworkAgreement, fw_rows)
    keys.frameworks = {f.code: n for f, n in zip(world.frameworks, fw_ids, strict=True)}
    rows = [
        {
            "code": a.code,
            "framework_id": keys.frameworks[a.framework] if a.framework else None,
            "kind": a.kind,
            "supporting_institution_id": keys.institutions[a.supporting],
            "supported_institution_id": keys.institutions[a.supported],
            "title_zh": a.title_zh,
            "title_en": a.title_en,
            "signed_on": a.signed_on,
            "starts_on": a.starts_on,
            "ends_on": a.ends_on,
            "terminated_on": a.terminated_on,
            "licensed_name_zh": a.licensed_name_zh,
            "licensed_name_en": a.licensed_name_en,
            "notes": a.notes,
            "created_at": stamp(a.signed_on),
            "updated_at": stamp(a.terminated_on or a.signed_on),
            "version": 1,
        }
        for a in world.agreements
    ]
    ids = repository.insert_returning_ids(session, CooperationAgreement, rows)
    keys.agreements = {a.code: n for a, n in zip(world.agreements, ids, strict=True)}
    repository.insert_rows(
        session,
        AgreementSpecialty,
        [
            {"agreement_id": keys.agreements[a.code], "specialty_code": s}
            for a in world.agreements
            for s in a.specialties
        ],
    )
    repository.insert_rows(
        session,
        AgreementGoal,
        [
            {
                "agreement_id": keys.agreements[g.agreement],
                "description_zh": g.description_zh,
                "description_en": g.description_en,
                "due_on": g.due_on,
                "status": g.status,
                "progress_note": g.progress_note,
                "achieved_on": g.achieved_on,
                "updated_at": stamp(g.updated_on),
            }
            for g in world.goals
        ],
    )
    repository.insert_rows(
        session,
        InstitutionName,
        [
            {
                "institution_id": keys.institutions[n.institution],
                "name_zh": n.name_zh,
                "name_en": n.name_en,
                "valid_from": n.valid_from,
                "valid_to": n.valid_to,
                "reason": n.reason,
                "agreement_id": keys.agreements[n.agreement] if n.agreement else None,
            }
            for n in world.institution_names
        ],
    )


NATIONAL_ID_KIND = "national_id"
TIMER_SUBJECT = "referral"


def _patients(session: Session, world: World, keys: Keys) -> None:
    cipher = keys.cipher()

    def sealed(value: str | None) -> str | None:
        return cipher.seal(value) if value else None

    rows = []
    for p in world.patients:
        number = normalise_national_id(p.national_id)
        rows.append(
            {
                "institution_id": keys.institutions[p.institution],
                "name": p.name,
                "sex": p.sex,
                "birth_date": p.birth_date,
                "national_id_sealed": cipher.seal(number),
                "national_id_hash": cipher.digest(number, kind=NATIONAL_ID_KIND),
                "national_id_masked": mask_national_id(number),
                "phone_sealed": sealed(p.phone),
                "phone_masked": mask_phone(p.phone) if p.phone else None,
                "residence_division_code": p.residence_division_code,
                "address": None,
                "guardian_name": p.guardian_name,
                "guardian_relation": p.guardian_relation,
                "guardian_phone_sealed": sealed(p.guardian_phone),
                "guardian_phone_masked": mask_phone(p.guardian_phone) if p.guardian_phone else None,
                "email": None,
                "merged_into_id": None,
                "is_synthetic": True,
                "created_at": p.registered_at,
                "updated_at": p.registered_at,
                "version": 1,
            }
        )
    ids = insert_keyed(session, Patient, rows, ("national_id_hash",))
    keys.patients = {p.key: n for p, n in zip(world.patients, ids, strict=True)}
    rows = [
        {
            "patient_id": keys.patients[c.patient],
            "receiving_institution_id": keys.institutions[c.receiving_institution],
            "purpose": c.purpose,
            "given_by": c.given_by,
            "given_by_name": c.given_by_name,
            "given_at": c.given_at,
            "valid_until": c.valid_until,
            "recorded_by_user_id": keys.users[c.recorded_by],
            "recorded_at": c.given_at + timedelta(minutes=2),
            "withdrawn_at": c.withdrawn_at,
            "withdrawn_by_user_id": keys.users[c.withdrawn_by] if c.withdrawn_by else None,
            "withdrawal_reason": c.withdrawal_reason,
            "is_synthetic": True,
        }
        for c in world.consents
    ]
    ids = insert_keyed(
        session, Consent, rows, ("patient_id", "receiving_institution_id", "purpose", "given_at")
    )
    keys.consents = {c.key: n for c, n in zip(world.consents, ids, strict=True)}


def triage_limit(settings: Settings, urgency: str) -> timedelta:
    hours = {
        Urgency.EMERGENCY: settings.triage_hours_emergency,
        Urgency.URGENT: settings.triage_hours_urgent,
        Urgency.ROUTINE: settings.triage_hours_routine,
    }[Urgency(urgency)]
    return timedelta(hours=hours)


def _saving(
    session: Session, r: DemoReferral, row: dict[str, Any], settings: Settings
) -> tuple[float | None, float | None]:
    """The cost the family avoided, as the referral service records it on completion."""
    if r.completed_at is None:
        return None, None
    transient = Referral(
        direction=r.direction,
        local_plan=r.local_plan,
        care_type=r.care_type,
        patient_id=row["patient_id"],
        sender_institution_id=row["sender_institution_id"],
        receiver_institution_id=row["receiver_institution_id"],
    )
    found = savings.saving_for(session, transient, settings)
    return found if found is not None else (None, None)


def _referrals(session: Session, world: World, keys: Keys) -> None:
    settings = keys.settings
    assert settings is not None
    dept = keys.departments
    rows = []
    for r in world.referrals:
        transitions = [e for e in r.events if e.action not in ("create", "return")]
        row: dict[str, Any] = {
            "reference": r.reference,
            "direction": r.direction,
            "status": r.status,
            "urgency": r.urgency,
            "urgency_rank": URGENCY_RANK[Urgency(r.urgency)],
            "care_type": r.care_type,
            "patient_id": keys.patients[r.patient],
            "consent_id": keys.consents[r.consent] if r.consent else None,
            "sender_institution_id": keys.institutions[r.sender],
            "sender_department_id": dept[(r.sender, r.sender_specialty)],
            "sender_user_id": keys.users[r.sender_user],
            "receiver_institution_id": keys.institutions[r.receiver],
            "receiver_department_id": dept[(r.receiver, r.receiver_specialty)],
            "icd10_code": r.icd10_code,
            "diagnosis": r.diagnosis,
            "reason": r.reason,
            "clinical_summary": r.clinical_summary,
            "outside_network": r.outside_network,
            "outside_network_reason": r.outside_network_reason,
            "parent_id": None,
            "redirected_to_id": None,
            "submitted_at": r.submitted_at,
            "triage_due_at": r.submitted_at + triage_limit(settings, r.urgency),
            "escalation_level": 0,
            "triaged_at": r.triaged_at,
            "triaged_by_user_id": keys.users[r.triaged_by] if r.triaged_by else None,
            "decision_reason": r.decision_reason,
            "appointment_at": r.appointment_at,
            "appointment_place": r.appointment_place,
            "what_to_bring": r.what_to_bring,
            "arrived_at": r.arrived_at,
            "completed_at": r.completed_at,
            "outcome_summary": r.outcome_summary,
            "local_plan": r.local_plan,
            "closed_at": r.closed_at,
            "cancel_reason": r.cancel_reason,
            "is_synthetic": True,
            "created_at": r.created_at,
            "updated_at": r.updated_at,
            # one update of the row per transition after the first submission
            "version": max(1, len(transitions)),
        }
        row["saving_yuan"], row["saving_distance_km"] = _saving(session, r, row, settings)
        rows.append(row)
    ids = repository.insert_returning_ids(session, Referral, rows)
    keys.referrals = {r.reference: n for r, n in zip(world.referrals, ids, strict=True)}
    links = [
        {
            "id": keys.referrals[r.reference],
            "parent_id": keys.referrals[r.parent] if r.parent else None,
            "redirected_to_id": keys.referrals[r.redirected_to] if r.redirected_to else None,
        }
        for r in world.referrals
        if r.parent or r.redirected_to
    ]
    repository.update_rows(session, Referral, links)
    by_reference = {r.reference: r for r in world.referrals}
    events = []
    for r in world.referrals:
        for e in r.events:
            detail: dict[str, Any] = dict(e.detail)
            if e.action == "return":
                detail["referral_id"] = keys.referrals[str(detail["reference"])]
            if e.action == "redirect" and "redirected_to" in detail:
                new = by_reference[str(detail["redirected_to"])]
                detail["receiver_department_id"] = dept[(new.receiver, new.receiver_specialty)]
            events.append(
                {
                    "referral_id": keys.referrals[r.reference],
                    "at": e.at,
                    "action": e.action,
                    "from_status": e.from_status,
                    "to_status": e.to_status,
                    "actor_user_id": keys.users[e.actor] if e.actor else None,
                    "actor_institution_id": keys.institutions[e.actor_institution]
                    if e.actor_institution
                    else None,
                    "note": e.note,
                    "detail": detail,
                }
            )
    repository.insert_rows(session, ReferralEvent, events)
    repository.insert_rows(session, Timer, _timers(world, keys, settings))


def _timers(world: World, keys: Keys, settings: Settings) -> list[dict[str, Any]]:
    """The timers the open referrals keep running, as the referral service starts them."""
    rows = []
    for r in world.referrals:
        base = {
            "subject_type": TIMER_SUBJECT,
            "subject_id": keys.referrals[r.reference],
            "attempts": 0,
            "claimed_until": None,
            "claimed_by": None,
            "done_at": None,
            "outcome": None,
            "last_error": None,
        }
        if r.status == Status.SUBMITTED:
            limit = triage_limit(settings, r.urgency)
            rows.append(
                base
                | {
                    "kind": TimerKind.TRIAGE_OVERDUE.value,
                    "due_at": r.submitted_at + limit,
                    "payload": {"step": 1, "limit_seconds": limit.total_seconds()},
                    "created_at": r.submitted_at,
                }
            )
        elif r.status == Status.SCHEDULED:
            assert r.appointment_at is not None
            scheduled = [e.at for e in r.events if e.to_status == Status.SCHEDULED]
            rows.append(
                base
                | {
                    "kind": TimerKind.APPOINTMENT_PASSED.value,
                    "due_at": r.appointment_at + timedelta(hours=settings.appointment_grace_hours),
                    "payload": {"appointment_at": r.appointment_at.isoformat()},
                    "created_at": scheduled[-1],
                }
            )
    return rows


def _consultations(session: Session, world: World, keys: Keys) -> None:
    """The on-call rotas, leave and skills, and the consultations with their histories and
    threads (patients and their consent were written with the others)."""
    users, inst = keys.users, keys.institutions
    core_insert(
        session,
        OnCallShift,
        [
            {
                "institution_id": inst[s.institution],
                "specialty_code": s.specialty_code,
                "user_id": users[s.user],
                "starts_at": s.starts_at,
                "ends_at": s.ends_at,
                "role": s.role,
                "created_by_user_id": users[s.created_by] if s.created_by else None,
                "created_at": s.created_at,
                "is_synthetic": True,
            }
            for s in world.shifts
        ],
    )
    core_insert(
        session,
        ExpertLeave,
        [
            {
                "user_id": users[lv.user],
                "starts_at": lv.starts_at,
                "ends_at": lv.ends_at,
                "reason": lv.reason,
                "created_by_user_id": users[lv.created_by] if lv.created_by else None,
                "created_at": lv.created_at,
            }
            for lv in world.leaves
        ],
    )
    core_insert(
        session,
        ExpertSkill,
        [{"user_id": users[k.user], "icd10_prefix": k.icd10_prefix} for k in world.skills],
    )
    rows = []
    for c in world.consultations:
        rows.append(
            {
                "reference": c.reference,
                "status": c.status,
                "mode": c.mode,
                "urgency": c.urgency,
                "urgency_rank": CONSULT_URGENCY_RANK[ConsultUrgency(c.urgency)],
                "patient_id": keys.patients[c.patient],
                "consent_id": keys.consents[c.consent] if c.consent else None,
                "asker_institution_id": inst[c.asker],
                "asker_department_id": keys.departments.get((c.asker, c.asker_specialty or "")),
                "asker_user_id": users[c.asker_user],
                "answer_institution_id": inst[c.answer],
                "specialty_code": c.specialty_code,
                "agreement_id": keys.agreements[c.agreement] if c.agreement else None,
                "assignee_user_id": users[c.assignee] if c.assignee else None,
                "question": c.question,
                "clinical_summary": c.clinical_summary,
                "icd10_code": c.icd10_code,
                "diagnosis": c.diagnosis,
                "asked_at": c.asked_at,
                "target_minutes": c.target_minutes,
                "paused_seconds": c.paused_seconds,
                "paused_since": c.paused_since,
                "due_at": c.due_at,
                "escalation_level": c.escalation_level,
                "route_reason": c.route_reason,
                "first_answered_at": c.first_answered_at,
                "first_answer_seconds": c.first_answer_seconds,
                "within_target": c.within_target,
                "assessment": c.assessment,
                "recommendations": c.recommendations,
                "needs_visit": c.needs_visit,
                "follow_up": c.follow_up,
                "opinion_by_user_id": users[c.opinion_by] if c.opinion_by else None,
                "answered_at": c.answered_at,
                "helpful": c.helpful,
                "referral_avoided": c.referral_avoided,
                "rated_at": c.rated_at,
                "closed_at": c.closed_at,
                "cancel_reason": None,
                "referral_id": None,
                "is_difficult": c.is_difficult,
                "is_synthetic": True,
                "created_at": c.created_at,
                "updated_at": c.updated_at,
                "version": c.version,
            }
        )
    ids = insert_keyed(session, Consultation, rows, ("reference",))
    by_ref = {c.reference: n for c, n in zip(world.consultations, ids, strict=True)}
    core_insert(session, Timer, _consult_timers(world, by_ref, settings_of_load(keys)))
    core_insert(
        session,
        ConsultationSpecialty,
        [
            {"consultation_id": by_ref[c.reference], "specialty_code": s}
            for c in world.consultations
            for s in c.other_specialties
        ],
    )
    core_insert(
        session,
        ConsultationEvent,
        [
            {
                "consultation_id": by_ref[c.reference],
                "at": e.at,
                "action": e.action,
                "from_status": e.from_status,
                "to_status": e.to_status,
                "actor_user_id": users[e.actor] if e.actor else None,
                "actor_institution_id": inst[e.actor_institution] if e.actor_institution else None,
                "note": e.note,
                "detail": dict(e.detail),
            }
            for c in world.consultations
            for e in c.events
        ],
    )
    core_insert(
        session,
        ConsultationMessage,
        [
            {
                "consultation_id": by_ref[c.reference],
                "at": m.at,
                "kind": m.kind,
                "author_user_id": users[m.author],
                "author_institution_id": inst[m.author_institution],
                "body": m.body,
            }
            for c in world.consultations
            for m in c.messages
        ],
    )


def settings_of_load(keys: Keys) -> Settings:
    assert keys.settings is not None
    return keys.settings


def _consult_timers(world: World, ids: dict[str, int], settings: Settings) -> list[dict[str, Any]]:
    """The timers the open and answered consultations keep, as the consultation service
    starts them: at risk and missed for a running clock, the auto-close of an answered case."""
    rows = []
    for c in world.consultations:
        base = {
            "subject_type": CONSULT_SUBJECT,
            "subject_id": ids[c.reference],
            "attempts": 0,
            "claimed_until": None,
            "claimed_by": None,
            "done_at": None,
            "outcome": None,
            "last_error": None,
            "created_at": c.updated_at,
        }
        if c.status in (ConsultStatus.POOL, ConsultStatus.ASSIGNED) and c.paused_since is None:
            running = ConsultClock(
                c.asked_at, timedelta(minutes=c.target_minutes), c.paused_seconds
            )
            due, at_risk = running.due_at(), running.at_risk_at()
            assert due is not None and at_risk is not None
            payload = {"due_at": due.isoformat()}
            rows.append(base | {"kind": TIMER_AT_RISK, "due_at": at_risk, "payload": payload})
            rows.append(base | {"kind": TIMER_MISSED, "due_at": due, "payload": payload})
        elif c.status == ConsultStatus.ANSWERED and c.answered_at is not None:
            rows.append(
                base
                | {
                    "kind": TIMER_AUTOCLOSE,
                    "due_at": c.answered_at + timedelta(days=settings.consult_autoclose_days),
                    "payload": {"answered_at": c.answered_at.isoformat()},
                }
            )
    return rows


# The tables in the order their foreign keys need; later parts append their writers.
LOAD_STEPS: tuple[tuple[str, LoadStep], ...] = (
    ("institutions", _institutions),
    ("departments", _departments),
    ("users", _users),
    ("practitioners", _practitioners),
    ("alliances", _alliances),
    ("agreements", _agreements),
    ("patients", _patients),
    ("referrals", _referrals),
    ("consultations", _consultations),
    ("visits", visit_history.load),
    ("dispatch", dispatch_setup.load),
    ("pools", pool_history.load),
)


@dataclass(frozen=True)
class LoadResult:
    world_id: int
    seed: int
    counts: dict[str, int]


def is_demo(session: Session) -> bool:
    """Whether this deployment runs the demo world (pages show a banner when it does)."""
    return repository.has_world(session)


def load_world(
    session: Session,
    actor: Actor,
    world: World,
    settings: Settings,
    *,
    on_step: Callable[[str], None] | None = None,
) -> LoadResult:
    """Write ``world`` into an empty database (platform admins only) and mark it a demo.

    Refuses a database that already holds a demo world or any institution or account, so
    real data is never mixed with synthetic people. The patients' numbers are sealed with
    the data key of ``settings``; the referral timers follow its triage limits.
    """
    if not (actor.can(Permission.REGISTRY_MANAGE_ALL) and actor.can(Permission.USER_MANAGE_ALL)):
        raise Forbidden()
    if repository.has_world(session):
        raise Conflict(ALREADY_LOADED, code="demo_already_loaded")
    if repository.has_other_data(session):
        raise Conflict(NOT_EMPTY, code="database_not_empty")
    wanted = {i.division_code for i in world.institutions}
    wanted |= {f.party_a_division_code for f in world.frameworks}
    wanted |= {f.party_b_division_code for f in world.frameworks}
    wanted |= {p.residence_division_code for p in world.patients}
    missing = repository.missing_divisions(session, wanted)
    if missing:
        raise Conflict(NO_REFERENCE_DATA, code="reference_data_missing", count=len(missing))
    keys = Keys(settings=settings)
    for label, step in LOAD_STEPS:
        step(session, world, keys)
        session.flush()
        if on_step is not None:
            on_step(label)
    record = repository.add_world_record(
        session,
        DemoWorld(seed=world.seed, generator_version=world.version, loaded_at=clock.now()),
    )
    counts = world.counts()
    audit.record(
        session,
        actor,
        "demo.load",
        object_type="demo_world",
        object_id=record.id,
        detail={
            "seed": world.seed,
            "generator_version": world.version,
            "as_of": world.as_of.isoformat(),
            "counts": counts,
        },
    )
    return LoadResult(world_id=record.id, seed=world.seed, counts=counts)


def load_activity(
    session: Session,
    actor: Actor,
    seed: int,
    files: Sequence[demo_activity.ActivityFile],
    *,
    today: date,
    on_rows: Callable[[int], None] | None = None,
) -> list[ActivityImport]:
    """Import the demo hospitals' activity files through the import itself, as the hospitals'
    offices would upload them: each file written out, checked row by row, merged into the
    records and the monthly summary, and kept in the import history.

    ``on_rows`` is told of the rows read as they are (over all the files, a progress bar)."""
    done: list[ActivityImport] = []
    before = 0

    def tell(n: int) -> None:
        if on_rows is not None:
            on_rows(before + n)

    for f in files:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f.name
            with path.open("w", encoding="utf-8", newline="") as out:
                demo_activity.write_csv(seed, f, out)
            found = activity_service.import_file(
                session,
                actor,
                path,
                institution=f.institution,
                today=today,
                on_rows=tell,
            )
        if found.status != activity_service.ImportStatus.IMPORTED.value:
            raise RuntimeError(f"demo activity {f.name} was refused: {found.report[:3]}")
        before += found.rows_read
        done.append(found)
    return done


def current_world(session: Session) -> DemoWorld | None:
    """The record of the loaded demo world (seed, generator version, when), or None."""
    return repository.latest_world(session)


@dataclass(frozen=True)
class DemoLogin:
    username: str
    roles: tuple[str, ...]
    institution_code: str
    institution_name_zh: str
    institution_name_en: str
    locale: str


def demo_logins(session: Session, world: World) -> list[DemoLogin]:
    """The demo logins of ``world`` as they stand in the database (the listed accounts)."""
    found = repository.users_with_institutions(
        session, [u.username for u in world.users if u.listed]
    )
    return [
        DemoLogin(
            username=user.username,
            roles=tuple(roles),
            institution_code=inst.code,
            institution_name_zh=inst.name_zh,
            institution_name_en=inst.name_en,
            locale=user.locale,
        )
        for user, inst, roles in found
    ]


def content_digest(session: Session) -> str:
    """A SHA-256 of what the demo wrote, by content (ids and password hashes left out)."""
    text = json.dumps(repository.snapshot(session), sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()
