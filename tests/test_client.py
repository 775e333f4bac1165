"""What each kind of API answer means, and how transport failures are told apart."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from merge.api.client import (
    ApiError,
    Created,
    HeyGenClient,
    NoAnswer,
    NotSent,
    Refused,
    classify,
    open_http,
    parse_retry_after,
)
from merge.api.v3 import VIDEOS_PATH, HeyGenV3Client
from merge.settings import READ_ATTEMPTS
from tests.fakes import FakeClock

ID = "a" * 32


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, {"error": None, "data": {"video_id": ID}}, Created(ID)),
        (200, {"code": 100, "data": {"video_id": ID}, "message": "Success"}, Created(ID)),
        (200, {"error": None, "data": {}}, NoAnswer("HTTP 200 without a video_id in the answer")),
        (200, None, NoAnswer("HTTP 200 without a video_id in the answer")),
    ],
)
def test_success_needs_a_video_id_and_no_error(status: int, body: Any, expected: object) -> None:
    assert classify(status, body) == expected


def refusal(status: int, code: str, message: str = "m") -> Refused:
    outcome = classify(status, {"data": None, "error": {"code": code, "message": message}})
    assert isinstance(outcome, Refused)
    return outcome


def test_http_200_carrying_an_error_is_a_refusal() -> None:
    outcome = classify(200, {"data": {"video_id": ID}, "error": {"code": "x", "message": "no"}})
    assert isinstance(outcome, Refused)
    assert outcome.describe() == "HTTP 200 x: no"


@pytest.mark.parametrize(
    ("status", "code", "message", "kind"),
    [
        (400, "invalid_parameter", "video_inputs is invalid: field required", "invalid"),
        (404, "not_found", "avatar not found", "invalid"),
        (401, "unauthorized", "Unauthorized", "auth"),
        (403, "forbidden", "no", "auth"),
        (400, "400112", "UNAUTHORIZED", "auth"),
        (400, "bad", "Invalid API key", "auth"),
        (429, "rate_limit_exceeded", "slow down", "rate"),
        (429, "trial_video_limit_exceeded", "Trial limit", "quota"),
        (402, "insufficient_credit", "no credits", "quota"),
        (500, "internal_error", "oops", "server"),
        (503, "", "unavailable", "server"),
    ],
)
def test_refusal_kinds(status: int, code: str, message: str, kind: str) -> None:
    assert refusal(status, code, message).kind == kind


def test_error_as_plain_text_and_legacy_message() -> None:
    assert classify(400, {"error": "bad voice"}) == Refused("invalid", 400, "", "bad voice")
    legacy = classify(400, {"code": 40001, "message": "bad"})
    assert legacy == Refused("invalid", 400, "40001", "bad")


@pytest.mark.parametrize(
    ("header", "seconds"),
    [(None, None), ("", None), ("3", 3.0), ("0.5", 0.5), ("-2", 0.0), ("soon", None)],
)
def test_retry_after_in_seconds(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds


def test_retry_after_as_http_date() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0


def create_with(handler: Any) -> Any:
    async def go() -> Any:
        async with httpx.AsyncClient(
            transport=httpx.MockTransport(handler), base_url="http://test"
        ) as http:
            return await HeyGenClient(http).create_video(b"{}")

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (httpx.ConnectError("refused"), NotSent),
        (httpx.ConnectTimeout("slow"), NotSent),
        (httpx.ReadTimeout("late"), NoAnswer),
        (httpx.RemoteProtocolError("closed"), NoAnswer),
        (httpx.ReadError("reset"), NoAnswer),
        (httpx.WriteError("broken"), NoAnswer),
    ],
)
def test_transport_failures_split_into_never_sent_and_unknown(error: Exception, kind: type) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    assert isinstance(create_with(handler), kind)


def test_create_sends_key_and_body_and_reads_retry_after() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            429, json={"error": {"code": "rate_limit_exceeded"}}, headers={"Retry-After": "2"}
        )

    outcome = create_with(handler)
    assert outcome == Refused("rate", 429, "rate_limit_exceeded", "", 2.0)
    assert seen[0].url.path == "/v2/video/generate"
    assert seen[0].headers["content-type"] == "application/json"


def reads(handler: Any, call: Any) -> Any:
    clock = FakeClock()

    async def go() -> Any:
        async with httpx.AsyncClient(
            transport=httpx.MockTransport(handler), base_url="http://test"
        ) as http:
            return await call(HeyGenClient(http, clock.sleep))

    return asyncio.run(go()), clock


def test_status_and_list_raise_api_error_on_failure() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path == "/v1/video.list":
            return httpx.Response(500, text="<html>")
        return httpx.Response(404, json={"data": None, "error": {"code": "video_not_found"}})

    async def status(client: HeyGenClient) -> None:
        with pytest.raises(ApiError, match="HTTP 404 video_not_found"):
            await client.video_status("x")

    async def listing(client: HeyGenClient) -> None:
        with pytest.raises(ApiError, match="HTTP 500"):
            await client.list_videos()

    reads(handler, status)
    assert calls == ["/v1/video_status.get"]
    _, clock = reads(handler, listing)
    assert calls.count("/v1/video.list") == READ_ATTEMPTS
    assert len(clock.sleeps) == READ_ATTEMPTS - 1


def test_reads_are_retried_after_a_dropped_connection_and_a_429() -> None:
    answers: Iterator[httpx.Response | Exception] = iter(
        [
            httpx.ReadError("connection reset"),
            httpx.Response(429, json={"error": {"code": "rate"}}, headers={"Retry-After": "4"}),
            httpx.Response(200, json={"code": 100, "data": {"id": "v", "callback_id": "k"}}),
        ]
    )

    def handler(request: httpx.Request) -> httpx.Response:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def status(client: HeyGenClient) -> Any:
        return await client.video_status("v")

    data, clock = reads(handler, status)
    assert data["callback_id"] == "k"
    assert 4.0 <= clock.sleeps[1] <= 4.4


def test_list_returns_page_and_next_token() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params["limit"] == "100"
        token = request.url.params.get("token")
        page = {"videos": [{"video_id": "1" if token is None else "2"}], "token": token or "t2"}
        if token:
            page["token"] = None
        return httpx.Response(200, json={"code": 100, "data": page})

    async def go() -> list[Any]:
        async with httpx.AsyncClient(
            transport=httpx.MockTransport(handler), base_url="http://test"
        ) as http:
            client = HeyGenClient(http)
            first, token = await client.list_videos()
            second, end = await client.list_videos(token)
            return [first, token, second, end]

    assert asyncio.run(go()) == [[{"video_id": "1"}], "t2", [{"video_id": "2"}], None]


@pytest.mark.parametrize(
    "base", ["http://127.0.0.1:8", "http://127.0.0.1:8/", "http://h.test/api/"]
)
def test_the_create_url_is_joined_once_as_httpx_joins_it(base: str) -> None:
    async def go() -> tuple[httpx.URL, httpx.URL, httpx.URL]:
        async with httpx.AsyncClient(base_url=base) as http:
            client = HeyGenV3Client(http)
            first = client.create_url()
            http.base_url = "http://other.test/"
            return first, http.build_request("POST", VIDEOS_PATH).url, client.create_url()

    first, joined, moved = asyncio.run(go())
    assert first == httpx.AsyncClient(base_url=base).build_request("POST", VIDEOS_PATH).url
    assert moved == joined == httpx.URL("http://other.test/v3/videos")


def test_cookies_an_answer_sets_go_back_with_later_requests() -> None:
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        if len(seen) == 2:
            return httpx.Response(200, headers={"Set-Cookie": "lb=a1; Path=/"}, json={})
        return httpx.Response(200, json={"error": None, "data": {"video_id": ID}})

    async def go() -> None:
        async with open_http("http://127.0.0.1:9", "k", 5.0, 1) as http:
            http._transport = httpx.MockTransport(handler)
            client = HeyGenClient(http)
            for _ in range(3):
                await client.create_video(b"{}")
            assert dict(http.cookies) == {"lb": "a1"}

    asyncio.run(go())
    assert seen == [None, None, "lb=a1"]
