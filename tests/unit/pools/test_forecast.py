"""Admission ranges, Erlang C and the backtest: dates worked out by hand for equal stays, the
ranges ordered and never earlier for a later place, textbook M/M/c values, pooling never
waiting longer than separate lists, unbounded lists reported as such, and the backtest's
share and errors on a hand example; calibrated ranges holding about as often as they claim."""

from __future__ import annotations

import itertools
import math
import random
from datetime import date, timedelta
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medcircle.pools.forecast import (
    MIN_CALIBRATION,
    Backtest,
    Calibration,
    ForecastMethod,
    PastPrediction,
    ScoredMedian,
    SiteLoad,
    StayBasis,
    UnitNow,
    UnitStatus,
    backtest,
    calibrate,
    calibration,
    compare_pooling,
    erlang_b,
    erlang_c,
    forecast_admission,
    forecast_positions,
    mm_c,
    observe_waits,
    stay_model,
)

TODAY = date(2025, 1, 1)
FREE = UnitNow(UnitStatus.FREE)


def occupied(days: int) -> UnitNow:
    return UnitNow(UnitStatus.OCCUPIED, TODAY + timedelta(days=days))


# --- stays ------------------------------------------------------------------------------------


def test_own_discharges_are_used_once_there_are_enough() -> None:
    model = stay_model([30, 40, 35, 28, 42])
    assert model.basis is StayBasis.OBSERVED
    assert model.observed == 5
    assert model.mean_days == 35


def test_too_few_discharges_fall_back_to_the_configured_mean() -> None:
    model = stay_model([90, 100], default_mean_days=35, default_cv=0.4)
    assert model.basis is StayBasis.ASSUMED
    assert model.observed == 2
    assert model.mean_days == pytest.approx(35)
    # the spread is close to the one configured (the tails are cut at the quantile midpoints)
    assert math.sqrt(model.variance) / model.mean_days == pytest.approx(0.4, rel=0.1)
    assert not model.fixed
    assert stay_model([], default_cv=0).fixed


def test_a_negative_stay_is_refused() -> None:
    with pytest.raises(ValueError):
        stay_model([30, 30, 30, 30, -1])


# --- admission ranges -------------------------------------------------------------------------


def test_equal_stays_give_exact_dates() -> None:
    # unit A free now, unit B expected free on 11 January; every stay 30 days, cleaning 2:
    # A takes patients on days 0, 32, 64; B on days 10, 42, 74
    forecast = forecast_positions(
        TODAY, [FREE, occupied(10)], 6, stay_model([30] * 8), turnaround_days=2
    )
    assert forecast.basis.method is ForecastMethod.EXACT
    assert forecast.basis.draws == 1
    expected = [
        date(2025, 1, 1),
        date(2025, 1, 11),
        date(2025, 2, 2),
        date(2025, 2, 12),
        date(2025, 3, 6),
        date(2025, 3, 16),
    ]
    for position, day in enumerate(expected, start=1):
        r = forecast.at(position)
        assert r is not None
        assert (r.earliest, r.median, r.latest) == (day, day, day)


def test_a_unit_free_now_takes_the_next_patient_today() -> None:
    stays = stay_model([20, 25, 31, 40, 55, 60])
    r = forecast_admission(TODAY, [occupied(30), FREE, occupied(5)], 1, stays)
    assert r is not None
    assert r.earliest == r.median == r.latest == TODAY
    # a date already past counts as today
    late = forecast_admission(TODAY, [occupied(-3)], 1, stays)
    assert late is not None and late.latest == TODAY


def test_cleaning_without_a_date_takes_the_turnaround() -> None:
    r = forecast_admission(
        TODAY, [UnitNow(UnitStatus.CLEANING)], 1, stay_model([30] * 5), turnaround_days=3
    )
    assert r is not None and r.median == TODAY + timedelta(days=3)


