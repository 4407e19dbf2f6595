"""Shared benchmark machinery: a fresh database, the app served by uvicorn in its own process,
and a closed-loop load generator of concurrent clients on loopback.

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


async def _load(base: str, name: str, make: RequestMaker, clients: int, total: int) -> Result:
    # aiohttp, not httpx: on this kind of machine httpx's client tops out far below the server
    latencies: list[float] = []
    errors = 0
    counter = iter(range(total))
    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(base, connector=connector, timeout=timeout) as client:

        async def worker() -> None:
            nonlocal errors
            for i in counter:
                method, path, headers, body = make(i)
                t0 = time.perf_counter()
                async with client.request(method, path, headers=headers, json=body) as r:
                    await r.read()
                    latencies.append((time.perf_counter() - t0) * 1000)
                    if r.status >= 400:
                        errors += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        seconds = time.perf_counter() - t0
    return Result(name, total, errors, seconds, latencies)


def load(
    base: str, name: str, make: RequestMaker, *, clients: int = 50, total: int = 2000
) -> Result:
    """Run ``total`` requests from ``clients`` concurrent clients (closed loop); time each."""
    return asyncio.run(_load(base, name, make, clients, total))


def median_of(runs: list[Result]) -> Result:
    """The run with the median throughput (repeat a measurement to damp noise)."""
    ordered = sorted(runs, key=lambda r: r.throughput)
    return ordered[len(ordered) // 2]


def fmt_ratio(a: float, b: float) -> str:
    return f"{(a / b * 100):.0f} %" if b else "n/a"


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
