"""Request dependencies: the database session, the actor, CSRF, locale and paging."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Query, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session, sessionmaker

from medcircle.audit.service import RequestInfo
from medcircle.auth import service as auth_service
from medcircle.auth.domain import Actor
from medcircle.auth.security import constant_equals
from medcircle.config import Settings
from medcircle.kit import i18n
from medcircle.kit.errors import DomainError, Forbidden, Unauthenticated
from medcircle.kit.i18n import N_
from medcircle.kit.pagination import PageParams

SESSION_COOKIE = "medcircle_session"
LOGIN_CSRF_COOKIE = "medcircle_login_csrf"
LANG_COOKIE = "medcircle_lang"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class LoginRequired(DomainError):
    """A page needs a logged-in user; the handler redirects to the login page."""

    status = 401
    code = "login_required"
    title = N_("Please log in")


class SessionExpired(LoginRequired):
    code = "session_expired"
    title = N_("Your session has expired. Please log in again.")


class CsrfFailed(Forbidden):
    code = "csrf_failed"
    title = N_(
        "The form has expired or did not come from this site. Please reload the page and try again."
    )


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def session_factory_of(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.session_factory
    return factory


def get_db(request: Request) -> Iterator[Session]:
    """One session per request; committed once at the end, rolled back on any error."""
    session = session_factory_of(request)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# scope="function": commit before the response is sent, so a client that follows a redirect
# sees what the request wrote, and a failed commit is never reported as success
DB = Annotated[Session, Depends(get_db, scope="function")]


def request_info(request: Request) -> RequestInfo:
    client = request.client.host if request.client else None
    return RequestInfo(ip=client, user_agent=request.headers.get("user-agent"))


def cookie_signer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt="medcircle.session")


def sign_cookie(settings: Settings, raw: str) -> str:
    return cookie_signer(settings).dumps(raw)


def unsign_cookie(settings: Settings, value: str, max_age_s: int) -> str | None:
    try:
        raw = cookie_signer(settings).loads(value, max_age=max_age_s)
    except BadSignature:
        return None
    return raw if isinstance(raw, str) else None


async def _csrf_value(request: Request) -> str | None:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    ctype = request.headers.get("content-type", "")
    if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


def choose_locale(request: Request, actor: Actor | None) -> str:
    """The user's choice, else the language cookie, else the browser's, else the default."""
    if actor is not None and actor.locale in i18n.LOCALES:
        return actor.locale
    cookie = i18n.normalise_locale(request.cookies.get(LANG_COOKIE))
    if cookie:
        return cookie
    return (
        i18n.negotiate(request.headers.get("accept-language"))
        or settings_of(request).default_locale
    )


DEMO_FLAG_TTL_S = 60.0


def demo_flag(request: Request, session: Session) -> bool:
    """Whether this deployment holds a demo world (pages then say their records are synthetic).
    Cached per process for a minute: it changes only when an operator loads the demo."""
    from medcircle.demo.service import is_demo

    cached: tuple[float, bool] | None = getattr(request.app.state, "demo_flag", None)
    now = time.monotonic()
    if cached is None or now - cached[0] > DEMO_FLAG_TTL_S:
        cached = (now, is_demo(session))
        request.app.state.demo_flag = cached
    return cached[1]


async def optional_actor(request: Request, session: DB) -> Actor | None:
    """The actor from a bearer token or the session cookie (checking CSRF on unsafe cookie
    requests); None when nobody is logged in."""
    if hasattr(request.state, "actor_resolved"):
        return request.state.actor  # type: ignore[no-any-return]
    settings = settings_of(request)
    info = request_info(request)
    actor: Actor | None = None
    auth = request.headers.get("authorization", "")
    request.state.session_expired = False
    if auth.lower().startswith("bearer "):
        user = auth_service.resolve_api_token(session, auth[7:].strip())
        if user is None:
            raise Unauthenticated(
                N_("The API token is invalid, expired or revoked."), code="invalid_token"
            )
        actor = auth_service.actor_for(session, user, ip=info.ip, via_token=True)
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        raw = unsign_cookie(settings, cookie, settings.session_max_hours * 3600) if cookie else None
        if cookie and raw is None:
            request.state.session_expired = True
        if raw:
            found = auth_service.resolve_web_session(
                session, raw, idle=timedelta(minutes=settings.session_idle_minutes)
            )
            if found.web_session and found.user:
                actor = auth_service.actor_for(session, found.user, ip=info.ip)
                request.state.web_session = found.web_session
                request.state.csrf_token = found.web_session.csrf_token
                if request.method in UNSAFE_METHODS:
                    sent = await _csrf_value(request)
                    if not sent or not constant_equals(sent, found.web_session.csrf_token):
                        request.state.actor = actor
                        raise CsrfFailed()
            elif found.expired:
                request.state.session_expired = True
    request.state.actor = actor
    request.state.actor_resolved = True
    if not request.url.path.startswith("/api/"):
        request.state.demo = demo_flag(request, session)
    i18n.set_locale(choose_locale(request, actor))
    return actor


OptionalActor = Annotated[Actor | None, Depends(optional_actor)]


async def require_actor(request: Request, actor: OptionalActor) -> Actor:
    """API: the authenticated actor, or 401."""
    if actor is None:
        if getattr(request.state, "session_expired", False):
            raise SessionExpired()
        raise Unauthenticated()
    return actor


CurrentActor = Annotated[Actor, Depends(require_actor)]


async def require_page_actor(request: Request, actor: OptionalActor) -> Actor:
    """Pages: the logged-in actor, or a redirect to the login page (see the error handler)."""
    if actor is None:
        if getattr(request.state, "session_expired", False):
            raise SessionExpired()
        raise LoginRequired()
    return actor


PageActor = Annotated[Actor, Depends(require_page_actor)]


def login_url(request: Request, expired: bool = False) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    url = "/login?next=" + quote(target, safe="")
    return url + ("&expired=1" if expired else "")


def page_params(
    request: Request,
    page: Annotated[int, Query(ge=1, le=100000, description="1-based page number")] = 1,
    size: Annotated[int | None, Query(ge=1, le=500, description="items per page")] = None,
) -> PageParams:
    settings = settings_of(request)
    return PageParams(
        page=page, size=min(size or settings.page_size_default, settings.page_size_max)
    )


Paging = Annotated[PageParams, Depends(page_params)]
