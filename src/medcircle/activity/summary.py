"""The monthly summaries of the records, kept up to date by each import: ``activity_month``
(by institution, month, type and the patients' city) and ``activity_month_specialty`` (by
institution, month, type, the patients' province and the specialty).

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

from medcircle.activity.models import ActivityMonth, ActivityMonthSpecialty

MONTH = typed(Table, ActivityMonth.__table__)
BY_SPECIALTY = typed(Table, ActivityMonthSpecialty.__table__)
_KEY = ("institution_id", "month", "type", "residence_city")
_SUMS = ("starts", "ends", "cost_fen", "stay_days")
_SPECIALTY_KEY = ("institution_id", "month", "type", "residence_province", "specialty")
_SPECIALTY_SUMS = ("starts", "ends")

# institution, month, type, city of residence, specialty: the finest grain of the deltas
Key = tuple[int, str, str, str, str]


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
    institution_id, type, start_on, end_on, residence_code, cost_fen, specialty_code) to
    ``into``."""
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
            q.c.specialty_code,
            func.count(),
            func.coalesce(func.sum(q.c.cost_fen), 0),
        ).group_by(q.c.institution_id, started, q.c.type, city, q.c.specialty_code)
    )
    for inst, month, kind, res, spec, n, cost in found:
        sums = into[(inst, month, kind, res, spec)]
        sums[0] += sign * n
        sums[2] += sign * int(cost)
    ended = month_of(q.c.end_on, postgres)
    found = conn.execute(
        select(
            q.c.institution_id,
            ended,
            q.c.type,
            city,
            q.c.specialty_code,
            func.count(),
            func.coalesce(func.sum(days_between(q.c.start_on, q.c.end_on, postgres)), 0),
        )
        .where(q.c.end_on.is_not(None))
        .group_by(q.c.institution_id, ended, q.c.type, city, q.c.specialty_code)
    )
    for inst, month, kind, res, spec, n, days in found:
        sums = into[(inst, month, kind, res, spec)]
        sums[1] += sign * n
        sums[3] += sign * int(days)


def new_deltas() -> dict[Key, list[int]]:
    return defaultdict(lambda: [0, 0, 0, 0])


def apply(conn: Connection, changes: dict[Key, list[int]]) -> None:
    """Add the deltas to both summaries, creating their rows as needed (in the keys' order,
    so two imports at once lock the rows they share in the same order)."""
    by_city: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    by_specialty: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0])
    for (inst, month, kind, city, spec), sums in changes.items():
        at = by_city[(inst, month, kind, city)]
        for i, n in enumerate(sums):
            at[i] += n
        at = by_specialty[(inst, month, kind, city[:2] + "0000", spec)]
        at[0] += sums[0]
        at[1] += sums[1]
    _upsert(conn, MONTH, _KEY, _SUMS, by_city)
    _upsert(conn, BY_SPECIALTY, _SPECIALTY_KEY, _SPECIALTY_SUMS, by_specialty)


def _upsert(
    conn: Connection,
    table: Table,
    key: tuple[str, ...],
    sums: tuple[str, ...],
    changes: dict[tuple[Any, ...], list[int]],
) -> None:
    params = [
        dict(zip(key, k, strict=True)) | dict(zip(sums, v, strict=True))
        for k, v in sorted(changes.items())
        if any(v)
    ]
    if not params:
        return
    make = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = make(table)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=list(key),
            set_={c: table.c[c] + stmt.excluded[c] for c in sums},
        ),
        params,
    )
