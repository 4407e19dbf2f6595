"""Use cases of accounts: log in (with lock-out), page sessions, API tokens, users."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from medcircle.audit import service as audit
from medcircle.audit.domain import Outcome
from medcircle.auth import repository
from medcircle.auth.domain import (
    PASSWORD_PROBLEM_CODES,
    Actor,
    LockoutPolicy,
    Permission,
    Role,
    may_grant,
    password_problems,
)
from medcircle.auth.models import ApiToken, LoginAttempt, User, WebSession
from medcircle.auth.schemas import UserCreate, UserUpdate
from medcircle.auth.security import (
    hash_password,
    needs_rehash,
    new_token,
    token_digest,
    verify_password,
)
from medcircle.kit import clock
from medcircle.kit.errors import (
    Conflict,
    DomainError,
    FieldError,
    Forbidden,
    Locked,
    NotFound,
    Unauthenticated,
    ValidationFailed,
)
from medcircle.kit.i18n import LOCALES, N_
from medcircle.kit.pagination import PageParams
from medcircle.registry.models import Institution

TOKEN_PREFIX = "mc_"  # noqa: S105 (a prefix, not a secret)
LOCKED_MESSAGE = N_(
    "Too many failed attempts. The account is locked; try again in %(minutes)s minutes."
)


def actor_for(
    session: Session, user: User, *, ip: str | None = None, via_token: bool = False
) -> Actor:
    """The actor a user becomes once authenticated."""
    roles = frozenset(Role(r) for r in repository.roles_of(session, user.id))
    return Actor(
        user_id=user.id,
        username=user.username,
        institution_id=user.institution_id,
        roles=roles,
        locale=user.locale,
        display_name=user.display_name,
        ip=ip,
        via_token=via_token,
    )


@dataclass
class LoginResult:
    """The outcome of a login attempt; the caller commits either way, then shows ``error``."""

    user: User | None = None
    actor: Actor | None = None
    error: DomainError | None = None


def attempt_login(
    session: Session,
    username: str,
    password: str,
    *,
    policy: LockoutPolicy,
    info: audit.RequestInfo,
) -> LoginResult:
    """Check a password, apply the lock-out rule, and record the attempt and its audit event."""
    now = clock.now()
    name = username.strip().lower()[:64]
    until = policy.locked_until(repository.recent_failures(session, name, now - policy.window), now)
    if until is not None:
        minutes = max(1, int((until - now).total_seconds() // 60) + 1)
        session.add(LoginAttempt(username=name, attempted_at=now, succeeded=False, ip=info.ip))
        audit.record(
            session,
            None,
            "auth.login",
            outcome=Outcome.DENIED,
            username=name,
            info=info,
            detail={"reason": "locked"},
        )
        return LoginResult(
            error=Locked(
                LOCKED_MESSAGE,
                minutes=minutes,
            )
        )
    user = repository.user_by_username(session, name)
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.is_active:
        session.add(LoginAttempt(username=name, attempted_at=now, succeeded=False, ip=info.ip))
        # the attempt just added is flushed and counted
        failures = len(repository.recent_failures(session, name, now - policy.window))
        left = policy.attempts - failures
        audit.record(
            session,
            None,
            "auth.login",
            outcome=Outcome.FAILURE,
            username=name,
            info=info,
            detail={"reason": "inactive" if (ok and user) else "bad_credentials"},
        )
        if left <= 0:
            return LoginResult(
                error=Locked(
                    LOCKED_MESSAGE,
                    minutes=int(policy.window.total_seconds() // 60),
                )
            )
        return LoginResult(
            error=Unauthenticated(
                N_("The user name or password is wrong. %(left)s attempts left before a lock-out."),
                code="bad_credentials",
                left=left,
            )
        )
    session.add(LoginAttempt(username=name, attempted_at=now, succeeded=True, ip=info.ip))
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now
    actor = actor_for(session, user, ip=info.ip)
    audit.record(session, actor, "auth.login", object_type="user", object_id=user.id, info=info)
    return LoginResult(user=user, actor=actor)


def start_web_session(
    session: Session, user: User, *, max_age: timedelta, ip: str | None
) -> tuple[str, WebSession]:
    """A new page session; returns the raw token for the cookie (only its digest is kept)."""
    now = clock.now()
    raw = new_token()
    ws = WebSession(
        token_digest=token_digest(raw),
        user_id=user.id,
        csrf_token=new_token(),
        created_at=now,
        last_seen_at=now,
        expires_at=now + max_age,
        ip=ip,
    )
    session.add(ws)
    session.flush()
    return raw, ws


@dataclass
class SessionLookup:
    web_session: WebSession | None = None
    user: User | None = None
    expired: bool = False


def resolve_web_session(session: Session, raw: str, *, idle: timedelta) -> SessionLookup:
    """The live session for a cookie token; idle or revoked sessions count as expired."""
    ws = repository.session_by_digest(session, token_digest(raw))
    if ws is None:
        return SessionLookup()
    now = clock.now()
    if ws.revoked_at is not None or ws.expires_at <= now or now - ws.last_seen_at > idle:
        return SessionLookup(expired=True)
    user = repository.user_by_id(session, ws.user_id)
    if user is None or not user.is_active:
        return SessionLookup(expired=True)
    return SessionLookup(web_session=ws, user=user)


# "last seen" and "last used" are refreshed at most this often, in a short transaction of
# their own (see web.deps), so that reading a page never turns the request into a writer
TOUCH_EVERY = timedelta(minutes=1)


def needs_touch(last: datetime | None) -> bool:
    return last is None or clock.now() - last > TOUCH_EVERY


def touch_web_session(session: Session, web_session_id: int) -> None:
    """Record activity on a page session (what idle expiry is measured from)."""
    repository.touch_web_session(session, web_session_id, clock.now(), TOUCH_EVERY)


def touch_api_token(session: Session, token_id: int) -> None:
    repository.touch_api_token(session, token_id, clock.now(), TOUCH_EVERY)


def end_web_session(session: Session, actor: Actor, ws: WebSession) -> None:
    ws.revoked_at = clock.now()
    audit.record(session, actor, "auth.logout", object_type="user", object_id=actor.user_id)


@dataclass(frozen=True)
class TokenActor:
    """Who an API token acts as, and what the caller needs to record its use."""

    actor: Actor
    token_id: int
    last_used_at: datetime | None


def resolve_api_actor(session: Session, raw: str, *, ip: str | None = None) -> TokenActor | None:
    """The actor of a live API token of an active user, or None (one query)."""
    if not raw.startswith(TOKEN_PREFIX):
        return None
    rows = repository.token_actor_rows(session, token_digest(raw))
    if not rows:
        return None
    (tok_id, revoked, expires, last_used, uid, username, inst, locale, name, active, _) = rows[0]
    now = clock.now()
    if revoked is not None or (expires and expires <= now) or not active:
        return None
    actor = Actor(
        user_id=uid,
        username=username,
        institution_id=inst,
        roles=frozenset(Role(r[10]) for r in rows if r[10] is not None),
        locale=locale,
        display_name=name,
        ip=ip,
        via_token=True,
    )
    return TokenActor(actor, tok_id, last_used)


def create_api_token(
    session: Session, actor: Actor, name: str, expires_in_days: int | None
) -> tuple[str, ApiToken]:
    """A personal API token for the actor; the raw secret is returned this once."""
    now = clock.now()
    raw = new_token(TOKEN_PREFIX)
    tok = ApiToken(
        user_id=actor.user_id,
        name=name.strip(),
        prefix=raw[:10],
        token_digest=token_digest(raw),
        created_at=now,
        expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    session.add(tok)
    session.flush()
    audit.record(
        session,
        actor,
        "auth.token.create",
        object_type="api_token",
        object_id=tok.id,
        detail={"name": tok.name},
    )
    return raw, tok


def list_api_tokens(session: Session, actor: Actor) -> Sequence[ApiToken]:
    return repository.tokens_of(session, actor.user_id)


def revoke_api_token(session: Session, actor: Actor, token_id: int) -> ApiToken:
    """Revoke one of the actor's own tokens."""
    tok = session.get(ApiToken, token_id)
    if tok is None or tok.user_id != actor.user_id:
        raise NotFound(N_("No such token."))
    if tok.revoked_at is None:
        tok.revoked_at = clock.now()
    audit.record(session, actor, "auth.token.revoke", object_type="api_token", object_id=tok.id)
    return tok


