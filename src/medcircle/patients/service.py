"""Use cases of patients and consent: register, find, edit, merge duplicates, unmask a number
(audited), record and withdraw consent, and the consent check before data is shared.

Patient data is seen only by those with a reason: staff of the institution that registered the
patient, and staff of an institution a (non-draft) referral of the patient was sent to. Anyone
else is told the patient does not exist. Every read and every write is audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from medcircle.audit import service as audit
from medcircle.auth.domain import Actor, Permission
from medcircle.config import Settings
from medcircle.kit import clock, i18n
from medcircle.kit.crypto import FieldCipher, cipher_for
from medcircle.kit.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from medcircle.kit.i18n import N_
from medcircle.kit.pagination import PageParams
from medcircle.patients import repository
from medcircle.patients.domain import (
    CHILD_CONSENT_MESSAGE,
    PURPOSE_LABELS,
    ConsentPurpose,
    ConsentState,
    GivenBy,
    GuardianRelation,
    NationalId,
    PersonFacts,
    Problem,
    Sex,
    UnmaskField,
    china_date,
    consent_state,
    is_child,
    looks_like_national_id,
    mask_phone,
    normalise_national_id,
    normalise_phone,
    person_problems,
)
from medcircle.patients.models import Consent, Patient
from medcircle.patients.repository import PatientFilter
from medcircle.patients.schemas import (
    ConsentCreate,
    ConsentWithdraw,
    MergeIn,
    PatientCreate,
    PatientUpdate,
    UnmaskIn,
)
from medcircle.referrals.models import Referral
from medcircle.registry.models import Division, Institution

NATIONAL_ID_KIND = "national_id"
STALE_MESSAGE = N_(
    "Someone else changed this after you opened it. Reload it and apply your change again."
)
NO_PATIENT = N_("No patient with this number.")
NO_CONSENT = N_("No consent with this number.")
DUPLICATE_MESSAGE = N_(
    "This person is already registered at your institution as patient no. %(patient_id)s. "
    "Open that record, or merge the two records."
)
MERGED_MESSAGE = N_("This record was merged into patient no. %(patient_id)s.")
OWN_ONLY_MESSAGE = N_("Only the institution that registered this patient may do this.")
UNKNOWN_DIVISION = N_("No administrative division has the code %(value)s.")
CANNOT_EMPTY = N_("This field cannot be emptied.")
CONSENT_MISSING_MESSAGE = N_(
    "No valid consent allows sharing this patient's data with %(institution)s for a "
    "%(purpose)s. Record the consent on the patient's page first."
)
# a form's clock may run a little ahead of the server's
CLOCK_SKEW = timedelta(minutes=2)


def cipher(settings: Settings) -> FieldCipher:
    """The cipher that seals and digests this deployment's personal fields."""
    return cipher_for(settings.data_key, settings.secret_key)


def display_name(patient: Patient) -> str:
    return patient.name


# --- who may do what ----------------------------------------------------------------------


def _require(actor: Actor, permission: Permission) -> None:
    if not actor.can(permission):
        raise Forbidden()


def can_read(session: Session, actor: Actor, patient: Patient) -> bool:
    """Staff of the registering institution, or of one a non-draft referral was sent to."""
    if not actor.can(Permission.PATIENT_READ):
        return False
    if patient.institution_id == actor.institution_id:
        return True
    return repository.referred_to(session, patient.id, actor.institution_id)


def may_manage(actor: Actor, patient: Patient) -> bool:
    return actor.can(Permission.PATIENT_MANAGE) and patient.institution_id == actor.institution_id


def may_unmask(actor: Actor, patient: Patient) -> bool:
    return actor.can(Permission.PATIENT_UNMASK) and patient.institution_id == actor.institution_id


def _visible(session: Session, actor: Actor, patient_id: int) -> Patient:
    _require(actor, Permission.PATIENT_READ)
    patient = repository.patient_by_id(session, patient_id)
    if patient is None or not can_read(session, actor, patient):
        raise NotFound(NO_PATIENT)
    return patient


