"""A fake clock whose sleeps end in time order at once, so policy tests never really wait."""

from __future__ import annotations

import asyncio


class FakeClock:
    """Time that moves only when every task is asleep: to the earliest wake-up, then the next."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._wakeups: list[float] = []
        self._moves = 0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        wake = self.now + max(seconds, 0.0)
        self._wakeups.append(wake)
        try:
            while True:
                moves = self._moves
                for _ in range(10):  # let every runnable task reach its own sleep first
                    await asyncio.sleep(0)
                if wake <= self.now:
                    return
                # Move on only when time stood still meanwhile: a task woken by the last move
                # may be runnable yet not asleep again (waiting on a future, say).
                if moves == self._moves and wake <= min(self._wakeups):
                    self.now = wake
                    self._moves += 1
                    return
        finally:
            self._wakeups.remove(wake)
