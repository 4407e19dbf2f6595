"""Use cases of referrals: draft, submit, every transition of the loop, return, status link.

The transitions are data (``referrals.domain.TRANSITIONS``); this module walks them: it looks
up the transition, checks the actor's side and permission, the version they read and the
fields the transition needs, then changes the row, keeps the timers in step with the new
state, writes the history event, audits and tells the other side.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from medcircle.agreements.models import CooperationAgreement
from medcircle.audit import service as audit
from medcircle.audit.domain import Outcome
from medcircle.auth.domain import Actor, Permission, Role
from medcircle.auth.models import User, UserRole
from medcircle.config import Settings
from medcircle.kit import clock, crypto, i18n
from medcircle.kit.clock import CST
from medcircle.kit.errors import (
    Conflict,
    DomainError,
    FieldError,
    Forbidden,
    NotFound,
    ValidationFailed,
)
from medcircle.kit.i18n import N_
from medcircle.notifications import service as notifications
from medcircle.patients import service as patients
from medcircle.patients.models import Patient
from medcircle.referrals import icd10, savings
from medcircle.referrals.domain import (
    ACTION_LABELS,
    STATUS_LABELS,
    URGENCY_RANK,
    Action,
    CareType,
    Direction,
    Side,
    Status,
    TimerKind,
    Transition,
    TriageLimits,
    Urgency,
    allowed_actions,
    find_transition,
    timers_for,
)
from medcircle.referrals.models import Referral, ReferralEvent, StatusLink
from medcircle.referrals.schemas import ReferralCreate, ReferralUpdate, TransitionIn
from medcircle.registry.domain import Level
from medcircle.registry.models import (
    Alliance,
    AllianceMember,
    Department,
    Institution,
    Practitioner,
)
from medcircle.tasks import service as tasks

SUBJECT = "referral"
CONSENT_PURPOSE = "referral"

STALE_MESSAGE = N_(
    "Someone else changed this referral after you opened it. Reload it and try again."
)
NOT_FOUND_MESSAGE = N_("No referral with this number.")
TRANSITION_MESSAGE = N_("This referral is %(status)s now; “%(action)s” is not possible from there.")
REQUIRED_MESSAGE = N_("This is needed to %(action)s.")
UNKNOWN_DEPARTMENT = N_("No active department has the number %(id)s.")
UNKNOWN_PATIENT = N_("No patient of yours has the number %(id)s.")
SAME_INSTITUTION = N_("A referral goes to another institution, not to your own.")
INVALID_ICD10 = N_("%(value)s is not an ICD-10 code.")
OUTSIDE_NETWORK = N_(
    "No agreement or alliance joins your institution with %(institution)s. "
    "Give the reason for referring outside the network."
)
APPOINTMENT_PAST = N_("The appointment must be in the future.")
SAME_DEPARTMENT = N_("Choose a department other than the current one.")
NOT_YOUR_DEPARTMENT = N_("The sending department must belong to your institution.")

# the level order of institutions: a referral to a higher level goes up
LEVEL_RANK: dict[str, int] = {
    Level.TERTIARY.value: 3,
    Level.SECONDARY.value: 2,
    Level.PRIMARY.value: 1,
    Level.UNRATED.value: 0,
}
# roles that triage what the institution receives
TRIAGE_ROLES = (Role.CLINICIAN.value, Role.INSTITUTION_ADMIN.value)


# --- who may do what ----------------------------------------------------------------------


def _require(actor: Actor, permission: Permission) -> None:
    if not actor.can(permission):
        raise Forbidden()


def sides(actor: Actor, referral: Referral) -> set[Side]:
    """The parts the actor's institution plays in ``referral`` (a draft has no receiver yet)."""
    found: set[Side] = set()
    if actor.institution_id == referral.sender_institution_id:
        found.add(Side.SENDER)
    if actor.institution_id == referral.receiver_institution_id and (
        referral.status != Status.DRAFT.value
    ):
        found.add(Side.RECEIVER)
    return found


def _acting_sides(actor: Actor, referral: Referral) -> set[Side]:
    """The sides on which the actor holds the permission to act."""
    acting: set[Side] = set()
    found = sides(actor, referral)
    if Side.SENDER in found and actor.can(Permission.REFERRAL_SEND):
        acting.add(Side.SENDER)
    if Side.RECEIVER in found and actor.can(Permission.REFERRAL_TRIAGE):
        acting.add(Side.RECEIVER)
    return acting


def available_actions(actor: Actor, referral: Referral) -> list[Action]:
    """The transitions ``actor`` may make now, in table order."""
    return allowed_actions(Status(referral.status), _acting_sides(actor, referral))


def _visible(session: Session, actor: Actor, referral_id: int) -> Referral:
    """The referral if the actor's institution sends or receives it; otherwise it does not
    exist for them (404)."""
    _require(actor, Permission.REFERRAL_READ)
    referral = session.get(Referral, referral_id) if 0 < referral_id < 2**31 else None
    if referral is None or not sides(actor, referral):
        raise NotFound(NOT_FOUND_MESSAGE)
    return referral


def get(session: Session, actor: Actor, referral_id: int) -> Referral:
    """One referral, for its sender and (once submitted) its receiver; audited."""
    referral = _visible(session, actor, referral_id)
    audit.record(
        session,
        actor,
        "referral.read",
        object_type=SUBJECT,
        object_id=referral.id,
        detail={"reference": referral.reference, "patient_id": referral.patient_id},
    )
    return referral


def history(session: Session, actor: Actor, referral: Referral) -> list[ReferralEvent]:
    """Every step of ``referral``, oldest first."""
    if not actor.can(Permission.REFERRAL_READ) or not sides(actor, referral):
        raise NotFound(NOT_FOUND_MESSAGE)
    return list(
        session.scalars(
            select(ReferralEvent)
            .where(ReferralEvent.referral_id == referral.id)
            .order_by(ReferralEvent.at, ReferralEvent.id)
        )
    )


