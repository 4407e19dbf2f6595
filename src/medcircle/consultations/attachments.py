"""Files of a consultation: images (PNG, JPEG), PDF and lab reports (PDF, or plain-text
exports of a laboratory system: .txt/.csv), 10 MB each.

The checks and the store are shared with the files of referrals
(``referrals.attachments.store_upload``): the type is judged by the content, the extension must
match it, the name is made safe (no folders ever reach the disk path), and the bytes are kept
once by their SHA-256 under ``<data_dir>/attachments``. The bytes are written before the row,
which is added in the request's transaction (``keep_upload``, audited the same way as a
referral's file): a refused or failed request leaves no row.

Either side of the case (the asker's institution, the expert holding it, the answering
institution's coordinators) attaches while the case is open or answered; everyone who may
read the case (``service.get``) lists and downloads; for everybody else the case and its files
do not exist (404). Every upload, listing and download is audited.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from medcircle.agreements.domain import DocumentType
from medcircle.audit import service as audit
from medcircle.auth.domain import Actor
from medcircle.config import Settings
from medcircle.consultations import service
from medcircle.consultations.domain import Side, Status
from medcircle.consultations.models import ConsultationAttachment
from medcircle.kit.errors import Conflict, Forbidden, NotFound
from medcircle.kit.i18n import N_
from medcircle.referrals.attachments import keep_upload, store_for, store_upload

MAX_BYTES = 10 * 1024 * 1024
# Lab reports come as PDF or as the plain-text export of a laboratory system; text is always
# served as a download (Content-Disposition: attachment, nosniff), never shown inline.
ALLOWED: frozenset[DocumentType] = frozenset(
    {DocumentType.PDF, DocumentType.PNG, DocumentType.JPEG, DocumentType.TEXT}
)
ALLOWED_LABEL = "PDF, PNG, JPEG, TXT"
OPEN_FOR_FILES: frozenset[str] = frozenset(
    {
        Status.POOL.value,
        Status.ASSIGNED.value,
        Status.AWAITING_ASKER.value,
        Status.ANSWERED.value,
    }
)
UPLOADING_SIDES: frozenset[Side] = frozenset({Side.ASKER, Side.ASSIGNEE, Side.COORDINATOR})

NO_ATTACHMENT = N_("No attachment with this number on this consultation.")


def may_attach(actor: Actor, status: str, sides: set[Side]) -> bool:
    """Whether a reader playing ``sides`` may attach files to a case in ``status`` (pages
    use this to show the upload form)."""
    return status in OPEN_FOR_FILES and bool(sides & UPLOADING_SIDES)


def add(
    session: Session,
    actor: Actor,
    consultation_id: int,
    filename: str,
    content: bytes,
    settings: Settings,
) -> ConsultationAttachment:
    """Attach a file to a case. 404 for those who may not read it, 403 for readers who play no
    uploading side, 409 ``attachments_closed`` once the case is closed or cancelled, 413
    ``payload_too_large`` over 10 MB, 422 ``empty_file``, ``unsupported_file_type`` or
    ``file_type_mismatch``."""
    c = service.get(session, actor, consultation_id)
    if not service.sides(actor, c, session) & UPLOADING_SIDES:
        raise Forbidden(
            N_("Only the asking side, the expert holding the case or a coordinator attach files.")
        )
    if c.status not in OPEN_FOR_FILES:
        raise Conflict(
            N_("Files can be attached only while the consultation is open or answered."),
            code="attachments_closed",
        )
    stored = store_upload(
        filename,
        content,
        settings,
        allowed=ALLOWED,
        allowed_label=ALLOWED_LABEL,
        max_bytes=MAX_BYTES,
    )
    return keep_upload(
        session,
        actor,
        stored,
        ConsultationAttachment,
        ("consultation_id", c.id),
        ("consultation.attachment_add", "consultation_attachment"),
    )


def list_for(
    session: Session, actor: Actor, consultation_id: int
) -> Sequence[ConsultationAttachment]:
    """The files of a case, oldest first (audited: their names may be clinical)."""
    c = service.get(session, actor, consultation_id)
    rows = (
        session.execute(
            select(ConsultationAttachment)
            .where(ConsultationAttachment.consultation_id == c.id)
            .order_by(ConsultationAttachment.uploaded_at, ConsultationAttachment.id)
        )
        .scalars()
        .all()
    )
    audit.record(
        session,
        actor,
        "consultation.attachment_list",
        object_type="consultation",
        object_id=c.id,
        detail={"count": len(rows)},
    )
    return rows


def open(
    session: Session,
    actor: Actor,
    consultation_id: int,
    attachment_id: int,
    settings: Settings,
) -> tuple[ConsultationAttachment, bytes]:
    """A file of a case and its bytes, for whoever may read the case (audited). An attachment
    number of another case, or of a case the reader may not see, is a 404."""
    c = service.get(session, actor, consultation_id)
    row = session.get(ConsultationAttachment, attachment_id)
    if row is None or row.consultation_id != c.id:
        raise NotFound(NO_ATTACHMENT)
    path = store_for(settings).path_for(row.sha256)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotFound(N_("The file of this attachment is missing from the store.")) from None
    audit.record(
        session,
        actor,
        "consultation.attachment_read",
        object_type="consultation_attachment",
        object_id=row.id,
        detail={"consultation_id": c.id, "filename": row.filename},
    )
    return row, data
