"""The `simulate` command: play the HeyGen API on 127.0.0.1 until Ctrl-C."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from merge.cli.console import PROG, ExitCode, UsageError, positive
from merge.errors import MergeError
from merge.simulator import SimulatorSettings, serve


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
    simulate.add_argument(
        "--api-key-file", type=Path, metavar="FILE", help="accept only the key in FILE"
    )
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
    add("--pending-seconds", type=float, default=0.5, metavar="S", help="time a video is pending")
    add("--render-jitter", type=_fraction, default=0.0, metavar="F", help="render time ± share")
    add("--url-ttl", type=float, default=7 * 24 * 3600.0, metavar="S", help="link lifetime (7 d)")
    add("--file-bytes", type=int, default=64 * 1024, metavar="N", help="size of each video file")
    add("--file-rate", type=float, metavar="B", help="serve files at B bytes per second")
    add("--webhook-url", metavar="URL", help="post video events here (loopback only)")
    add("--webhook-secret", metavar="S", help="sign the events posted to --webhook-url")
    add("--webhook-secret-file", type=Path, metavar="FILE", help="the same, read from FILE")
    add("--seed", type=int, metavar="N", help="repeat the same faults")
    simulate.set_defaults(run=run_simulate)


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def _from_file(path: Path | None, option: str) -> str | None:
    """Read a secret the way submit and listen read theirs: a file, trimmed, never printed."""
    if path is None:
        return None
    try:
        text = path.read_text(encoding="utf-8-sig").strip()
    except OSError as error:
        raise MergeError(f"{path}: cannot be read ({error.strerror})", f"check {option}") from None
    if not text:
        raise MergeError(f"{path}: is empty", f"put the secret in the file given to {option}")
    return text


def _simulator_settings(args: argparse.Namespace) -> SimulatorSettings:
    return SimulatorSettings(
        api_key=_from_file(args.api_key_file, "--api-key-file") or args.api_key,
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
        pending_seconds=args.pending_seconds,
        render_jitter=args.render_jitter,
        url_ttl=args.url_ttl,
        file_bytes=args.file_bytes,
        file_rate=args.file_rate,
        webhook_url=args.webhook_url,
        webhook_secret=_from_file(args.webhook_secret_file, "--webhook-secret-file")
        or args.webhook_secret,
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