def _check_password(password: str, username: str, field: str = "password") -> None:
    problems = password_problems(password, username)
    if problems:
        raise ValidationFailed(
            field_errors=[FieldError(field, p, code=PASSWORD_PROBLEM_CODES[p]) for p in problems]
        )


def create_user(session: Session, actor: Actor, data: UserCreate) -> User:
    """Create an account; institution admins may only create staff of their own institution."""
    from medcircle.registry import repository as registry_repo

    if not may_grant(actor, data.roles, data.institution_id):
        raise Forbidden(N_("You may not create this account with these roles."))
    if registry_repo.institution_by_id(session, data.institution_id) is None:
        raise ValidationFailed(
            field_errors=[FieldError("institution_id", N_("Unknown institution."))]
        )
    if repository.user_by_username(session, data.username) is not None:
        raise Conflict(
            N_("The user name %(username)s is taken."),
            code="username_taken",
            username=data.username,
            field_errors=[FieldError("username", N_("This user name is taken."))],
        )
    _check_password(data.password, data.username)
    now = clock.now()
    user = User(
        username=data.username.lower(),
        display_name=data.display_name.strip(),
        email=str(data.email) if data.email else None,
        password_hash=hash_password(data.password),
        institution_id=data.institution_id,
        locale=data.locale if data.locale in LOCALES else "zh_Hans",
        is_active=True,
        created_at=now,
        password_changed_at=now,
    )
    session.add(user)
    session.flush()
    repository.replace_roles(session, user.id, [r.value for r in data.roles])
    audit.record(
        session,
        actor,
        "user.create",
        object_type="user",
        object_id=user.id,
        detail={
            "username": user.username,
            "roles": sorted(r.value for r in data.roles),
            "institution_id": data.institution_id,
        },
    )
    return user


