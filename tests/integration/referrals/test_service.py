"""The referral loop through the real service: submit, triage, schedule, arrive, complete,
close, redirect, cancel and the way back down; access, consent and bad input."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from medcircle.auth.domain import Role
from medcircle.config import Settings
from medcircle.kit import clock, i18n
from medcircle.kit.errors import Conflict, Forbidden, NotFound, ValidationFailed
from medcircle.referrals import service
from medcircle.referrals.domain import (
    STATUS_LABELS,
    Action,
    Direction,
    Side,
    Status,
    TimerKind,
    Urgency,
)
from medcircle.referrals.models import Referral
from medcircle.referrals.schemas import ReferralUpdate
from medcircle.registry.models import Department
from tests import factories
from tests import referral_factories as rf
from tests.factories import World
from tests.integration.referrals.loop_support import Loop, build_loop

TRIAGE = TimerKind.TRIAGE_OVERDUE.value
APPOINTMENT = TimerKind.APPOINTMENT_PASSED.value


@pytest.fixture
def loop(session: Session, world: World, settings: Settings) -> Loop:
    return build_loop(session, world, settings)


def test_submit_up_to_beijing(loop: Loop) -> None:
    before = clock.now()
    r = loop.create()
    assert re.fullmatch(rf"R-{clock.today().year}-\d{{6,}}", r.reference)
    assert r.reference.endswith(f"{r.id:06d}")
    assert r.status == Status.SUBMITTED and r.version == 1
    assert r.direction == Direction.UP  # secondary Baoding hospital to tertiary Beijing
    assert r.diagnosis == "Ventricular septal defect"  # the ICD-10 title by default
    assert r.consent_id is not None and not r.outside_network
    assert r.submitted_at is not None and r.submitted_at >= before
    assert r.triage_due_at == r.submitted_at + timedelta(hours=72)
    assert [(e.action, e.from_status, e.to_status) for e in loop.events(r)] == [
        ("create", None, "draft"),
        ("submit", "draft", "submitted"),
    ]
    assert loop.timer_kinds(r) == [TRIAGE]
    # no staff of the receiving department has an account: its institution's office is told
    assert loop.notified("referral.submitted") == {"bjadmin"}
    assert [a.object_id for a in loop.audits("referral.submit")] == [str(r.id)]


def test_default_diagnosis_is_the_icd10_title(loop: Loop) -> None:
    r = loop.create(icd10_code=" q210 ")
    assert r.icd10_code == "Q21.0"
    assert r.diagnosis == "Ventricular septal defect"
    assert loop.create(diagnosis="VSD, perimembranous").diagnosis == "VSD, perimembranous"


def test_emergency_triage_limit_comes_from_settings(loop: Loop) -> None:
    loop.settings.triage_hours_emergency = 0.5
    r = loop.create(urgency=Urgency.EMERGENCY)
    assert r.urgency_rank == 0
    assert r.submitted_at is not None
    assert r.triage_due_at == r.submitted_at + timedelta(minutes=30)


def test_down_referral_from_beijing(loop: Loop, world: World) -> None:
    bj_patient = rf.patient(loop.session, world.beijing, national_id=rf.ADULT_ID)
    rf.consent(loop.session, bj_patient, world.baoding, loop.cw.bj_admin)
    r = loop.create(
        "bjclinician", patient_id=bj_patient.id, receiver_department_id=loop.cw.bd_paeds.id
    )
    assert r.direction == Direction.DOWN
    assert loop.notified("referral.submitted") == {"institutionadmin"}


def test_the_receiving_departments_staff_are_told_first(loop: Loop) -> None:
    from tests import registry_factories

    registry_factories.practitioner(
        loop.session,
        loop.cw.base.beijing,
        specialty_code="ped_cardiology",
        department_id=loop.cw.bj_paeds.id,
        user_id=loop.cw.bj_clinician.id,
    )
    r = loop.create()
    assert loop.notified("referral.submitted") == {"bjclinician"}
    # whoever triaged it hears of the sender's later changes too
    r = loop.move(r, Action.ACCEPT, "bjadmin")
    loop.move(r, Action.CANCEL, "clinician", reason="The family moved to Tianjin")
    assert loop.notified("referral.cancel") == {"bjclinician", "bjadmin"}


def test_the_whole_loop(loop: Loop) -> None:
    r = loop.create()
    r = loop.move(r, Action.ACCEPT, "bjclinician")
    assert r.status == Status.ACCEPTED and r.triaged_at is not None
    assert loop.timer_kinds(r) == []
    assert "clinician" in loop.notified("referral.accept")
    r = loop.move(r, Action.SCHEDULE, "bjclinician")
    assert r.status == Status.SCHEDULED and loop.timer_kinds(r) == [APPOINTMENT]
    first = loop.session.scalars(select(Referral.appointment_at).where(Referral.id == r.id)).one()
    r = loop.move(r, Action.RESCHEDULE, "bjadmin", appointment_at=clock.now() + timedelta(days=9))
    assert r.appointment_at != first
    # the new appointment's reminder replaces the old one
    assert loop.timer_kinds(r) == [APPOINTMENT]
    pending = service.tasks.pending(loop.session, "referral", r.id)
    assert r.appointment_at is not None
    assert pending[0].due_at == r.appointment_at + timedelta(hours=2)
    r = loop.move(r, Action.ARRIVE, "bjclinician")
    assert r.arrived_at is not None and loop.timer_kinds(r) == []
    r = loop.move(r, Action.COMPLETE, "bjclinician", local_plan=True)
    assert r.outcome_summary and r.completed_at is not None
    # an upward referral answered with a local plan counts as care kept local
    assert r.saving_yuan is not None and r.saving_yuan > 0
    assert r.saving_distance_km is not None and r.saving_distance_km > 100
    r = loop.move(r, Action.CLOSE, "clinician")
    assert r.status == Status.CLOSED and r.closed_at is not None
    assert [e.action for e in loop.events(r)] == [
        "create",
        "submit",
        "accept",
        "schedule",
        "reschedule",
        "arrive",
        "complete",
        "close",
    ]
    assert r.version == 7  # one write per step
    assert service.available_actions(loop.actor("clinician"), r) == []
    assert len(loop.audits("referral.complete")) == 1
    # the sender is told of each step the receiver takes, and the receiver of the close
    assert "clinician" in loop.notified("referral.complete")
    assert "bjclinician" in loop.notified("referral.close")


def test_completion_without_local_plan_saves_nothing(loop: Loop) -> None:
    r = loop.walk(loop.create(), Action.ACCEPT, Action.SCHEDULE, Action.ARRIVE, Action.COMPLETE)
    assert r.saving_yuan is None and r.local_plan is False


def test_draft_then_submit(loop: Loop) -> None:
    r = loop.create(submit=False)
    assert r.status == Status.DRAFT and r.consent_id is None and r.submitted_at is None
    assert loop.timer_kinds(r) == []
    # the receiver does not know a draft exists
    with pytest.raises(NotFound):
        service.get(loop.session, loop.actor("bjclinician"), r.id)
    r = service.update_draft(
        loop.session,
        loop.actor("clinician"),
        r.id,
        ReferralUpdate(version=r.version, urgency=Urgency.URGENT, icd10_code="I42.0"),
    )
    assert (r.urgency, r.urgency_rank, r.icd10_code) == ("urgent", 1, "I42.0")
    assert r.diagnosis == "Dilated cardiomyopathy"
    r = loop.move(r, Action.SUBMIT, "clinician")
    assert r.status == Status.SUBMITTED and r.consent_id is not None
    assert r.submitted_at is not None
    assert r.triage_due_at == r.submitted_at + timedelta(hours=24)
    assert loop.timer_kinds(r) == [TRIAGE]
    assert [e.action for e in loop.events(r)] == ["create", "update", "submit"]
    assert service.get(loop.session, loop.actor("bjclinician"), r.id).id == r.id


def test_only_drafts_are_edited(loop: Loop) -> None:
    r = loop.create()
    with pytest.raises(Conflict) as caught:
        service.update_draft(
            loop.session, loop.actor("clinician"), r.id, ReferralUpdate(version=r.version)
        )
    assert caught.value.code == "not_draft"


def test_draft_cancelled_without_reason(loop: Loop) -> None:
    r = loop.create(submit=False)
    r = loop.move(r, Action.CANCEL, "clinician", reason=None)
    assert r.status == Status.CANCELLED


@pytest.mark.parametrize("who", ["clinician", "bjadmin"], ids=["sender", "receiver"])
def test_cancel_needs_a_reason_once_submitted(loop: Loop, who: str) -> None:
    r = loop.create()
    with pytest.raises(ValidationFailed) as caught:
        loop.move(r, Action.CANCEL, who, reason="  ")
    assert [e.field for e in caught.value.field_errors] == ["reason"]
    r = loop.move(r, Action.CANCEL, who, reason="Family moved to Tianjin")
    assert r.status == Status.CANCELLED and r.cancel_reason == "Family moved to Tianjin"
    assert loop.timer_kinds(r) == []


# --- refusals -----------------------------------------------------------------------------


def test_transition_not_allowed_names_the_state(loop: Loop) -> None:
    r = loop.create()
    with pytest.raises(Conflict) as caught:
        loop.move(r, Action.ARRIVE, "bjclinician")
    assert caught.value.code == "transition_not_allowed"
    assert i18n.gettext(STATUS_LABELS[Status.SUBMITTED]) in caught.value.text()
    loop.session.refresh(r)
    assert r.status == Status.SUBMITTED and r.version == 1 and len(loop.events(r)) == 2


def test_stale_version(loop: Loop) -> None:
    r = loop.create()
    with pytest.raises(Conflict) as caught:
        loop.move(r, Action.ACCEPT, "bjclinician", version=r.version + 1)
    assert caught.value.code == "stale_version"


def test_each_side_makes_its_own_transitions(loop: Loop) -> None:
    r = loop.create()
    with pytest.raises(Forbidden):
        loop.move(r, Action.ACCEPT, "clinician")  # the sender cannot accept
    r = loop.walk(r, Action.ACCEPT, Action.SCHEDULE, Action.ARRIVE, Action.COMPLETE)
    with pytest.raises(Forbidden):
        loop.move(r, Action.CLOSE, "bjclinician")  # the receiver cannot close for the sender
    # an expert at the receiving institution reads but does not triage
    assert service.get(loop.session, loop.actor("expert"), r.id).id == r.id
    assert service.available_actions(loop.actor("expert"), r) == []
    with pytest.raises(Forbidden):
        loop.move(r, Action.CLOSE, "expert")


def test_sides_and_actions(loop: Loop) -> None:
    r = loop.create()
    assert service.sides(loop.actor("clinician"), r) == {Side.SENDER}
    assert service.sides(loop.actor("bjclinician"), r) == {Side.RECEIVER}
    assert service.sides(loop.actor("bd2clinician"), r) == set()
    assert service.available_actions(loop.actor("clinician"), r) == [Action.CANCEL]
    assert service.available_actions(loop.actor("bjclinician"), r) == [
        Action.ACCEPT,
        Action.DECLINE,
        Action.REDIRECT,
        Action.CANCEL,
    ]


def test_appointment_must_be_in_the_future(loop: Loop) -> None:
    r = loop.move(loop.create(), Action.ACCEPT, "bjclinician")
    with pytest.raises(ValidationFailed) as caught:
        loop.move(
            r, Action.SCHEDULE, "bjclinician", appointment_at=clock.now() - timedelta(hours=1)
        )
    assert caught.value.code == "appointment_in_past"
    with pytest.raises(ValidationFailed) as missing:
        loop.move(r, Action.SCHEDULE, "bjclinician", appointment_place="")
    assert missing.value.code == "required"
    assert [e.field for e in missing.value.field_errors] == ["appointment_place"]


def test_other_institutions_see_nothing(loop: Loop, world: World) -> None:
    r = loop.create()
    with pytest.raises(NotFound):
        service.get(loop.session, loop.actor("bd2clinician"), r.id)
    with pytest.raises(NotFound):
        loop.move(r, Action.ACCEPT, "bd2clinician")
    with pytest.raises(NotFound):
        service.history(loop.session, loop.actor("bd2clinician"), r)
    # BJ-A's staff do not see what BD-A sends to BJ-B
    rf.consent(loop.session, loop.child, world.beijing2, loop.user("clinician"))
    elsewhere = loop.create(
        receiver_department_id=loop.cw.bj2_paeds.id, outside_network_reason="Second opinion"
    )
    for username in ("bjclinician", "bjadmin", "expert", "platformadmin"):
        with pytest.raises(NotFound):
            service.get(loop.session, loop.actor(username), elsewhere.id)


@pytest.mark.parametrize(
    "username",
    ["commissionanalyst", "auditor", "coordinator", "allianceadmin"],
    ids=["analyst", "auditor", "coordinator", "alliance-admin"],
)
def test_roles_without_patient_data_are_refused(loop: Loop, username: str) -> None:
    r = loop.create()
    with pytest.raises(Forbidden):
        service.get(loop.session, loop.actor(username), r.id)
    with pytest.raises(Forbidden):
        loop.create(username)


def test_unknown_and_inactive_departments(loop: Loop) -> None:
    n = loop.referral_count()
    with pytest.raises(ValidationFailed) as caught:
        loop.create(receiver_department_id=999_999)
    assert caught.value.code == "unknown_department"
    loop.cw.bj_cardio.is_active = False
    loop.session.flush()
    with pytest.raises(ValidationFailed) as inactive:
        loop.create(receiver_department_id=loop.cw.bj_cardio.id)
    assert inactive.value.code == "unknown_department"
    assert loop.referral_count() == n


def test_bad_input_each_with_its_code(loop: Loop) -> None:
    n = loop.referral_count()
    cases = {
        "same_institution": {"receiver_department_id": loop.cw.bd_paeds.id},
        "invalid_icd10": {"icd10_code": "Q99.99X"},
        "unknown_patient": {"patient_id": 999_999},
    }
    for code, overrides in cases.items():
        with pytest.raises(ValidationFailed) as caught:
            loop.create(**overrides)
        assert caught.value.code == code
        assert caught.value.field_errors[0].code == code
    assert loop.referral_count() == n


def test_patient_of_another_institution_is_unknown(loop: Loop, world: World) -> None:
    stranger = rf.patient(loop.session, world.baoding2, national_id=rf.ADULT_ID)
    with pytest.raises(ValidationFailed) as caught:
        loop.create(patient_id=stranger.id)
    assert caught.value.code == "unknown_patient"


def test_consent_is_needed_to_submit(loop: Loop, world: World) -> None:
    other_child = rf.patient(loop.session, world.baoding, national_id=rf.ADULT_ID)
    n = loop.referral_count()
    with pytest.raises(ValidationFailed) as caught:
        loop.create(patient_id=other_child.id)
    assert caught.value.code == "consent_missing"
    assert "Beijing Hospital A" in caught.value.field_errors[0].text() or (
        "北京甲医院" in caught.value.field_errors[0].text()
    )
    assert loop.referral_count() == n
    # a draft needs none yet, the submission does
    draft = loop.create(patient_id=other_child.id, submit=False)
    with pytest.raises(ValidationFailed):
        loop.move(draft, Action.SUBMIT, "clinician")
    loop.session.refresh(draft)
    assert draft.status == Status.DRAFT


def test_outside_the_network_needs_a_reason_and_is_flagged(loop: Loop, world: World) -> None:
    # BD-B is in BD-A's alliance; BD-A is paired with BJ-A, not with BJ-B
    child = rf.patient(loop.session, world.baoding2)
    rf.consent(loop.session, child, world.beijing2, loop.cw.bd2_clinician)
    to_bj2 = loop.cw.bj2_paeds.id
    with pytest.raises(ValidationFailed) as caught:
        loop.create("bd2clinician", patient_id=child.id, receiver_department_id=to_bj2)
    assert caught.value.code == "outside_network_reason_required"
    r = loop.create(
        "bd2clinician",
        patient_id=child.id,
        receiver_department_id=to_bj2,
        outside_network_reason="Only BJ-B operates on infants",
    )
    assert r.outside_network and r.outside_network_reason == "Only BJ-B operates on infants"
    # a member of an alliance refers through its lead's partners: BD-B to BJ-A is inside
    on = clock.today()
    assert service.in_network(loop.session, world.baoding2.id, world.beijing.id, on)
    assert service.in_network(loop.session, world.beijing.id, world.baoding2.id, on)
    # inside the alliance no reason is asked
    rf.consent(loop.session, child, world.baoding, loop.cw.bd2_clinician)
    inside = loop.create(
        "bd2clinician", patient_id=child.id, receiver_department_id=loop.cw.bd_paeds.id
    )
    assert not inside.outside_network and inside.direction == Direction.DOWN


def test_an_ended_agreement_no_longer_joins(loop: Loop, world: World) -> None:
    from medcircle.agreements.models import CooperationAgreement

    agreement = loop.session.scalars(select(CooperationAgreement)).one()
    agreement.terminated_on = date(2020, 1, 1)
    loop.session.flush()
    assert not service.in_network(loop.session, world.baoding.id, world.beijing.id, clock.today())
    with pytest.raises(ValidationFailed) as caught:
        loop.create()
    assert caught.value.code == "outside_network_reason_required"


# --- redirect -----------------------------------------------------------------------------


def test_redirect_to_another_department(loop: Loop) -> None:
    r = loop.create()
    r = loop.move(r, Action.REDIRECT, "bjclinician", reason="Adult congenital clinic")
    assert r.status == Status.REDIRECTED and r.redirected_to_id is not None
    new = loop.session.get(Referral, r.redirected_to_id)
    assert new is not None
    assert (new.status, new.parent_id, new.receiver_department_id) == (
        Status.SUBMITTED,
        r.id,
        loop.cw.bj_cardio.id,
    )
    assert new.sender_institution_id == r.sender_institution_id
    assert new.sender_user_id == r.sender_user_id
    assert loop.timer_kinds(r) == [] and loop.timer_kinds(new) == [TRIAGE]
    assert loop.events(r)[-1].detail["redirected_to"] == new.reference
    assert r.decision_reason == "Adult congenital clinic"
    assert "clinician" in loop.notified("referral.redirect")
    # the sender closes the original once read
    assert loop.move(r, Action.CLOSE, "clinician").status == Status.CLOSED


def test_redirect_to_another_institution_needs_its_consent(loop: Loop, world: World) -> None:
    r = loop.create()
    loop.session.commit()
    with pytest.raises(ValidationFailed) as caught:
        loop.move(r, Action.REDIRECT, "bjclinician", receiver_department_id=loop.cw.bj2_paeds.id)
    assert caught.value.code == "consent_missing"
    loop.session.rollback()  # the request would end here
    r = loop.session.get(Referral, r.id)  # type: ignore[assignment]
    assert r.status == Status.SUBMITTED and r.redirected_to_id is None
    rf.consent(loop.session, loop.child, world.beijing2, loop.user("clinician"))
    r = loop.move(r, Action.REDIRECT, "bjclinician", receiver_department_id=loop.cw.bj2_paeds.id)
    new = loop.session.get(Referral, r.redirected_to_id)
    assert new is not None and new.receiver_institution_id == world.beijing2.id
    assert new.outside_network  # no agreement joins BD-A and BJ-B
    # the new receiver sees it, the old one still sees the original only
    assert service.get(loop.session, loop.actor("bjclinician"), r.id).id == r.id
    with pytest.raises(NotFound):
        service.get(loop.session, loop.actor("bjclinician"), new.id)


def test_redirect_refusals(loop: Loop) -> None:
    r = loop.create()
    loop.session.commit()
    for department_id, code in (
        (loop.cw.bj_paeds.id, "same_department"),
        (loop.cw.bd_paeds.id, "same_institution"),
        (999_999, "unknown_department"),
    ):
        with pytest.raises(ValidationFailed) as caught:
            loop.move(r, Action.REDIRECT, "bjclinician", receiver_department_id=department_id)
        assert caught.value.code == code
        loop.session.rollback()
        r = loop.session.get(Referral, r.id)  # type: ignore[assignment]
    with pytest.raises(ValidationFailed) as missing:
        loop.move(r, Action.REDIRECT, "bjclinician", receiver_department_id=None, reason=None)
    assert {e.field for e in missing.value.field_errors} == {"reason", "receiver_department_id"}


# --- back down ----------------------------------------------------------------------------


def test_return_referral_back_down(loop: Loop) -> None:
    up = loop.walk(loop.create(), Action.ACCEPT, Action.SCHEDULE, Action.ARRIVE, Action.COMPLETE)
    bj = loop.actor("bjclinician")
    draft = service.return_prefill(loop.session, bj, up.id)
    assert draft.patient_id == up.patient_id
    assert draft.receiver_department_id == loop.cw.bd_paeds.id  # same specialty at BD-A
    assert draft.direction == Direction.DOWN and draft.icd10_code == up.icd10_code
    assert draft.clinical_summary == up.outcome_summary
    assert up.reference in draft.reason
    down = service.create_return(loop.session, bj, up.id, draft, loop.settings)
    assert (down.direction, down.status, down.parent_id) == ("down", "submitted", up.id)
    assert down.sender_institution_id == up.receiver_institution_id
    assert down.receiver_institution_id == up.sender_institution_id
    # back to the patient's own institution: no consent needed
    assert down.consent_id is None
    assert "clinician" in loop.notified("referral.returned")
    # the original shows the return in its history, and the sender can still see both
    assert loop.events(up)[-1].action == "return"
    assert loop.events(up)[-1].detail["reference"] == down.reference
    assert service.get(loop.session, loop.actor("clinician"), down.id).id == down.id
    assert len(loop.audits("referral.return")) == 1


def test_the_people_and_the_continuations_of_a_referral(loop: Loop) -> None:
    up = loop.walk(loop.create(), Action.ACCEPT, Action.SCHEDULE, Action.ARRIVE, Action.COMPLETE)
    bj = loop.actor("bjclinician")
    down = service.create_return(
        loop.session, bj, up.id, service.return_prefill(loop.session, bj, up.id), loop.settings
    )
    for username in ("clinician", "bjclinician"):
        actor = loop.actor(username)
        people = service.people_of(loop.session, actor, up, loop.events(up))
        assert {loop.user("clinician").id, loop.user("bjclinician").id} <= set(people)
        assert [x.id for x in service.continuations(loop.session, actor, up)] == [down.id]
    stranger = loop.actor("bd2clinician")
    with pytest.raises(NotFound):
        service.people_of(loop.session, stranger, up, loop.events(up))
    with pytest.raises(NotFound):
        service.continuations(loop.session, stranger, up)


def test_return_uses_the_senders_department(loop: Loop) -> None:
    up = loop.create(sender_department_id=loop.cw.bd_paeds.id)
    up = loop.walk(up, Action.ACCEPT, Action.SCHEDULE, Action.ARRIVE)
    draft = service.return_prefill(loop.session, loop.actor("bjclinician"), up.id)
    assert draft.receiver_department_id == loop.cw.bd_paeds.id
    assert draft.sender_department_id == loop.cw.bj_paeds.id


def test_return_falls_back_to_any_active_department(loop: Loop, world: World) -> None:
    up = loop.walk(loop.create(), Action.ACCEPT, Action.SCHEDULE, Action.ARRIVE)
    loop.cw.bd_paeds.is_active = False
    surgery = Department(
        institution_id=world.baoding.id,
        specialty_code="ped_surgery",
        name_zh="小儿外科",
        name_en="Paediatric surgery",
        is_active=True,
    )
    loop.session.add(surgery)
    loop.session.flush()
    draft = service.return_prefill(loop.session, loop.actor("bjclinician"), up.id)
    assert draft.receiver_department_id == surgery.id


def test_return_refused_before_arrival_and_to_the_sender(loop: Loop) -> None:
    up = loop.create()
    with pytest.raises(Conflict) as caught:
        service.return_prefill(loop.session, loop.actor("bjclinician"), up.id)
    assert caught.value.code == "return_not_allowed"
    with pytest.raises(NotFound):
        service.return_prefill(loop.session, loop.actor("clinician"), up.id)


def test_down_referral_completed_locally_records_the_saving(loop: Loop, world: World) -> None:
    # a Baoding child registered in Beijing, sent home for rehabilitation
    child = rf.patient(
        loop.session, world.beijing, national_id=rf.ADULT_ID, residence_division_code="130606"
    )
    rf.consent(loop.session, child, world.baoding, loop.cw.bj_admin)
    down = loop.create(
        "bjclinician",
        patient_id=child.id,
        receiver_department_id=loop.cw.bd_paeds.id,
        care_type="admission",
    )
    for action in (Action.ACCEPT, Action.SCHEDULE, Action.ARRIVE, Action.COMPLETE):
        down = loop.move(down, action, "clinician")
    assert down.direction == Direction.DOWN and down.status == Status.COMPLETED
    assert down.saving_distance_km is not None and 100 < down.saving_distance_km < 200
    assert down.saving_yuan is not None and down.saving_yuan > 1000
    # the sender in Beijing is told of each step
    assert {"bjclinician", "bjadmin"} <= loop.notified("referral.complete")


def test_redirect_tells_the_new_receiver(loop: Loop, world: World) -> None:
    rf.consent(loop.session, loop.child, world.beijing2, loop.user("clinician"))
    # the small world has no staff at BJ-B: one clinician there
    factories.user(loop.session, world.beijing2, Role.CLINICIAN, username="bj2clinician")
    r = loop.create()
    loop.move(r, Action.REDIRECT, "bjclinician", receiver_department_id=loop.cw.bj2_paeds.id)
    assert "bj2clinician" in loop.notified("referral.submitted")
