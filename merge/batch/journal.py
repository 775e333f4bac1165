"""The journal: every row's state on disk before and after each request, so no crash loses an id.

A SQLite file in WAL mode with full sync beside the output. A row is marked `sending` (with
its payload's hash) and committed *before* its request goes out, and its video_id is committed
the moment the answer comes back. A row left `sending` by a crash is therefore a row whose
outcome is unknown, never a row that was not sent.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from merge.api.statuses import is_final
from merge.errors import OutputError
from merge.settings import FOLLOW_COLUMNS, JOURNAL_SUFFIX

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

SCHEMA = """
create table if not exists meta (name text primary key, value text not null);
create table if not exists rows (
    key text primary key,
    row integer not null,
    payload_hash text not null,
    state text not null,
    video_id text,
    error text,
    http_status integer,
    first_sent_at real,
    sent_at real,
    answered_at real,
    attempts integer not null default 0
);
create index if not exists rows_by_video on rows (video_id);
create table if not exists videos (
    video_id text primary key,
    status text not null,
    video_url text,
    thumbnail_url text,
    duration real,
    error text,
    checked_at real not null,
    source text not null default 'status'
);
create table if not exists assets (
    sha256 text primary key,
    path text not null,
    size integer not null,
    state text not null,
    asset_id text,
    error text,
    started_at real,
    answered_at real,
    attempts integer not null default 0
);
create table if not exists video_links (video_id text primary key, links text not null);
"""
VIDEO_FIELDS = "video_id, status, video_url, thumbnail_url, duration, error, checked_at, source"
RUN_STARTED = "run_started"
BUSY_TIMEOUT_MS = 10_000
"""How long to wait for another program holding the journal before saying it is locked."""
FIELDS = (
    "key, row, payload_hash, state, video_id, error, http_status, first_sent_at, sent_at,"
    " answered_at, attempts"
)


EntryState = Literal["unsent", "sending", "submitted", "failed", "unknown"]
"""A row's state in the journal: `sending` is committed before its request leaves."""


@dataclass(frozen=True, slots=True)
class VideoState:
    """What the API last said of one video, by status call or webhook."""

    video_id: str
    status: str
    video_url: str | None = None
    thumbnail_url: str | None = None
    duration: float | None = None
    error: str | None = None
    checked_at: float = 0.0
    source: str = "status"
    links: str | None = None
    """v3's further links of a finished video (gif_url, video_page_url, subtitle_url,
    captioned_video_url), as a JSON object, when the API gave any."""

    @property
    def final(self) -> bool:
        """Completed, failed or not found: nothing more will change but the URLs."""
        return is_final(self.status)


ASSET_FIELDS = "sha256, path, size, state, asset_id, error, started_at, answered_at, attempts"


@dataclass(frozen=True, slots=True)
class Asset:
    """A local file's upload: `uploading`, `opened` (direct, incomplete), `uploaded`, `failed`."""

    sha256: str
    path: str
    size: int
    state: str
    asset_id: str | None = None
    error: str | None = None
    started_at: float | None = None
    answered_at: float | None = None
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class Entry:
    """What the journal knows of one row, found by its key (the row's callback_id)."""

    key: str
    row: int
    payload_hash: str
    state: EntryState
    video_id: str | None = None
    error: str | None = None
    http_status: int | None = None
    first_sent_at: float | None = None
    sent_at: float | None = None
    answered_at: float | None = None
    attempts: int = 0

    @property
    def server_error(self) -> bool:
        """The API answered with a 5xx: likely nothing was made, but check before resending."""
        return self.state == "failed" and (self.http_status or 0) >= 500


def journal_target_of(output: Path, name: str = "target") -> str | None:
    """Read which API an output's journal belongs to (or another of its settings, `name`),
    without holding it; None when unknown."""
    path = journal_path(output)
    if not path.exists():
        return None
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            found = db.execute("select value from meta where name = ?", (name,)).fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return None
    return None if found is None else str(found[0])


def journal_path(output: Path) -> Path:
    """Name the journal that belongs to an output sheet."""
    return output.with_name(output.name + JOURNAL_SUFFIX)


