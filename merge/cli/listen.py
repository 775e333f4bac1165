"""The `listen` command: receive webhook events for an output until Ctrl-C."""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
from pathlib import Path
from typing import TextIO

import uvicorn

from merge.batch.journal import Journal, journal_path
from merge.cli.console import PROG, ExitCode
from merge.errors import MergeError
from merge.follow.webhooks import Listener, create_listener_app

SECRET_ENV = "HEYGEN_WEBHOOK_SECRET"


def add_listen(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Describe `listen`."""
    listen = commands.add_parser(
        "listen",
        help="receive HeyGen's webhook events for an output and record them in its journal",
        description="Serve an HTTP endpoint for HeyGen's avatar_video.success and"
        " avatar_video.fail events. Each event of OUTPUT's videos is recorded in OUTPUT's"
        " journal; `avatar-merge status OUTPUT` then writes them into the sheet.",
    )
    listen.add_argument("output", type=Path, help="the sheet `submit` wrote")
    listen.add_argument("--port", type=int, default=8080, metavar="P", help="port (8080)")
    listen.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    listen.add_argument(
        "--secret-file",
        type=Path,
        metavar="FILE",
        help=f"the endpoint's secret, to check signatures (or ${SECRET_ENV})",
    )
    listen.set_defaults(run=run_listen)


def run_listen(args: argparse.Namespace, out: TextIO) -> ExitCode:
    """Serve until Ctrl-C, then say what arrived."""
    if not journal_path(args.output).exists():
        raise MergeError(
            f"{args.output}: has no journal beside it",
            f"give the output that `{PROG} submit` wrote",
        )
    journal = Journal.open(journal_path(args.output), None, exclusive=False)
    listener = Listener(journal, _secret(args), on_event=lambda said: print(said, file=out))
    try:
        sock = _bind(args.host, args.port)
        print(f"Listening for webhook events on http://{args.host}:{args.port}/", file=out)
        if listener.secret is None:
            print("  no secret given: signatures are not checked", file=out)
        print("  Ctrl-C stops; then run: avatar-merge status OUTPUT", file=out, flush=True)
        config = uvicorn.Config(create_listener_app(listener), log_level="warning")
        with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises Ctrl-C after stopping
            uvicorn.Server(config).run(sockets=[sock])
    finally:
        journal.close()
    counts = ", ".join(f"{n} {what}" for what, n in sorted(listener.counts.items()))
    print(f"Received: {counts or 'nothing'}", file=out)
    if listener.signatures:
        seen = ", ".join(f"{what} ({n})" for what, n in sorted(listener.signatures.items()))
        print(f"Signature headers: {seen}", file=out)
    return ExitCode.OK


def _secret(args: argparse.Namespace) -> bytes | None:
    if args.secret_file is not None:
        try:
            text: str = args.secret_file.read_text(encoding="utf-8-sig")
            return text.strip().encode()
        except OSError as error:
            raise MergeError(
                f"{args.secret_file}: cannot be read ({error.strerror})", "check the path"
            ) from None
    secret = os.environ.get(SECRET_ENV, "").strip()
    return secret.encode() if secret else None


def _bind(host: str, port: int) -> socket.socket:
    try:
        sock = socket.create_server((host, port), reuse_port=False)
    except OSError as error:
        raise MergeError(
            f"{host}:{port}: cannot listen there ({error.strerror})",
            "choose another --port (or --host)",
        ) from None
    return sock
