"""Receive HeyGen's webhook events and record them in an output's journal, for `status` to write.

Events are matched to rows by video_id, else by callback_id. With a secret, an event must carry
a signature (hex HMAC-SHA256 of the raw body in a `signature` header): its shape is checked
before the body is read, the body is read only up to a bound of size and time, and the HMAC
is checked before anything is parsed. Without a secret every event is refused unless the user
accepts unsigned ones; an unsigned event may then update a known video but never gives a row an
id. A final status never goes back. Unknown event types and videos of other campaigns are
acknowledged and ignored, as the API notes advise.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from merge.batch.journal import Journal
from merge.follow.follower import state_from

EVENT_STATUS = {"avatar_video.success": "completed", "avatar_video.fail": "failed"}
SIGNATURE_HEADER = "signature"
SIGNATURE_SHAPE = re.compile(r"[0-9a-fA-F]{64}")
MAX_BODY_BYTES = 64 * 1024
"""HeyGen's events are a few hundred bytes; anything past this is refused unread."""
BODY_SECONDS = 10.0
"""A body must arrive whole within this, so slow senders cannot hold the listener."""


@dataclass
class Listener:
    """The journal to record into, the secret to check, and counts of what arrived."""

    journal: Journal
    secret: bytes | None = None
    clock: Callable[[], float] = time.time
    counts: Counter[str] = field(default_factory=Counter)
    on_event: Callable[[str], None] | None = None
    accept_unsigned: bool = False
    max_body: int = MAX_BODY_BYTES
    body_seconds: float = BODY_SECONDS

    async def receive(self, request: Request) -> Response:
        """Check, match and record one event; answer quickly, as HeyGen waits for it."""
        if request.method == "OPTIONS":  # HeyGen checks an endpoint this way when it is added
            return Response(status_code=200)
        refused = self._refuse_before_reading(request)
        if refused is not None:
            return refused
        raw = await self._read_body(request)
        if isinstance(raw, Response):
            return raw
        if self.secret is not None and not self._signed(raw, request.headers):
            return self._refuse("bad signature", 401, "signature does not match")
        event = _parse(raw)
        if event is None:
            return self._refuse("not JSON", 400, "the body is not JSON")
        return JSONResponse({"result": self.record(event, signed=self.secret is not None)})

    def _refuse(self, counted: str, status: int, said: str) -> Response:
        self.counts[counted] += 1
        return JSONResponse({"error": said}, status_code=status)

    def _refuse_before_reading(self, request: Request) -> Response | None:
        """Refuse what the headers alone condemn: no secret, no signature, too long a body."""
        if self.secret is None and not self.accept_unsigned:
            return self._refuse("unsigned (refused)", 401, "no secret is set to check events")
        if self.secret is not None and _signature_given(request.headers) is None:
            return self._refuse("bad signature", 401, "no valid signature header")
        length = request.headers.get("content-length", "")
        if length and (not length.isdigit() or int(length) > self.max_body):
            return self._refuse("too large", 413, "the body is too large for an event")
        return None

    async def _read_body(self, request: Request) -> bytes | Response:
        """Read the body up to `max_body` bytes and `body_seconds`; a response if not whole."""
        chunks: list[bytes] = []
        size = 0

        async def read() -> bool:
            nonlocal size
            async for chunk in request.stream():
                size += len(chunk)
                if size > self.max_body:
                    return False
                chunks.append(chunk)
            return True

        try:
            whole = await asyncio.wait_for(read(), self.body_seconds)
        except TimeoutError:
            return self._refuse("too slow", 408, "the body did not arrive in time")
        except ClientDisconnect:
            return self._refuse("cut off", 400, "the body was cut off")
        if not whole:
            return self._refuse("too large", 413, "the body is too large for an event")
        return b"".join(chunks)

    def _signed(self, raw: bytes, headers: Any) -> bool:
        assert self.secret is not None
        given = _signature_given(headers)
        expected = hmac.new(self.secret, raw, hashlib.sha256).hexdigest()
        return given is not None and hmac.compare_digest(given.lower(), expected)

    def record(self, event: Any, signed: bool = True) -> str:
        """Record an event's video state if it is one of this output's; say what was done.

        Only a signed event may give a row in doubt its video_id; an unsigned one may only
        update a video the output already knows.
        """
        kind = event.get("event_type") if isinstance(event, dict) else None
        data = event.get("event_data") if isinstance(event, dict) else None
        if kind not in EVENT_STATUS or not isinstance(data, dict):
            self.counts["ignored (unknown event)"] += 1
            return "ignored"
        video_id = self._match(data, signed)
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

    def _match(self, data: dict[str, Any], signed: bool) -> str | None:
        """Find the event's video among this output's rows, adopting it for a row in doubt."""
        video_id = data.get("video_id")
        if isinstance(video_id, str) and self.journal.knows_video(video_id):
            return video_id
        key = data.get("callback_id")
        entry = self.journal.entry(key) if isinstance(key, str) else None
        if entry is None or not signed or not isinstance(video_id, str) or not video_id:
            return None
        if entry.video_id is None and entry.state in ("sending", "unknown"):
            self.journal.adopt(entry.key, video_id, self.clock())
            return video_id
        return video_id if entry.video_id == video_id else None


def _signature_given(headers: Any) -> str | None:
    """The signature header, if it has the shape of one (64 hex digits); else None."""
    given = headers.get(SIGNATURE_HEADER, "")
    return given if SIGNATURE_SHAPE.fullmatch(given) else None


def _parse(raw: bytes) -> Any:
    """The event's JSON, or None when it is not JSON (or nested too deep to read)."""
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None


def create_listener_app(listener: Listener) -> Starlette:
    """Serve the listener on every path, for POST (events) and OPTIONS (HeyGen's check)."""
    route = Route("/{path:path}", listener.receive, methods=["POST", "OPTIONS"])
    return Starlette(routes=[route])
