"""JSON API of accounts: the current user, personal API tokens, users."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Response, status

from medcircle.auth import service
from medcircle.auth.models import User
from medcircle.auth.schemas import (
    MeRead,
    PasswordChange,
    PasswordReset,
    TokenCreate,
    TokenCreated,
    TokenRead,
    UserCreate,
    UserRead,
    UserUpdate,
)
from medcircle.kit.pagination import Page
from medcircle.web.deps import DB, CurrentActor, Paging
from medcircle.web.routing import QuickRouter

router = QuickRouter(prefix="/api/v1", tags=["accounts"])


def _read(user: User, roles: list[str]) -> UserRead:
    return UserRead.model_validate(user).model_copy(update={"roles": roles})


@router.get("/me", response_model=MeRead)
def read_me(session: DB, actor: CurrentActor) -> MeRead:
    """The authenticated user, with roles and effective permissions."""
    user = service.get_user(session, actor, actor.user_id)
    base = _read(user, sorted(r.value for r in actor.roles))
    return MeRead(**base.model_dump(), permissions=sorted(p.value for p in actor.permissions))


@router.post("/me/password", status_code=status.HTTP_204_NO_CONTENT)
def change_password(body: PasswordChange, session: DB, actor: CurrentActor) -> None:
    service.change_password(session, actor, body.current_password, body.new_password)


@router.get("/me/tokens", response_model=list[TokenRead])
def list_tokens(session: DB, actor: CurrentActor) -> list[TokenRead]:
    return [TokenRead.model_validate(t) for t in service.list_api_tokens(session, actor)]


@router.post("/me/tokens", response_model=TokenCreated, status_code=status.HTTP_201_CREATED)
def create_token(
    body: TokenCreate, session: DB, actor: CurrentActor, response: Response
) -> TokenCreated:
    """Create a personal API token; the secret is in this response only."""
    raw, tok = service.create_api_token(session, actor, body.name, body.expires_in_days)
    response.headers["Cache-Control"] = "no-store"
    return TokenCreated(**TokenRead.model_validate(tok).model_dump(), token=raw)


@router.delete("/me/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(token_id: int, session: DB, actor: CurrentActor) -> None:
    service.revoke_api_token(session, actor, token_id)


@router.get("/users", response_model=Page[UserRead])
def list_users(
    session: DB,
    actor: CurrentActor,
    paging: Paging,
    q: Annotated[str | None, Query(max_length=64, description="user name or name")] = None,
) -> Page[UserRead]:
    """Users the caller manages (platform admins: all; institution admins: their own)."""
    rows, total = service.list_users(session, actor, paging, q=q)
    roles = service.roles_by_user(session, rows)
    return Page(
        items=[_read(u, roles[u.id]) for u in rows], total=total, page=paging.page, size=paging.size
    )


@router.post("/users", response_model=UserRead, status_code=status.HTTP_201_CREATED)
def create_user(body: UserCreate, session: DB, actor: CurrentActor) -> UserRead:
    user = service.create_user(session, actor, body)
    return _read(user, sorted(r.value for r in body.roles))


@router.get("/users/{user_id}", response_model=UserRead)
def read_user(user_id: int, session: DB, actor: CurrentActor) -> UserRead:
    user = service.get_user(session, actor, user_id)
    return _read(user, service.roles_by_user(session, [user])[user.id])


@router.patch("/users/{user_id}", response_model=UserRead)
def update_user(user_id: int, body: UserUpdate, session: DB, actor: CurrentActor) -> UserRead:
    user = service.update_user(session, actor, user_id, body)
    return _read(user, service.roles_by_user(session, [user])[user.id])


@router.post("/users/{user_id}/password", status_code=status.HTTP_204_NO_CONTENT)
def reset_password(user_id: int, body: PasswordReset, session: DB, actor: CurrentActor) -> None:
    """Set a new password for a user the caller administers (for someone who forgot theirs).

    The user's page sessions end; their API tokens keep working. A lock-out after failed logins
    is lifted. Problems with the password come back as field errors with stable codes
    (``password_too_short``, ``password_contains_username``, ``password_too_plain``).
    """
    service.reset_password(session, actor, user_id, body.new_password)
