"""Teaching cases: an anonymised copy of an answered consultation for the case library.

The expert who answered (the opinion's author or the expert holding the case) or a
coordinator of the answering institution marks an answered or closed case, once. The copy
keeps the specialty, the ICD-10 code, the age as a band at the time of asking and the sex;
the question, the summary, the diagnosis, the assessment and the recommendations are scrubbed
of the patient's and guardian's names, ID, phone and record numbers, e-mail addresses and
dates (``anonymise``). The library has no identifiers: everybody with CONSULT_READ reads it
across institutions.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from medcircle.audit import service as audit
from medcircle.auth.domain import Actor, Permission
from medcircle.config import Settings
from medcircle.consultations import service
from medcircle.consultations.anonymise import Identifiers, age_band, scrubber
from medcircle.consultations.domain import Side, Status
from medcircle.consultations.models import Consultation, TeachingCase
from medcircle.kit import clock
from medcircle.kit.clock import CST
from medcircle.kit.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from medcircle.kit.i18n import N_
from medcircle.kit.pagination import PageParams
from medcircle.patients import service as patients
from medcircle.patients.models import Patient

TEACHABLE: frozenset[str] = frozenset({Status.ANSWERED.value, Status.CLOSED.value})
NO_TEACHING_CASE = N_("No such teaching case.")
ICD10_PREFIX = re.compile(r"^[A-Z][0-9A-Z.]{0,7}$")


def may_mark(actor: Actor, c: Consultation, sides: set[Side]) -> bool:
    """Whether the reader may turn ``c`` into a teaching case (status aside): the expert
    who answered it or holds it, or a coordinator of the answering institution."""
    if Side.COORDINATOR in sides:
        return True
    return (
        actor.can(Permission.CONSULT_ANSWER)
        and actor.institution_id == c.answer_institution_id
        and actor.user_id in {c.opinion_by_user_id, c.assignee_user_id}
    )


def of_consultation(session: Session, consultation_id: int) -> TeachingCase | None:
    return session.scalar(
        select(TeachingCase).where(TeachingCase.consultation_id == consultation_id)
    )


def _identifiers(patient: Patient, settings: Settings) -> Identifiers:
    numbers: list[str] = []
    cipher = patients.cipher(settings)
    for sealed in (
        patient.national_id_sealed,
        patient.phone_sealed,
        patient.guardian_phone_sealed,
    ):
        if sealed:
            # a number that cannot be unsealed is still caught by the general patterns
            with contextlib.suppress(Exception):
                numbers.append(cipher.open(sealed))
    if patient.email:
        numbers.append(patient.email)
    names = tuple(n for n in (patient.name, patient.guardian_name) if n)
    return Identifiers(names=names, numbers=tuple(numbers))


def mark(session: Session, actor: Actor, consultation_id: int, settings: Settings) -> TeachingCase:
    """Make the anonymised teaching copy of a case. 404 for those who may not read it, 403
    ``not_teaching_author`` for readers other than the answering expert or a coordinator,
    409 ``not_answered`` before the opinion, 409 ``already_teaching`` the second time (also
    when two ask at once)."""
    c = service.get(session, actor, consultation_id)
    if not may_mark(actor, c, service.sides(actor, c, session)):
        raise Forbidden(
            N_("Only the expert who answered or a coordinator makes a teaching case."),
            code="not_teaching_author",
        )
    if c.status not in TEACHABLE:
        raise Conflict(
            N_("Only an answered or closed consultation becomes a teaching case."),
            code="not_answered",
        )
    if of_consultation(session, c.id) is not None:
        raise _already()
    patient = session.get(Patient, c.patient_id)
    if patient is None:  # pragma: no cover - a foreign key keeps it
        raise NotFound()
    scrub = scrubber(_identifiers(patient, settings))
    asked_day = c.asked_at.astimezone(CST).date()
    row = TeachingCase(
        consultation_id=c.id,
        specialty_code=c.specialty_code,
        icd10_code=c.icd10_code,
        diagnosis=scrub(c.diagnosis)[:255],
        age_band=age_band(patient.birth_date, asked_day),
        sex=patient.sex,
        question=scrub(c.question),
        summary=scrub(c.clinical_summary),
        assessment=scrub(c.assessment or ""),
        recommendations=scrub(c.recommendations or ""),
        created_by_user_id=actor.user_id,
        created_at=clock.now(),
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise _already() from None
    audit.record(
        session,
        actor,
        "consultation.teaching_case_add",
        object_type="teaching_case",
        object_id=row.id,
        detail={"consultation_id": c.id},
    )
    return row


def _already() -> Conflict:
    return Conflict(N_("This consultation is already a teaching case."), code="already_teaching")


# --- the library --------------------------------------------------------------------------


@dataclass(frozen=True)
class LibraryFilter:
    specialty: str | None = None
    # an ICD-10 code prefix such as "Q2" or "Q21.0"
    icd10: str | None = None


def _require_reader(actor: Actor) -> None:
    if not actor.can(Permission.CONSULT_READ):
        raise Forbidden()


def normalise_filter(specialty: str | None, icd10: str | None) -> LibraryFilter:
    """The filter from raw input; a malformed ICD-10 prefix is a 422 ``invalid_icd10``."""
    spec = (specialty or "").strip() or None
    code = (icd10 or "").strip().upper() or None
    if code is not None and not ICD10_PREFIX.match(code):
        raise ValidationFailed(
            code="invalid_icd10",
            field_errors=[
                FieldError(
                    "icd10",
                    N_("Enter the start of an ICD-10 code, such as Q21."),
                    code="invalid_icd10",
                )
            ],
        )
    if spec is not None and len(spec) > 32:
        spec = spec[:32]
    return LibraryFilter(specialty=spec, icd10=code)


def library(
    session: Session, actor: Actor, f: LibraryFilter, paging: PageParams
) -> tuple[Sequence[TeachingCase], int]:
    """Teaching cases, newest first, with the total that match."""
    _require_reader(actor)
    query = select(TeachingCase)
    if f.specialty:
        query = query.where(TeachingCase.specialty_code == f.specialty)
    if f.icd10:
        query = query.where(TeachingCase.icd10_code.startswith(f.icd10, autoescape=True))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = (
        session.execute(
            query.order_by(TeachingCase.created_at.desc(), TeachingCase.id.desc())
            .offset(paging.offset)
            .limit(paging.size)
        )
        .scalars()
        .all()
    )
    return rows, total


def read(session: Session, actor: Actor, teaching_case_id: int) -> TeachingCase:
    """One teaching case (audited)."""
    _require_reader(actor)
    row = session.get(TeachingCase, teaching_case_id)
    if row is None:
        raise NotFound(NO_TEACHING_CASE)
    audit.record(
        session, actor, "teaching_case.read", object_type="teaching_case", object_id=row.id
    )
    return row
