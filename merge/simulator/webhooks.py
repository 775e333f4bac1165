"""Webhook events for finished videos: sent on the clock, signed, retried, and only to loopback."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import heapq
import hmac
import json
from typing import Any
from urllib.parse import urlsplit

import httpx

from merge.addresses import is_loopback
from merge.simulator.account import Account, Endpoint, Video
from merge.simulator.schedule import Clock
from merge.simulator.settings import (
    ENDPOINT_CHECK_SECONDS,
    WEBHOOK_RETRY_SECONDS,
    WEBHOOK_TIMEOUT_SECONDS,
    WEBHOOK_TRIES,
)
from merge.simulator.views import event_body

POLL_SECONDS = 0.05
"""How often the scheduler rereads the clock while an event is due, so a moved clock is seen."""

NOT_LOOPBACK = "the simulator only sends requests to loopback addresses (127.0.0.1, localhost, ::1)"


def is_loopback_url(url: str) -> bool:
    """Say whether `url` is an http(s) URL on this machine, the only place the simulator calls."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and is_loopback(parts.hostname or "")


def sign(raw: bytes, secret: str) -> str:
    """Return the `signature` header for a body: the hex HMAC-SHA256 of it under `secret`."""
    return hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


class Webhooks:
    """Send each video's event at its finishing time to whoever should get it, retrying failures.

    Every method runs on the server's event loop; the log lives in the account, for any thread.
    """

    def __init__(self, account: Account, clock: Clock) -> None:
        self.account = account
        self.clock = clock
        self._due: list[tuple[float, int, Video, str]] = []
        self._wake = asyncio.Event()
        self._scheduler: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self._http: httpx.AsyncClient | None = None

    def schedule(self, video: Video, base: str) -> None:
        """Queue `video`'s event for its finishing time, its file links to start at `base`."""
        heapq.heappush(self._due, (video.timeline.finished, video.seq, video, base))
        if self._scheduler is None or self._scheduler.done():
            self._wake = asyncio.Event()
            self._scheduler = asyncio.create_task(self._run())
        self._wake.set()

    async def check(self, url: str) -> str | None:
        """Send the OPTIONS request that vets a new endpoint; return why it failed, or None."""
        if not is_loopback_url(url):
            return NOT_LOOPBACK
        status = await self._request("OPTIONS", url, ENDPOINT_CHECK_SECONDS)
        if isinstance(status, str):
            return f"it did not answer an OPTIONS request within {ENDPOINT_CHECK_SECONDS:g} s"
        if not 200 <= status < 300:
            return f"it answered an OPTIONS request with HTTP {status}, not 2xx"
        return None

    async def close(self) -> None:
        """Cancel the scheduler and every delivery in flight, then close the HTTP client."""
        tasks = [task for task in (self._scheduler, *self._sending) if task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._scheduler = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _run(self) -> None:
        """Fire events as the clock passes their times, rereading a clock a test may move."""
        while True:
            self._wake.clear()
            now = self.clock()
            while self._due and self._due[0][0] <= now:
                _, _, video, base = heapq.heappop(self._due)
                self._fire(video, base, now)
            wait = min(POLL_SECONDS, self._due[0][0] - now) if self._due else None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wake.wait()

    def _fire(self, video: Video, base: str, now: float) -> None:
        """Start sending one video's event to each of its targets, skipping off-machine ones."""
        event = event_body(video, now, base, self.account.settings.url_ttl)
        raw = json.dumps(event).encode()
        event_type = event["event_type"]
        for target in self.account.webhook_targets(video, event_type):
            entry = {"url": target.url, "event_type": event_type, "video_id": video.id}
            if not is_loopback_url(target.url):
                skipped = entry | {"status": f"skipped: {NOT_LOOPBACK}", "attempt": 0}
                self.account.log_delivery(skipped, "webhooks_skipped")
                continue
            task = asyncio.create_task(self._send(target, raw, entry))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _send(self, target: Endpoint, raw: bytes, entry: dict[str, Any]) -> None:
        """POST one event, trying again a second later on no answer or a non-2xx one."""
        headers = {"content-type": "application/json"}
        if target.secret:
            headers["signature"] = sign(raw, target.secret)
        for attempt in range(1, WEBHOOK_TRIES + 1):
            status = await self._request("POST", target.url, WEBHOOK_TIMEOUT_SECONDS, raw, headers)
            sent = isinstance(status, int) and 200 <= status < 300
            last = attempt == WEBHOOK_TRIES
            counter = "webhooks_sent" if sent else "webhooks_failed" if last else None
            self.account.log_delivery(entry | {"status": status, "attempt": attempt}, counter)
            if sent or last:
                return
            await asyncio.sleep(WEBHOOK_RETRY_SECONDS)

    async def _request(
        self,
        method: str,
        url: str,
        timeout: float,
        raw: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> int | str:
        """Send one request; return its HTTP status, or the error that stopped it as text."""
        if self._http is None:
            # Never through a proxy from the environment: loopback must stay loopback.
            self._http = httpx.AsyncClient(trust_env=False, follow_redirects=False)
        try:
            response = await self._http.request(
                method, url, content=raw, headers=headers, timeout=timeout
            )
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return f"{type(exc).__name__}: {exc}".rstrip(": ")
        return response.status_code
