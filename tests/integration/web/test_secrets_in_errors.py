"""Database errors never carry the values that were bound (password hashes, emails, token
digests): the error text is what reaches the logs when a request fails."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from medcircle.auth.domain import Role
from medcircle.auth.models import User
from tests.factories import World, now

SECRET_HASH = "argon2-hash-that-must-not-be-logged"


def test_failed_insert_does_not_show_bound_values(session: Session, world: World) -> None:
    taken = world.users[next(iter(world.users))]
    session.add(
        User(
            username=taken.username,  # unique: the insert fails
            display_name="Someone",
            email="private.person@example.org",
            password_hash=SECRET_HASH,
            institution_id=world.beijing.id,
            locale="en",
            is_active=True,
            created_at=now(),
            password_changed_at=now(),
        )
    )
    with pytest.raises(IntegrityError) as caught:
        session.flush()
    text = str(caught.value)
    assert SECRET_HASH not in text
    assert "private.person@example.org" not in text
    assert "hidden due to hide_parameters" in text


def test_unstorable_value_is_logged_as_a_warning_without_the_sql(
    client: TestClient, world: World, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    session.commit()
    with caplog.at_level(logging.INFO, logger="medcircle.web"):
        r = client.get(
            "/api/v1/users/99999999999999999999", headers=world.auth(Role.PLATFORM_ADMIN)
        )
    assert r.status_code == 400
    records = [rec for rec in caplog.records if rec.name == "medcircle.web"]
    assert [rec.levelno for rec in records] == [logging.WARNING]
    message = records[0].getMessage()
    assert "/api/v1/users/99999999999999999999" in message
    assert "SELECT" not in message and "parameters" not in message
    assert records[0].exc_info is None
