"""Every default in one place, so a reader finds the knobs without hunting."""

from __future__ import annotations

import os

DEFAULT_CHUNK_ROWS = 2_000
"""Rows read, rendered and written per chunk: bounds memory on huge sheets."""
FIRST_CHUNK_ROWS = 250
"""The first chunk of a render; each next one is twice the last, up to DEFAULT_CHUNK_ROWS, so
the writer process starts on the page almost at once."""

CSV_DELIMITERS = (",", ";", "\t", "|")
"""Delimiters the CSV sniffer chooses among (European Excel writes `;`)."""

CSV_SNIFF_BYTES = 64 * 1024
CSV_FALLBACK_ENCODING = "cp1252"

ERROR_COLUMN = "merge_error"
"""The one name of the errors column, written by `render` and `submit` alike."""

OLD_ERROR_COLUMN = "merge_errors"
"""What `render` called it before: a sheet that has it gets its errors there, not in a new one."""

STATUS_COLUMNS = ("merge_status", ERROR_COLUMN)
"""Columns `render` adds to the copy of the input sheet in the review folder."""

RESERVED_NAMES = frozenset({"row", "row_number", "raw"})
"""Names the template sees besides the columns."""

PAYLOAD_FILE_DIGITS = 4
SUMMARY_PROBLEMS_SHOWN = 10
WRITE_SETTLE_SECONDS = 0.5
"""How long to watch a just-modified input for growth before reading it."""

GC_THRESHOLDS = (50_000, 20, 20)
"""The command's garbage-collector thresholds: about a third of render time went to collections
at Python's defaults (700, 10, 10)."""

DEFAULT_BASE_URL = "https://api.heygen.com"
API_KEY_ENV = "HEYGEN_API_KEY"
BASE_URL_ENV = "HEYGEN_BASE_URL"
SIMULATOR_KEY = "simulator"
"""The key `--simulate` sends: the built-in simulator takes any key, and no real one is needed."""

DEFAULT_CONCURRENCY = 3
"""Requests in flight at once: a Pro plan's rendering slots (HeyGen queues the extra videos)."""

DEFAULT_TIMEOUT_SECONDS = 120.0
"""How long a create request may take before its outcome counts as unknown: HeyGen's own p99
for `POST /v3/videos` is about 31 s, and its CLI waits 120 s for writes."""

RESULT_COLUMNS = ("video_id", "merge_status", ERROR_COLUMN, "callback_id", "submitted_at")
"""Columns `submit` adds to (or updates in) the output sheet."""

JOURNAL_SUFFIX = ".journal"
"""The journal sits beside the output: leads-sent.xlsx → leads-sent.xlsx.journal."""

SIMULATED_ACCOUNT_SUFFIX = ".simulator.json"
"""The `--simulate` account's videos, kept beside the output so a rehearsal can be followed."""

OUTPUT_WRITE_SECONDS = 5.0
"""How often the output sheet is rewritten during a run (it is also written at the end)."""

SEND_ATTEMPTS = 8
"""Tries per row while the API answers 429 for the rate (nothing was made, so retrying is safe)."""

SENDING_AHEAD = 2
"""Rows per request in flight whose `sending` record is committed before a request is free for
them: on loopback a commit takes longer than a request, and one row ahead hid only half of it."""

CONNECT_ATTEMPTS = 5
"""Tries per row while no connection can be made (about 8 s of backoff); then the run stops."""

READ_ATTEMPTS = 4
"""Tries for a status or list call (they change nothing, so any failure may be retried)."""

SERVER_ERROR_TRIES = 4
"""v3: tries of a request refused with a 5xx (the same Idempotency-Key makes each safe)."""

SERVER_ERROR_ROUNDS = 2
"""Extra rounds for rows refused with a 5xx once a check of the video list shows nothing made."""

BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 30.0
RATE_SLOWDOWN = 0.5
"""After a 429 the rate is multiplied by this; it never falls below RATE_FLOOR requests/s."""
RATE_FLOOR = 0.2
RATE_SLOWDOWN_STRIKES = 2
"""429s in a row (no success between) that make the rate halve; a lone one only pauses."""
RATE_SLOWDOWN_SPACING = 1.0
"""Seconds between two slowdowns: the 429s of requests already in flight count once."""
RATE_RECOVERY = 1.25
RATE_RECOVERY_AFTER = 10
"""Successes in a row before the rate steps back up by RATE_RECOVERY."""

RECONCILE_MARGIN_SECONDS = 300.0
"""Videos created this long before a request was sent are still checked (clocks differ)."""
RECONCILE_SETTLE_SECONDS = 2.0
"""Wait after a request is given up before looking for its video, so a late one is listed."""
LIST_PAGE_SIZE = 100

FOLLOW_COLUMNS = (
    "video_status",
    "video_url",
    "thumbnail_url",
    "duration",
    "video_error",
    "checked_at",
)
"""Columns `status` adds to (or updates in) the output sheet."""

CELL_KINDS = {
    "submitted_at": "date",
    "checked_at": "date",
    "duration": "number",
    "video_url": "link",
    "thumbnail_url": "link",
    **{f"heygen_{name}": kind for name, kind in (("checked_at", "date"), ("duration", "number"))},
    **{f"heygen_{name}": "link" for name in ("video_url", "thumbnail_url")},
}
"""How a workbook shows our result columns: dates that sort, numbers that sum, links that open."""

