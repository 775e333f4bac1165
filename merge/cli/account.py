"""`check` (the pre-flight alone, spending nothing), `avatars` and `voices` (ids to pick from)."""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
from collections.abc import Sequence
from typing import Any, TextIO

from merge.api.account import AccountApi
from merge.api.client import ApiError, open_http
from merge.batch.checked import check_sheet
from merge.cli import api_options as cli_api
from merge.cli import preflight as cli_preflight
from merge.cli.api_options import add_api_options
from merge.cli.console import ExitCode, add_inputs, count, render_options
from merge.cli.status import REHEARSAL
from merge.errors import MergeError
from merge.loop import run_sync
from merge.simulator import Simulator

LOOK_COLUMNS = ("id", "name", "type", "engines", "gender", "status", "default_voice_id")
VOICE_COLUMNS = ("id", "name", "type", "language", "gender", "status", "locales")


def add_account_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Describe `check`, `avatars` and `voices`."""
    check = commands.add_parser(
        "check",
        help="check the key, every avatar and voice id, and the cost, sending nothing billable",
        description="Render and validate every row as `render` does, then read the account"
        " (the key, each distinct look and voice once, the balance) and price the batch."
        " Nothing is created and nothing is written.",
    )
    add_inputs(check, None)
    check.add_argument(
        "--simulate",
        action="store_true",
        help="check against the built-in simulator's account instead of HeyGen (no key)",
    )
    add_api_options(check)
    cli_preflight.add_cost_options(check)
    check.set_defaults(run=run_check)
    avatars = commands.add_parser(
        "avatars", help="list the account's looks (avatar ids), to paste into the sheet"
    )
    avatars.add_argument("--type", choices=("studio_avatar", "digital_twin", "photo_avatar"))
    avatars.add_argument(
        "--ownership", choices=("public", "private"), help="default: both, private first"
    )
    avatars.add_argument("--engine", choices=("avatar_v", "avatar_iv", "avatar_iii"))
    avatars.add_argument("--group", metavar="ID", help="looks of one avatar group")
    _add_listing_options(avatars)
    avatars.set_defaults(run=run_avatars)
    voices = commands.add_parser(
        "voices", help="list the account's voices (voice ids), to paste into the sheet"
    )
    voices.add_argument(
        "--type", choices=("public", "private"), help="default: both, private first"
    )
    voices.add_argument("--engine", metavar="NAME", help="e.g. elevenlabs, starfish")
    voices.add_argument("--language", metavar="NAME", help="e.g. English")
    voices.add_argument("--gender", choices=("female", "male"))
    _add_listing_options(voices)
    voices.set_defaults(run=run_voices)


def _add_listing_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--search", metavar="TEXT", help="only those whose name or id has TEXT")
    shape = command.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="print a JSON array")
    shape.add_argument("--csv", action="store_true", help="print CSV with a header")
    add_api_options(command)


def run_check(args: argparse.Namespace, out: TextIO) -> ExitCode:
    """Check the sheet against the account and print what a submit would meet."""
    api_key = cli_api.api_key(args)
    table = cli_preflight.price_table(args)
    source = cli_preflight.key_source(args)
    options = render_options(args)
    with contextlib.ExitStack() as stack:
        url = cli_api.base_url(args)
        if args.simulate:
            url = stack.enter_context(Simulator(REHEARSAL)).url
        http = cli_preflight.lookup_http(url, api_key, args)
        report = check_sheet(args.data, args.template, options, http, table, source)
    sheet = f' (sheet "{report.info.sheet_name}")' if report.info.sheet_name else ""
    print(f"{args.data}{sheet} with {args.template}: {count(report.total, 'row')}", file=out)
    print(f"  ready:          {len(report.valid_rows):,}", file=out)
    if report.invalid:
        print(f"  invalid:        {report.invalid:,}", file=out)
    for line in report.first_problems:
        print(f"    {line}", file=out)
    assert report.preflight is not None
    cli_preflight.print_preflight(report.preflight, report.valid_rows, out)
    cli_preflight.refuse_over_max_cost(report.preflight, report.valid_rows, args.max_cost)
    print("Nothing was sent.", file=out)
    return ExitCode.INVALID_ROWS if report.invalid else ExitCode.OK


def run_avatars(args: argparse.Namespace, out: TextIO) -> ExitCode:
    """List looks, filtered, as a table, JSON or CSV."""
    query = {"avatar_type": args.type, "group_id": args.group}
    owned = [args.ownership] if args.ownership else ["private", "public"]
    found = _read_all(args, "looks", [{"ownership": o} | query for o in owned])
    rows = [_look_row(look) for look in found]
    if args.engine:
        rows = [row for row in rows if args.engine in row["engines"].split(", ")]
    return _show(_searched(rows, args.search), LOOK_COLUMNS, args, out, "look")


def run_voices(args: argparse.Namespace, out: TextIO) -> ExitCode:
    """List voices, filtered, as a table, JSON or CSV."""
    query = {"engine": args.engine, "language": args.language, "gender": args.gender}
    kinds = [args.type] if args.type else ["private", "public"]
    found = _read_all(args, "voices", [{"type": kind} | query for kind in kinds])
    rows = [_voice_row(voice) for voice in found]
    return _show(_searched(rows, args.search), VOICE_COLUMNS, args, out, "voice")


def _read_all(
    args: argparse.Namespace, what: str, queries: list[dict[str, str | None]]
) -> list[dict[str, Any]]:
    api_key = cli_api.api_key(args)
    http = open_http(cli_api.base_url(args), api_key, args.timeout, args.concurrency)

    async def read() -> list[dict[str, Any]]:
        async with http:
            api = AccountApi(http)
            found: list[dict[str, Any]] = []
            for query in queries:
                asked = {k: v for k, v in query.items() if v}
                lists = api.looks if what == "looks" else api.voices
                found += await lists(None, **asked)
            return found

    try:
        return run_sync(read())
    except ApiError as error:
        source = cli_preflight.key_source(args)
        if error.status == 401:
            raise MergeError(
                f"the API refused the key from {source} (HTTP 401)", "check the key"
            ) from None
        if error.status == 403:
            raise MergeError(
                f"the key from {source} may not read the account's {what} (HTTP 403)",
                "use a key with read permission",
            ) from None
        raise MergeError(f"the {what} could not be listed: {error}", "try again later") from None


def _look_row(look: dict[str, Any]) -> dict[str, str]:
    engines = look.get("supported_api_engines") or []
    return {
        "id": str(look.get("id") or ""),
        "name": str(look.get("name") or ""),
        "type": str(look.get("avatar_type") or ""),
        "engines": ", ".join(str(e) for e in engines),
        "gender": str(look.get("gender") or ""),
        "status": str(look.get("status") or "completed"),
        "default_voice_id": str(look.get("default_voice_id") or ""),
    }


def _voice_row(voice: dict[str, Any]) -> dict[str, str]:
    return {
        "id": str(voice.get("voice_id") or ""),
        "name": str(voice.get("name") or ""),
        "type": str(voice.get("type") or ""),
        "language": str(voice.get("language") or ""),
        "gender": str(voice.get("gender") or ""),
        "status": str(voice.get("status") or ""),
        "locales": "yes" if voice.get("support_locale") else "no",
    }


def _searched(rows: list[dict[str, str]], text: str | None) -> list[dict[str, str]]:
    if not text:
        return rows
    wanted = text.casefold()
    return [r for r in rows if wanted in r["name"].casefold() or wanted in r["id"].casefold()]


def _show(
    rows: list[dict[str, str]],
    columns: Sequence[str],
    args: argparse.Namespace,
    out: TextIO,
    noun: str,
) -> ExitCode:
    if args.json:
        json.dump(rows, out, ensure_ascii=False, indent=2)
        out.write("\n")
    elif args.csv:
        writer = csv.DictWriter(out, columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    else:
        widths = {c: max([len(c), *(len(r[c]) for r in rows)]) for c in columns}
        print("  ".join(c.ljust(widths[c]) for c in columns).rstrip(), file=out)
        for row in rows:
            print("  ".join(row[c].ljust(widths[c]) for c in columns).rstrip(), file=out)
        print(count(len(rows), noun), file=out)
    return ExitCode.OK