def _managed_user(session: Session, actor: Actor, user_id: int) -> User:
    user = repository.user_by_id(session, user_id)
    visible = user is not None and (
        actor.can(Permission.USER_MANAGE_ALL)
        or (actor.can(Permission.USER_MANAGE_OWN) and user.institution_id == actor.institution_id)
    )
    if user is None or not visible:
        raise NotFound(N_("No such user."))
    return user


def get_managed_user(session: Session, actor: Actor, user_id: int) -> User:
    """A user the actor administers (404 for anyone else, so ids do not leak)."""
    return _managed_user(session, actor, user_id)


def get_user(session: Session, actor: Actor, user_id: int) -> User:
    if user_id == actor.user_id:
        user = repository.user_by_id(session, user_id)
        assert user is not None
        return user
    return _managed_user(session, actor, user_id)


def list_users(
    session: Session,
    actor: Actor,
    page: PageParams,
    q: str | None = None,
    *,
    institution_id: int | None = None,
    active: bool | None = None,
) -> tuple[Sequence[User], int]:
    """Users the actor manages: everyone for platform admins (optionally of one institution),
    their own institution's otherwise."""
    if actor.can(Permission.USER_MANAGE_ALL):
        return repository.list_users(
            session, page, institution_id=institution_id, q=q, active=active
        )
    if actor.can(Permission.USER_MANAGE_OWN):
        return repository.list_users(
            session, page, institution_id=actor.institution_id, q=q, active=active
        )
    raise Forbidden()


def update_user(session: Session, actor: Actor, user_id: int, data: UserUpdate) -> User:
    user = _managed_user(session, actor, user_id)
    changes = data.model_dump(exclude_unset=True)
    held = {Role(r) for r in repository.roles_of(session, user.id)}
    if data.roles is not None:
        # every role added or taken away must be one the actor may grant
        if not may_grant(actor, held ^ set(data.roles), user.institution_id):
            raise Forbidden(N_("You may not give these roles."))
        if (
            user.id == actor.user_id
            and Role.PLATFORM_ADMIN in actor.roles
            and Role.PLATFORM_ADMIN not in data.roles
        ):
            raise Conflict(N_("You cannot remove your own platform admin role."))
        repository.replace_roles(session, user.id, [r.value for r in data.roles])
    if data.is_active is False and user.id == actor.user_id:
        raise Conflict(N_("You cannot deactivate your own account."))
    if (
        data.is_active is not None
        and data.is_active != user.is_active
        and not may_grant(actor, held, user.institution_id)
    ):
        # an institution admin cannot switch off an account that holds wider roles
        raise Forbidden(N_("You may not change this account."))
    for key in ("display_name", "email", "is_active"):
        # an email may be cleared (explicit null); the other fields only change to a value
        if key in changes and (changes[key] is not None or key == "email"):
            setattr(user, key, changes[key])
    if data.locale:
        user.locale = data.locale if data.locale in LOCALES else user.locale
    if data.is_active is False:
        repository.revoke_sessions_of(session, user.id, clock.now())
    audit.record(
        session,
        actor,
        "user.update",
        object_type="user",
        object_id=user.id,
        detail={
            **{k: _plain(v) for k, v in changes.items()},
            **({"roles_before": sorted(r.value for r in held)} if data.roles is not None else {}),
        },
    )
    return user


