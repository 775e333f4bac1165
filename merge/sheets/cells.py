"""What every sheet reader shares: rows, what was learnt of the input, cells shown as text."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from merge.errors import SheetError
from merge.problems import Problem
from merge.sheets.numfmt import general_number


@dataclass(frozen=True, slots=True)
class Row:
    """One data row: its spreadsheet row number, its cells by column, and what is wrong."""

    number: int
    values: dict[str, str]
    problems: tuple[Problem, ...] = ()
    hidden: bool = False
    """Hidden in the sheet, by a filter or by hand: skipped unless asked for."""
    raw: dict[str, str] | None = None
    """The stored value of each cell whose number format shows it otherwise (a ZIP's 2134)."""


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


@runtime_checkable
class InRowOrder(Protocol):
    """Values that can be read in row order while they are still coming: a copy of the input
    is written as they arrive."""

    def in_row_order(self) -> Iterator[tuple[int, Sequence[str]]]: ...


def in_row_order(values: Mapping[int, Sequence[str]]) -> Iterator[tuple[int, Sequence[str]]]:
    """Each row with its values, rows ascending; values still coming are read as they come."""
    if isinstance(values, InRowOrder):
        return values.in_row_order()
    return iter(sorted(values.items()))


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
        return datetime_text(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return _duration_text(value)
    return str(value)


def _number_text(value: float) -> str:
    # Excel shows at most 15 significant digits (0.1 + 0.2 is shown as 0.3), but whole numbers
    # in General keep all theirs: an id 1234567890123456 is not 1.23456789012346e+15.
    return general_number(value)


def datetime_text(value: dt.datetime) -> str:
    if value.time() == dt.time(0) and value.tzinfo is None:
        return value.date().isoformat()
    return value.isoformat()


def _duration_text(value: dt.timedelta) -> str:
    seconds = int(value.total_seconds())
    sign = "-" if seconds < 0 else ""
    hours, rest = divmod(abs(seconds), 3600)
    return f"{sign}{hours}:{rest // 60:02d}:{rest % 60:02d}"


def lock_file_warning(path: Path) -> tuple[str, ...]:
    # Excel and LibreOffice leave "~$name" / ".~lock.name#" beside a file they have open.
    for lock in (path.with_name("~$" + path.name), path.with_name(f".~lock.{path.name}#")):
        if lock.exists():
            return (
                f"{path.name} is open in a spreadsheet program; unsaved edits there are not read",
            )
    return ()


MAX_HEADER_CHARS = 255
"""A column name longer than this is not a header (a stray row, or a whole file on one line)."""


def title_hint(header_index: int, header_row: int | None) -> str:
    """Say how to skip a title row, when the header was found by itself (no --header-row)."""
    if header_row is not None:
        return ""
    return (
        f"; if row {header_index + 1} is a title above the header, name the header's row"
        f" with --header-row {header_index + 2} (or another row number)"
    )


def check_title_row(
    where: str, header_index: int, header: Sequence[str], below: Sequence[str] | None, hint: str
) -> None:
    """Refuse a lone title above the header ("Leads, March"), naming its row and --header-row."""
    filled = [cell for cell in header if str(cell).strip()]
    if not hint or below is None or len(filled) != 1 or not str(header[0]).strip():
        return
    if sum(1 for cell in below if str(cell).strip()) >= 2:
        raise SheetError(
            f'{where}: row {header_index + 1} holds only "{filled[0]}", which looks like a title'
            " above the header",
            f"name the header's row with --header-row {header_index + 2} (or the row that holds"
            " the column names)",
        )


def header_columns(
    cells: Sequence[str],
    first_position: int,
    where: str,
    letter: Any,
    hint: str = "",
    covered: frozenset[int] = frozenset(),
) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Name the columns from the header cells, refusing blank or repeated names.

    `covered` holds the indexes of header cells hidden under a merged header cell to their left:
    they name no column of their own.
    """
    names = [cell.strip() for cell in cells]
    while names and (not names[-1] or len(names) - 1 in covered):
        names.pop()
    long = next((i for i, name in enumerate(names) if len(name) > MAX_HEADER_CHARS), None)
    if long is not None:
        raise SheetError(
            f"{where}: the header in column {letter(first_position + long)} is"
            f" {len(names[long]):,} characters long (starting {names[long][:40]!r})",
            f"check the first row is the header: names of at most {MAX_HEADER_CHARS} characters",
        )
    blank = [
        letter(first_position + i) for i, name in enumerate(names) if not name and i not in covered
    ]
    if blank:
        raise SheetError(
            f"{where}: the header has no name in column {', '.join(blank)}",
            "give every column a name in the header row (or delete the empty column)" + hint,
        )
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            first, again = letter(first_position + seen[name]), letter(first_position + i)
            raise SheetError(
                f'{where}: the header has "{name}" twice (columns {first} and {again})',
                "rename one of them so every column name is unique",
            )
        if name:
            seen[name] = i
    kept = [i for i in range(len(names)) if i not in covered]
    return tuple(names[i] for i in kept), tuple(first_position + i for i in kept)


def row_from_cells(number: int, cells: Sequence[str], info: SheetInfo, first_position: int) -> Row:
    """Pair cells with column names; a value under no header becomes a problem, not a loss."""
    count = len(info.columns)
    if info.positions and info.positions[-1] - info.positions[0] != count - 1:
        return _row_with_gaps(number, cells, info, first_position)
    values = dict(zip(info.columns, cells, strict=False))
    if len(cells) <= count:
        for name in info.columns[len(cells) :]:
            values[name] = ""
        return Row(number, values)
    problems = tuple(
        Problem("", f"a value in column {info.column_letter(first_position + i)} has no header")
        for i in range(count, len(cells))
        if cells[i] != ""
    )
    return Row(number, values, problems)


def _row_with_gaps(number: int, cells: Sequence[str], info: SheetInfo, first_position: int) -> Row:
    """Pair cells with names when some header cells lie under a merged header cell."""
    named = {position - first_position for position in info.positions}
    values = {
        name: (cells[i] if i < len(cells) else "")
        for name, i in zip(info.columns, sorted(named), strict=True)
    }
    problems = tuple(
        Problem("", f"a value in column {info.column_letter(first_position + i)} has no header")
        for i in range(len(cells))
        if i not in named and cells[i] != ""
    )
    return Row(number, values, problems)


def check_unchanged(path: Path, before: os.stat_result) -> None:
    after = path.stat()
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
        raise SheetError(
            f"{path}: changed while it was being read",
            "run again once it is saved and no other program is writing it",
        )
