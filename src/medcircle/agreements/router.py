"""JSON API of agreements: framework agreements, pairings, goals and attached documents."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import Depends, File, Query, Request, UploadFile, status
from fastapi.responses import FileResponse

from medcircle.agreements import service
from medcircle.agreements.domain import AgreementKind, AgreementStatus, add_months
from medcircle.agreements.models import AgreementDocument, FrameworkAgreement
from medcircle.agreements.repository import AgreementFilter
from medcircle.agreements.schemas import (
    AgreementCreate,
    AgreementRead,
    AgreementSaved,
    AgreementTerminate,
    AgreementUpdate,
    DocumentRead,
    FrameworkCreate,
    FrameworkRead,
    FrameworkUpdate,
    GoalCreate,
    GoalRead,
    GoalUpdate,
    InstitutionRef,
    Message,
    OverdueGoalRead,
    SpecialtyRef,
)
from medcircle.kit import clock
from medcircle.kit.i18n import gettext
from medcircle.kit.pagination import Page
from medcircle.web.deps import DB, CurrentActor, Paging, settings_of
from medcircle.web.routing import QuickRouter

router = QuickRouter(prefix="/api/v1", tags=["agreements"])

StatusChoice = Literal["upcoming", "active", "ended", "terminated", "all"]


async def agreement_filter(
    active_on: Annotated[
        date | None, Query(description="the date statuses are judged on (default today)")
    ] = None,
    status: Annotated[
        StatusChoice, Query(description="status on that date; 'all' for every status")
    ] = "active",
    kind: AgreementKind | None = None,
    institution_id: Annotated[int | None, Query(description="either party")] = None,
    specialty: Annotated[str | None, Query(max_length=32)] = None,
    framework_id: int | None = None,
    ending_within_months: Annotated[
        int | None, Query(ge=1, le=120, description="running and ending within N months")
    ] = None,
    has_overdue_goals: bool | None = None,
    q: Annotated[str | None, Query(max_length=100, description="code or title")] = None,
) -> AgreementFilter:
    on = active_on or clock.today()
    service.check_dates(active_on=on)
    return AgreementFilter(
        on=on,
        status=None if status == "all" else AgreementStatus(status),
        kind=kind.value if kind else None,
        institution_id=institution_id,
        specialty=specialty or None,
        framework_id=framework_id,
        ends_before=add_months(on, ending_within_months) if ending_within_months else None,
        has_overdue_goals=has_overdue_goals,
        q=(q or "").strip() or None,
    )


Filter = Annotated[AgreementFilter, Depends(agreement_filter)]


def store_of(request: Request) -> service.DocumentStore:
    return service.DocumentStore(settings_of(request).data_dir / "documents")


Store = Annotated[service.DocumentStore, Depends(store_of)]


def framework_read(fw: FrameworkAgreement, count: int) -> FrameworkRead:
    return FrameworkRead.model_validate(fw).model_copy(update={"agreement_count": count})


def agreement_read(view: service.AgreementView) -> AgreementRead:
    a = view.agreement
    return AgreementRead(
        id=a.id,
        code=a.code,
        framework_id=a.framework_id,
        kind=AgreementKind(a.kind),
        supporting_institution=InstitutionRef.model_validate(view.supporting),
        supported_institution=InstitutionRef.model_validate(view.supported),
        title_zh=a.title_zh,
        title_en=a.title_en,
        signed_on=a.signed_on,
        starts_on=a.starts_on,
        ends_on=a.ends_on,
        terminated_on=a.terminated_on,
        status=view.status,
        ends_soon=view.ends_soon,
        overdue_goals=view.overdue_goals,
        specialties=[SpecialtyRef.model_validate(s) for s in view.specialties],
        licensed_name_zh=a.licensed_name_zh,
        licensed_name_en=a.licensed_name_en,
        notes=a.notes,
        created_at=a.created_at,
        updated_at=a.updated_at,
        version=a.version,
    )


def agreement_saved(view: service.AgreementView) -> AgreementSaved:
    return AgreementSaved(
        **agreement_read(view).model_dump(),
        warnings=[
            Message(field=w.field, code=w.code, message=gettext(w.message, **w.params_dict))
            for w in view.warnings
        ],
    )


def goal_read(view: service.GoalView) -> GoalRead:
    return GoalRead.model_validate(view.goal).model_copy(update={"overdue": view.overdue})


def document_read(doc: AgreementDocument) -> DocumentRead:
    return DocumentRead.model_validate(doc).model_copy(
        update={"download_url": f"/api/v1/documents/{doc.id}"}
    )


# --- framework agreements -----------------------------------------------------------------


@router.get("/framework-agreements", response_model=Page[FrameworkRead])
def list_frameworks(session: DB, actor: CurrentActor, paging: Paging) -> Page[FrameworkRead]:
    """Framework agreements between governments, newest first."""
    rows, total, counts = service.list_frameworks(session, actor, paging)
    return Page(
        items=[framework_read(r, counts.get(r.id, 0)) for r in rows],
        total=total,
        page=paging.page,
        size=paging.size,
    )


@router.post(
    "/framework-agreements", response_model=FrameworkRead, status_code=status.HTTP_201_CREATED
)
def create_framework(body: FrameworkCreate, session: DB, actor: CurrentActor) -> FrameworkRead:
    """Record a framework agreement (commission analysts, platform admins)."""
    return framework_read(service.create_framework(session, actor, body), 0)


@router.get("/framework-agreements/{framework_id}", response_model=FrameworkRead)
def read_framework(framework_id: int, session: DB, actor: CurrentActor) -> FrameworkRead:
    fw = service.get_framework(session, actor, framework_id)
    return framework_read(fw, service.framework_agreement_count(session, fw.id))


@router.patch("/framework-agreements/{framework_id}", response_model=FrameworkRead)
def update_framework(
    framework_id: int, body: FrameworkUpdate, session: DB, actor: CurrentActor
) -> FrameworkRead:
    """Change a framework agreement; send the version you read (409 if it changed since)."""
    fw = service.update_framework(session, actor, framework_id, body)
    return framework_read(fw, service.framework_agreement_count(session, fw.id))


# --- cooperation agreements ---------------------------------------------------------------


@router.get("/agreements", response_model=Page[AgreementRead])
def list_agreements(
    session: DB, actor: CurrentActor, paging: Paging, f: Filter
) -> Page[AgreementRead]:
    """Pairings you may read; by default those active today. Each row has its status on the
    date, an ends-soon flag (within six months) and its count of overdue goals."""
    views, total = service.list_agreements(session, actor, f, paging)
    return Page(
        items=[agreement_read(v) for v in views], total=total, page=paging.page, size=paging.size
    )


@router.post("/agreements", response_model=AgreementSaved, status_code=status.HTTP_201_CREATED)
def create_agreement(body: AgreementCreate, session: DB, actor: CurrentActor) -> AgreementSaved:
    """Record a pairing. Institutions by id or code; unusual terms come back as `warnings`."""
    return agreement_saved(service.create_agreement(session, actor, body))


@router.get("/agreements/{agreement_id}", response_model=AgreementRead)
def read_agreement(
    agreement_id: int,
    session: DB,
    actor: CurrentActor,
    on: Annotated[date | None, Query(description="judge the status on (default today)")] = None,
) -> AgreementRead:
    return agreement_read(service.get_agreement(session, actor, agreement_id, on))


@router.patch("/agreements/{agreement_id}", response_model=AgreementSaved)
def update_agreement(
    agreement_id: int, body: AgreementUpdate, session: DB, actor: CurrentActor
) -> AgreementSaved:
    """Change a pairing; send the version you read (409 `stale_version` if it changed)."""
    return agreement_saved(service.update_agreement(session, actor, agreement_id, body))


@router.post("/agreements/{agreement_id}/terminate", response_model=AgreementRead)
def terminate_agreement(
    agreement_id: int, body: AgreementTerminate, session: DB, actor: CurrentActor
) -> AgreementRead:
    """End a pairing early, with the date and the reason."""
    return agreement_read(service.terminate_agreement(session, actor, agreement_id, body))


# --- goals --------------------------------------------------------------------------------


@router.get("/agreements/{agreement_id}/goals", response_model=list[GoalRead])
def list_goals(agreement_id: int, session: DB, actor: CurrentActor) -> list[GoalRead]:
    """The goals of a pairing by due date."""
    return [goal_read(v) for v in service.list_goals(session, actor, agreement_id)]


@router.post(
    "/agreements/{agreement_id}/goals",
    response_model=GoalRead,
    status_code=status.HTTP_201_CREATED,
)
def add_goal(agreement_id: int, body: GoalCreate, session: DB, actor: CurrentActor) -> GoalRead:
    return goal_read(service.add_goal(session, actor, agreement_id, body))


@router.get("/goals/overdue", response_model=Page[OverdueGoalRead])
def list_overdue_goals(
    session: DB,
    actor: CurrentActor,
    paging: Paging,
    on: Annotated[date | None, Query(description="overdue on this date (default today)")] = None,
) -> Page[OverdueGoalRead]:
    """Open goals past their due date on running pairings, most overdue first."""
    views, total = service.list_overdue_goals(session, actor, paging, on)
    items = []
    for v in views:
        assert v.agreement is not None
        items.append(
            OverdueGoalRead(
                **goal_read(v).model_dump(),
                agreement_code=v.agreement.code,
                agreement_title_zh=v.agreement.title_zh,
                agreement_title_en=v.agreement.title_en,
                days_overdue=v.days_overdue,
            )
        )
    return Page(items=items, total=total, page=paging.page, size=paging.size)


@router.patch("/goals/{goal_id}", response_model=GoalRead)
def update_goal(goal_id: int, body: GoalUpdate, session: DB, actor: CurrentActor) -> GoalRead:
    """Record progress: status, note, date achieved."""
    return goal_read(service.update_goal(session, actor, goal_id, body))


# --- documents ----------------------------------------------------------------------------


@router.get("/agreements/{agreement_id}/documents", response_model=list[DocumentRead])
def list_documents(agreement_id: int, session: DB, actor: CurrentActor) -> list[DocumentRead]:
    return [document_read(d) for d in service.list_documents(session, actor, agreement_id)]


@router.post(
    "/agreements/{agreement_id}/documents",
    response_model=DocumentRead,
    status_code=status.HTTP_201_CREATED,
)
def upload_document(
    agreement_id: int,
    request: Request,
    session: DB,
    actor: CurrentActor,
    store: Store,
    file: Annotated[UploadFile, File(description="PDF, PNG, JPEG, DOCX, XLSX, ODT or text")],
) -> DocumentRead:
    """Attach a file (multipart form field `file`); the type is judged by its content."""
    doc = service.upload_document(
        session,
        actor,
        agreement_id,
        filename=file.filename or "",
        source=file.file,
        store=store,
        max_bytes=settings_of(request).max_upload_bytes,
    )
    return document_read(doc)


@router.get("/documents/{document_id}", response_class=FileResponse)
def download_document(
    document_id: int, session: DB, actor: CurrentActor, store: Store
) -> FileResponse:
    """The file, as an attachment, for those who may read its agreement."""
    doc, path = service.open_document(session, actor, document_id, store)
    return download_response(doc, path)


def download_response(doc: AgreementDocument, path: object) -> FileResponse:
    return FileResponse(
        str(path),
        media_type=doc.content_type,
        filename=doc.filename,
        content_disposition_type="attachment",
        headers={"Cache-Control": "private, no-store"},
    )
