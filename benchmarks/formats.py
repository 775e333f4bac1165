"""What showing cells as the sheet displays them costs: reading with number formats and without.

`python -m benchmarks.formats [ROWS]` writes two workbooks of ROWS rows (default 100,000) and
eight columns, once with four number-formatted columns (ZIP `00000`, `0%`, a date-time and a
currency) and once with the same values unformatted, then prints the best of three reads of
every row through `open_sheet(...).rows()` for each, and the ratio.
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

FORMATS = ("00000", "0%", "dd/mm/yyyy hh:mm", '"$"#,##0.00')


def write(path: Path, rows: int, formatted: bool) -> None:
    """Write the workbook with openpyxl's streaming writer."""
    import openpyxl
    from openpyxl.cell import WriteOnlyCell

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("S")
    sheet.append(["name", "zip", "share", "when", "amount", "a", "b", "c"])
    start = dt.datetime(2024, 1, 1)
    for i in range(rows):
        values: list[float | dt.datetime] = [
            2134 + i % 500,
            (i % 100) / 100,
            start + dt.timedelta(hours=i),
            i * 1.5,
        ]
        cells = []
        for value, code in zip(values, FORMATS, strict=True):
            cell = WriteOnlyCell(sheet, value)
            if formatted or isinstance(value, dt.datetime):
                cell.number_format = code if formatted else "yyyy-mm-dd h:mm:ss"
            cells.append(cell)
        sheet.append([f"Lead {i}", *cells, "x", "y", "z"])
    book.save(path)


def best_read(path: Path) -> float:
    from merge.sheets import sheet

    sheet.WRITE_SETTLE_SECONDS = 0.0  # type: ignore[attr-defined]  # just written: no wait
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _row in sheet.open_sheet(path).rows():
            pass
        best = min(best, time.perf_counter() - started)
    return best


def main(argv: list[str]) -> int:
    rows = int(argv[0]) if argv else 100_000
    with tempfile.TemporaryDirectory() as folder:
        plain, formatted = Path(folder) / "plain.xlsx", Path(folder) / "formatted.xlsx"
        write(plain, rows, formatted=False)
        write(formatted, rows, formatted=True)
        without, with_formats = best_read(plain), best_read(formatted)
    print(f"read {rows:,} rows, no number formats:      {without:.2f} s")
    print(f"read {rows:,} rows, 4 formatted columns:    {with_formats:.2f} s")
    print(f"ratio: {with_formats / without:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
