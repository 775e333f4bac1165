"""Each row's result as the output sheet shows it, kept in step with the journal."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, NamedTuple

from merge.batch.journal import Entry, EntryState, Journal, VideoState
from merge.errors import redact
from merge.problems import Problem


def timestamp(seconds: float | None) -> str:
    """Show a moment as ISO 8601 in UTC, to the second."""
    if seconds is None:
        return ""
    moment = dt.datetime.fromtimestamp(seconds, dt.UTC).replace(microsecond=0)
    return moment.isoformat().replace("+00:00", "Z")


def cells(state: VideoState) -> list[str]:
    """Show a video state as the output's status cells."""
    duration = "" if state.duration is None else f"{state.duration:g}"
    return [
        state.status,
        state.video_url or "",
        state.thumbnail_url or "",
        duration,
        state.error or "",
        timestamp(state.checked_at),
    ]


@dataclass(slots=True)
class Job:
    """One row to send: its place, its key (the callback_id) and its request body."""

    row: int
    key: str
    body: bytes
    payload_hash: str
    renews: str = ""
    """What an earlier request of the same row and body ended in (a failed video's id, a
    refusal), so this one gets its own Idempotency-Key rather than that request's answer."""


ENTRY_STATUS: dict[EntryState, RowStatus] = {
    "unsent": "skipped",
    "sending": "unknown",
    "submitted": "submitted",
    "failed": "failed",
    "unknown": "unknown",
}
"""How each journal state shows in the output: a row left `sending` by a crash is in doubt."""

UNKNOWN_HINT = (
    "no answer came, so the video may exist; run again to check, or --retry-unknown to send again"
)


RowStatus = Literal["sending", "submitted", "failed", "unknown", "skipped", "invalid"]
"""A row's merge_status in the output sheet."""


class RowCells(NamedTuple):
    """A row's RESULT_COLUMNS cells, in their order."""

    video_id: str
    status: RowStatus
    error: str
    key: str
    at: str


class Before(NamedTuple):
    """A row as the journal and the output had it before its `sending` record."""

    entry: Entry | None
    cells: RowCells | None


class Ledger:
    """Write every change of a row's state to the journal first, then to the output's values.

    `values` maps each row number to its RESULT_COLUMNS cells; the output sheet is written from
    a copy of it, and the journal alone can rebuild it after a crash.
    """

    def __init__(self, journal: Journal, clock: Callable[[], float]) -> None:
        self.journal = journal
        self.clock = clock
        self.values: dict[int, RowCells] = {}
        self.problems: dict[int, list[Problem]] = {}
        """Each invalid row's problems as objects, for pages that place them by their field."""

    def show(
        self, row: int, status: RowStatus, error: str = "", key: str = "", **more: str
    ) -> None:
        """Set a row's cells without touching the journal (skipped rows, ids from the sheet)."""
        self.values[row] = RowCells(
            more.get("video_id", ""), status, error, key, more.get("at", "")
        )

    def show_invalid(self, row: int, problems: list[Problem], key: str = "") -> None:
        """Set an invalid row's cells, keeping its problems whole for the page."""
        self.problems[row] = problems
        self.show(row, "invalid", "; ".join(p.describe() for p in problems), key)

    def show_entry(self, entry: Entry, row: int | None = None) -> None:
        """Show what the journal knows of a row."""
        status = ENTRY_STATUS[entry.state]
        error = entry.error or ""
        if status == "unknown":
            error = f"{error}: {UNKNOWN_HINT}" if error else UNKNOWN_HINT
        at = entry.answered_at if entry.state == "submitted" else entry.sent_at
        self.values[entry.row if row is None else row] = RowCells(
            entry.video_id or "",
            status,
            error,
            entry.key,
            timestamp(at),
        )

    def sending(self, job: Job) -> Before:
        """Commit that the request is about to go out, before it does; return what the row was,
        should the request never leave after all."""
        now = self.clock()
        before = Before(self.journal.entry(job.key), self.values.get(job.row))
        self.journal.sending(job.key, job.row, job.payload_hash, now)
        self.values[job.row] = RowCells("", "sending", "", job.key, timestamp(now))
        return before

    def withdraw(self, job: Job, before: Before, reason: str) -> None:
        """Commit that a request marked `sending` never left: the row is again what it was."""
        self.show_withdrawn(job, before, reason)
        self.journal.withdraw(job.key, before.entry)

    def show_withdrawn(self, job: Job, before: Before, reason: str) -> None:
        """Show a row whose request never left as it was before (a new row: not sent, why)."""
        if before.cells is None:
            self.values[job.row] = RowCells("", "skipped", redact(reason), job.key, "")
        else:
            self.values[job.row] = before.cells

    def submitted(self, job: Job, video_id: str) -> None:
        """Commit the id the moment it is known (shown first: should the journal fail, the output
        still gets it, and the output's video_id column counts as proof too)."""
        now = self.clock()
        self.values[job.row] = RowCells(video_id, "submitted", "", job.key, timestamp(now))
        self.journal.submitted(job.key, video_id, now)

    def failed(self, job: Job, error: str, http_status: int | None) -> None:
        """Commit the API's refusal."""
        error = redact(error)
        self.journal.failed(job.key, error, http_status, self.clock())
        self.values[job.row] = RowCells("", "failed", error, job.key, self.values[job.row].at)

    def unknown(self, job: Job, reason: str) -> None:
        """Commit that the outcome is not known, so the row is checked before any resend."""
        reason = redact(reason)
        self.journal.unknown(job.key, reason, self.clock())
        sent_at = self.values[job.row].at
        self.values[job.row] = RowCells(
            "", "unknown", f"{reason}: {UNKNOWN_HINT}", job.key, sent_at
        )

    def unsent(self, job: Job, reason: str) -> None:
        """Commit that the request was certainly not acted on; the row stays resumable."""
        reason = redact(reason)
        self.journal.unsent(job.key, reason)
        self.values[job.row] = RowCells("", "skipped", reason, job.key, "")
