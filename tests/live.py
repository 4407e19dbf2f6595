"""Serve an app with uvicorn on a free loopback port in a background thread (for tests that
need a real server: the browser tests, concurrency tests)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import uvicorn
from fastapi import FastAPI

START_TIMEOUT_S = 20.0


def _wait_until_up(url: str, thread: threading.Thread) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError("the live server stopped while starting")
        try:
            if httpx.get(url + "/api/v1/ping", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"the live server did not answer /api/v1/ping within {START_TIMEOUT_S} s")


@contextlib.contextmanager
def serve(app: FastAPI) -> Iterator[tuple[str, uvicorn.Server, threading.Thread]]:
    """Yields the base URL, the server and its thread; stops the server afterwards."""
    # bind first, so the port cannot be taken between choosing and serving it
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    # run() in a thread: Uvicorn installs signal handlers only on the main thread
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        _wait_until_up(url, thread)
        yield url, server, thread
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
