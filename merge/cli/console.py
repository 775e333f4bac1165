"""What every command shares: exit codes, usage errors, argument types, counted words."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from enum import IntEnum
from pathlib import Path

from tqdm import tqdm

from merge.payload.cell_checks import CellRules
from merge.payload.row import ENGINES, Target
from merge.review.offline import RenderOptions
from merge.sheets.selection import RowSelection

PROG = "avatar-merge"


class ExitCode(IntEnum):
    """What the process exit status means; documented in the README."""

    OK = 0
    ERROR = 1
    USAGE = 2
    INVALID_ROWS = 3
    FAILED_ROWS = 4
    INTERRUPTED = 130


class UsageError(Exception):
    """The command line itself is wrong."""


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def delimiter(text: str) -> str:
    named = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
    value = named.get(text.lower(), text)
    if len(value) != 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not one character (try , ; tab |)")
    return value


def warn_above(bar: tqdm) -> Callable[[str], None]:
    """Print warnings as soon as they are known, above the progress bar."""

    def warn(message: str) -> None:
        bar.write(f"warning: {message}", file=sys.stderr)

    return warn


def count(number: int, one: str, many: str | None = None) -> str:
    """Say `1 row` or `25 rows`."""
    return f"{number:,} {one if number == 1 else (many or one + 's')}"


def add_inputs(command: argparse.ArgumentParser, output: str) -> None:
    """Add the arguments that say which rows of which sheet go through which template."""
    command.add_argument("data", type=Path, help="the sheet: .xlsx, .xlsm, .csv, .tsv or .txt")
    command.add_argument("template", type=Path, help="the request template: .json or .json.j2")
    command.add_argument("-o", "--output", type=Path, required=True, help=output)
    command.add_argument(
        "--sheet", metavar="NAME", help="workbook sheet, by name or number from 1 (visible sheets)"
    )
    command.add_argument(
        "--header-row",
        type=positive,
        metavar="N",
        help="the row holding the column names (default: the first row with a value)",
    )
    command.add_argument(
        "--include-hidden",
        action="store_true",
        help="take rows hidden by a filter or by hand too (default: they are skipped)",
    )
    command.add_argument(
        "--allow-placeholders",
        action="store_true",
        help="accept cells that hold {{ Name }} or [Name] as text to speak (default: invalid row)",
    )
    command.add_argument(
        "--decimal-comma",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="read 1,2 in a number field as 1.2 (default: only in ;-delimited files)",
    )
    command.add_argument(
        "--rows", metavar="RANGES", help="spreadsheet rows to take, e.g. 2-40,55,60-"
    )
    command.add_argument(
        "--limit", type=positive, metavar="N", help="take at most N rows (a pilot)"
    )
    command.add_argument(
        "--encoding", metavar="NAME", help="CSV encoding (default: UTF-8, else cp1252)"
    )
    command.add_argument(
        "--delimiter",
        type=delimiter,
        metavar="C",
        help="CSV delimiter: , ; tab | (default: sniffed)",
    )
    command.add_argument(
        "--api",
        choices=("v2", "v3"),
        help="the API the bodies are for: v3 (default; for submit, an existing output's own)"
        " or v2 (retired on 2026-11-01; only for accounts that still have it)",
    )
    command.add_argument(
        "--lossy",
        action="store_true",
        help="v3: drop, with a warning, V2 settings v3 cannot express (else the row is invalid)",
    )
    command.add_argument(
        "--engine",
        choices=ENGINES,
        help="v3: the avatar engine of every avatar scene whose template names none"
        " (HeyGen's default is avatar_iv; avatar_iii costs about a quarter of it)",
    )


def render_options(args: argparse.Namespace, api: str | None = None) -> RenderOptions:
    """Resolve the row-selection arguments once, at the boundary; `api` is the API to use
    when the command line names none (else v3)."""
    try:
        rows = RowSelection.parse(args.rows)
    except ValueError as error:
        raise UsageError(f"--rows: {error}") from None
    chosen = args.api or api or "v3"
    if args.lossy and chosen != "v3":
        raise UsageError("--lossy: only with --api v3")
    if args.engine and chosen != "v3":
        raise UsageError("--engine: only with --api v3 (V2 has no engine choice)")
    target = Target(chosen, args.lossy, args.engine)
    cells = CellRules(args.allow_placeholders, args.decimal_comma)
    return RenderOptions(
        args.sheet,
        args.encoding,
        args.delimiter,
        rows,
        args.limit,
        target=target,
        header_row=args.header_row,
        include_hidden=args.include_hidden,
        cells=cells,
    )
