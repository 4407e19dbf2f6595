"""Positions and predicted admission ranges of a pool's waiting patients, from the database:
the policy's order (``pools.policy``) and the forecast (``pools.forecast``) fed with the pool's
units as they stand and its own recent lengths of stay.

A patient's range comes from the units they accept (their room class at their acceptable
hospitals) and the number of ready patients ahead of them who compete for those hospitals.
The forecast of each such set of units is computed once per request and shared; the range
shown is then calibrated against the pool's past predictions of the class (see
``forecast.calibrate``).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medcircle.kit.clock import CST
from medcircle.pools import forecast
from medcircle.pools.models import Admission, ResourcePool, ResourceUnit, WaitlistEntry
from medcircle.pools.policy import Candidate, Position, Queue, Urgency, policy_from, positions
from medcircle.pools.schemas import EntryStatus, UnitStatus

# stays discharged within this many days feed the forecast
STAY_WINDOW_DAYS = 365
# admissions within this many days give the recent pace (the forecast's cross-check)
PACE_WINDOW_DAYS = 90
# the simulated futures behind a range
DRAWS = 300


def _candidate(entry: WaitlistEntry) -> Candidate:
    return Candidate(
        entry_id=entry.id,
        urgency=Urgency(entry.urgency),
        listed_on=entry.listed_on,
        room_class=entry.room_class,
        sites=frozenset(entry.acceptable_institution_ids),
        ready=bool(entry.donor_found and entry.workup_done),
        listing_institution_id=entry.listing_institution_id,
    )


class Estimator:
    """The positions and ranges of one pool's waiting entries on one day."""

    def __init__(self, session: Session, pool: ResourcePool, today: date) -> None:
        self.session = session
        self.pool = pool
        self.today = today
        self.settings = policy_from(pool.policy)
        self._queue: Queue | None = None
        self._positions: dict[int, Position] = {}
        self._forecasts: dict[tuple[str, frozenset[int]], forecast.PoolForecast] = {}
        self._units: list[ResourceUnit] | None = None
        self._stays: dict[str, forecast.StayModel] = {}
        self._pace: dict[str, float] = {}
        self._calibrations: dict[str, forecast.Calibration | None] = {}

    # the line -------------------------------------------------------------------------------

    def queue(self) -> Queue:
        if self._queue is None:
            waiting = self.session.scalars(
                select(WaitlistEntry).where(
                    WaitlistEntry.pool_id == self.pool.id,
                    WaitlistEntry.status == EntryStatus.WAITING.value,
                )
            )
            self._queue = Queue((_candidate(e) for e in waiting), self.today, self.settings)
            for room_class in {c.room_class for c in self._all(self._queue)}:
                for p in positions(self._queue, room_class):
                    self._positions[p.entry_id] = p
        return self._queue

    @staticmethod
    def _all(queue: Queue) -> list[Candidate]:
        return [c for room_class in queue.classes() for c in queue.line(room_class)]

    def position(self, entry_id: int) -> Position | None:
        """Where a waiting entry stands (None once offered, admitted or closed)."""
        self.queue()
        return self._positions.get(entry_id)

    # the units and their stays ----------------------------------------------------------------

    def units(self) -> list[ResourceUnit]:
        if self._units is None:
            self._units = list(
                self.session.scalars(
                    select(ResourceUnit).where(ResourceUnit.pool_id == self.pool.id)
                )
            )
        return self._units

    def stays(self, room_class: str) -> forecast.StayModel:
        if room_class not in self._stays:
            since = _start_of(self.today - timedelta(days=STAY_WINDOW_DAYS))
            days = self.session.scalars(
                select(Admission.length_of_stay_days)
                .join(ResourceUnit, ResourceUnit.id == Admission.unit_id)
                .where(
                    Admission.pool_id == self.pool.id,
                    ResourceUnit.room_class == room_class,
                    Admission.discharged_at >= since,
                    Admission.length_of_stay_days.is_not(None),
                )
            )
            self._stays[room_class] = forecast.stay_model(
                [float(d) for d in days if d is not None],
                default_mean_days=float(self.settings.default_stay_days),
            )
        return self._stays[room_class]

    def pace(self, room_class: str) -> float:
        """Admissions a day lately to units of the class."""
        if room_class not in self._pace:
            since = _start_of(self.today - timedelta(days=PACE_WINDOW_DAYS))
            n = self.session.scalar(
                select(func.count())
                .select_from(Admission)
                .join(ResourceUnit, ResourceUnit.id == Admission.unit_id)
                .where(
                    Admission.pool_id == self.pool.id,
                    ResourceUnit.room_class == room_class,
                    Admission.admitted_at >= since,
                )
            )
            self._pace[room_class] = float(n or 0) / PACE_WINDOW_DAYS
        return self._pace[room_class]

    def forecast_for(
        self, room_class: str, sites: frozenset[int], positions_needed: int
    ) -> forecast.PoolForecast:
        key = (room_class, sites)
        known = self._forecasts.get(key)
        if known is not None and len(known.ranges) >= positions_needed:
            return known
        units = [
            forecast.UnitNow(forecast.UnitStatus(u.status), u.expected_free_on)
            for u in self.units()
            if u.room_class == room_class and u.institution_id in sites
        ]
        pace = self.pace(room_class)
        made = forecast.forecast_positions(
            self.today,
            units,
            max(positions_needed, len(known.ranges) if known else 0),
            self.stays(room_class),
            turnaround_days=float(self.settings.turnaround_days),
            recent_admissions_per_day=pace if pace > 0 else None,
            draws=DRAWS,
            seed=self.pool.id,
        )
        self._forecasts[key] = made
        return made

    def estimate(self, entry: WaitlistEntry) -> forecast.AdmissionRange | None:
        """The likely admission range of a waiting entry: by its competing place if ready, as
        if it became ready today otherwise (None once it is no longer waiting)."""
        p = self.position(entry.id)
        if p is None:
            return None
        k = p.ahead_competing + 1
        found = self.forecast_for(
            entry.room_class, frozenset(entry.acceptable_institution_ids), k
        ).at(k)
        if found is None:
            return None
        return forecast.calibrate(found, self.calibration(entry.room_class))

    def calibration(self, room_class: str) -> forecast.Calibration | None:
        """How far the class's admissions of the last year fell from the forecast's own
        medians predicted at their listing."""
        if room_class not in self._calibrations:
            since = self.today - timedelta(days=forecast.CALIBRATION_WINDOW_DAYS)
            rows = self.session.execute(
                select(
                    WaitlistEntry.listed_on, WaitlistEntry.forecast_median_on, Admission.admitted_at
                )
                .join(Admission, Admission.entry_id == WaitlistEntry.id)
                .where(
                    WaitlistEntry.pool_id == self.pool.id,
                    WaitlistEntry.room_class == room_class,
                    WaitlistEntry.forecast_median_on.is_not(None),
                    Admission.admitted_at >= _start_of(since),
                    Admission.admitted_at < _start_of(self.today + timedelta(days=1)),
                )
            )
            self._calibrations[room_class] = forecast.calibration(
                (
                    forecast.ScoredMedian(listed, median, _day(admitted))
                    for listed, median, admitted in rows
                    if median is not None
                ),
                today=self.today,
            )
        return self._calibrations[room_class]

    # pooled against separate lists -----------------------------------------------------------

    def comparison(self, room_class: str, days: int = 365) -> forecast.PoolingComparison | None:
        """Each hospital with units of the class on its own list against the pool, at the
        arrivals of the last ``days`` (a hospital's own patients to its own list; patients of
        hospitals without units spread over the hospitals they accept)."""
        holders: dict[int, int] = {}
        for u in self.units():
            if u.room_class == room_class and u.status != UnitStatus.RETIRED.value:
                holders[u.institution_id] = holders.get(u.institution_id, 0) + 1
        if not holders:
            return None
        since = self.today - timedelta(days=days)
        rows = self.session.execute(
            select(
                WaitlistEntry.listing_institution_id, WaitlistEntry.acceptable_institution_ids
            ).where(
                WaitlistEntry.pool_id == self.pool.id,
                WaitlistEntry.room_class == room_class,
                WaitlistEntry.listed_on >= since,
                WaitlistEntry.listed_on <= self.today,
            )
        )
        arrivals = {institution_id: 0.0 for institution_id in holders}
        for listing, sites in rows:
            if listing in holders:
                arrivals[listing] += 1
                continue
            accepted = [s for s in (sites or ()) if s in holders] or list(holders)
            for s in accepted:
                arrivals[s] += 1 / len(accepted)
        service_days = self.stays(room_class).mean_days + self.settings.turnaround_days
        return forecast.compare_pooling(
            [forecast.SiteLoad(str(i), arrivals[i] / days, holders[i]) for i in sorted(holders)],
            service_days,
        )

    def observed(self, room_class: str) -> tuple[forecast.ObservedWaits, forecast.ObservedWaits]:
        """The waits observed before the pool started and since (a year before it at most)."""
        rows = self.session.execute(
            select(WaitlistEntry.listed_on, Admission.admitted_at, WaitlistEntry.status)
            .outerjoin(Admission, Admission.entry_id == WaitlistEntry.id)
            .where(
                WaitlistEntry.pool_id == self.pool.id,
                WaitlistEntry.room_class == room_class,
            )
        ).all()
        start = self.pool.pooled_since or self.today
        history_before: list[tuple[date, date | None]] = []
        history_after: list[tuple[date, date | None]] = []
        for listed_on, admitted_at, status in rows:
            if status in (EntryStatus.WITHDRAWN.value, EntryStatus.REMOVED.value):
                continue
            admitted = _day(admitted_at) if admitted_at is not None else None
            (history_before if listed_on < start else history_after).append((listed_on, admitted))
        before_end = min(start, self.today)
        before = forecast.observe_waits(
            history_before,
            today=before_end,
            since=before_end - timedelta(days=365),
        )
        after = forecast.observe_waits(
            history_after, today=self.today, since=min(start, self.today)
        )
        return before, after

    def backtest(self, room_class: str) -> forecast.Backtest:
        """Predictions made at listing against the admissions that followed."""
        rows = self.session.execute(
            select(
                WaitlistEntry.listed_on,
                WaitlistEntry.predicted_earliest_on,
                WaitlistEntry.predicted_median_on,
                WaitlistEntry.predicted_latest_on,
                Admission.admitted_at,
            )
            .outerjoin(Admission, Admission.entry_id == WaitlistEntry.id)
            .where(
                WaitlistEntry.pool_id == self.pool.id,
                WaitlistEntry.room_class == room_class,
                WaitlistEntry.predicted_median_on.is_not(None),
            )
        )
        return forecast.backtest(
            forecast.PastPrediction(
                listed_on=listed,
                position=0,
                earliest=earliest,
                median=median,
                latest=latest,
                admitted_on=_day(admitted) if admitted is not None else None,
            )
            for listed, earliest, median, latest, admitted in rows
            if earliest is not None and median is not None and latest is not None
        )


def _start_of(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), CST)


def _day(moment: datetime) -> date:
    return moment.astimezone(CST).date()


def record_prediction(
    session: Session, pool: ResourcePool, entry: WaitlistEntry, today: date
) -> None:
    """Keep the range shown when the entry was listed (for the backtest) and the forecast's
    own median behind it (for calibrating later ranges)."""
    found = Estimator(session, pool, today).estimate(entry)
    if found is None:
        return
    entry.predicted_earliest_on = found.earliest
    entry.predicted_median_on = found.median
    entry.predicted_latest_on = found.latest
    entry.forecast_median_on = found.forecast_median
