"""Upload the local files the rows to send name, once each, before any video is created.

A file is known by its content's SHA-256: the same picture in 500 rows is one upload, and a
file the journal already holds an `asset_id` for is not uploaded again, this run or the next.
Each upload is journaled `uploading` before it goes and its `asset_id` the moment it comes; v3
calls carry an Idempotency-Key made from the hash, so a crash or Ctrl-C mid-upload is resent
safely (the API replays the first answer). Uploads run a few at a time under the run's throttle
and stop rules (429 pauses, unreachable API, refused key, Ctrl-C). Then each row's body has its
file tokens replaced by the asset ids; a row whose file could not be uploaded is not sent and
says why.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import orjson

from merge.api.assets import (
    AssetUploader,
    FileToUpload,
    Opened,
    Uploaded,
    UploadOutcome,
    open_storage_http,
)
from merge.api.client import NoAnswer, NotSent, Refused
from merge.api.pacing import backoff
from merge.batch.plan import Plan
from merge.batch.results import Job
from merge.batch.send import Sender
from merge.payload.media import LocalFile, tokens_in
from merge.settings import CONNECT_ATTEMPTS, SEND_ATTEMPTS, SERVER_ERROR_TRIES, UPLOAD_CONCURRENCY

Say = Callable[[str], None]
PROGRESS_EVERY_SECONDS = 1.0


@dataclass
class UploadReport:
    """What the upload stage did."""

    uploaded: int = 0
    bytes: int = 0
    known: int = 0
    """Files the journal already held an asset_id for."""
    failed: dict[str, str] = field(default_factory=dict)
    """Why a file (by token) could not be uploaded."""
    seconds: float = 0.0


def pending_uploads(plan: Plan) -> list[LocalFile]:
    """The files the plan's rows need that the journal holds no asset_id for."""
    known = plan.journal.assets()
    return [
        file
        for file in plan.files.values()
        if file.sha256 not in known or known[file.sha256].state != "uploaded"
    ]


def describe_uploads(plan: Plan) -> str | None:
    """Say what the plan will upload first: files, bytes, and those already uploaded."""
    if not plan.files:
        return None
    todo = pending_uploads(plan)
    known = len(plan.files) - len(todo)
    if not todo:
        return f"none ({_count(known)} already uploaded)"
    said = f"{_count(len(todo))}, {_mb(sum(file.size for file in todo))}"
    return said + (f" ({_count(known)} already uploaded)" if known else "")


async def upload_files(
    plan: Plan, http: httpx.AsyncClient, sender: Sender, api: str, timeout: float, say: Say
) -> UploadReport:
    """Upload what the rows need, then put each asset_id into their bodies."""
    report = UploadReport()
    if not plan.files:
        return report
    started = time.monotonic()
    todo = pending_uploads(plan)
    report.known = len(plan.files) - len(todo)
    if todo:
        size = sum(file.size for file in todo)
        say(f"Uploading {_count(len(todo))} ({_mb(size)}), {UPLOAD_CONCURRENCY} at a time")
        async with open_storage_http(timeout) as storage:
            run = _Uploads(plan, AssetUploader(http, storage, api), sender, report, say, len(todo))
            await run.all(todo)
        report.seconds = time.monotonic() - started
        said = f"Uploaded {_count(report.uploaded)} ({_mb(report.bytes)})"
        say(
            f"{said} in {report.seconds:.1f} s"
            + (f", {len(report.failed)} failed" if report.failed else "")
        )
    _put_asset_ids(plan, sender, report)
    return report


