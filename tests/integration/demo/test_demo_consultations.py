"""Remote consultation in the loaded demo world: the figures of the seeds, the rotas, the demo
logins of the consultation story, the live cases, and two loads holding the same rows."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from medcircle.auth.domain import Actor, Role
from medcircle.auth.models import User, UserRole
from medcircle.auth.security import verify_password
from medcircle.consultations import queries, rota
from medcircle.consultations.domain import (
    OPEN,
    TRANSITIONS,
    Action,
    Clock,
    RouteReason,
    Status,
    WarningKind,
    find_transition,
    rota_warnings,
    route,
)
from medcircle.consultations.models import (
    Consultation,
    ConsultationEvent,
    ConsultationMessage,
    ExpertLeave,
    ExpertSkill,
    OnCallShift,
)
from medcircle.demo import consultations as dc
from medcircle.demo import facts, service
from medcircle.demo.generator import generate
from medcircle.demo.world import DEMO_PASSWORD
from medcircle.kit import clock
from medcircle.kit.pagination import PageParams
from medcircle.patients.models import Consent
from medcircle.referrals import icd10
from medcircle.registry.models import Institution, Practitioner
from medcircle.tasks.models import Timer
from tests.integration.demo.conftest import DEMO_DAY, DEMO_SETTINGS, OPERATOR


def _consultations_of_a_load(engine: Engine) -> list[tuple[Any, ...]]:
    """Load the default world in a transaction of its own, read its consultations by content
    (users by name, no ids), roll it back."""
    with engine.connect() as conn:
        trans = conn.begin()
        session = Session(bind=conn)
        try:
            service.load_world(session, OPERATOR, generate(2017, as_of=DEMO_DAY), DEMO_SETTINGS)
            session.flush()
            names = dict(session.execute(select(User.id, User.username)).all())
            rows = session.execute(
                select(
                    Consultation.reference,
                    Consultation.status,
                    Consultation.asked_at,
                    Consultation.assignee_user_id,
                    Consultation.first_answer_seconds,
                    Consultation.helpful,
                    Consultation.referral_avoided,
                    Consultation.icd10_code,
                ).order_by(Consultation.reference)
            ).all()
            events = session.scalar(select(func.count()).select_from(ConsultationEvent))
            shifts = session.execute(
                select(OnCallShift.user_id, OnCallShift.starts_at, OnCallShift.role).order_by(
                    OnCallShift.starts_at, OnCallShift.specialty_code, OnCallShift.role
                )
            ).all()
            return [
                *((r[0], r[1], r[2], names.get(r[3] or 0), *r[4:]) for r in rows),
                ("events", events),
                *((names[u], at, role) for u, at, role in shifts),
            ]
        finally:
            session.close()
            trans.rollback()


# first in the module: it loads in transactions of its own, before the shared load exists
def test_two_loads_hold_the_same_consultations_and_rotas(engine: Engine) -> None:
    first = _consultations_of_a_load(engine)
    assert len(first) > facts.CONSULTATIONS_REPORTED
    assert _consultations_of_a_load(engine) == first


def inst(session: Session, code: str) -> Institution:
    found = session.scalar(select(Institution).where(Institution.code == code))
    assert found is not None
    return found


def user_id(session: Session, username: str) -> int:
    found = session.scalar(select(User.id).where(User.username == username))
    assert found is not None
    return found


def test_510_consultations_over_the_reported_period(demo: Session) -> None:
    start, end = dc.cooperation_period(DEMO_DAY)
    held = demo.execute(
        select(Consultation.answer_institution_id, Consultation.asker_institution_id).where(
            Consultation.is_difficult.is_(False),
            Consultation.asked_at >= start,
            Consultation.asked_at < end,
        )
    ).all()
    assert len(held) == facts.CONSULTATIONS_REPORTED == 510
    beijing = {inst(demo, f.code).id for f in facts.BEIJING_HOSPITALS}
    baoding = {
        i for (i,) in demo.execute(select(Institution.id).where(Institution.code.like("BD%")))
    } | {inst(demo, "HBUAH").id}
    # the 12 Beijing hospitals answer, Baoding hospitals ask
    assert {a for a, _ in held} == beijing and len(beijing) == 12
    assert {q for _, q in held} <= baoding
    # every one of them was answered inside the period
    statuses = demo.scalars(
        select(Consultation.status).where(
            Consultation.is_difficult.is_(False),
            Consultation.asked_at >= start,
            Consultation.asked_at < end,
        )
    ).all()
    assert set(statuses) <= {Status.ANSWERED.value, Status.CLOSED.value}


def test_difficult_cases_match_the_declared_figures(demo: Session) -> None:
    bch, bdch = inst(demo, facts.BEIJING_CHILDRENS), inst(demo, facts.BAODING_CHILDRENS)
    rows = demo.execute(
        select(
            Consultation.asked_at,
            Consultation.answer_institution_id,
            Consultation.asker_institution_id,
            Consultation.status,
        ).where(Consultation.is_difficult.is_(True))
    ).all()
    by_year = Counter((at + timedelta(hours=8)).year for at, *_ in rows)
    assert by_year == {year: remote for year, _, remote in facts.DIFFICULT_CASES}
    assert all((a, q) == (bch.id, bdch.id) for _, a, q, _ in rows)
    assert all(s == Status.CLOSED.value for *_, s in rows)
    declared = sum(total for _, total, _ in facts.DIFFICULT_CASES)
    assert declared > facts.DIFFICULT_MORE_THAN
    # the history grows year by year over the full years of the trusteeship
    full = [remote for year, _, remote in facts.DIFFICULT_CASES if 2015 < year < 2024]
    totals = [total for year, total, _ in facts.DIFFICULT_CASES if 2015 < year < 2024]
    assert full[-1] > full[0] and totals[-1] > totals[0]


def test_answer_times_ratings_and_clocks_are_realistic(demo: Session) -> None:
    rows = demo.scalars(
        select(Consultation).where(Consultation.first_answer_seconds.is_not(None))
    ).all()
    routine = sorted(c.first_answer_seconds or 0 for c in rows if c.urgency == "routine")
    median_h = routine[len(routine) // 2] / 3600
    assert 1.5 <= median_h <= 2.6
    within = sum(1 for c in rows if c.within_target) / len(rows)
    assert within > 0.9
    rated = [c for c in rows if c.referral_avoided is not None]
    assert 0.4 < sum(1 for c in rated if c.referral_avoided) / len(rated) < 0.6
    assert all(c.helpful is not None and 1 <= c.helpful <= 5 for c in rated)
    for c in rows[:400]:
        # the stored clock figures are the domain clock's
        clk = Clock(c.asked_at, timedelta(minutes=c.target_minutes), c.paused_seconds)
        assert c.first_answered_at is not None
        assert c.first_answer_seconds == int(clk.elapsed(c.first_answered_at).total_seconds())
        assert c.within_target == (clk.left(c.first_answered_at) >= timedelta(0))
        assert c.is_synthetic


def test_histories_walk_the_transitions(demo: Session) -> None:
    events = demo.execute(
        select(
            ConsultationEvent.consultation_id,
            ConsultationEvent.action,
            ConsultationEvent.from_status,
            ConsultationEvent.to_status,
            ConsultationEvent.at,
        ).order_by(ConsultationEvent.consultation_id, ConsultationEvent.id)
    ).all()
    last: dict[int, tuple[str, Any]] = {}
    actions = {t.action.value for t in TRANSITIONS}
    for cid, action, frm, to, at in events:
        if cid not in last:
            assert action == "ask" and frm is None
        else:
            assert action in actions
            assert frm == last[cid][0]
            assert find_transition(Status(frm), Action(action), Status(to)) is not None
            assert at >= last[cid][1]
        last[cid] = (to, at)
    statuses = dict(demo.execute(select(Consultation.id, Consultation.status)).all())
    assert {cid: s for cid, (s, _) in last.items()} == statuses


def test_every_patient_consented_to_consultation(demo: Session) -> None:
    rows = demo.execute(
        select(
            Consultation.asked_at,
            Consultation.patient_id,
            Consultation.answer_institution_id,
            Consent.patient_id,
            Consent.receiving_institution_id,
            Consent.purpose,
            Consent.given_at,
            Consent.withdrawn_at,
        ).join(Consent, Consent.id == Consultation.consent_id)
    ).all()
    assert len(rows) == demo.scalar(select(func.count()).select_from(Consultation))
    for asked, patient, answer, c_patient, receiver, purpose, given, withdrawn in rows:
        assert (patient, answer, purpose) == (c_patient, receiver, "consultation")
        assert given <= asked and withdrawn is None


def test_rota_has_nobody_missing_now_and_the_oncall_login_gets_the_case(demo: Session) -> None:
    bch = inst(demo, facts.BEIJING_CHILDRENS)
    now = clock.now()
    index = rota.rota_index(
        demo, bch.id, dc.DEMO_SPECIALTY, now - timedelta(hours=1), now + timedelta(hours=1)
    )
    warnings = rota_warnings(
        index.shifts, index.leaves, now - timedelta(hours=1), now + timedelta(hours=1)
    )
    assert not [w for w in warnings if w.kind in (WarningKind.GAP, WarningKind.NO_PRIMARY)]
    oncall = user_id(demo, dc.ONCALL_LOGIN)
    pool = rota.pool_experts(demo, bch.id, dc.DEMO_SPECIALTY)
    assert oncall in pool
    decision = route(index, rota.experts_of(demo, pool), rota.open_load(demo, pool), now, "J18.9")
    assert decision.user_id == oncall and decision.reason == RouteReason.ON_CALL


def test_rotas_cover_every_hour_but_one_gap_a_week_ahead(demo: Session) -> None:
    bch = inst(demo, facts.BEIJING_CHILDRENS)
    first = dc.shift_start(DEMO_DAY - timedelta(days=dc.ROTA_PAST_DAYS))
    last = dc.shift_start(DEMO_DAY + timedelta(days=dc.ROTA_AHEAD_DAYS))
    seen_leave = False
    for spec in dc.ROTA_SPECIALTIES:
        index = rota.rota_index(demo, bch.id, spec, first, last)
        warnings = rota_warnings(index.shifts, index.leaves, first, last)
        gaps = [w for w in warnings if w.kind == WarningKind.GAP]
        if spec == dc.DEMO_SPECIALTY:
            assert len(gaps) == 1
            gap = gaps[0]
            assert gap.ends_at - gap.starts_at == timedelta(hours=dc.GAP_HOURS)
            assert gap.ends_at == dc.shift_start(DEMO_DAY + timedelta(days=dc.GAP_DAY + 1))
        else:
            assert gaps == []
        seen_leave = seen_leave or any(w.kind == WarningKind.LEAVE for w in warnings)
        assert any(w.kind == WarningKind.HANDOVER for w in warnings)
        roles = Counter(s.role.value for s in index.shifts)
        assert roles["primary"] == roles["backup"] > 0
    assert seen_leave
    assert demo.scalar(select(func.count()).select_from(ExpertLeave)) == 2
    assert (demo.scalar(select(func.count()).select_from(ExpertSkill)) or 0) > 0


def test_demo_logins_of_the_consultation_story(demo: Session) -> None:
    bch = inst(demo, facts.BEIJING_CHILDRENS)
    for username, role in ((dc.ONCALL_LOGIN, "expert"), (dc.COORDINATOR_LOGIN, "coordinator")):
        u = demo.scalar(select(User).where(User.username == username))
        assert u is not None and u.is_active and u.institution_id == bch.id
        assert verify_password(u.password_hash, DEMO_PASSWORD)
        roles = set(demo.scalars(select(UserRole.role).where(UserRole.user_id == u.id)))
        assert roles == {role}
    doctor = demo.scalar(
        select(Practitioner).where(Practitioner.user_id == user_id(demo, dc.ONCALL_LOGIN))
    )
    assert doctor is not None and doctor.specialty_code == dc.DEMO_SPECIALTY
    printed = [login.username for login in service.demo_logins(demo, generate(2017))]
    at = printed.index(dc.ONCALL_LOGIN)
    assert printed[at : at + 2] == [dc.ONCALL_LOGIN, dc.COORDINATOR_LOGIN]


def test_live_cases_fill_the_worklist_the_pool_and_the_askers_turn(demo: Session) -> None:
    oncall = user_id(demo, dc.ONCALL_LOGIN)
    live = demo.scalars(
        select(Consultation).where(Consultation.status.in_([s.value for s in OPEN]))
    ).all()
    by_status = Counter(c.status for c in live)
    assert by_status == {"assigned": 1, "pool": 1, "awaiting_asker": 1}
    mine = [c for c in live if c.assignee_user_id == oncall]
    assert {c.status for c in mine} == {"assigned", "awaiting_asker"}
    for c in live:
        assert c.asked_at >= dc.cooperation_period(DEMO_DAY)[1]
        if c.status == "awaiting_asker":
            assert c.paused_since is not None and c.due_at is None
            asked = demo.scalars(
                select(ConsultationMessage.kind).where(ConsultationMessage.consultation_id == c.id)
            ).all()
            assert asked == ["question"]
        else:
            assert c.due_at == c.asked_at + timedelta(minutes=c.target_minutes)
    pooled = next(c for c in live if c.status == "pool")
    assert pooled.assignee_user_id is None and pooled.specialty_code == "ped_hem_onc"


def actor_of(session: Session, username: str) -> Actor:
    u = session.scalar(select(User).where(User.username == username))
    assert u is not None
    roles = frozenset(
        Role(r) for r in session.scalars(select(UserRole.role).where(UserRole.user_id == u.id))
    )
    return Actor(user_id=u.id, username=username, institution_id=u.institution_id, roles=roles)


def test_the_worklists_of_the_story_are_not_empty(demo: Session) -> None:
    oncall = actor_of(demo, dc.ONCALL_LOGIN)
    page = queries.read_worklist(demo, oncall, queries.Worklist.MINE, PageParams(page=1, size=20))
    # the expert's turn first, then the case waiting for the asker
    assert [row.status for row in page.items] == ["assigned", "awaiting_asker"]
    pool = queries.read_worklist(
        demo, actor_of(demo, "expert"), queries.Worklist.POOL, PageParams(page=1, size=20)
    )
    assert [row.specialty_code for row in pool.items] == ["ped_hem_onc"]
    asked = queries.read_worklist(
        demo, actor_of(demo, "bdch.doctor"), queries.Worklist.ASKED, PageParams(page=1, size=50)
    )
    assert {row.status for row in asked.items} >= {"assigned", "pool", "awaiting_asker"}


def test_open_and_answered_cases_keep_their_timers(demo: Session) -> None:
    rows = demo.execute(
        select(Consultation.id, Consultation.status, Consultation.paused_since)
    ).all()
    timers = demo.execute(
        select(Timer.subject_id, Timer.kind, Timer.due_at).where(
            Timer.subject_type == "consultation", Timer.done_at.is_(None)
        )
    ).all()
    kinds: dict[int, set[str]] = {}
    for subject, kind, _ in timers:
        kinds.setdefault(subject, set()).add(kind)
    for cid, status, paused in rows:
        if status in ("pool", "assigned") and paused is None:
            assert kinds.pop(cid) == {"consultation.at_risk", "consultation.missed"}
        elif status == "answered":
            assert kinds.pop(cid) == {"consultation.autoclose"}
    assert kinds == {}


def test_diagnoses_are_valid_icd10_codes(demo: Session) -> None:
    codes = set(demo.scalars(select(Consultation.icd10_code).distinct()))
    assert codes and all(icd10.is_valid(code) for code in codes)
