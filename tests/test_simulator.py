"""The HeyGen simulator over real loopback HTTP, plus its pure scheduling and limit rules."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest

from merge.simulator import Simulator, SimulatorSettings, create_app, video_bytes
from merge.simulator import webhooks as webhooks_module
from merge.simulator.account import Account, Video
from merge.simulator.files import RangeNotSatisfiable, byte_range, video_slice
from merge.simulator.limits import Dice, TokenBucket, retry_after
from merge.simulator.schedule import RenderSlots, estimate_duration, over_plan
from merge.simulator.views import page_token, read_page_token
from merge.simulator.webhooks import is_loopback_url
from tests.bodies import body, scene

KEY = {"X-Api-Key": "test-key"}
GENERATE = "/v2/video/generate"
STATUS = "/v1/video_status.get"
LIST = "/v1/video.list"
ADD_ENDPOINT = "/v1/webhook/endpoint.add"
HEX_ID = re.compile(r"[0-9a-f]{32}")
START = 1_800_000_000.0


class FakeClock:
    """A clock the test moves by hand, so statuses change without sleeping."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@contextmanager
def running(clock: Any = time.time, **settings: Any) -> Iterator[tuple[Simulator, httpx.Client]]:
    """Run a simulator with `settings` and hand back a client that sends a valid key."""
    with (
        Simulator(SimulatorSettings(**settings), clock=clock) as sim,
        httpx.Client(base_url=sim.url, headers=KEY, timeout=5) as http,
    ):
        yield sim, http


def create(http: httpx.Client, callback_id: str | None = None, **top: Any) -> httpx.Response:
    """Send a valid create request, tagged with `callback_id` when given."""
    extra = top | ({"callback_id": callback_id} if callback_id is not None else {})
    return http.post(GENERATE, json=body(**extra))


def video_id(response: httpx.Response) -> str:
    """Return the id a successful create answered."""
    assert response.status_code == 200, response.text
    found: str = response.json()["data"]["video_id"]
    return found


def status_of(http: httpx.Client, vid: str) -> dict[str, Any]:
    """Return the status endpoint's `data` for one video."""
    response = http.get(STATUS, params={"video_id": vid})
    assert response.status_code == 200, response.text
    assert response.json()["code"] == 100
    data: dict[str, Any] = response.json()["data"]
    return data


def error_of(response: httpx.Response) -> dict[str, Any]:
    """Return an error answer's `error`, checking the shape around it."""
    payload = response.json()
    assert payload["data"] is None
    found: dict[str, Any] = payload["error"]
    return found


def finished_video(http: httpx.Client, clock: FakeClock, **top: Any) -> tuple[str, dict[str, Any]]:
    """Create a video, move the clock past its rendering, and return its id and status."""
    vid = video_id(http.post(GENERATE, json=body(**top)))
    clock.now += 60
    return vid, status_of(http, vid)


def eventually(check: Callable[[], bool], seconds: float = 5.0) -> None:
    """Wait until `check()` holds, failing after `seconds`."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


def closed_port() -> int:
    """Return a loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class Received(NamedTuple):
    """One request a receiver got."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """A webhook receiver on 127.0.0.1: records requests, answers POSTs with scripted statuses."""

    def __init__(self, statuses: list[int], options: int) -> None:
        self.statuses = statuses
        self.options = options
        self.got: list[Received] = []
        self.url = ""

    def posts(self, path: str | None = None) -> list[Received]:
        """Return the POSTs received so far, to `path` when given."""
        return [r for r in self.got if r.method == "POST" and path in (None, r.path)]

    def handler(self) -> type[BaseHTTPRequestHandler]:
        """Build a request handler class that reports to this receiver."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.answer(receiver.statuses.pop(0) if receiver.statuses else 200)

            def do_OPTIONS(self) -> None:
                self.answer(receiver.options)

            def answer(self, status: int) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {key.lower(): value for key, value in self.headers.items()}
                receiver.got.append(Received(self.command, self.path, headers, raw))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


@contextmanager
def receiving(*statuses: int, options: int = 200) -> Iterator[Receiver]:
    """Run a receiver whose POSTs get `statuses` in turn (then 200) and OPTIONS gets `options`."""
    receiver = Receiver(list(statuses), options)
    server = ThreadingHTTPServer(("127.0.0.1", 0), receiver.handler())
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


# Creating videos


def test_create_answers_a_32_hex_video_id() -> None:
    with running() as (_, http):
        response = create(http, "row-1")
    assert response.status_code == 200
    assert response.json()["error"] is None
    assert HEX_ID.fullmatch(response.json()["data"]["video_id"])


