"""Keeping the rota through the service: who may do what, the repeat that copies all or
nothing (conflicts with existing shifts, between its own copies, experts gone), edits with the
values read, history kept, leave, the summary of problems and who is on call now."""

from __future__ import annotations

import threading
import time
from datetime import date, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medcircle.auth import service as auth_service
from medcircle.auth.domain import Actor, Role
from medcircle.auth.models import User
from medcircle.consultations import rota_service as svc
from medcircle.consultations.domain import ShiftRole, WarningKind
from medcircle.consultations.models import OnCallShift
from medcircle.consultations.schemas import LeaveIn, ShiftIn
from medcircle.db import make_engine, make_session_factory, unit_of_work
from medcircle.kit.errors import Conflict, Forbidden, NotFound, ValidationFailed
from tests import consult_factories as cf
from tests import factories
from tests import referral_factories as rf
from tests.databases import own_database
from tests.factories import World
from tests.integration.consultations.rota_support import (  # noqa: F401 (fixtures)
    MONDAY,
    NOW,
    D,
    H,
    audited,
    cw_fixture,
    frozen_fixture,
)

SPEC = cf.SPECIALTY


def _actor(session: Session, u: User) -> Actor:
    return auth_service.actor_for(session, u)


def _count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(OnCallShift)) or 0)


def test_who_may_read_and_keep(session: Session, world: World, cw: cf.ConsultWorld) -> None:
    clinician = _actor(session, cw.circle.bj_clinician)
    view = svc.rota_view(session, clinician, SPEC)
    assert view.can_manage is False and len(view.shifts) == 2
    with pytest.raises(Forbidden):
        svc.add_shift(
            session,
            clinician,
            ShiftIn(
                user_id=cw.expert3.id, specialty_code=SPEC, starts_at=NOW + D, ends_at=NOW + D + H
            ),
        )
    auditor = _actor(session, world.users[Role.AUDITOR])
    with pytest.raises(Forbidden):
        svc.list_rotas(session, auditor)
    admin = _actor(session, cw.circle.bj_admin)
    assert svc.rota_view(session, admin, SPEC).can_manage is True
    # Baoding's coordinator has Baoding's rotas only
    bd = _actor(session, world.users[Role.COORDINATOR])
    assert [r.specialty.code for r in svc.list_rotas(session, bd)] == [SPEC]
    assert svc.rota_view(session, bd, SPEC).shifts == []
    with pytest.raises(NotFound):
        svc.set_skills(session, bd, cw.expert.id, ["Q2"])
    with pytest.raises(NotFound):
        svc.expert_shifts(session, bd, cw.expert.id)


def test_on_call_now_and_the_summary_of_problems(session: Session, cw: cf.ConsultWorld) -> None:
    coord = _actor(session, cw.coordinator)
    now = svc.on_call_now(session, coord)
    assert [(o.user_id, o.role) for o in now[SPEC]] == [
        (cw.expert.id, ShiftRole.PRIMARY),
        (cw.expert2.id, ShiftRole.BACKUP),
    ]
    assert now["cardiology"] == []
    # tomorrow: expert3 backup only from 04:00 to 10:00; expert2's leave during its shift
    cf.shift(session, cw.answerer, cw.expert3, NOW + 18 * H, NOW + 24 * H, role="backup")
    cf.leave(session, cw.expert2, NOW + H, NOW + 2 * H)
    summary = svc.warnings_summary(session, coord, days=3)
    kinds = [(v.specialty_code, v.kind) for v in summary]
    # cardiology keeps no rota (no shift ever): no warnings for it
    assert kinds == [
        (SPEC, WarningKind.NO_PRIMARY),
        (SPEC, WarningKind.GAP),
        (SPEC, WarningKind.LEAVE),
    ]
    assert summary[-1].name == cw.expert2.display_name
    assert [(v.warning.starts_at, v.warning.ends_at) for v in summary[:2]] == [
        (NOW + 18 * H, NOW + 24 * H),
        (NOW + 24 * H, NOW + 3 * D),
    ]
    with pytest.raises(ValidationFailed):
        svc.warnings_summary(session, coord, days=100)


