"""Use cases of consultations: ask, route to who is on call, claim, assign, redirect, the
thread, the opinion, the rating, turning a case into a referral, the response clock.

The transitions are data (``consultations.domain.TRANSITIONS``); this module walks them like
``referrals.service`` does: look up the transition, check the actor's side and permission, the
version they read and the fields it needs, change the row, keep the clock and its timers in
step, write the history event, audit, tell whose turn it is.

The response clock is kept on the row: it starts at ``asked_at``; ``paused_seconds`` is the
time that did not count (the questions back to the asker, and, after a follow-up question,
everything before it: a follow-up starts a fresh clock of the same target);
``paused_since`` the pause under way; ``due_at`` when the target is reached (None while
paused and once answered).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, object_session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from medcircle.agreements.models import AgreementSpecialty, CooperationAgreement
from medcircle.audit import service as audit
from medcircle.auth.domain import ROLE_PERMISSIONS, Actor, Permission, Role
from medcircle.auth.models import User, UserRole
from medcircle.config import Settings, get_settings
from medcircle.consultations import rota
from medcircle.consultations.domain import (
    ACTION_LABELS,
    CLOCK_RUNS,
    OPEN,
    STATUS_LABELS,
    TERMINAL,
    TURN,
    URGENCY_RANK,
    Action,
    Clock,
    Decision,
    Mode,
    RotaIndex,
    RouteReason,
    Side,
    Status,
    Targets,
    Transition,
    Urgency,
    allowed_actions,
    find_transition,
    route,
)
from medcircle.consultations.models import (
    Consultation,
    ConsultationEvent,
    ConsultationMessage,
    ConsultationSpecialty,
    ConsultTarget,
    OnCallShift,
    TeachingCase,
)
from medcircle.consultations.schemas import ActIn, ConsultationCreate, MessageIn
from medcircle.kit import clock, crypto, i18n
from medcircle.kit.clock import CST
from medcircle.kit.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed
from medcircle.kit.i18n import N_
from medcircle.notifications import service as notifications
from medcircle.patients import service as patients
from medcircle.patients.domain import age_on
from medcircle.patients.models import Patient
from medcircle.referrals import icd10
from medcircle.referrals import service as referrals
from medcircle.referrals.domain import CareType
from medcircle.referrals.models import Referral
from medcircle.referrals.schemas import ReferralCreate
from medcircle.registry.models import (
    Alliance,
    AllianceMember,
    Department,
    Institution,
    Practitioner,
    SpecialtyRow,
)
from medcircle.tasks import service as tasks

SUBJECT = "consultation"
CONSENT_PURPOSE = "consultation"

# timer kinds (handlers in consultations.timers)
TIMER_AT_RISK = "consultation.at_risk"
TIMER_MISSED = "consultation.missed"
TIMER_AUTOCLOSE = "consultation.autoclose"
CLOCK_TIMERS = frozenset({TIMER_AT_RISK, TIMER_MISSED})

NOT_FOUND_MESSAGE = N_("No consultation with this number.")
STALE_MESSAGE = N_(
    "Someone else changed this consultation after you opened it. Reload it and try again."
)
TRANSITION_MESSAGE = N_(
    "This consultation is %(status)s now; “%(action)s” is not possible from there."
)
REQUIRED_MESSAGE = N_("This is needed to %(action)s.")
ALREADY_CLAIMED = N_("Another expert took this case a moment ago.")
NOT_YOUR_PART = N_("This is not yours to do in this consultation.")
UNKNOWN_PATIENT = N_("No patient of yours has the number %(id)s.")
PATIENT_MERGED = N_("This patient record was merged into another one; use that record.")
SAME_INSTITUTION = N_("A consultation goes to another institution, not to your own.")
INVALID_ICD10 = N_("%(value)s is not an ICD-10 code.")
MDT_ONLY = N_("Further specialties are only for a multi-disciplinary consultation.")
NOT_A_POOL = N_("%(institution)s does not answer consultations in %(specialty)s for you.")
NOT_YOUR_DEPARTMENT = N_("The asking department must belong to your institution.")
NOT_A_POOL_EXPERT = N_("This expert does not answer for this consultation's specialty.")
SAME_SPECIALTY = N_("Choose a specialty other than the current one.")
CASE_CLOSED = N_("This consultation is %(status)s; nothing more can be added to it.")
ALREADY_REFERRED = N_("This consultation has already become referral %(reference)s.")
NO_VISIT_NEEDED = N_("Only an opinion that says the patient needs to be seen becomes a referral.")
NO_DEPARTMENT = N_("%(institution)s has no active department of %(specialty)s to refer to.")
OPINION_PREFIX = N_("Opinion: %(text)s")

# inbox messages
ASSIGNED_MESSAGE = N_("Consultation %(reference)s is yours to answer.")
POOL_MESSAGE = N_("Consultation %(reference)s is waiting in the pool: nobody is on call for it.")
NOBODY_ON_CALL_MESSAGE = N_(
    "Nobody is on call for consultation %(reference)s; the coordinator has it and will find "
    "an expert."
)
RELEASED_MESSAGE = N_("Consultation %(reference)s was given back to the pool.")
QUESTION_MESSAGE = N_("The expert asks a question about consultation %(reference)s.")
REPLY_MESSAGE = N_("The asker replied in consultation %(reference)s.")
ANSWERED_MESSAGE = N_("Consultation %(reference)s has its opinion.")
FOLLOW_UP_MESSAGE = N_("A follow-up question came in consultation %(reference)s.")
CLOSED_MESSAGE = N_("Consultation %(reference)s was closed by the asker.")
CANCELLED_MESSAGE = N_("Consultation %(reference)s was cancelled by the asker.")
TAKEN_AWAY_MESSAGE = N_("Consultation %(reference)s was given to another expert.")
CLAIMED_MESSAGE = N_("An expert took consultation %(reference)s.")
NOTE_MESSAGE = N_("A new note in consultation %(reference)s.")

SIDE_LABELS: dict[Side, str] = {
    Side.ASKER: N_("the asking side"),
    Side.ASSIGNEE: N_("the expert holding it"),
    Side.POOL_EXPERT: N_("an expert of the pool"),
    Side.COORDINATOR: N_("a coordinator"),
    Side.SYSTEM: N_("the platform"),
}

# the roles that coordinate the consultations an institution answers
COORDINATOR_ROLES: tuple[str, ...] = tuple(
    r.value
    for r in Role
    if r is not Role.PLATFORM_ADMIN and Permission.CONSULT_COORDINATE in ROLE_PERMISSIONS[r]
)
EXPERT_ROLES: tuple[str, ...] = (Role.EXPERT.value,)


# --- small helpers ------------------------------------------------------------------------


def _require(actor: Actor, permission: Permission) -> None:
    if not actor.can(permission):
        raise Forbidden()


def _invalid(errors: list[FieldError]) -> ValidationFailed:
    return ValidationFailed(code=errors[0].code, field_errors=errors)


def _status_label(status: str) -> str:
    return i18n.gettext(STATUS_LABELS[Status(status)])


def _session_of(c: Consultation) -> Session:
    s = object_session(c)
    if s is None:  # pragma: no cover - callers pass loaded rows
        raise RuntimeError("the consultation is not attached to a session")
    return s


def link_of(c: Consultation) -> str:
    return f"/consultations/{c.id}"


def _day(now: datetime) -> date:
    return now.astimezone(CST).date()


def name_of(row: Institution | SpecialtyRow | Department) -> str:
    """A name in the current language."""
    return row.name_zh if i18n.get_locale() == "zh_Hans" else row.name_en


def clock_of(c: Consultation) -> Clock:
    """The response clock of a case, from its row."""
    return Clock(
        started_at=c.asked_at,
        target=timedelta(minutes=c.target_minutes),
        paused_seconds=float(c.paused_seconds or 0),
        paused_since=c.paused_since,
    )


def minutes_left(c: Consultation, now: datetime) -> int | None:
    """Minutes to the target of an open case (negative once missed), None otherwise."""
    if c.status not in {s.value for s in OPEN}:
        return None
    left = clock_of(c).left(now).total_seconds()
    return int(left // 60)


def coordinators(session: Session, institution_id: int) -> list[int]:
    """The users who coordinate the consultations ``institution_id`` answers."""
    return referrals.users_with_roles(session, [institution_id], COORDINATOR_ROLES)


def askers(session: Session, c: Consultation) -> list[int]:
    """Who is told on the asking side: the clinician who asked."""
    return [c.asker_user_id]


def specialties_of(session: Session, c: Consultation) -> list[str]:
    """The case's pool and, for an MDT, its further specialties."""
    others = session.scalars(
        select(ConsultationSpecialty.specialty_code)
        .where(ConsultationSpecialty.consultation_id == c.id)
        .order_by(ConsultationSpecialty.id)
    ).all()
    return [c.specialty_code, *[s for s in others if s != c.specialty_code]]


