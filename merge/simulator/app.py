"""The HTTP face of the simulated account: HeyGen's endpoints, its file host and admin views."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from merge.simulator import responses as answer
from merge.simulator.account import Account, Video
from merge.simulator.api_v3 import times_itself, v3_routes
from merge.simulator.asset_store import unknown_asset
from merge.simulator.assets import asset_routes
from merge.simulator.exchange import (
    Handler,
    InvalidParameter,
    base_url,
    hold,
    page_request,
    parse_json_object,
)
from merge.simulator.files import file_body, file_response
from merge.simulator.schedule import Clock
from merge.simulator.settings import WEB_SCHEMES, SimulatorSettings
from merge.simulator.v2 import check_body
from merge.simulator.views import list_item, page_token, status_data
from merge.simulator.webhooks import Webhooks

ADMIN_PREFIX = "/_simulator/"
V2_GONE = "This legacy API endpoint was removed on 2026-11-01; use the v3 API"
"""What a retired V2 endpoint answers (the exact words HeyGen uses are not known)."""
V3_PREFIX = "/v3/"


def create_app(settings: SimulatorSettings, clock: Clock = time.time) -> Starlette:
    """Build a simulator app with a fresh account; its account is at `app.state.account`."""
    return build_app(Account(settings), clock)


def build_app(account: Account, clock: Clock = time.time) -> Starlette:
    """Build the app around an existing account, so its owner can read it while it serves.

    Its webhook sender is at `app.state.webhooks`; whoever runs the app closes it on stopping.
    """
    webhooks = Webhooks(account, clock)
    api = _Api(account, clock, webhooks)
    routes = [
        Route("/v2/video/generate", api.keyed(api.create), methods=["POST"]),
        Route("/v1/video_status.get", api.keyed(api.status), methods=["GET"]),
        Route("/v1/video.list", api.keyed(api.listing), methods=["GET"]),
        Route("/v2/user/remaining_quota", api.keyed(api.quota), methods=["GET"]),
        Route("/v1/webhook/endpoint.add", api.keyed(api.add_endpoint), methods=["POST"]),
        Route("/files/{name}", api.file, methods=["GET"]),
        Route(f"{ADMIN_PREFIX}accepted", api.admin_accepted, methods=["GET"]),
        Route(f"{ADMIN_PREFIX}stats", api.admin_stats, methods=["GET"]),
        Route(f"{ADMIN_PREFIX}webhooks", api.admin_webhooks, methods=["GET"]),
        *v3_routes(account, clock, webhooks),
        *asset_routes(account),
    ]
    latency = account.settings.latency
    middleware = [Middleware(_Latency, seconds=latency)] if latency > 0 else []
    app = Starlette(
        routes=routes, middleware=middleware, exception_handlers={HTTPException: _http_error}
    )
    app.state.account = account
    app.state.webhooks = webhooks
    answer.hide_cut_tracebacks()
    return app


class _Api:
    """Serve HeyGen's endpoints from one account, reading time from one clock."""

    def __init__(self, account: Account, clock: Clock, webhooks: Webhooks) -> None:
        self.account = account
        self.settings = account.settings
        self.clock = clock
        self.webhooks = webhooks

    def keyed(self, handler: Handler) -> Handler:
        """Wrap an endpoint so it answers 401 unless the request carries an accepted API key."""

        async def checked(request: Request) -> Response:
            if not self.account.authorize(request.headers.get("x-api-key", "")):
                return answer.unauthorized()
            if self.settings.v2_retired:
                self.account.count("v2_retired")
                return answer.error(410, "endpoint_removed", V2_GONE)
            return await handler(request)

        return checked

    async def create(self, request: Request) -> Response:
        """Create a video, unless a fault, the rate limit, the body or the quota says no."""
        refusal = self.account.refusal()
        if refusal is not None:
            return _fault(refusal, self.settings.retry_after)
        wait = self.account.wait_for_token(self.clock())
        if wait:
            return answer.error(429, "rate_limit_exceeded", "Too many requests", wait)
        body = await self._valid_body(request)
        if isinstance(body, Response):
            return body
        video = self.account.accept(body, self.clock())
        if video is None:
            return _quota_spent(self.settings.daily_quota or 0)
        self.webhooks.schedule(video, base_url(request))
        return await self._deliver(request, video)

    async def _valid_body(self, request: Request) -> dict[str, Any] | Response:
        """Read and validate a create body, or count the rejection and return its 400."""
        try:
            raw = await request.body()
        except ClientDisconnect:  # the client hung up mid-request: nothing was made
            return Response(status_code=400)
        try:
            body, problems = check_body(parse_json_object(raw))
        except InvalidParameter as exc:
            refusal = answer.invalid(str(exc))
        else:
            unknown = unknown_asset(body, self.account.assets) if not problems else None
            if not problems and unknown is None:
                return body
            if unknown is not None:
                refusal = answer.invalid(str(InvalidParameter(*unknown)))
            else:
                refusal = answer.invalid_body(problems)
        self.account.count("rejected_invalid")
        return refusal

    async def _deliver(self, request: Request, video: Video) -> Response:
        """Answer an accepted video's id: whole, cut off mid-answer, or after the client gave up."""
        data = {"video_id": video.id}
        delivery = self.account.delivery()
        if delivery == "reset":
            return answer.CutOffResponse({"error": None, "data": data})
        if delivery == "late":
            await hold(request, self.settings.late_by)
        return answer.ok(data)

    async def status(self, request: Request) -> Response:
        """Report one video's status, computed from the clock."""
        video_id = request.query_params.get("video_id", "")
        if not video_id:
            return answer.invalid("video_id is invalid: is required")
        video = self.account.find(video_id)
        if video is None:
            self.account.count("not_found")
            return answer.not_found("video_not_found", f"Video not found: {video_id}")
        data = status_data(video, self.clock(), base_url(request), self.settings.url_ttl)
        return answer.ok_v1(data)

    async def listing(self, request: Request) -> Response:
        """List videos newest first, a page at a time."""
        try:
            limit, below = page_request(request.query_params)
        except InvalidParameter as exc:
            return answer.invalid(str(exc))
        videos, next_below = self.account.page(below, limit)
        now = self.clock()
        items = [list_item(video, now) for video in videos]
        return answer.ok_v1({"videos": items, "token": page_token(next_below)})

    async def quota(self, request: Request) -> Response:
        """Report the seconds of video the account has left."""
        return answer.ok({"remaining_quota": self.account.remaining_quota(self.clock())})

    async def add_endpoint(self, request: Request) -> Response:
        """Register a webhook endpoint once its URL answers an OPTIONS request, as HeyGen does."""
        try:
            parsed = parse_json_object(await request.body())
        except ClientDisconnect:
            return Response(status_code=400)
        except InvalidParameter as exc:
            return answer.invalid(str(exc))
        url, events = parsed.get("url"), parsed.get("events") or []
        if not isinstance(url, str) or not url.startswith(WEB_SCHEMES):
            return answer.invalid("url is invalid: must be an http:// or https:// URL")
        if not isinstance(events, list) or not all(isinstance(name, str) for name in events):
            return answer.invalid("events is invalid: must be a list of event names")
        problem = await self.webhooks.check(url)
        if problem is not None:
            return answer.invalid(f"url is invalid: {problem}")
        endpoint = self.account.add_endpoint(url, events)
        data = {"endpoint_id": endpoint.endpoint_id, "url": url, "events": events}
        return answer.ok_v1(data | {"secret": endpoint.secret})

    async def file(self, request: Request) -> Response:
        """Serve a finished video's file; links need no key, but expire like signed CDN links."""
        now = self.clock()
        refusal = answer.link_refusal(request.query_params.get("expires"), now)
        if refusal is not None:
            return refusal
        video_id, _, kind = request.path_params["name"].partition(".")
        video = self.account.find(video_id)
        found = file_body(video, kind, now, self.settings.file_bytes) if video else None
        if found is None:
            return answer.not_found("file_not_found", "File not found")
        return file_response(found, request.headers.get("range"), self.settings.file_rate)

    async def admin_accepted(self, request: Request) -> Response:
        """Show the ids issued per callback_id, so another process can count duplicates."""
        issued = self.account.video_ids()
        accepted = {key: len(ids) for key, ids in issued.items()}
        total = sum(accepted.values())
        return JSONResponse({"accepted": accepted, "video_ids": issued, "total": total})

    async def admin_stats(self, request: Request) -> Response:
        """Show the counters."""
        return JSONResponse(self.account.stats())

    async def admin_webhooks(self, request: Request) -> Response:
        """Show every webhook attempt and skip, oldest first."""
        return JSONResponse(self.account.deliveries())


