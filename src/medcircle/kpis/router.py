"""API of the indicators: the catalogue; one indicator computed live for a year, a region
and an institution, with its breakdowns by month, institution, alliance and specialty; and its
trend over a range of years with the institution's agreements marked and the twelve months
before and after one of them compared.

Refusals are problem+json with a stable ``code``: 404 ``unknown_indicator`` or
``unknown_institution``, 422 ``bad_year``, ``bad_range``, ``range_too_long``,
``unknown_agreement``, ``unknown_region`` or ``region_required``, 403 ``forbidden``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, ConfigDict

from medcircle.kpis import service
from medcircle.kpis.catalogue import Breakdown, Scope, Unit
from medcircle.web.deps import DB, CurrentActor
from medcircle.web.routing import QuickRouter

router = QuickRouter(prefix="/api/v1", tags=["indicators"])


class IndicatorRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    slug: str
    name_zh: str
    name_en: str
    unit: Unit
    formula_zh: str
    formula_en: str
    source: str
    scope: Scope
    breakdowns: list[Breakdown]


class FigureRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str
    label_zh: str
    label_en: str
    value: float | None
    numerator: int
    denominator: int


class ComputedRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    indicator: IndicatorRead
    year: int
    region: str | None
    institution: str | None
    value: float | None
    numerator: int
    denominator: int
    by_month: list[FigureRead]
    by_institution: list[FigureRead]
    by_alliance: list[FigureRead]
    by_specialty: list[FigureRead]


class MilestoneRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    kind: str
    title_zh: str
    title_en: str
    starts_on: date
    partner: str
    partner_zh: str
    partner_en: str
    supporting: bool


class BeforeAfterRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    agreement: MilestoneRead
    before: FigureRead
    after: FigureRead
    difference: float | None
    ratio: float | None
    complete: bool


class TrendRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    indicator: IndicatorRead
    first_year: int
    last_year: int
    region: str | None
    institution: str | None
    by_year: list[FigureRead]
    agreements: list[MilestoneRead]
    before_after: BeforeAfterRead | None


@router.get("/kpis", response_model=list[IndicatorRead])
def list_indicators(actor: CurrentActor) -> list[IndicatorRead]:
    """The indicators one may compute, each with its names, unit, formula and source."""
    return [IndicatorRead.model_validate(i) for i in service.readable(actor)]


Region = Annotated[
    str | None,
    Query(
        min_length=6,
        max_length=6,
        description="a province-level division code (the region indicators need one)",
    ),
]
InstitutionCode = Annotated[str | None, Query(max_length=32, description="a code")]


@router.get("/kpis/{slug}/trend", response_model=TrendRead)
def indicator_trend(
    slug: str,
    session: DB,
    actor: CurrentActor,
    first: Annotated[int, Query(description="the first calendar year")],
    last: Annotated[int, Query(description="the last calendar year")],
    region: Region = None,
    institution: InstitutionCode = None,
    agreement: Annotated[
        str | None,
        Query(max_length=32, description="the agreement compared before and after (a code)"),
    ] = None,
) -> TrendRead:
    """One indicator year by year, computed live as for one year. For an institution: its
    agreements (either side) with their starts, and the indicator over the twelve months
    before and the twelve from the start of ``agreement`` (by default the earliest)."""
    found = service.trend(
        session,
        actor,
        slug,
        first,
        last,
        region=region or None,
        institution=institution or None,
        agreement=agreement or None,
    )
    return TrendRead.model_validate(service.audited_trend(session, actor, "kpis.trend.read", found))


@router.get("/kpis/{slug}", response_model=ComputedRead)
def compute_indicator(
    slug: str,
    session: DB,
    actor: CurrentActor,
    year: Annotated[int, Query(description="a calendar year")],
    region: Region = None,
    institution: InstitutionCode = None,
) -> ComputedRead:
    """One indicator for a year, computed live from the records: its value with numerator and
    denominator (for a count per day, the calendar days), and the same by month and by
    institution, and by alliance and by specialty where the indicator has them (see its
    ``breakdowns``)."""
    found = service.compute(
        session, actor, slug, year, region=region or None, institution=institution or None
    )
    return ComputedRead.model_validate(service.audited_computed(session, actor, "kpis.read", found))
