"""Polling benchmark: `avatar-merge status --wait` following thousands of videos to the end.

`python -m benchmarks.polling` runs only this (so does `BENCH_ONLY=poll python -m
benchmarks.run`); `make bench` runs it as part "poll" (leave it out with BENCH_SKIP=poll).

The figure of the issue: requests spent per video while polling 5,000 videos to completion,
held against the least the completion times allow, one request per video (a single ask once
it has finished), and against what plain fixed-interval polling would have cost.

Each run, for each --poll value: a fresh simulator with render jitter, as a process of its own
(`python -m benchmarks.sim_launcher --port 0 ...`: `avatar-merge simulate` has no flag for the
jitter or the pending time, and this launcher also records every status request and exposes
each video's timeline); `python -m merge submit <sheet> templates/outreach.json -o <fresh
output> --base-url <it> --yes --concurrency 8`; then, timed, `python -m merge status <output>
--base-url <it> --wait --concurrency 8 --poll P`. Every request goes to 127.0.0.1.

What is measured, and how:

  requests     the command's own "status requests: N", checked against the simulator's
               /_simulator/stats `requests` before and after, and against the launcher's
               record of each status request (video and arrival time)
  finish       each video's `finished` from its timeline (the simulator fixes it when the
               video is created: slot free + render time); exact, not inferred from answers
  lateness     for each video, the first status request that arrived at or after its finish,
               minus the later of its finish and the moment the status command was started
               (a video already done then is late by however long its first ask took)
  minimum      1 request per video: one ask, once it is done
  fixed P s    computed on the same videos: asked at its first real ask, then every P s until
               done: 1 + ceil((finish - first ask) / P) requests
  backoff      computed likewise with the backoff alone (P, x POLL_GROWTH, at most
               POLL_CAP_SECONDS), without the pace estimate
  replay       merge.follow.schedule.PollSchedule driven in this process with the same finish times,
               every video added at the first real ask, answers instant and unlimited

Settings, from the environment:

  BENCH_POLL_VIDEOS          videos to follow (default 5000)
  BENCH_POLL_SLOTS           simulator rendering slots (default 500)
  BENCH_POLL_RENDER_SECONDS  mean render time (default 20)
  BENCH_POLL_RENDER_JITTER   render time spread: uniform within +/- this share (default 0.5)
  BENCH_POLL_PENDING_SECONDS pending time before a video queues for a slot (default 0.5)
  BENCH_POLL_FIRST           comma-separated `--poll` values, one run each (default 5)
  BENCH_POLL_CONCURRENCY     client --concurrency for submit and status (default 8)
  BENCH_POLL_RUN_TIMEOUT     seconds before a command still running is interrupted (600)
  BENCH_POLL_API             comma-separated APIs to follow the videos on: v2 (default), v3
                             (v3 asks up to 100 videos per bulk status call)

With the defaults the queue takes about 5,000 / 500 x 20 s = 200 s to drain, so one run takes
about 4 minutes. Results go to benchmarks/out/poll-results.json; the exit status is non-zero
only when the benchmark itself breaks.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.loopback import ClientRun, SimulatorProcess, run_merge, run_submit
from benchmarks.run import OUT, PROJECT, Figure, log, print_table
from benchmarks.submit_data import ensure_sheet
from benchmarks.submitting import Shown
from merge.follow.schedule import PollSchedule
from merge.settings import POLL_CAP_SECONDS, POLL_GROWTH

TEMPLATE = PROJECT / "templates" / "outreach.json"
RUNS = OUT / "poll"
RESULTS = OUT / "poll-results.json"
LAUNCHER = ("benchmarks.sim_launcher",)
SEED = 1
FOLLOWED = "Followed "
REQUESTS_LINE = "  status requests: "
BUCKET_SECONDS = 20.0
DECILES = 10
MEASURED_CODE = ("merge/schedule.py", "merge/follow.py", "merge/settings.py")


# -- settings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """Sizes of the queue and the client's options, from BENCH_POLL_* variables."""

    videos: int = 5_000
    slots: int = 500
    render_seconds: float = 20.0
    render_jitter: float = 0.5
    pending_seconds: float = 0.5
    polls: tuple[float, ...] = (5.0,)
    concurrency: int = 8
    run_timeout: float = 600.0
    api: str = "v2"

    @classmethod
    def from_env(cls) -> Settings:
        """Read the variables, with the documented defaults."""
        polls = os.environ.get("BENCH_POLL_FIRST", "")
        return cls(
            videos=int(_number("BENCH_POLL_VIDEOS", cls.videos)),
            slots=int(_number("BENCH_POLL_SLOTS", cls.slots)),
            render_seconds=_number("BENCH_POLL_RENDER_SECONDS", cls.render_seconds),
            render_jitter=_number("BENCH_POLL_RENDER_JITTER", cls.render_jitter),
            pending_seconds=_number("BENCH_POLL_PENDING_SECONDS", cls.pending_seconds),
            polls=tuple(float(p) for p in polls.split(",") if p.strip()) or cls.polls,
            concurrency=int(_number("BENCH_POLL_CONCURRENCY", cls.concurrency)),
            run_timeout=_number("BENCH_POLL_RUN_TIMEOUT", cls.run_timeout),
            api=os.environ.get("BENCH_POLL_API", cls.api).strip() or cls.api,
        )

    def simulator(self) -> list[str]:
        """The launcher's options (after `--port 0`)."""
        return [
            "--slots",
            str(self.slots),
            "--render-seconds",
            f"{self.render_seconds:g}",
            "--render-jitter",
            f"{self.render_jitter:g}",
            "--pending-seconds",
            f"{self.pending_seconds:g}",
            "--seed",
            str(SEED),
        ]


