"""The event loop's edges: one sync entry into async work, signals turned into requests, time.

Also the one write-every-few-seconds loop both orchestrators (the run, the follower) share.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

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


Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class Timing:
    """The clocks and the sleep an orchestrator uses; tests give fake ones to run in no time."""

    monotonic: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    sleep: Sleep = asyncio.sleep


class PeriodicWriter(Generic[T]):
    """Write an output every few seconds off the event loop, one write at a time.

    `snapshot` runs on the event loop (it copies what is to be written); `write` runs on a
    worker thread and returns a problem to tell, or None. `final()` stops the loop, waits for a
    write still in flight (a cancelled task does not stop its thread), and writes last, whole.
    A problem is told once, and again only if it changes after a write that worked.
    """

    def __init__(
        self,
        snapshot: Callable[[], T],
        write: Callable[[T], str | None],
        every: float,
        warn: Callable[[str], None],
        timing: Timing | None = None,
    ) -> None:
        self._snapshot = snapshot
        self._write = write
        self._every = every
        self._warn = warn
        self._timing = timing or Timing()
        self._lock = threading.Lock()
        self._stopped = False
        self._told: str | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin writing every `every` seconds."""
        self._task = asyncio.create_task(self._loop())

    async def _loop(self) -> None:
        while not self._stopped:
            await self._timing.sleep(self._every)
            started = self._timing.monotonic()
            problem = await asyncio.to_thread(self._write_once, self._snapshot())
            if problem and problem != self._told:
                self._warn(problem)
            self._told = problem
            await self._timing.sleep(3 * max(0.0, self._timing.monotonic() - started))

    def _write_once(self, values: T) -> str | None:
        with self._lock:
            if self._stopped:
                return None
            return self._write(values)

    async def final(self) -> str | None:
        """Stop the periodic writes, wait for one in flight, then write the last state."""
        self._stopped = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        values = self._snapshot()
        # Taking the lock waits for a write still running on its thread; none starts after.
        return await asyncio.to_thread(self._final_write, values)

    def _final_write(self, values: T) -> str | None:
        with self._lock:
            return self._write(values)
