"""The demo world as plain values: what the generator makes and the loader writes.

Rows refer to each other by natural keys (institution codes, agreement codes, practitioner
keys), never by database ids, so a world can be built, compared and digested without a
database. Later parts of the platform (referrals, consultations, visits, waitlists, activity)
add their own lists here and a step to ``generator.STEPS`` and ``service.LOAD_STEPS``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

GENERATOR_VERSION = "5"
DEFAULT_SEED = 2017
DEMO_PASSWORD = "medcircle-demo"  # noqa: S105 (the published password of the demo logins)


@dataclass(frozen=True)
class DemoInstitution:
    code: str
    name_zh: str
    name_en: str
    level: str
    grade: str
    type: str
    division_code: str
    latitude: float
    longitude: float
    address: str | None
    bed_count: int | None
    is_synthetic: bool
    # the day the record describes the institution from (rows are stamped with it)
    recorded_on: date


@dataclass(frozen=True)
class DemoInstitutionName:
    institution: str
    name_zh: str
    name_en: str
    valid_from: date | None
    valid_to: date | None
    reason: str | None
    agreement: str | None


@dataclass(frozen=True)
class DemoDepartment:
    institution: str
    specialty_code: str
    name_zh: str
    name_en: str
    bed_count: int | None


@dataclass(frozen=True)
class DemoPractitioner:
    key: str
    institution: str
    specialty_code: str
    name_zh: str
    name_en: str
    title: str


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    institution: str
    roles: tuple[str, ...]
    locale: str
    practitioner: str | None
    created_on: date
    # printed by ``medcircle demo load``; the staff who act in the referral histories are not
    listed: bool = True


@dataclass(frozen=True)
class DemoAlliance:
    code: str
    name_zh: str
    name_en: str
    lead: str
    founded_on: date
    description: str


@dataclass(frozen=True)
class DemoMember:
    alliance: str
    institution: str
    joined_on: date
    left_on: date | None


@dataclass(frozen=True)
class DemoCentre:
    alliance: str
    host: str
    kind: str
    name_zh: str
    name_en: str
    established_on: date


@dataclass(frozen=True)
class DemoFramework:
    code: str
    title_zh: str
    title_en: str
    party_a: str
    party_a_division_code: str
    party_b: str
    party_b_division_code: str
    signed_on: date
    starts_on: date
    ends_on: date | None
    summary: str


@dataclass(frozen=True)
class DemoAgreement:
    code: str
    framework: str | None
    kind: str
    supporting: str
    supported: str
    title_zh: str
    title_en: str
    signed_on: date
    starts_on: date
    ends_on: date
    terminated_on: date | None
    licensed_name_zh: str | None
    licensed_name_en: str | None
    notes: str | None
    specialties: tuple[str, ...]


@dataclass(frozen=True)
class DemoGoal:
    agreement: str
    description_zh: str
    description_en: str
    due_on: date
    status: str
    progress_note: str | None
    achieved_on: date | None
    # the day the goal's status was last set
    updated_on: date


@dataclass(frozen=True)
class DemoPatient:
    """A synthetic person registered by one institution (``national_id`` in clear here; the
    loader seals it)."""

    key: str
    institution: str
    name: str
    sex: str
    birth_date: date
    national_id: str
    phone: str | None
    residence_division_code: str
    guardian_name: str | None
    guardian_relation: str | None
    guardian_phone: str | None
    registered_at: datetime


@dataclass(frozen=True)
class DemoConsent:
    key: str
    patient: str
    receiving_institution: str
    purpose: str
    given_by: str
    given_by_name: str
    given_at: datetime
    valid_until: date | None
    recorded_by: str
    withdrawn_at: datetime | None = None
    withdrawn_by: str | None = None
    withdrawal_reason: str | None = None


@dataclass(frozen=True)
class DemoEvent:
    """One step of a referral's history; ``actor`` is a username (None: the platform)."""

    at: datetime
    action: str
    from_status: str | None
    to_status: str
    actor: str | None
    actor_institution: str | None
    note: str | None = None
    detail: tuple[tuple[str, str | bool], ...] = ()


@dataclass(frozen=True)
class DemoReferral:
    reference: str
    direction: str
    status: str
    urgency: str
    care_type: str
    patient: str
    consent: str | None
    sender: str
    sender_specialty: str
    sender_user: str
    receiver: str
    receiver_specialty: str
    icd10_code: str
    diagnosis: str
    reason: str
    clinical_summary: str
    outside_network: bool
    outside_network_reason: str | None
    parent: str | None
    redirected_to: str | None
    submitted_at: datetime
    triaged_at: datetime | None
    triaged_by: str | None
    decision_reason: str | None
    appointment_at: datetime | None
    appointment_place: str | None
    what_to_bring: str | None
    arrived_at: datetime | None
    completed_at: datetime | None
    outcome_summary: str | None
    local_plan: bool
    closed_at: datetime | None
    cancel_reason: str | None
    created_at: datetime
    updated_at: datetime
    events: tuple[DemoEvent, ...]


