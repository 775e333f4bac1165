"""Pure answer bodies: a video's status and signed file links, its webhook event, page tokens."""

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
        message, detail = video.failure["message"], video.failure.get("detail")
        msg = f"{message}: {detail}" if detail else message
        data = {"video_id": video.id, "msg": msg, "callback_id": video.callback_id}
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
