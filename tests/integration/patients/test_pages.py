"""Pages of patients: search (an ID number never in a URL), registration with messages by
field and the duplicate link, the patient's page (masked, unmask once, consents, referrals),
edit, duplicates and merge confirmation."""

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
from tests import referral_factories as rf
from tests.factories import World, login
from tests.referral_factories import ADULT_ID, CHILD_ID, CircleWorld


@pytest.fixture(autouse=True)
def frozen_now() -> Any:
    with time_machine.travel("2026-11-23T04:00:00+00:00", tick=False):
        yield


def child_form(csrf: str, **kw: str) -> dict[str, str]:
    data = {
        "csrf_token": csrf,
        "name": "王小明",
        "sex": "male",
        "birth_date": "2015-05-12",
        "national_id": CHILD_ID,
        "residence_division_code": "130602",
        "guardian_name": "王芳",
        "guardian_relation": "mother",
        "guardian_phone": "13800138000",
    }
    data.update(kw)
    return data


def test_register_child_then_see_masked_page(
    client: TestClient, world: World, session: Session
) -> None:
    csrf = login(client, "clinician")
    form = client.get("/patients/new")
    assert form.status_code == 200 and 'data-testid="patient-form"' in form.text
    r = client.post("/patients/new", data=child_form(csrf), follow_redirects=False)
    assert r.status_code == 303, r.text
    page = client.get(r.headers["location"])
    assert page.status_code == 200
    assert "The patient is registered." in page.text
    assert "130602********0012" in page.text and "138****8000" in page.text
    assert CHILD_ID not in page.text and "13800138000" not in page.text
    assert page.headers["cache-control"] == "no-store"
    # a clinician may refer but not unmask
    assert 'data-testid="refer-patient"' in page.text
    assert "/referrals/new?patient_id=" in page.text
    assert 'data-testid="unmask-form"' not in page.text


def test_refused_registration_shows_messages_by_field(
    client: TestClient, world: World, session: Session
) -> None:
    csrf = login(client, "clinician")
    blank = client.post("/patients/new", data=child_form(csrf, name="", birth_date=""))
    assert blank.status_code == 422
    assert 'id="name-error"' in blank.text and 'id="birth_date-error"' in blank.text
    r = client.post(
        "/patients/new",
        data=child_form(csrf, guardian_name="", national_id="130602201505120013"),
    )
    assert r.status_code == 422
    assert 'id="guardian_name-error"' in r.text
    assert "its last character does not match" in r.text
    assert session.scalars(select(Patient)).all() == []


def test_duplicate_registration_links_to_the_existing_record(
    client: TestClient, world: World, session: Session
) -> None:
    existing = rf.patient(session, world.baoding, name="王小明")
    session.commit()
    csrf = login(client, "clinician")
    r = client.post("/patients/new", data=child_form(csrf))
    assert r.status_code == 409
    assert f'href="/patients/{existing.id}" data-testid="open-existing"' in r.text
    assert f"patient no. {existing.id}" in r.text


def test_search_by_id_posts_and_keeps_the_number_out_of_urls(
    client: TestClient, world: World, session: Session
) -> None:
    kid = rf.patient(session, world.baoding, name="王小明")
    rf.patient(session, world.baoding, name="李四", national_id=ADULT_ID)
    session.commit()
    csrf = login(client, "clinician")
    r = client.post("/patients", data={"csrf_token": csrf, "q": CHILD_ID.lower()})
    assert r.status_code == 200
    assert 'data-testid="searched-by-id"' in r.text
    assert f'data-patient="{kid.id}"' in r.text and "李四" not in r.text
    assert CHILD_ID not in r.text
    by_name = client.post("/patients", data={"csrf_token": csrf, "q": "李"}, follow_redirects=False)
    assert by_name.status_code == 303
    listed = client.get(by_name.headers["location"])
    assert "李四" in listed.text and "王小明" not in listed.text
    # an ID typed into the URL is not searched
    assert "王小明" in client.get("/patients", params={"q": CHILD_ID}).text
    bad = client.get("/patients", params={"birth_date": "nope"})
    assert bad.status_code == 422 and "YYYY-MM-DD" in bad.text


def test_admin_unmasks_once_with_a_reason(
    client: TestClient, world: World, session: Session
) -> None:
    p = rf.patient(session, world.baoding)
    session.commit()
    csrf = login(client, "institutionadmin")
    page = client.get(f"/patients/{p.id}")
    assert 'data-testid="unmask-form"' in page.text
    refused = client.post(
        f"/patients/{p.id}/unmask", data={"csrf_token": csrf, "field": "national_id", "reason": ""}
    )
    assert refused.status_code == 422 and 'id="unmask-reason-error"' in refused.text
    assert CHILD_ID not in refused.text
    r = client.post(
        f"/patients/{p.id}/unmask",
        data={"csrf_token": csrf, "field": "national_id", "reason": "identity check at desk"},
    )
    assert r.status_code == 200
    assert f'<code data-testid="revealed-value">{CHILD_ID}</code>' in r.text
    assert r.headers["cache-control"] == "no-store"
    assert CHILD_ID not in client.get(f"/patients/{p.id}").text
    (event,) = session.scalars(select(AuditEvent).where(AuditEvent.action == "patient.unmask"))
    assert event.detail == {"field": "national_id", "reason": "identity check at desk"}


