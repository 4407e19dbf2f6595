"""Jinja2 templates with the translation catalogue, shared by every domain's pages."""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import object_session

from medcircle.auth.domain import ROLE_LABELS
from medcircle.kit import i18n
from medcircle.kit.clock import CST
from medcircle.notifications.service import unread_count

log = logging.getLogger("medcircle.web")

PACKAGE_DIR = Path(__file__).resolve().parent.parent
TEMPLATE_DIRS = [
    PACKAGE_DIR / "web" / "templates",
    *sorted(p for p in PACKAGE_DIR.glob("*/templates") if p.parent.name != "web"),
]


def _gettext(message: str) -> str:
    text: str = i18n.translations(i18n.get_locale()).ugettext(message)
    return text


def _ngettext(singular: str, plural: str, n: int) -> str:
    text: str = i18n.translations(i18n.get_locale()).ungettext(singular, plural, n)
    return text


def localised(obj: Any, stem: str = "name") -> str:
    """``obj.name_zh`` or ``obj.name_en`` by the current locale (falling back to the other)."""
    zh = getattr(obj, f"{stem}_zh", None) if not isinstance(obj, dict) else obj.get(f"{stem}_zh")
    en = getattr(obj, f"{stem}_en", None) if not isinstance(obj, dict) else obj.get(f"{stem}_en")
    if i18n.get_locale() == "en":
        return str(en or zh or "")
    return str(zh or en or "")


def _fmt_date(value: date | datetime | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        local = value.astimezone(CST)
        return local.strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


def _fmt_number(value: int | float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,}"


def _tr(message: str | None) -> str:
    """Translate a message id held in a variable (labels from domain dictionaries)."""
    return _gettext(message) if message else ""


templates = Jinja2Templates(directory=[str(p) for p in TEMPLATE_DIRS])
env = templates.env
env.add_extension("jinja2.ext.i18n")
env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
env.globals["localised"] = localised
env.globals["tr"] = _tr
env.globals["role_labels"] = ROLE_LABELS
env.globals["LOCALES"] = i18n.LOCALES
env.globals["LOCALE_LABELS"] = i18n.LOCALE_LABELS
env.filters["d"] = _fmt_date
env.filters["n"] = _fmt_number
env.filters["tr"] = _tr


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _unread_count(request: Request) -> int | None:
    """The logged-in reader's unread messages, for the inbox badge of full pages: one COUNT
    on the request's own session (the one that loaded the page session), never a second
    connection. Skipped on the event loop (error pages), where no query may block."""
    actor = getattr(request.state, "actor", None)
    web_session = getattr(request.state, "web_session", None)
    if actor is None or web_session is None or _on_event_loop():
        return None
    session = object_session(web_session)
    if session is None:
        return None
    try:
        return unread_count(session, actor.user_id)
    except SQLAlchemyError:
        log.warning("unread count not shown: the database did not answer", exc_info=True)
        return None


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render a page with the request's actor, locale, CSRF token and demo flag."""
    ctx: dict[str, Any] = {
        "request": request,
        "actor": getattr(request.state, "actor", None),
        "locale": i18n.get_locale(),
        "csrf_token": getattr(request.state, "csrf_token", ""),
        "demo": getattr(request.state, "demo", False),
        "is_htmx": request.headers.get("HX-Request") == "true",
    }
    ctx.update(context or {})
    if "unread_count" not in ctx and not ctx["is_htmx"]:
        ctx["unread_count"] = _unread_count(request)
    return templates.TemplateResponse(
        request, template, ctx, status_code=status_code, headers=headers
    )
