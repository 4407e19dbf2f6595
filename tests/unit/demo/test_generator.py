"""The pure generator of the demo world: deterministic, complete, consistent."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import date

import pytest

from medcircle.agreements.domain import (
    AgreementKind,
    AgreementTerms,
    add_years,
    term_errors,
    term_warnings,
)
from medcircle.demo import facts
from medcircle.demo.generator import (
    ALLIANCE_SIZE,
    FRAMEWORK_BJ_BD,
    TRUSTEESHIP_CODE,
    generate,
    rng_for,
)
from medcircle.demo.world import World
from medcircle.registry.domain import SPECIALTY_BY_CODE, CentreKind, Title, is_valid_code
from medcircle.registry.reference import DIVISIONS_CSV


@pytest.fixture(scope="module")
def world() -> World:
    return generate(2017)


def test_same_seed_gives_the_same_world(world: World) -> None:
    again = generate(2017)
    assert again.digest() == world.digest()
    assert again == world


def test_another_seed_gives_another_world(world: World) -> None:
    other = generate(2018)
    assert other.digest() != world.digest()
    # the real skeleton does not depend on the seed, only the synthetic details do
    assert {i.code for i in other.institutions if not i.is_synthetic} == {
        i.code for i in world.institutions if not i.is_synthetic
    }


def test_steps_draw_from_separate_streams() -> None:
    assert rng_for(1, "experts").random() == rng_for(1, "experts").random()
    assert rng_for(1, "experts").random() != rng_for(1, "alliance").random()
    assert rng_for(1, "experts").random() != rng_for(2, "experts").random()


def test_twelve_real_beijing_tertiary_a_hospitals(world: World) -> None:
    beijing = [i for i in world.institutions if i.division_code.startswith("11")]
    assert len(beijing) == 12
    assert all(i.level == "tertiary" and i.grade == "A" for i in beijing)
    assert not any(i.is_synthetic for i in beijing)
    bch = world.institution("BCH")
    assert bch.division_code == "110102"  # Xicheng, near Financial Street
    assert 39.8 < bch.latitude < 40.0 and 116.3 < bch.longitude < 116.4


def test_institution_codes_are_valid_and_unique(world: World) -> None:
    codes = [i.code for i in world.institutions]
    assert len(codes) == len(set(codes))
    assert all(is_valid_code(c) for c in codes)


def test_every_reference_points_at_something_that_exists(world: World) -> None:
    codes = {i.code for i in world.institutions}
    agreements = {a.code for a in world.agreements}
    frameworks = {f.code for f in world.frameworks}
    practitioners = {p.key for p in world.practitioners}
    assert {d.institution for d in world.departments} <= codes
    assert {p.institution for p in world.practitioners} <= codes
    assert {u.institution for u in world.users} <= codes
    assert {m.institution for m in world.members} <= codes
    assert {c.host for c in world.centres} <= codes
    assert {a.supporting for a in world.agreements} | {
        a.supported for a in world.agreements
    } <= codes
    assert {a.framework for a in world.agreements} <= frameworks | {None}
    assert {g.agreement for g in world.goals} <= agreements
    assert {n.agreement for n in world.institution_names} <= agreements | {None}
    assert {u.practitioner for u in world.users} <= practitioners | {None}
    used = {d.specialty_code for d in world.departments} | {
        s for a in world.agreements for s in a.specialties
    }
    assert used <= set(SPECIALTY_BY_CODE)


def test_divisions_of_the_world_are_in_the_reference_data(world: World) -> None:
    with DIVISIONS_CSV.open(encoding="utf-8") as fh:
        known = {r["code"] for r in csv.DictReader(fh)}
    used = {i.division_code for i in world.institutions}
    used |= {f.party_a_division_code for f in world.frameworks}
    used |= {f.party_b_division_code for f in world.frameworks}
    assert used <= known


def test_five_pairings_of_the_2017_framework(world: World) -> None:
    pairings = [
        a
        for a in world.agreements
        if a.framework == FRAMEWORK_BJ_BD
        and a.kind == AgreementKind.SPECIALTY_SUPPORT
        and a.starts_on.year == 2017
    ]
    assert len(pairings) == 5
    assert len({a.supporting for a in pairings}) == 5
    assert len({a.supported for a in pairings}) == 5
    assert ("BCH", "BDCH") in {(a.supporting, a.supported) for a in pairings}
    for a in pairings:
        assert world.institution(a.supporting).division_code.startswith("11")
        assert world.institution(a.supported).division_code.startswith("1306")
        assert 2 <= len(a.specialties) <= 4
        assert add_years(a.starts_on, 3) <= a.ends_on <= add_years(a.starts_on, 5)
        terms = AgreementTerms(AgreementKind(a.kind), 1, 2, a.starts_on, a.ends_on, a.specialties)
        assert term_errors(terms) == [] and term_warnings(terms) == []


def test_every_agreement_passes_the_agreement_rules(world: World) -> None:
    for i, a in enumerate(world.agreements):
        terms = AgreementTerms(
            AgreementKind(a.kind),
            i * 2 + 1,
            i * 2 + 2,
            a.starts_on,
            a.ends_on,
            a.specialties,
            a.licensed_name_zh,
        )
        assert term_errors(terms) == [], a.code
        assert a.terminated_on is None or a.starts_on < a.terminated_on < a.ends_on


def test_trusteeship_and_the_licensed_name(world: World) -> None:
    t = next(a for a in world.agreements if a.code == TRUSTEESHIP_CODE)
    assert (t.kind, t.supporting, t.supported) == ("trusteeship", "BCH", "BDCH")
    assert t.starts_on.year == 2015
    assert t.licensed_name_zh == "北京儿童医院保定医院"
    assert str(facts.BDCH_BEDS_BEFORE) in (t.notes or "")
    old, new = sorted(world.institution_names, key=lambda n: n.valid_from or date.min)
    assert old.name_zh == "保定市儿童医院" and old.valid_to == t.starts_on
    assert new.valid_from == t.starts_on and new.valid_to is None
    assert new.agreement == t.code
    assert world.institution("BDCH").name_zh == new.name_zh


def test_pediatric_alliance_members(world: World) -> None:
    assert len(world.alliances) == 1
    alliance = world.alliances[0]
    assert alliance.lead == "BDCH" and alliance.founded_on.year == 2017
    members = world.members
    assert len(members) == ALLIANCE_SIZE == 133
    assert len({m.institution for m in members}) == 133
    assert alliance.lead in {m.institution for m in members}
    assert all(m.joined_on >= alliance.founded_on for m in members)
    left = [m for m in members if m.left_on is not None]
    assert 1 <= len(left) < 10
    assert all(m.left_on is not None and m.left_on > m.joined_on for m in left)
    seats = {c.code: c for c in facts.BAODING_COUNTIES}
    synthetic = [world.institution(m.institution) for m in members]
    synthetic = [i for i in synthetic if i.is_synthetic]
    assert len(synthetic) == 131
    assert {i.division_code for i in synthetic} == set(seats)
    for inst in synthetic:
        assert inst.name_zh.startswith("（示例）") and inst.name_en.startswith("(synthetic)")
        seat = seats[inst.division_code]
        assert abs(inst.latitude - seat.latitude) < 0.2
        assert abs(inst.longitude - seat.longitude) < 0.2


def test_eight_centres_hosted_by_members(world: World) -> None:
    kinds = [c.kind for c in world.centres]
    assert len(kinds) == 8 and len(set(kinds)) == 8
    assert set(kinds) == {k.value for k in CentreKind} - {CentreKind.OTHER.value}
    members = {m.institution for m in world.members}
    assert all(c.host in members for c in world.centres)
    assert "区域检验中心" in next(c.name_zh for c in world.centres if c.kind == "inspection")


def test_about_four_hundred_beijing_experts(world: World) -> None:
    experts = [
        p for p in world.practitioners if world.institution(p.institution).division_code < "12"
    ]
    assert len(experts) == 400
    titles = Counter(p.title for p in experts)
    assert set(titles) == {t.value for t in Title}
    # senior staff go out most; residents least
    assert titles["resident"] < titles["attending"] < titles["associate_chief"]
    assert titles["chief"] > titles["resident"]
    # each expert works in a department of their hospital
    departments = {(d.institution, d.specialty_code) for d in world.departments}
    assert all((p.institution, p.specialty_code) in departments for p in experts)
    assert Counter(p.institution for p in experts).most_common(1)[0][0] == "BCH"
    assert len({p.key for p in world.practitioners}) == len(world.practitioners)


def test_local_doctors_of_the_baoding_hospitals(world: World) -> None:
    local = [
        p for p in world.practitioners if world.institution(p.institution).division_code > "13"
    ]
    assert local, "the Baoding hospitals have doctors of their own"
    hem_onc = [p for p in local if (p.institution, p.specialty_code) == ("BDCH", "ped_hem_onc")]
    assert len(hem_onc) > 10
    departments = {(d.institution, d.specialty_code) for d in world.departments}
    assert all((p.institution, p.specialty_code) in departments for p in local)
    county = {p.institution for p in local if p.institution.startswith("BD-")}
    assert len(county) == 24
    assert len({p.name_zh for p in world.practitioners}) == len(world.practitioners)


def test_departments_match_each_hospitals_specialties(world: World) -> None:
    for f in facts.BEIJING_HOSPITALS + facts.BAODING_HOSPITALS:
        got = {d.specialty_code for d in world.departments if d.institution == f.code}
        assert got == set(f.specialties)


def test_one_login_per_role(world: World) -> None:
    roles = [r for u in world.users if u.listed for r in u.roles]
    assert sorted(roles) == sorted(
        [
            "platform_admin",
            "commission_analyst",
            "alliance_admin",
            "institution_admin",
            "expert",
            "clinician",
            "clinician",
            "clinician",
            "coordinator",
            "auditor",
            # the consultation story: the expert on call and the coordinator of the rotas
            "expert",
            "coordinator",
            # the cleanroom pool: the transplant doctor of Baoding Children's
            "clinician",
        ]
    )
    by_name = {u.username: u for u in world.users}
    assert by_name["alliance"].institution == "BDCH"
    assert by_name["office"].institution == "BDCH"
    expert = by_name["expert"]
    assert expert.institution == "BCH" and expert.practitioner is not None
    linked = next(p for p in world.practitioners if p.key == expert.practitioner)
    assert linked.institution == "BCH" and expert.display_name == linked.name_zh
    clinician = by_name["clinician"]
    assert clinician.practitioner is not None
    doctor = next(p for p in world.practitioners if p.key == clinician.practitioner)
    assert doctor.institution == clinician.institution
    assert world.institution(doctor.institution).division_code == "130623"


def test_goals_show_achieved_and_open_ones(world: World) -> None:
    statuses = Counter(g.status for g in world.goals)
    assert statuses["achieved"] >= 3
    assert statuses["in_progress"] + statuses["planned"] >= 2
    overdue_by_2022 = [
        g
        for g in world.goals
        if g.status in ("planned", "in_progress") and g.due_on < date(2022, 1, 1)
    ]
    assert overdue_by_2022, "some goals are overdue"
    for g in world.goals:
        assert (g.status == "achieved") == (g.achieved_on is not None)


def test_counts_cover_every_list(world: World) -> None:
    counts = world.counts()
    assert counts["institutions"] == len(world.institutions)
    assert counts["members"] == 133 and counts["centres"] == 8
