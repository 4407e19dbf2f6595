"""Worklists, directory with current waits, ICD-10 look-up, savings, attachments (API)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import Depends, File, Query, Request, Response, UploadFile, status
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, TypeAdapter

from medcircle.kit import clock
from medcircle.kit.errors import PayloadTooLarge
from medcircle.kit.i18n import N_
from medcircle.kit.pagination import Page
from medcircle.referrals import attachments, icd10, queries
from medcircle.referrals.domain import Direction, Urgency
from medcircle.referrals.models import ReferralAttachment
from medcircle.referrals.queries import (
    DirectoryFilter,
    DirectoryRow,
    SavingsSummary,
    Worklist,
    WorklistFilter,
    WorklistRow,
)
from medcircle.web.deps import (
    DB,
    CurrentActor,
    Paging,
    credentials_present,
    hot_read,
    settings_of,
)
from medcircle.web.routing import QuickRouter

router = QuickRouter(prefix="/api/v1", tags=["referrals"])

_WORKLIST_PAGE = TypeAdapter(Page[WorklistRow])


class Icd10Item(BaseModel):
    code: str
    description: str


class AttachmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    referral_id: int
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    uploaded_by_user_id: int
    uploaded_at: datetime
    download_url: str = ""


def attachment_read(row: ReferralAttachment) -> AttachmentRead:
    return AttachmentRead.model_validate(row).model_copy(
        update={
            "download_url": f"/api/v1/referrals/{row.referral_id}/attachments/{row.id}",
        }
    )


# --- worklists ----------------------------------------------------------------------------


@router.get("/referrals/worklists", response_model=dict[Worklist, int])
def worklist_counts(session: DB, actor: CurrentActor) -> dict[Worklist, int]:
    """How many referrals each worklist you may read holds."""
    return queries.counts(session, actor)


@router.get(
    "/referrals/worklists/{name}",
    response_model=Page[WorklistRow],
    dependencies=[Depends(credentials_present)],
)
async def read_worklist(
    request: Request,
    name: Worklist,
    paging: Paging,
    urgency: Urgency | None = None,
    direction: Direction | None = None,
    q: Annotated[
        str | None, Query(max_length=64, description="reference or patient name prefix")
    ] = None,
) -> Response:
    """A worklist of your institution: `incoming` (to triage: most urgent, then oldest),
    `scheduled`, `outgoing` (live status of what you sent), `awaiting_return`, `escalated`
    (alliance coordinators). Each read is audited."""
    filters = WorklistFilter(urgency=urgency, direction=direction, q=q)
    # the hottest read of the loop takes the leanest path (see hot_read); the read's audit
    # event is committed by the audit writer before the answer leaves
    page = await hot_read(
        request, lambda session, actor: queries.worklist(session, actor, name, paging, filters)
    )
    return Response(content=_WORKLIST_PAGE.dump_json(page), media_type="application/json")


# --- directory ----------------------------------------------------------------------------


@router.get("/directory", response_model=Page[DirectoryRow])
def read_directory(
    request: Request,
    session: DB,
    actor: CurrentActor,
    paging: Paging,
    specialty: Annotated[str | None, Query(max_length=32)] = None,
    institution_id: int | None = None,
    level: Annotated[str | None, Query(max_length=16)] = None,
    q: Annotated[
        str | None, Query(max_length=100, description="part of an institution or department name")
    ] = None,
) -> Page[DirectoryRow]:
    """Departments you can refer to, with their current wait (median days from submission to
    appointment over the recent window; null below 3 appointments) and whether the
    institution is in your network; in-network first, then the shortest wait."""
    f = DirectoryFilter(specialty=specialty, institution_id=institution_id, q=q, level=level)
    return queries.directory(session, actor, f, paging, settings_of(request))


# --- ICD-10 -------------------------------------------------------------------------------


@router.get("/icd10", response_model=list[Icd10Item])
def search_icd10(
    actor: CurrentActor,
    q: Annotated[str, Query(min_length=1, max_length=100, description="code or words")],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[Icd10Item]:
    """ICD-10 categories and subcategories: codes starting with `q` first, then titles with
    every word of `q`."""
    return [Icd10Item(code=c, description=d) for c, d in icd10.search(q, limit)]


# --- savings ------------------------------------------------------------------------------


@router.get("/referrals/savings", response_model=SavingsSummary)
def read_savings(
    session: DB,
    actor: CurrentActor,
    date_from: Annotated[date | None, Query(description="default: a year before date_to")] = None,
    date_to: Annotated[date | None, Query(description="default: today")] = None,
) -> SavingsSummary:
    """Costs families avoided by care kept local, for referrals completed in the period."""
    end = date_to or clock.today()
    start = date_from or (end - timedelta(days=365))
    return queries.savings_summary(session, actor, start, end)


# --- attachments --------------------------------------------------------------------------


@router.get("/referrals/{referral_id:int}/attachments", response_model=list[AttachmentRead])
def list_attachments(referral_id: int, session: DB, actor: CurrentActor) -> list[AttachmentRead]:
    return [attachment_read(a) for a in attachments.list_for(session, actor, referral_id)]


@router.post(
    "/referrals/{referral_id:int}/attachments",
    response_model=AttachmentRead,
    status_code=status.HTTP_201_CREATED,
)
def upload_attachment(
    referral_id: int,
    request: Request,
    session: DB,
    actor: CurrentActor,
    file: Annotated[UploadFile, File(description="PDF, PNG or JPEG, at most 10 MB")],
) -> AttachmentRead:
    """Attach a file (multipart form field `file`) while the referral is a draft or awaits
    triage; sending side only. The type is judged by the content."""
    data = file.file.read(attachments.MAX_BYTES + 1)
    if len(data) > attachments.MAX_BYTES:
        raise PayloadTooLarge(
            N_("The limit is %(mb).1f MB."), mb=attachments.MAX_BYTES / (1024 * 1024)
        )
    row = attachments.add(
        session,
        actor,
        referral_id,
        file.filename or "",
        file.content_type,
        data,
        settings_of(request),
    )
    return attachment_read(row)


@router.get(
    "/referrals/{referral_id:int}/attachments/{attachment_id:int}", response_class=FileResponse
)
def download_attachment(
    referral_id: int, attachment_id: int, request: Request, session: DB, actor: CurrentActor
) -> FileResponse:
    """The file, as a download, for either side of the referral."""
    row, path = attachments.open(session, actor, referral_id, attachment_id, settings_of(request))
    return FileResponse(
        str(path),
        media_type=row.content_type,
        filename=row.filename,
        content_disposition_type="attachment",
        headers={"Cache-Control": "private, no-store"},
    )
