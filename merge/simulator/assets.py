"""HeyGen's v3 asset uploads (and V2's), written from the contract: what a body may name by id.

`POST /v3/assets` takes one multipart part `file` of at most 32 MB; larger files go through the
direct-upload trio: create (`POST /v3/assets/direct-uploads`, the exact size declared), `PUT` the
bytes to the `upload_url` (no API key, the `upload_headers` as given), then
`POST /v3/assets/{id}/complete`, repeatable, after which the asset may be used. V2 took the raw
file at `POST /v1/asset`. Types are read from the bytes (png, jpeg, mp4, webm, mp3, wav, pdf,
srt); an Idempotency-Key replays the first answer. Every stored upload is counted by the SHA-256
of its bytes, so a test sees at once whether a file went up twice (`GET /_simulator/assets`).
A create body naming an asset id the account does not hold is refused (`unknown_asset`).
"""

from __future__ import annotations

import hashlib
import uuid
from time import time as time_now
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from merge.simulator import responses as answer
from merge.simulator.account import Account
from merge.simulator.asset_store import Asset, Assets, media_type
from merge.simulator.exchange import InvalidParameter, base_url, parse_json_object
from merge.simulator.idempotency import Answer
from merge.simulator.v3 import IDEMPOTENCY_HEADER, check_key

FORM_MAX_BYTES = 32 * 1024 * 1024
DIRECT_MAX_BYTES = 2 * 1024**3
UPLOAD_LIFETIME = 3600
UPLOADS = "/_simulator/uploads/"


def asset_routes(account: Account) -> list[Route]:
    """List the upload routes, served from `account.assets`."""
    api = _AssetApi(account)
    return [
        Route("/v3/assets", api.form_upload, methods=["POST"]),
        Route("/v3/assets/direct-uploads", api.direct_create, methods=["POST"]),
        Route("/v3/assets/{asset_id}/complete", api.direct_complete, methods=["POST"]),
        Route(UPLOADS + "{asset_id}", api.direct_put, methods=["PUT"]),
        Route("/v1/asset", api.v2_upload, methods=["POST"]),
        Route("/_simulator/assets", api.admin, methods=["GET"]),
    ]


