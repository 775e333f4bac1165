"""Tests for reading rows from workbooks, CSV files and DataFrames, and writing a CSV copy."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import time
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.worksheet.worksheet import Worksheet

from merge.errors import OutputError, SheetError
from merge.problems import Problem
from merge.sheets import sheet
from merge.sheets.sheet import (
    Row,
    SheetInfo,
    added_positions,
    cell_text,
    column_letter,
    open_sheet,
    rows_from_frame,
    write_annotated,
)

STATUS = ["merge_status", "merge_errors"]
BOM = b"\xef\xbb\xbf"
OLE_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
SHEET1 = "xl/worksheets/sheet1.xml"


@pytest.fixture(autouse=True)
def _no_settle_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file here is brand new; do not wait half a second for each to settle."""
    monkeypatch.setattr(sheet, "WRITE_SETTLE_SECONDS", 0.0)


# -- helpers ----------------------------------------------------------------------------------


def write_bytes(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def read_all(path: Path, **options: Any) -> tuple[SheetInfo, list[Row]]:
    opened = open_sheet(path, **options)
    return opened.info, list(opened.rows())


def read_or_refuse(path: Path, **options: Any) -> tuple[SheetInfo, list[Row]] | SheetError:
    """Read a file; a SheetError is an answer too, while any other exception fails the test."""
    try:
        return read_all(path, **options)
    except SheetError as error:
        return error


def values_of(rows: Iterable[Row]) -> list[dict[str, str]]:
    return [row.values for row in rows]


def numbers_of(rows: Iterable[Row]) -> list[int]:
    return [row.number for row in rows]


def workbook(path: Path, fill: Callable[[Worksheet], object], title: str = "Data") -> Path:
    """Save a one-sheet workbook filled by `fill`."""
    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    ws.title = title
    fill(ws)
    book.save(path)
    return path


def table(rows: list[list[Any]]) -> Callable[[Worksheet], None]:
    def fill(ws: Worksheet) -> None:
        for row in rows:
            ws.append(row)

    return fill


def rewrite_member(path: Path, member: str, edit: Callable[[str], str]) -> None:
    """Rewrite one XML part of a workbook in place, keeping every other part as it is."""
    with zipfile.ZipFile(path) as src:
        parts = [(info, src.read(info)) for info in src.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info, data in parts:
            if info.filename == member:
                data = edit(data.decode("utf-8")).encode("utf-8")
            out.writestr(info, data)


def replacing(*pairs: tuple[str, str]) -> Callable[[str], str]:
    def edit(xml: str) -> str:
        for old, new in pairs:
            assert old in xml, f"{old!r} not in the sheet XML"
            xml = xml.replace(old, new)
        return xml

    return edit


def csv_text(rows: list[list[str]], delimiter: str = ",", lineterminator: str = "\r\n") -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator=lineterminator).writerows(rows)
    return buffer.getvalue()


# -- cell_text and column letters ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("007", "007"),
        ("  spaced  ", "  spaced  "),
        ("NA", "NA"),
        ("nan", "nan"),
        ("", ""),
        (None, ""),
        (True, "TRUE"),
        (False, "FALSE"),
        (7, "7"),
        (-3, "-3"),
        (0, "0"),
        (7.0, "7"),
        (-0.0, "0"),
        (2.5, "2.5"),
        (0.1, "0.1"),
        (0.1 + 0.2, "0.3"),
        (1 / 3, "0.333333333333333"),
        (4915112345678.0, "4915112345678"),
        (123456789012345.0, "123456789012345"),
        (float("nan"), ""),
        (dt.date(2026, 11, 24), "2026-11-24"),
        (dt.datetime(2026, 11, 24), "2026-11-24"),
        (dt.datetime(2026, 11, 24, 10, 30), "2026-11-24T10:30:00"),
        (dt.datetime(2026, 11, 24, 0, 0, 1), "2026-11-24T00:00:01"),
        (
            dt.datetime(2026, 11, 24, tzinfo=dt.timezone(dt.timedelta(hours=1))),
            "2026-11-24T00:00:00+01:00",
        ),
        (dt.time(10, 30), "10:30:00"),
        (dt.timedelta(hours=25, minutes=3, seconds=4), "25:03:04"),
        (dt.timedelta(0), "0:00:00"),
        (dt.timedelta(minutes=-90), "-1:30:00"),
    ],
)
def test_cell_text_shows_values_as_the_spreadsheet_does(value: Any, text: str) -> None:
    assert cell_text(value) == text


@pytest.mark.parametrize(
    ("position", "letters"),
    [(0, "A"), (1, "B"), (25, "Z"), (26, "AA"), (27, "AB"), (701, "ZZ"), (702, "AAA")],
)
def test_column_letter(position: int, letters: str) -> None:
    assert column_letter(position) == letters


def test_sheet_info_names_columns_by_letter_in_workbooks_and_number_in_csv(tmp_path: Path) -> None:
    common: dict[str, Any] = {"columns": ("a",), "positions": (0,), "header_row": 1, "width": 1}
    assert SheetInfo(path=tmp_path, kind="xlsx", **common).column_letter(27) == "AB"
    assert SheetInfo(path=tmp_path, kind="csv", **common).column_letter(27) == "28"


# -- refusing bad input -------------------------------------------------------------------------


def assert_refused(path: Path, *fragments: str, **options: Any) -> SheetError:
    with pytest.raises(SheetError) as caught:
        read_all(path, **options)
    error = caught.value
    for fragment in fragments:
        assert fragment in error.message
    assert error.hint
    assert f"Hint: {error.hint}" in str(error)
    return error


def test_missing_file(tmp_path: Path) -> None:
    assert_refused(tmp_path / "nowhere.csv", "no such file")


def test_folder(tmp_path: Path) -> None:
    (tmp_path / "rows.csv").mkdir()
    assert_refused(tmp_path / "rows.csv", "is a folder")


@pytest.mark.parametrize(("name", "shown"), [("data.json", "'.json'"), ("data", "(none)")])
def test_unknown_suffix(tmp_path: Path, name: str, shown: str) -> None:
    error = assert_refused(write_bytes(tmp_path, name, b"a,b\n1,2\n"), "unknown file type", shown)
    assert ".xlsx" in (error.hint or "")


def test_old_xls(tmp_path: Path) -> None:
    error = assert_refused(write_bytes(tmp_path, "old.xls", OLE_MAGIC + bytes(512)), ".xls")
    assert ".xlsx" in (error.hint or "")


@pytest.mark.parametrize("suffix", [".xlsx", ".xlsm", ".XLSX"])
def test_password_protected_workbook(tmp_path: Path, suffix: str) -> None:
    path = write_bytes(tmp_path, "locked" + suffix, OLE_MAGIC + bytes(4096))
    error = assert_refused(path, "password-protected")
    assert "password" in (error.hint or "")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"PK\x03\x04 not really a zip",
        b"a,b\n1,2\n",
        b"\x00" * 100,
    ],
    ids=["empty", "zip-header-only", "text", "zeros"],
)
def test_corrupt_workbook(tmp_path: Path, data: bytes) -> None:
    error = assert_refused(write_bytes(tmp_path, "broken.xlsx", data), "not a readable workbook")
    assert "re-save" in (error.hint or "")