def test_accepted_counts_videos_per_callback_id() -> None:
    with running() as (sim, http):
        ids = [video_id(create(http, cid)) for cid in ("a", "a", "b", None)]
        assert sim.accepted() == {"a": 2, "b": 1, "": 1}
        assert sim.video_ids() == {"a": ids[:2], "b": [ids[2]], "": [ids[3]]}
        assert sim.stats()["created"] == 4


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({}, "video_inputs is invalid: is required"),
        (
            body(scene(voice={"type": "text", "voice_id": "v", "input_text": "Hi", "speed": 3})),
            "video_inputs[0].voice.speed is invalid: 3 is above the maximum 1.5",
        ),
    ],
)
def test_an_invalid_body_is_refused_naming_the_path(payload: Any, expected: str) -> None:
    with running() as (sim, http):
        response = http.post(GENERATE, json=payload)
        assert response.status_code == 400
        assert error_of(response) == {"code": "invalid_parameter", "message": expected}
        assert sim.accepted() == {}
        assert sim.stats()["rejected_invalid"] == 1


def test_the_first_problem_is_named_and_the_rest_counted() -> None:
    with running() as (_, http):
        response = http.post(GENERATE, json=body(dimension={"width": 5000, "height": 100}))
    message = error_of(response)["message"]
    assert message.startswith("dimension.width is invalid: ")
    assert message.endswith("(and 1 more problem)")


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b"\xff\xfe"])
def test_a_body_that_is_not_a_json_object_is_refused(raw: bytes) -> None:
    with running() as (sim, http):
        response = http.post(GENERATE, content=raw)
        assert response.status_code == 400
        assert error_of(response)["code"] == "invalid_parameter"
        assert sim.accepted() == {}


# Keys, limits and quota


@pytest.mark.parametrize(
    ("api_key", "sent"),
    [(None, None), (None, ""), ("right", "wrong")],
    ids=["missing", "empty", "wrong"],
)
def test_a_bad_key_gets_401_and_creates_nothing(api_key: str | None, sent: str | None) -> None:
    headers = {"X-Api-Key": sent} if sent is not None else {}
    with running(api_key=api_key) as (sim, _), httpx.Client(base_url=sim.url) as bare:
        for response in (
            bare.post(GENERATE, json=body(), headers=headers),
            bare.get(STATUS, params={"video_id": "0" * 32}, headers=headers),
            bare.get(LIST, headers=headers),
            bare.get("/v2/user/remaining_quota", headers=headers),
            bare.post(ADD_ENDPOINT, json={"url": "http://127.0.0.1:9/"}, headers=headers),
        ):
            assert response.status_code == 401
            assert error_of(response) == {
                "code": "unauthorized",
                "message": "Unauthorized: the API key is invalid",
            }
        assert sim.accepted() == {}
        assert sim.stats()["unauthorized"] == 5


def test_the_configured_key_is_accepted() -> None:
    with running(api_key="test-key") as (sim, http):
        video_id(create(http, "row-1"))
        assert sim.accepted() == {"row-1": 1}


