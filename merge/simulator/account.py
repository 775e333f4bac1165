"""The simulated account: its videos, slots, limits and counters, readable from any thread."""

from __future__ import annotations

import heapq
import secrets
import threading
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from merge.simulator.asset_store import Assets
from merge.simulator.idempotency import IdempotencyKeys
from merge.simulator.limits import DailyCount, Dice, TokenBucket
from merge.simulator.schedule import (
    RENDER_FAILURE,
    RenderSlots,
    Timeline,
    estimate_duration,
    over_plan,
    plan_failure,
)
from merge.simulator.settings import (
    QUOTA_SECONDS,
    QUOTA_SECONDS_PER_VIDEO,
    UNLIMITED_QUOTA_SECONDS,
    SimulatorSettings,
)

Delivery = Literal["answer", "reset", "late"]

STAT_NAMES = (
    "requests",
    "created",
    "rejected_invalid",
    "rate_limited",
    "job_limited",
    "v2_retired",
    "injected_429",
    "server_errors",
    "quota_refused",
    "resets",
    "late_answers",
    "unauthorized",
    "render_failures",
    "not_found",
    "webhooks_sent",
    "webhooks_failed",
    "webhooks_skipped",
    "v3_requests",
    "idempotent_replays",
    "idempotency_conflicts",
    "idempotency_mismatches",
)
"""Counters `stats()` always reports, zero or not."""


