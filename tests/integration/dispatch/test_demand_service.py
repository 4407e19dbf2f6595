"""Demand for visiting experts through the service: written by the supported side under an
active agreement, decided by the supporting side, every bad input refused with a stable code
and nothing written, every step audited, other institutions seeing nothing; and the approved
demand the planner reads."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medcircle.dispatch import demand as svc
from medcircle.dispatch.models import DispatchDemand
from medcircle.dispatch.rules import DemandAction, DemandStatus, Side
from medcircle.dispatch.setup_schemas import DecisionIn, DemandIn, DemandUpdate
from medcircle.kit.errors import DomainError
from tests import agreement_factories as af
from tests import dispatch_factories as df
from tests.integration.dispatch.setup_support import (  # noqa: F401 (fixtures)
    actor,
    audited,
    dw_fixture,
    frozen_fixture,
)


def _data(w: df.DispatchWorld, **kw: Any) -> DemandIn:
    values: dict[str, Any] = {
        "agreement_id": w.agreement.id,
        "specialty_code": df.SPECIALTY,
        "kind": "visits",
        "visits_per_week": 2,
        "starts_on": date(2026, 12, 7),
        "ends_on": date(2027, 2, 26),
    }
    values.update(kw)
    return DemandIn(**values)


def _count(session: Session) -> int:
    session.expire_all()
    return int(session.scalar(select(func.count()).select_from(DispatchDemand)) or 0)


def _refused(session: Session, who: str, data: DemandIn) -> DomainError:
    with pytest.raises(DomainError) as caught:
        svc.create_demand(session, actor(session, who), data)
    session.rollback()
    return caught.value


def test_the_site_asks_for_weekly_visits(session: Session, dw: df.DispatchWorld) -> None:
    row = svc.create_demand(session, actor(session, "coordinator"), _data(dw, note="Tuesdays"))
    assert row.status == "draft" and row.version == 1
    assert row.site_institution_id == dw.base.baoding.id
    assert row.supporting_institution_id == dw.base.beijing.id
    # the site's only department in the specialty receives the experts
    assert row.department_id == dw.circle.bd_paeds.id
    assert (row.visits_per_week, row.positions, row.day, row.skill) == (2, None, None, None)
    [event] = audited(session, "dispatch.demand_create")
    assert event.detail["kind"] == "visits" and event.object_id == str(row.id)


def test_a_special_request_takes_its_day_as_period_and_a_normalised_skill(
    session: Session, dw: df.DispatchWorld
) -> None:
    data = _data(
        dw,
        kind="special",
        visits_per_week=None,
        day=date(2026, 12, 9),
        skill="  Balloon   Valvuloplasty ",
        starts_on=None,
        ends_on=None,
    )
    row = svc.create_demand(session, actor(session, "institutionadmin"), data)
    assert (row.starts_on, row.ends_on, row.day) == (date(2026, 12, 9),) * 3
    assert row.skill == "balloon valvuloplasty" and row.visits_per_week is None


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"visits_per_week": 0}, "visits_out_of_range", "visits_per_week"),
        ({"visits_per_week": 6}, "visits_out_of_range", "visits_per_week"),
        ({"visits_per_week": None}, "visits_out_of_range", "visits_per_week"),
        ({"kind": "resident", "positions": 0}, "positions_out_of_range", "positions"),
        ({"kind": "special", "skill": "x-ray"}, "day_required", "day"),
        (
            {"kind": "special", "day": date(2031, 3, 3), "skill": "ecmo"},
            "outside_agreement",
            "day",
        ),
        (
            {"kind": "special", "day": date(2026, 12, 12), "skill": "ecmo"},
            "not_a_working_day",
            "day",
        ),
        ({"kind": "special", "day": date(2026, 12, 9)}, "skill_required", "skill"),
        ({"starts_on": date(2016, 12, 1)}, "outside_agreement", "starts_on"),
        ({"ends_on": date(2031, 1, 1)}, "outside_agreement", "ends_on"),
        ({"ends_on": date(2026, 12, 1)}, "end_before_start", "ends_on"),
        ({"starts_on": date(2026, 1, 5), "ends_on": date(2026, 2, 27)}, "in_the_past", "ends_on"),
        ({"starts_on": None}, "required", "starts_on"),
        ({"department_id": 999999}, "bad_department", "department_id"),
        ({"specialty_code": "neonatology"}, "specialty_not_in_agreement", "specialty_code"),
        ({"specialty_code": "cardiology"}, "no_expert_in_specialty", "specialty_code"),
        ({"agreement_id": 999999}, "unknown_agreement", "agreement_id"),
    ],
)
def test_bad_demand_is_refused_by_the_field(
    session: Session, dw: df.DispatchWorld, changes: dict[str, Any], code: str, field: str
) -> None:
    err = _refused(session, "coordinator", _data(dw, **changes))
    assert err.status == 422 and err.code == code
    assert field in {fe.field for fe in err.field_errors}
    assert _count(session) == 0


def test_no_expert_names_the_supporting_hospital(session: Session, dw: df.DispatchWorld) -> None:
    err = _refused(session, "coordinator", _data(dw, specialty_code="cardiology"))
    fe = err.field_errors[0]
    assert fe.params["supporter"] == dw.base.beijing.name_zh
    assert "nobody could be sent" in fe.message


def test_an_expert_who_does_not_take_part_is_nobody_to_send(
    session: Session, dw: df.DispatchWorld
) -> None:
    df.profile(session, dw.expert3, "cardiology", is_active=False)
    session.commit()
    assert _refused(session, "coordinator", _data(dw, specialty_code="cardiology")).code == (
        "no_expert_in_specialty"
    )
    df.profile(session, dw.circle.bj_admin, "cardiology", max_days_per_week=0)
    session.commit()
    assert _refused(session, "coordinator", _data(dw, specialty_code="cardiology")).code == (
        "no_expert_in_specialty"
    )


def test_demand_needs_an_agreement_of_ones_own_that_runs_today(
    session: Session, dw: df.DispatchWorld
) -> None:
    # the supporting side cannot ask of itself; a stranger cannot use the agreement
    assert _refused(session, "bjcoord", _data(dw)).code == "unknown_agreement"
    assert _refused(session, "bd2coord", _data(dw)).code == "unknown_agreement"
    ended = af.agreement(
        session,
        dw.base.beijing,
        dw.base.baoding,
        starts_on=date(2018, 1, 1),
        ends_on=date(2021, 1, 1),
        specialties=("ped_cardiology",),
    )
    session.commit()
    err = _refused(session, "coordinator", _data(dw, agreement_id=ended.id))
    assert err.code == "agreement_not_active"


def test_only_those_who_write_demand_may(session: Session, dw: df.DispatchWorld) -> None:
    for who in ("clinician", "expert"):
        assert _refused(session, who, _data(dw)).status == 403


def _decision(row: DispatchDemand, note: str | None = None) -> DecisionIn:
    return DecisionIn(version=row.version, note=note)


def test_submit_approve_and_the_planner_reads_it(session: Session, dw: df.DispatchWorld) -> None:
    site, supporter = actor(session, "coordinator"), actor(session, "bjcoord")
    row = svc.create_demand(session, site, _data(dw))
    # the supporter does not see drafts
    with pytest.raises(DomainError) as hidden:
        svc.get_demand(session, supporter, row.id)
    assert hidden.value.status == 404
    svc.submit_demand(session, site, row.id, _decision(row))
    view = svc.get_demand(session, supporter, row.id)
    assert view.side is Side.SUPPORTER
    assert set(view.actions) == {DemandAction.APPROVE, DemandAction.REJECT}
    assert svc.get_demand(session, site, row.id).actions == (DemandAction.WITHDRAW,)
    # the site cannot approve its own demand
    with pytest.raises(DomainError) as own:
        svc.approve_demand(session, site, row.id, _decision(row))
    assert (own.value.status, own.value.code) == (403, "supporter_only")
    assert (
        svc.approved_demand(session, [dw.base.beijing.id], date(2026, 12, 1), date(2026, 12, 31))
        == []
    )
    svc.approve_demand(session, supporter, row.id, _decision(row, "We send Dr Wang."))
    assert row.status == "approved" and row.decided_by_user_id == dw.bj_coordinator.id
    assert row.decision_note == "We send Dr Wang." and row.version == 3
    planned = svc.approved_demand(
        session, [dw.base.beijing.id], date(2026, 12, 1), date(2026, 12, 31)
    )
    assert [d.id for d in planned] == [row.id]
    # outside the horizon, or of another supporter: nothing
    assert (
        svc.approved_demand(session, [dw.base.beijing.id], date(2027, 3, 1), date(2027, 3, 28))
        == []
    )
    assert (
        svc.approved_demand(session, [dw.base.beijing2.id], date(2026, 12, 1), date(2026, 12, 31))
        == []
    )
    assert [e.detail["to"] for e in audited(session, "dispatch.demand_approve")] == ["approved"]
    assert len(audited(session, "dispatch.demand_submit")) == 1


def test_a_rejection_says_why_and_an_edit_makes_a_draft_again(
    session: Session, dw: df.DispatchWorld
) -> None:
    site, supporter = actor(session, "coordinator"), actor(session, "bjadmin")
    row = svc.create_demand(session, site, _data(dw))
    svc.submit_demand(session, site, row.id, _decision(row))
    with pytest.raises(DomainError) as silent:
        svc.reject_demand(session, supporter, row.id, _decision(row, "  "))
    assert silent.value.code == "note_required"
    svc.reject_demand(session, supporter, row.id, _decision(row, "No surgeon free in December"))
    assert row.status == "rejected"
    # the supporter may not change it; the site may, and it becomes a draft
    with pytest.raises(DomainError) as theirs:
        svc.edit_demand(
            session, supporter, row.id, DemandUpdate(version=row.version, visits_per_week=1)
        )
    assert theirs.value.code == "site_only"
    svc.edit_demand(
        session, site, row.id, DemandUpdate(version=row.version, starts_on=date(2027, 1, 4))
    )
    assert row.status == "draft" and row.starts_on == date(2027, 1, 4)
    assert row.visits_per_week == 2 and row.decision_note is None
    [edit] = audited(session, "dispatch.demand_edit")
    assert edit.detail["before"]["starts_on"] == "2026-12-07"


def test_edits_are_refused_when_stale_or_out_of_turn(
    session: Session, dw: df.DispatchWorld
) -> None:
    site = actor(session, "coordinator")
    row = svc.create_demand(session, site, _data(dw))
    with pytest.raises(DomainError) as stale:
        svc.edit_demand(session, site, row.id, DemandUpdate(version=7, visits_per_week=1))
    assert (stale.value.status, stale.value.code) == (409, "stale_version")
    svc.submit_demand(session, site, row.id, _decision(row))
    with pytest.raises(DomainError) as submitted:
        svc.edit_demand(session, site, row.id, DemandUpdate(version=row.version, visits_per_week=1))
    assert (submitted.value.status, submitted.value.code) == (409, "wrong_status")
    svc.withdraw_demand(session, site, row.id, _decision(row))
    assert row.status == DemandStatus.WITHDRAWN
    with pytest.raises(DomainError) as again:
        svc.withdraw_demand(session, site, row.id, _decision(row))
    assert again.value.code == "wrong_status"
    # a bad edit leaves the row as it was
    other = svc.create_demand(session, site, _data(dw))
    session.commit()
    with pytest.raises(DomainError):
        svc.edit_demand(session, site, other.id, DemandUpdate(version=1, visits_per_week=9))
    session.rollback()
    session.expire_all()
    kept = session.get(DispatchDemand, other.id)
    assert kept is not None and kept.visits_per_week == 2 and kept.version == 1


def test_lists_by_side_and_status_and_strangers_see_nothing(
    session: Session, dw: df.DispatchWorld
) -> None:
    draft = df.demand(session, dw)
    submitted = df.demand(session, dw, status="submitted")
    approved = df.demand(session, dw, status="approved", starts_on=date(2026, 12, 1))
    session.commit()
    site, supporter = actor(session, "coordinator"), actor(session, "bjcoord")
    views, total = svc.list_demand(session, site)
    assert total == 3 and [v.row.id for v in views] == [approved.id, draft.id, submitted.id]
    assert {v.side for v in views} == {Side.SITE}
    views, total = svc.list_demand(session, supporter)
    assert total == 2 and {v.row.id for v in views} == {submitted.id, approved.id}
    assert svc.list_demand(session, site, side=Side.SUPPORTER)[1] == 0
    only, n = svc.list_demand(session, supporter, status=DemandStatus.APPROVED)
    assert n == 1 and only[0].row.id == approved.id
    stranger = actor(session, "bd2coord")
    assert svc.list_demand(session, stranger)[1] == 0
    for row in (draft, submitted, approved):
        with pytest.raises(DomainError) as caught:
            svc.get_demand(session, stranger, row.id)
        assert caught.value.status == 404
    with pytest.raises(DomainError) as auditor:
        svc.list_demand(session, actor(session, "auditor"))
    assert auditor.value.status == 403


def test_the_agreements_a_site_may_ask_under(session: Session, dw: df.DispatchWorld) -> None:
    [choice] = svc.agreement_choices(session, actor(session, "coordinator"))
    assert choice.agreement.id == dw.agreement.id
    assert {s.code for s in choice.specialties} == {"ped_cardiology", "cardiology"}
    assert choice.last_day == date(2030, 12, 30)
    assert svc.agreement_choices(session, actor(session, "bjcoord")) == []
