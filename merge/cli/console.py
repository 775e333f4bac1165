"""What every command shares: exit codes, usage errors, argument types, counted words."""

from __future__ import annotations

import argparse
import codecs
import os
import sys
from collections.abc import Callable
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from merge.errors import redact
from merge.payload.cell_checks import CellRules
from merge.payload.row import ENGINES, Target
from merge.review.offline import RenderOptions
from merge.sheets.selection import RowSelection

if TYPE_CHECKING:
    from tqdm import tqdm

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


def port(text: str) -> int:
    """Read a TCP port number, 1 to 65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port: use 1 to 65535")
    return value


def encoding(text: str) -> str:
    """Read the name of a text encoding (utf-8, cp1252, ...), refusing transforms like rot13."""
    try:
        found = codecs.lookup(text)
    except LookupError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an encoding (try utf-8, cp1252, latin-1 or utf-16)"
        ) from None
    if not getattr(found, "_is_text_encoding", True):
        raise argparse.ArgumentTypeError(f"{text!r} is a transform, not a text encoding")
    return text


class Parser(argparse.ArgumentParser):
    """Options are never guessed from a prefix (`--api-key` is not `--api-key-file`), and no
    usage error repeats a key-shaped value given by mistake."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        super().error(redact(message))


def delimiter(text: str) -> str:
    named = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
    value = named.get(text.lower(), text)
    if len(value) != 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not one character (try , ; tab |)")
    return value


def warn_above(bar: tqdm) -> Callable[[str], None]:
    """Print warnings as soon as they are known, above the progress bar."""

    def warn(message: str) -> None:
        bar.write(f"{paint('warning:', 'warning', sys.stderr)} {redact(message)}", file=sys.stderr)

    return warn


def count(number: int, one: str, many: str | None = None) -> str:
    """Say `1 row` or `25 rows`."""
    return f"{number:,} {one if number == 1 else (many or one + 's')}"


def add_inputs(command: argparse.ArgumentParser, output: str | None) -> None:
    """Add the arguments that say which rows of which sheet go through which template."""
    command.add_argument(
        "data", type=Path, nargs="?", help="the sheet: .xlsx, .xlsm, .csv, .tsv or .txt"
    )
    command.add_argument(
        "template", type=Path, nargs="?", help="the request template: .json or .json.j2"
    )
    needed = [("data", "DATA"), ("template", "TEMPLATE")]
    if output is not None:
        command.add_argument("-o", "--output", type=Path, help=output + " (required)")
        needed.append(("output", "-o"))
    add_campaign_option(command)
    command.set_defaults(needed=tuple(needed))
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
        "--limit", type=positive, metavar="N", help="take at most N rows, valid or not"
    )
    command.add_argument(
        "--encoding",
        type=encoding,
        metavar="NAME",
        help="CSV encoding (default: UTF-8, else cp1252)",
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


COLOURS = {"error": "31;1", "warning": "33", "hint": "36", "ok": "32", "bold": "1"}
"""ANSI styles of the few words that carry meaning: error, warning, hint."""


def colour_on(stream: TextIO) -> bool:
    """Colour only a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def paint(text: str, style: str, stream: TextIO) -> str:
    """Wrap text in an ANSI style when `stream` shows colour, else leave it as it is."""
    if not colour_on(stream):
        return text
    return f"\033[{COLOURS[style]}m{text}\033[0m"


def say_error(message: str, stream: TextIO) -> None:
    """Print `avatar-merge: error: ...` and its hint line, coloured on a terminal."""
    first, _, hint = str(message).partition("\nHint: ")
    print(f"{PROG}: {paint('error:', 'error', stream)} {first}", file=stream)
    if hint:
        print(f"{paint('Hint:', 'hint', stream)} {hint}", file=stream)


def warn(message: str) -> None:
    """Print a warning on stderr, coloured on a terminal."""
    print(f"{paint('warning:', 'warning', sys.stderr)} {message}", file=sys.stderr)


def ask(question: str) -> str:
    """Ask on the terminal, never on stdout, so `> plan.txt` cannot swallow the question."""
    print(question, end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline()
    if not answer:
        raise EOFError
    return answer


def add_output_options(
    command: argparse.ArgumentParser, json_summary: bool, calls_api: bool = True
) -> None:
    """Add --quiet, --verbose (where the API is called) and --json, unless it has them already."""
    taken = {string for action in command._actions for string in action.option_strings}
    group = command.add_argument_group("output")
    if not taken & {"-q", "--quiet"}:
        group.add_argument(
            "-q", "--quiet", action="store_true", help="print only errors (the exit code tells)"
        )
    if calls_api and not taken & {"-v", "--verbose"}:
        group.add_argument(
            "-v",
            "--verbose",
            action="store_true",
            help="also print each API request: method, path, status, time, request id",
        )
    if json_summary and "--json" not in taken:
        group.add_argument(
            "--json",
            action="store_true",
            help="print one JSON summary on stdout (the usual summary goes to stderr)",
        )


def record(args: argparse.Namespace, **fields: object) -> None:
    """Add fields to the command's JSON summary (printed by --json)."""
    summary: dict[str, object] = args.__dict__.setdefault("summary", {})
    summary.update(fields)


def add_campaign_option(command: argparse.ArgumentParser) -> None:
    """Add --campaign FILE: the command's options from a TOML file, flags winning."""
    command.add_argument(
        "--campaign",
        type=Path,
        metavar="FILE",
        help="read options from a TOML campaign file; options given here win",
    )


def check_needed(args: argparse.Namespace) -> None:
    """Refuse a command whose required inputs came neither from the line nor the campaign."""
    missing = [shown for dest, shown in getattr(args, "needed", ()) if getattr(args, dest) is None]
    if missing:
        raise UsageError(
            f"the following arguments are required: {', '.join(missing)}"
            " (on the command line, or in a --campaign file)"
        )
