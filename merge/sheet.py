"""Read rows from a workbook, a CSV file or a DataFrame, every cell as the text the user sees."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import math
import os
import sys
import time
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
import python_calamine as calamine

from merge import xlsx
from merge.errors import OutputError, SheetError
from merge.problems import Problem
from merge.settings import (
    CSV_DELIMITERS,
    CSV_FALLBACK_ENCODING,
    CSV_SNIFF_BYTES,
    WRITE_SETTLE_SECONDS,
)

WORKBOOK_SUFFIXES = frozenset({".xlsx", ".xlsm"})
TEXT_SUFFIXES = frozenset({".csv", ".tsv", ".txt"})
FORMULA_PREFIXES = ("=", "+", "-", "@")

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


@dataclass(frozen=True, slots=True)
class Row:
    """One data row: its spreadsheet row number, its cells by column, and what is wrong."""

    number: int
    values: dict[str, str]
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True)
class SheetInfo:
    """What was learnt about the input while opening it; enough to write an annotated copy."""

    path: Path
    kind: str
    columns: tuple[str, ...]
    positions: tuple[int, ...]
    header_row: int
    width: int
    sheet_name: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    line_terminator: str = "\r\n"
    warnings: tuple[str, ...] = ()

    def column_letter(self, position: int) -> str:
        """Name a 0-based column as the user sees it: a letter in a workbook, a number in a CSV."""
        return column_letter(position) if self.kind == "xlsx" else str(position + 1)


class Sheet(Protocol):
    """An opened input: its header, and its data rows read lazily."""

    info: SheetInfo

    def rows(self) -> Iterator[Row]: ...


def column_letter(position: int) -> str:
    """Turn a 0-based column index into Excel's letters (0 → A, 27 → AB)."""
    letters = ""
    position += 1
    while position:
        position, rest = divmod(position - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def cell_text(value: Any) -> str:
    """Show a cell's value as the spreadsheet shows it: whole numbers without .0, dates as ISO."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number_text(value)
    if isinstance(value, dt.datetime):
        return _datetime_text(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return _duration_text(value)
    return str(value)


def _number_text(value: float) -> str:
    # Excel shows at most 15 significant digits: 0.1 + 0.2 is shown as 0.3.
    if math.isnan(value):
        return ""
    if value == 0:
        return "0"
    return f"{value:.15g}"


def _datetime_text(value: dt.datetime) -> str:
    if value.time() == dt.time(0) and value.tzinfo is None:
        return value.date().isoformat()
    return value.isoformat()


def _duration_text(value: dt.timedelta) -> str:
    seconds = int(value.total_seconds())
    sign = "-" if seconds < 0 else ""
    hours, rest = divmod(abs(seconds), 3600)
    return f"{sign}{hours}:{rest // 60:02d}:{rest % 60:02d}"


def open_sheet(
    path: Path,
    sheet: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
) -> Sheet:
    """Open a workbook or a text file of rows, checking what can be checked before any row."""
    path = Path(path)
    _check_readable(path)
    suffix = path.suffix.lower()
    if suffix in WORKBOOK_SUFFIXES:
        return WorkbookSheet(path, sheet)
    if suffix in TEXT_SUFFIXES:
        return CsvSheet(path, encoding, delimiter)
    if suffix == ".xls":
        raise SheetError(
            f"{path}: the old .xls format is not supported",
            "open it in Excel and save it as .xlsx (Excel Workbook)",
        )
    raise SheetError(
        f"{path}: unknown file type {suffix or '(none)'!r}",
        "use an .xlsx, .xlsm, .csv, .tsv or .txt file",
    )


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise SheetError(f"{path}: no such file", "check the path and the current folder")
    if path.is_dir():
        raise SheetError(f"{path}: is a folder, not a file", "name the spreadsheet file itself")
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError as error:
        raise SheetError(
            f"{path}: cannot be read ({error.strerror})",
            "check its permissions, or close the program that holds it",
        ) from None
    _wait_until_settled(path)


def _wait_until_settled(path: Path) -> None:
    before = path.stat()
    if time.time() - before.st_mtime > WRITE_SETTLE_SECONDS * 4:
        return
    time.sleep(WRITE_SETTLE_SECONDS)
    after = path.stat()
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
        raise SheetError(
            f"{path}: is still being written by another program",
            "wait until it is saved or the download has finished, then run again",
        )


def _lock_file_warning(path: Path) -> tuple[str, ...]:
    # Excel and LibreOffice leave "~$name" / ".~lock.name#" beside a file they have open.
    for lock in (path.with_name("~$" + path.name), path.with_name(f".~lock.{path.name}#")):
        if lock.exists():
            return (
                f"{path.name} is open in a spreadsheet program; unsaved edits there are not read",
            )
    return ()


def _header_columns(
    cells: Sequence[str], first_position: int, where: str, letter: Any
) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Name the columns from the header cells, refusing blank or repeated names."""
    names = [cell.strip() for cell in cells]
    while names and not names[-1]:
        names.pop()
    blank = [letter(first_position + i) for i, name in enumerate(names) if not name]
    if blank:
        raise SheetError(
            f"{where}: the header has no name in column {', '.join(blank)}",
            "give every column a name in the header row (or delete the empty column)",
        )
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            first, again = letter(first_position + seen[name]), letter(first_position + i)
            raise SheetError(
                f'{where}: the header has "{name}" twice (columns {first} and {again})',
                "rename one of them so every column name is unique",
            )
        seen[name] = i
    return tuple(names), tuple(first_position + i for i in range(len(names)))


def _row_from_cells(number: int, cells: Sequence[str], info: SheetInfo, first_position: int) -> Row:
    """Pair cells with column names; a value under no header becomes a problem, not a loss."""
    count = len(info.columns)
    values = dict(zip(info.columns, cells, strict=False))
    if len(cells) < count:
        for name in info.columns[len(cells) :]:
            values[name] = ""
    problems = tuple(
        Problem("", f"a value in column {info.column_letter(first_position + i)} has no header")
        for i in range(count, len(cells))
        if cells[i] != ""
    )
    return Row(number, values, problems)


class WorkbookSheet:
    """A sheet of an .xlsx/.xlsm workbook, read with calamine."""

    def __init__(self, path: Path, sheet: str | None) -> None:
        self._stat = path.stat()
        workbook = _open_workbook(path)
        name = _choose_sheet(workbook, sheet, path)
        try:
            self._sheet = workbook.get_sheet_by_name(name)
        except calamine.CalamineError as error:  # the sheet's XML is parsed only now
            raise _unreadable(path, error) from None
        self._first = self._sheet.start[1] if self._sheet.height else 0
        where = f'{path.name}, sheet "{name}"'
        header_index, header_cells = self._find_header(where)
        columns, positions = _header_columns(
            [cell_text(c) for c in header_cells], self._first, where, column_letter
        )
        self._header_index = header_index
        self.info = SheetInfo(
            path=path,
            kind="xlsx",
            columns=columns,
            positions=positions,
            header_row=header_index + 1,
            width=self._first + max(self._sheet.width, len(columns)),
            sheet_name=name,
            warnings=_lock_file_warning(path),
        )

    def _find_header(self, where: str) -> tuple[int, list[Any]]:
        for index, cells in enumerate(self._sheet.iter_rows()):
            if any(cell != "" for cell in cells):
                return index, list(cells)
        raise SheetError(f"{where}: the sheet is empty", "put a header row and data rows in it")

    def rows(self) -> Iterator[Row]:
        """Yield data rows below the header, skipping fully empty ones."""
        info = self.info
        try:
            uncomputed = xlsx.formula_problems(info.path, info.sheet_name or "")
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, OSError) as error:
            raise _unreadable(info.path, error) from None
        merged = MergedCells.of(self._sheet.merged_cell_ranges or [], self._first)
        for index, raw in enumerate(self._sheet.iter_rows()):
            if index <= self._header_index:
                continue
            cells = [cell_text(c) for c in raw]
            if merged.sources:
                merged.fill(index, cells)
            if not any(cells):
                continue
            row = _row_from_cells(index + 1, cells, info, self._first)
            if uncomputed:
                row = _flag_uncomputed(row, uncomputed, info)
            yield row
        _check_unchanged(info.path, self._stat)


