"""Builders of registry test data, written straight to the database (not through services)."""

from __future__ import annotations

import itertools
from datetime import date

from sqlalchemy.orm import Session

from medcircle.registry.models import (
    Alliance,
    AllianceCentre,
    AllianceMember,
    Department,
    Institution,
    InstitutionName,
    Practitioner,
)

_seq = itertools.count(1)


def department(
    session: Session, inst: Institution, specialty_code: str = "cardiology", **kw: object
) -> Department:
    n = next(_seq)
    values: dict[str, object] = {
        "institution_id": inst.id,
        "specialty_code": specialty_code,
        "name_zh": f"科室{n}",
        "name_en": f"Department {n}",
        "bed_count": 20,
        "is_active": True,
    }
    values.update(kw)
    dept = Department(**values)
    session.add(dept)
    session.flush()
    return dept


def practitioner(
    session: Session,
    inst: Institution,
    title: str = "attending",
    specialty_code: str = "cardiology",
    **kw: object,
) -> Practitioner:
    n = next(_seq)
    values: dict[str, object] = {
        "institution_id": inst.id,
        "name_zh": f"医生{n}",
        "name_en": f"Doctor {n}",
        "title": title,
        "specialty_code": specialty_code,
        "license_no": f"LIC{n:06d}",
        "is_active": True,
    }
    values.update(kw)
    pr = Practitioner(**values)
    session.add(pr)
    session.flush()
    return pr


def name_row(
    session: Session, inst: Institution, valid_from: date | None = None
) -> InstitutionName:
    row = InstitutionName(
        institution_id=inst.id, name_zh=inst.name_zh, name_en=inst.name_en, valid_from=valid_from
    )
    session.add(row)
    session.flush()
    return row


def alliance(
    session: Session,
    lead: Institution,
    code: str | None = None,
    founded_on: date = date(2017, 6, 1),
    **kw: object,
) -> Alliance:
    n = next(_seq)
    a = Alliance(
        code=code or f"AL{n:03d}",
        name_zh=str(kw.get("name_zh", f"医联体{n}")),
        name_en=str(kw.get("name_en", f"Alliance {n}")),
        lead_institution_id=lead.id,
        founded_on=founded_on,
    )
    session.add(a)
    session.flush()
    member(session, a, lead, founded_on)
    return a


def member(
    session: Session,
    a: Alliance,
    inst: Institution,
    joined_on: date = date(2018, 1, 1),
    left_on: date | None = None,
) -> AllianceMember:
    m = AllianceMember(
        alliance_id=a.id, institution_id=inst.id, joined_on=joined_on, left_on=left_on
    )
    session.add(m)
    session.flush()
    return m


def centre(
    session: Session, a: Alliance, host: Institution, kind: str = "inspection"
) -> AllianceCentre:
    n = next(_seq)
    c = AllianceCentre(
        alliance_id=a.id,
        host_institution_id=host.id,
        kind=kind,
        name_zh=f"中心{n}",
        name_en=f"Centre {n}",
        established_on=date(2018, 3, 1),
    )
    session.add(c)
    session.flush()
    return c
