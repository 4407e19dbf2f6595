"""Back-off of failed timers and email, and the runner's settings (no database needed)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import sessionmaker

from medcircle.config import Settings
from medcircle.notifications import mailer
from medcircle.tasks import service
from medcircle.tasks.runner import Runner


@pytest.mark.parametrize("delay", [service.retry_delay, mailer.retry_delay], ids=["timer", "mail"])
def test_back_off_doubles_from_two_minutes(delay: object) -> None:
    assert callable(delay)
    assert [delay(n) for n in range(1, 6)] == [timedelta(minutes=m) for m in (2, 4, 8, 16, 32)]


@given(st.integers(min_value=-5, max_value=1000))
def test_back_off_grows_and_is_bounded(attempts: int) -> None:
    for delay in (service.retry_delay, mailer.retry_delay):
        assert timedelta(minutes=2) <= delay(attempts) <= timedelta(minutes=1024)
        assert delay(attempts + 1) >= delay(attempts)


def test_attempt_limits_match_the_promise() -> None:
    # timers: five tries; email: given up after six
    assert service.MAX_ATTEMPTS == 5
    assert mailer.MAX_ATTEMPTS == 6


def test_claims_outlast_a_slow_smtp_server(tmp_path: Path) -> None:
    quick = Settings(data_dir=tmp_path, smtp_timeout_seconds=10)
    slow = Settings(data_dir=tmp_path, smtp_timeout_seconds=120)
    assert mailer.claim_period(quick) == timedelta(minutes=5)
    assert mailer.claim_period(slow) == timedelta(seconds=720)


@pytest.mark.parametrize(
    ("mail_from", "domain"),
    [
        ("medcircle <no-reply@circle.example.cn>", "circle.example.cn"),
        ("ops@hospital.example", "hospital.example"),
        ("no address at all", "medcircle.invalid"),
        ("", "medcircle.invalid"),
    ],
    ids=["display-name", "bare", "no-at", "empty"],
)
def test_sender_domain(mail_from: str, domain: str) -> None:
    assert mailer.sender_domain(mail_from) == domain


def test_runner_interval_comes_from_the_settings(tmp_path: Path) -> None:
    factory = sessionmaker()
    assert Runner(factory, Settings(data_dir=tmp_path, timer_interval_seconds=12)).interval == 12
    assert Runner(factory, Settings(data_dir=tmp_path), interval=0.5).interval == 0.5
    with pytest.raises(ValueError, match="above 0"):
        Runner(factory, Settings(data_dir=tmp_path, timer_interval_seconds=0))
    not_started = Runner(factory, Settings(data_dir=tmp_path, timer_interval_seconds=1))
    assert not not_started.running
    not_started.stop()  # stopping a runner that never started is harmless
    assert not not_started.running
