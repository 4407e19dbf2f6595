"""The fast lane of an import: a CSV or Parquet file checked a batch of rows at a time, column
by column (Arrow arrays), and handed to the stage a batch at a time.

It decides nothing on its own. Every distinct value of a column is checked by ``parse_row``
itself (a probe: a valid row with that one value in place), once an import; the checks that
join two columns (a stay does not end before it starts, a visit ends the day it starts) are the
same comparisons over whole columns; and in the two columns where most values differ, record ids
and costs, a value is taken as it is only in a plain form that ``parse_row`` would take
unchanged (any other value is probed too). A file the lane cannot take whole (a bad row, a
record given twice, a line the Arrow reader reads otherwise, a Parquet column of a type it does
not convert) is declined, and the import reads it again row by row, which reports each problem
with its line. So the lane is only faster: what it stages is what the rows would have staged.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from medcircle.activity.domain import COLUMNS, ActivityRow, Checks, column_key, parse_row
from medcircle.activity.readers import FileKind, Table, ascii_compatible

# rows a Parquet batch holds; bytes a CSV block holds (a few tens of thousands of rows)
PARQUET_BATCH = 65_536
CSV_BLOCK = 1 << 22
# what is learnt of distinct values is kept up to this many a column
_CACHE_LIMIT = 100_000
# printable ASCII without spaces and at most 64 characters: a record id parse_row keeps as it is
_PLAIN_ID = r"^[!-~]{1,64}$"
# everything that may be an 18-character ID number, and more (Arrow's patterns have no
# look-around): such record ids are probed, and refused there if they are one
_ID_LIKE = r"[1-9][0-9]{5}(18|19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx]"
_ID_LENGTH = 18
# yuan with at most two decimals below ten million: parse_row's cost, read as it is
_PLAIN_COST = r"^[0-9]{1,7}(\.[0-9]{1,2})?$"
_YUAN = pa.decimal128(9, 2)
# codes of probe rows' ICD-10 value, the first the code list knows
_PROBE_ICD10 = ("A00", "A09", "J18.9", "I10")
# what a probe reads from the row it made
_FIELD: dict[str, Callable[[ActivityRow], Any]] = {
    "record_id": lambda r: r.record_id,
    "institution": lambda r: r.institution,
    "department": lambda r: r.department,
    "type": lambda r: r.type.value,
    "start_on": lambda r: r.start_on,
    "end_on": lambda r: r.end_on,
    "residence": lambda r: r.residence,
    "age_band": lambda r: r.age_band,
    "icd10": lambda r: r.icd10,
    "cost": lambda r: r.cost_fen,
    "referral": lambda r: r.referral,
}
# Parquet column types converted to text as the row path reads them
_PARQUET_TEXT = (
    pa.types.is_string,
    pa.types.is_large_string,
    pa.types.is_integer,
    pa.types.is_date32,
)


class Declined(Exception):
    """The file is not one the fast lane takes whole: the row path reads it."""


Staged = dict[str, pa.Array]


class Lane:
    """The checks of one import, applied to batches of a file's rows."""

    def __init__(
        self,
        checks: Checks,
        allowed: dict[str, int],
        specialty_of: Callable[[int, str], str],
        template: dict[str, str | None],
    ) -> None:
        self.checks = checks
        self.allowed = allowed
        self.specialty_of = specialty_of
        self.template = template
        self.learnt: dict[str, dict[str | None, Any]] = {c: {} for c in COLUMNS}
        # the record ids seen in the file, by institution
        self.seen: dict[int, set[str]] = {}
        # each batch's rows summed as the monthly summaries sum them: by start, by end
        self._starts: list[pa.Table] = []
        self._ends: list[pa.Table] = []

    @classmethod
    def of(
        cls,
        table: Table,
        checks: Checks,
        allowed: dict[str, int],
        specialty_of: Callable[[int, str], str],
    ) -> Lane | None:
        """The lane for a file, or None for a file it does not read (Excel) or checks it
        cannot probe with (no institution, division or ICD-10 code to make a valid row)."""
        if table.kind is FileKind.XLSX or not checks.institutions or not checks.divisions:
            return None
        icd10 = next((c for c in _PROBE_ICD10 if checks.is_icd10(c)), None)
        if icd10 is None:
            return None
        template: dict[str, str | None] = {
            "record_id": "x",
            "institution": min(checks.institutions),
            "department": "x",
            "type": "inpatient",
            "start_on": "0001-01-01",
            "end_on": None,
            "residence": min(checks.divisions),
            "age_band": "<1",
            "icd10": icd10,
            "cost": None,
            "referral": None,
        }
        if not isinstance(parse_row(0, template, checks), ActivityRow):
            return None
        return cls(checks, allowed, specialty_of, template)

    def value(self, column: str, raw: str | None) -> Any:
        """What ``parse_row`` makes of one value of a column (declined if it refuses it)."""
        learnt = self.learnt[column]
        try:
            return learnt[raw]
        except KeyError:
            pass
        row = parse_row(0, {**self.template, column: raw}, self.checks)
        if not isinstance(row, ActivityRow):
            raise Declined(column)
        found = _FIELD[column](row)
        if len(learnt) < _CACHE_LIMIT:
            learnt[raw] = found
        return found

    def _mapped(
        self,
        column: str,
        values: pa.Array | None,
        n: int,
        kind: pa.DataType,
        to: Callable[[Any], Any] = lambda v: v,
    ) -> pa.Array:
        """A column's values as parse_row reads them (then ``to``), found once for each
        distinct value; an absent column is a column of empty values."""
        if values is None:
            return pa.array([to(self.value(column, None))] * n, kind)
        out = _each(values, lambda v: to(self.value(column, v)), kind)
        if values.null_count:
            empty = self.value(column, None)
            if empty is not None:
                out = pc.fill_null(out, pa.scalar(to(empty), kind))
        return out

    def _record_ids(self, values: pa.Array | None) -> pa.Array:
        if values is None:
            raise Declined("record_id")
        plain = pc.fill_null(pc.match_substring_regex(values, _PLAIN_ID), False)
        long = pc.greater_equal(pc.utf8_length(values), _ID_LENGTH)
        if pc.any(long).as_py():
            like = pc.and_(long, pc.match_substring_regex(values, _ID_LIKE))
            plain = pc.and_(plain, pc.invert(pc.fill_null(like, False)))
        return self._probe_others("record_id", values, plain, values, pa.string())

    def _costs(self, values: pa.Array | None, n: int) -> pa.Array:
        if values is None:
            return pa.nulls(n, pa.int64())
        empty = pc.fill_null(pc.equal(values, ""), True)
        plain = pc.fill_null(pc.match_substring_regex(values, _PLAIN_COST), False)
        yuan = pc.cast(pc.if_else(plain, values, pa.scalar(None, pa.string())), _YUAN)
        fen = pc.cast(pc.multiply(yuan, pa.scalar(100, pa.decimal128(3, 0))), pa.int64())
        return self._probe_others("cost", values, pc.or_(plain, empty), fen, pa.int64())

    def _probe_others(
        self, column: str, raw: pa.Array, plain: pa.Array, taken: pa.Array, kind: pa.DataType
    ) -> pa.Array:
        """``taken`` where ``plain`` holds, what parse_row makes of the raw value elsewhere."""
        others = pc.invert(plain)
        if not pc.any(others).as_py():
            return taken
        found = [self.value(column, v) for v in pc.filter(raw, others).to_pylist()]
        return pc.replace_with_mask(taken, others, pa.array(found, kind))

    def staged(self, columns: dict[str, pa.Array], import_id: int) -> Staged:
        """One batch of a file's columns (keyed as matched), checked: the stage's columns.
        Declined on anything the row path would report."""
        n = len(next(iter(columns.values())))
        get = columns.get
        allowed = self.allowed
        institution = self._mapped(
            "institution", get("institution"), n, pa.int32(), lambda code: allowed[code]
        )
        record_id = self._record_ids(get("record_id"))
        kind = self._mapped("type", get("type"), n, pa.string())
        start = self._mapped("start_on", get("start_on"), n, pa.date32())
        end = self._mapped("end_on", get("end_on"), n, pa.date32())
        if end.null_count < n:
            if pc.any(pc.less(end, start)).as_py():
                raise Declined("end_before_start")
            visit = pc.not_equal(kind, "inpatient")
            if pc.any(pc.and_(visit, pc.not_equal(end, start))).as_py():
                raise Declined("end_on_outpatient")
            # a visit's end day says nothing more than its start day
            end = pc.if_else(visit, pa.scalar(None, pa.date32()), end)
        department = self._mapped("department", get("department"), n, pa.string())
        staged: Staged = {
            "institution_id": institution,
            "record_id": record_id,
            "department": department,
            "type": kind,
            "start_on": start,
            "end_on": end,
            "residence_code": self._mapped("residence", get("residence"), n, pa.string()),
            "age_band": self._mapped("age_band", get("age_band"), n, pa.string()),
            "icd10": self._mapped("icd10", get("icd10"), n, pa.string()),
            "cost_fen": self._costs(get("cost"), n),
            "referral": self._mapped("referral", get("referral"), n, pa.string()),
            "specialty_code": self._specialties(institution, department),
            "import_id": pa.array([import_id] * n, pa.int32()),
        }
        self._once(institution, record_id)
        self._sum(staged)
        return staged

    def _sum(self, staged: Staged) -> None:
        """The batch summed by institution, month, type, the patients' city and specialty:
        visits and stays begun and their cost by the month they began, stays ended and their
        days by the month they ended (what ``summary.deltas`` sums in SQL)."""
        city = pc.binary_join_element_wise(
            pc.utf8_slice_codeunits(staged["residence_code"], 0, 4), "00", ""
        )
        key = {
            "institution_id": staged["institution_id"],
            "type": staged["type"],
            "city": city,
            "specialty": staged["specialty_code"],
        }
        start, end = staged["start_on"], staged["end_on"]
        begun = pa.table(
            {**key, "month": _month(start), "cost": pc.fill_null(staged["cost_fen"], 0)}
        )
        self._starts.append(_grouped(begun, "cost"))
        if end.null_count < len(end):
            ended = pa.table(
                {
                    **key,
                    "month": _month(end),
                    "days": pc.subtract(end.cast(pa.int32()), start.cast(pa.int32())),
                }
            ).filter(pc.is_valid(end))
            self._ends.append(_grouped(ended, "days"))
        if len(self._starts) >= _PARTS:
            # a file's sums stay as small as its groups, however many batches it has
            self._starts = [_summed(self._starts, "cost")]
            self._ends = [_summed(self._ends, "days")] if self._ends else []

    def sums(self) -> dict[tuple[int, str, str, str, str], list[int]]:
        """Every staged row summed: starts, ends, cost in fen and stay days by institution,
        month, type, city and specialty (the summary's deltas of a file whose rows are all
        written)."""
        out: dict[tuple[int, str, str, str, str], list[int]] = {}
        for parts, amount, at in ((self._starts, "cost", (0, 2)), (self._ends, "days", (1, 3))):
            if not parts:
                continue
            total = _summed(parts, amount)
            columns = [
                total.column(c).to_pylist() for c in (*_GROUP, f"{amount}_count", f"{amount}_sum")
            ]
            for inst, kind, city, spec, month, n, value in zip(*columns, strict=True):
                sums = out.setdefault((inst, month, kind, city, spec), [0, 0, 0, 0])
                sums[at[0]] += n
                sums[at[1]] += value or 0
        return out

    def _specialties(self, institution: pa.Array, department: pa.Array) -> pa.Array:
        """The specialty of each row's department (at its institution), found once for each
        distinct institution and department."""
        if len(pc.unique(institution)) == 1:
            iid = institution[0].as_py()
            return _each(department, lambda d: self.specialty_of(iid, d))
        # (a department's name is printable: it holds no unit separator)
        pairs = pc.binary_join_element_wise(institution.cast(pa.string()), department, "\x1f")

        def of(pair: str) -> str:
            iid, _, name = pair.partition("\x1f")
            return self.specialty_of(int(iid), name)

        return _each(pairs, of)

    def _once(self, institution: pa.Array, record_id: pa.Array) -> None:
        """Declined when a record (institution and record id) comes twice in the file."""
        ids = pc.unique(institution).to_pylist()
        for iid in ids:
            listed = (
                record_id if len(ids) == 1 else pc.filter(record_id, pc.equal(institution, iid))
            ).to_pylist()
            seen = self.seen.setdefault(iid, set())
            before = len(seen)
            seen.update(listed)
            if len(seen) - before != len(listed):
                raise Declined("duplicate_record")


