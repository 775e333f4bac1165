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
from merge.simulator.idempotency import Answer, Claim, IdempotencyKeys, fingerprint
from merge.simulator.schedule import estimate_duration, over_plan
from merge.simulator.v3 import as_order, check_key, check_request
from tests.bodies import body as v2_body
from tests.test_simulator import HEX_ID, START, FakeClock, receiving, running

VIDEOS = "/v3/videos"
STATUSES = "/v3/videos/statuses"
GOLDEN_V3 = Path(__file__).resolve().parent / "golden_v3"


def avatar(**fields: Any) -> dict[str, Any]:
    """Build a valid one-scene body; `fields` add or replace top-level fields."""
    base = {"type": "avatar", "avatar_id": "Daisy-inskirt-20220818", "script": "Hello there!"}
    return base | {"voice_id": "2d5b0e6cf36f460aa7fc47e3eee4ba54"} | fields


def studio(*scenes: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """Build a valid studio body from scenes (two default avatar_video scenes when none)."""
    spoken = {key: value for key, value in avatar().items() if key != "type"}
    scene = {"type": "avatar_video", "input": {"type": "avatar", **spoken}}
    return {"type": "studio", "scenes": list(scenes) or [scene, scene], **fields}


def avatar_scene(**fields: Any) -> dict[str, Any]:
    """Build one valid avatar_video scene; `fields` add to or replace its input."""
    spoken = {key: value for key, value in avatar().items() if key != "type"}
    return {"type": "avatar_video", "input": {"type": "avatar", **spoken, **fields}}


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


def test_create_answers_a_waiting_32_hex_id_and_counts_as_v3() -> None:
    with running() as (sim, http):
        response = post(http, avatar(callback_id="row-1"))
        data = {"video_id": video_id(response), "status": "waiting", "output_format": "mp4"}
        assert response.json() == {"data": data}
        assert HEX_ID.fullmatch(video_id(response))
        assert sim.accepted() == {"row-1": 1}
        assert sim.stats()["v3_requests"] == 1
        assert sim.stats()["created"] == 1


def test_v2_and_v3_share_one_account() -> None:
    with running() as (sim, http):
        first = video_id(http.post("/v2/video/generate", json=v2_body(callback_id="row")))
        second = video_id(post(http, studio(callback_id="row")))
        v2_view = http.get("/v1/video_status.get", params={"video_id": second}).json()["data"]
        assert video_of(http, first)["id"] == first
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
            "message": "voice_settings.speed is invalid: 3 is out of range",
            "param": "voice_settings.speed",
            "doc_url": None,
        }
        assert error_of(not_json)["param"] is None
        assert error_of(bad_key)["param"] == "Idempotency-Key"
        assert sim.accepted() == {}
        assert sim.stats()["rejected_invalid"] == 3


COLOUR = {"type": "color", "value": "#0E1B2C"}
IMAGE_URL = {"type": "url", "url": "https://example.com/i.png"}