def _owned(session: Session, actor: Actor, patient_id: int, permission: Permission) -> Patient:
    """A patient of the actor's own institution, for a change (404 for strangers, 403 for
    receivers who may read but not change)."""
    _require(actor, permission)
    patient = _visible(session, actor, patient_id)
    if patient.institution_id != actor.institution_id:
        raise Forbidden(OWN_ONLY_MESSAGE)
    return patient


def _live(patient: Patient) -> None:
    if patient.merged_into_id is not None:
        raise Conflict(MERGED_MESSAGE, code="patient_merged", patient_id=patient.merged_into_id)


def _flush(session: Session) -> None:
    try:
        session.flush()
    except StaleDataError as exc:
        raise Conflict(STALE_MESSAGE, code="stale_version") from exc


def _check_version(current: int, sent: int) -> None:
    if current != sent:
        raise Conflict(STALE_MESSAGE, code="stale_version")


def _field_errors(problems: Sequence[Problem]) -> list[FieldError]:
    return [FieldError(p.field, p.message, p.params_dict, code=p.code) for p in problems]


class DuplicatePatient(Conflict):
    """The person is already registered (live) at the institution: open or merge instead."""

    code = "duplicate_patient"

    def __init__(self, existing_id: int) -> None:
        super().__init__(
            DUPLICATE_MESSAGE,
            field_errors=[
                FieldError(
                    "national_id",
                    DUPLICATE_MESSAGE,
                    {"patient_id": existing_id},
                    code="duplicate_patient",
                )
            ],
            patient_id=existing_id,
        )
        self.existing_id = existing_id


# --- reading ------------------------------------------------------------------------------


def get_patient(session: Session, actor: Actor, patient_id: int) -> Patient:
    """A patient the actor may read (404 otherwise); a merged record is returned as it is,
    with ``merged_into_id`` pointing to the record that stands for the person."""
    patient = _visible(session, actor, patient_id)
    audit.record(
        session,
        actor,
        "patient.read",
        object_type="patient",
        object_id=patient.id,
        detail={"own": patient.institution_id == actor.institution_id},
    )
    return patient


@dataclass(frozen=True)
class Search:
    """A search of one's own institution's patients: an ID number, the start of a name,
    a birth date (any combination)."""

    national_id: str | None = None
    name: str | None = None
    birth_date: date | None = None
    # free text: an ID number if it looks like one, else the start of a name
    q: str | None = None


def list_patients(
    session: Session, actor: Actor, search: Search, page: PageParams, settings: Settings
) -> tuple[Sequence[Patient], int]:
    """Live patients of the actor's institution, by name; a full ID number is matched by its
    keyed hash (never decrypted)."""
    _require(actor, Permission.PATIENT_READ)
    national_id = search.national_id
    name = search.name
    if search.q and search.q.strip():
        text = search.q.strip()
        if looks_like_national_id(text):
            national_id = national_id or text
        else:
            name = name or text
    digest = (
        cipher(settings).digest(normalise_national_id(national_id), kind=NATIONAL_ID_KIND)
        if national_id
        else None
    )
    f = PatientFilter(
        institution_id=actor.institution_id,
        name_prefix=(name or "").strip()[:64] or None,
        national_id_hash=digest,
        birth_date=search.birth_date,
    )
    rows, total = repository.list_patients(session, f, page)
    by = [k for k, v in (("national_id", digest), ("name", f.name_prefix)) if v]
    if search.birth_date:
        by.append("birth_date")
    audit.record(
        session,
        actor,
        "patient.search" if by else "patient.list",
        object_type="patient",
        detail={"by": by, "total": total, "page": page.page},
    )
    return rows, total


@dataclass
class PatientDetails:
    """What the patient's page shows: the record, its consents and the referrals the actor's
    institution sent or received, with the names they need."""

    patient: Patient
    consents: list[ConsentView]
    referrals: Sequence[Referral]
    institutions: dict[int, Institution]
    division: Division | None
    own: bool
    may_manage: bool
    may_unmask: bool


@dataclass
class ConsentView:
    consent: Consent
    state: ConsentState
    institution: Institution | None = None


