"""The demo's visit history, counted by the visit measures, holds the seeds' figures: the 2017
report's out-calls and patients received over its period (exactly), and Beijing Children's
Hospital's trips, experts, person-visits and operations at Baoding Children's Hospital."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medcircle.auth.domain import Actor, Role
from medcircle.auth.models import User
from medcircle.demo import facts
from medcircle.demo.consultations import cooperation_period
from medcircle.demo.referrals import CHINA
from medcircle.dispatch import visit_measures as vm
from medcircle.dispatch.models import VisitRecord
from medcircle.dispatch.visit_rules import Period
from medcircle.registry.models import Institution
from tests.integration.demo.conftest import DEMO_DAY

ANALYST = Actor(
    user_id=0, username="analyst", institution_id=0, roles=frozenset({Role.COMMISSION_ANALYST})
)


def _id(demo: Session, code: str) -> int:
    found = demo.scalar(select(Institution.id).where(Institution.code == code))
    assert found is not None
    return found


def test_the_2017_report_out_calls_and_patients_received(demo: Session) -> None:
    lo, hi = cooperation_period(DEMO_DAY)
    period = Period((lo + CHINA).date(), (hi + CHINA).date() - timedelta(days=1))
    tables = vm.compute_all(demo, ANALYST, period)
    total = tables[vm.Group.HOME].total
    assert total.out_calls == facts.OUT_CALLS_REPORTED == 24_435
    assert total.outpatients == facts.PATIENTS_RECEIVED_REPORTED == 10_258
    homes = {int(r.key) for r in tables[vm.Group.HOME].rows}
    beijing = {_id(demo, f.code) for f in facts.BEIJING_HOSPITALS}
    assert homes == beijing and len(homes) == 12
    hebei = {_id(demo, f.code) for f in facts.BAODING_HOSPITALS}
    assert {int(r.key) for r in tables[vm.Group.SITE].rows} <= hebei


def test_beijing_childrens_at_baoding_childrens(demo: Session) -> None:
    bch, bdch = _id(demo, facts.BEIJING_CHILDRENS), _id(demo, facts.BAODING_CHILDRENS)
    pair = (VisitRecord.home_institution_id == bch) & (VisitRecord.site_institution_id == bdch)

    def total(start: date, end: date) -> vm.Tally:
        return vm.tally(vm.facts_of(demo, pair, Period(start, end)), [])[1]

    assert len(total(date(2016, 1, 1), date(2016, 12, 31)).trips) > facts.TRIPS_2016_MORE_THAN
    nine_years = total(facts.TRUSTEESHIP_START, facts.DIFFICULT_REPORTED - timedelta(days=1))
    assert len(nine_years.experts) > facts.BDCH_EXPERTS_MORE_THAN
    assert nine_years.person_visits > facts.BDCH_PERSON_VISITS_MORE_THAN
    assert nine_years.operations > facts.BDCH_OPERATIONS_MORE_THAN
    # with the remote ones, more than 10,000 difficult cases consulted
    remote = sum(r for _, _, r in facts.DIFFICULT_CASES)
    assert nine_years.difficult_cases + remote > facts.DIFFICULT_MORE_THAN
    # the totals grow toward the 2024 figures year by year
    person_visits = [total(date(y, 1, 1), date(y, 12, 31)).person_visits for y in range(2016, 2024)]
    assert sum(person_visits[:4]) < sum(person_visits[4:])


def test_nobody_is_at_two_sites_at_once_and_nothing_is_ahead(demo: Session) -> None:
    rows = demo.execute(
        select(VisitRecord.user_id, VisitRecord.starts_on, VisitRecord.ends_on).order_by(
            VisitRecord.user_id, VisitRecord.starts_on
        )
    ).all()
    for (u1, _, e1), (u2, s2, _) in itertools.pairwise(rows):
        assert u1 != u2 or s2 > e1
    assert max(e for _, _, e in rows) < DEMO_DAY
    # every expert is an account of the record's home institution
    mismatched = demo.scalar(
        select(func.count())
        .select_from(VisitRecord)
        .join(User, User.id == VisitRecord.user_id)
        .where(User.institution_id != VisitRecord.home_institution_id)
    )
    assert mismatched == 0
