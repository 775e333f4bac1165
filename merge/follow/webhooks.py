"""Receive HeyGen's webhook events and record them in an output's journal, for `status` to write.

Events are matched to rows by video_id, else by callback_id; a signed event is checked against
the secret (hex HMAC-SHA256 of the raw body in a `signature` header) when one is set. Unknown
event types and videos of other campaigns are acknowledged and ignored, as the API notes advise.
"""

from __future__ import annotations

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
SIGNATURE_HEADER = "signature"


@dataclass
class Listener:
    """The journal to record into, the secret to check, and counts of what arrived."""

    journal: Journal
    secret: bytes | None = None
    clock: Callable[[], float] = time.time
    counts: Counter[str] = field(default_factory=Counter)
    on_event: Callable[[str], None] | None = None

    async def receive(self, request: Request) -> Response:
        """Check, match and record one event; answer quickly, as HeyGen waits for it."""
        if request.method == "OPTIONS":  # HeyGen checks an endpoint this way when it is added
            return Response(status_code=200)
        raw = await request.body()
        if self.secret is not None and not self._signed(raw, request.headers):
            self.counts["bad signature"] += 1
            return JSONResponse({"error": "signature does not match"}, status_code=401)
        try:
            event = json.loads(raw)
        except ValueError:
            self.counts["not JSON"] += 1
            return JSONResponse({"error": "the body is not JSON"}, status_code=400)
        return JSONResponse({"result": self.record(event)})

    def _signed(self, raw: bytes, headers: Any) -> bool:
        assert self.secret is not None
        given = headers.get(SIGNATURE_HEADER, "")
        expected = hmac.new(self.secret, raw, hashlib.sha256).hexdigest()
        return hmac.compare_digest(given.lower(), expected)

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
