"""Send rows: a few at a time, paced, each request journaled before it goes and after it answers.

Only answers that cannot have made a video are retried here (429 for the rate, a connection
that never opened). A request that went out and got no answer becomes `unknown` and is
checked against the video list before it is ever sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from merge.api.client import Created, HeyGenClient, NoAnswer, NotSent, Refused
from merge.api.pacing import Sleep, Throttle, backoff
from merge.api.v3 import idempotency_key
from merge.batch.results import Before, Job, Ledger
from merge.settings import CONNECT_ATTEMPTS, SEND_ATTEMPTS, SENDING_AHEAD, SERVER_ERROR_TRIES


def _tries(refused: Refused) -> int:
    """How often an idempotent request is tried: while busy, long; after a 5xx, a few times."""
    return SEND_ATTEMPTS if refused.kind == "busy" else SERVER_ERROR_TRIES


@dataclass
class Stop:
    """Why sending stopped before the end: the user, the API key, the quota, the network."""

    reason: str
    kind: str  # "interrupted" | "auth" | "quota" | "unreachable" | "rate" | "retired"

    @property
    def fatal(self) -> bool:
        """Whether the run as a whole failed (rather than paused)."""
        return self.kind in ("auth", "unreachable", "retired")


class GroupCommit:
    """Journal records share commits, made on a thread of their own while the sending goes on.

    `mark` is for a request about to leave: it gives the future of the commit its `sending`
    record joins, which the worker awaits before the request leaves, so write-ahead holds for
    every request; `withdraw` takes such a record back when its request never leaves. `later`
    is for an answer: it joins the next commit, without waiting. One commit is on the disk at a
    time; what is recorded while it syncs waits, in the order made, and goes as one transaction
    as soon as it is done, so the busier the run, the more rows share each sync, and the event
    loop never waits for the disk.
    `threaded=False` commits on the event loop instead, for clocks that cannot see a thread.
    """

    def __init__(
        self,
        transaction: Callable[[], contextlib.AbstractContextManager[None]],
        threaded: bool = True,
    ) -> None:
        self.transaction = transaction
        self.threaded = threaded
        self._pending: list[Callable[[], None]] = []
        self._done: asyncio.Future[None] | None = None
        self._syncing: asyncio.Future[None] | None = None
        self._error: Exception | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._batch: list[Callable[[], None]] = []
        """The records of the commit on its way to the disk."""
        self._taken_back: list[tuple[Callable[[], None], Callable[[], None]]] = []
        """Records of that commit taken back meanwhile: each one's undo, and its show."""

    def mark(self, record: Callable[[], None]) -> asyncio.Future[None]:
        """Make the record with the next commit; the future is done once it is committed."""
        self._pending.append(record)
        return self._schedule()

    def later(self, record: Callable[[], None]) -> None:
        """Make the record with the next commit, without waiting for it."""
        self._pending.append(record)
        self._schedule()

    def withdraw(
        self, record: Callable[[], None], undo: Callable[[], None], show: Callable[[], None]
    ) -> None:
        """Take back a record made by `mark` (a request that never left), without waiting.

        Still waiting for its commit: dropped, as if never made. Committed: `undo` joins the
        next commit. On its way to the disk: `undo` joins the commit after it, should it land;
        should it fail, it was rolled back, and only `show` runs (the output's cells). With the
        journal failed, only `show` runs too. `undo` and `show` must bear a record that never ran.
        """
        if record in self._pending:
            self._pending.remove(record)
        elif any(made is record for made in self._batch):
            self._taken_back.append((undo, show))
        elif self._error is None:
            self.later(undo)
        else:
            show()

    def _schedule(self) -> asyncio.Future[None]:
        done = self._done
        if done is None:
            loop = asyncio.get_running_loop()
            self._done = done = loop.create_future()
            if self._syncing is None:  # the records of this turn of the loop go together
                loop.call_soon(self._start)
        return done

    def _start(self) -> None:
        """Hand every record made so far to the journal's thread, as one commit."""
        if self._syncing is not None or self._done is None:
            return  # one is on its way to the disk, and starts the next when it is done
        records, self._pending = self._pending, []
        done, self._done = self._done, None
        loop = asyncio.get_running_loop()
        if self.threaded:
            if self._thread is None:
                self._thread = ThreadPoolExecutor(1, thread_name_prefix="journal")
            syncing = asyncio.ensure_future(
                loop.run_in_executor(self._thread, self._commit, records)
            )
        else:
            syncing = loop.create_future()
            try:
                self._commit(records)
                syncing.set_result(None)
            except Exception as error:
                syncing.set_exception(error)
        self._syncing = syncing
        self._batch = records
        syncing.add_done_callback(partial(self._committed, done))

    def _committed(self, done: asyncio.Future[None], syncing: asyncio.Future[None]) -> None:
        error = asyncio.CancelledError() if syncing.cancelled() else syncing.exception()
        if self._syncing is syncing:  # not already let go by a cancelled close
            self._syncing = None
            self._batch = []
            self._settle_taken_back(landed=error is None)
        if not done.done():
            if error is None:
                done.set_result(None)
            else:
                done.set_exception(error)
                done.exception()  # the waiters re-raise it; the loop need not report it
        if self._done is not None:  # recorded while this one synced: the next commit
            self._start()

    def _settle_taken_back(self, landed: bool) -> None:
        """Once the commit on its way has landed (or failed), undo what was taken back of it."""
        taken_back, self._taken_back = self._taken_back, []
        for undo, show in taken_back:
            if landed and self._error is None:
                self.later(undo)
            else:
                show()

    def _commit(self, records: list[Callable[[], None]]) -> None:
        """Commit the records in order as one transaction (on the journal's thread).

        A failed commit fails the requests waiting for it, and is raised again by every later
        commit and by `close`, so no answer's record is lost without a word.
        """
        try:
            if self._error is not None:
                raise self._error
            if records:
                with self.transaction():
                    for record in records:
                        record()
        except Exception as error:
            self._error = error
            raise

    async def close(self) -> None:
        """Commit what is left, let the journal's thread go, and raise any commit that failed.

        Cancelled meanwhile, it still waits for the sync in flight and commits the rest on
        the spot: an answer's record (a video_id) is never left behind.
        """
        try:
            while self._syncing is not None or self._done is not None:
                self._start()
                if self._syncing is not None:
                    await asyncio.wait([self._syncing])
        finally:
            if self._thread is not None:
                self._thread.shutdown()  # a sync in flight ends first
                self._thread = None
            self._syncing = None
            self._batch = []
            taken_back, self._taken_back = self._taken_back, []
            for undo, show in taken_back:  # its commit is over: landed unless the journal failed
                if self._error is None:
                    self._pending.append(undo)
                else:
                    show()
            records, self._pending = self._pending, []
            done, self._done = self._done, None
            if records:
                with contextlib.suppress(Exception):  # kept in _error, raised below
                    self._commit(records)
            if done is not None and not done.done():
                if self._error is None:
                    done.set_result(None)
                else:
                    done.set_exception(self._error)
                    done.exception()  # nobody may be waiting for it any more
        if self._error is not None:
            raise self._error


