"""Consent: recorded for another institution and a purpose, checked before sharing, withdrawn
or expired stops the sharing, a child's consent comes from the guardian."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from medcircle.audit.models import AuditEvent
from medcircle.auth.domain import Role
from medcircle.kit import i18n
from medcircle.kit.errors import ValidationFailed
from medcircle.patients import service
from medcircle.patients.models import Consent
from tests import referral_factories as rf
from tests.factories import World
from tests.referral_factories import ADULT_ID

NOW = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_now() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


def consent_body(world: World, **kw: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "receiving_institution_id": world.beijing.id,
        "purpose": "referral",
        "given_by": "guardian",
        "given_by_name": "王芳",
        "given_at": "2026-11-23T11:30:00+08:00",
        "valid_until": "2027-05-23",
    }
    data.update(kw)
    return data


def test_record_list_and_require(client: TestClient, world: World, session: Session) -> None:
    p = rf.patient(session, world.baoding)
    session.commit()
    h = world.auth(Role.CLINICIAN)
    r = client.post(f"/api/v1/patients/{p.id}/consents", json=consent_body(world), headers=h)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["state"] == "valid"
    assert out["recorded_by_user_id"] == world.users[Role.CLINICIAN].id
    assert out["receiving_institution_name_en"] == "Beijing Hospital A"
    listed = client.get(f"/api/v1/patients/{p.id}/consents", headers=h).json()
    assert [c["id"] for c in listed] == [out["id"]]
    (read,) = session.scalars(select(AuditEvent).where(AuditEvent.action == "consent.list"))
    assert read.object_id == str(p.id) and read.actor_username == "clinician"
    found = service.require_consent(session, p.id, world.beijing.id, "referral", NOW)
    assert found.id == out["id"]
    # no consent for another institution, nor for another purpose
    for receiver, purpose in ((world.beijing2.id, "referral"), (world.beijing.id, "consultation")):
        with pytest.raises(ValidationFailed) as caught:
            service.require_consent(session, p.id, receiver, purpose, NOW)
        assert caught.value.code == "consent_missing"
        assert caught.value.field_errors[0].field == "patient_id"
        assert caught.value.field_errors[0].code == "consent_missing"
    (event,) = session.scalars(select(AuditEvent).where(AuditEvent.action == "consent.record"))
    assert event.detail["receiving_institution_id"] == world.beijing.id


def test_missing_consent_message_names_the_institution(session: Session, world: World) -> None:
    p = rf.patient(session, world.baoding)
    for locale, name, word in (
        ("en", "Beijing Hospital A", "referral"),
        ("zh_Hans", "北京甲医院", "转诊"),
    ):
        i18n.set_locale(locale)
        with pytest.raises(ValidationFailed) as caught:
            service.require_consent(session, p.id, world.beijing.id, "referral", NOW)
        text = caught.value.field_errors[0].text()
        assert name in text and word in text
    i18n.set_locale("en")


def test_withdrawn_consent_stops_sharing(
    client: TestClient, world: World, session: Session
) -> None:
    p = rf.patient(session, world.baoding)
    c = rf.consent(session, p, world.beijing, world.users[Role.CLINICIAN])
    session.commit()
    assert service.require_consent(session, p.id, world.beijing.id, "referral", NOW).id == c.id
    h = world.auth(Role.CLINICIAN)
    r = client.post(
        f"/api/v1/consents/{c.id}/withdraw", json={"reason": "family changed mind"}, headers=h
    )
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "withdrawn"
    again = client.post(f"/api/v1/consents/{c.id}/withdraw", json={"reason": "twice"}, headers=h)
    assert again.status_code == 409 and again.json()["code"] == "already_withdrawn"
    session.expire_all()
    with pytest.raises(ValidationFailed):
        service.require_consent(session, p.id, world.beijing.id, "referral", NOW)
    (event,) = session.scalars(select(AuditEvent).where(AuditEvent.action == "consent.withdraw"))
    assert event.object_id == str(c.id) and event.detail["reason"] == "family changed mind"
    # another institution cannot withdraw (or know of) the consent
    stranger = client.post(
        f"/api/v1/consents/{c.id}/withdraw",
        json={"reason": "not ours"},
        headers=world.auth(Role.EXPERT),
    )
    assert stranger.status_code in (403, 404)


def test_expired_and_future_consents_do_not_count(session: Session, world: World) -> None:
    p = rf.patient(session, world.baoding)
    u = world.users[Role.CLINICIAN]
    rf.consent(session, p, world.beijing, u, valid_until=date(2026, 11, 22))
    rf.consent(session, p, world.beijing, u, given_at=NOW + timedelta(days=30))
    with pytest.raises(ValidationFailed):
        service.require_consent(session, p.id, world.beijing.id, "referral", NOW)
    last_day = rf.consent(session, p, world.beijing, u, valid_until=date(2026, 11, 23))
    assert (
        service.require_consent(session, p.id, world.beijing.id, "referral", NOW).id == last_day.id
    )
    # the day after (in China) it has expired
    with pytest.raises(ValidationFailed):
        service.require_consent(
            session, p.id, world.beijing.id, "referral", datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
        )


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"given_by": "patient"}, "given_by", "guardian_consent"),
        ({"given_at": "2026-11-24T09:00:00+08:00"}, "given_at", "consent_in_future"),
        ({"valid_until": "2026-11-22"}, "valid_until", "consent_dates"),
        ({"receiving_institution_id": 0}, "receiving_institution_id", "unknown_institution"),
        ({"receiving_institution_id": None}, "receiving_institution_id", "same_institution"),
    ],
    ids=["child-self", "future", "until-before", "unknown", "own"],
)
def test_bad_consents_are_refused(
    client: TestClient,
    world: World,
    session: Session,
    change: dict[str, Any],
    field: str,
    code: str,
) -> None:
    p = rf.patient(session, world.baoding)
    session.commit()
    if change.get("receiving_institution_id", 1) is None:
        change = {"receiving_institution_id": world.baoding.id}
    r = client.post(
        f"/api/v1/patients/{p.id}/consents",
        json=consent_body(world, **change),
        headers=world.auth(Role.CLINICIAN),
    )
    assert r.status_code == 422, r.text
    assert [(e["field"], e["code"]) for e in r.json()["errors"]] == [(field, code)]
    assert session.scalars(select(Consent)).all() == []


def test_adult_consents_for_themselves(client: TestClient, world: World, session: Session) -> None:
    p = rf.patient(
        session, world.baoding, national_id=ADULT_ID, birth_date=date(1949, 12, 31), sex="female"
    )
    session.commit()
    r = client.post(
        f"/api/v1/patients/{p.id}/consents",
        json=consent_body(world, given_by="patient", given_by_name=p.name, valid_until=None),
        headers=world.auth(Role.INSTITUTION_ADMIN),
    )
    assert r.status_code == 201, r.text
    assert r.json()["valid_until"] is None


def test_only_the_registering_institution_records_consent(
    client: TestClient, world: World, session: Session
) -> None:
    p = rf.patient(session, world.baoding)
    session.commit()
    r = client.post(
        f"/api/v1/patients/{p.id}/consents",
        json=consent_body(world),
        headers=world.auth(Role.EXPERT),
    )
    assert r.status_code == 403
    r = client.get(f"/api/v1/patients/{p.id}/consents", headers=world.auth(Role.EXPERT))
    assert r.status_code == 404