_GROUP = ["institution_id", "type", "city", "specialty", "month"]
# the batches' sums kept apart before they are summed together
_PARTS = 32


def _grouped(rows: pa.Table, amount: str) -> pa.Table:
    """``rows`` by the group's columns: how many (``{amount}_count``) and the sum of
    ``amount`` (``{amount}_sum``)."""
    total = rows.group_by(_GROUP).aggregate([(amount, "count"), (amount, "sum")])
    return _named(total, amount, f"{amount}_count", f"{amount}_sum")


def _summed(parts: list[pa.Table], amount: str) -> pa.Table:
    """Batches' sums (see ``_grouped``) summed as one."""
    total = (
        pa.concat_tables(parts)
        .group_by(_GROUP)
        .aggregate([(f"{amount}_count", "sum"), (f"{amount}_sum", "sum")])
    )
    return _named(total, amount, f"{amount}_count_sum", f"{amount}_sum_sum")


def _named(total: pa.Table, amount: str, count: str, summed: str) -> pa.Table:
    """The group's columns, then the count and the sum, named as ``_grouped`` names them."""
    return pa.table(
        {
            **{k: total[k] for k in _GROUP},
            f"{amount}_count": total[count],
            f"{amount}_sum": total[summed],
        }
    )


def _month(dates: pa.Array) -> pa.Array:
    """YYYY-MM of each date."""
    return pc.utf8_slice_codeunits(dates.cast(pa.string()), 0, 7)


