"""Follow submitted videos to the end: their status, URLs and files, written into the output.

`follow_output` reads the output sheet's video_id column, asks the status of every video not
yet final (once, or until all are final with `wait`), records each answer in the journal the
moment it comes, saves finished videos when asked, and rewrites the output's status columns.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx

from merge.api.client import V2_RETIRED_HINT, ApiError, HeyGenClient, open_http
from merge.api.pacing import Throttle
from merge.api.statuses import COMPLETED, FAILED, FINAL, NOT_FOUND, status_word
from merge.api.v3 import make_client
from merge.batch.journal import Journal, VideoState, journal_path
from merge.batch.plan import journal_target
from merge.batch.proof import Sent, reconcile_with_output
from merge.batch.results import cells
from merge.errors import MergeError, SheetError, redact
from merge.follow.download import DownloadFailed, LinkExpired, download, file_stem, open_files_http
from merge.follow.names import check_name, name_rows
from merge.follow.schedule import PollSchedule, Watch
from merge.follow.status_page import refresh_page
from merge.loop import PeriodicWriter, Timing, interrupts, run_sync
from merge.settings import (
    DEFAULT_BASE_URL,
    DEFAULT_CONCURRENCY,
    DEFAULT_TIMEOUT_SECONDS,
    OUTPUT_WRITE_SECONDS,
    POLL_FIRST_SECONDS,
    V3_BULK_STATUS_SIZE,
)
from merge.sheets.sheet import SheetInfo, open_sheet, remove_stale_temps, write_annotated

DONE = FINAL
FILE_COLUMN = "video_file"
"""The column `--download` fills with each saved video's path, from the output's folder."""
LINK_COLUMNS = ("gif_url", "video_page_url", "subtitle_url", "captioned_video_url")
"""v3's further links of a finished video: output columns once any video has them."""
EVENT_LINKS = {"gif_download_url": "gif_url", "video_share_page_url": "video_page_url"}
Warn = Callable[[str], None]


@dataclass(frozen=True)
class FollowOptions:
    """How to follow: once or until the end, where to save files, how hard to ask."""

    wait: bool = False
    download: Path | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    rate: float | None = None
    poll_first: float = POLL_FIRST_SECONDS
    write_every: float = OUTPUT_WRITE_SECONDS
    api: str | None = None
    """The API to ask: None means the one `submit` recorded in the output's journal (else v3)."""
    name: str | None = None
    """How to name downloaded files from the row's columns (`--name`); None: by callback_id."""
    timing: Timing = field(default_factory=Timing)
    """The clocks and sleep of following; a test gives fake ones."""


@dataclass
class FollowSummary:
    """What following did, for the report and the exit code."""

    statuses: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    videos: int = 0
    fetched: int = 0
    already_saved: int = 0
    download_problems: list[str] = field(default_factory=list)
    check_problems: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    write_failed: str | None = None
    failures: list[tuple[int, str, str]] = field(default_factory=list)
    """Each row whose video failed or is unknown to the API: (row, status, reason)."""


@dataclass(frozen=True, slots=True)
class Tracked:
    """A row with a video to follow."""

    row: int
    video_id: str
    key: str
    stem: str = ""
    """The name of its files without the suffix (from --name), else made from its key."""


def read_videos(output: Path, name: str | None = None) -> tuple[SheetInfo, list[Tracked]]:
    """Find every row of the output that has a video_id (and name its files, with --name)."""
    sheet = open_sheet(output)
    if "video_id" not in sheet.info.columns:
        raise SheetError(
            f"{output}: has no video_id column",
            "give the output that `avatar-merge submit` wrote",
        )
    if name is not None:
        check_name(name, sheet.info.columns)
    rows = {
        row.number: row.values for row in sheet.rows() if row.values.get("video_id", "").strip()
    }
    stems = name_rows(name, rows) if name is not None else {}
    tracked = [
        Tracked(
            number,
            values["video_id"].strip(),
            values.get("callback_id", ""),
            stems.get(number) or file_stem(values.get("callback_id", ""), number),
        )
        for number, values in rows.items()
    ]
    return sheet.info, tracked


def state_from(video_id: str, data: dict[str, Any], now: float, source: str) -> VideoState:
    """Turn a status answer (or a webhook's event data) into a video state."""
    duration = data.get("duration")
    links = {name: data[name] for name in LINK_COLUMNS if _text(data.get(name))}
    for seen, name in EVENT_LINKS.items():  # a webhook's names for the same links
        if _text(data.get(seen)):
            links.setdefault(name, data[seen])
    return VideoState(
        video_id,
        status_word(data.get("status")),
        _text(data.get("video_url") or data.get("url")),
        _text(data.get("thumbnail_url")),
        float(duration) if isinstance(duration, int | float) else None,
        error_text(data.get("error") or data.get("msg")),
        now,
        source,
        json.dumps(links) if links else None,
    )


