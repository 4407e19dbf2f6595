"""Documents of agreements: upload (type by content, safe names, size limit), download,
and access by another institution's users."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medcircle.agreements.models import AgreementDocument, CooperationAgreement
from medcircle.audit.models import AuditEvent
from medcircle.auth.domain import Role
from medcircle.config import Settings
from medcircle.main import create_app
from tests import agreement_factories as af
from tests.factories import World, login

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


# fixed member times: the bytes (and so the test ids) must be the same in every process
ZIP_TIME = (2026, 1, 1, 0, 0, 0)


def _zip(members: list[tuple[str, str]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in members:
            z.writestr(zipfile.ZipInfo(name, date_time=ZIP_TIME), text)
    return buf.getvalue()


def docx_bytes() -> bytes:
    return _zip([("[Content_Types].xml", "<Types/>"), ("word/document.xml", "<document/>")])


def odt_bytes() -> bytes:
    return _zip(
        [
            ("mimetype", "application/vnd.oasis.opendocument.text"),
            ("content.xml", "<office:document-content/>"),
        ]
    )


def stored_files(settings: Settings) -> list[Path]:
    root = settings.data_dir / "documents"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AgreementDocument)) or 0


@pytest.fixture
def pairing(world: World, session: Session) -> CooperationAgreement:
    a = af.agreement(session, world.beijing, world.baoding)
    session.commit()
    return a


def upload(
    client: TestClient,
    world: World,
    agreement_id: int,
    name: str,
    data: bytes,
    role: Role = Role.INSTITUTION_ADMIN,
):  # type: ignore[no-untyped-def]
    return client.post(
        f"/api/v1/agreements/{agreement_id}/documents",
        files={"file": (name, data, "application/octet-stream")},
        headers=world.auth(role),
    )


def test_upload_and_download_pdf(
    client: TestClient,
    world: World,
    pairing: CooperationAgreement,
    settings: Settings,
    session: Session,
) -> None:
    r = upload(client, world, pairing.id, "合作协议.pdf", PDF)
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["content_type"] == "application/pdf"
    assert doc["filename"] == "合作协议.pdf"
    assert doc["size_bytes"] == len(PDF)
    sha = doc["sha256"]
    assert stored_files(settings) == [settings.data_dir / "documents" / sha[:2] / sha]
    listed = client.get(
        f"/api/v1/agreements/{pairing.id}/documents", headers=world.auth(Role.CLINICIAN)
    )
    assert [d["id"] for d in listed.json()] == [doc["id"]]
    got = client.get(doc["download_url"], headers=world.auth(Role.CLINICIAN))
    assert got.status_code == 200
    assert got.content == PDF
    assert got.headers["content-type"] == "application/pdf"
    disposition = got.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=utf-8''%e5%90%88" in disposition.lower()
    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.object_type == "agreement_document")
    ).all()
    assert sorted(actions) == ["agreement.document_download", "agreement.document_upload"]


def test_same_content_is_stored_once(
    client: TestClient,
    world: World,
    pairing: CooperationAgreement,
    settings: Settings,
    session: Session,
) -> None:
    assert upload(client, world, pairing.id, "a.pdf", PDF).status_code == 201
    assert upload(client, world, pairing.id, "b.pdf", PDF).status_code == 201
    assert count(session) == 2
    assert len(stored_files(settings)) == 1


@pytest.mark.parametrize(
    ("name", "data", "ctype"),
    [
        ("scan.png", PNG, "image/png"),
        ("photo.jpeg", b"\xff\xd8\xff\xe0" + b"\x00" * 20, "image/jpeg"),
        (
            "report.docx",
            docx_bytes(),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        ("minutes.odt", odt_bytes(), "application/vnd.oasis.opendocument.text"),
        ("notes.txt", "会议纪要\n第一条".encode(), "text/plain"),
        ("no-extension", PDF, "application/pdf"),
    ],
)
def test_allowed_types_by_content(
    client: TestClient,
    world: World,
    pairing: CooperationAgreement,
    name: str,
    data: bytes,
    ctype: str,
) -> None:
    r = upload(client, world, pairing.id, name, data)
    assert r.status_code == 201, r.text
    assert r.json()["content_type"] == ctype
    if name == "no-extension":
        assert r.json()["filename"] == "no-extension.pdf"


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("virus.pdf", b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 40, "unsupported_file_type"),
        ("page.html", b"\x00\x01binary", "unsupported_file_type"),
        ("archive.zip", b"PK\x03\x04" + b"\x00" * 40, "unsupported_file_type"),
        ("contract.pdf", PNG, "file_type_mismatch"),
        ("empty.pdf", b"", "empty_file"),
    ],
)
def test_refused_files_leave_no_row_and_no_file(
    client: TestClient,
    world: World,
    pairing: CooperationAgreement,
    session: Session,
    settings: Settings,
    name: str,
    data: bytes,
    code: str,
) -> None:
    r = upload(client, world, pairing.id, name, data)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == code
    assert r.json()["errors"][0]["field"] == "file"
    assert count(session) == 0
    assert stored_files(settings) == []


def test_path_trick_filename_is_sanitised(
    client: TestClient, world: World, pairing: CooperationAgreement, settings: Settings
) -> None:
    r = upload(client, world, pairing.id, "../../etc/pass\u202ewd\u200b.txt", b"plain text")
    assert r.status_code == 201, r.text
    assert r.json()["filename"] == "passwd.txt"
    windows = upload(client, world, pairing.id, "C:\\Users\\x\\..\\协议.pdf", PDF)
    assert windows.json()["filename"] == "协议.pdf"
    for path in stored_files(settings):
        assert path.is_relative_to(settings.data_dir / "documents")


def test_oversized_upload_is_413_and_leaves_nothing(
    world: World,
    session: Session,
    settings: Settings,
    engine,
    session_factory,
    pairing: CooperationAgreement,  # type: ignore[no-untyped-def]
) -> None:
    small = settings.model_copy(update={"max_upload_bytes": 2048})
    app = create_app(small, engine=engine, session_factory=session_factory)
    with TestClient(app) as c:
        r = upload(c, world, pairing.id, "big.pdf", PDF + b"0" * 4096)
        assert r.status_code == 413
        assert r.json()["code"] == "payload_too_large"
        ok = upload(c, world, pairing.id, "small.pdf", PDF)
        assert ok.status_code == 201
    assert count(session) == 1
    assert len(stored_files(settings)) == 1


def test_other_institution_cannot_see_upload_or_download(
    client: TestClient, world: World, pairing: CooperationAgreement, session: Session
) -> None:
    doc = upload(client, world, pairing.id, "a.pdf", PDF).json()
    other = af.agreement(session, world.beijing2, world.baoding2)
    session.commit()
    # the expert works at BJ-A, a party: may read and download, may not upload
    assert client.get(doc["download_url"], headers=world.auth(Role.EXPERT)).status_code == 200
    assert upload(client, world, pairing.id, "b.pdf", PDF, Role.EXPERT).status_code == 403
    # BD-A's institution admin is not a party to BJ-B → BD-B
    assert upload(client, world, other.id, "c.pdf", PDF).status_code == 404
    stranger_doc = upload(client, world, other.id, "d.pdf", PDF, Role.COMMISSION_ANALYST).json()
    for role in (Role.CLINICIAN, Role.INSTITUTION_ADMIN, Role.EXPERT):
        assert (
            client.get(
                f"/api/v1/documents/{stranger_doc['id']}", headers=world.auth(role)
            ).status_code
            == 404
        )
        assert (
            client.get(
                f"/api/v1/agreements/{other.id}/documents", headers=world.auth(role)
            ).status_code
            == 404
        )
    assert client.get(doc["download_url"], headers=world.auth(Role.AUDITOR)).status_code == 403
    assert client.get(doc["download_url"]).status_code == 401


def test_upload_page_form(
    client: TestClient, world: World, pairing: CooperationAgreement, session: Session
) -> None:
    csrf = login(client, "institutionadmin")
    page = client.get(f"/agreements/{pairing.id}")
    assert 'enctype="multipart/form-data"' in page.text
    bad = client.post(
        f"/agreements/{pairing.id}/documents",
        data={"csrf_token": csrf},
        files={"file": ("x.pdf", b"\x00\x01\x02", "application/pdf")},
    )
    assert bad.status_code == 422
    assert 'id="file-error"' in bad.text
    ok = client.post(
        f"/agreements/{pairing.id}/documents",
        data={"csrf_token": csrf},
        files={"file": ("协议.pdf", PDF, "application/pdf")},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    page = client.get(f"/agreements/{pairing.id}")
    doc = session.scalar(select(AgreementDocument))
    assert doc is not None and f"/agreements/documents/{doc.id}" in page.text
    got = client.get(f"/agreements/documents/{doc.id}")
    assert got.status_code == 200 and got.content == PDF
    no_csrf = client.post(
        f"/agreements/{pairing.id}/documents", files={"file": ("y.pdf", PDF, "application/pdf")}
    )
    assert no_csrf.status_code == 403
