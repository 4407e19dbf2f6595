"""Two experts claim the same case from the pool at the same moment: exactly one wins, the
other gets 409 ``already_claimed``, and the history holds one claim. PostgreSQL only (the
loser waits on the row lock of the winner's conditional UPDATE), on a database of its own
whose rows are committed, so the two sides really are two connections."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from medcircle.auth import service as auth_service
from medcircle.auth.models import User
from medcircle.config import Settings
from medcircle.consultations import service
from medcircle.consultations.domain import Action, Status
from medcircle.consultations.models import Consultation, ConsultationEvent, OnCallShift
from medcircle.consultations.schemas import ActIn, ConsultationCreate
from medcircle.db import make_engine, make_session_factory, unit_of_work
from medcircle.kit.errors import Conflict
from medcircle.main import create_app
from tests import consult_factories as cf
from tests import factories
from tests import referral_factories as rf
from tests.databases import own_database

pytestmark = pytest.mark.postgres_only


@dataclass
class RaceWorld:
    factory: sessionmaker[Session]
    settings: Settings
    tokens: dict[str, str]
    patient_id: int
    answerer_id: int

    def actor(self, session: Session, username: str) -> Any:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None
        return auth_service.actor_for(session, user)

    def new_case(self) -> int:
        """A case in the pool (nobody is on call in this world)."""
        with unit_of_work(self.factory) as session:
            c = service.ask(
                session,
                self.actor(session, "clinician"),
                ConsultationCreate(
                    patient_id=self.patient_id,
                    answer_institution_id=self.answerer_id,
                    specialty_code=cf.SPECIALTY,
                    question="Closure now?",
                    clinical_summary="Echo shows VSD.",
                    icd10_code="Q21.0",
                ),
                self.settings,
            )
            assert c.status == Status.POOL
            return c.id

    def claims(self, cid: int) -> int:
        with unit_of_work(self.factory) as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(ConsultationEvent)
                    .where(
                        ConsultationEvent.consultation_id == cid,
                        ConsultationEvent.action == Action.CLAIM.value,
                    )
                )
                or 0
            )


@pytest.fixture(scope="module")
def race(db_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RaceWorld]:
    if db_backend != "postgresql":
        # the loser waits on PostgreSQL's row lock; SQLite serialises whole transactions, so
        # two claims there can never overlap (the service tests cover the sequential loser)
        pytest.skip("concurrent claims are tested on PostgreSQL")
    with own_database(db_backend, tmp_path_factory.mktemp("race-db"), "crace") as url:
        engine = make_engine(url)
        try:
            factory = make_session_factory(engine, writes=True)
            with unit_of_work(factory) as session:
                world = factories.small_world(session)
                circle = rf.referral_world(session, world)
                cw = cf.consult_world(session, circle)
                session.execute(delete(OnCallShift))
                ids = (cw.patient.id, cw.answerer.id, dict(cw.tokens))
            settings = Settings(
                database_url=url,
                data_dir=Path(tmp_path_factory.mktemp("race-data")),
                secret_key=rf.TEST_SECRET,
            )
            yield RaceWorld(factory, settings, ids[2], ids[0], ids[1])
        finally:
            engine.dispose()


def test_two_claims_through_the_api_one_wins(race: RaceWorld) -> None:
    app = create_app(race.settings)
    try:
        for _ in range(5):
            cid = race.new_case()
            barrier = threading.Barrier(2)
            results: dict[str, Any] = {}

            def claim(
                who: str,
                cid: int = cid,
                barrier: threading.Barrier = barrier,
                results: dict[str, Any] = results,
            ) -> None:
                with TestClient(app) as client:
                    headers = {"Authorization": f"Bearer {race.tokens[who]}"}
                    barrier.wait()
                    results[who] = client.post(
                        f"/api/v1/consultations/{cid}/actions",
                        json={"action": "claim", "version": 1},
                        headers=headers,
                    )

            threads = [threading.Thread(target=claim, args=(w,)) for w in ("expert", "expert3")]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=60)
            statuses = sorted(r.status_code for r in results.values())
            assert statuses == [200, 409], [r.text for r in results.values()]
            winner = next(w for w, r in results.items() if r.status_code == 200)
            loser = next(r for r in results.values() if r.status_code == 409)
            assert loser.json()["code"] == "already_claimed"
            assert race.claims(cid) == 1
            with unit_of_work(race.factory) as session:
                row = session.get(Consultation, cid)
                assert row is not None and row.status == Status.ASSIGNED
                assert row.assignee_user_id == race.actor(session, winner).user_id
    finally:
        app.state.engine.dispose()


def test_the_claim_blocked_on_the_row_finds_it_taken(race: RaceWorld) -> None:
    """Both read version 1; the first claims and holds the row, the second's conditional
    UPDATE waits on it and, once the first commits, changes nothing: already claimed."""
    cid = race.new_case()
    first = race.factory()
    second = race.factory()
    outcome: dict[str, BaseException | Consultation] = {}
    try:
        a = race.actor(first, "expert")
        b = race.actor(second, "expert3")
        service.get(first, a, cid)
        service.get(second, b, cid)
        service.act(first, a, cid, ActIn(action=Action.CLAIM, version=1), race.settings)

        def late() -> None:
            try:
                outcome["second"] = service.act(
                    second, b, cid, ActIn(action=Action.CLAIM, version=1), race.settings
                )
            except BaseException as exc:  # collected for the assertion below
                outcome["second"] = exc

        thread = threading.Thread(target=late)
        thread.start()
        time.sleep(0.5)  # the second now waits for the first's row lock
        assert thread.is_alive()
        first.commit()
        thread.join(timeout=30)
        error = outcome["second"]
        assert isinstance(error, Conflict) and error.code == "already_claimed"
        second.rollback()
    finally:
        first.close()
        second.close()
    assert race.claims(cid) == 1
    with unit_of_work(race.factory) as session:
        row = session.get(Consultation, cid)
        assert row is not None and (row.status, row.version) == (Status.ASSIGNED, 2)