class Journal:
    """Durable row states for one output; one run at a time may hold it."""

    def __init__(self, path: Path, db: sqlite3.Connection, lock: IO[bytes] | None) -> None:
        self.path = path
        self._db = db
        self._lock = lock
        self.created = False
        """Whether this open made the file (no journal was there before)."""

    @classmethod
    def open(cls, path: Path, target: str | None, exclusive: bool = True) -> Journal:
        """Open or create the journal, hold it for this run, and check it belongs to `target`.

        `exclusive=False` is for the webhook listener, which only records video states and so may
        write beside a running `submit` or `status` (SQLite serialises the writes).
        """
        created = not path.exists()
        lock = _lock(path) if exclusive else None
        try:
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            db.execute(f"pragma busy_timeout={BUSY_TIMEOUT_MS}")
            db.execute("pragma journal_mode=wal")
            db.execute("pragma synchronous=full")
            db.executescript(SCHEMA)
        except sqlite3.Error as error:
            if lock is not None:
                lock.close()
            raise _unusable(path, error) from None
        journal = cls(path, db, lock)
        journal.created = created
        try:
            journal._check_target(target)
        except sqlite3.Error as error:
            journal.close()
            raise _unusable(path, error) from None
        return journal

    def _check_target(self, target: str | None) -> None:
        known = self.meta("target")
        if target is None:
            return
        if known is None:
            self._set_meta("target", target)
            self._set_meta("campaign", secrets.token_hex(4))
            self._set_meta("created_at", str(time.time()))
        elif known != target:
            self.close()
            raise OutputError(
                f"{self.path}: this output's videos were made on {known}, not {target}",
                "use another -o for this API, or the same API as before to resume",
            )

    def follow_columns(self, columns: tuple[str, ...] | None = None) -> tuple[str, ...]:
        """Name the status columns once per output, never over a column of the user's own.

        A lead sheet with its own `video_url` (a background, say) keeps it: ours is then
        `heygen_video_url`. A sheet with a video_id column is an earlier output, whose
        same-named columns are ours to update. The choice is kept for later runs.
        """
        known = self.meta("follow_columns")
        if known is not None:
            return tuple(json.loads(known))
        columns = columns or ()
        names: tuple[str, ...] = FOLLOW_COLUMNS
        if "video_id" not in columns:
            names = tuple(f"heygen_{n}" if n in columns else n for n in FOLLOW_COLUMNS)
        self._set_meta("follow_columns", json.dumps(names))
        return names

    def run_started(self, now: float) -> None:
        """Mark a run under way, in the main file itself (checkpointed): should the run die and
        its `-wal` file be lost with every row it held, the next run still knows to check."""
        self._set_meta(RUN_STARTED, str(now))
        self._execute("pragma wal_checkpoint(full)")

    def run_ended(self) -> None:
        """Clear the mark of a run under way: it ended (well or not) and wrote what it had."""
        self._execute("delete from meta where name = ?", (RUN_STARTED,))

    def crashed_run(self) -> float | None:
        """When a run that never ended started: its rows may be missing from this journal."""
        value = self.meta(RUN_STARTED)
        return None if value is None else float(value)

    def remember(self, name: str, value: str) -> None:
        """Keep one of the output's settings (the API its videos were made on, say)."""
        self._set_meta(name, value)

    def meta(self, name: str) -> str | None:
        """Read one of the journal's own settings."""
        found = self._execute("select value from meta where name = ?", (name,)).fetchone()
        return None if found is None else str(found[0])

    def _set_meta(self, name: str, value: str) -> None:
        self._execute("insert or replace into meta values (?, ?)", (name, value))

    @property
    def campaign(self) -> str:
        """A short random id given to this output's journal, part of every derived callback_id."""
        return self.meta("campaign") or ""

    def entries(self) -> dict[str, Entry]:
        """Every row the journal knows, by key."""
        cursor = self._execute(f"select {FIELDS} from rows")
        return {record[0]: Entry(*record) for record in cursor}

    def videos(self) -> dict[str, VideoState]:
        """The last known state of every followed video, by id."""
        cursor = self._execute(
            f"select {VIDEO_FIELDS}, links from videos left join video_links using (video_id)"
        )
        return {record[0]: VideoState(*record) for record in cursor}

    def record_video(self, state: VideoState) -> None:
        """Keep what the API said of a video; a final status never changes (a late or replayed
        "fail" after "completed" is ignored), though its links may be renewed."""
        self._execute(
            f"insert into videos ({VIDEO_FIELDS}) values (?, ?, ?, ?, ?, ?, ?, ?)"
            " on conflict (video_id) do update set status = excluded.status,"
            " video_url = coalesce(excluded.video_url, video_url),"
            " thumbnail_url = coalesce(excluded.thumbnail_url, thumbnail_url),"
            " duration = coalesce(excluded.duration, duration), error = excluded.error,"
            " checked_at = excluded.checked_at, source = excluded.source"
            " where videos.status not in ('completed', 'failed')"
            " or excluded.status = videos.status",
            (
                state.video_id,
                state.status,
                state.video_url,
                state.thumbnail_url,
                state.duration,
                state.error,
                state.checked_at,
                state.source,
            ),
        )
        if state.links:
            self._execute(
                "insert or replace into video_links values (?, ?)", (state.video_id, state.links)
            )

    def entry(self, key: str) -> Entry | None:
        """What the journal knows of one row, by key."""
        found = self._execute(f"select {FIELDS} from rows where key = ?", (key,)).fetchone()
        return None if found is None else Entry(*found)

    def knows_video(self, video_id: str) -> bool:
        """Whether this output has recorded a video id (an indexed look-up, for each webhook)."""
        found = self._execute(
            "select 1 from rows where video_id = ? union select 1 from videos where video_id = ?",
            (video_id, video_id),
        ).fetchone()
        return found is not None

    def known_video_ids(self) -> set[str]:
        """Every video id this output has recorded, those replaced by --retry-failed included."""
        cursor = self._execute(
            "select video_id from rows where video_id is not null union select video_id from videos"
        )
        return {record[0] for record in cursor}

    def sending(self, key: str, row: int, payload_hash: str, now: float) -> None:
        """Record, durably, that this row's request is about to go out."""
        self._execute(
            "insert into rows (key, row, payload_hash, state, first_sent_at, sent_at, attempts)"
            " values (?, ?, ?, 'sending', ?, ?, 1)"
            " on conflict (key) do update set row = excluded.row,"
            " payload_hash = excluded.payload_hash, state = 'sending', error = null,"
            " video_id = null, http_status = null, first_sent_at = case when video_id is null"
            " then coalesce(first_sent_at, excluded.sent_at) else excluded.sent_at end,"
            " sent_at = excluded.sent_at, attempts = attempts + 1",
            (key, row, payload_hash, now, now),
        )

    def submitted(self, key: str, video_id: str, now: float) -> None:
        """Record the id the API gave this row, the moment it is known."""
        self._update(key, "submitted", video_id=video_id, answered_at=now)

    def failed(self, key: str, error: str, http_status: int | None, now: float) -> None:
        """Record that the API refused this row's request."""
        self._update(key, "failed", error=error, http_status=http_status, answered_at=now)

    def unknown(self, key: str, error: str, now: float) -> None:
        """Record that this row's request went out and its outcome is not known."""
        self._update(key, "unknown", error=error, answered_at=now)

    def adopt(self, key: str, video_id: str, now: float) -> None:
        """Give a row in doubt (sent, no answer) the video a signed webhook says was made for it."""
        self._execute(
            "update rows set state = 'submitted', video_id = ?, error = null, answered_at = ?"
            " where key = ? and video_id is null and state in ('sending', 'unknown')",
            (video_id, now, key),
        )

    def adopt_sent(self, key: str, row: int, video_id: str, at: float | None) -> None:
        """Record a row the output sheet shows sent (its video_id) but this journal lost."""
        self._execute(
            "insert into rows (key, row, payload_hash, state, video_id, first_sent_at, sent_at,"
            " answered_at, attempts) values (?, ?, '', 'submitted', ?, ?, ?, ?, 1)"
            " on conflict (key) do update set state = 'submitted', video_id = excluded.video_id,"
            " error = null, http_status = null where rows.video_id is null",
            (key, row, video_id, at, at, at),
        )

    def unsent(self, key: str, error: str) -> None:
        """Record that this row's request was certainly not acted on (it may go again freely)."""
        self._update(key, "unsent", error=error)

    def withdraw(self, key: str, before: Entry | None) -> None:
        """Take back a `sending` record whose request never left: the row is again exactly what
        it was before it (a row the journal did not know is forgotten, as never sent). A row
        given a video meanwhile (a webhook for an earlier request, by the listener) keeps it."""
        still = "key = ? and state = 'sending' and video_id is null"
        if before is None:
            self._execute(f"delete from rows where {still}", (key,))
            return
        names = ", ".join(f"{name} = ?" for name in FIELDS.split(", ")[1:])
        values = dataclasses.astuple(before)[1:]
        self._execute(f"update rows set {names} where {still}", (*values, key))

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Make several records one commit (one sync to disk): all of them land, or none."""
        self._db.execute("begin immediate")
        try:
            yield
        except BaseException:
            self._db.execute("rollback")
            raise
        self._db.execute("commit")

    def _update(self, key: str, state: str, **values: object) -> None:
        names = ", ".join(f"{name} = ?" for name in values)
        self._execute(
            f"update rows set state = ?, {names} where key = ?", (state, *values.values(), key)
        )

    def assets(self) -> dict[str, Asset]:
        """Every local file this output has begun to upload, by its content's SHA-256."""
        cursor = self._db.execute(f"select {ASSET_FIELDS} from assets")
        return {record[0]: Asset(*record) for record in cursor}

    def asset_uploading(self, sha256: str, path: str, size: int, now: float) -> None:
        """Record, durably, that a file's upload is about to go out (an asset_id it has stays)."""
        self._db.execute(
            "insert into assets (sha256, path, size, state, started_at, attempts)"
            " values (?, ?, ?, 'uploading', ?, 1) on conflict (sha256) do update set"
            " path = excluded.path, state = case when state = 'opened' then state"
            " else 'uploading' end, error = null, started_at = excluded.started_at,"
            " attempts = attempts + 1",
            (sha256, path, size, now),
        )

    def asset_answered(
        self, sha256: str, state: str, asset_id: str | None, error: str | None, now: float
    ) -> None:
        """Record a file's asset_id (`opened`: a direct upload not yet complete) or failure."""
        self._db.execute(
            "update assets set state = ?, asset_id = coalesce(?, asset_id), error = ?,"
            " answered_at = ? where sha256 = ?",
            (state, asset_id, error, now, sha256),
        )

    def _execute(self, sql: str, values: tuple[object, ...] = ()) -> sqlite3.Cursor:
        """Run one statement; a full disk, a lock or damage becomes a clear error, not a trace."""
        try:
            return self._db.execute(sql, values)
        except sqlite3.Error as error:
            raise _unusable(self.path, error) from None

    def discard_if_unused(self) -> None:
        """Let go of a journal this run made and never used, removing it (a declined run)."""
        unused = self.created and not self._execute("select 1 from rows limit 1").fetchone()
        self.close()
        if unused:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    def close(self) -> None:
        """Let go of the journal; its file stays, the record of this output."""
        with contextlib.suppress(sqlite3.Error):
            self._db.close()
        if self._lock is not None:
            self._lock.close()
            self._lock = None