def test_units_that_will_not_take_patients_are_left_out() -> None:
    units = [
        UnitNow(UnitStatus.RETIRED),
        UnitNow(UnitStatus.MAINTENANCE),
        UnitNow(UnitStatus.MAINTENANCE, TODAY + timedelta(days=7)),
    ]
    forecast = forecast_positions(TODAY, units, 3, stay_model([30] * 5))
    assert (forecast.basis.units, forecast.basis.units_left_out) == (1, 2)
    first = forecast.at(1)
    assert first is not None and first.median == TODAY + timedelta(days=7)
    assert forecast.at(4) is None
    nothing = forecast_positions(TODAY, units[:2], 3, stay_model([30] * 5))
    assert nothing.ranges == () and nothing.at(1) is None
    assert forecast_admission(TODAY, units[:2], 1, stay_model([30] * 5)) is None


def test_the_same_seed_gives_the_same_ranges_and_one_position_matches_the_table() -> None:
    stays = stay_model([18, 22, 30, 33, 35, 41, 47, 60, 75])
    units = [FREE, occupied(4), occupied(12), occupied(25)]
    a = forecast_positions(TODAY, units, 30, stays, seed=7)
    b = forecast_positions(TODAY, units, 30, stays, seed=7)
    assert a == b
    assert forecast_admission(TODAY, units, 17, stays, seed=7) == a.at(17)


def test_far_positions_follow_renewal_theory() -> None:
    # 20 units free now, stays spread evenly over 20..50 days, cleaning 2: a cycle of mean
    # m = 37 and squared variation v = 80 / 37². The 200th free moment is where
    # c·(t/m + (1 + v)/2) = 200, about 350 days
    stays = stay_model(list(range(20, 51)))
    m, v = 37.0, 80 / 37**2
    expected = m * (200 / 20 - (1 + v) / 2)
    r = forecast_admission(TODAY, [FREE] * 20, 200, stays, turnaround_days=2)
    assert r is not None
    assert abs((r.median - TODAY).days - expected) < 0.03 * expected
    assert r.earliest < r.median < r.latest


def test_the_recent_pace_is_a_cross_check() -> None:
    stays = stay_model([30] * 5)
    r = forecast_admission(
        TODAY, [FREE, occupied(10)], 3, stays, recent_admissions_per_day=0.1, turnaround_days=2
    )
    assert r is not None
    # 3 patients at one admission every 10 days: day 30; the model says day 32
    assert r.at_recent_pace == TODAY + timedelta(days=30)
    assert r.pace_agrees is False
    assert r.basis.recent_admissions_per_day == 0.1
    none = forecast_admission(TODAY, [FREE], 1, stays)
    assert none is not None and none.at_recent_pace is None and none.pace_agrees is None


unit_states = st.one_of(
    st.just(FREE),
    st.builds(
        UnitNow,
        st.sampled_from([UnitStatus.OCCUPIED, UnitStatus.CLEANING, UnitStatus.MAINTENANCE]),
        st.integers(-5, 90).map(lambda d: TODAY + timedelta(days=d)),
    ),
    st.builds(UnitNow, st.sampled_from([UnitStatus.OCCUPIED, UnitStatus.CLEANING])),
)


@settings(max_examples=40)
@given(
    units=st.lists(unit_states, min_size=1, max_size=8),
    stays=st.lists(st.integers(1, 120), max_size=12),
    turnaround=st.integers(0, 5),
    seed=st.integers(0, 2**32),
)
def test_ranges_are_ordered_monotone_and_not_in_the_past(
    units: list[UnitNow], stays: list[int], turnaround: int, seed: int
) -> None:
    forecast = forecast_positions(
        TODAY, units, 25, stay_model(stays), turnaround_days=turnaround, draws=60, seed=seed
    )
    assert len(forecast.ranges) == 25
    previous = None
    for r in forecast.ranges:
        assert TODAY <= r.earliest <= r.median <= r.latest
        if previous is not None:
            assert previous.earliest <= r.earliest
            assert previous.median <= r.median
            assert previous.latest <= r.latest
        previous = r


