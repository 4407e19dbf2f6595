"""The background runner: every ``timer_interval_seconds`` it runs the due timers and sends
the due email.

Each app process runs one, on one background thread started by the app's lifespan and
stopped on shutdown; the work itself is claimed row by row in the database, so any number of
processes can run side by side (see ``tasks.service`` and ``notifications.mailer``).
Deployments that prefer a separate worker set ``timer_interval_seconds`` to 0 and run
``medcircle timers run`` instead.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

import anyio.to_thread
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from medcircle.config import Settings
from medcircle.kit import clock
from medcircle.notifications import mailer
from medcircle.tasks import service

log = logging.getLogger("medcircle.tasks")

# modules whose import registers timer handlers
HANDLER_MODULES = (
    "medcircle.referrals.timers",
    "medcircle.consultations.timers",
    "medcircle.pools.timers",
)
STOP_TIMEOUT_S = 30.0


def load_handlers() -> None:
    """Import the modules that register the timer handlers."""
    for name in HANDLER_MODULES:
        importlib.import_module(name)


@dataclass(frozen=True)
class RoundResult:
    """What one round did."""

    timers: int
    emails: int


def run_round(
    factory: sessionmaker[Session], settings: Settings, now: datetime | None = None
) -> RoundResult:
    """Run the due timers, then send the due email (the timers may have queued some)."""
    load_handlers()
    timers = service.run_due(factory, now)
    emails = mailer.send_due(factory, settings, now or clock.now())
    return RoundResult(timers=timers, emails=emails)


class Runner:
    """Runs a round every ``interval`` seconds on a thread of its own until stopped. A failed
    round is logged and the next one comes as usual."""

    def __init__(
        self, factory: sessionmaker[Session], settings: Settings, interval: float | None = None
    ) -> None:
        self.factory = factory
        self.settings = settings
        self.interval = settings.timer_interval_seconds if interval is None else interval
        if self.interval <= 0:
            raise ValueError("the runner needs an interval above 0 seconds")
        self.rounds = 0
        self.failures = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def tick(self) -> RoundResult | None:
        """One round; None when it failed (the error is logged)."""
        try:
            result = run_round(self.factory, self.settings)
        except Exception:
            self.failures += 1
            log.exception("timer round failed; the next one follows in %s s", self.interval)
            return None
        finally:
            self.rounds += 1
        if result.timers or result.emails:
            log.info("ran %s timers, sent %s emails", result.timers, result.emails)
        return result

    def loop(self) -> None:
        """A round every ``interval`` seconds (the first after one interval, so that a process
        starting up serves its first requests first) until ``stop()``."""
        while not self._stop.wait(self.interval):
            self.tick()

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        load_handlers()  # fail at start-up, not in the background, when a module is broken
        self._thread = threading.Thread(target=self.loop, name="medcircle-timers", daemon=True)
        self._thread.start()
        log.info("timer runner started (every %s s)", self.interval)

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Ask the thread to stop and wait for the round under way to end."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():  # pragma: no cover - a round stuck on the network
                log.warning("timer runner did not stop within %s s", timeout)
            else:
                log.info("timer runner stopped")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The app's lifespan: a runner for this process while it serves, when the settings ask
    for one (``timer_interval_seconds`` above 0)."""
    settings: Settings = app.state.settings
    runner: Runner | None = None
    if settings.timer_interval_seconds > 0:
        runner = Runner(app.state.write_session_factory, settings)
        runner.start()
    app.state.timer_runner = runner
    try:
        yield
    finally:
        if runner is not None:
            # joining waits for a round under way: on a thread, never on the event loop
            await anyio.to_thread.run_sync(runner.stop)
        app.state.timer_runner = None