def in_pool(
    session: Session, institution_id: int, specialties: Iterable[str], user_id: int
) -> bool:
    """Whether the user may claim from the pools (``rota.pool_experts``, for one user)."""
    codes = sorted(set(specialties))
    is_expert = session.scalar(
        select(User.id)
        .join(UserRole, UserRole.user_id == User.id)
        .where(
            User.id == user_id,
            User.institution_id == institution_id,
            User.is_active.is_(True),
            UserRole.role.in_(EXPERT_ROLES),
        )
        .limit(1)
    )
    if is_expert is None:
        return False
    practitioner = session.scalar(
        select(Practitioner.id)
        .where(
            Practitioner.user_id == user_id,
            Practitioner.institution_id == institution_id,
            Practitioner.specialty_code.in_(codes),
            Practitioner.is_active.is_(True),
        )
        .limit(1)
    )
    if practitioner is not None:
        return True
    on_rota = session.scalar(
        select(OnCallShift.id)
        .where(
            OnCallShift.user_id == user_id,
            OnCallShift.institution_id == institution_id,
            OnCallShift.specialty_code.in_(codes),
        )
        .limit(1)
    )
    return on_rota is not None


def tell(
    session: Session,
    user_ids: Iterable[int],
    c: Consultation,
    kind: str,
    message: str,
    settings: Settings | None = None,
    *,
    exclude: int | None = None,
    link: str | None = None,
    params: dict[str, Any] | None = None,
) -> None:
    """Tell ``user_ids`` but ``exclude`` (the actor) about case ``c``: in their inbox and by
    email, ``message`` with the case's reference (and ``params``), linking to the case (or to
    ``link``, one of its pages)."""
    notifications.notify(
        session,
        [u for u in user_ids if u != exclude],
        kind,
        message,
        {"reference": c.reference, **(params or {})},
        link=link or link_of(c),
        subject_type=SUBJECT,
        subject_id=c.id,
        base_url=settings.base_url if settings else "",
    )


def _event(
    session: Session,
    c: Consultation,
    action: str,
    from_status: str | None,
    actor: Actor | None,
    *,
    at: datetime,
    to_status: str | None = None,
    note: str | None = None,
    detail: dict[str, Any] | None = None,
) -> ConsultationEvent:
    event = ConsultationEvent(
        consultation_id=c.id,
        at=at,
        action=action,
        from_status=from_status,
        to_status=to_status or c.status,
        actor_user_id=actor.user_id if actor else None,
        actor_institution_id=actor.institution_id if actor else None,
        note=note,
        detail=detail or {},
    )
    session.add(event)
    return event


def _message(
    session: Session, c: Consultation, actor: Actor, kind: str, body: str, at: datetime
) -> ConsultationMessage:
    m = ConsultationMessage(
        consultation_id=c.id,
        at=at,
        kind=kind,
        author_user_id=actor.user_id,
        author_institution_id=actor.institution_id,
        body=body,
    )
    session.add(m)
    return m


