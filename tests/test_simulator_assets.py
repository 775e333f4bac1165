"""The simulator's uploads refuse what the contract refuses, and bodies name only real assets."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest

from merge.simulator.asset_store import Asset, Assets, media_type, unknown_asset
from tests.bodies import body as v2_body
from tests.test_simulator import running
from tests.test_simulator_v3 import avatar, error_of

PNG = b"\x89PNG\r\n\x1a\n" + b"picture" * 20
MP3 = b"ID3\x04\x00" + b"sound" * 20
FORM_MAX = 32 * 1024 * 1024


def upload(http: httpx.Client, content: bytes, key: str | None = None, **options: Any) -> Any:
    headers = {"Idempotency-Key": key} if key else {}
    files = {"file": ("photo.png", content, "image/png")}
    return http.post("/v3/assets", files=files, headers=headers, **options)


def asset_id(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert set(data) == {"asset_id", "url", "mime_type", "size_bytes"}
    found: str = data["asset_id"]
    return found


@pytest.mark.parametrize(
    ("head", "mime"),
    [
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\xff\xd8\xff\xe0", "image/jpeg"),
        (b"\x00\x00\x00\x18ftypmp42", "video/mp4"),
        (b"\x1a\x45\xdf\xa3", "video/webm"),
        (b"ID3\x04", "audio/mpeg"),
        (b"\xff\xfb\x90\x00", "audio/mpeg"),
        (b"RIFF\x24\x00\x00\x00WAVE", "audio/wav"),
        (b"%PDF-1.7", "application/pdf"),
        (b"1\n00:00:00,000 --> 00:00:01,000\nHi", "application/x-subrip"),
        (b"GIF89a", None),
        (b"hello", None),
    ],
)
def test_types_are_read_from_the_bytes(head: bytes, mime: str | None) -> None:
    assert media_type(head + bytes(16)) == mime


def test_a_multipart_upload_is_stored_counted_by_hash_and_replayed_for_its_key() -> None:
    with running() as (sim, http):
        first = asset_id(upload(http, PNG, key="k-1"))
        assert asset_id(upload(http, PNG, key="k-1")) == first  # replayed: not stored again
        assert asset_id(upload(http, PNG)) != first  # no key: a second asset
        digest = hashlib.sha256(PNG).hexdigest()
        assert sim.uploads() == {"assets": 2, "uploads": 2, "uploads_by_hash": {digest: 2}}


@pytest.mark.parametrize(
    ("content", "status", "code", "param"),
    [
        (b"GIF89a" + bytes(50), 400, "invalid_parameter", "file"),
        (PNG + bytes(FORM_MAX), 413, "payload_too_large", "file"),
    ],
)
def test_a_multipart_upload_of_a_wrong_type_or_over_32_mb_is_refused(
    content: bytes, status: int, code: str, param: str
) -> None:
    with running() as (sim, http):
        response = upload(http, content)
        assert response.status_code == status
        error = error_of(response)
        assert (error["code"], error["param"]) == (code, param)
        assert sim.uploads()["uploads"] == 0


def test_an_upload_without_a_file_part_or_a_key_is_refused() -> None:
    with running() as (_, http):
        response = http.post("/v3/assets", content=PNG, headers={"Content-Type": "image/png"})
        assert response.status_code == 400
        assert error_of(response)["param"] == "file"
        url = str(http.base_url).rstrip("/") + "/v3/assets"
        keyless = httpx.post(url, files={"file": ("a.png", PNG)})
        assert keyless.status_code == 401


def open_direct(http: httpx.Client, content: bytes, **fields: Any) -> httpx.Response:
    body = {"filename": "big.png", "content_type": "image/png", "size_bytes": len(content)}
    return http.post("/v3/assets/direct-uploads", json=body | fields)


def test_the_direct_upload_trio_makes_an_asset_usable_only_once_complete() -> None:
    content = MP3 + bytes(1000)
    with running() as (sim, http):
        opened = open_direct(http, content, content_type="audio/mpeg").json()["data"]
        assert opened["status"] == "pending_upload"
        assert set(opened) >= {"asset_id", "upload_url", "upload_headers", "max_bytes"}
        made = with_audio(opened["asset_id"])
        assert http.post("/v3/videos", json=made).status_code == 400  # not usable yet
        complete = f"/v3/assets/{opened['asset_id']}/complete"
        assert http.post(complete, json={}).status_code == 400  # the bytes have not come
        put = httpx.put(opened["upload_url"], content=content, headers=opened["upload_headers"])
        assert put.status_code == 200, put.text
        done = http.post(complete, json={"checksum_sha256": hashlib.sha256(content).hexdigest()})
        assert done.status_code == 200, done.text
        assert http.post(complete, json={}).json() == done.json()  # repeatable, same answer
        assert sim.uploads()["uploads"] == 1
        assert http.post("/v3/videos", json=made).status_code == 200


@pytest.mark.parametrize(
    ("headers", "content", "said"),
    [
        ({"X-Api-Key": "sk-secret"}, PNG + bytes(1000), "takes no API key"),
        ({}, PNG + bytes(999), "declared"),
        ({}, PNG + bytes(1001), "more bytes than declared"),
        ({"Content-Type": "image/jpeg"}, PNG + bytes(1000), "Content-Type must be image/png"),
    ],
)
def test_a_direct_upload_refuses_a_key_a_wrong_size_or_type(
    headers: dict[str, str], content: bytes, said: str
) -> None:
    with running() as (_, http):
        opened = open_direct(http, PNG + bytes(1000)).json()["data"]
        sent = opened["upload_headers"] | headers
        put = httpx.put(opened["upload_url"], content=content, headers=sent)
        assert put.status_code == 400
        assert said in put.text


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"size_bytes": 0}, "size_bytes"),
        ({"content_type": "image/gif"}, "content_type"),
        ({"filename": ""}, "filename"),
    ],
)
def test_a_direct_upload_must_declare_its_name_type_and_exact_size(
    fields: dict[str, Any], param: str
) -> None:
    with running() as (_, http):
        response = open_direct(http, PNG, **fields)
        assert response.status_code == 400
        assert error_of(response)["param"] == param


def test_a_direct_upload_over_its_maximum_is_refused() -> None:
    with running() as (_, http):
        response = open_direct(http, PNG, size_bytes=3 * 1024**3)
        assert response.status_code == 413
        assert error_of(response)["code"] == "payload_too_large"


def with_background(asset: str) -> dict[str, Any]:
    return avatar(background={"type": "image", "asset_id": asset})


def with_audio(asset: str) -> dict[str, Any]:
    return {"type": "avatar", "avatar_id": "a", "audio_asset_id": asset}


def test_a_v3_body_naming_an_unknown_asset_is_refused_with_its_param() -> None:
    with running() as (sim, http):
        response = http.post("/v3/videos", json=with_audio("nope"))
        assert response.status_code == 400
        error = error_of(response)
        assert (error["code"], error["param"]) == ("invalid_parameter", "audio_asset_id")
        assert sum(sim.accepted().values()) == 0
        known = asset_id(upload(http, MP3))
        assert http.post("/v3/videos", json=with_audio(known)).status_code == 200


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (with_background("nope"), "background.asset_id"),
        ({"type": "image", "image": {"type": "asset_id", "asset_id": "nope"}}, "image.asset_id"),
        (
            {"type": "studio", "scenes": [{"type": "video", "source": {"asset_id": "nope"}}]},
            "scenes[0].source.asset_id",
        ),
        ({"video_inputs": [{"background": {"image_asset_id": "nope"}}]}, None),
    ],
)
def test_every_asset_id_field_is_looked_up(body: dict[str, Any], param: str | None) -> None:
    assets = Assets()
    found = unknown_asset(body, assets)
    assert found is not None
    assert found[0] == (param or "video_inputs[0].background.image_asset_id")
    assets.add(Asset("nope", "image/png", 10, "0" * 64, ready=True))
    assert unknown_asset(body, assets) is None


def test_a_v2_body_naming_an_unknown_asset_is_refused() -> None:
    with running() as (sim, http):
        scene = {
            "character": {"type": "avatar", "avatar_id": "a"},
            "voice": {"type": "audio", "audio_asset_id": "nope"},
        }
        response = http.post("/v2/video/generate", json=v2_body() | {"video_inputs": [scene]})
        assert response.status_code == 400
        assert "video_inputs[0].voice.audio_asset_id" in response.json()["error"]["message"]
        raw = http.post("/v1/asset", content=MP3, headers={"Content-Type": "audio/mpeg"})
        assert raw.status_code == 200, raw.text
        scene["voice"]["audio_asset_id"] = raw.json()["data"]["id"]
        made = http.post("/v2/video/generate", json=v2_body() | {"video_inputs": [scene]})
        assert made.status_code == 200, made.text
        assert sim.uploads()["uploads"] == 1
