"""Pages of consultation measures and the teaching case library."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from medcircle.auth.domain import Actor
from medcircle.consultations import measures, teaching
from medcircle.consultations.measures_router import csv_download
from medcircle.kit import clock
from medcircle.kit.errors import Conflict, DomainError, Forbidden, ValidationFailed
from medcircle.kit.i18n import N_, gettext
from medcircle.registry.models import SpecialtyRow
from medcircle.web.deps import DB, PageActor, Paging, settings_of
from medcircle.web.routing import QuickRouter
from medcircle.web.templating import render

router = QuickRouter()

BAD_DATE = N_("Enter a date as YYYY-MM-DD.")
MARKED = N_("The teaching case is made: names, numbers and dates are removed.")
SEX_LABELS = {"M": N_("Male"), "F": N_("Female"), "male": N_("Male"), "female": N_("Female")}


def duration_text(seconds: int | None) -> str:
    """A time to answer for people: "45 min", "3 h 05 min", "2 d 4 h"."""
    if seconds is None:
        return "—"
    minutes = round(seconds / 60)
    if minutes < 60:
        return gettext("%(m)s min", m=minutes)
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return gettext("%(h)s h %(m)02d min", h=hours, m=rest)
    days, hours = divmod(hours, 24)
    return gettext("%(d)s d %(h)s h", d=days, h=hours)


def percent_text(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.0f}%"


def _specialties(session: Session) -> list[SpecialtyRow]:
    return list(session.execute(select(SpecialtyRow).order_by(SpecialtyRow.code)).scalars())


def _day(raw: str | None, name: str, errors: dict[str, list[str]]) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        errors.setdefault(name, []).append(gettext(BAD_DATE))
        return None


def _period(qp: Any, errors: dict[str, list[str]]) -> measures.Period:
    start = _day(qp.get("start"), "start", errors)
    end = _day(qp.get("end"), "end", errors)
    try:
        return measures.period(start, end, clock.today())
    except DomainError as exc:
        for fe in exc.field_errors:
            errors.setdefault(fe.field, []).append(fe.text())
        return measures.period(None, None, clock.today())


def _require(actor: Actor) -> None:
    if not measures.may_read(actor):
        raise Forbidden()


@router.get("/consultations/measures")
def measures_page(request: Request, session: DB, actor: PageActor) -> Response:
    _require(actor)
    qp = request.query_params
    errors: dict[str, list[str]] = {}
    when = _period(qp, errors)
    specialty = (qp.get("specialty") or "").strip()[:32] or None
    tables = [(g, measures.read(session, actor, g, when, specialty)) for g in measures.Group]
    query = {"start": when.start.isoformat(), "end": when.end.isoformat()}
    if specialty:
        query["specialty"] = specialty
    return render(
        request,
        "measures/index.html",
        {
            "tables": tables,
            "when": when,
            "specialty": specialty,
            "specialties": _specialties(session),
            "errors": errors,
            "raw": {"start": qp.get("start", ""), "end": qp.get("end", "")},
            "group_labels": measures.GROUP_LABELS,
            "csv_query": urlencode(query),
            "duration": duration_text,
            "percent": percent_text,
        },
        status_code=422 if errors else 200,
    )


@router.get("/consultations/measures.csv")
def measures_csv(request: Request, session: DB, actor: PageActor) -> Response:
    _require(actor)
    qp = request.query_params
    errors: dict[str, list[str]] = {}
    try:
        group = measures.Group(qp.get("group") or measures.Group.INSTITUTION.value)
    except ValueError:
        raise ValidationFailed(
            N_("Choose institution, specialty or expert."), code="bad_group"
        ) from None
    when = _period(qp, errors)
    if errors:
        return measures_page(request, session, actor)
    specialty = (qp.get("specialty") or "").strip()[:32] or None
    return csv_download(measures.read(session, actor, group, when, specialty, export=True))


# --- the teaching case library ------------------------------------------------------------


@router.get("/teaching-cases")
def library_page(request: Request, session: DB, actor: PageActor, paging: Paging) -> Response:
    qp = request.query_params
    errors: dict[str, list[str]] = {}
    raw_specialty = qp.get("specialty", "")
    raw_icd10 = qp.get("icd10", "")
    try:
        f = teaching.normalise_filter(raw_specialty, raw_icd10)
    except DomainError as exc:
        for fe in exc.field_errors:
            errors.setdefault(fe.field, []).append(fe.text())
        f = teaching.normalise_filter(raw_specialty, None)
    rows, total = teaching.library(session, actor, f, paging)
    query = {k: v for k, v in (("specialty", f.specialty), ("icd10", f.icd10)) if v}
    specialties = _specialties(session)
    return render(
        request,
        "teaching/list.html",
        {
            "rows": rows,
            "total": total,
            "page": paging.page,
            "pages": max(1, -(-total // paging.size)),
            "base": "/teaching-cases" + ("?" + urlencode(query) if query else ""),
            "f": {"specialty": f.specialty or "", "icd10": raw_icd10},
            "errors": errors,
            "specialties": specialties,
            "specialty_names": {s.code: s for s in specialties},
            "sex_labels": SEX_LABELS,
        },
        status_code=422 if errors else 200,
    )


@router.get("/teaching-cases/{teaching_case_id:int}")
def teaching_case_page(
    request: Request, session: DB, actor: PageActor, teaching_case_id: int
) -> Response:
    row = teaching.read(session, actor, teaching_case_id)
    return render(
        request,
        "teaching/detail.html",
        {
            "t": row,
            "specialty": session.get(SpecialtyRow, row.specialty_code),
            "sex_labels": SEX_LABELS,
            "flash": gettext(MARKED) if request.query_params.get("made") else None,
        },
    )


@router.post("/consultations/{consultation_id:int}/teaching-case")
def mark_page(request: Request, session: DB, actor: PageActor, consultation_id: int) -> Response:
    """The button on a case page: make the teaching copy, then show it. A case that already
    is one leads to its copy."""
    try:
        row = teaching.mark(session, actor, consultation_id, settings_of(request))
    except Conflict as exc:
        existing = teaching.of_consultation(session, consultation_id)
        if exc.code != "already_teaching" or existing is None:
            raise
        session.rollback()
        return RedirectResponse(f"/teaching-cases/{existing.id}", status_code=303)
    return RedirectResponse(f"/teaching-cases/{row.id}?made=1", status_code=303)