def _number(name: str, default: float) -> float:
    text = os.environ.get(name, "").replace("_", "").replace(",", "")
    return float(text) if text else default


# -- one run ----------------------------------------------------------------------------------


@dataclass
class Observed:
    """What one run left: the videos in the output's row order, their finishes, the asks."""

    order: list[str]
    finished: dict[str, float]
    asks: dict[str, list[float]]
    launched: float
    statuses: dict[str, int]
    asks_before_status: int


@dataclass
class PollRun:
    """One `status --wait` run against a fresh simulator, and what it printed."""

    poll: float
    submit_code: int
    submit_seconds: float | None
    submit_statuses: str
    status: ClientRun | None = None
    printed_requests: int | None = None
    command_seconds: float | None = None
    stats_requests: int | None = None
    simulator_cpu: float | None = None
    observed: Observed | None = None
    error: str = ""
    code: dict[str, str] = field(default_factory=dict)
    """Hashes of the polling code when the status command started."""


def fresh_output(poll: float) -> Path:
    """Name an output under benchmarks/out/poll/, removing what an earlier run left there."""
    RUNS.mkdir(parents=True, exist_ok=True)
    name = f"poll-{poll:g}"
    output = RUNS / f"{name}.csv"
    for leftover in (output, *RUNS.glob(f"{name}.csv.*"), RUNS / f"{name}-videos.json"):
        leftover.unlink(missing_ok=True)
    return output


