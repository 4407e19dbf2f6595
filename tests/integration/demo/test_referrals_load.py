"""The demo referrals in the database: sealed identifiers, timers, savings, and the referral
service and worklists reading them as they read their own rows."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medcircle.auth.domain import Actor, Role
from medcircle.auth.models import User
from medcircle.demo.generator import generate
from medcircle.kit import clock
from medcircle.kit.crypto import cipher_for
from medcircle.kit.pagination import PageParams
from medcircle.patients.models import Consent, Patient
from medcircle.referrals import queries
from medcircle.referrals import service as referrals
from medcircle.referrals.domain import Status, TimerKind
from medcircle.referrals.models import Referral, ReferralEvent
from medcircle.registry.models import Institution
from medcircle.tasks.models import Timer
from tests.integration.demo.conftest import DEMO_DAY, DEMO_SETTINGS


def actor(session: Session, username: str) -> Actor:
    user = session.scalar(select(User).where(User.username == username))
    assert user is not None
    return Actor(
        user_id=user.id,
        username=username,
        institution_id=user.institution_id,
        roles=frozenset({Role.CLINICIAN}),
    )


def test_counts_in_the_database(demo: Session) -> None:
    rows = dict(
        demo.execute(select(Referral.direction, func.count()).group_by(Referral.direction)).all()
    )
    assert rows == {"up": 118, "down": 313}
    world = generate(2017, as_of=DEMO_DAY)
    assert demo.scalar(select(func.count()).select_from(ReferralEvent)) == sum(
        len(r.events) for r in world.referrals
    )
    assert demo.scalar(select(func.count()).select_from(Patient)) == len(world.patients)
    assert demo.scalar(select(func.count()).select_from(Consent)) == len(world.consents)


def test_identifiers_are_stored_sealed(demo: Session) -> None:
    world = generate(2017, as_of=DEMO_DAY)
    cipher = cipher_for(DEMO_SETTINGS.data_key, DEMO_SETTINGS.secret_key)
    patients = demo.scalars(select(Patient)).all()
    assert len(patients) == len(world.patients)
    opened: set[str] = set()
    for p in patients:
        assert p.national_id_sealed is not None and p.national_id_masked is not None
        number = cipher.open(p.national_id_sealed)
        assert number not in p.national_id_sealed
        assert p.national_id_hash == cipher.digest(number, kind="national_id")
        assert p.national_id_masked == number[:6] + "********" + number[-4:]
        opened.add(number)
        phone = p.guardian_phone_sealed or p.phone_sealed
        assert phone is not None and cipher.open(phone).startswith("1")
        assert p.is_synthetic
    assert opened == {p.national_id for p in world.patients}


def test_open_referrals_keep_their_timers(demo: Session) -> None:
    open_ = {
        r.id: r
        for r in demo.scalars(
            select(Referral).where(Referral.status.in_([Status.SUBMITTED, Status.SCHEDULED]))
        )
    }
    timers = demo.scalars(
        select(Timer).where(Timer.done_at.is_(None), Timer.subject_type == "referral")
    ).all()
    assert {t.subject_id for t in timers} == set(open_)
    for t in timers:
        r = open_[t.subject_id]
        if r.status == Status.SUBMITTED:
            assert t.kind == TimerKind.TRIAGE_OVERDUE and t.due_at == r.triage_due_at
        else:
            assert t.kind == TimerKind.APPOINTMENT_PASSED
            assert r.appointment_at is not None and t.due_at > r.appointment_at
    overdue = [t for t in timers if t.kind == TimerKind.TRIAGE_OVERDUE and t.due_at < clock.now()]
    assert len(overdue) == 1


def test_care_kept_local_carries_its_saving(demo: Session) -> None:
    done = demo.scalars(select(Referral).where(Referral.completed_at.is_not(None))).all()
    local = [r for r in done if r.direction == "down" or r.local_plan]
    assert local and all(r.saving_yuan and r.saving_yuan > 0 for r in local)
    assert all((r.saving_distance_km or 0) > 50 for r in local)
    assert all(r.saving_yuan is None for r in done if r not in local)
    assert any(r.local_plan for r in done)


def test_network_flags_agree_with_the_referral_service(demo: Session) -> None:
    for r in demo.scalars(select(Referral)):
        assert r.submitted_at is not None
        on = (r.submitted_at + timedelta(hours=8)).date()
        inside = referrals.in_network(demo, r.sender_institution_id, r.receiver_institution_id, on)
        assert r.outside_network == (not inside), r.reference


def test_the_service_reads_the_history_and_allows_the_next_step(demo: Session) -> None:
    bch = actor(demo, "bch")
    bch_id = demo.scalar(select(Institution.id).where(Institution.code == "BCH"))
    waiting = demo.scalars(
        select(Referral).where(
            Referral.receiver_institution_id == bch_id, Referral.status == Status.SUBMITTED
        )
    ).all()
    assert waiting
    r = referrals.get(demo, bch, waiting[0].id)
    history = referrals.history(demo, bch, r)
    assert [e.action for e in history] == ["create", "submit"]
    assert "accept" in referrals.available_actions(bch, r)


def test_worklists_of_the_demo_ends_are_alive(demo: Session) -> None:
    page = PageParams(page=1, size=50)
    counts = queries.counts(demo, actor(demo, "bch"))
    assert counts[queries.Worklist.INCOMING] >= 3
    assert counts[queries.Worklist.SCHEDULED] >= 1
    incoming = queries.worklist(
        demo, actor(demo, "bch"), queries.Worklist.INCOMING, page, queries.WorklistFilter()
    )
    assert incoming.total == counts[queries.Worklist.INCOMING]
    county = queries.counts(demo, actor(demo, "county"))
    assert county[queries.Worklist.OUTGOING] >= 1