def test_truncated_workbook(tmp_path: Path) -> None:
    whole = workbook(tmp_path / "whole.xlsx", table([["a"], [1]])).read_bytes()
    path = write_bytes(tmp_path, "half.xlsx", whole[: len(whole) // 2])
    assert_refused(path, "not a readable workbook")


def test_zip_that_is_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "archive.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("hello.txt", "hi")
    assert_refused(path, "not a readable workbook")


def test_workbook_with_broken_sheet_xml(tmp_path: Path) -> None:
    # calamine parses a sheet's XML only when the sheet is asked for, after the workbook opened.
    path = workbook(tmp_path / "bad.xlsx", table([["a"], [1]]))
    rewrite_member(path, SHEET1, lambda xml: xml.replace("</sheetData>", "<row><c r=>"))
    assert_refused(path, "not a readable workbook")


def test_workbook_whose_zip_headers_disagree(tmp_path: Path) -> None:
    # calamine trusts the central directory; Python's zipfile (used to find formulas without a
    # saved value) also checks each member's local header, and refuses when the names differ.
    path = workbook(tmp_path / "bad.xlsx", table([["a"], [1]]))
    with zipfile.ZipFile(path) as zf:
        local_name = zf.getinfo(SHEET1).header_offset + 30
    data = bytearray(path.read_bytes())
    assert data[local_name : local_name + len(SHEET1)] == SHEET1.encode()
    data[local_name + 3] = ord("X")
    path.write_bytes(bytes(data))
    assert_refused(path, "not a readable workbook")


def test_workbook_needing_a_newer_zip_version(tmp_path: Path) -> None:
    path = workbook(tmp_path / "bad.xlsx", table([["a"], [1]]))
    data = bytearray(path.read_bytes())
    central = data.index(b"PK\x01\x02")
    data[central + 6 : central + 8] = (221).to_bytes(2, "little")  # "needs zip 22.1"
    path.write_bytes(bytes(data))
    assert_refused(path, "not a readable workbook")


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), max_size=8)
)
def test_damaged_workbook_bytes_give_rows_or_a_sheet_error(
    tmp_path: Path, flips: list[tuple[float, int]]
) -> None:
    path = tmp_path / "flipped.xlsx"
    if not path.exists():
        workbook(
            path, table([["n", "label", "double"], *[[i, f"t{i}", "=A2*2"] for i in range(9)]])
        )
    original = path.read_bytes()
    data = bytearray(original)
    for where, byte in flips:
        data[int(where * len(data))] = byte
    path.write_bytes(bytes(data))
    try:
        result = read_or_refuse(path)
    finally:
        path.write_bytes(original)
    assert not isinstance(result, SheetError) or result.hint


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    data=st.lists(
        st.sampled_from(list(b'ab,;\t|"\r\n \x00\xff\xe9\xc3\xa9\xef\xbb\xbf=')), max_size=40
    ).map(bytes),
    encoding=st.sampled_from([None, "utf-8", "utf-16", "utf-32", "cp1252", "ascii"]),
    delimiter=st.sampled_from([None, ",", ";"]),
)
def test_any_bytes_as_csv_give_rows_or_a_sheet_error(
    tmp_path: Path, data: bytes, encoding: str | None, delimiter: str | None
) -> None:
    path = tmp_path / "noise.csv"
    path.write_bytes(data)
    result = read_or_refuse(path, encoding=encoding, delimiter=delimiter)
    if isinstance(result, SheetError):
        assert result.hint
    else:
        info, rows = result
        assert info.columns
        assert all(isinstance(v, str) for row in rows for v in row.values.values())


def test_utf16_named_for_a_file_without_its_bom(tmp_path: Path) -> None:
    path = write_bytes(tmp_path, "plain.csv", b"a,b\n1,2\n")
    assert_refused(path, "is not utf-16 text", "does not start with BOM", encoding="utf-16")


def multi_sheet_book(path: Path) -> Path:
    book = openpyxl.Workbook()
    first = book.active
    assert first is not None
    first.title = "Empty"
    second = book.create_sheet("2")
    second.append(["two"])
    second.append(["x"])
    third = book.create_sheet("Third")
    third.append(["three"])
    third.append(["y"])
    book.save(path)
    return path


def test_missing_sheet_lists_the_sheets(tmp_path: Path) -> None:
    path = multi_sheet_book(tmp_path / "book.xlsx")
    error = assert_refused(path, 'no sheet "Nope"', sheet="Nope")
    assert (error.hint or "").startswith(
        'choose one of "Empty", "2", "Third", or a number from 1 to 3'
    )


@pytest.mark.parametrize("wanted", ["0", "4", "third", "-1"])
def test_sheet_index_out_of_range_or_wrong_case(tmp_path: Path, wanted: str) -> None:
    path = multi_sheet_book(tmp_path / "book.xlsx")
    error = assert_refused(path, f'no sheet "{wanted}"', sheet=wanted)
    assert '"Third"' in (error.hint or "")


def test_empty_sheet(tmp_path: Path) -> None:
    path = multi_sheet_book(tmp_path / "book.xlsx")
    assert_refused(path, 'sheet "Empty"', "the sheet is empty")


def test_sheet_chosen_by_name_then_by_number(tmp_path: Path) -> None:
    path = multi_sheet_book(tmp_path / "book.xlsx")
    info, rows = read_all(path, sheet="Third")
    assert (info.sheet_name, values_of(rows)) == ("Third", [{"three": "y"}])
    # "3" is no sheet's name, so it is the third sheet; "2" is a name, so it wins over the index.
    assert read_all(path, sheet="3")[0].sheet_name == "Third"
    info, rows = read_all(path, sheet="2")
    assert (info.sheet_name, values_of(rows)) == ("2", [{"two": "x"}])
    assert_refused(path, 'sheet "Empty"', "the sheet is empty", sheet="1")


def test_workbook_without_visible_sheet(tmp_path: Path) -> None:
    path = workbook(tmp_path / "hidden.xlsx", table([["a"], [1]]))
    rewrite_member(
        path, "xl/workbook.xml", replacing(('state="visible" r:id', 'state="hidden" r:id'))
    )
    assert_refused(path, "no visible worksheet")
    # Naming the hidden sheet still reads it.
    assert values_of(read_all(path, sheet="Data")[1]) == [{"a": "1"}]


@pytest.mark.parametrize(
    "data",
    [b"", BOM, b"\n\n\n", b"\r\n \r\n", b" , ,\n\t\n", BOM + b",,,\r\n"],
    ids=["nothing", "bom-only", "blank-lines", "crlf-spaces", "blank-cells", "bom-commas"],
)
def test_empty_csv(tmp_path: Path, data: bytes) -> None:
    assert_refused(write_bytes(tmp_path, "empty.csv", data), "the file is empty")


