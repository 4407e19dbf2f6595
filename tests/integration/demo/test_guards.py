"""The loader refuses what would mix or repeat data, and leaves nothing behind when it does."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from medcircle.auth.domain import Actor, Role
from medcircle.demo import service
from medcircle.demo.generator import generate
from medcircle.demo.models import DemoWorld
from medcircle.kit.errors import Conflict, Forbidden
from medcircle.registry.models import Institution
from tests import factories
from tests.integration.demo.conftest import DEMO_DAY, DEMO_SETTINGS, OPERATOR


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_an_empty_database_is_not_a_demo(session: Session) -> None:
    assert service.is_demo(session) is False
    assert service.current_world(session) is None


def test_refuses_to_load_twice(session: Session) -> None:
    world = generate(2017)
    service.load_world(session, OPERATOR, world, DEMO_SETTINGS)
    before = count(session, Institution)
    with pytest.raises(Conflict) as exc:
        service.load_world(session, OPERATOR, world, DEMO_SETTINGS)
    assert exc.value.code == "demo_already_loaded"
    assert count(session, Institution) == before
    assert count(session, DemoWorld) == 1


def test_refuses_a_database_with_other_data(session: Session) -> None:
    factories.institution(session, "REAL-1")
    with pytest.raises(Conflict) as exc:
        service.load_world(session, OPERATOR, generate(2017), DEMO_SETTINGS)
    assert exc.value.code == "database_not_empty"
    assert count(session, Institution) == 1
    assert service.is_demo(session) is False


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.PLATFORM_ADMIN])
def test_only_a_platform_admin_loads_it(session: Session, role: Role) -> None:
    actor = Actor(user_id=1, username="x", institution_id=1, roles=frozenset({role}))
    with pytest.raises(Forbidden):
        service.load_world(session, actor, generate(2017), DEMO_SETTINGS)
    assert count(session, Institution) == 0


def _digest_of_a_load(engine: Engine, seed: int) -> str:
    """Load the world of ``seed`` in a transaction of its own, digest it, roll it back."""
    with engine.connect() as conn:
        trans = conn.begin()
        session = Session(bind=conn)
        try:
            service.load_world(session, OPERATOR, generate(seed, as_of=DEMO_DAY), DEMO_SETTINGS)
            session.flush()
            return service.content_digest(session)
        finally:
            session.close()
            trans.rollback()


def test_same_seed_loads_the_same_table_contents(engine: Engine) -> None:
    first = _digest_of_a_load(engine, 2017)
    assert _digest_of_a_load(engine, 2017) == first
    assert _digest_of_a_load(engine, 99) != first
