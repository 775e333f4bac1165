"""Helpers for submit tests: lead sheets of any size, and reading back what a run wrote."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

import openpyxl

from tests.conftest import ROOT

OUTREACH = ROOT / "templates" / "outreach.json"
LEADS_XLSX = ROOT / "sample_data" / "leads.xlsx"
HEADER = ["first_name", "company", "city", "product", "email", "avatar_id", "voice_id", "speed"]
HEADER += ["background"]
RESULT = ["video_id", "merge_status", "merge_error", "callback_id", "submitted_at"]


def lead(number: int) -> list[str]:
    """One valid lead; each has its own email, so it can serve as --key."""
    return [
        f"Lead {number} 🙂",
        f'Acme "{number}"',
        "תל אביב" if number % 7 == 0 else "Boston",
        "analytics",
        f"lead{number}@example.com",
        "Daisy-inskirt-20220818",
        "2d5b0e6cf36f460aa7fc47e3eee4ba54",
        "1",
        "#0e1b2c",
    ]


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    """Write a UTF-8 CSV of leads."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_xlsx(path: Path, rows: list[list[str]]) -> Path:
    """Write a real workbook with the leads and a second sheet that must survive."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Leads"
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    sheet.column_dimensions["A"].width = 31
    notes = book.create_sheet("Notes")
    notes["A1"] = "keep me"
    book.save(path)
    return path


def leads(count: int) -> list[list[str]]:
    """Rows 2 to count+1 of a sheet of valid leads."""
    return [lead(n) for n in range(count)]


def results(path: Path) -> dict[int, dict[str, str]]:
    """Read the result columns of an output sheet by row number (xlsx or csv)."""
    if path.suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as handle:
            records = list(csv.reader(handle))
    else:
        book = openpyxl.load_workbook(path, read_only=True)
        records = [["" if v is None else str(v) for v in r] for r in book.worksheets[0].values]
        book.close()
    header = records[0]
    at = {name: header.index(name) for name in RESULT}
    return {
        number: {name: (record[i] if i < len(record) else "") for name, i in at.items()}
        for number, record in enumerate(records[1:], start=2)
    }


def ids_in(path: Path) -> list[str]:
    """Every video_id the output sheet holds."""
    return [r["video_id"] for r in results(path).values() if r["video_id"]]


def journal_states(output: Path) -> dict[str, str]:
    """Each row's state in the journal beside an output, read without holding it."""
    db = sqlite3.connect(f"file:{output}.journal?mode=ro", uri=True)
    try:
        return dict(db.execute("select key, state from rows").fetchall())
    finally:
        db.close()
