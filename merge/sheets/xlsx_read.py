"""Read a sheet of an .xlsx/.xlsm workbook with calamine, every cell as Excel shows it."""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from itertools import islice
from pathlib import Path
from typing import Any

import python_calamine as calamine

from merge.errors import SheetError
from merge.problems import Problem
from merge.sheets import xlsx_write as xlsx
from merge.sheets.cells import (
    Row,
    SheetInfo,
    cell_text,
    check_title_row,
    check_unchanged,
    column_letter,
    header_columns,
    lock_file_warning,
    row_from_cells,
    title_hint,
)
from merge.sheets.numfmt import format_date, format_number
from merge.sheets.selection import SAVE_HINT
from merge.sheets.xlsx_layout import sheet_layouts

MAX_UNPACKED_BYTES = 1024**3 // 2
"""A workbook whose parts unpack to more than this is refused before any is read (512 MB): the
reader holds the whole sheet, about 1.6 bytes of memory per byte of its XML, so a larger one
would take over 1 GB (a 1,000,000-row, 8-column sheet unpacks to about 500 MB)."""
MAX_RATIO = 200
"""A part unpacking to over 16 MB at more than this ratio is a zip bomb, not a sheet."""


def check_unpacked_size(path: Path) -> None:
    """Refuse a workbook that unpacks to far more than a sheet of leads can be (a zip bomb)."""
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, NotImplementedError, ValueError, EOFError):
        return  # the reader says what is wrong with it
    total = sum(part.file_size for part in parts)
    bomb = next(
        (
            p
            for p in parts
            if p.file_size > 16 * 1024**2 and p.file_size > MAX_RATIO * max(p.compress_size, 1)
        ),
        None,
    )
    if bomb is None and total <= MAX_UNPACKED_BYTES:
        return
    unpacked = (
        f"{path}: unpacks to {total / 1024**2:,.0f} MB from {path.stat().st_size / 1024**2:,.1f} MB"
    )
    if bomb is not None:
        raise SheetError(
            f"{unpacked}; a sheet of rows is never this large",
            "save only the rows and columns the videos need (or as CSV) and run again",
        )
    raise SheetError(
        f"{unpacked}; reading a workbook this large would take over 1 GB of memory",
        "save it as CSV (read row by row, in steady memory), or split it into workbooks"
        " of fewer rows, and run again",
    )


