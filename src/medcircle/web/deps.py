"""Request dependencies: the database session, the actor, CSRF, locale and paging."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, TypeVar, cast
from urllib.parse import quote

import anyio
import anyio.to_thread
from fastapi import Depends, Query, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from medcircle.audit.batch import AuditWriter, defer_in
from medcircle.audit.service import RequestInfo
from medcircle.auth import service as auth_service
from medcircle.auth.domain import Actor
from medcircle.auth.models import WebSession
from medcircle.auth.security import constant_equals
from medcircle.config import Settings
from medcircle.db import unit_of_work
from medcircle.kit import i18n
from medcircle.kit.errors import DomainError, Forbidden, Unauthenticated
from medcircle.kit.i18n import N_
from medcircle.kit.pagination import PageParams

log = logging.getLogger("medcircle.web")

T = TypeVar("T")

SESSION_COOKIE = "medcircle_session"
LOGIN_CSRF_COOKIE = "medcircle_login_csrf"
LANG_COOKIE = "medcircle_lang"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# threads reserved for ending transactions (see get_db)
FINISHING_THREADS = 16


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


def write_session_factory_of(request: Request) -> sessionmaker[Session]:
    """Sessions that write from their first statement (BEGIN IMMEDIATE on SQLite)."""
    factory: sessionmaker[Session] = request.app.state.write_session_factory
    return factory


def _finishing_limiter(request: Request) -> anyio.CapacityLimiter:
    limiter: anyio.CapacityLimiter | None = getattr(request.app.state, "finishing_limiter", None)
    if limiter is None:
        limiter = anyio.CapacityLimiter(FINISHING_THREADS)
        request.app.state.finishing_limiter = limiter
    return limiter


def _admission_limiter(request: Request) -> anyio.CapacityLimiter:
    limiter: anyio.CapacityLimiter | None = getattr(request.app.state, "admission_limiter", None)
    if limiter is None:
        settings = settings_of(request)
        limiter = anyio.CapacityLimiter(settings.db_pool_size + settings.db_max_overflow)
        request.app.state.admission_limiter = limiter
    return limiter


def _finish(session: Session) -> None:
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _abandon(session: Session) -> None:
    try:
        session.rollback()
    finally:
        session.close()


def _sqlite_writer_turn(request: Request, writes: bool) -> AbstractAsyncContextManager[Any]:
    """On SQLite, a writing request of this process waits for its turn here, in order of
    arrival, instead of in SQLite's busy handler, which polls with growing sleeps (up to
    100 ms a try) and lets a late comer overtake: one write transaction at a time is all
    SQLite allows anyway. Other processes still meet at the database's lock."""
    if not writes or request.app.state.engine.dialect.name != "sqlite":
        return nullcontext()
    turn: anyio.Lock | None = getattr(request.app.state, "sqlite_writer_turn", None)
    if turn is None:
        turn = request.app.state.sqlite_writer_turn = anyio.Lock()
    return turn


async def _settle(
    request: Request,
    writer: AuditWriter | None,
    reads_audited: list[dict[str, Any]] | None,
    touch: Callable[[Session], None] | None,
) -> None:
    """After a request's transaction: its read audit events committed by the audit writer
    (the answer waits for them: nothing is shown without a trace), then the caller's activity
    recorded when due."""
    with anyio.CancelScope(shield=True):
        if reads_audited and writer is not None:
            await asyncio.wrap_future(writer.submit(reads_audited))
        if touch is not None:
            await anyio.to_thread.run_sync(
                _touch, request, touch, limiter=_finishing_limiter(request)
            )


async def get_db(request: Request) -> AsyncIterator[Session]:
    """One session per request; committed once at the end, rolled back on any error.

    No more requests hold a session than the pool has connections (the others wait here,
    holding no thread), and commit and close run on threads of their own: a request that
    holds a connection must never wait for a thread that is itself waiting for a connection,
    or the process stalls under load."""
    finishing = _finishing_limiter(request)
    async with _admission_limiter(request):
        writes = request.method in UNSAFE_METHODS
        factory = write_session_factory_of(request) if writes else session_factory_of(request)
        writer: AuditWriter | None = getattr(request.app.state, "audit_writer", None)
        async with _sqlite_writer_turn(request, writes):
            session = factory()
            # a reading request's audit events are committed by the audit writer, in a batch
            reads_audited = defer_in(session) if writer is not None and not writes else None
            try:
                yield session
            except BaseException:
                with anyio.CancelScope(shield=True):  # a cancelled request still ends its work
                    await anyio.to_thread.run_sync(_abandon, session, limiter=finishing)
                raise
            # one thread hop ends the transaction and returns the connection
            await anyio.to_thread.run_sync(_finish, session, limiter=finishing)
        # activity is recorded after the request's own transaction has ended, on the same
        # admission slot, so it never needs a second connection at the same time
        await _settle(request, writer, reads_audited, getattr(request.state, "touch", None))


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


@dataclass
class _Resolved:
    actor: Actor | None = None
    web_session: WebSession | None = None
    expired: bool = False
    demo: bool = False
    touch: Callable[[Session], None] | None = None


