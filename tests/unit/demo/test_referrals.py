"""The demo referrals: the reported counts, valid histories, consistent fields, live tail."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest

from medcircle.demo import facts
from medcircle.demo.generator import COUNTY_INSTITUTION, generate
from medcircle.demo.referrals import SYNTHETIC, cutoff_of, in_network
from medcircle.demo.world import DemoReferral, World
from medcircle.patients.domain import Sex, is_child, parse_national_id
from medcircle.referrals import icd10
from medcircle.referrals.domain import (
    Action,
    Side,
    Status,
    TriageLimits,
    Urgency,
    find_transition,
)

AS_OF = date(2026, 11, 23)


@pytest.fixture(scope="module")
def world() -> World:
    return generate(2017, as_of=AS_OF)


def sides_of(world: World, r: DemoReferral, username: str | None) -> set[Side]:
    inst = next(u.institution for u in world.users if u.username == username)
    return {s for s, code in ((Side.SENDER, r.sender), (Side.RECEIVER, r.receiver)) if code == inst}


@pytest.mark.parametrize(("seed", "as_of"), [(2017, AS_OF), (5, date(2024, 3, 1))])
def test_118_up_and_313_down(seed: int, as_of: date) -> None:
    w = generate(seed, as_of=as_of)
    counts = Counter(r.direction for r in w.referrals)
    assert (
        counts
        == {"up": facts.REFERRALS_UP, "down": facts.REFERRALS_DOWN}
        == {
            "up": 118,
            "down": 313,
        }
    )
    assert len({r.reference for r in w.referrals}) == 431


def test_spread_over_a_period_as_long_as_the_reported_one(world: World) -> None:
    cutoff = cutoff_of(AS_OF)
    first = min(r.submitted_at for r in world.referrals if r.submitted_at)
    span = (facts.COOPERATION_REPORTED - facts.FRAMEWORK_2015_SIGNED).days
    assert cutoff - timedelta(days=span) <= first <= cutoff - timedelta(days=span - 120)
    assert max(e.at for r in world.referrals for e in r.events) <= cutoff
    by_year = Counter(r.created_at.year for r in world.referrals)
    assert len(by_year) >= 2


def test_every_history_is_a_walk_of_the_transitions(world: World) -> None:
    for r in world.referrals:
        events = r.events
        assert (events[0].action, events[0].from_status, events[0].to_status) == (
            "create",
            None,
            Status.DRAFT,
        ), r.reference
        status = Status.DRAFT
        last = events[0].at
        for e in events[1:]:
            assert e.at >= last, r.reference
            assert e.from_status == status, r.reference
            if e.action == "return":
                assert e.to_status == status
            else:
                t = find_transition(status, Action(e.action))
                assert t is not None and t.target == e.to_status, (r.reference, e.action)
                # made by someone of a side allowed to make it
                acting = sides_of(world, r, e.actor)
                if r.parent and e.action == Action.SUBMIT:
                    parent = next(p for p in world.referrals if p.reference == r.parent)
                    if parent.redirected_to == r.reference:
                        acting = {Side.SENDER}  # the redirecting triager submits it
                assert t.sides & acting, (r.reference, e.action, e.actor)
            status = Status(e.to_status)
            last = e.at
        assert status == r.status, r.reference
        assert r.updated_at == events[-1].at and r.created_at == events[0].at


def test_fields_agree_with_the_history(world: World) -> None:
    for r in world.referrals:
        actions = {e.action for e in r.events}
        assert r.submitted_at == next(e.at for e in r.events if e.action == Action.SUBMIT)
        triaged = actions & {Action.ACCEPT, Action.DECLINE, Action.REDIRECT}
        assert (r.triaged_at is not None) == bool(triaged), r.reference
        assert (r.appointment_at is not None) == (Action.SCHEDULE in actions)
        assert (r.arrived_at is not None) == (Action.ARRIVE in actions)
        assert (r.completed_at is not None) == (Action.COMPLETE in actions)
        assert (r.outcome_summary is not None) == (Action.COMPLETE in actions)
        assert (r.closed_at is not None) == (Action.CLOSE in actions)
        assert (r.cancel_reason is not None) == (r.status == Status.CANCELLED)
        assert not r.local_plan or (r.direction == "up" and r.completed_at is not None)
        if r.appointment_at and r.arrived_at:
            assert r.arrived_at >= r.submitted_at
        assert icd10.is_valid(r.icd10_code), r.icd10_code
        assert r.sender != r.receiver


def test_most_are_closed_and_a_tail_is_open(world: World) -> None:
    statuses = Counter(r.status for r in world.referrals)
    assert statuses[Status.CLOSED] > 0.75 * len(world.referrals)
    for state in (Status.SUBMITTED, Status.ACCEPTED, Status.SCHEDULED, Status.ARRIVED):
        assert statuses[state] >= 2, state
    assert statuses[Status.COMPLETED] >= 2
    assert {Status.CANCELLED, Status.DECLINED, Status.NO_SHOW, Status.REDIRECTED} & {
        Status(e.from_status) for r in world.referrals for e in r.events if e.from_status
    } == {Status.DECLINED, Status.NO_SHOW, Status.REDIRECTED}
    cutoff = cutoff_of(AS_OF)
    for r in world.referrals:
        if r.status == Status.SCHEDULED:
            # still to come, or just missed (the timer then asks: arrived or did not attend?)
            assert r.appointment_at is not None and r.appointment_at > cutoff - timedelta(days=2)


def test_exactly_one_is_overdue_for_triage_on_the_day(world: World) -> None:
    limits = TriageLimits()
    load_time = cutoff_of(AS_OF) + timedelta(hours=24)
    overdue = [
        r
        for r in world.referrals
        if r.status == Status.SUBMITTED
        and r.submitted_at is not None
        and r.submitted_at + limits.for_urgency(Urgency(r.urgency)) < load_time
    ]
    assert len(overdue) == 1
    # at the trusteeship hospital, whose office and alliance coordinator are demo logins
    assert overdue[0].receiver == facts.BAODING_CHILDRENS


def test_the_two_demo_ends_have_live_worklists(world: World) -> None:
    open_states = {Status.SUBMITTED, Status.ACCEPTED, Status.SCHEDULED, Status.ARRIVED}
    incoming_bch = [r for r in world.referrals if r.receiver == "BCH" and r.status in open_states]
    assert {Status(r.status) for r in incoming_bch} == open_states
    outgoing_county = [r for r in world.referrals if r.sender == COUNTY_INSTITUTION]
    assert any(r.status in open_states for r in outgoing_county)
    assert any(r.receiver == COUNTY_INSTITUTION for r in world.referrals)


def test_returns_go_back_to_the_sender_with_the_same_patient(world: World) -> None:
    by_ref = {r.reference: r for r in world.referrals}
    returns = [r for r in world.referrals if r.parent and by_ref[r.parent].redirected_to is None]
    assert len(returns) > 40
    for r in returns:
        up = by_ref[r.parent or ""]
        assert (up.direction, r.direction) == ("up", "down")
        assert (r.sender, r.receiver, r.patient) == (up.receiver, up.sender, up.patient)
        assert up.completed_at is not None and r.created_at >= up.completed_at
        note = [e for e in up.events if e.action == "return"]
        assert [dict(e.detail)["reference"] for e in note] == [r.reference]
        assert r.consent is None  # back to the institution that registered the patient


def test_redirects_hand_over_to_a_new_referral(world: World) -> None:
    by_ref = {r.reference: r for r in world.referrals}
    redirected = [r for r in world.referrals if r.redirected_to]
    assert len(redirected) == 3
    for r in redirected:
        new = by_ref[r.redirected_to or ""]
        assert new.parent == r.reference and new.patient == r.patient
        assert (new.receiver, new.receiver_specialty) != (r.receiver, r.receiver_specialty)
        assert dict(new.events[1].detail)["redirected_from"] == r.reference
        assert dict(next(e for e in r.events if e.action == "redirect").detail)[
            "redirected_to"
        ] == (new.reference)


def test_consent_before_every_referral_that_leaves(world: World) -> None:
    patients = {p.key: p for p in world.patients}
    consents = {c.key: c for c in world.consents}
    for r in world.referrals:
        p = patients[r.patient]
        if p.institution == r.receiver:
            continue
        c = consents[r.consent or ""]
        assert (c.patient, c.receiving_institution) == (p.key, r.receiver)
        assert r.submitted_at is not None and c.given_at <= r.submitted_at
        assert c.valid_until is None or c.valid_until > r.submitted_at.date()
        assert c.given_by == ("guardian" if p.guardian_name else "patient")
    withdrawn = [c for c in world.consents if c.withdrawn_at]
    assert len(withdrawn) == 2


def test_patients_are_synthetic_with_valid_unique_id_numbers(world: World) -> None:
    numbers = [p.national_id for p in world.patients]
    assert len(numbers) == len(set(numbers))
    children = 0
    for p in world.patients:
        parsed, problem = parse_national_id(p.national_id, AS_OF)
        assert problem is None and parsed is not None, p.national_id
        assert parsed.birth_date == p.birth_date
        assert parsed.sex == Sex(p.sex)
        assert parsed.region == p.residence_division_code
        assert p.residence_division_code.startswith("1306")
        assert p.name.endswith(SYNTHETIC)
        child = is_child(p.birth_date, p.registered_at.date())
        assert (p.guardian_name is not None) == child
        children += child
    assert children > 0.7 * len(world.patients)


def test_network_flags_follow_the_agreements_and_the_alliance(world: World) -> None:
    for r in world.referrals:
        assert r.submitted_at is not None
        on = (r.submitted_at + timedelta(hours=8)).date()
        assert r.outside_network == (not in_network(world, r.sender, r.receiver, on))
        assert (r.outside_network_reason is not None) == r.outside_network
    flagged = sum(r.outside_network for r in world.referrals)
    assert flagged < 0.5 * len(world.referrals)


def test_mostly_children_to_beijing_childrens(world: World) -> None:
    up = [r for r in world.referrals if r.direction == "up"]
    assert sum(r.receiver == "BCH" for r in up) > 0.6 * len(up)
    assert all(world.institution(r.sender).division_code.startswith("1306") for r in up)
    assert all(world.institution(r.receiver).division_code.startswith("11") for r in up)


def test_same_seed_and_day_give_the_same_referrals(world: World) -> None:
    again = generate(2017, as_of=AS_OF)
    assert again.digest() == world.digest()
    later = generate(2017, as_of=AS_OF + timedelta(days=30))
    assert later.digest() != world.digest()
    assert Counter(r.status for r in later.referrals) == Counter(r.status for r in world.referrals)
    # everything but the referral part stays as it is
    assert later.institutions == world.institutions and later.users == world.users


def test_demo_logins_for_the_referral_story(world: World) -> None:
    users = {u.username: u for u in world.users}
    county = users["county"]
    inst = world.institution(county.institution)
    assert inst.level == "secondary" and inst.division_code.startswith("1306")
    assert not next(k for k in facts.BAODING_COUNTIES if k.code == inst.division_code).urban
    assert any(m.institution == inst.code and m.left_on is None for m in world.members)
    assert users["bch"].institution == facts.BEIJING_CHILDRENS
    assert {"clinician"} == set(county.roles) == set(users["bch"].roles)
    # the unlisted doctors of the referral histories (the experts who answer consultations aside)
    staff = [u for u in world.users if not u.listed and "expert" not in u.roles]
    assert staff and all(u.roles == ("clinician",) for u in staff)
