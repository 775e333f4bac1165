"""The floor: the least any tool must do with a sheet — read every row and make JSON of it.

Run as `python -m benchmarks.floor FILE` in a fresh interpreter, so its time includes start-up
just as `avatar-merge render` does. An .xlsx is read with python-calamine (the reader
avatar-merge uses), a .csv with the csv module; each row becomes a {column: cell} dict and is
passed to json.dumps. Nothing is written; the total length is printed so no step can be skipped.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any


def xlsx_rows(path: Path) -> tuple[list[str], Any]:
    """Return the header and an iterator over the remaining rows of the first sheet."""
    import python_calamine

    book = python_calamine.CalamineWorkbook.from_path(str(path))
    rows = iter(book.get_sheet_by_index(0).iter_rows())
    return [str(cell) for cell in next(rows)], rows


def csv_rows(path: Path) -> tuple[list[str], Any]:
    """Return the header and an iterator over the remaining records."""
    handle = path.open(encoding="utf-8-sig", newline="")
    rows = csv.reader(handle)
    return next(rows), rows


def main(argv: list[str]) -> int:
    """Read FILE and json.dumps every row; print rows and characters made."""
    path = Path(argv[0])
    header, rows = xlsx_rows(path) if path.suffix == ".xlsx" else csv_rows(path)
    count = size = 0
    dumps = json.dumps
    for row in rows:
        size += len(dumps(dict(zip(header, row, strict=False)), ensure_ascii=False))
        count += 1
    print(f"{count} rows, {size} characters of JSON")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