def _resolve(request: Request, session: Session) -> _Resolved:
    """The blocking part of finding the actor (database reads), run on a worker thread."""
    settings = settings_of(request)
    info = request_info(request)
    out = _Resolved()
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        found_token = auth_service.resolve_api_actor(session, auth[7:].strip(), ip=info.ip)
        if found_token is None:
            raise Unauthenticated(
                N_("The API token is invalid, expired or revoked."), code="invalid_token"
            )
        out.actor = found_token.actor
        if auth_service.needs_touch(found_token.last_used_at):
            token_id = found_token.token_id
            out.touch = lambda s: auth_service.touch_api_token(s, token_id)
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        raw = unsign_cookie(settings, cookie, settings.session_max_hours * 3600) if cookie else None
        out.expired = bool(cookie) and raw is None
        if raw:
            found = auth_service.resolve_web_session(
                session, raw, idle=timedelta(minutes=settings.session_idle_minutes)
            )
            if found.web_session and found.user:
                out.actor = auth_service.actor_for(session, found.user, ip=info.ip)
                out.web_session = found.web_session
                if auth_service.needs_touch(found.web_session.last_seen_at):
                    ws_id = found.web_session.id
                    out.touch = lambda s: auth_service.touch_web_session(s, ws_id)
            out.expired = found.expired
    if not request.url.path.startswith("/api/"):
        out.demo = demo_flag(request, session)
    return out


def _touch(request: Request, touch: Callable[[Session], None]) -> None:
    """Record activity in a short write transaction of its own; a busy database only means
    the next request records it instead."""
    try:
        with unit_of_work(write_session_factory_of(request)) as s:
            touch(s)
    except OperationalError:
        log.info("activity not recorded: the database is busy")


def _apply(request: Request, resolved: _Resolved) -> Actor | None:
    """Keep what was found about the caller on the request; the page language follows."""
    request.state.session_expired = resolved.expired
    request.state.demo = resolved.demo
    if resolved.web_session is not None:
        request.state.web_session = resolved.web_session
        request.state.csrf_token = resolved.web_session.csrf_token
    request.state.touch = resolved.touch
    request.state.actor = resolved.actor
    request.state.actor_resolved = True
    i18n.set_locale(choose_locale(request, resolved.actor))
    return resolved.actor


def _read(
    request: Request, session: Session, work: Callable[[Session, Actor], T]
) -> tuple[_Resolved, T | None, BaseException | None]:
    resolved = _Resolved()
    try:
        resolved = _resolve(request, session)
        if resolved.actor is None:
            raise SessionExpired() if resolved.expired else Unauthenticated()
        i18n.set_locale(choose_locale(request, resolved.actor))
        result = work(session, resolved.actor)
        session.commit()  # ends the read transaction
        return resolved, result, None
    except Exception as exc:
        session.rollback()
        return resolved, None, exc
    finally:
        session.close()


def loop_session_factory_of(request: Request) -> sessionmaker[Session] | None:
    factory: sessionmaker[Session] | None = getattr(request.app.state, "loop_session_factory", None)
    return factory


async def credentials_present(request: Request) -> None:
    """A route on :func:`hot_read` declares this dependency so that a request without any
    credentials is answered 401 before its parameters are judged, as on every other route
    (the credentials themselves are checked by ``hot_read``)."""
    auth = request.headers.get("authorization", "")
    if not auth.lower().startswith("bearer ") and not request.cookies.get(SESSION_COOKIE):
        raise Unauthenticated()


async def hot_read(request: Request, work: Callable[[Session, Actor], T]) -> T:
    """A reading API call on the leanest path, for the hottest reads (worklists):
    ``work(session, actor)`` must only read, and a bounded amount (one indexed page).

    - On SQLite the event loop runs it itself, on its own connection: in WAL mode a read
      never waits for a lock, and a page takes about a millisecond, less than handing it to a
      worker thread and back costs under load.
    - Elsewhere one hand-off to a worker thread finds the caller, does the work and ends the
      transaction (the ``DB`` and ``CurrentActor`` dependencies take three).

    Either way the read's audit events are committed by the audit writer before the answer
    leaves, as with ``DB``."""
    if request.method in UNSAFE_METHODS:
        raise RuntimeError("hot_read is for reading requests")
    writer: AuditWriter | None = getattr(request.app.state, "audit_writer", None)
    on_loop = loop_session_factory_of(request)
    if on_loop is not None:
        session = on_loop()
        reads_audited = defer_in(session) if writer is not None else None
        resolved, result, error = _read(request, session, work)
    else:
        async with _admission_limiter(request):
            session = session_factory_of(request)()
            reads_audited = defer_in(session) if writer is not None else None
            resolved, result, error = await anyio.to_thread.run_sync(_read, request, session, work)
    _apply(request, resolved)
    if error is not None:
        raise error
    await _settle(request, writer, reads_audited, resolved.touch)
    return cast(T, result)


async def optional_actor(request: Request, session: DB) -> Actor | None:
    """The actor from a bearer token or the session cookie (checking CSRF on unsafe cookie
    requests); None when nobody is logged in."""
    if hasattr(request.state, "actor_resolved"):
        return request.state.actor  # type: ignore[no-any-return]
    # database work runs on a worker thread: the event loop must never wait for a connection
    resolved = await anyio.to_thread.run_sync(_resolve, request, session)
    actor = _apply(request, resolved)
    web_session = resolved.web_session
    if web_session is not None and request.method in UNSAFE_METHODS:
        sent = await _csrf_value(request)
        if not sent or not constant_equals(sent, web_session.csrf_token):
            raise CsrfFailed()
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


async def page_params(
    request: Request,
    page: Annotated[int, Query(ge=1, le=100000, description="1-based page number")] = 1,
    size: Annotated[int | None, Query(ge=1, le=500, description="items per page")] = None,
) -> PageParams:
    settings = settings_of(request)
    return PageParams(
        page=page, size=min(size or settings.page_size_default, settings.page_size_max)
    )


Paging = Annotated[PageParams, Depends(page_params)]