def people_of(
    session: Session, actor: Actor, referral: Referral, events: Iterable[ReferralEvent]
) -> dict[int, str]:
    """The names of the people in ``referral``'s history (sender, triager, the authors of
    ``events``, its steps from :func:`history`), by user id, for a reader of the referral."""
    if not actor.can(Permission.REFERRAL_READ) or not sides(actor, referral):
        raise NotFound(NOT_FOUND_MESSAGE)
    ids = {e.actor_user_id for e in events if e.actor_user_id} | {referral.sender_user_id}
    if referral.triaged_by_user_id:
        ids.add(referral.triaged_by_user_id)
    rows = session.execute(
        select(User.id, User.display_name, User.username).where(User.id.in_(ids))
    )
    return {uid: display or username for uid, display, username in rows}


def continuations(session: Session, actor: Actor, referral: Referral) -> list[Referral]:
    """The referrals that continue ``referral`` (the return referral(s); not the redirected
    one, which is linked on its own) that the actor's institution is a party to."""
    if not actor.can(Permission.REFERRAL_READ) or not sides(actor, referral):
        raise NotFound(NOT_FOUND_MESSAGE)
    rows = session.scalars(
        select(Referral).where(Referral.parent_id == referral.id).order_by(Referral.id)
    ).all()
    return [x for x in rows if x.id != referral.redirected_to_id and sides(actor, x)]


@dataclass(frozen=True)
class ReferralView:
    """A referral with the rows a reader needs next to it."""

    referral: Referral
    patient: Patient
    sender: Institution
    receiver: Institution
    sender_department: Department | None
    receiver_department: Department


def view_of(session: Session, referral: Referral) -> ReferralView:
    """The referral with its patient, institutions and departments (already access-checked)."""
    patient = session.get(Patient, referral.patient_id)
    sender = session.get(Institution, referral.sender_institution_id)
    receiver = session.get(Institution, referral.receiver_institution_id)
    receiver_department = session.get(Department, referral.receiver_department_id)
    assert patient is not None and sender is not None and receiver is not None
    assert receiver_department is not None
    sender_department = (
        session.get(Department, referral.sender_department_id)
        if referral.sender_department_id is not None
        else None
    )
    return ReferralView(referral, patient, sender, receiver, sender_department, receiver_department)


# --- helpers ------------------------------------------------------------------------------


def triage_limits(settings: Settings) -> TriageLimits:
    return TriageLimits(
        emergency=timedelta(hours=settings.triage_hours_emergency),
        urgent=timedelta(hours=settings.triage_hours_urgent),
        routine=timedelta(hours=settings.triage_hours_routine),
    )


def _flush(session: Session) -> None:
    """Flush, turning a concurrent change caught by the version column into a 409."""
    try:
        session.flush()
    except StaleDataError as exc:
        raise Conflict(STALE_MESSAGE, code="stale_version") from exc


def _check_version(referral: Referral, sent: int) -> None:
    if referral.version != sent:
        raise Conflict(STALE_MESSAGE, code="stale_version")


def _invalid(errors: list[FieldError]) -> ValidationFailed:
    return ValidationFailed(code=errors[0].code, field_errors=errors)


def direction_between(sender: Institution, receiver: Institution) -> Direction:
    """Up when the receiver's level is higher than the sender's, else down."""
    up = LEVEL_RANK.get(receiver.level, 0) > LEVEL_RANK.get(sender.level, 0)
    return Direction.UP if up else Direction.DOWN


def in_network(session: Session, a: int, b: int, on: date) -> bool:
    """Whether institutions a and b are joined on ``on``: they share an alliance, or a
    cooperation agreement in force binds them or the leads of their alliances (a county
    hospital of an alliance refers through its lead's partners)."""
    alliances_a = _alliances_of(session, [a], on)
    alliances_b = _alliances_of(session, [b], on)
    if alliances_a & alliances_b:
        return True
    side_a = {a} | _leads_of(session, alliances_a)
    side_b = {b} | _leads_of(session, alliances_b)
    agreement = session.scalar(
        select(CooperationAgreement.id)
        .where(
            or_(
                and_(
                    CooperationAgreement.supporting_institution_id.in_(sorted(side_a)),
                    CooperationAgreement.supported_institution_id.in_(sorted(side_b)),
                ),
                and_(
                    CooperationAgreement.supporting_institution_id.in_(sorted(side_b)),
                    CooperationAgreement.supported_institution_id.in_(sorted(side_a)),
                ),
            ),
            CooperationAgreement.starts_on <= on,
            CooperationAgreement.ends_on >= on,
            or_(
                CooperationAgreement.terminated_on.is_(None),
                CooperationAgreement.terminated_on > on,
            ),
        )
        .limit(1)
    )
    return agreement is not None


def _leads_of(session: Session, alliance_ids: set[int]) -> set[int]:
    if not alliance_ids:
        return set()
    return set(
        session.scalars(
            select(Alliance.lead_institution_id).where(Alliance.id.in_(sorted(alliance_ids)))
        )
    )


def _alliances_of(session: Session, institution_ids: list[int], on: date) -> set[int]:
    """Alliances the institutions lead or are current members of."""
    led = session.scalars(
        select(Alliance.id).where(Alliance.lead_institution_id.in_(institution_ids))
    )
    member = session.scalars(
        select(AllianceMember.alliance_id).where(
            AllianceMember.institution_id.in_(institution_ids),
            AllianceMember.joined_on <= on,
            or_(AllianceMember.left_on.is_(None), AllianceMember.left_on > on),
        )
    )
    return set(led) | set(member)


