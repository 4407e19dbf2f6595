"""Two triagers accept the same referral at the same moment: exactly one wins, the other gets
409 ``stale``, and the history holds one acceptance. PostgreSQL only (row locks), on a
database of its own whose rows are committed, so the two sides really are two connections."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from medcircle.auth import service as auth_service
from medcircle.auth.models import User
from medcircle.config import Settings
from medcircle.db import make_engine, make_session_factory, unit_of_work
from medcircle.kit.errors import Conflict
from medcircle.main import create_app
from medcircle.referrals import service
from medcircle.referrals.domain import Action, Status
from medcircle.referrals.models import Referral, ReferralEvent
from medcircle.referrals.schemas import ReferralCreate, TransitionIn
from tests import factories
from tests import referral_factories as rf
from tests.databases import own_database

pytestmark = pytest.mark.postgres_only


@dataclass
class RaceWorld:
    url: str
    factory: sessionmaker[Session]
    settings: Settings
    tokens: dict[str, str]
    patient_id: int
    department_id: int

    def actor(self, session: Session, username: str) -> Any:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None
        return auth_service.actor_for(session, user)

    def new_referral(self) -> int:
        with unit_of_work(self.factory) as session:
            r = service.create(
                session,
                self.actor(session, "clinician"),
                ReferralCreate(
                    patient_id=self.patient_id,
                    receiver_department_id=self.department_id,
                    icd10_code="Q21.0",
                    reason="Surgical assessment",
                    clinical_summary="Echo shows VSD.",
                ),
                self.settings,
            )
            return r.id

    def accepts(self, referral_id: int) -> int:
        with unit_of_work(self.factory) as session:
            return len(
                list(
                    session.scalars(
                        select(ReferralEvent.id).where(
                            ReferralEvent.referral_id == referral_id,
                            ReferralEvent.action == "accept",
                        )
                    )
                )
            )


@pytest.fixture(scope="module")
def race(db_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RaceWorld]:
    if db_backend != "postgresql":
        # the losers here wait on PostgreSQL row locks; SQLite serialises whole transactions
        pytest.skip("concurrent acceptance is tested on PostgreSQL")
    with own_database(db_backend, tmp_path_factory.mktemp("race-db"), "race") as url:
        engine = make_engine(url)
        try:
            factory = make_session_factory(engine, writes=True)
            with unit_of_work(factory) as session:
                world = factories.small_world(session)
                cw = rf.referral_world(session, world)
                child = rf.patient(session, world.baoding)
                rf.consent(session, child, world.beijing, cw.bj_admin)
                ids = (child.id, cw.bj_paeds.id, dict(cw.tokens))
            settings = Settings(
                database_url=url,
                data_dir=Path(tmp_path_factory.mktemp("race-data")),
                secret_key=rf.TEST_SECRET,
            )
            yield RaceWorld(url, factory, settings, ids[2], ids[0], ids[1])
        finally:
            engine.dispose()


def test_two_accepts_through_the_api_one_wins(race: RaceWorld) -> None:
    app = create_app(race.settings)
    try:
        for _ in range(5):
            rid = race.new_referral()
            barrier = threading.Barrier(2)
            results: dict[str, Any] = {}

            def accept(
                who: str,
                rid: int = rid,
                barrier: threading.Barrier = barrier,
                results: dict[str, Any] = results,
            ) -> None:
                with TestClient(app) as client:
                    headers = {"Authorization": f"Bearer {race.tokens[who]}"}
                    barrier.wait()
                    results[who] = client.post(
                        f"/api/v1/referrals/{rid}/transitions",
                        json={"action": "accept", "version": 1},
                        headers=headers,
                    )

            threads = [
                threading.Thread(target=accept, args=(who,)) for who in ("bjclinician", "bjadmin")
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=60)
            statuses = sorted(r.status_code for r in results.values())
            assert statuses == [200, 409], [r.text for r in results.values()]
            loser = next(r for r in results.values() if r.status_code == 409)
            assert loser.json()["code"] == "stale_version"
            assert race.accepts(rid) == 1
    finally:
        app.state.engine.dispose()


def test_the_loser_blocked_on_the_row_gets_stale(race: RaceWorld) -> None:
    """Both read version 1; the first holds the row, the second waits on it and finds the
    version moved on when the first commits: the version column turns that into 409."""
    rid = race.new_referral()
    first = race.factory()
    second = race.factory()
    outcome: dict[str, BaseException | Referral] = {}
    try:
        a = race.actor(first, "bjclinician")
        b = race.actor(second, "bjadmin")
        service.get(first, a, rid)
        service.get(second, b, rid)
        service.transition(
            first, a, rid, TransitionIn(action=Action.ACCEPT, version=1), race.settings
        )

        def late() -> None:
            try:
                outcome["second"] = service.transition(
                    second,
                    b,
                    rid,
                    TransitionIn(action=Action.DECLINE, version=1, reason="Full"),
                    race.settings,
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
        assert isinstance(error, Conflict) and error.code == "stale_version"
        second.rollback()
    finally:
        first.close()
        second.close()
    with unit_of_work(race.factory) as session:
        row = session.get(Referral, rid)
        assert row is not None and (row.status, row.version) == (Status.ACCEPTED, 2)
        decisions = session.scalar(
            select(func.count())
            .select_from(ReferralEvent)
            .where(
                ReferralEvent.referral_id == rid,
                ReferralEvent.action.in_([Action.ACCEPT.value, Action.DECLINE.value]),
            )
        )
        assert decisions == 1