def _consent_views(session: Session, consents: Sequence[Consent]) -> list[ConsentView]:
    today = clock.today()
    names = repository.institutions_by_ids(session, [c.receiving_institution_id for c in consents])
    return [
        ConsentView(
            c,
            consent_state(c.withdrawn_at is not None, c.valid_until, today),
            names.get(c.receiving_institution_id),
        )
        for c in consents
    ]


def details(session: Session, actor: Actor, patient_id: int) -> PatientDetails:
    """The patient with consents and referrals, read in one audited step."""
    patient = _visible(session, actor, patient_id)
    consents = _consent_views(session, repository.consents_of(session, patient.id))
    referrals = repository.referrals_of(session, patient.id, actor.institution_id)
    ids = {patient.institution_id}
    for r in referrals:
        ids |= {r.sender_institution_id, r.receiver_institution_id}
    audit.record(
        session,
        actor,
        "patient.read",
        object_type="patient",
        object_id=patient.id,
        detail={
            "own": patient.institution_id == actor.institution_id,
            "with": ["consents", "referrals"],
        },
    )
    return PatientDetails(
        patient=patient,
        consents=consents,
        referrals=referrals,
        institutions=repository.institutions_by_ids(session, sorted(ids)),
        division=repository.division_by_code(session, patient.residence_division_code),
        own=patient.institution_id == actor.institution_id,
        may_manage=may_manage(actor, patient),
        may_unmask=may_unmask(actor, patient),
    )


# --- registering and editing --------------------------------------------------------------


@dataclass
class _Sealed:
    values: dict[str, Any] = field(default_factory=dict)
    national_id: NationalId | None = None


def _check_person(
    session: Session,
    facts: PersonFacts,
    residence: str | None,
    c: FieldCipher,
) -> _Sealed:
    """Validate a person's facts; the stored form of the numbers (sealed, hashed, masked)."""
    checked, problems = person_problems(facts, clock.today())
    errors = _field_errors(problems)
    if residence is not None and not repository.division_exists(session, residence):
        errors.append(
            FieldError(
                "residence_division_code",
                UNKNOWN_DIVISION,
                {"value": residence},
                code="unknown_division",
            )
        )
    if errors:
        raise ValidationFailed(field_errors=errors)
    out = _Sealed(national_id=checked.national_id)
    nid = checked.national_id
    out.values["national_id_sealed"] = c.seal(nid.number) if nid else None
    out.values["national_id_hash"] = c.digest(nid.number, kind=NATIONAL_ID_KIND) if nid else None
    out.values["national_id_masked"] = nid.masked if nid else None
    for name, value in (("phone", checked.phone), ("guardian_phone", checked.guardian_phone)):
        out.values[f"{name}_sealed"] = c.seal(value) if value else None
        out.values[f"{name}_masked"] = mask_phone(value) if value else None
    return out


def _save_new(session: Session, patient: Patient) -> None:
    """Insert in a savepoint: a registration racing another of the same person ends in the
    duplicate conflict, not in a failed transaction."""
    try:
        with session.begin_nested():
            session.add(patient)
            session.flush()
    except IntegrityError as exc:
        existing = (
            repository.live_by_hash(session, patient.institution_id, patient.national_id_hash)
            if patient.national_id_hash
            else None
        )
        if existing is None:
            raise
        raise DuplicatePatient(existing.id) from exc