def users_with_roles(
    session: Session, institution_ids: Iterable[int], roles: Iterable[str]
) -> list[int]:
    """The active users of ``institution_ids`` who hold one of ``roles``, by id (shared with
    consultations)."""
    ids = sorted(set(institution_ids))
    if not ids:
        return []
    return sorted(
        set(
            session.scalars(
                select(User.id)
                .join(UserRole, UserRole.user_id == User.id)
                .where(
                    User.institution_id.in_(ids),
                    User.is_active.is_(True),
                    UserRole.role.in_(sorted(set(roles))),
                )
            )
        )
    )


def triagers(session: Session, institution_id: int) -> list[int]:
    """Users who triage what ``institution_id`` receives (clinicians, institution admins)."""
    return users_with_roles(session, [institution_id], TRIAGE_ROLES)


def triagers_for(session: Session, referral: Referral) -> list[int]:
    """Who is told of a referral waiting on the receiving side: the clinicians and admins on
    the staff of the receiving department, else the receiving institution's admins (the
    office that hands work out), else everyone there who triages; and whoever triaged it."""
    ids = set(
        session.scalars(
            select(User.id)
            .join(Practitioner, Practitioner.user_id == User.id)
            .join(UserRole, UserRole.user_id == User.id)
            .where(
                Practitioner.department_id == referral.receiver_department_id,
                Practitioner.is_active.is_(True),
                User.institution_id == referral.receiver_institution_id,
                User.is_active.is_(True),
                UserRole.role.in_(TRIAGE_ROLES),
            )
        )
    )
    if not ids:
        ids = set(institution_admins(session, referral.receiver_institution_id))
    if not ids:
        ids = set(triagers(session, referral.receiver_institution_id))
    if referral.triaged_by_user_id is not None:
        ids.add(referral.triaged_by_user_id)
    return sorted(ids)


def institution_admins(session: Session, institution_id: int) -> list[int]:
    return users_with_roles(session, [institution_id], [Role.INSTITUTION_ADMIN.value])


def alliance_coordinators(session: Session, institution_ids: list[int], on: date) -> list[int]:
    """Alliance admins at the lead institution of every alliance the institutions are in."""
    alliance_ids = _alliances_of(session, institution_ids, on)
    if not alliance_ids:
        return []
    leads = list(
        session.scalars(select(Alliance.lead_institution_id).where(Alliance.id.in_(alliance_ids)))
    )
    return users_with_roles(session, leads, [Role.ALLIANCE_ADMIN.value])


def senders(session: Session, referral: Referral) -> list[int]:
    """The referring user and those who send referrals for the sending institution."""
    ids = set(users_with_roles(session, [referral.sender_institution_id], TRIAGE_ROLES))
    ids.add(referral.sender_user_id)
    return sorted(ids)


def link_of(referral: Referral) -> str:
    return f"/referrals/{referral.id}"


def _tell(
    session: Session,
    user_ids: Iterable[int],
    referral: Referral,
    kind: str,
    message: str,
    settings: Settings | None,
    *,
    exclude: int | None = None,
) -> None:
    notifications.notify(
        session,
        [u for u in user_ids if u != exclude],
        kind,
        message,
        {"reference": referral.reference},
        link=link_of(referral),
        subject_type=SUBJECT,
        subject_id=referral.id,
        base_url=settings.base_url if settings else "",
    )


def _event(
    session: Session,
    referral: Referral,
    action: str,
    from_status: str | None,
    actor: Actor | None,
    *,
    note: str | None = None,
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
    to_status: str | None = None,
) -> ReferralEvent:
    event = ReferralEvent(
        referral_id=referral.id,
        at=at or clock.now(),
        action=action,
        from_status=from_status,
        to_status=to_status or referral.status,
        actor_user_id=actor.user_id if actor else None,
        actor_institution_id=actor.institution_id if actor else None,
        note=note,
        detail=detail or {},
    )
    session.add(event)
    return event


def institution_name(institution: Institution) -> str:
    """The institution's name in the current language."""
    return institution.name_zh if i18n.get_locale() == "zh_Hans" else institution.name_en


def _status_label(status: str) -> str:
    return i18n.gettext(STATUS_LABELS[Status(status)])


# --- creating and submitting --------------------------------------------------------------


@dataclass
class _Checked:
    """A referral's inputs after every check."""

    patient: Patient
    sender: Institution
    receiver: Institution
    department: Department
    sender_department_id: int | None
    icd10_code: str
    diagnosis: str
    direction: Direction
    outside_network: bool
    outside_network_reason: str | None


def _department(session: Session, department_id: int | None) -> Department | None:
    if department_id is None or not 0 < department_id < 2**31:
        return None
    dept = session.get(Department, department_id)
    return dept if dept is not None and dept.is_active else None


def _patient_readable(session: Session, actor: Actor, patient: Patient) -> bool:
    if patient.institution_id == actor.institution_id:
        return True
    return patients.can_read(session, actor, patient)


