"""Writing and reading the audit trail."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from medcircle.audit import repository
from medcircle.audit.batch import deferred_rows
from medcircle.audit.domain import Outcome, scrub
from medcircle.audit.models import AuditEvent
from medcircle.auth.domain import Actor, Permission
from medcircle.kit import clock
from medcircle.kit.errors import Forbidden
from medcircle.kit.pagination import PageParams


@dataclass(frozen=True)
class RequestInfo:
    """Where a request came from, for the trail."""

    ip: str | None = None
    user_agent: str | None = None


def record(
    session: Session,
    actor: Actor | None,
    action: str,
    *,
    object_type: str | None = None,
    object_id: object = None,
    outcome: Outcome = Outcome.SUCCESS,
    detail: dict[str, Any] | None = None,
    username: str | None = None,
    info: RequestInfo | None = None,
) -> AuditEvent | None:
    """Append one event in the caller's transaction; secrets and ID numbers are scrubbed.

    In a reading request the event is collected instead and committed by the process's
    audit writer before the answer leaves (see ``medcircle.audit.batch``); then there is no
    event to return yet."""
    values: dict[str, Any] = {
        "occurred_at": clock.now(),
        "actor_user_id": actor.user_id if actor else None,
        "actor_username": (actor.username if actor else username),
        "actor_institution_id": actor.institution_id if actor else None,
        "action": action,
        "object_type": object_type,
        "object_id": None if object_id is None else str(object_id),
        "outcome": outcome.value,
        "ip": (info.ip if info else (actor.ip if actor else None)),
        "user_agent": (info.user_agent[:255] if info and info.user_agent else None),
        "detail": scrub(detail or {}),
    }
    deferred = deferred_rows(session)
    if deferred is not None:
        deferred.append(values)
        return None
    event = AuditEvent(**values)
    session.add(event)
    session.flush()
    return event


def record_separately(
    factory: sessionmaker[Session],
    actor: Actor | None,
    action: str,
    **kwargs: Any,
) -> None:
    """Append an event in its own transaction: for failures whose own transaction rolls back."""
    with factory() as session:
        record(session, actor, action, **kwargs)
        session.commit()


def _require(actor: Actor) -> None:
    if not actor.can(Permission.AUDIT_READ):
        raise Forbidden()


def list_events(
    session: Session, actor: Actor, f: repository.AuditFilter, page: PageParams
) -> tuple[Sequence[AuditEvent], int]:
    """A page of the trail, newest first (auditors and platform admins only)."""
    _require(actor)
    return repository.list_events(session, f, page)


CSV_COLUMNS = (
    "id",
    "occurred_at",
    "actor_username",
    "actor_user_id",
    "actor_institution_id",
    "action",
    "object_type",
    "object_id",
    "outcome",
    "ip",
    "user_agent",
    "detail",
)


def safe_cells(*values: object) -> list[str]:
    """Cells for a spreadsheet: text that starts like a formula is quoted so it stays text."""
    out = []
    for v in values:
        text = "" if v is None else str(v)
        out.append("'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text)
    return out


def export_csv(session: Session, actor: Actor, f: repository.AuditFilter) -> Iterator[str]:
    """The matching trail as CSV text chunks (UTF-8 with BOM so spreadsheets read Chinese)."""
    _require(actor)
    wanted = {k: str(v) for k, v in vars(f).items() if v}
    record(session, actor, "audit.export", detail={"filter": wanted})
    buf = io.StringIO()
    writer = csv.writer(buf)
    buf.write("\ufeff")
    writer.writerow(CSV_COLUMNS)
    for n, e in enumerate(repository.iter_events(session, f), start=1):
        writer.writerow(
            safe_cells(
                e.id,
                e.occurred_at.isoformat(),
                e.actor_username,
                e.actor_user_id,
                e.actor_institution_id,
                e.action,
                e.object_type,
                e.object_id,
                e.outcome,
                e.ip,
                e.user_agent,
                json.dumps(e.detail, ensure_ascii=False, sort_keys=True),
            )
        )
        if n % 500 == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()