@dataclass(frozen=True)
class DemoShift:
    """One expert on call for one specialty of one institution, [starts_at, ends_at)."""

    institution: str
    specialty_code: str
    user: str
    starts_at: datetime
    ends_at: datetime
    role: str
    created_by: str | None
    created_at: datetime


@dataclass(frozen=True)
class DemoLeave:
    user: str
    starts_at: datetime
    ends_at: datetime
    reason: str | None
    created_by: str | None
    created_at: datetime


@dataclass(frozen=True)
class DemoSkill:
    user: str
    icd10_prefix: str


@dataclass(frozen=True)
class DemoMessage:
    """One message of a consultation's thread; ``author`` is a username."""

    at: datetime
    kind: str
    author: str
    author_institution: str
    body: str


@dataclass(frozen=True)
class DemoConsultation:
    reference: str
    status: str
    mode: str
    urgency: str
    patient: str
    consent: str | None
    asker: str
    asker_specialty: str | None
    asker_user: str
    answer: str
    specialty_code: str
    # further specialties of a multi-disciplinary consultation
    other_specialties: tuple[str, ...]
    agreement: str | None
    assignee: str | None
    question: str
    clinical_summary: str
    icd10_code: str
    diagnosis: str
    asked_at: datetime
    target_minutes: int
    paused_seconds: int
    paused_since: datetime | None
    due_at: datetime | None
    escalation_level: int
    route_reason: str | None
    first_answered_at: datetime | None
    first_answer_seconds: int | None
    within_target: bool | None
    assessment: str | None
    recommendations: str | None
    needs_visit: bool | None
    follow_up: str | None
    opinion_by: str | None
    answered_at: datetime | None
    helpful: int | None
    referral_avoided: bool | None
    rated_at: datetime | None
    closed_at: datetime | None
    is_difficult: bool
    created_at: datetime
    updated_at: datetime
    version: int
    events: tuple[DemoEvent, ...]
    messages: tuple[DemoMessage, ...]


@dataclass(frozen=True)
class DemoVisit:
    """One expert's out-call to a site and what it achieved (a visit record)."""

    user: str
    home: str
    site: str
    specialty_code: str
    starts_on: date
    ends_on: date
    outpatients: int
    ward_rounds: int
    teaching_sessions: int
    difficult_cases: int
    # (ICD-10 code, procedure, how many)
    operations: tuple[tuple[str, str, int], ...] = ()


@dataclass(frozen=True)
class DemoDispatchProfile:
    """An expert's dispatch profile (home-duty weekdays, Monday 0)."""

    user: str
    specialty_code: str
    max_days_per_week: int
    duty_weekdays: tuple[int, ...]
    is_active: bool


@dataclass(frozen=True)
class DemoDispatchSkill:
    user: str
    skill: str


@dataclass(frozen=True)
class DemoDispatchDuty:
    """A single day of home duty."""

    user: str
    day: date
    reason: str | None


@dataclass(frozen=True)
class DemoDispatchDemand:
    """Demand for visiting experts under an agreement; users by username."""

    key: str
    agreement: str
    site: str
    supporting: str
    specialty_code: str
    kind: str
    visits_per_week: int | None
    positions: int | None
    day: date | None
    skill: str | None
    starts_on: date
    ends_on: date
    note: str | None
    status: str
    created_by: str | None
    created_on: date
    decided_by: str | None
    decided_on: date | None


@dataclass(frozen=True)
class DemoTravelTime:
    origin: str
    destination: str
    minutes: int
    note: str | None


@dataclass(frozen=True)
class DemoPool:
    """A pool of scarce units run as one list by its member institutions."""

    code: str
    name_zh: str
    name_en: str
    kind: str
    lead: str
    # (institution, the day it joined)
    members: tuple[tuple[str, date], ...]
    pooled_since: date
    # the policy's parameters (name, value)
    policy: tuple[tuple[str, int], ...]
    created_at: datetime


@dataclass(frozen=True)
class DemoPoolUnit:
    """A room of the pool with its status at the end of the history."""

    code: str
    institution: str
    name: str
    room_class: str
    status: str
    expected_free_on: date | None
    status_since: datetime
    created_at: datetime
    version: int


@dataclass(frozen=True)
class DemoUnitEvent:
    unit: str
    at: datetime
    from_status: str | None
    to_status: str
    expected_free_on: date | None
    by: str | None
    note: str | None