@dataclass(eq=False, slots=True)
class _Mark:
    """A row's `sending` record, made before its request leaves; called within a commit."""

    ledger: Ledger
    job: Job
    committed: asyncio.Future[None] | None = None
    before: Before | None = None
    """What the row was before the record, once the record has run."""

    withdrawn: bool = False
    """Taken back: its request must not leave."""

    def __call__(self) -> None:
        self.before = self.ledger.sending(self.job)

    def undo(self, reason: str) -> None:
        """Make the row again what it was: its request never left."""
        if self.before is not None:
            self.ledger.withdraw(self.job, self.before, reason)

    def show(self, reason: str) -> None:
        """Show the row as it was, in the output alone (the journal failed, or rolled it back)."""
        if self.before is not None:
            self.ledger.show_withdrawn(self.job, self.before, reason)


@dataclass
class SendReport:
    """What one pass of sending left to do."""

    unknown: list[Job] = field(default_factory=list)
    server_errors: list[Job] = field(default_factory=list)
    sent: int = 0


class Sender:
    """Runs the workers; `stop()` lets in-flight requests finish, `abort()` gives up on them."""

    def __init__(
        self,
        client: HeyGenClient,
        ledger: Ledger,
        throttle: Throttle,
        concurrency: int,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        progress: Callable[[int], None] | None = None,
        journal_thread: bool = True,
    ) -> None:
        self.client = client
        self.ledger = ledger
        self.throttle = throttle
        self.concurrency = concurrency
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.progress = progress
        self.stopped: Stop | None = None
        self._waiting: set[asyncio.Task[None]] = set()
        self._workers: list[asyncio.Task[None]] = []
        self._commits = GroupCommit(ledger.journal.transaction, journal_thread)
        self.ahead = SENDING_AHEAD
        """Rows marked ahead per worker (0: each request waits for its own record's commit)."""
        self._ready: deque[Job] = deque()
        """Rows marked `sending` ahead, for the next worker whose request is answered."""
        self._marks: dict[str, _Mark] = {}
        """Every row marked `sending` whose request has not left, by key."""

    def stop(self, reason: str, kind: str) -> None:
        """Start no more requests; those in flight finish and are recorded."""
        if self.stopped is None or (
            kind in ("auth", "quota", "retired") and not self.stopped.fatal
        ):
            self.stopped = Stop(reason, kind)
        for task in list(self._waiting):
            task.cancel()

    def abort(self) -> None:
        """Give up on requests in flight too; their rows become unknown."""
        self.stop("interrupted twice: requests in flight were abandoned", "interrupted")
        for task in self._workers:
            task.cancel()

    async def send_all(self, jobs: Iterable[Job]) -> SendReport:
        """Send every job unless stopped; return the rows left to check."""
        report = SendReport()
        queue = iter(jobs)
        # The first request goes alone: a refused key or a retired API stops the run after one.
        try:
            await self._run_workers(itertools.islice(queue, 1), 1, report)
            if self.stopped is None:
                await self._run_workers(queue, self.concurrency, report)
        finally:
            await self._commits.close()
        return report

    async def _run_workers(self, queue: Iterator[Job], workers: int, report: SendReport) -> None:
        self._workers = [
            asyncio.create_task(self._work(queue, report, workers)) for _ in range(workers)
        ]
        try:
            await asyncio.gather(*self._workers, return_exceptions=True)
        finally:
            self._withdraw()
        for task in self._workers:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        self._workers = []

    async def _work(self, queue: Iterator[Job], report: SendReport, workers: int) -> None:
        while self.stopped is None:
            job = self._ready.popleft() if self._ready else next(queue, None)
            if job is None:
                return
            await self._send(job, report, queue, workers * self.ahead)

    def _mark(self, job: Job) -> _Mark:
        """Have a row's `sending` record made with the next commit."""
        mark = self._marks[job.key] = _Mark(self.ledger, job)
        mark.committed = self._commits.mark(mark)
        return mark

    def _withdraw(self) -> None:
        """Take back the rows marked `sending` whose request never left (stopped, failed or
        cancelled): each is again what it was before, a new row not sent."""
        why = self.stopped.reason if self.stopped is not None else "the run ended first"
        reason = f"not sent: {why}"
        for mark in self._marks.values():
            mark.withdrawn = True
            self._commits.withdraw(mark, partial(mark.undo, reason), partial(mark.show, reason))
        self._marks.clear()
        self._ready.clear()

    async def _send(self, job: Job, report: SendReport, queue: Iterator[Job], ahead: int) -> None:
        """Send one row until it has an outcome the journal can keep."""
        doubtful = False  # an earlier try of this row may have made its video
        attempt = -1
        rate_refusals = 0
        while attempt + 1 < SEND_ATTEMPTS:
            attempt += 1
            if not await self._wait_turn():
                return
            mark = self._marks.get(job.key) or self._mark(job)
            assert mark.committed is not None
            await asyncio.shield(mark.committed)  # write-ahead: `sending` is on the disk
            if self.stopped is not None or mark.withdrawn:
                return  # stopped while it was committed: it does not leave
            while len(self._ready) < ahead and (upcoming := next(queue, None)) is not None:
                self._ready.append(upcoming)  # committed while this request is out
                self._mark(upcoming)
            del self._marks[job.key]  # it leaves
            try:
                outcome = await self.client.create_video(job.body, self._key(job))
            except asyncio.CancelledError:
                self._later(self.ledger.unknown, job, "abandoned while waiting for the answer")
                raise
            match outcome:
                case Created(video_id):
                    self._later(self.ledger.submitted, job, video_id)
                    self.throttle.succeeded()
                    report.sent += 1
                case NoAnswer(reason):
                    doubtful = True
                    self._later(self.ledger.unknown, job, reason)
                    if self.client.idempotent and attempt + 1 < SEND_ATTEMPTS:
                        await self._pause(backoff(attempt, None, self.rng))
                        continue  # the same Idempotency-Key: the API replays, never duplicates
                    report.unknown.append(job)
                case NotSent(reason):
                    self._later(self.ledger.unsent, job, f"not sent: {reason}")
                    if attempt + 1 < CONNECT_ATTEMPTS:
                        await self._pause(backoff(attempt, None, self.rng))
                        continue
                    self.stop(f"the API cannot be reached ({reason})", "unreachable")
                case Refused(kind="rate") as refused:
                    self._later(self.ledger.unsent, job, f"not sent: {refused.describe()}")
                    pause = backoff(rate_refusals, refused.retry_after, self.rng)
                    self.throttle.throttled(pause)
                    rate_refusals += 1
                    if self.throttle.ceiling is None or rate_refusals < SEND_ATTEMPTS:
                        # Without --rate the pace converges on the API's: wait, however long.
                        attempt -= 1  # a refusal for the rate is not a failed attempt
                        continue
                    self.stop(f"the API kept refusing for the rate ({refused.describe()})", "rate")
                case Refused(kind="auth" | "quota" | "retired" as kind) as refused:
                    self._later(self.ledger.unsent, job, f"not sent: {refused.describe()}")
                    self.stop(refused.describe(), kind)
                case Refused(kind="busy" | "server") as refused if (
                    self.client.idempotent and attempt + 1 < _tries(refused)
                ):
                    if refused.kind == "busy":  # the first request may still make the video
                        doubtful = True
                        self._later(self.ledger.unknown, job, refused.describe())
                    else:  # a 5xx may come after the video was made: checked if the run ends here
                        self._later(self.ledger.failed, job, refused.describe(), refused.status)
                    await self._pause(backoff(attempt, refused.retry_after, self.rng))
                    continue
                case Refused(kind="busy" | "server") as refused if doubtful:
                    # This refusal says nothing of the earlier try, which may have made it.
                    self._later(self.ledger.unknown, job, refused.describe())
                    report.unknown.append(job)
                case Refused(kind="server") as refused:
                    self._later(self.ledger.failed, job, refused.describe(), refused.status)
                    report.server_errors.append(job)
                case Refused() as refused:
                    self._later(self.ledger.failed, job, refused.describe(), refused.status)
            if self.progress is not None:
                self.progress(1)
            return

    def _later(self, record: Callable[..., None], *args: Any) -> None:
        """Record an answer with the next group commit."""
        self._commits.later(partial(record, *args))

    def _key(self, job: Job) -> str | None:
        """The Idempotency-Key of a row's request, where the API takes one."""
        if not self.client.idempotent:
            return None
        return idempotency_key(job.key, job.payload_hash, job.renews)

    async def _wait_turn(self) -> bool:
        """Wait for the throttle; False if the run was stopped meanwhile."""
        task = asyncio.current_task()
        assert task is not None
        self._waiting.add(task)
        try:
            await self.throttle.wait()
        except asyncio.CancelledError:
            if self.stopped is None:
                raise
            return False
        finally:
            self._waiting.discard(task)
        return self.stopped is None

    async def _pause(self, seconds: float) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._waiting.add(task)
        try:
            await self.sleep(seconds)
        except asyncio.CancelledError:
            if self.stopped is None:
                raise
        finally:
            self._waiting.discard(task)
