"""Reading activity files: the kind from the bytes against the name, the encoding found (UTF-8
with or without a byte-order mark, GBK as GB18030, UTF-16 text from Excel) or refused, a line
in another encoding refused with its number, CSV line numbers as a user counts them, Excel and
Parquet values as a user reads them (dates as YYYY-MM-DD, numbers without float noise), the
size checked before reading, and the file closed even when its rows are never read."""

from __future__ import annotations

import gc
import warnings
import zipfile
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl import Workbook

from medcircle.activity import readers
from medcircle.activity.domain import COLUMNS, ActivityRow, Checks, check_header, parse_row
from medcircle.activity.readers import (
    FileKind,
    ReadError,
    Table,
    detect_encoding,
    kind_of,
    open_table,
)
from medcircle.referrals.icd10 import is_valid

HEADER = ",".join(COLUMNS)
LINES = [
    "OP-1,BD-A,儿科门诊,outpatient,2026-11-02,,130606,1-4,J18.9,128.50,",
    "IP-1,BD-A,新生儿科,住院,2026-11-03,2026-11-10,130602,<1,P07.3,5230,R-1",
]
ZIP = b"PK\x03\x04"
XLS = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def read(table: Table) -> list[tuple[int, dict[str, str | None]]]:
    return list(table.rows)


def refused(code: str, path: Path, name: str | None = None, **kw: object) -> ReadError:
    with pytest.raises(ReadError) as caught:
        table = open_table(path, name=name or path.name, **kw)  # type: ignore[arg-type]
        read(table)
    assert caught.value.code == code, caught.value.message
    return caught.value


# --- kinds -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "head", "kind"),
    [
        ("activity.csv", b"record_id,institution\n", FileKind.CSV),
        ("ACTIVITY.TXT", b"record_id\tinstitution\n", FileKind.CSV),
        ("activity.xlsx", ZIP + b"\x14\x00", FileKind.XLSX),
        ("activity.parquet", b"PAR1\x15\x04", FileKind.PARQUET),
    ],
)
def test_the_kind_comes_from_the_bytes_and_the_name(name: str, head: bytes, kind: FileKind) -> None:
    assert kind_of(name, head) is kind


@pytest.mark.parametrize(
    ("name", "head", "says"),
    [
        ("activity.csv", ZIP + b"\x14\x00", "an Excel workbook"),
        ("activity.csv", b"PAR1\x15\x04", "a Parquet file"),
        ("activity.txt", XLS, "an old Excel .xls workbook"),
        ("activity.xlsx", b"record_id,institution\n", "content is text"),
        ("activity.xlsx", XLS, "an old Excel .xls workbook"),
        ("activity.parquet", ZIP, "an Excel workbook"),
    ],
)
def test_bytes_that_are_not_what_the_name_says_are_refused(
    name: str, head: bytes, says: str
) -> None:
    with pytest.raises(ReadError) as caught:
        kind_of(name, head)
    assert caught.value.code == "kind_mismatch" and says in caught.value.message


@pytest.mark.parametrize(
    ("name", "hint"), [("activity.xls", True), ("activity.json", False), ("activity", False)]
)
def test_an_unknown_extension_is_refused(name: str, hint: bool) -> None:
    with pytest.raises(ReadError) as caught:
        kind_of(name, XLS)
    assert caught.value.code == "unknown_kind"
    assert ("save it as .xlsx or CSV" in caught.value.message) is hint


def test_a_csv_that_is_really_a_workbook_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "activity.csv"
    book = Workbook()
    book.active.append(list(COLUMNS))
    book.save(path)
    error = refused("kind_mismatch", path)
    assert "Excel workbook" in error.message and error.line is None


# --- encodings ---------------------------------------------------------------------------------


def test_encodings_found_from_the_start_of_a_file() -> None:
    chinese = "科室,儿科门诊,新生儿科,呼吸内科\n"
    assert detect_encoding(b"record_id,institution\n") == "utf-8"
    assert detect_encoding(chinese.encode()) == "utf-8"
    # a sample may end inside a character
    assert detect_encoding(chinese.encode()[:-2]) == "utf-8"
    assert detect_encoding(b"\xef\xbb\xbf" + chinese.encode()) == "utf-8-sig"
    assert detect_encoding(chinese.encode("utf-16")) == "utf-16"
    assert detect_encoding(chinese.encode("gbk")) == "gb18030"
    assert detect_encoding(chinese.encode("gb18030")[:-2]) == "gb18030"


