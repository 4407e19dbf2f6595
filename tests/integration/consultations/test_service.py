"""Consultations through the real service: asking and routing, the thread and the clock, the
opinion, rating, claims, assignment, redirection, access, bad input and the referral it
becomes."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import delete, select, update

from medcircle.config import get_settings
from medcircle.consultations import service
from medcircle.consultations.domain import (
    Action,
    Mode,
    RouteReason,
    Side,
    Status,
    Urgency,
    find_transition,
)
from medcircle.consultations.models import (
    Consultation,
    ConsultationMessage,
    ConsultationSpecialty,
    ConsultTarget,
    OnCallShift,
)
from medcircle.consultations.schemas import ActIn, MessageIn
from medcircle.kit import clock
from medcircle.kit.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from medcircle.notifications.models import OutgoingEmail
from medcircle.referrals.models import Referral
from tests import consult_factories as cf
from tests import referral_factories as rf
from tests.integration.consultations.conftest import Desk

AT_RISK, MISSED, AUTOCLOSE = (
    service.TIMER_AT_RISK,
    service.TIMER_MISSED,
    service.TIMER_AUTOCLOSE,
)


def _codes(error: ValidationFailed) -> dict[str, str]:
    return {e.field: e.code for e in error.field_errors}


# --- asking and routing -------------------------------------------------------------------


def test_ask_goes_to_the_expert_on_call(desk: Desk) -> None:
    before = clock.now()
    c = desk.ask()
    assert re.fullmatch(rf"C-{before.year}-\d{{6,}}", c.reference)
    assert c.reference.endswith(f"{c.id:06d}")
    assert (c.status, c.assignee_user_id, c.route_reason) == (
        Status.ASSIGNED,
        desk.w.expert.id,
        RouteReason.ON_CALL,
    )
    assert c.version == 1 and c.consent_id == desk.w.consent.id
    assert c.diagnosis == "Ventricular septal defect"  # the ICD-10 title by default
    assert c.target_minutes == 24 * 60
    assert c.due_at == c.asked_at + timedelta(hours=24)
    assert c.agreement_id is not None
    assert desk.events(c) == [("ask", None, "pool"), ("route", "pool", "assigned")]
    assert desk.timers(c) == [AT_RISK, MISSED]
    assert desk.notified("consultation.assigned") == {"expert"}
    assert [a.object_id for a in desk.audits("consultation.ask")] == [str(c.id)]


def test_the_skill_that_fits_wins_among_equals(desk: Desk) -> None:
    # expert2 is a backup: the primary on call gets it whatever the skill
    cf.skill(desk.session, desk.w.expert2, "Q21")
    assert desk.ask().assignee_user_id == desk.w.expert.id


def test_nobody_on_call_leaves_it_in_the_pool_and_tells_coordinator_and_asker(
    desk: Desk,
) -> None:
    desk.session.execute(delete(OnCallShift))
    c = desk.ask()
    assert (c.status, c.assignee_user_id, c.route_reason) == (
        Status.POOL,
        None,
        RouteReason.NOBODY_ON_CALL,
    )
    assert desk.notified("consultation.pool") == {"bjcoord", "bjadmin"}
    assert desk.notified("consultation.nobody_on_call") == {"clinician"}
    assert desk.notified("consultation.assigned") == set()
    # the clock runs in the pool too
    assert desk.timers(c) == [AT_RISK, MISSED]


def test_on_leave_goes_to_the_backup(desk: Desk) -> None:
    now = clock.now()
    cf.leave(desk.session, desk.w.expert, now - timedelta(hours=1), now + timedelta(hours=1))
    c = desk.ask()
    assert (c.assignee_user_id, c.route_reason) == (desk.w.expert2.id, RouteReason.BACKUP)


def test_agreement_targets_override_the_platform(desk: Desk) -> None:
    c = desk.ask(urgency=Urgency.EMERGENCY)
    assert c.target_minutes == 30 and c.urgency_rank == 0
    desk.session.add(ConsultTarget(agreement_id=c.agreement_id, urgency="emergency", minutes=20))
    desk.session.flush()
    c2 = desk.ask(urgency=Urgency.EMERGENCY)
    assert c2.target_minutes == 20
    assert c2.due_at == c2.asked_at + timedelta(minutes=20)


def test_mdt_keeps_its_further_specialties(desk: Desk) -> None:
    c = desk.ask(mode=Mode.MDT, other_specialties=["cardiology", cf.SPECIALTY])
    rows = desk.session.scalars(
        select(ConsultationSpecialty.specialty_code).where(
            ConsultationSpecialty.consultation_id == c.id
        )
    ).all()
    assert rows == ["cardiology"]
    view = service.view_of(desk.session, desk.actor("clinician"), c, clock.now())
    assert view.other_specialties == ["cardiology"]


def test_bad_input_is_refused_with_codes(desk: Desk) -> None:
    with pytest.raises(ValidationFailed) as e:
        desk.ask(icd10_code="XYZ")
    assert _codes(e.value) == {"icd10_code": "invalid_icd10"}
    with pytest.raises(ValidationFailed) as e:
        desk.ask(specialty_code="neonatology")
    assert _codes(e.value) == {"specialty_code": "not_a_pool"}
    with pytest.raises(ValidationFailed) as e:
        desk.ask(other_specialties=["cardiology"])
    assert _codes(e.value) == {"other_specialties": "mdt_only"}
    with pytest.raises(ValidationFailed) as e:
        desk.ask(answer_institution_id=desk.w.asking.id)
    assert _codes(e.value) == {"answer_institution_id": "same_institution"}
    with pytest.raises(ValidationFailed) as e:
        desk.ask(answer_institution_id=desk.w.circle.base.beijing2.id)
    assert _codes(e.value) == {"specialty_code": "not_a_pool"}
    stranger = rf.patient(desk.session, desk.w.circle.base.baoding2, national_id=None)
    with pytest.raises(ValidationFailed) as e:
        desk.ask(patient_id=stranger.id)
    assert _codes(e.value) == {"patient_id": "unknown_patient"}
    assert desk.audits("consultation.ask") == []


def test_consent_is_required(desk: Desk) -> None:
    other = rf.patient(desk.session, desk.w.asking, national_id=None)
    with pytest.raises(ValidationFailed) as e:
        desk.ask(patient_id=other.id)
    assert e.value.code == "consent_missing"
    # consent for referral does not cover consultation
    rf.consent(desk.session, other, desk.w.answerer, desk.w.asker, purpose="referral")
    with pytest.raises(ValidationFailed):
        desk.ask(patient_id=other.id)


def test_merged_patient_is_refused(desk: Desk) -> None:
    survivor = rf.patient(desk.session, desk.w.asking, national_id=None)
    desk.w.patient.merged_into_id = survivor.id
    desk.session.flush()
    with pytest.raises(ValidationFailed) as e:
        desk.ask()
    assert _codes(e.value) == {"patient_id": "patient_merged"}


def test_only_askers_ask(desk: Desk) -> None:
    with pytest.raises(Forbidden):
        desk.ask("expert")


def test_answer_options(desk: Desk) -> None:
    options = service.answer_options(desk.session, desk.actor("clinician"), clock.now())
    pools = {(o.institution_id, o.specialty_code): o for o in options}
    assert set(pools) == {(desk.w.answerer.id, cf.SPECIALTY), (desk.w.answerer.id, "cardiology")}
    ped = pools[(desk.w.answerer.id, cf.SPECIALTY)]
    assert ped.on_call_user_id == desk.w.expert.id and ped.on_call_name
    assert ped.agreement_id is not None and ped.institution_en == "Beijing Hospital A"
    assert pools[(desk.w.answerer.id, "cardiology")].on_call_user_id is None
    # BD-B asks its alliance lead (BD-A) in the specialties of BD-A's departments
    bd2 = service.answer_options(desk.session, desk.actor("bd2clinician"), clock.now())
    assert [(o.institution_id, o.specialty_code, o.agreement_id) for o in bd2] == [
        (desk.w.asking.id, cf.SPECIALTY, None)
    ]


# --- the conversation, the clock, the opinion ---------------------------------------------


def test_the_whole_conversation(desk: Desk, traveller: time_machine.Coordinates) -> None:
    c = desk.ask()
    due = c.due_at
    assert due is not None
    traveller.shift(timedelta(hours=2))
    c = desk.act(c, Action.ASK_ASKER, "expert", body="Any cyanosis on exertion?")
    assert c.status == Status.AWAITING_ASKER and c.due_at is None
    assert c.paused_since == clock.now()
    assert desk.timers(c) == []
    assert desk.notified("consultation.ask_asker") == {"clinician"}
    view = service.view_of(desk.session, desk.actor("clinician"), c, clock.now())
    assert view.turn == Side.ASKER and view.actions == [Action.REPLY, Action.CANCEL]
    assert view.minutes_left == 22 * 60
    traveller.shift(timedelta(hours=3))
    # the clock stands still while the asker is asked
    view = service.view_of(desk.session, desk.actor("clinician"), c, clock.now())
    assert view.minutes_left == 22 * 60
    c = desk.act(c, Action.REPLY, "clinician", body="None; feeds well.")
    assert c.status == Status.ASSIGNED and c.paused_since is None
    assert c.paused_seconds == 3 * 3600
    assert c.due_at == due + timedelta(hours=3)
    assert desk.timers(c) == [AT_RISK, MISSED]
    assert desk.notified("consultation.reply") == {"expert"}
    traveller.shift(timedelta(hours=1))
    c = desk.act(c, Action.ANSWER, "expert", needs_visit=True, follow_up="Echo in 3 months")
    assert c.status == Status.ANSWERED and c.opinion_by_user_id == desk.w.expert.id
    assert c.first_answer_seconds == 3 * 3600 and c.within_target is True
    assert c.first_answered_at == clock.now() == c.answered_at
    assert c.needs_visit is True and c.due_at is None
    assert desk.timers(c) == [AUTOCLOSE]
    assert desk.notified("consultation.answer") == {"clinician"}
    traveller.shift(timedelta(days=1))
    c = desk.act(c, Action.FOLLOW_UP, "clinician", body="And if the defect grows?")
    assert c.status == Status.ASSIGNED and c.assignee_user_id == desk.w.expert.id
    # a fresh clock of the same target; the first-answer figures stay
    assert c.due_at == clock.now() + timedelta(hours=24)
    assert c.first_answer_seconds == 3 * 3600
    assert desk.timers(c) == [AT_RISK, MISSED]
    c = desk.act(c, Action.ANSWER, "expert", needs_visit=True)
    assert c.first_answer_seconds == 3 * 3600 and c.answered_at == clock.now()
    c = desk.act(c, Action.CLOSE, "clinician", helpful=5, referral_avoided=False)
    assert (c.status, c.helpful, c.referral_avoided) == (Status.CLOSED, 5, False)
    assert c.closed_at == clock.now() == c.rated_at
    assert desk.timers(c) == []
    kinds = [m.kind for m in service.thread(desk.session, desk.actor("expert"), c)]
    assert kinds == ["question", "reply", "follow_up"]
    assert [e[0] for e in desk.events(c)] == [
        "ask",
        "route",
        "ask_asker",
        "reply",
        "answer",
        "follow_up",
        "answer",
        "close",
    ]
    assert len(desk.audits("consultation.answer")) == 2


def test_a_late_first_answer_is_outside_target(
    desk: Desk, traveller: time_machine.Coordinates
) -> None:
    c = desk.ask(urgency=Urgency.EMERGENCY)
    traveller.shift(timedelta(minutes=45))
    c = desk.act(c, Action.ANSWER, "expert")
    assert c.first_answer_seconds == 45 * 60 and c.within_target is False


def test_required_fields_are_named(desk: Desk) -> None:
    c = desk.ask()
    with pytest.raises(ValidationFailed) as e:
        desk.act(c, Action.ANSWER, "expert", assessment=" ", recommendations=None)
    assert _codes(e.value) == {"assessment": "required", "recommendations": "required"}


def test_notes_by_either_side_and_none_once_closed(desk: Desk) -> None:
    c = desk.ask()
    m = service.add_message(
        desk.session,
        desk.actor("clinician"),
        c.id,
        MessageIn(body="The echo images are attached."),
    )
    assert m.kind == "note" and c.status == Status.ASSIGNED
    assert desk.notified("consultation.note") == {"expert"}
    c = desk.act(c, Action.CANCEL, "clinician", reason="Transferred elsewhere")
    assert c.status == Status.CANCELLED and c.cancel_reason == "Transferred elsewhere"
    assert desk.timers(c) == []
    with pytest.raises(Conflict) as e:
        service.add_message(desk.session, desk.actor("expert"), c.id, MessageIn(body="Too late"))
    assert e.value.code == "case_closed"
    with pytest.raises(Conflict) as e2:
        desk.act(c, Action.REPLY, "clinician", body="Too late")
    assert e2.value.code == "transition_not_allowed"
    assert "Cancelled" in str(e2.value) or e2.value.params["status"]
    count = desk.session.scalar(
        select(ConsultationMessage.id).where(ConsultationMessage.body == "Too late")
    )
    assert count is None


def test_the_email_of_a_note_links_to_the_case_in_full(desk: Desk) -> None:
    """Like every other message of a case, the email of a note carries the platform's
    address, not a bare path that no mail program can open."""
    expert = desk.user("expert")
    expert.email = "expert@bj.example"
    c = desk.ask()
    service.add_message(desk.session, desk.actor("clinician"), c.id, MessageIn(body="Echo."))
    bodies = list(
        desk.session.scalars(
            select(OutgoingEmail.body).where(OutgoingEmail.to_address == "expert@bj.example")
        )
    )
    link = f"{get_settings().base_url.rstrip('/')}/consultations/{c.id}"
    assert bodies and all(link in b for b in bodies), bodies


def test_a_note_racing_a_change_of_the_case_is_a_conflict(desk: Desk) -> None:
    """Another request changed the case between the note's read and its write: a clear 409,
    not a failure (the note is not kept)."""
    c = desk.ask()
    desk.session.execute(
        update(Consultation)
        .where(Consultation.id == c.id)
        .values(version=Consultation.version + 1)
        .execution_options(synchronize_session=False)
    )
    with pytest.raises(Conflict) as e:
        service.add_message(desk.session, desk.actor("clinician"), c.id, MessageIn(body="Late"))
    assert e.value.code == "stale_version"


# --- access --------------------------------------------------------------------------------


def test_other_institutions_do_not_see_it(desk: Desk) -> None:
    c = desk.ask()
    for who in ("bd2clinician", "auditor"):
        with pytest.raises((NotFound, Forbidden)):
            service.get(desk.session, desk.actor(who), c.id)
    with pytest.raises(NotFound):
        service.get(desk.session, desk.actor("bd2clinician"), c.id)
    assert service.get(desk.session, desk.actor("expert3"), c.id) is c
    assert [a.object_id for a in desk.audits("consultation.read")] == [str(c.id)]


def test_an_expert_not_assigned_cannot_answer(desk: Desk) -> None:
    c = desk.ask()
    with pytest.raises(Forbidden) as e:
        desk.act(c, Action.ANSWER, "expert2")
    assert e.value.code == "not_your_part"
    assert c.status == Status.ASSIGNED and c.assessment is None


def test_coordinator_sees_the_patient_masked(desk: Desk) -> None:
    c = desk.ask()
    view = service.view_of(desk.session, desk.actor("bjcoord"), c, clock.now())
    assert view.patient_name == desk.w.patient.name[0] + "*"
    assert view.patient_national_id_masked is None
    assert Side.COORDINATOR in view.sides
    assert Action.ASSIGN in view.actions
    full = service.view_of(desk.session, desk.actor("expert"), c, clock.now())
    assert full.patient_name == desk.w.patient.name
    assert full.sides == {Side.ASSIGNEE, Side.POOL_EXPERT}
    assert full.actions == [Action.RELEASE, Action.REDIRECT, Action.ASK_ASKER, Action.ANSWER]


def test_stale_version_is_refused(desk: Desk) -> None:
    c = desk.ask()
    with pytest.raises(Conflict) as e:
        desk.act(c, Action.ASK_ASKER, "expert", version=c.version + 1)
    assert e.value.code == "stale_version"


# --- claims, assignment, release, redirection ---------------------------------------------


def test_claim_from_the_pool_once(desk: Desk) -> None:
    desk.session.execute(delete(OnCallShift))
    c = desk.ask()
    version = c.version
    c = desk.act(c, Action.CLAIM, "expert3")
    assert (c.status, c.assignee_user_id, c.version) == (
        Status.ASSIGNED,
        desk.w.expert3.id,
        version + 1,
    )
    with pytest.raises(Conflict) as e:
        desk.act(c, Action.CLAIM, "expert2", version=version)
    assert e.value.code == "already_claimed"
    assert "Another expert took this case" in str(e.value)
    # coordinators are not in the pool; the asker neither
    other = desk.ask()
    for who in ("bjcoord", "clinician"):
        with pytest.raises(Forbidden):
            desk.act(other, Action.CLAIM, who)


def test_coordinator_assigns_only_pool_experts(desk: Desk) -> None:
    c = desk.ask()
    with pytest.raises(ValidationFailed) as e:
        desk.act(c, Action.ASSIGN, "bjcoord", assignee_user_id=desk.w.circle.bj_clinician.id)
    assert _codes(e.value) == {"assignee_user_id": "not_a_pool_expert"}
    with pytest.raises(ValidationFailed) as e:
        desk.act(c, Action.ASSIGN, "bjcoord")
    assert _codes(e.value) == {"assignee_user_id": "required"}
    c = desk.act(c, Action.ASSIGN, "bjcoord", assignee_user_id=desk.w.expert3.id)
    assert c.assignee_user_id == desk.w.expert3.id
    assert desk.notified("consultation.assign") == {"expert3"}
    assert desk.notified("consultation.taken_away") == {"expert"}


def test_release_goes_back_to_the_pool(desk: Desk) -> None:
    c = desk.ask()
    c = desk.act(c, Action.RELEASE, "expert", reason="In theatre all day")
    assert (c.status, c.assignee_user_id) == (Status.POOL, None)
    assert desk.notified("consultation.release") == {"bjcoord", "bjadmin"}
    assert desk.timers(c) == [AT_RISK, MISSED]


def test_redirect_to_another_pool_of_the_same_institution(desk: Desk) -> None:
    c = desk.ask()
    with pytest.raises(ValidationFailed) as e:
        desk.act(c, Action.REDIRECT, "expert", specialty_code="neonatology")
    assert _codes(e.value) == {"specialty_code": "not_a_pool"}
    with pytest.raises(ValidationFailed) as e:
        desk.act(c, Action.REDIRECT, "expert", specialty_code=cf.SPECIALTY)
    assert _codes(e.value) == {"specialty_code": "same_specialty"}
    c = desk.act(c, Action.REDIRECT, "expert", specialty_code="cardiology")
    # nobody on call in cardiology: the pool, the coordinators told
    assert (c.status, c.specialty_code, c.assignee_user_id) == (Status.POOL, "cardiology", None)
    assert desk.notified("consultation.pool") == {"bjcoord", "bjadmin"}
    # on call there: routed to them
    now = clock.now()
    cf.shift(
        desk.session,
        desk.w.answerer,
        desk.w.expert3,
        now - timedelta(hours=1),
        now + timedelta(hours=1),
        specialty_code=cf.SPECIALTY,
    )
    c = desk.act(c, Action.REDIRECT, "bjcoord", specialty_code=cf.SPECIALTY)
    assert (c.status, c.assignee_user_id) == (Status.ASSIGNED, desk.w.expert.id)
    assert [e[0] for e in desk.events(c)][-2:] == ["redirect", "route"]


# --- the referral it becomes --------------------------------------------------------------


def test_to_referral_creates_a_linked_draft_once(desk: Desk) -> None:
    c = desk.ask(urgency=Urgency.URGENT)
    with pytest.raises(Conflict) as e0:
        service.to_referral(desk.session, desk.actor("clinician"), c.id, desk.settings)
    assert e0.value.code == "no_visit_needed"
    c = desk.act(c, Action.ANSWER, "expert", needs_visit=True)
    with pytest.raises(Forbidden):
        service.to_referral(desk.session, desk.actor("expert"), c.id, desk.settings)
    r = service.to_referral(desk.session, desk.actor("clinician"), c.id, desk.settings)
    assert isinstance(r, Referral)
    assert (r.status, r.patient_id, r.urgency, r.icd10_code) == (
        "draft",
        desk.w.patient.id,
        "urgent",
        "Q21.0",
    )
    assert r.receiver_department_id == desk.w.circle.bj_paeds.id
    assert c.question in r.reason and "Haemodynamically significant VSD." in r.reason
    assert "Refer for surgical closure" in r.clinical_summary
    assert c.referral_id == r.id
    assert desk.events(c)[-1][0] == "to_referral"
    with pytest.raises(Conflict) as e:
        service.to_referral(desk.session, desk.actor("clinician"), c.id, desk.settings)
    assert e.value.code == "already_referred"
    assert desk.session.scalar(select(Referral.id).where(Referral.id != r.id)) is None


# --- the transition table through the real service (property) -----------------------------

# who acts: the asker, experts of the paediatric cardiology pool, a coordinator, and a
# clinician of an institution with no part in the case
PEOPLE: dict[str, set[Side] | None] = {
    "clinician": {Side.ASKER},
    "expert": {Side.POOL_EXPERT},
    "expert2": {Side.POOL_EXPERT},
    "bjcoord": {Side.COORDINATOR},
    "bd2clinician": None,
}


def test_the_service_walks_only_the_table(desk: Desk) -> None:
    session = desk.session
    experts = {"expert": desk.w.expert.id, "expert2": desk.w.expert2.id}

    class CaseMachine(RuleBasedStateMachine):
        case_id: int

        @initialize(on_call=st.booleans())
        def start(self, on_call: bool) -> None:
            self.nested = session.begin_nested()
            if not on_call:
                session.execute(delete(OnCallShift))
            self.case_id = desk.ask().id
            self.events = len(desk.events(self._row()))
            self.first_answer: int | None = None

        def teardown(self) -> None:
            if hasattr(self, "nested"):
                self.nested.rollback()
                session.expire_all()

        def _row(self) -> Consultation:
            row = session.get(Consultation, self.case_id)
            assert row is not None
            return row

        @rule(
            action=st.sampled_from(list(Action)),
            who=st.sampled_from(sorted(PEOPLE)),
            stale=st.booleans(),
            assignee=st.sampled_from(["expert", "expert2"]),
        )
        def act(self, action: Action, who: str, stale: bool, assignee: str) -> None:
            row = self._row()
            before = (row.status, row.version, row.assignee_user_id)
            status = Status(row.status)
            sides = PEOPLE[who]
            if sides is not None:
                sides = set(sides)
                if row.specialty_code != cf.SPECIALTY:
                    sides.discard(Side.POOL_EXPERT)
                if who in experts and row.assignee_user_id == experts[who]:
                    sides.add(Side.ASSIGNEE)
            t = find_transition(status, action)
            fields = {
                "reason": "Because",
                "body": "Text",
                "assessment": "Assessment",
                "recommendations": "Recommendations",
                "assignee_user_id": experts[assignee],
                "specialty_code": (
                    "cardiology" if row.specialty_code == cf.SPECIALTY else cf.SPECIALTY
                ),
                "helpful": 4,
            }
            data = ActIn(action=action, version=row.version - stale, **fields)
            nested = session.begin_nested()
            try:
                after = service.act(session, desk.actor(who), row.id, data, desk.settings)
            except DomainError as error:
                nested.rollback()
                session.expire_all()
                row = self._row()
                assert (row.status, row.version, row.assignee_user_id) == before
                assert len(desk.events(row)) == self.events, "a refusal wrote history"
                if sides is None:
                    assert isinstance(error, NotFound)
                elif t is None or action == Action.ESCALATE:
                    assert isinstance(error, (Conflict, Forbidden))
                elif not t.sides & sides:
                    assert isinstance(error, (Forbidden, Conflict))
                else:
                    assert stale or isinstance(error, (Conflict, ValidationFailed)), error
                return
            nested.commit()
            assert sides is not None and not stale and t is not None
            assert t.sides & sides, f"{who} made a {action} reserved to {t.sides}"
            assert after.version == before[1] + 1
            events = len(desk.events(after))
            assert events > self.events
            self.events = events

        @invariant()
        def consistent(self) -> None:
            if not hasattr(self, "case_id"):
                return
            row = self._row()
            status = Status(row.status)
            timers = set(desk.timers(row))
            if status in (Status.POOL, Status.ASSIGNED):
                assert row.due_at is not None and row.paused_since is None
                assert timers == {AT_RISK, MISSED}
            elif status == Status.AWAITING_ASKER:
                assert row.due_at is None and row.paused_since is not None
                assert timers == set()
            elif status == Status.ANSWERED:
                assert row.due_at is None and row.first_answer_seconds is not None
                assert timers == {AUTOCLOSE}
            else:
                assert timers == set()
            assert (row.assignee_user_id is None) == (status == Status.POOL)
            if self.first_answer is not None:
                assert row.first_answer_seconds == self.first_answer
            self.first_answer = row.first_answer_seconds

    run_state_machine_as_test(
        CaseMachine,
        settings=settings(
            max_examples=20,
            stateful_step_count=12,
            deadline=None,
            derandomize=True,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