def register(session: Session, actor: Actor, data: PatientCreate, settings: Settings) -> Patient:
    """Register a patient of the actor's institution. Numbers are sealed, the ID number is
    also kept as a keyed hash (to find the person again) and as a masked copy. The same
    person already registered here is refused as a duplicate, pointing to that record."""
    _require(actor, Permission.PATIENT_MANAGE)
    facts = PersonFacts(
        name=data.name,
        sex=data.sex,
        birth_date=data.birth_date,
        national_id=data.national_id,
        phone=data.phone,
        guardian_name=data.guardian_name,
        guardian_relation=data.guardian_relation,
        guardian_phone=data.guardian_phone,
    )
    sealed = _check_person(session, facts, data.residence_division_code, cipher(settings))
    digest = sealed.values["national_id_hash"]
    if digest:
        existing = repository.live_by_hash(session, actor.institution_id, digest)
        if existing is not None:
            raise DuplicatePatient(existing.id)
    now = clock.now()
    patient = Patient(
        institution_id=actor.institution_id,
        name=data.name,
        sex=data.sex.value,
        birth_date=data.birth_date,
        residence_division_code=data.residence_division_code,
        address=data.address,
        guardian_name=data.guardian_name,
        guardian_relation=data.guardian_relation.value if data.guardian_relation else None,
        email=data.email,
        created_at=now,
        updated_at=now,
        **sealed.values,
    )
    _save_new(session, patient)
    audit.record(
        session,
        actor,
        "patient.register",
        object_type="patient",
        object_id=patient.id,
        detail={
            "child": is_child(patient.birth_date, clock.today()),
            "national_id": patient.national_id_masked,
        },
    )
    return patient


_REQUIRED = ("name", "sex", "birth_date", "residence_division_code", "national_id")
_NUMBERS = ("national_id", "phone", "guardian_phone")


def _same_phone(typed: str | None, stored: str | None) -> bool:
    return (normalise_phone(typed) if typed else None) == stored


def _open(c: FieldCipher, stored: str | None) -> str | None:
    return c.open(stored) if stored else None


def update(
    session: Session,
    actor: Actor,
    patient_id: int,
    data: PatientUpdate,
    settings: Settings,
) -> Patient:
    """Change the fields sent (a null clears an optional field), refusing a stale version and
    an ID number already registered for another live record here."""
    patient = _owned(session, actor, patient_id, Permission.PATIENT_MANAGE)
    _live(patient)
    _check_version(patient.version, data.version)
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    for name in _REQUIRED:
        if name in changes and changes[name] is None:
            if name == "national_id" and patient.national_id_sealed is None:
                changes.pop(name)
                continue
            raise ValidationFailed(field_errors=[FieldError(name, CANNOT_EMPTY, code="required")])
    c = cipher(settings)
    current = {
        "national_id": _open(c, patient.national_id_sealed),
        "phone": _open(c, patient.phone_sealed),
        "guardian_phone": _open(c, patient.guardian_phone_sealed),
    }
    merged = {
        "name": changes.get("name", patient.name),
        "sex": Sex(changes.get("sex", patient.sex)),
        "birth_date": changes.get("birth_date", patient.birth_date),
        "guardian_name": changes.get("guardian_name", patient.guardian_name),
        "guardian_relation": changes.get("guardian_relation", patient.guardian_relation),
        **{n: changes.get(n, current[n]) for n in _NUMBERS},
    }
    relation = merged["guardian_relation"]
    facts = PersonFacts(
        name=merged["name"],
        sex=merged["sex"],
        birth_date=merged["birth_date"],
        national_id=merged["national_id"],
        phone=merged["phone"],
        guardian_name=merged["guardian_name"],
        guardian_relation=GuardianRelation(relation) if relation else None,
        guardian_phone=merged["guardian_phone"],
    )
    residence = changes.get("residence_division_code")
    sealed = _check_person(session, facts, residence, c)
    digest = sealed.values["national_id_hash"]
    id_changed = digest != patient.national_id_hash
    if digest and id_changed:
        existing = repository.live_by_hash(
            session, patient.institution_id, digest, except_id=patient.id
        )
        if existing is not None:
            raise DuplicatePatient(existing.id)
    changed: list[str] = []
    plain = {
        k: (v.value if hasattr(v, "value") else v) for k, v in changes.items() if k not in _NUMBERS
    }
    for name, value in plain.items():
        if getattr(patient, name) != value:
            setattr(patient, name, value)
            changed.append(name)
    for name in _NUMBERS:
        if name not in changes:
            continue
        if name == "national_id" and not id_changed:
            continue
        if name != "national_id" and _same_phone(changes[name], current[name]):
            continue
        for suffix in (
            ("sealed", "hash", "masked") if name == "national_id" else ("sealed", "masked")
        ):
            setattr(patient, f"{name}_{suffix}", sealed.values[f"{name}_{suffix}"])
        changed.append(name)
    if changed:
        patient.updated_at = clock.now()
        try:
            with session.begin_nested():
                _flush(session)
        except IntegrityError as exc:
            existing = repository.live_by_hash(
                session, patient.institution_id, digest or "", except_id=patient.id
            )
            if existing is None:
                raise
            raise DuplicatePatient(existing.id) from exc
    audit.record(
        session,
        actor,
        "patient.update",
        object_type="patient",
        object_id=patient.id,
        detail={"changed": sorted(changed)},
    )
    return patient


