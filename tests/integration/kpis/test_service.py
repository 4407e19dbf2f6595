"""Indicators computed live from imported activity: daily outpatient visits of an institution,
the share of Hebei's residents among the capital's discharges, and Hebei's local treatment
rate, each with its breakdowns; a correction moves them at once; each role sees what it may;
bad questions get their field's error."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from medcircle.activity import service as activity
from medcircle.auth.domain import Role
from medcircle.dispatch.models import VisitOperation, VisitRecord
from medcircle.kit.errors import Forbidden, NotFound, ValidationFailed
from medcircle.kpis import service
from tests.factories import World, now
from tests.integration.activity.test_service import actor_of, write

TODAY = date(2026, 11, 30)
HEBEI = "130000"


def lines_of_2025() -> list[str]:
    """Beijing A discharges 11 patients in 2025 (4 living in Hebei, one of them admitted in
    December 2024); Baoding A sees 72 outpatients and one emergency of Hebei in May 2025."""
    rows = [
        f"H{n},BJ-A,儿科,inpatient,2025-03-01,2025-03-05,130606,5-14,C91.0,9000," for n in (1, 2, 3)
    ]
    rows.append("H4,BJ-A,儿科,inpatient,2024-12-28,2025-01-03,130602,5-14,C91.0,9000,")
    rows += [
        f"B{n},BJ-A,儿科,inpatient,2025-03-02,2025-03-06,110105,5-14,J18.9,4000," for n in range(7)
    ]
    rows += [
        f"O{n},BD-A,儿科门诊,outpatient,2025-05-{1 + n % 28:02d},,130606,1-4,J06.9,80,"
        for n in range(72)
    ]
    rows.append("E1,BD-A,急诊,emergency,2025-05-20,,130606,1-4,J06.9,200,")
    return rows


@pytest.fixture
def imported(session: Session, world: World, tmp_path: Path) -> World:
    done = activity.import_file(
        session,
        actor_of(world, Role.PLATFORM_ADMIN),
        write(tmp_path, lines_of_2025()),
        today=TODAY,
    )
    assert done.status == "imported", done.report
    return world


def compute(world: World, session: Session, slug: str, role: Role = Role.COMMISSION_ANALYST, **kw):  # type: ignore[no-untyped-def]
    kw.setdefault("today", TODAY)
    return service.compute(session, actor_of(world, role), slug, kw.pop("year", 2025), **kw)


def test_daily_outpatient_visits_of_an_institution(imported: World, session: Session) -> None:
    c = compute(imported, session, "outpatient-visits-per-day", institution="BD-A")
    assert (c.numerator, c.denominator, c.value) == (73, 365, pytest.approx(0.2))
    may = next(f for f in c.by_month if f.key == "2025-05")
    assert (may.numerator, may.denominator) == (73, 31)
    assert [f.numerator for f in c.by_month].count(0) == 11
    assert [(f.key, f.numerator) for f in c.by_institution] == [("BD-A", 73)]


def test_the_share_of_hebeis_residents_among_the_capitals_discharges(
    imported: World, session: Session
) -> None:
    c = compute(imported, session, "outflow-share", region=HEBEI)
    # discharges count in the month they happen: the stay from December 2024 is in
    assert (c.numerator, c.denominator) == (4, 11)
    assert c.value == pytest.approx(4 / 11)
    months = {f.key: (f.numerator, f.denominator) for f in c.by_month}
    assert months["2025-01"] == (1, 1) and months["2025-03"] == (3, 10)
    assert months["2025-05"] == (0, 0) and c.by_month[4].value is None
    # Baoding's hospitals are not the capital's
    assert [f.key for f in c.by_institution] == ["BJ-A"]


def test_hebeis_local_treatment_rate(imported: World, session: Session) -> None:
    c = compute(imported, session, "local-treatment-rate", region=HEBEI)
    # visits and admissions starting in 2025: 73 in Baoding, 3 admissions in Beijing
    assert (c.numerator, c.denominator) == (73, 76)
    where = {f.key: (f.numerator, f.denominator) for f in c.by_institution}
    assert where == {"BD-A": (73, 76), "BJ-A": (3, 76)}


def test_a_corrected_record_moves_the_indicator_at_once(
    imported: World, session: Session, tmp_path: Path
) -> None:
    # H1 lives in Beijing after all
    fixed = ["H1,BJ-A,儿科,inpatient,2025-03-01,2025-03-05,110105,5-14,C91.0,9000,"]
    activity.import_file(
        session,
        actor_of(imported, Role.PLATFORM_ADMIN),
        write(tmp_path, fixed, "fix.csv"),
        today=TODAY,
    )
    c = compute(imported, session, "outflow-share", region=HEBEI)
    assert (c.numerator, c.denominator) == (3, 11)


def test_a_hospital_office_sees_its_own_institution_only(imported: World, session: Session) -> None:
    office = Role.INSTITUTION_ADMIN  # of Baoding A
    own = compute(imported, session, "outpatient-visits-per-day", office)
    assert own.institution == "BD-A" and own.numerator == 73
    with pytest.raises(NotFound):
        compute(imported, session, "outpatient-visits-per-day", office, institution="BJ-A")
    with pytest.raises(Forbidden):
        compute(imported, session, "outflow-share", office, region=HEBEI)
    with pytest.raises(Forbidden):
        compute(imported, session, "outpatient-visits-per-day", Role.CLINICIAN)
    readable = [i.slug for i in service.readable(actor_of(imported, office))]
    assert "outpatient-visits-per-day" in readable and "outflow-share" not in readable


@pytest.mark.parametrize(
    ("slug", "kw", "code"),
    [
        ("outflow-share", {"year": 1999, "region": HEBEI}, "bad_year"),
        ("outflow-share", {"year": 2027, "region": HEBEI}, "bad_year"),
        ("outflow-share", {"region": "130600"}, "unknown_region"),
        ("outflow-share", {"region": "990000"}, "unknown_region"),
        ("outflow-share", {}, "region_required"),
        ("local-treatment-rate", {}, "region_required"),
    ],
)
def test_bad_questions_are_refused_by_their_field(
    world: World, session: Session, slug: str, kw: dict[str, object], code: str
) -> None:
    with pytest.raises(ValidationFailed) as e:
        compute(world, session, slug, **kw)
    assert e.value.code == code
    assert e.value.field_errors[0].code == code


def test_unknown_indicators_and_institutions_are_not_found(world: World, session: Session) -> None:
    with pytest.raises(NotFound) as e:
        compute(world, session, "happiness")
    assert e.value.code == "unknown_indicator"
    with pytest.raises(NotFound) as e:
        compute(world, session, "outpatient-visits-per-day", institution="NOPE")
    assert e.value.code == "unknown_institution"


def _visit(session: Session, world: World, site: int, starts: date, days: int, seen: int) -> int:
    v = VisitRecord(
        user_id=world.users[Role.EXPERT].id,
        home_institution_id=world.beijing.id,
        site_institution_id=site,
        starts_on=starts,
        ends_on=starts + timedelta(days=days - 1),
        outpatients=seen,
        created_at=now(),
        updated_at=now(),
    )
    session.add(v)
    session.flush()
    return v.id


def test_what_visiting_experts_did_in_hebei(world: World, session: Session) -> None:
    first = _visit(session, world, world.baoding.id, date(2025, 3, 3), 3, 10)
    session.add(VisitOperation(visit_id=first, icd10_code="C91.0", procedure="穿刺", count=2))
    _visit(session, world, world.baoding2.id, date(2025, 3, 10), 1, 5)
    _visit(session, world, world.baoding.id, date(2025, 6, 2), 1, 0)
    # a visit inside Beijing, and one of another year, are not Hebei's 2025
    _visit(session, world, world.beijing2.id, date(2025, 3, 4), 1, 7)
    _visit(session, world, world.baoding.id, date(2024, 12, 30), 1, 9)
    session.flush()
    figures = {
        slug: compute(world, session, slug, region=HEBEI)
        for slug in (
            "out-calls",
            "expert-person-visits",
            "patients-received",
            "visiting-operations",
        )
    }
    assert {s: c.value for s, c in figures.items()} == {
        "out-calls": 3,
        "expert-person-visits": 5,
        "patients-received": 15,
        "visiting-operations": 2,
    }
    calls = figures["out-calls"]
    assert {f.key: f.value for f in calls.by_month if f.value} == {"2025-03": 2, "2025-06": 1}
    assert [(f.key, f.value) for f in calls.by_institution] == [("BJ-A", 3)]
    # a Baoding hospital office sees the visits to its own institution
    own = compute(world, session, "out-calls", Role.INSTITUTION_ADMIN)
    assert own.value == 2