def _check_inputs(session: Session, actor: Actor, values: dict[str, Any]) -> _Checked:
    """Check the patient, departments, ICD-10 code and network of a referral's values."""
    errors: list[FieldError] = []
    patient_id = values["patient_id"]
    patient = session.get(Patient, patient_id) if 0 < patient_id < 2**31 else None
    if (
        patient is None
        or patient.merged_into_id is not None
        or not _patient_readable(session, actor, patient)
    ):
        errors.append(
            FieldError("patient_id", UNKNOWN_PATIENT, {"id": patient_id}, code="unknown_patient")
        )
    department = _department(session, values["receiver_department_id"])
    if department is None:
        errors.append(
            FieldError(
                "receiver_department_id",
                UNKNOWN_DEPARTMENT,
                {"id": values["receiver_department_id"]},
                code="unknown_department",
            )
        )
    elif department.institution_id == actor.institution_id:
        errors.append(
            FieldError("receiver_department_id", SAME_INSTITUTION, code="same_institution")
        )
    sender_department_id = values.get("sender_department_id")
    if sender_department_id is not None:
        own = _department(session, sender_department_id)
        if own is None or own.institution_id != actor.institution_id:
            errors.append(
                FieldError("sender_department_id", NOT_YOUR_DEPARTMENT, code="unknown_department")
            )
    code = icd10.normalise(values["icd10_code"])
    if not icd10.is_valid(code):
        errors.append(
            FieldError(
                "icd10_code", INVALID_ICD10, {"value": values["icd10_code"]}, code="invalid_icd10"
            )
        )
    if errors:
        raise _invalid(errors)
    assert patient is not None and department is not None
    sender = session.get(Institution, actor.institution_id)
    receiver = session.get(Institution, department.institution_id)
    assert sender is not None and receiver is not None
    reason = (values.get("outside_network_reason") or "").strip() or None
    outside = not in_network(session, sender.id, receiver.id, clock.today())
    if outside and not reason:
        raise _invalid(
            [
                FieldError(
                    "outside_network_reason",
                    OUTSIDE_NETWORK,
                    {"institution": institution_name(receiver)},
                    code="outside_network_reason_required",
                )
            ]
        )
    diagnosis = (values.get("diagnosis") or "").strip() or icd10.describe(code) or code
    return _Checked(
        patient=patient,
        sender=sender,
        receiver=receiver,
        department=department,
        sender_department_id=sender_department_id,
        icd10_code=code,
        diagnosis=diagnosis[:255],
        direction=Direction(values.get("direction") or direction_between(sender, receiver)),
        outside_network=outside,
        outside_network_reason=reason if outside else None,
    )


def _consent_for(session: Session, patient: Patient, receiver_institution_id: int) -> int | None:
    """The consent that lets the patient's data go to the receiver; none is needed to send
    it back to the institution that registered the patient."""
    if patient.institution_id == receiver_institution_id:
        return None
    return patients.require_consent(
        session, patient.id, receiver_institution_id, CONSENT_PURPOSE, clock.now()
    ).id


def _allocate_reference(session: Session, referral: Referral) -> None:
    """R-YYYY-NNNNNN from the row's id: unique across processes without a counter. Written
    with a plain UPDATE so a new referral keeps version 1."""
    reference = f"R-{clock.today().year}-{referral.id:06d}"
    session.execute(
        update(Referral)
        .where(Referral.id == referral.id)
        .values(reference=reference)
        .execution_options(synchronize_session=False)
    )
    set_committed_value(referral, "reference", reference)


def _enter_submitted(
    session: Session, referral: Referral, settings: Settings, now: datetime
) -> None:
    limit = triage_limits(settings).for_urgency(Urgency(referral.urgency))
    referral.submitted_at = now
    referral.triage_due_at = now + limit
    referral.escalation_level = 0


def _schedule_triage_timer(session: Session, referral: Referral, settings: Settings) -> None:
    assert referral.triage_due_at is not None
    limit = triage_limits(settings).for_urgency(Urgency(referral.urgency))
    tasks.schedule(
        session,
        TimerKind.TRIAGE_OVERDUE.value,
        SUBJECT,
        referral.id,
        referral.triage_due_at,
        {"step": 1, "limit_seconds": limit.total_seconds()},
    )


def _new_referral(
    session: Session,
    actor: Actor,
    checked: _Checked,
    values: dict[str, Any],
    *,
    submit: bool,
    settings: Settings,
    parent_id: int | None = None,
    sender_user_id: int | None = None,
    sender_institution_id: int | None = None,
) -> Referral:
    now = clock.now()
    consent_id = _consent_for(session, checked.patient, checked.receiver.id) if submit else None
    urgency = Urgency(values["urgency"])
    referral = Referral(
        reference=f"new-{crypto.new_token(12)}"[:24],
        direction=checked.direction.value,
        status=Status.DRAFT.value,
        urgency=urgency.value,
        urgency_rank=URGENCY_RANK[urgency],
        care_type=str(values["care_type"]),
        patient_id=checked.patient.id,
        consent_id=consent_id,
        sender_institution_id=sender_institution_id or checked.sender.id,
        sender_department_id=checked.sender_department_id,
        sender_user_id=sender_user_id or actor.user_id,
        receiver_institution_id=checked.receiver.id,
        receiver_department_id=checked.department.id,
        icd10_code=checked.icd10_code,
        diagnosis=checked.diagnosis,
        reason=values["reason"],
        clinical_summary=values["clinical_summary"],
        outside_network=checked.outside_network,
        outside_network_reason=checked.outside_network_reason,
        parent_id=parent_id,
        escalation_level=0,
        local_plan=False,
        created_at=now,
        updated_at=now,
    )
    if submit:
        referral.status = Status.SUBMITTED.value
        _enter_submitted(session, referral, settings, now)
    session.add(referral)
    _flush(session)
    _allocate_reference(session, referral)
    # the history shows the draft step, then the submission
    _event(session, referral, "create", None, actor, at=now, to_status=Status.DRAFT.value)
    if submit:
        _event(session, referral, Action.SUBMIT.value, Status.DRAFT.value, actor, at=now)
        _schedule_triage_timer(session, referral, settings)
    session.flush()
    return referral


def _audit_detail(referral: Referral) -> dict[str, Any]:
    return {
        "reference": referral.reference,
        "status": referral.status,
        "patient_id": referral.patient_id,
        "receiver_institution_id": referral.receiver_institution_id,
        "receiver_department_id": referral.receiver_department_id,
        "outside_network": referral.outside_network,
    }


def create(session: Session, actor: Actor, data: ReferralCreate, settings: Settings) -> Referral:
    """A new referral from the actor's institution: a draft, or submitted (``data.submit``)."""
    _require(actor, Permission.REFERRAL_SEND)
    values = data.model_dump()
    checked = _check_inputs(session, actor, values)
    referral = _new_referral(session, actor, checked, values, submit=data.submit, settings=settings)
    audit.record(
        session,
        actor,
        "referral.submit" if data.submit else "referral.create",
        object_type=SUBJECT,
        object_id=referral.id,
        detail=_audit_detail(referral),
    )
    if data.submit:
        _tell_submitted(session, referral, settings, exclude=actor.user_id)
    return referral


