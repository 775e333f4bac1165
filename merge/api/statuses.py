"""Every status word HeyGen answers (the v3 contract's §3.4), and which of them are final.

The one definition: the follower, the journal and the commands read these sets, so a word the
API adds is taught here once.
"""

from __future__ import annotations

COMPLETED = "completed"
FAILED = "failed"
NOT_FOUND = "not_found"
"""Bulk statuses' word for an id the account does not know (a single read answers 404)."""

IN_PROGRESS = frozenset({"waiting", "pending", "queued", "processing"})
"""Not final: `waiting` (create answer, V2), `pending` (video resource), `queued` (bulk, batch
items), `processing` (everywhere)."""

FINAL = frozenset({COMPLETED, FAILED, NOT_FOUND})
"""Nothing more will change but the links."""

KNOWN = IN_PROGRESS | FINAL


def is_final(status: str | None) -> bool:
    """Whether a status word says the video will not change any more."""
    return status in FINAL


def status_word(value: object) -> str:
    """Read a status as the API said it, lower-cased; an empty or odd value is `unknown`."""
    if isinstance(value, str) and value.strip():
        return value.strip().lower()
    return "unknown"
