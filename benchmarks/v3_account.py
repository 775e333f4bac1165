"""v3 against a Pay-As-You-Go account: N videos, 10 jobs at once, 429 + Retry-After beyond them.

`python -m benchmarks.v3_account`, or `BENCH_ONLY=v3 make bench`. It submits a sheet of valid
leads to the simulator playing an account that renders at most BENCH_V3_JOBS unfinished videos
(HeyGen: 10 on Pay-As-You-Go; a create beyond them is answered 429 with a Retry-After), then
follows every video with `status --wait`, and prints:

- the create rate (videos accepted per second of submit) and how many creates got the 429;
- requests per video while following (one bulk `GET /v3/videos/statuses` call per 100 videos
  per round, and one read per finished video for its links);
- wall times.

Settings (environment): BENCH_V3_VIDEOS (2000), BENCH_V3_JOBS (10), BENCH_V3_RENDER_SECONDS
(0.2), BENCH_V3_CONCURRENCY (10), BENCH_V3_POLL (1), BENCH_V3_TIMEOUT (900 s a command).
It never asserts: it prints what it measured.
"""

from __future__ import annotations

import os
import re
import sys
import time

from benchmarks.loopback import SimulatorProcess, run_merge, run_submit
from benchmarks.run import OUT, log
from benchmarks.submit_data import ensure_sheet
from benchmarks.submitting import TEMPLATE

RUNS = OUT / "v3"
REQUESTS = re.compile(r"status requests: ([\d,]+)")


def _number(name: str, default: float) -> float:
    text = os.environ.get(name, "").strip()
    return float(text) if text else default


def main() -> int:
    """Submit, follow, print the figures."""
    videos = int(_number("BENCH_V3_VIDEOS", 2000))
    jobs = int(_number("BENCH_V3_JOBS", 10))
    render = _number("BENCH_V3_RENDER_SECONDS", 0.2)
    concurrency = int(_number("BENCH_V3_CONCURRENCY", 10))
    poll = _number("BENCH_V3_POLL", 1.0)
    timeout = _number("BENCH_V3_TIMEOUT", 900.0)
    sheet = ensure_sheet(videos)
    RUNS.mkdir(parents=True, exist_ok=True)
    output = RUNS / f"v3-{videos}.csv"
    for leftover in (output, *RUNS.glob(f"{output.name}.*")):
        leftover.unlink(missing_ok=True)
    options = ["--job-limit", str(jobs), "--slots", str(jobs), "--pending-seconds", "0"]
    options += ["--render-seconds", f"{render:g}", "--seed", "1"]
    with SimulatorProcess(options) as api:
        log(f"v3: submitting {videos:,} rows to an account of {jobs} jobs at {api.url}")
        started = time.monotonic()
        sent = run_submit(
            sheet, TEMPLATE, output, api.url, ["--concurrency", str(concurrency)], timeout
        )
        submit_wall = time.monotonic() - started
        after_submit = api.get("/_simulator/stats")
        log(f"v3: submit exit {sent.code}; following with status --wait --poll {poll:g}")
        follow = run_merge(
            ["status", str(output), "--base-url", api.url, "--wait", "--poll", f"{poll:g}"],
            timeout,
        )
        stats = api.get("/_simulator/stats")
        accepted = api.get("/_simulator/accepted")["accepted"]
    extra = sum(n - 1 for n in accepted.values())
    created = int(stats["created"])
    found = REQUESTS.search(follow.stdout)
    requests = int(found.group(1).replace(",", "")) if found else None
    ideal = videos * render / jobs
    print(f"v3 against a {jobs}-job account, {videos:,} videos of {render:g} s each")
    print(f"  submit: exit {sent.code}, {created:,} created in {submit_wall:.1f} s wall")
    print(
        f"  create rate: {created / submit_wall:.1f} videos/s"
        f" (the account's ceiling is {jobs / render:.1f}/s; {ideal:.1f} s at best)"
    )
    print(f"  429 for the job limit: {stats.get('job_limited', 0):,} answers")
    print(f"  rows with a video: {len(accepted):,} of {videos:,}; duplicates: {extra}")
    print(f"  status --wait: exit {follow.code}, {follow.wall:.1f} s wall")
    if requests is not None:
        print(f"  status requests: {requests:,} = {requests / videos:.3f} per video")
    total, during_submit = stats["requests"], after_submit["requests"]
    print(f"  simulator requests in all: {total:,} (during submit: {during_submit:,})")
    return 0 if sent.code == 0 and follow.code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
