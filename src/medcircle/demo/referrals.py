"""Patients, consent and two-way referrals of the demo world: pure, from the seed.

The cooperation reported 118 referrals up to Beijing and 313 down to local hospitals over the
period from the 2015 Beijing–Hebei framework to the 2017 report. The demo lays exactly as many
over a period of the same length that ends the day before ``world.as_of``, so worklists, waits
and timers are live on the day the world is loaded. Every referral's history is a walk of
``referrals.domain.TRANSITIONS``, written as the referral service writes it ("create", then
"submit", one event per transition, and a "return" note on an upward referral when the
patient is sent back down); what would happen after the end of the period is cut off, which
leaves a tail of open referrals. A few are placed on purpose so every worklist has something
in it: some submitted, accepted, scheduled, arrived and completed, and one downward referral
to the trusteeship hospital whose triage is overdue.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from medcircle.demo import cases as c
from medcircle.demo import facts
from medcircle.demo.world import (
    DemoConsent,
    DemoEvent,
    DemoPatient,
    DemoReferral,
    DemoUser,
    World,
)
from medcircle.patients.domain import make_national_id
from medcircle.referrals.domain import (
    Action,
    CareType,
    Direction,
    Status,
    Urgency,
    find_transition,
)
from medcircle.registry.domain import SPECIALTY_BY_CODE

UP_TOTAL = facts.REFERRALS_UP
DOWN_TOTAL = facts.REFERRALS_DOWN
# the length of the reported period: from the framework agreement to the report
SPAN_DAYS = (facts.COOPERATION_REPORTED - facts.FRAMEWORK_2015_SIGNED).days
REDIRECTS = 3
CHINA = timedelta(hours=8)
SYNTHETIC = "（示例）"

# Open referrals placed at the end of the period, by the state they are in then.
UP_TAIL: tuple[tuple[str, str, str], ...] = (
    ("submitted", "BD-TX-H", "BCH"),
    ("submitted", "BDCH", "BCH"),
    ("submitted", "BD-TX-H", "BCH"),
    ("accepted", "BDCH", "BCH"),
    ("scheduled", "BD-TX-H", "BCH"),
    ("scheduled", "BDCH", "BCH"),
    ("scheduled", "BD-TX-H", "BCH"),
    ("arrived", "BDCH", "BCH"),
    ("arrived", "BD-TX-H", "BCH"),
    ("completed", "BD-TX-H", "BCH"),
    ("completed", "BDCH", "BCH"),
)
DOWN_TAIL: tuple[tuple[str, str, str], ...] = (
    ("stalled", "BDCH", "BCH"),
    ("submitted", "BD-TX-H", "BCH"),
    ("submitted", "BDCH", "BCH"),
    ("accepted", "BDCH", "BCH"),
    ("scheduled", "BD-TX-H", "BCH"),
    ("scheduled", "BDCH", "BCH"),
    ("arrived", "BDCH", "BCH"),
    ("completed", "BD-TX-H", "BCH"),
)
# how history referrals end (weights); redirects are placed apart
OUTCOMES: tuple[tuple[str, int], ...] = (
    ("complete", 82),
    ("decline", 5),
    ("no_show", 4),
    ("cancel_submitted", 2),
    ("cancel_accepted", 2),
    ("cancel_scheduled", 3),
)
# completed upward referrals the Beijing side sends back down (the rest stay or go elsewhere)
RETURN_SHARE = 0.8
# hem-onc and surgical children the Beijing side answers with a plan carried out locally
LOCAL_PLAN_CASES = frozenset({"all", "wilms", "aplastic"})
LOCAL_PLAN_SHARE = 0.3
WITHDRAWN_CONSENTS = 2


def cutoff_of(as_of: date) -> datetime:
    """The end of the demo period: midnight China time at the start of ``as_of``."""
    return datetime.combine(as_of, time(0), tzinfo=UTC) - CHINA


def china_date(at: datetime) -> date:
    return (at + CHINA).date()


def county_hospital(county_code: str) -> str:
    return f"BD-{facts.COUNTY_TAGS[county_code]}-H"


COUNTY_OF_HOSPITAL: dict[str, str] = {
    county_hospital(k.code): k.code for k in facts.BAODING_COUNTIES
}
# where the patients of the city hospitals live (the districts of the city count three times)
RESIDENCE_WEIGHTS: dict[str, int] = {
    k.code: k.weight * (3 if k.urban else 1) for k in facts.BAODING_COUNTIES
}


# --- the network, as the referral service judges it ---------------------------------------


def in_network(world: World, a: str, b: str, on: date) -> bool:
    """Whether ``a`` and ``b`` share an alliance on ``on``, or a cooperation agreement in
    force binds them or their alliances' leads (the rule of ``referrals.service.in_network``,
    on the world's rows)."""

    def alliances(code: str) -> set[str]:
        led = {al.code for al in world.alliances if al.lead == code}
        member = {
            m.alliance
            for m in world.members
            if m.institution == code and m.joined_on <= on and (m.left_on is None or m.left_on > on)
        }
        return led | member

    alliances_a, alliances_b = alliances(a), alliances(b)
    if alliances_a & alliances_b:
        return True
    side_a = {a} | {al.lead for al in world.alliances if al.code in alliances_a}
    side_b = {b} | {al.lead for al in world.alliances if al.code in alliances_b}
    for ag in world.agreements:
        pair = (ag.supporting, ag.supported)
        if not (
            (pair[0] in side_a and pair[1] in side_b) or (pair[0] in side_b and pair[1] in side_a)
        ):
            continue
        if ag.starts_on <= on <= ag.ends_on and (ag.terminated_on is None or ag.terminated_on > on):
            return True
    return False


