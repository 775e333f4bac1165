"""HeyGen's v3 video endpoints over the same account as V2: same videos, limits and faults.

Creating honours an `Idempotency-Key`: a retry gets the first answer back instead of a second
video, even when that first answer was cut off or came too late for the client.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Scope

from merge.problems import did_you_mean
from merge.simulator import responses as answer
from merge.simulator.account import Account, Video
from merge.simulator.asset_store import unknown_asset
from merge.simulator.exchange import (
    Handler,
    InvalidParameter,
    base_url,
    loop_time,
    page_request,
    parse_json_object,
    wait_until,
)
from merge.simulator.idempotency import Answer, fingerprint
from merge.simulator.schedule import Clock
from merge.simulator.settings import MAX_PAGE
from merge.simulator.v3 import IDEMPOTENCY_HEADER, as_order, check_key, check_request
from merge.simulator.views import bulk_item, page_token, v3_video
from merge.simulator.webhooks import Webhooks

VIDEOS = "/v3/videos"
STATUSES = "/v3/videos/statuses"
LIST_QUERY = ("limit", "token", "folder_id", "title")
STATUSES_QUERY = ("video_ids", "batch_ids")
LIST_DEFAULT = 10
REPLAYED_HEADER = "Idempotent-Replayed"
"""Marks a replayed answer; the simulator's own signal, not one HeyGen is known to send."""


def v3_routes(account: Account, clock: Clock, webhooks: Webhooks) -> list[Route]:
    """List the v3 routes, served from `account`."""
    api = _V3Api(account, clock, webhooks)
    return [
        Route(VIDEOS, api.create, methods=["POST"]),
        Route(VIDEOS, api.keyed(api.videos), methods=["GET"]),
        Route(STATUSES, api.keyed(api.statuses), methods=["GET"]),
        Route(VIDEOS + "/{video_id}", api.keyed(api.video), methods=["GET"]),
    ]


def times_itself(scope: Scope) -> bool:
    """Say whether a request's handler waits out the latency itself, while its key is held."""
    return scope.get("method") == "POST" and scope["path"] == VIDEOS


@dataclass(frozen=True, slots=True)
class _Accepted:
    """A video made for a create request, and the Idempotency-Key held for it, if any."""

    video: Video
    key: str | None


