"""Experts' availability through the service: profiles with their bad input (an expert who
could never visit, unknown specialty, days out of range, stale versions), single duty days,
named skills, leave shown from the rota's table, other institutions' experts unseen; and the
availability the planner reads."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from medcircle.dispatch import availability as svc
from medcircle.dispatch.setup_schemas import DutyIn, ProfileIn, SkillIn
from medcircle.kit.clock import CST
from medcircle.kit.errors import DomainError
from tests import consult_factories as cf
from tests import dispatch_factories as df
from tests.integration.dispatch.setup_support import (  # noqa: F401 (fixtures)
    actor,
    audited,
    dw_fixture,
    frozen_fixture,
)


def _refused(call: object, *args: object) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call(*args)  # type: ignore[operator]
    return caught.value


def test_the_list_shows_each_expert_and_their_set_up(
    session: Session, dw: df.DispatchWorld
) -> None:
    experts = svc.list_experts(session, actor(session, "bjcoord"))
    by_id = {e.user_id: e for e in experts}
    assert set(by_id) == {dw.expert.id, dw.expert2.id, dw.expert3.id}
    assert by_id[dw.expert3.id].profile is None
    assert by_id[dw.expert3.id].practice_specialty == df.SPECIALTY
    assert by_id[dw.expert2.id].profile is not None
    assert by_id[dw.expert2.id].profile.duty_weekdays == [0]
    # BD-A has no experts; another institution's expert is not there
    assert svc.list_experts(session, actor(session, "coordinator")) == []
    assert (
        _refused(svc.get_expert, session, actor(session, "coordinator"), dw.expert.id).status == 404
    )


def test_a_new_profile_then_a_change_with_the_version(
    session: Session, dw: df.DispatchWorld
) -> None:
    coord = actor(session, "bjcoord")
    row = svc.save_profile(
        session,
        coord,
        dw.expert3.id,
        ProfileIn(specialty_code="cardiology", duty_weekdays=[3, 1, 3]),
    )
    assert (row.max_days_per_week, row.duty_weekdays, row.version) == (2, [1, 3], 1)
    stale = _refused(
        svc.save_profile,
        session,
        coord,
        dw.expert3.id,
        ProfileIn(specialty_code="cardiology", version=5),
    )
    assert (stale.status, stale.code) == (409, "stale_version")
    row = svc.save_profile(
        session,
        coord,
        dw.expert3.id,
        ProfileIn(specialty_code="cardiology", max_days_per_week=1, version=1),
    )
    assert (row.max_days_per_week, row.duty_weekdays, row.version) == (1, [], 2)
    events = audited(session, "dispatch.profile_save")
    assert events[0].detail["before"] is None and events[1].detail["before"]["duty_weekdays"] == [
        1,
        3,
    ]


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"duty_weekdays": [0, 1, 2, 3, 4]}, "never_available", "duty_weekdays"),
        ({"max_days_per_week": 6}, "days_out_of_range", "max_days_per_week"),
        ({"max_days_per_week": -1}, "days_out_of_range", "max_days_per_week"),
        ({"duty_weekdays": [5]}, "invalid_weekday", "duty_weekdays"),
        ({"specialty_code": "astrology"}, "unknown_specialty", "specialty_code"),
    ],
)
def test_bad_profiles_are_refused(
    session: Session, dw: df.DispatchWorld, body: dict[str, object], code: str, field: str
) -> None:
    values: dict[str, object] = {"specialty_code": df.SPECIALTY, **body}
    err = _refused(
        svc.save_profile, session, actor(session, "bjcoord"), dw.expert3.id, ProfileIn(**values)
    )
    assert (err.status, err.code) == (422, code)
    assert field in {fe.field for fe in err.field_errors}


def test_never_available_says_to_switch_taking_part_off(
    session: Session, dw: df.DispatchWorld
) -> None:
    coord = actor(session, "bjcoord")
    every_day = ProfileIn(specialty_code=df.SPECIALTY, duty_weekdays=[0, 1, 2, 3, 4])
    err = _refused(svc.save_profile, session, coord, dw.expert3.id, every_day)
    assert "Switch 'takes part in dispatch' off" in err.field_errors[0].message
    # switched off, or with no visit days, the same duties are accepted
    off = ProfileIn(specialty_code=df.SPECIALTY, duty_weekdays=[0, 1, 2, 3, 4], is_active=False)
    assert svc.save_profile(session, coord, dw.expert3.id, off).is_active is False


def test_only_planners_of_the_institution_keep_availability(
    session: Session, dw: df.DispatchWorld
) -> None:
    body = ProfileIn(specialty_code=df.SPECIALTY)
    assert (
        _refused(svc.save_profile, session, actor(session, "expert"), dw.expert3.id, body).status
        == 403
    )
    assert (
        _refused(
            svc.save_profile, session, actor(session, "coordinator"), dw.expert3.id, body
        ).status
        == 404
    )
    # a user who is not an expert is not there either
    assert (
        _refused(
            svc.save_profile, session, actor(session, "bjcoord"), dw.bj_coordinator.id, body
        ).status
        == 404
    )


def test_single_duty_days(session: Session, dw: df.DispatchWorld) -> None:
    coord = actor(session, "bjcoord")
    row = svc.add_duty(
        session, coord, dw.expert.id, DutyIn(day=date(2026, 12, 3), reason="Exam board")
    )
    assert (
        _refused(svc.add_duty, session, coord, dw.expert.id, DutyIn(day=date(2026, 12, 3))).code
        == "duty_exists"
    )
    assert (
        _refused(svc.add_duty, session, coord, dw.expert.id, DutyIn(day=date(2026, 11, 27))).code
        == "in_the_past"
    )
    assert (
        _refused(svc.add_duty, session, coord, dw.expert.id, DutyIn(day=date(2026, 12, 5))).code
        == "not_a_working_day"
    )
    assert [d.day for d in svc.get_expert(session, coord, dw.expert.id).duties] == [
        date(2026, 12, 3)
    ]
    svc.remove_duty(session, coord, dw.expert.id, row.id)
    assert svc.get_expert(session, coord, dw.expert.id).duties == []
    assert _refused(svc.remove_duty, session, coord, dw.expert2.id, row.id).status == 404
    assert len(audited(session, "dispatch.duty_add")) == 1
    assert len(audited(session, "dispatch.duty_remove")) == 1


def test_skills_are_normalised_and_unique(session: Session, dw: df.DispatchWorld) -> None:
    coord = actor(session, "bjcoord")
    row = svc.add_skill(session, coord, dw.expert.id, SkillIn(skill="  Balloon  VALVULOPLASTY "))
    assert row.skill == "balloon valvuloplasty"
    dup = _refused(
        svc.add_skill, session, coord, dw.expert.id, SkillIn(skill="balloon valvuloplasty")
    )
    assert (dup.status, dup.code) == (409, "skill_exists")
    assert (
        _refused(svc.add_skill, session, coord, dw.expert.id, SkillIn(skill="   ")).code
        == "skill_required"
    )
    assert (
        _refused(svc.add_skill, session, coord, dw.expert.id, SkillIn(skill="x" * 80)).code
        == "invalid_skill"
    )
    svc.remove_skill(session, coord, dw.expert.id, row.id)
    assert svc.get_expert(session, coord, dw.expert.id).skills == []


def test_leave_from_the_rota_is_shown(session: Session, dw: df.DispatchWorld) -> None:
    start = datetime(2026, 12, 14, 0, 0, tzinfo=CST)
    cf.leave(session, dw.expert, start, start + timedelta(days=5))
    session.commit()
    e = svc.get_expert(session, actor(session, "bjcoord"), dw.expert.id)
    assert [(lv.starts_at.astimezone(UTC), lv.ends_at.astimezone(UTC)) for lv in e.leave] == [
        (start.astimezone(UTC), (start + timedelta(days=5)).astimezone(UTC))
    ]


def test_the_planner_reads_duties_leave_and_skills(session: Session, dw: df.DispatchWorld) -> None:
    df.duty(session, dw.expert, date(2026, 12, 9))
    df.skill(session, dw.expert, "balloon valvuloplasty")
    # leave from Thursday noon to Friday 08:00 China time touches two working days
    cf.leave(
        session,
        dw.expert,
        datetime(2026, 12, 10, 12, 0, tzinfo=CST),
        datetime(2026, 12, 11, 8, 0, tzinfo=CST),
    )
    df.profile(session, dw.expert3, "cardiology", is_active=False)
    session.commit()
    found = svc.experts_for_planning(
        session, [dw.base.beijing.id], date(2026, 12, 7), date(2026, 12, 20)
    )
    by_id = {a.user_id: a for a in found}
    assert set(by_id) == {dw.expert.id, dw.expert2.id}
    one = by_id[dw.expert.id]
    assert (one.institution_id, one.specialty_code, one.max_days_per_week) == (
        dw.base.beijing.id,
        df.SPECIALTY,
        2,
    )
    assert one.skills == frozenset({"balloon valvuloplasty"})
    assert one.duty_days == frozenset({date(2026, 12, 9)})
    assert one.leave_days == frozenset({date(2026, 12, 10), date(2026, 12, 11)})
    # expert2 has home duty every Monday
    assert by_id[dw.expert2.id].duty_days == frozenset({date(2026, 12, 7), date(2026, 12, 14)})
    assert (
        svc.experts_for_planning(
            session, [dw.base.baoding.id], date(2026, 12, 7), date(2026, 12, 20)
        )
        == []
    )