def _flush(session: Session) -> None:
    """Flush, turning a concurrent change caught by the version column into a 409."""
    try:
        session.flush()
    except StaleDataError as exc:
        raise Conflict(STALE_MESSAGE, code="stale_version") from exc


# --- who may do what ----------------------------------------------------------------------


def sides(actor: Actor, c: Consultation, session: Session | None = None) -> set[Side]:
    """The parts the actor plays in ``c`` (with the permission each needs): ASKER (a user of
    the asking institution with CONSULT_ASK), ASSIGNEE (the expert holding it), POOL_EXPERT
    (an expert of the answering institution who may claim from the case's pool),
    COORDINATOR (CONSULT_COORDINATE at the answering institution)."""
    found: set[Side] = set()
    if not actor.can(Permission.CONSULT_READ):
        return found
    if actor.institution_id == c.asker_institution_id and actor.can(Permission.CONSULT_ASK):
        found.add(Side.ASKER)
    if actor.institution_id != c.answer_institution_id:
        return found
    if c.assignee_user_id is not None and actor.user_id == c.assignee_user_id:
        found.add(Side.ASSIGNEE)
    if actor.can(Permission.CONSULT_ANSWER):
        s = session or _session_of(c)
        if in_pool(s, c.answer_institution_id, specialties_of(s, c), actor.user_id):
            found.add(Side.POOL_EXPERT)
    if actor.can(Permission.CONSULT_COORDINATE):
        found.add(Side.COORDINATOR)
    return found


def _party(actor: Actor, c: Consultation) -> bool:
    return actor.can(Permission.CONSULT_READ) and actor.institution_id in (
        c.asker_institution_id,
        c.answer_institution_id,
    )


def available_actions(
    actor: Actor, c: Consultation, session: Session | None = None
) -> list[Action]:
    """The transitions ``actor`` may make now, in table order."""
    return allowed_actions(Status(c.status), sides(actor, c, session) - {Side.SYSTEM})


def _visible(session: Session, actor: Actor, consultation_id: int) -> Consultation:
    _require(actor, Permission.CONSULT_READ)
    c = session.get(Consultation, consultation_id) if 0 < consultation_id < 2**31 else None
    if c is None or not _party(actor, c):
        raise NotFound(NOT_FOUND_MESSAGE)
    return c


def get(session: Session, actor: Actor, consultation_id: int) -> Consultation:
    """The consultation if the actor's institution asked or answers it (CONSULT_READ);
    NotFound for everyone else. The read is audited."""
    c = _visible(session, actor, consultation_id)
    audit.record(
        session,
        actor,
        "consultation.read",
        object_type=SUBJECT,
        object_id=c.id,
        detail={"reference": c.reference, "patient_id": c.patient_id},
    )
    return c


@dataclass
class ConsultationView:
    """Everything a page or the API shows of one case, names resolved."""

    consultation: Consultation
    patient_name: str
    patient_national_id_masked: str | None
    patient_age_years: int | None
    patient_sex: str
    asker_institution_zh: str
    asker_institution_en: str
    asker_user_name: str
    answer_institution_zh: str
    answer_institution_en: str
    assignee_name: str | None
    other_specialties: list[str]
    minutes_left: int | None
    turn: Side | None
    sides: set[Side]
    actions: list[Action]
    teaching_case_id: int | None


def mask_name(name: str) -> str:
    """The name as shown to those who may not read patients: first character then "*"."""
    return (name[:1] + "*") if name else "*"


def view_of(session: Session, actor: Actor, c: Consultation, now: datetime) -> ConsultationView:
    if not _party(actor, c):
        raise NotFound(NOT_FOUND_MESSAGE)
    patient = session.get(Patient, c.patient_id)
    asker_inst = session.get(Institution, c.asker_institution_id)
    answer_inst = session.get(Institution, c.answer_institution_id)
    assert patient is not None and asker_inst is not None and answer_inst is not None
    wanted = (
        {c.asker_user_id} if c.assignee_user_id is None else {c.asker_user_id, c.assignee_user_id}
    )
    names = people_of(session, wanted)
    reads_patients = actor.can(Permission.PATIENT_READ)
    my_sides = sides(actor, c, session)
    teaching = session.scalar(select(TeachingCase.id).where(TeachingCase.consultation_id == c.id))
    return ConsultationView(
        consultation=c,
        patient_name=patient.name if reads_patients else mask_name(patient.name),
        patient_national_id_masked=patient.national_id_masked if reads_patients else None,
        patient_age_years=age_on(patient.birth_date, _day(now)) if patient.birth_date else None,
        patient_sex=patient.sex,
        asker_institution_zh=asker_inst.name_zh,
        asker_institution_en=asker_inst.name_en,
        asker_user_name=names.get(c.asker_user_id, ""),
        answer_institution_zh=answer_inst.name_zh,
        answer_institution_en=answer_inst.name_en,
        assignee_name=names.get(c.assignee_user_id) if c.assignee_user_id else None,
        other_specialties=specialties_of(session, c)[1:],
        minutes_left=minutes_left(c, now),
        turn=TURN[Status(c.status)],
        sides=my_sides,
        actions=allowed_actions(Status(c.status), my_sides),
        teaching_case_id=teaching,
    )


_Entry = TypeVar("_Entry", ConsultationMessage, ConsultationEvent)


def _entries(session: Session, actor: Actor, c: Consultation, model: type[_Entry]) -> list[_Entry]:
    """The rows of ``model`` of a case, oldest first, for its parties."""
    if not _party(actor, c):
        raise NotFound(NOT_FOUND_MESSAGE)
    return list(
        session.scalars(
            select(model).where(model.consultation_id == c.id).order_by(model.at, model.id)
        )
    )


def thread(session: Session, actor: Actor, c: Consultation) -> list[ConsultationMessage]:
    """The messages of a case, oldest first."""
    return _entries(session, actor, c, ConsultationMessage)


