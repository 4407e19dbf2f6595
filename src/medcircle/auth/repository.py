"""Queries of accounts, sessions, tokens and login attempts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session

from medcircle.auth.models import ApiToken, LoginAttempt, User, UserRole, WebSession
from medcircle.kit.pagination import PageParams
from medcircle.registry.models import Institution


def user_by_username(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(func.lower(User.username) == username.lower()))


def user_by_id(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def display_names(session: Session, user_ids: Iterable[int]) -> dict[int, str]:
    """The names users go by (their display name, else their user name), by id."""
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    return {
        uid: name or username
        for uid, name, username in session.execute(
            select(User.id, User.display_name, User.username).where(User.id.in_(ids))
        )
    }


def roles_of(session: Session, user_id: int) -> list[str]:
    return list(
        session.scalars(
            select(UserRole.role).where(UserRole.user_id == user_id).order_by(UserRole.role)
        )
    )


def roles_of_many(session: Session, user_ids: Sequence[int]) -> dict[int, list[str]]:
    result: dict[int, list[str]] = {uid: [] for uid in user_ids}
    if not user_ids:
        return result
    for uid, role in session.execute(
        select(UserRole.user_id, UserRole.role)
        .where(UserRole.user_id.in_(user_ids))
        .order_by(UserRole.role)
    ):
        result[uid].append(role)
    return result


def replace_roles(session: Session, user_id: int, roles: Sequence[str]) -> None:
    session.execute(delete(UserRole).where(UserRole.user_id == user_id))
    session.add_all(UserRole(user_id=user_id, role=r) for r in sorted(set(roles)))
    session.flush()


def list_users(
    session: Session,
    page: PageParams,
    institution_id: int | None = None,
    q: str | None = None,
    active: bool | None = None,
) -> tuple[Sequence[User], int]:
    stmt = select(User)
    if institution_id is not None:
        stmt = stmt.where(User.institution_id == institution_id)
    if active is not None:
        stmt = stmt.where(User.is_active.is_(active))
    if q:
        # % and _ are searched for as themselves (user names often hold underscores)
        text = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = f"%{text}%"
        stmt = stmt.where(
            func.lower(User.username).like(like, escape="\\")
            | func.lower(User.display_name).like(like, escape="\\")
        )
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(User.username).offset(page.offset).limit(page.size)).all()
    return rows, total


def recent_failures(session: Session, username: str, since: datetime) -> list[datetime]:
    """Failed attempts for ``username`` since ``since``, after its last successful login and
    after its password was last set (a reset by an administrator lifts a lock-out)."""
    name = username.lower()
    last_success = session.scalar(
        select(func.max(LoginAttempt.attempted_at)).where(
            LoginAttempt.username == name, LoginAttempt.succeeded.is_(True)
        )
    )
    password_set = session.scalar(
        select(User.password_changed_at).where(func.lower(User.username) == name)
    )
    lower = max(t for t in (since, last_success, password_set) if t is not None)
    return list(
        session.scalars(
            select(LoginAttempt.attempted_at).where(
                LoginAttempt.username == name,
                LoginAttempt.succeeded.is_(False),
                LoginAttempt.attempted_at > lower,
            )
        )
    )


def session_by_digest(session: Session, digest: str) -> WebSession | None:
    return session.scalar(select(WebSession).where(WebSession.token_digest == digest))


def revoke_sessions_of(
    session: Session, user_id: int, at: datetime, *, keep_session_id: int | None = None
) -> int:
    """End every live page session of a user (but ``keep_session_id``); returns how many."""
    stmt = update(WebSession).where(WebSession.user_id == user_id, WebSession.revoked_at.is_(None))
    if keep_session_id is not None:
        stmt = stmt.where(WebSession.id != keep_session_id)
    result = session.execute(stmt.values(revoked_at=at))
    return int(getattr(result, "rowcount", 0) or 0)


def touch_web_session(session: Session, ws_id: int, now: datetime, every: timedelta) -> None:
    """Set last_seen_at unless another request already did within ``every``."""
    session.execute(
        update(WebSession)
        .where(WebSession.id == ws_id, WebSession.last_seen_at < now - every)
        .values(last_seen_at=now)
    )


def touch_api_token(session: Session, token_id: int, now: datetime, every: timedelta) -> None:
    session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == token_id,
            or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < now - every),
        )
        .values(last_used_at=now)
    )


def token_by_digest(session: Session, digest: str) -> ApiToken | None:
    return session.scalar(select(ApiToken).where(ApiToken.token_digest == digest))


def _token_actor_statement() -> Any:
    # built once, as plain Core over the tables: the ORM layer costs more than the query
    token, user, role = ApiToken.__table__, User.__table__, UserRole.__table__
    return (
        select(
            token.c.id,
            token.c.revoked_at,
            token.c.expires_at,
            token.c.last_used_at,
            user.c.id,
            user.c.username,
            user.c.institution_id,
            user.c.locale,
            user.c.display_name,
            user.c.is_active,
            role.c.role,
        )
        .join(user, user.c.id == token.c.user_id)
        .outerjoin(role, role.c.user_id == user.c.id)
        .where(token.c.token_digest == bindparam("digest"))
    )


_TOKEN_ACTOR = _token_actor_statement()


def token_actor_rows(session: Session, digest: str) -> list[tuple[Any, ...]]:
    """The token with this digest, its user and one row per role, in one round trip (the
    hot path of every API call)."""
    return [tuple(row) for row in session.connection().execute(_TOKEN_ACTOR, {"digest": digest})]


def tokens_of(session: Session, user_id: int) -> Sequence[ApiToken]:
    return session.scalars(
        select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id.desc())
    ).all()


def institutions_for_users(
    session: Session, institution_id: int | None = None
) -> Sequence[Institution]:
    """Institutions a user account can belong to (one, or all), by code."""
    stmt = select(Institution).order_by(Institution.code)
    if institution_id is not None:
        stmt = stmt.where(Institution.id == institution_id)
    return session.scalars(stmt).all()


def institutions_by_ids(session: Session, ids: Sequence[int]) -> dict[int, Institution]:
    if not ids:
        return {}
    rows = session.scalars(select(Institution).where(Institution.id.in_(set(ids))))
    return {i.id: i for i in rows}
