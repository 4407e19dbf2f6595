"""The background runner: started by the app's lifespan when the settings ask for it, stopped
on shutdown, running timers and email from the database, surviving failed rounds."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from medcircle.config import Settings
from medcircle.db import make_engine, make_session_factory, unit_of_work
from medcircle.kit import clock
from medcircle.main import create_app
from medcircle.notifications.models import OutgoingEmail
from medcircle.notifications.service import queue_email
from medcircle.tasks import service
from medcircle.tasks.runner import Runner
from tests.integration.notifications.smtp import smtp_server
from tests.integration.tasks.conftest import Committed
from tests.integration.tasks.handlers import COUNT

INTERVAL = 0.05


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not within the time limit"
        time.sleep(0.02)


def settings_for(committed: Committed, tmp_path: Path, **kw: object) -> Settings:
    values: dict[str, object] = {
        "database_url": committed.url,
        "data_dir": tmp_path / "data",
        "secret_key": "runner-test-secret-key-0123456789-abcdefgh",
        "timer_interval_seconds": INTERVAL,
        **kw,
    }
    return Settings.model_validate(values)


def schedule_due(committed: Committed, subject_id: int) -> int:
    with unit_of_work(committed.factory) as session:
        timer = service.schedule(
            session, COUNT, "referral", subject_id, clock.now() - timedelta(seconds=1)
        )
        session.flush()
        return timer.id


def test_the_app_runs_due_timers_and_email_in_the_background(
    committed: Committed, tmp_path: Path
) -> None:
    with smtp_server() as server:
        settings = settings_for(committed, tmp_path, smtp_host=server.host, smtp_port=server.port)
        app = create_app(settings, engine=committed.engine)
        with TestClient(app) as client:
            background = app.state.timer_runner
            assert isinstance(background, Runner) and background.running
            assert client.get("/api/v1/ping").status_code == 200
            timer_id = schedule_due(committed, 1)
            with unit_of_work(committed.factory) as session:
                queue_email(session, "family@example.org", "转诊状态", "已预约")
            eventually(lambda: committed.runs() == {timer_id: 1})
            eventually(lambda: len(server.received) == 1)
            assert server.received[0].message["Subject"] == "转诊状态"
        # shut down with the app
        assert not background.running
        assert app.state.timer_runner is None
    with unit_of_work(committed.factory) as session:
        mail = session.scalars(select(OutgoingEmail)).one()
        assert mail.sent_at is not None


def test_no_runner_when_the_interval_is_zero(committed: Committed, tmp_path: Path) -> None:
    app = create_app(
        settings_for(committed, tmp_path, timer_interval_seconds=0), engine=committed.engine
    )
    timer_id = schedule_due(committed, 2)
    with TestClient(app) as client:
        assert app.state.timer_runner is None
        assert client.get("/api/v1/ping").status_code == 200
        time.sleep(INTERVAL * 4)
    assert timer_id not in committed.runs()


def test_the_runner_survives_failed_rounds(committed: Committed, tmp_path: Path) -> None:
    # a database without the tables: every round fails, the thread carries on
    empty = make_engine(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    broken = Runner(make_session_factory(empty, writes=True), settings_for(committed, tmp_path))
    broken.start()
    try:
        eventually(lambda: broken.failures >= 3)
        assert broken.running
    finally:
        broken.stop()
        empty.dispose()
    assert not broken.running
    assert broken.rounds >= broken.failures >= 3

    # the same runner code on a working database runs the timers
    working = Runner(committed.factory, settings_for(committed, tmp_path))
    timer_id = schedule_due(committed, 3)
    working.start()
    working.start()  # starting twice keeps one thread
    try:
        eventually(lambda: committed.runs() == {timer_id: 1})
    finally:
        working.stop()
    assert working.failures == 0


def test_the_runner_needs_a_positive_interval(committed: Committed, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="above 0"):
        Runner(committed.factory, settings_for(committed, tmp_path, timer_interval_seconds=0))