def _open_workbook(path: Path) -> Any:
    with path.open("rb") as handle:
        magic = handle.read(8)
    if magic.startswith(b"\xd0\xcf\x11\xe0"):
        raise SheetError(
            f"{path}: the workbook is password-protected (or an old .xls renamed)",
            "open it in Excel, remove the password (File > Info > Protect Workbook) and save"
            " as .xlsx",
        )
    try:
        return calamine.CalamineWorkbook.from_path(str(path))
    except calamine.PasswordError:
        raise SheetError(
            f"{path}: the workbook is password-protected",
            "remove the password in Excel and save it again",
        ) from None
    except (calamine.CalamineError, OSError) as error:
        raise _unreadable(path, error) from None


def _unreadable(path: Path, error: Exception) -> SheetError:
    return SheetError(
        f"{path}: is not a readable workbook ({error})",
        "it may be damaged, incomplete or still downloading: open and re-save it in Excel",
    )


def _choose_sheet(workbook: Any, wanted: str | None, path: Path) -> str:
    sheets = workbook.sheets_metadata
    names = [s.name for s in sheets]
    if wanted is None:
        for meta in sheets:
            if meta.visible == calamine.SheetVisibleEnum.Visible and str(meta.typ).endswith(
                "WorkSheet"
            ):
                return str(meta.name)
        raise SheetError(f"{path}: the workbook has no visible worksheet", "unhide a sheet")
    if wanted in names:
        return wanted
    if wanted.isdigit() and 1 <= int(wanted) <= len(names):
        return str(names[int(wanted) - 1])
    listed = ", ".join(f'"{n}"' for n in names)
    raise SheetError(
        f'{path}: there is no sheet "{wanted}"',
        f"choose one of {listed}, or a number from 1 to {len(names)}",
    )


