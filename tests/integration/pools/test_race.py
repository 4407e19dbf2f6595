"""Many allocators at once: units freed at the same moment, coordinators acting on the same unit
or offer at once, and a storm of threads doing everything a pool sees (freeing and taking out
units, listing, readiness, accepting, declining, expiring through the timer runner,
discharging, withdrawing, overriding), each on its own connection as several app processes
would. Refusals (409, 422) are expected and counted; afterwards every invariant is checked
from the database: a unit is never given to two patients, a patient never gets two units,
nothing is stuck and no event is lost.

PostgreSQL (row locks) on a database of its own whose rows are committed, so the threads
really are separate transactions. ``check_invariants`` and ``Storm`` serve the smaller SQLite
run (serialised writes) in ``test_race_sqlite.py`` too."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from medcircle.audit.models import AuditEvent
from medcircle.auth.domain import Actor
from medcircle.db import make_engine, make_session_factory, unit_of_work
from medcircle.kit import clock
from medcircle.kit.errors import Conflict, ValidationFailed
from medcircle.pools import service
from medcircle.pools import timers as _timers  # noqa: F401  (registers the expiry handler)
from medcircle.pools.models import (
    Admission,
    AllocationDecision,
    Offer,
    ResourceUnit,
    UnitEvent,
    WaitlistEntry,
)
from medcircle.pools.policy import Queue, Slot
from medcircle.pools.schemas import (
    DischargeIn,
    EntryClose,
    EntryCreate,
    EntryUpdate,
    OfferAccept,
    OfferDecline,
    OverrideIn,
    UnitStatusIn,
)
from medcircle.tasks import service as tasks
from medcircle.tasks.models import Timer
from tests import factories
from tests import referral_factories as rf
from tests.databases import own_database
from tests.pool_factories import listable_patient, pool_world, unit

pytestmark = pytest.mark.postgres_only

REASON = "Override for the storm: the clinical picture changed"
CLASSES = ("100", "1000")


# --- the world -------------------------------------------------------------------------------


@dataclass
class Race:
    engine: Engine
    factory: sessionmaker[Session]
    pool_id: int
    lead: Actor
    bd_coord: Actor
    team: Actor
    # BD-A, whose coordinator keeps its units (the lead keeps every unit)
    bd_a: int
    bd_ids: frozenset[int]
    # patients of BD-A with consent for the pool, listed or not
    patient_ids: list[int]
    initial_status: str = "maintenance"

    def keeper(self, u: ResourceUnit, rng: random.Random) -> Actor:
        """A coordinator who may set the unit's status (the lead, or BD-A's for its own)."""
        if u.institution_id == self.bd_a and rng.random() < 0.5:
            return self.bd_coord
        return self.lead


def build_race(url: str, *, threads: int, patients: int, listed: int) -> Race:
    """The pool with nine units over four hospitals (all in maintenance), ``patients``
    consenting patients of BD-A, the first ``listed`` of them on the waitlist."""
    engine = make_engine(url, pool_size=threads + 4, max_overflow=8)
    factory = make_session_factory(engine, writes=True)
    rng = random.Random(20251)
    with unit_of_work(factory) as session:
        world = factories.small_world(session)
        pw = pool_world(session, rf.referral_world(session, world))
        for inst, code, room_class in (
            (world.beijing, "BJ-100-3", "100"),
            (world.beijing2, "BJ2-100-1", "100"),
            (world.baoding, "BD-100-2", "100"),
            (world.baoding2, "BD2-100-1", "100"),
            (world.beijing, "BJ-1000-1", "1000"),
        ):
            u = unit(session, pw.pool, inst, code, room_class)
            u.status = "maintenance"
        session.flush()
        people = [listable_patient(session, pw).id for _ in range(patients)]
        race = Race(
            engine,
            factory,
            pw.pool.id,
            pw.lead,
            pw.bd_coord,
            pw.team,
            world.baoding.id,
            frozenset({world.baoding.id, world.baoding2.id}),
            people,
        )
        for pid in people[:listed]:
            service.list_patient(session, pw.team, pw.pool.id, random_entry(rng, race, pid))
    return race


def entry_for(
    patient_id: int,
    *,
    ready: bool = True,
    urgency: str = "critical",
    room_class: str = "100",
    sites: list[int] | None = None,
) -> EntryCreate:
    return EntryCreate.model_validate(
        {
            "patient_id": patient_id,
            "icd10_code": "C91.0",
            "transplant_type": "allogeneic_related",
            "room_class": room_class,
            "urgency": urgency,
            "donor_found": ready,
            "workup_done": ready,
            "acceptable_institution_ids": sites or [],
        }
    )


def random_entry(rng: random.Random, race: Race, patient_id: int) -> EntryCreate:
    room_class = "1000" if rng.random() < 0.15 else "100"
    # some teams accept only the Baoding hospitals (their own side)
    baoding_only = room_class == "100" and rng.random() < 0.3
    return entry_for(
        patient_id,
        ready=rng.random() < 0.6,
        urgency=rng.choices(["critical", "urgent", "routine"], weights=(1, 3, 6))[0],
        room_class=room_class,
        sites=sorted(race.bd_ids) if baoding_only else None,
    )


# --- the invariants -----------------------------------------------------------------------------


def check_invariants(race: Race, initial_status: str = "maintenance") -> dict[str, int]:
    """Every rule of the pool, from what the database holds; the counts of what was found."""
    with unit_of_work(race.factory) as s:
        pid = race.pool_id
        units = {
            u.id: u for u in s.scalars(select(ResourceUnit).where(ResourceUnit.pool_id == pid))
        }
        entries = {
            e.id: e for e in s.scalars(select(WaitlistEntry).where(WaitlistEntry.pool_id == pid))
        }
        offers = list(s.scalars(select(Offer).where(Offer.pool_id == pid).order_by(Offer.id)))
        admissions = list(s.scalars(select(Admission).where(Admission.pool_id == pid)))
        decisions = {
            d.id: d
            for d in s.scalars(select(AllocationDecision).where(AllocationDecision.pool_id == pid))
        }
        events = list(
            s.scalars(
                select(UnitEvent).where(UnitEvent.unit_id.in_(sorted(units))).order_by(UnitEvent.id)
            )
        )
        timers = list(
            s.scalars(
                select(Timer).where(
                    Timer.kind == service.TIMER_OFFER_EXPIRY, Timer.subject_type == "unit_offer"
                )
            )
        )
        audits = list(s.scalars(select(AuditEvent).where(AuditEvent.action.like("pool.%"))))

        open_offers = [o for o in offers if o.status == "open"]
        current = [a for a in admissions if a.discharged_at is None]
        per = Counter

        # a unit is never given to two patients: one open offer, one current admission at most
        assert max(per(o.unit_id for o in open_offers).values(), default=0) <= 1
        assert max(per(a.unit_id for a in current).values(), default=0) <= 1
        # a patient never gets two units: one open offer, one current admission per entry and
        # per patient; one live entry per patient
        assert max(per(o.entry_id for o in open_offers).values(), default=0) <= 1
        assert max(per(a.entry_id for a in current).values(), default=0) <= 1
        assert max(per(a.patient_id for a in current).values(), default=0) <= 1
        live = [e for e in entries.values() if e.status in ("waiting", "offered")]
        assert max(per(e.patient_id for e in live).values(), default=0) <= 1

        # offered entries <-> open offers; admitted entries <-> one admission each
        offered_entries = {e.id for e in entries.values() if e.status == "offered"}
        assert {o.entry_id for o in open_offers} == offered_entries
        by_entry = per(a.entry_id for a in admissions)
        for e in entries.values():
            assert by_entry.get(e.id, 0) == (1 if e.status == "admitted" else 0), e.id

        # occupied units <-> a current admission; an open offer only of a free unit
        occupied = {u.id for u in units.values() if u.status == "occupied"}
        assert {a.unit_id for a in current} == occupied
        for o in open_offers:
            assert units[o.unit_id].status == "free", o.id

        # admissions come from accepted offers of the same unit and entry, one each
        by_id = {o.id: o for o in offers}
        accepted = [o for o in offers if o.status == "accepted"]
        assert sorted(a.offer_id or 0 for a in admissions) == sorted(o.id for o in accepted)
        for a in admissions:
            o = by_id[a.offer_id or 0]
            assert (o.unit_id, o.entry_id) == (a.unit_id, a.entry_id)
            assert entries[a.entry_id].patient_id == a.patient_id

        # every offer has its decision, which chose that entry for that unit
        assert len({o.decision_id for o in offers}) == len(offers)
        assert {o.decision_id for o in offers} <= set(decisions)
        offered_by = {o.decision_id: o for o in offers}
        for d in decisions.values():
            o = offered_by.get(d.id)
            if d.chosen_entry_id is None:
                assert o is None and d.rule == "no_candidate", d.id
                continue
            assert o is not None, d.id
            assert (o.unit_id, o.entry_id) == (d.unit_id, d.chosen_entry_id)
            chosen = entries[d.chosen_entry_id]
            u = units[d.unit_id]
            assert chosen.room_class == u.room_class
            assert u.institution_id in chosen.acceptable_institution_ids
            if d.rule == "override":
                assert d.trigger == "override" and d.override_reason
            else:
                # the policy's own choice: first of the candidates it kept
                assert d.candidates and d.candidates[0]["entry_id"] == d.chosen_entry_id
                assert d.override_reason is None

        # no event lost: each unit's history is one unbroken chain ending in its status, and
        # a unit became occupied only from free, once per admission
        chains: dict[int, list[UnitEvent]] = {}
        for ev in events:
            chains.setdefault(ev.unit_id, []).append(ev)
        for uid, u in units.items():
            status = initial_status
            for ev in chains.get(uid, []):
                assert ev.from_status == status, (uid, ev.id, ev.from_status, status)
                if ev.to_status == "occupied":
                    assert ev.from_status == "free", (uid, ev.id)
                status = ev.to_status
            assert status == u.status, (uid, status, u.status)
        into_occupied = per(ev.unit_id for ev in events if ev.to_status == "occupied")
        assert dict(into_occupied) == dict(per(a.unit_id for a in admissions))

        # each offer has one expiry timer, pending while the offer is open (the timer of an
        # answered offer is left to run as a no-op: cancelling it would invert the lock order)
        pending = per(t.subject_id for t in timers if t.done_at is None)
        assert all(pending.get(o.id) == 1 for o in open_offers)
        assert per(t.subject_id for t in timers) == per(o.id for o in offers)

        # each successful write left its audit event (by the object it names)
        def audited(action: str, key: str) -> list[int]:
            return sorted(int(a.detail[key]) for a in audits if a.action == action)

        assert audited("pool.offer_accept", "offer_id") == sorted(o.id for o in accepted)
        for status, action in (
            ("declined", "pool.offer_decline"),
            ("expired", "pool.offer_expire"),
        ):
            want = sorted(o.id for o in offers if o.status == status)
            assert audited(action, "offer_id") == want, status
        withdrawing = {
            "pool.unit_status": "withdrawn_offer_id",
            "pool.entry_withdrawn": "offer_id",
            "pool.entry_removed": "offer_id",
            "pool.override": "displaced_offer_id",
        }
        withdrawn = sorted(
            int(a.detail[withdrawing[a.action]])
            for a in audits
            if a.action in withdrawing and a.detail.get(withdrawing[a.action]) is not None
        )
        assert withdrawn == sorted(o.id for o in offers if o.status == "withdrawn")
        assert audited("pool.discharge", "admission_id") == sorted(
            a.id for a in admissions if a.discharged_at is not None
        )
        assert audited("pool.override", "decision_id") == sorted(
            d.id for d in decisions.values() if d.rule == "override"
        )
        listed = sorted(int(a.object_id or 0) for a in audits if a.action == "pool.list")
        assert listed == sorted(entries)
        status_changes = sum(1 for a in audits if a.action == "pool.unit_status")
        discharges = sum(1 for a in audits if a.action == "pool.discharge")
        assert len(events) == status_changes + discharges + len(admissions)

        # nothing stuck: the policy run again on the final state gives nobody anything
        pool = s.get(service.ResourcePool, pid)
        assert pool is not None
        free = service._free_units(s, pid)
        declined = service._declined_since_free(s, free)
        queue = Queue(
            service.waiting_candidates(s, pid, declined),
            service.today_of(clock.now()),
            service.settings_of(pool),
        )
        for u in free:
            d = queue.decide(Slot(u.id, u.institution_id, u.room_class))
            assert d.chosen is None, (u.id, d.chosen)

        return {
            "units": len(units),
            "entries": len(entries),
            "offers": len(offers),
            "open_offers": len(open_offers),
            "admissions": len(admissions),
            "current_admissions": len(current),
            "decisions": len(decisions),
            "unit_events": len(events),
            "audit_events": len(audits),
        }


# --- what the threads do ----------------------------------------------------------------------


@dataclass
class Tally:
    done: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ok(self, op: str) -> None:
        with self.lock:
            self.done[op] += 1

    def no(self, op: str, code: str) -> None:
        with self.lock:
            self.refused[f"{op}:{code}"] += 1

    def failed(self, op: str, exc: BaseException) -> None:
        with self.lock:
            self.errors.append(f"{op}: {type(exc).__name__}: {exc}"[:400])


class Storm:
    """Random operations of every kind on the pool, each in its own transaction."""

    def __init__(self, race: Race, tally: Tally) -> None:
        self.race = race
        self.tally = tally
        self.ops: list[tuple[str, int, Callable[[Session, random.Random], bool]]] = [
            ("free", 14, self.free),
            ("take_out", 5, self.take_out),
            ("list", 5, self.list_one),
            ("readiness", 8, self.readiness),
            ("accept", 8, self.accept),
            ("decline", 10, self.decline),
            ("expire", 6, self.expire),
            ("discharge", 8, self.discharge),
            ("withdraw", 3, self.withdraw),
            ("override", 3, self.override),
            ("allocate", 2, self.allocate),
        ]

    def run(self, seed: int, until: float) -> None:
        rng = random.Random(seed)
        weights = [w for _, w, _ in self.ops]
        while time.monotonic() < until:
            name, _, op = rng.choices(self.ops, weights=weights)[0]
            self.one(name, op, rng)

    def one(
        self, name: str, op: Callable[[Session, random.Random], bool], rng: random.Random
    ) -> None:
        session = self.race.factory()
        try:
            acted = op(session, rng)
            session.commit()
            if acted:
                self.tally.ok(name)
        except (Conflict, ValidationFailed) as exc:
            session.rollback()
            self.tally.no(name, exc.code)
        except Exception as exc:
            session.rollback()
            self.tally.failed(name, exc)
        finally:
            session.close()

    # --- reading what to act on (it may have changed by the time the service runs) -------------

    def _units(self, s: Session, *statuses: str) -> list[ResourceUnit]:
        q = select(ResourceUnit).where(ResourceUnit.pool_id == self.race.pool_id)
        if statuses:
            q = q.where(ResourceUnit.status.in_(statuses))
        return list(s.scalars(q))

    def _entries(self, s: Session, *statuses: str) -> list[WaitlistEntry]:
        return list(
            s.scalars(
                select(WaitlistEntry).where(
                    WaitlistEntry.pool_id == self.race.pool_id, WaitlistEntry.status.in_(statuses)
                )
            )
        )

    def _open_offers(self, s: Session) -> list[Offer]:
        return list(
            s.scalars(
                select(Offer).where(Offer.pool_id == self.race.pool_id, Offer.status == "open")
            )
        )

    # --- the operations -------------------------------------------------------------------------

    def free(self, s: Session, rng: random.Random) -> bool:
        units = self._units(s, "cleaning", "maintenance", "free")
        if not units:
            return False
        u = rng.choice(units)
        service.set_unit_status(
            s, self.race.keeper(u, rng), u.id, UnitStatusIn(version=u.version, status="free")
        )
        return True

    def take_out(self, s: Session, rng: random.Random) -> bool:
        units = self._units(s, "free", "cleaning")
        if not units:
            return False
        u = rng.choice(units)
        status = rng.choice(["cleaning", "maintenance"])
        service.set_unit_status(
            s,
            self.race.keeper(u, rng),
            u.id,
            UnitStatusIn(
                version=u.version,
                status=status,
                expected_free_on=clock.today() + timedelta(days=2),
                note="taken out in the storm",
            ),
        )
        return True

    def list_one(self, s: Session, rng: random.Random) -> bool:
        # a patient with no entry, or whose entries were all withdrawn
        busy = set(
            s.scalars(
                select(WaitlistEntry.patient_id).where(
                    WaitlistEntry.pool_id == self.race.pool_id,
                    WaitlistEntry.status.in_(["waiting", "offered", "admitted"]),
                )
            )
        )
        free = [p for p in self.race.patient_ids if p not in busy]
        if not free:
            return False
        entry = service.list_patient(
            s, self.race.team, self.race.pool_id, random_entry(rng, self.race, rng.choice(free))
        )
        return entry.id > 0

    def readiness(self, s: Session, rng: random.Random) -> bool:
        entries = self._entries(s, "waiting", "offered")
        if not entries:
            return False
        e = rng.choice(entries)
        now_ready = rng.random() < 0.8
        data = EntryUpdate(
            version=e.version,
            donor_found=now_ready,
            workup_done=True,
            urgency=rng.choice(["critical", "urgent", "routine"]) if rng.random() < 0.2 else None,
        )
        service.update_entry(s, self.race.team, e.id, data)
        return True

    def accept(self, s: Session, rng: random.Random) -> bool:
        offers = self._open_offers(s)
        if not offers:
            return False
        o = rng.choice(offers)
        service.accept_offer(s, self.race.team, o.id, OfferAccept(version=o.version))
        return True

    def decline(self, s: Session, rng: random.Random) -> bool:
        offers = self._open_offers(s)
        if not offers:
            return False
        o = rng.choice(offers)
        service.decline_offer(
            s, self.race.team, o.id, OfferDecline(version=o.version, reason="Fever today")
        )
        return True

    def expire(self, s: Session, rng: random.Random) -> bool:
        """Time runs out for one open offer (its expiry and timer moved to now), then the
        timer runner runs what is due (as any app process's runner would)."""
        offers = self._open_offers(s)
        if offers:
            o = rng.choice(offers)
            past = clock.now() - timedelta(seconds=1)
            # under the pool's lock, as every write of the pool (the same lock order)
            service._lock(s, self.race.pool_id)
            s.execute(
                update(Offer)
                .where(Offer.id == o.id, Offer.status == "open")
                .values(expires_at=past)
                .execution_options(synchronize_session=False)
            )
            # then the timer, in a transaction of its own without the pool's lock: a runner
            # holds its timer row while its handler waits for the pool's lock, so moving the
            # timer under that lock would be a lock cycle no app path makes
            s.commit()
            s.execute(
                update(Timer)
                .where(
                    Timer.subject_type == "unit_offer",
                    Timer.subject_id == o.id,
                    Timer.done_at.is_(None),
                )
                .values(due_at=past)
                .execution_options(synchronize_session=False)
            )
        # done with this transaction before the runner opens its own (on SQLite this one
        # holds the write lock)
        s.commit()
        ran = tasks.run_due(self.race.factory, clock.now())
        return ran > 0

    def discharge(self, s: Session, rng: random.Random) -> bool:
        units = self._units(s, "occupied")
        if not units:
            return False
        u = rng.choice(units)
        then = rng.choice(["free", "free", "cleaning"])
        service.discharge(s, self.race.keeper(u, rng), u.id, DischargeIn(then=then))
        return True

    def withdraw(self, s: Session, rng: random.Random) -> bool:
        entries = self._entries(s, "waiting", "offered")
        if not entries:
            return False
        e = rng.choice(entries)
        status = rng.choice(["withdrawn", "removed"])
        service.close_entry(
            s,
            self.race.team,
            e.id,
            EntryClose(version=e.version, status=status, reason="Family decided otherwise"),
        )
        return True

    def override(self, s: Session, rng: random.Random) -> bool:
        units = self._units(s, "free")
        waiting = self._entries(s, "waiting")
        if not units or not waiting:
            return False
        u = rng.choice(units)
        fitting = [e for e in waiting if e.room_class == u.room_class] or waiting
        e = rng.choice(fitting)
        service.override(
            s,
            self.race.lead,
            self.race.pool_id,
            OverrideIn(unit_id=u.id, entry_id=e.id, reason=REASON),
        )
        return True

    def allocate(self, s: Session, rng: random.Random) -> bool:
        service.run_allocation(s, self.race.lead, self.race.pool_id)
        return True


def storm(race: Race, threads: int, seconds: float, seed: int) -> Tally:
    tally = Tally()
    runner = Storm(race, tally)
    until = time.monotonic() + seconds
    workers = [
        threading.Thread(target=runner.run, args=(seed * 100 + n, until), daemon=True)
        for n in range(threads)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=seconds + 60)
    assert not any(w.is_alive() for w in workers), "a worker hung (a lock never released?)"
    return tally


def at_once(*calls: Callable[[], object]) -> list[object]:
    """Run the calls on threads released together by a barrier; each result or exception."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def go(i: int, call: Callable[[], object]) -> None:
        barrier.wait()
        try:
            results[i] = call()
        except BaseException as exc:  # collected for the assertions
            results[i] = exc

    threads = [threading.Thread(target=go, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def in_own_transaction(race: Race, act: Callable[[Session], object]) -> Callable[[], object]:
    def call() -> object:
        with unit_of_work(race.factory) as s:
            result = act(s)
            return getattr(result, "id", result)

    return call


# --- the tests ------------------------------------------------------------------------------------


THREADS = 12
STORM_SECONDS = 6.0


@pytest.fixture(scope="module")
def race(db_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Race]:
    if db_backend != "postgresql":
        pytest.skip("the concurrent allocators run on PostgreSQL (row locks); see the SQLite run")
    with own_database(db_backend, Path(tmp_path_factory.mktemp("pool-race")), "pools") as url:
        r = build_race(url, threads=THREADS, patients=100, listed=50)
        try:
            yield r
        finally:
            r.engine.dispose()


def _ready_entries_for_all(race: Race, n: int) -> list[int]:
    """``n`` new ready, critical class-100 entries that accept every hospital."""
    ids = []
    with unit_of_work(race.factory) as s:
        busy = set(
            s.scalars(
                select(WaitlistEntry.patient_id).where(
                    WaitlistEntry.status.in_(["waiting", "offered", "admitted"])
                )
            )
        )
        free = [p for p in race.patient_ids if p not in busy][:n]
        for p in free:
            ids.append(service.list_patient(s, race.team, race.pool_id, entry_for(p)).id)
    return ids


def _set(race: Race, unit_id: int, status: str) -> ResourceUnit:
    with unit_of_work(race.factory) as s:
        u = s.get(ResourceUnit, unit_id)
        assert u is not None
        if u.status == "occupied":
            service.discharge(s, race.lead, u.id, DischargeIn(then="maintenance"))
            return u
        return service.set_unit_status(
            s,
            race.lead,
            u.id,
            UnitStatusIn(
                version=u.version,
                status=status,
                expected_free_on=clock.today() + timedelta(days=1) if status != "free" else None,
            ),
        )


def _class_100(race: Race) -> list[int]:
    with unit_of_work(race.factory) as s:
        return sorted(
            s.scalars(
                select(ResourceUnit.id).where(
                    ResourceUnit.pool_id == race.pool_id, ResourceUnit.room_class == "100"
                )
            )
        )


def _open_offer_of(race: Race, unit_id: int) -> list[Offer]:
    with unit_of_work(race.factory) as s:
        return list(
            s.scalars(select(Offer).where(Offer.unit_id == unit_id, Offer.status == "open"))
        )


def _version(race: Race, unit_id: int) -> int:
    with unit_of_work(race.factory) as s:
        u = s.get(ResourceUnit, unit_id)
        assert u is not None
        return u.version


def _free_at_once(race: Race, who: list[tuple[int, Actor, int]]) -> list[object]:
    """Free units at the same moment: (unit, coordinator, the version they read) each."""

    def freeing(unit_id: int, actor: Actor, version: int) -> Callable[[], object]:
        return in_own_transaction(
            race,
            lambda s: service.set_unit_status(
                s, actor, unit_id, UnitStatusIn(version=version, status="free")
            ),
        )

    return at_once(*(freeing(*w) for w in who))


def test_two_units_freed_at_the_same_moment_go_to_two_patients(race: Race) -> None:
    units = _class_100(race)
    for round_ in range(6):
        a, b = units[(2 * round_) % len(units)], units[(2 * round_ + 1) % len(units)]
        _set(race, a, "maintenance")
        _set(race, b, "maintenance")
        _ready_entries_for_all(race, 2)
        results = _free_at_once(
            race, [(a, race.lead, _version(race, a)), (b, race.lead, _version(race, b))]
        )
        assert results == [a, b], results
        given = [_open_offer_of(race, uid) for uid in (a, b)]
        assert all(len(g) == 1 for g in given), given
        assert given[0][0].entry_id != given[1][0].entry_id
    check_invariants(race)


def _answer_at_once(race: Race, o: Offer) -> list[object]:
    """The team accepts while another of it declines the same offer."""
    return at_once(
        in_own_transaction(
            race,
            lambda s: service.accept_offer(s, race.team, o.id, OfferAccept(version=o.version)),
        ),
        in_own_transaction(
            race,
            lambda s: service.decline_offer(
                s, race.team, o.id, OfferDecline(version=o.version, reason="No bed for mum")
            ),
        ),
    )


def _override_at_once(race: Race, unit_id: int) -> list[object] | None:
    """Two overrides of a free unit for two different patients at once (None: not free, or
    fewer than two fitting patients waiting)."""
    with unit_of_work(race.factory) as s:
        u = s.get(ResourceUnit, unit_id)
        assert u is not None
        waiting = [
            e.id
            for e in s.scalars(
                select(WaitlistEntry).where(
                    WaitlistEntry.pool_id == race.pool_id,
                    WaitlistEntry.status == "waiting",
                    WaitlistEntry.room_class == u.room_class,
                )
            )
            if u.institution_id in e.acceptable_institution_ids
        ][:2]
        if u.status != "free" or len(waiting) < 2:
            return None

    def overriding(entry_id: int) -> Callable[[], object]:
        return in_own_transaction(
            race,
            lambda s: service.override(
                s,
                race.lead,
                race.pool_id,
                OverrideIn(unit_id=unit_id, entry_id=entry_id, reason=REASON),
            ),
        )

    return at_once(*(overriding(e) for e in waiting))


def test_two_coordinators_acting_at_once_one_wins(race: Race) -> None:
    with unit_of_work(race.factory) as s:
        bd_units = sorted(
            s.scalars(
                select(ResourceUnit.id).where(
                    ResourceUnit.pool_id == race.pool_id,
                    ResourceUnit.institution_id == race.bd_a,
                    ResourceUnit.room_class == "100",
                )
            )
        )
    overrides = 0
    for round_ in range(6):
        uid = bd_units[round_ % len(bd_units)]
        _set(race, uid, "maintenance")
        _ready_entries_for_all(race, 3)
        # the lead and BD-A's coordinator both free the same unit, from the same version
        version = _version(race, uid)
        results = _free_at_once(race, [(uid, race.lead, version), (uid, race.bd_coord, version)])
        wins = [r for r in results if r == uid]
        losses = [r for r in results if isinstance(r, Conflict)]
        assert len(wins) == 1 and len(losses) == 1, results
        assert losses[0].code == "stale_version"
        offers = _open_offer_of(race, uid)
        assert len(offers) == 1
        # two answers to one offer at once: exactly one counts
        results = _answer_at_once(race, offers[0])
        refused = [r for r in results if isinstance(r, Conflict)]
        assert len(refused) == 1, results
        assert refused[0].code in {"stale_version", "offer_closed"}
        # two overrides of the unit at once: they run one after the other (the second
        # withdraws the first's offer), and the unit ends with one open offer
        both = _override_at_once(race, uid)
        if both is not None:
            overrides += 1
            assert all(isinstance(r, int) for r in both), both
            assert len(_open_offer_of(race, uid)) == 1
    assert overrides > 0
    check_invariants(race)


def test_many_concurrent_allocators_keep_every_invariant(race: Race) -> None:
    tally = storm(race, THREADS, STORM_SECONDS, seed=7)
    found = check_invariants(race)
    total = sum(tally.done.values())
    refused = sum(tally.refused.values())
    print(
        f"\nstorm: {THREADS} threads, {STORM_SECONDS:.0f} s: {total} writes done, "
        f"{refused} refused, {len(tally.errors)} errors\n"
        f"done: {dict(sorted(tally.done.items()))}\n"
        f"refused: {dict(sorted(tally.refused.items()))}\n"
        f"state: {found}"
    )
    assert not tally.errors, tally.errors[:5]
    for op in ("free", "accept", "decline", "expire", "discharge", "readiness"):
        assert tally.done[op] > 0, (op, tally.done)
    assert total >= 100
