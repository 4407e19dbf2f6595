"""The monthly summary of the records (``activity_month``), kept up to date by each import.

An import knows, before it writes, which stored records it will change (their old values) and
which staged rows will be written (new or corrected): the old values are taken out of the
summary and the new ones put in, as grouped deltas applied with one upsert per key. Upserts
take the row's lock on PostgreSQL, so two imports at once add up correctly; on SQLite the
writing transaction holds the database. The summary is written inside the import's savepoint,
so a refused file leaves it as it was.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from typing import cast as typed

from sqlalchemy import Connection, Integer, Select, Table, cast, func, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.elements import ColumnElement

from medcircle.activity.models import ActivityMonth

MONTH = typed(Table, ActivityMonth.__table__)
_KEY = ("institution_id", "month", "type", "residence_city")
_SUMS = ("starts", "ends", "cost_fen", "stay_days")

Key = tuple[int, str, str, str]


def month_of(column: Any, postgres: bool) -> ColumnElement[str]:
    """YYYY-MM of a date column (SQLite keeps dates as ISO text)."""
    if postgres:
        return func.to_char(column, "YYYY-MM")
    return func.substr(column, 1, 7)


def city_of(column: Any) -> ColumnElement[str]:
    """The city-level division of a 6-digit code."""
    return func.substr(column, 1, 4).concat(literal("00"))


def days_between(start: Any, end: Any, postgres: bool) -> ColumnElement[int]:
    """The days from one date column to another (SQLite keeps dates as ISO text)."""
    if postgres:
        return end - start  # type: ignore[no-any-return]
    return cast(func.julianday(end) - func.julianday(start), Integer)


def deltas(conn: Connection, rows: Select[Any], sign: int, into: dict[Key, list[int]]) -> None:
    """Add (``sign`` 1) or take out (-1) the contribution of ``rows`` (a select of
    institution_id, type, start_on, end_on, residence_code, cost_fen) to ``into``."""
    postgres = conn.dialect.name == "postgresql"
    q = rows.subquery()
    city = city_of(q.c.residence_code)
    started = month_of(q.c.start_on, postgres)
    found: Any = conn.execute(
        select(
            q.c.institution_id,
            started,
            q.c.type,
            city,
            func.count(),
            func.coalesce(func.sum(q.c.cost_fen), 0),
        ).group_by(q.c.institution_id, started, q.c.type, city)
    )
    for inst, month, kind, res, n, cost in found:
        sums = into[(inst, month, kind, res)]
        sums[0] += sign * n
        sums[2] += sign * int(cost)
    ended = month_of(q.c.end_on, postgres)
    found = conn.execute(
        select(
            q.c.institution_id,
            ended,
            q.c.type,
            city,
            func.count(),
            func.coalesce(func.sum(days_between(q.c.start_on, q.c.end_on, postgres)), 0),
        )
        .where(q.c.end_on.is_not(None))
        .group_by(q.c.institution_id, ended, q.c.type, city)
    )
    for inst, month, kind, res, n, days in found:
        sums = into[(inst, month, kind, res)]
        sums[1] += sign * n
        sums[3] += sign * int(days)


def new_deltas() -> dict[Key, list[int]]:
    return defaultdict(lambda: [0, 0, 0, 0])


def apply(conn: Connection, changes: dict[Key, list[int]]) -> None:
    """Add the deltas to the summary, creating its rows as needed (in the keys' order, so
    two imports at once lock the rows they share in the same order)."""
    params = [
        dict(zip(_KEY, key, strict=True)) | dict(zip(_SUMS, sums, strict=True))
        for key, sums in sorted(changes.items())
        if any(sums)
    ]
    if not params:
        return
    table = MONTH
    make = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = make(table)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=list(_KEY),
            set_={c: table.c[c] + stmt.excluded[c] for c in _SUMS},
        ),
        params,
    )
