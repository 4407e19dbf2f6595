"""Reading an uploaded activity file (CSV, Excel .xlsx or Parquet) into its header and rows of
raw text, streamed, so that a file of a gigabyte is never held in memory.

What the file is comes from its first bytes, checked against its name; a CSV's encoding is the
one named or found from its start (UTF-8, with or without a byte-order mark, or GB18030 for
GBK files from Chinese systems), and it is never guessed into garbage: a file it cannot tell, or
a line that is not in that encoding, is refused with the line. Values come as a user would read
them in the file: dates as ``YYYY-MM-DD``, numbers without float noise.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import warnings
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

from medcircle.activity.domain import column_key


class FileKind(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    PARQUET = "parquet"


DEFAULT_MAX_BYTES = 1 << 30
# what the encoding is told from, and the first bytes the kind is told from
SAMPLE_BYTES = 64 * 1024
PARQUET_BATCH = 10_000

_EXTENSIONS: dict[str, FileKind] = {
    ".csv": FileKind.CSV,
    ".txt": FileKind.CSV,
    ".xlsx": FileKind.XLSX,
    ".parquet": FileKind.PARQUET,
}
# what some bytes are, for a clear message when they are not what the name says
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "an Excel workbook (a zip archive)"),
    (b"PAR1", "a Parquet file"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Excel .xls workbook (or another Office file)"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
)
_WHAT = {
    FileKind.CSV: "a CSV text file",
    FileKind.XLSX: "an Excel workbook",
    FileKind.PARQUET: "a Parquet file",
}
_KIND_BYTES = {FileKind.XLSX: _MAGIC[0][0], FileKind.PARQUET: _MAGIC[1][0]}
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_ASCII_PROBE = "\r\n,\t\"'abcXYZ019 "
_STRAY_LIMIT = 40


class ReadError(Exception):
    """A file that cannot be read as activity: a stable code, a plain English message, and the
    line (as the user sees it) when the problem is at one."""

    def __init__(self, code: str, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.line = line


Rows = Iterator[tuple[int, dict[str, str | None]]]


@dataclass
class Table:
    """A file opened for reading: its kind, encoding (CSV only), the header as written, and the
    rows, read as they are iterated, each with its line as the user sees it (CSV: the physical
    line, the header being line 1; Excel: the row number; Parquet: the row index + 2) and its
    values as text keyed by the column names matched (stripped, lower case).

    Entirely empty CSV and Excel rows are skipped. The file is closed when the rows run out,
    fail, or are dropped unread."""

    kind: FileKind
    encoding: str | None
    columns: list[str]
    rows: Rows
    # a CSV's separator (a tab in Excel's "Unicode text")
    delimiter: str = ","


def kind_of(name: str, head: bytes) -> FileKind:
    """The kind of a file from its first bytes (a zip is a workbook, ``PAR1`` Parquet, anything
    else text), which must agree with its extension (.csv or .txt, .xlsx, .parquet)."""
    ext = os.path.splitext(name)[1].lower()
    named = _EXTENSIONS.get(ext)
    if named is None:
        hint = "; save it as .xlsx or CSV" if ext in {".xls", ".xlsb", ".et", ".ods"} else ""
        raise ReadError(
            "unknown_kind",
            f"The file {name!r} is not a .csv, .txt, .xlsx or .parquet file{hint}.",
        )
    found = next((what for magic, what in _MAGIC if head.startswith(magic)), None)
    if named is FileKind.CSV:
        if found is None:
            return named
    elif head.startswith(_KIND_BYTES[named]):
        return named
    raise ReadError(
        "kind_mismatch",
        f"The file {name!r} is named as {_WHAT[named]} but its content is"
        f" {found or 'text'}; save it again in the format its name says.",
    )


def detect_encoding(sample: bytes) -> str:
    """The encoding of a text file from its first bytes: ``utf-8-sig`` with a byte-order mark,
    ``utf-16`` with a UTF-16 one, ``utf-8`` if the sample is valid UTF-8, ``gb18030`` if it is
    valid GB18030 and reads as Chinese; anything else is refused rather than guessed."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    # not final: the sample may end inside a character
    try:
        codecs.getincrementaldecoder("utf-8")("strict").decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = codecs.getincrementaldecoder("gb18030")("strict").decode(sample, final=False)
    except UnicodeDecodeError:
        text = None
    if text is not None and _reads_as_chinese(text):
        return "gb18030"
    raise ReadError(
        "unknown_encoding",
        "The file's encoding is neither UTF-8 nor GBK/GB18030; name its encoding"
        " (or save it as UTF-8 CSV).",
    )