# --- queueing ---------------------------------------------------------------------------------


def erlang_c_closed_form(c: int, a: Fraction) -> Fraction:
    """The textbook formula with factorials, in exact arithmetic."""
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


def test_erlang_b_recursion() -> None:
    assert erlang_b(1, 1.0) == pytest.approx(0.5)
    assert erlang_b(2, 1.0) == pytest.approx(0.2)
    assert erlang_b(0, 3.0) == 1.0


def test_one_unit_is_m_m_1() -> None:
    lam, mu = 0.5, 1.0
    q = mm_c(1, lam, 1 / mu)
    assert q.wait_probability == pytest.approx(lam / mu)
    assert q.mean_wait_days == pytest.approx((lam / mu) / (mu - lam))


def test_two_units_at_load_one() -> None:
    q = mm_c(2, 1.0, 1.0)
    assert q.wait_probability == pytest.approx(1 / 3)
    assert q.mean_wait_days == pytest.approx(1 / 3)
    assert q.utilisation == pytest.approx(0.5)


def test_published_erlang_c_values() -> None:
    # the usual table: 3 servers at 2 erlangs 0.4444, 5 at 4 0.5541, 10 at 8 0.4092
    assert erlang_c(3, 2.0) == pytest.approx(4 / 9)
    assert erlang_c(5, 4.0) == pytest.approx(0.5541, abs=1e-4)
    assert erlang_c(10, 8.0) == pytest.approx(0.4092, abs=1e-4)
    for c, a in [(1, Fraction(1, 3)), (4, Fraction(7, 2)), (12, Fraction(9)), (30, Fraction(25))]:
        assert erlang_c(c, float(a)) == pytest.approx(float(erlang_c_closed_form(c, a)))


def test_large_pools_do_not_overflow() -> None:
    p = erlang_c(2000, 1990.0)
    assert 0 < p < 1
    q = mm_c(2000, 1990 / 37, 37.0)
    assert q.mean_wait_days is not None and q.mean_wait_days > 0


def test_arrivals_outrunning_the_units_grow_without_limit() -> None:
    full = mm_c(2, 1.0, 2.0)  # exactly as many patients as the units can take
    assert full.unbounded and full.mean_wait_days is None and full.wait_probability == 1.0
    assert mm_c(0, 0.1, 30.0).unbounded
    assert not mm_c(0, 0.0, 30.0).unbounded
    assert erlang_c(2, 3.0) == 1.0

    comparison = compare_pooling([SiteLoad("bj", 0.2, 5), SiteLoad("bd", 0.1, 15)], 37.0)
    assert comparison.sites[0].queue.unbounded  # 7.4 erlangs on 5 units
    assert comparison.separate_unbounded
    assert comparison.separate_mean_wait_days is None
    assert comparison.days_saved is None
    # pooled: 11.1 erlangs on 20 units
    assert not comparison.pooled.unbounded
    assert comparison.pooled.mean_wait_days is not None


def test_a_busy_hospital_gains_most_from_the_pool() -> None:
    # a busy Beijing list (4 units at 95 %) and a quieter Baoding one (16 units at 70 %)
    comparison = compare_pooling(
        [SiteLoad("bj", 0.95 * 4 / 37, 4), SiteLoad("bd", 0.7 * 16 / 37, 16)], 37.0
    )
    bj, bd = (s.queue.mean_wait_days for s in comparison.sites)
    assert bj is not None and bd is not None and bj > 100 > 1 > bd
    assert comparison.pooled.servers == 20
    assert comparison.pooled.mean_wait_days is not None
    assert comparison.pooled.mean_wait_days < 2
    assert comparison.days_saved is not None and comparison.days_saved > 30


site_loads = st.lists(st.tuples(st.integers(1, 30), st.floats(0.01, 0.97)), min_size=1, max_size=5)