# --- the staff who act in the histories ---------------------------------------------------


def acting_users(world: World) -> dict[str, str]:
    """The account that sends and triages referrals for each institution (a clinician)."""
    out: dict[str, str] = {}
    for u in world.users:
        if "clinician" in u.roles and u.institution not in out:
            out[u.institution] = u.username
    return out


def institutions_in_referrals() -> list[str]:
    codes: list[str] = []
    for route in c.UP_ROUTES + c.DOWN_ROUTES:
        for code in (route.beijing, route.local):
            if code == c.COUNTY:
                codes.extend(county_hospital(k.code) for k in facts.BAODING_COUNTIES)
            else:
                codes.append(code)
    return list(dict.fromkeys(codes))


def staff(world: World, rng: random.Random) -> None:
    """One clinician account (not printed) at every institution that sends or receives
    referrals and has no demo login of its own, linked to one of its doctors."""
    have = acting_users(world)
    for code in institutions_in_referrals():
        if code in have:
            continue
        doctors = [
            p
            for p in world.practitioners
            if p.institution == code and p.key not in {u.practitioner for u in world.users}
        ]
        doctor = rng.choice(doctors)
        world.users.append(
            DemoUser(
                username=f"{code.lower()}.doctor",
                display_name=doctor.name_zh,
                institution=code,
                roles=("clinician",),
                locale="zh_Hans",
                practitioner=doctor.key,
                created_on=facts.PAIRINGS_START,
                listed=False,
            )
        )


# --- building one referral's life ---------------------------------------------------------


@dataclass
class Step:
    at: datetime
    action: str
    # None: the state does not change (the "return" note)
    to: Status | None
    actor: str | None
    institution: str | None
    note: str | None = None
    detail: dict[str, str | bool] = field(default_factory=dict)
    changes: dict[str, Any] = field(default_factory=dict)
    # the referral this step names (redirected to or from, sent back down as)
    link: Draft | None = None


@dataclass(eq=False)
class Draft:
    """A referral before it gets its reference and is cut at the end of the period."""

    direction: Direction
    case: c.Case
    urgency: Urgency
    care_type: CareType
    patient: DemoPatient
    consent: DemoConsent | None
    sender: str
    sender_specialty: str
    receiver: str
    receiver_specialty: str
    sender_user: str
    receiver_user: str
    outside_network: bool
    outside_network_reason: str | None
    reason: str
    summary: str
    parent: Draft | None = None
    redirected_to: Draft | None = None
    steps: list[Step] = field(default_factory=list)
    reference: str = ""

    @property
    def start(self) -> datetime:
        return self.steps[0].at

    def step_of(self, action: Action | str) -> Step | None:
        found = [s for s in self.steps if s.action == action]
        return found[-1] if found else None


def _hours(rng: random.Random, low: float, high: float) -> timedelta:
    return timedelta(minutes=round(rng.uniform(low, high) * 60))


def _minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def _at_work(day: date, rng: random.Random) -> datetime:
    """A moment of the working day ``day`` (08:00–17:00 China time)."""
    return datetime.combine(day, time(0), tzinfo=UTC) + timedelta(minutes=rng.randrange(540))


def _slot(day: date, rng: random.Random) -> datetime:
    """An appointment slot on ``day``: 08:00–15:30 China time, on the half hour."""
    return datetime.combine(day, time(0), tzinfo=UTC) + timedelta(minutes=30 * rng.randrange(16))