def _reads_as_chinese(text: str) -> bool:
    """Whether text decoded as GB18030 is Chinese rather than another encoding read wrongly.

    Latin-1 or Windows-1252 letters followed by ASCII decode as rare GBK-extension characters:
    real text is mostly GB2312's common characters."""
    if not _CJK.search(text):
        return False
    wide = [c for c in text if ord(c) > 0x7F]
    common = 0
    for c in wide:
        try:
            c.encode("gb2312")
            common += 1
        except UnicodeEncodeError:
            pass
    return common * 2 >= len(wide)


def open_table(
    path: Path, *, name: str, encoding: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES
) -> Table:
    """Open an uploaded file for reading: its size checked first (at most ``max_bytes``), its
    kind from its bytes and name, its header read; the rows are read as they are iterated.

    ``encoding`` names a CSV's encoding; without it the encoding is found from the start."""
    size = os.stat(path).st_size
    if size > max_bytes:
        raise ReadError(
            "file_too_large",
            f"The file is {_size(size)} ({size:,} bytes); the limit is {_size(max_bytes)}"
            f" ({max_bytes:,} bytes). Split it into smaller files.",
        )
    if size == 0:
        raise ReadError("empty_file", "The file is empty.")
    with path.open("rb") as f:
        head = f.read(SAMPLE_BYTES)
    kind = kind_of(name, head)
    if kind is FileKind.CSV:
        return _open_csv(path, head, encoding)
    if kind is FileKind.XLSX:
        return _open_xlsx(path)
    return _open_parquet(path)


def _size(n: int) -> str:
    for unit, power in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << power:
            return f"{n / (1 << power):.1f} {unit}"
    return f"{n} bytes"


class _Rows:
    """Rows that close their file when they run out, fail or are dropped unread."""

    __slots__ = ("__weakref__", "_close", "_rows")

    def __init__(self, rows: Rows, close: Callable[[], None]) -> None:
        self._rows = rows
        self._close = weakref.finalize(self, close)

    def __iter__(self) -> _Rows:
        return self

    def __next__(self) -> tuple[int, dict[str, str | None]]:
        try:
            return next(self._rows)
        except BaseException:
            self._close()
            raise

    def close(self) -> None:
        self._close()


def _keys(columns: list[str]) -> list[str]:
    return [column_key(c) for c in columns]


def _trim(values: list[str], empty: Callable[[Any], bool]) -> list[str]:
    """A header without its trailing empty cells (spreadsheets leave formatted empty ones)."""
    end = len(values)
    while end and empty(values[end - 1]):
        end -= 1
    return values[:end]


def _stray(line: int, values: Iterable[object], width: int, kind: str) -> ReadError:
    """The error of a row with a value in a column that has no header."""
    value = next(str(v) for v in values if v is not None and str(v).strip())
    if len(value) > _STRAY_LIMIT:
        value = value[: _STRAY_LIMIT - 1] + "…"
    where = "Row" if kind == "workbook" else "Line"
    return ReadError(
        f"bad_{kind}",
        f"{where} {line} has a value ({value!r}) beyond the {width} columns of the header;"
        " remove it or the column.",
        line,
    )


# --- CSV ---------------------------------------------------------------------------------------


def _codec(encoding: str) -> str:
    """The canonical name of an encoding a user named, or the refusal of an unknown one."""
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        info = None
    # codecs also holds byte-to-byte transforms (base64, zlib), which are not text encodings
    if info is None or not getattr(info, "_is_text_encoding", True):
        raise ReadError(
            "unknown_encoding",
            f"{encoding!r} is not a text encoding this platform knows; try utf-8 or gb18030.",
        )
    return info.name


def ascii_compatible(encoding: str) -> bool:
    """Whether line breaks, commas and quotes are single ASCII bytes in the encoding (UTF-8,
    GB18030, ...), so the file can be split into lines before decoding."""
    try:
        return _ASCII_PROBE.encode(encoding) == _ASCII_PROBE.encode("ascii")
    except UnicodeEncodeError:
        return False


def _open_csv(path: Path, head: bytes, encoding: str | None) -> Table:
    found = _codec(encoding) if encoding else detect_encoding(head)
    f = path.open("rb")
    try:
        lines = _text_lines(f, found)
        # a .txt file from Excel ("Unicode text") separates with tabs
        first = next(lines, "")
        delimiter = "\t" if "\t" in first and "," not in first else ","
        reader = csv.reader(_chain(first, lines), delimiter=delimiter, strict=True)
        try:
            header = next(reader, [])
        except csv.Error as e:
            raise ReadError("bad_csv", f"Line 1 cannot be read as CSV: {e}.", 1) from None
    except BaseException:
        f.close()
        raise
    columns = _trim(header, lambda v: not v.strip())
    rows = _Rows(_csv_rows(reader, _keys(columns)), f.close)
    return Table(FileKind.CSV, found, columns, rows, delimiter)


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    if first:
        yield first
    yield from rest


