"""The v3 adapter: the same calls as V2's client, spoken to `/v3/videos` as the contract says.

What v3 adds to exactly-once: every create carries an Idempotency-Key made from the row's
identity and its body's hash, so a request whose answer was lost may be sent again safely (the
API replays the first answer for 24 hours). Many videos' statuses come from one bulk call.
"""

from __future__ import annotations

import hashlib
from typing import Any

from merge.api.client import ApiError, HeyGenClient
from merge.api.statuses import status_word
from merge.settings import V3_BULK_STATUS_SIZE

VIDEOS_PATH = "/v3/videos"
STATUSES_PATH = "/v3/videos/statuses"
LINKS = ("video_url", "thumbnail_url", "gif_url", "video_page_url")
CAPTION_LINKS = ("subtitle_url", "captioned_video_url")
"""A video resource's links (contract §3.1); all presigned, fresh on each read."""


def idempotency_key(row_key: str, payload_hash: str, renews: str = "") -> str:
    """Make a key from a row's identity and body: the same row and body, the same key.

    `renews` names what an earlier request for them ended in, so a deliberate new request
    (`--retry-failed`) is not answered with the earlier one's replay.
    """
    text = f"{row_key}\n{payload_hash}" + (f"\n{renews}" if renews else "")
    digest = hashlib.sha256(text.encode()).hexdigest()
    return f"am:{digest[:48]}"


def failure_text(code: Any, message: Any) -> str | None:
    """Say a failed video's reason as `failure_code: failure_message`, or None without one."""
    parts = [str(part) for part in (code, message) if isinstance(part, str) and part.strip()]
    return ": ".join(parts) or None


def video_record(data: dict[str, Any]) -> dict[str, Any]:
    """Read a v3 video resource (contract §3.1) as the record the rest of the tool knows."""
    record: dict[str, Any] = {
        "id": data.get("id"),
        "status": status_word(data.get("status")),
        "title": data.get("title"),
        "duration": data.get("duration"),
        "created_at": data.get("created_at"),
        "error": failure_text(data.get("failure_code"), data.get("failure_message")),
    }
    for name in LINKS + CAPTION_LINKS:
        record[name] = data.get(name)
    return record


def bulk_record(item: dict[str, Any]) -> dict[str, Any]:
    """Read one item of the bulk statuses answer (contract §3.3): a status, maybe an error."""
    error = item.get("error")
    if isinstance(error, dict):
        error = failure_text(error.get("code"), error.get("message"))
    return {"id": item.get("video_id"), "status": status_word(item.get("status")), "error": error}


class HeyGenV3Client(HeyGenClient):
    """Create, status, list and bulk status on v3."""

    api = "v3"
    idempotent = True
    create_path = VIDEOS_PATH
    list_path = VIDEOS_PATH
    lists_by_title = True
    bulk = True

    def create_headers(self, idempotency_key: str | None) -> dict[str, str]:
        """Send the Idempotency-Key with every create, so a resend can never make a second video."""
        headers = {"Content-Type": "application/json"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        return headers

    async def video_status(self, video_id: str) -> dict[str, Any]:
        """Return a video's record, with its links and its failure reason."""
        return video_record(await self._get(f"{VIDEOS_PATH}/{video_id}", {}))

    def list_page(self, body: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        """Read a v3 list answer: `data` is the array, `has_more` and `next_token` beside it."""
        videos = body["data"]
        if not isinstance(videos, list):
            raise ApiError(f"{self.list_path}: the video list answer's data is not an array")
        token = body.get("next_token") if body.get("has_more") else None
        records = [
            video_record(v) | {"video_id": v.get("id")} for v in videos if isinstance(v, dict)
        ]
        return records, token if isinstance(token, str) and token else None

    async def video_statuses(self, video_ids: list[str]) -> dict[str, dict[str, Any]] | None:
        """Ask up to V3_BULK_STATUS_SIZE videos' status per call; unknown ids come `not_found`.

        The bulk answer has no links: the follower reads a finished video once more by itself.
        """
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(video_ids), V3_BULK_STATUS_SIZE):
            chunk = video_ids[start : start + V3_BULK_STATUS_SIZE]
            params: dict[str, str | int] = {"video_ids": ",".join(chunk)}
            body = await self._read(STATUSES_PATH, params)
            items = body["data"]
            if not isinstance(items, list):
                raise ApiError(f"{STATUSES_PATH}: the answer's data is not an array")
            for item in items:
                if isinstance(item, dict) and isinstance(item.get("video_id"), str):
                    record = bulk_record(item)
                    found[record["id"]] = record
        return found


def make_client(api: str, *args: Any, **kwargs: Any) -> HeyGenClient:
    """Choose the adapter for a target API; nothing upstream knows which one it is."""
    return HeyGenV3Client(*args, **kwargs) if api == "v3" else HeyGenClient(*args, **kwargs)
