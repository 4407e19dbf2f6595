"""Builders of test data, written straight to the database (not through the services)."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from medcircle.auth.domain import Role
from medcircle.auth.models import ApiToken, User, UserRole
from medcircle.auth.security import hash_password, new_token, token_digest
from medcircle.registry.models import Institution

PASSWORD = "correct-horse-battery"
_seq = itertools.count(1)


def now() -> datetime:
    return datetime.now(UTC)


def institution(session: Session, code: str | None = None, **kw: object) -> Institution:
    n = next(_seq)
    values: dict[str, object] = {
        "code": code or f"T{n:04d}",
        "name_zh": f"测试医院{n}",
        "name_en": f"Test Hospital {n}",
        "level": "tertiary",
        "grade": "A",
        "type": "general",
        "division_code": "110102",
        "province_code": "110000",
        "city_code": "110100",
        "latitude": 39.9,
        "longitude": 116.4,
        "bed_count": 500,
        "created_at": now(),
        "updated_at": now(),
    }
    values.update(kw)
    if "division_code" in kw and "province_code" not in kw:
        d = str(kw["division_code"])
        values["province_code"], values["city_code"] = d[:2] + "0000", d[:4] + "00"
    inst = Institution(**values)
    session.add(inst)
    session.flush()
    return inst


def user(
    session: Session,
    inst: Institution,
    *roles: Role,
    username: str | None = None,
    locale: str = "en",
) -> User:
    n = next(_seq)
    u = User(
        username=username or f"user{n}",
        display_name=f"User {n}",
        email=None,
        password_hash=hash_password(PASSWORD),
        institution_id=inst.id,
        locale=locale,
        is_active=True,
        created_at=now(),
        password_changed_at=now(),
    )
    session.add(u)
    session.flush()
    session.add_all(UserRole(user_id=u.id, role=r.value) for r in roles)
    session.flush()
    return u


def api_token(session: Session, u: User) -> str:
    raw = new_token("mc_")
    session.add(
        ApiToken(
            user_id=u.id,
            name="test",
            prefix=raw[:10],
            token_digest=token_digest(raw),
            created_at=now(),
        )
    )
    session.flush()
    return raw


@dataclass
class World:
    beijing: Institution
    beijing2: Institution
    baoding: Institution
    baoding2: Institution
    users: dict[Role, User] = field(default_factory=dict)
    tokens: dict[Role, str] = field(default_factory=dict)

    def auth(self, role: Role) -> dict[str, str]:
        """Headers of an API call as the user with ``role``."""
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def small_world(session: Session) -> World:
    bj = institution(session, "BJ-A", name_zh="北京甲医院", name_en="Beijing Hospital A")
    bj2 = institution(session, "BJ-B", name_zh="北京乙医院", name_en="Beijing Hospital B")
    bd = institution(
        session,
        "BD-A",
        name_zh="保定甲医院",
        name_en="Baoding Hospital A",
        level="secondary",
        division_code="130606",
        latitude=38.88,
        longitude=115.49,
    )
    bd2 = institution(
        session,
        "BD-B",
        name_zh="保定乙医院",
        name_en="Baoding Hospital B",
        level="secondary",
        division_code="130602",
        latitude=38.87,
        longitude=115.45,
    )
    w = World(bj, bj2, bd, bd2)
    home = {
        Role.PLATFORM_ADMIN: bj,
        Role.COMMISSION_ANALYST: bj,
        Role.ALLIANCE_ADMIN: bd,
        Role.INSTITUTION_ADMIN: bd,
        Role.EXPERT: bj,
        Role.CLINICIAN: bd,
        Role.COORDINATOR: bd,
        Role.AUDITOR: bj,
    }
    for role, inst in home.items():
        u = user(session, inst, role, username=role.value.replace("_", ""))
        w.users[role] = u
        w.tokens[role] = api_token(session, u)
    return w


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Log in through the page; returns the CSRF token of the new session."""
    page = client.get("/login")
    m = _CSRF.search(page.text)
    assert m, "login form has a CSRF field"
    r = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": m.group(1), "next": "/"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    home = client.get("/")
    m2 = _CSRF.search(home.text)
    assert m2
    return m2.group(1)


def csrf_of(html: str) -> str:
    m = _CSRF.search(html)
    assert m
    return m.group(1)