def _text_lines(f: IO[bytes], encoding: str) -> Iterator[str]:
    """The decoded lines of a file, a line that is not in the encoding refused with its number."""
    if encoding == "utf-8-sig":
        if f.read(len(codecs.BOM_UTF8)) != codecs.BOM_UTF8:
            f.seek(0)
        encoding = "utf-8"
    if not ascii_compatible(encoding):
        return _wide_text_lines(f, encoding)
    return _narrow_text_lines(f, encoding)


def _narrow_text_lines(f: IO[bytes], encoding: str) -> Iterator[str]:
    # a line break is the byte \n in these encodings, never part of a character, so each line
    # is decoded alone and a bad one is known by its number
    for number, raw in enumerate(f, start=1):
        try:
            yield raw.decode(encoding)
        except UnicodeDecodeError as e:
            raise ReadError(
                "encoding_mismatch",
                f"Line {number} is not valid {encoding} (byte {e.start + 1} of the line), though"
                " the lines before it are; name the file's encoding, or save it as UTF-8.",
                number,
            ) from None


def _wide_text_lines(f: IO[bytes], encoding: str) -> Iterator[str]:
    # UTF-16 and the like are decoded in blocks, so a bad byte is known only roughly
    text = io.TextIOWrapper(f, encoding=encoding, newline="")
    number = 0
    try:
        for line in text:
            number += 1
            yield line
    except UnicodeDecodeError:
        raise ReadError(
            "encoding_mismatch",
            f"The file is not valid {encoding} after line {number}; name the file's encoding,"
            " or save it as UTF-8.",
        ) from None


def _csv_rows(reader: Any, keys: list[str]) -> Rows:
    width = len(keys)
    last = reader.line_num
    while True:
        try:
            record = next(reader, None)
        except csv.Error as e:
            raise ReadError(
                "bad_csv", f"Line {last + 1} cannot be read as CSV: {e}.", last + 1
            ) from None
        if record is None:
            return
        # a record may span several physical lines (a quoted line break): it starts at the
        # line after the previous record
        line = last + 1
        last = reader.line_num
        if len(record) > width:
            if any(v.strip() for v in record[width:]):
                raise _stray(line, record[width:], width, "csv")
            del record[width:]
        # an empty line, or an empty row of a spreadsheet saved as CSV
        if not any(record) or (not record[0].strip() and not any(v.strip() for v in record)):
            continue
        if len(record) < width:
            # a short row leaves its last values out: they are empty
            yield line, dict(zip(keys, [*record, *[None] * (width - len(record))], strict=True))
        else:
            yield line, dict(zip(keys, record, strict=True))


# --- Excel -------------------------------------------------------------------------------------


def _open_xlsx(path: Path) -> Table:
    from openpyxl import load_workbook

    # a file object, not the path: openpyxl refuses paths whose names do not end in .xlsx
    f = path.open("rb")
    try:
        with warnings.catch_warnings():
            # styles and extensions openpyxl does not know are of no matter here
            warnings.simplefilter("ignore")
            try:
                book = load_workbook(f, read_only=True, data_only=True)
            except Exception as e:
                raise ReadError(
                    "bad_workbook", f"The file cannot be read as an Excel workbook ({e})."
                ) from None
        sheets = book.worksheets
        if not sheets:
            book.close()
            raise ReadError("empty_file", "The workbook has no worksheet.")
        sheet = sheets[0]
        # a sheet's recorded size is sometimes wrong (written by other tools): read every row
        sheet.reset_dimensions()
        raw = sheet.iter_rows(values_only=True)
        try:
            first = next(raw, None)
        except Exception as e:
            book.close()
            raise ReadError(
                "bad_workbook", f"Row 1 of the workbook cannot be read ({e}).", 1
            ) from None
        if first is None:
            book.close()
            raise ReadError("empty_file", "The first sheet of the workbook is empty.")
    except BaseException:
        f.close()
        raise

    def close() -> None:
        book.close()
        f.close()

    columns = _trim([_cell_text(v) or "" for v in first], lambda v: not v.strip())
    return Table(FileKind.XLSX, None, columns, _Rows(_xlsx_rows(raw, _keys(columns)), close))


