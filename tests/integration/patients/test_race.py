"""The same person registered twice at the same moment: one registration wins, the other is
the duplicate conflict naming the winner's record (never a 500, never two live records).
PostgreSQL only, on a database of its own whose rows are committed, so that the two
registrations really are two connections."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from medcircle.auth import service as auth_service
from medcircle.auth.domain import Actor
from medcircle.auth.models import User
from medcircle.config import Settings
from medcircle.db import make_engine, make_session_factory, unit_of_work
from medcircle.patients import service
from medcircle.patients.domain import GuardianRelation, Sex
from medcircle.patients.models import Patient
from medcircle.patients.schemas import PatientCreate
from tests import factories
from tests import referral_factories as rf
from tests.databases import own_database

pytestmark = pytest.mark.postgres_only


@dataclass
class Race:
    factory: sessionmaker[Session]
    settings: Settings

    def actor(self, session: Session, username: str) -> Actor:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None
        return auth_service.actor_for(session, user)


@pytest.fixture(scope="module")
def race(db_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Race]:
    if db_backend != "postgresql":
        # the second insert waits on a PostgreSQL index lock; SQLite serialises transactions
        pytest.skip("concurrent registration is tested on PostgreSQL")
    with own_database(db_backend, tmp_path_factory.mktemp("prace-db"), "prace") as url:
        engine = make_engine(url)
        try:
            factory = make_session_factory(engine, writes=True)
            with unit_of_work(factory) as session:
                factories.small_world(session)
            settings = Settings(
                database_url=url,
                data_dir=Path(tmp_path_factory.mktemp("patients-race")),
                secret_key=rf.TEST_SECRET,
            )
            yield Race(factory, settings)
        finally:
            engine.dispose()


def child(name: str) -> PatientCreate:
    return PatientCreate(
        name=name,
        sex=Sex.MALE,
        birth_date=date(2015, 5, 12),
        national_id=rf.CHILD_ID,
        residence_division_code="130602",
        guardian_name="王芳",
        guardian_relation=GuardianRelation.MOTHER,
        guardian_phone="13800138000",
    )


def test_second_registration_waits_then_gets_the_duplicate(race: Race) -> None:
    first = race.factory()
    second = race.factory()
    outcome: dict[str, object] = {}
    try:
        winner = service.register(
            first, race.actor(first, "clinician"), child("王小明"), race.settings
        )
        late_actor = race.actor(second, "institutionadmin")

        def late() -> None:
            try:
                outcome["second"] = service.register(
                    second, late_actor, child("王晓明"), race.settings
                )
            except BaseException as exc:  # collected for the assertion below
                outcome["second"] = exc

        thread = threading.Thread(target=late)
        thread.start()
        time.sleep(0.5)  # the second insert now waits on the unique index
        assert thread.is_alive()
        first.commit()
        thread.join(timeout=30)
        error = outcome["second"]
        assert isinstance(error, service.DuplicatePatient), error
        assert error.existing_id == winner.id and error.code == "duplicate_patient"
        # the savepoint kept the second transaction usable
        assert second.scalar(select(func.count()).select_from(Patient)) == 1
        second.rollback()
    finally:
        first.close()
        second.close()
    with unit_of_work(race.factory) as session:
        names = session.scalars(select(Patient.name).where(Patient.merged_into_id.is_(None)))
        assert list(names) == ["王小明"]
