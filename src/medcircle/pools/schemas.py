"""Shapes of pools, units, waitlist entries, offers and decisions at the API edge (and the
inputs the service takes from pages too)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from medcircle.kit.i18n import N_
from medcircle.pools.policy import Urgency

Id = Annotated[int, Field(ge=1, le=2**31 - 1)]
Code = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32, pattern=r"^\S+$")
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
LongName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
RoomClass = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=16, pattern=r"^\S+$")
]
Icd10 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=8)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)]
LongReason = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=10, max_length=1000)
]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)]


class PoolKind(StrEnum):
    CLEANROOM = "cleanroom"
    BED = "bed"
    ROOM = "room"


POOL_KIND_LABELS = {
    PoolKind.CLEANROOM: N_("Transplant cleanrooms"),
    PoolKind.BED: N_("Beds"),
    PoolKind.ROOM: N_("Rooms"),
}


class UnitStatus(StrEnum):
    FREE = "free"
    OCCUPIED = "occupied"
    CLEANING = "cleaning"
    MAINTENANCE = "maintenance"
    RETIRED = "retired"


UNIT_STATUS_LABELS = {
    UnitStatus.FREE: N_("Free"),
    UnitStatus.OCCUPIED: N_("Occupied"),
    UnitStatus.CLEANING: N_("Cleaning"),
    UnitStatus.MAINTENANCE: N_("Maintenance"),
    UnitStatus.RETIRED: N_("Retired"),
}


class EntryStatus(StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"
    ADMITTED = "admitted"
    WITHDRAWN = "withdrawn"
    REMOVED = "removed"


ENTRY_STATUS_LABELS = {
    EntryStatus.WAITING: N_("Waiting"),
    EntryStatus.OFFERED: N_("Offered a unit"),
    EntryStatus.ADMITTED: N_("Admitted"),
    EntryStatus.WITHDRAWN: N_("Withdrawn"),
    EntryStatus.REMOVED: N_("Removed"),
}
LIVE_STATUSES = (EntryStatus.WAITING.value, EntryStatus.OFFERED.value)


class OfferStatus(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


OFFER_STATUS_LABELS = {
    OfferStatus.OPEN: N_("Open"),
    OfferStatus.ACCEPTED: N_("Accepted"),
    OfferStatus.DECLINED: N_("Declined"),
    OfferStatus.EXPIRED: N_("Expired"),
    OfferStatus.WITHDRAWN: N_("Withdrawn"),
}


class TransplantType(StrEnum):
    AUTOLOGOUS = "autologous"
    ALLOGENEIC_RELATED = "allogeneic_related"
    ALLOGENEIC_UNRELATED = "allogeneic_unrelated"
    HAPLOIDENTICAL = "haploidentical"
    CORD_BLOOD = "cord_blood"
    OTHER = "other"


TRANSPLANT_LABELS = {
    TransplantType.AUTOLOGOUS: N_("Autologous"),
    TransplantType.ALLOGENEIC_RELATED: N_("Allogeneic, matched related donor"),
    TransplantType.ALLOGENEIC_UNRELATED: N_("Allogeneic, unrelated donor"),
    TransplantType.HAPLOIDENTICAL: N_("Haploidentical"),
    TransplantType.CORD_BLOOD: N_("Cord blood"),
    TransplantType.OTHER: N_("Other (not a transplant)"),
}


class Trigger(StrEnum):
    UNIT_FREED = "unit_freed"
    ENTRY_LISTED = "entry_listed"
    ENTRY_READY = "entry_ready"
    OFFER_DECLINED = "offer_declined"
    OFFER_EXPIRED = "offer_expired"
    OFFER_WITHDRAWN = "offer_withdrawn"
    OVERRIDE = "override"
    REQUESTED = "requested"


TRIGGER_LABELS = {
    Trigger.UNIT_FREED: N_("A unit became free"),
    Trigger.ENTRY_LISTED: N_("A patient was listed"),
    Trigger.ENTRY_READY: N_("A patient became ready"),
    Trigger.OFFER_DECLINED: N_("An offer was declined"),
    Trigger.OFFER_EXPIRED: N_("An offer expired"),
    Trigger.OFFER_WITHDRAWN: N_("An offer was withdrawn"),
    Trigger.OVERRIDE: N_("Coordinator's override"),
    Trigger.REQUESTED: N_("Allocation asked for"),
}


# --- inputs ---------------------------------------------------------------------------------


class PolicyIn(BaseModel):
    offer_hours: int = Field(default=24, ge=1, le=168)
    aging_days: int = Field(default=90, ge=0, le=730)
    turnaround_days: int = Field(default=2, ge=0, le=30)
    default_stay_days: int = Field(default=35, ge=1, le=365)


class PoolCreate(BaseModel):
    code: Code
    name_zh: LongName
    name_en: LongName
    kind: PoolKind = PoolKind.CLEANROOM
    policy: PolicyIn = Field(default_factory=PolicyIn)
    member_institution_ids: list[Id] = Field(default_factory=list, max_length=200)
    pooled_since: date | None = None


class PolicyUpdate(BaseModel):
    version: int
    policy: PolicyIn


class MemberIn(BaseModel):
    institution_id: Id


class UnitCreate(BaseModel):
    institution_id: Id
    code: Code
    name: Name
    room_class: RoomClass


class UnitStatusIn(BaseModel):
    """A unit's status set by hand: free, cleaning, maintenance or retired (occupied comes
    with an admission)."""

    version: int
    status: UnitStatus
    expected_free_on: date | None = None
    note: Note | None = None


class EntryCreate(BaseModel):
    patient_id: Id
    icd10_code: Icd10
    transplant_type: TransplantType
    room_class: RoomClass
    urgency: Urgency = Urgency.ROUTINE
    donor_found: bool = False
    workup_done: bool = False
    acceptable_institution_ids: list[Id] = Field(
        default_factory=list,
        max_length=200,
        description="the hospitals whose units the team accepts; empty: every unit of the class",
    )
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None


class EntryUpdate(BaseModel):
    version: int
    urgency: Urgency | None = None
    donor_found: bool | None = None
    workup_done: bool | None = None
    acceptable_institution_ids: list[Id] | None = Field(default=None, max_length=200)
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None


class EntryClose(BaseModel):
    version: int
    # withdrawn: by the patient's side; removed: no longer eligible (with a reason)
    status: EntryStatus
    reason: Reason


class OfferAccept(BaseModel):
    version: int
    admitted_on: date | None = Field(default=None, description="today if omitted")
    expected_discharge_on: date | None = None


class OfferDecline(BaseModel):
    version: int
    reason: Reason


class OverrideIn(BaseModel):
    unit_id: Id
    entry_id: Id
    reason: LongReason


class DischargeIn(BaseModel):
    discharged_on: date | None = Field(default=None, description="today if omitted")
    # what the unit does next: cleaning (usual) or free at once
    then: UnitStatus = UnitStatus.CLEANING
    expected_free_on: date | None = None
    note: Note | None = None


# --- outputs --------------------------------------------------------------------------------


class PoolRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name_zh: str
    name_en: str
    kind: str
    lead_institution_id: int
    policy: dict[str, Any]
    pooled_since: date | None
    version: int


class UnitRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    pool_id: int
    institution_id: int
    code: str
    name: str
    room_class: str
    status: str
    expected_free_on: date | None
    status_since: datetime
    version: int


class EstimateRead(BaseModel):
    earliest: date
    median: date
    latest: date


class EntryRead(BaseModel):
    id: int
    pool_id: int
    patient_id: int
    patient_name: str
    listing_institution_id: int
    listed_on: date
    icd10_code: str
    transplant_type: str
    room_class: str
    urgency: str
    donor_found: bool
    workup_done: bool
    ready: bool
    acceptable_institution_ids: list[int]
    status: str
    status_reason: str | None
    position: int | None
    ahead: int | None
    estimate: EstimateRead | None
    version: int


class OfferRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    pool_id: int
    unit_id: int
    entry_id: int
    decision_id: int
    offered_at: datetime
    expires_at: datetime
    status: str
    responded_at: datetime | None
    reason: str | None
    version: int


class DecisionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    pool_id: int
    unit_id: int
    at: datetime
    trigger: str
    rule: str
    chosen_entry_id: int | None
    candidates: list[dict[str, Any]]
    candidate_count: int
    passed_over: dict[str, int]
    policy: dict[str, Any]
    override_reason: str | None
    decided_by_user_id: int | None


class AdmissionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    unit_id: int
    entry_id: int
    admitted_at: datetime
    expected_discharge_on: date | None
    discharged_at: datetime | None
    length_of_stay_days: int | None


class StatusLinkRead(BaseModel):
    url: str
    expires_at: datetime


class FamilyStatusRead(BaseModel):
    """What a family's link shows: no clinical detail, no names."""

    pool_zh: str
    pool_en: str
    status: str
    position: int | None
    ready: bool
    estimate: EstimateRead | None
    listed_on: date
    updated_at: datetime