def follow_once(settings: Settings, poll: float) -> PollRun:
    """Submit the sheet to a fresh simulator, then follow every video with `status --wait`."""
    sheet = ensure_sheet(settings.videos)
    output = fresh_output(poll)
    concurrency = ["--concurrency", str(settings.concurrency)]
    with SimulatorProcess(settings.simulator(), program=LAUNCHER) as api:
        log(f"poll {poll:g}: submitting {settings.videos:,} rows to {api.url}")
        target = ["--api", "v3", "--lossy"] if settings.api == "v3" else []
        sent = run_submit(
            sheet, TEMPLATE, output, api.url, [*concurrency, *target], settings.run_timeout
        )
        run = PollRun(poll, sent.code, sent.seconds, sent.statuses)
        log(f"  submit exit {sent.code}, {sent.statuses or 'no summary'}, wall {sent.wall:.1f} s")
        if sent.code != 0:
            run.error = f"submit exited {sent.code}: {sent.stderr.strip()[-300:]}"
            return run
        before, cpu_before = api.get("/_simulator/stats")["requests"], api.cpu_seconds()
        args = ["status", str(output), "--base-url", api.url, "--wait", *concurrency]
        args += ["--api", settings.api]
        log(f"poll {poll:g}: {' '.join(args[2:])} --poll {poll:g}")
        run.code = code_fingerprint()
        run.status = run_merge([*args, "--poll", f"{poll:g}"], settings.run_timeout)
        run.stats_requests = api.get("/_simulator/stats")["requests"] - before
        cpu_after = api.cpu_seconds()
        if cpu_before is not None and cpu_after is not None:
            run.simulator_cpu = cpu_after - cpu_before
        videos, asks = api.get("/_bench/videos"), api.get("/_bench/asks")
    _read_summary(run)
    run.observed = observe(output, videos, asks, run.status.started_at)
    keep = output.with_name(f"{output.stem}-videos.json")
    keep.write_text(json.dumps(asdict(run.observed)), encoding="utf-8")
    log(
        f"  status exit {run.status.code}, {run.printed_requests} requests,"
        f" wall {run.status.wall:.1f} s"
    )
    if run.status.code != 0 or run.status.timed_out:
        run.error = f"status exited {run.status.code}: {run.status.stderr.strip()[-300:]}"
    return run


def _read_summary(run: PollRun) -> None:
    """Read "Followed N videos in X s" and "status requests: N" from the command's output."""
    assert run.status is not None
    for line in run.status.stdout.splitlines():
        if line.startswith(REQUESTS_LINE):
            run.printed_requests = int(line[len(REQUESTS_LINE) :].replace(",", ""))
        elif line.startswith(FOLLOWED) and " in " in line:
            run.command_seconds = float(line.split(" in ", 1)[1].split(" s", 1)[0])


def observe(
    output: Path, videos: list[dict[str, Any]], asks: list[list[Any]], launched: float
) -> Observed:
    """Join the output's rows, the simulator's timelines and the recorded status requests."""
    with output.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    order = [row["video_id"] for row in rows if row.get("video_id")]
    statuses: dict[str, int] = {}
    for row in rows:
        statuses[row.get("video_status", "")] = statuses.get(row.get("video_status", ""), 0) + 1
    by_video: dict[str, list[float]] = {video_id: [] for video_id in order}
    early = 0
    for video_id, at in asks:
        if at < launched:
            early += 1
        else:
            by_video.setdefault(video_id, []).append(at)
    for times in by_video.values():
        times.sort()
    finished = {video["id"]: video["finished"] for video in videos}
    return Observed(order, finished, by_video, launched, statuses, early)


# -- analysis ---------------------------------------------------------------------------------


@dataclass
class Method:
    """One way of polling the same videos: requests spent, and how late each end was learnt."""

    name: str
    requests: int
    videos: int
    late_median: float
    late_p90: float
    late_max: float
    all_final_s: float
    """Seconds from the status command's start until the last video was known final."""
    unfinished: int = 0
    """Videos this way never saw final (0 unless the run was cut short)."""

    @property
    def per_video(self) -> float:
        """Requests per video; the minimum is 1."""
        return self.requests / self.videos if self.videos else math.nan


def method(name: str, seen: Observed, counts: dict[str, int], final: dict[str, float]) -> Method:
    """Sum a way's requests and its lateness (from the later of finish and the start)."""
    late = sorted(final[v] - max(seen.finished[v], seen.launched) for v in seen.order if v in final)
    ends = [final[v] for v in seen.order if v in final]
    return Method(
        name,
        sum(counts.values()),
        len(seen.order),
        _quantile(late, 0.5),
        _quantile(late, 0.9),
        late[-1] if late else math.nan,
        (max(ends) - seen.launched) if ends else math.nan,
        len(seen.order) - len(final),
    )


