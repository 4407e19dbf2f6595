"""Builders of agreements test data, written straight to the database."""

from __future__ import annotations

import itertools
from datetime import date

from sqlalchemy.orm import Session

from medcircle.agreements.models import (
    AgreementGoal,
    AgreementSpecialty,
    CooperationAgreement,
    FrameworkAgreement,
)
from medcircle.registry.models import Institution
from tests.factories import now

_seq = itertools.count(1)


def framework(session: Session, **kw: object) -> FrameworkAgreement:
    n = next(_seq)
    values: dict[str, object] = {
        "code": f"FW-T{n:03d}",
        "title_zh": f"京保合作框架协议{n}",
        "title_en": f"Beijing–Baoding framework agreement {n}",
        "party_a": "北京市卫生健康委员会",
        "party_a_division_code": "110000",
        "party_b": "保定市人民政府",
        "party_b_division_code": "130600",
        "signed_on": date(2017, 3, 1),
        "starts_on": date(2017, 4, 1),
        "ends_on": None,
        "created_at": now(),
        "updated_at": now(),
    }
    values.update(kw)
    fw = FrameworkAgreement(**values)
    session.add(fw)
    session.flush()
    return fw


def agreement(
    session: Session,
    supporting: Institution,
    supported: Institution,
    *,
    kind: str = "specialty_support",
    starts_on: date = date(2024, 1, 1),
    ends_on: date = date(2027, 1, 1),
    specialties: tuple[str, ...] = ("neonatology", "ped_surgery"),
    **kw: object,
) -> CooperationAgreement:
    n = next(_seq)
    values: dict[str, object] = {
        "code": f"CA-T{n:03d}",
        "kind": kind,
        "supporting_institution_id": supporting.id,
        "supported_institution_id": supported.id,
        "title_zh": f"合作协议{n}",
        "title_en": f"Cooperation agreement {n}",
        "starts_on": starts_on,
        "ends_on": ends_on,
        "created_at": now(),
        "updated_at": now(),
    }
    values.update(kw)
    a = CooperationAgreement(**values)
    session.add(a)
    session.flush()
    session.add_all(AgreementSpecialty(agreement_id=a.id, specialty_code=c) for c in specialties)
    session.flush()
    return a


def goal(
    session: Session,
    a: CooperationAgreement,
    *,
    due_on: date,
    status: str = "planned",
    description: str = "建成区域医疗中心",
    achieved_on: date | None = None,
) -> AgreementGoal:
    g = AgreementGoal(
        agreement_id=a.id,
        description_zh=description,
        description_en="Lead a regional medical centre",
        due_on=due_on,
        status=status,
        achieved_on=achieved_on,
        updated_at=now(),
    )
    session.add(g)
    session.flush()
    return g
