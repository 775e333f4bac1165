"""Pace requests: a steady rate, a pause when the API asks for one, slower after 429s."""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Awaitable, Callable

from merge.settings import (
    BACKOFF_BASE_SECONDS,
    BACKOFF_CAP_SECONDS,
    RATE_FLOOR,
    RATE_RECOVERY,
    RATE_RECOVERY_AFTER,
    RATE_SLOWDOWN,
    RATE_SLOWDOWN_SPACING,
    RATE_SLOWDOWN_STRIKES,
)

OBSERVED_SPAN_FLOOR = 0.05
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class Throttle:
    """Give each request its own start time, `1/rate` apart; slow down on 429s, then recover.

    Each caller reserves the next free start time, so requests leave evenly spaced whatever
    the concurrency; the clock and sleep are injected so tests run on a fake clock.
    """

    def __init__(self, rate: float | None, clock: Clock, sleep: Sleep) -> None:
        self.ceiling = rate
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0
        self._paused_until = 0.0
        self._successes = 0
        self._last_cut = -math.inf
        self._strikes = 0
        self._recent: deque[float] = deque()

    async def wait(self) -> None:
        """Wait until this request may start."""
        now = self._clock()
        start = max(now, self._next, self._paused_until)
        if self.rate is not None:
            self._next = start + 1.0 / self.rate
        self._recent.append(start)
        while self._recent and self._recent[0] < start - 1.0:
            self._recent.popleft()
        if start > now:
            await self._sleep(start - now)

    def throttled(self, retry_after: float | None) -> None:
        """Pause everyone as long as the API asked; on repeated 429s, halve the rate."""
        now = self._clock()
        if retry_after is not None:
            self._paused_until = max(self._paused_until, now + retry_after)
        self._strikes += 1
        if self._strikes < RATE_SLOWDOWN_STRIKES or now - self._last_cut < RATE_SLOWDOWN_SPACING:
            return  # a lone 429, or answers to requests sent before the last cut
        self._last_cut = now
        self._successes = 0
        current = self.rate if self.rate is not None else self._observed_rate(now)
        self.rate = max(RATE_FLOOR, current * RATE_SLOWDOWN)
        self._next = max(self._next, now)

    def _observed_rate(self, now: float) -> float:
        """Requests per second over the last second, or over less when the run is younger."""
        if not self._recent:
            return 1.0
        span = min(1.0, max(now - self._recent[0], OBSERVED_SPAN_FLOOR))
        return len(self._recent) / span

    def succeeded(self) -> None:
        """Count a success; after enough since the last cut, step the rate back up."""
        self._successes += 1
        self._strikes = 0
        if self.rate is None or self._successes < RATE_RECOVERY_AFTER:
            return
        self._successes = 0
        raised = self.rate * RATE_RECOVERY
        self.rate = raised if self.ceiling is None else min(self.ceiling, raised)

    def paused_for(self) -> float:
        """Seconds until the API's last requested pause ends."""
        return max(0.0, self._paused_until - self._clock())


def backoff(attempt: int, retry_after: float | None, rng: random.Random) -> float:
    """Seconds to wait before retry number `attempt`: the API's word, else exponential + jitter."""
    if retry_after is not None:
        return retry_after * rng.uniform(1.0, 1.1)
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * math.pow(2, min(attempt, 32)))
    return rng.uniform(ceiling / 2, ceiling)
