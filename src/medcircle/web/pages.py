"""Pages shared by every role: the home page and the language switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response

from medcircle.auth import service as auth_service
from medcircle.kit import i18n
from medcircle.web import home
from medcircle.web.deps import DB, LANG_COOKIE, OptionalActor, PageActor
from medcircle.web.routing import QuickRouter
from medcircle.web.templating import render

router = QuickRouter()


def safe_next(target: str | None) -> str:
    """Only same-site paths are followed after a form (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/")
def home_page(request: Request, session: DB, actor: PageActor) -> Response:
    return render(request, "home.html", {"cards": home.attention(session, actor)})


@router.post("/locale")
def switch_locale(
    request: Request,
    session: DB,
    actor: OptionalActor,
    locale: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    chosen = i18n.normalise_locale(locale) or i18n.DEFAULT_LOCALE
    if actor is not None:
        auth_service.set_locale(session, actor, chosen)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(LANG_COOKIE, chosen, max_age=365 * 86400, samesite="lax", httponly=True)
    return response
