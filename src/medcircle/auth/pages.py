"""Pages of accounts: log in and out, the account page with language, password and tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from medcircle.auth import service
from medcircle.auth.domain import LockoutPolicy
from medcircle.auth.security import constant_equals, new_token
from medcircle.kit.errors import DomainError
from medcircle.kit.i18n import N_, gettext
from medcircle.web.deps import (
    DB,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    CsrfFailed,
    OptionalActor,
    PageActor,
    request_info,
    settings_of,
    sign_cookie,
    unsign_cookie,
)
from medcircle.web.pages import safe_next
from medcircle.web.templating import render

router = APIRouter()


def _login_form(
    request: Request,
    *,
    next: str,
    error: str | None = None,
    username: str = "",
    status_code: int = 200,
    notice: str | None = None,
) -> Response:
    settings = settings_of(request)
    token = new_token()
    response = render(
        request,
        "auth/login.html",
        {"next": next, "error": error, "username": username, "login_csrf": token, "notice": notice},
        status_code=status_code,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        sign_cookie(settings, token),
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=settings.cookie_secure,
    )
    return response


@router.get("/login")
def login_page(
    request: Request, actor: OptionalActor, next: str = "/", expired: int = 0
) -> Response:
    if actor is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    notice = gettext(N_("Your session has expired. Please log in again.")) if expired else None
    return _login_form(request, next=safe_next(next), notice=notice)


@router.post("/login")
def login_submit(
    request: Request,
    session: DB,
    username: Annotated[str, Form(max_length=256)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    csrf_token: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    settings = settings_of(request)
    target = safe_next(next)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE)
    expected = unsign_cookie(settings, cookie, 3600) if cookie else None
    if not expected or not csrf_token or not constant_equals(expected, csrf_token):
        return _login_form(
            request,
            next=target,
            username=username,
            status_code=403,
            error=gettext(CsrfFailed.title),
        )
    if not username.strip() or not password:
        return _login_form(
            request,
            next=target,
            username=username,
            status_code=422,
            error=gettext(N_("Enter your user name and password.")),
        )
    policy = LockoutPolicy(
        attempts=settings.lockout_attempts,
        window=timedelta(minutes=settings.lockout_window_minutes),
    )
    result = service.attempt_login(
        session, username, password, policy=policy, info=request_info(request)
    )
    if result.error is not None or result.user is None:
        session.commit()  # the attempt and its audit event stay, whatever the outcome
        err: DomainError = result.error  # type: ignore[assignment]
        return _login_form(
            request, next=target, username=username, status_code=err.status, error=err.text()
        )
    raw, _ws = service.start_web_session(
        session,
        result.user,
        max_age=timedelta(hours=settings.session_max_hours),
        ip=request_info(request).ip,
    )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        sign_cookie(settings, raw),
        max_age=settings.session_max_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
def logout(request: Request, session: DB, actor: PageActor) -> Response:
    ws = getattr(request.state, "web_session", None)
    if ws is not None:
        service.end_web_session(session, actor, ws)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def _account(
    request: Request, session: DB, actor: PageActor, status_code: int = 200, **extra: object
) -> Response:
    tokens = service.list_api_tokens(session, actor)
    user = service.get_user(session, actor, actor.user_id)
    return render(
        request,
        "auth/account.html",
        {"user": user, "tokens": tokens, **extra},
        status_code=status_code,
    )


@router.get("/account")
def account_page(request: Request, session: DB, actor: PageActor) -> Response:
    return _account(request, session, actor)


@router.post("/account/password")
def account_password(
    request: Request,
    session: DB,
    actor: PageActor,
    current_password: Annotated[str, Form(max_length=256)] = "",
    new_password: Annotated[str, Form(max_length=256)] = "",
    confirm_password: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    errors: dict[str, list[str]] = {}
    if new_password != confirm_password:
        errors["confirm_password"] = [gettext(N_("The two new passwords differ."))]
    else:
        try:
            service.change_password(session, actor, current_password, new_password)
        except DomainError as exc:
            for fe in exc.field_errors:
                errors.setdefault(fe.field, []).append(fe.text())
    if errors:
        session.rollback()
        return _account(request, session, actor, errors=errors, status_code=422)
    return _account(request, session, actor, flash=gettext(N_("Your password has been changed.")))


@router.post("/account/tokens")
def account_token_create(
    request: Request,
    session: DB,
    actor: PageActor,
    name: Annotated[str, Form(max_length=100)] = "",
    expires_in_days: Annotated[int, Form(ge=1, le=730)] = 90,
) -> Response:
    if not name.strip():
        return _account(
            request,
            session,
            actor,
            status_code=422,
            errors={"name": [gettext(N_("Give the token a name."))]},
        )
    raw, tok = service.create_api_token(session, actor, name, expires_in_days)
    return _account(
        request,
        session,
        actor,
        new_token=raw,
        new_token_name=tok.name,
        flash=gettext(N_("Token created. Copy it now: it will not be shown again.")),
    )


@router.post("/account/tokens/{token_id}/revoke")
def account_token_revoke(
    request: Request, session: DB, actor: PageActor, token_id: int
) -> Response:
    service.revoke_api_token(session, actor, token_id)
    return RedirectResponse("/account", status_code=303)
