"""The pure rules of dispatch set-up: skill names, demand's state machine and checks, experts'
duty and leave days, the profile that could never visit."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medcircle.dispatch import rules
from medcircle.dispatch.rules import DemandAction, DemandKind, DemandStatus, DemandTerms, Side
from medcircle.kit.clock import CST

FIRST, LAST, TODAY = date(2024, 1, 1), date(2027, 8, 31), date(2026, 11, 30)


@given(st.text(max_size=80))
def test_normalising_a_skill_is_idempotent_and_plain(raw: str) -> None:
    once = rules.normalise_skill(raw)
    assert rules.normalise_skill(once) == once
    assert once == once.strip() and "  " not in once and once == once.lower()
    assert not any(c.isspace() and c != " " for c in once)


@given(st.text(alphabet=st.sampled_from("ab AB\t\n"), min_size=1, max_size=30))
def test_spelling_variants_of_a_skill_match(raw: str) -> None:
    assert rules.normalise_skill(raw.upper()) == rules.normalise_skill(raw.lower())


@pytest.mark.parametrize(
    ("raw", "ok"),
    [
        ("cochlear implant", True),
        ("picc line", True),
        ("ecmo (v-a)", True),
        ("x", False),
        ("a" * 65, False),
        ("-dash", False),
    ],
)
def test_valid_skills(raw: str, ok: bool) -> None:
    assert rules.valid_skill(rules.normalise_skill(raw)) is ok


@given(st.lists(st.sampled_from(list(DemandAction)), max_size=12))
def test_every_walk_of_the_state_machine_keeps_to_the_table(walk: list[DemandAction]) -> None:
    status = DemandStatus.DRAFT
    for action in walk:
        target = rules.next_status(status, action)
        if target is None:
            assert rules.side_of(status, action) is None
            continue
        side = rules.side_of(status, action)
        # only the supporter decides, only the site writes and withdraws
        assert (side is Side.SUPPORTER) == (action in (DemandAction.APPROVE, DemandAction.REJECT))
        status = target
    assert not rules.actions_for(DemandStatus.WITHDRAWN, Side.SITE)


def test_actions_for_each_side() -> None:
    assert rules.actions_for(DemandStatus.SUBMITTED, Side.SUPPORTER) == [
        DemandAction.APPROVE,
        DemandAction.REJECT,
    ]
    assert rules.actions_for(DemandStatus.SUBMITTED, Side.SITE) == [DemandAction.WITHDRAW]
    assert rules.actions_for(DemandStatus.REJECTED, Side.SITE) == [
        DemandAction.EDIT,
        DemandAction.WITHDRAW,
    ]
    assert rules.next_status(DemandStatus.REJECTED, DemandAction.EDIT) is DemandStatus.DRAFT


def _codes(terms: DemandTerms) -> list[str]:
    return [p.code for p in rules.demand_problems(terms, FIRST, LAST, TODAY)]


def test_good_demand_of_each_kind() -> None:
    period = (date(2026, 12, 7), date(2027, 2, 26))
    assert _codes(DemandTerms(DemandKind.VISITS, *period, visits_per_week=1)) == []
    assert _codes(DemandTerms(DemandKind.RESIDENT, *period, positions=2)) == []
    day = date(2026, 12, 9)
    assert _codes(DemandTerms(DemandKind.SPECIAL, day, day, day=day, skill="ECMO")) == []


@given(st.integers(min_value=-50, max_value=50))
def test_visits_a_week_from_one_to_five(n: int) -> None:
    codes = _codes(
        DemandTerms(DemandKind.VISITS, date(2026, 12, 7), date(2027, 1, 8), visits_per_week=n)
    )
    assert (codes == []) == (1 <= n <= 5)


def test_periods_and_days_outside_the_agreement() -> None:
    def visits(a: date, b: date) -> list[str]:
        return _codes(DemandTerms(DemandKind.VISITS, a, b, visits_per_week=2))

    assert visits(date(2023, 12, 31), date(2024, 2, 1)) == ["outside_agreement"]
    assert visits(date(2027, 8, 1), date(2027, 9, 1)) == ["outside_agreement"]
    assert visits(date(2027, 1, 8), date(2027, 1, 1)) == ["end_before_start"]
    assert visits(date(2026, 1, 5), date(2026, 11, 29)) == ["in_the_past"]
    # the last day of the agreement is the day before it ends (or is terminated)
    assert rules.agreement_last_day(date(2027, 9, 1), None) == LAST
    assert rules.agreement_last_day(date(2027, 9, 1), date(2027, 3, 1)) == date(2027, 2, 28)


def test_special_requests_need_a_working_day_and_a_skill() -> None:
    sat = date(2026, 12, 12)
    assert _codes(DemandTerms(DemandKind.SPECIAL, sat, sat, day=sat, skill="ecmo")) == [
        "not_a_working_day"
    ]
    assert _codes(DemandTerms(DemandKind.SPECIAL, TODAY, TODAY, skill="ecmo")) == ["day_required"]
    assert _codes(DemandTerms(DemandKind.SPECIAL, TODAY, TODAY, day=TODAY, skill=" ")) == [
        "skill_required"
    ]


@given(
    st.integers(min_value=-3, max_value=8),
    st.sets(st.integers(min_value=0, max_value=6)),
    st.booleans(),
)
def test_profiles(max_days: int, weekdays: set[int], active: bool) -> None:
    codes = [p.code for p in rules.profile_problems(max_days, weekdays, active)]
    assert ("days_out_of_range" in codes) == (not 0 <= max_days <= 5)
    assert ("invalid_weekday" in codes) == bool(weekdays - {0, 1, 2, 3, 4})
    never = active and max_days > 0 and weekdays == {0, 1, 2, 3, 4}
    assert ("never_available" in codes) == never


def test_duty_days_expand_the_weekly_pattern_and_single_days() -> None:
    days = rules.working_days(date(2026, 12, 5), date(2026, 12, 18))
    assert len(days) == 10 and all(d.weekday() < 5 for d in days)
    found = rules.duty_days(days, [0, 3], [date(2026, 12, 9), date(2026, 12, 25)])
    assert found == {
        date(2026, 12, 7),
        date(2026, 12, 10),
        date(2026, 12, 14),
        date(2026, 12, 17),
        date(2026, 12, 9),
    }


@given(st.integers(min_value=0, max_value=24 * 20), st.integers(min_value=1, max_value=24 * 10))
def test_leave_days_are_the_days_leave_touches(start_hour: int, hours: int) -> None:
    days = rules.working_days(date(2026, 12, 7), date(2026, 12, 31))
    a = datetime(2026, 12, 7, tzinfo=CST) + timedelta(hours=start_hour)
    b = a + timedelta(hours=hours)
    found = rules.leave_days(days, [(a, b)])
    for d in days:
        start = datetime(d.year, d.month, d.day, tzinfo=CST)
        assert (d in found) == (a < start + timedelta(days=1) and start < b)
