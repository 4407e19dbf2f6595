"""The family's status link: a random expiring token that shows the state, the appointment
and what to bring, never clinical details; forged, expired and revoked links are refused and
audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from medcircle.audit.models import AuditEvent
from medcircle.config import Settings
from medcircle.kit import clock, crypto
from medcircle.kit.errors import Conflict, Forbidden, NotFound
from medcircle.referrals import service
from medcircle.referrals.domain import Action, Status
from medcircle.referrals.models import StatusLink
from tests.factories import World
from tests.integration.referrals.loop_support import Loop, build_loop


@pytest.fixture
def loop(session: Session, world: World, settings: Settings) -> Loop:
    return build_loop(session, world, settings)


def _refusals(session: Session) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "status_link.view", AuditEvent.outcome == "failure")
            .order_by(AuditEvent.id)
        )
    )


def test_link_shows_state_and_appointment_only(loop: Loop) -> None:
    r = loop.walk(loop.create(), Action.ACCEPT, Action.SCHEDULE)
    link, token = service.create_status_link(
        loop.session, loop.actor("clinician"), r.id, loop.settings
    )
    assert link.token_digest == crypto.token_digest(token) and token not in link.token_digest
    assert link.expires_at == link.created_at + timedelta(days=30)
    assert loop.audits("referral.status_link")[0].detail["link_id"] == link.id
    seen = service.family_status(loop.session, token, clock.now())
    assert (seen.reference, seen.status) == (r.reference, Status.SCHEDULED)
    assert (seen.institution_en, seen.department_en) == (
        "Beijing Hospital A",
        "Paediatric cardiology",
    )
    assert seen.appointment_at == r.appointment_at
    assert seen.appointment_place == r.appointment_place
    assert seen.what_to_bring == "Previous echo reports"
    shown = " ".join(str(v) for v in vars(seen).values())
    for secret in (r.diagnosis, r.clinical_summary, r.icd10_code, loop.child.name, r.reason):
        assert secret not in shown
    assert loop.session.get(StatusLink, link.id).last_viewed_at is not None  # type: ignore[union-attr]
    assert [a.object_id for a in loop.audits("status_link.view")] == [str(r.id)]


def test_receiver_may_create_a_link_and_strangers_may_not(loop: Loop) -> None:
    r = loop.create()
    _, token = service.create_status_link(loop.session, loop.actor("bjadmin"), r.id, loop.settings)
    assert service.family_status(loop.session, token, clock.now()).status == Status.SUBMITTED
    with pytest.raises(NotFound):
        service.create_status_link(loop.session, loop.actor("bd2clinician"), r.id, loop.settings)
    with pytest.raises(Forbidden):
        service.create_status_link(loop.session, loop.actor("coordinator"), r.id, loop.settings)
    draft = loop.create(submit=False)
    with pytest.raises(Conflict):
        service.create_status_link(loop.session, loop.actor("clinician"), draft.id, loop.settings)


def test_forged_link(loop: Loop) -> None:
    with pytest.raises(service.StatusLinkInvalid) as caught:
        service.family_status(loop.session, crypto.new_token(), clock.now())
    assert (caught.value.status, caught.value.code) == (404, "status_link_invalid")
    assert [a.detail["code"] for a in _refusals(loop.session)] == ["status_link_invalid"]


def test_expired_and_revoked_links(loop: Loop) -> None:
    r = loop.create()
    link, token = service.create_status_link(
        loop.session, loop.actor("clinician"), r.id, loop.settings
    )
    with pytest.raises(service.StatusLinkExpired) as caught:
        service.family_status(loop.session, token, clock.now() + timedelta(days=30, seconds=1))
    assert (caught.value.status, caught.value.code) == (410, "status_link_expired")
    service.revoke_status_link(loop.session, loop.actor("clinician"), r.id, link.id)
    with pytest.raises(service.StatusLinkExpired):
        service.family_status(loop.session, token, clock.now())
    assert [a.object_id for a in _refusals(loop.session)] == [str(link.id)] * 2


def test_redirected_referral_shows_where_it_went(loop: Loop) -> None:
    r = loop.create()
    _, token = service.create_status_link(
        loop.session, loop.actor("clinician"), r.id, loop.settings
    )
    loop.move(r, Action.REDIRECT, "bjclinician")
    seen = service.family_status(loop.session, token, clock.now())
    assert seen.status == Status.SUBMITTED and seen.department_en == "Cardiology"
    assert seen.reference != r.reference


def test_public_api(client: TestClient, loop: Loop) -> None:
    r = loop.walk(loop.create(), Action.ACCEPT, Action.SCHEDULE)
    loop.session.commit()
    made = client.post(
        f"/api/v1/referrals/{r.id}/status-links", headers=loop.cw.auth_user("clinician")
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["url"].endswith("/status/" + body["token"])
    seen = client.get(f"/api/v1/status/{body['token']}")  # no login
    assert seen.status_code == 200, seen.text
    assert seen.json()["status"] == "scheduled" and seen.json()["reference"] == r.reference
    assert set(seen.json()) == {
        "reference",
        "status",
        "direction",
        "institution_zh",
        "institution_en",
        "department_zh",
        "department_en",
        "appointment_at",
        "appointment_place",
        "what_to_bring",
        "updated_at",
        "expires_at",
    }
    forged = client.get("/api/v1/status/" + crypto.new_token())
    assert forged.status_code == 404 and forged.json()["code"] == "status_link_invalid"
    assert forged.headers["content-type"].startswith("application/problem+json")
    with time_machine.travel(clock.now() + timedelta(days=31), tick=False):
        expired = client.get(f"/api/v1/status/{body['token']}")
    assert expired.status_code == 410 and expired.json()["code"] == "status_link_expired"
    # each refusal is in the trail although the request failed
    loop.session.expire_all()
    assert [a.detail["code"] for a in _refusals(loop.session)] == [
        "status_link_invalid",
        "status_link_expired",
    ]
    revoked = client.delete(
        f"/api/v1/referrals/{r.id}/status-links/{body['id']}",
        headers=loop.cw.auth_user("clinician"),
    )
    assert revoked.status_code == 204
    assert client.get(f"/api/v1/status/{body['token']}").status_code == 410


def test_a_family_with_an_email_address_gets_the_link_by_email(loop: Loop) -> None:
    from medcircle.notifications.models import OutgoingEmail

    loop.child.email = "family@example.com"
    loop.session.flush()
    r = loop.walk(loop.create(), Action.ACCEPT, Action.SCHEDULE)
    _, token = service.create_status_link(
        loop.session, loop.actor("clinician"), r.id, loop.settings
    )
    mails = list(
        loop.session.scalars(
            select(OutgoingEmail).where(OutgoingEmail.to_address == "family@example.com")
        )
    )
    assert len(mails) == 1
    mail = mails[0]
    assert service.status_url(loop.settings, token) in mail.body
    assert r.reference in mail.subject
    # in the deployment's language (Chinese by default), and nothing clinical
    assert "预约" in mail.subject
    for secret in (r.diagnosis, r.clinical_summary, r.icd10_code, loop.child.name):
        assert secret not in mail.subject + mail.body
    assert loop.audits("referral.status_link")[-1].detail["emailed"] is True


def test_without_an_address_nothing_is_emailed(loop: Loop) -> None:
    r = loop.walk(loop.create(), Action.ACCEPT)
    service.create_status_link(loop.session, loop.actor("clinician"), r.id, loop.settings)
    assert loop.audits("referral.status_link")[-1].detail["emailed"] is False
