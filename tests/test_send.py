"""The sending policy on a mock transport and a fake clock: what is retried, what never is."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import partial
from pathlib import Path

import httpx
import pytest

from merge.api.client import HeyGenClient
from merge.api.pacing import Throttle
from merge.batch.journal import Journal
from merge.batch.results import Before, Job, Ledger
from merge.batch.send import GroupCommit, Sender, SendReport
from merge.errors import OutputError
from merge.settings import SEND_ATTEMPTS
from tests.fakes import FakeClock

Handler = Callable[[httpx.Request], httpx.Response]


def jobs(count: int) -> list[Job]:
    return [
        Job(row, f"key-{row}", b'{"n": %d}' % row, f"hash-{row}") for row in range(2, 2 + count)
    ]


def created(number: int) -> httpx.Response:
    return httpx.Response(200, json={"error": None, "data": {"video_id": f"{number:032x}"}})


def error(status: int, code: str, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"data": None, "error": {"code": code, "message": code.replace("_", " ")}}
    return httpx.Response(status, json=body, headers=headers)


class Run:
    """One Sender against a scripted API, with a real journal in a temporary folder."""

    def __init__(
        self,
        tmp_path: Path,
        handler: Handler,
        rate: float | None = None,
        journal_thread: bool = True,
    ) -> None:
        self.clock = FakeClock()
        self.journal_thread = journal_thread
        self.journal = Journal.open(tmp_path / "out.xlsx.journal", "test")
        self.ledger = Ledger(self.journal, self.clock)
        self.handler = handler
        self.rate = rate
        self.sender: Sender | None = None

    def send(self, todo: list[Job], concurrency: int = 3) -> SendReport:
        async def go() -> SendReport:
            transport = httpx.MockTransport(self.handler)
            async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
                throttle = Throttle(self.rate, self.clock, self.clock.sleep)
                self.sender = Sender(
                    HeyGenClient(http),
                    self.ledger,
                    throttle,
                    concurrency,
                    self.clock.sleep,
                    journal_thread=self.journal_thread,
                )
                return await self.sender.send_all(todo)

        return asyncio.run(go())

    def states(self) -> dict[str, tuple[str, str | None]]:
        return {k: (e.state, e.video_id) for k, e in self.journal.entries().items()}


def test_each_row_is_sent_once_and_its_id_journaled(tmp_path: Path) -> None:
    counter = itertools.count(1)
    bodies: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        return created(next(counter))

    run = Run(tmp_path, handler)
    report = run.send(jobs(10))
    assert report.sent == 10
    assert sorted(bodies) == sorted(job.body for job in jobs(10))
    assert {s for s, _ in run.states().values()} == {"submitted"}
    assert len({vid for _, vid in run.states().values()}) == 10
    assert run.ledger.values[2][1] == "submitted"


def test_rate_limit_answers_are_retried_after_the_pause_they_ask_for(tmp_path: Path) -> None:
    answers = iter([error(429, "rate_limit_exceeded", {"Retry-After": "7"}), created(1)])
    run = Run(tmp_path, lambda request: next(answers))
    report = run.send(jobs(1), concurrency=1)
    assert report.sent == 1
    assert run.states() == {"key-2": ("submitted", f"{1:032x}")}
    assert any(7.0 <= s <= 7.7 for s in run.clock.sleeps)
    entry = run.journal.entries()["key-2"]
    assert entry.attempts == 2


def test_connection_refused_is_retried_with_backoff(tmp_path: Path) -> None:
    calls = itertools.count()

    def handler(request: httpx.Request) -> httpx.Response:
        if next(calls) < 2:
            raise httpx.ConnectError("refused")
        return created(5)

    run = Run(tmp_path, handler)
    assert run.send(jobs(1)).sent == 1
    assert len(run.clock.sleeps) == 2


@pytest.mark.parametrize(
    "failure", [httpx.ReadTimeout("late"), httpx.RemoteProtocolError("reset by peer")]
)
def test_a_request_without_an_answer_is_never_resent_blindly(
    tmp_path: Path, failure: Exception
) -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        raise failure

    run = Run(tmp_path, handler)
    report = run.send(jobs(1))
    assert len(calls) == 1
    assert [job.key for job in report.unknown] == ["key-2"]
    assert run.states() == {"key-2": ("unknown", None)}
    assert run.ledger.values[2][1] == "unknown"


def test_a_server_error_fails_the_row_once_and_is_reported_for_checking(tmp_path: Path) -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return error(502, "bad_gateway")

    run = Run(tmp_path, handler)
    report = run.send(jobs(1))
    assert len(calls) == 1
    assert [job.key for job in report.server_errors] == ["key-2"]
    entry = run.journal.entries()["key-2"]
    assert (entry.state, entry.http_status, entry.server_error) == ("failed", 502, True)


def test_a_validation_answer_fails_the_row_with_the_api_message(tmp_path: Path) -> None:
    run = Run(tmp_path, lambda request: error(400, "invalid_parameter"))
    report = run.send(jobs(3))
    assert report.sent == 0
    assert not report.server_errors
    values = run.ledger.values[2]
    assert values[1:3] == ("failed", "HTTP 400 invalid_parameter: invalid parameter")


def test_a_rejected_key_stops_everything_and_leaves_unsent_rows_untouched(
    tmp_path: Path,
) -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return error(401, "unauthorized")

    run = Run(tmp_path, handler)
    run.send(jobs(20), concurrency=1)
    assert len(calls) == 1
    assert run.sender is not None
    assert run.sender.stopped is not None
    assert run.sender.stopped.kind == "auth"
    assert run.states() == {"key-2": ("unsent", None)}


def test_a_spent_quota_stops_sending_and_the_rest_stays_resumable(tmp_path: Path) -> None:
    counter = itertools.count()

    def handler(request: httpx.Request) -> httpx.Response:
        number = next(counter)
        return created(number + 1) if number < 3 else error(429, "trial_video_limit_exceeded")

    run = Run(tmp_path, handler)
    run.send(jobs(10), concurrency=1)
    states = run.states()
    assert [s for s, _ in states.values()].count("submitted") == 3
    assert states["key-5"] == ("unsent", None)
    assert len(states) == 4
    assert run.sender is not None
    assert run.sender.stopped is not None
    assert run.sender.stopped.kind == "quota"


def test_endless_rate_limits_give_up_after_the_attempts_and_stop(tmp_path: Path) -> None:
    """Only under a --rate the user set: by default the pace converges (test_attack_pacing)."""
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return error(429, "rate_limit_exceeded")

    run = Run(tmp_path, handler, rate=50.0)
    run.send(jobs(5), concurrency=1)
    assert len(calls) == SEND_ATTEMPTS
    assert run.states() == {"key-2": ("unsent", None)}


def test_the_journal_says_sending_before_the_request_leaves(tmp_path: Path) -> None:
    seen: list[str] = []
    run: Run

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(run.journal.entries()["key-2"].state)
        return created(1)

    run = Run(tmp_path, handler)
    run.send(jobs(1))
    assert seen == ["sending"]


def test_rows_about_to_leave_share_commits_and_each_is_durable_before_it_leaves(
    tmp_path: Path,
) -> None:
    numbers = itertools.count(1)
    seen: dict[str, str] = {}
    commits: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        # Another connection sees only what is committed, i.e. on the disk.
        with sqlite3.connect(run.journal.path) as other:
            states = dict(other.execute("select payload_hash, state from rows"))
        body = json.loads(request.content)
        seen[f"hash-{body['n']}"] = states.get(f"hash-{body['n']}", "absent")
        await asyncio.sleep(0.001 * (body["n"] % 3))
        return created(next(numbers))

    run = Run(tmp_path, handler)  # type: ignore[arg-type]
    db = run.journal._db

    def trace(sql: str) -> None:  # count the commits: each one is a sync to the disk
        words = sql.split(None, 1)[0].lower()
        if words == "commit" or (words in ("insert", "update") and not db.in_transaction):
            commits.append(words)  # an explicit commit, or a write that commits by itself

    db.set_trace_callback(trace)
    run.send(jobs(40), concurrency=8)
    assert seen == {f"hash-{n}": "sending" for n in range(2, 42)}
    assert [s for s, _ in run.states().values()] == ["submitted"] * 40
    assert len(commits) <= 40  # one per record would be 80: two per row


def test_stop_lets_requests_in_flight_finish(tmp_path: Path) -> None:
    counter = itertools.count(1)
    run: Run

    def handler(request: httpx.Request) -> httpx.Response:
        number = next(counter)
        if number == 2:
            assert run.sender is not None
            run.sender.stop("interrupted (Ctrl-C)", "interrupted")
        return created(number)

    run = Run(tmp_path, handler)
    run.send(jobs(10), concurrency=1)
    assert [s for s, _ in run.states().values()] == ["submitted", "submitted"]


def test_paced_sending_keeps_the_rate(tmp_path: Path) -> None:
    counter = itertools.count(1)
    run = Run(tmp_path, lambda request: created(next(counter)), rate=5.0)
    start = run.clock.now
    run.send(jobs(11), concurrency=4)
    assert run.clock.now - start == pytest.approx(2.0)


def test_a_cancelled_close_still_commits_every_record() -> None:
    committed: list[int] = []
    gate = threading.Event()

    @contextlib.contextmanager
    def transaction() -> Iterator[None]:
        assert gate.wait(5), "the first commit was never let through"
        yield

    async def go() -> None:
        commits = GroupCommit(transaction)
        commits.later(lambda: committed.append(1))
        await asyncio.sleep(0.01)  # the first commit is on the journal's thread, held
        commits.later(lambda: committed.append(2))
        closing = asyncio.create_task(commits.close())
        await asyncio.sleep(0.01)
        closing.cancel()
        gate.set()
        with pytest.raises(asyncio.CancelledError):
            await closing
        assert committed == [1, 2]  # when close ends, however it ends, nothing is left

    asyncio.run(go())


def test_a_closed_group_commit_serves_the_next_round_of_sending() -> None:
    committed: list[int] = []

    async def go() -> None:
        commits = GroupCommit(contextlib.nullcontext)
        for round_ in (1, 2):  # a run sends again the rows in doubt, with the same sender
            await asyncio.wait_for(commits.mark(partial(committed.append, round_)), 5)
            commits.later(partial(committed.append, -round_))
            await commits.close()

    asyncio.run(go())
    assert committed == [1, -1, 2, -2]


# -- rows marked `sending` ahead of their request -----------------------------------------------


def watch_marks(run: Run) -> list[str]:
    """The keys whose `sending` record was made, in order (the ledger's own method, watched)."""
    marked: list[str] = []
    real = run.ledger.sending

    def sending(job: Job) -> Before:
        marked.append(job.key)
        return real(job)

    run.ledger.sending = sending  # type: ignore[method-assign]
    return marked


def key_of(request: httpx.Request) -> str:
    return f"key-{json.loads(request.content)['n']}"


def refused_key(request: httpx.Request) -> httpx.Response:
    return error(401, "unauthorized")


def spent_quota(request: httpx.Request) -> httpx.Response:
    return error(429, "trial_video_limit_exceeded")


def endless_429(request: httpx.Request) -> httpx.Response:
    return error(429, "rate_limit_exceeded")


def retired(request: httpx.Request) -> httpx.Response:
    return error(410, "gone")


def unreachable(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused")


STOPS: dict[str, tuple[Handler | None, str]] = {
    "interrupted": (None, "interrupted (Ctrl-C)"),
    "auth": (refused_key, "HTTP 401"),
    "quota": (spent_quota, "HTTP 429 trial_video_limit_exceeded"),
    "rate": (endless_429, "the API kept refusing for the rate"),
    "retired": (retired, "retired"),
    "unreachable": (unreachable, "the API cannot be reached"),
}


@pytest.mark.parametrize(
    ("kind", "journal_thread"), [*((kind, True) for kind in STOPS), ("interrupted", False)]
)
def test_a_row_marked_sending_ahead_whose_request_never_leaves_is_put_back_as_not_sent(
    tmp_path: Path, kind: str, journal_thread: bool
) -> None:
    """However the run stops, a row whose `sending` was committed while the requests before it
    were out, and whose own request never left, is as if never marked."""
    requested: list[str] = []
    numbers = itertools.count(1)
    failure, said = STOPS[kind]

    async def handler(request: httpx.Request) -> httpx.Response:
        requested.append(key_of(request))
        if len(requested) == 6 and failure is None:
            assert run.sender is not None
            run.sender.stop(said, kind)
        await asyncio.sleep(0.005)  # rows marked while this request is out are committed
        if len(requested) > 6 and failure is not None:
            return failure(request)
        return created(next(numbers))

    run = Run(tmp_path, handler, 50.0 if kind == "rate" else None, journal_thread)  # type: ignore[arg-type]
    marked = watch_marks(run)
    todo = jobs(60)
    run.send(todo, concurrency=4)
    assert run.sender is not None
    assert run.sender.stopped is not None
    assert run.sender.stopped.kind == kind
    assert said in run.sender.stopped.reason
    never_left = [key for key in marked if key not in requested]
    assert never_left, "no row was marked ahead of its request"
    states = run.states()
    # Every request's record is kept, and every answer: none is left `sending`.
    assert set(states) == set(requested)
    assert "sending" not in {state for state, _ in states.values()}
    # A row marked ahead and never sent is as if never marked: no journal row, shown not sent.
    rows = {job.key: job.row for job in todo}
    reason = f"not sent: {run.sender.stopped.reason}"
    for key in never_left:
        assert run.ledger.values[rows[key]] == ("", "skipped", reason, key, "")
    assert "sending" not in {cells.status for cells in run.ledger.values.values()}


def test_a_row_in_doubt_marked_ahead_and_not_sent_stays_exactly_as_it_was(tmp_path: Path) -> None:
    requested: list[str] = []
    numbers = itertools.count(1)

    async def handler(request: httpx.Request) -> httpx.Response:
        requested.append(key_of(request))
        if len(requested) == 2:
            assert run.sender is not None
            run.sender.stop("the API key was refused", "auth")
        await asyncio.sleep(0.005)
        return created(next(numbers))

    run = Run(tmp_path, handler)  # type: ignore[arg-type]
    todo = jobs(12)
    doubt = todo[6]  # sent by an earlier run that got no answer: checked, then sent again
    run.journal.sending(doubt.key, doubt.row, doubt.payload_hash, 500.0)
    run.journal.unknown(doubt.key, "read timeout", 501.0)
    entry = run.journal.entries()[doubt.key]
    run.ledger.show_entry(entry)
    shown = run.ledger.values[doubt.row]
    marked = watch_marks(run)
    run.send(todo, concurrency=2)
    assert doubt.key in marked
    assert doubt.key not in requested
    assert run.journal.entries()[doubt.key] == entry  # still in doubt: checked before any resend
    assert run.ledger.values[doubt.row] == shown
    assert set(run.states()) == {*requested, doubt.key}


def test_aborted_while_rows_marked_ahead_are_committing_none_stays_sending(
    tmp_path: Path,
) -> None:
    """Ctrl-C twice while the journal's thread is committing rows marked ahead."""
    requested: list[str] = []
    numbers = itertools.count(1)
    hold = threading.Event()
    release = threading.Event()
    real = None

    @contextlib.contextmanager
    def transaction() -> Iterator[None]:
        assert real is not None
        with real():
            yield
            if hold.is_set():  # this commit's records are made, not yet on the disk
                assert release.wait(5)

    async def handler(request: httpx.Request) -> httpx.Response:
        requested.append(key_of(request))
        if len(requested) == 5:
            hold.set()
            await asyncio.sleep(0.02)  # rows marked meanwhile wait in the held commit
            assert run.sender is not None
            threading.Timer(0.05, release.set).start()
            run.sender.abort()
        await asyncio.sleep(0.002)
        return created(next(numbers))

    run = Run(tmp_path, handler)  # type: ignore[arg-type]
    real = run.journal.transaction
    run.journal.transaction = transaction  # type: ignore[method-assign]
    marked = watch_marks(run)
    run.send(jobs(40), concurrency=4)
    never_left = [key for key in marked if key not in requested]
    assert never_left
    states = run.states()
    assert set(states) == set(requested)  # marked and never sent: no journal row
    assert {state for state, _ in states.values()} <= {"submitted", "unknown"}
    assert "sending" not in {cells.status for cells in run.ledger.values.values()}


def test_a_failing_journal_stops_every_request_whose_record_it_did_not_commit(
    tmp_path: Path,
) -> None:
    requested: list[str] = []
    numbers = itertools.count(1)
    real = None
    doomed = "key-14"  # the commit that holds this row's `sending` record fails

    @contextlib.contextmanager
    def transaction() -> Iterator[None]:
        assert real is not None
        with real():
            yield
            if doomed in marked:
                raise OutputError("the journal cannot be written: the disk is full", "free some")

    async def handler(request: httpx.Request) -> httpx.Response:
        # Another connection sees only what is committed: each request's record is there.
        with sqlite3.connect(run.journal.path) as other:
            found = other.execute("select state from rows where key = ?", (key_of(request),))
            assert found.fetchone() == ("sending",)
        requested.append(key_of(request))
        await asyncio.sleep(0.003)
        return created(next(numbers))

    run = Run(tmp_path, handler)  # type: ignore[arg-type]
    real = run.journal.transaction
    run.journal.transaction = transaction  # type: ignore[method-assign]
    marked = watch_marks(run)
    todo = jobs(40)
    with pytest.raises(OutputError, match="disk is full"):
        run.send(todo, concurrency=4)
    assert requested
    assert len(requested) < len(todo)
    never_left = {key for key in marked if key not in requested}
    assert doomed in never_left
    states = run.states()
    assert doomed not in states  # rolled back
    # What the journal holds of rows never sent is only what it committed before it failed:
    # `sending`, which a next run checks before any resend; the output says they were not sent.
    assert {states[key][0] for key in never_left if key in states} <= {"sending"}
    rows = {job.key: job.row for job in todo}
    for key in never_left:
        assert run.ledger.values[rows[key]][1:3] == ("skipped", "not sent: the run ended first")


# -- GroupCommit.withdraw, branch by branch ------------------------------------------------------


class HeldCommits:
    """A GroupCommit whose commits wait at a gate on the journal's thread, records logged."""

    def __init__(self, fail: bool = False) -> None:
        self.log: list[str] = []
        self.gate = threading.Event()
        self.holding = threading.Event()
        self.fail = fail
        self.commits = GroupCommit(self.transaction)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        made = len(self.log)
        yield
        self.holding.set()
        assert self.gate.wait(5)
        if self.fail:
            del self.log[made:]  # rolled back
            raise OutputError("the journal cannot be written: the disk is full", "free some")

    def record(self, name: str) -> Callable[[], None]:
        return partial(self.log.append, name)

    def shown(self, name: str) -> Callable[[], None]:
        return partial(self.log.append, f"shown {name}")


def test_withdrawing_a_record_not_yet_committed_drops_it() -> None:
    held = HeldCommits()
    held.gate.set()

    async def go() -> None:
        mark = held.record("sending")
        held.commits.mark(mark)
        held.commits.withdraw(mark, held.record("undo"), held.shown("row"))
        await held.commits.close()

    asyncio.run(go())
    assert held.log == []


@pytest.mark.parametrize("fail", [False, True])
def test_withdrawing_a_record_on_its_way_to_the_disk_undoes_it_once_it_lands(fail: bool) -> None:
    held = HeldCommits(fail)

    async def go() -> None:
        mark = held.record("sending")
        committed = held.commits.mark(mark)
        while not held.holding.is_set():  # the commit is on the journal's thread
            await asyncio.sleep(0.001)
        held.commits.withdraw(mark, held.record("undo"), held.shown("row"))
        assert held.log == ["sending"]  # nothing is undone before the commit is over
        held.gate.set()
        with contextlib.suppress(OutputError):
            await committed
        with contextlib.suppress(OutputError):
            await held.commits.close()

    asyncio.run(go())
    # Landed: undone in the next commit. Rolled back: only the output's cells are put back.
    assert held.log == (["shown row"] if fail else ["sending", "undo"])


def test_withdrawing_a_committed_record_undoes_it_in_the_next_commit() -> None:
    held = HeldCommits()
    held.gate.set()

    async def go() -> None:
        mark = held.record("sending")
        await held.commits.mark(mark)
        held.commits.withdraw(mark, held.record("undo"), held.shown("row"))
        await held.commits.close()

    asyncio.run(go())
    assert held.log == ["sending", "undo"]


def test_withdrawing_after_the_journal_failed_only_puts_the_cells_back() -> None:
    held = HeldCommits(fail=True)
    held.gate.set()

    async def go() -> None:
        first = held.commits.mark(held.record("answer"))
        with pytest.raises(OutputError):
            await first
        mark = held.record("sending")
        held.commits.withdraw(mark, held.record("undo"), held.shown("row"))
        with pytest.raises(OutputError):
            await held.commits.close()

    asyncio.run(go())
    assert held.log == ["shown row"]


def test_the_first_request_goes_alone_and_marks_no_row_ahead(tmp_path: Path) -> None:
    requested: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requested.append(key_of(request))
        return error(401, "unauthorized")

    run = Run(tmp_path, handler)
    marked = watch_marks(run)
    run.send(jobs(20), concurrency=8)
    assert requested == marked == ["key-2"]
    assert run.states() == {"key-2": ("unsent", None)}


def test_a_row_given_its_video_by_a_webhook_while_marked_ahead_keeps_it(tmp_path: Path) -> None:
    """The listener may adopt a video for a row in doubt (its earlier request's) while this
    run has the row marked `sending` ahead; taking the mark back must not drop that id."""
    journal = Journal.open(tmp_path / "out.xlsx.journal", "test")
    journal.sending("doubt", 2, "h", 500.0)
    journal.unknown("doubt", "read timeout", 501.0)
    before = journal.entry("doubt")
    assert before is not None
    journal.sending("doubt", 2, "h", 900.0)  # marked ahead by this run
    journal.adopt("doubt", "v" * 32, 901.0)  # a signed webhook for the earlier request
    journal.sending("new", 3, "h", 900.0)
    journal.withdraw("doubt", before)
    journal.withdraw("new", None)
    entries = journal.entries()
    assert (entries["doubt"].state, entries["doubt"].video_id) == ("submitted", "v" * 32)
    assert "new" not in entries
    journal.sending("other", 4, "h", 902.0)
    journal.withdraw("other", replace(before, key="other", row=4))
    assert journal.entries()["other"] == replace(before, key="other", row=4)
    journal.close()
