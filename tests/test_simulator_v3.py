"""The simulator's v3 video endpoints over real loopback HTTP, beside V2 on one account."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from merge.simulator import Simulator
from merge.simulator.exchange import InvalidParameter
from merge.simulator.idempotency import Answer, IdempotencyKeys, fingerprint
from merge.simulator.schedule import estimate_duration, over_plan
from merge.simulator.v3 import as_order, check_key, check_request
from tests.bodies import body as v2_body
from tests.test_simulator import HEX_ID, START, FakeClock, receiving, running

VIDEOS = "/v3/videos"
GOLDEN_V3 = Path(__file__).resolve().parent / "golden_v3"


def avatar(**fields: Any) -> dict[str, Any]:
    """Build a valid one-scene body; `fields` add or replace top-level fields."""
    base = {"type": "avatar", "avatar_id": "Daisy-inskirt-20220818", "script": "Hello there!"}
    return base | {"voice_id": "2d5b0e6cf36f460aa7fc47e3eee4ba54"} | fields


def studio(*scenes: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """Build a valid studio body from scenes (two default ones when none)."""
    scene = {key: value for key, value in avatar().items() if key != "type"}
    return {"type": "studio", "scenes": list(scenes) or [scene, scene], **fields}


def post(
    http: httpx.Client, payload: Any, key: str | None = None, **options: Any
) -> httpx.Response:
    """Send a create request, with an Idempotency-Key when given."""
    headers = {"Idempotency-Key": key} if key is not None else {}
    return http.post(VIDEOS, json=payload, headers=headers, **options)


def video_id(response: httpx.Response) -> str:
    """Return the id a successful create answered."""
    assert response.status_code == 200, response.text
    found: str = response.json()["data"]["video_id"]
    return found


def error_of(response: httpx.Response) -> dict[str, Any]:
    """Return a v3 error answer's `error`, checking the shape around it."""
    payload = response.json()
    assert set(payload) == {"error"}
    found: dict[str, Any] = payload["error"]
    assert set(found) == {"code", "message", "param", "doc_url"}
    return found


def retry_replays(sim: Simulator, http: httpx.Client, callback_id: str) -> None:
    """Retry with key `<callback_id>-1` and check the answer replays the one video it made."""
    replay = post(http, avatar(callback_id=callback_id), key=f"{callback_id}-1")
    assert video_id(replay) == sim.video_ids()[callback_id][0]
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert sim.accepted() == {callback_id: 1}


