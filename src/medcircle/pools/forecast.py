"""When a waiting patient may expect a unit, and what pooling units changes (pure).

Three things a pool page explains:

* **An admission range for a place in the line.** The k-th ready patient among those who can
  use a set of units gets the k-th moment one of them comes free. Each unit comes free first on
  its expected date (today if free now), then again after each stay plus the turnaround
  (cleaning). Stays are drawn from the pool's own recent discharges, or from a lognormal with
  the configured mean while it has too few of them. A seeded simulation of a few hundred
  futures gives, for every place at once, the 10th, 50th and 90th percentile date: the range
  shown. Equal stays make every future the same, so one is enough and the dates are exact.
* **Pooled against separate lists.** Erlang C (M/M/c) for each hospital on its own and for one
  pool of all their units, with the waits compared; a list whose arrivals outrun its units
  grows without limit and is reported as such. Next to it the waits observed in the history.
* **Calibration.** The simulation knows the units and the ready patients ahead, not the more
  urgent patients who will be listed later and go first, nor those ahead not ready yet who
  become ready, and it takes the units' expected dates as certain: its range is too early and
  too narrow. Once a room class has enough admissions whose median was predicted at listing,
  the range shown is set by how far those admissions fell from their medians (split conformal
  calibration): the forecast's median moved by the median error, the 10th to the 90th
  percentile of the errors around it. The range then holds about as often as it claims.
* **The backtest.** How often admissions fell inside the range predicted at listing, and how
  far the median prediction was off.

Nothing here touches the database or the clock: the caller passes today.
"""

from __future__ import annotations

import math
import random
import statistics
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from enum import StrEnum
from heapq import heapify, heapreplace
from operator import add, itemgetter

# what a pool assumes until it has enough discharges of its own
DEFAULT_STAY_DAYS = 35.0
# spread of that assumed stay (standard deviation over mean): transplant stays of four to six
# weeks with a tail of complicated ones
DEFAULT_STAY_CV = 0.4
# fewer recent discharges than this say too little about the spread
MIN_STAYS = 5
TURNAROUND_DAYS = 2.0
DRAWS = 400
LOW_QUANTILE = 0.1
MID_QUANTILE = 0.5
HIGH_QUANTILE = 0.9
# the share of admissions a range claims to hold (the 10th to the 90th percentile)
NOMINAL_COVERAGE = HIGH_QUANTILE - LOW_QUANTILE
# scored past predictions of a room class needed before its ranges are calibrated, and how far
# back (admitted within this many days) they count
MIN_CALIBRATION = 20
CALIBRATION_WINDOW_DAYS = 365
# the assumed lognormal is sampled through this many equally likely values, so both kinds of
# stay model are drawn from alike (and fast)
_LOGNORMAL_POINTS = 200
# a simulated moment a hair past midnight is still that day, not the next
_DAY_EPSILON = 1e-9


# ---------------------------------------------------------------------------------------------
# stays


class StayBasis(StrEnum):
    # the pool's own recent discharges, drawn from as they are
    OBSERVED = "observed"
    # too few discharges: a lognormal with the configured mean and spread
    ASSUMED = "assumed"


@dataclass(frozen=True)
class StayModel:
    """Lengths of stay to draw from, in days, each as likely as the others."""

    basis: StayBasis
    days: tuple[float, ...]
    # recent discharges behind the model (0 to MIN_STAYS - 1 when assumed)
    observed: int

    @property
    def mean_days(self) -> float:
        return statistics.fmean(self.days)

    @property
    def variance(self) -> float:
        return statistics.pvariance(self.days)

    @property
    def fixed(self) -> bool:
        """Every stay the same length: the future is certain."""
        return min(self.days) == max(self.days)