def _plain(value: object) -> object:
    """A value as the trail stores it: lists of roles as their names, flags as booleans."""
    if isinstance(value, list):
        return sorted(str(v) for v in value)
    if value is None or isinstance(value, bool):
        return value
    return str(value)


def change_password(
    session: Session, actor: Actor, current: str, new: str, *, keep_session_id: int | None = None
) -> None:
    """Change one's own password; the user's other page sessions end (all of them when the
    change comes through the API, which has no page session to keep)."""
    user = repository.user_by_id(session, actor.user_id)
    assert user is not None
    if not verify_password(user.password_hash, current):
        raise ValidationFailed(
            field_errors=[FieldError("current_password", N_("The current password is wrong."))]
        )
    _check_password(new, user.username, "new_password")
    user.password_hash = hash_password(new)
    user.password_changed_at = clock.now()
    ended = repository.revoke_sessions_of(
        session, user.id, user.password_changed_at, keep_session_id=keep_session_id
    )
    audit.record(
        session,
        actor,
        "user.password_change",
        object_type="user",
        object_id=user.id,
        detail={"sessions_ended": ended},
    )


def reset_password(session: Session, actor: Actor, user_id: int, new_password: str) -> User:
    """Set a new password for a user the actor administers (someone who forgot theirs).

    Only accounts whose every role the actor may grant can be reset, so an institution admin
    cannot take over a platform admin's account. The user's page sessions end; their API tokens
    stay (they are revoked separately). Failed logins before the reset no longer count towards a
    lock-out (see ``repository.recent_failures``), so the user can log in with the new password
    at once. One's own password is changed with the current one on the account page instead.
    """
    user = _managed_user(session, actor, user_id)
    if user.id == actor.user_id:
        raise Conflict(
            N_("Change your own password on your account page."),
            code="own_password",
        )
    held = {Role(r) for r in repository.roles_of(session, user.id)}
    if not may_grant(actor, held, user.institution_id):
        raise Forbidden(N_("You may not change this account."))
    _check_password(new_password, user.username, "new_password")
    now = clock.now()
    user.password_hash = hash_password(new_password)
    user.password_changed_at = now
    ended = repository.revoke_sessions_of(session, user.id, now)
    audit.record(
        session,
        actor,
        "user.password_reset",
        object_type="user",
        object_id=user.id,
        detail={"username": user.username, "sessions_ended": ended},
    )
    return user


def set_locale(session: Session, actor: Actor, locale: str) -> None:
    if locale not in LOCALES:
        raise ValidationFailed(field_errors=[FieldError("locale", N_("Unknown language."))])
    user = repository.user_by_id(session, actor.user_id)
    assert user is not None
    user.locale = locale
    audit.record(
        session,
        actor,
        "user.locale",
        object_type="user",
        object_id=user.id,
        detail={"locale": locale},
    )


def institution_choices(session: Session, actor: Actor) -> Sequence[Institution]:
    """Institutions the actor may place accounts in: all for platform admins, else their own."""
    if actor.can(Permission.USER_MANAGE_ALL):
        return repository.institutions_for_users(session)
    if actor.can(Permission.USER_MANAGE_OWN):
        return repository.institutions_for_users(session, actor.institution_id)
    raise Forbidden()


def institutions_of(session: Session, users: Sequence[User]) -> dict[int, Institution]:
    """The institution of each listed user, by id (one query)."""
    return repository.institutions_by_ids(session, [u.institution_id for u in users])


def roles_by_user(session: Session, users: Sequence[User]) -> dict[int, list[str]]:
    return repository.roles_of_many(session, [u.id for u in users])


def is_expired(dt: datetime | None) -> bool:
    return dt is not None and dt <= clock.now()