TRIAGE_HOURS: dict[Urgency, tuple[float, float]] = {
    Urgency.EMERGENCY: (0.1, 0.8),
    Urgency.URGENT: (1.0, 20.0),
    # within a day less than the limit: open on the day of loading, none overdue but one
    Urgency.ROUTINE: (3.0, 40.0),
}
WAIT_DAYS: dict[Urgency, tuple[int, int]] = {
    Urgency.EMERGENCY: (0, 0),
    Urgency.URGENT: (1, 6),
    Urgency.ROUTINE: (6, 32),
}
STAY_DAYS: dict[CareType, tuple[float, float]] = {
    CareType.OUTPATIENT: (0.05, 0.25),
    CareType.ADMISSION: (3.0, 21.0),
    CareType.TRANSFER: (5.0, 26.0),
}


def _place(institution: str, specialty: str, care: CareType, world: World) -> str:
    inst = world.institution(institution)
    dept = SPECIALTY_BY_CODE[specialty].name_en
    if care == CareType.OUTPATIENT:
        return f"{inst.name_en}, outpatient building, {dept} clinic"
    return f"{inst.name_en}, admissions desk of {dept}"


def live(
    d: Draft,
    start: datetime,
    outcome: str,
    rng: random.Random,
    world: World,
    *,
    min_close_days: float = 0.1,
) -> None:
    """Write the steps of ``d`` from ``start`` towards ``outcome`` (whole life, not yet cut)."""
    send, recv = (d.sender_user, d.sender), (d.receiver_user, d.receiver)
    t = start
    d.steps.append(Step(t, "create", Status.DRAFT, *send))
    d.steps.append(Step(t, Action.SUBMIT, Status.SUBMITTED, *send, changes={"submitted_at": t}))
    if outcome == "stalled":
        return
    low, high = TRIAGE_HOURS[d.urgency]
    if outcome == "cancel_submitted":
        t += _hours(rng, low, high)
        reason = rng.choice(c.CANCEL_REASONS)
        d.steps.append(
            Step(t, Action.CANCEL, Status.CANCELLED, *send, note=reason,
                 changes={"cancel_reason": reason})
        )  # fmt: skip
        return
    t += _hours(rng, low, high)
    triage = {"triaged_at": t, "triaged_by": d.receiver_user}
    if outcome in ("decline", "redirect"):
        reason = rng.choice(c.DECLINE_REASONS if outcome == "decline" else c.REDIRECT_REASONS)
        action, state = (
            (Action.DECLINE, Status.DECLINED)
            if outcome == "decline"
            else (Action.REDIRECT, Status.REDIRECTED)
        )
        d.steps.append(
            Step(t, action, state, *recv, note=reason,
                 changes=triage | {"decision_reason": reason})
        )  # fmt: skip
        t += _hours(rng, 2, 96)
        d.steps.append(Step(t, Action.CLOSE, Status.CLOSED, *send, changes={"closed_at": t}))
        return
    d.steps.append(Step(t, Action.ACCEPT, Status.ACCEPTED, *recv, changes=triage))
    if outcome == "cancel_accepted":
        t += _hours(rng, 4, 72)
        reason = rng.choice(c.CANCEL_REASONS)
        d.steps.append(
            Step(t, Action.CANCEL, Status.CANCELLED, *send, note=reason,
                 changes={"cancel_reason": reason})
        )  # fmt: skip
        return
    t += _hours(rng, 0.2, 3) if d.urgency == Urgency.EMERGENCY else _hours(rng, 0.5, 30)
    place = _place(d.receiver, d.receiver_specialty, d.care_type, world)
    bring = rng.choice(c.WHAT_TO_BRING)
    if d.urgency == Urgency.EMERGENCY:
        appointment = t + _hours(rng, 1, 4)
    else:
        lo, hi = WAIT_DAYS[d.urgency]
        if d.receiver == facts.BEIJING_CHILDRENS and d.urgency == Urgency.ROUTINE:
            lo, hi = lo + 4, hi + 8
        day = china_date(t) + timedelta(days=rng.randint(max(lo, 1), hi))
        appointment = _slot(day, rng)
    d.steps.append(
        Step(
            t,
            Action.SCHEDULE,
            Status.SCHEDULED,
            *recv,
            detail={"appointment_at": appointment.isoformat(), "appointment_place": place},
            changes={
                "appointment_at": appointment,
                "appointment_place": place,
                "what_to_bring": bring,
            },
        )
    )
    if d.urgency == Urgency.ROUTINE and rng.random() < 0.12:
        t = _minute(t + (appointment - t) * rng.uniform(0.2, 0.7))
        previous = appointment
        appointment = _slot(china_date(appointment) + timedelta(days=rng.randint(2, 9)), rng)
        d.steps.append(
            Step(
                t,
                Action.RESCHEDULE,
                Status.SCHEDULED,
                *recv,
                detail={
                    "previous_appointment_at": previous.isoformat(),
                    "appointment_at": appointment.isoformat(),
                    "appointment_place": place,
                },
                changes={"appointment_at": appointment},
            )
        )
    if outcome == "cancel_scheduled":
        t = _minute(t + (appointment - t) * rng.uniform(0.2, 0.8))
        reason = rng.choice(c.CANCEL_REASONS)
        d.steps.append(
            Step(t, Action.CANCEL, Status.CANCELLED, *send, note=reason,
                 changes={"cancel_reason": reason})
        )  # fmt: skip
        return
    if outcome == "no_show":
        t = appointment + _hours(rng, 2.5, 30)
        d.steps.append(Step(t, Action.NO_SHOW, Status.NO_SHOW, *recv))
        t += _hours(rng, 2, 120)
        d.steps.append(Step(t, Action.CLOSE, Status.CLOSED, *send, changes={"closed_at": t}))
        return
    t = max(t + timedelta(minutes=10), appointment + timedelta(minutes=rng.randint(-20, 40)))
    d.steps.append(Step(t, Action.ARRIVE, Status.ARRIVED, *recv, changes={"arrived_at": t}))
    lo_stay, hi_stay = STAY_DAYS[d.care_type]
    t += timedelta(minutes=round(rng.uniform(lo_stay, hi_stay) * 1440))
    local_plan = (
        d.direction == Direction.UP
        and d.case.key in LOCAL_PLAN_CASES
        and d.sender == facts.BAODING_CHILDRENS
        and rng.random() < LOCAL_PLAN_SHARE
    )
    summary = d.case.outcome
    d.steps.append(
        Step(
            t,
            Action.COMPLETE,
            Status.COMPLETED,
            *recv,
            note=summary,
            detail={"local_plan": local_plan},
            changes={"completed_at": t, "outcome_summary": summary, "local_plan": local_plan},
        )
    )
    t += timedelta(minutes=round(rng.uniform(max(min_close_days, 0.08), 10) * 1440))
    d.steps.append(Step(t, Action.CLOSE, Status.CLOSED, *send, changes={"closed_at": t}))


