"""Pure request limits and fault dice: a token bucket, a per-day counter, seeded randomness."""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence
from typing import TypeVar

from merge.simulator.settings import SECONDS_PER_DAY

T = TypeVar("T")


class TokenBucket:
    """Allow `rate` requests a second on average, with bursts of up to `max(1, rate)`."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.burst = max(1.0, rate)
        self._tokens = self.burst
        self._stamp: float | None = None

    def take(self, now: float) -> float:
        """Spend a token and return 0, or return the seconds until one is free."""
        if self._stamp is not None:
            elapsed = max(0.0, now - self._stamp)
            self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rate


def retry_after(seconds: float) -> str:
    """Spell a wait as a Retry-After value: whole seconds, rounded up, at least one."""
    return str(max(1, math.ceil(seconds)))


class DailyCount:
    """Count events per UTC day, so a daily quota renews at midnight."""

    def __init__(self) -> None:
        self._days: Counter[int] = Counter()

    def today(self, now: float) -> int:
        """Return how many events happened on the day of `now`."""
        return self._days[int(now // SECONDS_PER_DAY)]

    def add(self, now: float) -> None:
        """Record one event on the day of `now`."""
        self._days[int(now // SECONDS_PER_DAY)] += 1


class Dice:
    """Decide faults at random, repeatably when seeded; certain at 0 and 1 without a roll."""

    def __init__(self, seed: int | None) -> None:
        self._rng = random.Random(seed)

    def roll(self, fraction: float) -> bool:
        """Say whether an event that happens `fraction` of the time happens now."""
        if fraction <= 0.0:
            return False
        if fraction >= 1.0:
            return True
        return self._rng.random() < fraction

    def spread(self, jitter: float) -> float:
        """Draw a factor from 1 − jitter to 1 + jitter; exactly 1, without a roll, at 0."""
        if jitter <= 0.0:
            return 1.0
        return self._rng.uniform(1.0 - jitter, 1.0 + jitter)

    def pick(self, choices: Sequence[T]) -> T:
        """Choose one of `choices`."""
        return self._rng.choice(choices)