def test_unknown_encoding(tmp_path: Path) -> None:
    path = write_bytes(tmp_path, "a.csv", b"a,b\n1,2\n")
    error = assert_refused(path, "unknown encoding 'klingon'", encoding="klingon")
    assert "utf-8" in (error.hint or "")


def test_bytes_that_do_not_fit_the_named_encoding(tmp_path: Path) -> None:
    path = write_bytes(tmp_path, "a.csv", "name\nJos\xe9\n".encode("cp1252"))
    error = assert_refused(path, "is not utf-8", "(byte 8)", encoding="utf-8")
    assert "--encoding" in (error.hint or "")


@pytest.mark.parametrize("encoding", ["utf-8", "ascii"])
def test_bad_byte_is_located_in_the_file_not_in_a_chunk(tmp_path: Path, encoding: str) -> None:
    data = b"a,b\n" + b"xx,yy\n" * 20_000 + b"\xe9,1\n"
    path = write_bytes(tmp_path, "late.csv", data)
    bad = data.index(b"\xe9")
    assert_refused(path, f"(byte {bad})", encoding=encoding)


def test_truncated_character_at_the_end_is_located(tmp_path: Path) -> None:
    data = "a,b\n1,2\n".encode("utf-16") + b"\x00"
    path = write_bytes(tmp_path, "odd.csv", data)
    assert_refused(path, "is not utf-16 text", f"(byte {len(data) - 1})", encoding="utf-16")


def test_bytes_that_fit_neither_utf8_nor_cp1252(tmp_path: Path) -> None:
    # 0x81 is undefined in cp1252 and invalid alone in UTF-8.
    assert_refused(
        write_bytes(tmp_path, "a.csv", b"name,x\nab\x81c,1\n"), "is not cp1252 text (byte 9)"
    )


# -- headers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"a,,b\n1,2,3\n", "the header has no name in column 2"),
        (b"a, \t ,b\n1,2,3\n", "the header has no name in column 2"),
        (b",a\n1,2\n", "the header has no name in column 1"),
        (b"a,b,a\n1,2,3\n", 'the header has "a" twice (columns 1 and 3)'),
        (b"a, b ,b\n1,2,3\n", 'the header has "b" twice (columns 2 and 3)'),
    ],
)
def test_bad_csv_header(tmp_path: Path, data: bytes, message: str) -> None:
    error = assert_refused(write_bytes(tmp_path, "h.csv", data), message)
    assert error.message.startswith("h.csv: ")


def test_bad_workbook_headers_name_columns_by_letter(tmp_path: Path) -> None:
    def duplicate(ws: Worksheet) -> None:
        ws["B3"], ws["C3"], ws["D3"] = "name", "city", " name "
        ws["B4"] = "x"

    path = workbook(tmp_path / "dup.xlsx", duplicate)
    error = assert_refused(path, 'the header has "name" twice (columns B and D)')
    assert error.message.startswith('dup.xlsx, sheet "Data": ')

    path = workbook(tmp_path / "blank.xlsx", table([["a", None, "c"], [1, 2, 3]]))
    assert_refused(path, "the header has no name in column B")


def test_csv_header_names_trimmed_and_trailing_blanks_dropped(tmp_path: Path) -> None:
    path = write_bytes(tmp_path, "h.csv", b" id , name\t,, \n1,Ann,,\n2,Bob,x,\n")
    info, rows = read_all(path)
    assert info.columns == ("id", "name")
    assert info.positions == (0, 1)
    assert info.width == 2
    assert values_of(rows) == [{"id": "1", "name": "Ann"}, {"id": "2", "name": "Bob"}]
    assert rows[0].problems == ()
    assert rows[1].problems == (Problem("", "a value in column 3 has no header"),)


def test_workbook_header_trailing_blanks_dropped_and_orphans_flagged(tmp_path: Path) -> None:
    path = workbook(
        tmp_path / "w.xlsx", table([[" id ", "name ", "  "], [1, "Ann"], [2, "Bob", "x", "y"]])
    )
    info, rows = read_all(path)
    assert info.columns == ("id", "name")
    assert values_of(rows) == [{"id": "1", "name": "Ann"}, {"id": "2", "name": "Bob"}]
    assert rows[0].problems == ()
    assert rows[1].problems == (
        Problem("", "a value in column C has no header"),
        Problem("", "a value in column D has no header"),
    )


def test_short_records_are_padded_with_empty_text(tmp_path: Path) -> None:
    _, rows = read_all(write_bytes(tmp_path, "s.csv", b"a,b,c\n1\n1,2\n"), delimiter=",")
    assert values_of(rows) == [{"a": "1", "b": "", "c": ""}, {"a": "1", "b": "2", "c": ""}]


# -- reading workbooks --------------------------------------------------------------------------


def test_workbook_values_as_text(tmp_path: Path) -> None:
    header = ["id", "zip", "day", "at", "clock", "n", "f", "sum", "third", "yes", "no", "phone"]
    path = workbook(
        tmp_path / "v.xlsx",
        table(
            [
                header,
                [
                    7.0,
                    "02134",
                    dt.date(2026, 11, 24),
                    dt.datetime(2026, 11, 24, 10, 30),
                    dt.time(10, 30),
                    -3,
                    0.1,
                    0.1 + 0.2,
                    1 / 3,
                    True,
                    False,
                    4915112345678,
                ],
            ]
        ),
    )
    info, rows = read_all(path)
    assert info.kind == "xlsx"
    assert info.sheet_name == "Data"
    assert info.header_row == 1
    assert [row.number for row in rows] == [2]
    assert rows[0].values == dict(
        zip(
            header,
            [
                "7",
                "02134",
                "2026-11-24",
                "2026-11-24 10:30:00",  # openpyxl's format for datetimes: yyyy-mm-dd h:mm:ss
                "10:30:00",
                "-3",
                "0.1",
                "0.3",
                "0.333333333333333",
                "TRUE",
                "FALSE",
                "4915112345678",
            ],
            strict=True,
        )
    )
    assert rows[0].problems == ()


def test_workbook_text_kept_exactly(tmp_path: Path) -> None:
    texts = ["007", "NA", "N/A", "null", "None", "nan", "true", "  spaced  ", "=not a formula?"]
    header = [f"c{i}" for i in range(len(texts))]

    def fill(ws: Worksheet) -> None:
        ws.append(header)
        for column, text in enumerate(texts, 1):
            ws.cell(2, column).value = text
            ws.cell(2, column).data_type = "s"  # keep "=..." as text, not a formula

    _, rows = read_all(workbook(tmp_path / "t.xlsx", fill))
    assert rows[0].values == dict(zip(header, texts, strict=True))


def test_workbook_empty_cells_and_rows(tmp_path: Path) -> None:
    def fill(ws: Worksheet) -> None:
        ws.append(["a", "b", "c"])
        ws.append([1, None, 3])
        ws["A5"] = "after a gap"
        ws["C7"] = ""  # an empty string is no value either
        ws["B9"] = 0

    _, rows = read_all(workbook(tmp_path / "e.xlsx", fill))
    assert numbers_of(rows) == [2, 5, 9]
    assert values_of(rows) == [
        {"a": "1", "b": "", "c": "3"},
        {"a": "after a gap", "b": "", "c": ""},
        {"a": "", "b": "0", "c": ""},
    ]


