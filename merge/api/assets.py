"""Upload one local file as an asset, and say what became of it, as the create calls do.

v3: a file up to 32 MB goes as one multipart `POST /v3/assets`; a larger one through the
direct-upload trio (create with its exact size and checksum, `PUT` the bytes to the URL the API
gives, with its headers and *without* the API key, then complete). Each call that makes
something carries an Idempotency-Key made from the file's hash, so a resend after a lost answer
or a crash gets the first answer back. V2: the raw file to its upload host (no idempotency).
Every failure comes back as a value (`Refused`, `NotSent`, `NoAnswer`), never httpx's.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from merge.addresses import AddressError, checked_base_url, is_loopback
from merge.api.client import NoAnswer, NotSent, Refused, classify, parse_retry_after
from merge.settings import ASSET_FORM_MAX_BYTES, HASH_CHUNK_BYTES, V2_UPLOAD_URL

ASSETS_PATH = "/v3/assets"
DIRECT_PATH = "/v3/assets/direct-uploads"
V2_LOOPBACK_PATH = "/v1/asset"


@dataclass(frozen=True, slots=True)
class Uploaded:
    """The API holds the file; bodies may name it by this id."""

    asset_id: str


@dataclass(frozen=True, slots=True)
class Opened:
    """A direct upload was created: where to PUT the bytes, and its id (not usable yet)."""

    asset_id: str
    upload_url: str
    headers: dict[str, str]
    max_bytes: int | None


UploadOutcome = Uploaded | Refused | NotSent | NoAnswer


@dataclass(frozen=True, slots=True)
class FileToUpload:
    """What the uploader needs to know of a file: where, how big, what type, its hash."""

    path: Path
    size: int
    mime: str
    sha256: str


def upload_key(sha256: str, step: str = "file") -> str:
    """The Idempotency-Key of a file's upload call: the same file, the same key, run after run."""
    return f"am-asset-{step}-{sha256[:48]}"


class AssetUploader:
    """The upload calls of one run; `storage` is a client that never carries the API key."""

    def __init__(self, http: httpx.AsyncClient, storage: httpx.AsyncClient, api: str) -> None:
        self.http = http
        self.storage = storage
        self.api = api

    def direct(self, file: FileToUpload) -> bool:
        """Whether a file goes through the direct-upload trio (v3, above 32 MB)."""
        return self.api == "v3" and file.size > ASSET_FORM_MAX_BYTES

    async def upload_form(self, file: FileToUpload) -> UploadOutcome:
        """Send a file as one request: v3 multipart with its key, or V2's raw body."""
        content = await asyncio.to_thread(file.path.read_bytes)
        if len(content) != file.size or hashlib.sha256(content).hexdigest() != file.sha256:
            said = "it changed since it was checked: run again to check it anew"
            return Refused("invalid", 0, "file_changed", said)
        if self.api == "v2":
            url = _v2_upload_url(str(self.http.base_url))
            headers = {"Content-Type": file.mime}
            return await _asset_answer(
                lambda: self.http.post(url, content=content, headers=headers)
            )
        files = {"file": (file.path.name, content, file.mime)}
        headers = {"Idempotency-Key": upload_key(file.sha256)}
        return await _asset_answer(
            lambda: self.http.post(ASSETS_PATH, files=files, headers=headers)
        )

    async def open_direct(self, file: FileToUpload) -> Opened | Refused | NotSent | NoAnswer:
        """Create a direct upload of the file's exact size and checksum (step 1 of 3)."""
        body = {
            "filename": file.path.name,
            "content_type": file.mime,
            "size_bytes": file.size,
            "checksum_sha256": file.sha256,
        }
        headers = {"Idempotency-Key": upload_key(file.sha256, "direct")}
        outcome = await _call(lambda: self.http.post(DIRECT_PATH, json=body, headers=headers))
        if not isinstance(outcome, httpx.Response):
            return outcome
        data = _data(outcome)
        if outcome.status_code // 100 != 2 or data is None:
            return _refused(outcome)
        asset_id, url = data.get("asset_id"), data.get("upload_url")
        raw_headers = data.get("upload_headers") or {}
        if not isinstance(asset_id, str) or not isinstance(url, str) or not asset_id:
            return NoAnswer(f"HTTP {outcome.status_code} without an asset_id and upload_url")
        headers = {str(k): str(v) for k, v in raw_headers.items()}
        max_bytes = data.get("max_bytes")
        return Opened(asset_id, url, headers, max_bytes if isinstance(max_bytes, int) else None)

    async def put_bytes(self, opened: Opened, file: FileToUpload) -> UploadOutcome:
        """Send the bytes to the upload URL as given (step 2), with no API key."""
        try:
            url = checked_base_url(opened.upload_url)
        except AddressError as error:
            return Refused("invalid", 0, "upload_url", f"the upload URL cannot be used: {error}")
        headers = opened.headers | {"Content-Length": str(file.size)}
        outcome = await _call(
            lambda: self.storage.put(url, content=_chunks(file.path), headers=headers)
        )
        if not isinstance(outcome, httpx.Response):
            return outcome
        if outcome.status_code // 100 != 2:
            text = outcome.text[:200].strip() or "no message"
            return Refused("invalid", outcome.status_code, "upload_refused", text)
        return Uploaded(opened.asset_id)

    async def complete(self, asset_id: str, sha256: str) -> UploadOutcome:
        """Make a direct upload usable (step 3); repeating it gets the same answer."""
        body = {"checksum_sha256": sha256}
        path = f"{ASSETS_PATH}/{asset_id}/complete"
        return await _asset_answer(lambda: self.http.post(path, json=body))


