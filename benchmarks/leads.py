"""Synthetic lead sheets for the benchmarks: realistic, varied, deterministic, cached on disk.

Every sheet has the same eight columns. The first N rows of every file are the same rows (one
seeded generator), so a 100k-row file is the head of the 1M-row one. About 1% of the rows carry
a mistake a real sheet has (a speed out of range, a blank avatar id, a word for a number), so
the invalid-row path and the error columns of the annotated copy are exercised too.
"""

from __future__ import annotations

import csv
import json
import os
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path

COLUMNS = (
    "first_name",
    "company",
    "city",
    "zip",
    "product",
    "avatar_id",
    "voice_id",
    "speed",
)
GENERATOR_VERSION = 1
"""Bump when the rows change, so cached files are regenerated instead of reused."""

SEED = 20_260_105
INVALID_EVERY = 100
"""About one row in this many carries a mistake (chosen at random, not every 100th)."""

FIRST_NAMES = (
    "Ava",
    "Liam",
    "Sofia",
    "Noah",
    "Mia",
    "Lucas",
    "Zoë",
    "Mateo",
    "Amélie",
    "Oliver",
    "Siobhán",
    "Kai",
    "Priya",
    "Jürgen",
    "Chloé",
    "Ethan",
    "Ingrid",
    "Diego",
    "Hannah",
    "Yusuf",
    "Léa",
    "Aarav",
    "Freya",
    "Tomás",
    "Olga",
    "Kenji",
    "Fatima",
    "Björn",
    "Nadia",
    "Mohammed",
    "Élodie",
    "Chen",
    "Ana-María",
    "Seán",
    "Grace",
    "Ravi",
    "Maja",
    "Dmitri",
    "Isabella",
    "Wei",
    "O'Neil",
    "Kwame",
    "Lucía",
    "Emma",
    "Jack",
    "Ngozi",
    "Anouk",
    "Hiro",
)
COMPANY_HEADS = (
    "Brightside",
    "Northwind",
    "Acme",
    "Blue Harbor",
    "Café Olé",
    "Müller",
    "Summit",
    "Redwood",
    "Pioneer",
    "Lakeside",
    "Evergreen",
    "Silver Oak",
    "Harbour & Hale",
    "Quantum",
    "Sunrise",
    "Keystone",
    "O'Brien",
    "Golden Gate",
    "Maple Leaf",
    "Atlas",
    "Nordlicht",
    "Crescent",
    "Ironclad",
    "Blossom",
    "Granite",
    "Tidewater",
    "Copperfield",
    "Starlight",
)
COMPANY_TAILS = (
    "Dental",
    "Logistics",
    "Bakery",
    "Solar",
    "Legal LLP",
    "GmbH",
    "Fitness",
    "Realty",
    "Plumbing",
    "Analytics",
    "Veterinary Clinic",
    "& Sons",
    "Insurance",
    "Coffee Roasters",
    "Auto Repair",
    "Design Studio",
    "Pharmacy",
    "Holdings, Inc.",
    '"Rockets" Ltd',
    "Co-op",
)
CITIES = (
    "Boston",
    "Springfield",
    "New York",
    "San José",
    "Portland",
    "Austin",
    "Hartford",
    "Newark",
    "Providence",
    "Burlington",
    "Saint-Laurent",
    "Ann Arbor",
    "Coeur d'Alene",
    "Winston-Salem",
    "Santa Fe",
    "Brooklyn",
    "Cambridge",
    "Salt Lake City",
    "Madison",
    "Albuquerque",
    "Honolulu",
    "Anchorage",
    "Des Moines",
    "Portsmouth",
    "Fort Lauderdale",
)
PRODUCTS = (
    "Invisalign consults",
    "launch analytics",
    "online ordering",
    "fleet tracking",
    "solar financing",
    "a new CRM",
    "payroll software",
    "cloud backup",
    "patient reminders",
    "e-signatures",
    "inventory forecasting",
    "24/7 support chat",
    "loyalty cards",
    "route planning",
    "video onboarding",
    "tax filing, done right",
    "smart thermostats",
)
AVATARS = (
    "Daisy-inskirt-20220818",
    "Abigail_expressive_2024112501",
    "Tyler-incasualsuit-20220721",
    "Anna_public_3_20240108",
    "Brandon_sitting_office_front",
    "Kristin_public_2_20240108",
    "Susan_public_2_20240328",
    "Josh_lite3_20230714",
    "Monica_inSleeveless_20220819",
    "Wayne_20240711",
    "Leos_public_20240422",
    "Aditya_public_4",
)
SPEEDS = ("1", "1", "1", "1.1", "0.9", "1.05", "1.25", "0.8", "1.2", "0.95", "1.5", "0.5")


