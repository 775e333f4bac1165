"""LibreOffice as the judge of what a sheet displays: `soffice --headless --convert-to csv`.

LibreOffice starts slowly, so every workbook of a test session goes through one call, with the
"save cell contents as shown" CSV option, in a profile of its own (never the user's).
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

# Comma, double quote, UTF-8, from row 1, no cell formats, English (USA), quoted text as text,
# detect special numbers, and, last, cell contents as shown.
CSV_FILTER = "csv:Text - txt - csv (StarCalc):44,34,76,1,,1033,false,true,true"
TIMEOUT = 120


def soffice() -> str | None:
    """Find LibreOffice's soffice."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def require_libreoffice() -> str:
    """Skip when LibreOffice is missing, with the reason; under CI=true fail instead."""
    found = soffice()
    if found is not None:
        return found
    reason = "LibreOffice (soffice) is not installed and make test could not install it (apt-get)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true runs the display tests, but {reason}")
    pytest.skip(reason)


def convert(books: Sequence[Path], to: str, out: Path, profile: Path) -> None:
    """Convert many files in one LibreOffice start."""
    out.mkdir(parents=True, exist_ok=True)
    command = [
        require_libreoffice(),
        f"-env:UserInstallation={profile.as_uri()}",
        "--headless",
        "--norestore",
        "--convert-to",
        to,
        "--outdir",
        str(out),
        *map(str, books),
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=TIMEOUT)
    missing = [b.name for b in books if not (out / f"{b.stem}.{to.split(':')[0]}").exists()]
    if missing:
        raise AssertionError(f"LibreOffice did not convert {missing}")


def displayed(books: Sequence[Path], out: Path, profile: Path) -> dict[str, list[list[str]]]:
    """Each workbook's first sheet as LibreOffice displays it, by file name."""
    convert(books, CSV_FILTER, out, profile)
    shown = {}
    for book in books:
        with (out / f"{book.stem}.csv").open(encoding="utf-8", newline="") as handle:
            shown[book.name] = list(csv.reader(handle))
    return shown