def stay_model(
    recent_stays_days: Sequence[float],
    *,
    default_mean_days: float = DEFAULT_STAY_DAYS,
    default_cv: float = DEFAULT_STAY_CV,
    min_stays: int = MIN_STAYS,
) -> StayModel:
    """The stays to draw from: the recent ones if there are at least ``min_stays``, otherwise a
    lognormal with ``default_mean_days`` and coefficient of variation ``default_cv``."""
    if any(d < 0 or not math.isfinite(d) for d in recent_stays_days):
        raise ValueError("A stay lasts zero days or more.")
    if len(recent_stays_days) >= max(1, min_stays):
        return StayModel(
            StayBasis.OBSERVED, tuple(float(d) for d in recent_stays_days), len(recent_stays_days)
        )
    if default_mean_days <= 0 or default_cv < 0:
        raise ValueError("The assumed stay needs a positive mean and a spread of zero or more.")
    sigma = math.sqrt(math.log1p(default_cv**2))
    normal = statistics.NormalDist(math.log(default_mean_days) - sigma**2 / 2, sigma)
    if sigma == 0:
        points = [default_mean_days] * _LOGNORMAL_POINTS
    else:
        points = [
            math.exp(normal.inv_cdf((i + 0.5) / _LOGNORMAL_POINTS))
            for i in range(_LOGNORMAL_POINTS)
        ]
    # the midpoints cut off both tails; scale back so the mean is the one configured
    scale = default_mean_days / statistics.fmean(points)
    return StayModel(StayBasis.ASSUMED, tuple(p * scale for p in points), len(recent_stays_days))


# ---------------------------------------------------------------------------------------------
# admission ranges


class UnitStatus(StrEnum):
    # the statuses of a unit as the pool records them
    FREE = "free"
    OCCUPIED = "occupied"
    CLEANING = "cleaning"
    MAINTENANCE = "maintenance"
    RETIRED = "retired"


@dataclass(frozen=True)
class UnitNow:
    """A unit as it stands today. ``expected_free_on`` is when it is expected to take its next
    patient (after the discharge and the cleaning); a date already past counts as today."""

    status: UnitStatus
    expected_free_on: date | None = None


class ForecastMethod(StrEnum):
    # a seeded simulation of many futures
    SIMULATION = "simulation"
    # all stays equal: one future, exact dates
    EXACT = "exact"


@dataclass(frozen=True)
class ForecastBasis:
    """What a forecast was computed from, for the page to explain it."""

    method: ForecastMethod
    today: date
    # units that will take patients; units retired or in maintenance without a date are not
    units: int
    units_left_out: int
    stay_basis: StayBasis
    mean_stay_days: float
    stays_observed: int
    turnaround_days: float
    draws: int
    seed: int
    # admissions a day lately, for the cross-check (None when not given)
    recent_admissions_per_day: float | None


@dataclass(frozen=True)
class AdmissionRange:
    """The likely admission dates of the patient at ``position`` (1 = next): as early as
    ``earliest`` in one future out of ten, ``median`` in one out of two, by ``latest`` in nine
    out of ten. Calibrated (``calibrated_from`` set, see :func:`calibrate`), the same claim
    rests on the past admissions of the room class instead of the simulated futures alone."""

    position: int
    earliest: date
    median: date
    latest: date
    # the date at the recent pace of admissions (position / admissions a day), as a check on
    # the model; None without a recent pace
    at_recent_pace: date | None
    basis: ForecastBasis
    # the scored past predictions the range was calibrated against; None: the forecast's own
    # range (too few of them to calibrate)
    calibrated_from: int | None = None
    # the forecast's own range this one was calibrated from (None when this is it)
    uncalibrated: AdmissionRange | None = None

    @property
    def calibrated(self) -> bool:
        return self.calibrated_from is not None

    @property
    def forecast_median(self) -> date:
        """The forecast's own median, before any calibration: the date later ranges are
        calibrated against (see :class:`ScoredMedian`)."""
        return (self.uncalibrated or self).median

    @property
    def pace_agrees(self) -> bool | None:
        """Whether the recent pace falls inside the range (None without a recent pace)."""
        if self.at_recent_pace is None:
            return None
        return self.earliest <= self.at_recent_pace <= self.latest


@dataclass(frozen=True)
class PoolForecast:
    """The admission ranges of positions 1 to ``len(ranges)`` for one set of units. Computed once
    per pool and room class, it answers every waiting patient's page."""

    basis: ForecastBasis
    ranges: tuple[AdmissionRange, ...]

    def at(self, position: int) -> AdmissionRange | None:
        """The range for a position (None past the positions computed or without units)."""
        if 1 <= position <= len(self.ranges):
            return self.ranges[position - 1]
        return None