def measured(seen: Observed) -> tuple[dict[str, int], dict[str, float]]:
    """Each video's requests, and the first ask that found it done."""
    counts = {v: len(seen.asks.get(v, [])) for v in seen.order}
    final = {}
    for v in seen.order:
        done = [at for at in seen.asks.get(v, []) if at >= seen.finished[v]]
        if done:
            final[v] = done[0]
    return counts, final


def fixed(seen: Observed, period: float) -> tuple[dict[str, int], dict[str, float]]:
    """Ask each video at its first real ask, then every `period` seconds until it is done."""
    counts, final = {}, {}
    for v in seen.order:
        first = _first_ask(seen, v)
        steps = max(0, math.ceil((seen.finished[v] - first) / period))
        counts[v], final[v] = steps + 1, first + steps * period
    return counts, final


def backoff(seen: Observed, poll: float) -> tuple[dict[str, int], dict[str, float]]:
    """Ask each video at its first real ask, then after poll, x growth, at most the cap."""
    counts, final = {}, {}
    for v in seen.order:
        at, interval, asked = _first_ask(seen, v), poll, 1
        while at < seen.finished[v]:
            at += min(POLL_CAP_SECONDS, interval)
            interval = min(POLL_CAP_SECONDS, interval * POLL_GROWTH)
            asked += 1
        counts[v], final[v] = asked, at
    return counts, final


def replay(seen: Observed, poll: float) -> tuple[dict[str, int], dict[str, float]]:
    """Drive PollSchedule with the real finish times, answers instant and unlimited."""
    start = min((_first_ask(seen, v) for v in seen.order), default=seen.launched)
    schedule = PollSchedule(first=poll)
    for v in seen.order:
        schedule.add(v, start)
    counts = dict.fromkeys(seen.order, 0)
    final: dict[str, float] = {}
    now = start
    while len(schedule):
        due = schedule.pop_due(now)
        if not due:
            upcoming = schedule.next_due()
            if upcoming is None:
                break
            now = max(now, upcoming)
            continue
        for watch in due:
            counts[watch.video_id] += 1
            if seen.finished[watch.video_id] <= now:
                final[watch.video_id] = now
                schedule.finished(watch, now)
            else:
                schedule.again(watch, now)
    return counts, final


def _first_ask(seen: Observed, video_id: str) -> float:
    asks = seen.asks.get(video_id)
    return asks[0] if asks else seen.launched


def _quantile(values: list[float], q: float) -> float:
    """The q-quantile of sorted values (nearest rank), NaN when there are none."""
    if not values:
        return math.nan
    return values[min(len(values) - 1, max(0, math.ceil(q * len(values)) - 1))]


@dataclass
class Analysis:
    """Every way of polling for one run, and where the measured requests went."""

    poll: float
    methods: list[Method]
    last_finish_s: float
    done_before_start: int
    asks: dict[str, int]
    early_by: dict[str, dict[str, float]]
    second_gap: dict[str, float]
    deciles: list[dict[str, Any]] = field(default_factory=list)
    buckets: list[dict[str, Any]] = field(default_factory=list)

    def by_name(self, prefix: str) -> Method:
        """The method whose name starts with `prefix`."""
        return next(m for m in self.methods if m.name.startswith(prefix))