def _voice_ids(rng: random.Random) -> tuple[str, ...]:
    return tuple(f"{rng.getrandbits(128):032x}" for _ in range(40))


def _zip(rng: random.Random) -> str:
    # New England, New Jersey and Puerto Rico ZIP codes start with 0; keep plenty of them.
    if rng.random() < 0.3:
        return f"0{rng.randint(501, 9999):04d}"
    return f"{rng.randint(10000, 99950):05d}"


def lead_rows(count: int, seed: int = SEED) -> Iterator[list[str]]:
    """Yield `count` rows of text cells, in COLUMNS order."""
    rng = random.Random(seed)
    voices = _voice_ids(rng)
    for _ in range(count):
        row = [
            rng.choice(FIRST_NAMES),
            f"{rng.choice(COMPANY_HEADS)} {rng.choice(COMPANY_TAILS)}",
            rng.choice(CITIES),
            _zip(rng),
            rng.choice(PRODUCTS),
            rng.choice(AVATARS),
            rng.choice(voices),
            rng.choice(SPEEDS),
        ]
        if rng.randrange(INVALID_EVERY) == 0:
            mistake = rng.randrange(3)
            if mistake == 0:
                row[7] = rng.choice(("2", "1.75", "0.25"))  # out of range
            elif mistake == 1:
                row[5] = ""  # blank avatar id
            else:
                row[7] = "fast"  # not a number
        yield row


def sheet_path(folder: Path, rows: int, suffix: str) -> Path:
    """Name a cached sheet by its size and the generator version."""
    return folder / f"leads-{rows}-v{GENERATOR_VERSION}{suffix}"


def ensure(folder: Path, rows: int, suffix: str) -> tuple[Path, float | None]:
    """Return the cached sheet, generating it first if missing; also the seconds that took."""
    path = sheet_path(folder, rows, suffix)
    if path.exists():
        return path, None
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    temp = path.with_name(f".{path.name}.tmp")
    if suffix == ".csv":
        write_csv(temp, rows)
    elif suffix == ".xlsx":
        write_xlsx(temp, rows)
    else:
        raise ValueError(suffix)
    os.replace(temp, path)
    # avatar-merge waits 0.5 s on an input modified in the last 2 s (it may still be
    # downloading); a file just generated here is complete, so date it back out of that window.
    an_hour_ago = time.time() - 3600
    os.utime(path, (an_hour_ago, an_hour_ago))
    return path, time.perf_counter() - started


def write_csv(path: Path, rows: int) -> None:
    """Write a UTF-8 CSV with a header row, quoting only where needed (as Excel does)."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        writer.writerows(lead_rows(rows))


def write_xlsx(path: Path, rows: int) -> None:
    """Write the workbook with openpyxl's write-only mode; speed as a number, zip as text."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Leads")
    sheet.append(COLUMNS)
    for row in lead_rows(rows):
        speed = row[7]
        try:
            cell: str | float = float(speed)
        except ValueError:
            cell = speed
        sheet.append([*row[:7], cell])
    book.save(path)


def main(argv: list[str]) -> int:
    """`python -m benchmarks.leads FOLDER ROWS SUFFIX`: make sure the sheet exists (as JSON).

    The benchmark runner generates through this, in a child process, so that openpyxl and the
    rows never grow the runner: a child's peak RSS as wait4 reports it is at least the RSS of
    the process that spawned it.
    """
    path, took = ensure(Path(argv[0]), int(argv[1]), argv[2])
    print(json.dumps({"path": str(path), "seconds": took}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