def history(session: Session, actor: Actor, c: Consultation) -> list[ConsultationEvent]:
    """The history of a case, oldest first."""
    return _entries(session, actor, c, ConsultationEvent)


def people_of(session: Session, ids: set[int]) -> dict[int, str]:
    """Display names of users (for threads and histories)."""
    wanted = sorted(i for i in ids if i is not None)
    if not wanted:
        return {}
    rows = session.execute(
        select(User.id, User.display_name, User.username).where(User.id.in_(wanted))
    )
    return {uid: display or username for uid, display, username in rows}


# --- asking -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerOption:
    """A pool the actor's institution may ask: an institution that supports it under an
    active agreement (or leads an alliance it belongs to) and a specialty there, with who is
    on call now (None: nobody, the coordinator gets it)."""

    institution_id: int
    institution_zh: str
    institution_en: str
    specialty_code: str
    specialty_zh: str
    specialty_en: str
    agreement_id: int | None
    on_call_user_id: int | None
    on_call_name: str | None


def pools_of(session: Session, institution_id: int, on: date) -> dict[tuple[int, str], int | None]:
    """The pools ``institution_id`` may ask on ``on``: (answering institution, specialty) to
    the agreement it is asked under (None: through an alliance lead)."""
    found: dict[tuple[int, str], int | None] = {}
    agreements = session.execute(
        select(
            CooperationAgreement.id,
            CooperationAgreement.supporting_institution_id,
            AgreementSpecialty.specialty_code,
        )
        .join(AgreementSpecialty, AgreementSpecialty.agreement_id == CooperationAgreement.id)
        .where(
            CooperationAgreement.supported_institution_id == institution_id,
            CooperationAgreement.starts_on <= on,
            CooperationAgreement.ends_on >= on,
            or_(
                CooperationAgreement.terminated_on.is_(None),
                CooperationAgreement.terminated_on > on,
            ),
        )
        .order_by(CooperationAgreement.id)
    )
    for agreement_id, supporting, code in agreements:
        if supporting != institution_id:
            found.setdefault((supporting, code), agreement_id)
    leads = session.scalars(
        select(Alliance.lead_institution_id)
        .join(AllianceMember, AllianceMember.alliance_id == Alliance.id)
        .where(
            AllianceMember.institution_id == institution_id,
            AllianceMember.joined_on <= on,
            or_(AllianceMember.left_on.is_(None), AllianceMember.left_on > on),
            Alliance.lead_institution_id != institution_id,
        )
    ).all()
    if leads:
        for lead, code in session.execute(
            select(Department.institution_id, Department.specialty_code)
            .where(
                Department.institution_id.in_(sorted(set(leads))), Department.is_active.is_(True)
            )
            .distinct()
        ):
            found.setdefault((lead, code), None)
    return found


def decide(
    session: Session,
    institution_id: int,
    specialty_code: str,
    at: datetime,
    icd10_code: str | None = None,
    exclude: frozenset[int] = frozenset(),
) -> Decision:
    """Who gets a case of one pool at ``at`` (``domain.route`` over the rota, the pool's
    experts, their skills and open cases); shifts of people who may not answer there are
    left out."""
    index = rota.rota_index(session, institution_id, specialty_code, at, at + timedelta(seconds=1))
    if not index.shifts:
        return Decision(None, RouteReason.NOBODY_ON_CALL)
    allowed = set(rota.pool_experts(session, institution_id, specialty_code))
    index = RotaIndex([s for s in index.shifts if s.user_id in allowed], list(index.leaves))
    ids = {s.user_id for s in index.shifts}
    return route(
        index,
        rota.experts_of(session, ids),
        rota.open_load(session, ids),
        at,
        icd10_code,
        exclude,
    )


def answer_options(session: Session, actor: Actor, now: datetime) -> list[AnswerOption]:
    """The pools the actor's institution may ask now, with who is on call in each."""
    _require(actor, Permission.CONSULT_READ)
    pools = pools_of(session, actor.institution_id, _day(now))
    if not pools:
        return []
    institutions = {
        i.id: i
        for i in session.scalars(
            select(Institution).where(Institution.id.in_(sorted({k[0] for k in pools})))
        )
    }
    specialties = {
        s.code: s
        for s in session.scalars(
            select(SpecialtyRow).where(SpecialtyRow.code.in_(sorted({k[1] for k in pools})))
        )
    }
    decisions = {key: decide(session, key[0], key[1], now) for key in pools}
    names = people_of(session, {d.user_id for d in decisions.values() if d.user_id is not None})
    out: list[AnswerOption] = []
    for (inst_id, code), agreement_id in pools.items():
        inst = institutions.get(inst_id)
        spec = specialties.get(code)
        if inst is None or spec is None:
            continue
        who = decisions[(inst_id, code)].user_id
        out.append(
            AnswerOption(
                institution_id=inst_id,
                institution_zh=inst.name_zh,
                institution_en=inst.name_en,
                specialty_code=code,
                specialty_zh=spec.name_zh,
                specialty_en=spec.name_en,
                agreement_id=agreement_id,
                on_call_user_id=who,
                on_call_name=names.get(who) if who is not None else None,
            )
        )
    out.sort(key=lambda o: (o.agreement_id is None, o.institution_en, o.specialty_en))
    return out


def targets_for(session: Session, settings: Settings, agreement_id: int | None) -> Targets:
    """The response targets of an agreement: its own where set, else the platform's."""
    minutes = {
        Urgency.EMERGENCY.value: settings.consult_minutes_emergency,
        Urgency.URGENT.value: settings.consult_minutes_urgent,
        Urgency.ROUTINE.value: settings.consult_minutes_routine,
    }
    if agreement_id is not None:
        for urgency, m in session.execute(
            select(ConsultTarget.urgency, ConsultTarget.minutes).where(
                ConsultTarget.agreement_id == agreement_id
            )
        ):
            if urgency in minutes:
                minutes[urgency] = m
    return Targets(
        emergency=timedelta(minutes=minutes[Urgency.EMERGENCY.value]),
        urgent=timedelta(minutes=minutes[Urgency.URGENT.value]),
        routine=timedelta(minutes=minutes[Urgency.ROUTINE.value]),
    )


