"""Pacing on a fake clock: even spacing, the API's pauses, slowing down and recovering."""

from __future__ import annotations

import asyncio
import itertools
import random

import pytest

from merge.api.pacing import Throttle, backoff
from merge.settings import RATE_FLOOR, RATE_RECOVERY_AFTER
from tests.fakes import FakeClock


def starts(throttle: Throttle, clock: FakeClock, count: int, workers: int = 3) -> list[float]:
    times: list[float] = []

    async def worker(todo: list[int]) -> None:
        while todo:
            todo.pop()
            await throttle.wait()
            times.append(clock.now)

    async def go() -> None:
        todo = list(range(count))
        await asyncio.gather(*(worker(todo) for _ in range(workers)))

    asyncio.run(go())
    return sorted(times)


def test_requests_leave_evenly_spaced_whatever_the_concurrency() -> None:
    clock = FakeClock()
    times = starts(Throttle(10.0, clock, clock.sleep), clock, 21)
    gaps = {round(b - a, 6) for a, b in itertools.pairwise(times)}
    assert gaps == {0.1}
    assert times[-1] - times[0] == pytest.approx(2.0)


def test_no_rate_means_no_waiting() -> None:
    clock = FakeClock()
    times = starts(Throttle(None, clock, clock.sleep), clock, 50)
    assert set(times) == {1_000.0}


def test_a_lone_429_only_pauses() -> None:
    clock = FakeClock()
    throttle = Throttle(10.0, clock, clock.sleep)
    throttle.throttled(5.0)
    throttle.succeeded()
    throttle.throttled(5.0)
    assert throttle.rate == 10.0
    assert throttle.paused_for() == 5.0


def test_repeated_429s_pause_everyone_and_halve_the_rate() -> None:
    clock = FakeClock()
    throttle = Throttle(10.0, clock, clock.sleep)
    throttle.throttled(5.0)
    throttle.throttled(5.0)
    throttle.throttled(5.0)
    assert throttle.rate == 5.0
    assert throttle.paused_for() == 5.0
    times = starts(throttle, clock, 3)
    assert times == pytest.approx([1_005.0, 1_005.2, 1_005.4])


def test_rate_recovers_after_successes_but_never_above_the_ceiling() -> None:
    clock = FakeClock()
    throttle = Throttle(10.0, clock, clock.sleep)
    for _ in range(2):
        throttle.throttled(None)
        throttle.throttled(None)
        clock.now += 1
    assert throttle.rate == 2.5
    for _ in range(RATE_RECOVERY_AFTER * 20):
        throttle.succeeded()
    assert throttle.rate == 10.0


def test_rate_never_falls_below_the_floor() -> None:
    clock = FakeClock()
    throttle = Throttle(1.0, clock, clock.sleep)
    for _ in range(20):
        throttle.throttled(None)
        clock.now += 1
    assert throttle.rate == RATE_FLOOR


def test_unlimited_rate_slows_to_half_of_what_it_was_doing() -> None:
    clock = FakeClock()
    throttle = Throttle(None, clock, clock.sleep)

    async def hundred_a_second() -> None:
        for _ in range(300):
            clock.now += 0.01
            await throttle.wait()

    asyncio.run(hundred_a_second())
    throttle.throttled(1.0)
    throttle.throttled(1.0)
    assert throttle.rate == pytest.approx(50.0, rel=0.02)


def test_a_young_run_is_not_mistaken_for_a_slow_one() -> None:
    clock = FakeClock()
    throttle = Throttle(None, clock, clock.sleep)
    starts(throttle, clock, 4)
    clock.now += 0.1
    throttle.throttled(None)
    throttle.throttled(None)
    assert throttle.rate == pytest.approx(20.0)


def test_backoff_honours_retry_after_and_grows_with_jitter_below_the_cap() -> None:
    rng = random.Random(1)
    assert 3.0 <= backoff(0, 3.0, rng) <= 3.3
    first, fifth, late = backoff(0, None, rng), backoff(4, None, rng), backoff(30, None, rng)
    assert 0.25 <= first <= 0.5
    assert 4.0 <= fifth <= 8.0
    assert 15.0 <= late <= 30.0
