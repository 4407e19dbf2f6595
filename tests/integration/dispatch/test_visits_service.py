"""Recording visits: the rules of a record, who may record and read, edits and the trail."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from medcircle.audit.models import AuditEvent
from medcircle.auth.domain import Role
from medcircle.dispatch import visits
from medcircle.dispatch.models import RosterPlan, RosterVisit
from medcircle.dispatch.visit_schemas import VisitUpdate
from medcircle.kit.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from medcircle.kit.pagination import PageParams
from tests import agreement_factories as af
from tests.integration.dispatch.visit_support import VisitWorld, frozen_fixture, vw_fixture

__all__ = ["frozen_fixture", "vw_fixture"]


def _code(exc: pytest.ExceptionInfo[DomainError]) -> str:
    return exc.value.code


def test_an_expert_records_their_own_visit_with_operations(vw: VisitWorld) -> None:
    actor = vw.actor(vw.expert)
    view = visits.record_visit(vw.session, actor, vw.data())
    r = view.record
    assert (r.user_id, r.home_institution_id, r.site_institution_id) == (
        vw.expert.id,
        vw.w.beijing.id,
        vw.w.baoding.id,
    )
    # the specialty comes from the department; the code is normalised
    assert r.specialty_code == "neonatology"
    assert [(o.icd10_code, o.procedure, o.count) for o in view.operations] == [
        ("Q79.0", "膈疝修补术", 1)
    ]
    assert view.days == 2 and r.version == 1 and r.recorded_by_user_id == vw.expert.id
    event = vw.session.scalar(select(AuditEvent).where(AuditEvent.action == "visit.record"))
    assert event is not None and event.object_id == str(r.id)


def test_no_agreement_on_those_dates_or_with_that_site(vw: VisitWorld) -> None:
    actor = vw.actor(vw.expert)
    with pytest.raises(ValidationFailed) as exc:
        visits.record_visit(
            vw.session, actor, vw.data(site_institution_id=vw.w.baoding2.id, department_id=None)
        )
    assert _code(exc) == "no_agreement"
    assert exc.value.field_errors[0].field == "site_institution_id"
    # the agreement starts on 1 January 2024: a visit across that day is not covered
    with pytest.raises(ValidationFailed) as exc:
        visits.record_visit(
            vw.session,
            actor,
            vw.data(starts_on=date(2023, 12, 30), ends_on=date(2024, 1, 2)),
        )
    assert _code(exc) == "no_agreement"


def test_a_terminated_agreement_covers_visits_before_its_end_only(vw: VisitWorld) -> None:
    af.agreement(
        vw.session,
        vw.w.beijing,
        vw.w.baoding2,
        starts_on=date(2025, 1, 1),
        ends_on=date(2028, 1, 1),
        terminated_on=date(2026, 6, 1),
    )
    actor = vw.actor(vw.expert)
    before = vw.data(
        site_institution_id=vw.w.baoding2.id,
        department_id=vw.elsewhere.id,
        starts_on=date(2026, 5, 30),
        ends_on=date(2026, 5, 31),
    )
    assert visits.record_visit(vw.session, actor, before).record.id
    after = before.model_copy(update={"starts_on": date(2026, 6, 1), "ends_on": date(2026, 6, 1)})
    with pytest.raises(ValidationFailed) as exc:
        visits.record_visit(vw.session, actor, after)
    assert _code(exc) == "no_agreement"


@pytest.mark.parametrize(
    ("starts_on", "ends_on", "code"),
    [
        (date(2026, 11, 5), date(2026, 11, 4), "dates_order"),
        (date(2026, 11, 30), date(2026, 12, 1), "date_in_future"),
        (date(2024, 1, 1), date(2025, 1, 1), "visit_too_long"),
    ],
)
def test_dates_are_ordered_past_and_at_most_366_days(
    vw: VisitWorld, starts_on: date, ends_on: date, code: str
) -> None:
    with pytest.raises(ValidationFailed) as exc:
        visits.record_visit(
            vw.session, vw.actor(vw.expert), vw.data(starts_on=starts_on, ends_on=ends_on)
        )
    assert code in {fe.code for fe in exc.value.field_errors}


def test_an_invalid_icd10_code_names_its_row(vw: VisitWorld) -> None:
    ops = [
        {"icd10_code": "K40.9", "procedure": "疝修补术", "count": 2},
        {"icd10_code": "XYZ", "procedure": "某手术", "count": 1},
    ]
    with pytest.raises(ValidationFailed) as exc:
        visits.record_visit(vw.session, vw.actor(vw.expert), vw.data(operations=ops))
    assert _code(exc) == "invalid_icd10"
    (fe,) = exc.value.field_errors
    assert fe.field == "operations.1.icd10_code"
    assert fe.params == {"row": 2, "code": "XYZ"}


def test_the_department_must_be_the_sites(vw: VisitWorld) -> None:
    with pytest.raises(ValidationFailed) as exc:
        visits.record_visit(vw.session, vw.actor(vw.expert), vw.data(department_id=vw.elsewhere.id))
    assert _code(exc) == "department_not_at_site"


def test_a_linked_roster_visit_must_be_the_experts(vw: VisitWorld) -> None:
    now = datetime.now(UTC)
    plan = RosterPlan(
        title="November",
        starts_on=date(2026, 11, 2),
        ends_on=date(2026, 11, 29),
        status="published",
        created_at=now,
    )
    vw.session.add(plan)
    vw.session.flush()
    theirs = RosterVisit(
        plan_id=plan.id,
        user_id=vw.expert2.id,
        day=date(2026, 11, 2),
        site_institution_id=vw.w.baoding.id,
        specialty_code="neonatology",
        kind="visit",
    )
    mine = RosterVisit(
        plan_id=plan.id,
        user_id=vw.expert.id,
        day=date(2026, 11, 2),
        site_institution_id=vw.w.baoding.id,
        specialty_code="neonatology",
        kind="visit",
    )
    vw.session.add_all([theirs, mine])
    vw.session.flush()
    actor = vw.actor(vw.expert)
    with pytest.raises(ValidationFailed) as exc:
        visits.record_visit(vw.session, actor, vw.data(roster_visit_id=theirs.id))
    assert _code(exc) == "roster_visit_not_theirs"
    view = visits.record_visit(vw.session, actor, vw.data(roster_visit_id=mine.id))
    assert view.record.roster_visit_id == mine.id


def test_experts_record_their_own_planners_any_of_their_institutions(vw: VisitWorld) -> None:
    with pytest.raises(Forbidden):
        visits.record_visit(vw.session, vw.actor(vw.expert), vw.data(user_id=vw.expert2.id))
    view = visits.record_visit(vw.session, vw.actor(vw.coordinator), vw.data(user_id=vw.expert2.id))
    assert view.record.user_id == vw.expert2.id
    assert view.record.recorded_by_user_id == vw.coordinator.id
    # an expert of another institution is not one of theirs
    with pytest.raises(ValidationFailed) as exc:
        visits.record_visit(
            vw.session, vw.actor(vw.coordinator), vw.data(user_id=vw.outsider_expert.id)
        )
    assert _code(exc) == "not_expert"
    # a clinician does not record visits
    with pytest.raises(Forbidden):
        visits.record_visit(vw.session, vw.actor(vw.w.users[Role.CLINICIAN]), vw.data())


def test_an_expert_is_not_at_two_sites_at_once(vw: VisitWorld) -> None:
    actor = vw.actor(vw.expert)
    visits.record_visit(vw.session, actor, vw.data())
    with pytest.raises(ValidationFailed) as exc:
        visits.record_visit(
            vw.session,
            actor,
            vw.data(starts_on=date(2026, 11, 3), ends_on=date(2026, 11, 3), operations=[]),
        )
    assert _code(exc) == "visit_overlap"


def test_the_home_and_the_site_read_others_do_not_see_it(vw: VisitWorld) -> None:
    view = visits.record_visit(vw.session, vw.actor(vw.expert), vw.data())
    vid = view.record.id
    for user in (vw.w.users[Role.CLINICIAN], vw.coordinator, vw.w.users[Role.COMMISSION_ANALYST]):
        assert visits.get_visit(vw.session, vw.actor(user), vid).record.id == vid
    with pytest.raises(NotFound):
        visits.get_visit(vw.session, vw.actor(vw.outsider_expert), vid)
    rows, total = visits.list_visits(
        vw.session, vw.actor(vw.outsider_expert), visits.VisitFilter(), PageParams()
    )
    assert (rows, total) == ([], 0)
    with pytest.raises(Forbidden):
        visits.get_visit(vw.session, vw.actor(vw.w.users[Role.AUDITOR]), vid)


def test_the_list_filters_by_period_site_expert_and_specialty(vw: VisitWorld) -> None:
    actor = vw.actor(vw.coordinator)
    visits.record_visit(vw.session, actor, vw.data(user_id=vw.expert.id))
    visits.record_visit(
        vw.session,
        actor,
        vw.data(
            user_id=vw.expert2.id,
            department_id=vw.surgery.id,
            starts_on=date(2025, 3, 3),
            ends_on=date(2025, 3, 3),
            operations=[],
        ),
    )
    reader = vw.actor(vw.w.users[Role.CLINICIAN])

    def found(**kw: object) -> list[int]:
        rows, _ = visits.list_visits(vw.session, reader, visits.VisitFilter(**kw), PageParams())  # type: ignore[arg-type]
        return [v.record.user_id for v in rows]

    assert found() == [vw.expert.id, vw.expert2.id]
    assert found(start=date(2026, 1, 1), end=date(2026, 12, 31)) == [vw.expert.id]
    assert found(user_id=vw.expert2.id) == [vw.expert2.id]
    assert found(specialty="ped_surgery") == [vw.expert2.id]
    assert found(site_institution_id=vw.w.baoding2.id) == []


def test_an_edit_carries_the_version_and_replaces_the_operations(vw: VisitWorld) -> None:
    actor = vw.actor(vw.expert)
    view = visits.record_visit(vw.session, actor, vw.data())
    vid = view.record.id
    changed = visits.update_visit(
        vw.session,
        actor,
        vid,
        VisitUpdate(
            version=1,
            outpatients=30,
            operations=[{"icd10_code": "K40.9", "procedure": "疝修补术", "count": 3}],  # type: ignore[list-item]
        ),
    )
    assert changed.record.version == 2 and changed.record.outpatients == 30
    assert changed.operations_total == 3
    # unchanged fields stay
    assert changed.record.difficult_cases == 3
    with pytest.raises(Conflict) as exc:
        visits.update_visit(vw.session, actor, vid, VisitUpdate(version=1, outpatients=1))
    assert _code(exc) == "stale_version"
    # the same rules hold for the result
    with pytest.raises(ValidationFailed) as exc2:
        visits.update_visit(
            vw.session, actor, vid, VisitUpdate(version=2, ends_on=date(2026, 10, 1))
        )
    assert _code(exc2) == "dates_order"
    # another expert may not edit it; a planner of the home may; the site may not
    with pytest.raises(Forbidden):
        visits.update_visit(vw.session, vw.actor(vw.expert2), vid, VisitUpdate(version=2))
    assert (
        visits.update_visit(
            vw.session, vw.actor(vw.coordinator), vid, VisitUpdate(version=2, note="ok")
        ).record.note
        == "ok"
    )
    with pytest.raises(Forbidden):
        visits.update_visit(
            vw.session, vw.actor(vw.w.users[Role.COORDINATOR]), vid, VisitUpdate(version=3)
        )
    events = vw.session.scalars(
        select(AuditEvent.action).where(AuditEvent.object_type == "visit_record")
    ).all()
    assert events.count("visit.update") == 2


def test_choices_offer_the_supported_sites_and_their_departments(vw: VisitWorld) -> None:
    c = visits.choices(vw.session, vw.actor(vw.coordinator))
    assert [s.id for s in c.sites] == [vw.w.baoding.id]
    assert {d.id for d in c.departments} == {vw.neonatology.id, vw.surgery.id}
    assert {uid for uid, _ in c.experts} == {vw.expert.id, vw.expert2.id}
    mine = visits.choices(vw.session, vw.actor(vw.expert))
    assert [uid for uid, _ in mine.experts] == [vw.expert.id]
