"""Receive HeyGen's webhook events and record them in an output's journal, for `status` to write.

Events are matched to rows by video_id, else by callback_id (success and fail events alike).
With a secret, an event must carry a signature, and its shape is checked before the body is
read. Which header HeyGen signs with is not confirmed: `signature` and `x-heygen-signature`
(HMAC-SHA256 of the raw body) and `Heygen-Signature` with `Heygen-Timestamp` (of
`timestamp.body`, or the body alone) are all accepted, hex or base64, with or without a
`sha256=` or `v1=` prefix, and the one that arrived is counted. The body is read only up to a
bound of size and time, and the HMAC is checked before anything is parsed. Without a secret
every event is refused unless the user accepts unsigned ones; an unsigned event may then update
a known video but never gives a row an id. A final status never goes back. Unknown event types
and videos of other campaigns are acknowledged and ignored, as the API notes advise.
"""

from __future__ import annotations

import asyncio
import base64
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
SIGNATURE_HEADERS = ("signature", "x-heygen-signature", "heygen-signature")
TIMESTAMP_HEADER = "heygen-timestamp"
UNSIGNED = "no signature header"
SIGNATURE_SHAPE = re.compile(r"[0-9a-fA-F]{64}|[A-Za-z0-9+/]{43}=?")
"""An HMAC-SHA256 digest: 64 hex digits, or 32 bytes in base64."""
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
    signatures: Counter[str] = field(default_factory=Counter)
    """Which signature header each event came with (or none)."""

    async def receive(self, request: Request) -> Response:
        """Check, match and record one event; answer quickly, as HeyGen waits for it."""
        if request.method == "OPTIONS":  # HeyGen checks an endpoint this way when it is added
            return Response(status_code=200)
        header = next((name for name in SIGNATURE_HEADERS if name in request.headers), None)
        self.signatures[header or UNSIGNED] += 1
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
        if given is None:
            return False
        header, value = given
        signed = [raw]
        timestamp = headers.get(TIMESTAMP_HEADER)
        if header == "heygen-signature" and timestamp and timestamp.strip().isascii():
            signed.insert(0, timestamp.strip().encode() + b"." + raw)
        for message in signed:
            digest = hmac.new(self.secret, message, hashlib.sha256).digest()
            for form in (digest.hex(), base64.b64encode(digest).decode()):
                if hmac.compare_digest(value.lower() if form.islower() else value, form):
                    return True
        return False

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


def _signature_given(headers: Any) -> tuple[str, str] | None:
    """The first signature header and its digest (prefix removed), if it has the shape of one.

    None when no header is there, or the first one is not 64 hex digits or 32 bytes in base64
    (after an optional `sha256=` or `v1=`): refused before the body is read.
    """
    header = next((name for name in SIGNATURE_HEADERS if name in headers), None)
    if header is None:
        return None
    given = headers[header].strip()
    for prefix in ("sha256=", "v1="):
        given = given.removeprefix(prefix)
    return (header, given) if given.isascii() and SIGNATURE_SHAPE.fullmatch(given) else None


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