def _xlsx_rows(raw: Iterator[tuple[Any, ...]], keys: list[str]) -> Rows:
    width = len(keys)
    line = 1
    while True:
        try:
            cells = next(raw, None)
        except Exception as e:
            raise ReadError(
                "bad_workbook", f"Row {line + 1} of the workbook cannot be read ({e}).", line + 1
            ) from None
        if cells is None:
            return
        # openpyxl gives an empty tuple for each missing row, so rows count from 1
        line += 1
        values = [_cell_text(v) for v in cells]
        if len(values) > width:
            if any(v and v.strip() for v in values[width:]):
                raise _stray(line, values[width:], width, "workbook")
            del values[width:]
        # (the first value settles it for almost every row)
        if not (values and values[0] and values[0].strip()) and not any(
            v and v.strip() for v in values
        ):
            continue
        if len(values) < width:
            # a row's empty cells at its end are not stored
            values += [None] * (width - len(values))
        yield line, dict(zip(keys, values, strict=True))


def _float_text(v: float, digits: int = 15) -> str:
    """A float as a spreadsheet shows it: 15 significant digits (what a double holds for sure),
    so that 123.45000000000002 reads 123.45; whole numbers without ``.0``."""
    if v.is_integer() and abs(v) < 1e21:
        return str(int(v))
    text = format(v, f".{digits}g")
    if "e" in text:
        text = format(Decimal(text), "f")
    return text


def _cell_text(v: object) -> str | None:
    """A spreadsheet or Parquet value as the text a user reads in the cell."""
    if v is None:
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return _float_text(v)
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, datetime):
        if v.time() == time(0):
            return v.date().isoformat()
        return v.replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, bytes):
        return v.decode("utf-8", errors="replace")
    return str(v)


# --- Parquet -----------------------------------------------------------------------------------


def _open_parquet(path: Path) -> Table:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as e:
        raise ReadError("bad_parquet", f"The file cannot be read as Parquet ({e}).") from None
    schema = parquet.schema_arrow
    columns = [str(n) for n in schema.names]
    if not columns:
        parquet.close()
        raise ReadError("empty_file", "The Parquet file has no columns.")
    for f in schema:
        if not _readable(f.type):
            parquet.close()
            raise ReadError(
                "bad_parquet",
                f"Column {f.name!r} of the Parquet file holds values of type {f.type},"
                " not single values.",
            )
    return Table(
        FileKind.PARQUET,
        None,
        columns,
        _Rows(_parquet_rows(parquet, _keys(columns)), parquet.close),
    )


def _parquet_rows(parquet: Any, keys: list[str]) -> Rows:
    import pyarrow as pa

    line = 2
    batches = parquet.iter_batches(batch_size=PARQUET_BATCH)
    while True:
        try:
            batch = next(batches, None)
        except (pa.ArrowException, OSError) as e:
            raise ReadError(
                "bad_parquet", f"Row {line - 1} of the Parquet file cannot be read ({e}).", line
            ) from None
        if batch is None:
            return
        columns = [_parquet_texts(batch.column(i)) for i in range(batch.num_columns)]
        for values in zip(*columns, strict=True):
            yield line, dict(zip(keys, values, strict=True))
            line += 1


def _parquet_texts(column: Any) -> list[str | None]:
    """A column of a batch as texts, converted by its type once, not per value."""
    import pyarrow as pa
    import pyarrow.compute as pc

    t = column.type
    if pa.types.is_dictionary(t):
        column = column.dictionary_decode()
        t = column.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        texts: list[str | None] = column.to_pylist()
        return texts
    if pa.types.is_null(t):
        return [None] * len(column)
    if pa.types.is_integer(t):
        return [None if v is None else str(v) for v in column.to_pylist()]
    if pa.types.is_date(t):
        return [None if v is None else v.isoformat() for v in column.to_pylist()]
    if pa.types.is_float64(t):
        return [None if v is None else _float_text(v) for v in column.to_pylist()]
    if pa.types.is_floating(t):
        # a float32 as Arrow prints it (123.45), not as the double it widens to (123.4499969)
        printed = pc.cast(column, pa.string()).to_pylist()
        return [None if v is None else _float_text(float(v)) for v in printed]
    if pa.types.is_timestamp(t) and t.unit == "ns":
        # Python's datetimes hold microseconds; the time of day is dropped anyway
        column = pc.cast(column, pa.timestamp("us", tz=t.tz), safe=False)
    return [_cell_text(v) for v in column.to_pylist()]


def _readable(t: Any) -> bool:
    """Whether a Parquet column's type holds single values that read as text."""
    import pyarrow as pa

    if pa.types.is_dictionary(t):
        t = t.value_type
    return bool(
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_null(t)
        or pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_boolean(t)
        or pa.types.is_decimal(t)
        or pa.types.is_date(t)
        or pa.types.is_timestamp(t)
        or pa.types.is_time(t)
        or pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
    )
