"""When videos are asked about: backoff, and the finishing pace that saves requests."""

from __future__ import annotations

import pytest

from merge.follow.schedule import PollSchedule
from merge.settings import POLL_GROWTH


def simulate(finish: dict[str, float], schedule: PollSchedule) -> tuple[dict[str, int], float]:
    """Replay a timeline where each video is final from its finish time on.

    Return each video's number of checks, and the longest a finished video went unnoticed.
    """
    checks = dict.fromkeys(finish, 0)
    late = 0.0
    for video_id in finish:
        schedule.add(video_id, 0.0)
    while (due := schedule.next_due()) is not None:
        for watch in schedule.pop_due(due):
            checks[watch.video_id] += 1
            if due >= finish[watch.video_id]:
                schedule.finished(watch, due)
                late = max(late, due - finish[watch.video_id])
            else:
                schedule.again(watch, due)
    return checks, late


def test_backoff_grows_to_the_cap() -> None:
    schedule = PollSchedule(first=5.0, cap=60.0)
    schedule.add("v", 0.0)
    times = []
    for _ in range(8):
        (watch,) = schedule.pop_due(10_000.0)
        schedule.again(watch, watch.due)
        times.append(watch.due)
    gaps = [b - a for a, b in zip([0.0, *times], times, strict=False)]
    assert gaps[:3] == pytest.approx([5.0, 5.0 * POLL_GROWTH, 5.0 * POLL_GROWTH**2])
    assert max(gaps) == 60.0


def test_only_due_videos_are_taken() -> None:
    schedule = PollSchedule(first=5.0)
    schedule.add("a", 0.0)
    schedule.add("b", 3.0)
    assert [w.video_id for w in schedule.pop_due(1.0)] == ["a"]
    assert len(schedule) == 2


@pytest.mark.parametrize("spacing", [0.2, 2.0, 10.0])
def test_a_queue_finishing_at_a_steady_pace_needs_few_checks_per_video(spacing: float) -> None:
    finish = {f"v{n}": 30.0 + spacing * n for n in range(200)}
    checks, late = simulate(finish, PollSchedule(first=5.0, cap=60.0))
    assert sum(checks.values()) / len(checks) < 7
    assert late < 0.1 * max(finish.values()) + 60


def test_a_wrong_estimate_never_waits_past_the_cap() -> None:
    finish = {"a": 10.0, "b": 11.0, "c": 12.0, "slow": 500.0}
    schedule = PollSchedule(first=5.0, cap=60.0)
    checks, late = simulate(finish, schedule)
    assert late <= 60.0
    assert checks["slow"] >= 500 / 60


def test_a_fresh_queue_asks_only_its_head_at_first() -> None:
    finish = {f"v{n}": 30.0 + 2.0 * n for n in range(200)}
    eager, _ = simulate(finish, PollSchedule(first=5.0, cap=60.0))
    patient, late = simulate(finish, PollSchedule(first=5.0, cap=60.0, defer_new=True))
    assert sum(patient.values()) < sum(eager.values()) - 100
    assert late < 0.1 * max(finish.values()) + 60


def test_videos_done_before_following_starts_cost_one_request_each() -> None:
    finish = {f"v{n}": -10.0 for n in range(300)}
    checks, late = simulate(finish, PollSchedule(first=5.0, cap=60.0, defer_new=True))
    assert set(checks.values()) == {1}
    assert late <= 5.0 + 10.0
