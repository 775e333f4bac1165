"""v3's Idempotency-Key: remember each key's request and answer, so a retry gets the same answer.

A key is claimed before the video is made and holds the answer once it is given. Only answers to
accepted videos are kept; a refused request lets its key go, so a retry with it starts afresh.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from merge.simulator.settings import IDEMPOTENCY_SECONDS

Verdict = Literal["new", "in_flight", "reused", "replay"]
"""What a claim found: a fresh key (now held), one still being answered, one used with another
body, or one whose answer is to be replayed."""


@dataclass(frozen=True, slots=True)
class Answer:
    """An answer kept for replay: its HTTP status and JSON body."""

    status: int
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Claim:
    """The verdict on a key, with the answer to replay when there is one."""

    verdict: Verdict
    answer: Answer | None = None


@dataclass(slots=True)
class _Entry:
    """One key: the body it came with, when it was claimed, and its answer once given."""

    fingerprint: str
    claimed: float
    answer: Answer | None = None


def fingerprint(body: Mapping[str, Any]) -> str:
    """Hash a request body so the same JSON matches however its keys were ordered or spaced."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class IdempotencyKeys:
    """Hold each key's request fingerprint and answer for a day, readable from any thread."""

    def __init__(self, lifetime: float = IDEMPOTENCY_SECONDS) -> None:
        self.lifetime = lifetime
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}

    def claim(self, key: str, body_hash: str, now: float) -> Claim:
        """Hold a new key for the request hashed `body_hash`, or say what the key already has."""
        with self._lock:
            self._forget_claims_before(now - self.lifetime)
            entry = self._entries.get(key)
            if entry is None:
                self._entries[key] = _Entry(body_hash, now)
                return Claim("new")
            if entry.answer is None:
                return Claim("in_flight")
            if entry.fingerprint != body_hash:  # replayed all the same: the key names it
                return Claim("reused", entry.answer)
            return Claim("replay", entry.answer)

    def settle(self, key: str, answer: Answer) -> None:
        """Keep the answer a held key's request got, for its replays."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                entry.answer = answer

    def release(self, key: str) -> None:
        """Let go of a key whose request was refused before a video was made."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.answer is None:
                del self._entries[key]

    def _forget_claims_before(self, cutoff: float) -> None:
        """Drop keys claimed at or before `cutoff`; the caller holds the lock."""
        # Entries sit in claiming order, so the expired ones are at the front.
        while self._entries:
            key, entry = next(iter(self._entries.items()))
            if entry.claimed > cutoff:
                return
            del self._entries[key]