def test_a_rota_is_kept_while_it_had_a_shift_in_the_last_four_weeks(
    session: Session, cw: cf.ConsultWorld
) -> None:
    coord = _actor(session, cw.coordinator)

    def cardiology() -> svc.RotaSummary:
        return next(r for r in svc.list_rotas(session, coord) if r.specialty.code == "cardiology")

    assert cardiology().kept is False
    # a night five weeks ago does not make a rota
    cf.shift(
        session,
        cw.answerer,
        cw.expert3,
        NOW - 35 * D,
        NOW - 35 * D + 12 * H,
        specialty_code="cardiology",
    )
    assert cardiology().kept is False
    # one three weeks ago does: the fortnight ahead is all gap, and it is warned of
    cf.shift(
        session,
        cw.answerer,
        cw.expert3,
        NOW - 21 * D,
        NOW - 21 * D + 12 * H,
        specialty_code="cardiology",
    )
    kept = cardiology()
    assert kept.kept is True and kept.warning_count == 1
    assert kept.next_problem is not None and kept.next_problem.kind == WarningKind.GAP
    assert "cardiology" in {v.specialty_code for v in svc.warnings_summary(session, coord)}


def test_repeat_refuses_copies_that_clash_with_each_other(
    session: Session, cw: cf.ConsultWorld
) -> None:
    coord = _actor(session, cw.coordinator)
    week = MONDAY + 7 * D
    # A: Monday morning; B: a whole week from Sunday. A's copy a week on meets B itself, and
    # B's copy a week on meets A's copy two weeks on (copy against copy)
    cf.shift(session, cw.answerer, cw.expert3, week, week + 10 * H)
    cf.shift(session, cw.answerer, cw.expert3, week + 6 * D, week + 13 * D)
    session.flush()
    before = _count(session)
    with pytest.raises(Conflict) as refused:
        svc.repeat_week(session, coord, SPEC, date(2026, 12, 7), 2)
    assert refused.value.code == "overlap"
    reports = refused.value.field_errors
    assert len(reports) == 3 and all(fe.code == "overlap" for fe in reports)
    assert all(fe.field.startswith("conflicts.") for fe in reports)
    assert _count(session) == before
    assert audited(session, "rota.repeat") == []


def test_repeat_refuses_copies_of_an_expert_who_left(session: Session, cw: cf.ConsultWorld) -> None:
    coord = _actor(session, cw.coordinator)
    cf.shift(session, cw.answerer, cw.expert3, MONDAY + 7 * D, MONDAY + 7 * D + 8 * H)
    cf.shift(session, cw.answerer, cw.expert2, MONDAY + 8 * D, MONDAY + 8 * D + 8 * H)
    cw.expert3.is_active = False
    session.flush()
    before = _count(session)
    with pytest.raises(Conflict) as refused:
        svc.repeat_week(session, coord, SPEC, date(2026, 12, 7), 3)
    assert [fe.code for fe in refused.value.field_errors] == ["not_expert"] * 3
    assert _count(session) == before
    cw.expert3.is_active = True
    session.flush()
    created = svc.repeat_week(session, coord, SPEC, date(2026, 12, 7), 3)
    assert len(created) == 6
    assert sorted((c.starts_at - MONDAY).days for c in created) == [14, 15, 21, 22, 28, 29]
    assert {c.role for c in created} == {"primary"}


def test_edits_keep_history_and_refuse_overlaps(session: Session, cw: cf.ConsultWorld) -> None:
    coord = _actor(session, cw.coordinator)
    past = cf.shift(session, cw.answerer, cw.expert3, NOW - 2 * D, NOW - D)
    later = cf.shift(session, cw.answerer, cw.expert3, NOW + D, NOW + D + 8 * H)
    other = cf.shift(session, cw.answerer, cw.expert3, NOW + 2 * D, NOW + 2 * D + 8 * H)

    def edit(
        row: OnCallShift,
        ends_at: datetime | None = None,
        role: ShiftRole | None = None,
    ) -> svc.ShiftEdit:
        was = ShiftRole(row.role)
        return svc.ShiftEdit(
            row.starts_at, ends_at or row.ends_at, role or was, row.starts_at, row.ends_at, was
        )

    with pytest.raises(Conflict) as ended:
        svc.edit_shift(session, coord, past.id, edit(past, role=ShiftRole.BACKUP))
    assert ended.value.code == "shift_ended"
    with pytest.raises(Conflict) as overlap:
        svc.edit_shift(session, coord, later.id, edit(later, ends_at=NOW + 2 * D + H))
    assert overlap.value.code == "overlap"
    with pytest.raises(ValidationFailed) as too_long:
        svc.edit_shift(session, coord, later.id, edit(later, ends_at=NOW + 9 * D))
    assert too_long.value.code == "too_long"
    moved = svc.edit_shift(session, coord, later.id, edit(later, ends_at=NOW + 2 * D))
    assert moved.ends_at == NOW + 2 * D and other.starts_at == NOW + 2 * D
    with pytest.raises(Conflict):
        svc.delete_shift(session, coord, past.id)
    assert len(audited(session, "rota.shift_edit")) == 1


