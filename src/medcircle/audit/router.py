"""JSON API of the audit trail (auditors and platform admins)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Query
from fastapi.responses import StreamingResponse

from medcircle.audit import service
from medcircle.audit.domain import Outcome
from medcircle.audit.repository import AuditFilter
from medcircle.audit.schemas import AuditEventRead
from medcircle.auth.domain import Actor
from medcircle.kit.clock import CST
from medcircle.kit.errors import FieldError, ValidationFailed
from medcircle.kit.i18n import N_
from medcircle.kit.pagination import Page
from medcircle.web.deps import DB, CurrentActor, Paging
from medcircle.web.routing import QuickRouter

router = QuickRouter(prefix="/api/v1", tags=["audit"])


async def audit_filter(
    actor: Annotated[str | None, Query(max_length=64, description="user name")] = None,
    action: Annotated[str | None, Query(max_length=64, description="action or its prefix")] = None,
    object_type: Annotated[str | None, Query(max_length=64)] = None,
    object_id: Annotated[str | None, Query(max_length=64)] = None,
    outcome: Outcome | None = None,
    since: Annotated[
        datetime | None, Query(description="from this time on (Beijing time if no zone)")
    ] = None,
    until: Annotated[datetime | None, Query(description="before this time")] = None,
) -> AuditFilter:
    return AuditFilter(
        actor=actor or None,
        action=action or None,
        object_type=object_type or None,
        object_id=object_id or None,
        outcome=outcome.value if outcome else None,
        since=_time("since", since),
        until=_time("until", until),
    )


TIME_OUT_OF_RANGE = N_("This time is out of range.")


def _time(name: str, value: datetime | None) -> datetime | None:
    try:
        return aware(value)
    except ValueError as exc:
        raise ValidationFailed(field_errors=[FieldError(name, TIME_OUT_OF_RANGE)]) from exc


CHINA_STANDARD_TIME = CST


def aware(value: datetime | None) -> datetime | None:
    """A time typed without a zone ("2026-01-01" or "2026-01-01T08:00") is Beijing time,
    the time the pages show. The result is in UTC; a time that has no UTC equivalent (the
    very first or last hours of the calendar) raises ValueError."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=CHINA_STANDARD_TIME)
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("time out of range") from exc


Filter = Annotated[AuditFilter, Depends(audit_filter)]


@router.get("/audit-events", response_model=Page[AuditEventRead])
def list_events(
    session: DB, actor: CurrentActor, paging: Paging, f: Filter
) -> Page[AuditEventRead]:
    """The audit trail, newest first, filtered."""
    rows, total = service.list_events(session, actor, f, paging)
    return Page(
        items=[AuditEventRead.model_validate(r) for r in rows],
        total=total,
        page=paging.page,
        size=paging.size,
    )


def csv_response(session: DB, actor: Actor, f: AuditFilter) -> StreamingResponse:
    """The export is spooled first, so the transaction ends before the download streams."""
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024, mode="w+b")  # noqa: SIM115
    for chunk in service.export_csv(session, actor, f):
        spool.write(chunk.encode("utf-8"))
    spool.seek(0)

    def stream() -> Iterator[bytes]:
        with spool:
            while block := spool.read(64 * 1024):
                yield block

    return StreamingResponse(
        stream(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit-events.csv"'},
    )


@router.get("/audit-events.csv", response_class=StreamingResponse)
def export_events(session: DB, actor: CurrentActor, f: Filter) -> StreamingResponse:
    """The filtered trail as CSV (UTF-8 with BOM)."""
    return csv_response(session, actor, f)