@dataclass
class MergedCells:
    """The merged ranges of a sheet: every hidden cell shows its range's top-left value."""

    targets: dict[int, list[tuple[int, tuple[int, int]]]]
    sources: set[tuple[int, int]]
    kept: dict[tuple[int, int], str] = field(default_factory=dict)

    @classmethod
    def of(
        cls, ranges: Iterable[tuple[tuple[int, int], tuple[int, int]]], first: int
    ) -> MergedCells:
        """Index the ranges by row, with columns relative to the sheet's first column."""
        targets: dict[int, list[tuple[int, tuple[int, int]]]] = {}
        sources: set[tuple[int, int]] = set()
        for (top, left), (bottom, right) in ranges:
            source = (top, left - first)
            sources.add(source)
            for r in range(top, bottom + 1):
                for c in range(left, right + 1):
                    if (r, c) != (top, left):
                        targets.setdefault(r, []).append((c - first, source))
        return cls(targets, sources)

    def fill(self, index: int, cells: list[str]) -> None:
        """Copy the shown values into the hidden cells of row `index`."""
        for column, value in enumerate(cells):
            if (index, column) in self.sources:
                self.kept[(index, column)] = value
        for column, source in self.targets.get(index, ()):
            while len(cells) <= column:
                cells.append("")
            cells[column] = self.kept.get(source, "")


def _flag_uncomputed(row: Row, uncomputed: Mapping[tuple[int, int], str], info: SheetInfo) -> Row:
    """Turn formula cells that show no value into problems of the row, naming the cell."""
    found = [
        Problem(
            "",
            f"the formula in cell {column_letter(position)}{row.number}"
            f" {uncomputed[(row.number, position)]}",
            name,
        )
        for name, position in zip(info.columns, info.positions, strict=True)
        if (row.number, position) in uncomputed
    ]
    return replace(row, problems=row.problems + tuple(found)) if found else row


def _check_unchanged(path: Path, before: os.stat_result) -> None:
    after = path.stat()
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
        raise SheetError(
            f"{path}: changed while it was being read",
            "run again once it is saved and no other program is writing it",
        )