def test_leave_rules(session: Session, cw: cf.ConsultWorld) -> None:
    expert = _actor(session, cw.expert)
    coord = _actor(session, cw.coordinator)
    old = cf.leave(session, cw.expert, NOW - 3 * D, NOW - 2 * D)
    with pytest.raises(Conflict) as ended:
        svc.delete_leave(session, expert, old.id)
    assert ended.value.code == "leave_ended"
    with pytest.raises(ValidationFailed) as long_:
        svc.add_leave(
            session, expert, LeaveIn(user_id=cw.expert.id, starts_at=NOW, ends_at=NOW + 400 * D)
        )
    assert long_.value.code == "too_long"
    mine = svc.add_leave(
        session,
        expert,
        LeaveIn(user_id=cw.expert.id, starts_at=NOW + D, ends_at=NOW + 2 * D, reason="family"),
    )
    # the reason: for the expert and the coordinators; not for a colleague
    colleague = _actor(session, cw.expert2)
    seen = {v.id: v.reason for v in svc.list_leave(session, colleague)}
    assert seen[mine.id] is None
    assert {v.id: v.reason for v in svc.list_leave(session, coord)}[mine.id] == "family"
    assert {v.id: v.reason for v in svc.list_leave(session, expert)}[mine.id] == "family"
    with pytest.raises(Forbidden) as other:
        svc.delete_leave(session, colleague, mine.id)
    assert other.value.code == "own_leave_only"
    svc.delete_leave(session, coord, mine.id)
    assert [e.detail["user_id"] for e in audited(session, "rota.leave_delete")] == [cw.expert.id]


def test_skills_must_look_like_icd10_prefixes(session: Session, cw: cf.ConsultWorld) -> None:
    coord = _actor(session, cw.coordinator)
    for good in ("Q", "Q2", "C91", "Q21.0", "q21.01", " i10 "):
        assert svc.set_skills(session, coord, cw.expert3.id, [good]) == [good.strip().upper()]
    for bad in ("2Q", "QQ", "Q123", "Q21.", "Q.1", "Q21.00001", "Q2-1"):
        with pytest.raises(ValidationFailed) as refused:
            svc.set_skills(session, coord, cw.expert3.id, [bad])
        assert refused.value.code == "invalid_skill", bad
    assert svc.set_skills(session, coord, cw.expert3.id, []) == []
    with pytest.raises(ValidationFailed):
        svc.set_skills(session, coord, cw.circle.bj_clinician.id, ["Q2"])


def test_two_coordinators_adding_overlapping_shifts_at_once(
    db_backend: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The first holds the expert's row; the second waits for it, then sees the first's shift
    and is refused: never two overlapping shifts of one expert on one rota."""
    with own_database(db_backend, tmp_path_factory.mktemp("rota-race"), "rotarace") as url:
        engine = make_engine(url)
        try:
            factory = make_session_factory(engine, writes=True)
            with unit_of_work(factory) as s:
                w = cf.consult_world(s, rf.referral_world(s, factories.small_world(s)))
                coord, admin = _actor(s, w.coordinator), _actor(s, w.circle.bj_admin)
                expert3 = w.expert3.id
            at = factories.now() + D

            def data(hours: int) -> ShiftIn:
                return ShiftIn(
                    user_id=expert3,
                    specialty_code=SPEC,
                    starts_at=at + hours * H,
                    ends_at=at + (hours + 8) * H,
                )

            first, second = factory(), factory()
            outcome: dict[str, object] = {}
            try:
                svc.add_shift(first, coord, data(0))

                def late() -> None:
                    try:
                        outcome["second"] = svc.add_shift(second, admin, data(4))
                    except BaseException as exc:  # collected for the assertion below
                        outcome["second"] = exc

                thread = threading.Thread(target=late)
                thread.start()
                time.sleep(0.5)  # the second now waits for the first
                assert thread.is_alive()
                first.commit()
                thread.join(timeout=30)
                error = outcome["second"]
                assert isinstance(error, Conflict) and error.code == "overlap"
                second.rollback()
            finally:
                first.close()
                second.close()
            with unit_of_work(factory) as s:
                held = s.scalar(
                    select(func.count())
                    .select_from(OnCallShift)
                    .where(OnCallShift.user_id == expert3)
                )
                assert held == 1
        finally:
            engine.dispose()
