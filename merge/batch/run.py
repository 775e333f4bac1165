"""Carry out a submit plan: check rows in doubt, send the rest, write the output as it goes.

One sync entry point, `run_plan`, runs the async work in its own event loop. The order is
the promise: rows whose earlier request got no answer are checked against the video list
before anything else is sent; rows that get no answer now are checked before the run ends.
"""

from __future__ import annotations

import contextlib
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson

from merge.api.client import ApiError, HeyGenClient, open_http
from merge.api.pacing import Throttle
from merge.api.v3 import make_client
from merge.batch.plan import Plan, SubmitOptions, journal_target, plan_submit
from merge.batch.reconcile import find_by_title, reconcile
from merge.batch.results import Job, RowCells, cells
from merge.batch.send import Sender, Stop
from merge.batch.sent_page import write_sent_page
from merge.batch.uploads import upload_files
from merge.errors import MergeError
from merge.loop import PeriodicWriter, Timing, interrupts, run_sync
from merge.settings import (
    DEFAULT_BASE_URL,
    DEFAULT_CONCURRENCY,
    DEFAULT_TIMEOUT_SECONDS,
    LOST_CREATE_REPLAY_SECONDS,
    OUTPUT_WRITE_SECONDS,
    RECONCILE_MARGIN_SECONDS,
    RECONCILE_SETTLE_SECONDS,
    RESULT_COLUMNS,
    SERVER_ERROR_ROUNDS,
)
from merge.sheets.sheet import write_annotated

Warn = Callable[[str], None]


@dataclass(frozen=True)
class RunSettings:
    """How to send: how many at once, how fast, how long to wait for an answer (the API is the
    plan's target, decided with the bodies)."""

    concurrency: int = DEFAULT_CONCURRENCY
    rate: float | None = None
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    write_every: float = OUTPUT_WRITE_SECONDS
    settle_seconds: float = RECONCILE_SETTLE_SECONDS
    seed: int | None = None
    note: Warn | None = None
    """Where to say the uploads' progress (the warnings' channel when not given)."""
    timing: Timing = field(default_factory=Timing)
    """The clocks and sleep of the run; a test gives fake ones."""


@dataclass
class RunSummary:
    """What the run did, for the closing report and the exit code."""

    statuses: Counter[str] = field(default_factory=Counter)
    sent: int = 0
    found: int = 0
    """Rows whose answer was lost, whose video the video list showed (counted in `sent` too)."""
    seconds: float = 0.0
    stopped: Stop | None = None
    duplicates: dict[str, list[str]] = field(default_factory=dict)
    write_failed: str | None = None


def run_plan(
    plan: Plan,
    http: httpx.AsyncClient,
    settings: RunSettings,
    progress: Callable[[int], None] | None = None,
    warn: Warn | None = None,
) -> RunSummary:
    """Send the plan's rows and write the output; Ctrl-C stops starting, twice abandons."""
    return run_sync(_run(plan, http, settings, progress, warn or (lambda _: None)))


def submit_sheet(
    data: Path,
    template: Path,
    output: Path,
    api_key: str,
    base_url: str = DEFAULT_BASE_URL,
    options: SubmitOptions | None = None,
    settings: RunSettings | None = None,
    progress: Callable[[int], None] | None = None,
    warn: Warn | None = None,
) -> RunSummary:
    """Plan and send in one call, as `submit --yes` does; the journal is let go at the end."""
    settings = settings or RunSettings(DEFAULT_CONCURRENCY, None)
    target = journal_target(base_url)
    plan = plan_submit(data, template, output, target, options or SubmitOptions(), warn=warn)
    try:
        http = open_http(base_url, api_key, settings.timeout, settings.concurrency, fast=True)
        return run_plan(plan, http, settings, progress, warn)
    finally:
        plan.journal.close()


async def _run(
    plan: Plan,
    http: httpx.AsyncClient,
    settings: RunSettings,
    progress: Callable[[int], None] | None,
    warn: Warn,
) -> RunSummary:
    timing = settings.timing
    started = timing.monotonic()
    summary = RunSummary()
    plan.journal.run_started(timing.wall())
    client = make_client(plan.target.api, http)
    throttle = Throttle(settings.rate, timing.monotonic, timing.sleep)
    sender = Sender(
        client,
        plan.ledger,
        throttle,
        settings.concurrency,
        sleep=timing.sleep,
        rng=random.Random(settings.seed),
        progress=progress,
    )
    writer = PeriodicWriter(
        lambda: dict(plan.ledger.values),
        lambda values: write_output(plan, values),
        settings.write_every,
        lambda problem: warn(
            f"{problem}; the journal keeps every result, and the output is written again"
        ),
        timing,
    )
    writer.start()
    try:
        async with http:
            with interrupts(lambda said: sender.stop(said, "interrupted"), sender.abort):
                await _send_everything(plan, client, sender, throttle, settings, summary, warn)
    finally:
        summary.stopped = sender.stopped
        summary.seconds = timing.monotonic() - started
        _mark_not_reached(plan, sender.stopped)
        summary.statuses = Counter(cells.status for cells in plan.ledger.values.values())
        summary.write_failed = await writer.final()
        write_sent_page(plan, warn)
        with contextlib.suppress(MergeError):  # a mark left means only a check next time
            plan.journal.run_ended()
    return summary