def shift(d: Draft, delta: timedelta) -> None:
    for s in d.steps:
        s.at += delta
        for key, value in list(s.changes.items()):
            if isinstance(value, datetime):
                s.changes[key] = value + delta
        for key, value in list(s.detail.items()):
            if key.endswith("_at") and isinstance(value, str):
                s.detail[key] = (datetime.fromisoformat(value) + delta).isoformat()


TAIL_TARGETS: dict[str, Action] = {
    "submitted": Action.SUBMIT,
    "stalled": Action.SUBMIT,
    "accepted": Action.ACCEPT,
    "scheduled": Action.SCHEDULE,
    "arrived": Action.ARRIVE,
    "completed": Action.COMPLETE,
}


def tail_shift(d: Draft, state: str, cutoff: datetime, rng: random.Random) -> timedelta:
    """How far to move ``d`` so that the end of the period finds it in ``state``."""
    steps = d.steps
    i = max(k for k, s in enumerate(steps) if s.action == TAIL_TARGETS[state])
    t_state = steps[i].at
    if state == "stalled":
        return cutoff - (t_state + timedelta(days=5, hours=rng.randint(0, 20)))
    # (every step falls on a whole minute, so the shifts are whole minutes too)
    gap = steps[i + 1].at - t_state
    margin = timedelta(hours=26)
    point = t_state + gap * rng.uniform(0.25, 0.6)
    if state == "submitted":
        point = min(point, t_state + timedelta(hours=rng.uniform(1, 30)))
    if gap <= margin or state in ("submitted", "accepted"):
        return timedelta(minutes=math.floor((cutoff - point) / timedelta(minutes=1)))
    # whole days keep appointments on their slots: the next step stays after the cut
    point = min(point, t_state + gap - margin)
    return timedelta(days=math.floor((cutoff - point) / timedelta(days=1)))


# --- people -------------------------------------------------------------------------------


def _name(rng: random.Random) -> str:
    surname, _ = rng.choice(facts.SURNAMES)
    chars = rng.sample(facts.GIVEN_CHARS, rng.choice((1, 2, 2)))
    return surname + "".join(ch for ch, _ in chars)


