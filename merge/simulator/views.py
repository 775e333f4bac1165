"""Pure answer bodies: a video's V2 and v3 status and file links, its webhook event, page tokens."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from merge.simulator.account import Video

SUCCESS_EVENT = "avatar_video.success"
FAIL_EVENT = "avatar_video.fail"
_TOKEN_PREFIX = "below:"


def file_links(video: Video, now: float, base: str, ttl: float) -> dict[str, str | None]:
    """Sign fresh links to a video's files, valid `ttl` seconds from `now`; None for no file."""
    done = video.status(now) == "completed"
    captions = done and video.caption
    expires = int(now + ttl)

    def link(kind: str, shown: bool) -> str | None:
        return f"{base}/files/{video.id}.{kind}?expires={expires}" if shown else None

    return {
        "video_url": link("mp4", done),
        "thumbnail_url": link("jpg", done),
        "gif_url": link("gif", done),
        "caption_url": link("vtt", captions),
        "video_url_caption": link("caption.mp4", captions),
    }


def status_data(video: Video, now: float, base: str, ttl: float) -> dict[str, Any]:
    """Build the status endpoint's `data`, with fresh file links once the video is completed."""
    status = video.status(now)
    return {
        "id": video.id,
        "status": status,
        "callback_id": video.callback_id,
        **file_links(video, now, base, ttl),
        "duration": video.duration if status == "completed" else None,
        "created_at": int(video.timeline.created),
        "error": video.failure if status == "failed" else None,
    }


def event_body(video: Video, now: float, base: str, ttl: float) -> dict[str, Any]:
    """Build the webhook event of a finished video: success with fresh links, or fail and why."""
    if video.failure is not None:
        msg = failure_message(video.failure)
        data: dict[str, Any] = {"video_id": video.id, "msg": msg, "callback_id": video.callback_id}
        return {"event_type": FAIL_EVENT, "event_data": data}
    links = file_links(video, now, base, ttl)
    data = {
        "video_id": video.id,
        "url": links["video_url"],
        "callback_id": video.callback_id,
        "thumbnail_url": links["thumbnail_url"],
        "duration": video.duration,
    }
    return {"event_type": SUCCESS_EVENT, "event_data": data}


def failure_message(failure: dict[str, Any]) -> str:
    """Say why a render failed in one line: the message, then the detail when there is one."""
    message, detail = failure["message"], failure.get("detail")
    return f"{message}: {detail}" if detail else str(message)


def v3_status(video: Video, now: float) -> str:
    """Name the status at `now` in the video resource's words (contract §3.1): no `waiting`."""
    status = video.status(now)
    return "pending" if status == "waiting" else status


def bulk_status(video: Video, now: float) -> str:
    """Name the status at `now` in the bulk statuses' words (contract §3.3): `queued` first."""
    status = video.status(now)
    return "queued" if status in ("waiting", "pending") else status


def v3_video(video: Video, now: float, base: str, ttl: float) -> dict[str, Any]:
    """Build one video resource exactly as contract §3.1: no callback_id and no error field."""
    status = v3_status(video, now)
    links = file_links(video, now, base, ttl)
    done = status == "completed"
    failed = status == "failed" and video.failure is not None
    code, message = v3_failure(video.failure) if failed and video.failure else (None, None)
    return {
        "id": video.id,
        "status": status,
        "title": video.title or None,
        "folder_id": None,
        "created_at": int(video.timeline.created),
        "completed_at": int(video.timeline.finished) if done else None,
        "duration": video.duration if done else None,
        "video_url": links["video_url"],
        "captioned_video_url": links["video_url_caption"],
        "subtitle_url": links["caption_url"] and links["caption_url"].replace(".vtt?", ".srt?"),
        "thumbnail_url": links["thumbnail_url"],
        "gif_url": links["gif_url"],
        "video_page_url": f"{base}/videos/{video.id}" if done else None,
        "failure_code": code,
        "failure_message": message,
        "output_language": None,
    }


V3_FAILURE_CODES = {40010: "resolution_not_supported", 40009: "render_failed"}
"""v3 names for the simulator's render failures; HeyGen's own v3 codes are not confirmed."""


def v3_failure(failure: dict[str, Any]) -> tuple[str, str]:
    """Describe a failed render as v3's `failure_code` and `failure_message`."""
    return V3_FAILURE_CODES.get(failure["code"], "render_failed"), failure_message(failure)


def bulk_item(video_id: str, video: Video | None, now: float) -> dict[str, Any]:
    """Build one item of the bulk statuses answer (contract §3.3); unknown ids are not_found."""
    item: dict[str, Any] = {"video_id": video_id, "batch_id": None, "item_index": None}
    if video is None:
        return item | {"status": "not_found", "error": None}
    status = bulk_status(video, now)
    error = None
    if status == "failed" and video.failure is not None:
        code, message = v3_failure(video.failure)
        error = {"code": code, "message": message}
    return item | {"status": status, "error": error}


def list_item(video: Video, now: float) -> dict[str, Any]:
    """Build one listing entry; like the real listing as far as known, it has no callback_id."""
    return {
        "video_id": video.id,
        "status": video.status(now),
        "video_title": video.title,
        "created_at": int(video.timeline.created),
    }


def page_token(below: int | None) -> str | None:
    """Wrap where the next page starts in an opaque token."""
    if below is None:
        return None
    return base64.urlsafe_b64encode(f"{_TOKEN_PREFIX}{below}".encode()).decode("ascii")


def read_page_token(token: str) -> int:
    """Unwrap a page token, raising ValueError for anything this simulator did not issue."""
    try:
        text = base64.urlsafe_b64decode(token.encode("ascii")).decode("ascii")
    except (binascii.Error, UnicodeError) as exc:
        raise ValueError("not a page token") from exc
    number = text.removeprefix(_TOKEN_PREFIX)
    if number == text or not number.isdigit():
        raise ValueError("not a page token")
    return int(number)
