"""The upload calls, against a mock transport: what goes out, and how each answer is read."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import httpx
import pytest

from merge.api.assets import AssetUploader, FileToUpload, Opened, Uploaded, upload_key
from merge.api.client import NoAnswer, NotSent, Refused
from merge.loop import run_sync

PNG = b"\x89PNG\r\n\x1a\n" + b"picture" * 10


def picture(tmp_path: Path, content: bytes = PNG) -> FileToUpload:
    path = tmp_path / "anna.png"
    path.write_bytes(content)
    return FileToUpload(path, len(content), "image/png", hashlib.sha256(content).hexdigest())


def uploader(handler, api: str = "v3", base: str = "https://api.heygen.com") -> AssetUploader:
    transport = httpx.MockTransport(handler)
    http = httpx.AsyncClient(transport=transport, base_url=base, headers={"X-Api-Key": "sk"})
    storage = httpx.AsyncClient(transport=transport)
    return AssetUploader(http, storage, api)


def test_a_v3_upload_is_multipart_with_a_key_made_from_the_hash(tmp_path: Path) -> None:
    file = picture(tmp_path)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        data = {"asset_id": "as_1", "url": "u", "mime_type": "image/png", "size_bytes": 1}
        return httpx.Response(200, json={"data": data})

    assert run_sync(uploader(handler).upload_form(file)) == Uploaded("as_1")
    request = seen[0]
    assert request.url.path == "/v3/assets"
    assert request.headers["Idempotency-Key"] == upload_key(file.sha256)
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert b'name="file"; filename="anna.png"' in request.content
    assert PNG in request.content


def test_v2_sends_the_raw_file_to_its_upload_host(tmp_path: Path) -> None:
    file = picture(tmp_path)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"code": 100, "data": {"id": "v2asset"}})

    assert run_sync(uploader(handler, "v2").upload_form(file)) == Uploaded("v2asset")
    assert str(seen[0].url) == "https://upload.heygen.com/v1/asset"
    assert seen[0].headers["content-type"] == "image/png"
    assert seen[0].content == PNG
    assert "idempotency-key" not in seen[0].headers


def test_a_file_changed_since_its_check_is_not_sent(tmp_path: Path) -> None:
    file = picture(tmp_path)
    file.path.write_bytes(PNG.replace(b"picture", b"Picture"))  # same size, other bytes

    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("nothing may be sent")

    outcome = run_sync(uploader(handler).upload_form(file))
    assert isinstance(outcome, Refused)
    assert outcome.code == "file_changed"


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (httpx.Response(429, headers={"Retry-After": "2"}, json={"error": {"code": "x"}}), "rate"),
        (httpx.Response(401, json={"error": {"code": "unauthorized", "message": "no"}}), "auth"),
        (httpx.Response(413, json={"error": {"code": "payload_too_large"}}), "invalid"),
        (httpx.Response(503, text="<html>busy</html>"), "server"),
        (httpx.Response(409, json={"error": {"code": "request_in_progress"}}), "busy"),
    ],
)
def test_refusals_are_read_as_for_creates(
    tmp_path: Path, answer: httpx.Response, kind: str
) -> None:
    outcome = run_sync(uploader(lambda _: answer).upload_form(picture(tmp_path)))
    assert isinstance(outcome, Refused)
    assert outcome.kind == kind


def test_no_connection_is_not_sent_and_a_cut_answer_is_unknown(tmp_path: Path) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def cut(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("peer closed", request=request)

    assert isinstance(run_sync(uploader(refuse).upload_form(picture(tmp_path))), NotSent)
    assert isinstance(run_sync(uploader(cut).upload_form(picture(tmp_path))), NoAnswer)
    empty = run_sync(
        uploader(lambda _: httpx.Response(200, json={"data": {}})).upload_form(picture(tmp_path))
    )
    assert isinstance(empty, NoAnswer)


def test_the_direct_trio_puts_the_bytes_without_the_key(tmp_path: Path) -> None:
    file = picture(tmp_path)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/v3/assets/direct-uploads":
            data = {
                "asset_id": "as_big",
                "upload_url": "https://storage.example.com/put?sig=abc",
                "upload_headers": {"Content-Type": "image/png", "x-amz-acl": "private"},
                "expires_in_seconds": 600,
                "max_bytes": 10**9,
                "status": "pending_upload",
            }
            return httpx.Response(200, json={"data": data})
        if request.method == "PUT":
            return httpx.Response(200)
        return httpx.Response(200, json={"data": {"asset_id": "as_big", "status": "processing"}})

    client = uploader(handler)
    opened = run_sync(client.open_direct(file))
    assert isinstance(opened, Opened)
    assert run_sync(client.put_bytes(opened, file)) == Uploaded("as_big")
    assert run_sync(client.complete("as_big", file.sha256)) == Uploaded("as_big")
    create, put, complete = seen
    assert json.loads(create.content) == {
        "filename": "anna.png",
        "content_type": "image/png",
        "size_bytes": file.size,
        "checksum_sha256": file.sha256,
    }
    assert create.headers["Idempotency-Key"] == upload_key(file.sha256, "direct")
    assert "x-api-key" not in put.headers
    assert put.headers["x-amz-acl"] == "private"
    assert put.content == PNG
    assert complete.url.path == "/v3/assets/as_big/complete"
    assert json.loads(complete.content) == {"checksum_sha256": file.sha256}


def test_an_upload_url_in_clear_text_is_refused(tmp_path: Path) -> None:
    opened = Opened("as", "http://storage.example.com/put", {}, None)
    outcome = run_sync(uploader(lambda _: httpx.Response(200)).put_bytes(opened, picture(tmp_path)))
    assert isinstance(outcome, Refused)
    assert "unencrypted" in outcome.message