def _each(values: pa.Array, f: Callable[[Any], Any], kind: pa.DataType = pa.string()) -> pa.Array:
    """``f`` of each value (a null stays null), found once for each distinct value."""
    coded = values.dictionary_encode()
    return pa.array([f(v) for v in coded.dictionary.to_pylist()], kind).take(coded.indices)


def batches(path: Path, table: Table) -> Iterator[dict[str, pa.Array]]:
    """A CSV or Parquet file's rows, a batch at a time, as text columns keyed as matched.

    Declined where the Arrow readers would read the file otherwise than the row path does (a
    line with more or fewer values than the header, bytes not in the encoding, a Parquet
    column of floats, times or bytes)."""
    keys = [column_key(c) for c in table.columns]
    try:
        if table.kind is FileKind.CSV:
            yield from _csv_batches(path, table, keys)
        else:
            yield from _parquet_batches(path, keys)
    except (pa.ArrowException, UnicodeError, ValueError, OSError) as e:
        raise Declined(str(e)) from None


def _csv_batches(path: Path, table: Table, keys: list[str]) -> Iterator[dict[str, pa.Array]]:
    encoding = table.encoding or "utf-8"
    if encoding in {"utf-8", "utf-8-sig"}:
        # Arrow reads UTF-8 itself (and skips its byte-order mark); others go through a codec
        encoding = "utf8"
    elif not ascii_compatible(encoding):
        # (UTF-16 and the like: read row by row)
        raise Declined("encoding")
    if not _strictly_quoted(path, encoding, table.delimiter):
        raise Declined("quoting")
    names = [f"c{i}" for i in range(len(keys))]
    reader = pcsv.open_csv(
        path,
        read_options=pcsv.ReadOptions(
            encoding=encoding, column_names=names, skip_rows=1, block_size=CSV_BLOCK
        ),
        parse_options=pcsv.ParseOptions(delimiter=table.delimiter, newlines_in_values=True),
        convert_options=pcsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False
        ),
    )
    with reader:
        for batch in reader:
            if batch.num_rows:
                yield {key: batch.column(i) for i, key in enumerate(keys)}