class WorkbookSheet:
    """A sheet of an .xlsx/.xlsm workbook, read with calamine."""

    def __init__(self, path: Path, sheet: str | None, header_row: int | None = None) -> None:
        self._stat = path.stat()
        check_unpacked_size(path)
        workbook = _open_workbook(path)
        name = _choose_sheet(workbook, sheet, path)
        try:
            self._sheet = workbook.get_sheet_by_name(name)
        except calamine.CalamineError as error:  # the sheet's XML is parsed only now
            raise _unreadable(path, error) from None
        self._first = self._sheet.start[1] if self._sheet.height else 0
        where = f'{path.name}, sheet "{name}"'
        header_index, header_cells = self._find_header(where, header_row)
        hint = title_hint(header_index, header_row)
        header = [cell_text(c) for c in header_cells]
        below = next(islice(self._sheet.iter_rows(), header_index + 1, None), None)
        check_title_row(
            where,
            header_index,
            header,
            None if below is None else [cell_text(c) for c in below],
            hint,
        )
        covered = frozenset(
            c - self._first
            for (top, left), (bottom, right) in self._sheet.merged_cell_ranges or []
            if top <= header_index <= bottom
            for c in range(left + 1, right + 1)
        )
        columns, positions = header_columns(
            header, self._first, where, column_letter, hint, covered
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
            warnings=lock_file_warning(path),
        )

    def _find_header(self, where: str, header_row: int | None) -> tuple[int, list[Any]]:
        for index, cells in enumerate(self._sheet.iter_rows()):
            if header_row is not None and index + 1 == header_row:
                if not any(cell != "" for cell in cells):
                    raise SheetError(
                        f"{where}: row {header_row} (--header-row) is empty",
                        "name the row that holds the column names",
                    )
                return index, list(cells)
            if header_row is None and any(cell != "" for cell in cells):
                return index, list(cells)
        if header_row is not None:
            raise SheetError(
                f"{where}: there is no row {header_row} (--header-row)",
                "name the row that holds the column names",
            )
        raise SheetError(f"{where}: the sheet is empty", "put a header row and data rows in it")

    def rows(self) -> Iterator[Row]:
        """Yield data rows below the header, skipping fully empty ones."""
        info = self.info
        try:
            uncomputed = xlsx.formula_problems(info.path, info.sheet_name or "")
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, OSError) as error:
            raise _unreadable(info.path, error) from None
        try:
            yield from self._rows(uncomputed)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, OSError) as error:
            raise _unreadable(info.path, error) from None
        check_unchanged(info.path, self._stat)

    def _rows(self, uncomputed: Mapping[tuple[int, int], str]) -> Iterator[Row]:
        info = self.info
        merged = MergedCells.of(self._sheet.merged_cell_ranges or [], self._first)
        with sheet_layouts(info.path, info.sheet_name or "") as layouts:
            layout = next(layouts, None)
            for index, raw in enumerate(self._sheet.iter_rows()):
                while layout is not None and layout.number <= index:
                    layout = next(layouts, None)
                if index <= self._header_index:
                    continue
                shown = layout if layout is not None and layout.number == index + 1 else None
                cells = [c if type(c) is str else cell_text(c) for c in raw]
                stored = _apply_formats(raw, cells, shown.formats, self._first) if shown else {}
                if merged.sources:
                    merged.fill(index, cells)
                if not any(cells):
                    continue
                row = row_from_cells(index + 1, cells, info, self._first)
                if stored or (shown and shown.hidden):
                    raw_values = {
                        name: stored[p]
                        for name, p in zip(info.columns, info.positions, strict=False)
                        if p in stored
                    }
                    row = replace(row, hidden=bool(shown and shown.hidden), raw=raw_values or None)
                if uncomputed:
                    row = _flag_uncomputed(row, uncomputed, info)
                yield row


def _apply_formats(
    raw: list[Any], cells: list[str], formats: Mapping[int, str], first: int
) -> dict[int, str]:
    """Show each formatted number as the sheet does; return the stored texts that changed."""
    stored: dict[int, str] = {}
    for position, code in formats.items():
        i = position - first
        if not 0 <= i < len(raw):
            continue
        value = raw[i]
        if isinstance(value, (bool, str)) or value is None:
            continue
        try:
            if isinstance(value, int | float):
                text = format_number(float(value), code)
            else:
                text = format_date(value, code) or cells[i]
        except (ValueError, OverflowError, ArithmeticError):
            continue  # a format this reader does not know: the stored value is shown
        if text != cells[i]:
            stored[position] = cells[i]
            cells[i] = text
    return stored


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
    # Sheet numbers count the tabs the user sees: hidden sheets and chart sheets are not counted.
    visible = [
        str(meta.name)
        for meta in sheets
        if meta.visible == calamine.SheetVisibleEnum.Visible and str(meta.typ).endswith("WorkSheet")
    ]
    if wanted is None:
        if visible:
            return visible[0]
        raise SheetError(f"{path}: the workbook has no visible worksheet", "unhide a sheet")
    if wanted in names:
        return wanted
    if wanted.isdigit() and 1 <= int(wanted) <= len(visible):
        return visible[int(wanted) - 1]
    listed = ", ".join(f'"{n}"' for n in visible)
    raise SheetError(
        f'{path}: there is no sheet "{wanted}"',
        f"choose one of {listed}, or a number from 1 to {len(visible)}",
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
            f" {_with_hint(uncomputed[(row.number, position)])}",
            name,
        )
        for name, position in zip(info.columns, info.positions, strict=True)
        if (row.number, position) in uncomputed
    ]
    return replace(row, problems=row.problems + tuple(found)) if found else row


def _with_hint(problem: str) -> str:
    return f"{problem} ({SAVE_HINT})" if problem == xlsx.NO_SAVED_VALUE else problem
