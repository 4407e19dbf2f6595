"""Pages of the audit trail."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response

from medcircle.audit import service
from medcircle.audit.domain import Outcome
from medcircle.audit.repository import AuditFilter
from medcircle.audit.router import Filter, aware, csv_response
from medcircle.kit.i18n import N_, gettext
from medcircle.web.deps import DB, PageActor, Paging
from medcircle.web.routing import QuickRouter
from medcircle.web.templating import render

router = QuickRouter()


BAD_TIME = N_("Enter a date such as 2026-01-31, or a date and time such as 2026-01-31T08:00.")


def _page_filter(request: Request) -> tuple[AuditFilter, dict[str, list[str]]]:
    """The filter typed on the page; a value that cannot be read is reported by its field."""
    q = request.query_params
    errors: dict[str, list[str]] = {}
    times: dict[str, datetime | None] = {}
    for name in ("since", "until"):
        raw = (q.get(name) or "").strip()
        try:
            times[name] = aware(datetime.fromisoformat(raw)) if raw else None
        except ValueError:
            times[name] = None
            errors[name] = [gettext(BAD_TIME)]
    outcome = q.get("outcome") or None
    if outcome is not None and outcome not in {o.value for o in Outcome}:
        errors["outcome"] = [gettext(N_("Choose an outcome from the list."))]
        outcome = None
    f = AuditFilter(
        actor=(q.get("actor") or "").strip()[:64] or None,
        action=(q.get("action") or "").strip()[:64] or None,
        object_type=(q.get("object_type") or "").strip()[:64] or None,
        object_id=(q.get("object_id") or "").strip()[:64] or None,
        outcome=outcome,
        since=times["since"],
        until=times["until"],
    )
    return f, errors


@router.get("/audit")
def audit_page(request: Request, session: DB, actor: PageActor, paging: Paging) -> Response:
    f, errors = _page_filter(request)
    rows, total = service.list_events(session, actor, f, paging)
    query = {k: v for k, v in request.query_params.items() if k != "page" and v}
    return render(
        request,
        "audit/list.html",
        {
            "rows": rows,
            "total": total,
            "page": paging.page,
            "pages": max(1, -(-total // paging.size)),
            "f": f,
            "outcomes": list(Outcome),
            "base": "/audit?" + urlencode(query),
            "export": "/audit.csv?" + urlencode(query),
            "errors": errors,
            "typed": request.query_params,
        },
        status_code=422 if errors else 200,
    )


@router.get("/audit.csv")
def audit_export(session: DB, actor: PageActor, f: Filter) -> Response:
    return csv_response(session, actor, f)
