"""The `listen` command: receive webhook events for an output until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import socket
from pathlib import Path
from typing import TextIO

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from merge.batch.journal import Journal, journal_path
from merge.cli.console import PROG, ExitCode, port
from merge.errors import MergeError
from merge.follow.webhooks import Listener, create_listener_app

SECRET_ENV = "HEYGEN_WEBHOOK_SECRET"
LISTEN_CONNECTIONS = 2000
HEADER_SECONDS = 5.0
"""A request's headers must come whole within this of connecting."""
"""Connections served at once; beyond, new ones get a quick 503 (HeyGen retries events)."""


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
    listen.add_argument("--port", type=port, default=8080, metavar="P", help="port (8080)")
    listen.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    listen.add_argument(
        "--webhook-secret-file",
        "--secret-file",
        dest="secret_file",
        type=Path,
        metavar="FILE",
        help=f"the endpoint's secret, to check signatures (or ${SECRET_ENV})",
    )
    listen.add_argument(
        "--accept-unsigned",
        action="store_true",
        help="without a secret, take unsigned events (they update known videos only; anyone"
        " who can reach the port can send them)",
    )
    listen.set_defaults(run=run_listen)


def run_listen(args: argparse.Namespace, out: TextIO) -> ExitCode:
    """Serve until Ctrl-C, then say what arrived."""
    if not journal_path(args.output).exists():
        raise MergeError(
            f"{args.output}: has no journal beside it",
            f"give the output that `{PROG} submit` wrote",
        )
    secret = _secret(args)
    if secret is None and not args.accept_unsigned:
        raise MergeError(
            "no webhook secret: unsigned events would be taken from anyone who can reach the port",
            f"give the endpoint's secret with --secret-file FILE or ${SECRET_ENV}; or add"
            " --accept-unsigned to take unsigned events anyway",
        )
    journal = Journal.open(journal_path(args.output), None, exclusive=False)
    listener = Listener(
        journal,
        secret,
        on_event=lambda said: print(said, file=out),
        accept_unsigned=args.accept_unsigned,
    )
    try:
        sock = _bind(args.host, args.port)
        print(f"Listening for webhook events on http://{args.host}:{args.port}/", file=out)
        if listener.secret is None:
            print("  no secret given: unsigned events update known videos only", file=out)
        print("  Ctrl-C stops; then run: avatar-merge status OUTPUT", file=out, flush=True)
        with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises Ctrl-C after stopping
            uvicorn.Server(_server_config(listener)).run(sockets=[sock])
    finally:
        journal.close()
    counts = ", ".join(f"{n} {what}" for what, n in sorted(listener.counts.items()))
    print(f"Received: {counts or 'nothing'}", file=out)
    if listener.signatures:
        seen = ", ".join(f"{what} ({n})" for what, n in sorted(listener.signatures.items()))
        print(f"Signature headers: {seen}", file=out)
    return ExitCode.OK


def _server_config(listener: Listener) -> uvicorn.Config:
    """Serve many slow or broken connections without blocking real events or flooding logs."""
    _raise_open_files_limit()
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)  # e.g. accept() out of resources
    return uvicorn.Config(
        create_listener_app(listener),
        log_level="critical",
        access_log=False,
        timeout_keep_alive=5,
        limit_concurrency=LISTEN_CONNECTIONS,
        h11_max_incomplete_event_size=16 * 1024,
        http=_HeadersInTime,
    )


class _HeadersInTime(H11Protocol):
    """Close a connection whose request headers have not come whole in time (a slow sender)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.loop.call_later(HEADER_SECONDS, self._close_if_no_request)

    def _close_if_no_request(self) -> None:
        if self.cycle is None and not self.transport.is_closing():
            self.transport.close()


def _raise_open_files_limit() -> None:
    """Let the listener hold as many connections as the system allows this process."""
    with contextlib.suppress(ImportError, ValueError, OSError):
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        wanted = hard if hard != resource.RLIM_INFINITY else 65536
        if soft < wanted:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


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
