"""Pages of accounts: log in and out, the account page (password, tokens), user administration."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from medcircle.auth import service
from medcircle.auth.domain import (
    Actor,
    LockoutPolicy,
    Permission,
    Role,
    grantable_roles,
    may_grant,
)
from medcircle.auth.models import User
from medcircle.auth.schemas import UserCreate, UserUpdate
from medcircle.auth.security import constant_equals, new_token
from medcircle.kit import i18n
from medcircle.kit.errors import Conflict, DomainError, Forbidden, ValidationFailed
from medcircle.kit.i18n import LOCALES, N_, gettext
from medcircle.web.deps import (
    DB,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    CsrfFailed,
    OptionalActor,
    PageActor,
    Paging,
    choose_locale,
    request_info,
    settings_of,
    sign_cookie,
    unsign_cookie,
)
from medcircle.web.pages import safe_next
from medcircle.web.routing import QuickRouter
from medcircle.web.templating import render

router = QuickRouter()


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
    # nobody is logged in yet: answer in the language cookie's or the browser's language
    i18n.set_locale(choose_locale(request, None))
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
        # a new token is shown once, in this page: no copy of it may stay in a cache
        headers={"Cache-Control": "no-store"},
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
            ws = getattr(request.state, "web_session", None)
            service.change_password(
                session,
                actor,
                current_password,
                new_password,
                keep_session_id=ws.id if ws is not None else None,
            )
        except DomainError as exc:
            if not exc.field_errors:
                raise  # not about the fields: the error page says what went wrong
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
    name: Annotated[str, Form(max_length=1000)] = "",
    expires_in_days: Annotated[str, Form(max_length=20)] = "90",
) -> Response:
    errors: dict[str, list[str]] = {}
    if not name.strip() or len(name.strip()) > 100:
        errors["name"] = [gettext(N_("Give the token a name of at most 100 characters."))]
    days = int(expires_in_days) if expires_in_days.strip().isdecimal() else 0
    if not 1 <= days <= 730:
        errors["expires_in_days"] = [gettext(N_("Enter a number of days from 1 to 730."))]
    if errors:
        return _account(
            request,
            session,
            actor,
            status_code=422,
            errors=errors,
            token_form={"name": name, "expires_in_days": expires_in_days},
        )
    raw, tok = service.create_api_token(session, actor, name, days)
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


# --- user administration: platform admins manage every account, institution admins their own
# institution's. The pages call the same services as the JSON API.

USER_FIELD_MESSAGES: dict[str, str] = {
    "username": N_("Use 3 to 64 characters: letters, digits, dots, dashes or underscores."),
    "display_name": N_("Enter the person's name (at most 128 characters)."),
    "email": N_("Enter a valid email address, or leave it empty."),
    "password": N_("Enter an initial password."),
    "institution_id": N_("Choose an institution."),
    "roles": N_("Choose at least one role."),
}


def _hint(field: str) -> list[str]:
    """The translated message of one user form field."""
    return [gettext(USER_FIELD_MESSAGES[field])]


def _field_errors_of(exc: ValidationError) -> dict[str, list[str]]:
    """Readable, translated messages per form field for a schema violation."""
    errors: dict[str, list[str]] = {}
    for err in exc.errors():
        name = str(err["loc"][0]) if err.get("loc") else "form"
        message = USER_FIELD_MESSAGES.get(name, N_("Check this field."))
        texts = errors.setdefault(name, [])
        if gettext(message) not in texts:
            texts.append(gettext(message))
    return errors


def _domain_errors(exc: DomainError) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for fe in exc.field_errors:
        errors.setdefault(fe.field, []).append(fe.text())
    if not errors:
        errors["form"] = [exc.text()]
    return errors


def _parse_roles(values: list[str]) -> list[Role]:
    """Known roles among the ticked boxes (unknown values are ignored, like a missing box)."""
    known = {r.value for r in Role}
    return [Role(v) for v in dict.fromkeys(values) if v in known]


@router.get("/users")
def users_page(
    request: Request,
    session: DB,
    actor: PageActor,
    paging: Paging,
    q: Annotated[str, Query(max_length=64)] = "",
    institution_id: Annotated[str, Query(max_length=20)] = "",
    status: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    active = {"active": True, "deactivated": False}.get(status)
    rows, total = service.list_users(
        session,
        actor,
        paging,
        q=q.strip() or None,
        institution_id=int(institution_id) if institution_id.isdecimal() else None,
        active=active,
    )
    query = {
        k: v
        for k, v in {"q": q.strip(), "institution_id": institution_id, "status": status}.items()
        if v
    }
    return render(
        request,
        "auth/users.html",
        {
            "rows": rows,
            "roles": service.roles_by_user(session, rows),
            "institutions": service.institutions_of(session, rows),
            "total": total,
            "page": paging.page,
            "pages": max(1, -(-total // paging.size)),
            "q": q,
            "institution_id": institution_id,
            "status": status if active is not None else "",
            "institution_options": (
                service.institution_choices(session, actor)
                if actor.can(Permission.USER_MANAGE_ALL)
                else []
            ),
            "base": "/users" + ("?" + urlencode(query) if query else ""),
            "may_create": bool(grantable_roles(actor)),
        },
    )


def _user_form(
    request: Request,
    session: DB,
    actor: Actor,
    *,
    user: User | None,
    values: dict[str, object],
    errors: dict[str, list[str]] | None = None,
    status_code: int = 200,
    flash: str | None = None,
) -> Response:
    held = set(service.roles_by_user(session, [user])[user.id]) if user else set()
    grantable = {r.value for r in grantable_roles(actor)}
    # roles the actor cannot grant stay visible (and untouchable) on accounts that hold them
    shown = [r for r in Role if r.value in grantable or r.value in held]
    institutions = service.institution_choices(session, actor)
    return render(
        request,
        "auth/user_form.html",
        {
            "user": user,
            "values": values,
            "errors": errors or {},
            "role_options": [(r.value, r.value in grantable) for r in shown],
            "institutions": institutions,
            "institution": (
                service.institutions_of(session, [user]).get(user.institution_id) if user else None
            ),
            "choose_institution": actor.can(Permission.USER_MANAGE_ALL),
            "is_self": user is not None and user.id == actor.user_id,
            # a password may be set only on accounts whose every role the actor may grant
            "may_reset_password": (
                user is not None
                and user.id != actor.user_id
                and may_grant(actor, {Role(r) for r in held}, user.institution_id)
            ),
            "flash": flash,
            "flash_kind": "ok",
        },
        status_code=status_code,
    )


@router.get("/users/new")
def user_new_page(request: Request, session: DB, actor: PageActor) -> Response:
    if not grantable_roles(actor):
        raise Forbidden()
    values: dict[str, object] = {
        "institution_id": actor.institution_id,
        "roles": [],
        "locale": actor.locale,
    }
    return _user_form(request, session, actor, user=None, values=values)


@router.post("/users/new")
def user_create(
    request: Request,
    session: DB,
    actor: PageActor,
    username: Annotated[str, Form(max_length=256)] = "",
    display_name: Annotated[str, Form(max_length=512)] = "",
    email: Annotated[str, Form(max_length=512)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    institution_id: Annotated[str, Form(max_length=20)] = "",
    roles: Annotated[list[str] | None, Form()] = None,
    locale: Annotated[str, Form(max_length=16)] = "zh_Hans",
) -> Response:
    if not grantable_roles(actor):
        raise Forbidden()
    if not actor.can(Permission.USER_MANAGE_ALL):
        institution_id = str(actor.institution_id)
    chosen = _parse_roles(roles or [])
    values: dict[str, object] = {
        "username": username.strip(),
        "display_name": display_name.strip(),
        "email": email.strip(),
        "institution_id": institution_id,
        "roles": [r.value for r in chosen],
        "locale": locale,
    }
    try:
        data = UserCreate(
            username=username.strip(),
            display_name=display_name.strip(),
            email=email.strip() or None,
            password=password,
            institution_id=int(institution_id) if institution_id.isdecimal() else 0,
            roles=chosen,
            locale=locale if locale in LOCALES else "zh_Hans",
        )
    except ValidationError as exc:
        errors = _field_errors_of(exc)
        if not institution_id.isdecimal():
            errors["institution_id"] = _hint("institution_id")
        return _user_form(
            request, session, actor, user=None, values=values, errors=errors, status_code=422
        )
    if data.institution_id == 0:
        errors = {"institution_id": _hint("institution_id")}
        return _user_form(
            request, session, actor, user=None, values=values, errors=errors, status_code=422
        )
    try:
        user = service.create_user(session, actor, data)
    except (ValidationFailed, Conflict) as exc:
        session.rollback()
        return _user_form(
            request,
            session,
            actor,
            user=None,
            values=values,
            errors=_domain_errors(exc),
            status_code=422,
        )
    return RedirectResponse(f"/users/{user.id}?created=1", status_code=303)


def _edit_values(user: User, roles: list[str]) -> dict[str, object]:
    return {
        "display_name": user.display_name,
        "email": user.email or "",
        "roles": roles,
        "is_active": user.is_active,
    }


@router.get("/users/{user_id}")
def user_edit_page(
    request: Request,
    session: DB,
    actor: PageActor,
    user_id: int,
    created: int = 0,
    saved: int = 0,
    password_set: int = 0,
) -> Response:
    user = service.get_managed_user(session, actor, user_id)
    roles = service.roles_by_user(session, [user])[user.id]
    flash = None
    if created:
        flash = gettext(N_("The account has been created."))
    elif saved:
        flash = gettext(N_("The changes have been saved."))
    elif password_set:
        flash = gettext(
            N_(
                "The new password has been set and the user's sessions have ended. "
                "Tell the person the password through a safe channel."
            )
        )
    return _user_form(
        request, session, actor, user=user, values=_edit_values(user, roles), flash=flash
    )


@router.post("/users/{user_id}")
def user_update(
    request: Request,
    session: DB,
    actor: PageActor,
    user_id: int,
    display_name: Annotated[str, Form(max_length=512)] = "",
    email: Annotated[str, Form(max_length=512)] = "",
    roles: Annotated[list[str] | None, Form()] = None,
    is_active: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    user = service.get_managed_user(session, actor, user_id)
    held = service.roles_by_user(session, [user])[user.id]
    grantable = {r.value for r in grantable_roles(actor)}
    # boxes of roles the actor cannot grant are shown disabled and never posted: keep them
    kept = [r for r in held if r not in grantable]
    chosen = _parse_roles([*kept, *(v for v in roles or [] if v in grantable)])
    is_self = user.id == actor.user_id
    values: dict[str, object] = {
        "display_name": display_name.strip(),
        "email": email.strip(),
        "roles": [r.value for r in chosen],
        "is_active": bool(is_active) if not is_self else user.is_active,
    }
    fields: dict[str, object] = {
        "display_name": display_name.strip(),
        "email": email.strip() or None,
        "roles": chosen,
    }
    if not is_self:
        fields["is_active"] = bool(is_active)
    try:
        data = UserUpdate.model_validate(fields)
    except ValidationError as exc:
        return _user_form(
            request,
            session,
            actor,
            user=user,
            values=values,
            errors=_field_errors_of(exc),
            status_code=422,
        )
    try:
        service.update_user(session, actor, user.id, data)
    except (ValidationFailed, Conflict) as exc:
        session.rollback()
        user = service.get_managed_user(session, actor, user_id)
        errors = _domain_errors(exc)
        return _user_form(
            request, session, actor, user=user, values=values, errors=errors, status_code=422
        )
    return RedirectResponse(f"/users/{user.id}?saved=1", status_code=303)


@router.post("/users/{user_id}/password")
def user_password_reset(
    request: Request,
    session: DB,
    actor: PageActor,
    user_id: int,
    new_password: Annotated[str, Form(max_length=256)] = "",
    confirm_password: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    user = service.get_managed_user(session, actor, user_id)
    errors: dict[str, list[str]] = {}
    if not new_password:
        errors["new_password"] = [gettext(N_("Enter the new password."))]
    elif new_password != confirm_password:
        errors["confirm_password"] = [gettext(N_("The two new passwords differ."))]
    else:
        try:
            service.reset_password(session, actor, user.id, new_password)
        except (ValidationFailed, Conflict) as exc:
            session.rollback()
            errors = _domain_errors(exc)
    if errors:
        user = service.get_managed_user(session, actor, user_id)
        roles = service.roles_by_user(session, [user])[user.id]
        return _user_form(
            request,
            session,
            actor,
            user=user,
            values=_edit_values(user, roles),
            errors=errors,
            status_code=422,
        )
    return RedirectResponse(f"/users/{user.id}?password_set=1", status_code=303)
