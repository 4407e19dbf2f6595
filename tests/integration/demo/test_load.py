"""Loading the demo world reproduces the figures of the seeds, in the database."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medcircle.agreements.domain import AgreementKind, GoalStatus, add_years, goal_overdue
from medcircle.agreements.models import (
    AgreementGoal,
    AgreementSpecialty,
    CooperationAgreement,
    FrameworkAgreement,
)
from medcircle.audit.models import AuditEvent
from medcircle.auth.domain import Role
from medcircle.auth.models import User, UserRole
from medcircle.auth.security import verify_password
from medcircle.demo import service
from medcircle.demo.generator import FRAMEWORK_BJ_BD, TRUSTEESHIP_CODE, generate
from medcircle.demo.world import DEMO_PASSWORD
from medcircle.registry.domain import CentreKind, Title
from medcircle.registry.models import (
    Alliance,
    AllianceCentre,
    AllianceMember,
    Department,
    Institution,
    InstitutionName,
    Practitioner,
)


def inst(session: Session, code: str) -> Institution:
    found = session.scalar(select(Institution).where(Institution.code == code))
    assert found is not None, code
    return found


def test_the_database_is_marked_as_a_demo(demo: Session) -> None:
    assert service.is_demo(demo)
    record = service.current_world(demo)
    assert record is not None and record.seed == 2017


def test_twelve_beijing_tertiary_a_hospitals(demo: Session) -> None:
    rows = demo.scalars(select(Institution).where(Institution.province_code == "110000")).all()
    assert len(rows) == 12
    assert {(i.level, i.grade, i.is_synthetic) for i in rows} == {("tertiary", "A", False)}
    bch = inst(demo, "BCH")
    assert (bch.division_code, bch.city_code) == ("110102", "110100")
    assert bch.type == "childrens"


def test_five_pairings_of_the_2017_framework(demo: Session) -> None:
    framework = demo.scalar(
        select(FrameworkAgreement).where(FrameworkAgreement.code == FRAMEWORK_BJ_BD)
    )
    assert framework is not None
    assert (framework.party_a_division_code, framework.party_b_division_code) == (
        "110000",
        "130600",
    )
    pairings = demo.scalars(
        select(CooperationAgreement).where(
            CooperationAgreement.framework_id == framework.id,
            CooperationAgreement.kind == AgreementKind.SPECIALTY_SUPPORT,
            CooperationAgreement.starts_on == date(2017, 9, 1),
        )
    ).all()
    assert len(pairings) == 5
    supporting = {a.supporting_institution_id for a in pairings}
    supported = {a.supported_institution_id for a in pairings}
    assert len(supporting) == len(supported) == 5
    assert (
        demo.scalar(
            select(func.count()).where(
                Institution.id.in_(supporting),
                Institution.province_code == "110000",
                Institution.level == "tertiary",
                Institution.grade == "A",
            )
        )
        == 5
    )
    assert (
        demo.scalar(
            select(func.count()).where(
                Institution.id.in_(supported), Institution.city_code == "130600"
            )
        )
        == 5
    )
    for a in pairings:
        n = demo.scalar(select(func.count()).where(AgreementSpecialty.agreement_id == a.id))
        assert n is not None and 2 <= n <= 4
        assert add_years(a.starts_on, 3) <= a.ends_on <= add_years(a.starts_on, 5)
    bch, bdch = inst(demo, "BCH"), inst(demo, "BDCH")
    assert (bch.id, bdch.id) in {
        (a.supporting_institution_id, a.supported_institution_id) for a in pairings
    }


def test_trusteeship_and_name_history(demo: Session) -> None:
    bdch = inst(demo, "BDCH")
    trusteeship = demo.scalar(
        select(CooperationAgreement).where(CooperationAgreement.code == TRUSTEESHIP_CODE)
    )
    assert trusteeship is not None
    assert trusteeship.kind == AgreementKind.TRUSTEESHIP
    assert trusteeship.supported_institution_id == bdch.id
    assert trusteeship.supporting_institution_id == inst(demo, "BCH").id
    assert trusteeship.starts_on.year == 2015
    assert trusteeship.notes is not None and "300 beds" in trusteeship.notes
    names = demo.scalars(
        select(InstitutionName)
        .where(InstitutionName.institution_id == bdch.id)
        .order_by(InstitutionName.valid_to.is_(None), InstitutionName.valid_to)
    ).all()
    assert [(n.name_zh, n.valid_to, n.agreement_id) for n in names] == [
        ("保定市儿童医院", trusteeship.starts_on, None),
        ("北京儿童医院保定医院", None, trusteeship.id),
    ]
    assert names[1].valid_from == trusteeship.starts_on
    assert (bdch.name_zh, bdch.name_en) == (
        "北京儿童医院保定医院",
        "Beijing Children's Hospital Baoding Hospital",
    )


def test_pediatric_alliance_with_133_members_and_8_centres(demo: Session) -> None:
    alliance = demo.scalar(select(Alliance))
    assert alliance is not None and alliance.lead_institution_id == inst(demo, "BDCH").id
    assert alliance.founded_on.year == 2017
    members = demo.execute(
        select(AllianceMember, Institution)
        .join(Institution, Institution.id == AllianceMember.institution_id)
        .where(AllianceMember.alliance_id == alliance.id)
    ).all()
    assert len(members) == 133
    assert all(i.city_code == "130600" for _, i in members)
    assert sum(1 for _, i in members if i.is_synthetic) == 131
    assert all(m.joined_on >= date(2017, 1, 1) for m, _ in members)
    left = [m for m, _ in members if m.left_on is not None]
    assert 0 < len(left) < 10
    counties = {i.division_code for _, i in members}
    assert len(counties) == 24
    centres = demo.scalars(
        select(AllianceCentre).where(AllianceCentre.alliance_id == alliance.id)
    ).all()
    assert len(centres) == 8
    assert {c.kind for c in centres} == {k.value for k in CentreKind} - {"other"}
    member_ids = {m.institution_id for m, _ in members}
    assert {c.host_institution_id for c in centres} <= member_ids


def test_about_four_hundred_experts_with_departments(demo: Session) -> None:
    rows = demo.execute(
        select(Practitioner, Institution).join(
            Institution, Institution.id == Practitioner.institution_id
        )
    ).all()
    beijing = [p for p, i in rows if i.province_code == "110000"]
    assert 380 <= len(beijing) <= 420
    assert all(p.is_synthetic for p, _ in rows)
    assert {p.title for p in beijing} == {t.value for t in Title}
    depts = {d.id: d for d in demo.scalars(select(Department)).all()}
    for p, i in rows:
        assert p.department_id is not None
        d = depts[p.department_id]
        assert (d.institution_id, d.specialty_code) == (i.id, p.specialty_code)


def test_one_login_per_role_with_the_demo_password(demo: Session) -> None:
    world = generate(2017)
    listed = {u.username for u in world.users if u.listed}
    users = demo.scalars(select(User)).all()
    assert len(users) == len(world.users)
    assert all(verify_password(u.password_hash, DEMO_PASSWORD) for u in users)
    roles = demo.execute(
        select(User.username, UserRole.role).join(User, User.id == UserRole.user_id)
    ).all()
    assert {r for name, r in roles if name in listed} == {r.value for r in Role}
    expert = next(u for u in users if u.username == "expert")
    linked = demo.scalar(select(Practitioner).where(Practitioner.user_id == expert.id))
    assert linked is not None and linked.institution_id == inst(demo, "BCH").id
    clinician = next(u for u in users if u.username == "clinician")
    doctor = demo.scalar(select(Practitioner).where(Practitioner.user_id == clinician.id))
    assert doctor is not None and doctor.institution_id == clinician.institution_id
    logins = service.demo_logins(demo, generate(2017))
    assert [login.username for login in logins] == [
        "admin",
        "analyst",
        "alliance",
        "office",
        "expert",
        "clinician",
        "coordinator",
        "auditor",
        "county",
        "bch",
        "oncall",
        "bchcoord",
        "transplant",
    ]
    assert next(x for x in logins if x.username == "alliance").institution_code == "BDCH"


def test_goals_give_the_agreements_list_something_to_show(demo: Session) -> None:
    goals = demo.scalars(select(AgreementGoal)).all()
    statuses = {g.status for g in goals}
    assert {GoalStatus.ACHIEVED, GoalStatus.IN_PROGRESS, GoalStatus.MISSED} <= statuses
    assert any(goal_overdue(GoalStatus(g.status), g.due_on, date(2024, 1, 1)) for g in goals)


def test_the_load_is_on_the_audit_trail(demo: Session) -> None:
    event = demo.scalar(select(AuditEvent).where(AuditEvent.action == "demo.load"))
    assert event is not None
    assert event.detail["seed"] == 2017
    assert event.detail["counts"]["members"] == 133


def test_rows_carry_dates_from_the_data(demo: Session) -> None:
    created = demo.scalars(select(Institution.created_at)).all()
    assert max(created).year <= 2017
    assert max(demo.scalars(select(User.created_at)).all()).year == 2017


@pytest.mark.parametrize("code", ["BD1C", "BD2C", "HBUAH", "BDTCM", "BDMCH"])
def test_real_baoding_hospitals(demo: Session, code: str) -> None:
    i = inst(demo, code)
    assert i.city_code == "130600" and not i.is_synthetic