class _AssetApi:
    """Serve the upload endpoints."""

    def __init__(self, account: Account) -> None:
        self.account = account
        self.assets: Assets = account.assets

    def _gate(self, request: Request) -> Response | None:
        """Refuse a missing key, a rolled fault or the rate, as for video creates."""
        if not self.account.authorize(request.headers.get("x-api-key", ""), "asset_requests"):
            return answer.v3_error(401, "unauthorized", answer.UNAUTHORIZED)
        status = self.account.refusal()
        if status is not None and status != 429:
            return answer.v3_error(status, "internal_error", "Internal server error")
        wait = self.account.settings.retry_after if status else 0.0
        if not wait:
            wait = self.account.wait_for_token(time_now())
        if wait:
            return answer.v3_error(429, "rate_limit_exceeded", "Too many requests", wait=wait)
        return None

    async def form_upload(self, request: Request) -> Response:
        """Take one file as multipart `file`, at most 32 MB, of a type read from its bytes."""
        refused = self._gate(request)
        if refused is not None:
            return refused
        try:
            check_key(request.headers.get(IDEMPOTENCY_HEADER))
            raw = await request.body()
            content = _file_part(request.headers.get("content-type", ""), raw)
        except ClientDisconnect:
            return Response(status_code=400)
        except InvalidParameter as exc:
            return answer.v3_error(400, "invalid_parameter", str(exc), exc.param)
        if len(content) > FORM_MAX_BYTES:
            message = f"file is {len(content)} bytes; at most {FORM_MAX_BYTES} (use direct-uploads)"
            return answer.v3_error(413, "payload_too_large", message, "file")
        mime = media_type(content)
        if mime is None:
            message = "file is invalid: not a png, jpeg, mp4, webm, mp3, wav, pdf or srt file"
            return answer.v3_error(400, "invalid_parameter", message, "file")
        sha = hashlib.sha256(content).hexdigest()
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key is not None:
            claim = self.assets.form_keys.claim(key, sha, time_now())
            if claim.verdict == "in_flight":
                message = "A request with this Idempotency-Key is still being processed"
                return answer.v3_error(409, "request_in_progress", message, IDEMPOTENCY_HEADER)
            if claim.answer is not None:
                self.account.count("idempotent_replays")
                return JSONResponse(claim.answer.body, claim.answer.status)
        asset = Asset(_new_id(), mime, len(content), sha, ready=True)
        self.assets.add(asset)
        body = {"data": _described(asset, base_url(request))}
        if key is not None:
            self.assets.form_keys.settle(key, Answer(200, body))
        if self.account.delivery() == "reset":
            return answer.CutOffResponse(body)
        return JSONResponse(body)

    async def direct_create(self, request: Request) -> Response:
        """Open a direct upload of a declared size and type; the bytes come by PUT."""
        refused = self._gate(request)
        if refused is not None:
            return refused
        key = request.headers.get(IDEMPOTENCY_HEADER)
        try:
            check_key(key)
            body = parse_json_object(await request.body())
            mime, size = _declared(body)
        except ClientDisconnect:
            return Response(status_code=400)
        except InvalidParameter as exc:
            return answer.v3_error(400, "invalid_parameter", str(exc), exc.param)
        if size > DIRECT_MAX_BYTES:
            message = f"size_bytes is {size}; at most {DIRECT_MAX_BYTES}"
            return answer.v3_error(413, "payload_too_large", message, "size_bytes")
        if key is not None:
            claim = self.assets.direct_keys.claim(key, repr(sorted(body.items())), time_now())
            if claim.answer is not None:
                return JSONResponse(claim.answer.body, claim.answer.status)
        asset = Asset(_new_id(), mime, size, token=uuid.uuid4().hex)
        checksum = body.get("checksum_sha256")
        self.assets.add(asset)
        data = {
            "asset_id": asset.asset_id,
            "upload_url": f"{base_url(request)}{UPLOADS}{asset.asset_id}?token={asset.token}",
            "upload_headers": {"Content-Type": mime},
            "expires_in_seconds": UPLOAD_LIFETIME,
            "max_bytes": DIRECT_MAX_BYTES,
            "status": "pending_upload",
        }
        if isinstance(checksum, str):
            data["checksum_sha256"] = checksum
        answered = {"data": data}
        if key is not None:
            self.assets.direct_keys.settle(key, Answer(200, answered))
        return JSONResponse(answered)

    async def direct_put(self, request: Request) -> Response:
        """Take a direct upload's bytes: the exact size, the type declared, and no API key."""
        asset = self.assets.get(request.path_params["asset_id"])
        if asset is None or request.query_params.get("token") != asset.token or not asset.token:
            return Response("no such upload", status_code=403)
        if request.headers.get("x-api-key"):
            return Response("the upload URL takes no API key", status_code=400)
        if request.headers.get("content-type") != asset.mime:
            return Response(f"Content-Type must be {asset.mime}", status_code=400)
        digest = hashlib.sha256()
        size = 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > asset.size:
                    return Response("more bytes than declared", status_code=400)
                if size == len(chunk) and media_type(chunk) != asset.mime:
                    return Response(f"the bytes are not {asset.mime}", status_code=400)
                digest.update(chunk)
        except ClientDisconnect:
            return Response(status_code=400)
        if size != asset.size:
            return Response(f"{size} bytes, not the {asset.size} declared", status_code=400)
        if not asset.ready:
            asset.sha256 = digest.hexdigest()
        return Response(status_code=200)

    async def direct_complete(self, request: Request) -> Response:
        """Make a direct upload usable once its bytes arrived; the same answer every time."""
        refused = self._gate(request)
        if refused is not None:
            return refused
        asset = self.assets.get(request.path_params["asset_id"])
        if asset is None:
            return answer.v3_error(404, "not_found", "no such asset", "asset_id")
        if asset.sha256 is None:
            message = "the upload has not received its bytes"
            return answer.v3_error(400, "invalid_parameter", message, "asset_id")
        try:
            raw = await request.body()
            body = parse_json_object(raw) if raw.strip() else {}
        except ClientDisconnect:
            return Response(status_code=400)
        except InvalidParameter as exc:
            return answer.v3_error(400, "invalid_parameter", str(exc), exc.param)
        checksum = body.get("checksum_sha256")
        if checksum is not None and checksum != asset.sha256:
            message = "checksum_sha256 does not match the uploaded bytes"
            return answer.v3_error(400, "invalid_parameter", message, "checksum_sha256")
        self.assets.complete(asset)
        return answer.v3_ok(_described(asset, base_url(request)) | {"status": "processing"})

    async def v2_upload(self, request: Request) -> Response:
        """Take V2's raw upload: the file as the body, its type in Content-Type."""
        if not self.account.authorize(request.headers.get("x-api-key", "")):
            return answer.unauthorized()
        try:
            content = await request.body()
        except ClientDisconnect:
            return Response(status_code=400)
        mime = media_type(content)
        if mime is None or mime != request.headers.get("content-type"):
            return answer.invalid("the body is not a file of the Content-Type given")
        if len(content) > FORM_MAX_BYTES:
            return answer.error(413, "payload_too_large", "the file is too large")
        asset = Asset(_new_id(), mime, len(content), hashlib.sha256(content).hexdigest(), True)
        self.assets.add(asset)
        data = {"id": asset.asset_id, "file_type": mime.split("/")[0], "url": _url(asset, request)}
        return answer.ok_v1(data)

    async def admin(self, request: Request) -> Response:
        """Show the uploads by content hash."""
        return JSONResponse(self.assets.summary())