def analyse(seen: Observed, poll: float) -> Analysis:
    """Hold the measured requests against the minimum, fixed polling, backoff and the replay."""
    counts, final = measured(seen)
    methods = [
        method("avatar-merge status --wait (measured)", seen, counts, final),
        method("PollSchedule replay (in process)", seen, *replay(seen, poll)),
        method(
            f"backoff alone ({poll:g} s x{POLL_GROWTH:g}, cap {POLL_CAP_SECONDS:g} s)",
            seen,
            *backoff(seen, poll),
        ),
        method(f"fixed {poll:g} s polling (computed)", seen, *fixed(seen, poll)),
        method("minimum: one ask once done", seen, dict.fromkeys(seen.order, 1), _ideal(seen)),
    ]
    if poll != 5.0:
        methods.insert(-1, method("fixed 5 s polling (computed)", seen, *fixed(seen, 5.0)))
    last = max(seen.finished[v] for v in seen.order)
    return Analysis(
        poll,
        methods,
        last - seen.launched,
        sum(1 for v in seen.order if seen.finished[v] <= seen.launched),
        _ask_kinds(seen, final),
        _early_by(seen),
        _second_gap(seen),
        _deciles(seen, counts, final, fixed(seen, poll)[0]),
        _buckets(seen, final),
    )


def _ideal(seen: Observed) -> dict[str, float]:
    return {v: max(seen.finished[v], seen.launched) for v in seen.order}


def _ask_kinds(seen: Observed, final: dict[str, float]) -> dict[str, int]:
    """Sort every ask: first or later, before the end, the one that found it, or after it."""
    kinds = dict.fromkeys(
        ("first_found_done", "first_too_early", "later_too_early", "later_found_done"), 0
    )
    kinds["after_done"] = 0
    for v in seen.order:
        for index, at in enumerate(seen.asks.get(v, [])):
            when = "first" if index == 0 else "later"
            if at < seen.finished[v]:
                kinds[f"{when}_too_early"] += 1
            elif at == final.get(v):
                kinds[f"{when}_found_done"] += 1
            else:
                kinds["after_done"] += 1
    return kinds


def _early_by(seen: Observed) -> dict[str, dict[str, float]]:
    """How long before its finish a second ask, and a third or later one, came."""
    second: list[float] = []
    later: list[float] = []
    for v in seen.order:
        for index, at in enumerate(seen.asks.get(v, [])):
            if index and at < seen.finished[v]:
                (second if index == 1 else later).append(seen.finished[v] - at)
    return {"second": _summary(sorted(second)), "later": _summary(sorted(later))}


def _second_gap(seen: Observed) -> dict[str, float]:
    """Seconds between a video's first and second ask (backoff at the head, deferral behind)."""
    gaps = sorted(a[1] - a[0] for v in seen.order if len(a := seen.asks.get(v, [])) > 1)
    return _summary(gaps)


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "count": len(values),
        "median": _quantile(values, 0.5),
        "p10": _quantile(values, 0.1),
        "p90": _quantile(values, 0.9),
        "max": values[-1] if values else math.nan,
    }


def _deciles(
    seen: Observed, counts: dict[str, int], final: dict[str, float], fixed_counts: dict[str, int]
) -> list[dict[str, Any]]:
    """Requests and lateness by position in the queue, a tenth of the videos at a time."""
    size = max(1, math.ceil(len(seen.order) / DECILES))
    parts = []
    for start in range(0, len(seen.order), size):
        chunk = seen.order[start : start + size]
        late = sorted(final[v] - max(seen.finished[v], seen.launched) for v in chunk if v in final)
        parts.append(
            {
                "rows": f"{start + 1}-{start + len(chunk)}",
                "videos": len(chunk),
                "finish_median_s": _quantile(
                    sorted(seen.finished[v] - seen.launched for v in chunk), 0.5
                ),
                "requests": sum(counts[v] for v in chunk),
                "fixed_requests": sum(fixed_counts[v] for v in chunk),
                "late_median": _quantile(late, 0.5),
                "late_max": late[-1] if late else math.nan,
            }
        )
    return parts


