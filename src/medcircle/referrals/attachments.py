"""Files sent with a referral: reports, ECGs, scans (PDF, PNG or JPEG, 10 MB each).

The bytes are stored once by their SHA-256 under ``<data_dir>/attachments`` (written
atomically, see agreements' DocumentStore); the row names the referral, the file and who sent
it. The sending side attaches while the referral is a draft or waits for triage; both sides
read. Every upload and every read is audited.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from medcircle.agreements.domain import (
    DocumentType,
    detect_document_type,
    extension_matches,
    sanitise_filename,
)
from medcircle.agreements.service import DocumentStore
from medcircle.audit import service as audit
from medcircle.auth.domain import Actor, Permission
from medcircle.config import Settings
from medcircle.kit import clock
from medcircle.kit.errors import (
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    ValidationFailed,
)
from medcircle.kit.i18n import N_
from medcircle.referrals.domain import Status
from medcircle.referrals.models import Referral, ReferralAttachment

MAX_BYTES = 10 * 1024 * 1024
ALLOWED: frozenset[DocumentType] = frozenset(
    {DocumentType.PDF, DocumentType.PNG, DocumentType.JPEG}
)
ALLOWED_LABEL = "PDF, PNG, JPEG"
OPEN_FOR_FILES: frozenset[str] = frozenset({Status.DRAFT.value, Status.SUBMITTED.value})

NO_REFERRAL = N_("No such referral is shared with your institution.")
NO_ATTACHMENT = N_("No attachment with this number on this referral.")


def store_for(settings: Settings) -> DocumentStore:
    return DocumentStore(settings.data_dir / "attachments")


def _visible(session: Session, actor: Actor, referral_id: int) -> Referral:
    """The referral if the actor's institution sent it, or received it (once submitted);
    for everyone else it does not exist."""
    if not actor.can(Permission.REFERRAL_READ):
        raise NotFound(NO_REFERRAL)
    referral = session.get(Referral, referral_id)
    if referral is None or not (
        actor.institution_id == referral.sender_institution_id
        or (
            actor.institution_id == referral.receiver_institution_id
            and referral.status != Status.DRAFT.value
        )
    ):
        raise NotFound(NO_REFERRAL)
    return referral


def _file_error(code: str, message: str, **params: object) -> ValidationFailed:
    return ValidationFailed(
        code=code, field_errors=[FieldError("file", message, dict(params), code=code)]
    )


@dataclass(frozen=True)
class StoredFile:
    """A checked upload whose bytes are in the store: the safe name, the type judged by the
    content, the size and the SHA-256 the bytes are kept under."""

    filename: str
    content_type: str
    size: int
    sha256: str


def store_upload(
    filename: str,
    data: bytes,
    settings: Settings,
    *,
    allowed: frozenset[DocumentType] = ALLOWED,
    allowed_label: str = ALLOWED_LABEL,
    max_bytes: int = MAX_BYTES,
) -> StoredFile:
    """Check an upload and put its bytes in the store (shared by the files of referrals and
    of consultations): at most ``max_bytes`` (413 ``payload_too_large``), not empty
    (``empty_file``), a type among ``allowed`` judged by the content
    (``unsupported_file_type``), an extension that matches it (``file_type_mismatch``), and
    a safe display name (no folders). The bytes are written (atomically) before the caller
    adds its row, so a refused or failed request leaves no row; a refused file leaves no
    bytes either."""
    if len(data) > max_bytes:
        raise PayloadTooLarge(N_("The limit is %(mb).1f MB."), mb=max_bytes / (1024 * 1024))
    if not data:
        raise _file_error("empty_file", N_("The file is empty."))
    store = store_for(settings)
    staged = store.stage(io.BytesIO(data), max_bytes)
    try:
        doc_type = detect_document_type(staged.head, staged.zip_names)
        if doc_type not in allowed:
            raise _file_error(
                "unsupported_file_type",
                N_("This kind of file cannot be attached. Allowed: %(types)s."),
                types=allowed_label,
            )
        assert doc_type is not None
        if not extension_matches(filename, doc_type):
            raise _file_error(
                "file_type_mismatch",
                N_("The file name's extension does not match its content (%(kind)s)."),
                kind=doc_type.name,
            )
        store.place(staged)
    except BaseException:
        store.discard(staged.temp_path)
        raise
    return StoredFile(
        filename=sanitise_filename(filename, doc_type),
        content_type=doc_type.value,
        size=staged.size,
        sha256=staged.sha256,
    )


class UploadRow(Protocol):
    @property
    def id(self) -> int: ...


_Row = TypeVar("_Row", bound=UploadRow)


def keep_upload(
    session: Session,
    actor: Actor,
    stored: StoredFile,
    model: Callable[..., _Row],
    owner: tuple[str, int],
    audited_as: tuple[str, str],
) -> _Row:
    """The row of a file ``stored`` for its owner (shared by the files of referrals and of
    consultations): ``model`` is the attachment table, ``owner`` its column naming the owner
    and the owner's id; the row is added in the request's transaction and audited as
    ``audited_as`` (the action and the object type), with the owner, the name, type, size and
    hash."""
    owner_column, owner_id = owner
    action, object_type = audited_as
    row = model(
        **{owner_column: owner_id},
        filename=stored.filename,
        content_type=stored.content_type,
        size_bytes=stored.size,
        sha256=stored.sha256,
        uploaded_by_user_id=actor.user_id,
        uploaded_at=clock.now(),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        action,
        object_type=object_type,
        object_id=row.id,
        detail={
            owner_column: owner_id,
            "filename": stored.filename,
            "content_type": stored.content_type,
            "size_bytes": stored.size,
            "sha256": stored.sha256,
        },
    )
    return row


def add(
    session: Session,
    actor: Actor,
    referral_id: int,
    filename: str,
    content_type: str | None,
    data: bytes,
    settings: Settings,
) -> ReferralAttachment:
    """Attach a file to a referral the actor's institution is sending. The type is judged by
    the content (the declared ``content_type`` is not trusted); a refused file leaves neither
    a row nor bytes behind."""
    referral = _visible(session, actor, referral_id)
    if actor.institution_id != referral.sender_institution_id or not actor.can(
        Permission.REFERRAL_SEND
    ):
        raise Forbidden(N_("Only the sending side attaches files to a referral."))
    if referral.status not in OPEN_FOR_FILES:
        raise Conflict(
            N_("Files can be attached only while the referral is a draft or awaits triage."),
            code="attachments_closed",
        )
    return keep_upload(
        session,
        actor,
        store_upload(filename, data, settings),
        ReferralAttachment,
        ("referral_id", referral.id),
        ("referral.attachment_add", "referral_attachment"),
    )


def list_for(session: Session, actor: Actor, referral_id: int) -> Sequence[ReferralAttachment]:
    """The files of a referral, oldest first (audited: their names may be clinical)."""
    referral = _visible(session, actor, referral_id)
    rows = (
        session.execute(
            select(ReferralAttachment)
            .where(ReferralAttachment.referral_id == referral.id)
            .order_by(ReferralAttachment.uploaded_at, ReferralAttachment.id)
        )
        .scalars()
        .all()
    )
    audit.record(
        session,
        actor,
        "referral.attachment_list",
        object_type="referral",
        object_id=referral.id,
        detail={"count": len(rows)},
    )
    return rows


def open(
    session: Session, actor: Actor, referral_id: int, attachment_id: int, settings: Settings
) -> tuple[ReferralAttachment, Path]:
    """A file of a referral and where its bytes are, for either side (audited)."""
    referral = _visible(session, actor, referral_id)
    row = session.get(ReferralAttachment, attachment_id)
    if row is None or row.referral_id != referral.id:
        raise NotFound(NO_ATTACHMENT)
    path = store_for(settings).path_for(row.sha256)
    if not path.is_file():
        raise NotFound(N_("The file of this attachment is missing from the store."))
    audit.record(
        session,
        actor,
        "referral.attachment_read",
        object_type="referral_attachment",
        object_id=row.id,
        detail={"referral_id": referral.id, "filename": row.filename},
    )
    return row, path
