"""``medcircle timers run``: one round with ``--once``, or a worker of its own until stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from medcircle.cli.main import app
from medcircle.config import get_settings
from medcircle.db import unit_of_work
from medcircle.kit import clock
from medcircle.notifications.models import OutgoingEmail
from medcircle.notifications.service import queue_email
from medcircle.tasks import service
from tests.integration.notifications.smtp import smtp_server
from tests.integration.tasks.conftest import Committed
from tests.integration.tasks.handlers import COUNT

cli = CliRunner()


@pytest.fixture
def env(committed: Committed, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    values = {"MEDCIRCLE_DATABASE_URL": committed.url, "MEDCIRCLE_TIMER_INTERVAL_SECONDS": "0"}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MEDCIRCLE_SMTP_HOST", raising=False)
    get_settings.cache_clear()
    yield values
    get_settings.cache_clear()


def test_once_runs_the_due_timers_and_says_how_many(
    committed: Committed, env: dict[str, str]
) -> None:
    with unit_of_work(committed.factory) as session:
        due = service.schedule(session, COUNT, "referral", 1, clock.now() - timedelta(minutes=1))
        service.schedule(session, COUNT, "referral", 2, clock.now() + timedelta(hours=1))
        queue_email(session, "a@example.org", "subject", "body")
    result = cli.invoke(app, ["timers", "run", "--once"])
    assert result.exit_code == 0, result.output
    assert "Ran 1 timers, sent 0 emails." in result.output
    assert "No SMTP host is set" in result.output
    assert committed.runs() == {due.id: 1}
    again = cli.invoke(app, ["timers", "run", "--once"])
    assert "Ran 0 timers" in again.output


def test_once_sends_the_queued_email(
    committed: Committed, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with unit_of_work(committed.factory) as session:
        queue_email(session, "b@example.org", "转诊已接受", "请于周一就诊。")
    with smtp_server() as server:
        monkeypatch.setenv("MEDCIRCLE_SMTP_HOST", server.host)
        monkeypatch.setenv("MEDCIRCLE_SMTP_PORT", str(server.port))
        get_settings.cache_clear()
        result = cli.invoke(app, ["timers", "run", "--once"])
        assert result.exit_code == 0, result.output
        assert "Ran 0 timers, sent 1 emails." in result.output
        assert [r.rcpt_tos for r in server.received] == [["b@example.org"]]


def test_a_worker_process_sends_until_terminated(
    committed: Committed, env: dict[str, str], tmp_path: Path
) -> None:
    medcircle = Path(sys.executable).with_name("medcircle")
    with smtp_server() as server:
        worker_env = {
            **os.environ,
            **env,
            "MEDCIRCLE_SMTP_HOST": server.host,
            "MEDCIRCLE_SMTP_PORT": str(server.port),
            "MEDCIRCLE_DATA_DIR": str(tmp_path / "data"),
        }
        worker = subprocess.Popen(
            [str(medcircle), "timers", "run", "--interval", "0.1"],
            env=worker_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            with unit_of_work(committed.factory) as session:
                queue_email(session, "c@example.org", "预约提醒", "明天 9:00")
            deadline = time.monotonic() + 30
            while not server.received and time.monotonic() < deadline:
                time.sleep(0.05)
            assert [r.rcpt_tos for r in server.received] == [["c@example.org"]]
        finally:
            worker.send_signal(signal.SIGTERM)
            output, _ = worker.communicate(timeout=30)
    assert worker.returncode == 0, output
    assert "Running timers and email every 0.1 s" in output
    assert "Stopped after" in output
    with unit_of_work(committed.factory) as session:
        assert session.scalars(select(OutgoingEmail)).one().sent_at is not None
