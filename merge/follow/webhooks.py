"""Receive HeyGen's webhook events and record them in an output's journal, for `status` to write.

Events are matched to rows by video_id, else by callback_id (success and fail events alike); a
signed event is checked against the secret when one is set. Which header HeyGen signs with is
not confirmed: `signature` and `x-heygen-signature` (HMAC-SHA256 of the raw body) and
`Heygen-Signature` with `Heygen-Timestamp` (of `timestamp.body`, or the body alone) are all
accepted, hex or base64, with or without a `sha256=` or `v1=` prefix, and the one that arrived
is counted. Unknown event types and videos of other campaigns are acknowledged and ignored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from merge.batch.journal import Journal
from merge.follow.follower import state_from

EVENT_STATUS = {"avatar_video.success": "completed", "avatar_video.fail": "failed"}
SIGNATURE_HEADERS = ("signature", "x-heygen-signature", "heygen-signature")
TIMESTAMP_HEADER = "heygen-timestamp"
UNSIGNED = "no signature header"


@dataclass
class Listener:
    """The journal to record into, the secret to check, and counts of what arrived."""

    journal: Journal
    secret: bytes | None = None
    clock: Callable[[], float] = time.time
    counts: Counter[str] = field(default_factory=Counter)
    on_event: Callable[[str], None] | None = None
    signatures: Counter[str] = field(default_factory=Counter)
    """Which signature header each event came with (or none)."""

    async def receive(self, request: Request) -> Response:
        """Check, match and record one event; answer quickly, as HeyGen waits for it."""
        if request.method == "OPTIONS":  # HeyGen checks an endpoint this way when it is added
            return Response(status_code=200)
        raw = await request.body()
        header = next((name for name in SIGNATURE_HEADERS if name in request.headers), None)
        self.signatures[header or UNSIGNED] += 1
        if self.secret is not None and not self._signed(raw, request.headers, header):
            self.counts["bad signature"] += 1
            return JSONResponse({"error": "signature does not match"}, status_code=401)
        try:
            event = json.loads(raw)
        except ValueError:
            self.counts["not JSON"] += 1
            return JSONResponse({"error": "the body is not JSON"}, status_code=400)
        return JSONResponse({"result": self.record(event)})

    def _signed(self, raw: bytes, headers: Any, header: str | None) -> bool:
        assert self.secret is not None
        if header is None:
            return False
        given = headers[header].strip()
        for prefix in ("sha256=", "v1="):
            given = given.removeprefix(prefix)
        signed = [raw]
        timestamp = headers.get(TIMESTAMP_HEADER)
        if header == "heygen-signature" and timestamp:
            signed.insert(0, timestamp.strip().encode() + b"." + raw)
        for message in signed:
            digest = hmac.new(self.secret, message, hashlib.sha256).digest()
            for form in (digest.hex(), base64.b64encode(digest).decode()):
                if hmac.compare_digest(given.lower() if form.islower() else given, form):
                    return True
        return False

    def record(self, event: Any) -> str:
        """Record an event's video state if it is one of this output's; say what was done."""
        kind = event.get("event_type") if isinstance(event, dict) else None
        data = event.get("event_data") if isinstance(event, dict) else None
        if kind not in EVENT_STATUS or not isinstance(data, dict):
            self.counts["ignored (unknown event)"] += 1
            return "ignored"
        video_id = self._match(data)
        if video_id is None:
            self.counts["ignored (not this output's)"] += 1
            return "ignored"
        state = state_from(
            video_id, {**data, "status": EVENT_STATUS[kind]}, self.clock(), "webhook"
        )
        self.journal.record_video(state)
        self.counts[state.status] += 1
        if self.on_event is not None:
            self.on_event(f"{kind} {video_id}")
        return "recorded"

    def _match(self, data: dict[str, Any]) -> str | None:
        """Find the event's video among this output's rows, adopting it for a row in doubt."""
        video_id = data.get("video_id")
        if isinstance(video_id, str) and self.journal.knows_video(video_id):
            return video_id
        key = data.get("callback_id")
        entry = self.journal.entry(key) if isinstance(key, str) else None
        if entry is None or not isinstance(video_id, str) or not video_id:
            return None
        if entry.video_id is None:
            self.journal.adopt(entry.key, video_id, self.clock())
        return video_id if entry.video_id in (None, video_id) else None


def create_listener_app(listener: Listener) -> Starlette:
    """Serve the listener on every path, for POST (events) and OPTIONS (HeyGen's check)."""
    route = Route("/{path:path}", listener.receive, methods=["POST", "OPTIONS"])
    return Starlette(routes=[route])
