"""Attachments of referrals: the sending side attaches PDF, PNG or JPEG while the referral is
a draft or awaits triage; both sides read; everyone else gets 404; refusals leave nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medcircle.audit.models import AuditEvent
from medcircle.auth.domain import Role
from medcircle.config import Settings
from medcircle.referrals import attachments
from medcircle.referrals.domain import Status
from medcircle.referrals.models import Referral, ReferralAttachment
from tests import factories
from tests.factories import World
from tests.referral_factories import CircleWorld, patient, referral, referral_world

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32


@pytest.fixture
def cw(session: Session, world: World) -> CircleWorld:
    w = referral_world(session, world)
    session.commit()
    return w


def make_referral(session: Session, cw: CircleWorld, status: Status = Status.SUBMITTED) -> Referral:
    p = patient(session, cw.base.baoding, national_id=None)
    r = referral(session, p, cw.base.users[Role.CLINICIAN], cw.bj_paeds, status=status)
    session.commit()
    return r


def upload(client: TestClient, headers: dict[str, str], referral_id: int, name: str, data: bytes):  # type: ignore[no-untyped-def]
    return client.post(
        f"/api/v1/referrals/{referral_id}/attachments",
        files={"file": (name, data, "application/octet-stream")},
        headers=headers,
    )


def stored(settings: Settings) -> list[Path]:
    root = settings.data_dir / "attachments"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def rows(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(ReferralAttachment)) or 0


def test_sender_attaches_and_both_sides_read(
    client: TestClient, session: Session, cw: CircleWorld, settings: Settings
) -> None:
    r = make_referral(session, cw)
    sender = cw.base.auth(Role.CLINICIAN)
    res = upload(client, sender, r.id, "echo report.pdf", PDF)
    assert res.status_code == 201, res.text
    body = res.json()
    assert body["filename"] == "echo report.pdf"
    assert body["content_type"] == "application/pdf"
    assert body["size_bytes"] == len(PDF)
    assert body["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert body["download_url"] == f"/api/v1/referrals/{r.id}/attachments/{body['id']}"
    # the bytes are stored once, by their hash
    assert [p.name for p in stored(settings)] == [hashlib.sha256(PDF).hexdigest()]
    assert upload(client, sender, r.id, "scan.png", PNG).status_code == 201
    assert upload(client, sender, r.id, "ecg", JPEG).json()["filename"] == "ecg.jpg"

    for headers in (sender, cw.auth_user("bjclinician"), cw.base.auth(Role.EXPERT)):
        listed = client.get(f"/api/v1/referrals/{r.id}/attachments", headers=headers)
        assert listed.status_code == 200
        assert [a["filename"] for a in listed.json()] == ["echo report.pdf", "scan.png", "ecg.jpg"]

    got = client.get(body["download_url"], headers=cw.auth_user("bjclinician"))
    assert got.status_code == 200
    assert got.content == PDF
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["content-disposition"].startswith("attachment")
    assert got.headers["cache-control"] == "private, no-store"

    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.action.like("referral.attachment%"))
    ).all()
    assert actions.count("referral.attachment_add") == 3
    assert actions.count("referral.attachment_list") == 3
    assert actions.count("referral.attachment_read") == 1


def test_other_institutions_get_404(
    client: TestClient, session: Session, cw: CircleWorld, settings: Settings
) -> None:
    r = make_referral(session, cw)
    first = upload(client, cw.base.auth(Role.CLINICIAN), r.id, "a.pdf", PDF).json()
    outsider = factories.user(session, cw.base.beijing2, Role.CLINICIAN)
    token = factories.api_token(session, outsider)
    session.commit()
    for headers in (
        {"Authorization": f"Bearer {token}"},
        cw.auth_user("bd2clinician"),
    ):
        assert (
            client.get(f"/api/v1/referrals/{r.id}/attachments", headers=headers).status_code == 404
        )
        assert client.get(first["download_url"], headers=headers).status_code == 404
        assert upload(client, headers, r.id, "b.pdf", PDF).status_code == 404
    # roles without referral reading get 404 too (they may not know it exists)
    for role in (Role.COMMISSION_ANALYST, Role.ALLIANCE_ADMIN, Role.AUDITOR):
        res = client.get(f"/api/v1/referrals/{r.id}/attachments", headers=cw.base.auth(role))
        assert res.status_code == 404
    # an attachment of another referral is not found through this one
    other = make_referral(session, cw)
    res = client.get(
        f"/api/v1/referrals/{other.id}/attachments/{first['id']}",
        headers=cw.base.auth(Role.CLINICIAN),
    )
    assert res.status_code == 404
    assert client.get(f"/api/v1/referrals/{r.id}/attachments").status_code == 401


def test_receiver_does_not_attach_and_closed_referrals_take_no_files(
    client: TestClient, session: Session, cw: CircleWorld, settings: Settings
) -> None:
    r = make_referral(session, cw)
    res = upload(client, cw.auth_user("bjclinician"), r.id, "a.pdf", PDF)
    assert res.status_code == 403
    accepted = make_referral(session, cw, Status.ACCEPTED)
    res = upload(client, cw.base.auth(Role.CLINICIAN), accepted.id, "a.pdf", PDF)
    assert res.status_code == 409
    assert res.json()["code"] == "attachments_closed"
    # a draft: the sender attaches, the receiver does not even see it
    draft = make_referral(session, cw, Status.DRAFT)
    assert upload(client, cw.base.auth(Role.CLINICIAN), draft.id, "a.pdf", PDF).status_code == 201
    res = client.get(
        f"/api/v1/referrals/{draft.id}/attachments", headers=cw.auth_user("bjclinician")
    )
    assert res.status_code == 404
    # the expert of the receiving side reads but does not attach
    assert upload(client, cw.base.auth(Role.EXPERT), r.id, "a.pdf", PDF).status_code == 403


@pytest.mark.parametrize(
    ("name", "data", "status", "code"),
    [
        ("notes.txt", b"plain text notes\n", 422, "unsupported_file_type"),
        ("report.docx", b"PK\x03\x04" + b"\x00" * 40, 422, "unsupported_file_type"),
        ("scan.pdf", PNG, 422, "file_type_mismatch"),
        ("empty.pdf", b"", 422, "empty_file"),
        ("big.pdf", b"%PDF-" + b"0" * attachments.MAX_BYTES, 413, "payload_too_large"),
    ],
    ids=["text", "office", "mismatch", "empty", "too-large"],
)
def test_refused_files_leave_nothing(
    client: TestClient,
    session: Session,
    cw: CircleWorld,
    settings: Settings,
    name: str,
    data: bytes,
    status: int,
    code: str,
) -> None:
    r = make_referral(session, cw)
    res = upload(client, cw.base.auth(Role.CLINICIAN), r.id, name, data)
    assert res.status_code == status, res.text
    assert res.json()["code"] == code
    assert rows(session) == 0
    assert stored(settings) == []


def test_service_refuses_oversize_and_checks_the_content_not_the_declared_type(
    session: Session, cw: CircleWorld, settings: Settings
) -> None:
    from medcircle.auth.service import actor_for
    from medcircle.kit.errors import PayloadTooLarge, ValidationFailed

    r = make_referral(session, cw)
    me = actor_for(session, cw.base.users[Role.CLINICIAN])
    with pytest.raises(PayloadTooLarge):
        attachments.add(
            session, me, r.id, "x.pdf", "application/pdf", b"%PDF-" + bytes(10 * 2**20), settings
        )
    with pytest.raises(ValidationFailed):
        attachments.add(session, me, r.id, "x.pdf", "application/pdf", b"MZ\x90\x00", settings)
    row = attachments.add(session, me, r.id, "../../etc/x.png", "text/plain", PNG, settings)
    assert (row.filename, row.content_type) == ("x.png", "image/png")
    found, path = attachments.open(session, me, r.id, row.id, settings)
    assert found.id == row.id and path.read_bytes() == PNG
