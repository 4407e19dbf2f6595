"""The inbox page: one's own messages in one's own language, opening them, marking them read."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response

from medcircle.kit.i18n import N_, gettext
from medcircle.notifications import service
from medcircle.web.deps import DB, PageActor, Paging
from medcircle.web.routing import QuickRouter
from medcircle.web.templating import render

router = QuickRouter()

ALL_READ = N_("Every message is marked read.")
SHOWS = ("all", "unread")


def _safe_next(target: str | None) -> str | None:
    """A path on this site to go on to (never another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


def _inbox_url(show: str = "all", page: int = 1, **extra: str) -> str:
    query: dict[str, str] = {}
    if show != "all":
        query["show"] = show
    if page > 1:
        query["page"] = str(page)
    query.update(extra)
    return "/inbox" + ("?" + urlencode(query) if query else "")


@router.get("/inbox")
def inbox_page(request: Request, session: DB, actor: PageActor, paging: Paging) -> Response:
    show = request.query_params.get("show", "all")
    if show not in SHOWS:
        show = "all"
    rows, total = service.inbox(session, actor, paging, unread=True if show == "unread" else None)
    unread = service.unread_count(session, actor.user_id)
    flash = gettext(ALL_READ) if request.query_params.get("all_read") else None
    return render(
        request,
        "notifications/inbox.html",
        {
            "rows": [(n, service.message_text(n)) for n in rows],
            "total": total,
            "page": paging.page,
            "pages": max(1, -(-total // paging.size)),
            "base": _inbox_url(show),
            "show": show,
            "unread_count": unread,
            "flash": flash,
        },
    )


@router.post("/inbox/{notification_id:int}/read")
def mark_read_submit(
    session: DB,
    actor: PageActor,
    notification_id: int,
    open_link: Annotated[bool, Form(alias="open")] = False,
    show: Annotated[str, Form()] = "all",
    page: Annotated[int, Form(ge=1, le=100000)] = 1,
) -> Response:
    """Mark one message read, then open what it is about (with ``open``) or go back to the
    inbox where the reader was."""
    note = service.mark_read(session, actor, notification_id)
    target = _safe_next(note.link) if open_link else None
    back = _inbox_url(show if show in SHOWS else "all", page)
    return RedirectResponse(target or back, status_code=303)


@router.post("/inbox/read-all")
def mark_all_read_submit(
    session: DB, actor: PageActor, show: Annotated[str, Form()] = "all"
) -> Response:
    service.mark_all_read(session, actor)
    return RedirectResponse(_inbox_url(show if show in SHOWS else "all", all_read="1"), 303)
