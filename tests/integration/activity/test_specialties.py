"""Each record's specialty, found from its department at import: one of the institution's
registered departments by name, a specialty's code, or a specialty's name (case and spaces
aside); none when nothing matches. The indicators break the activity down by it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from medcircle.activity.models import ActivityMonthSpecialty, ActivityRecord
from medcircle.auth.domain import Actor, Role
from medcircle.kpis import service as kpis
from medcircle.registry.models import Department
from tests.factories import World
from tests.integration.activity.test_service import run, write

LINES = [
    # a department the hospital registered (its own name for it)
    "OP-1,BD-A,呼吸一病区,outpatient,2026-11-02,,130606,1-4,J18.9,20,",
    "OP-2,BD-A, Respiratory Ward 1 ,outpatient,2026-11-02,,130606,1-4,J18.9,20,",
    # a specialty's code, and its names in either language
    "OP-3,BD-A,neonatology,outpatient,2026-11-03,,130606,<1,P07.3,20,",
    "OP-4,BD-A,新生儿科,outpatient,2026-11-03,,130606,<1,P07.3,20,",
    "OP-5,BD-A,paediatric SURGERY,outpatient,2026-11-04,,130606,5-14,K35.8,20,",
    # nothing known
    "OP-6,BD-A,儿科门诊,outpatient,2026-11-04,,130606,1-4,J06.9,20,",
]


def add_ward(session: Session, world: World) -> None:
    session.add(
        Department(
            institution_id=world.baoding.id,
            specialty_code="ped_respiratory",
            name_zh="呼吸一病区",
            name_en="Respiratory Ward 1",
        )
    )
    session.flush()


def by_specialty(session: Session) -> dict[str, int]:
    rows = select(ActivityMonthSpecialty).where(ActivityMonthSpecialty.month == "2026-11")
    return {m.specialty: m.starts for m in session.scalars(rows)}


def test_the_department_names_the_specialty(session: Session, world: World, tmp_path: Path) -> None:
    add_ward(session, world)
    done = run(session, world, write(tmp_path, LINES))
    assert done.status == "imported"
    rows = session.execute(select(ActivityRecord.record_id, ActivityRecord.specialty_code))
    found = {record: code for record, code in rows}
    assert found == {
        "OP-1": "ped_respiratory",
        "OP-2": "ped_respiratory",
        "OP-3": "neonatology",
        "OP-4": "neonatology",
        "OP-5": "ped_surgery",
        "OP-6": "",
    }
    summed = by_specialty(session)
    assert summed == {"ped_respiratory": 2, "neonatology": 2, "ped_surgery": 1, "": 1}

    analyst = Actor(
        user_id=0, username="a", institution_id=0, roles=frozenset({Role.COMMISSION_ANALYST})
    )
    c = kpis.compute(
        session,
        analyst,
        "outpatient-visits-per-day",
        2026,
        institution="BD-A",
        today=date(2026, 11, 30),
    )
    by = {f.key: f.numerator for f in c.by_specialty}
    assert by == {"ped_respiratory": 2, "neonatology": 2, "ped_surgery": 1, "-": 1}
    named = {f.key: f.label_zh for f in c.by_specialty}
    assert named["neonatology"] == "新生儿科"


def test_a_department_registered_later_corrects_the_records_sent_again(
    session: Session, world: World, tmp_path: Path
) -> None:
    path = write(tmp_path, LINES[:1])
    run(session, world, path)
    add_ward(session, world)
    again = run(session, world, path)
    assert (again.rows_updated, again.rows_unchanged) == (1, 0)
    summed = by_specialty(session)
    # moved in the summary, not counted twice
    assert {k: v for k, v in summed.items() if v} == {"ped_respiratory": 1}