# --- duplicates and merging ---------------------------------------------------------------


@dataclass(frozen=True)
class DuplicatePair:
    first: Patient
    second: Patient
    same_national_id: bool

    @property
    def reason(self) -> str:
        return "same_national_id" if self.same_national_id else "same_name_and_birth_date"


def possible_duplicates(session: Session, actor: Actor) -> list[DuplicatePair]:
    """Live records of the actor's institution that may be one person: the same ID number,
    or the same name and birth date."""
    _require(actor, Permission.PATIENT_MANAGE)
    pairs = [
        DuplicatePair(a, b, same)
        for a, b, same in repository.possible_duplicates(session, actor.institution_id)
    ]
    audit.record(
        session,
        actor,
        "patient.duplicates",
        object_type="patient",
        detail={"pairs": len(pairs)},
    )
    return pairs


@dataclass(frozen=True)
class MergePreview:
    """What a merge would do: the two records and what moves to the survivor."""

    survivor: Patient
    duplicate: Patient
    consents: int
    referrals: int


def merge_preview(
    session: Session, actor: Actor, survivor_id: int, duplicate_id: int
) -> MergePreview:
    """The two records side by side before a merge is confirmed."""
    survivor = _owned(session, actor, survivor_id, Permission.PATIENT_MANAGE)
    duplicate = _owned(session, actor, duplicate_id, Permission.PATIENT_MANAGE)
    audit.record(
        session,
        actor,
        "patient.read",
        object_type="patient",
        object_id=survivor.id,
        detail={"own": True, "merge_preview_with": duplicate.id},
    )
    return MergePreview(
        survivor,
        duplicate,
        repository.count_consents(session, duplicate.id),
        repository.count_referrals(session, duplicate.id),
    )


_FILLABLE = (
    "residence_division_code",
    "address",
    "guardian_name",
    "guardian_relation",
    "email",
)
MERGE_SELF_MESSAGE = N_("A record cannot be merged into itself.")
MERGE_DIFFERENT_IDS = N_("The two records carry different ID numbers: they are not one person.")


def merge(session: Session, actor: Actor, survivor_id: int, data: MergeIn) -> Patient:
    """Merge the duplicate into the survivor: its consents and referrals move over, the
    survivor's empty fields are filled from it, and it stays as a pointer to the survivor."""
    if survivor_id == data.duplicate_id:
        raise ValidationFailed(
            code="merge_self",
            field_errors=[FieldError("duplicate_id", MERGE_SELF_MESSAGE, code="merge_self")],
        )
    survivor = _owned(session, actor, survivor_id, Permission.PATIENT_MANAGE)
    duplicate = _owned(session, actor, data.duplicate_id, Permission.PATIENT_MANAGE)
    _live(survivor)
    _live(duplicate)
    _check_version(survivor.version, data.version)
    _check_version(duplicate.version, data.duplicate_version)
    if (
        survivor.national_id_hash
        and duplicate.national_id_hash
        and survivor.national_id_hash != duplicate.national_id_hash
    ):
        raise ValidationFailed(
            code="merge_mismatch",
            field_errors=[FieldError("duplicate_id", MERGE_DIFFERENT_IDS, code="merge_mismatch")],
        )
    now = clock.now()
    # the duplicate leaves the live records first, so that its ID number may move over
    duplicate.merged_into_id = survivor.id
    duplicate.updated_at = now
    _flush(session)
    filled: list[str] = []
    groups: list[tuple[str, ...]] = [
        ("national_id_sealed", "national_id_hash", "national_id_masked"),
        ("phone_sealed", "phone_masked"),
        ("guardian_phone_sealed", "guardian_phone_masked"),
        *((name,) for name in _FILLABLE),
    ]
    for group in groups:
        if getattr(survivor, group[0]) is None and getattr(duplicate, group[0]) is not None:
            for name in group:
                setattr(survivor, name, getattr(duplicate, name))
            filled.append(group[0].removesuffix("_sealed"))
    if survivor.sex == Sex.UNKNOWN.value and duplicate.sex != Sex.UNKNOWN.value:
        survivor.sex = duplicate.sex
        filled.append("sex")
    survivor.updated_at = now
    _flush(session)
    consents = repository.move_consents(session, duplicate.id, survivor.id)
    referrals = repository.move_referrals(
        session,
        duplicate.id,
        survivor.id,
        by_user_id=actor.user_id,
        by_institution_id=actor.institution_id,
        at=now,
    )
    audit.record(
        session,
        actor,
        "patient.merge",
        object_type="patient",
        object_id=survivor.id,
        detail={
            "duplicate_id": duplicate.id,
            "filled": filled,
            "consents": consents,
            "referrals": referrals,
        },
    )
    return survivor


