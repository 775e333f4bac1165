"""Open review pages in Debian's Chromium, headless and offline, through Playwright for Python.

Playwright's own browser download does not work here, so it drives the system's Chromium
(`apt-get install chromium`, done by `make test` where it can). Every request that is not for a
local file is refused, and a dead proxy stands behind that, so a page can reach no network.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Route

CHROMIUM = "chromium"
FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--proxy-server=127.0.0.1:9",
)
"""Chromium's flags besides --headless (Playwright adds it): nothing of its own goes online, and
anything that tries meets a closed loopback port."""
VIEWPORT = {"width": 1200, "height": 900}


def chromium_path() -> str | None:
    """Find Debian's Chromium (/usr/bin/chromium)."""
    return shutil.which(CHROMIUM)


def missing() -> str | None:
    """Say why the browser tests cannot run here, or None when they can."""
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is missing: pip install -e '.[dev]' (or make test)"
    if chromium_path() is None:
        return "Debian's chromium is not installed and make test could not install it (apt-get)"
    return None


def require_browser() -> None:
    """Skip when no browser can run, with the reason; under CI=true fail instead."""
    reason = missing()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true runs the browser tests, but {reason}")
    pytest.skip(reason)


def _local_only(route: Route) -> None:
    if route.request.url.startswith("file:"):
        route.continue_()
    else:
        route.abort()


@contextmanager
def offline_browser(
    profile: Path, viewport: dict[str, int] | None = None
) -> Iterator[BrowserContext]:
    """Start a fresh headless Chromium with its own empty profile that can open only files."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=chromium_path(),
            headless=True,
            args=list(FLAGS),
            viewport=viewport or VIEWPORT,  # type: ignore[arg-type]
        )
        context.route("**/*", _local_only)
        try:
            yield context
        finally:
            context.close()
