"""Builders of patients, consent and referrals, written straight to the database.

``referral_world`` extends the small world (tests.factories) into a care circle:
departments on both sides, a pairing BJ-A supports BD-A, an alliance led by BD-A with BD-B as
member, and staff on the Beijing side (the small world's clinician and institution admin work
at BD-A, a Baoding hospital).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from medcircle.auth.domain import Role
from medcircle.auth.models import User
from medcircle.kit.crypto import FieldCipher, cipher_for
from medcircle.patients.models import Consent, Patient
from medcircle.referrals.domain import URGENCY_RANK, Direction, Status, Urgency
from medcircle.referrals.models import Referral, ReferralEvent
from medcircle.registry.models import Department, Institution
from tests import agreement_factories, registry_factories
from tests.factories import World, api_token, now, user

TEST_SECRET = "test-secret-key-0123456789-abcdefghijklmnop"
_seq = itertools.count(1)

# valid 18-digit national ID numbers (GB 11643 checksum): Baoding-born child, adult
CHILD_ID = "130602201505120012"
ADULT_ID = "11010519491231002X"


def test_cipher() -> FieldCipher:
    """The cipher of the test settings (``conftest.settings`` uses the same secret key)."""
    return cipher_for(None, TEST_SECRET)


@dataclass
class CircleWorld:
    base: World
    bj_paeds: Department
    bj_cardio: Department
    bj2_paeds: Department
    bd_paeds: Department
    bd2_paeds: Department
    # Beijing-side staff (base.users has one user per role, clinician and admin at BD-A)
    bj_clinician: User
    bj_admin: User
    bd2_clinician: User
    tokens: dict[str, str] = field(default_factory=dict)

    def auth_user(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}


def referral_world(session: Session, base: World) -> CircleWorld:
    bj, bj2, bd, bd2 = base.beijing, base.beijing2, base.baoding, base.baoding2
    dept = registry_factories.department

    def paeds(inst: Institution) -> Department:
        return dept(
            session, inst, "ped_cardiology", name_zh="小儿心脏科", name_en="Paediatric cardiology"
        )

    w = CircleWorld(
        base=base,
        bj_paeds=paeds(bj),
        bj_cardio=dept(session, bj, "cardiology", name_zh="心内科", name_en="Cardiology"),
        bj2_paeds=paeds(bj2),
        bd_paeds=paeds(bd),
        bd2_paeds=paeds(bd2),
        bj_clinician=user(session, bj, Role.CLINICIAN, username="bjclinician"),
        bj_admin=user(session, bj, Role.INSTITUTION_ADMIN, username="bjadmin"),
        bd2_clinician=user(session, bd2, Role.CLINICIAN, username="bd2clinician"),
    )
    for u in (w.bj_clinician, w.bj_admin, w.bd2_clinician):
        w.tokens[u.username] = api_token(session, u)
    for role, u in base.users.items():
        w.tokens[u.username] = base.tokens[role]
    agreement_factories.agreement(
        session,
        bj,
        bd,
        starts_on=date(2017, 1, 1),
        ends_on=date(2030, 12, 31),
        specialties=("ped_cardiology", "cardiology"),
    )
    alliance = registry_factories.alliance(session, bd, founded_on=date(2017, 1, 1))
    registry_factories.member(session, alliance, bd2, joined_on=date(2017, 6, 1))
    return w


def patient(
    session: Session,
    inst: Institution,
    *,
    national_id: str | None = CHILD_ID,
    phone: str | None = "13800138000",
    cipher: FieldCipher | None = None,
    **kw: Any,
) -> Patient:
    from medcircle.audit.domain import mask_national_id

    c = cipher or test_cipher()
    n = next(_seq)
    values: dict[str, Any] = {
        "institution_id": inst.id,
        "name": f"患者{n}",
        "sex": "male",
        "birth_date": date(2015, 5, 12),
        "national_id_sealed": c.seal(national_id) if national_id else None,
        "national_id_hash": c.digest(national_id, kind="national_id") if national_id else None,
        "national_id_masked": mask_national_id(national_id) if national_id else None,
        "phone_sealed": c.seal(phone) if phone else None,
        "phone_masked": (phone[:3] + "****" + phone[-4:]) if phone else None,
        "residence_division_code": inst.division_code,
        "guardian_name": "家长",
        "guardian_relation": "mother",
        "created_at": now(),
        "updated_at": now(),
    }
    values.update(kw)
    p = Patient(**values)
    session.add(p)
    session.flush()
    return p


def consent(
    session: Session,
    p: Patient,
    receiver: Institution,
    recorded_by: User,
    *,
    purpose: str = "referral",
    **kw: Any,
) -> Consent:
    values: dict[str, Any] = {
        "patient_id": p.id,
        "receiving_institution_id": receiver.id,
        "purpose": purpose,
        "given_by": "guardian",
        "given_by_name": "家长",
        "given_at": now() - timedelta(minutes=5),
        "valid_until": None,
        "recorded_by_user_id": recorded_by.id,
        "recorded_at": now(),
    }
    values.update(kw)
    c = Consent(**values)
    session.add(c)
    session.flush()
    return c


def referral(
    session: Session,
    p: Patient,
    sender: User,
    receiver_department: Department,
    *,
    status: Status = Status.SUBMITTED,
    direction: Direction = Direction.UP,
    urgency: Urgency = Urgency.ROUTINE,
    submitted_at: datetime | None = None,
    **kw: Any,
) -> Referral:
    n = next(_seq)
    at = submitted_at or now()
    values: dict[str, Any] = {
        "reference": f"T-{n:08d}",
        "direction": direction.value,
        "status": status.value,
        "urgency": urgency.value,
        "urgency_rank": URGENCY_RANK[urgency],
        "care_type": "outpatient",
        "patient_id": p.id,
        "sender_institution_id": sender.institution_id,
        "sender_user_id": sender.id,
        "receiver_institution_id": receiver_department.institution_id,
        "receiver_department_id": receiver_department.id,
        "icd10_code": "Q21.0",
        "diagnosis": "Ventricular septal defect",
        "reason": "Surgical assessment",
        "clinical_summary": "Murmur since birth; echo shows VSD.",
        "submitted_at": None if status == Status.DRAFT else at,
        "created_at": at,
        "updated_at": at,
    }
    values.update(kw)
    r = Referral(**values)
    session.add(r)
    session.flush()
    session.add(
        ReferralEvent(
            referral_id=r.id,
            at=at,
            action="submit",
            from_status=Status.DRAFT.value,
            to_status=status.value,
            actor_user_id=sender.id,
            actor_institution_id=sender.institution_id,
            detail={},
        )
    )
    session.flush()
    return r


def kept_local(
    session: Session,
    circle: CircleWorld,
    p: Patient,
    *,
    submitted_at: datetime,
    yuan: float,
    up_from: User | None = None,
    to: Department | None = None,
) -> Referral:
    """A completed referral that kept care local, its family's costs avoided estimated at
    ``yuan``: one up from ``up_from`` answered with a local plan (to Beijing A's paediatrics by
    default), else one down from Beijing A (to Baoding A's paediatrics by default)."""
    if up_from is not None:
        sender, dept, direction = up_from, to or circle.bj_paeds, Direction.UP
    else:
        sender, dept, direction = circle.bj_clinician, to or circle.bd_paeds, Direction.DOWN
    return referral(
        session,
        p,
        sender,
        dept,
        direction=direction,
        status=Status.COMPLETED,
        submitted_at=submitted_at,
        local_plan=direction is Direction.UP,
        saving_yuan=yuan,
    )