def _mobile(rng: random.Random) -> str:
    return f"1{rng.choice('3589')}{rng.randrange(10**9):09d}"


class People:
    """Makes synthetic patients with valid, unique ID numbers."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.ids: set[str] = set()
        self.count = 0

    def patient(self, case: c.Case, institution: str, residence: str, at: datetime) -> DemoPatient:
        rng = self.rng
        self.count += 1
        day = china_date(at)
        lo, hi = case.ages
        if hi == 0:
            born = day - timedelta(days=rng.randint(0, 20))
        else:
            born = day - timedelta(days=rng.randint(lo * 365 + 30, hi * 365 + 330))
        male = rng.random() < (0.55 if case.child else 0.5)
        while True:
            seq = rng.randrange(500) * 2 + (1 if male else 0)
            number = make_national_id(residence, born, seq)
            if number not in self.ids:
                self.ids.add(number)
                break
        name = _name(rng)
        guardian = relation = guardian_phone = None
        phone: str | None = _mobile(rng)
        if case.child:
            relation = rng.choices(("mother", "father", "grandparent"), weights=(55, 35, 10))[0]
            guardian_surname = name[0] if relation != "mother" else _name(rng)[0]
            guardian = guardian_surname + _name(rng)[1:] + SYNTHETIC
            guardian_phone, phone = phone, None
        registered = at - timedelta(minutes=rng.randint(30, 60 * 24 * 20))
        return DemoPatient(
            key=f"P-{self.count:05d}",
            institution=institution,
            name=name + SYNTHETIC,
            sex="male" if male else "female",
            birth_date=born,
            national_id=number,
            phone=phone,
            residence_division_code=residence,
            guardian_name=guardian,
            guardian_relation=relation,
            guardian_phone=guardian_phone,
            registered_at=registered,
        )


# --- the step -------------------------------------------------------------------------------


class Builder:
    def __init__(self, world: World, rng: random.Random) -> None:
        self.world = world
        self.rng = rng
        self.cutoff = cutoff_of(world.as_of)
        self.start = self.cutoff - timedelta(days=SPAN_DAYS)
        self.users = acting_users(world)
        self.people = People(rng)
        self.consents: list[DemoConsent] = []
        self.departments = {(d.institution, d.specialty_code) for d in world.departments}

    # choices --------------------------------------------------------------------------------

    def local_specialty(self, institution: str, case: c.Case) -> str:
        for spec in case.local:
            if (institution, spec) in self.departments:
                return spec
        fallback = "ped_respiratory" if case.child else "general_practice"
        if (institution, fallback) in self.departments:
            return fallback
        return sorted(s for i, s in self.departments if i == institution)[0]

    def residence(self, local: str) -> str:
        if local in COUNTY_OF_HOSPITAL:
            return COUNTY_OF_HOSPITAL[local]
        if local == "BD2C" and self.rng.random() < 0.7:
            return "130681"
        codes = list(RESIDENCE_WEIGHTS)
        return self.rng.choices(codes, weights=list(RESIDENCE_WEIGHTS.values()))[0]

    def county(self) -> str:
        counties = facts.BAODING_COUNTIES
        chosen = self.rng.choices(counties, weights=[k.weight for k in counties])[0]
        return county_hospital(chosen.code)

    def route(self, routes: tuple[c.Route, ...]) -> tuple[str, str, c.Case]:
        route = self.rng.choices(routes, weights=[r.weight for r in routes])[0]
        local = self.county() if route.local == c.COUNTY else route.local
        case = c.CASE_BY_KEY[self.rng.choice(route.cases)]
        return local, route.beijing, case

    def urgency(self, case: c.Case) -> Urgency:
        return self.rng.choices(
            (Urgency.EMERGENCY, Urgency.URGENT, Urgency.ROUTINE), weights=case.urgency
        )[0]

    def care(self, case: c.Case) -> CareType:
        return self.rng.choices(
            (CareType.OUTPATIENT, CareType.ADMISSION, CareType.TRANSFER), weights=case.care
        )[0]

    def history_start(self) -> datetime:
        # more referrals as the cooperation grows: density rising over the period
        usable = SPAN_DAYS - 14
        day = self.start.date() + timedelta(days=int(usable * math.sqrt(self.rng.random())))
        return _at_work(day + timedelta(days=1), self.rng)

    def network(self, sender: str, receiver: str, at: datetime) -> tuple[bool, str | None]:
        inside = in_network(self.world, sender, receiver, china_date(at))
        # drawn either way, so the random stream does not depend on the dates
        why = self.rng.choice(c.OUTSIDE_NETWORK_REASONS)
        return (not inside), (None if inside else why)

    def consent(
        self, patient: DemoPatient, receiver: str, recorded_by: str, at: datetime
    ) -> DemoConsent:
        rng = self.rng
        given_at = at - timedelta(minutes=rng.randint(5, 120))
        valid = None if rng.random() < 0.3 else china_date(at) + timedelta(days=365)
        consent = DemoConsent(
            key=f"C-{len(self.consents) + 1:05d}",
            patient=patient.key,
            receiving_institution=receiver,
            purpose="referral",
            given_by="guardian" if patient.guardian_name else "patient",
            given_by_name=patient.guardian_name or patient.name,
            given_at=given_at,
            valid_until=valid,
            recorded_by=recorded_by,
        )
        self.consents.append(consent)
        return consent

    # drafts ---------------------------------------------------------------------------------

    def draft(
        self,
        direction: Direction,
        local: str,
        beijing: str,
        case: c.Case,
        at: datetime,
        *,
        urgency: Urgency | None = None,
        care: CareType | None = None,
    ) -> Draft:
        up = direction == Direction.UP
        sender, receiver = (local, beijing) if up else (beijing, local)
        local_spec = self.local_specialty(local, case)
        sender_spec, receiver_spec = (
            (local_spec, case.specialty) if up else (case.specialty, local_spec)
        )
        patient = self.people.patient(case, sender, self.residence(local), at)
        outside, why = self.network(sender, receiver, at)
        consent = self.consent(patient, receiver, self.users[sender], at)
        reason = case.reason if up else case.follow_up
        summary = case.summary if up else case.outcome
        return Draft(
            direction=direction,
            case=case,
            urgency=urgency or (self.urgency(case) if up else Urgency.ROUTINE),
            care_type=care or (self.care(case) if up else self.down_care()),
            patient=patient,
            consent=consent,
            sender=sender,
            sender_specialty=sender_spec,
            receiver=receiver,
            receiver_specialty=receiver_spec,
            sender_user=self.users[sender],
            receiver_user=self.users[receiver],
            outside_network=outside,
            outside_network_reason=why,
            reason=reason,
            summary=summary,
        )

    def move(self, d: Draft, delta: timedelta) -> None:
        """Move a whole draft in time, with its patient and consent."""
        shift(d, delta)
        p = d.patient
        born = p.birth_date + timedelta(days=delta.days)
        self.people.ids.discard(p.national_id)
        seq = int(p.national_id[14:17])
        number = make_national_id(p.residence_division_code, born, seq)
        while number in self.people.ids:
            seq = (seq + 2) % 1000
            number = make_national_id(p.residence_division_code, born, seq)
        self.people.ids.add(number)
        d.patient = replace(
            p, birth_date=born, national_id=number, registered_at=p.registered_at + delta
        )
        if d.consent is not None:
            old = d.consent
            new = replace(
                old,
                given_at=old.given_at + delta,
                valid_until=old.valid_until + timedelta(days=delta.days)
                if old.valid_until
                else None,
            )
            self.consents[self.consents.index(old)] = new
            d.consent = new
        d.outside_network, d.outside_network_reason = self.network(d.sender, d.receiver, d.start)

    def down_care(self) -> CareType:
        return self.rng.choices((CareType.OUTPATIENT, CareType.ADMISSION), weights=(8, 2))[0]

    def redirect_child(self, original: Draft) -> Draft:
        step = original.step_of(Action.REDIRECT)
        assert step is not None and original.case.redirect is not None
        target, spec = original.case.redirect
        receiver = target or original.receiver
        consent = original.consent
        if receiver != original.receiver:
            consent = self.consent(original.patient, receiver, original.sender_user, step.at)
        outside, _ = self.network(original.sender, receiver, step.at)
        child = Draft(
            direction=original.direction,
            case=original.case,
            urgency=original.urgency,
            care_type=original.care_type,
            patient=original.patient,
            consent=consent,
            sender=original.sender,
            sender_specialty=original.sender_specialty,
            receiver=receiver,
            receiver_specialty=spec,
            sender_user=original.sender_user,
            receiver_user=self.users[receiver],
            outside_network=outside,
            outside_network_reason=(original.outside_network_reason or step.note)
            if outside
            else None,
            reason=original.reason,
            summary=original.summary,
            parent=original,
        )
        original.redirected_to = child
        live(child, step.at, "complete", self.rng, self.world)
        # the redirecting triager acts for the sender in the new referral's first steps
        for s in child.steps[:2]:
            s.actor, s.institution = original.receiver_user, original.receiver
            s.link = original
        step.link = child
        return child

    def return_of(self, up: Draft) -> Draft | None:
        done = up.step_of(Action.COMPLETE)
        if done is None or done.changes.get("local_plan") or done.at > self.cutoff:
            return None
        at = done.at + _hours(self.rng, 0.5, 72)
        if at > self.cutoff:
            return None
        outside, _ = self.network(up.receiver, up.sender, at)
        ret = Draft(
            direction=Direction.DOWN,
            case=up.case,
            urgency=Urgency.ROUTINE,
            care_type=self.down_care(),
            patient=up.patient,
            consent=None,
            sender=up.receiver,
            sender_specialty=up.receiver_specialty,
            receiver=up.sender,
            receiver_specialty=up.sender_specialty,
            sender_user=up.receiver_user,
            receiver_user=up.sender_user,
            outside_network=outside,
            outside_network_reason=(
                "Back to the hospital that referred the patient, for follow-up."
                if outside
                else None
            ),
            reason="{parent}: " + up.case.follow_up,
            summary=up.case.outcome,
            parent=up,
        )
        live(ret, at, self.outcome(), self.rng, self.world)
        up.steps.append(Step(at, "return", None, up.receiver_user, up.receiver, link=ret))
        up.steps.sort(key=lambda s: s.at)
        return ret

    def outcome(self) -> str:
        names = [n for n, _ in OUTCOMES]
        return self.rng.choices(names, weights=[w for _, w in OUTCOMES])[0]


def _tail(
    b: Builder, direction: Direction, state: str, local: str, beijing: str, at: datetime
) -> Draft:
    """A referral placed so that the end of the period finds it in ``state``."""
    route = next(r for r in c.UP_ROUTES if r.beijing == beijing and r.local == c.COUNTY)
    case = c.CASE_BY_KEY[b.rng.choice(route.cases)]
    quiet = state in ("submitted", "stalled", "accepted", "scheduled")
    d = b.draft(
        direction,
        local,
        beijing,
        case,
        at,
        urgency=Urgency.ROUTINE if quiet else None,
        care=CareType.ADMISSION if state == "arrived" else None,
    )
    outcome = "stalled" if state == "stalled" else "complete"
    live(d, at, outcome, b.rng, b.world, min_close_days=3)
    b.move(d, tail_shift(d, state, b.cutoff, b.rng))
    return d


def build(world: World, rng: random.Random) -> list[Draft]:
    """Every referral of the world as drafts, ordered by their first step."""
    b = Builder(world, rng)
    ups: list[Draft] = []
    tail_at = b.cutoff - timedelta(days=60)
    for state, local, beijing in UP_TAIL:
        ups.append(_tail(b, Direction.UP, state, local, beijing, tail_at))
    redirectable = [
        r
        for r in c.UP_ROUTES
        if r.beijing == facts.BEIJING_CHILDRENS and any(c.CASE_BY_KEY[k].redirect for k in r.cases)
    ]
    for _ in range(REDIRECTS):
        route = rng.choice(redirectable)
        case = c.CASE_BY_KEY[rng.choice([k for k in route.cases if c.CASE_BY_KEY[k].redirect])]
        local = b.county() if route.local == c.COUNTY else route.local
        at = b.history_start()
        d = b.draft(Direction.UP, local, route.beijing, case, at)
        live(d, at, "redirect", rng, world)
        ups.append(d)
        ups.append(b.redirect_child(d))
    while len(ups) < UP_TOTAL:
        local, beijing, case = b.route(c.UP_ROUTES)
        at = b.history_start()
        d = b.draft(Direction.UP, local, beijing, case, at)
        live(d, at, b.outcome(), rng, world)
        ups.append(d)

    downs: list[Draft] = []
    # the tail's completed upward referrals wait for their way back down
    for up in ups[len(UP_TAIL) :]:
        if rng.random() < RETURN_SHARE:
            ret = b.return_of(up)
            if ret is not None:
                downs.append(ret)
    for state, local, beijing in DOWN_TAIL:
        downs.append(_tail(b, Direction.DOWN, state, local, beijing, tail_at))
    while len(downs) < DOWN_TOTAL:
        local, beijing, case = b.route(c.DOWN_ROUTES)
        at = b.history_start()
        d = b.draft(Direction.DOWN, local, beijing, case, at)
        live(d, at, b.outcome(), rng, world)
        downs.append(d)
    if len(downs) > DOWN_TOTAL:
        raise ValueError("more returns than downward referrals")

    drafts = sorted(ups + downs, key=lambda d: (d.start, d.direction, d.patient.key))
    for n, d in enumerate(drafts, start=1):
        d.reference = f"R-{china_date(d.start).year}-{n:06d}"
    world.consents.extend(_withdraw(b, drafts))
    return drafts


def _withdraw(b: Builder, drafts: list[Draft]) -> list[DemoConsent]:
    """The consents, a few withdrawn by the family after the referral was closed."""
    closed = {}
    for d in drafts:
        close = d.step_of(Action.CLOSE)
        if (
            d.consent is not None
            and close is not None
            and close.at < b.cutoff - timedelta(days=90)
            and d.redirected_to is None
            and d.consent.key not in closed
        ):
            closed[d.consent.key] = (d, close.at)
    chosen = set(b.rng.sample(sorted(closed), WITHDRAWN_CONSENTS))
    out = []
    for consent in b.consents:
        if consent.key in chosen:
            d, at = closed[consent.key]
            consent = DemoConsent(
                **{
                    **consent.__dict__,
                    "withdrawn_at": at + timedelta(days=b.rng.randint(5, 60)),
                    "withdrawn_by": d.sender_user,
                    "withdrawal_reason": "The family asked to stop sharing after the "
                    "treatment ended.",
                }
            )
        out.append(consent)
    return out


def fold(d: Draft, cutoff: datetime) -> DemoReferral:
    """The referral as it stands at ``cutoff``: its history up to then and what it says."""
    status: Status | None = None
    values: dict[str, Any] = {
        "submitted_at": None,
        "triaged_at": None,
        "triaged_by": None,
        "decision_reason": None,
        "appointment_at": None,
        "appointment_place": None,
        "what_to_bring": None,
        "arrived_at": None,
        "completed_at": None,
        "outcome_summary": None,
        "local_plan": False,
        "closed_at": None,
        "cancel_reason": None,
    }
    events: list[DemoEvent] = []
    for s in sorted(d.steps, key=lambda s: s.at):
        if s.at > cutoff:
            break
        before = status
        if s.to is not None and s.action != "create":
            assert before is not None
            t = find_transition(before, Action(s.action))
            if t is None or t.target != s.to:
                raise ValueError(f"{s.action} is not allowed from {before}")
        after = s.to or before
        assert after is not None
        detail = dict(s.detail)
        if s.link is not None:
            key = {Action.REDIRECT: "redirected_to", "return": "reference"}.get(
                s.action, "redirected_from"
            )
            detail[key] = s.link.reference
        events.append(
            DemoEvent(
                at=s.at,
                action=str(s.action),
                from_status=None if before is None else before.value,
                to_status=after.value,
                actor=s.actor,
                actor_institution=s.institution,
                note=s.note,
                detail=tuple(sorted(detail.items())),
            )
        )
        status = after
        values.update(s.changes)
    assert status is not None
    parent = d.parent.reference if d.parent else None
    return DemoReferral(
        reference=d.reference,
        direction=d.direction.value,
        status=status.value,
        urgency=d.urgency.value,
        care_type=d.care_type.value,
        patient=d.patient.key,
        consent=d.consent.key if d.consent else None,
        sender=d.sender,
        sender_specialty=d.sender_specialty,
        sender_user=d.sender_user,
        receiver=d.receiver,
        receiver_specialty=d.receiver_specialty,
        icd10_code=d.case.icd10,
        diagnosis=d.case.diagnosis,
        reason=d.reason.format(parent=f"Follow-up after referral {parent}"),
        clinical_summary=d.summary,
        outside_network=d.outside_network,
        outside_network_reason=d.outside_network_reason,
        parent=parent,
        redirected_to=(
            d.redirected_to.reference
            if d.redirected_to is not None and values["triaged_at"] is not None
            else None
        ),
        created_at=events[0].at,
        updated_at=events[-1].at,
        events=tuple(events),
        **values,
    )


def referrals(world: World, rng: random.Random) -> None:
    """Patients, consent and the 118 upward and 313 downward referrals with their histories."""
    drafts = build(world, rng)
    cutoff = cutoff_of(world.as_of)
    world.referrals.extend(fold(d, cutoff) for d in drafts)
    seen: dict[str, DemoPatient] = {}
    for d in drafts:
        seen.setdefault(d.patient.key, d.patient)
    world.patients.extend(sorted(seen.values(), key=lambda p: p.key))
