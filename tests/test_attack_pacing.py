"""Attack: a plain rate limit, no Retry-After. Without --rate, the run converges and finishes."""

from __future__ import annotations

import itertools
from pathlib import Path

import httpx

from tests.test_send import Run, created, error, jobs

LIMIT = 20.0  # requests per second the API takes, then 429 without Retry-After


def _limited(run: Run) -> tuple[list[float], list[float]]:
    """A token bucket of LIMIT/s on the run's fake clock; returns (accepted, refused) times."""
    counter = itertools.count(1)
    state = {"tokens": 2.0, "at": run.clock()}
    accepted: list[float] = []
    refused: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        now = run.clock()
        state["tokens"] = min(2.0, state["tokens"] + (now - state["at"]) * LIMIT)
        state["at"] = now
        if state["tokens"] < 1:
            refused.append(now)
            return error(429, "rate_limit_exceeded")
        state["tokens"] -= 1
        accepted.append(now)
        return created(next(counter))

    run.handler = handler
    return accepted, refused


def test_default_pacing_finishes_every_row_however_long_it_takes(tmp_path: Path) -> None:
    # Commits on the loop: the fake clock moves when every task waits, a thread's sync unseen.
    run = Run(tmp_path, lambda _: httpx.Response(500), journal_thread=False)
    accepted, refused = _limited(run)
    started = run.clock()
    report = run.send(jobs(400), concurrency=8)
    assert run.sender is not None
    assert run.sender.stopped is None
    assert report.sent == 400
    assert {state for state, _ in run.states().values()} == {"submitted"}
    elapsed = run.clock() - started
    assert elapsed >= 400 / LIMIT - 1
    # Converged: the run takes at most three times the ideal, and most requests get through.
    assert elapsed < 3 * 400 / LIMIT, elapsed
    assert len(refused) < len(accepted), (len(refused), len(accepted))


def test_a_rate_the_user_set_still_stops_when_the_api_keeps_refusing(tmp_path: Path) -> None:
    run = Run(tmp_path, lambda _: error(429, "rate_limit_exceeded"), rate=50.0)
    run.send(jobs(3), concurrency=1)
    assert run.sender is not None
    assert run.sender.stopped is not None
    assert run.sender.stopped.kind == "rate"