SUBMITTED_MESSAGE = N_("Referral %(reference)s is waiting for your triage.")


def _tell_submitted(
    session: Session, referral: Referral, settings: Settings, *, exclude: int | None
) -> None:
    _tell(
        session,
        triagers_for(session, referral),
        referral,
        "referral.submitted",
        SUBMITTED_MESSAGE,
        settings,
        exclude=exclude,
    )


DRAFT_FIELDS = (
    "patient_id",
    "receiver_department_id",
    "urgency",
    "care_type",
    "icd10_code",
    "diagnosis",
    "reason",
    "clinical_summary",
    "sender_department_id",
    "direction",
    "outside_network_reason",
)


def update_draft(
    session: Session, actor: Actor, referral_id: int, data: ReferralUpdate
) -> Referral:
    """Change a draft (the fields sent only); submitted referrals change by transitions."""
    referral = _visible(session, actor, referral_id)
    if Side.SENDER not in _acting_sides(actor, referral):
        raise Forbidden()
    _check_version(referral, data.version)
    if referral.status != Status.DRAFT.value:
        raise Conflict(
            N_("Only a draft can be edited; this referral is %(status)s."),
            code="not_draft",
            status=_status_label(referral.status),
        )
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    for required in (
        "patient_id",
        "receiver_department_id",
        "urgency",
        "care_type",
        "icd10_code",
        "reason",
        "clinical_summary",
    ):
        if required in changes and changes[required] is None:
            raise _invalid(
                [FieldError(required, N_("This field cannot be emptied."), code="required")]
            )
    values: dict[str, Any] = {name: getattr(referral, name) for name in DRAFT_FIELDS}
    values["diagnosis"] = None if "icd10_code" in changes else referral.diagnosis
    values["direction"] = None
    values.update(changes)
    checked = _check_inputs(session, actor, values)
    urgency = Urgency(values["urgency"])
    new_values: dict[str, Any] = {
        "patient_id": checked.patient.id,
        "receiver_institution_id": checked.receiver.id,
        "receiver_department_id": checked.department.id,
        "sender_department_id": checked.sender_department_id,
        "urgency": urgency.value,
        "urgency_rank": URGENCY_RANK[urgency],
        "care_type": str(values["care_type"]),
        "icd10_code": checked.icd10_code,
        "diagnosis": checked.diagnosis,
        "reason": values["reason"],
        "clinical_summary": values["clinical_summary"],
        "direction": checked.direction.value,
        "outside_network": checked.outside_network,
        "outside_network_reason": checked.outside_network_reason,
    }
    changed = sorted(k for k, v in new_values.items() if getattr(referral, k) != v)
    for name in changed:
        setattr(referral, name, new_values[name])
    if changed:
        referral.updated_at = clock.now()
        _flush(session)
        _event(session, referral, "update", referral.status, actor, detail={"changed": changed})
    audit.record(
        session,
        actor,
        "referral.update",
        object_type=SUBJECT,
        object_id=referral.id,
        detail={"reference": referral.reference, "changed": changed},
    )
    return referral


# --- transitions --------------------------------------------------------------------------


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _check_required(t: Transition, data: TransitionIn, now: datetime) -> None:
    label = i18n.gettext(ACTION_LABELS[t.action]).lower()
    errors = [
        FieldError(name, REQUIRED_MESSAGE, {"action": label}, code="required")
        for name in t.requires
        if _blank(getattr(data, name))
    ]
    if errors:
        raise _invalid(errors)
    if t.action in (Action.SCHEDULE, Action.RESCHEDULE):
        assert data.appointment_at is not None
        if data.appointment_at <= now:
            raise _invalid(
                [FieldError("appointment_at", APPOINTMENT_PAST, code="appointment_in_past")]
            )


def _sync_timers(
    session: Session, referral: Referral, old: Status, new: Status, settings: Settings
) -> None:
    """Cancel the timers the new state does not keep; start those it starts."""
    tasks.cancel(
        session, SUBJECT, referral.id, {k.value for k in timers_for(old) - timers_for(new)}
    )
    if new == Status.SUBMITTED and old != Status.SUBMITTED:
        _schedule_triage_timer(session, referral, settings)
    if new == Status.SCHEDULED:
        # a new appointment replaces the reminder of the old one
        tasks.cancel(session, SUBJECT, referral.id, {TimerKind.APPOINTMENT_PASSED.value})
        assert referral.appointment_at is not None
        tasks.schedule(
            session,
            TimerKind.APPOINTMENT_PASSED.value,
            SUBJECT,
            referral.id,
            referral.appointment_at + timedelta(hours=settings.appointment_grace_hours),
            {"appointment_at": referral.appointment_at.isoformat()},
        )


TRANSITION_MESSAGES: dict[Action, str] = {
    Action.SUBMIT: SUBMITTED_MESSAGE,
    Action.ACCEPT: N_("Referral %(reference)s was accepted."),
    Action.DECLINE: N_("Referral %(reference)s was declined."),
    Action.REDIRECT: N_("Referral %(reference)s was redirected to another department."),
    Action.SCHEDULE: N_("Referral %(reference)s has an appointment."),
    Action.RESCHEDULE: N_("The appointment of referral %(reference)s has changed."),
    Action.ARRIVE: N_("The patient of referral %(reference)s has arrived."),
    Action.NO_SHOW: N_("The patient of referral %(reference)s did not attend."),
    Action.COMPLETE: N_("Referral %(reference)s is completed; the outcome is recorded."),
    Action.CLOSE: N_("Referral %(reference)s was closed by the sender."),
    Action.CANCEL: N_("Referral %(reference)s was cancelled."),
}


