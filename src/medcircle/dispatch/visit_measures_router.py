"""API of the visit measures: out-calls, person-visits, trips, experts, patients received,
operations, ward rounds, teaching sessions and difficult cases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import Depends, Query, Response
from pydantic import BaseModel, ConfigDict

from medcircle.dispatch import visit_measures as vm
from medcircle.dispatch.visit_rules import Period, PeriodError, period_of
from medcircle.kit import clock
from medcircle.kit.errors import ValidationFailed
from medcircle.web.deps import DB, CurrentActor
from medcircle.web.routing import QuickRouter

router = QuickRouter(prefix="/api/v1", tags=["visits"])


class VisitMeasureLine(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str
    label_zh: str
    label_en: str
    out_calls: int
    person_visits: int
    trips: int
    experts: int
    outpatients: int
    operations: int
    ward_rounds: int
    teaching_sessions: int
    difficult_cases: int


class VisitMeasuresRead(BaseModel):
    group: vm.Group
    start: date
    end: date
    institution_id: int | None
    specialty: str | None
    rows: list[VisitMeasureLine]
    total: VisitMeasureLine


def measures_read(m: vm.Measures) -> VisitMeasuresRead:
    return VisitMeasuresRead(
        group=m.group,
        start=m.period.start,
        end=m.period.end,
        institution_id=m.institution_id,
        specialty=m.specialty,
        rows=[VisitMeasureLine.model_validate(r) for r in m.rows],
        total=VisitMeasureLine.model_validate(m.total),
    )


def checked_period(year: str | None, start: date | None, end: date | None) -> Period:
    """The period asked for, or a 422 naming the field."""
    try:
        return period_of(year, start, end, clock.today())
    except PeriodError as exc:
        raise ValidationFailed(code=exc.problem.code, field_errors=[exc.problem]) from None


@dataclass(frozen=True)
class Asked:
    group: vm.Group
    period: Period
    specialty: str | None


def _asked(
    group: Annotated[vm.Group, Query()] = vm.Group.HOME,
    year: Annotated[
        str | None, Query(max_length=8, description="a calendar year (instead of start/end)")
    ] = None,
    start: Annotated[
        date | None, Query(description="first day (default: 1 January of this year)")
    ] = None,
    end: Annotated[date | None, Query(description="last day (default: today)")] = None,
    specialty: Annotated[str | None, Query(max_length=32)] = None,
) -> Asked:
    return Asked(group, checked_period(year, start, end), specialty or None)


AskedFor = Annotated[Asked, Depends(_asked)]


@router.get("/visit-measures", response_model=VisitMeasuresRead)
def get_visit_measures(session: DB, actor: CurrentActor, asked: AskedFor) -> VisitMeasuresRead:
    """Out-calls (records), person-visits (expert-days on site), trips (records grouped by
    home, site, specialty and start date), distinct experts, patients received (outpatients),
    operations, ward rounds, teaching sessions and difficult cases, per home institution,
    site institution or specialty, over the visits starting in a year or from `start` to
    `end` (both included)."""
    return measures_read(vm.read(session, actor, asked.group, asked.period, asked.specialty))


@router.get("/visit-measures.csv", response_class=Response)
def export_visit_measures(session: DB, actor: CurrentActor, asked: AskedFor) -> Response:
    """The same table as CSV (UTF-8 with BOM)."""
    m = vm.read(session, actor, asked.group, asked.period, asked.specialty, export=True)
    return csv_download(m)


def csv_download(m: vm.Measures) -> Response:
    return Response(
        content=vm.csv_text(m).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{vm.csv_name(m)}"',
            "Cache-Control": "private, no-store",
        },
    )
