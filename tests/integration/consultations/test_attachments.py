"""Files of consultations: either side attaches images, PDF and plain-text lab exports while the
case is open or answered; the type is judged by the content; the name never reaches the disk
path; whoever reads the case downloads; everybody else gets 404; refusals leave nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medcircle.audit.models import AuditEvent
from medcircle.auth import service as auth_service
from medcircle.auth.domain import Role
from medcircle.auth.models import User
from medcircle.config import Settings
from medcircle.consultations import attachments
from medcircle.consultations.domain import Status
from medcircle.consultations.models import Consultation, ConsultationAttachment
from medcircle.kit.errors import Conflict, Forbidden, NotFound, ValidationFailed
from medcircle.referrals import attachments as referral_attachments
from tests import consult_factories as cf

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32
LAB = "血红蛋白\t112 g/L\n白细胞\t7.2 ×10^9/L\n".encode()
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 32


def upload(client: TestClient, headers: dict[str, str], cid: int, name: str, data: bytes) -> Any:
    return client.post(
        f"/api/v1/consultations/{cid}/attachments",
        files={"file": (name, data, "application/pdf")},
        headers=headers,
    )


def stored(settings: Settings) -> list[Path]:
    root = settings.data_dir / "attachments"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def rows(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(ConsultationAttachment)) or 0


def case(session: Session, w: cf.ConsultWorld, **kw: Any) -> Consultation:
    c = cf.consultation(session, w, **kw)
    session.commit()
    return c


def actor(session: Session, username: str):  # type: ignore[no-untyped-def]
    u = session.scalar(select(User).where(User.username == username))
    assert u is not None
    return auth_service.actor_for(session, u)


def test_both_sides_attach_and_read(
    client: TestClient, session: Session, consult_world: cf.ConsultWorld, settings: Settings
) -> None:
    w = consult_world
    c = case(session, w)
    asker, expert, coordinator = (
        w.auth_user("clinician"),
        w.auth_user("expert"),
        w.auth_user("bjcoord"),
    )
    res = upload(client, asker, c.id, "echo report.pdf", PDF)
    assert res.status_code == 201, res.text
    body = res.json()
    assert body["filename"] == "echo report.pdf"
    assert body["content_type"] == "application/pdf"
    assert body["size_bytes"] == len(PDF)
    assert body["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert body["download_url"] == f"/api/v1/consultations/{c.id}/attachments/{body['id']}"
    assert [p.name for p in stored(settings)] == [hashlib.sha256(PDF).hexdigest()]

    assert upload(client, expert, c.id, "x-ray.png", PNG).status_code == 201
    assert upload(client, coordinator, c.id, "ecg", JPEG).json()["filename"] == "ecg.jpg"
    lab = upload(client, asker, c.id, "血常规.txt", LAB)
    assert lab.status_code == 201, lab.text
    assert lab.json()["content_type"] == "text/plain"

    for headers in (asker, expert, coordinator, w.auth_user("expert3")):
        listed = client.get(f"/api/v1/consultations/{c.id}/attachments", headers=headers)
        assert listed.status_code == 200
        assert [a["filename"] for a in listed.json()] == [
            "echo report.pdf",
            "x-ray.png",
            "ecg.jpg",
            "血常规.txt",
        ]

    got = client.get(body["download_url"], headers=expert)
    assert got.status_code == 200
    assert got.content == PDF
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["content-disposition"] == 'attachment; filename="echo report.pdf"'
    assert got.headers["x-content-type-options"] == "nosniff"
    assert "no-store" in got.headers["cache-control"]

    text = client.get(lab.json()["download_url"], headers=asker)
    assert text.content == LAB
    assert text.headers["content-type"] == "text/plain; charset=utf-8"
    assert text.headers["content-disposition"].startswith("attachment; filename*=utf-8''")


def test_outsiders_get_404_for_the_case_and_its_files(
    client: TestClient, session: Session, consult_world: cf.ConsultWorld
) -> None:
    w = consult_world
    c = case(session, w)
    aid = upload(client, w.auth_user("clinician"), c.id, "echo.pdf", PDF).json()["id"]
    other = case(session, w)
    # another institution's clinician: the case does not exist; no consultation role: 403
    for headers, code in ((w.auth_user("bd2clinician"), 404), (w.base.auth(Role.AUDITOR), 403)):
        listed = client.get(f"/api/v1/consultations/{c.id}/attachments", headers=headers)
        assert listed.status_code == code
        got = client.get(f"/api/v1/consultations/{c.id}/attachments/{aid}", headers=headers)
        assert got.status_code == code
        assert got.headers["content-type"].startswith("application/problem+json")
        assert upload(client, headers, c.id, "a.pdf", PDF).status_code == code
    # the attachment's number under another case gives nothing, even to a reader of both
    wrong = client.get(
        f"/api/v1/consultations/{other.id}/attachments/{aid}", headers=w.auth_user("clinician")
    )
    assert wrong.status_code == 404
    assert client.get(f"/api/v1/consultations/{c.id}/attachments/{aid}").status_code == 401
    assert rows(session) == 1


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("virus.pdf", EXE, "unsupported_file_type"),
        ("scan.png", PDF, "file_type_mismatch"),
        ("report.pdf", LAB, "file_type_mismatch"),
        ("empty.pdf", b"", "empty_file"),
        # the folders make the "extension" ./etc/passwd: refused, nothing written
        ("../../etc/passwd", PDF, "file_type_mismatch"),
    ],
)
def test_refused_files_leave_nothing(
    client: TestClient,
    session: Session,
    consult_world: cf.ConsultWorld,
    settings: Settings,
    name: str,
    data: bytes,
    code: str,
) -> None:
    c = case(session, consult_world)
    res = upload(client, consult_world.auth_user("clinician"), c.id, name, data)
    assert res.status_code == 422, res.text
    assert res.json()["code"] == code
    assert res.json()["errors"][0]["field"] == "file"
    assert rows(session) == 0
    assert stored(settings) == []


def test_over_the_limit_is_413(
    client: TestClient, session: Session, consult_world: cf.ConsultWorld, settings: Settings
) -> None:
    c = case(session, consult_world)
    big = PDF + b"0" * attachments.MAX_BYTES
    res = upload(client, consult_world.auth_user("clinician"), c.id, "big.pdf", big)
    assert res.status_code == 413
    assert res.json()["code"] == "payload_too_large"
    assert rows(session) == 0
    assert stored(settings) == []


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("a/b\\c.pdf", "c.pdf"),
        ("..\\..\\boot.pdf", "boot.pdf"),
        ("\x00evil\u202e.pdf", "evil.pdf"),
        (".hidden.pdf", "hidden.pdf"),
    ],
)
def test_path_tricks_never_reach_the_disk(
    session: Session,
    consult_world: cf.ConsultWorld,
    settings: Settings,
    raw: str,
    safe: str,
) -> None:
    c = case(session, consult_world)
    row = attachments.add(session, actor(session, "clinician"), c.id, raw, PDF, settings)
    session.commit()
    assert row.filename == safe
    root = (settings.data_dir / "attachments").resolve()
    files = stored(settings)
    assert files == [root / row.sha256[:2] / row.sha256]
    assert all(p.resolve().is_relative_to(root) for p in files)
    assert not (settings.data_dir / "etc").exists()


def test_who_may_attach_and_when(
    session: Session, consult_world: cf.ConsultWorld, settings: Settings
) -> None:
    w = consult_world
    c = case(session, w)
    # an expert of the answering institution who does not hold the case reads but attaches not
    with pytest.raises(Forbidden):
        attachments.add(session, actor(session, "expert3"), c.id, "a.pdf", PDF, settings)
    assert len(attachments.list_for(session, actor(session, "expert3"), c.id)) == 0
    for status in (Status.CLOSED, Status.CANCELLED):
        done = case(session, w, status=status)
        with pytest.raises(Conflict) as exc:
            attachments.add(session, actor(session, "clinician"), done.id, "a.pdf", PDF, settings)
        assert exc.value.code == "attachments_closed"
    answered = case(session, w, status=Status.ANSWERED)
    attachments.add(session, actor(session, "clinician"), answered.id, "a.pdf", PDF, settings)
    pool = case(session, w, status=Status.POOL)
    attachments.add(session, actor(session, "bjcoord"), pool.id, "a.pdf", PDF, settings)
    with pytest.raises(NotFound):
        attachments.add(session, actor(session, "bd2clinician"), c.id, "a.pdf", PDF, settings)


def test_a_failed_request_leaves_no_row(
    session: Session, consult_world: cf.ConsultWorld, settings: Settings
) -> None:
    """The bytes are written first and the row joins the request's transaction: when the
    request fails after the upload, the rollback takes the row away."""
    c = case(session, consult_world)
    attachments.add(session, actor(session, "clinician"), c.id, "a.pdf", PDF, settings)
    assert rows(session) == 1
    session.rollback()
    assert rows(session) == 0


def test_missing_bytes_are_a_404(
    session: Session, consult_world: cf.ConsultWorld, settings: Settings
) -> None:
    c = case(session, consult_world)
    who = actor(session, "clinician")
    row = attachments.add(session, who, c.id, "a.pdf", PDF, settings)
    session.commit()
    referral_attachments.store_for(settings).remove(row.sha256)
    with pytest.raises(NotFound):
        attachments.open(session, who, c.id, row.id, settings)


def test_uploads_and_reads_are_audited(
    client: TestClient, session: Session, consult_world: cf.ConsultWorld
) -> None:
    w = consult_world
    c = case(session, w)
    aid = upload(client, w.auth_user("clinician"), c.id, "echo.pdf", PDF).json()["id"]
    client.get(f"/api/v1/consultations/{c.id}/attachments", headers=w.auth_user("expert"))
    client.get(f"/api/v1/consultations/{c.id}/attachments/{aid}", headers=w.auth_user("expert"))
    session.expire_all()
    trail = {
        (e.action, e.actor_username)
        for e in session.scalars(
            select(AuditEvent).where(AuditEvent.action.like("consultation.attachment%"))
        )
    }
    assert trail == {
        ("consultation.attachment_add", "clinician"),
        ("consultation.attachment_list", "expert"),
        ("consultation.attachment_read", "expert"),
    }


def test_a_bad_upload_is_a_readable_422(
    session: Session, consult_world: cf.ConsultWorld, settings: Settings
) -> None:
    c = case(session, consult_world)
    with pytest.raises(ValidationFailed) as exc:
        attachments.add(session, actor(session, "clinician"), c.id, "a.exe", EXE, settings)
    assert exc.value.field_errors[0].text()