def _first_free(
    unit: UnitNow, today: date, stays: StayModel, turnaround_days: float
) -> float | None:
    """Days from today until the unit takes its first patient (None: it will not)."""
    if unit.status is UnitStatus.RETIRED:
        return None
    if unit.expected_free_on is not None and unit.status is not UnitStatus.FREE:
        return float(max(0, (unit.expected_free_on - today).days))
    match unit.status:
        case UnitStatus.FREE:
            return 0.0
        case UnitStatus.CLEANING:
            return float(turnaround_days)
        case UnitStatus.OCCUPIED:
            # no date given: the stay met at a random moment has, on average, this much left
            # (longer stays are more likely to be the one met)
            mean = stays.mean_days
            left = (mean * mean + stays.variance) / (2 * mean) if mean > 0 else 0.0
            return left + turnaround_days
        case _:
            # maintenance without a date: nobody can say when it is back
            return None


def _quantile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank quantile of sorted values: always one of the values, so a later position,
    being later in every future, is never given an earlier date."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _day(today: date, days: float) -> date:
    # a unit free during a day takes its patient that day at the earliest: round up
    return today + timedelta(days=max(0, math.ceil(days - _DAY_EPSILON)))


def forecast_positions(
    today: date,
    units: Iterable[UnitNow],
    positions: int,
    stays: StayModel,
    *,
    turnaround_days: float = TURNAROUND_DAYS,
    recent_admissions_per_day: float | None = None,
    draws: int = DRAWS,
    seed: int = 0,
) -> PoolForecast:
    """Admission ranges for positions 1 to ``positions`` among the ready patients who can use
    ``units``.

    In each simulated future every unit keeps a next free moment; the earliest one goes to the
    next patient and moves on by a drawn stay plus the turnaround. All futures advance together,
    one patient at a time, so position k sees the same random stays however many positions are
    asked for: a page asking for one position agrees with the table of all of them.
    """
    if positions < 0:
        raise ValueError("The number of positions is zero or more.")
    if draws < 1:
        raise ValueError("At least one draw.")
    if turnaround_days < 0:
        raise ValueError("The turnaround is zero days or more.")
    firsts: list[float] = []
    left_out = 0
    for unit in units:
        first = _first_free(unit, today, stays, turnaround_days)
        if first is None:
            left_out += 1
        else:
            firsts.append(first)
    exact = stays.fixed
    n_draws = 1 if exact else draws
    basis = ForecastBasis(
        method=ForecastMethod.EXACT if exact else ForecastMethod.SIMULATION,
        today=today,
        units=len(firsts),
        units_left_out=left_out,
        stay_basis=stays.basis,
        mean_stay_days=stays.mean_days,
        stays_observed=stays.observed,
        turnaround_days=turnaround_days,
        draws=n_draws,
        seed=seed,
        recent_admissions_per_day=recent_admissions_per_day,
    )
    if not firsts:
        return PoolForecast(basis, ())

    heapify(firsts)
    # one heap of next free moments per future; the loop below stays in C-level maps because
    # it runs positions x draws times
    heaps = [firsts.copy() for _ in range(n_draws)]
    cycles = [d + turnaround_days for d in stays.days]
    rng = random.Random(seed)
    top = itemgetter(0)
    pace = (
        recent_admissions_per_day
        if recent_admissions_per_day is not None and recent_admissions_per_day > 0
        else None
    )
    ranges: list[AdmissionRange] = []
    for position in range(1, positions + 1):
        moments = list(map(top, heaps))
        gaps = rng.choices(cycles, k=n_draws)
        # each future's earliest unit takes the patient and comes free again a stay later
        deque(map(heapreplace, heaps, map(add, moments, gaps)), maxlen=0)
        moments.sort()
        ranges.append(
            AdmissionRange(
                position=position,
                earliest=_day(today, _quantile(moments, LOW_QUANTILE)),
                median=_day(today, _quantile(moments, MID_QUANTILE)),
                latest=_day(today, _quantile(moments, HIGH_QUANTILE)),
                at_recent_pace=None if pace is None else _day(today, position / pace),
                basis=basis,
            )
        )
    return PoolForecast(basis, tuple(ranges))


