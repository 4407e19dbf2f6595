"""The world of the visit record tests: BJ-A supports BD-A (neonatology, paediatric surgery)
from 2024 to 2027; BJ-A's expert and a second expert, BJ-A's coordinator, BD-A's clinician
and an outsider hospital with its own expert. Time stands at 30 November 2026, 10:00 China
time. Import the fixtures into a test module to use them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest
import time_machine
from sqlalchemy.orm import Session

from medcircle.auth import service as auth_service
from medcircle.auth.domain import Actor, Role
from medcircle.auth.models import User
from medcircle.dispatch.visit_schemas import VisitCreate
from medcircle.kit.clock import CST
from medcircle.registry.models import Department, Institution
from tests import agreement_factories as af
from tests import factories
from tests import registry_factories as regf
from tests.factories import World

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=CST).astimezone(UTC)
TODAY = date(2026, 11, 30)


@dataclass
class VisitWorld:
    session: Session
    w: World
    neonatology: Department
    surgery: Department
    elsewhere: Department
    expert2: User
    coordinator: User
    outsider: Institution
    outsider_expert: User

    @property
    def expert(self) -> User:
        return self.w.users[Role.EXPERT]

    def actor(self, user: User) -> Actor:
        return auth_service.actor_for(self.session, user)

    def data(self, **overrides: Any) -> VisitCreate:
        values: dict[str, Any] = {
            "site_institution_id": self.w.baoding.id,
            "department_id": self.neonatology.id,
            "starts_on": date(2026, 11, 2),
            "ends_on": date(2026, 11, 3),
            "outpatients": 24,
            "ward_rounds": 2,
            "teaching_sessions": 1,
            "difficult_cases": 3,
            "operations": [{"icd10_code": "q79.0", "procedure": "膈疝修补术", "count": 1}],
        }
        values.update(overrides)
        return VisitCreate.model_validate(values)


@pytest.fixture(name="frozen")
def frozen_fixture() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def visit_world(session: Session, w: World) -> VisitWorld:
    af.agreement(
        session,
        w.beijing,
        w.baoding,
        starts_on=date(2024, 1, 1),
        ends_on=date(2027, 1, 1),
        specialties=("neonatology", "ped_surgery"),
    )
    neonatology = regf.department(session, w.baoding, "neonatology")
    surgery = regf.department(session, w.baoding, "ped_surgery")
    elsewhere = regf.department(session, w.baoding2, "neonatology")
    expert2 = factories.user(session, w.beijing, Role.EXPERT, username="expert.two")
    coordinator = factories.user(session, w.beijing, Role.COORDINATOR, username="bj.coord")
    outsider = factories.institution(session, "OUT-A", name_zh="外院", name_en="Outsider")
    outsider_expert = factories.user(session, outsider, Role.EXPERT, username="out.expert")
    return VisitWorld(
        session,
        w,
        neonatology,
        surgery,
        elsewhere,
        expert2,
        coordinator,
        outsider,
        outsider_expert,
    )


@pytest.fixture(name="vw")
def vw_fixture(session: Session, world: World, frozen: time_machine.Coordinates) -> VisitWorld:
    vw = visit_world(session, world)
    session.commit()
    return vw