@pytest.mark.parametrize(
    ("payload", "param", "problem"),
    [
        ({"avatar_id": "a"}, "type", "is required"),
        (avatar(type="video"), "type", 'must be "avatar", "image" or "studio", not \'video\''),
        (avatar(scripts="x"), "scripts", 'is not a known field (did you mean "script"?)'),
        ({"type": "avatar", "script": "Hi", "voice_id": "v"}, "avatar_id", "is required"),
        (avatar(voice_id=7), "voice_id", "must be a non-empty string, not 7"),
        (avatar(audio_url="https://x/a.mp3"), "audio_url", "give one audio source"),
        ({"type": "avatar", "avatar_id": "a"}, "script", "is required"),
        (avatar(script="x" * 5_001), "script", "at most 5,000 characters"),
        (avatar(voice_settings={"pitch": 60}), "voice_settings.pitch", "60 is out of range"),
        (avatar(voice_settings={"speed": True}), "voice_settings.speed", "must be a number"),
        # the contract: a string speed is refused (seen by users)
        (avatar(voice_settings={"speed": "1.1"}), "voice_settings.speed", "must be a number"),
        (avatar(voice_settings={"volume": 2}), "voice_settings.volume", "out of range"),
        (avatar(background={"type": "color", "value": "red"}), "background.value", "colour"),
        (avatar(background={"type": "color"}), "background.value", "colour"),
        # V2's key for an uploaded picture: v3 says asset_id
        (
            avatar(background={"type": "image", "image_asset_id": "i"}),
            "background.image_asset_id",
            'is not a known field (did you mean "asset_id"?)',
        ),
        (
            avatar(background={"type": "image", "url": "https://x/i.png", "asset_id": "i"}),
            "background.url",
            "give exactly one of url, asset_id",
        ),
        (avatar(background={"type": "video", "url": "u"}), "background.type", "not 'video'"),
        (avatar(output_format="webm", background=COLOUR), "background", 'output_format "webm"'),
        (avatar(output_format=None), "output_format", "must be one of mp4, webm"),
        (avatar(resolution="8k"), "resolution", "must be one of 4k, 1080p, 720p, not '8k'"),
        (avatar(aspect_ratio="4:3"), "aspect_ratio", "must be one of 16:9"),
        (avatar(callback_url="ftp://x/hook"), "callback_url", "http:// or https:// URL"),
        # V2's caption: true; v3 takes an object
        (avatar(caption=True), "caption", "must be an object"),
        (avatar(caption={"style": "burned"}), "caption.style", "must be one of default"),
        (avatar(engine={"type": "avatar_vi"}), "engine.type", "must be one of"),
        (avatar(engine="avatar_iii"), "engine", "must be an object"),
        (
            avatar(engine={"type": "avatar_iii"}, expressiveness="high"),
            "expressiveness",
            "avatar_iii",
        ),
        (
            avatar(engine={"type": "avatar_iii"}, motion_prompt="wave"),
            "motion_prompt",
            "avatar_iii",
        ),
        (avatar(engine={"type": "avatar_v"}, expressiveness="low"), "expressiveness", "avatar_v"),
        # V2's elevenlabs_settings beside the voice: v3 has voice_settings.engine_settings
        (avatar(elevenlabs_settings={"model": "eleven_v3"}), "elevenlabs_settings", "not a known"),
        (
            avatar(voice_settings={"engine_settings": {"engine_type": "eleven"}}),
            "voice_settings.engine_settings.engine_type",
            "must be",
        ),
        (
            avatar(
                voice_settings={
                    "engine_settings": {"engine_type": "elevenlabs", "model": "eleven_turbo_v2"}
                }
            ),
            "voice_settings.engine_settings.model",
            "must be one of",
        ),
        (
            avatar(
                voice_settings={
                    "engine_settings": {
                        "engine_type": "elevenlabs",
                        "model": "eleven_v3",
                        "stability": 0.3,
                    }
                }
            ),
            "voice_settings.engine_settings.stability",
            "0, 0.5 or 1",
        ),
        (
            {"type": "image", "image": IMAGE_URL, "script": "Hi"},
            "voice_id",
            "is required with script",
        ),
        ({"type": "image", "script": "Hi", "voice_id": "v"}, "image", "is required"),
        (
            {"type": "image", "image": {"type": "url", "url": "http://x/i.png"}, "audio_url": "u"},
            "image.url",
            "https://",
        ),
        (
            avatar(engine={"type": "avatar_iv"}) | {"type": "image", "image": IMAGE_URL},
            "avatar_id",
            "is not a known field",
        ),
        (studio() | {"scenes": []}, "scenes", "must be a list of 1 to 50 scenes"),
        (studio(*[avatar_scene()] * 51), "scenes", "must be a list of 1 to 50 scenes"),
        # the old flat scene: a scene names its type and puts the avatar in `input`
        (studio({k: v for k, v in avatar().items() if k != "type"}), "scenes[0].type", "must be"),
        (studio(avatar_id="a"), "avatar_id", "is not a known field"),
        (studio(background=COLOUR), "background", "is not a known field"),
        (studio(engine={"type": "avatar_iv"}), "engine", "is not a known field"),
        # a studio colour is {"type": "color", "color": "#RRGGBB"}, not V2's `value`
        (
            studio(avatar_scene(background={"type": "color", "value": "#0e1b2c"})),
            "scenes[0].input.background.value",
            "is not a known field",
        ),
        (
            studio(avatar_scene(background={"type": "color", "color": "#abc"})),
            "scenes[0].input.background.color",
            "colour like #FF0000",
        ),
        (
            studio(avatar_scene(background={"type": "image", "url": "https://x/i.png"})),
            "scenes[0].input.background.type",
            'must be "color"',
        ),
        (
            studio(avatar_scene(remove_background=True)),
            "scenes[0].input.remove_background",
            "not a known",
        ),
        (
            studio({"type": "avatar_video", "input": {"type": "avatar", "avatar_id": "a"}}),
            "scenes[0].input.script",
            "is required",
        ),
        (studio({"type": "image", "source": IMAGE_URL}), "scenes[0].duration", "is required"),
        (
            studio({"type": "image", "source": IMAGE_URL, "duration": 0}),
            "scenes[0].duration",
            "out of range",
        ),
        (
            studio({"type": "image", "source": IMAGE_URL, "duration": 301}),
            "scenes[0].duration",
            "out of range",
        ),
        (
            studio(
                {
                    "type": "image",
                    "source": IMAGE_URL,
                    "duration": 2,
                    "audio_url": "https://x/a.mp3",
                }
            ),
            "scenes[0].audio_url",
            "cannot be given with duration",
        ),
        (
            studio({"type": "video", "source": IMAGE_URL, "playback": {"mute": "yes"}}),
            "scenes[0].playback.mute",
            "true or false",
        ),
        (
            studio({"type": "video", "source": {"type": "asset_id"}}),
            "scenes[0].source.asset_id",
            "is required",
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
        studio(
            {
                "type": "avatar_video",
                "input": {"type": "avatar", "avatar_id": "a", "audio_url": "https://x/a.mp3"},
            }
        ),
        studio(
            avatar_scene(
                engine={"type": "avatar_iii"}, background={"type": "color", "color": "#0E1B2C"}
            ),
            {"type": "image", "source": IMAGE_URL, "duration": 1.5},
            {
                "type": "image",
                "source": {"type": "asset_id", "asset_id": "a"},
                "script": "Hi",
                "voice_id": "v",
            },
            {"type": "video", "source": IMAGE_URL, "playback": {"volume": 0, "mute": True}},
            caption={"style": "default"},
            folder_id="f",
        ),
        avatar(
            caption={"file_format": "srt", "style": None},
            engine={"type": "avatar_v", "reference_look_id": "l"},
        ),
        avatar(background={"type": "image", "asset_id": "a"}, remove_background=True, fit="cover"),
        avatar(
            voice_settings={
                "engine_settings": {
                    "engine_type": "elevenlabs",
                    "model": "eleven_v3",
                    "stability": 0.5,
                }
            }
        ),
        {
            "type": "image",
            "image": IMAGE_URL,
            "script": "Hi",
            "voice_id": "v",
            "expressiveness": "high",
        },
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
    audio = {"type": "avatar", "avatar_id": "a", "audio_url": "https://x/a.mp3"}
    assert estimate_duration(as_order(studio({"type": "avatar_video", "input": audio}))) == 10.0
    silent = {"type": "image", "source": IMAGE_URL, "duration": 4}
    assert estimate_duration(as_order(studio(silent))) == 4.0


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


def test_a_key_reused_with_another_body_gets_the_first_answer() -> None:
    # The contract: the key, not the body, names the request (HeyGen only logs a warning).
    with running() as (sim, http):
        first = video_id(post(http, avatar(title="one"), key="k"))
        reused = post(http, avatar(title="two"), key="k")
        assert video_id(reused) == first
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
        assert error_of(conflict)["code"] == "request_in_progress"
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
    assert keys.claim("k", fingerprint({}), 1).verdict == "in_flight"
    keys.release("k")
    assert keys.claim("k", same, 2).verdict == "new"
    keys.settle("k", Answer(200, {"data": {}}))
    assert keys.claim("k", fingerprint({}), 3) == Claim("reused", Answer(200, {"data": {}}))
    keys.release("k")  # a settled key stays
    assert keys.claim("k", same, 11).answer == Answer(200, {"data": {}})
    assert keys.claim("k", same, 12).verdict == "new"
    check_key("a" * 255)
    for bad in ("", "a" * 256, "ü", "a/b"):
        with pytest.raises(InvalidParameter):
            check_key(bad)


# Status, bulk status and listing


def test_a_video_resource_has_the_contracts_fields_and_words() -> None:
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
        "status",
        "title",
        "folder_id",
        "created_at",
        "completed_at",
        "duration",
        "video_url",
        "captioned_video_url",
        "subtitle_url",
        "thumbnail_url",
        "gif_url",
        "video_page_url",
        "failure_code",
        "failure_message",
        "output_language",
    }  # no callback_id, no error: the contract's resource has neither
    assert done["id"] == first
    assert (done["created_at"], done["failure_code"]) == (int(START), None)
    assert done["video_url"].startswith(f"{sim.url}/files/{first}.mp4?expires=")
    assert done["thumbnail_url"].startswith(f"{sim.url}/files/{first}.jpg?expires=")
    assert done["gif_url"].startswith(f"{sim.url}/files/{first}.gif?expires=")
    assert isinstance(done["duration"], float)


def test_a_resolution_above_the_plan_fails_at_render_time() -> None:
    clock = FakeClock()
    with running(clock, plan="720p") as (_, http):
        vid = video_id(post(http, avatar(resolution="1080p")))
        clock.now += 60
        data = video_of(http, vid)
    assert data["status"] == "failed"
    assert data["failure_code"] == "resolution_not_supported"
    assert data["failure_message"].startswith("Video format not supported")
    assert data["video_url"] is None


def test_an_unknown_video_or_path_gets_a_v3_404() -> None:
    with running() as (sim, http):
        missing = http.get(f"{VIDEOS}/{'0' * 32}")
        assert missing.status_code == 404
        assert error_of(missing)["code"] == "video_not_found"
        assert error_of(http.get("/v3/nothing"))["code"] == "not_found"
        assert error_of(http.delete(VIDEOS))["code"] == "method_not_allowed"
        assert sim.stats()["not_found"] == 1


def test_bulk_statuses_answer_an_array_and_unknown_ids_are_not_found() -> None:
    with running() as (_, http):
        ids = [video_id(post(http, avatar())) for _ in range(2)]
        unknown = "f" * 32
        listed = http.get(STATUSES, params={"video_ids": f"{ids[1]},{unknown},{ids[0]},{ids[1]}"})
        too_many = http.get(STATUSES, params={"video_ids": ",".join(["x"] * 101)})
        exactly = http.get(
            STATUSES, params={"video_ids": ",".join(f"{n:032x}" for n in range(100))}
        )
        empty = http.get(STATUSES, params={"video_ids": ""})
        nothing = http.get(STATUSES)
        # the old guess: `GET /v3/videos?ids=` is not a bulk call, and the list refuses `ids`
        old = http.get(VIDEOS, params={"ids": ids[0]})
    body = listed.json()
    assert set(body) == {"data", "has_more", "next_token"}
    assert [item["video_id"] for item in body["data"]] == [ids[1], unknown, ids[0]]
    assert [item["status"] for item in body["data"]] == ["queued", "not_found", "queued"]
    assert set(body["data"][0]) == {"video_id", "status", "error", "batch_id", "item_index"}
    assert too_many.status_code == empty.status_code == nothing.status_code == 400
    assert error_of(too_many)["param"] == "video_ids"
    assert len(exactly.json()["data"]) == 100
    assert old.status_code == 400
    assert error_of(old)["param"] == "ids"


def test_the_listing_pages_newest_first_with_data_as_the_array() -> None:
    with running() as (_, http):
        first = video_id(http.post("/v2/video/generate", json=v2_body(title="v2 am-1")))
        second = video_id(post(http, avatar(title="v3 am-2")))
        third = video_id(post(http, studio()))
        answer = http.get(VIDEOS, params={"limit": 2}).json()
        rest = http.get(VIDEOS, params={"limit": 2, "token": answer["next_token"]}).json()
        titled = http.get(VIDEOS, params={"title": "am-2"}).json()
        default = http.get(VIDEOS).json()
        bad = http.get(VIDEOS, params={"limit": 0})
    assert set(answer) == {"data", "has_more", "next_token"}
    assert [item["id"] for item in answer["data"]] == [third, second]
    assert answer["has_more"] is True
    assert answer["data"][1]["title"] == "v3 am-2"
    assert "callback_id" not in answer["data"][1]
    assert [item["id"] for item in rest["data"]] == [first]
    assert (rest["has_more"], rest["next_token"]) == (False, None)
    assert [item["id"] for item in titled["data"]] == [second]
    assert len(default["data"]) == 3
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


def test_an_account_with_ten_jobs_answers_429_with_retry_after_beyond_them() -> None:
    clock = FakeClock()
    with running(clock, job_limit=10, slots=10, pending_seconds=0, render_seconds=5) as (sim, http):
        for _ in range(10):
            video_id(post(http, avatar()))
        eleventh = post(http, avatar(), key="eleventh")
        assert eleventh.status_code == 429
        assert eleventh.headers["Retry-After"] == "5"
        assert error_of(eleventh)["code"] == "rate_limit_exceeded"
        clock.now += 5
        video_id(post(http, avatar(), key="eleventh"))  # the refusal kept nothing for the key
        assert sim.stats()["job_limited"] == 1
        assert sim.stats()["created"] == 11


def test_a_captioned_video_has_an_srt_sidecar_and_a_captioned_file() -> None:
    clock = FakeClock()
    with running(clock, pending_seconds=0, render_seconds=1) as (sim, http):
        vid = video_id(post(http, avatar(caption={"style": "default"})))
        clock.now += 2
        done = video_of(http, vid)
        srt = httpx.get(done["subtitle_url"], trust_env=False)
        captioned = httpx.get(done["captioned_video_url"], trust_env=False)
    assert done["subtitle_url"].startswith(f"{sim.url}/files/{vid}.srt?expires=")
    assert srt.status_code == 200
    assert srt.text.startswith("1\n00:00:00,000 --> ")
    assert captioned.status_code == 200


def test_query_parameters_the_contract_does_not_list_are_refused() -> None:
    with running() as (sim, http):
        made = post(http, avatar(), params={"test": "true"})
        vid = video_id(post(http, avatar()))
        read = http.get(f"{VIDEOS}/{vid}", params={"include": "links"})
    assert made.status_code == read.status_code == 400
    assert (error_of(made)["param"], error_of(read)["param"]) == ("test", "include")
    assert sim.accepted() == {"": 1}