def _redirect(
    session: Session,
    actor: Actor,
    original: Referral,
    data: TransitionIn,
    settings: Settings,
) -> Referral:
    """The new submitted referral that takes over from ``original``."""
    department = _department(session, data.receiver_department_id)
    if department is None:
        raise _invalid(
            [
                FieldError(
                    "receiver_department_id",
                    UNKNOWN_DEPARTMENT,
                    {"id": data.receiver_department_id},
                    code="unknown_department",
                )
            ]
        )
    if department.id == original.receiver_department_id:
        raise _invalid(
            [FieldError("receiver_department_id", SAME_DEPARTMENT, code="same_department")]
        )
    if department.institution_id == original.sender_institution_id:
        raise _invalid(
            [FieldError("receiver_department_id", SAME_INSTITUTION, code="same_institution")]
        )
    patient = session.get(Patient, original.patient_id)
    sender = session.get(Institution, original.sender_institution_id)
    receiver = session.get(Institution, department.institution_id)
    assert patient is not None and sender is not None and receiver is not None
    outside = not in_network(session, sender.id, receiver.id, clock.today())
    checked = _Checked(
        patient=patient,
        sender=sender,
        receiver=receiver,
        department=department,
        sender_department_id=original.sender_department_id,
        icd10_code=original.icd10_code,
        diagnosis=original.diagnosis,
        direction=direction_between(sender, receiver),
        outside_network=outside,
        outside_network_reason=(
            (original.outside_network_reason or data.reason or "")[:500] if outside else None
        ),
    )
    values = {
        "urgency": original.urgency,
        "care_type": original.care_type,
        "reason": original.reason,
        "clinical_summary": original.clinical_summary,
    }
    new = _new_referral(
        session,
        actor,
        checked,
        values,
        submit=True,
        settings=settings,
        parent_id=original.id,
        sender_user_id=original.sender_user_id,
        sender_institution_id=original.sender_institution_id,
    )
    # the history of the new referral names the one it comes from
    for event in session.scalars(select(ReferralEvent).where(ReferralEvent.referral_id == new.id)):
        event.detail = {"redirected_from": original.reference}
    _tell_submitted(session, new, settings, exclude=actor.user_id)
    return new


def transition(
    session: Session, actor: Actor, referral_id: int, data: TransitionIn, settings: Settings
) -> Referral:
    """Make one transition of the loop (see ``domain.TRANSITIONS``).

    A redirect returns the original (now redirected); the new referral is
    ``original.redirected_to_id``."""
    referral = _visible(session, actor, referral_id)
    _check_version(referral, data.version)
    old = Status(referral.status)
    t = find_transition(old, data.action)
    if t is None:
        raise Conflict(
            TRANSITION_MESSAGE,
            code="transition_not_allowed",
            status=_status_label(old.value),
            action=i18n.gettext(ACTION_LABELS[data.action]),
        )
    acting = _acting_sides(actor, referral)
    if not acting:
        raise Forbidden()
    if not t.sides & acting:
        raise Forbidden(
            N_("Only the %(side)s side may do this."),
            side=i18n.gettext(SIDE_LABELS[sorted(t.sides)[0]]),
        )
    now = clock.now()
    _check_required(t, data, now)
    new_status = t.target
    side = Side.RECEIVER if Side.RECEIVER in t.sides & acting else Side.SENDER
    detail: dict[str, Any] = {}
    note: str | None = None
    redirected: Referral | None = None

    if data.action == Action.REDIRECT:
        # the new referral first, so the original changes in one write (one version)
        redirected = _redirect(session, actor, referral, data, settings)
        referral.redirected_to_id = redirected.id
        detail["redirected_to"] = redirected.reference
        detail["receiver_department_id"] = redirected.receiver_department_id

    if data.action == Action.SUBMIT:
        # the draft is checked again, and consent, when the data leaves for the receiver
        values = {name: getattr(referral, name) for name in DRAFT_FIELDS}
        checked = _check_inputs(session, actor, values)
        referral.consent_id = _consent_for(session, checked.patient, checked.receiver.id)
        referral.outside_network = checked.outside_network
        referral.outside_network_reason = checked.outside_network_reason
        _enter_submitted(session, referral, settings, now)
    elif data.action in (Action.ACCEPT, Action.DECLINE, Action.REDIRECT):
        referral.triaged_at = now
        referral.triaged_by_user_id = actor.user_id
        referral.decision_reason = data.reason
        note = data.reason
    elif data.action in (Action.SCHEDULE, Action.RESCHEDULE):
        if data.action == Action.RESCHEDULE:
            detail["previous_appointment_at"] = (
                referral.appointment_at.isoformat() if referral.appointment_at else None
            )
        assert data.appointment_at is not None
        referral.appointment_at = data.appointment_at.astimezone(UTC)
        referral.appointment_place = data.appointment_place
        if data.what_to_bring is not None or data.action == Action.SCHEDULE:
            referral.what_to_bring = data.what_to_bring
        detail["appointment_at"] = referral.appointment_at.isoformat()
        detail["appointment_place"] = data.appointment_place
    elif data.action == Action.ARRIVE:
        referral.arrived_at = now
    elif data.action == Action.COMPLETE:
        referral.completed_at = now
        referral.outcome_summary = data.outcome_summary
        referral.local_plan = data.local_plan
        note = data.outcome_summary
        detail["local_plan"] = data.local_plan
    elif data.action == Action.CLOSE:
        referral.closed_at = now
    elif data.action == Action.CANCEL:
        referral.cancel_reason = data.reason
        note = data.reason
    referral.status = new_status.value
    referral.updated_at = now
    if data.action == Action.COMPLETE:
        _record_saving(session, referral, settings)
    # the row in one write: a concurrent change of the same version loses here
    _flush(session)

    _sync_timers(session, referral, old, new_status, settings)
    _event(session, referral, data.action.value, old.value, actor, note=note, detail=detail, at=now)
    audit.record(
        session,
        actor,
        f"referral.{data.action.value}",
        object_type=SUBJECT,
        object_id=referral.id,
        detail={"reference": referral.reference, "from": old.value, "to": new_status.value}
        | ({"redirected_to": redirected.id} if redirected else {}),
    )
    if side == Side.RECEIVER:
        recipients = senders(session, referral)
    else:
        recipients = triagers_for(session, referral)
    _tell(
        session,
        recipients,
        referral,
        f"referral.{data.action.value}",
        TRANSITION_MESSAGES[data.action],
        settings,
        exclude=actor.user_id,
    )
    session.flush()
    return referral


