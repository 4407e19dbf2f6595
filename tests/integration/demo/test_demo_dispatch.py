"""The demo world's dispatch set-up: enough experts, approved demand and travel times for a
coordinator to plan the Baoding pairings' rosters, all of it passing the set-up rules."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from medcircle.agreements.models import CooperationAgreement
from medcircle.dispatch import rules
from medcircle.dispatch.availability import experts_for_planning
from medcircle.dispatch.demand import approved_demand, has_expert
from medcircle.dispatch.models import DispatchDemand, DispatchSkill, TravelTime
from medcircle.dispatch.travel_service import travel_minutes
from medcircle.registry.models import Institution
from tests.integration.demo.conftest import DEMO_DAY


def inst(session: Session, code: str) -> Institution:
    found = session.scalar(select(Institution).where(Institution.code == code))
    assert found is not None
    return found


def test_the_baoding_pairings_can_be_planned(demo: Session) -> None:
    bch, bdch = inst(demo, "BCH"), inst(demo, "BDCH")
    start = DEMO_DAY + timedelta(days=7 - DEMO_DAY.weekday())
    end = start + timedelta(days=27)
    experts = experts_for_planning(demo, [bch.id], start, end)
    per_specialty = Counter(e.specialty_code for e in experts)
    assert per_specialty and min(per_specialty.values()) >= 5
    assert all(1 <= e.max_days_per_week <= 3 for e in experts)
    assert all(len({d.weekday() for d in e.duty_days}) < 5 for e in experts)
    demand = approved_demand(demo, [bch.id], start, end)
    kinds = Counter(d.kind for d in demand)
    assert kinds["visits"] >= 3 and kinds["resident"] >= 1 and kinds["special"] >= 1
    assert {d.site_institution_id for d in demand} == {bdch.id}
    # every special request has an expert with its skill in its specialty
    skills = {(s.user_id, s.skill) for s in demo.scalars(select(DispatchSkill))}
    for d in demand:
        assert has_expert(demo, bch.id, d.specialty_code)
        if d.kind == "special":
            assert any(
                (e.user_id, d.skill) in skills and e.specialty_code == d.specialty_code
                for e in experts
            )
    minutes = travel_minutes(demo, [bch.id], [bdch.id])
    assert minutes[(bch.id, bdch.id)] == 105
    # the decision waiting for the Beijing coordinator, and a draft at the site
    statuses = Counter(demo.scalars(select(DispatchDemand.status)))
    assert statuses["submitted"] >= 1 and statuses["draft"] >= 1


def test_demo_demand_keeps_the_rules(demo: Session) -> None:
    agreements = {a.id: a for a in demo.scalars(select(CooperationAgreement))}
    for d in demo.scalars(select(DispatchDemand)):
        a = agreements[d.agreement_id]
        terms = rules.DemandTerms(
            rules.DemandKind(d.kind),
            d.starts_on,
            d.ends_on,
            d.visits_per_week,
            d.positions,
            d.day,
            d.skill,
        )
        last = rules.agreement_last_day(a.ends_on, a.terminated_on)
        assert rules.demand_problems(terms, a.starts_on, last, DEMO_DAY) == [], d.id
        assert (a.supporting_institution_id, a.supported_institution_id) == (
            d.supporting_institution_id,
            d.site_institution_id,
        )
    assert demo.scalar(select(TravelTime.minutes).limit(1)) is not None
