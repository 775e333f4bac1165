"""The `submit` and `simulate` commands: confirm, send, report; or play the API locally."""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

from tqdm import tqdm

from merge.client import open_http
from merge.console import (
    PROG,
    ExitCode,
    UsageError,
    add_inputs,
    count,
    positive,
    render_options,
    warn_above,
)
from merge.errors import MergeError
from merge.journal import journal_path
from merge.runner import RunSettings, RunSummary, run_plan, write_output
from merge.settings import (
    API_KEY_ENV,
    BASE_URL_ENV,
    DEFAULT_BASE_URL,
    DEFAULT_CONCURRENCY,
    DEFAULT_TIMEOUT_SECONDS,
    SIMULATOR_KEY,
)
from merge.simulator import Simulator, SimulatorSettings, serve
from merge.submit import LOCAL_TARGET, Plan, SubmitOptions, is_loopback, journal_target, plan_submit

RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*(s|sec|second|m|min|minute))?\s*$", re.I)


def add_submit(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Describe `submit`."""
    submit = commands.add_parser(
        "submit",
        help="send every valid row to the API once, and write each video_id into a copy of the"
        " sheet",
        description="Render and validate as `render` does, then send each valid row exactly once"
        " and write video_id, merge_status, merge_error, callback_id and submitted_at into"
        " OUTPUT, a copy of the sheet. A journal beside OUTPUT records every request, so running"
        " the same command again resumes where it stopped.",
    )
    add_inputs(submit, "the output sheet, in the input's format (e.g. leads-sent.xlsx)")
    submit.add_argument(
        "--key", metavar="COLUMN", help="column whose value identifies a row across edits"
    )
    submit.add_argument("-y", "--yes", action="store_true", help="send without asking")
    submit.add_argument(
        "--simulate",
        action="store_true",
        help="send to the built-in simulator instead of HeyGen (no key, no credits)",
    )
    submit.add_argument(
        "--api-key-file", type=Path, metavar="FILE", help=f"read the key here, not ${API_KEY_ENV}"
    )
    submit.add_argument(
        "--base-url",
        metavar="URL",
        help=f"API address (default: ${BASE_URL_ENV}, else {DEFAULT_BASE_URL})",
    )
    submit.add_argument(
        "--concurrency",
        type=positive,
        metavar="N",
        default=DEFAULT_CONCURRENCY,
        help=f"requests at once (default {DEFAULT_CONCURRENCY})",
    )
    submit.add_argument(
        "--rate", type=_rate, metavar="R", help="requests per second, or e.g. 100/min"
    )
    submit.add_argument(
        "--timeout",
        type=_seconds,
        metavar="S",
        default=DEFAULT_TIMEOUT_SECONDS,
        help=f"seconds to wait for an answer (default {DEFAULT_TIMEOUT_SECONDS:g})",
    )
    submit.add_argument(
        "--retry-failed", action="store_true", help="send again the rows the API refused before"
    )
    submit.add_argument(
        "--retry-unknown",
        action="store_true",
        help="send again rows whose outcome is unknown, without checking (may duplicate)",
    )
    submit.set_defaults(run=run_submit)


def add_simulate(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Describe `simulate`."""
    simulate = commands.add_parser(
        "simulate",
        help="run a local stand-in for the HeyGen API on 127.0.0.1 (for rehearsals and tests)",
    )
    simulate.add_argument(
        "--port", type=int, default=8000, metavar="P", help="port (default 8000; 0: any free one)"
    )
    simulate.add_argument("--api-key", metavar="KEY", help="accept only this key (default: any)")
    add = simulate.add_argument
    add("--rate-limit", type=float, metavar="N", help="create requests per second, then 429")
    add("--slots", type=positive, default=3, metavar="N", help="videos rendering at once (3)")
    add("--daily-quota", type=int, metavar="N", help="videos accepted per day, then 429")
    add("--latency", type=float, default=0.0, metavar="S", help="seconds before every answer")
    add("--render-seconds", type=float, default=3.0, metavar="S", help="rendering time (3)")
    add("--fail-5xx", type=_fraction, default=0.0, metavar="F", help="share answered 500/502/503")
    add("--fail-429", type=_fraction, default=0.0, metavar="F", help="share answered 429")
    add(
        "--reset-after-accept",
        type=_fraction,
        default=0.0,
        metavar="F",
        help="share accepted, then cut off without an answer",
    )
    add(
        "--late-answer",
        type=_fraction,
        default=0.0,
        metavar="F",
        help="share accepted, then answered only after --late-by seconds",
    )
    add("--late-by", type=float, default=30.0, metavar="S", help="seconds (default 30)")
    add("--render-failure", type=_fraction, default=0.0, metavar="F", help="share that fail")
    add("--plan", choices=("720p", "1080p", "4k"), default="1080p", help="resolution cap")
    add("--seed", type=int, metavar="N", help="repeat the same faults")
    simulate.set_defaults(run=run_simulate)


def _rate(text: str) -> float:
    match = RATE.match(text)
    if not match or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a rate like 5, 5/s or 100/min")
    per_minute = (match.group(2) or "s").lower().startswith("m")
    return float(match.group(1)) / (60 if per_minute else 1)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be above 0")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def _simulator_settings(args: argparse.Namespace) -> SimulatorSettings:
    return SimulatorSettings(
        api_key=args.api_key,
        rate_limit=args.rate_limit,
        slots=args.slots,
        daily_quota=args.daily_quota,
        latency=args.latency,
        render_seconds=args.render_seconds,
        fail_5xx=args.fail_5xx,
        fail_429=args.fail_429,
        reset_after_accept=args.reset_after_accept,
        late_answer=args.late_answer,
        late_by=args.late_by,
        render_failure=args.render_failure,
        plan=args.plan,
        seed=args.seed,
    )


def run_simulate(args: argparse.Namespace, out: TextIO) -> ExitCode:
    """Serve the simulator until Ctrl-C."""
    try:
        settings = _simulator_settings(args)
    except ValueError as error:
        raise UsageError(str(error)) from None

    def ready(url: str) -> None:
        print(f"HeyGen simulator listening on {url} (Ctrl-C stops it)", file=out, flush=True)
        print(f"  try: {PROG} submit DATA TEMPLATE -o OUT --base-url {url}", file=out, flush=True)

    try:
        serve(settings, args.port, ready)
    except OSError as error:
        raise MergeError(
            f"port {args.port}: cannot listen there ({error.strerror})",
            "choose another with --port, or --port 0 for any free one",
        ) from None
    return ExitCode.OK


def run_submit(args: argparse.Namespace, out: TextIO) -> ExitCode:
    """Plan, confirm, send, and report; the journal makes every step resumable."""
    api_key = _api_key(args)
    base_url = _base_url(args)
    options = SubmitOptions(render_options(args), args.key, args.retry_failed, args.retry_unknown)
    target = LOCAL_TARGET if args.simulate else journal_target(base_url)
    warn = _warn_plain
    plan = plan_submit(args.data, args.template, args.output, target, options, time.time, warn)
    try:
        _print_plan(plan, args, target, out)
        if not plan.send and not plan.check:
            return _finish_without_sending(plan, out)
        _confirm(plan, args)
        with _api(args.simulate, base_url) as url:
            summary = _send(plan, args, url, api_key)
    finally:
        plan.journal.close()
    _print_run(plan, summary, args, out)
    return _exit_code(plan, summary)


def _warn_plain(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _api_key(args: argparse.Namespace) -> str:
    if args.simulate:
        return SIMULATOR_KEY
    if args.api_key_file is not None:
        try:
            key: str = args.api_key_file.read_text(encoding="utf-8-sig").strip()
        except OSError as error:
            raise MergeError(
                f"{args.api_key_file}: the API key file cannot be read ({error.strerror})",
                "check the path, or set HEYGEN_API_KEY instead",
            ) from None
        if not key:
            raise MergeError(f"{args.api_key_file}: the API key file is empty")
        return key
    key = os.environ.get(API_KEY_ENV, "").strip()
    if not key:
        raise MergeError(
            "no API key: HEYGEN_API_KEY is not set",
            f"set HEYGEN_API_KEY or use --api-key-file FILE; or rehearse first with {PROG}"
            " submit ... --simulate (no key, no credits)",
        )
    return key


def _base_url(args: argparse.Namespace) -> str:
    url = (args.base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--base-url: {url!r} is not an http(s) address")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise UsageError(
            f"--base-url: {url} would send the API key unencrypted; use https (http is for"
            " 127.0.0.1 only)"
        )
    return url


def _print_plan(plan: Plan, args: argparse.Namespace, target: str, out: TextIO) -> None:
    sheet = f' (sheet "{plan.info.sheet_name}")' if plan.info.sheet_name else ""
    print(f"{args.data}{sheet} with {args.template}: {count(plan.total, 'row')}", file=out)
    print(f"  to send:        {len(plan.send):,}", file=out)
    if plan.check:
        print(
            f"  to check first: {len(plan.check):,} (sent before, outcome unknown: the video"
            " list is checked before any resend)",
            file=out,
        )
    if plan.invalid:
        print(f"  invalid:        {plan.invalid:,} (never sent; see merge_error)", file=out)
    for line in plan.first_problems:
        print(f"    {line}", file=out)
    for reason, number in sorted(plan.skipped.items()):
        print(f"  skipped:        {number:,} {reason}", file=out)
    print(f"  API:            {target}", file=out)
    print(f"  output:         {plan.output} (journal: {journal_path(plan.output).name})", file=out)


def _finish_without_sending(plan: Plan, out: TextIO) -> ExitCode:
    problem = write_output(plan)
    if problem:
        raise MergeError(problem, "close the output if it is open elsewhere, then run again")
    print(f"Nothing to send. Wrote {plan.output}", file=out)
    return ExitCode.INVALID_ROWS if plan.invalid else ExitCode.OK


def _confirm(plan: Plan, args: argparse.Namespace) -> None:
    if args.yes:
        return
    if not sys.stdin.isatty():
        raise MergeError(
            "not sending: no terminal to confirm on",
            "add --yes to send without asking (check the plan above first)",
        )
    answer = input(f"Send {count(len(plan.send) + len(plan.check), 'row')}? [y/N] ")
    if answer.strip().lower() not in ("y", "yes"):
        raise MergeError("nothing sent", "run again and answer y to send")


@contextlib.contextmanager
def _api(simulate: bool, base_url: str) -> Iterator[str]:
    if not simulate:
        yield base_url
        return
    with Simulator(SimulatorSettings()) as simulator:
        yield simulator.url


def _send(plan: Plan, args: argparse.Namespace, url: str, api_key: str) -> RunSummary:
    settings = RunSettings(args.concurrency, args.rate, args.timeout)
    http = open_http(url, api_key, settings.timeout, settings.concurrency)
    total = len(plan.send) + len(plan.check)
    with tqdm(
        total=total, desc="sending", unit=" rows", disable=not sys.stderr.isatty(), file=sys.stderr
    ) as bar:
        return run_plan(plan, http, settings, bar.update, warn_above(bar))


def _print_run(plan: Plan, summary: RunSummary, args: argparse.Namespace, out: TextIO) -> None:
    rate = summary.sent / summary.seconds if summary.seconds else 0.0
    print(f"Sent {count(summary.sent, 'row')} in {summary.seconds:.1f} s ({rate:.1f}/s)", file=out)
    shown = ", ".join(f"{n:,} {status}" for status, n in sorted(summary.statuses.items()))
    print(f"  output rows: {shown}", file=out)
    for key, extra in summary.duplicates.items():
        print(f"  note: {key} has more than one video: {', '.join(extra)}", file=out)
    if summary.stopped is not None:
        print(f"Stopped: {summary.stopped.reason}", file=out)
    if summary.write_failed:
        print(f"The output could not be written: {summary.write_failed}", file=out)
    print(f"Wrote {plan.output}", file=out)
    hint = _hint(summary)
    if hint:
        print(f"Hint: {hint}", file=out)


def _hint(summary: RunSummary) -> str | None:
    stopped = summary.stopped
    if stopped is not None and stopped.kind == "auth":
        return "the API key was refused: check HEYGEN_API_KEY, then run the same command again"
    if stopped is not None or summary.write_failed:
        return "run the same command again to resume; rows with a video_id are never sent again"
    if summary.statuses.get("unknown"):
        return "run again to check the unknown rows, or add --retry-unknown to send them again"
    if summary.statuses.get("failed"):
        return "fix the failed rows (see merge_error) and run again, or add --retry-failed"
    return None


def _exit_code(plan: Plan, summary: RunSummary) -> ExitCode:
    stopped = summary.stopped
    if stopped is not None and stopped.kind == "interrupted":
        return ExitCode.INTERRUPTED
    if (stopped is not None and stopped.fatal) or summary.write_failed:
        return ExitCode.ERROR
    if stopped is not None or summary.statuses.get("failed") or summary.statuses.get("unknown"):
        return ExitCode.FAILED_ROWS
    return ExitCode.INVALID_ROWS if plan.invalid else ExitCode.OK
