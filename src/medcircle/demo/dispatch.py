"""The demo's dispatch set-up: what a coordinator needs to plan the Baoding pairings' rosters.

For each specialty-support agreement with a Baoding hospital that runs on the demo day, the
supporting Beijing hospital's doctors of the agreement's specialties take part in dispatch (an
expert account for those who have none yet): most at 2 visit days a week, some 1 or 3, each with
one or two weekdays of home duty, some with named skills and a single duty day ahead. The
supported hospital's demand is approved: 1 to 2 visit days a week per specialty over the next
twelve weeks, a resident position in two specialties, special requests that need a named skill,
one request still waiting for the supporter's decision and one draft. Travel times are set for
the pairs (a train and a taxi beats the road estimate to Baoding; Zhuozhou is nearer by car).

``experts`` is a step of the generator (pure); ``load`` writes what it made.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from medcircle.demo import facts
from medcircle.demo.consultations import COORDINATOR_LOGIN
from medcircle.demo.world import (
    DemoAgreement,
    DemoDispatchDemand,
    DemoDispatchDuty,
    DemoDispatchProfile,
    DemoDispatchSkill,
    DemoTravelTime,
    DemoUser,
    World,
)
from medcircle.dispatch.models import (
    DispatchDemand,
    DispatchSkill,
    ExpertDuty,
    ExpertProfile,
    TravelTime,
)

# at most this many experts of one specialty take part
EXPERTS_PER_SPECIALTY = 8
# demand runs from next Monday for this many weeks
DEMAND_WEEKS = 12
BAODING_PREFIX = "1306"
# named skills of each specialty that special requests ask for
SKILLS: dict[str, tuple[str, ...]] = {
    "ped_hem_onc": ("bone marrow aspiration", "picc line", "intrathecal chemotherapy"),
    "neonatology": ("neonatal intubation", "picc line", "surfactant administration"),
    "ped_respiratory": ("flexible bronchoscopy", "bronchoalveolar lavage"),
    "ped_icu": ("ecmo", "paediatric difficult airway"),
    "orthopaedics": ("knee arthroscopy", "spinal fusion", "hip replacement"),
    "rehabilitation": ("spinal cord injury rehabilitation", "botulinum toxin injection"),
    "emergency": ("trauma resuscitation", "point-of-care ultrasound"),
}
# set travel times (supporting, supported, minutes one way, note)
TRAVEL: tuple[tuple[str, str, int, str], ...] = (
    ("BCH", "BDCH", 105, "高铁北京西—保定东，再乘出租车"),
    ("JSTH", "BD2C", 70, "京港澳高速，早高峰"),
)


def next_monday(d: date) -> date:
    return d + timedelta(days=7 - d.weekday())


def _last_day(a: DemoAgreement) -> date:
    end = min(a.ends_on, a.terminated_on) if a.terminated_on else a.ends_on
    return end - timedelta(days=1)


def baoding_pairings(world: World) -> list[DemoAgreement]:
    """The specialty agreements with a Baoding hospital (any date)."""
    return [
        a
        for a in world.agreements
        if a.specialties
        and a.kind != "trusteeship"
        and world.institution(a.supported).division_code.startswith(BAODING_PREFIX)
    ]


def running_pairings(world: World) -> list[DemoAgreement]:
    """The specialty agreements with a Baoding hospital that run on the demo day."""
    return [a for a in baoding_pairings(world) if a.starts_on <= world.as_of <= _last_day(a)]


def _acting(world: World, inst: str, role: str) -> str | None:
    """A user of ``inst`` with ``role`` (a demo login first), or None."""
    found = [u for u in world.users if u.institution == inst and role in u.roles]
    found.sort(key=lambda u: not u.listed)
    return found[0].username if found else None


def experts(world: World, rng: random.Random) -> None:
    """Dispatch profiles, skills, duty days, demand and travel times for the Baoding pairings
    (a generator step). The experts and their accounts do not depend on the demo day; the
    demand is that of the pairings running on it."""
    linked = {u.practitioner: u for u in world.users if u.practitioner}
    people: dict[tuple[str, str], list[str]] = {}
    for a in baoding_pairings(world):
        for spec in a.specialties:
            if (a.supporting, spec) not in people:
                people[(a.supporting, spec)] = _experts_of(world, rng, a.supporting, spec, linked)
    start = next_monday(world.as_of)
    for a in running_pairings(world):
        last = min(_last_day(a), start + timedelta(weeks=DEMAND_WEEKS) - timedelta(days=3))
        if last >= start:
            mine = {spec: people[(a.supporting, spec)] for spec in a.specialties}
            _demand(world, rng, a, start, last, mine)
    codes = {i.code for i in world.institutions}
    for origin, destination, minutes, note in TRAVEL:
        if origin in codes and destination in codes:
            world.travel_times.append(DemoTravelTime(origin, destination, minutes, note))


def _experts_of(
    world: World, rng: random.Random, inst: str, spec: str, linked: dict[str, DemoUser]
) -> list[str]:
    doctors = sorted(
        (p for p in world.practitioners if (p.institution, p.specialty_code) == (inst, spec)),
        key=lambda p: p.key,
    )
    chosen: list[str] = []
    n = 0
    for p in doctors:
        if len(chosen) >= EXPERTS_PER_SPECIALTY:
            break
        u = linked.get(p.key)
        if u is not None and "expert" not in u.roles:
            continue  # a clinician's own account stays as it is
        if u is None:
            n += 1
            u = DemoUser(
                username=f"{inst.lower()}.dispatch.{spec}.{n}",
                display_name=p.name_zh,
                institution=inst,
                roles=("expert",),
                locale="zh_Hans",
                practitioner=p.key,
                created_on=facts.PAIRINGS_START,
                listed=False,
            )
            world.users.append(u)
            linked[p.key] = u
        if any(x.user == u.username for x in world.dispatch_profiles):
            continue
        chosen.append(u.username)
        max_days = rng.choices((1, 2, 3), weights=(2, 7, 1))[0]
        duties = tuple(sorted(rng.sample(range(5), rng.choice((1, 1, 2)))))
        world.dispatch_profiles.append(
            DemoDispatchProfile(u.username, spec, max_days, duties, True)
        )
        skills = SKILLS.get(spec, ())
        if skills and rng.random() < 0.5:
            for skill in rng.sample(skills, rng.choice((1, 1, 2))):
                world.dispatch_skills.append(DemoDispatchSkill(u.username, skill))
        if rng.random() < 0.2:
            day = next_monday(world.as_of) + timedelta(days=rng.randrange(0, 7 * 4))
            if day.weekday() < 5 and day.weekday() not in duties:
                world.dispatch_duties.append(DemoDispatchDuty(u.username, day, "学术会议"))
    return chosen


def _demand(
    world: World,
    rng: random.Random,
    a: DemoAgreement,
    start: date,
    last: date,
    people: dict[str, list[str]],
) -> None:
    site_clerk = _acting(world, a.supported, "coordinator") or _acting(
        world, a.supported, "institution_admin"
    )
    decider = (
        COORDINATOR_LOGIN
        if a.supporting == facts.BEIJING_CHILDRENS
        else _acting(world, a.supporting, "coordinator")
    )
    asked_on = world.as_of - timedelta(days=14)
    decided_on = world.as_of - timedelta(days=7)
    specs = [s for s in a.specialties if people.get(s)]

    def add(spec: str, kind: str, status: str = "approved", **kw: Any) -> None:
        n = sum(1 for d in world.dispatch_demand if d.agreement == a.code) + 1
        values: dict[str, Any] = {
            "key": f"{a.code}-D{n:02d}",
            "agreement": a.code,
            "site": a.supported,
            "supporting": a.supporting,
            "specialty_code": spec,
            "kind": kind,
            "visits_per_week": None,
            "positions": None,
            "day": None,
            "skill": None,
            "starts_on": start,
            "ends_on": last,
            "note": None,
            "status": status,
            "created_by": site_clerk,
            "created_on": asked_on,
            "decided_by": decider if status in ("approved", "rejected") else None,
            "decided_on": decided_on if status in ("approved", "rejected") else None,
        }
        values.update(kw)
        world.dispatch_demand.append(DemoDispatchDemand(**values))

    for spec in specs:
        add(spec, "visits", visits_per_week=rng.choice((1, 2, 2)))
    for spec in specs[:2]:
        add(spec, "resident", positions=1, note="驻点担任科主任")
    # special requests for a skill some expert of the specialty has
    skilled = [
        (s.skill, spec) for spec in specs for s in world.dispatch_skills if s.user in people[spec]
    ]
    for skill, spec in sorted(set(skilled))[:2]:
        day = start + timedelta(days=7 + rng.randrange(0, 5))
        if day <= last:
            add(spec, "special", day=day, skill=skill, starts_on=day, ends_on=day, note="疑难病例")
    if specs:
        add(specs[-1], "visits", "submitted", visits_per_week=1, note="增加周五门诊")
        add(specs[0], "visits", "draft", visits_per_week=1)


# --- loading ----------------------------------------------------------------------------------


def _at(d: date) -> datetime:
    """09:00 China time on ``d``."""
    return datetime(d.year, d.month, d.day, 1, 0, tzinfo=UTC)


def load(session: Session, world: World, keys: Any) -> None:
    """Write the dispatch set-up of ``world`` (a load step)."""
    from medcircle.demo.service import core_insert

    users, insts = keys.users, keys.institutions
    stamped = _at(world.as_of - timedelta(days=14))
    core_insert(
        session,
        ExpertProfile,
        [
            {
                "user_id": users[p.user],
                "specialty_code": p.specialty_code,
                "max_days_per_week": p.max_days_per_week,
                "duty_weekdays": list(p.duty_weekdays),
                "is_active": p.is_active,
                "updated_at": stamped,
                "version": 1,
            }
            for p in world.dispatch_profiles
        ],
    )
    core_insert(
        session,
        DispatchSkill,
        [{"user_id": users[s.user], "skill": s.skill} for s in world.dispatch_skills],
    )
    core_insert(
        session,
        ExpertDuty,
        [
            {"user_id": users[d.user], "day": d.day, "reason": d.reason}
            for d in world.dispatch_duties
        ],
    )
    core_insert(
        session,
        DispatchDemand,
        [
            {
                "agreement_id": keys.agreements[d.agreement],
                "site_institution_id": insts[d.site],
                "supporting_institution_id": insts[d.supporting],
                "department_id": keys.departments.get((d.site, d.specialty_code)),
                "specialty_code": d.specialty_code,
                "kind": d.kind,
                "visits_per_week": d.visits_per_week,
                "positions": d.positions,
                "day": d.day,
                "skill": d.skill,
                "starts_on": d.starts_on,
                "ends_on": d.ends_on,
                "note": d.note,
                "status": d.status,
                "decided_by_user_id": users[d.decided_by] if d.decided_by else None,
                "decided_at": _at(d.decided_on) if d.decided_on else None,
                "decision_note": None,
                "created_by_user_id": users[d.created_by] if d.created_by else None,
                "created_at": _at(d.created_on),
                "updated_at": _at(d.decided_on or d.created_on),
                "version": {"draft": 1, "submitted": 2}.get(d.status, 3),
                "is_synthetic": True,
            }
            for d in world.dispatch_demand
        ],
    )
    core_insert(
        session,
        TravelTime,
        [
            {
                "origin_institution_id": insts[t.origin],
                "destination_institution_id": insts[t.destination],
                "minutes": t.minutes,
                "note": t.note,
                "set_by_user_id": None,
                "updated_at": stamped,
            }
            for t in world.travel_times
        ],
    )


__all__ = ["experts", "load", "running_pairings"]
