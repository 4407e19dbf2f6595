"""The storm of ``test_race`` on SQLite, smaller: there every writing transaction takes the
database's write lock at once (BEGIN IMMEDIATE), so the allocators run one after another; the
invariants must hold all the same, and no writer may fail for a locked database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.databases import own_database
from tests.integration.pools.test_race import Race, build_race, check_invariants, storm

THREADS = 4
STORM_SECONDS = 4.0


@pytest.fixture(scope="module")
def sqlite_race(db_backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Race]:
    if db_backend != "sqlite":
        pytest.skip("the serialised-writes run is SQLite's; PostgreSQL has test_race")
    with own_database(db_backend, Path(tmp_path_factory.mktemp("pool-race")), "pools") as url:
        r = build_race(url, threads=THREADS, patients=60, listed=30)
        try:
            yield r
        finally:
            r.engine.dispose()


def test_serialised_writers_on_sqlite_keep_every_invariant(sqlite_race: Race) -> None:
    tally = storm(sqlite_race, THREADS, STORM_SECONDS, seed=11)
    found = check_invariants(sqlite_race)
    total = sum(tally.done.values())
    print(
        f"\nsqlite storm: {THREADS} threads, {STORM_SECONDS:.0f} s: {total} writes done, "
        f"{sum(tally.refused.values())} refused, {len(tally.errors)} errors\n"
        f"done: {dict(sorted(tally.done.items()))}\nstate: {found}"
    )
    assert not tally.errors, tally.errors[:5]
    for op in ("free", "accept", "decline", "discharge"):
        assert tally.done[op] > 0, (op, tally.done)