# --- unmasking ----------------------------------------------------------------------------

UNMASK_NOTHING = N_("This patient has no such number on record.")


def unmask(
    session: Session, actor: Actor, patient_id: int, data: UnmaskIn, settings: Settings
) -> str:
    """The full number, for staff of the patient's own institution with the unmask
    permission; audited with the field and the reason (never the value)."""
    patient = _owned(session, actor, patient_id, Permission.PATIENT_UNMASK)
    stored = {
        UnmaskField.NATIONAL_ID: patient.national_id_sealed,
        UnmaskField.PHONE: patient.phone_sealed,
        UnmaskField.GUARDIAN_PHONE: patient.guardian_phone_sealed,
    }[data.field]
    if stored is None:
        raise NotFound(UNMASK_NOTHING, code="nothing_to_unmask")
    value = cipher(settings).open(stored)
    audit.record(
        session,
        actor,
        "patient.unmask",
        object_type="patient",
        object_id=patient.id,
        detail={"field": data.field.value, "reason": data.reason},
    )
    return value


# --- consent ------------------------------------------------------------------------------

CONSENT_FUTURE = N_("Consent cannot be recorded as given in the future.")
CONSENT_UNTIL_BEFORE = N_("The consent cannot end before the day it was given.")
CONSENT_SAME_INSTITUTION = N_(
    "Consent is needed for another institution; this is the patient's own."
)
UNKNOWN_INSTITUTION = N_("No institution has the number %(id)s.")
ALREADY_WITHDRAWN = N_("This consent was already withdrawn on %(day)s.")


def list_consents(session: Session, actor: Actor, patient_id: int) -> list[ConsentView]:
    patient = _visible(session, actor, patient_id)
    views = _consent_views(session, repository.consents_of(session, patient.id))
    audit.record(
        session,
        actor,
        "consent.list",
        object_type="patient",
        object_id=patient.id,
        detail={"count": len(views)},
    )
    return views