@dataclass
class CsvSheet:
    """A delimited text file, read record by record so huge files stay small in memory."""

    path: Path
    encoding_wanted: str | None = None
    delimiter_wanted: str | None = None
    info: SheetInfo = field(init=False)

    def __post_init__(self) -> None:
        self._stat = self.path.stat()
        encoding, warnings = _detect_encoding(self.path, self.encoding_wanted)
        sample = _read_sample(self.path, encoding)
        delimiter = self.delimiter_wanted or _sniff_delimiter(sample, self.path)
        header_index, header = self._find_header(encoding, delimiter)
        columns, positions = _header_columns(header, 0, self.path.name, lambda p: str(p + 1))
        self.info = SheetInfo(
            path=self.path,
            kind="csv",
            columns=columns,
            positions=positions,
            header_row=header_index + 1,
            width=len(columns),
            encoding=encoding,
            delimiter=delimiter,
            line_terminator="\n" if "\r\n" not in sample and "\n" in sample else "\r\n",
            warnings=warnings + _lock_file_warning(self.path),
        )

    def _records(self, encoding: str, delimiter: str) -> Iterator[list[str]]:
        try:
            with self.path.open(encoding=encoding, newline="") as handle:
                yield from csv.reader(handle, delimiter=delimiter)
        except csv.Error as error:
            raise SheetError(
                f"{self.path}: cannot be read as delimited text ({error})",
                "save it again from the spreadsheet program as CSV UTF-8",
            ) from None
        except UnicodeError as error:  # a decode error, or a UTF-16/32 stream without its BOM
            at = _bad_byte(self.path, encoding)
            raise SheetError(
                f"{self.path}: is not {encoding} text ({error if at is None else f'byte {at}'})",
                "name its encoding with --encoding, or save it as CSV UTF-8",
            ) from None

    def _find_header(self, encoding: str, delimiter: str) -> tuple[int, list[str]]:
        for index, record in enumerate(self._records(encoding, delimiter)):
            if any(cell.strip() for cell in record):
                return index, record
        raise SheetError(f"{self.path}: the file is empty", "put a header row and data rows in it")

    def rows(self) -> Iterator[Row]:
        """Yield data rows below the header, skipping fully empty ones."""
        info = self.info
        assert info.encoding is not None
        assert info.delimiter is not None
        for index, record in enumerate(self._records(info.encoding, info.delimiter)):
            if index < info.header_row or not any(record):
                continue
            yield _row_from_cells(index + 1, record, info, 0)
        _check_unchanged(self.path, self._stat)


def _detect_encoding(path: Path, wanted: str | None) -> tuple[str, tuple[str, ...]]:
    """Take UTF-8 (with or without BOM) when every byte fits, else fall back to cp1252."""
    if wanted:
        try:
            found = codecs.lookup(wanted)
        except LookupError:
            raise SheetError(
                f"unknown encoding {wanted!r}", "try utf-8, cp1252, latin-1 or utf-16"
            ) from None
        # "utf-8" named by the user must still drop Excel's BOM, or it sticks to the first name.
        return ("utf-8-sig" if found.name == "utf-8" else wanted), ()
    if _is_utf8(path):
        return "utf-8-sig", ()
    note = (
        f"{path.name} is not UTF-8; it was read as {CSV_FALLBACK_ENCODING} (Windows Western)."
        " Use --encoding if letters look wrong"
    )
    return CSV_FALLBACK_ENCODING, (note,)


def _bad_byte(path: Path, encoding: str) -> int | None:
    """Find the file offset of the first byte that does not decode; the error knows a chunk's."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                offset += len(chunk)
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError as error:  # error.object: the bytes held back, then this chunk
        return offset - len(error.object) + error.start
    except (UnicodeError, OSError):
        return None
    return None


def _is_utf8(path: Path) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _read_sample(path: Path, encoding: str) -> str:
    with path.open("rb") as handle:
        raw = handle.read(CSV_SNIFF_BYTES)
    return raw.decode(encoding, errors="ignore")


def _sniff_delimiter(sample: str, path: Path) -> str:
    """Choose the delimiter that splits the first records into the most consistent columns."""
    if path.suffix.lower() == ".tsv":
        return "\t"
    # Split as the csv reader will (\r, \n, \r\n only): str.splitlines also breaks at \x1c-\x1e,
    # \x85, \u2028... inside cells, and the pieces would vote for the wrong delimiter.
    lines = list(io.StringIO(sample, newline=""))
    if len(sample) >= CSV_SNIFF_BYTES and len(lines) > 1:
        lines = lines[:-1]
    text = "".join(lines)
    best, best_score = ",", (0, 0)
    for delimiter in CSV_DELIMITERS:
        try:
            records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
        except csv.Error:
            continue
        widths = [len(r) for r in records[:50] if any(r)]
        if not widths or max(widths) < 2:
            continue
        common = max(set(widths), key=widths.count)
        score = (widths.count(common) * 100 // len(widths), common)
        if common > 1 and score > best_score:
            best, best_score = delimiter, score
    return best


def rows_from_frame(frame: pd.DataFrame) -> Iterator[Row]:
    """Turn a DataFrame's rows into Rows numbered as a sheet would be (header on row 1)."""
    names = [str(name).strip() for name in frame.columns]
    _header_columns(names, 0, "the DataFrame", lambda p: str(p + 1))
    for offset, values in enumerate(frame.itertuples(index=False, name=None)):
        cells = {name: _frame_cell_text(v) for name, v in zip(names, values, strict=True)}
        if any(cells.values()):
            yield Row(offset + 2, cells)