def _unusable(path: Path, error: sqlite3.Error) -> OutputError:
    """Say a journal cannot be used: locked by another program, damaged, or unwritable."""
    text = str(error)
    if "full" in text:
        return OutputError(
            f"{path}: the journal cannot be written: the disk is full",
            "free some space, then run the same command again to resume",
        )
    if "locked" in text or "busy" in text:
        return OutputError(
            f"{path}: the journal is locked by another program ({text})",
            "wait for the other program (or run) to finish, then run again",
        )
    return OutputError(
        f"{path}: the journal cannot be used ({text})",
        "check the output folder can be written; if the file is damaged, move it away"
        " only after checking the output sheet holds every video_id",
    )


def _lock(path: Path) -> IO[bytes] | None:
    """Hold the journal for this run, so two runs on one output cannot both send its rows."""
    if fcntl is None:  # pragma: no cover - Windows
        return None
    try:
        handle = path.open("ab")
    except OSError as error:
        raise OutputError(
            f"{path}: the journal cannot be created ({error.strerror})",
            "choose an output in a folder you can write to",
        ) from None
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise OutputError(
            f"{path}: another run is sending this output's rows right now",
            "wait for it to finish (or stop it), then run again to resume",
        ) from None
    os.set_inheritable(handle.fileno(), False)
    return handle
