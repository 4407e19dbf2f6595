"""Worklists: who sees what (other institutions nothing), the order of each list, filters,
paging, counts, the escalated list without patient data, and the audit of each read."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from medcircle.audit.models import AuditEvent
from medcircle.auth.domain import Actor, Role
from medcircle.auth.models import User
from medcircle.auth.service import actor_for
from medcircle.kit.errors import Forbidden
from medcircle.kit.pagination import PageParams
from medcircle.patients.models import Patient
from medcircle.referrals import queries
from medcircle.referrals.domain import Direction, Status, Urgency
from medcircle.referrals.queries import Worklist, WorklistFilter
from tests import factories
from tests.factories import World, now
from tests.referral_factories import ADULT_ID, CircleWorld, patient, referral, referral_world

PAGE = PageParams(1, 50)


@pytest.fixture
def cw(session: Session, world: World) -> CircleWorld:
    w = referral_world(session, world)
    session.commit()
    return w


def actor(session: Session, user: User) -> Actor:
    return actor_for(session, user)


def bd_clinician(cw: CircleWorld) -> User:
    return cw.base.users[Role.CLINICIAN]


def ids(session: Session, who: User, name: Worklist, f: WorklistFilter | None = None) -> list[int]:
    page = queries.read_worklist(session, actor(session, who), name, PAGE, f)
    return [r.id for r in page.items]


def test_incoming_is_most_urgent_then_oldest_and_only_for_the_receiver(
    session: Session, cw: CircleWorld
) -> None:
    p = patient(session, cw.base.baoding)
    sender = bd_clinician(cw)
    t0 = now() - timedelta(hours=10)
    routine_old = referral(session, p, sender, cw.bj_paeds, submitted_at=t0)
    routine_new = referral(session, p, sender, cw.bj_cardio, submitted_at=t0 + timedelta(hours=5))
    urgent = referral(
        session,
        p,
        sender,
        cw.bj_paeds,
        urgency=Urgency.URGENT,
        submitted_at=t0 + timedelta(hours=8),
    )
    emergency = referral(
        session,
        p,
        sender,
        cw.bj_paeds,
        urgency=Urgency.EMERGENCY,
        submitted_at=t0 + timedelta(hours=9),
    )
    # not incoming at BJ-A: another receiver, a draft, an accepted one
    to_bj2 = referral(session, p, sender, cw.bj2_paeds)
    referral(session, p, sender, cw.bj_paeds, status=Status.DRAFT)
    referral(session, p, sender, cw.bj_paeds, status=Status.ACCEPTED)
    session.commit()

    page = queries.read_worklist(session, actor(session, cw.bj_clinician), Worklist.INCOMING, PAGE)
    assert [r.id for r in page.items] == [emergency.id, urgent.id, routine_old.id, routine_new.id]
    assert page.total == 4
    row = page.items[0]
    assert row.patient_name == p.name
    assert row.patient_id_masked == p.national_id_masked
    assert "2015" not in (row.patient_id_masked or "")[6:-4]  # the birth date stays masked
    assert (row.counterpart_name_zh, row.counterpart_name_en) == (
        "保定甲医院",
        "Baoding Hospital A",
    )
    assert row.department_name_en == "Paediatric cardiology"
    assert page.items[3].department_name_zh == "心内科"
    assert row.reference == emergency.reference
    assert row.version == emergency.version

    # other institutions see none of it (BJ-B only what was sent to BJ-B)
    stranger = factories.user(session, cw.base.beijing2, Role.CLINICIAN)
    assert ids(session, stranger, Worklist.INCOMING) == [to_bj2.id]
    assert ids(session, cw.bd2_clinician, Worklist.INCOMING) == []
    assert ids(session, cw.bd2_clinician, Worklist.OUTGOING) == []
    # the expert of BJ-A reads the same list
    assert len(ids(session, cw.base.users[Role.EXPERT], Worklist.INCOMING)) == 4


def test_overdue_flag(session: Session, cw: CircleWorld) -> None:
    p = patient(session, cw.base.baoding)
    late = referral(
        session, p, bd_clinician(cw), cw.bj_paeds, triage_due_at=now() - timedelta(minutes=1)
    )
    on_time = referral(
        session, p, bd_clinician(cw), cw.bj_paeds, triage_due_at=now() + timedelta(hours=1)
    )
    session.commit()
    page = queries.read_worklist(session, actor(session, cw.bj_clinician), Worklist.INCOMING, PAGE)
    flags = {r.id: r.overdue for r in page.items}
    assert flags == {late.id: True, on_time.id: False}


def test_scheduled_by_appointment_with_unscheduled_last(session: Session, cw: CircleWorld) -> None:
    p = patient(session, cw.base.baoding)
    s = bd_clinician(cw)
    soon = now() + timedelta(days=1)
    later = referral(
        session, p, s, cw.bj_paeds, status=Status.SCHEDULED, appointment_at=soon + timedelta(days=3)
    )
    accepted = referral(session, p, s, cw.bj_paeds, status=Status.ACCEPTED)
    first = referral(session, p, s, cw.bj_paeds, status=Status.SCHEDULED, appointment_at=soon)
    arrived = referral(
        session, p, s, cw.bj_paeds, status=Status.ARRIVED, appointment_at=soon + timedelta(days=2)
    )
    referral(session, p, s, cw.bj_paeds, status=Status.COMPLETED, appointment_at=soon)
    referral(session, p, s, cw.bj_paeds)  # submitted: not scheduled yet
    session.commit()
    assert ids(session, cw.bj_clinician, Worklist.SCHEDULED) == [
        first.id,
        arrived.id,
        later.id,
        accepted.id,
    ]
    assert ids(session, s, Worklist.SCHEDULED) == []  # the sender's list is outgoing


def test_outgoing_shows_every_open_state_latest_change_first(
    session: Session, cw: CircleWorld
) -> None:
    p = patient(session, cw.base.baoding)
    s = bd_clinician(cw)
    t = now() - timedelta(days=1)
    expected = []
    for i, st in enumerate(
        [
            Status.DRAFT,
            Status.SUBMITTED,
            Status.DECLINED,
            Status.REDIRECTED,
            Status.NO_SHOW,
            Status.COMPLETED,
            Status.SCHEDULED,
        ]
    ):
        r = referral(session, p, s, cw.bj_paeds, status=st, updated_at=t + timedelta(minutes=i))
        expected.insert(0, r.id)
    referral(session, p, s, cw.bj_paeds, status=Status.CLOSED)
    referral(session, p, s, cw.bj_paeds, status=Status.CANCELLED)
    session.commit()
    assert ids(session, s, Worklist.OUTGOING) == expected
    # the institution admin of BD-A sees the same; the receiver never sees the draft
    assert ids(session, cw.base.users[Role.INSTITUTION_ADMIN], Worklist.OUTGOING) == expected
    assert ids(session, cw.bj_clinician, Worklist.OUTGOING) == []
    page = queries.read_worklist(session, actor(session, s), Worklist.OUTGOING, PAGE)
    assert page.items[0].counterpart_name_en == "Beijing Hospital A"


def test_awaiting_return_until_the_downward_referral_exists(
    session: Session, cw: CircleWorld
) -> None:
    p = patient(session, cw.base.baoding)
    s = bd_clinician(cw)
    completed = referral(session, p, s, cw.bj_paeds, status=Status.COMPLETED)
    arrived = referral(session, p, s, cw.bj_paeds, status=Status.ARRIVED)
    returned = referral(session, p, s, cw.bj_paeds, status=Status.COMPLETED)
    referral(
        session,
        p,
        cw.bj_clinician,
        cw.bd_paeds,
        direction=Direction.DOWN,
        parent_id=returned.id,
    )
    cancelled_return = referral(session, p, s, cw.bj_paeds, status=Status.COMPLETED)
    referral(
        session,
        p,
        cw.bj_clinician,
        cw.bd_paeds,
        direction=Direction.DOWN,
        status=Status.CANCELLED,
        parent_id=cancelled_return.id,
    )
    session.commit()
    receiver = set(ids(session, cw.bj_clinician, Worklist.AWAITING_RETURN))
    assert receiver == {completed.id, arrived.id, cancelled_return.id}
    sender = set(ids(session, s, Worklist.AWAITING_RETURN))
    assert sender == {completed.id, cancelled_return.id}
    page = queries.read_worklist(session, actor(session, s), Worklist.AWAITING_RETURN, PAGE)
    assert {r.counterpart_name_en for r in page.items} == {"Beijing Hospital A"}
    page = queries.read_worklist(
        session, actor(session, cw.bj_clinician), Worklist.AWAITING_RETURN, PAGE
    )
    assert {r.counterpart_name_en for r in page.items} == {"Baoding Hospital A"}

    # once the return is sent, the referral leaves both lists
    referral(
        session, p, cw.bj_clinician, cw.bd_paeds, direction=Direction.DOWN, parent_id=completed.id
    )
    session.commit()
    assert set(ids(session, cw.bj_clinician, Worklist.AWAITING_RETURN)) == {
        arrived.id,
        cancelled_return.id,
    }
    assert ids(session, s, Worklist.AWAITING_RETURN) == [cancelled_return.id]
    assert ids(session, cw.bd2_clinician, Worklist.AWAITING_RETURN) == []


def test_escalated_for_the_alliance_lead_without_patient_data(
    session: Session, cw: CircleWorld
) -> None:
    p = patient(session, cw.base.baoding2)
    member_sent = referral(session, p, cw.bd2_clinician, cw.bj_paeds, escalation_level=2)
    referral(session, p, cw.bd2_clinician, cw.bj_paeds, escalation_level=1)
    referral(session, p, cw.bd2_clinician, cw.bj_paeds, escalation_level=2, status=Status.ACCEPTED)
    # outside the alliance (BJ-B's own patient to BJ-A): not this coordinator's business
    outsider = patient(session, cw.base.beijing2)
    bj2_user = factories.user(session, cw.base.beijing2, Role.CLINICIAN)
    referral(session, outsider, bj2_user, cw.bj_paeds, escalation_level=2)
    session.commit()

    coordinator = cw.base.users[Role.ALLIANCE_ADMIN]
    page = queries.read_worklist(session, actor(session, coordinator), Worklist.ESCALATED, PAGE)
    assert [r.id for r in page.items] == [member_sent.id]
    row = page.items[0]
    assert row.patient_name is None and row.patient_id_masked is None and row.patient_id is None
    assert row.counterpart_name_en == "Beijing Hospital A"
    # a platform admin oversees every alliance
    assert len(ids(session, cw.base.users[Role.PLATFORM_ADMIN], Worklist.ESCALATED)) == 2

    with pytest.raises(Forbidden):
        queries.read_worklist(session, actor(session, cw.bj_clinician), Worklist.ESCALATED, PAGE)
    with pytest.raises(Forbidden):
        queries.read_worklist(session, actor(session, coordinator), Worklist.INCOMING, PAGE)
    for role in (Role.COMMISSION_ANALYST, Role.AUDITOR, Role.COORDINATOR):
        with pytest.raises(Forbidden):
            queries.read_worklist(
                session, actor(session, cw.base.users[role]), Worklist.OUTGOING, PAGE
            )


def test_filters_and_paging(session: Session, cw: CircleWorld) -> None:
    s = bd_clinician(cw)
    wang = patient(session, cw.base.baoding, name="王小明")
    li = patient(session, cw.base.baoding, name="李小红", national_id=ADULT_ID)
    t = now() - timedelta(hours=5)
    a = referral(session, wang, s, cw.bj_paeds, submitted_at=t, reference="R-2026-000101")
    b = referral(
        session,
        li,
        s,
        cw.bj_paeds,
        urgency=Urgency.URGENT,
        submitted_at=t + timedelta(minutes=1),
        reference="R-2026-000102",
    )
    c = referral(
        session,
        li,
        s,
        cw.bj_paeds,
        submitted_at=t + timedelta(minutes=2),
        reference="R-2026-000203",
        direction=Direction.DOWN,
    )
    session.commit()
    who = cw.bj_clinician
    assert ids(session, who, Worklist.INCOMING, WorklistFilter(urgency=Urgency.URGENT)) == [b.id]
    assert ids(session, who, Worklist.INCOMING, WorklistFilter(direction=Direction.DOWN)) == [c.id]
    assert ids(session, who, Worklist.INCOMING, WorklistFilter(q="r-2026-0001")) == [b.id, a.id]
    assert ids(session, who, Worklist.INCOMING, WorklistFilter(q="李")) == [b.id, c.id]
    assert ids(session, who, Worklist.INCOMING, WorklistFilter(q="小")) == []  # a prefix only
    assert ids(session, who, Worklist.INCOMING, WorklistFilter(q="%")) == []
    assert ids(session, who, Worklist.INCOMING, WorklistFilter(q="_")) == []
    page = queries.read_worklist(
        session, actor(session, who), Worklist.INCOMING, PageParams(2, 2), WorklistFilter(q="李")
    )
    assert page.total == 2 and page.items == []
    page = queries.read_worklist(session, actor(session, who), Worklist.INCOMING, PageParams(2, 2))
    assert page.total == 3 and [r.id for r in page.items] == [c.id]


def test_counts_for_the_home_page(session: Session, cw: CircleWorld) -> None:
    p = patient(session, cw.base.baoding)
    s = bd_clinician(cw)
    referral(session, p, s, cw.bj_paeds)
    referral(session, p, s, cw.bj_paeds, status=Status.SCHEDULED, appointment_at=now())
    referral(session, p, s, cw.bj_paeds, status=Status.COMPLETED)
    referral(session, p, s, cw.bj_paeds, escalation_level=2)
    session.commit()
    assert queries.counts(session, actor(session, cw.bj_clinician)) == {
        Worklist.INCOMING: 2,
        Worklist.SCHEDULED: 1,
        Worklist.OUTGOING: 0,
        Worklist.AWAITING_RETURN: 1,
    }
    assert queries.counts(session, actor(session, s))[Worklist.OUTGOING] == 4
    assert queries.counts(session, actor(session, cw.base.users[Role.ALLIANCE_ADMIN])) == {
        Worklist.ESCALATED: 1
    }
    assert queries.counts(session, actor(session, cw.base.users[Role.AUDITOR])) == {}


def test_each_read_is_audited_once(session: Session, cw: CircleWorld) -> None:
    p = patient(session, cw.base.baoding)
    r = referral(session, p, bd_clinician(cw), cw.bj_paeds)
    session.commit()
    who = actor(session, cw.bj_clinician)
    queries.worklist(session, who, Worklist.INCOMING, PAGE)
    session.commit()
    events = session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "referral.worklist", AuditEvent.actor_user_id == who.user_id
        )
    ).all()
    assert len(events) == 1
    assert events[0].detail["name"] == "incoming"
    assert events[0].detail["count"] == 1
    assert events[0].detail["referral_ids"] == [r.id]


def test_merged_patient_rows_still_show(session: Session, cw: CircleWorld) -> None:
    """A referral keeps its patient's name even after a duplicate record was merged away."""
    keep = patient(session, cw.base.baoding, name="张三")
    dup = patient(session, cw.base.baoding, name="张三", national_id=None, merged_into_id=None)
    r = referral(session, dup, bd_clinician(cw), cw.bj_paeds)
    session.get(Patient, dup.id).merged_into_id = keep.id  # type: ignore[union-attr]
    session.commit()
    page = queries.read_worklist(session, actor(session, cw.bj_clinician), Worklist.INCOMING, PAGE)
    assert [(x.id, x.patient_name) for x in page.items] == [(r.id, "张三")]
