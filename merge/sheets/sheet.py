"""Open a workbook, a CSV file or a DataFrame as rows, and write a marked copy back."""

from __future__ import annotations

import glob
import math
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from merge.errors import OutputError, SheetError
from merge.settings import WRITE_SETTLE_SECONDS, error_column_names
from merge.sheets.cells import (
    Row,
    Sheet,
    SheetInfo,
    cell_text,
    column_letter,
    datetime_text,
    header_columns,
    row_from_cells,
)
from merge.sheets.delimited import CsvSheet, annotate_csv, used_width

if TYPE_CHECKING:
    import pandas as pd

    from merge.sheets.xlsx_write import SheetLayout

WORKBOOK_SUFFIXES = frozenset({".xlsx", ".xlsm"})
TEXT_SUFFIXES = frozenset({".csv", ".tsv", ".txt"})

__all__ = [
    "Row",
    "Sheet",
    "SheetInfo",
    "added_positions",
    "cell_text",
    "check_writable",
    "column_letter",
    "open_sheet",
    "remove_stale_temps",
    "rows_from_frame",
    "write_annotated",
]


def open_sheet(
    path: Path,
    sheet: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    settle: bool = True,
    header_row: int | None = None,
) -> Sheet:
    """Open a workbook or a text file of rows, checking what can be checked before any row.

    `settle=False` skips waiting for a just-written file: for our own output, rewritten in place.
    `header_row` names the header's row (from 1); by default it is the first row with a value.
    """
    path = Path(path)
    _check_readable(path, settle)
    suffix = path.suffix.lower()
    if suffix in WORKBOOK_SUFFIXES:
        from merge.sheets.xlsx_read import WorkbookSheet  # a text file never needs it

        return WorkbookSheet(path, sheet, header_row)
    if suffix in TEXT_SUFFIXES:
        return CsvSheet(path, encoding, delimiter, header_row)
    if suffix == ".xls":
        raise SheetError(
            f"{path}: the old .xls format is not supported",
            "open it in Excel and save it as .xlsx (Excel Workbook)",
        )
    raise SheetError(
        f"{path}: unknown file type {suffix or '(none)'!r}",
        "use an .xlsx, .xlsm, .csv, .tsv or .txt file",
    )


def _check_readable(path: Path, settle: bool = True) -> None:
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
    if settle:
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


def rows_from_frame(frame: pd.DataFrame) -> Iterator[Row]:
    """Turn a DataFrame's rows into Rows numbered as a sheet would be (header on row 1)."""
    import pandas as pd  # only DataFrame users pay for importing pandas

    names = [str(name).strip() for name in frame.columns]
    columns, positions = header_columns(names, 0, "the DataFrame", lambda p: str(p + 1))
    info = SheetInfo(Path("DataFrame"), "frame", columns, positions, 1, len(names))
    for offset, values in enumerate(frame.itertuples(index=False, name=None)):
        cells = [_frame_cell_text(v, pd) for v in values]
        if any(cells):
            yield row_from_cells(offset + 2, cells, info, 0)


def _frame_cell_text(value: Any, pd: Any) -> str:
    if value is None or value is pd.NaT:
        return ""
    if isinstance(value, pd.Timestamp):
        return datetime_text(value.to_pydatetime())
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


def _layout(info: SheetInfo, try_patch: bool = False) -> SheetLayout:
    stat = info.path.stat()
    name = info.sheet_name or ""
    return _cached_layout(
        info.path, name, info.header_row, try_patch, stat.st_size, stat.st_mtime_ns
    )


@lru_cache(maxsize=8)
def _cached_layout(
    path: Path, sheet_name: str, header_row: int, try_patch: bool, _size: int, _mtime: int
) -> SheetLayout:
    from merge.sheets.xlsx_write import sheet_layout

    return sheet_layout(path, sheet_name, header_row, try_patch)


def output_positions(info: SheetInfo, names: Sequence[str]) -> list[tuple[int, str]]:
    """Place the written columns: new ones after every value, merged range and drawing."""
    if info.kind != "xlsx":
        return added_positions(info, names)
    layout = _layout(info)
    right = max([info.width - 1, layout.drawing_right] + [last for _, _, last, _ in layout.merged])
    return added_positions(replace(info, width=right + 1), names)


def check_writable(info: SheetInfo, output: Path, names: Sequence[str]) -> list[str]:
    """Find, before anything is sent, what would stop the output being written; warn the rest."""
    for lock in (output.with_name("~$" + output.name), output.with_name(f".~lock.{output.name}#")):
        if output.exists() and lock.exists():
            raise OutputError(
                f"{output}: is open in a spreadsheet program ({lock.name} is beside it)",
                "close it there first, or choose another output with -o",
            )
    if output.exists() and not os.access(output, os.W_OK):
        raise OutputError(
            f"{output}: is read-only", "make it writable, or choose another output with -o"
        )
    if info.kind != "xlsx":
        return []
    layout = _layout(info, try_patch=True)
    where = f'{info.path.name}, sheet "{info.sheet_name}"'
    for position, name in output_positions(info, names):
        for left, top, right, bottom in layout.merged:
            if (
                left <= position <= right
                and bottom >= info.header_row
                and (left, top)
                != (
                    right,
                    bottom,
                )
            ):
                cells = f"{column_letter(left)}{top}:{column_letter(right)}{bottom}"
                raise OutputError(
                    f"{where}: cells {cells} are merged where the column {name!r} is written"
                    f" (column {column_letter(position)})",
                    "unmerge them in the input, or rename that column's header",
                )
    if layout.patchable:
        return []
    return [
        f"{where}: the sheet's XML is of a form only a full rewrite can edit; the output is a"
        " rewritten copy that keeps formulas, their saved values, styles and document properties"
    ]


def write_annotated(
    info: SheetInfo, dst: Path, names: Sequence[str], values: Mapping[int, Sequence[str]]
) -> None:
    """Write a copy of the input with the named columns added or updated, in the input's format."""
    names = error_column_names(tuple(names), tuple(info.columns))
    if info.kind == "xlsx":
        from merge.sheets.xlsx_write import annotate_workbook

        columns = output_positions(info, names)
        annotate_workbook(info.path, dst, info.sheet_name or "", columns, info.header_row, values)
    else:
        # Values under no header widen a CSV: added columns go after them, never over them.
        wide = replace(info, width=max(info.width, used_width(info)))
        annotate_csv(info, dst, added_positions(wide, names), values)


def remove_stale_temps(dst: Path) -> None:
    """Remove half-written copies of dst a killed run left; call only while holding its journal."""
    for stale in Path(dst).parent.glob(f".{glob.escape(Path(dst).name)}.*.tmp"):
        stale.unlink(missing_ok=True)
