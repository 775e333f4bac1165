"""The sheet a submit benchmark sends, and the output it left held against the simulator's record.

The sheet is all valid leads for templates/outreach.json, with the varied names, companies and
cities of benchmarks/leads.py and fixed avatar, voice, speed and background. The audit counts
what the issue asks for: duplicate videos (ids issued beyond one per callback_id) and ids the
simulator issued that the output's video_id column does not hold.
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import os
import random
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import leads
from benchmarks.run import DATA

COLUMNS = (
    "first_name",
    "company",
    "city",
    "product",
    "avatar_id",
    "voice_id",
    "speed",
    "background",
)
AVATAR_ID = "Daisy-inskirt-20220818"
VOICE_ID = "2d5b0e6cf36f460aa7fc47e3eee4ba54"
BACKGROUND = "#0e1b2c"
SHEET_VERSION = 1
"""Bump when the rows change, so cached sheets are regenerated."""
PAUSE_SECONDS = 0.5
"""A gap this long between two first sends counts as a pause (a Retry-After honoured, say)."""


def sheet_path(rows: int) -> Path:
    """Name the cached sheet of `rows` valid leads."""
    return DATA / f"submit-leads-{rows}-v{SHEET_VERSION}.csv"


def ensure_sheet(rows: int) -> Path:
    """Return the CSV of `rows` valid leads for templates/outreach.json, writing it if missing."""
    path = sheet_path(rows)
    if path.exists():
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    rng = random.Random(leads.SEED)
    with temp.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        writer.writerows(_lead(rng) for _ in range(rows))
    os.replace(temp, path)
    # avatar-merge waits 0.5 s on an input modified in the last 2 s; this one is complete.
    an_hour_ago = time.time() - 3600
    os.utime(path, (an_hour_ago, an_hour_ago))
    return path


def _lead(rng: random.Random) -> list[str]:
    """One valid lead, with the varied names of benchmarks/leads.py and the fixed media ids."""
    company = f"{rng.choice(leads.COMPANY_HEADS)} {rng.choice(leads.COMPANY_TAILS)}"
    first, city, product = (
        rng.choice(p) for p in (leads.FIRST_NAMES, leads.CITIES, leads.PRODUCTS)
    )
    return [first, company, city, product, AVATAR_ID, VOICE_ID, "1", BACKGROUND]


@dataclass
class Audit:
    """The output sheet held against the simulator's own record of the ids it issued."""

    accepted_keys: int = 0
    issued: int = 0
    duplicates: int = 0
    missing: int = 0
    keys_without_id: int = 0
    foreign: int = 0
    output_rows: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    journal: dict[str, Any] = field(default_factory=dict)

    @property
    def not_submitted(self) -> int:
        """Rows of the output whose status is not `submitted`."""
        return sum(n for status, n in self.statuses.items() if status != "submitted")


def audit(output: Path, accepted: dict[str, Any]) -> Audit:
    """Count duplicates, ids the output lacks, and the output's statuses."""
    counts: dict[str, int] = accepted.get("accepted", {})
    issued_by_key: dict[str, list[str]] = accepted.get("video_ids", {})
    issued = {video_id for ids in issued_by_key.values() for video_id in ids}
    records = _output_records(output)
    written = {r.get("video_id", "") for r in records} - {""}
    by_key = {r.get("callback_id", ""): r.get("video_id", "") for r in records}
    return Audit(
        accepted_keys=len(counts),
        issued=sum(counts.values()),
        duplicates=sum(n - 1 for n in counts.values() if n > 1),
        missing=len(issued - written),
        keys_without_id=sum(1 for key in counts if not by_key.get(key)),
        foreign=len(written - issued),
        output_rows=len(records),
        statuses=dict(Counter(r.get("merge_status", "") for r in records)),
        journal=journal_figures(output),
    )


def _output_records(output: Path) -> list[dict[str, str]]:
    if not output.is_file():
        return []
    with output.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def journal_figures(output: Path) -> dict[str, Any]:
    """Read request times and attempts from the run's journal (a diagnostic; may be absent)."""
    path = output.with_name(output.name + ".journal")
    if not path.is_file():
        return {}
    try:
        with contextlib.closing(sqlite3.connect(path)) as db:
            rows = db.execute(
                "select first_sent_at, answered_at, attempts, state from rows"
                " where first_sent_at is not null order by first_sent_at"
            ).fetchall()
    except sqlite3.Error as error:
        return {"error": str(error)}
    if not rows:
        return {"rows": 0}
    firsts = [row[0] for row in rows]
    gaps = [later - earlier for earlier, later in itertools.pairwise(firsts)]
    pauses = [gap for gap in gaps if gap >= PAUSE_SECONDS]
    answered = [row[1] for row in rows if row[1] is not None]
    span = firsts[-1] - firsts[0]
    return {
        "rows": len(rows),
        "attempts": sum(row[2] for row in rows),
        "states": dict(Counter(row[3] for row in rows)),
        "first_sends_per_s": (len(rows) - 1) / span if span > 0 else None,
        "first_send_to_last_answer_s": max(answered) - firsts[0] if answered else None,
        "pauses": len(pauses),
        "paused_s": sum(pauses),
    }