def error_text(error: Any) -> str | None:
    """Say a failure reason, whether the API gave an object (code, message, detail) or text."""
    if not error:
        return None
    if isinstance(error, dict):
        parts = [str(error[k]) for k in ("code", "message", "detail") if error.get(k)]
        return redact(": ".join(parts)) or None
    return redact(str(error))


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def follow_values(
    tracked: list[Tracked], states: dict[str, VideoState], links: tuple[str, ...] = ()
) -> dict[int, list[str]]:
    """Each row's FOLLOW_COLUMNS cells from what is known of its video, then its `links`."""
    values: dict[int, list[str]] = {}
    for item in tracked:
        state = states.get(item.video_id)
        if state is not None:
            given = json.loads(state.links) if state.links else {}
            values[item.row] = cells(state) + [str(given.get(name, "")) for name in links]
    return values


def present_links(states: dict[str, VideoState]) -> tuple[str, ...]:
    """The link columns some video has a value for, in LINK_COLUMNS' order."""
    found: set[str] = set()
    for state in states.values():
        if state.links:
            found.update(json.loads(state.links))
    return tuple(name for name in LINK_COLUMNS if name in found)


class Follower:
    """Ask, record, save and write; the journal first, so an interrupted run loses nothing."""

    def __init__(
        self,
        client: HeyGenClient,
        files: httpx.AsyncClient,
        journal: Journal,
        output: Path,
        info: SheetInfo,
        tracked: list[Tracked],
        options: FollowOptions,
        progress: Callable[[Counter[str]], None] | None = None,
        warn: Warn | None = None,
    ) -> None:
        self.client = client
        self.files = files
        self.journal = journal
        self.output = output
        self.info = info
        self.tracked = tracked
        self.options = options
        self.progress = progress
        self.warn = warn or (lambda _: None)
        self.states = journal.videos()
        self.columns = journal.follow_columns(info.columns)
        self.summary = FollowSummary(videos=len(tracked))
        self.stopping = False
        self._by_id = {item.video_id: item for item in tracked}
        self._rows_of = Counter(item.video_id for item in tracked)
        self._counts = Counter(self._status_of(item) for item in tracked)
        """What the progress shows, by status, kept as answers come (a recount on every
        answer made following a batch quadratic: 92 s of CPU for 5,000 videos)."""
        self.timing = options.timing
        self._throttle = Throttle(options.rate, self.timing.monotonic, self.timing.sleep)
        self._gate = asyncio.Semaphore(options.concurrency)
        self._downloads: list[asyncio.Task[None]] = []

    async def run(self) -> FollowSummary:
        """Follow every unfinished video (once, or to the end), then write the output."""
        started = self.timing.monotonic()
        writer = PeriodicWriter(
            self._snapshot,
            self._write_snapshot,
            self.options.write_every,
            lambda problem: self.warn(
                f"{problem}; the journal keeps every status, and the output is written again"
            ),
            self.timing,
        )
        writer.start()
        try:
            await self._poll()
            await asyncio.gather(*self._downloads)
        finally:
            self.summary.seconds = self.timing.monotonic() - started
            self.summary.statuses = Counter(
                self.states[i.video_id].status if i.video_id in self.states else "unchecked"
                for i in self.tracked
            )
            self.summary.write_failed = await writer.final()
        return self.summary

    def stop(self) -> None:
        """Ask nothing more; answers on their way are still recorded."""
        self.stopping = True
        self.summary.interrupted = True

    async def _poll(self) -> None:
        # Only a wait may ask the head of a fresh queue first: a single look asks every video.
        schedule = PollSchedule(first=self.options.poll_first, defer_new=self.options.wait)
        now = self.timing.monotonic()
        for item in self.tracked:
            state = self.states.get(item.video_id)
            if state is None or state.status not in DONE:
                schedule.add(item.video_id, now)
            elif self.options.download and state.status == "completed":
                self._save_later(item)
        self._report()
        first_round = True
        # With a bulk call, one request asks up to 100 videos: take those due soon along too.
        ahead = self.options.poll_first if self.client.bulk else 0.0
        while len(schedule) and not self.stopping:
            due = schedule.pop_due(self.timing.monotonic() + ahead)
            if not due:
                if not (self.options.wait or first_round):
                    return
                await self._sleep_until(schedule.next_due())
                continue
            first_round = False
            together = self.client.bulk and await self._check_together(due, schedule)
            if not together:
                await asyncio.gather(*(self._check(watch, schedule) for watch in due))
            if not self.options.wait:
                return

    async def _sleep_until(self, due: float | None) -> None:
        if due is not None:
            await self.timing.sleep(max(0.0, due - self.timing.monotonic()))

    async def _check_together(self, due: list[Watch], schedule: PollSchedule) -> bool:
        """Ask many videos' status in as few calls as the API allows; False if it cannot."""
        ids = [watch.video_id for watch in due]
        async with self._gate:
            await self._throttle.wait()
            try:
                found = await self.client.video_statuses(ids)
            except ApiError as error:
                self._stop_on_refused_key(error)
                self.summary.check_problems += 1
                found = {}
        if found is None:
            return False
        self.summary.requests += -(-len(ids) // V3_BULK_STATUS_SIZE)
        finished: list[Watch] = []
        for watch in due:
            data = found.get(watch.video_id)
            if data is not None and data.get("status") in (COMPLETED, FAILED, NOT_FOUND):
                # Its links and reason come with the video itself; and a `not_found` is only
                # believed from the video's own 404, never from the bulk answer alone.
                finished.append(watch)
                continue
            state = None if data is None else self._record(watch.video_id, data)
            self._next(watch, state, schedule)
        await asyncio.gather(*(self._check(watch, schedule) for watch in finished))
        self._report()
        return True

    async def _check(self, watch: Watch, schedule: PollSchedule) -> None:
        """Ask one video's status and record it; a final one is saved if asked."""
        async with self._gate:
            if self.stopping:
                return
            await self._throttle.wait()
            state = await self._ask(watch.video_id)
        self._next(watch, state, schedule)
        self._report()

    def _next(self, watch: Watch, state: VideoState | None, schedule: PollSchedule) -> None:
        """Put an unfinished video back in the schedule; save a finished one when asked."""
        now = self.timing.monotonic()
        if state is None or state.status not in DONE:
            schedule.again(watch, now)
        else:
            schedule.finished(watch, now)
            if self.options.download and state.status == "completed":
                self._save_later(self._by_id[watch.video_id])

    async def _ask(self, video_id: str) -> VideoState | None:
        self.summary.requests += 1
        try:
            data = await self.client.video_status(video_id)
        except ApiError as error:
            self._stop_on_refused_key(error)
            if error.status != 404:
                self.summary.check_problems += 1
                return None
            data = {"status": NOT_FOUND, "error": "the API does not know this video (HTTP 404)"}
        return self._record(video_id, data)

    def _stop_on_refused_key(self, error: ApiError) -> None:
        if error.retired:
            raise MergeError(error.message, V2_RETIRED_HINT) from None
        if error.refused_key:
            raise MergeError(
                f"the API refused the key ({error.message})",
                "check HEYGEN_API_KEY; the statuses found so far are in the output",
            ) from None

    def _record(self, video_id: str, data: dict[str, Any]) -> VideoState:
        """Keep what the API said of a video: in the journal first, then in memory."""
        state = state_from(video_id, data, self.timing.wall(), "status")
        self.journal.record_video(state)
        self._count(self.states.get(video_id), state, self._rows_of[video_id])
        self.states[video_id] = state
        return state

    def _count(self, before: VideoState | None, after: VideoState, rows: int) -> None:
        """Move a video's rows from the status it showed to the one it shows now."""
        old, new = _shown_status(before), _shown_status(after)
        if rows and old != new:
            self._counts[new] += rows
            self._counts[old] -= rows
            if not self._counts[old]:
                del self._counts[old]

    def _save_later(self, item: Tracked) -> None:
        self._downloads.append(asyncio.create_task(self._save(item)))

    async def _save(self, item: Tracked) -> None:
        """Save a finished video and its thumbnail; an expired link is renewed by asking again."""
        assert self.options.download is not None
        stem = item.stem or file_stem(item.key, item.row)
        for suffix, field_name in ((".mp4", "video_url"), (".jpg", "thumbnail_url")):
            target = self.options.download / f"{stem}{suffix}"
            problem = await self._save_file(item.video_id, field_name, target)
            if problem is not None:
                self.summary.download_problems.append(f"row {item.row}: {target.name}: {problem}")

    async def _save_file(self, video_id: str, field_name: str, target: Path) -> str | None:
        for attempt in range(2):
            url = getattr(self.states[video_id], field_name)
            if not url:
                return None if field_name == "thumbnail_url" else "the API gave no video URL"
            try:
                async with self._gate:
                    saved = await download(self.files, url, target)
            except LinkExpired as expired:
                if attempt:
                    return f"the link was refused ({expired}) even after renewing it"
                async with self._gate:
                    await self._throttle.wait()
                    await self._ask(video_id)
                continue
            except (DownloadFailed, OSError) as error:
                return str(error)
            if field_name == "video_url":
                if saved.fetched:
                    self.summary.fetched += 1
                else:
                    self.summary.already_saved += 1
            return None
        return None

    def _report(self) -> None:
        if self.progress is not None:
            self.progress(Counter(self._counts))

    def _status_of(self, item: Tracked) -> str:
        return _shown_status(self.states.get(item.video_id))

    def _snapshot(self) -> tuple[dict[int, list[str]], tuple[str, ...]]:
        """What a write writes: every row's status cells, under the status and link columns."""
        states = dict(self.states)
        links = present_links(states)
        values = follow_values(self.tracked, states, links)
        if self.options.download is None:
            return values, self.columns + links
        return self._with_files(values), (*self.columns, *links, self._file_column())

    def _write_snapshot(self, snapshot: tuple[dict[int, list[str]], tuple[str, ...]]) -> str | None:
        return self._write_values(*snapshot)

    def write(self) -> str | None:
        """Write the status columns into the output; say what went wrong instead of raising."""
        return self._write_snapshot(self._snapshot())

    def _with_files(self, values: dict[int, list[str]]) -> dict[int, list[str]]:
        """Add each row's downloaded video, as a path from the output's folder, once it is saved."""
        assert self.options.download is not None
        for item in self.tracked:
            if item.row in values:
                file = self.options.download / f"{item.stem or file_stem(item.key, item.row)}.mp4"
                shown = os.path.relpath(file, self.output.parent) if file.exists() else ""
                values[item.row] = [*values[item.row], shown]
        return values

    def _file_column(self) -> str:
        """Name the downloaded-file column once per output, never over a column of the user's."""
        known = self.journal.meta("file_column")
        if known is None:
            known = f"heygen_{FILE_COLUMN}" if FILE_COLUMN in self.info.columns else FILE_COLUMN
            self.journal.remember("file_column", known)
        return known

    def _write_values(self, values: dict[int, list[str]], columns: tuple[str, ...]) -> str | None:
        """Rewrite the output in place; it is read again first, as the last write changed it."""
        try:
            info = open_sheet(self.output, self.info.sheet_name, settle=False).info
            write_annotated(info, self.output, columns, values)
        except MergeError as error:
            return error.message
        return None


def _shown_status(state: VideoState | None) -> str:
    """What the progress shows of a video: its end, or pending until it has one."""
    return "pending" if state is None or state.status not in DONE else state.status


def follow_output(
    output: Path,
    http: httpx.AsyncClient,
    target: str,
    options: FollowOptions | None = None,
    progress: Callable[[Counter[str]], None] | None = None,
    warn: Warn | None = None,
) -> FollowSummary:
    """Follow the videos of an output sheet (see the module's docstring); Ctrl-C stops asking."""
    options = options or FollowOptions()
    info, tracked = read_videos(output, options.name)
    journal = Journal.open(journal_path(output), target)
    remove_stale_temps(output)
    try:
        # A journal made (or found empty) beside an output with ids takes them in at once.
        sent = [Sent(item.row, item.key, item.video_id) for item in tracked]
        reconcile_with_output(journal, sent, refuse_empty=False)
    except BaseException:
        journal.close()
        raise
    if options.api is None:
        options = replace(options, api=journal.meta("api") or "v3")
    try:
        return run_sync(_follow(output, info, tracked, journal, http, options, progress, warn))
    finally:
        journal.close()


async def _follow(
    output: Path,
    info: SheetInfo,
    tracked: list[Tracked],
    journal: Journal,
    http: httpx.AsyncClient,
    options: FollowOptions,
    progress: Callable[[Counter[str]], None] | None,
    warn: Warn | None,
) -> FollowSummary:
    async with http, open_files_http() as files:
        client = make_client(options.api or "v3", http)
        follower = Follower(client, files, journal, output, info, tracked, options, progress, warn)
        with interrupts(lambda _: follower.stop()):
            summary = await follower.run()
    _refresh_page(output, follower, options, warn)
    summary.failures = [
        (item.row, state.status, state.error or "")
        for item in tracked
        if (state := follower.states.get(item.video_id)) is not None
        and state.status in ("failed", "not_found")
    ]
    return summary


def _refresh_page(
    output: Path, follower: Follower, options: FollowOptions, warn: Warn | None
) -> None:
    """Show each row's video on the output's review page; a page that cannot be written warns."""
    rows = [
        (item.row, item.video_id, item.key, item.stem or file_stem(item.key, item.row))
        for item in follower.tracked
    ]
    try:
        refresh_page(output, rows, follower.states, options.download)
    except OSError as error:
        if warn is not None:
            warn(f"{output}: its review page could not be refreshed ({error.strerror})")


def follow_sheet(
    output: Path,
    api_key: str,
    base_url: str = DEFAULT_BASE_URL,
    options: FollowOptions | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    progress: Callable[[Counter[str]], None] | None = None,
    warn: Warn | None = None,
) -> FollowSummary:
    """Follow an output's videos in one call, as `status` does: the library twin of submit_sheet."""
    options = options or FollowOptions()
    http = open_http(base_url, api_key, timeout, options.concurrency)
    return follow_output(output, http, journal_target(base_url), options, progress, warn)