class _Uploads:
    """The workers of one upload stage."""

    def __init__(
        self,
        plan: Plan,
        uploader: AssetUploader,
        sender: Sender,
        report: UploadReport,
        say: Say,
        total: int,
    ) -> None:
        self.plan = plan
        self.journal = plan.journal
        self.uploader = uploader
        self.sender = sender
        self.report = report
        self.say = say
        self.total = total
        self.said_at = time.monotonic()

    async def all(self, files: list[LocalFile]) -> None:
        queue = iter(files)
        workers = [asyncio.create_task(self._work(queue)) for _ in range(UPLOAD_CONCURRENCY)]
        # The run's second Ctrl-C abandons the workers in flight, uploads as creates.
        self.sender._workers = workers
        try:
            await asyncio.gather(*workers, return_exceptions=True)
        finally:
            self.sender._workers = []
        for task in workers:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    async def _work(self, queue: Iterator[LocalFile]) -> None:
        for file in queue:
            if self.sender.stopped is not None:
                return
            await self._upload(file)

    async def _upload(self, file: LocalFile) -> None:
        """Upload one file until it has an asset_id or a refusal the journal can keep."""
        sender = self.sender
        wanted = FileToUpload(file.path, file.size, file.mime, file.sha256)
        for attempt in range(SEND_ATTEMPTS):
            if not await sender._wait_turn():
                return
            self.journal.asset_uploading(file.sha256, file.shown, file.size, time.time())
            outcome = await self._send(wanted)
            match outcome:
                case Uploaded(asset_id):
                    self._record(file.sha256, "uploaded", asset_id, None)
                    sender.throttle.succeeded()
                    self._done(file)
                    return
                case NoAnswer(reason) if self.uploader.api == "v3" and attempt + 1 < SEND_ATTEMPTS:
                    await sender._pause(backoff(attempt, None, sender.rng))
                    continue  # the same Idempotency-Key: the API replays, never stores twice
                case NotSent(reason) if attempt + 1 < CONNECT_ATTEMPTS:
                    await sender._pause(backoff(attempt, None, sender.rng))
                    continue
                case NotSent(reason):
                    sender.stop(f"the API cannot be reached ({reason})", "unreachable")
                    return
                case Refused(kind="rate") as refused if attempt + 1 < SEND_ATTEMPTS:
                    sender.throttle.throttled(backoff(attempt, refused.retry_after, sender.rng))
                    continue
                case Refused(kind="auth" | "quota" as kind) as refused:
                    sender.stop(refused.describe(), kind)
                    return
                case Refused(kind="busy" | "server") as refused if attempt + 1 < SERVER_ERROR_TRIES:
                    await sender._pause(backoff(attempt, refused.retry_after, sender.rng))
                    continue
            self._fail(file, outcome)
            return

    async def _send(self, file: FileToUpload) -> UploadOutcome:
        """One try: the whole file in one call, or the direct-upload trio.

        A trio cut short by a crash starts over with the same Idempotency-Key, so the API hands
        back the same upload; sending its bytes and completing it again is harmless.
        """
        if not self.uploader.direct(file):
            return await self.uploader.upload_form(file)
        opened = await self.uploader.open_direct(file)
        if not isinstance(opened, Opened):
            return opened
        if opened.max_bytes is not None and file.size > opened.max_bytes:
            limit = f"the API takes at most {opened.max_bytes:,} bytes"
            return Refused("invalid", 413, "payload_too_large", limit)
        self._record(file.sha256, "opened", opened.asset_id, None)
        put = await self.uploader.put_bytes(opened, file)
        if not isinstance(put, Uploaded):
            return put
        return await self.uploader.complete(opened.asset_id, file.sha256)

    def _record(self, sha256: str, state: str, asset_id: str | None, error: str | None) -> None:
        self.journal.asset_answered(sha256, state, asset_id, error, time.time())

    def _done(self, file: LocalFile) -> None:
        self.report.uploaded += 1
        self.report.bytes += file.size
        now = time.monotonic()
        if now - self.said_at >= PROGRESS_EVERY_SECONDS or self.report.uploaded == self.total:
            self.said_at = now
            self.say(f"  uploaded {self.report.uploaded}/{self.total} ({_mb(self.report.bytes)})")

    def _fail(self, file: LocalFile, outcome: UploadOutcome) -> None:
        if isinstance(outcome, Refused):
            reason = outcome.describe() if outcome.status else outcome.message
        elif isinstance(outcome, NoAnswer | NotSent):
            reason = outcome.reason
        else:
            reason = "no asset_id came back"
        self._record(file.sha256, "failed", None, reason)
        self.report.failed[file.token] = f'"{file.shown}" could not be uploaded ({reason})'


def _put_asset_ids(plan: Plan, sender: Sender, report: UploadReport) -> None:
    """Give each row's body its asset ids; a row missing one is taken out of the run."""
    known = plan.journal.assets()
    ids = {
        token: asset.asset_id
        for token, file in plan.files.items()
        if (asset := known.get(file.sha256)) is not None
        and asset.state == "uploaded"
        and asset.asset_id
    }
    for jobs in (plan.send, plan.check):
        kept: list[Job] = []
        for job in jobs:
            tokens = tokens_in(job.body)
            missing = [token for token in tokens if token not in ids]
            if not missing:
                for token in tokens:
                    job.body = job.body.replace(orjson.dumps(token), orjson.dumps(ids[token]))
                kept.append(job)
                continue
            reasons = [report.failed[t] for t in missing if t in report.failed]
            if reasons:
                plan.ledger.show(job.row, "failed", "not sent: " + "; ".join(reasons), job.key)
            else:
                why = sender.stopped.reason if sender.stopped else "its file was not uploaded"
                plan.ledger.show(job.row, "skipped", f"not sent: {why}", job.key)
        jobs[:] = kept


def _count(files: int) -> str:
    return f"{files:,} file" + ("" if files == 1 else "s")


def _mb(size: int) -> str:
    return f"{size / 1024**2:,.1f} MB"