class _V3Api:
    """Serve the v3 endpoints, reading time from one clock."""

    def __init__(self, account: Account, clock: Clock, webhooks: Webhooks) -> None:
        self.account = account
        self.settings = account.settings
        self.keys = account.idempotency
        self.clock = clock
        self.webhooks = webhooks

    def keyed(self, handler: Handler) -> Handler:
        """Wrap an endpoint so it answers v3's 401 unless the request carries an accepted key."""

        async def checked(request: Request) -> Response:
            if not self._authorized(request):
                return _unauthorized()
            return await handler(request)

        return checked

    def _authorized(self, request: Request) -> bool:
        """Count a v3 request and say whether its API key opens the account."""
        return self.account.authorize(request.headers.get("x-api-key", ""), "v3_requests")

    async def create(self, request: Request) -> Response:
        """Create a video, or answer what an earlier request with the same key got."""
        # The latency middleware skips this route: the wait belongs here, while the key is held.
        ready = loop_time() + self.settings.latency
        outcome = await self._outcome(request)
        if isinstance(outcome, Response):
            await wait_until(ready)
            return outcome
        return await self._deliver(outcome, ready)

    async def _outcome(self, request: Request) -> Response | _Accepted:
        """Pass a create request through V2's gates in V2's order, the key's claim before quota."""
        if not self._authorized(request):
            return _unauthorized()
        refused = self._refusal()
        if refused is not None:
            return refused
        checked = await self._checked_body(request)
        if isinstance(checked, Response):
            return checked
        body, key = checked
        if key is not None:
            earlier = self._claim(key, body)
            if earlier is not None:
                return earlier
        video = self.account.accept(as_order(body), self.clock())
        if video is None:
            if key is not None:
                self.keys.release(key)
            message = _quota_message(self.settings.daily_quota or 0)
            return answer.v3_error(402, "insufficient_credit", message)
        self.webhooks.schedule(video, base_url(request))
        return _Accepted(video, key)

    def _refusal(self) -> Response | None:
        """Roll the injected 5xx and 429 faults, then spend a rate-limit token."""
        status = self.account.refusal()
        if status is not None and status != 429:
            message = "Internal server error, please try again"
            return answer.v3_error(status, "internal_error", message)
        now = self.clock()
        wait = self.settings.retry_after if status else self.account.wait_for_token(now)
        wait = wait or self.account.wait_for_job(now)
        if wait:
            return answer.v3_error(429, "rate_limit_exceeded", "Too many requests", wait=wait)
        return None

    async def _checked_body(self, request: Request) -> tuple[dict[str, Any], str | None] | Response:
        """Read and check the body and Idempotency-Key, or count a rejection and return its 400."""
        try:
            raw = await request.body()
        except ClientDisconnect:  # the client hung up mid-request: nothing was made
            return Response(status_code=400)
        key = request.headers.get(IDEMPOTENCY_HEADER)
        try:
            _only_query(request.query_params, ())
            body = parse_json_object(raw)
            check_key(key)
            check_request(body)
            unknown = unknown_asset(body, self.account.assets)
            if unknown is not None:
                raise InvalidParameter(*unknown)
        except InvalidParameter as exc:
            self.account.count("rejected_invalid")
            return answer.v3_error(400, "invalid_parameter", str(exc), exc.param)
        return body, key

    def _claim(self, key: str, body: dict[str, Any]) -> Response | None:
        """Hold a fresh key and return None, or answer for a key already seen."""
        claim = self.keys.claim(key, fingerprint(body), self.clock())
        if claim.verdict == "in_flight":
            self.account.count("idempotency_conflicts")
            message = "A request with this Idempotency-Key is still being processed; retry later"
            return answer.v3_error(409, "request_in_progress", message, IDEMPOTENCY_HEADER)
        if claim.verdict == "reused":
            # The key, not the body, names the request: HeyGen replays and logs a warning.
            self.account.count("idempotency_mismatches")
        if claim.answer is not None:
            self.account.count("idempotent_replays")
            replayed = {REPLAYED_HEADER: "true"}
            return JSONResponse(claim.answer.body, claim.answer.status, headers=replayed)
        return None

    async def _deliver(self, accepted: _Accepted, ready: float) -> Response:
        """Answer a made video whole, cut off or late, keeping the answer for its key either way."""
        data = {"video_id": accepted.video.id, "status": "waiting", "output_format": "mp4"}
        body = {"data": data}
        delivery = self.account.delivery()
        try:
            await wait_until(ready)
            if delivery == "late":
                # Unlike V2's, the wait runs on when the client hangs up: the key stays in flight.
                await asyncio.sleep(self.settings.late_by)
        finally:
            if accepted.key is not None:
                self.keys.settle(accepted.key, Answer(200, body))
        if delivery == "reset":
            return answer.CutOffResponse(body)
        return JSONResponse(body)

    async def video(self, request: Request) -> Response:
        """Report one video's status."""
        try:
            _only_query(request.query_params, ())
        except InvalidParameter as exc:
            return answer.v3_error(400, "invalid_parameter", str(exc), exc.param)
        video_id = request.path_params["video_id"]
        video = self.account.find(video_id)
        if video is None:
            self.account.count("not_found")
            message = f"Video not found: {video_id}"
            return answer.v3_error(404, "video_not_found", message, "video_id")
        now, base, ttl = self.clock(), base_url(request), self.settings.url_ttl
        return answer.v3_ok(v3_video(video, now, base, ttl))

    async def videos(self, request: Request) -> Response:
        """List videos a page at a time, newest first, as contract §3.2: `data` is the array."""
        query = request.query_params
        try:
            _only_query(query, LIST_QUERY)
            limit, below = page_request(query, LIST_DEFAULT)
        except InvalidParameter as exc:
            return answer.v3_error(400, "invalid_parameter", str(exc), exc.param)
        now, base, ttl = self.clock(), base_url(request), self.settings.url_ttl
        title = query.get("title")
        if title:
            videos, next_below = self.account.page_titled(below, limit, title)
        else:
            videos, next_below = self.account.page(below, limit)
        if query.get("folder_id"):
            videos = []  # the simulator has no folders: every video is at the root
        items = [v3_video(video, now, base, ttl) for video in videos]
        token = page_token(next_below)
        return JSONResponse({"data": items, "has_more": token is not None, "next_token": token})

    async def statuses(self, request: Request) -> Response:
        """Report up to 100 videos' statuses (contract §3.3); unknown ids are `not_found`."""
        query = request.query_params
        try:
            _only_query(query, STATUSES_QUERY)
            ids = _id_list(query.get("video_ids"), "video_ids")
            batches = _id_list(query.get("batch_ids"), "batch_ids")
            if not ids and not batches:
                raise InvalidParameter("video_ids", "give video_ids or batch_ids")
            if len(ids) > MAX_PAGE:
                raise InvalidParameter("video_ids", f"at most {MAX_PAGE} ids, not {len(ids)}")
        except InvalidParameter as exc:
            return answer.v3_error(400, "invalid_parameter", str(exc), exc.param)
        now = self.clock()
        items = [bulk_item(i, self.account.find(i), now) for i in dict.fromkeys(ids)]
        return JSONResponse({"data": items, "has_more": False, "next_token": None})


def _only_query(query: Mapping[str, str], known: tuple[str, ...]) -> None:
    """Refuse a query parameter the contract does not list (whether HeyGen ignores it is n.c.)."""
    for name in query:
        if name not in known:
            raise InvalidParameter(
                name, f"is not a known query parameter{did_you_mean(name, known)}"
            )


def _id_list(text: str | None, name: str) -> list[str]:
    """Read a comma-separated list of ids; an empty part is refused."""
    if text is None:
        return []
    parts = [part.strip() for part in text.split(",")]
    if not all(parts):
        raise InvalidParameter(name, "must be ids separated by commas, with none empty")
    return parts


def _unauthorized() -> Response:
    """Answer v3's 401 for a missing or wrong API key."""
    return answer.v3_error(401, "unauthorized", answer.UNAUTHORIZED)


def _quota_message(quota: int) -> str:
    """Say why a video was refused for lack of credit."""
    videos = "video" if quota == 1 else "videos"
    return f"Insufficient credit: the daily quota of {quota} {videos} is spent"