def _frame_cell_text(value: Any) -> str:
    if value is None or value is pd.NaT:
        return ""
    if isinstance(value, pd.Timestamp):
        return _datetime_text(value.to_pydatetime())
    if isinstance(value, float) and math.isnan(value):
        return ""
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if value is pd.NA:
        return ""
    return cell_text(value)


def added_positions(info: SheetInfo, names: Sequence[str]) -> list[tuple[int, str]]:
    """Place each added column: over a column of the same name, else after the last one."""
    existing = dict(zip(info.columns, info.positions, strict=True))
    placed, next_free = [], info.width
    for name in names:
        if name in existing:
            placed.append((existing[name], name))
        else:
            placed.append((next_free, name))
            next_free += 1
    return placed


def write_annotated(
    info: SheetInfo, dst: Path, names: Sequence[str], values: Mapping[int, Sequence[str]]
) -> None:
    """Write a copy of the input with the named columns added or updated, in the input's format."""
    if info.kind == "xlsx":
        columns = added_positions(info, names)
        xlsx.annotate_workbook(
            info.path, dst, info.sheet_name or "", columns, info.header_row, values
        )
    else:
        # Values under no header widen a CSV: added columns go after them, never over them.
        wide = replace(info, width=max(info.width, _used_width(info)))
        _annotate_csv(info, dst, added_positions(wide, names), values)


def _used_width(info: SheetInfo) -> int:
    """Count the columns up to the last non-empty cell of any record."""
    width = 0
    try:
        with info.path.open(encoding=info.encoding, newline="") as src:
            for record in csv.reader(src, delimiter=info.delimiter or ","):
                while record and not record[-1]:
                    record.pop()
                width = max(width, len(record))
    except OSError:
        pass  # _annotate_csv meets the same error and reports it
    return width


def _output_encoding(info: SheetInfo) -> str:
    """Write back in the input's encoding, keeping or leaving out the BOM as the input did."""
    assert info.encoding is not None
    if info.encoding.lower() in {"cp1252", "latin-1"}:
        # cp1252 cannot hold every character a message may quote; UTF-8 with BOM opens in Excel.
        return "utf-8-sig"
    if info.encoding == "utf-8-sig":
        with info.path.open("rb") as handle:
            return "utf-8-sig" if handle.read(3) == codecs.BOM_UTF8 else "utf-8"
    return info.encoding


def _annotate_csv(
    info: SheetInfo,
    dst: Path,
    columns: Sequence[tuple[int, str]],
    values: Mapping[int, Sequence[str]],
) -> None:
    assert info.encoding is not None
    assert info.delimiter is not None
    out_encoding = _output_encoding(info)
    temp = dst.with_name(f".{dst.name}.tmp")
    try:
        with (
            info.path.open(encoding=info.encoding, newline="") as src,
            temp.open("w", encoding=out_encoding, newline="") as out,
        ):
            writer = csv.writer(out, delimiter=info.delimiter, lineterminator=info.line_terminator)
            for index, record in enumerate(csv.reader(src, delimiter=info.delimiter)):
                writer.writerow(_annotated_record(index + 1, record, info, columns, values))
        os.replace(temp, dst)
    except OSError as error:
        temp.unlink(missing_ok=True)
        raise OutputError(
            f"{dst}: cannot be written ({error.strerror})",
            "close it if it is open in another program, or choose another output folder with -o",
        ) from None


def _annotated_record(
    number: int,
    record: list[str],
    info: SheetInfo,
    columns: Sequence[tuple[int, str]],
    values: Mapping[int, Sequence[str]],
) -> list[str]:
    if number < info.header_row:
        return record
    if number == info.header_row:
        cells = [name for _, name in columns]
    elif number in values:
        cells = [_csv_safe(text) for text in values[number]]
    else:
        return record
    record = list(record)
    for (position, _), text in zip(columns, cells, strict=True):
        while len(record) <= position:
            record.append("")
        record[position] = text
    return record


def _csv_safe(text: str) -> str:
    # A spreadsheet program opening the CSV would run "=..." as a formula.
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text
