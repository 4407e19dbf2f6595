"""Group commit of the audit events of reads.

A request that only reads still writes its audit events (who saw which patient). Written in
the request's own transaction, every read would become a writer: on SQLite the readers would
queue for the one write lock, and a reading transaction cannot take that lock once another
connection has written. So a reading request collects its events (``defer_in``), ends its
transaction, and hands them to the process's :class:`AuditWriter`, which inserts the events of
all requests waiting at that moment in one transaction. The request answers only after that
transaction has committed: a read is never shown without its audit event, and a failure to
write the trail fails the request.

Each app process has its own writer; several processes simply commit their batches in turn.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, insert
from sqlalchemy.orm import Session, sessionmaker

from medcircle.audit.models import AuditEvent
from medcircle.db import unit_of_work, writing

log = logging.getLogger("medcircle.audit")

_AUDIT_INSERT = insert(cast(Table, AuditEvent.__table__))
DEFERRED_KEY = "medcircle.audit.deferred"
_STOP = object()


def defer_in(session: Session) -> list[dict[str, Any]]:
    """Make ``session`` collect its audit events instead of inserting them; the list."""
    rows: list[dict[str, Any]] = []
    session.info[DEFERRED_KEY] = rows
    return rows


def deferred_rows(session: Session) -> list[dict[str, Any]] | None:
    """The list collecting ``session``'s audit events, or None when they are inserted."""
    rows: list[dict[str, Any]] | None = session.info.get(DEFERRED_KEY)
    return rows


class AuditWriter:
    """One thread that inserts the audit events handed to it, many requests per transaction."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        max_batch: int = 1000,
        *,
        engine: Engine | None = None,
    ) -> None:
        """Events are written through sessions of ``factory``, or, given an ``engine`` (of
        one connection: ``make_engine(single=True)``), on a connection of the writer's own,
        kept open between batches: without a session and a pool check-out a batch costs a
        fraction of the Python work, which the requests' own work competes with."""
        self._factory = factory
        self._engine = engine
        self._bind = writing(engine) if engine is not None else None
        self._conn: Connection | None = None
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, rows: list[dict[str, Any]]) -> Future[None]:
        """Queue ``rows``; the future completes once they are committed (or failed)."""
        done: Future[None] = Future()
        self._ensure_thread()
        self._queue.put((rows, done))
        return done

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="medcircle-audit-writer", daemon=True
                )
                self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued, then stop the thread."""
        with self._lock:
            thread = self._thread
            self._thread = None
        if thread is not None and thread.is_alive():
            self._queue.put(_STOP)
            thread.join(timeout)
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._engine is not None:
            self._engine.dispose()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            stop = False
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)
            self._write(batch)
            if stop:
                return

    def _insert(self, rows: list[dict[str, Any]]) -> None:
        # plain Core over the table: the ORM's bulk path costs more than the insert
        if self._bind is None:
            with unit_of_work(self._factory) as session:
                session.connection().execute(_AUDIT_INSERT, rows)
            return
        if self._conn is None:
            self._conn = self._bind.connect()
        try:
            with self._conn.begin():
                self._conn.execute(_AUDIT_INSERT, rows)
        except Exception:
            # a broken connection is not reused: the next batch opens a new one
            self._conn.close()
            self._conn = None
            raise

    def _write(self, batch: list[tuple[list[dict[str, Any]], Future[None]]]) -> None:
        rows = [row for rows, _ in batch for row in rows]
        try:
            self._insert(rows)
        except Exception as exc:
            if len(batch) > 1:
                # one request's bad events must not fail the others: each on its own
                for item in batch:
                    self._write([item])
                return
            log.exception("could not write %d audit events", len(rows))
            batch[0][1].set_exception(exc)
            return
        for _, done in batch:
            done.set_result(None)
