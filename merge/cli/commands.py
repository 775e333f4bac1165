"""The command line: parse arguments, show progress, print summaries, choose exit codes."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import io
import json
import os
import shutil
import sys
import traceback
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import TextIO

from merge.cli.campaign import apply_campaign, campaign_path, load_campaign
from merge.cli.console import (
    PROG,
    ExitCode,
    Parser,
    UsageError,
    add_inputs,
    add_output_options,
    check_needed,
    count,
    paint,
    record,
    render_options,
    say_error,
    warn_above,
)
from merge.cli.help import add_completion, add_examples
from merge.cli.show import print_rows
from merge.errors import MergeError, redact
from merge.payload.body_files import BodyVerdict, validate_files
from merge.payload.translate_v3 import LOSS_TEXT, LOSSY_HINT
from merge.payload.validate import json_schema
from merge.review.offline import RenderSummary, render_to_folder
from merge.settings import GC_THRESHOLDS
from merge.version import __version__

__all__ = ["ExitCode", "build_parser", "main"]

STARTER_FILES = {
    "template.json": "template.json",
    "template_v3.json": "template_v3.json",
    "leads.xlsx": "leads.xlsx",
}
"""The starter: a template in V2's language (translated for v3), the same in v3's, a sheet."""


OFFLINE_COMMANDS = frozenset({"render", "validate", "schema", "init"})
"""Commands that need neither HTTP nor the simulator: run alone, they do not import them."""


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Describe every command and option (or, with `only`, one offline command's)."""
    parser: argparse.ArgumentParser = Parser(
        prog=PROG,
        description="Turn a spreadsheet and one request template into HeyGen avatar videos.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_render(commands)
    if only is None:
        # Imported here: `render` on its own starts faster without the HTTP and server stacks.
        from merge.cli.account import add_account_commands
        from merge.cli.listen import add_listen
        from merge.cli.simulate import add_simulate
        from merge.cli.status import add_status
        from merge.cli.submit import add_submit

        add_submit(commands)
        add_account_commands(commands)
        add_status(commands)
        add_listen(commands)
    _add_validate(commands)
    if only is None:
        add_simulate(commands)
    schema = commands.add_parser(
        "schema", help="print the JSON Schema of a request body template (for editors)"
    )
    schema.add_argument(
        "--api",
        choices=("v2", "v3"),
        default="v2",
        help="the template language: v2 (video_inputs, default) or v3 (type avatar|image|studio)",
    )
    schema.set_defaults(run=run_schema)
    init = commands.add_parser(
        "init", help="write a starter template and sheet here (never overwrites)"
    )
    init.add_argument("folder", nargs="?", default=".", type=Path, help="where (default: here)")
    init.set_defaults(run=run_init)
    add_completion(commands)
    for name, command in commands.choices.items():
        add_output_options(command, name in JSON_SUMMARIES, name not in OFFLINE)
    add_examples(parser, commands.choices)
    return parser


JSON_SUMMARIES = frozenset({"render", "submit", "status", "check"})
"""Commands that take --json (validate's own --json lists its verdicts)."""
OFFLINE = frozenset({"render", "validate", "schema", "init", "completion", "listen", "simulate"})
"""Commands that call no API: --verbose, which shows each API request, has nothing to show."""
RECORDED = frozenset({"render", "submit", "status"})
"""Commands whose --json summary `main` prints from what they record; the text goes to stderr."""


def _add_render(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    render = commands.add_parser(
        "render",
        help="render and validate every row into a review folder (offline, spends nothing)",
        description="Render the template once per row, validate each body against the V2"
        " contract, and write a review folder: payloads.jsonl, review.html and a copy of the"
        " sheet with merge_status and merge_error columns (--split adds payloads/row-NNNN.json).",
    )
    add_inputs(render, "the review folder")
    render.add_argument(
        "--split",
        action="store_true",
        help="also write payloads/row-NNNN.json, one readable file per valid body (slow on big"
        " sheets: one file per row)",
    )
    render.add_argument(
        "--print",
        dest="print_rows",
        action="store_true",
        help="also show the selected rows' bodies and scripts here (with --rows 7, say)",
    )
    render.set_defaults(run=run_render)


def _add_validate(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    validate = commands.add_parser(
        "validate",
        help="check request bodies made elsewhere (.json, or .jsonl with one per line)",
    )
    validate.add_argument("files", nargs="+", type=Path, metavar="FILE")
    validate.add_argument("--json", action="store_true", help="print a JSON array of verdicts")
    validate.set_defaults(run=run_validate)


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def run_render(args: argparse.Namespace, out: TextIO) -> ExitCode:
    """Render into the review folder and report what happened."""
    options = dataclasses.replace(render_options(args), split=args.split)
    progress: Callable[[int], None] | None = None
    warn: Callable[[str], None] = _warn
    with contextlib.ExitStack() as stack:
        if sys.stderr.isatty():  # imported only for a terminal: a tenth of a 10,000-row run
            from tqdm import tqdm

            bar = stack.enter_context(tqdm(desc="rendering", unit=" rows", file=sys.stderr))
            progress, warn = bar.update, warn_above(bar)
        summary = render_to_folder(args.data, args.template, args.output, options, progress, warn)
    if args.print_rows:
        print_rows(summary.folder / "payloads.jsonl", out)
    _print_render_summary(summary, args, out)
    record(
        args,
        rows=summary.total,
        valid=summary.valid,
        invalid=summary.invalid,
        lossy=summary.lossy,
        first_problems=summary.first_problems,
        folder=str(summary.folder),
        sheet=str(summary.annotated),
        review_page=str(summary.folder / "review.html"),
    )
    return ExitCode.OK if summary.invalid == 0 else ExitCode.INVALID_ROWS


def _print_render_summary(summary: RenderSummary, args: argparse.Namespace, out: TextIO) -> None:
    sheet = f' (sheet "{summary.source.sheet_name}")' if summary.source.sheet_name else ""
    rows = count(summary.total, "row")
    print(f"Rendered {rows} of {args.data}{sheet} with {args.template}", file=out)
    valid = paint(f"{summary.valid} valid", "ok", out)
    invalid = paint(f"{summary.invalid} invalid", "error", out) if summary.invalid else "0 invalid"
    print(f"  {valid}, {invalid}", file=out)
    if summary.hidden:
        print(
            f"  {count(summary.hidden, 'hidden row')} left out (--include-hidden takes them)",
            file=out,
        )
    if summary.files:
        size = sum(file.size for file in summary.files.values()) / 1024**2
        files = count(len(summary.files), "local file")
        print(f"  {files} ({size:,.1f} MB) to upload once each when sent", file=out)
    if summary.lossy:
        print(
            f"  {count(summary.lossy, 'row')} lost settings v3 cannot express (--lossy);"
            ' each is a "warnings" entry in payloads.jsonl',
            file=out,
        )
    if summary.first_problems:
        shown = len(summary.first_problems)
        print(f"First problems ({shown} shown; all are in payloads.jsonl):", file=out)
        for line in summary.first_problems:
            print(f"  {line}", file=out)
        if any(LOSS_TEXT in line for line in summary.first_problems):
            print(f"Hint: {LOSSY_HINT}", file=out)
    print(f"Review folder: {summary.folder}", file=out)
    print("  payloads.jsonl   every row: status, body, problems", file=out)
    if summary.split:
        bodies = count(summary.valid, "body", "bodies")
        print(f"  payloads/        {bodies}, one file per valid row", file=out)
    print(f"  {summary.annotated.name:<16} your sheet with merge_status and merge_error", file=out)
    print("  review.html      every row's video, to read in a browser", file=out)


def run_validate(args: argparse.Namespace, out: TextIO) -> ExitCode:
    """Check request bodies from files and print a report."""
    verdicts = validate_files(args.files)
    if args.json:
        json.dump([v.as_json() for v in verdicts], out, ensure_ascii=False, indent=2)
        out.write("\n")
    else:
        _print_verdicts(verdicts, out)
    return ExitCode.OK if all(v.valid for v in verdicts) else ExitCode.INVALID_ROWS


def _print_verdicts(verdicts: Sequence[BodyVerdict], out: TextIO) -> None:
    for verdict in verdicts:
        print(f"{'valid' if verdict.valid else 'invalid':<8} {verdict.where()}", file=out)
        for problem in verdict.problems:
            at = f"{problem.path}: " if problem.path else ""
            print(f"  {at}{problem.message}", file=out)
    bad = sum(not v.valid for v in verdicts)
    checked = count(len(verdicts), "body", "bodies")
    print(f"{checked} checked: {len(verdicts) - bad} valid, {bad} invalid", file=out)


def run_schema(args: argparse.Namespace, out: TextIO) -> ExitCode:
    """Print the request body's JSON Schema."""
    json.dump(json_schema(args.api), out, indent=2)
    out.write("\n")
    return ExitCode.OK


def run_init(args: argparse.Namespace, out: TextIO) -> ExitCode:
    """Copy the starter template and sheet, keeping any file that is already there."""
    folder: Path = args.folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
        starter = resources.files("merge") / "starter"
        for source, target in STARTER_FILES.items():
            destination = folder / target
            if destination.exists():
                print(f"kept     {destination} (already there)", file=out)
                continue
            with resources.as_file(starter / source) as path:
                shutil.copyfile(path, destination)
            print(f"wrote    {destination}", file=out)
    except OSError as error:
        raise MergeError(
            f"{folder}: cannot write there ({error.strerror})", "choose a folder you can write to"
        ) from None
    template, sheet = folder / "template.json", folder / "leads.xlsx"
    print(f"Next: {PROG} render {sheet} {template} -o review", file=out)
    return ExitCode.OK


def _collect_garbage_rarely() -> None:
    """Spare the hot loop Python's frequent cycle collections: rows make many dicts, no cycles."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run one command; foreseeable problems become a message and an exit code, not a traceback."""
    out = out or sys.stdout
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        build_parser().print_help(out)
        return ExitCode.OK
    parser = build_parser(argv[0] if argv[0] in OFFLINE_COMMANDS else None)
    try:
        _apply_campaign(parser, argv)
    except UsageError as error:
        return _usage_error(parser, error)
    except MergeError as error:
        say_error(str(error), sys.stderr)
        return ExitCode.ERROR
    args = parser.parse_args(argv)
    args.parser = parser
    args.argv = argv
    _collect_garbage_rarely()
    as_json = getattr(args, "json", False) and args.command in RECORDED
    human = io.StringIO() if getattr(args, "quiet", False) else (sys.stderr if as_json else out)
    code = _run(parser, args, human)
    if as_json and "summary" in vars(args):  # a command printing its own JSON records nothing
        summary = {"command": args.command, **args.summary, "exit_code": code}
        json.dump(summary, out, ensure_ascii=False, indent=2, default=str)
        out.write("\n")
    return code


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace, human: TextIO) -> int:
    try:
        check_needed(args)
        return int(args.run(args, human))
    except UsageError as error:
        record(args, error=str(error))
        return _usage_error(parser, error)
    except MergeError as error:
        record(args, error=error.message, hint=error.hint)
        say_error(str(error), sys.stderr)
        return ExitCode.ERROR
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; nothing was sent", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitCode.OK
    except Exception:  # a bug: its report may quote a key a server echoed, so it is redacted
        print(redact(traceback.format_exc()), file=sys.stderr)
        return ExitCode.ERROR


def _usage_error(parser: argparse.ArgumentParser, error: UsageError) -> int:
    parser.print_usage(sys.stderr)
    say_error(str(error), sys.stderr)
    return ExitCode.USAGE


def _apply_campaign(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    path = campaign_path(argv)
    if path is None:
        return
    commands = next(a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    apply_campaign(path, load_campaign(path), dict(commands))
