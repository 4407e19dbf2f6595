"""rename_institution as the agreements area calls it (a trusteeship gives a licensed name)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session

from medcircle.agreements.models import CooperationAgreement
from medcircle.auth import service as auth_service
from medcircle.auth.domain import Actor, Role
from medcircle.kit.errors import Forbidden, ValidationFailed
from medcircle.registry import repository
from medcircle.registry.models import Institution
from medcircle.registry.service import rename_institution
from tests.factories import World, now


def actor(session: Session, world: World, role: Role) -> Actor:
    return auth_service.actor_for(session, world.users[role])


def trusteeship(session: Session, supporting: Institution, supported: Institution) -> int:
    agreement = CooperationAgreement(
        code="TR-1",
        kind="trusteeship",
        supporting_institution_id=supporting.id,
        supported_institution_id=supported.id,
        title_zh="托管协议",
        title_en="Trusteeship",
        starts_on=date(2015, 10, 1),
        ends_on=date(2024, 10, 1),
        created_at=now(),
        updated_at=now(),
    )
    session.add(agreement)
    session.flush()
    return agreement.id


def test_commission_renames_under_a_trusteeship(session: Session, world: World) -> None:
    agreement_id = trusteeship(session, world.beijing, world.baoding)
    row = rename_institution(
        session,
        actor(session, world, Role.COMMISSION_ANALYST),
        world.baoding.id,
        "北京儿童医院保定医院",
        "Beijing Children's Hospital Baoding Hospital",
        date(2015, 10, 1),
        "托管",
        agreement_id=agreement_id,
    )
    assert row.agreement_id == agreement_id
    names = repository.names_of(session, world.baoding.id)
    assert [(n.name_zh, n.valid_to) for n in names] == [
        ("北京儿童医院保定医院", None),
        ("保定甲医院", date(2015, 10, 1)),
    ]
    assert world.baoding.name_en == "Beijing Children's Hospital Baoding Hospital"


@pytest.mark.parametrize("other", ["baoding2", "beijing"])
def test_agreement_names_only_its_supported_institution(
    session: Session, world: World, other: str
) -> None:
    """Neither an outsider nor the supporting hospital takes a name under the trusteeship."""
    agreement_id = trusteeship(session, world.beijing, world.baoding)
    with pytest.raises(ValidationFailed) as info:
        rename_institution(
            session,
            actor(session, world, Role.PLATFORM_ADMIN),
            getattr(world, other).id,
            "新名",
            "New name",
            date(2016, 1, 1),
            None,
            agreement_id=agreement_id,
        )
    assert info.value.code == "agreement_mismatch"


def test_without_an_agreement_an_analyst_may_not_rename(session: Session, world: World) -> None:
    with pytest.raises(Forbidden):
        rename_institution(
            session,
            actor(session, world, Role.COMMISSION_ANALYST),
            world.baoding.id,
            "新名",
            "New name",
            date(2016, 1, 1),
            None,
        )
    assert world.baoding.name_zh == "保定甲医院"


def test_same_name_is_refused(session: Session, world: World) -> None:
    with pytest.raises(ValidationFailed) as info:
        rename_institution(
            session,
            actor(session, world, Role.PLATFORM_ADMIN),
            world.baoding.id,
            "保定甲医院",
            "Baoding Hospital A",
            date(2016, 1, 1),
            None,
        )
    assert info.value.code == "same_name"