def _file_part(content_type: str, raw: bytes) -> bytes:
    """Cut the `file` part out of a multipart/form-data body."""
    kind, _, params = content_type.partition(";")
    if kind.strip().lower() != "multipart/form-data" or "boundary=" not in params:
        raise InvalidParameter("file", "is required: send multipart/form-data with a file part")
    boundary = params.split("boundary=", 1)[1].split(";")[0].strip().strip('"').encode()
    for part in raw.split(b"--" + boundary)[1:]:
        head, _, content = part.partition(b"\r\n\r\n")
        disposition = next(
            (line for line in head.split(b"\r\n") if line.lower().startswith(b"content-disp")),
            b"",
        )
        if b'name="file"' in disposition and b"filename=" in disposition:
            return content[:-2] if content.endswith(b"\r\n") else content
    raise InvalidParameter("file", "is required: no part named file with a filename")


def _declared(body: dict[str, Any]) -> tuple[str, int]:
    for name in ("filename", "content_type"):
        if not isinstance(body.get(name), str) or not body[name]:
            raise InvalidParameter(name, "is required")
    size = body.get("size_bytes")
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise InvalidParameter("size_bytes", "must be the file's exact size in bytes")
    mime = body["content_type"]
    takes = ("image/png", "image/jpeg", "video/mp4", "video/webm", "audio/mpeg", "audio/wav")
    if mime not in (*takes, "application/pdf", "application/x-subrip"):
        raise InvalidParameter("content_type", f"{mime!r} is not a type assets take")
    return mime, size


def _described(asset: Asset, base: str) -> dict[str, Any]:
    return {
        "asset_id": asset.asset_id,
        "url": f"{base}/_simulator/asset-files/{asset.asset_id}",
        "mime_type": asset.mime,
        "size_bytes": asset.size,
    }


def _url(asset: Asset, request: Request) -> str:
    return _described(asset, base_url(request))["url"]  # type: ignore[no-any-return]


def _new_id() -> str:
    return "asset_" + uuid.uuid4().hex