def _allocate_reference(session: Session, c: Consultation) -> None:
    """C-YYYY-NNNNNN from the row's id: unique across processes without a counter. Written
    with a plain UPDATE so a new consultation keeps version 1."""
    reference = f"C-{c.asked_at.astimezone(CST).year}-{c.id:06d}"
    session.execute(
        update(Consultation)
        .where(Consultation.id == c.id)
        .values(reference=reference)
        .execution_options(synchronize_session=False)
    )
    set_committed_value(c, "reference", reference)


def schedule_clock_timers(session: Session, c: Consultation) -> None:
    """The at-risk and missed timers of a running clock (replacing any pending ones)."""
    tasks.cancel(session, SUBJECT, c.id, CLOCK_TIMERS)
    running = clock_of(c)
    due, at_risk = running.due_at(), running.at_risk_at()
    if due is None or at_risk is None:
        return
    payload = {"due_at": due.isoformat()}
    tasks.schedule(session, TIMER_AT_RISK, SUBJECT, c.id, at_risk, payload)
    tasks.schedule(session, TIMER_MISSED, SUBJECT, c.id, due, payload)


def _audit_detail(c: Consultation) -> dict[str, Any]:
    return {
        "reference": c.reference,
        "status": c.status,
        "patient_id": c.patient_id,
        "answer_institution_id": c.answer_institution_id,
        "specialty_code": c.specialty_code,
        "assignee_user_id": c.assignee_user_id,
    }