def _buckets(seen: Observed, final: dict[str, float]) -> list[dict[str, Any]]:
    """Requests, early asks and finishes in each BUCKET_SECONDS after the command started."""
    table: dict[int, dict[str, int]] = {}

    def slot(at: float) -> dict[str, int]:
        index = max(0, int((at - seen.launched) // BUCKET_SECONDS))
        return table.setdefault(index, {"requests": 0, "too_early": 0, "finished": 0})

    for v in seen.order:
        for at in seen.asks.get(v, []):
            slot(at)["requests"] += 1
            if at < seen.finished[v]:
                slot(at)["too_early"] += 1
        if seen.finished[v] >= seen.launched:
            slot(seen.finished[v])["finished"] += 1
    return [{"from_s": index * BUCKET_SECONDS, **table[index]} for index in sorted(table)]


# -- figures ----------------------------------------------------------------------------------


def figures_of(run: PollRun, found: Analysis | None) -> list[Figure]:
    """The table's figures for one run (or one ERROR figure when it could not be measured)."""
    tag = f"{run.poll:g}".replace(".", "_")
    if found is None or run.observed is None:
        return [
            Figure(
                f"p.poll_{tag}",
                f"status --wait --poll {run.poll:g}",
                None,
                "",
                error=run.error or "no data",
            )
        ]
    live = found.by_name("avatar-merge")
    least, plain = found.by_name("minimum"), found.by_name(f"fixed {run.poll:g} s")
    seen = run.observed
    api = Settings.from_env().api
    name = f"status --api {api} --wait --poll {run.poll:g}, {live.videos:,} videos"
    detail = (
        f"status requests {live.requests:,} (printed {run.printed_requests}, simulator"
        f" {run.stats_requests}); {live.videos - live.unfinished:,} seen final; output"
        f" video_status {seen.statuses}; command {run.command_seconds} s, process"
        f" {run.status.wall if run.status else 0:.1f} s, CPU client"
        f" {run.status.cpu if run.status else 0:.1f} s, simulator {run.simulator_cpu or 0:.1f} s"
    )
    return [
        Shown(
            f"p.requests_per_video_{tag}",
            f"{name}: status requests per video",
            live.per_video,
            "",
            "near 1 (min)",
            None,
            detail,
            template="{:.2f} /video",
            error=run.error,
        ),
        Shown(
            f"p.ratio_to_minimum_{tag}",
            f"{name}: requests / minimum (1 per video)",
            live.requests / least.requests if least.requests else None,
            "",
            detail=f"fixed {run.poll:g} s polling would take {plain.requests:,}"
            f" ({plain.per_video:.2f}/video, {plain.requests / least.requests:.2f}x minimum)",
            template="{:.2f}x",
            error=run.error,
        ),
        Shown(
            f"p.fixed_poll_per_video_{tag}",
            f"{name}: fixed {run.poll:g} s polling, computed",
            plain.per_video,
            "",
            detail=f"median lateness {plain.late_median:.1f} s, max {plain.late_max:.1f} s",
            template="{:.2f} /video",
        ),
        Shown(
            f"p.all_final_s_{tag}",
            f"{name}: seconds to all final (last finish {found.last_finish_s:.1f} s)",
            live.all_final_s,
            "",
            detail=f"the last video finished {found.last_finish_s:.1f} s after status started;"
            f" known {live.all_final_s - found.last_finish_s:.1f} s later",
            template="{:.1f} s",
            error=run.error,
        ),
        Shown(
            f"p.max_lateness_s_{tag}",
            f"{name}: max lateness",
            live.late_max,
            "",
            detail=f"median {live.late_median:.1f} s, p90 {live.late_p90:.1f} s",
            template="{:.1f} s",
            error=run.error,
        ),
    ]


# -- report -----------------------------------------------------------------------------------


@dataclass
class Report:
    """Every run, its analysis and the figures."""

    settings: Settings
    runs: list[PollRun] = field(default_factory=list)
    analyses: list[Analysis | None] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def runs_json(self) -> list[dict[str, Any]]:
        """Every run as plain data (per-video asks left out), for the results file."""
        plain = []
        for run, found in zip(self.runs, self.analyses, strict=True):
            data = asdict(run)
            data.pop("observed", None)
            if run.status is not None:
                data["status"]["stdout"] = run.status.stdout[-2000:]
                data["status"]["stderr"] = run.status.stderr[-2000:]
            if found is not None:
                data["analysis"] = asdict(found) | {
                    "methods": [asdict(m) | {"per_video": m.per_video} for m in found.methods]
                }
            plain.append(data)
        return list(_no_nan(plain))


def measure(settings: Settings) -> Report:
    """Run `status --wait` once per --poll value and turn the runs into figures."""
    started = time.perf_counter()
    report = Report(settings)
    for poll in settings.polls:
        try:
            run = follow_once(settings, poll)
        except Exception as error:  # a benchmark reports a broken part and carries on
            log(f"poll {poll:g} failed: {error!r}")
            report.broken.append(f"poll {poll:g}")
            run = PollRun(poll, -1, None, "", error=repr(error))
        found = analyse(run.observed, poll) if run.observed is not None else None
        if found is None and f"poll {poll:g}" not in report.broken:
            report.broken.append(f"poll {poll:g}")
        report.runs.append(run)
        report.analyses.append(found)
        report.figures += figures_of(run, found)
    report.seconds = time.perf_counter() - started
    return report


def code_fingerprint() -> dict[str, str]:
    """Hash the polling code measured, as other work may be editing it."""
    return {
        name: hashlib.sha256((PROJECT / name).read_bytes()).hexdigest()[:12]
        for name in MEASURED_CODE
        if (PROJECT / name).is_file()
    }


def print_runs(report: Report) -> None:
    """Print each run's comparison, where its requests went, and a timeline."""
    settings = report.settings
    print(
        f"\npolling runs ({report.seconds:.0f} s in all): simulator --slots {settings.slots}"
        f" --render-seconds {settings.render_seconds:g} ±{settings.render_jitter:.0%}"
        f" --pending-seconds {settings.pending_seconds:g}; client --concurrency"
        f" {settings.concurrency}"
    )
    _print_summary(report)
    for run, found in zip(report.runs, report.analyses, strict=True):
        if found is not None:
            _print_methods(run, found)
            _print_where(found)


def _print_summary(report: Report) -> None:
    header = (
        f"{'--poll':>6} {'videos':>6} {'all final s':>11} {'last finish s':>13}"
        f" {'max late s':>10} {'requests':>9} {'req/video':>9} {'x min':>6}"
        f" {'fixed-P req':>11} {'fixed req/video':>15}"
    )
    print()
    print(header)
    print("-" * len(header))
    for run, found in zip(report.runs, report.analyses, strict=True):
        if found is None:
            print(f"{run.poll:>6g} ERROR: {run.error}")
            continue
        live, plain = found.by_name("avatar-merge"), found.by_name(f"fixed {run.poll:g} s")
        print(
            f"{run.poll:>6g} {live.videos:>6,} {live.all_final_s:>11.1f}"
            f" {found.last_finish_s:>13.1f} {live.late_max:>10.1f} {live.requests:>9,}"
            f" {live.per_video:>9.2f} {live.requests / live.videos:>5.2f}x {plain.requests:>11,}"
            f" {plain.per_video:>15.2f}"
        )
    print(
        "seconds count from the start of the status command; lateness: first ask at or after"
        " a video's finish minus the later of its finish and that start"
    )


def _print_methods(run: PollRun, found: Analysis) -> None:
    least = found.by_name("minimum").requests
    print(
        f"\n--poll {run.poll:g}: the same {least:,} finish times, polled in different ways"
        f" (code measured: {', '.join(f'{k} {v}' for k, v in run.code.items())})"
    )
    header = (
        f"{'way':<42} {'requests':>9} {'req/video':>9} {'x min':>6} {'late median':>11}"
        f" {'p90':>6} {'max':>6} {'all final s':>11}"
    )
    print(header)
    print("-" * len(header))
    for m in found.methods:
        print(
            f"{m.name:<42} {m.requests:>9,} {m.per_video:>9.2f} {m.requests / least:>5.2f}x"
            f" {m.late_median:>11.1f} {m.late_p90:>6.1f} {m.late_max:>6.1f}"
            f" {m.all_final_s:>11.1f}"
        )
    print(
        f"checks: printed {run.printed_requests}, simulator /_simulator/stats"
        f" {run.stats_requests}, recorded status requests"
        f" {sum(len(a) for a in run.observed.asks.values()) if run.observed else '-'}"
    )


def _print_where(found: Analysis) -> None:
    gap = found.second_gap
    asks = found.asks
    print(
        f"\nwhere the requests went: first asks {asks['first_found_done']:,} found the video"
        f" done, {asks['first_too_early']:,} too early; later asks {asks['later_too_early']:,}"
        f" too early, {asks['later_found_done']:,} found it done; {asks['after_done']:,} after"
        f" it was known done ({found.done_before_start:,} videos were done before status"
        " started)"
    )
    for which, label in (("second", "second asks"), ("later", "third and later asks")):
        early = found.early_by[which]
        print(
            f"  {label} too early: {early['count']:,}, before the finish by median"
            f" {early['median']:.1f} s, p10 {early['p10']:.1f}, p90 {early['p90']:.1f},"
            f" max {early['max']:.1f}"
        )
    print(
        f"  first to second ask: median {gap['median']:.1f} s, p10 {gap['p10']:.1f},"
        f" p90 {gap['p90']:.1f}, max {gap['max']:.1f} ({gap['count']:,} videos asked twice+)"
    )
    print(
        f"\n  {'rows':<11} {'finish median s':>15} {'requests':>9} {'req/video':>9}"
        f" {'fixed req':>9} {'late median':>11} {'late max':>8}"
    )
    for part in found.deciles:
        print(
            f"  {part['rows']:<11} {part['finish_median_s']:>15.1f} {part['requests']:>9,}"
            f" {part['requests'] / part['videos']:>9.2f} {part['fixed_requests']:>9,}"
            f" {part['late_median']:>11.1f} {part['late_max']:>8.1f}"
        )
    print(f"\n  {'from s':>6} {'requests':>9} {'too early':>9} {'finished':>8}")
    for bucket in found.buckets:
        print(
            f"  {bucket['from_s']:>6.0f} {bucket['requests']:>9,} {bucket['too_early']:>9,}"
            f" {bucket['finished']:>8,}"
        )


def _no_nan(value: Any) -> Any:
    """Replace NaN (a figure with no data) by null, so the file is strict JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: _no_nan(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_no_nan(item) for item in value]
    return value


def main() -> int:
    """Run the polling benchmark alone, print the tables and write out/poll-results.json."""
    settings = Settings.from_env()
    log(
        f"poll: videos={settings.videos:,} slots={settings.slots}"
        f" render={settings.render_seconds:g}s±{settings.render_jitter:.0%}"
        f" polls={list(settings.polls)}"
    )
    report = measure(settings)
    print()
    print("avatar-merge status --wait: polling videos to completion, client and simulator apart")
    print()
    print_table(report.figures)
    print_runs(report)
    OUT.mkdir(parents=True, exist_ok=True)
    results = {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": asdict(settings),
        "figures": [asdict(f) | {"mark": f.mark(), "shown": f.shown()} for f in report.figures],
        "runs": report.runs_json(),
        "benchmark_seconds": report.seconds,
    }
    RESULTS.write_text(json.dumps(_no_nan(results), indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten {RESULTS.relative_to(PROJECT)}")
    return 1 if report.broken else 0


if __name__ == "__main__":
    raise SystemExit(main())
