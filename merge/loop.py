"""The event loop's edges: one sync entry into async work, and signals turned into requests."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_sync(work: Coroutine[Any, Any, T]) -> T:
    """Run async work to the end from sync code, on another thread if a loop already runs here."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(work)
    with ThreadPoolExecutor(1) as thread:  # a notebook's own loop is running: use another
        return thread.submit(asyncio.run, work).result()


@contextlib.contextmanager
def interrupts(
    first: Callable[[str], None], second: Callable[[], None] | None = None
) -> Iterator[None]:
    """Ctrl-C or SIGTERM calls `first` with what happened; a second Ctrl-C calls `second`."""
    loop = asyncio.get_running_loop()
    pressed = 0

    def interrupted() -> None:
        nonlocal pressed
        pressed += 1
        if pressed == 1 or second is None:
            first("interrupted (Ctrl-C)")
        else:
            second()

    try:
        loop.add_signal_handler(signal.SIGINT, interrupted)
        loop.add_signal_handler(signal.SIGTERM, first, "terminated (SIGTERM)")
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or Windows
        yield
        return
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        loop.remove_signal_handler(signal.SIGTERM)