def ask(
    session: Session, actor: Actor, data: ConsultationCreate, settings: Settings
) -> Consultation:
    """Open a consultation: consent to share with the answering institution (purpose
    "consultation") required, ICD-10 checked, the pool must be one of ``answer_options``;
    routed at once to who is on call (domain.route), else left in the pool and the
    answering institution's coordinators told (and the asker told so). Starts the response
    clock and its timers; history, audit, inbox messages."""
    _require(actor, Permission.CONSULT_ASK)
    now = clock.now()
    errors: list[FieldError] = []
    patient = session.get(Patient, data.patient_id) if 0 < data.patient_id < 2**31 else None
    if patient is None or patient.institution_id != actor.institution_id:
        errors.append(
            FieldError(
                "patient_id", UNKNOWN_PATIENT, {"id": data.patient_id}, code="unknown_patient"
            )
        )
        patient = None
    elif patient.merged_into_id is not None:
        errors.append(FieldError("patient_id", PATIENT_MERGED, code="patient_merged"))
    code = icd10.normalise(data.icd10_code)
    if not icd10.is_valid(code):
        errors.append(
            FieldError(
                "icd10_code", INVALID_ICD10, {"value": data.icd10_code}, code="invalid_icd10"
            )
        )
    others = [s for s in dict.fromkeys(data.other_specialties) if s != data.specialty_code]
    if others and data.mode != Mode.MDT:
        errors.append(FieldError("other_specialties", MDT_ONLY, code="mdt_only"))
    if data.asker_department_id is not None:
        dept = session.get(Department, data.asker_department_id)
        if dept is None or dept.institution_id != actor.institution_id:
            errors.append(
                FieldError("asker_department_id", NOT_YOUR_DEPARTMENT, code="unknown_department")
            )
    answerer = session.get(Institution, data.answer_institution_id)
    agreement_id: int | None = None
    if data.answer_institution_id == actor.institution_id:
        errors.append(
            FieldError("answer_institution_id", SAME_INSTITUTION, code="same_institution")
        )
    else:
        pools = pools_of(session, actor.institution_id, _day(now))
        wanted = [("specialty_code", data.specialty_code)] + [
            ("other_specialties", s) for s in others
        ]
        for field_name, specialty in wanted:
            key = (data.answer_institution_id, specialty)
            if key not in pools:
                spec = session.get(SpecialtyRow, specialty)
                errors.append(
                    FieldError(
                        field_name,
                        NOT_A_POOL,
                        {
                            "institution": name_of(answerer) if answerer else "—",
                            "specialty": name_of(spec) if spec else specialty,
                        },
                        code="not_a_pool",
                    )
                )
        agreement_id = pools.get((data.answer_institution_id, data.specialty_code))
    if errors:
        raise _invalid(errors)
    assert patient is not None
    consent = patients.require_consent(
        session, patient.id, data.answer_institution_id, CONSENT_PURPOSE, now
    )
    urgency = Urgency(data.urgency)
    target = targets_for(session, settings, agreement_id).for_urgency(urgency)
    decision = decide(session, data.answer_institution_id, data.specialty_code, now, code)
    status = Status.ASSIGNED if decision.user_id is not None else Status.POOL
    c = Consultation(
        reference=f"new-{crypto.new_token(12)}"[:24],
        status=status.value,
        mode=Mode(data.mode).value,
        urgency=urgency.value,
        urgency_rank=URGENCY_RANK[urgency],
        patient_id=patient.id,
        consent_id=consent.id,
        asker_institution_id=actor.institution_id,
        asker_department_id=data.asker_department_id,
        asker_user_id=actor.user_id,
        answer_institution_id=data.answer_institution_id,
        specialty_code=data.specialty_code,
        agreement_id=agreement_id,
        assignee_user_id=decision.user_id,
        question=data.question,
        clinical_summary=data.clinical_summary,
        icd10_code=code,
        diagnosis=((data.diagnosis or "").strip() or icd10.describe(code) or code)[:255],
        asked_at=now,
        target_minutes=max(1, int(target.total_seconds() // 60)),
        paused_seconds=0,
        paused_since=None,
        escalation_level=0,
        route_reason=decision.reason.value,
        created_at=now,
        updated_at=now,
    )
    c.due_at = clock_of(c).due_at()
    session.add(c)
    _flush(session)
    _allocate_reference(session, c)
    session.add_all(ConsultationSpecialty(consultation_id=c.id, specialty_code=s) for s in others)
    _event(session, c, "ask", None, actor, at=now, to_status=Status.POOL.value)
    _event(
        session,
        c,
        "route",
        Status.POOL.value,
        None,
        at=now,
        to_status=status.value,
        detail={"reason": decision.reason.value, "assignee_user_id": decision.user_id},
    )
    schedule_clock_timers(session, c)
    audit.record(
        session,
        actor,
        "consultation.ask",
        object_type=SUBJECT,
        object_id=c.id,
        detail=_audit_detail(c),
    )
    _tell_routed(session, c, decision, settings, exclude=actor.user_id)
    session.flush()
    return c


def _tell_routed(
    session: Session,
    c: Consultation,
    decision: Decision,
    settings: Settings | None,
    *,
    exclude: int | None = None,
) -> None:
    """Tell the expert who got the case, or, nobody on call, the coordinators (and the asker
    that the coordinator has it)."""
    if decision.user_id is not None:
        tell(session, [decision.user_id], c, "consultation.assigned", ASSIGNED_MESSAGE, settings)
        return
    tell(
        session,
        coordinators(session, c.answer_institution_id),
        c,
        "consultation.pool",
        POOL_MESSAGE,
        settings,
        exclude=exclude,
    )
    tell(
        session,
        askers(session, c),
        c,
        "consultation.nobody_on_call",
        NOBODY_ON_CALL_MESSAGE,
        settings,
    )


# --- the conversation and the transitions -------------------------------------------------


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _check_required(t: Transition, data: ActIn) -> None:
    label = i18n.gettext(ACTION_LABELS[t.action]).lower()
    errors = [
        FieldError(name, REQUIRED_MESSAGE, {"action": label}, code="required")
        for name in t.requires
        if _blank(getattr(data, name))
    ]
    if errors:
        raise _invalid(errors)


def _not_allowed(c: Consultation, action: Action) -> Conflict:
    return Conflict(
        TRANSITION_MESSAGE,
        code="transition_not_allowed",
        status=_status_label(c.status),
        action=i18n.gettext(ACTION_LABELS[action]),
    )


def _claim(session: Session, actor: Actor, c: Consultation, version: int, now: datetime) -> None:
    """Take the case from the pool with one conditional UPDATE: of two experts claiming at
    once, only the first changes the row; the other finds it taken (409 ``already_claimed``)."""
    result = session.execute(
        update(Consultation)
        .where(
            Consultation.id == c.id,
            Consultation.status == Status.POOL.value,
            Consultation.version == version,
        )
        .values(
            status=Status.ASSIGNED.value,
            assignee_user_id=actor.user_id,
            updated_at=now,
            version=Consultation.version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    session.refresh(c)
    if not result.rowcount:  # type: ignore[attr-defined]
        if c.status != Status.POOL.value:
            raise Conflict(ALREADY_CLAIMED, code="already_claimed")
        raise Conflict(STALE_MESSAGE, code="stale_version")


def _resume(c: Consultation, now: datetime) -> None:
    running = clock_of(c).resume(now)
    c.paused_seconds = round(running.paused_seconds)
    c.paused_since = None
    c.due_at = clock_of(c).due_at()


def holders_of(session: Session, c: Consultation) -> set[int]:
    """Everyone who has held the case (from its history) and the one holding it now."""
    held: set[int] = {c.assignee_user_id} if c.assignee_user_id is not None else set()
    details: list[dict[str, Any] | None] = list(
        session.scalars(
            select(ConsultationEvent.detail).where(ConsultationEvent.consultation_id == c.id)
        )
    )
    for detail in details:
        uid = (detail or {}).get("assignee_user_id")
        if isinstance(uid, int):
            held.add(uid)
    for uid in session.scalars(
        select(ConsultationEvent.actor_user_id).where(
            ConsultationEvent.consultation_id == c.id,
            ConsultationEvent.action == Action.CLAIM.value,
        )
    ):
        if uid is not None:
            held.add(uid)
    return held


def act(
    session: Session, actor: Actor, consultation_id: int, data: ActIn, settings: Settings
) -> Consultation:
    """Make one transition (claim, assign, release, redirect, ask_asker, reply, answer,
    follow_up, close, cancel). A stale version or a lost race (two claims) is a 409
    Conflict with a clear message; a transition not allowed from the state is a 409 too;
    missing fields are a 422 naming each."""
    c = _visible(session, actor, consultation_id)
    action = Action(data.action)
    old = Status(c.status)
    if action == Action.ESCALATE:
        raise Forbidden(NOT_YOUR_PART)
    if action == Action.CLAIM and old in (Status.ASSIGNED, Status.AWAITING_ASKER):
        raise Conflict(ALREADY_CLAIMED, code="already_claimed")
    t = find_transition(old, action)
    if t is None:
        raise _not_allowed(c, action)
    acting = sides(actor, c, session)
    if not acting:
        raise Forbidden()
    if not t.sides & acting:
        raise Forbidden(
            N_("Only %(side)s may do this."),
            code="not_your_part",
            side=i18n.gettext(SIDE_LABELS[sorted(t.sides)[0]]),
        )
    if c.version != data.version:
        raise Conflict(STALE_MESSAGE, code="stale_version")
    _check_required(t, data)
    now = clock.now()
    detail: dict[str, Any] = {}
    note: str | None = None
    new = t.target
    decision: Decision | None = None
    previous_holder = c.assignee_user_id
    recipients: list[int] = []
    kind, message = f"consultation.{action.value}", ""

    if action == Action.CLAIM:
        _claim(session, actor, c, data.version, now)
        detail["assignee_user_id"] = actor.user_id
        recipients, message = coordinators(session, c.answer_institution_id), CLAIMED_MESSAGE
    else:
        # no flush before the one write below (queries here would flush half a change)
        with session.no_autoflush:
            if action == Action.ASSIGN:
                assert data.assignee_user_id is not None
                if not in_pool(
                    session,
                    c.answer_institution_id,
                    specialties_of(session, c),
                    data.assignee_user_id,
                ):
                    raise _invalid(
                        [
                            FieldError(
                                "assignee_user_id", NOT_A_POOL_EXPERT, code="not_a_pool_expert"
                            )
                        ]
                    )
                c.assignee_user_id = data.assignee_user_id
                detail["assignee_user_id"] = data.assignee_user_id
                if previous_holder is not None:
                    detail["previous_assignee_user_id"] = previous_holder
                recipients, message = [data.assignee_user_id], ASSIGNED_MESSAGE
            elif action == Action.RELEASE:
                c.assignee_user_id = None
                note = data.reason
                detail["previous_assignee_user_id"] = previous_holder
                recipients, message = (
                    coordinators(session, c.answer_institution_id),
                    RELEASED_MESSAGE,
                )
            elif action == Action.REDIRECT:
                assert data.specialty_code is not None
                if data.specialty_code == c.specialty_code:
                    raise _invalid(
                        [FieldError("specialty_code", SAME_SPECIALTY, code="same_specialty")]
                    )
                pools = pools_of(session, c.asker_institution_id, _day(now))
                if (c.answer_institution_id, data.specialty_code) not in pools:
                    answerer = session.get(Institution, c.answer_institution_id)
                    spec = session.get(SpecialtyRow, data.specialty_code)
                    raise _invalid(
                        [
                            FieldError(
                                "specialty_code",
                                NOT_A_POOL,
                                {
                                    "institution": name_of(answerer) if answerer else "—",
                                    "specialty": name_of(spec) if spec else data.specialty_code,
                                },
                                code="not_a_pool",
                            )
                        ]
                    )
                detail["from_specialty"] = c.specialty_code
                detail["to_specialty"] = data.specialty_code
                note = data.reason
                c.specialty_code = data.specialty_code
                c.assignee_user_id = None
                decision = decide(
                    session, c.answer_institution_id, data.specialty_code, now, c.icd10_code
                )
                if decision.user_id is not None:
                    c.assignee_user_id = decision.user_id
                    new = Status.ASSIGNED
                c.route_reason = decision.reason.value
            elif action == Action.ASK_ASKER:
                assert data.body is not None
                _message(session, c, actor, "question", data.body, now)
                paused = clock_of(c).pause(now)
                c.paused_since = paused.paused_since
                c.due_at = None
                note = data.body
                recipients, message = askers(session, c), QUESTION_MESSAGE
            elif action == Action.REPLY:
                assert data.body is not None
                _message(session, c, actor, "reply", data.body, now)
                _resume(c, now)
                note = data.body
                recipients, message = (
                    [c.assignee_user_id] if c.assignee_user_id else [],
                    REPLY_MESSAGE,
                )
            elif action == Action.ANSWER:
                c.assessment = data.assessment
                c.recommendations = data.recommendations
                c.needs_visit = bool(data.needs_visit)
                c.follow_up = data.follow_up
                c.opinion_by_user_id = actor.user_id
                c.answered_at = now
                if c.first_answered_at is None:
                    running = clock_of(c)
                    elapsed = running.elapsed(now)
                    c.first_answered_at = now
                    c.first_answer_seconds = int(elapsed.total_seconds())
                    c.within_target = elapsed <= running.target
                    detail["first_answer_seconds"] = c.first_answer_seconds
                    detail["within_target"] = c.within_target
                c.due_at = None
                c.paused_since = None
                detail["needs_visit"] = c.needs_visit
                recipients, message = askers(session, c), ANSWERED_MESSAGE
            elif action == Action.FOLLOW_UP:
                assert data.body is not None
                _message(session, c, actor, "follow_up", data.body, now)
                if c.assignee_user_id is None:
                    c.assignee_user_id = c.opinion_by_user_id
                # a fresh clock of the same target: the time before counts as paused
                c.paused_seconds = max(0, int((now - c.asked_at).total_seconds()))
                c.paused_since = None
                c.due_at = clock_of(c).due_at()
                c.escalation_level = 0
                note = data.body
                recipients = [c.assignee_user_id] if c.assignee_user_id else []
                message = FOLLOW_UP_MESSAGE
            elif action == Action.CLOSE:
                c.closed_at = now
                if data.helpful is not None or data.referral_avoided is not None:
                    c.helpful = data.helpful
                    c.referral_avoided = data.referral_avoided
                    c.rated_at = now
                detail["helpful"] = data.helpful
                detail["referral_avoided"] = data.referral_avoided
                recipients = [u for u in (c.assignee_user_id, c.opinion_by_user_id) if u]
                message = CLOSED_MESSAGE
            elif action == Action.CANCEL:
                c.cancel_reason = data.reason
                c.due_at = None
                c.paused_since = None
                note = data.reason
                recipients = (
                    [c.assignee_user_id]
                    if c.assignee_user_id
                    else coordinators(session, c.answer_institution_id)
                )
                message = CANCELLED_MESSAGE
        c.status = new.value
        c.updated_at = now
        # the row in one write: a concurrent change of the same version loses here
        _flush(session)

    _sync_timers(session, c, old, Status(c.status), settings, now)
    _event(session, c, action.value, old.value, actor, at=now, note=note, detail=detail)
    if decision is not None:
        _event(
            session,
            c,
            "route",
            Status.POOL.value,
            None,
            at=now,
            detail={"reason": decision.reason.value, "assignee_user_id": decision.user_id},
        )
    audit.record(
        session,
        actor,
        f"consultation.{action.value}",
        object_type=SUBJECT,
        object_id=c.id,
        detail={"reference": c.reference, "from": old.value, "to": c.status} | detail,
    )
    if decision is not None:
        _tell_routed(session, c, decision, settings, exclude=actor.user_id)
    if action == Action.ASSIGN and previous_holder not in (None, data.assignee_user_id):
        assert previous_holder is not None
        tell(session, [previous_holder], c, "consultation.taken_away", TAKEN_AWAY_MESSAGE, settings)
    if message:
        tell(session, recipients, c, kind, message, settings, exclude=actor.user_id)
    if action in (Action.CANCEL, Action.CLOSE):
        # sessions use this module; imported here, where a case ends, to keep one direction
        from medcircle.consultations import sessions

        sessions.end_with_case(session, actor, c, settings)
    session.flush()
    return c


def _sync_timers(
    session: Session, c: Consultation, old: Status, new: Status, settings: Settings, now: datetime
) -> None:
    """Keep the timers in step with the clock: running → at-risk and missed timers for the
    current due time; paused, answered or ended → none; answered → the auto-close."""
    if new in CLOCK_RUNS and c.paused_since is None:
        if old not in CLOCK_RUNS:
            schedule_clock_timers(session, c)
    else:
        tasks.cancel(session, SUBJECT, c.id, CLOCK_TIMERS)
    if new == Status.ANSWERED:
        tasks.cancel(session, SUBJECT, c.id, {TIMER_AUTOCLOSE})
        assert c.answered_at is not None
        tasks.schedule(
            session,
            TIMER_AUTOCLOSE,
            SUBJECT,
            c.id,
            now + timedelta(days=settings.consult_autoclose_days),
            {"answered_at": c.answered_at.isoformat()},
        )
    elif old == Status.ANSWERED:
        tasks.cancel(session, SUBJECT, c.id, {TIMER_AUTOCLOSE})
    if new in TERMINAL:
        tasks.cancel(session, SUBJECT, c.id)


def add_message(
    session: Session, actor: Actor, consultation_id: int, data: MessageIn
) -> ConsultationMessage:
    """A note in the thread by either side while the case is open (no change of turn);
    a reply on a closed or cancelled case is refused (409)."""
    c = _visible(session, actor, consultation_id)
    acting = sides(actor, c, session)
    if not acting & {Side.ASKER, Side.ASSIGNEE, Side.POOL_EXPERT, Side.COORDINATOR}:
        raise Forbidden(NOT_YOUR_PART)
    if Status(c.status) in TERMINAL:
        raise Conflict(CASE_CLOSED, code="case_closed", status=_status_label(c.status))
    now = clock.now()
    m = _message(session, c, actor, "note", data.body, now)
    c.updated_at = now
    # a change of the case at the same moment is a 409 like any other, not a failure
    _flush(session)
    _event(session, c, "note", c.status, actor, at=now, detail={"message_id": m.id})
    audit.record(
        session,
        actor,
        "consultation.note",
        object_type=SUBJECT,
        object_id=c.id,
        detail={"reference": c.reference, "message_id": m.id},
    )
    if actor.institution_id == c.asker_institution_id:
        others = [c.assignee_user_id] if c.assignee_user_id else []
    else:
        others = askers(session, c)
    # the email links back to the case: it needs the platform address like every other
    tell(
        session, others, c, "consultation.note", NOTE_MESSAGE, get_settings(), exclude=actor.user_id
    )
    session.flush()
    return m


def _referral_department(session: Session, c: Consultation) -> Department:
    dept = session.scalar(
        select(Department)
        .where(
            Department.institution_id == c.answer_institution_id,
            Department.specialty_code == c.specialty_code,
            Department.is_active.is_(True),
        )
        .order_by(Department.id)
        .limit(1)
    )
    if dept is None:
        answerer = session.get(Institution, c.answer_institution_id)
        spec = session.get(SpecialtyRow, c.specialty_code)
        raise Conflict(
            NO_DEPARTMENT,
            code="no_department",
            institution=name_of(answerer) if answerer else "—",
            specialty=name_of(spec) if spec else c.specialty_code,
        )
    return dept


def to_referral(
    session: Session, actor: Actor, consultation_id: int, settings: Settings
) -> Referral:
    """One step from an answered case that says the patient needs to be seen: an upward
    referral (a draft, prefilled: patient, the answering institution's department of the
    specialty, urgency, ICD-10, the question and the opinion as reason and summary), linked
    both ways. Only the asking side; once."""
    c = _visible(session, actor, consultation_id)
    if Side.ASKER not in sides(actor, c, session):
        raise Forbidden(NOT_YOUR_PART)
    if c.referral_id is not None:
        existing = session.get(Referral, c.referral_id)
        raise Conflict(
            ALREADY_REFERRED,
            code="already_referred",
            reference=existing.reference if existing else str(c.referral_id),
        )
    if c.status not in (Status.ANSWERED.value, Status.CLOSED.value) or not c.needs_visit:
        raise Conflict(NO_VISIT_NEEDED, code="no_visit_needed")
    dept = _referral_department(session, c)
    opinion = i18n.gettext(OPINION_PREFIX, text=c.assessment or "")
    reason = f"{c.question}\n\n{opinion}"[:2000]
    summary = "\n\n".join(
        part for part in (c.clinical_summary, c.assessment, c.recommendations) if part
    )[:20000]
    data = ReferralCreate(
        patient_id=c.patient_id,
        receiver_department_id=dept.id,
        urgency=Urgency(c.urgency),
        care_type=CareType.OUTPATIENT,
        icd10_code=c.icd10_code,
        diagnosis=c.diagnosis,
        reason=reason,
        clinical_summary=summary,
        sender_department_id=c.asker_department_id,
        submit=False,
    )
    referral = referrals.create(session, actor, data, settings)
    now = clock.now()
    c.referral_id = referral.id
    c.updated_at = now
    _flush(session)
    _event(
        session,
        c,
        "to_referral",
        c.status,
        actor,
        at=now,
        detail={"referral_id": referral.id, "referral_reference": referral.reference},
    )
    audit.record(
        session,
        actor,
        "consultation.to_referral",
        object_type=SUBJECT,
        object_id=c.id,
        detail={"reference": c.reference, "referral_id": referral.id},
    )
    session.flush()
    return referral


# Files of a case (upload, list, download) are in consultations/attachments.py.
