"""Every default in one place, so a reader finds the knobs without hunting."""

from __future__ import annotations

import os

DEFAULT_CHUNK_ROWS = 2_000
"""Rows read, rendered and written per chunk: bounds memory on huge sheets."""

CSV_DELIMITERS = (",", ";", "\t", "|")
"""Delimiters the CSV sniffer chooses among (European Excel writes `;`)."""

CSV_SNIFF_BYTES = 64 * 1024
CSV_FALLBACK_ENCODING = "cp1252"

STATUS_COLUMNS = ("merge_status", "merge_errors")
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

RESULT_COLUMNS = ("video_id", "merge_status", "merge_error", "callback_id", "submitted_at")
"""Columns `submit` adds to (or updates in) the output sheet."""

JOURNAL_SUFFIX = ".journal"
"""The journal sits beside the output: leads-sent.xlsx → leads-sent.xlsx.journal."""

OUTPUT_WRITE_SECONDS = 5.0
"""How often the output sheet is rewritten during a run (it is also written at the end)."""

SEND_ATTEMPTS = 8
"""Tries per row while the API answers 429 for the rate (nothing was made, so retrying is safe)."""

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