def test_a_burst_beyond_the_rate_limit_gets_429_with_retry_after() -> None:
    clock = FakeClock()
    with running(clock, rate_limit=2.0) as (sim, http):
        answers = [create(http, "burst") for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert error_of(answers[2])["code"] == "rate_limit_exceeded"
        assert answers[2].headers["Retry-After"] == "1"
        clock.now += 0.5
        assert create(http, "burst").status_code == 200
        assert sim.accepted() == {"burst": 3}
        assert sim.stats()["rate_limited"] == 1


def test_the_daily_quota_refuses_videos_until_the_next_day() -> None:
    clock = FakeClock()
    with running(clock, daily_quota=2) as (sim, http):
        assert [create(http, "q").status_code for _ in range(2)] == [200, 200]
        refused = create(http, "q")
        assert refused.status_code == 429
        assert error_of(refused) == {
            "code": "trial_video_limit_exceeded",
            "message": "Trial video limit exceeded: 2 videos per day",
        }
        quota = http.get("/v2/user/remaining_quota").json()
        assert quota == {"error": None, "data": {"remaining_quota": 3600 - 2 * 60}}
        clock.now += 86_400
        assert create(http, "q").status_code == 200
        assert sim.accepted() == {"q": 3}
        assert sim.stats()["quota_refused"] == 1


def test_without_a_quota_the_remaining_quota_is_large() -> None:
    with running() as (_, http):
        remaining = http.get("/v2/user/remaining_quota").json()["data"]["remaining_quota"]
    assert remaining >= 100 * 3600


def test_latency_delays_heygen_answers_but_not_the_admin_views() -> None:
    with running(latency=0.2) as (sim, http):
        began = time.monotonic()
        http.get(LIST)
        assert time.monotonic() - began >= 0.2
        began = time.monotonic()
        httpx.get(f"{sim.url}/_simulator/stats")
        assert time.monotonic() - began < 0.2


# Status, files and listing


def test_status_moves_from_pending_through_waiting_to_completed() -> None:
    clock = FakeClock()
    with running(clock, slots=1, pending_seconds=1, render_seconds=2) as (sim, http):
        first, second = video_id(create(http, "one")), video_id(create(http, "two"))
        seen = []
        for offset in (0.0, 1.5, 3.5, 5.5):
            clock.now = START + offset
            seen.append((status_of(http, first)["status"], status_of(http, second)["status"]))
        done = status_of(http, first)
    assert seen == [
        ("pending", "pending"),
        ("processing", "waiting"),
        ("completed", "processing"),
        ("completed", "completed"),
    ]
    assert done["id"] == first
    assert done["callback_id"] == "one"
    assert done["created_at"] == int(START)
    assert done["error"] is None
    assert isinstance(done["duration"], float)
    assert done["video_url"].startswith(f"{sim.url}/files/{first}.mp4?expires=")


def test_an_unfinished_video_has_no_urls() -> None:
    with running(pending_seconds=60) as (_, http):
        data = status_of(http, video_id(create(http, "slow")))
    urls = ("video_url", "thumbnail_url", "gif_url", "caption_url", "video_url_caption")
    assert [data[key] for key in urls] == [None] * 5
    assert data["duration"] is None


def test_a_completed_video_serves_its_files() -> None:
    clock = FakeClock()
    with running(clock) as (_, http):
        vid = video_id(create(http, "files", caption=True))
        assert http.get(f"/files/{vid}.mp4?expires={int(START) + 600}").status_code == 404
        clock.now += 60
        data = status_of(http, vid)
        with httpx.Client() as no_key:
            types = {
                key: no_key.get(data[key]).headers["content-type"]
                for key in ("video_url", "thumbnail_url", "gif_url", "video_url_caption")
            }
            assert no_key.get(data["caption_url"]).status_code == 200
        assert http.get(f"/files/{'0' * 32}.mp4?expires={int(START) + 600}").status_code == 404
        unsigned = http.get(f"/files/{vid}.mp4")
        assert unsigned.status_code == 403
        assert unsigned.json()["error"]["code"] == "access_denied"
    assert types == {
        "video_url": "video/mp4",
        "thumbnail_url": "image/jpeg",
        "gif_url": "image/gif",
        "video_url_caption": "video/mp4",
    }


def test_file_links_expire_after_url_ttl_and_a_fresh_status_renews_them() -> None:
    clock = FakeClock()
    with running(clock, url_ttl=3600) as (sim, http):
        vid, data = finished_video(http, clock)
        url = data["video_url"]
        assert url == f"{sim.url}/files/{vid}.mp4?expires={int(clock.now) + 3600}"
        assert http.get(url).status_code == 200
        clock.now += 3600
        assert http.get(url).status_code == 200
        clock.now += 1
        expired = http.get(url)
        fresh = status_of(http, vid)["video_url"]
        renewed = http.get(fresh)
    assert expired.status_code == 403
    assert expired.json() == {"error": {"code": "url_expired", "message": "Request has expired"}}
    assert fresh != url
    assert renewed.status_code == 200


def test_a_video_file_is_its_ids_bytes_at_the_set_size() -> None:
    clock = FakeClock()
    with running(clock, file_bytes=5000) as (_, http):
        vid, data = finished_video(http, clock)
        response = http.get(data["video_url"])
        thumbnail = http.get(data["thumbnail_url"])
    assert response.status_code == 200
    assert response.content == video_bytes(vid, 5000)
    assert response.content[4:8] == b"ftyp"
    assert response.headers["content-length"] == "5000"
    assert response.headers["accept-ranges"] == "bytes"
    assert len(thumbnail.content) < 100


@pytest.mark.parametrize(
    ("header", "start", "stop"),
    [("bytes=100-199", 100, 200), ("bytes=4990-", 4990, 5000), ("bytes=4990-9999", 4990, 5000)],
)
def test_a_range_request_gets_206_with_that_slice(header: str, start: int, stop: int) -> None:
    clock = FakeClock()
    with running(clock, file_bytes=5000) as (_, http):
        vid, data = finished_video(http, clock)
        response = http.get(data["video_url"], headers={"Range": header})
    assert response.status_code == 206
    assert response.content == video_bytes(vid, 5000)[start:stop]
    assert response.headers["content-range"] == f"bytes {start}-{stop - 1}/5000"
    assert response.headers["content-length"] == str(stop - start)
    assert response.headers["accept-ranges"] == "bytes"


def test_a_range_past_the_end_gets_416() -> None:
    clock = FakeClock()
    with running(clock, file_bytes=5000) as (_, http):
        _, data = finished_video(http, clock)
        response = http.get(data["video_url"], headers={"Range": "bytes=5000-"})
    assert response.status_code == 416
    assert response.headers["content-range"] == "bytes */5000"


def test_file_rate_paces_a_download() -> None:
    clock = FakeClock()
    with running(clock, file_bytes=20_000, file_rate=100_000) as (_, http):
        vid, data = finished_video(http, clock)
        began = time.monotonic()
        response = http.get(data["video_url"])
        took = time.monotonic() - began
    assert response.content == video_bytes(vid, 20_000)
    assert 0.15 <= took < 2.0


@pytest.mark.parametrize(
    ("plan", "dimension", "status"),
    [
        ("720p", {"width": 1920, "height": 1080}, "failed"),
        ("720p", {"width": 720, "height": 1280}, "completed"),
        ("1080p", {"width": 3840, "height": 2160}, "failed"),
        ("4k", {"width": 3840, "height": 2160}, "completed"),
    ],
)
def test_a_video_above_the_plan_fails_at_render_time(
    plan: str, dimension: dict[str, int], status: str
) -> None:
    clock = FakeClock()
    with running(clock, plan=plan) as (_, http):
        vid = video_id(create(http, "big", dimension=dimension))
        clock.now += 60
        data = status_of(http, vid)
    assert data["status"] == status
    if status == "failed":
        assert data["error"]["code"] == 40010
        assert data["error"]["message"] == "Video format not supported"
        assert data["video_url"] is None


def test_render_failure_fails_accepted_videos() -> None:
    clock = FakeClock()
    with running(clock, render_failure=1.0) as (sim, http):
        vid = video_id(create(http, "doomed"))
        assert status_of(http, vid)["status"] == "pending"
        clock.now += 60
        data = status_of(http, vid)
        assert sim.stats()["render_failures"] == 1
    assert data["status"] == "failed"
    assert data["error"]["message"]


def test_an_unknown_video_id_is_404() -> None:
    with running() as (_, http):
        response = http.get(STATUS, params={"video_id": "f" * 32})
    assert response.status_code == 404
    assert error_of(response)["code"] == "video_not_found"


def test_an_unknown_path_is_a_json_404() -> None:
    with running() as (_, http):
        response = http.get("/v9/nothing")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_the_listing_pages_newest_first_without_callback_ids() -> None:
    with running() as (_, http):
        ids = [video_id(create(http, f"row-{n}", title=f"Video {n}")) for n in range(5)]
        pages, token = [], None
        while True:
            params = {"limit": 2} | ({"token": token} if token else {})
            data = http.get(LIST, params=params).json()["data"]
            pages.append(data["videos"])
            token = data["token"]
            if token is None:
                break
    assert [[item["video_id"] for item in page] for page in pages] == [
        ids[4:2:-1],
        ids[2:0:-1],
        ids[:1],
    ]
    first = pages[0][0]
    assert set(first) == {"video_id", "status", "video_title", "created_at"}
    assert first["video_title"] == "Video 4"


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"token": "garbage"}])
def test_a_bad_listing_request_is_400(params: dict[str, Any]) -> None:
    with running() as (_, http):
        response = http.get(LIST, params=params)
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_parameter"