@dataclass(frozen=True, slots=True)
class Video:
    """One accepted video as the account remembers it."""

    id: str
    seq: int
    callback_id: str | None
    callback_url: str | None
    title: str
    caption: bool
    duration: float
    timeline: Timeline
    failure: dict[str, Any] | None

    def status(self, now: float) -> str:
        """Name the video's status at `now`."""
        return self.timeline.status(now, failed=self.failure is not None)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A URL that receives video events, signed with `secret` when it has one."""

    url: str
    secret: str | None = None
    events: tuple[str, ...] = ()
    """The event types it subscribed to; empty means all."""
    endpoint_id: str = ""

    def wants(self, event_type: str) -> bool:
        """Say whether this endpoint subscribed to `event_type`."""
        return not self.events or event_type in self.events


class Account:
    """Keep the account's state behind one lock; the server writes it, tests read copies."""

    def __init__(self, settings: SimulatorSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._videos: dict[str, Video] = {}
        self._order: list[Video] = []
        self._unfinished: list[float] = []
        """Finish times of the videos not yet finished, earliest first (a heap)."""
        self._slots = RenderSlots(settings.slots)
        self._bucket = TokenBucket(settings.rate_limit) if settings.rate_limit else None
        self._daily = DailyCount()
        self._dice = Dice(settings.seed)
        self._counts: Counter[str] = Counter(dict.fromkeys(STAT_NAMES, 0))
        self._endpoints: list[Endpoint] = []
        self._deliveries: list[dict[str, Any]] = []
        self.idempotency = IdempotencyKeys()
        """The v3 Idempotency-Keys the account has seen, with the answers they got."""
        self.assets = Assets()
        """The files uploaded to the account, which bodies may name by asset id."""

    def authorize(self, key: str, *counters: str) -> bool:
        """Count a request (also under `counters`) and say whether `key` opens the account."""
        wanted = self.settings.api_key
        opens = bool(key) and (wanted is None or key == wanted)
        with self._lock:
            for name in ("requests", *counters):
                self._counts[name] += 1
            if not opens:
                self._counts["unauthorized"] += 1
        return opens

    def count(self, name: str) -> None:
        """Add one to the counter `name`."""
        with self._lock:
            self._counts[name] += 1

    def refusal(self) -> int | None:
        """Roll the faults that refuse a create request unread: a 5xx status, 429, or None."""
        with self._lock:
            if self._dice.roll(self.settings.fail_5xx):
                self._counts["server_errors"] += 1
                return self._dice.pick((500, 502, 503))
            if self._dice.roll(self.settings.fail_429):
                self._counts["injected_429"] += 1
                return 429
            return None

    def wait_for_token(self, now: float) -> float:
        """Spend a request token and return 0, or count a refusal and return the wait."""
        if self._bucket is None:
            return 0.0
        with self._lock:
            wait = self._bucket.take(now)
            if wait:
                self._counts["rate_limited"] += 1
            return wait

    def wait_for_job(self, now: float) -> float:
        """Return 0 while the account has room for another unfinished video, else count a
        refusal and return how long until its first unfinished video finishes."""
        limit = self.settings.job_limit
        if limit is None:
            return 0.0
        with self._lock:
            while self._unfinished and self._unfinished[0] <= now:
                heapq.heappop(self._unfinished)
            if len(self._unfinished) < limit:
                return 0.0
            self._counts["job_limited"] += 1
            return self._unfinished[0] - now

    def accept(self, payload: Mapping[str, Any], now: float) -> Video | None:
        """Create a video from a valid body, or return None when today's quota is spent."""
        quota = self.settings.daily_quota
        with self._lock:
            if quota is not None and self._daily.today(now) >= quota:
                self._counts["quota_refused"] += 1
                return None
            self._daily.add(now)
            video = self._new_video(payload, now)
            self._videos[video.id] = video
            self._order.append(video)
            heapq.heappush(self._unfinished, video.timeline.finished)
            self._counts["created"] += 1
            if video.failure is not None:
                self._counts["render_failures"] += 1
            return video

    def _new_video(self, payload: Mapping[str, Any], now: float) -> Video:
        """Book a slot and decide the render's fate; the caller holds the lock."""
        settings = self.settings
        render = settings.render_seconds * self._dice.spread(settings.render_jitter)
        timeline = self._slots.book(now, settings.pending_seconds, render)
        failure = None
        if over_plan(payload.get("dimension"), settings.plan):
            failure = plan_failure(settings.plan)
        elif self._dice.roll(settings.render_failure):
            failure = RENDER_FAILURE
        return Video(
            id=uuid.uuid4().hex,
            seq=len(self._order),
            callback_id=payload.get("callback_id"),
            callback_url=payload.get("callback_url"),
            title=payload.get("title") or "",
            caption=bool(payload.get("caption")),
            duration=estimate_duration(payload),
            timeline=timeline,
            failure=failure,
        )

    def delivery(self) -> Delivery:
        """Roll how an accepted video's answer reaches the client: whole, cut off, or late."""
        with self._lock:
            if self._dice.roll(self.settings.reset_after_accept):
                self._counts["resets"] += 1
                return "reset"
            if self._dice.roll(self.settings.late_answer):
                self._counts["late_answers"] += 1
                return "late"
            return "answer"

    def find(self, video_id: str) -> Video | None:
        """Return the video with this id, if the account has it."""
        with self._lock:
            return self._videos.get(video_id)

    def page(self, below: int | None, limit: int) -> tuple[list[Video], int | None]:
        """Return up to `limit` videos newest first from `below`, and where the next page starts."""
        with self._lock:
            top = len(self._order) - 1 if below is None else min(below, len(self._order) - 1)
            bottom = max(-1, top - limit)
            videos = [self._order[seq] for seq in range(top, bottom, -1)]
        return videos, (bottom if bottom >= 0 else None)

    def page_titled(
        self, below: int | None, limit: int, title: str
    ) -> tuple[list[Video], int | None]:
        """Like `page`, over only the videos whose title contains `title` (v3's list filter)."""
        with self._lock:
            seq = len(self._order) - 1 if below is None else min(below, len(self._order) - 1)
            videos: list[Video] = []
            while seq >= 0 and len(videos) < limit:
                if title in self._order[seq].title:
                    videos.append(self._order[seq])
                seq -= 1
        return videos, (seq if seq >= 0 else None)

    def remaining_quota(self, now: float) -> int:
        """Return the seconds of video left: an hour a day less a minute a video under a quota."""
        if self.settings.daily_quota is None:
            return UNLIMITED_QUOTA_SECONDS
        with self._lock:
            used = self._daily.today(now) * QUOTA_SECONDS_PER_VIDEO
        return max(0, QUOTA_SECONDS - used)

    def accepted(self) -> dict[str, int]:
        """Count accepted videos per callback_id, those without one under ""."""
        return {key: len(ids) for key, ids in self.video_ids().items()}

    def video_ids(self) -> dict[str, list[str]]:
        """List the ids issued per callback_id, oldest first, those without one under ""."""
        issued: dict[str, list[str]] = {}
        with self._lock:
            for video in self._order:
                issued.setdefault(video.callback_id or "", []).append(video.id)
        return issued

    def add_endpoint(self, url: str, events: list[str]) -> Endpoint:
        """Register a webhook endpoint with a fresh id and signing secret."""
        endpoint = Endpoint(url, secrets.token_hex(16), tuple(events), uuid.uuid4().hex)
        with self._lock:
            self._endpoints.append(endpoint)
        return endpoint

    def webhook_targets(self, video: Video, event_type: str) -> list[Endpoint]:
        """List who receives `video`'s event: the configured URL, its callback_url, endpoints."""
        settings = self.settings
        targets = []
        if settings.webhook_url:
            targets.append(Endpoint(settings.webhook_url, settings.webhook_secret))
        if video.callback_url:
            targets.append(Endpoint(video.callback_url))  # unsigned, as HeyGen's may be
        with self._lock:
            targets += [endpoint for endpoint in self._endpoints if endpoint.wants(event_type)]
        return targets

    def log_delivery(self, entry: dict[str, Any], counter: str | None = None) -> None:
        """Record one webhook attempt (or skip), adding one to `counter` when given."""
        with self._lock:
            self._deliveries.append(entry)
            if counter is not None:
                self._counts[counter] += 1

    def deliveries(self) -> list[dict[str, Any]]:
        """Copy the webhook attempts, oldest first."""
        with self._lock:
            return [dict(entry) for entry in self._deliveries]

    def stats(self) -> dict[str, int]:
        """Copy the counters."""
        with self._lock:
            return dict(self._counts)