@given(sites=site_loads, service=st.floats(1, 90))
def test_pooling_never_waits_longer(sites: list[tuple[int, float]], service: float) -> None:
    loads = [SiteLoad(f"s{i}", rho * c / service, c) for i, (c, rho) in enumerate(sites)]
    comparison = compare_pooling(loads, service)
    assert not comparison.separate_unbounded and not comparison.pooled.unbounded
    pooled, separate = comparison.pooled.mean_wait_days, comparison.separate_mean_wait_days
    assert pooled is not None and separate is not None
    assert pooled <= separate * (1 + 1e-9) + 1e-12


# --- observed waits ---------------------------------------------------------------------------


def test_observed_waits_from_the_history() -> None:
    history: list[tuple[date, date | None]] = [
        (date(2025, 1, 1), date(2025, 1, 11)),  # 10 days
        (date(2025, 1, 6), date(2025, 1, 26)),  # 20 days
        (date(2025, 1, 11), date(2025, 1, 14)),  # 3 days
        (date(2025, 1, 21), None),  # waiting 10 days
        (date(2025, 2, 5), None),  # listed after today: ignored
    ]
    seen = observe_waits(history, today=date(2025, 1, 31))
    assert (seen.since, seen.days) == (date(2025, 1, 1), 30)
    assert (seen.listed, seen.admitted, seen.still_waiting) == (4, 3, 1)
    assert seen.arrivals_per_day == pytest.approx(4 / 30)
    assert seen.admissions_per_day == pytest.approx(3 / 30)
    assert seen.mean_wait_days == pytest.approx(11)
    assert seen.median_wait_days == 10
    assert seen.longest_waiting_days == 10

    recent = observe_waits(history, today=date(2025, 1, 31), since=date(2025, 1, 16))
    assert (recent.listed, recent.admitted, recent.days) == (1, 1, 15)
    assert recent.mean_wait_days == 20

    empty = observe_waits([], today=TODAY)
    assert empty.mean_wait_days is None and empty.arrivals_per_day == 0


def test_an_admission_before_its_listing_is_refused() -> None:
    with pytest.raises(ValueError):
        observe_waits([(date(2025, 1, 10), date(2025, 1, 9))], today=date(2025, 2, 1))


# --- backtest ---------------------------------------------------------------------------------


def past(earliest: date, median: date, latest: date, admitted: date | None) -> PastPrediction:
    return PastPrediction(date(2025, 1, 1), 3, earliest, median, latest, admitted)


def test_backtest_on_a_hand_example() -> None:
    result = backtest(
        [
            # inside, 2 days after the median
            past(date(2025, 2, 1), date(2025, 2, 10), date(2025, 2, 20), date(2025, 2, 12)),
            # before the range, 8 days early
            past(date(2025, 3, 1), date(2025, 3, 5), date(2025, 3, 9), date(2025, 2, 25)),
            # after the range, 20 days late
            past(date(2025, 4, 1), date(2025, 4, 10), date(2025, 4, 20), date(2025, 4, 30)),
            # on the last day of the range counts as inside, 4 days late
            past(date(2025, 5, 1), date(2025, 5, 5), date(2025, 5, 9), date(2025, 5, 9)),
            # not admitted: not scored
            past(date(2025, 6, 1), date(2025, 6, 5), date(2025, 6, 9), None),
        ]
    )
    assert result == Backtest(
        scored=4,
        not_admitted=1,
        inside=2,
        earlier=1,
        later=1,
        share_inside=0.5,
        median_abs_error_days=6.0,  # of 2, 4, 8, 20
        median_error_days=3.0,  # of -8, 2, 4, 20
    )


def test_backtest_without_admissions() -> None:
    result = backtest([past(TODAY, TODAY, TODAY, None)])
    assert result.scored == 0 and result.share_inside is None
    assert result.median_abs_error_days is None


# --- calibration against past admissions ---------------------------------------------------


