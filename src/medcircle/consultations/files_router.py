"""API of the files of consultations: upload, list, download."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import File, Request, Response, UploadFile, status
from pydantic import BaseModel, ConfigDict

from medcircle.consultations import attachments
from medcircle.consultations.models import ConsultationAttachment
from medcircle.kit.errors import PayloadTooLarge
from medcircle.kit.i18n import N_
from medcircle.web.deps import DB, CurrentActor, settings_of
from medcircle.web.routing import QuickRouter

router = QuickRouter(prefix="/api/v1", tags=["consultations"])


class ConsultationAttachmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    consultation_id: int
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    uploaded_by_user_id: int
    uploaded_at: datetime
    download_url: str = ""


def attachment_read(row: ConsultationAttachment) -> ConsultationAttachmentRead:
    return ConsultationAttachmentRead.model_validate(row).model_copy(
        update={
            "download_url": (f"/api/v1/consultations/{row.consultation_id}/attachments/{row.id}")
        }
    )


def download_response(row: ConsultationAttachment, data: bytes) -> Response:
    """The bytes as a download that is never shown inline nor sniffed nor cached."""
    name = row.filename
    plain = name.isascii() and name.isprintable() and '"' not in name and "\\" not in name
    disposition = (
        f'attachment; filename="{name}"' if plain else f"attachment; filename*=utf-8''{quote(name)}"
    )
    media_type = row.content_type
    if media_type.startswith("text/"):
        media_type += "; charset=utf-8"
    return Response(
        content=data,
        media_type=media_type,
        headers={
            "Content-Disposition": disposition,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )


@router.get(
    "/consultations/{consultation_id:int}/attachments",
    response_model=list[ConsultationAttachmentRead],
)
def list_attachments(
    consultation_id: int, session: DB, actor: CurrentActor
) -> list[ConsultationAttachmentRead]:
    """The files of a consultation, oldest first, for whoever may read it."""
    return [attachment_read(a) for a in attachments.list_for(session, actor, consultation_id)]


@router.post(
    "/consultations/{consultation_id:int}/attachments",
    response_model=ConsultationAttachmentRead,
    status_code=status.HTTP_201_CREATED,
)
def upload_attachment(
    consultation_id: int,
    request: Request,
    session: DB,
    actor: CurrentActor,
    file: Annotated[
        UploadFile, File(description="PDF, PNG, JPEG or a plain-text lab export, at most 10 MB")
    ],
) -> ConsultationAttachmentRead:
    """Attach a file (multipart form field `file`) while the case is open or answered; the
    asking side, the expert holding it or a coordinator. The type is judged by the content."""
    data = file.file.read(attachments.MAX_BYTES + 1)
    if len(data) > attachments.MAX_BYTES:
        raise PayloadTooLarge(
            N_("The limit is %(mb).1f MB."), mb=attachments.MAX_BYTES / (1024 * 1024)
        )
    row = attachments.add(
        session, actor, consultation_id, file.filename or "", data, settings_of(request)
    )
    return attachment_read(row)


@router.get(
    "/consultations/{consultation_id:int}/attachments/{attachment_id:int}",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def download_attachment(
    consultation_id: int, attachment_id: int, request: Request, session: DB, actor: CurrentActor
) -> Response:
    """The file, as a download, for whoever may read the consultation."""
    row, data = attachments.open(
        session, actor, consultation_id, attachment_id, settings_of(request)
    )
    return download_response(row, data)