def video_of(http: httpx.Client, vid: str) -> dict[str, Any]:
    """Return the v3 status object of one video."""
    response = http.get(f"{VIDEOS}/{vid}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()["data"]
    return found


# Creating


def test_create_answers_a_pending_32_hex_id_and_counts_as_v3() -> None:
    with running() as (sim, http):
        response = post(http, avatar(callback_id="row-1"))
        assert response.json() == {"data": {"video_id": video_id(response), "status": "pending"}}
        assert HEX_ID.fullmatch(video_id(response))
        assert sim.accepted() == {"row-1": 1}
        assert sim.stats()["v3_requests"] == 1
        assert sim.stats()["created"] == 1


def test_v2_and_v3_share_one_account() -> None:
    with running() as (sim, http):
        first = video_id(http.post("/v2/video/generate", json=v2_body(callback_id="row")))
        second = video_id(post(http, studio(callback_id="row")))
        v2_view = http.get("/v1/video_status.get", params={"video_id": second}).json()["data"]
        assert video_of(http, first)["callback_id"] == "row"
        assert v2_view["callback_id"] == "row"
        assert sim.video_ids() == {"row": [first, second]}
        assert sim.stats()["requests"] == 4
        assert sim.stats()["v3_requests"] == 2


def test_an_invalid_body_gets_400_naming_the_param() -> None:
    with running() as (sim, http):
        response = post(http, avatar(voice_settings={"speed": 3}))
        not_json = http.post(VIDEOS, content=b"[1]")
        bad_key = post(http, avatar(), key="has space")
        assert response.status_code == not_json.status_code == bad_key.status_code == 400
        assert error_of(response) == {
            "code": "invalid_parameter",
            "message": "voice_settings.speed is invalid: 3 is not between 0.5 and 1.5",
            "param": "voice_settings.speed",
            "doc_url": None,
        }
        assert error_of(not_json)["param"] is None
        assert error_of(bad_key)["param"] == "Idempotency-Key"
        assert sim.accepted() == {}
        assert sim.stats()["rejected_invalid"] == 3


@pytest.mark.parametrize(
    ("payload", "param", "problem"),
    [
        ({"avatar_id": "a"}, "type", "is required"),
        (avatar(type="video"), "type", 'must be "avatar" or "studio", not \'video\''),
        (avatar(scripts="x"), "scripts", 'is not a known field (did you mean "script"?)'),
        ({"type": "avatar", "script": "Hi", "voice_id": "v"}, "avatar_id", "is required"),
        (avatar(voice_id=7), "voice_id", "must be a non-empty string, not 7"),
        (avatar(audio_url="https://x/a.mp3"), "audio_url", "or an audio source, not both"),
        ({"type": "avatar", "avatar_id": "a"}, "script", "is required"),
        ({"type": "avatar", "avatar_id": "a", "script": "Hi"}, "voice_id", "is required"),
        (avatar(voice_settings={"pitch": 60}), "voice_settings.pitch", "60 is not between"),
        (avatar(voice_settings={"speed": True}), "voice_settings.speed", "must be a number"),
        (avatar(background={"type": "color", "value": "red"}), "background.value", "hex colour"),
        (
            avatar(background={"type": "image", "url": "https://x/i.png", "image_asset_id": "i"}),
            "background.url",
            "give exactly one of url, image_asset_id",
        ),
        (avatar(background={"type": "video", "url": "u"}), "background.type", "not 'video'"),
        (avatar(resolution="8k"), "resolution", "must be one of 720p, 1080p, 4k, not '8k'"),
        (avatar(aspect_ratio="wide"), "aspect_ratio", "is not a ratio like 16:9"),
        (avatar(callback_url="ftp://x/hook"), "callback_url", "http:// or https:// URL"),
        (studio() | {"scenes": []}, "scenes", "must be a list of 1 to 50 scenes"),
        (studio(*[avatar()] * 51), "scenes", "must be a list of 1 to 50 scenes"),
        (studio(avatar()), "scenes[0].type", "is not a known field"),
        (studio(avatar_id="a"), "avatar_id", "is not a known field"),
        (
            studio(*studio()["scenes"][:1], {"avatar_id": "a", "audio_url": "u", "voice_id": "v"}),
            "scenes[1].voice_id",
            "is only used with script",
        ),
    ],
)
def test_structural_problems_name_their_param(payload: Any, param: str, problem: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        check_request(payload)
    assert caught.value.param == param
    assert problem in str(caught.value)


@pytest.mark.parametrize(
    "payload",
    [
        avatar(title="", resolution="4k", aspect_ratio="9:16", callback_url="https://x/h"),
        avatar(voice_settings={"speed": 0.5, "pitch": -50, "locale": "en-US"}),
        {"type": "avatar", "avatar_id": "a", "audio_asset_id": "asset", "title": "Audio"},
        studio({"avatar_id": "a", "audio_url": "https://x/a.mp3"}),
        *[
            json.loads(path.read_text(encoding="utf-8"))["body"]
            for path in sorted(GOLDEN_V3.glob("*.json"))
            if not json.loads(path.read_text(encoding="utf-8"))["gaps"]
        ],
    ],
)
def test_valid_bodies_pass_including_the_clients_own(payload: dict[str, Any]) -> None:
    check_request(payload)


def test_a_v3_body_books_like_its_v2_twin() -> None:
    order = as_order(studio(resolution="4k", title="T", callback_id="c"))
    assert over_plan(order["dimension"], "1080p")
    assert "dimension" not in as_order(avatar())
    assert order["title"] == "T"
    assert order["callback_id"] == "c"
    text = "x" * 150
    slow = as_order(avatar(script=text, voice_settings={"speed": 0.5}))
    assert estimate_duration(slow) == 20.0
    assert estimate_duration(as_order(studio({"avatar_id": "a", "audio_url": "u"}))) == 10.0


# Keys, limits, quota and faults


def test_a_bad_key_gets_the_v3_401() -> None:
    with running(api_key="right") as (sim, _), httpx.Client(base_url=sim.url) as bare:
        wrong = {"X-Api-Key": "wrong"}
        answers = [
            bare.post(VIDEOS, json=avatar(), headers=wrong),
            bare.get(f"{VIDEOS}/{'0' * 32}"),
            bare.get(VIDEOS, headers=wrong),
        ]
        assert [response.status_code for response in answers] == [401] * 3
        assert {json.dumps(error_of(response)) for response in answers} == {
            json.dumps(
                {
                    "code": "unauthorized",
                    "message": "Unauthorized: the API key is invalid",
                    "param": None,
                    "doc_url": None,
                }
            )
        }
        assert sim.accepted() == {}
        assert sim.stats()["unauthorized"] == 3


def test_a_spent_daily_quota_gets_402_insufficient_credit() -> None:
    clock = FakeClock()
    with running(clock, daily_quota=2) as (sim, http):
        video_id(http.post("/v2/video/generate", json=v2_body()))
        video_id(post(http, avatar()))
        refused = post(http, avatar(), key="quota-1")
        assert refused.status_code == 402
        assert error_of(refused)["code"] == "insufficient_credit"
        clock.now += 86_400
        video_id(post(http, avatar(), key="quota-1"))  # the refusal kept nothing for the key
        assert sim.stats()["quota_refused"] == 1
        assert sim.stats()["idempotent_replays"] == 0


def test_the_rate_limit_and_injected_429_answer_with_retry_after() -> None:
    clock = FakeClock()
    with running(clock, rate_limit=1.0) as (sim, http):
        video_id(post(http, avatar(), key="rate-1"))
        limited = post(http, avatar(), key="rate-2")
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "1"
        assert error_of(limited)["code"] == "rate_limit_exceeded"
        clock.now += 1
        video_id(post(http, avatar(), key="rate-2"))
        assert sim.stats()["rate_limited"] == 1
    with running(fail_429=1.0, retry_after=3) as (sim, http):
        injected = post(http, avatar())
        assert injected.status_code == 429
        assert injected.headers["Retry-After"] == "3"
        assert sim.accepted() == {}


def test_injected_server_errors_use_the_v3_shape() -> None:
    with running(fail_5xx=1.0) as (sim, http):
        response = post(http, avatar(), key="five")
        assert response.status_code in (500, 502, 503)
        assert error_of(response)["code"] == "internal_error"
        assert sim.stats()["server_errors"] == 1


# Idempotency-Key


def test_a_retry_with_the_same_key_replays_the_first_answer() -> None:
    with running() as (sim, http):
        payload = avatar(callback_id="once")
        first = post(http, payload, key="row-7:attempt.1")
        again = post(http, dict(reversed(payload.items())), key="row-7:attempt.1")
        assert again.status_code == first.status_code == 200
        assert again.json() == first.json()
        assert again.headers["Idempotent-Replayed"] == "true"
        assert "Idempotent-Replayed" not in first.headers
        assert sim.accepted() == {"once": 1}
        assert sim.stats()["idempotent_replays"] == 1


def test_a_key_reused_with_another_body_gets_422() -> None:
    with running() as (sim, http):
        video_id(post(http, avatar(title="one"), key="k"))
        reused = post(http, avatar(title="two"), key="k")
        assert reused.status_code == 422
        assert error_of(reused)["code"] == "idempotency_key_reused"
        assert sim.accepted() == {"": 1}
        assert sim.stats()["idempotency_mismatches"] == 1


def test_a_refused_body_keeps_nothing_for_its_key() -> None:
    with running() as (sim, http):
        assert post(http, avatar(resolution="8k"), key="fix-me").status_code == 400
        video_id(post(http, avatar(), key="fix-me"))
        assert sim.accepted() == {"": 1}


def test_a_key_is_forgotten_after_24_hours() -> None:
    clock = FakeClock()
    with running(clock) as (sim, http):
        first = video_id(post(http, avatar(), key="day"))
        clock.now += 86_399
        assert video_id(post(http, avatar(), key="day")) == first
        clock.now += 1
        assert video_id(post(http, avatar(), key="day")) != first
        assert sim.accepted() == {"": 2}


def test_a_second_request_while_the_first_is_held_gets_409_then_the_replay() -> None:
    with running(late_answer=1.0, late_by=1.0) as (sim, http):
        began = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            post(http, avatar(callback_id="held"), key="held-1", timeout=0.3)
        conflict = post(http, avatar(callback_id="held"), key="held-1")
        assert conflict.status_code == 409
        assert error_of(conflict)["code"] == "idempotency_in_progress"
        time.sleep(max(0.0, began + 1.1 - time.monotonic()))
        retry_replays(sim, http, "held")
        assert sim.stats()["idempotency_conflicts"] == 1
        assert sim.stats()["late_answers"] == 1


def test_latency_holds_the_key_too() -> None:
    with running(latency=0.4) as (sim, http):
        answers: list[httpx.Response] = []
        first = threading.Thread(target=lambda: answers.append(post(http, avatar(), key="slow")))
        first.start()
        time.sleep(0.15)
        second = post(http, avatar(), key="slow")
        first.join()
        assert second.status_code == 409
        assert video_id(answers[0])
        assert sim.accepted() == {"": 1}


def test_a_reset_answer_is_replayed_to_the_retry() -> None:
    with running(reset_after_accept=1.0) as (sim, http):
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            post(http, avatar(callback_id="cut"), key="cut-1")
        retry_replays(sim, http, "cut")
        assert sim.stats()["resets"] == 1
        assert sim.stats()["idempotent_replays"] == 1


def test_the_key_store_claims_settles_releases_and_expires() -> None:
    keys = IdempotencyKeys(lifetime=10)
    same, other = fingerprint({"a": 1, "b": 2}), fingerprint({"b": 2, "a": 1})
    assert same == other
    assert keys.claim("k", same, 0).verdict == "new"
    assert keys.claim("k", same, 1).verdict == "in_flight"
    assert keys.claim("k", fingerprint({}), 1).verdict == "reused"
    keys.release("k")
    assert keys.claim("k", same, 2).verdict == "new"
    keys.settle("k", Answer(200, {"data": {}}))
    keys.release("k")  # a settled key stays
    assert keys.claim("k", same, 11).answer == Answer(200, {"data": {}})
    assert keys.claim("k", same, 12).verdict == "new"
    check_key("a" * 255)
    for bad in ("", "a" * 256, "ü", "a/b"):
        with pytest.raises(InvalidParameter):
            check_key(bad)


# Status, bulk status and listing


def test_status_is_v2s_with_waiting_called_pending_and_has_links_once_done() -> None:
    clock = FakeClock()
    with running(clock, slots=1, pending_seconds=1, render_seconds=2) as (sim, http):
        first, second = (video_id(post(http, avatar(callback_id=c))) for c in ("one", "two"))
        pairs = set()
        for offset in (0.0, 1.5, 3.5, 5.5):
            clock.now = START + offset
            for vid in (first, second):
                v2 = http.get("/v1/video_status.get", params={"video_id": vid}).json()["data"]
                pairs.add((v2["status"], video_of(http, vid)["status"]))
        done = video_of(http, first)
    assert pairs == {
        ("pending", "pending"),
        ("waiting", "pending"),
        ("processing", "processing"),
        ("completed", "completed"),
    }
    assert set(done) == {
        "id",
        "video_id",
        "status",
        "video_url",
        "thumbnail_url",
        "duration",
        "callback_id",
        "created_at",
        "error",
    }
    assert done["id"] == done["video_id"] == first
    assert (done["callback_id"], done["created_at"], done["error"]) == ("one", int(START), None)
    assert done["video_url"].startswith(f"{sim.url}/files/{first}.mp4?expires=")
    assert done["thumbnail_url"].startswith(f"{sim.url}/files/{first}.jpg?expires=")
    assert isinstance(done["duration"], float)


def test_a_resolution_above_the_plan_fails_at_render_time() -> None:
    clock = FakeClock()
    with running(clock, plan="720p") as (_, http):
        vid = video_id(post(http, avatar(resolution="1080p")))
        clock.now += 60
        data = video_of(http, vid)
    assert data["status"] == "failed"
    assert data["error"]["code"] == "resolution_not_supported"
    assert data["video_url"] is None


def test_an_unknown_video_or_path_gets_a_v3_404() -> None:
    with running() as (sim, http):
        missing = http.get(f"{VIDEOS}/{'0' * 32}")
        assert missing.status_code == 404
        assert error_of(missing)["code"] == "video_not_found"
        assert error_of(http.get("/v3/nothing"))["code"] == "not_found"
        assert error_of(http.delete(VIDEOS))["code"] == "method_not_allowed"
        assert sim.stats()["not_found"] == 1


def test_bulk_status_reports_found_videos_and_names_the_missing() -> None:
    with running() as (_, http):
        ids = [video_id(post(http, avatar())) for _ in range(2)]
        unknown = "f" * 32
        listed = http.get(VIDEOS, params={"ids": f"{ids[1]}, {unknown},{ids[0]},{ids[1]}"})
        too_many = http.get(VIDEOS, params={"ids": ",".join([ids[0]] + ["x"] * 100 + ["y"])})
        exactly = http.get(VIDEOS, params={"ids": ",".join(f"{n:032x}" for n in range(100))})
        empty = http.get(VIDEOS, params={"ids": ""})
    data = listed.json()["data"]
    assert [video["video_id"] for video in data["videos"]] == [ids[1], ids[0]]
    assert data["missing"] == [unknown]
    assert data["videos"][0]["status"] == "pending"
    assert too_many.status_code == empty.status_code == 400
    assert error_of(too_many)["param"] == "ids"
    assert len(exactly.json()["data"]["missing"]) == 100


def test_the_listing_pages_newest_first_across_v2_and_v3() -> None:
    with running() as (_, http):
        first = video_id(http.post("/v2/video/generate", json=v2_body(title="v2")))
        second = video_id(post(http, avatar(title="v3")))
        third = video_id(post(http, studio()))
        page = http.get(VIDEOS, params={"limit": 2}).json()["data"]
        rest = http.get(VIDEOS, params={"limit": 2, "token": page["next_token"]}).json()["data"]
        bad = http.get(VIDEOS, params={"limit": 0})
    assert [item["video_id"] for item in page["videos"]] == [third, second]
    assert set(page["videos"][1]) == {"video_id", "status", "title", "created_at"}
    assert page["videos"][1]["title"] == "v3"
    assert [item["video_id"] for item in rest["videos"]] == [first]
    assert rest["next_token"] is None
    assert bad.status_code == 400
    assert error_of(bad)["param"] == "limit"


def test_a_v3_callback_url_gets_the_shared_webhook_event() -> None:
    clock = FakeClock()
    with receiving() as receiver, running(clock, pending_seconds=0, render_seconds=1) as (_, http):
        vid = video_id(post(http, avatar(callback_id="hook", callback_url=f"{receiver.url}/cb")))
        clock.now += 2
        deadline = time.monotonic() + 5
        while not receiver.posts("/cb"):
            assert time.monotonic() < deadline, "no webhook arrived"
            time.sleep(0.02)
    event = json.loads(receiver.posts("/cb")[0].body)
    assert event["event_type"] == "avatar_video.success"
    assert event["event_data"]["video_id"] == vid
