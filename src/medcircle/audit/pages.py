"""Pages of the audit trail."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from medcircle.audit import service
from medcircle.audit.domain import Outcome
from medcircle.audit.router import Filter, csv_response
from medcircle.web.deps import DB, PageActor, Paging
from medcircle.web.templating import render

router = APIRouter()


@router.get("/audit")
def audit_page(
    request: Request, session: DB, actor: PageActor, paging: Paging, f: Filter
) -> Response:
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
        },
    )


@router.get("/audit.csv")
def audit_export(session: DB, actor: PageActor, f: Filter) -> Response:
    return csv_response(session, actor, f)