@pytest.mark.parametrize(
    ("text", "department"),
    [
        # bytes that are neither UTF-8 nor GB18030
        ("record_id,department\nA,Pédiatrie ÿ\n", "Pédiatrie ÿ"),
        # Latin-1 that happens to decode as GB18030, into rare characters: not guessed
        ("record_id,department\nA,Médecine générale\nB,Pédiatrie\n", "Médecine générale"),
    ],
)
def test_an_encoding_that_cannot_be_told_is_refused(
    text: str, department: str, tmp_path: Path
) -> None:
    with pytest.raises(ReadError) as caught:
        detect_encoding(text.encode("latin-1"))
    assert caught.value.code == "unknown_encoding"
    assert "name its encoding" in caught.value.message
    path = tmp_path / "latin1.csv"
    path.write_bytes(text.encode("latin-1"))
    refused("unknown_encoding", path)
    # named, it reads
    table = open_table(path, name="latin1.csv", encoding="latin-1")
    assert table.encoding == "iso8859-1" and read(table)[0][1]["department"] == department


def write_csv(path: Path, lines: list[str], encoding: str = "utf-8", end: str = "\n") -> Path:
    path.write_bytes((end.join([HEADER, *lines]) + end).encode(encoding))
    return path


def test_a_gbk_file_is_read_without_garbling(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "gbk.csv", LINES, "gbk")
    table = open_table(path, name="gbk.csv")
    assert (table.kind, table.encoding, table.columns) == (FileKind.CSV, "gb18030", list(COLUMNS))
    rows = read(table)
    assert [line for line, _ in rows] == [2, 3]
    assert [v["department"] for _, v in rows] == ["儿科门诊", "新生儿科"]
    assert rows[1][1]["type"] == "住院"
    assert rows[0][1] == dict(zip(COLUMNS, LINES[0].split(","), strict=True))


def test_utf8_with_a_byte_order_mark(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bom.csv", LINES, "utf-8-sig", end="\r\n")
    table = open_table(path, name="bom.csv")
    assert table.encoding == "utf-8-sig" and table.columns[0] == "record_id"
    rows = read(table)
    assert rows[0][1]["record_id"] == "OP-1" and rows[1][1]["referral"] == "R-1"


def test_a_named_encoding_is_used_and_an_unknown_one_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "gbk.csv", LINES, "gbk")
    table = open_table(path, name="gbk.csv", encoding="GBK")
    assert table.encoding == "gbk" and read(table)[1][1]["department"] == "新生儿科"
    refused("unknown_encoding", path, encoding="no-such-encoding")
    refused("unknown_encoding", path, encoding="base64")


def test_a_line_in_another_encoding_later_in_the_file_is_refused_with_its_number(
    tmp_path: Path,
) -> None:
    # the start is plain ASCII (UTF-8), far beyond the sample the encoding is found from
    ascii_line = "OP-{},BD-A,PED,outpatient,2026-11-02,,130606,1-4,J18.9,10,"
    lines = [ascii_line.format(i) for i in range(3000)]
    lines.append(LINES[0])
    path = tmp_path / "mixed.csv"
    path.write_bytes("\n".join([HEADER, *lines]).encode("gbk") + b"\n")
    assert path.stat().st_size > readers.SAMPLE_BYTES
    table = open_table(path, name="mixed.csv")
    assert table.encoding == "utf-8"
    with pytest.raises(ReadError) as caught:
        read(table)
    assert caught.value.code == "encoding_mismatch" and caught.value.line == 3002
    assert "Line 3002 is not valid utf-8" in caught.value.message


def test_utf16_tab_separated_text_as_excel_saves_it(tmp_path: Path) -> None:
    path = tmp_path / "unicode.txt"
    body = "\r\n".join([HEADER, *LINES]).replace(",", "\t") + "\r\n"
    path.write_text(body, encoding="utf-16", newline="")
    table = open_table(path, name="unicode.txt")
    assert table.encoding == "utf-16" and table.columns == list(COLUMNS)
    rows = read(table)
    assert [line for line, _ in rows] == [2, 3]
    assert rows[1][1]["department"] == "新生儿科" and rows[1][1]["end_on"] == "2026-11-10"


# --- CSV lines and shapes -------------------------------------------------------------------------