def test_xlsm_is_read_like_xlsx(tmp_path: Path) -> None:
    source = workbook(tmp_path / "w.xlsx", table([["a", "b"], ["007", 2.0]]))
    path = write_bytes(tmp_path, "macro.xlsm", source.read_bytes())
    assert values_of(read_all(path)[1]) == [{"a": "007", "b": "2"}]


def test_header_at_row_3_column_b_with_merged_cells(tmp_path: Path) -> None:
    def fill(ws: Worksheet) -> None:
        ws["B3"], ws["C3"], ws["D3"] = "name", "city", "code"
        ws["B4"], ws["C4"], ws["D4"] = "Ann", "Oslo", "001"
        ws["B5"], ws["C5"] = "Bob", "Rome"
        ws["B6"] = "Cy"
        ws.merge_cells("C5:D6")
        ws["B7"], ws["C7"] = "Dee", "Pisa"
        ws.merge_cells("B8:B9")
        ws["B8"] = "Eve"
        ws["C9"] = "Bonn"

    info, rows = read_all(workbook(tmp_path / "m.xlsx", fill))
    assert info.header_row == 3
    assert info.positions == (1, 2, 3)
    assert info.columns == ("name", "city", "code")
    assert info.width == 4
    assert numbers_of(rows) == [4, 5, 6, 7, 8, 9]
    assert values_of(rows) == [
        {"name": "Ann", "city": "Oslo", "code": "001"},
        {"name": "Bob", "city": "Rome", "code": "Rome"},
        {"name": "Cy", "city": "Rome", "code": "Rome"},
        {"name": "Dee", "city": "Pisa", "code": ""},
        {"name": "Eve", "city": "", "code": ""},
        {"name": "Eve", "city": "Bonn", "code": ""},
    ]
    assert all(row.problems == () for row in rows)


def test_merged_range_that_is_empty_gives_nothing(tmp_path: Path) -> None:
    def fill(ws: Worksheet) -> None:
        ws.append(["a", "b", "c"])
        ws.append(["x", None, None])
        ws.merge_cells("B2:C2")
        ws.append(["y", "wide", None])
        ws.merge_cells("B3:C3")

    _, rows = read_all(workbook(tmp_path / "m.xlsx", fill))
    assert values_of(rows) == [
        {"a": "x", "b": "", "c": ""},
        {"a": "y", "b": "wide", "c": "wide"},
    ]