def _strictly_quoted(path: Path, encoding: str, delimiter: str) -> bool:
    """Whether the lines read as Python's strict CSV reader reads them, line by line.

    Arrow's reader is lenient where the row path's refuses a line: a closing quote followed by
    more text (``"ab"c``), a carriage return alone inside a line (Arrow ends the row there).
    The second is looked for in every block; only lines with a quote can differ otherwise, and
    most files have none. A quoted value that runs over several lines is refused here too (the
    row path would refuse its line break anyway). The quote and the carriage return are bytes
    that are part of no other character in the encodings read here (ASCII-compatible ones)."""
    quoted = False
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            if _LONE_CR.search(block):
                return False
            quoted = quoted or b'"' in block
        if not quoted:
            return True
        f.seek(0)
        for raw in f:
            if b'"' in raw:
                try:
                    line = raw.decode(encoding)
                    next(csv.reader([line], delimiter=delimiter, strict=True))
                except (csv.Error, UnicodeDecodeError):
                    return False
    return True


# a carriage return not followed by a line feed (one at the end of a block is taken as one)
_LONE_CR = re.compile(rb"\r(?!\n)")


def _parquet_batches(path: Path, keys: list[str]) -> Iterator[dict[str, pa.Array]]:
    with pq.ParquetFile(path) as parquet:
        for batch in parquet.iter_batches(batch_size=PARQUET_BATCH):
            if batch.num_rows:
                yield {key: _text(batch.column(i)) for i, key in enumerate(keys)}


def _text(column: pa.Array) -> pa.Array:
    """A Parquet column as the texts the row path reads from it."""
    t = column.type
    if pa.types.is_dictionary(t):
        column = column.dictionary_decode()
        t = column.type
    if pa.types.is_null(t):
        return pa.nulls(len(column), pa.string())
    if any(is_type(t) for is_type in _PARQUET_TEXT):
        return column.cast(pa.string())
    raise Declined(f"parquet column of {t}")


def iso(values: pa.Array) -> list[Any]:
    """Dates as SQLite stores them (ISO text), other columns as they are, as Python values."""
    if pa.types.is_date32(values.type):
        values = values.cast(pa.string())
    out: list[Any] = values.to_pylist()
    return out
