"""API of consultation measures and the teaching case library."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated

from fastapi import Depends, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict

from medcircle.consultations import measures, teaching
from medcircle.consultations.models import TeachingCase
from medcircle.kit import clock
from medcircle.kit.pagination import Page
from medcircle.web.deps import DB, CurrentActor, Paging, settings_of
from medcircle.web.routing import QuickRouter

router = QuickRouter(prefix="/api/v1", tags=["consultations"])


# --- measures -----------------------------------------------------------------------------


class MeasureLine(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    key: str
    label_zh: str
    label_en: str
    asked: int
    answered: int
    median_seconds: int | None
    p90_seconds: int | None
    within_target_share: float | None
    within_target_known: int
    referral_avoided_share: float | None
    referral_avoided_known: int
    helpful_mean: float | None
    rated: int


class MeasuresRead(BaseModel):
    group: measures.Group
    start: date
    end: date
    institution_id: int | None
    specialty: str | None
    percentile_method: str = "nearest-rank"
    rows: list[MeasureLine]
    total: MeasureLine


def measures_read(m: measures.Measures) -> MeasuresRead:
    return MeasuresRead(
        group=m.group,
        start=m.period.start,
        end=m.period.end,
        institution_id=m.institution_id,
        specialty=m.specialty,
        rows=[MeasureLine.model_validate(r) for r in m.rows],
        total=MeasureLine.model_validate(m.total),
    )


Group = Annotated[measures.Group, Query()]
Start = Annotated[date | None, Query(description="first day asked (default: 90 days ago)")]
End = Annotated[date | None, Query(description="last day asked (default: today)")]
Specialty = Annotated[str | None, Query(max_length=32)]


@dataclass(frozen=True)
class Asked:
    """What the measures are asked for: the grouping, the period and the specialty."""

    group: measures.Group
    period: measures.Period
    specialty: str | None


def _asked(
    group: Group = measures.Group.INSTITUTION,
    start: Start = None,
    end: End = None,
    specialty: Specialty = None,
) -> Asked:
    return Asked(group, measures.period(start, end, clock.today()), specialty or None)


AskedFor = Annotated[Asked, Depends(_asked)]


@router.get("/consultation-measures", response_model=MeasuresRead)
def get_measures(session: DB, actor: CurrentActor, asked: AskedFor) -> MeasuresRead:
    """Volume, answers, median and 90th percentile (nearest rank) time to first answer, share
    within target, share that avoided a referral and satisfaction, per answering institution,
    specialty or expert, over the consultations asked from `start` to `end` (China time,
    both included; the last 90 days by default)."""
    return measures_read(measures.read(session, actor, asked.group, asked.period, asked.specialty))


@router.get("/consultation-measures.csv", response_class=Response)
def export_measures(session: DB, actor: CurrentActor, asked: AskedFor) -> Response:
    """The same table as CSV (UTF-8 with BOM)."""
    m = measures.read(session, actor, asked.group, asked.period, asked.specialty, export=True)
    return csv_download(m)


def csv_download(m: measures.Measures) -> Response:
    name = f"consultation-measures-{m.group.value}-{m.period.start}-{m.period.end}.csv"
    return Response(
        content=measures.csv_text(m).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "private, no-store",
        },
    )


# --- teaching cases -----------------------------------------------------------------------


class TeachingCaseRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    specialty_code: str
    icd10_code: str
    diagnosis: str
    age_band: str
    sex: str
    question: str
    summary: str
    assessment: str
    recommendations: str
    created_at: datetime


@router.get("/teaching-cases", response_model=Page[TeachingCaseRead])
def list_teaching_cases(
    session: DB,
    actor: CurrentActor,
    paging: Paging,
    specialty: Annotated[str | None, Query(max_length=32)] = None,
    icd10: Annotated[str | None, Query(max_length=16, description="ICD-10 code prefix")] = None,
) -> Page[TeachingCaseRead]:
    """The anonymised case library, newest first, across institutions."""
    f = teaching.normalise_filter(specialty, icd10)
    rows, total = teaching.library(session, actor, f, paging)
    return Page(
        items=[TeachingCaseRead.model_validate(r) for r in rows],
        total=total,
        page=paging.page,
        size=paging.size,
    )


@router.get("/teaching-cases/{teaching_case_id:int}", response_model=TeachingCaseRead)
def get_teaching_case(teaching_case_id: int, session: DB, actor: CurrentActor) -> TeachingCaseRead:
    return TeachingCaseRead.model_validate(teaching.read(session, actor, teaching_case_id))


@router.post(
    "/consultations/{consultation_id:int}/teaching-case",
    response_model=TeachingCaseRead,
    status_code=status.HTTP_201_CREATED,
)
def mark_teaching_case(
    consultation_id: int, request: Request, session: DB, actor: CurrentActor
) -> TeachingCase:
    """Make the anonymised teaching copy of an answered or closed consultation (the expert
    who answered or a coordinator; once: 409 `already_teaching`)."""
    return teaching.mark(session, actor, consultation_id, settings_of(request))