def record_consent(
    session: Session, actor: Actor, patient_id: int, data: ConsentCreate
) -> ConsentView:
    """Record who consented to sharing the patient's data with which institution, for what,
    when and until when. A child's consent is given by the guardian."""
    patient = _owned(session, actor, patient_id, Permission.PATIENT_MANAGE)
    _live(patient)
    errors: list[FieldError] = []
    now = clock.now()
    if data.given_at > now + CLOCK_SKEW:
        errors.append(FieldError("given_at", CONSENT_FUTURE, code="consent_in_future"))
    given_day = china_date(data.given_at)
    if data.valid_until is not None and data.valid_until < given_day:
        errors.append(FieldError("valid_until", CONSENT_UNTIL_BEFORE, code="consent_dates"))
    receiver = repository.institution_by_id(session, data.receiving_institution_id)
    if receiver is None:
        errors.append(
            FieldError(
                "receiving_institution_id",
                UNKNOWN_INSTITUTION,
                {"id": data.receiving_institution_id},
                code="unknown_institution",
            )
        )
    elif receiver.id == patient.institution_id:
        errors.append(
            FieldError(
                "receiving_institution_id", CONSENT_SAME_INSTITUTION, code="same_institution"
            )
        )
    if data.given_by is GivenBy.PATIENT and is_child(patient.birth_date, given_day):
        errors.append(FieldError("given_by", CHILD_CONSENT_MESSAGE, code="guardian_consent"))
    if errors:
        raise ValidationFailed(field_errors=errors)
    consent = Consent(
        patient_id=patient.id,
        receiving_institution_id=data.receiving_institution_id,
        purpose=data.purpose.value,
        given_by=data.given_by.value,
        given_by_name=data.given_by_name,
        given_at=data.given_at,
        valid_until=data.valid_until,
        recorded_by_user_id=actor.user_id,
        recorded_at=now,
    )
    session.add(consent)
    session.flush()
    audit.record(
        session,
        actor,
        "consent.record",
        object_type="consent",
        object_id=consent.id,
        detail={
            "patient_id": patient.id,
            "receiving_institution_id": consent.receiving_institution_id,
            "purpose": consent.purpose,
            "given_by": consent.given_by,
            "valid_until": consent.valid_until.isoformat() if consent.valid_until else None,
        },
    )
    return _consent_views(session, [consent])[0]


def withdraw_consent(
    session: Session, actor: Actor, consent_id: int, data: ConsentWithdraw
) -> ConsentView:
    """Withdraw a consent: from now on it allows no further sharing."""
    _require(actor, Permission.PATIENT_MANAGE)
    consent = repository.consent_by_id(session, consent_id)
    if consent is None:
        raise NotFound(NO_CONSENT)
    try:
        _owned(session, actor, consent.patient_id, Permission.PATIENT_MANAGE)
    except NotFound as exc:
        raise NotFound(NO_CONSENT) from exc
    if consent.withdrawn_at is not None:
        raise Conflict(
            ALREADY_WITHDRAWN,
            code="already_withdrawn",
            day=china_date(consent.withdrawn_at).isoformat(),
        )
    consent.withdrawn_at = clock.now()
    consent.withdrawn_by_user_id = actor.user_id
    consent.withdrawal_reason = data.reason
    session.flush()
    audit.record(
        session,
        actor,
        "consent.withdraw",
        object_type="consent",
        object_id=consent.id,
        detail={
            "patient_id": consent.patient_id,
            "receiving_institution_id": consent.receiving_institution_id,
            "reason": data.reason,
        },
    )
    return _consent_views(session, [consent])[0]


def require_consent(
    session: Session,
    patient_id: int,
    receiving_institution_id: int,
    purpose: str,
    now: datetime,
) -> Consent:
    """The consent that allows sharing the patient's data with the institution for the
    purpose at ``now`` (given, not withdrawn, not expired); refused with a clear message."""
    found = repository.usable_consent(
        session, patient_id, receiving_institution_id, purpose, now, china_date(now)
    )
    if found is not None:
        return found
    receiver = repository.institution_by_id(session, receiving_institution_id)
    if receiver is None:
        name = str(receiving_institution_id)
    else:
        name = receiver.name_en if i18n.get_locale() == "en" else receiver.name_zh
    try:
        label = i18n.gettext(PURPOSE_LABELS[ConsentPurpose(purpose)]).lower()
    except ValueError:
        label = purpose
    raise ValidationFailed(
        code="consent_missing",
        field_errors=[
            FieldError(
                "patient_id",
                CONSENT_MISSING_MESSAGE,
                {"institution": name, "purpose": label},
                code="consent_missing",
            )
        ],
    )


# --- choices for forms --------------------------------------------------------------------


def division_choices(session: Session, actor: Actor) -> Sequence[Division]:
    _require(actor, Permission.PATIENT_READ)
    return repository.all_divisions(session)


def consent_institution_choices(session: Session, actor: Actor) -> Sequence[Institution]:
    _require(actor, Permission.PATIENT_READ)
    return repository.institution_choices(session, actor.institution_id)