async def _send_everything(
    plan: Plan,
    client: HeyGenClient,
    sender: Sender,
    throttle: Throttle,
    settings: RunSettings,
    summary: RunSummary,
    warn: Warn,
) -> None:
    note = settings.note or warn
    await upload_files(plan, client.http, sender, plan.target.api, settings.timeout, note)
    known = plan.journal.known_video_ids()
    first_sent = dict(plan.first_sent)
    now = settings.timing.wall
    resend = await _check(
        plan, client, throttle, plan.check, first_sent, known, summary, warn, now()
    )
    report = await sender.send_all([*resend, *plan.send])
    summary.sent += report.sent
    for _ in range(SERVER_ERROR_ROUNDS + 1):
        # A 5xx on an idempotent API was already tried again with the same key.
        refused = [] if client.idempotent else report.server_errors
        doubtful = report.unknown + refused
        if not doubtful or sender.stopped is not None:
            return
        await settings.timing.sleep(settings.settle_seconds)
        entries = plan.journal.entries()
        first_sent = {j.key: entries[j.key].first_sent_at or 0.0 for j in doubtful}
        known = plan.journal.known_video_ids()
        resend = await _check(
            plan, client, throttle, doubtful, first_sent, known, summary, warn, now()
        )
        report = await sender.send_all(resend)
        summary.sent += report.sent


async def _check(
    plan: Plan,
    client: HeyGenClient,
    throttle: Throttle,
    jobs: list[Job],
    first_sent: dict[str, float],
    known: set[str],
    summary: RunSummary,
    warn: Warn,
    now: float,
) -> list[Job]:
    """Look for the videos of rows in doubt; record those found and return those to send.

    `now` is the wall clock's time (the run's own, injected), to tell a replayable key."""
    if not jobs:
        return []
    if client.idempotent:
        return await _check_by_key(plan, client, throttle, jobs, first_sent, summary, warn, now)
    wanted = {job.key: first_sent.get(job.key, 0.0) for job in jobs}
    try:
        found = await reconcile(client, wanted, known, throttle.wait)
    except ApiError as error:
        warn(
            f"{len(jobs)} rows could not be checked against the video list ({error.message});"
            " they stay unknown: run again later, or use --retry-unknown to send them again"
        )
        return []
    _record_found(plan, jobs, found.found, found.extra, summary)
    # A row refused with a 5xx that the list shows absent is sent only when --retry-failed asks.
    return [job for job in jobs if job.key not in found.found and job.key not in plan.check_only]


def _record_found(
    plan: Plan,
    jobs: list[Job],
    found: dict[str, str],
    extra: dict[str, list[str]],
    summary: RunSummary,
) -> None:
    """Record the videos the list showed for rows in doubt, and any duplicates beside them."""
    for job in jobs:
        if job.key in found:
            plan.ledger.submitted(job, found[job.key])
            summary.found += 1
            summary.sent += 1
    summary.duplicates.update(extra)


async def _check_by_key(
    plan: Plan,
    client: HeyGenClient,
    throttle: Throttle,
    jobs: list[Job],
    first_sent: dict[str, float],
    summary: RunSummary,
    warn: Warn,
    now: float,
) -> list[Job]:
    """v3: a row first sent less than 24 hours ago is sent again with its Idempotency-Key (the
    API replays the first answer); an older one is looked for by the key in its title, and is
    sent again only when the list shows no video with it. Nothing is resent blindly."""
    replayable = now - LOST_CREATE_REPLAY_SECONDS + RECONCILE_MARGIN_SECONDS
    # A row refused with a 5xx is looked for in the list whatever its age: a replay under its key
    # would make the video the 5xx may not have, and only --retry-failed may send it again.
    recent = [
        job
        for job in jobs
        if first_sent.get(job.key, 0.0) > replayable and job.key not in plan.check_only
    ]
    old = [job for job in jobs if job not in recent]
    if not old:
        return recent
    wanted = {job.key: (first_sent.get(job.key, 0.0), _title(job)) for job in old}
    try:
        checked = await find_by_title(client, wanted, throttle.wait)
    except ApiError as error:
        warn(
            f"{len(old)} rows sent over 24 hours ago (or refused with a 5xx) could not be looked"
            f" for ({error.message});"
            " they stay unknown: run again later, or use --retry-unknown to send them again"
        )
        return recent
    _record_found(plan, old, checked.found, checked.extra, summary)
    if checked.untitled:
        warn(
            f"{len(checked.untitled)} rows sent over 24 hours ago (or refused with a 5xx) stay"
            " unknown: their title does"
            " not hold their key, so the video list cannot tell whether their video was made"
            " (--retry-unknown sends them again, and may duplicate)"
        )
    # A recent row goes again under its Idempotency-Key: the API replays a video it made, so
    # that resend is the check; a 5xx row found absent waits for --retry-failed.
    absent = [job for job in old if job.key in checked.absent and job.key not in plan.check_only]
    return recent + absent


def _title(job: Job) -> str:
    body = orjson.loads(job.body)
    title = body.get("title") if isinstance(body, dict) else None
    return title if isinstance(title, str) else ""


def _mark_not_reached(plan: Plan, stopped: Stop | None) -> None:
    """Say why the rows the run never reached were not sent; they stay ready to send."""
    if stopped is None:
        return
    for job in plan.send:
        if job.row not in plan.ledger.values:
            plan.ledger.show(job.row, "skipped", f"not sent: {stopped.reason}", job.key)


def write_output(plan: Plan, values: dict[int, RowCells] | None = None) -> str | None:
    """Write the output sheet atomically; say what went wrong instead of raising.

    Videos already followed keep their status columns, so a resumed submit loses none of them.
    """
    values = plan.ledger.values if values is None else values
    names: tuple[str, ...] = RESULT_COLUMNS
    cells_by_row: dict[int, list[str]] = {row: list(found) for row, found in values.items()}
    if plan.videos:
        names += plan.follow_columns
        for found in cells_by_row.values():
            state = plan.videos.get(found[0])
            found += cells(state) if state else [""] * len(plan.follow_columns)
    try:
        write_annotated(plan.info, plan.output, names, cells_by_row)
    except MergeError as error:
        return error.message
    return None