def scored(errors: list[int], admitted_on: date = TODAY) -> list[ScoredMedian]:
    """Past predictions whose admissions came ``errors`` days after their medians."""
    return [
        ScoredMedian(admitted_on - timedelta(days=60), admitted_on - timedelta(days=e), admitted_on)
        for e in errors
    ]


def test_too_few_past_predictions_leave_the_forecast_as_it_is() -> None:
    assert calibration(scored([5] * (MIN_CALIBRATION - 1)), today=TODAY) is None
    found = forecast_positions(TODAY, [occupied(10)], 1, stay_model([30] * 30), draws=50).at(1)
    assert found is not None
    shown = calibrate(found, None)
    assert shown == found and not shown.calibrated and shown.forecast_median == found.median


def test_calibration_on_a_hand_example() -> None:
    # 29 errors: -4, -3, …, 24; with n + 1 = 30 the new one is below the 3rd and above the 27th
    # with a probability of a tenth each
    errors = list(range(-4, 25))
    found = calibration(scored(errors), today=TODAY)
    assert found == Calibration(scored=29, low_days=-2, median_days=10, high_days=22)


def test_only_the_admissions_of_the_window_count() -> None:
    old = scored([100] * 40, admitted_on=TODAY - timedelta(days=400))
    recent = scored([3] * 30, admitted_on=TODAY - timedelta(days=10))
    future = scored([-50] * 5, admitted_on=TODAY + timedelta(days=1))
    found = calibration(old + recent + future, today=TODAY)
    assert found == Calibration(scored=30, low_days=3, median_days=3, high_days=3)


def test_a_calibrated_range_moves_around_the_forecasts_median_and_never_into_the_past() -> None:
    made = forecast_positions(TODAY, [occupied(3)], 4, stay_model([20] * 30), draws=1)
    errors = Calibration(scored=40, low_days=-10, median_days=6, high_days=30)
    shown = [calibrate(r, errors) for r in made.ranges]
    for own, cal in zip(made.ranges, shown, strict=True):
        assert cal.calibrated and cal.calibrated_from == 40
        assert cal.uncalibrated == own and cal.forecast_median == own.median
        assert cal.median == own.median + timedelta(days=6)
        assert cal.latest == own.median + timedelta(days=30)
        assert cal.earliest == max(TODAY, own.median - timedelta(days=10))
        # calibrating again starts from the forecast's own range, not from the shown one
        assert calibrate(cal, errors) == cal
    for a, b in itertools.pairwise(shown):
        assert a.earliest <= b.earliest and a.median <= b.median and a.latest <= b.latest


@settings(max_examples=30)
@given(
    errors=st.lists(st.integers(-400, 400), min_size=9, max_size=200),
)
def test_the_conformal_ranks_leave_at_most_a_tenth_out_on_each_side(errors: list[int]) -> None:
    found = calibration(scored(errors), today=TODAY, min_scored=1)
    ordered = sorted(errors)
    n = len(errors)
    assert found is not None and found.scored == n
    assert found.low_days <= found.median_days <= found.high_days
    # at most a tenth of n + 1 equally likely gaps lie below the low bound or above the high one
    below = ordered.index(found.low_days) + 1
    above = n - (n - 1 - ordered[::-1].index(found.high_days))
    assert below <= 0.1 * (n + 1) + 1e-9 and above <= 0.1 * (n + 1) + 1e-9


def test_calibrated_ranges_hold_about_as_often_as_they_claim() -> None:
    # a forecast that is early by 20 days and too sure: the admissions scatter widely later
    rng = random.Random(7)
    errors = [round(rng.gammavariate(2.0, 15.0)) for _ in range(2_000)]
    by = calibration(scored(errors[:200]), today=TODAY)
    assert by is not None
    inside = sum(by.low_days <= e <= by.high_days for e in errors[200:])
    assert 0.75 <= inside / 1_800 <= 0.87