@dataclass(frozen=True)
class DemoWaitlistEntry:
    """A patient listed for a unit; ``number`` is its place in the order of listing (the
    allocation history names entries by it)."""

    number: int
    patient: str
    listing_institution: str
    listed_by: str
    listed_at: datetime
    listed_on: date
    icd10_code: str
    transplant_type: str
    room_class: str
    urgency: str
    donor_found: bool
    workup_done: bool
    # institutions whose units the team accepts
    sites: tuple[str, ...]
    status: str
    status_reason: str | None
    status_changed_at: datetime
    before_pool: bool
    version: int
    # the admission range predicted at listing (earliest, median, latest), if any, and the
    # forecast's own median behind it (before calibration)
    predicted: tuple[date, date, date] | None = None
    forecast_median: date | None = None


@dataclass(frozen=True)
class DemoAllocation:
    """A decision of the pool's policy. ``candidates`` are the policy's ranked candidates as
    ``Ranked.as_json`` gives them, with entry numbers for entry ids and the number of the
    listing institution in ``members`` order (from 1) for its id: the loader puts the ids."""

    number: int
    unit: str
    at: datetime
    trigger: str
    rule: str
    chosen: int | None
    candidates: tuple[dict[str, Any], ...]
    candidate_count: int
    passed_over: tuple[tuple[str, int], ...]
    decided_by: str | None


@dataclass(frozen=True)
class DemoOffer:
    unit: str
    entry: int
    decision: int
    offered_at: datetime
    expires_at: datetime
    status: str
    responded_at: datetime | None
    responded_by: str | None
    reason: str | None


@dataclass(frozen=True)
class DemoAdmission:
    unit: str
    entry: int
    # the offer's unit and time name it
    offered_at: datetime
    admitted_at: datetime
    expected_discharge_on: date
    discharged_at: datetime | None
    length_of_stay_days: int | None
    discharge_note: str | None


@dataclass
class World:
    """Everything the demo loads, in the order it is generated."""

    seed: int
    version: str = GENERATOR_VERSION
    # the day the world is generated for: the referral histories end the day before it
    as_of: date = date(2026, 1, 1)
    institutions: list[DemoInstitution] = field(default_factory=list)
    institution_names: list[DemoInstitutionName] = field(default_factory=list)
    departments: list[DemoDepartment] = field(default_factory=list)
    practitioners: list[DemoPractitioner] = field(default_factory=list)
    users: list[DemoUser] = field(default_factory=list)
    alliances: list[DemoAlliance] = field(default_factory=list)
    members: list[DemoMember] = field(default_factory=list)
    centres: list[DemoCentre] = field(default_factory=list)
    frameworks: list[DemoFramework] = field(default_factory=list)
    agreements: list[DemoAgreement] = field(default_factory=list)
    goals: list[DemoGoal] = field(default_factory=list)
    patients: list[DemoPatient] = field(default_factory=list)
    consents: list[DemoConsent] = field(default_factory=list)
    referrals: list[DemoReferral] = field(default_factory=list)
    shifts: list[DemoShift] = field(default_factory=list)
    leaves: list[DemoLeave] = field(default_factory=list)
    skills: list[DemoSkill] = field(default_factory=list)
    consultations: list[DemoConsultation] = field(default_factory=list)
    dispatch_profiles: list[DemoDispatchProfile] = field(default_factory=list)
    dispatch_skills: list[DemoDispatchSkill] = field(default_factory=list)
    dispatch_duties: list[DemoDispatchDuty] = field(default_factory=list)
    dispatch_demand: list[DemoDispatchDemand] = field(default_factory=list)
    travel_times: list[DemoTravelTime] = field(default_factory=list)
    visits: list[DemoVisit] = field(default_factory=list)
    pools: list[DemoPool] = field(default_factory=list)
    pool_units: list[DemoPoolUnit] = field(default_factory=list)
    unit_events: list[DemoUnitEvent] = field(default_factory=list)
    waitlist: list[DemoWaitlistEntry] = field(default_factory=list)
    allocations: list[DemoAllocation] = field(default_factory=list)
    offers: list[DemoOffer] = field(default_factory=list)
    admissions: list[DemoAdmission] = field(default_factory=list)

    def institution(self, code: str) -> DemoInstitution:
        for inst in self.institutions:
            if inst.code == code:
                return inst
        raise KeyError(code)

    def counts(self) -> dict[str, int]:
        """How many rows of each kind the world holds."""
        return {
            f.name: len(getattr(self, f.name))
            for f in dataclasses.fields(self)
            if isinstance(getattr(self, f.name), list)
        }

    def digest(self) -> str:
        """A SHA-256 of the whole world: equal seeds and versions give equal digests."""
        payload = {
            f.name: [dataclasses.asdict(row) for row in getattr(self, f.name)]
            for f in dataclasses.fields(self)
            if isinstance(getattr(self, f.name), list)
        }
        payload["seed"] = [{"seed": self.seed, "version": self.version, "as_of": self.as_of}]
        text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=_plain)
        return hashlib.sha256(text.encode()).hexdigest()


def _plain(value: Any) -> str:
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)