def forecast_admission(
    today: date,
    units: Iterable[UnitNow],
    position: int,
    stays: StayModel,
    *,
    turnaround_days: float = TURNAROUND_DAYS,
    recent_admissions_per_day: float | None = None,
    draws: int = DRAWS,
    seed: int = 0,
) -> AdmissionRange | None:
    """The admission range of one position (1 = next); None when no unit will take patients.
    The same as that position's row of :func:`forecast_positions` with the same seed."""
    if position < 1:
        raise ValueError("Positions start at 1.")
    return forecast_positions(
        today,
        units,
        position,
        stays,
        turnaround_days=turnaround_days,
        recent_admissions_per_day=recent_admissions_per_day,
        draws=draws,
        seed=seed,
    ).at(position)


# ---------------------------------------------------------------------------------------------
# calibration against past admissions


@dataclass(frozen=True)
class ScoredMedian:
    """A median predicted at listing by the forecast itself (before any calibration: a
    calibrated median already carries the shift of its own time, and measuring new errors from
    it would undo that shift the next time), and the day the patient was admitted."""

    listed_on: date
    median: date
    admitted_on: date

    @property
    def error_days(self) -> int:
        """Actual minus predicted: positive when the admission came later."""
        return (self.admitted_on - self.median).days


@dataclass(frozen=True)
class Calibration:
    """Where admissions fell around the forecast's median, in days (actual − predicted): the
    errors' low and high conformal quantiles (an 80 % range) and their median, over ``scored``
    past predictions."""

    scored: int
    low_days: int
    median_days: int
    high_days: int


def _conformal_ranks(n: int) -> tuple[int, int] | None:
    """The 1-based ranks among ``n`` sorted errors that bound a new one with the nominal
    coverage. A new error is equally likely to fall in any of the n + 1 gaps the sorted errors
    leave, so it is below the j-th with probability j / (n + 1) and above the k-th with
    1 − k / (n + 1): j = ⌊0.1 (n + 1)⌋ and k = ⌈0.9 (n + 1)⌉ leave at most a tenth out on each
    side, whatever the errors' distribution. None when n is too small for either (under 9)."""
    # rounded first, so 0.9 × 30 is 27 and not a hair above it
    low = math.floor(round(LOW_QUANTILE * (n + 1), 9))
    high = math.ceil(round(HIGH_QUANTILE * (n + 1), 9))
    if low < 1 or high > n:
        return None
    return low, high


def calibration(
    past: Iterable[ScoredMedian],
    *,
    today: date,
    window_days: int = CALIBRATION_WINDOW_DAYS,
    min_scored: int = MIN_CALIBRATION,
) -> Calibration | None:
    """The errors of the medians predicted at listing for the patients admitted in the
    ``window_days`` up to ``today``; None with fewer than ``min_scored`` of them (the range
    then stays the forecast's own).

    The error is counted in days (actual − predicted median), not as a ratio of the waits: what
    the simulation misses is the patients who come ahead meanwhile, and their days do not shrink
    with the predicted wait. A ratio gives a patient predicted for today no margin at all and
    stretches one predicted for tomorrow by the latest ratio ever seen; on the demo's history
    it needed ranges twice as wide as days for the same share inside. A year of admissions
    keeps the errors of the pool's current pace, not of an older one.
    """
    since = today - timedelta(days=window_days)
    errors = sorted(p.error_days for p in past if since < p.admitted_on <= today)
    ranks = _conformal_ranks(len(errors))
    if len(errors) < min_scored or ranks is None:
        return None
    low, high = ranks
    return Calibration(
        scored=len(errors),
        low_days=errors[low - 1],
        median_days=int(_quantile(errors, MID_QUANTILE)),
        high_days=errors[high - 1],
    )


def calibrate(found: AdmissionRange, by: Calibration | None) -> AdmissionRange:
    """The range shown: without a calibration the forecast's own; with one, the forecast's
    median moved by the errors' median, from its low to its high quantile around the
    forecast's median, no date before the forecast's day. The same shift for every position
    keeps a later place never earlier."""
    own = found.uncalibrated or found
    if by is None:
        return own
    today = own.basis.today

    def moved(days: int) -> date:
        return max(today, own.median + timedelta(days=days))

    return replace(
        own,
        earliest=moved(by.low_days),
        median=moved(by.median_days),
        latest=moved(by.high_days),
        calibrated_from=by.scored,
        uncalibrated=own,
    )


