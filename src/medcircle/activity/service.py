"""Importing hospital activity: every row of a file checked, the good ones staged and merged,
the whole file refused or its bad rows set aside, and a row-by-row report kept.

A CSV or Parquet file goes first through the fast lane (``columnar``: a batch of rows at a time,
checked as columns); a file it cannot take whole, any file with a bad row among them, and Excel
workbooks are read row by row, which finds every problem with its line.

All or nothing by default: the checked rows go to a temporary table of the connection as they
are read (a file's rows are never all in memory; only their keys are, to find a record twice
in the file) and are merged into ``activity_record`` at the end, inside a savepoint; a bad row
anywhere stops the writing and rolls the savepoint back, and the import itself is kept, refused,
with its report. With ``quarantine`` the good rows go in and the bad ones are kept aside with
their errors (ID-number lookalikes masked). A record is known by its institution and the
hospital's record id: a row equal to what is stored changes nothing, a different one corrects it
(counted as updated).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any, BinaryIO, cast

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    case,
    exists,
    func,
    insert,
    not_,
    select,
    update,
)
from sqlalchemy.orm import Session

from medcircle.activity import summary
from medcircle.activity.domain import (
    ActivityRow,
    Checks,
    DuplicateCheck,
    RowError,
    check_header,
    parse_row,
    redacted,
)
from medcircle.activity.models import ActivityImport, ActivityQuarantine, ActivityRecord
from medcircle.activity.readers import DEFAULT_MAX_BYTES, FileKind, ReadError, open_table
from medcircle.activity.readers import Table as _ReadTable
from medcircle.audit import service as audit
from medcircle.audit.domain import Outcome
from medcircle.auth.domain import Actor, Permission
from medcircle.kit import clock
from medcircle.kit.clock import CST
from medcircle.kit.errors import Forbidden, NotFound
from medcircle.kit.i18n import N_
from medcircle.referrals import icd10
from medcircle.registry.models import Department, Division, Institution, SpecialtyRow

# rows staged per batch
CHUNK = 5_000
# row errors kept in an import's report (the total is always counted)
REPORT_LIMIT = 1_000
# the columns of a record compared to tell an unchanged row from a correction
_COMPARED = (
    "department",
    "type",
    "start_on",
    "end_on",
    "residence_code",
    "age_band",
    "icd10",
    "cost_fen",
    "referral",
    "specialty_code",
)


_RECORD = cast(Table, ActivityRecord.__table__)
_QUARANTINE = cast(Table, ActivityQuarantine.__table__)


class ImportMode(StrEnum):
    ALL_OR_NOTHING = "all_or_nothing"
    QUARANTINE = "quarantine"


class ImportStatus(StrEnum):
    IMPORTED = "imported"
    REFUSED = "refused"


@dataclass
class _Tally:
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    errors_total: int = 0
    report: list[dict[str, Any]] = field(default_factory=list)

    def note(self, errors: Iterable[RowError]) -> None:
        for e in errors:
            self.errors_total += 1
            if len(self.report) < REPORT_LIMIT:
                self.report.append(
                    {"line": e.line, "column": e.column, "code": e.code, "message": e.message}
                )


def _institutions(session: Session, actor: Actor) -> dict[str, int]:
    """The institutions the actor may import activity for, by code: their own, or every one
    for those who may manage the whole registry."""
    query = select(Institution.code, Institution.id)
    if not actor.can(Permission.REGISTRY_MANAGE_ALL):
        query = query.where(Institution.id == actor.institution_id)
    return {code: id_ for code, id_ in session.execute(query)}


def _divisions(session: Session) -> frozenset[str]:
    return frozenset(session.scalars(select(Division.code)))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# the checked rows are first written to a temporary table of the connection (PostgreSQL's COPY,
# SQLite's executemany), then merged with a few set-based statements: the look-up, the
# comparison and the writes of a million rows are the database's work, not a statement per
# chunk. Temporary tables are the connection's own, so app processes importing at once never
# see each other's.
_STAGED = ("institution_id", "record_id", *_COMPARED, "import_id")
# built from the constant column names above, never from input
_SQLITE_STAGE_INSERT = (
    f"INSERT INTO activity_stage ({', '.join(_STAGED)}) "  # noqa: S608
    f"VALUES ({', '.join('?' for _ in _STAGED)})"
)
_PG_STAGE_COPY = f"COPY activity_stage ({', '.join(_STAGED)}) FROM STDIN"
_PG_STAGE_COPY_CSV = _PG_STAGE_COPY + " (FORMAT csv)"
_STAGE = Table(
    "activity_stage",
    MetaData(),
    Column("institution_id", Integer, nullable=False),
    Column("record_id", String(64), nullable=False),
    Column("department", String(64), nullable=False),
    Column("type", String(16), nullable=False),
    Column("start_on", Date, nullable=False),
    Column("end_on", Date),
    Column("residence_code", String(6), nullable=False),
    Column("age_band", String(8), nullable=False),
    Column("icd10", String(8), nullable=False),
    Column("cost_fen", BigInteger),
    Column("referral", String(32)),
    Column("specialty_code", String(32), nullable=False),
    Column("import_id", Integer, nullable=False),
    prefixes=["TEMPORARY"],
)


class _Stage:
    """The checked rows of one import, on their way into ``activity_record``."""

    def __init__(self, session: Session) -> None:
        self.connection = session.connection()
        self.postgres = self.connection.dialect.name == "postgresql"
        if not self.postgres:
            # the stage in memory, and a larger page cache for the merge (this connection's)
            self.connection.exec_driver_sql("PRAGMA temp_store=MEMORY")
            self.connection.exec_driver_sql("PRAGMA cache_size=-65536")
        _STAGE.drop(self.connection, checkfirst=True)
        _STAGE.create(self.connection)
        self.raw: Any = self.connection.connection.driver_connection
        self.staged = 0

    def add(self, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        self.staged += len(rows)
        if self.postgres:
            with self.raw.cursor() as cursor, cursor.copy(_PG_STAGE_COPY) as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            self.raw.executemany(_SQLITE_STAGE_INSERT, rows)

    def add_columns(self, staged: dict[str, Any]) -> None:
        """A batch of checked rows as columns (Arrow arrays keyed as the stage's columns)."""
        import pyarrow as pa
        import pyarrow.csv as pcsv

        from medcircle.activity.columnar import iso

        n = len(staged["record_id"])
        if not n:
            return
        self.staged += n
        if self.postgres:
            # written as CSV by Arrow and copied whole: no Python value per row
            sink = pa.BufferOutputStream()
            pcsv.write_csv(
                pa.table([staged[c] for c in _STAGED], names=list(_STAGED)),
                sink,
                pcsv.WriteOptions(include_header=False),
            )
            with self.raw.cursor() as cursor, cursor.copy(_PG_STAGE_COPY_CSV) as copy:
                copy.write(sink.getvalue().to_pybytes())
        else:
            self.raw.executemany(
                _SQLITE_STAGE_INSERT, zip(*(iso(staged[c]) for c in _STAGED), strict=True)
            )

    def drop(self) -> None:
        """The stage emptied and dropped, nothing merged."""
        _STAGE.drop(self.connection)

    def merge(
        self, tally: _Tally, staged_sums: Callable[[], dict[summary.Key, list[int]]] | None = None
    ) -> None:
        """Compare the staged rows with what is stored: count the equal ones, correct the
        different ones, insert the new ones. ``staged_sums`` gives the summary's deltas of all
        the staged rows, when they were summed as they were staged (used when every staged row
        is written)."""
        r, s = _RECORD.c, _STAGE.c
        same_key = and_(r.institution_id == s.institution_id, r.record_id == s.record_id)
        equal = and_(*(r[c].is_not_distinct_from(s[c]) for c in _COMPARED))
        conn = self.connection
        # counted before writing (rowcounts of these statements are not reliable everywhere)
        matched, unchanged = conn.execute(
            select(func.count(), func.count(case((equal, 1)))).select_from(
                _STAGE.join(_RECORD, same_key)
            )
        ).one()
        # the summary's deltas: out with what the changed records were, in with what is written
        changes = summary.new_deltas()
        fields = (
            "institution_id",
            "type",
            "start_on",
            "end_on",
            "residence_code",
            "cost_fen",
            "specialty_code",
        )
        if matched > unchanged:
            summary.deltas(
                conn,
                select(*(r[c] for c in fields))
                .select_from(_STAGE.join(_RECORD, same_key))
                .where(not_(equal)),
                -1,
                changes,
            )
        if self.staged > unchanged:
            if staged_sums is not None and not unchanged:
                # every staged row is written: their sums are the deltas
                for key, sums in staged_sums().items():
                    changes[key] = [a + b for a, b in zip(changes[key], sums, strict=True)]
            else:
                written = select(*(s[c] for c in fields))
                if unchanged:
                    # (with none unchanged, every staged row is written)
                    written = written.where(~exists().where(same_key, equal))
                summary.deltas(conn, written, 1, changes)
        if matched > unchanged:
            conn.execute(
                update(_RECORD)
                .where(same_key, not_(equal))
                .values({c: s[c] for c in (*_COMPARED, "import_id")})
            )
        if self.staged > matched:
            conn.execute(
                insert(_RECORD).from_select(
                    list(_STAGED),
                    select(*(s[c] for c in _STAGED)).where(
                        ~exists().where(
                            r.institution_id == s.institution_id, r.record_id == s.record_id
                        )
                    ),
                )
            )
        summary.apply(conn, changes)
        tally.unchanged += unchanged
        tally.updated += matched - unchanged
        tally.inserted += self.staged - matched
        _STAGE.drop(conn)


class _Specialties:
    """The specialty a department stands for, per institution: the name of one of the
    institution's registered departments (Chinese or English), a specialty's code, or a
    specialty's name, in that order; '' when nothing matches. Case and surrounding spaces do
    not count. Cached per department name for the import."""

    def __init__(self, session: Session, institution_ids: Iterable[int]) -> None:
        self.catalogue: dict[str, str] = {}
        for code, zh, en in session.execute(
            select(SpecialtyRow.code, SpecialtyRow.name_zh, SpecialtyRow.name_en)
        ):
            for name in (en, zh, code):
                self.catalogue[name.strip().casefold()] = code
        self.departments: dict[tuple[int, str], str] = {}
        for iid, zh, en, code in session.execute(
            select(
                Department.institution_id,
                Department.name_zh,
                Department.name_en,
                Department.specialty_code,
            ).where(Department.institution_id.in_(list(institution_ids)))
        ):
            for name in (en, zh):
                self.departments[(iid, name.strip().casefold())] = code
        self.found: dict[tuple[int, str], str] = {}

    def of(self, institution_id: int, department: str) -> str:
        key = (institution_id, department)
        found = self.found.get(key)
        if found is None:
            name = department.strip().casefold()
            found = self.departments.get((institution_id, name)) or self.catalogue.get(name, "")
            if len(self.found) < _SPECIALTY_CACHE:
                self.found[key] = found
        return found


_SPECIALTY_CACHE = 100_000


def _staged(
    row: ActivityRow, institution_id: int, import_id: int, iso: bool, specialty: str
) -> tuple[Any, ...]:
    """A row as the stage takes it (dates as text for SQLite, as it stores them)."""
    start: Any = row.start_on.isoformat() if iso else row.start_on
    end: Any = row.end_on
    if iso and end is not None:
        end = end.isoformat()
    return (
        institution_id,
        row.record_id,
        row.department,
        row.type.value,
        start,
        end,
        row.residence,
        row.age_band,
        row.icd10,
        row.cost_fen,
        row.referral,
        specialty,
        import_id,
    )


def import_file(
    session: Session,
    actor: Actor,
    path: Path,
    *,
    file_name: str | None = None,
    mode: ImportMode = ImportMode.ALL_OR_NOTHING,
    encoding: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    institution: str | None = None,
    today: date | None = None,
    on_rows: Callable[[int], None] | None = None,
) -> ActivityImport:
    """Import one file of encounter records for the actor's institution (or any, for a platform
    administrator): every row checked; refused whole on any bad row unless ``mode`` is
    quarantine; the import, its counts and its report kept either way, and audited.

    ``institution`` (a code) narrows the rows to one institution the actor may import for.
    ``on_rows`` is told how many rows have been read so far, now and then (a progress bar)."""
    if not actor.can(Permission.ACTIVITY_IMPORT):
        raise Forbidden()
    started = clock.now()
    name = file_name or path.name
    allowed = _institutions(session, actor)
    if institution is not None:
        if institution not in allowed:
            raise NotFound(
                N_("No institution %(institution)s that you may import for."),
                institution=institution,
            )
        allowed = {institution: allowed[institution]}
    size = path.stat().st_size
    record = ActivityImport(
        institution_id=(
            next(iter(allowed.values())) if len(allowed) == 1 else actor.institution_id or None
        ),
        uploaded_by_user_id=actor.user_id or None,
        file_name=name[:255],
        kind=None,
        encoding=None,
        size_bytes=size,
        # not read for a file the reader will refuse as too large
        sha256=_sha256(path) if size <= max_bytes else "",
        mode=mode.value,
        status=ImportStatus.REFUSED.value,
        report=[],
        started_at=started,
        finished_at=started,
    )
    session.add(record)
    session.flush()
    tally = _Tally()
    checks = Checks(
        institutions=frozenset(allowed),
        divisions=_divisions(session),
        today=today or started.astimezone(CST).date(),
        is_icd10=icd10.is_valid,
    )
    # what is learnt inside the savepoint is set on the import after it: a rollback expires
    # what was changed within it
    kind: str | None = None
    found_encoding: str | None = None
    failure: dict[str, Any] | None = None
    savepoint = session.begin_nested()
    try:
        table = open_table(path, name=name, encoding=encoding, max_bytes=max_bytes)
        kind, found_encoding = table.kind.value, table.encoding
        header = check_header(table.columns)
        if header:
            tally.note(header)
        elif table.kind is FileKind.XLSX or not _import_columns(
            session, path, table, checks, allowed, record.id, tally, on_rows
        ):
            if table.kind is not FileKind.XLSX:
                # read again row by row, which finds and reports each problem with its line
                table = open_table(path, name=name, encoding=encoding, max_bytes=max_bytes)
            _import_rows(session, table.rows, checks, allowed, record.id, mode, tally, on_rows)
    except ReadError as e:
        failure = {"code": e.code, "message": e.message, "line": e.line}
    failed = failure is not None or bool(tally.errors_total and mode is ImportMode.ALL_OR_NOTHING)
    if failed:
        savepoint.rollback()
        tally.inserted = tally.updated = tally.unchanged = tally.quarantined = 0
    else:
        savepoint.commit()
    record.status = (ImportStatus.REFUSED if failed else ImportStatus.IMPORTED).value
    record.kind, record.encoding, record.failure = kind, found_encoding, failure
    record.rows_read = tally.read
    record.rows_inserted = tally.inserted
    record.rows_updated = tally.updated
    record.rows_unchanged = tally.unchanged
    record.rows_quarantined = tally.quarantined
    record.errors_total = tally.errors_total
    record.report = tally.report
    record.finished_at = clock.now()
    session.flush()
    audit.record(
        session,
        actor,
        "activity.import",
        object_type="activity_import",
        object_id=record.id,
        outcome=Outcome.SUCCESS if not failed else Outcome.FAILURE,
        detail={
            "file": record.file_name,
            "status": record.status,
            "rows": tally.read,
            "inserted": record.rows_inserted,
            "updated": record.rows_updated,
            "unchanged": record.rows_unchanged,
            "quarantined": record.rows_quarantined,
            "errors": tally.errors_total,
        },
    )
    return record


def _import_columns(
    session: Session,
    path: Path,
    table: _ReadTable,
    checks: Checks,
    allowed: dict[str, int],
    import_id: int,
    tally: _Tally,
    on_rows: Callable[[int], None] | None,
) -> bool:
    """A CSV or Parquet file imported a batch of rows at a time, checked as columns (see
    ``columnar``); False, with nothing staged, when the fast lane declines the file. The row
    reader's file, opened for the header, is closed unread."""
    from medcircle.activity import columnar

    close = getattr(table.rows, "close", None)
    if close is not None:
        close()
    specialties = _Specialties(session, allowed.values())
    lane = columnar.Lane.of(table, checks, allowed, specialties.of)
    if lane is None:
        return False
    stage = _Stage(session)
    try:
        for columns in columnar.batches(path, table):
            stage.add_columns(lane.staged(columns, import_id))
            tally.read += len(next(iter(columns.values())))
            if on_rows is not None:
                on_rows(tally.read)
    except columnar.Declined:
        stage.drop()
        tally.read = 0
        return False
    stage.merge(tally, lane.sums)
    return True


def _import_rows(
    session: Session,
    rows: Iterator[tuple[int, dict[str, str | None]]],
    checks: Checks,
    allowed: dict[str, int],
    import_id: int,
    mode: ImportMode,
    tally: _Tally,
    on_rows: Callable[[int], None] | None,
) -> None:
    duplicates = DuplicateCheck()
    specialties = _Specialties(session, allowed.values())
    stage = _Stage(session)
    iso = not stage.postgres
    chunk: list[tuple[Any, ...]] = []
    aside: list[dict[str, Any]] = []
    # once a row is bad in all-or-nothing mode nothing more is written, only checked
    writing = True
    for line, values in rows:
        tally.read += 1
        parsed = parse_row(line, values, checks)
        if isinstance(parsed, ActivityRow):
            twice = duplicates.see(parsed)
            errors = [twice] if twice is not None else []
        else:
            errors = parsed
        if errors:
            tally.note(errors)
            if mode is ImportMode.QUARANTINE:
                tally.quarantined += 1
                aside.append(
                    {
                        "import_id": import_id,
                        "line": line,
                        "values": redacted(values),
                        "errors": [
                            {"column": e.column, "code": e.code, "message": e.message}
                            for e in errors
                        ],
                    }
                )
            else:
                writing = False
                chunk.clear()
        elif writing:
            assert isinstance(parsed, ActivityRow)
            iid = allowed[parsed.institution]
            chunk.append(
                _staged(parsed, iid, import_id, iso, specialties.of(iid, parsed.department))
            )
        if len(chunk) >= CHUNK:
            stage.add(chunk)
            chunk = []
        if len(aside) >= CHUNK:
            session.connection().execute(insert(_QUARANTINE), aside)
            aside = []
        if on_rows is not None and tally.read % CHUNK == 0:
            on_rows(tally.read)
    if writing:
        stage.add(chunk)
        stage.merge(tally)
    if aside:
        session.connection().execute(insert(_QUARANTINE), aside)
    if on_rows is not None:
        on_rows(tally.read)


def import_upload(
    session: Session, actor: Actor, source: BinaryIO, file_name: str, **options: Any
) -> ActivityImport:
    """An uploaded file imported as :func:`import_file` does, from a copy kept only for the
    time of the import."""
    name = Path(file_name or "upload").name
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        with path.open("wb") as out:
            shutil.copyfileobj(source, out)
        return import_file(session, actor, path, file_name=name, **options)


def get_import(session: Session, actor: Actor, import_id: int) -> ActivityImport:
    """One import with its report: the importer's institution's, or any for a platform
    administrator."""
    found = session.get(ActivityImport, import_id)
    if found is None or not _may_see(actor, found):
        raise NotFound()
    return found


def _may_see(actor: Actor, found: ActivityImport) -> bool:
    if not actor.can(Permission.ACTIVITY_IMPORT):
        return False
    return actor.can(Permission.REGISTRY_MANAGE_ALL) or found.institution_id == actor.institution_id


def list_imports(session: Session, actor: Actor, limit: int = 50) -> list[ActivityImport]:
    """The latest imports the actor may see, newest first."""
    if not actor.can(Permission.ACTIVITY_IMPORT):
        raise Forbidden()
    query = select(ActivityImport).order_by(
        ActivityImport.started_at.desc(), ActivityImport.id.desc()
    )
    if not actor.can(Permission.REGISTRY_MANAGE_ALL):
        query = query.where(ActivityImport.institution_id == actor.institution_id)
    return list(session.scalars(query.limit(limit)))


def quarantined(session: Session, actor: Actor, import_id: int) -> list[ActivityQuarantine]:
    """The rows an import set aside, in the order of the file."""
    get_import(session, actor, import_id)
    return list(
        session.scalars(
            select(ActivityQuarantine)
            .where(ActivityQuarantine.import_id == import_id)
            .order_by(ActivityQuarantine.line)
        )
    )
