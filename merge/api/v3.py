"""The v3 adapter: the same calls as V2's client, spoken to `/v3/videos`.

What v3 adds to exactly-once: every create carries an Idempotency-Key made from the row's
identity and its body's hash, so a request whose answer was lost may be sent again safely (the
API replays the first answer). What the API notes do not confirm (the bulk status call, the
shapes of status and list answers) is read leniently, and its paths are settings.
"""

from __future__ import annotations

import hashlib
from typing import Any

from merge.api.client import ApiError, HeyGenClient
from merge.settings import V3_BULK_STATUS_PATH, V3_BULK_STATUS_SIZE, V3_VIDEOS_PATH

V3_STATUSES = {"pending", "processing", "completed", "failed"}


def idempotency_key(row_key: str, payload_hash: str) -> str:
    """Make a key from a row's identity and body: the same row and body, the same key."""
    digest = hashlib.sha256(f"{row_key}\n{payload_hash}".encode()).hexdigest()
    return f"am:{digest[:48]}"


def v2_status(data: dict[str, Any]) -> dict[str, Any]:
    """Read a v3 video record in the V2 status shape the rest of the tool knows."""
    return {
        "id": data.get("video_id") or data.get("id"),
        "status": data.get("status"),
        "callback_id": data.get("callback_id"),
        "video_url": data.get("video_url"),
        "thumbnail_url": data.get("thumbnail_url"),
        "duration": data.get("duration"),
        "created_at": data.get("created_at"),
        "error": data.get("error"),
    }


class HeyGenV3Client(HeyGenClient):
    """Create, status, list and bulk status on v3."""

    api = "v3"
    idempotent = True
    create_path = V3_VIDEOS_PATH
    bulk = bool(V3_BULK_STATUS_PATH)

    def create_headers(self, idempotency_key: str | None) -> dict[str, str]:
        """Send the Idempotency-Key with every create, so a resend can never make a second video."""
        headers = {"Content-Type": "application/json"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        return headers

    async def video_status(self, video_id: str) -> dict[str, Any]:
        """Return a video's record, in the V2 shape."""
        return v2_status(await self._get(f"{V3_VIDEOS_PATH}/{video_id}", {}))

    async def list_videos(
        self, token: str | None = None, limit: int = 100
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Return one page of the account's videos, newest first, and the next page's token."""
        params: dict[str, str | int] = {"limit": limit}
        if token:
            params["token"] = token
        data = await self._get(V3_VIDEOS_PATH, params)
        videos = data.get("videos")
        if not isinstance(videos, list):
            raise ApiError("the v3 video list answer has no videos")
        next_token = data.get("next_token") or data.get("token")
        return [v2_status(v) | v for v in videos if isinstance(v, dict)], next_token or None

    async def video_statuses(self, video_ids: list[str]) -> dict[str, dict[str, Any]] | None:
        """Ask up to V3_BULK_STATUS_SIZE videos' status in one call; missing ids are 404s."""
        if not V3_BULK_STATUS_PATH:
            return None
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(video_ids), V3_BULK_STATUS_SIZE):
            chunk = video_ids[start : start + V3_BULK_STATUS_SIZE]
            data = await self._get(V3_BULK_STATUS_PATH, {"ids": ",".join(chunk)})
            for video in data.get("videos") or []:
                if isinstance(video, dict):
                    record = v2_status(video)
                    found[str(record["id"])] = record
            for missing in data.get("missing") or []:
                found[str(missing)] = {"status": "not_found", "error": "unknown to the API"}
        return found


def make_client(api: str, *args: Any, **kwargs: Any) -> HeyGenClient:
    """Choose the adapter for a target API; nothing upstream knows which one it is."""
    return HeyGenV3Client(*args, **kwargs) if api == "v3" else HeyGenClient(*args, **kwargs)