# ---------------------------------------------------------------------------------------------
# queueing: pooled against separate lists


def erlang_b(servers: int, offered_load: float) -> float:
    """Erlang B, the share of arrivals finding all ``servers`` busy in a loss system offered
    ``offered_load`` (arrival rate over service rate). The recursion B(n) = a·B(n-1) / (n +
    a·B(n-1)) stays between 0 and 1 where factorials would overflow."""
    if servers < 0 or offered_load < 0:
        raise ValueError("Servers and load are zero or more.")
    b = 1.0
    for n in range(1, servers + 1):
        b = offered_load * b / (n + offered_load * b)
    return b


def erlang_c(servers: int, offered_load: float) -> float:
    """Erlang C, the probability that an arrival waits in an M/M/c queue. 1.0 when the load
    reaches the servers (the queue grows without limit: everyone waits)."""
    if servers < 0 or offered_load < 0:
        raise ValueError("Servers and load are zero or more.")
    if offered_load >= servers:
        return 1.0
    if offered_load == 0:
        return 0.0
    b = erlang_b(servers, offered_load)
    return servers * b / (servers - offered_load * (1 - b))


@dataclass(frozen=True)
class QueueEstimate:
    """An M/M/c waitlist: ``servers`` units, patients arriving at ``arrivals_per_day``, each
    holding a unit ``service_days`` (stay plus turnaround) on average.

    ``unbounded``: the arrivals outrun the units (utilisation 1 or more), the list grows without
    limit and there is no mean wait to give; ``mean_wait_days`` is then None.
    """

    servers: int
    arrivals_per_day: float
    service_days: float
    utilisation: float
    unbounded: bool
    wait_probability: float
    mean_wait_days: float | None


def mm_c(servers: int, arrivals_per_day: float, service_days: float) -> QueueEstimate:
    """The M/M/c estimate: P(wait) is Erlang C, the mean wait Wq = C / (c·μ − λ)."""
    if servers < 0 or arrivals_per_day < 0 or service_days <= 0:
        raise ValueError("Units and arrivals are zero or more, service days more than zero.")
    load = arrivals_per_day * service_days
    if arrivals_per_day == 0:
        utilisation = 0.0
    elif servers == 0:
        utilisation = math.inf
    else:
        utilisation = load / servers
    if utilisation >= 1:
        return QueueEstimate(servers, arrivals_per_day, service_days, utilisation, True, 1.0, None)
    p_wait = erlang_c(servers, load)
    wait = 0.0 if arrivals_per_day == 0 else p_wait / (servers / service_days - arrivals_per_day)
    return QueueEstimate(servers, arrivals_per_day, service_days, utilisation, False, p_wait, wait)


@dataclass(frozen=True)
class SiteLoad:
    """One hospital's patients a day and units of the room class."""

    key: str
    arrivals_per_day: float
    units: int


@dataclass(frozen=True)
class SiteQueue:
    key: str
    queue: QueueEstimate


@dataclass(frozen=True)
class PoolingComparison:
    """Each hospital on its own list against one pool of all their units.

    ``separate_mean_wait_days`` weighs each hospital's wait by its arrivals; it is None (and
    ``separate_unbounded`` true) when any list grows without limit, for the patients of that
    hospital then wait ever longer.
    """

    service_days: float
    sites: tuple[SiteQueue, ...]
    separate_unbounded: bool
    separate_mean_wait_days: float | None
    pooled: QueueEstimate

    @property
    def days_saved(self) -> float | None:
        """The mean wait pooling saves a patient (None when either side is unbounded)."""
        if self.separate_mean_wait_days is None or self.pooled.mean_wait_days is None:
            return None
        return self.separate_mean_wait_days - self.pooled.mean_wait_days