def test_default_sheet_is_the_first_visible_one(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    hidden = book.active
    assert hidden is not None
    hidden.title = "Secret"
    hidden.append(["secret"])
    hidden.append(["x"])
    hidden.sheet_state = "hidden"
    shown = book.create_sheet("Shown")
    shown.append(["name"])
    shown.append(["Ann"])
    book.save(tmp_path / "h.xlsx")

    info, rows = read_all(tmp_path / "h.xlsx")
    assert (info.sheet_name, values_of(rows)) == ("Shown", [{"name": "Ann"}])
    # INDEX counts the sheets the user sees, from 1: the hidden one is not counted.
    info, rows = read_all(tmp_path / "h.xlsx", sheet="1")
    assert (info.sheet_name, values_of(rows)) == ("Shown", [{"name": "Ann"}])
    assert read_all(tmp_path / "h.xlsx", sheet="Secret")[0].sheet_name == "Secret"


def test_formula_without_saved_value_is_a_row_problem(tmp_path: Path) -> None:
    path = workbook(
        tmp_path / "f.xlsx",
        table([["n", "label", "double"], [7, "x", "=A2*2"], [8, "y", "plain"], [9, "z", "=A4*2"]]),
    )
    _, rows = read_all(path)
    assert values_of(rows) == [
        {"n": "7", "label": "x", "double": ""},
        {"n": "8", "label": "y", "double": "plain"},
        {"n": "9", "label": "z", "double": ""},
    ]
    assert rows[0].problems == (
        Problem(
            "",
            "the formula in cell C2 has no saved value (open and save it in Excel or LibreOffice)",
            "double",
        ),
    )
    assert rows[1].problems == ()
    assert rows[2].problems == (
        Problem(
            "",
            "the formula in cell C4 has no saved value (open and save it in Excel or LibreOffice)",
            "double",
        ),
    )
    assert all("A2" not in value for row in rows for value in row.values.values())


def test_formula_with_saved_value_gives_the_value(tmp_path: Path) -> None:
    path = workbook(
        tmp_path / "f.xlsx",
        table(
            [
                ["n", "label", "double", "shout", "blank"],
                [7, "x", "=A2*2", '=B2&"!"', '=""'],
            ]
        ),
    )
    rewrite_member(
        path,
        SHEET1,
        replacing(
            ('<c r="C2"><f>A2*2</f><v /></c>', '<c r="C2"><f>A2*2</f><v>14</v></c>'),
            (
                '<c r="D2"><f>B2&amp;"!"</f><v /></c>',
                '<c r="D2" t="str"><f>B2&amp;"!"</f><v>x!</v></c>',
            ),
            # Excel saves a formula that yields "" as a string with an empty value: that is known.
            ('<c r="E2"><f>""</f><v /></c>', '<c r="E2" t="str"><f>""</f><v></v></c>'),
        ),
    )
    _, rows = read_all(path)
    assert values_of(rows) == [{"n": "7", "label": "x", "double": "14", "shout": "x!", "blank": ""}]
    assert rows[0].problems == ()


def test_formula_showing_an_excel_error_is_a_row_problem(tmp_path: Path) -> None:
    path = workbook(tmp_path / "e.xlsx", table([["n", "ratio"], [0, "=1/A2"]]))
    rewrite_member(
        path,
        SHEET1,
        replacing(
            ('<c r="B2"><f>1/A2</f><v /></c>', '<c r="B2" t="e"><f>1/A2</f><v>#DIV/0!</v></c>')
        ),
    )
    _, rows = read_all(path)
    assert rows[0].problems == (
        Problem("", "the formula in cell B2 shows the error #DIV/0!", "ratio"),
    )


def test_lock_file_beside_the_input_gives_a_warning(tmp_path: Path) -> None:
    path = workbook(tmp_path / "data.xlsx", table([["a"], [1]]))
    assert read_all(path)[0].warnings == ()
    (tmp_path / "~$data.xlsx").write_bytes(b"owner")
    (warning,) = read_all(path)[0].warnings
    assert "data.xlsx is open in a spreadsheet program" in warning

    text = write_bytes(tmp_path, "list.csv", b"a\n1\n")
    (tmp_path / ".~lock.list.csv#").write_text("owner")
    assert any("list.csv is open" in w for w in read_all(text)[0].warnings)


# -- reading CSV --------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", [b"", BOM], ids=["no-bom", "bom"])
def test_utf8_with_or_without_bom(tmp_path: Path, prefix: bytes) -> None:
    data = prefix + "id,name\r\n1,Zoë 😀\r\n".encode()
    info, rows = read_all(write_bytes(tmp_path, "u.csv", data))
    assert info.columns == ("id", "name")
    assert values_of(rows) == [{"id": "1", "name": "Zoë 😀"}]
    assert info.warnings == ()
    assert info.encoding is not None
    assert info.encoding.replace("_", "-").lower().startswith("utf-8")


def test_cp1252_fallback_warns(tmp_path: Path) -> None:
    data = "name;price\r\nJosé;5 €\r\nCrème brûlée;“7”\r\n".encode("cp1252")
    info, rows = read_all(write_bytes(tmp_path, "w.csv", data))
    assert info.encoding == "cp1252"
    assert info.delimiter == ";"
    assert values_of(rows) == [
        {"name": "José", "price": "5 €"},
        {"name": "Crème brûlée", "price": "“7”"},
    ]
    (warning,) = info.warnings
    assert "w.csv is not UTF-8" in warning
    assert "cp1252" in warning
    assert "--encoding" in warning


def test_non_utf8_byte_late_in_a_big_file_still_falls_back(tmp_path: Path) -> None:
    data = b"a,b\n" + b"plain,text\n" * 200_000 + "Jos\xe9,1\n".encode("cp1252")
    info, rows = read_all(write_bytes(tmp_path, "big.csv", data))
    assert info.encoding == "cp1252"
    assert rows[-1].values == {"a": "José", "b": "1"}
    assert rows[-1].number == 200_002


@pytest.mark.parametrize(
    ("encoding", "data"),
    [
        ("utf-16", "id,name\n1,Zoë\n".encode("utf-16")),
        ("cp1252", "id,name\n1,Zoë\n".encode("cp1252")),
        ("latin-1", "id,name\n1,Zoë\n".encode("latin-1")),
        ("utf-8", BOM + "id,name\n1,Zoë\n".encode()),
        ("UTF8", BOM + "id,name\n1,Zoë\n".encode()),
        ("utf-8", "id,name\n1,Zoë\n".encode()),
    ],
)
def test_explicit_encoding(tmp_path: Path, encoding: str, data: bytes) -> None:
    info, rows = read_all(write_bytes(tmp_path, "e.csv", data), encoding=encoding)
    assert info.columns == ("id", "name")
    assert values_of(rows) == [{"id": "1", "name": "Zoë"}]
    assert info.warnings == ()


@pytest.mark.parametrize(
    ("name", "data", "delimiter"),
    [
        ("c.csv", b"a,b,c\n1,2,3\n4,5,6\n", ","),
        ("s.csv", b"a;b;c\n1;2;3\n4;5;6\n", ";"),
        ("t.csv", b"a\tb\tc\n1\t2\t3\n4\t5\t6\n", "\t"),
        ("p.csv", b"a|b|c\n1|2|3\n4|5|6\n", "|"),
        ("p.txt", b"a|b|c\n1|2|3\n4|5|6\n", "|"),
        ("t.txt", b"a\tb\tc\n1\t2\t3\n4\t5\t6\n", "\t"),
        ("t.tsv", b"a\tb\tc\n1\t2\t3\n4\t5\t6\n", "\t"),
        ("upper.CSV", b"a;b;c\n1;2;3\n4;5;6\n", ";"),
        # European Excel: ; between cells, , as the decimal mark.
        ("eu.csv", b"a;b;c\n1,5;2,25;3\n4;5,5;6\n", ";"),
        # commas inside quoted cells do not fool the sniffer
        ("q.csv", b'a;b;c\n"x, y, z";2;3\n"p, q";5;6\n', ";"),
        ("qc.csv", b'a,b,c\n"x; y; z",2,3\n"p; q",5,6\n', ","),
    ],
)
def test_delimiter_sniffed(tmp_path: Path, name: str, data: bytes, delimiter: str) -> None:
    info, rows = read_all(write_bytes(tmp_path, name, data))
    assert info.delimiter == delimiter
    assert info.columns == ("a", "b", "c")
    assert len(rows) == 2
    assert all(len(row.values) == 3 and row.problems == () for row in rows)


def test_sniffer_splits_lines_only_where_csv_does(tmp_path: Path) -> None:
    # \x1e (and \x1c, \x85, \u2028...) is a line break to str.splitlines but text to csv, and
    # csv.writer leaves it unquoted; found by the round-trip property below.
    path = write_bytes(tmp_path, "rs.csv", b"col0,col1,col2,col3\r\n,;,\x1e,;\r\n")
    info, rows = read_all(path)
    assert info.delimiter == ","
    assert values_of(rows) == [{"col0": "", "col1": ";", "col2": "\x1e", "col3": ";"}]


def test_explicit_delimiter_wins_over_sniffing(tmp_path: Path) -> None:
    path = write_bytes(tmp_path, "s.csv", b"a;b,c\n1;2,3\n")
    info, rows = read_all(path, delimiter=",")
    assert (info.delimiter, info.columns) == (",", ("a;b", "c"))
    assert values_of(rows) == [{"a;b": "1;2", "c": "3"}]
    info, rows = read_all(path, delimiter=";")
    assert values_of(rows) == [{"a": "1", "b,c": "2,3"}]


def test_single_column_csv(tmp_path: Path) -> None:
    info, rows = read_all(write_bytes(tmp_path, "one.csv", b"email\na@b.c\nd@e.f\n"))
    assert info.columns == ("email",)
    assert values_of(rows) == [{"email": "a@b.c"}, {"email": "d@e.f"}]


def test_csv_text_kept_exactly(tmp_path: Path) -> None:
    texts = ["007", "02134", "NA", "N/A", "null", "None", "nan", "true", "  spaced  ", "7.0", ""]
    header = [f"c{i}" for i in range(len(texts))]
    data = csv_text([header, texts]).encode()
    _, rows = read_all(write_bytes(tmp_path, "t.csv", data))
    assert rows[0].values == dict(zip(header, texts, strict=True))


def test_quoted_fields_with_commas_quotes_and_newlines(tmp_path: Path) -> None:
    data = (
        b"id,note,tail\r\n"
        b'1,"a, b","say ""hi"""\r\n'
        b'2,"line one\r\nline two","lf\nonly"\r\n'
        b'3,"lone\rcr",""\r\n'
    )
    info, rows = read_all(write_bytes(tmp_path, "q.csv", data))
    assert info.line_terminator == "\r\n"
    assert values_of(rows) == [
        {"id": "1", "note": "a, b", "tail": 'say "hi"'},
        {"id": "2", "note": "line one\r\nline two", "tail": "lf\nonly"},
        {"id": "3", "note": "lone\rcr", "tail": ""},
    ]
    # A record spanning several lines is one spreadsheet row.
    assert numbers_of(rows) == [2, 3, 4]


@pytest.mark.parametrize("ending", [b"\n", b"\r\n", b"\r"], ids=["lf", "crlf", "cr"])
def test_line_endings(tmp_path: Path, ending: bytes) -> None:
    data = ending.join([b"a,b", b"1,2", b"", b"3,4"]) + ending
    info, rows = read_all(write_bytes(tmp_path, "l.csv", data))
    assert values_of(rows) == [{"a": "1", "b": "2"}, {"a": "3", "b": "4"}]
    assert numbers_of(rows) == [2, 4]
    if ending != b"\r":
        assert info.line_terminator == ending.decode()


def test_csv_row_numbers_are_spreadsheet_rows(tmp_path: Path) -> None:
    data = (
        b"\r\n"  # row 1: blank
        b",,\r\n"  # row 2: empty cells
        b"id,note\r\n"  # row 3: header
        b'1,"two\r\nlines"\r\n'  # row 4, over two lines
        b"\r\n"  # row 5: blank
        b",\r\n"  # row 6: empty cells
        b"2,x\r\n"  # row 7
        b" ,\r\n"  # row 8: a space is a value, kept
    )
    info, rows = read_all(write_bytes(tmp_path, "n.csv", data))
    assert info.header_row == 3
    assert numbers_of(rows) == [4, 7, 8]
    assert values_of(rows) == [
        {"id": "1", "note": "two\r\nlines"},
        {"id": "2", "note": "x"},
        {"id": " ", "note": ""},
    ]


def test_csv_header_on_first_line_is_row_1(tmp_path: Path) -> None:
    info, rows = read_all(write_bytes(tmp_path, "n.csv", b"a\n1\n2\n"))
    assert info.header_row == 1
    assert numbers_of(rows) == [2, 3]
    assert info.kind == "csv"
    assert info.sheet_name is None
    assert info.width == 1


def test_rows_can_be_read_twice(tmp_path: Path) -> None:
    opened = open_sheet(write_bytes(tmp_path, "twice.csv", b"a,b\n1,2\n3,4\n"))
    assert list(opened.rows()) == list(opened.rows())


# -- a file that changes ------------------------------------------------------------------------


def _fake_clock(path: Path, on_sleep: Callable[[float], None]) -> SimpleNamespace:
    # The clock says the file was modified this very moment, so open_sheet waits for it to settle.
    return SimpleNamespace(time=lambda: path.stat().st_mtime, sleep=on_sleep)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_file_still_being_written_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    path = tmp_path / f"grow{suffix}"
    if suffix == ".csv":
        path.write_bytes(b"a,b\n1,2\n")
    else:
        workbook(path, table([["a", "b"], [1, 2]]))

    def another_program_appends(seconds: float) -> None:
        with path.open("ab") as handle:
            handle.write(b"3,4\n")

    monkeypatch.setattr(sheet, "WRITE_SETTLE_SECONDS", 0.5)
    monkeypatch.setattr(sheet, "time", _fake_clock(path, another_program_appends))
    error = assert_refused(path, "is still being written")
    assert "wait" in (error.hint or "")


def test_settled_file_is_opened_after_one_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_bytes(tmp_path, "calm.csv", b"a,b\n1,2\n")
    waits: list[float] = []
    monkeypatch.setattr(sheet, "WRITE_SETTLE_SECONDS", 0.5)
    monkeypatch.setattr(sheet, "time", _fake_clock(path, waits.append))
    assert values_of(read_all(path)[1]) == [{"a": "1", "b": "2"}]
    assert waits == [0.5]


def test_old_file_is_opened_without_waiting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_bytes(tmp_path, "old.csv", b"a,b\n1,2\n")
    an_hour_ago = time.time() - 3600
    os.utime(path, (an_hour_ago, an_hour_ago))

    def no_sleep(seconds: float) -> None:
        raise AssertionError("an old file needs no settling")

    monkeypatch.setattr(sheet, "WRITE_SETTLE_SECONDS", 0.5)
    monkeypatch.setattr(sheet, "time", SimpleNamespace(time=time.time, sleep=no_sleep))
    assert values_of(read_all(path)[1]) == [{"a": "1", "b": "2"}]


def test_csv_changed_while_rows_are_read(tmp_path: Path) -> None:
    path = write_bytes(tmp_path, "c.csv", b"a,b\n1,2\n3,4\n")
    rows = open_sheet(path).rows()
    assert next(rows).values == {"a": "1", "b": "2"}
    with path.open("ab") as handle:
        handle.write(b"5,6\n")
    with pytest.raises(SheetError, match="changed while it was being read") as caught:
        list(rows)
    assert caught.value.hint


def test_workbook_changed_while_rows_are_read(tmp_path: Path) -> None:
    path = workbook(tmp_path / "c.xlsx", table([["a", "b"], [1, 2]]))
    opened = open_sheet(path)
    workbook(path, table([["a", "b"], [1, 2], [3, 4], ["saved", "again"]]))
    with pytest.raises(SheetError, match="changed while it was being read"):
        list(opened.rows())


# -- the CSV round trip, as a property ----------------------------------------------------------

CELL = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
    max_size=12,
)
TRICKY = st.sampled_from(['"', ",", ";", "\t", "|", "\r", "\n", "\r\n", " ", "'", "=1", "😀", "א"])
CELL_TEXT = st.one_of(CELL, TRICKY, st.lists(TRICKY, max_size=4).map("".join))


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    width=st.integers(min_value=2, max_value=4),
    data=st.data(),
    bom=st.booleans(),
)
def test_any_csv_written_by_csv_writer_reads_back_exactly(
    tmp_path: Path, width: int, data: st.DataObject, bom: bool
) -> None:
    records = data.draw(st.lists(st.lists(CELL_TEXT, min_size=width, max_size=width), max_size=8))
    header = [f"col{i}" for i in range(width)]
    path = tmp_path / "property.csv"
    path.write_bytes((BOM if bom else b"") + csv_text([header, *records]).encode("utf-8"))

    info, rows = read_all(path)
    assert info.delimiter == ","
    assert info.columns == tuple(header)
    expected = [
        (number, dict(zip(header, record, strict=True)))
        for number, record in enumerate(records, 2)
        if any(record)
    ]
    assert [(row.number, row.values) for row in rows] == expected
    assert all(row.problems == () for row in rows)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(records=st.lists(st.lists(CELL_TEXT, max_size=5), max_size=8))