SIDE_LABELS: dict[Side, str] = {
    Side.SENDER: N_("sending"),
    Side.RECEIVER: N_("receiving"),
}


def _record_saving(session: Session, referral: Referral, settings: Settings) -> None:
    """Care kept local (a downward referral, or an upward one answered with a local plan):
    the cost the family avoided."""
    if referral.direction != Direction.DOWN.value and not referral.local_plan:
        return
    with session.no_autoflush:
        found = savings.saving_for(session, referral, settings)
    if found is not None:
        referral.saving_yuan, referral.saving_distance_km = found


# --- the way back down --------------------------------------------------------------------

RETURN_STATES = frozenset({Status.COMPLETED.value, Status.ARRIVED.value})


def _returnable(session: Session, actor: Actor, referral_id: int) -> Referral:
    original = _visible(session, actor, referral_id)
    if Side.RECEIVER not in sides(actor, original):
        raise NotFound(NOT_FOUND_MESSAGE)
    _require(actor, Permission.REFERRAL_SEND)
    completed_then_closed = (
        original.status == Status.CLOSED.value and original.completed_at is not None
    )
    if original.direction != Direction.UP.value or not (
        original.status in RETURN_STATES or completed_then_closed
    ):
        raise Conflict(
            N_(
                "A referral back down follows an upward referral that arrived or was "
                "completed; this one is %(status)s."
            ),
            code="return_not_allowed",
            status=_status_label(original.status),
        )
    return original


def _return_department(session: Session, original: Referral) -> Department:
    dept = _department(session, original.sender_department_id)
    if dept is not None and dept.institution_id == original.sender_institution_id:
        return dept
    received = session.get(Department, original.receiver_department_id)
    candidates = list(
        session.scalars(
            select(Department)
            .where(
                Department.institution_id == original.sender_institution_id,
                Department.is_active.is_(True),
            )
            .order_by(Department.id)
        )
    )
    for candidate in candidates:
        if received is not None and candidate.specialty_code == received.specialty_code:
            return candidate
    if not candidates:
        raise Conflict(
            N_("The sending institution has no active department to receive the patient."),
            code="no_department",
        )
    return candidates[0]


def return_prefill(session: Session, actor: Actor, referral_id: int) -> ReferralCreate:
    """The downward referral back to the sender, prefilled from the upward one."""
    original = _returnable(session, actor, referral_id)
    department = _return_department(session, original)
    audit.record(
        session,
        actor,
        "referral.read",
        object_type=SUBJECT,
        object_id=original.id,
        detail={"reference": original.reference, "for": "return"},
    )
    sender_department = original.receiver_department_id
    reason = i18n.gettext(N_("Follow-up and rehabilitation after referral %(reference)s")) % {
        "reference": original.reference
    }
    return ReferralCreate(
        patient_id=original.patient_id,
        receiver_department_id=department.id,
        urgency=Urgency.ROUTINE,
        care_type=CareType(original.care_type),
        icd10_code=original.icd10_code,
        diagnosis=original.diagnosis,
        reason=reason,
        clinical_summary=original.outcome_summary or original.clinical_summary,
        sender_department_id=sender_department,
        direction=Direction.DOWN,
        outside_network_reason=None,
        submit=True,
    )


RETURN_MESSAGE = N_("Referral %(reference)s sends your patient back for follow-up.")


def create_return(
    session: Session, actor: Actor, referral_id: int, data: ReferralCreate, settings: Settings
) -> Referral:
    """Send the patient of an upward referral back down; the original shows it in its history."""
    original = _returnable(session, actor, referral_id)
    values = data.model_dump()
    values["direction"] = values.get("direction") or Direction.DOWN
    if values["patient_id"] != original.patient_id:
        raise _invalid(
            [
                FieldError(
                    "patient_id",
                    N_("A referral back down is for the same patient."),
                    code="other_patient",
                )
            ]
        )
    checked = _check_inputs(session, actor, values)
    referral = _new_referral(
        session,
        actor,
        checked,
        values,
        submit=data.submit,
        settings=settings,
        parent_id=original.id,
    )
    _event(
        session,
        original,
        "return",
        original.status,
        actor,
        detail={"referral_id": referral.id, "reference": referral.reference},
    )
    session.flush()
    audit.record(
        session,
        actor,
        "referral.return",
        object_type=SUBJECT,
        object_id=referral.id,
        detail=_audit_detail(referral) | {"parent_id": original.id},
    )
    if data.submit:
        receivers = set(triagers_for(session, referral))
        receivers.add(original.sender_user_id)
        _tell(
            session,
            sorted(receivers),
            referral,
            "referral.returned",
            RETURN_MESSAGE,
            settings,
            exclude=actor.user_id,
        )
    return referral


# --- the family's status link -------------------------------------------------------------


class StatusLinkInvalid(NotFound):
    code = "status_link_invalid"
    title = N_("This status link is not valid")


class StatusLinkExpired(DomainError):
    status = 410
    code = "status_link_expired"
    title = N_("This status link has expired")


@dataclass(frozen=True)
class FamilyStatus:
    """What the family may see: no diagnosis, no summary, no patient identifiers."""

    reference: str
    status: Status
    direction: Direction
    institution_zh: str
    institution_en: str
    department_zh: str
    department_en: str
    appointment_at: datetime | None
    appointment_place: str | None
    what_to_bring: str | None
    updated_at: datetime
    expires_at: datetime


