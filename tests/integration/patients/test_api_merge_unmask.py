"""Merging duplicates (consents and referrals move to the survivor) and unmasking numbers
(own institution, the unmask permission, a reason; audited without the value)."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from medcircle.audit.models import AuditEvent
from medcircle.auth.domain import Role
from medcircle.patients.models import Consent, Patient
from medcircle.referrals.models import Referral, ReferralEvent
from tests import referral_factories as rf
from tests.referral_factories import ADULT_ID, CHILD_ID, CircleWorld


@pytest.fixture(autouse=True)
def frozen_now() -> Any:
    with time_machine.travel("2026-11-23T04:00:00+00:00", tick=False):
        yield


@pytest.fixture
def cw(session: Session, world: Any) -> CircleWorld:
    w = rf.referral_world(session, world)
    session.commit()
    return w


def actions(session: Session, action: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all())


def test_possible_duplicates_and_merge_move_everything(
    client: TestClient, cw: CircleWorld, session: Session
) -> None:
    w = cw.base
    clinician = w.users[Role.CLINICIAN]
    # the same child registered twice: once without the ID number, once with it
    first = rf.patient(
        session, w.baoding, name="张小红", national_id=None, phone=None, guardian_name=None
    )
    second = rf.patient(session, w.baoding, name="张小红", address="莲池区")
    rf.patient(session, w.baoding, name="赵六", national_id=ADULT_ID)  # no duplicate of them
    c1 = rf.consent(session, second, w.beijing, clinician)
    r1 = rf.referral(session, second, clinician, cw.bj_paeds)
    r0 = rf.referral(session, first, clinician, cw.bj_cardio)
    session.commit()
    r1_version, r0_version = r1.version, r0.version
    h = w.auth(Role.CLINICIAN)

    dups = client.get("/api/v1/patients/duplicates", headers=h)
    assert dups.status_code == 200, dups.text
    pairs = [(d["first"]["id"], d["second"]["id"], d["reason"]) for d in dups.json()]
    assert pairs == [(first.id, second.id, "same_name_and_birth_date")]

    r = client.post(
        f"/api/v1/patients/{first.id}/merge",
        json={"duplicate_id": second.id, "version": 1, "duplicate_version": 1},
        headers=h,
    )
    assert r.status_code == 200, r.text
    survivor = r.json()
    assert survivor["id"] == first.id
    # the survivor's empty fields are filled from the duplicate
    assert survivor["national_id_masked"] == "130602********0012"
    assert survivor["phone_masked"] == "138****8000"
    assert survivor["address"] == "莲池区"
    assert survivor["guardian_name"] == "家长"
    session.expire_all()
    assert session.get(Consent, c1.id).patient_id == first.id  # type: ignore[union-attr]
    assert session.get(Referral, r1.id).patient_id == first.id  # type: ignore[union-attr]
    assert session.get(Referral, r0.id).patient_id == first.id  # type: ignore[union-attr]
    # the moved referral has a new version and a step in its history; the other is untouched
    moved = session.get(Referral, r1.id)
    assert moved is not None and moved.version == r1_version + 1
    steps = session.scalars(
        select(ReferralEvent).where(ReferralEvent.action == "patient_merged")
    ).all()
    assert [(e.referral_id, e.from_status, e.to_status) for e in steps] == [
        (r1.id, moved.status, moved.status)
    ]
    assert steps[0].detail == {"from_patient_id": second.id, "to_patient_id": first.id}
    assert steps[0].actor_user_id == clinician.id
    assert session.get(Referral, r0.id).version == r0_version  # type: ignore[union-attr]
    gone = session.get(Patient, second.id)
    assert gone is not None and gone.merged_into_id == first.id

    # the merged record reads as a pointer to the survivor and can no longer change
    pointer = client.get(f"/api/v1/patients/{second.id}", headers=h)
    assert pointer.status_code == 200 and pointer.json()["merged_into_id"] == first.id
    stale = client.patch(
        f"/api/v1/patients/{second.id}", json={"version": 2, "name": "X"}, headers=h
    )
    assert stale.status_code == 409 and stale.json()["code"] == "patient_merged"
    assert client.get("/api/v1/patients/duplicates", headers=h).json() == []
    listed = client.get("/api/v1/patients", params={"name": "张"}, headers=h).json()
    assert [p["id"] for p in listed["items"]] == [first.id]
    (event,) = actions(session, "patient.merge")
    assert event.object_id == str(first.id)
    assert event.detail["duplicate_id"] == second.id
    assert event.detail["consents"] == [c1.id]
    assert sorted(event.detail["referrals"]) == sorted([r1.id])
    assert "national_id" in event.detail["filled"]
    # the ID number that moved over still finds the person
    found = client.post("/api/v1/patients/search", json={"national_id": CHILD_ID}, headers=h)
    assert [p["id"] for p in found.json()["items"]] == [first.id]


def test_merge_refuses_stale_versions_self_and_different_people(
    client: TestClient, cw: CircleWorld, session: Session
) -> None:
    w = cw.base
    a = rf.patient(session, w.baoding, name="同名")
    b = rf.patient(session, w.baoding, name="同名", national_id=ADULT_ID)
    other = rf.patient(session, w.baoding2, name="同名", national_id=None)
    session.commit()
    h = w.auth(Role.CLINICIAN)
    url = f"/api/v1/patients/{a.id}/merge"
    r = client.post(
        url, json={"duplicate_id": a.id, "version": 1, "duplicate_version": 1}, headers=h
    )
    assert r.status_code == 422 and r.json()["code"] == "merge_self"
    r = client.post(
        url, json={"duplicate_id": b.id, "version": 1, "duplicate_version": 1}, headers=h
    )
    assert r.status_code == 422 and r.json()["code"] == "merge_mismatch"
    b.national_id_hash = b.national_id_sealed = b.national_id_masked = None
    session.commit()
    r = client.post(
        url, json={"duplicate_id": b.id, "version": 1, "duplicate_version": 1}, headers=h
    )
    assert r.status_code == 409 and r.json()["code"] == "stale_version"
    r = client.post(
        url, json={"duplicate_id": other.id, "version": 1, "duplicate_version": 1}, headers=h
    )
    assert r.status_code == 404
    session.expire_all()
    assert session.get(Patient, b.id).merged_into_id is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("field", "value"),
    [("national_id", CHILD_ID), ("phone", "13800138000"), ("guardian_phone", "13900139000")],
    ids=["national-id", "phone", "guardian-phone"],
)
def test_institution_admin_unmasks_with_a_reason(
    client: TestClient, cw: CircleWorld, session: Session, field: str, value: str
) -> None:
    c = rf.test_cipher()
    p = rf.patient(
        session,
        cw.base.baoding,
        guardian_phone_sealed=c.seal("13900139000"),
        guardian_phone_masked="139****9000",
    )
    session.commit()
    h = cw.base.auth(Role.INSTITUTION_ADMIN)
    r = client.post(
        f"/api/v1/patients/{p.id}/unmask",
        json={"field": field, "reason": "call the family"},
        headers=h,
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"field": field, "value": value}
    (event,) = actions(session, "patient.unmask")
    assert event.detail == {"field": field, "reason": "call the family"}
    assert value not in str(event.detail)
    assert event.actor_username == "institutionadmin"


def test_unmask_refused_without_permission_reason_or_number(
    client: TestClient, cw: CircleWorld, session: Session
) -> None:
    w = cw.base
    p = rf.patient(session, w.baoding, phone=None)
    session.commit()
    url = f"/api/v1/patients/{p.id}/unmask"
    body = {"field": "national_id", "reason": "verify identity"}
    r = client.post(url, json=body, headers=w.auth(Role.CLINICIAN))
    assert r.status_code == 403
    r = client.post(
        url, json={"field": "national_id", "reason": " "}, headers=w.auth(Role.INSTITUTION_ADMIN)
    )
    assert r.status_code == 422
    r = client.post(
        url, json={"field": "phone", "reason": "call"}, headers=w.auth(Role.INSTITUTION_ADMIN)
    )
    assert r.status_code == 404 and r.json()["code"] == "nothing_to_unmask"
    # the Beijing admin: a stranger to this patient
    r = client.post(url, json=body, headers=cw.auth_user("bjadmin"))
    assert r.status_code == 404
    assert actions(session, "patient.unmask") == []
    denied = session.scalars(select(AuditEvent).where(AuditEvent.outcome == "denied")).all()
    assert [e.actor_username for e in denied] == ["clinician"]