# Faults


def test_fail_5xx_answers_a_server_error_and_creates_nothing() -> None:
    with running(fail_5xx=1.0) as (sim, http):
        codes = {create(http, "flaky").status_code for _ in range(3)}
        assert codes <= {500, 502, 503}
        assert sim.accepted() == {}
        assert sim.stats()["server_errors"] == 3


@pytest.mark.parametrize(("seconds", "header"), [(1.0, "1"), (2.5, "3")])
def test_fail_429_answers_retry_after_and_creates_nothing(seconds: float, header: str) -> None:
    with running(fail_429=1.0, retry_after=seconds) as (sim, http):
        response = create(http, "busy")
        assert response.status_code == 429
        assert response.headers["Retry-After"] == header
        assert error_of(response)["code"] == "rate_limit_exceeded"
        assert sim.accepted() == {}


def test_a_reset_after_accepting_still_creates_the_video() -> None:
    with running(reset_after_accept=1.0) as (sim, http):
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            create(http, "lost")
        assert sim.accepted() == {"lost": 1}
        assert sim.stats()["resets"] == 1


def test_a_late_answer_times_out_the_client_but_the_video_exists() -> None:
    with running(late_answer=1.0, late_by=1.0) as (sim, http):
        with pytest.raises(httpx.ReadTimeout):
            http.post(GENERATE, json=body(callback_id="late"), timeout=0.2)
        assert sim.accepted() == {"late": 1}
        assert sim.stats()["late_answers"] == 1


