"""Shared benchmark machinery: a fresh database, the app served by uvicorn in its own process,
and load generators of concurrent clients on loopback: closed loop (each client sends its next
request when the last is answered: the throughput a process reaches) and open loop (requests
offered at a fixed rate: the latency at that load).

Benchmarks print their figures and compare against a baseline measured in the same run (these
machines are noisy, so ratios and medians are what to read)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
# the served app's secret key (seeds that seal patient fields use the same)
BENCH_SECRET_KEY = "bench-secret-key-0123456789-abcdefghijkl"


@contextlib.contextmanager
def fresh_database(backend: str) -> Iterator[str]:
    """A new, empty database URL on ``backend`` ("sqlite" or "postgresql"), dropped afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/bench.sqlite3"
        return
    base = os.environ.get("MEDCIRCLE_TEST_DATABASE_URL", PG_DEFAULT)
    name = f"medcircle_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def postgres_available() -> bool:
    base = os.environ.get("MEDCIRCLE_TEST_DATABASE_URL", PG_DEFAULT)
    try:
        engine = create_engine(base)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def served(database_url: str, data_dir: Path) -> Iterator[str]:
    """Serve the app on a free loopback port in a separate process; yields its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "MEDCIRCLE_DATABASE_URL": database_url,
        "MEDCIRCLE_DATA_DIR": str(data_dir),
        "MEDCIRCLE_SECRET_KEY": BENCH_SECRET_KEY,
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "medcircle.main:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(base + "/api/v1/ping", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise RuntimeError("the app did not start")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class Result:
    name: str
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        data = sorted(self.latencies_ms)
        k = min(len(data) - 1, max(0, round(p / 100 * (len(data) - 1))))
        return data[k]

    def row(self) -> str:
        return (
            f"{self.name:<34} {self.throughput:>9.1f} req/s  p50 {self.pct(50):>7.1f} ms  "
            f"p95 {self.pct(95):>7.1f} ms  p99 {self.pct(99):>7.1f} ms  "
            f"errors {self.errors}/{self.requests}"
        )


RequestMaker = Callable[[int], tuple[str, str, dict[str, str], dict[str, object] | None]]


class _Tally:
    """Latencies and failures of one measurement."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors = 0

    async def request(
        self, client: aiohttp.ClientSession, make: RequestMaker, i: int, since: float
    ) -> None:
        """Send request ``i``; its latency counts from ``since``."""
        method, path, headers, body = make(i)
        async with client.request(method, path, headers=headers, json=body) as r:
            await r.read()
            self.latencies.append((time.perf_counter() - since) * 1000)
            if r.status >= 400:
                self.errors += 1


async def _load(base: str, name: str, make: RequestMaker, clients: int, total: int) -> Result:
    # aiohttp, not httpx: on this kind of machine httpx's client tops out far below the server
    tally = _Tally()
    counter = iter(range(total))
    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(base, connector=connector, timeout=timeout) as client:

        async def worker() -> None:
            for i in counter:
                await tally.request(client, make, i, time.perf_counter())

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        seconds = time.perf_counter() - t0
    return Result(name, total, tally.errors, seconds, tally.latencies)


def load(
    base: str, name: str, make: RequestMaker, *, clients: int = 50, total: int = 2000
) -> Result:
    """Run ``total`` requests from ``clients`` concurrent clients (closed loop); time each."""
    return asyncio.run(_load(base, name, make, clients, total))


async def _paced(
    base: str, name: str, make: RequestMaker, clients: int, total: int, rate: float
) -> Result:
    # open loop: request i is due at start + i / rate, whether or not earlier ones have been
    # answered; its latency counts from when it was due (no coordinated omission), so a
    # server that falls behind shows it in the figures
    tally = _Tally()
    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(base, connector=connector, timeout=timeout) as client:
        start = time.perf_counter()
        tasks = []
        for i in range(total):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(tally.request(client, make, i, due)))
        await asyncio.gather(*tasks)
        seconds = time.perf_counter() - start
    return Result(name, total, tally.errors, seconds, tally.latencies)


def load_at_rate(
    base: str, name: str, make: RequestMaker, *, rate: float, clients: int = 50, total: int = 2000
) -> Result:
    """Offer ``total`` requests at ``rate`` a second over at most ``clients`` connections
    (open loop); time each from when it was due."""
    return asyncio.run(_paced(base, name, make, clients, total, rate))


def median_of(runs: list[Result]) -> Result:
    """The run with the median throughput (repeat a measurement to damp noise)."""
    ordered = sorted(runs, key=lambda r: r.throughput)
    return ordered[len(ordered) // 2]


def fmt_ratio(a: float, b: float) -> str:
    return f"{(a / b * 100):.0f} %" if b else "n/a"


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