def status_url(settings: Settings, token: str) -> str:
    """The address of the family's status page for ``token``."""
    return f"{settings.base_url.rstrip('/')}/status/{token}"


def create_status_link(
    session: Session, actor: Actor, referral_id: int, settings: Settings
) -> tuple[StatusLink, str]:
    """A random link for the family (the token is returned once; its digest is stored)."""
    referral = _visible(session, actor, referral_id)
    if referral.status == Status.DRAFT.value:
        raise Conflict(
            N_("A draft has no status to share yet; submit it first."), code="not_submitted"
        )
    token = crypto.new_token()
    now = clock.now()
    link = StatusLink(
        referral_id=referral.id,
        token_digest=crypto.token_digest(token),
        created_by_user_id=actor.user_id,
        created_at=now,
        expires_at=now + timedelta(days=settings.status_link_days),
    )
    session.add(link)
    session.flush()
    patient = session.get(Patient, referral.patient_id)
    emailed = bool(patient and patient.email)
    if patient is not None and patient.email:
        subject, body = _family_email(settings, referral, status_url(settings, token), link)
        notifications.queue_email(session, patient.email, subject, body)
    audit.record(
        session,
        actor,
        "referral.status_link",
        object_type=SUBJECT,
        object_id=referral.id,
        detail={
            "link_id": link.id,
            "expires_at": link.expires_at.isoformat(),
            "emailed": emailed,
        },
    )
    return link, token


FAMILY_EMAIL_SUBJECT = N_("Referral %(reference)s: its status, appointment and what to bring")
FAMILY_EMAIL_BODY = N_(
    "Follow referral %(reference)s at this address, without logging in. It shows the state, "
    "the appointment and what to bring, and works until %(until)s."
)
FAMILY_EMAIL_PRIVATE = N_("Keep this link to yourself: whoever has it sees the appointment.")


def _family_email(
    settings: Settings, referral: Referral, url: str, link: StatusLink
) -> tuple[str, str]:
    """The email that brings the family its status link, in the deployment's language."""
    previous = i18n.get_locale()
    i18n.set_locale(settings.default_locale)
    try:
        until = link.expires_at.astimezone(CST).strftime("%Y-%m-%d")
        params = {"reference": referral.reference, "until": until}
        subject = i18n.gettext(FAMILY_EMAIL_SUBJECT, **params)
        body = "\n\n".join(
            [i18n.gettext(FAMILY_EMAIL_BODY, **params), url, i18n.gettext(FAMILY_EMAIL_PRIVATE)]
        )
        return subject, body
    finally:
        i18n.set_locale(previous)


def revoke_status_link(session: Session, actor: Actor, referral_id: int, link_id: int) -> None:
    """End a status link before it expires."""
    referral = _visible(session, actor, referral_id)
    link = session.get(StatusLink, link_id) if 0 < link_id < 2**31 else None
    if link is None or link.referral_id != referral.id:
        raise NotFound(N_("No status link with this number."))
    if link.revoked_at is None:
        link.revoked_at = clock.now()
        session.flush()
    audit.record(
        session,
        actor,
        "referral.status_link_revoke",
        object_type=SUBJECT,
        object_id=referral.id,
        detail={"link_id": link.id},
    )


def _refuse_link(session: Session, error: DomainError, link_id: int | None) -> DomainError:
    audit.record(
        session,
        None,
        "status_link.view",
        object_type="status_link",
        object_id=link_id,
        outcome=Outcome.FAILURE,
        detail={"code": error.code},
        username="family",
    )
    return error


def family_status(session: Session, token: str, now: datetime) -> FamilyStatus:
    """The status a family's link shows. A forged link is 404 ``status_link_invalid``, an
    expired or revoked one 410 ``status_link_expired``; both are audited in ``session``
    (commit it even when this raises: see ``open_status_link``)."""
    link = (
        session.scalar(
            select(StatusLink).where(StatusLink.token_digest == crypto.token_digest(token))
        )
        if 0 < len(token) <= 128
        else None
    )
    if link is None:
        raise _refuse_link(session, StatusLinkInvalid(), None)
    if link.revoked_at is not None or link.expires_at <= now:
        raise _refuse_link(session, StatusLinkExpired(), link.id)
    referral = session.get(Referral, link.referral_id)
    assert referral is not None
    # a redirected referral goes on as the new one: the family follows the patient
    seen = {referral.id}
    while referral.redirected_to_id is not None and referral.redirected_to_id not in seen:
        following = session.get(Referral, referral.redirected_to_id)
        if following is None:
            break
        seen.add(following.id)
        referral = following
    institution = session.get(Institution, referral.receiver_institution_id)
    department = session.get(Department, referral.receiver_department_id)
    assert institution is not None and department is not None
    link.last_viewed_at = now
    audit.record(
        session,
        None,
        "status_link.view",
        object_type=SUBJECT,
        object_id=referral.id,
        detail={"link_id": link.id},
        username="family",
    )
    return FamilyStatus(
        reference=referral.reference,
        status=Status(referral.status),
        direction=Direction(referral.direction),
        institution_zh=institution.name_zh,
        institution_en=institution.name_en,
        department_zh=department.name_zh,
        department_en=department.name_en,
        appointment_at=referral.appointment_at,
        appointment_place=referral.appointment_place,
        what_to_bring=referral.what_to_bring,
        updated_at=referral.updated_at,
        expires_at=link.expires_at,
    )


def open_status_link(factory: sessionmaker[Session], token: str) -> FamilyStatus:
    """``family_status`` in a transaction of its own, committed even when the link is refused
    so the refusal stays in the audit trail (for the public API and page)."""
    session = factory()
    try:
        try:
            found = family_status(session, token, clock.now())
        except DomainError:
            session.commit()
            raise
        session.commit()
        return found
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