def test_a_late_answer_arrives_to_a_patient_client() -> None:
    with running(late_answer=1.0, late_by=0.3) as (_, http):
        began = time.monotonic()
        response = create(http, "patient")
    assert response.status_code == 200
    assert time.monotonic() - began >= 0.3


def test_seeded_faults_repeat() -> None:
    def codes() -> list[int]:
        with running(fail_5xx=0.5, seed=7) as (_, http):
            return [create(http, "dice").status_code for _ in range(12)]

    first = codes()
    assert first == codes()
    assert 200 in first
    assert set(first) - {200}


# Webhooks


def signature(raw: bytes, secret: str) -> str:
    """Compute the `signature` header a receiver checks."""
    return hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    ("render_failure", "event_type", "keys"),
    [
        (
            0.0,
            "avatar_video.success",
            {"video_id", "url", "callback_id", "thumbnail_url", "duration"},
        ),
        (1.0, "avatar_video.fail", {"video_id", "msg", "callback_id"}),
    ],
)
def test_a_finished_video_posts_a_signed_event_to_webhook_url(
    render_failure: float, event_type: str, keys: set[str]
) -> None:
    clock = FakeClock()
    with (
        receiving() as hook,
        running(
            clock,
            webhook_url=f"{hook.url}/hook",
            webhook_secret="s3cret",
            render_failure=render_failure,
        ) as (sim, http),
    ):
        vid = video_id(create(http, "row-1"))
        time.sleep(0.1)
        assert hook.posts() == []
        clock.now += 60
        eventually(lambda: sim.stats()["webhooks_sent"] == 1)
        status = status_of(http, vid)
        log = sim.webhooks()
        assert httpx.get(f"{sim.url}/_simulator/webhooks").json() == log
    (event,) = hook.posts()
    payload = json.loads(event.body)
    assert event.path == "/hook"
    assert event.headers["signature"] == signature(event.body, "s3cret")
    assert payload["event_type"] == event_type
    assert set(payload["event_data"]) == keys
    assert payload["event_data"]["video_id"] == vid
    assert payload["event_data"]["callback_id"] == "row-1"
    if render_failure:
        assert payload["event_data"]["msg"].startswith(status["error"]["message"])
    else:
        assert payload["event_data"]["url"] == status["video_url"]
        assert payload["event_data"]["thumbnail_url"] == status["thumbnail_url"]
    entry = {"url": f"{hook.url}/hook", "event_type": event_type, "video_id": vid}
    assert log == [entry | {"status": 200, "attempt": 1}]


def test_a_requests_callback_url_gets_its_event_unsigned() -> None:
    clock = FakeClock()
    with receiving() as hook, running(clock, webhook_secret="unused") as (sim, http):
        vid, _ = finished_video(http, clock, callback_url=f"{hook.url}/cb", callback_id="c-1")
        eventually(lambda: sim.stats()["webhooks_sent"] == 1)
    (event,) = hook.posts("/cb")
    assert "signature" not in event.headers
    assert json.loads(event.body)["event_data"]["video_id"] == vid
    assert json.loads(event.body)["event_data"]["callback_id"] == "c-1"


def test_a_registered_endpoint_gets_the_events_it_subscribed_to() -> None:
    clock = FakeClock()
    with receiving() as hook, running(clock) as (sim, http):
        added = http.post(ADD_ENDPOINT, json={"url": f"{hook.url}/all", "events": []})
        fail_only = {"url": f"{hook.url}/fail", "events": ["avatar_video.fail"]}
        assert http.post(ADD_ENDPOINT, json=fail_only).status_code == 200
        vid, _ = finished_video(http, clock)
        eventually(lambda: sim.stats()["webhooks_sent"] == 1)
        assert len(sim.webhooks()) == 1
    assert added.status_code == 200
    answer = added.json()
    assert (answer["code"], answer["message"]) == (100, "Success")
    data = answer["data"]
    assert set(data) == {"endpoint_id", "url", "events", "secret"}
    assert (data["url"], data["events"]) == (f"{hook.url}/all", [])
    assert re.fullmatch(r"[0-9a-f]+", data["endpoint_id"] + data["secret"])
    assert [(r.method, r.path) for r in hook.got if r.method == "OPTIONS"] == [
        ("OPTIONS", "/all"),
        ("OPTIONS", "/fail"),
    ]
    (event,) = hook.posts()
    assert event.path == "/all"
    assert event.headers["signature"] == signature(event.body, data["secret"])
    assert json.loads(event.body)["event_data"]["video_id"] == vid


