"""How the visit measures count: out-calls, person-visits, trips, experts, patients,
operations; by home, site and specialty; what each institution sees."""

from __future__ import annotations

from datetime import date

from medcircle.auth.domain import Role
from medcircle.dispatch import visit_measures as vm
from medcircle.dispatch import visits
from medcircle.dispatch.visit_rules import Period
from tests.integration.dispatch.visit_support import VisitWorld, frozen_fixture, vw_fixture

__all__ = ["frozen_fixture", "vw_fixture"]

NOVEMBER = Period(date(2026, 11, 1), date(2026, 11, 30))


def _record(vw: VisitWorld) -> None:
    coord = vw.actor(vw.coordinator)
    # two experts of neonatology travel together on the 2nd: one trip
    visits.record_visit(vw.session, coord, vw.data(user_id=vw.expert.id))
    visits.record_visit(
        vw.session,
        coord,
        vw.data(user_id=vw.expert2.id, ends_on=date(2026, 11, 6), outpatients=10, operations=[]),
    )
    # surgery leaves the same day for the same site: a trip of its own
    visits.record_visit(
        vw.session,
        coord,
        vw.data(
            user_id=vw.expert.id,
            department_id=vw.surgery.id,
            starts_on=date(2026, 11, 9),
            ends_on=date(2026, 11, 9),
            outpatients=0,
            operations=[
                {"icd10_code": "K40.9", "procedure": "疝修补术", "count": 3},
                {"icd10_code": "K35.8", "procedure": "阑尾切除术", "count": 1},
            ],
        ),
    )
    # October: outside the period
    visits.record_visit(
        vw.session,
        coord,
        vw.data(user_id=vw.expert2.id, starts_on=date(2026, 10, 5), ends_on=date(2026, 10, 5)),
    )


def test_each_figure_is_counted_as_documented(vw: VisitWorld) -> None:
    _record(vw)
    analyst = vw.actor(vw.w.users[Role.COMMISSION_ANALYST])
    tables = vm.compute_all(vw.session, analyst, NOVEMBER)
    total = tables[vm.Group.HOME].total
    assert total.out_calls == 3
    assert total.person_visits == 2 + 5 + 1
    assert total.trips == 2
    assert total.experts == 2
    assert total.outpatients == 24 + 10 + 0
    assert total.operations == 1 + 4
    assert total.difficult_cases == 9 and total.ward_rounds == 6 and total.teaching_sessions == 3
    by_specialty = {r.key: r for r in tables[vm.Group.SPECIALTY].rows}
    assert by_specialty["neonatology"].trips == 1 and by_specialty["neonatology"].out_calls == 2
    assert by_specialty["ped_surgery"].operations == 4
    assert [r.key for r in tables[vm.Group.SITE].rows] == [str(vw.w.baoding.id)]
    # a year and the sum of its parts agree
    year = vm.compute_all(vw.session, analyst, Period(date(2026, 1, 1), date(2026, 12, 31)))
    assert year[vm.Group.HOME].total.out_calls == 4


def test_an_institution_sees_its_own_rows(vw: VisitWorld) -> None:
    _record(vw)
    site = vm.compute_all(vw.session, vw.actor(vw.w.users[Role.CLINICIAN]), NOVEMBER)
    assert site[vm.Group.SITE].institution_id == vw.w.baoding.id
    assert site[vm.Group.SITE].total.out_calls == 3
    outsider = vm.compute_all(vw.session, vw.actor(vw.outsider_expert), NOVEMBER)
    assert outsider[vm.Group.HOME].rows == [] and outsider[vm.Group.HOME].total.out_calls == 0
    m = vm.read(vw.session, vw.actor(vw.coordinator), vm.Group.HOME, NOVEMBER, export=True)
    lines = vm.csv_text(m).splitlines()
    assert lines[0].lstrip("\ufeff").startswith("group,key,name_zh")
    assert lines[-1].startswith("home,*,全部,All,3,8,2,2,34,5")