class PoolCountsRead(BaseModel):
    units: int
    free: int
    occupied: int
    waiting: int
    ready: int
    offered: int


class PoolDetail(PoolRead):
    member_institution_ids: list[int]
    counts: PoolCountsRead


class MemberRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    pool_id: int
    institution_id: int
    joined_on: date


class StatusLinkCreated(StatusLinkRead):
    """A family's link as created: the token and URL are shown this once."""

    id: int
    entry_id: int
    token: str


class StatusLinkInfo(BaseModel):
    """A family's link as listed later (without its token)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_seen_at: datetime | None


class EntryDetail(EntryRead):
    # the team's note, for the listing institution's own staff (None for the rest)
    note: str | None
    offers: list[OfferRead]
    decisions: list[DecisionRead]
    admissions: list[AdmissionRead]
    # the families' links, for the patient's team (empty for the rest)
    status_links: list[StatusLinkInfo]


class CandidateRead(BaseModel):
    entry_id: int
    # masked outside the patient's own institution
    name: str
    urgency: str
    effective_rank: int
    listed_on: str
    waited_days: int
    listing_institution: str
    chosen: bool


class DecisionDetail(BaseModel):
    """A decision with its ranked candidates (names masked outside their institution)."""

    id: int
    pool_id: int
    unit_id: int
    unit_institution: str
    at: datetime
    trigger: str
    rule: str
    chosen_entry_id: int | None
    chosen_name: str | None
    candidates: list[CandidateRead]
    candidate_count: int
    passed_over: dict[str, int]
    policy: dict[str, Any]
    override_reason: str | None
    decided_by: str | None
    offer: OfferRead | None


class QueueRead(BaseModel):
    """An M/M/c list: ``unbounded`` when arrivals outrun the units (no mean wait then)."""

    servers: int
    arrivals_per_day: float
    service_days: float
    # None when unbounded with no units at all
    utilisation: float | None
    unbounded: bool
    wait_probability: float
    mean_wait_days: float | None


class SiteQueueRead(BaseModel):
    institution_id: int
    institution: str
    queue: QueueRead


class ComparisonRead(BaseModel):
    """Each hospital on its own list against one pool of all their units."""

    service_days: float
    sites: list[SiteQueueRead]
    separate_unbounded: bool
    separate_mean_wait_days: float | None
    pooled: QueueRead
    days_saved: float | None


class ObservedWaitsRead(BaseModel):
    since: date
    today: date
    days: int
    listed: int
    admitted: int
    still_waiting: int
    arrivals_per_day: float
    admissions_per_day: float
    mean_wait_days: float | None
    median_wait_days: float | None
    longest_waiting_days: int | None


class BacktestRead(BaseModel):
    scored: int
    not_admitted: int
    inside: int
    earlier: int
    later: int
    share_inside: float | None
    median_abs_error_days: float | None
    median_error_days: float | None


class ClassFiguresRead(BaseModel):
    room_class: str
    units: int
    comparison: ComparisonRead | None
    before: ObservedWaitsRead
    after: ObservedWaitsRead
    backtest: BacktestRead


class PoolFiguresRead(BaseModel):
    pool_id: int
    today: date
    pooled_since: date | None
    room_classes: list[ClassFiguresRead]