def test_an_endpoint_that_fails_its_options_check_is_refused() -> None:
    with receiving(options=405) as hook, running() as (_, http):
        urls = {
            f"{hook.url}/hook": "answered an OPTIONS request with HTTP 405",
            f"http://127.0.0.1:{closed_port()}/hook": "did not answer an OPTIONS request",
            "https://example.com/hook": "only sends requests to loopback addresses",
            "ftp://127.0.0.1/hook": "must be an http:// or https:// URL",
        }
        answers = {url: http.post(ADD_ENDPOINT, json={"url": url}) for url in urls}
        not_a_list = http.post(ADD_ENDPOINT, json={"url": hook.url, "events": "all"})
    for url, expected in urls.items():
        assert answers[url].status_code == 400
        assert error_of(answers[url])["code"] == "invalid_parameter"
        assert expected in error_of(answers[url])["message"]
    assert error_of(not_a_list)["message"].startswith("events is invalid")
    assert [r.path for r in hook.got] == ["/hook"]


def test_webhooks_to_other_machines_are_skipped_and_counted() -> None:
    clock = FakeClock()
    with running(clock, webhook_url="http://example.com/hook") as (sim, http):
        vid, _ = finished_video(http, clock, callback_url="http://10.0.0.1/cb")
        eventually(lambda: sim.stats()["webhooks_skipped"] == 2)
        log = sim.webhooks()
        assert sim.stats()["webhooks_sent"] == sim.stats()["webhooks_failed"] == 0
    assert [(e["url"], e["video_id"], e["attempt"]) for e in log] == [
        ("http://example.com/hook", vid, 0),
        ("http://10.0.0.1/cb", vid, 0),
    ]
    assert all(e["status"].startswith("skipped: ") for e in log)


@pytest.mark.parametrize(
    ("answers", "counter"),
    [((500,), "webhooks_sent"), ((500, 503, 500), "webhooks_failed")],
    ids=["recovers", "gives-up"],
)
def test_a_webhook_is_tried_three_times(
    monkeypatch: pytest.MonkeyPatch, answers: tuple[int, ...], counter: str
) -> None:
    monkeypatch.setattr(webhooks_module, "WEBHOOK_RETRY_SECONDS", 0.05)
    clock = FakeClock()
    with receiving(*answers) as hook, running(clock, webhook_url=hook.url) as (sim, http):
        finished_video(http, clock)
        eventually(lambda: sim.stats()[counter] == 1)
        log = sim.webhooks()
        stats = sim.stats()
    expected = [*answers, 200][:3]
    assert [(e["status"], e["attempt"]) for e in log] == [
        (status, n) for n, status in enumerate(expected, 1)
    ]
    assert len(hook.posts()) == len(expected)
    assert stats["webhooks_sent"] + stats["webhooks_failed"] == 1


def test_a_webhook_nobody_answers_fails_after_three_tries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webhooks_module, "WEBHOOK_RETRY_SECONDS", 0.05)
    clock = FakeClock()
    with running(clock, webhook_url=f"http://127.0.0.1:{closed_port()}/") as (sim, http):
        finished_video(http, clock)
        eventually(lambda: sim.stats()["webhooks_failed"] == 1)
        log = sim.webhooks()
    assert [e["attempt"] for e in log] == [1, 2, 3]
    assert all(e["status"].startswith("ConnectError") for e in log)


def test_stop_cancels_a_delivery_waiting_to_retry() -> None:
    clock = FakeClock()
    with receiving(500, 500, 500) as hook:
        sim = Simulator(SimulatorSettings(webhook_url=hook.url), clock=clock).start()
        with httpx.Client(base_url=sim.url, headers=KEY) as http:
            finished_video(http, clock)
        eventually(lambda: len(sim.webhooks()) == 1)
        began = time.monotonic()
        sim.stop()
        assert time.monotonic() - began < 0.9
        time.sleep(0.2)
    assert len(hook.posts()) == 1


# Admin views and the server's life


def test_the_admin_views_need_no_key() -> None:
    with running() as (sim, http):
        ids = [video_id(create(http, "a")), video_id(create(http))]
        accepted = httpx.get(f"{sim.url}/_simulator/accepted").json()
        stats = httpx.get(f"{sim.url}/_simulator/stats").json()
    assert accepted == {
        "accepted": {"a": 1, "": 1},
        "video_ids": {"a": ids[:1], "": ids[1:]},
        "total": 2,
    }
    assert stats["created"] == 2
    assert stats["requests"] == 2