def open_storage_http(timeout: float) -> httpx.AsyncClient:
    """A client for upload URLs: no API key, no redirects, no proxies for loopback."""
    return httpx.AsyncClient(timeout=httpx.Timeout(timeout), follow_redirects=False)


def _v2_upload_url(base_url: str) -> str:
    """V2's upload host; a loopback API (the simulator) takes uploads itself."""
    host = urlsplit(base_url).hostname or ""
    return base_url.rstrip("/") + V2_LOOPBACK_PATH if is_loopback(host) else V2_UPLOAD_URL


async def _chunks(path: Path) -> AsyncIterator[bytes]:
    """Read a file a piece at a time off the event loop, so a big upload never sits in memory."""
    handle = await asyncio.to_thread(path.open, "rb")
    try:
        while chunk := await asyncio.to_thread(handle.read, HASH_CHUNK_BYTES):
            yield chunk
    finally:
        handle.close()


async def _call(
    send: Callable[[], Awaitable[httpx.Response]],
) -> httpx.Response | NotSent | NoAnswer:
    try:
        return await send()
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
        return NotSent(f"{type(error).__name__}: {error}".rstrip(": "))
    except httpx.TransportError as error:
        return NoAnswer(f"{type(error).__name__}: {error}".rstrip(": "))


async def _asset_answer(send: Callable[[], Awaitable[httpx.Response]]) -> UploadOutcome:
    outcome = await _call(send)
    if not isinstance(outcome, httpx.Response):
        return outcome
    data = _data(outcome)
    if outcome.status_code // 100 == 2 and data is not None:
        asset_id = data.get("asset_id") or data.get("id")
        if isinstance(asset_id, str) and asset_id:
            return Uploaded(asset_id)
        return NoAnswer(f"HTTP {outcome.status_code} without an asset_id in the answer")
    return _refused(outcome)


def _data(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None
    data = body.get("data") if isinstance(body, dict) else None
    error = body.get("error") if isinstance(body, dict) else None
    return data if isinstance(data, dict) and not error else None


def _refused(response: httpx.Response) -> Refused | NoAnswer:
    """Read a refusal the way create answers are read (rate, auth, quota, busy, server)."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        body = None
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    outcome = classify(response.status_code, body, retry_after)
    return outcome if isinstance(outcome, Refused) else NoAnswer(f"HTTP {response.status_code}")
