"""Every cell as the user sees it: the reader's text against LibreOffice's own display.

Golden workbooks are made in the session: one by openpyxl with number formats set, and the same
re-saved by LibreOffice (its own styles.xml); LibreOffice then shows both as CSV "as shown", in one
start. Each cell of ours must equal LibreOffice's, except where the README says we differ on
purpose (the locale's short date stays ISO; whole numbers in General keep all their digits).
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import openpyxl
import pytest

from merge.sheets.numfmt import format_number, general_number
from merge.sheets.sheet import open_sheet
from tests.libreoffice import convert, displayed

MOMENT = dt.datetime(2024, 3, 7, 14, 5, 9)
CASES: list[tuple[object, str]] = [
    (2134, "00000"),
    (501, "00000"),
    (0.15, "0%"),
    (0.1234, "0.00%"),
    (0.5, "0.0%"),
    (-0.5, "0%"),
    (1234.5, '"$"#,##0.00'),
    (1234.5, "[$$-409]#,##0.00"),
    (1234.5, "[$€-407] #,##0.00"),
    (100, "$#,##0"),
    (-100, "$#,##0_);($#,##0)"),
    (1234567890123456, "0"),
    (1234567890123456, "General"),
    (0.1 + 0.2, "General"),
    (123456.789, "General"),
    (1e-7, "General"),
    (1.5, "# ?/?"),
    (0.75, "# ??/??"),
    (0.333333, "?/?"),
    (2.5, "# ?/4"),
    (12345.678, "0.00E+00"),
    (1.0, "0.00E+0"),
    (12345.678, "#,##0"),
    (1234567.891, "#,##0.000"),
    (1234, "#,##0,"),
    (-1234.5, "#,##0.00;(#,##0.00)"),
    (-1234.5, "#,##0.00;[Red]-#,##0.00"),
    (0, '#,##0;-#,##0;"zero"'),
    (5, '0 "items"'),
    (5, '"ID-"0000'),
    (7, "000-000"),
    (98765, "00000-0000"),
    (12, '0"%"'),
    (3.14159, "0.0"),
    (3.14159, "#.###"),
    (1234, "0.00"),
    (0.0, "0.00"),
    (12.5, "[>=10]0.0;0.00"),
    (42, "@"),
    (MOMENT, "dd/mm/yyyy"),
    (MOMENT, "mm/dd/yy"),
    (MOMENT, "d mmm yyyy"),
    (MOMENT, "dddd, mmmm d, yyyy"),
    (MOMENT, "h:mm AM/PM"),
    (MOMENT, "hh:mm:ss"),
    (MOMENT, "yyyy-mm-dd hh:mm"),
    (MOMENT, 'yyyy"年"m"月"d"日"'),
    (dt.datetime(2024, 3, 7), "m/d/yyyy"),
    (dt.datetime(2024, 12, 25), "mmm d"),
    (dt.time(12, 0), "h:mm"),
    (dt.timedelta(days=1, hours=6), "[h]:mm"),
]
BIG = 12345678901234567


def on_purpose(label: str, ours: str) -> bool:
    """Where we differ from LibreOffice on purpose (see the README)."""
    if label == "mm-dd-yy":  # built-in format 14, the reader's locale short date, stays ISO
        return ours == "2024-03-07"
    if label == "General big":  # whole numbers in General keep their digits, as stored
        return ours.isdigit() and abs(int(ours) - BIG) < 1000
    return False


@pytest.fixture(scope="session")
def golden(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, list[list[str]]]]:
    """The golden workbooks, and LibreOffice's display of each."""
    root = tmp_path_factory.mktemp("display")
    made = root / "openpyxl-formats.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["format", "value"])
    for value, code in [*CASES, (dt.datetime(2024, 3, 7), "mm-dd-yy"), (BIG, "0")]:
        sheet.append([code, value])
        sheet.cell(sheet.max_row, 2).number_format = code
    sheet.append(["General big", BIG])
    book.save(made)
    resaved = root / "resaved"
    convert([made], "xlsx:Calc MS Excel 2007 XML", resaved, root / "profile")
    by_libreoffice = root / "libreoffice-formats.xlsx"
    shutil.move(resaved / made.name, by_libreoffice)
    books = [made, by_libreoffice]
    shown = displayed(books, root / "csv", root / "profile")
    return {book.name: (book, shown[book.name]) for book in books}


@pytest.mark.parametrize("name", ["openpyxl-formats.xlsx", "libreoffice-formats.xlsx"])
def test_every_number_reads_as_libreoffice_displays_it(golden, name: str) -> None:
    path, shown = golden[name]
    rows = list(open_sheet(path).rows())
    assert len(rows) == len(CASES) + 3
    wrong = []
    for row in rows:
        theirs = shown[row.number - 1][1]
        ours = row.values["value"]
        label = row.values["format"]
        if ours != theirs and not on_purpose(label, ours):
            wrong.append((row.number, label, theirs, ours))
    assert wrong == []


def test_the_stored_value_stays_reachable(golden) -> None:
    path, _ = golden["openpyxl-formats.xlsx"]
    rows = list(open_sheet(path).rows())
    assert (rows[0].values["value"], rows[0].raw) == ("02134", {"value": "2134"})
    assert (rows[2].values["value"], rows[2].raw) == ("15%", {"value": "0.15"})
    assert rows[12].values == {"format": "General", "value": "1234567890123456"}
    assert rows[12].raw is None  # shown as stored


@pytest.mark.parametrize(
    ("value", "code", "shown"),
    [
        (2134, "00000", "02134"),
        (-5, "0.0", "-5.0"),
        (-0.001, "0.00", "0.00"),
        (1234.5, "#,##0.00 [$€-407]", "1,234.50 €"),
        (0.5, "# ?/?", " 1/2"),
        (45000.25, "yyyy-mm-dd hh:mm", "2023-03-15 06:00"),
        (1e15, "General", "1000000000000000"),
    ],
)
def test_format_language(value: float, code: str, shown: str) -> None:
    assert format_number(value, code) == shown


def test_general_whole_numbers_keep_all_their_digits() -> None:
    assert general_number(1234567890123456.0) == "1234567890123456"
    assert general_number(0.1 + 0.2) == "0.3"
    assert general_number(1 / 3) == "0.333333333333333"