def test_stop_is_idempotent_and_frees_the_port() -> None:
    sim = Simulator().start()
    port = int(sim.url.rsplit(":", 1)[1])
    assert httpx.get(f"{sim.url}/_simulator/stats").status_code == 200
    sim.stop()
    sim.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{sim.url}/_simulator/stats")
    with Simulator(port=port) as again:
        assert again.url == sim.url
        assert httpx.get(f"{again.url}/_simulator/stats").status_code == 200


def test_stop_does_not_wait_for_a_held_back_answer() -> None:
    sim = Simulator(SimulatorSettings(late_answer=1.0, late_by=30.0)).start()
    with socket.create_connection(("127.0.0.1", int(sim.url.rsplit(":", 1)[1]))) as conn:
        raw = b'{"video_inputs": [{"voice": {"type": "silence"}}]}'
        head = f"POST {GENERATE} HTTP/1.1\r\nHost: x\r\nX-Api-Key: k\r\n"
        conn.sendall(f"{head}Content-Length: {len(raw)}\r\n\r\n".encode() + raw)
        while not sim.stats()["late_answers"]:
            time.sleep(0.01)
        began = time.monotonic()
        sim.stop()
        assert time.monotonic() - began < 5
        assert conn.recv(1024) == b""


def test_a_taken_port_fails_to_start() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError, match="in use"):
            Simulator(port=taken.getsockname()[1]).start()


def test_two_simulators_run_at_once_with_their_own_accounts() -> None:
    with running() as (one, first), running() as (two, second):
        assert one.url != two.url
        video_id(create(first, "one"))
        video_id(create(second, "two"))
        assert (one.accepted(), two.accepted()) == ({"one": 1}, {"two": 1})


def test_create_app_keeps_its_account_on_the_app() -> None:
    app = create_app(SimulatorSettings(slots=2))
    assert app.state.account.settings.slots == 2


def test_serve_runs_in_the_foreground_and_stops_on_ctrl_c() -> None:
    script = (
        "from merge.simulator import SimulatorSettings, serve\n"
        "serve(SimulatorSettings(), port=0, ready=lambda url: print(url, flush=True))\n"
        "print('stopped', flush=True)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert httpx.post(f"{url}{GENERATE}", json=body(), headers=KEY).status_code == 200
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert out.strip() == "stopped"
    assert "Traceback" not in err


# Pure rules


def test_settings_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match=r"fail_5xx must be between 0 and 1.*plan must be one of"):
        SimulatorSettings(fail_5xx=2.0, plan="8k")
    with pytest.raises(ValueError, match=r"file_rate must be above 0; render_jitter must be"):
        SimulatorSettings(file_rate=0, render_jitter=1.0)
    with pytest.raises(ValueError, match=r"webhook_url must start with http"):
        SimulatorSettings(webhook_url="127.0.0.1:8001/hook")


def test_render_jitter_spreads_finishing_times_within_its_bounds() -> None:
    def finishes(jitter: float, seed: int) -> list[float]:
        settings = SimulatorSettings(
            slots=50, pending_seconds=0, render_seconds=10, render_jitter=jitter, seed=seed
        )
        account = Account(settings)
        videos = [account.accept(body(), 0.0) for _ in range(40)]
        return [video.timeline.finished for video in videos if isinstance(video, Video)]

    spread = finishes(0.5, seed=1)
    assert len(spread) == 40
    assert all(5.0 <= t <= 15.0 for t in spread)
    assert max(spread) - min(spread) > 5.0
    assert finishes(0.5, seed=1) == spread
    assert set(finishes(0.0, seed=1)) == {10.0}


def test_render_slots_queue_videos_first_come_first_served() -> None:
    slots = RenderSlots(2)
    timelines = [slots.book(created, pending=1.0, render=10.0) for created in (0.0, 0.0, 0.0)]
    assert [(t.started, t.finished) for t in timelines] == [(1.0, 11.0), (1.0, 11.0), (11.0, 21.0)]
    assert [timelines[2].status(now) for now in (0.5, 5.0, 15.0, 21.0)] == [
        "pending",
        "waiting",
        "processing",
        "completed",
    ]
    assert timelines[2].status(21.0, failed=True) == "failed"


def test_the_token_bucket_refills_at_its_rate() -> None:
    bucket = TokenBucket(0.5)
    assert bucket.take(0.0) == 0.0
    assert bucket.take(0.0) == pytest.approx(2.0)
    assert bucket.take(1.0) == pytest.approx(1.0)
    assert bucket.take(2.0) == 0.0
    assert [retry_after(s) for s in (0.0, 0.2, 1.0, 1.01)] == ["1", "1", "1", "2"]