def test_ragged_records_pad_or_flag(tmp_path: Path, records: list[list[str]]) -> None:
    header = ["a", "b", "c"]
    path = tmp_path / "ragged.csv"
    path.write_bytes(csv_text([header, *records]).encode("utf-8"))
    _, rows = read_all(path, delimiter=",")
    kept = [(n, r) for n, r in enumerate(records, 2) if any(r)]
    assert numbers_of(rows) == [n for n, _ in kept]
    for row, (_, record) in zip(rows, kept, strict=True):
        padded = record + [""] * (3 - len(record))
        assert row.values == dict(zip(header, padded[:3], strict=True))
        flagged = [
            Problem("", f"a value in column {i + 1} has no header")
            for i in range(3, len(record))
            if record[i]
        ]
        assert list(row.problems) == flagged


# -- DataFrames ---------------------------------------------------------------------------------


def test_rows_from_frame() -> None:
    frame = pd.DataFrame(
        {
            " id ": [1, 2, None, 4],
            "price": [7.0, np.nan, None, 0.1],
            "code": ["007", None, None, "NA"],
            "when": [
                pd.Timestamp("2026-11-24"),
                pd.Timestamp("2026-11-24 10:30"),
                pd.NaT,
                pd.NaT,
            ],
            "count": pd.array([1, None, None, 3], dtype="Int64"),
            "flag": [True, False, None, None],
            "label": pd.array(["x", pd.NA, None, "  y  "], dtype="string"),
            "took": [pd.Timedelta(hours=25), pd.Timedelta(0), pd.NaT, pd.NaT],
        }
    )
    rows = list(rows_from_frame(frame))
    assert numbers_of(rows) == [2, 3, 5]  # the all-empty third row is skipped, not renumbered
    assert values_of(rows) == [
        {
            "id": "1",
            "price": "7",
            "code": "007",
            "when": "2026-11-24",
            "count": "1",
            "flag": "TRUE",
            "label": "x",
            "took": "25:00:00",
        },
        {
            "id": "2",
            "price": "",
            "code": "",
            "when": "2026-11-24T10:30:00",
            "count": "",
            "flag": "FALSE",
            "label": "",
            "took": "0:00:00",
        },
        {
            "id": "4",
            "price": "0.1",
            "code": "NA",
            "when": "",
            "count": "3",
            "flag": "",
            "label": "  y  ",
            "took": "",
        },
    ]
    assert all(row.problems == () for row in rows)
    assert all(isinstance(v, str) for row in rows for v in row.values.values())