class _Latency:
    """Delay every HeyGen answer by a fixed time, leaving the admin views prompt."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Wait, then let the app answer."""
        path = scope.get("path", "")
        if (
            scope["type"] == "http"
            and not path.startswith(ADMIN_PREFIX)
            and not times_itself(scope)
        ):
            await asyncio.sleep(self.seconds)
        await self.app(scope, receive, send)


def _fault(status: int, wait: float) -> Response:
    """Answer an injected fault: a 429 with Retry-After, or a server error."""
    if status == 429:
        return answer.error(429, "rate_limit_exceeded", "Too many requests", wait)
    return answer.error(status, "internal_error", "Internal server error, please try again")


def _quota_spent(quota: int) -> Response:
    """Answer 429 for a spent daily quota; retrying today will not help."""
    videos = "video" if quota == 1 else "videos"
    message = f"Trial video limit exceeded: {quota} {videos} per day"
    return answer.error(429, "trial_video_limit_exceeded", message)


async def _http_error(request: Request, exc: Exception) -> Response:
    """Answer routing errors (unknown path, wrong method) in HeyGen's V2 or v3 JSON shape."""
    if not isinstance(exc, HTTPException):
        raise exc
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "error")
    message = f"{exc.detail}: {request.method} {request.url.path}"
    error = {"code": code, "message": message}
    if request.url.path.startswith(V3_PREFIX):
        body: dict[str, Any] = {"error": error | {"param": None, "doc_url": None}}
    else:
        body = {"data": None, "error": error}
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)