POLL_FIRST_SECONDS = 5.0
POLL_GROWTH = 1.6
POLL_CAP_SECONDS = 60.0
"""A video's status is asked again after 5 s, then 8, 12.8, ... at most every 60 s."""
POLL_ESTIMATE_AFTER = 3
"""Finished videos needed before their pace predicts when the others will finish."""
POLL_HEAD = 8
"""Until the pace is known, only the first videos of the queue get the quick backoff."""
POLL_ESTIMATE_CAP_SECONDS = 900.0
"""The longest wait an estimate may set (the plain backoff never waits past POLL_CAP_SECONDS)."""

V3_BULK_STATUS_SIZE = 100
"""Videos asked per `GET /v3/videos/statuses` call (the contract's limit)."""
LOST_CREATE_REPLAY_SECONDS = 24 * 3600.0
"""How long HeyGen replays a create's first answer for the same Idempotency-Key."""

WORDS_PER_MINUTE = 150
"""Speaking rate behind the review page's time estimate, for a text voice at speed 1.0."""
REVIEW_PAGE_ROWS = 50_000
"""Rows whose cards the review page holds; every row is still counted and estimated, and the
rest are read in payloads.jsonl (or the output sheet), so a million-row page stays openable."""
REVIEW_PAGE_NAME = "review.html"
"""The page `render` writes into the review folder."""
SENT_PAGE_SUFFIX = ".review.html"
"""The page of what `submit` sent sits beside the output: leads-sent.xlsx.review.html."""


def error_column_names(names: tuple[str, ...], columns: tuple[str, ...]) -> tuple[str, ...]:
    """Write errors into a sheet's old `merge_errors` column when it has no `merge_error` one."""
    if OLD_ERROR_COLUMN in columns and ERROR_COLUMN not in columns:
        return tuple(OLD_ERROR_COLUMN if name == ERROR_COLUMN else name for name in names)
    return names


ASSET_FORM_MAX_BYTES = 32 * 1024 * 1024
"""v3: the largest file `POST /v3/assets` takes in one multipart request; larger files go
through the direct-upload trio (create, PUT the bytes, complete)."""
ASSET_MAX_BYTES = int(os.environ.get("HEYGEN_ASSET_MAX_BYTES", str(2 * 1024**3)))
"""Not confirmed by the API notes: the largest file a direct upload takes (the API says its
`max_bytes` when the upload is created, and that answer wins). Checked before anything is sent."""
ASSET_V2_MAX_BYTES = 32 * 1024 * 1024
"""V2's upload endpoint takes the whole file as one request body; its limit is unpublished, so
V2 keeps v3's one-request limit."""
V2_UPLOAD_URL = "https://upload.heygen.com/v1/asset"
"""V2's upload endpoint sits on its own host; on a loopback API the simulator's `/v1/asset`."""
UPLOAD_CONCURRENCY = 2
"""Files uploaded at once: uploads are large and few, and share the run's rate and retries."""
HASH_CHUNK_BYTES = 1024 * 1024
"""Bytes read at a time while hashing a local file (SHA-256, its identity for uploads)."""
REVIEW_THUMB_PIXELS = 320
"""Longest side of the local pictures' thumbnails inlined into the review page."""
REVIEW_THUMB_FILES = 200
"""Local files the review page shows a thumbnail of (a few KB each; 30 ms to make from a 12 MP
JPEG, 0.3 s from a 12 MP PNG); the others are shown by name, so a sheet of 10,000 different
photos keeps a small page and a quick render."""
LOOKUP_ATTEMPTS = 3
"""Tries of one account read (users/me, a look, a voice) before it counts as unanswered."""
LOOKUP_RETRY_CAP_SECONDS = 5.0
"""The longest pause between two tries of an account read, whatever Retry-After says."""
LOOKUP_TIMEOUT_SECONDS = 15.0
"""How long an account read may take (HeyGen's own CLI waits 30 s; reads answer in under 2 s)."""
LOOKUP_CONCURRENCY = 8
"""Account reads in flight at once during a pre-flight."""
PREFLIGHT_CACHE_SUFFIX = ".preflight.json"
"""The pre-flight's cache of usable looks and voices sits beside the journal."""
PREFLIGHT_CACHE_SECONDS = 900.0
"""How long a usable look or voice is believed without asking again (a resume within 15 min)."""
SPEECH_SPREAD = 0.15
"""Speaking rates vary: a script's spoken time is estimated at WORDS_PER_MINUTE ± 15%."""
AUDIO_SECONDS_RANGE = (5.0, 60.0)
"""Length assumed for recorded audio the tool cannot read, as a range (priced as such)."""
AUDIO_PROBE_BYTES = 64 * 1024
"""How much of an audio file is fetched to read its length (its header is near the start)."""
AUDIO_PROBE_CONCURRENCY = 4
AUDIO_PROBE_TIMEOUT_SECONDS = 5.0
AUDIO_PROBES_MOST = 200
"""Distinct audio URLs whose length a pre-flight reads; the others count AUDIO_SECONDS_RANGE."""
SUGGESTION_PAGES = 10
"""Pages of the account's looks or voices read to suggest an id for one not found."""