def test_rows_from_frame_with_numeric_column_names_and_object_cells() -> None:
    frame = pd.DataFrame({0: ["a", "b"], 1: [np.int64(7), np.float64(2.5)]})
    assert values_of(rows_from_frame(frame)) == [{"0": "a", "1": "7"}, {"0": "b", "1": "2.5"}]


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        (["a", " a "], 'the header has "a" twice (columns 1 and 2)'),
        (["a", "", "b"], "the header has no name in column 2"),
    ],
)
def test_rows_from_frame_refuses_bad_column_names(columns: list[str], message: str) -> None:
    frame = pd.DataFrame([[1, 2, 3][: len(columns)]], columns=columns)
    with pytest.raises(SheetError) as caught:
        list(rows_from_frame(frame))
    assert caught.value.message == f"the DataFrame: {message}"


def test_rows_from_empty_frame() -> None:
    assert list(rows_from_frame(pd.DataFrame({"a": []}))) == []


# -- placing added columns ----------------------------------------------------------------------


def test_added_positions() -> None:
    info = SheetInfo(
        path=Path("x.xlsx"),
        kind="xlsx",
        columns=("name", "merge_status", "city"),
        positions=(1, 2, 3),
        header_row=3,
        width=6,
    )
    assert added_positions(info, ["merge_status", "merge_errors", "extra"]) == [
        (2, "merge_status"),
        (6, "merge_errors"),
        (7, "extra"),
    ]
    assert added_positions(info, []) == []
    assert added_positions(info, ["city"]) == [(3, "city")]


# -- writing an annotated CSV copy --------------------------------------------------------------


def annotate(
    path: Path, values: dict[int, list[str]], names: list[str] | None = None, **options: Any
) -> tuple[SheetInfo, Path]:
    info = open_sheet(path, **options).info
    dst = path.with_name("out-" + path.name)
    write_annotated(info, dst, names or STATUS, values)
    return info, dst


def test_annotated_csv_keeps_delimiter_and_line_ending(tmp_path: Path) -> None:
    path = write_bytes(tmp_path, "s.csv", b"id;name\n1;Ann\n2;Bob\n3;Cy\n")
    _, dst = annotate(path, {2: ["valid", ""], 4: ["invalid", "no name"]})
    assert dst.read_bytes() == (
        b"id;name;merge_status;merge_errors\n"
        b"1;Ann;valid;\n"
        b"2;Bob\n"  # a row not in `values` is untouched
        b"3;Cy;invalid;no name\n"
    )
    assert path.read_bytes() == b"id;name\n1;Ann\n2;Bob\n3;Cy\n"  # the input is left alone


def test_annotated_csv_with_crlf_and_tabs(tmp_path: Path) -> None:
    path = write_bytes(tmp_path, "t.tsv", b"id\tname\r\n1\tAnn\r\n")
    _, dst = annotate(path, {2: ["valid", ""]})
    assert dst.read_bytes() == b"id\tname\tmerge_status\tmerge_errors\r\n1\tAnn\tvalid\t\r\n"


def test_annotated_csv_updates_existing_columns_in_place(tmp_path: Path) -> None:
    path = write_bytes(
        tmp_path, "again.csv", b"id,merge_status,name\n1,invalid,Ann\n2,invalid,Bob\n"
    )
    _, dst = annotate(path, {2: ["valid", ""], 3: ["invalid", "still bad"]})
    info, rows = read_all(dst)
    assert info.columns == ("id", "merge_status", "name", "merge_errors")
    assert values_of(rows) == [
        {"id": "1", "merge_status": "valid", "name": "Ann", "merge_errors": ""},
        {"id": "2", "merge_status": "invalid", "name": "Bob", "merge_errors": "still bad"},
    ]
    # The output can be the next run's input: annotating it again adds no columns.
    _, dst2 = annotate(dst, {2: ["invalid", "x"]})
    info2, rows2 = read_all(dst2)
    assert info2.columns == info.columns
    assert rows2[0].values["merge_status"] == "invalid"
    assert rows2[1].values == rows[1].values


def test_annotated_csv_neutralises_formulas(tmp_path: Path) -> None:
    path = write_bytes(tmp_path, "f.csv", b"id\n1\n2\n3\n4\n5\n")
    _, dst = annotate(
        path,
        {
            2: ["=HYPERLINK(1)", "+1"],
            3: ["-2", "@SUM(A1)"],
            4: ["a=b", "x-y"],
            5: ["", " =spaced"],
        },
    )
    _, rows = read_all(dst)
    assert [(r.values["merge_status"], r.values["merge_errors"]) for r in rows] == [
        ("'=HYPERLINK(1)", "'+1"),
        ("'-2", "'@SUM(A1)"),
        ("a=b", "x-y"),
        ("", " =spaced"),
        ("", ""),
    ]
    assert rows[-1].values == {"id": "5", "merge_status": "", "merge_errors": ""}


def test_annotated_cp1252_csv_is_written_as_utf8_with_bom(tmp_path: Path) -> None:
    path = write_bytes(tmp_path, "w.csv", "name;note\r\nJosé;5 €\r\n".encode("cp1252"))
    info, dst = annotate(path, {2: ["invalid", "column “name”: too long ✗"]})
    assert info.encoding == "cp1252"
    raw = dst.read_bytes()
    assert raw.startswith(BOM)
    assert raw[3:].decode("utf-8") == (
        "name;note;merge_status;merge_errors\r\nJosé;5 €;invalid;column “name”: too long ✗\r\n"
    )
    info2, rows = read_all(dst)
    assert info2.warnings == ()
    assert rows[0].values["name"] == "José"


