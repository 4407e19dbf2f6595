"""Patients and consent (API). Responses carry masked numbers only; a full number comes from
the unmask call, which is audited."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Query, Request, status

from medcircle.kit.pagination import Page, PageParams
from medcircle.patients import service
from medcircle.patients.models import Patient
from medcircle.patients.schemas import (
    ConsentCreate,
    ConsentRead,
    ConsentWithdraw,
    DuplicateRead,
    MergeIn,
    PatientCreate,
    PatientRead,
    PatientSearch,
    PatientUpdate,
    UnmaskIn,
    UnmaskOut,
)
from medcircle.web.deps import DB, CurrentActor, Paging, settings_of
from medcircle.web.routing import QuickRouter

router = QuickRouter(prefix="/api/v1", tags=["patients"])


def patient_read(p: Patient) -> PatientRead:
    return PatientRead.model_validate(p)


def consent_read(view: service.ConsentView) -> ConsentRead:
    inst = view.institution
    return ConsentRead.model_validate(view.consent).model_copy(
        update={
            "state": view.state,
            "receiving_institution_name_zh": inst.name_zh if inst else None,
            "receiving_institution_name_en": inst.name_en if inst else None,
        }
    )


def _page(rows: list[PatientRead], total: int, paging: PageParams) -> Page[PatientRead]:
    return Page(items=rows, total=total, page=paging.page, size=paging.size)


@router.get("/patients", response_model=Page[PatientRead])
def list_patients(
    request: Request,
    session: DB,
    actor: CurrentActor,
    paging: Paging,
    name: Annotated[str | None, Query(max_length=64, description="the start of the name")] = None,
    birth_date: date | None = None,
) -> Page[PatientRead]:
    """Live patients of your institution by name. To find a person by ID number, use
    POST /patients/search (the number then stays out of URLs and logs)."""
    rows, total = service.list_patients(
        session,
        actor,
        service.Search(name=name, birth_date=birth_date),
        paging,
        settings_of(request),
    )
    return _page([patient_read(p) for p in rows], total, paging)


@router.post("/patients/search", response_model=Page[PatientRead])
def search_patients(
    body: PatientSearch, request: Request, session: DB, actor: CurrentActor, paging: Paging
) -> Page[PatientRead]:
    """Find your institution's patients by full ID number (matched by its keyed hash), the
    start of the name and/or the birth date."""
    rows, total = service.list_patients(
        session,
        actor,
        service.Search(national_id=body.national_id, name=body.name, birth_date=body.birth_date),
        paging,
        settings_of(request),
    )
    return _page([patient_read(p) for p in rows], total, paging)


@router.post("/patients", response_model=PatientRead, status_code=status.HTTP_201_CREATED)
def register_patient(
    body: PatientCreate, request: Request, session: DB, actor: CurrentActor
) -> PatientRead:
    """Register a patient of your institution. The same person already registered here is
    refused with 409 `duplicate_patient`; the message names the existing record."""
    return patient_read(service.register(session, actor, body, settings_of(request)))


@router.get("/patients/duplicates", response_model=list[DuplicateRead])
def list_duplicates(session: DB, actor: CurrentActor) -> list[DuplicateRead]:
    """Records of your institution that may be one person, to merge."""
    return [
        DuplicateRead(
            first=patient_read(pair.first),
            second=patient_read(pair.second),
            reason="same_national_id" if pair.same_national_id else "same_name_and_birth_date",
        )
        for pair in service.possible_duplicates(session, actor)
    ]


@router.get("/patients/{patient_id:int}", response_model=PatientRead)
def read_patient(patient_id: int, session: DB, actor: CurrentActor) -> PatientRead:
    """A patient (masked). A merged record comes back with `merged_into_id`."""
    return patient_read(service.get_patient(session, actor, patient_id))


@router.patch("/patients/{patient_id:int}", response_model=PatientRead)
def update_patient(
    patient_id: int, body: PatientUpdate, request: Request, session: DB, actor: CurrentActor
) -> PatientRead:
    """Change a patient; send the version you read (409 `stale` if it changed)."""
    return patient_read(service.update(session, actor, patient_id, body, settings_of(request)))


@router.post("/patients/{patient_id:int}/merge", response_model=PatientRead)
def merge_patient(patient_id: int, body: MergeIn, session: DB, actor: CurrentActor) -> PatientRead:
    """Merge `duplicate_id` into this patient: consents and referrals move here."""
    return patient_read(service.merge(session, actor, patient_id, body))


@router.post("/patients/{patient_id:int}/unmask", response_model=UnmaskOut)
def unmask_patient(
    patient_id: int, body: UnmaskIn, request: Request, session: DB, actor: CurrentActor
) -> UnmaskOut:
    """The full number of one field, with a reason (audited; needs the unmask permission)."""
    value = service.unmask(session, actor, patient_id, body, settings_of(request))
    return UnmaskOut(field=body.field, value=value)


@router.get("/patients/{patient_id:int}/consents", response_model=list[ConsentRead])
def list_consents(patient_id: int, session: DB, actor: CurrentActor) -> list[ConsentRead]:
    return [consent_read(v) for v in service.list_consents(session, actor, patient_id)]


@router.post(
    "/patients/{patient_id:int}/consents",
    response_model=ConsentRead,
    status_code=status.HTTP_201_CREATED,
)
def record_consent(
    patient_id: int, body: ConsentCreate, session: DB, actor: CurrentActor
) -> ConsentRead:
    """Record a consent to share the patient's data with another institution."""
    return consent_read(service.record_consent(session, actor, patient_id, body))


@router.post("/consents/{consent_id:int}/withdraw", response_model=ConsentRead)
def withdraw_consent(
    consent_id: int, body: ConsentWithdraw, session: DB, actor: CurrentActor
) -> ConsentRead:
    """Withdraw a consent: it allows no further sharing."""
    return consent_read(service.withdraw_consent(session, actor, consent_id, body))