def compare_pooling(sites: Sequence[SiteLoad], service_days: float) -> PoolingComparison:
    """M/M/c_i with λ_i for each hospital, against M/M/Σc with Σλ for the pool.
    ``service_days``: mean stay plus turnaround (1/μ), the same everywhere."""
    per_site = tuple(
        SiteQueue(s.key, mm_c(s.units, s.arrivals_per_day, service_days)) for s in sites
    )
    total_arrivals = sum(s.arrivals_per_day for s in sites)
    pooled = mm_c(sum(s.units for s in sites), total_arrivals, service_days)
    unbounded = any(s.queue.unbounded for s in per_site)
    mean_wait: float | None = None
    if not unbounded:
        if total_arrivals == 0:
            mean_wait = 0.0
        else:
            mean_wait = (
                sum(s.queue.arrivals_per_day * (s.queue.mean_wait_days or 0.0) for s in per_site)
                / total_arrivals
            )
    return PoolingComparison(service_days, per_site, unbounded, mean_wait, pooled)


@dataclass(frozen=True)
class ObservedWaits:
    """What the history shows between ``since`` and ``today`` (``days`` days).

    The waits are those of the patients admitted in the period. Patients still waiting are not
    in them: when many wait long, the observed mean understates the wait, and ``still_waiting``
    with ``longest_waiting_days`` says by how much it may.
    """

    since: date
    today: date
    days: int
    listed: int
    admitted: int
    still_waiting: int
    arrivals_per_day: float
    admissions_per_day: float
    mean_wait_days: float | None
    median_wait_days: float | None
    longest_waiting_days: int | None


def observe_waits(
    history: Iterable[tuple[date, date | None]], *, today: date, since: date | None = None
) -> ObservedWaits:
    """Observed arrival rate, admission rate and waits from (listed on, admitted on or None).
    ``since`` defaults to the first listing; entries listed after today are ignored."""
    entries = [(listed, admitted) for listed, admitted in history if listed <= today]
    for listed, admitted in entries:
        if admitted is not None and admitted < listed:
            raise ValueError("An admission cannot precede its listing.")
    start = since if since is not None else min((e[0] for e in entries), default=today)
    # a period of at least one day, so a rate is always defined
    days = max(1, (today - start).days)
    listed_n = sum(1 for listed, _ in entries if listed >= start)
    waits = [
        (admitted - listed).days
        for listed, admitted in entries
        if admitted is not None and start <= admitted <= today
    ]
    waiting = [
        (today - listed).days
        for listed, admitted in entries
        if admitted is None or admitted > today
    ]
    return ObservedWaits(
        since=start,
        today=today,
        days=days,
        listed=listed_n,
        admitted=len(waits),
        still_waiting=len(waiting),
        arrivals_per_day=listed_n / days,
        admissions_per_day=len(waits) / days,
        mean_wait_days=statistics.fmean(waits) if waits else None,
        median_wait_days=float(statistics.median(waits)) if waits else None,
        longest_waiting_days=max(waiting) if waiting else None,
    )


# ---------------------------------------------------------------------------------------------
# backtest


@dataclass(frozen=True)
class PastPrediction:
    """The range recorded for an entry when it was listed, and what happened."""

    listed_on: date
    position: int
    earliest: date
    median: date
    latest: date
    # None: not admitted (yet, or left the list), so not scored
    admitted_on: date | None


@dataclass(frozen=True)
class Backtest:
    """How the recorded ranges fared. Errors are actual minus predicted median, in days: a
    positive error is an admission later than predicted."""

    scored: int
    not_admitted: int
    inside: int
    earlier: int
    later: int
    share_inside: float | None
    median_abs_error_days: float | None
    median_error_days: float | None


def backtest(predictions: Iterable[PastPrediction]) -> Backtest:
    """The share of admissions inside the predicted range and the median error of the median
    prediction, over the entries admitted."""
    scored = inside = earlier = later = not_admitted = 0
    errors: list[int] = []
    for p in predictions:
        if p.admitted_on is None:
            not_admitted += 1
            continue
        scored += 1
        if p.admitted_on < p.earliest:
            earlier += 1
        elif p.admitted_on > p.latest:
            later += 1
        else:
            inside += 1
        errors.append((p.admitted_on - p.median).days)
    return Backtest(
        scored=scored,
        not_admitted=not_admitted,
        inside=inside,
        earlier=earlier,
        later=later,
        share_inside=inside / scored if scored else None,
        median_abs_error_days=float(statistics.median(abs(e) for e in errors)) if errors else None,
        median_error_days=float(statistics.median(errors)) if errors else None,
    )
