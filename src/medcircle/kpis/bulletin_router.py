"""API of the yearly bulletin: a region's figures of a year, read from the indicators, with the
bulletin's sentences and footnotes in ``?lang=`` (zh_Hans or en) or the reader's language.

Refusals are problem+json with a stable ``code``: 422 ``bad_year`` or ``unknown_region``,
403 ``forbidden``.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel, ConfigDict

from medcircle.kit import i18n
from medcircle.kpis import bulletin
from medcircle.kpis import bulletin_text as text
from medcircle.web.deps import DB, CurrentActor
from medcircle.web.routing import QuickRouter

router = QuickRouter(prefix="/api/v1", tags=["bulletin"])


class OutflowYear(BaseModel):
    year: int
    share: float | None


class MonthRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str
    out_calls: int
    referrals_up: int
    referrals_down: int


class BulletinRead(BaseModel):
    year: int
    region: str
    language: str
    title: str
    paragraphs: list[str]
    notes: list[str]
    # the counts and shares of the year (``outflow`` and ``months`` apart)
    figures: dict[str, Any]
    outflow: list[OutflowYear]
    months: list[MonthRead]


@router.get("/bulletin/{year}", response_model=BulletinRead)
def read_bulletin(
    year: int,
    session: DB,
    actor: CurrentActor,
    region: Annotated[
        str,
        Query(min_length=6, max_length=6, description="a province-level division code"),
    ] = bulletin.DEFAULT_REGION,
    lang: Annotated[str | None, Query(description="zh_Hans or en")] = None,
) -> BulletinRead:
    """The bulletin of a year for a region (Hebei by default), computed live by the
    indicators: its figures, and its text in the language asked."""
    found = bulletin.gather(session, actor, year, region)
    f = found.figures
    locale = i18n.normalise_locale(lang) or i18n.get_locale()
    bulletin.audited(session, actor, found, "kpis.bulletin.read", language=locale)
    with text.speaking(locale):
        paragraphs, notes, title = text.paragraphs(f), text.notes(), text.title(f)
    figures = {k: v for k, v in asdict(f).items() if k not in ("outflow", "months")}
    return BulletinRead(
        year=f.year,
        region=f.region,
        language=locale,
        title=title,
        paragraphs=paragraphs,
        notes=notes,
        figures=figures,
        outflow=[OutflowYear(year=y, share=v) for y, v in f.outflow],
        months=[MonthRead.model_validate(m) for m in f.months],
    )
