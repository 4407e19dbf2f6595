"""API of hospital activity: importing encounter records from a hospital's own systems (CSV,
Excel or Parquet) and reading each import's row-by-row report.

A file is imported by its institution's office (ACTIVITY_IMPORT) for that institution; a
platform administrator may import for any. All or nothing unless ``mode=quarantine``.

Refusals are problem+json with a stable ``code``: 422 ``import_refused`` (bad rows, or a file
that could not be read: the body's ``errors`` name each line, column and reason, and
``import_id`` the kept report), 413 ``payload_too_large``, 403 ``forbidden``, 404
``not_found``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import File, Form, Request, UploadFile, status
from fastapi.responses import JSONResponse

from medcircle.activity import service
from medcircle.activity.schemas import ImportRead, QuarantinedRead
from medcircle.kit.i18n import gettext
from medcircle.web.deps import DB, CurrentActor, settings_of
from medcircle.web.errors import problem
from medcircle.web.routing import QuickRouter

router = QuickRouter(prefix="/api/v1", tags=["activity"])


@router.post(
    "/activity/imports",
    response_model=ImportRead,
    status_code=status.HTTP_201_CREATED,
    responses={422: {"description": "refused: the report names each line, column and reason"}},
)
def import_activity(
    request: Request,
    session: DB,
    actor: CurrentActor,
    file: Annotated[UploadFile, File(description="CSV (UTF-8 or GBK), XLSX or Parquet")],
    mode: Annotated[service.ImportMode, Form()] = service.ImportMode.ALL_OR_NOTHING,
    encoding: Annotated[str | None, Form(description="the CSV's encoding if not detected")] = None,
) -> ImportRead | JSONResponse:
    """Import a file of encounter records (multipart field ``file``); ``mode=quarantine`` keeps
    the good rows and sets the bad ones aside."""
    done = service.import_upload(
        session,
        actor,
        file.file,
        file.filename or "",
        mode=mode,
        encoding=encoding or None,
        max_bytes=settings_of(request).max_upload_bytes,
    )
    read = ImportRead.model_validate(done)
    if done.status == service.ImportStatus.IMPORTED:
        return read
    # the refused import and its report are kept (the request commits), so no exception here
    failure = read.failure
    return problem(
        request,
        422,
        "import_refused",
        gettext("The file was not imported"),
        failure.message
        if failure
        else gettext(
            "%(count)s errors in the rows; nothing was imported.", count=read.errors_total
        ),
        [
            {"field": e.column, "line": e.line, "code": e.code, "message": e.message}
            for e in read.report
        ]
        or (
            [
                {
                    "field": None,
                    "line": failure.line,
                    "code": failure.code,
                    "message": failure.message,
                }
            ]
            if failure
            else []
        ),
        extensions={"import_id": done.id, "errors_total": read.errors_total},
    )


@router.get("/activity/imports", response_model=list[ImportRead])
def list_imports(session: DB, actor: CurrentActor) -> list[ImportRead]:
    """The latest imports of one's institution (every institution's for an administrator)."""
    return [ImportRead.model_validate(i) for i in service.list_imports(session, actor)]


@router.get("/activity/imports/{import_id:int}", response_model=ImportRead)
def get_import(import_id: int, session: DB, actor: CurrentActor) -> ImportRead:
    """One import with its counts and report."""
    return ImportRead.model_validate(service.get_import(session, actor, import_id))


@router.get("/activity/imports/{import_id:int}/quarantine", response_model=list[QuarantinedRead])
def quarantined_rows(import_id: int, session: DB, actor: CurrentActor) -> list[QuarantinedRead]:
    """The rows the import set aside, in the order of the file, with their errors."""
    return [
        QuarantinedRead.model_validate(q) for q in service.quarantined(session, actor, import_id)
    ]
