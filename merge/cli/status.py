"""The `status` command: follow an output's videos to the end, with a bar and a summary."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import httpx
from tqdm import tqdm

from merge.api.client import open_http
from merge.api.statuses import is_final
from merge.batch.journal import journal_target_of
from merge.batch.plan import LOCAL_TARGET, journal_target
from merge.cli import api_options as cli_api
from merge.cli.api_options import add_api_options, seconds
from merge.cli.console import ExitCode, count, warn_above
from merge.errors import MergeError
from merge.follow.follower import FollowOptions, FollowSummary, follow_output
from merge.settings import POLL_FIRST_SECONDS


def add_status(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Describe `status`."""
    status = commands.add_parser(
        "status",
        help="ask the status of every submitted video and write it into the output sheet",
        description="For every row of OUTPUT with a video_id and no final status, ask the API"
        " and write video_status, video_url, thumbnail_url, duration, video_error and"
        " checked_at into OUTPUT (in place, atomically).",
    )
    status.add_argument("output", type=Path, help="the sheet `submit` wrote")
    status.add_argument(
        "--api",
        choices=("v2", "v3"),
        help="the API the videos were made on (default: the one `submit` used, else v3)",
    )
    add_follow_options(status)
    add_api_options(status)
    status.set_defaults(run=run_status)


def add_follow_options(command: argparse.ArgumentParser, chained: bool = False) -> None:
    """Add --wait, --download and --poll (to `status`, or to `submit`, which then follows)."""
    then = "then " if chained else ""
    command.add_argument(
        "--wait",
        action="store_true",
        help=f"{then}keep asking, with backoff, until every video is final",
    )
    command.add_argument(
        "--download",
        type=Path,
        metavar="DIR",
        help=f"{then}save each finished video (and thumbnail) as DIR/<callback_id or row>.mp4",
    )
    command.add_argument(
        "--poll",
        type=seconds,
        default=POLL_FIRST_SECONDS,
        metavar="S",
        help=f"first wait between two checks of a video; it grows (default {POLL_FIRST_SECONDS:g})",
    )


def run_status(args: argparse.Namespace, out: TextIO) -> ExitCode:
    """Follow the output's videos and report."""
    base_url = cli_api.base_url(args)
    _check_simulated(args.output, base_url)
    api_key = cli_api.api_key(args)
    http = open_http(base_url, api_key, args.timeout, args.concurrency)
    summary = follow_with_bar(args.output, http, journal_target(base_url), options_from(args))
    print_follow(summary, args.output, out)
    return follow_exit_code(summary)


def _check_simulated(output: Path, base_url: str) -> None:
    """Say plainly that videos made on a `--simulate` run cannot be followed elsewhere."""
    made_on = journal_target_of(output)
    if made_on == LOCAL_TARGET and journal_target(base_url) != LOCAL_TARGET:
        raise MergeError(
            f"{output}: its videos were made on a local simulator, not on {base_url}",
            "the built-in simulator of --simulate lives only as long as its command: use"
            " `submit --simulate --wait` to follow them in one go, or run `avatar-merge"
            " simulate` and give its address with --base-url",
        )


def options_from(args: argparse.Namespace) -> FollowOptions:
    """Resolve the follow options once, at the boundary."""
    return FollowOptions(
        args.wait, args.download, args.concurrency, args.rate, args.poll, api=args.api
    )


def follow_with_bar(
    output: Path, http: httpx.AsyncClient, target: str, options: FollowOptions
) -> FollowSummary:
    """Follow with a progress bar on a terminal: done out of all, by status."""
    with tqdm(
        desc="following", unit=" videos", disable=not sys.stderr.isatty(), file=sys.stderr
    ) as bar:
        return follow_output(output, http, target, options, _show(bar), warn_above(bar))


def _show(bar: tqdm) -> Callable[[Counter[str]], None]:
    def show(counts: Counter[str]) -> None:
        bar.total = sum(counts.values())
        bar.n = bar.total - counts.get("pending", 0)
        bar.set_postfix(
            completed=counts.get("completed", 0),
            failed=counts.get("failed", 0),
            pending=counts.get("pending", 0),
            refresh=True,
        )

    return show


def print_follow(summary: FollowSummary, output: Path, out: TextIO) -> None:
    """Say what following found and did."""
    shown = ", ".join(f"{n:,} {status}" for status, n in sorted(summary.statuses.items()))
    videos = count(summary.videos, "video")
    print(f"Followed {videos} in {summary.seconds:.1f} s: {shown or 'none'}", file=out)
    print(f"  status requests: {summary.requests:,}", file=out)
    if summary.check_problems:
        print(f"  {summary.check_problems:,} status requests failed; asked again later", file=out)
    if summary.fetched or summary.already_saved or summary.download_problems:
        print(
            f"  downloaded {summary.fetched:,}, already there {summary.already_saved:,},"
            f" failed {len(summary.download_problems):,}",
            file=out,
        )
        for problem in summary.download_problems[:10]:
            print(f"    {problem}", file=out)
    if summary.write_failed:
        print(f"The output could not be written: {summary.write_failed}", file=out)
    else:
        print(f"Wrote {output}", file=out)
    if summary.interrupted:
        print("Stopped: interrupted. Hint: run it again to go on.", file=out)
    elif summary.statuses.get("pending") or _unfinished(summary):
        print("Hint: add --wait to keep asking until every video is final", file=out)


def _unfinished(summary: FollowSummary) -> bool:
    return any(not is_final(status) for status in summary.statuses)


def follow_exit_code(summary: FollowSummary) -> ExitCode:
    """0 when every video completed and saved; 4 when some failed; 130 when interrupted."""
    if summary.interrupted:
        return ExitCode.INTERRUPTED
    if summary.write_failed:
        return ExitCode.ERROR
    if (
        summary.statuses.get("failed")
        or summary.statuses.get("not_found")
        or summary.download_problems
    ):
        return ExitCode.FAILED_ROWS
    return ExitCode.OK