def test_dice_are_certain_at_the_ends_and_repeat_when_seeded() -> None:
    dice = Dice(None)
    assert not dice.roll(0.0)
    assert dice.roll(1.0)
    rolls = [[dice.roll(0.5) for _ in range(20)] for dice in (Dice(3), Dice(3))]
    assert rolls[0] == rolls[1]


def test_the_plan_cap_applies_in_either_orientation() -> None:
    assert not over_plan(None, "720p")
    assert not over_plan({"width": 1080, "height": 1920}, "1080p")
    assert over_plan({"width": 1081, "height": 1921}, "1080p")


def test_duration_is_estimated_from_the_scripts() -> None:
    text = {"type": "text", "voice_id": "v", "input_text": "x" * 150}
    silence = {"type": "silence", "duration": 4.0}
    assert estimate_duration(body(scene(voice=text), scene(voice=silence))) == 14.0
    assert estimate_duration(body(scene(voice={**text, "input_text": "Hi"}))) == 1.0


def test_video_bytes_are_fixed_by_the_id_and_any_slice_matches() -> None:
    whole = video_bytes("a" * 32, 1000)
    assert len(whole) == 1000
    assert whole == video_bytes("a" * 32, 1000)
    assert whole != video_bytes("b" * 32, 1000)
    assert video_bytes("a" * 32, 10) == whole[:10]
    for start, stop in [(0, 1), (20, 30), (24, 56), (33, 1000), (999, 1000)]:
        assert video_slice("a" * 32, start, stop) == whole[start:stop]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-0", (0, 1)),
        ("bytes=10-", (10, 100)),
        ("bytes=-10", (90, 100)),
        ("bytes=-500", (0, 100)),
        ("bytes=90-500", (90, 100)),
        ("items=0-1", None),
        ("bytes=0-1,5-6", None),
        ("bytes=5-1", None),
        ("bytes=-", None),
    ],
)
def test_byte_ranges_are_read_or_ignored(header: str | None, expected: Any) -> None:
    assert byte_range(header, 100) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=100-200", "bytes=-0"])
def test_a_range_outside_the_file_is_not_satisfiable(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        byte_range(header, 100)


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:8000/hook", True),
        ("http://localhost/hook", True),
        ("http://[::1]:9000/", True),
        ("https://127.0.0.2/", True),
        ("http://10.0.0.1/", False),
        ("https://example.com/hook", False),
        ("ftp://127.0.0.1/", False),
        ("not a url", False),
    ],
)
def test_only_loopback_urls_get_webhooks(url: str, loopback: bool) -> None:
    assert is_loopback_url(url) is loopback


def test_page_tokens_round_trip_and_refuse_strangers() -> None:
    assert page_token(None) is None
    token = page_token(41)
    assert token is not None
    assert read_page_token(token) == 41
    for stranger in ("garbage", "aGVsbG8=", "YmVsb3c6LTE="):
        with pytest.raises(ValueError, match="page token"):
            read_page_token(stranger)


EXAMPLES = Path(__file__).resolve().parent / "golden" / "heygen-examples"


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.name[:2])
def test_the_simulators_own_v2_checks_agree_with_the_official_examples(example: Path) -> None:
    from merge.payload.validate import validate_payload
    from merge.simulator.v2 import check_body

    body = json.loads(example.read_text(encoding="utf-8"))
    _, problems = check_body(json.loads(json.dumps(body)))
    valid = example.name[:2] not in ("05", "06")  # the notes: 05 and 06 are not valid requests
    assert (problems == []) is valid, problems
    assert validate_payload(body).ok is valid  # and the client's models say the same


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"elevanlabs_settings": {}}, "video_inputs[0].voice.elevanlabs_settings"),
        ({"speed": "fast"}, "video_inputs[0].voice.speed"),
        ({"pitch": 1.5}, "video_inputs[0].voice.pitch"),
        ({"input_text": "x" * 5_000}, "video_inputs[0].voice.input_text"),
        ({"voice_id": " "}, "video_inputs[0].voice.voice_id"),
        ({"emotion": "Angry"}, "video_inputs[0].voice.emotion"),
    ],
)
def test_the_simulator_refuses_a_v2_voice_the_notes_refuse(change: dict[str, Any], path: str):
    from merge.simulator.v2 import check_body

    voice = {"type": "text", "voice_id": "v", "input_text": "Hi"} | change
    _, problems = check_body(body(scene(voice=voice)))
    assert [p.path for p in problems] == [path]
