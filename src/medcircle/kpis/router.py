"""API of the indicators: the catalogue, and one indicator computed live for a year, a region
and an institution, with its breakdowns by month and by institution.

Refusals are problem+json with a stable ``code``: 404 ``unknown_indicator`` or
``unknown_institution``, 422 ``bad_year``, ``unknown_region`` or ``region_required``, 403
``forbidden``.
"""

from __future__ import annotations

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


@router.get("/kpis", response_model=list[IndicatorRead])
def list_indicators(actor: CurrentActor) -> list[IndicatorRead]:
    """The indicators one may compute, each with its names, unit, formula and source."""
    return [IndicatorRead.model_validate(i) for i in service.readable(actor)]


@router.get("/kpis/{slug}", response_model=ComputedRead)
def compute_indicator(
    slug: str,
    session: DB,
    actor: CurrentActor,
    year: Annotated[int, Query(description="a calendar year")],
    region: Annotated[
        str | None,
        Query(
            min_length=6,
            max_length=6,
            description="a province-level division code (the region indicators need one)",
        ),
    ] = None,
    institution: Annotated[str | None, Query(max_length=32, description="a code")] = None,
) -> ComputedRead:
    """One indicator for a year, computed live from the records: its value with numerator and
    denominator (for a count per day, the calendar days), and the same by month and by
    institution."""
    return ComputedRead.model_validate(
        service.compute(
            session, actor, slug, year, region=region or None, institution=institution or None
        )
    )
