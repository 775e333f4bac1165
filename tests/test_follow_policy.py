"""The follow policy on a fake clock: polling to the end takes no real time (issue 10).

The follower's clock and sleep are injected (`FollowOptions.timing`); a mock transport answers
each video's status by the fake time, so these run in milliseconds beside the end-to-end tests.
"""

from __future__ import annotations

import asyncio
import csv
from collections import Counter
from pathlib import Path

import httpx

from merge.api.client import HeyGenClient
from merge.batch.journal import Journal, journal_path
from merge.follow.follower import Follower, FollowOptions, read_videos
from merge.loop import Timing
from tests.fakes import FakeClock

START = 1_000.0


def _output(tmp_path: Path, count: int) -> Path:
    out = tmp_path / "sent.csv"
    with out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "video_id", "merge_status", "callback_id"])
        for n in range(count):
            writer.writerow([f"lead {n}", f"{n:032x}", "submitted", f"am-00000000-row-{n + 2}"])
    return out


def _follow(tmp_path: Path, count: int, done_after: float, **options: object):
    """Follow `count` videos that finish one every `done_after` fake seconds, in order."""
    clock = FakeClock(START)
    asked: Counter[str] = Counter()
    last_asked = [START]

    def handler(request: httpx.Request) -> httpx.Response:
        video_id = request.url.params["video_id"]
        asked[video_id] += 1
        last_asked[0] = clock()
        ready = START + done_after * (int(video_id, 16) + 1)
        if clock() < ready:
            data = {"status": "processing"}
        else:
            data = {"status": "completed", "video_url": f"https://files.example/{video_id}.mp4"}
        return httpx.Response(200, json={"code": 100, "data": data})

    out = _output(tmp_path, count)
    info, tracked = read_videos(out)
    journal = Journal.open(journal_path(out), "test")
    timing = Timing(monotonic=clock, wall=clock, sleep=clock.sleep)
    follow = FollowOptions(timing=timing, write_every=30.0, **options)  # type: ignore[arg-type]

    async def go():
        transport = httpx.MockTransport(handler)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            client = HeyGenClient(http)
            return await Follower(client, http, journal, out, info, tracked, follow).run()

    try:
        summary = asyncio.run(go())
    finally:
        journal.close()
    return summary, asked, last_asked[0] - START, out


def test_waiting_follows_every_video_to_the_end_in_no_real_time(tmp_path: Path) -> None:
    summary, asked, elapsed, out = _follow(tmp_path, 40, done_after=15.0, wait=True)
    assert summary.statuses == Counter({"completed": 40})
    assert elapsed >= 40 * 15.0  # the last video is done after 600 fake seconds
    assert elapsed < 40 * 15.0 + 120  # and the last question comes soon after
    assert sum(asked.values()) < 40 * 6  # a few requests per video, not one per tick
    with out.open(encoding="utf-8") as handle:
        assert handle.read().count("completed") == 40


def test_one_look_asks_every_video_once(tmp_path: Path) -> None:
    summary, asked, _, _ = _follow(tmp_path, 60, done_after=1.0, poll_first=0.0)
    assert set(asked.values()) == {1}
    assert len(asked) == 60
    assert summary.statuses["unchecked"] == 0
