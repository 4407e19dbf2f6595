"""medcircle timers: run the due timers and send the due email from a worker of its own."""

from __future__ import annotations

import contextlib
import signal
import threading
from types import FrameType

import typer
from rich.console import Console

from medcircle.config import get_settings
from medcircle.db import make_engine, make_session_factory
from medcircle.tasks.runner import Runner, run_round

app = typer.Typer(
    help="Timers (escalations, reminders) and queued email. Every app process runs them every "
    "timer_interval_seconds; this command is for deployments that prefer a separate worker.",
    no_args_is_help=True,
)
console = Console()
DEFAULT_INTERVAL_S = 30.0


@app.command("run")
def run(
    once: bool = typer.Option(False, "--once", help="one round, print what it did, and exit"),
    interval: float | None = typer.Option(
        None,
        min=0.1,
        help="seconds between rounds (default: timer_interval_seconds, or 30 when that is 0)",
    ),
) -> None:
    """Run the due timers and send the due email: once, or every few seconds until stopped
    (Ctrl-C or SIGTERM end it after the round under way)."""
    settings = get_settings()
    engine = make_engine(settings.database_url, pool_size=2, max_overflow=2)
    factory = make_session_factory(engine, writes=True)
    try:
        if once:
            result = run_round(factory, settings)
            console.print(f"Ran {result.timers} timers, sent {result.emails} emails.")
            if not settings.smtp_host:
                console.print("No SMTP host is set: email stays queued.")
            return
        every = interval or settings.timer_interval_seconds or DEFAULT_INTERVAL_S
        runner = Runner(factory, settings, interval=every)

        def _stop(signum: int, frame: FrameType | None) -> None:
            runner.stop(timeout=0)

        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _stop)
        console.print(f"Running timers and email every {every:g} s (Ctrl-C to stop).")
        with contextlib.suppress(KeyboardInterrupt):
            runner.loop()
        console.print(f"Stopped after {runner.rounds} rounds.")
    finally:
        engine.dispose()
