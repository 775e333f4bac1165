"""What the commands that call the API share: the key, the address, the pace."""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
import time
from pathlib import Path
from typing import TextIO

import httpx

from merge.addresses import AddressError, checked_base_url
from merge.api.client import open_http
from merge.cli.console import PROG, UsageError, positive
from merge.errors import MergeError, keep_secret
from merge.settings import (
    API_KEY_ENV,
    BASE_URL_ENV,
    DEFAULT_BASE_URL,
    DEFAULT_CONCURRENCY,
    DEFAULT_TIMEOUT_SECONDS,
    SIMULATOR_KEY,
)

RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*(s|sec|second|m|min|minute))?\s*$", re.I)


def add_api_options(command: argparse.ArgumentParser) -> None:
    """Add the options that say which API to call, with which key, how fast."""
    command.add_argument(
        "--api-key-file", type=Path, metavar="FILE", help=f"read the key here, not ${API_KEY_ENV}"
    )
    command.add_argument(
        "--base-url",
        metavar="URL",
        help=f"API address (default: ${BASE_URL_ENV}, else {DEFAULT_BASE_URL})",
    )
    command.add_argument(
        "--concurrency",
        type=positive,
        metavar="N",
        default=DEFAULT_CONCURRENCY,
        help=f"requests at once (default {DEFAULT_CONCURRENCY})",
    )
    command.add_argument(
        "--rate", type=rate, metavar="R", help="requests per second, or e.g. 100/min"
    )
    command.add_argument(
        "--timeout",
        type=seconds,
        metavar="S",
        default=DEFAULT_TIMEOUT_SECONDS,
        help=f"seconds to wait for an answer (default {DEFAULT_TIMEOUT_SECONDS:g})",
    )


def rate(text: str) -> float:
    """Read `5`, `5/s` or `100/min` as requests per second."""
    match = RATE.match(text)
    if not match or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a rate like 5, 5/s or 100/min")
    per_minute = (match.group(2) or "s").lower().startswith("m")
    return float(match.group(1)) / (60 if per_minute else 1)


def seconds(text: str) -> float:
    """Read a positive number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return value


def api_key(args: argparse.Namespace) -> str:
    """Resolve the key once: the simulator's, a key file, or $HEYGEN_API_KEY; read strictly."""
    if getattr(args, "simulate", False):
        return SIMULATOR_KEY
    if args.api_key_file is not None:
        try:
            text = args.api_key_file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeError) as error:
            reason = getattr(error, "strerror", None) or "it is not text"
            raise MergeError(
                f"{args.api_key_file}: the API key file cannot be read ({reason})",
                "check the path, or set HEYGEN_API_KEY instead",
            ) from None
        return checked_key(text, f"{args.api_key_file}: the API key file")
    text = os.environ.get(API_KEY_ENV, "")
    if not text.strip():
        raise MergeError(
            "no API key: HEYGEN_API_KEY is not set",
            f"set HEYGEN_API_KEY or use --api-key-file FILE; or rehearse first with {PROG}"
            " submit ... --simulate (no key, no credits)",
        )
    return checked_key(text, API_KEY_ENV)


def checked_key(text: str, source: str) -> str:
    """One line, trimmed, printable ASCII without spaces; else a refusal naming the source only.

    A key with a second line or a stray character would make the HTTP library refuse the
    header with the key inside its message; it is refused here instead, never shown.
    """
    key = text.strip()
    if not key:
        raise MergeError(f"{source} is empty", "put the API key from HeyGen's settings in it")
    keep_secret(key)
    if "\n" in key or "\r" in key:
        raise MergeError(f"{source} holds more than one line", "keep only the API key, on one line")
    if not all(33 <= ord(c) <= 126 for c in key):
        raise MergeError(
            f"{source} holds a character no API key has (a space, an accent, a control character)",
            "copy the key again from HeyGen's settings page",
        )
    return key


def base_url(args: argparse.Namespace) -> str:
    """Resolve the API address once: --base-url, $HEYGEN_BASE_URL, else HeyGen's."""
    url = args.base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    try:
        return checked_base_url(url)
    except AddressError as error:
        raise UsageError(f"--base-url: {error}") from None


REQUEST_ID_HEADERS = ("x-request-id", "x-heygen-request-id", "request-id", "x-trace-id")


def show_requests(http: httpx.AsyncClient, stream: TextIO | None = None) -> httpx.AsyncClient:
    """Print each request's method, path, status, time and request id (never a header's value)."""

    async def started(request: httpx.Request) -> None:
        request.extensions["avatar_merge_started"] = time.monotonic()

    async def answered(response: httpx.Response) -> None:
        request = response.request
        took = time.monotonic() - request.extensions.get("avatar_merge_started", time.monotonic())
        found = (response.headers.get(name) for name in REQUEST_ID_HEADERS)
        request_id = next((value for value in found if value), "-")
        print(
            f"{request.method} {request.url.raw_path.decode('ascii', 'replace')}"
            f" → {response.status_code} in {took * 1000:.0f} ms (request id {request_id})",
            file=stream or sys.stderr,
        )

    http.event_hooks["request"].append(started)
    http.event_hooks["response"].append(answered)
    return http


def http_for(args: argparse.Namespace, url: str, key: str, fast: bool = False) -> httpx.AsyncClient:
    """Open the run's HTTP client; with --verbose, it prints each request on stderr.

    `fast`: over aiohttp (merge.api.transport), for the run that sends the rows."""
    http = open_http(url, key, args.timeout, args.concurrency, fast)
    return show_requests(http) if getattr(args, "verbose", False) else http