def test_csv_lines_are_physical_lines_and_empty_rows_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "lines.csv"
    path.write_text(
        "\n".join(
            [
                " Record_ID ,Institution,department",  # 1
                "A,BD-A,儿科",  # 2
                "",  # 3
                ",,",  # 4
                'B,BD-A,"儿科',  # 5: a quoted line break
                '门诊"',  # 6
                "C,BD-A",  # 7: short rows leave the rest out
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    table = open_table(path, name="lines.csv")
    assert table.columns == [" Record_ID ", "Institution", "department"]
    assert read(table) == [
        (2, {"record_id": "A", "institution": "BD-A", "department": "儿科"}),
        (5, {"record_id": "B", "institution": "BD-A", "department": "儿科\n门诊"}),
        (7, {"record_id": "C", "institution": "BD-A", "department": None}),
    ]


def test_a_value_beyond_the_header_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text("a,b,\n1,2,\n3,4,  \n5,6,note\n", encoding="utf-8")
    table = open_table(path, name="wide.csv")
    assert table.columns == ["a", "b"]
    with pytest.raises(ReadError) as caught:
        read(table)
    assert (caught.value.code, caught.value.line) == ("bad_csv", 4)
    assert "'note'" in caught.value.message


def test_bad_quoting_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "quotes.csv"
    path.write_text('a,b\n1,2\n"3"x,4\n', encoding="utf-8")
    with pytest.raises(ReadError) as caught:
        read(open_table(path, name="quotes.csv"))
    assert (caught.value.code, caught.value.line) == ("bad_csv", 3)


def test_an_empty_file_and_a_file_too_large(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    refused("empty_file", empty)
    path = write_csv(tmp_path / "big.csv", LINES)
    size = path.stat().st_size
    error = refused("file_too_large", path, max_bytes=100)
    assert f"({size:,} bytes)" in error.message and "the limit is 100 bytes" in error.message
    assert read(open_table(path, name="big.csv", max_bytes=size))


def test_a_file_is_closed_even_when_its_rows_are_never_read(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", LINES)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        table = open_table(path, name="a.csv")
        del table
        gc.collect()
        rows = open_table(path, name="a.csv").rows
        next(rows)
        del rows
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


def test_a_csv_read_and_checked_end_to_end(tmp_path: Path) -> None:
    table = open_table(write_csv(tmp_path / "a.csv", LINES, "gbk"), name="a.csv")
    assert check_header(table.columns) == []
    checks = Checks(
        frozenset({"BD-A"}), frozenset({"130606", "130602"}), date(2026, 11, 30), is_valid
    )
    parsed = [parse_row(line, values, checks) for line, values in table.rows]
    assert all(isinstance(p, ActivityRow) for p in parsed)
    assert [p.department for p in parsed if isinstance(p, ActivityRow)] == ["儿科门诊", "新生儿科"]


# --- Excel -------------------------------------------------------------------------------------


def write_xlsx(path: Path, rows: list[list[object]]) -> Path:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    # a second sheet is not read
    book.create_sheet("notes").append(["not", "read"])
    book.save(path)
    return path


def test_an_excel_workbook_reads_as_a_user_sees_it(tmp_path: Path) -> None:
    # uploads are kept under names of their own: the kind comes from the name given
    path = write_xlsx(
        tmp_path / "upload-1",
        [
            [*COLUMNS, None, None],
            [
                "OP-1",
                "BD-A",
                "儿科门诊",
                "outpatient",
                datetime(2026, 11, 2),
                None,
                130606,
                "1-4",
                "J18.9",
                128.5,
                None,
            ],
            [],
            [
                "IP-1",
                "BD-A",
                "新生儿科",
                "住院",
                date(2026, 11, 3),
                datetime(2026, 11, 10, 14, 30),
                "130602",
                "<1",
                "P07.3",
                5230,
                "R-1",
            ],
            [
                1234,
                "BD-A",
                "急诊科",
                "emergency",
                "2026/11/4",
                None,
                130606,
                "65+",
                "I10",
                0.1 + 0.2,
                None,
            ],
            [None, None, None],
            [
                "OP-2",
                "BD-A",
                "儿科门诊",
                "outpatient",
                datetime(2026, 11, 5),
                None,
                130606,
                "1-4",
                "J18.9",
                5230.0,
                None,
            ],
        ],
    )
    table = open_table(path, name="activity.xlsx")
    assert (table.kind, table.encoding, table.columns) == (FileKind.XLSX, None, list(COLUMNS))
    rows = read(table)
    assert [line for line, _ in rows] == [2, 4, 5, 7]
    first, stay, visit, last = (values for _, values in rows)
    assert first == {
        "record_id": "OP-1",
        "institution": "BD-A",
        "department": "儿科门诊",
        "type": "outpatient",
        "start_on": "2026-11-02",
        "end_on": None,
        "residence": "130606",
        "age_band": "1-4",
        "icd10": "J18.9",
        "cost": "128.5",
        "referral": None,
    }
    assert (stay["start_on"], stay["end_on"], stay["cost"]) == (
        "2026-11-03",
        "2026-11-10 14:30:00",
        "5230",
    )
    assert (visit["record_id"], visit["cost"]) == ("1234", "0.3")
    assert last["cost"] == "5230"
    checks = Checks(
        frozenset({"BD-A"}), frozenset({"130606", "130602"}), date(2026, 11, 30), is_valid
    )
    parsed = [parse_row(line, values, checks) for line, values in rows]
    assert [(p.start_on, p.end_on, p.cost_fen) for p in parsed if isinstance(p, ActivityRow)] == [
        (date(2026, 11, 2), None, 12850),
        (date(2026, 11, 3), date(2026, 11, 10), 523000),
        (date(2026, 11, 4), None, 30),
        (date(2026, 11, 5), None, 523000),
    ]


def test_a_workbook_value_beyond_the_header_is_refused_with_its_row(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "a.xlsx", [["a", "b"], [1, 2], [3, 4, None, "备注"]])
    with pytest.raises(ReadError) as caught:
        read(open_table(path, name="a.xlsx"))
    assert (caught.value.code, caught.value.line) == ("bad_workbook", 3)


def test_a_zip_that_is_not_a_workbook_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("hello.txt", "hello")
    refused("bad_workbook", path)


# --- Parquet -----------------------------------------------------------------------------------


def test_a_parquet_file_reads_as_a_user_sees_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # batches smaller than the file: line numbers carry on across them
    monkeypatch.setattr(readers, "PARQUET_BATCH", 2)
    path = tmp_path / "activity.parquet"
    pq.write_table(
        pa.table(
            {
                "record_id": ["OP-1", "IP-1", "ER-1", None, "OP-2"],
                "Institution": pa.array(["BD-A"] * 5).dictionary_encode(),
                "start_on": pa.array([date(2026, 11, d) for d in range(1, 6)], pa.date32()),
                "end_on": pa.array(
                    [None, datetime(2026, 11, 10), datetime(2026, 11, 3, 8, 15), None, None],
                    pa.timestamp("ns"),
                ),
                "residence": pa.array([130606, 130602, 130606, None, 130606], pa.int64()),
                "cost": [128.5, 100.1 + 23.35, 5230.0, None, 1e-5],
                "cost32": pa.array([123.45, 0.5, 12345.67, None, 1.0], pa.float32()),
                "cost_dec": pa.array(
                    [Decimal("12.30"), None, Decimal("0.05"), None, Decimal(1)],
                    pa.decimal128(10, 2),
                ),
                "flag": [True, False, None, True, False],
                "t": pa.array([time(8, 30), None, None, None, None], pa.time64("us")),
                "nothing": pa.nulls(5),
            }
        ),
        path,
    )
    table = open_table(path, name="activity.parquet")
    assert (table.kind, table.encoding) == (FileKind.PARQUET, None)
    assert table.columns[:2] == ["record_id", "Institution"]
    rows = read(table)
    assert [line for line, _ in rows] == [2, 3, 4, 5, 6]
    values = [v for _, v in rows]
    assert [v["institution"] for v in values] == ["BD-A"] * 5
    assert [v["start_on"] for v in values] == [f"2026-11-0{d}" for d in range(1, 6)]
    assert [v["end_on"] for v in values] == [None, "2026-11-10", "2026-11-03 08:15:00", None, None]
    assert [v["residence"] for v in values] == ["130606", "130602", "130606", None, "130606"]
    assert [v["cost"] for v in values] == ["128.5", "123.45", "5230", None, "0.00001"]
    assert [v["cost32"] for v in values] == ["123.45", "0.5", "12345.67", None, "1"]
    assert [v["cost_dec"] for v in values] == ["12.30", None, "0.05", None, "1.00"]
    assert [v["flag"] for v in values] == ["true", "false", None, "true", "false"]
    assert values[0]["t"] == "08:30:00" and values[0]["nothing"] is None
    assert values[3]["record_id"] is None


def test_a_parquet_file_that_cannot_be_read_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1" + b"\x00" * 100)
    refused("bad_parquet", broken)
    nested = tmp_path / "nested.parquet"
    pq.write_table(pa.table({"record_id": ["A"], "codes": [["J18.9", "J45.0"]]}), nested)
    error = refused("bad_parquet", nested)
    assert "'codes'" in error.message