def test_annotated_csv_round_trips_hard_text_exactly(tmp_path: Path) -> None:
    records = [
        ["id", "text", "other"],
        ["1", 'say "hi", then\r\nleave', "😀 emoji"],
        ["2", "שלום עולם", "مرحبا\u200f"],
        ["3", "lone\rcr", "  spaced  "],
        ["4", "007", ""],
    ]
    original = csv_text(records).encode("utf-8")
    path = write_bytes(tmp_path, "hard.csv", original)
    _, before = read_all(path)
    _, dst = annotate(path, {2: ["invalid", 'bad "quote",\nnewline ✗'], 4: ["valid", ""]})
    info, after = read_all(dst)
    assert info.columns == ("id", "text", "other", *STATUS)
    assert numbers_of(after) == numbers_of(before)
    for old, new in zip(before, after, strict=True):
        assert {k: new.values[k] for k in old.values} == old.values
    assert after[0].values["merge_errors"] == 'bad "quote",\nnewline ✗'
    assert (after[1].values["merge_status"], after[1].values["merge_errors"]) == ("", "")
    assert after[2].values["merge_status"] == "valid"
    # Rows not in `values` are written back byte for byte.
    written = dst.read_bytes()
    assert csv_text([records[2]]).encode() in written
    assert csv_text([records[4]]).encode() in written


def test_annotation_lands_on_the_rows_that_were_read(tmp_path: Path) -> None:
    data = b'\r\n,,\r\nid,note\r\n1,"two\r\nlines"\r\n\r\n,\r\n2,x\r\n'
    path = write_bytes(tmp_path, "n.csv", data)
    _, rows = read_all(path)
    marks = {row.number: ["seen", row.values["id"]] for row in rows}
    _, dst = annotate(path, marks)
    assert dst.read_bytes() == (
        b"\r\n,,\r\nid,note,merge_status,merge_errors\r\n"
        b'1,"two\r\nlines",seen,1\r\n\r\n,\r\n2,x,seen,2\r\n'
    )


def test_annotated_csv_pads_short_records(tmp_path: Path) -> None:
    path = write_bytes(tmp_path, "short.csv", b"a,b,c\n1\n")
    _, dst = annotate(path, {2: ["valid", ""]})
    assert dst.read_bytes() == b"a,b,c,merge_status,merge_errors\n1,,,valid,\n"


def test_annotated_csv_keeps_values_under_no_header(tmp_path: Path) -> None:
    path = write_bytes(tmp_path, "orphan.csv", b"a,b\n1,2,orphan\n3,4\n")
    _, rows = read_all(path)
    assert rows[0].problems == (Problem("", "a value in column 3 has no header"),)
    _, dst = annotate(path, {2: ["invalid", "a value in column 3 has no header"], 3: ["valid", ""]})
    with dst.open(encoding="utf-8-sig", newline="") as handle:
        written = list(csv.reader(handle))
    assert written[1][:3] == ["1", "2", "orphan"]
    assert written[0][3:] == STATUS
    assert written[1][3:] == ["invalid", "a value in column 3 has no header"]
    assert written[2][3:] == ["valid", ""]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    records=st.lists(st.lists(CELL_TEXT, min_size=2, max_size=2), max_size=6),
    marks=st.lists(st.tuples(CELL_TEXT, CELL_TEXT), min_size=6, max_size=6),
)
def test_annotated_csv_round_trip_property(
    tmp_path: Path, records: list[list[str]], marks: list[tuple[str, str]]
) -> None:
    path = tmp_path / "prop.csv"
    path.write_bytes(csv_text([["a", "b"], *records]).encode("utf-8"))
    _, before = read_all(path, delimiter=",")
    values = {row.number: list(mark) for row, mark in zip(before, marks, strict=False)}
    dst = tmp_path / "prop-out.csv"
    write_annotated(open_sheet(path, delimiter=",").info, dst, STATUS, values)
    info, after = read_all(dst, delimiter=",")
    assert info.columns == ("a", "b", *STATUS)
    guarded = ("=", "+", "-", "@", "\t", "\r")
    safe = [[("'" + t if t.startswith(guarded) else t) for t in v] for v in marks]
    expected = [
        {**row.values, "merge_status": s, "merge_errors": e}
        for row, (s, e) in zip(before, safe, strict=False)
    ]
    assert values_of(after) == expected


def test_annotated_csv_unwritable_destination(tmp_path: Path) -> None:
    path = write_bytes(tmp_path, "a.csv", b"a\n1\n")
    info = open_sheet(path).info
    dst = tmp_path / "no such folder" / "a.csv"
    with pytest.raises(OutputError, match="cannot be written") as caught:
        write_annotated(info, dst, STATUS, {2: ["valid", ""]})
    assert caught.value.hint
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv"]


def test_annotated_csv_may_replace_an_earlier_copy(tmp_path: Path) -> None:
    path = write_bytes(tmp_path, "a.csv", b"a\n1\n")
    info = open_sheet(path).info
    dst = write_bytes(tmp_path, "copy.csv", b"stale")
    write_annotated(info, dst, STATUS, {2: ["valid", ""]})
    assert dst.read_bytes() == b"a,merge_status,merge_errors\n1,valid,\n"
    assert not (tmp_path / ".copy.csv.tmp").exists()


def test_annotated_workbook_end_to_end(tmp_path: Path) -> None:
    def fill(ws: Worksheet) -> None:
        ws["B3"], ws["C3"] = "name", "code"
        ws["B4"], ws["C4"] = "Ann", "007"
        ws["B5"], ws["C5"] = "Bob", "=1+1"
        ws["B6"], ws["C6"] = "Cy", 3

    path = workbook(tmp_path / "in.xlsx", fill)
    opened = open_sheet(path)
    rows = list(opened.rows())
    marks = {row.number: ["invalid" if row.problems else "valid", ""] for row in rows}
    marks[5][1] = rows[1].problems[0].describe()
    dst = tmp_path / "out.xlsx"
    write_annotated(opened.info, dst, STATUS, marks)

    info, after = read_all(dst)
    assert info.columns == ("name", "code", *STATUS)
    assert info.positions == (1, 2, 3, 4)
    assert values_of(after) == [
        {"name": "Ann", "code": "007", "merge_status": "valid", "merge_errors": ""},
        {
            "name": "Bob",
            "code": "",
            "merge_status": "invalid",
            "merge_errors": 'column "code": the formula in cell C5 has no saved value'
            " (open and save it in Excel or LibreOffice)",
        },
        {"name": "Cy", "code": "3", "merge_status": "valid", "merge_errors": ""},
    ]


@pytest.mark.parametrize("prefix", [b"", BOM], ids=["no-bom", "bom"])
def test_annotated_csv_keeps_the_inputs_bom_choice(tmp_path: Path, prefix: bytes):
    path = write_bytes(tmp_path, "b.csv", prefix + "a\nZoë\n".encode())
    sheet = open_sheet(path)
    dst = tmp_path / "out.csv"
    write_annotated(sheet.info, dst, ["merge_status"], {2: ["valid"]})
    assert dst.read_bytes() == prefix + "a,merge_status\nZoë,valid\n".encode()