def test_consent_record_and_withdraw_on_the_page(
    client: TestClient, world: World, session: Session
) -> None:
    p = rf.patient(session, world.baoding)
    session.commit()
    csrf = login(client, "clinician")
    base = {
        "csrf_token": csrf,
        "receiving_institution_id": str(world.beijing.id),
        "purpose": "referral",
        "given_by_name": "王芳",
        "given_at": "2026-11-23T11:00",
        "valid_until": "",
    }
    refused = client.post(f"/patients/{p.id}/consents", data={**base, "given_by": "patient"})
    assert refused.status_code == 422
    assert "A child&#39;s consent is given by the guardian." in refused.text
    r = client.post(
        f"/patients/{p.id}/consents", data={**base, "given_by": "guardian"}, follow_redirects=False
    )
    assert r.status_code == 303
    page = client.get(r.headers["location"])
    assert "The consent is recorded." in page.text and 'data-state="valid"' in page.text
    consent = session.scalars(select(Consent)).one()
    # given at 11:00 in China
    assert consent.given_at.isoformat() == "2026-11-23T03:00:00+00:00"
    no_reason = client.post(
        f"/patients/consents/{consent.id}/withdraw",
        data={"csrf_token": csrf, "patient_id": str(p.id), "reason": ""},
    )
    assert no_reason.status_code == 422
    assert f'id="withdraw-{consent.id}-reason-error"' in no_reason.text
    w = client.post(
        f"/patients/consents/{consent.id}/withdraw",
        data={"csrf_token": csrf, "patient_id": str(p.id), "reason": "family declined"},
        follow_redirects=False,
    )
    assert w.status_code == 303
    assert 'data-state="withdrawn"' in client.get(w.headers["location"]).text


def test_receiver_sees_patient_and_referral_but_no_controls(
    client: TestClient, cw: Any, session: Session
) -> None:
    w = cw.base
    p = rf.patient(session, w.baoding)
    r = rf.referral(session, p, w.users[Role.CLINICIAN], cw.bj_paeds)
    session.commit()
    login(client, "bjclinician")
    page = client.get(f"/patients/{p.id}")
    assert page.status_code == 200
    assert f'href="/referrals/{r.id}"' in page.text and r.reference in page.text
    for control in ("edit-patient", "refer-patient", "unmask-form", "consent-form"):
        assert f'data-testid="{control}"' not in page.text
    assert client.get(f"/patients/{p.id}/edit").status_code == 403


@pytest.fixture
def cw(session: Session, world: World) -> CircleWorld:
    w = rf.referral_world(session, world)
    session.commit()
    return w


def test_strangers_get_not_found_page(client: TestClient, world: World, session: Session) -> None:
    p = rf.patient(session, world.beijing2)
    session.commit()
    login(client, "clinician")
    assert client.get(f"/patients/{p.id}").status_code == 404
    client.cookies.clear()
    login(client, "auditor")
    assert client.get("/patients").status_code == 403


def test_edit_keeps_numbers_and_refuses_stale(
    client: TestClient, world: World, session: Session
) -> None:
    p = rf.patient(session, world.baoding, name="王小明")
    session.commit()
    csrf = login(client, "clinician")
    form = client.get(f"/patients/{p.id}/edit")
    assert form.status_code == 200 and "Leave empty to keep it" in form.text
    # the factory's child has no guardian phone: the edit must add one
    missing = child_form(csrf, national_id="", guardian_phone="", version="1")
    refused = client.post(f"/patients/{p.id}/edit", data=missing)
    assert refused.status_code == 422 and 'id="guardian_phone-error"' in refused.text
    data = child_form(
        csrf, national_id="", guardian_phone="13900139000", version="1", address="竞秀区"
    )
    data["guardian_name"] = "家长"
    r = client.post(f"/patients/{p.id}/edit", data=data, follow_redirects=False)
    assert r.status_code == 303, r.text
    session.expire_all()
    fresh = session.get(Patient, p.id)
    assert fresh is not None and fresh.address == "竞秀区" and fresh.version == 2
    assert fresh.national_id_masked == "130602********0012"
    assert fresh.guardian_phone_masked == "139****9000"
    stale = client.post(f"/patients/{p.id}/edit", data=data)
    assert stale.status_code == 409 and "Someone else changed this" in stale.text


def test_duplicates_merge_confirmation_and_redirect(
    client: TestClient, world: World, session: Session
) -> None:
    a = rf.patient(session, world.baoding, name="张小红", national_id=None)
    b = rf.patient(session, world.baoding, name="张小红")
    rf.consent(session, b, world.beijing, world.users[Role.CLINICIAN])
    session.commit()
    csrf = login(client, "clinician")
    listing = client.get("/patients/duplicates")
    assert listing.status_code == 200
    assert f"/patients/{a.id}/merge?duplicate_id={b.id}" in listing.text
    confirm = client.get(f"/patients/{a.id}/merge", params={"duplicate_id": b.id})
    assert confirm.status_code == 200
    assert "1 consents and 0 referrals move to record" in confirm.text
    r = client.post(
        f"/patients/{a.id}/merge",
        data={
            "csrf_token": csrf,
            "duplicate_id": str(b.id),
            "version": "1",
            "duplicate_version": "1",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "The records are merged." in client.get(r.headers["location"]).text
    # the merged record's page sends the reader to the survivor
    old = client.get(f"/patients/{b.id}", follow_redirects=False)
    assert old.status_code == 303
    assert old.headers["location"] == f"/patients/{a.id}?merged_from={b.id}"
    again = client.post(
        f"/patients/{a.id}/merge",
        data={
            "csrf_token": csrf,
            "duplicate_id": str(b.id),
            "version": "2",
            "duplicate_version": "2",
        },
    )
    assert again.status_code == 409
