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
    """Name the status at `now` in v3's words, which have no `waiting`: it is still `pending`."""
    status = video.status(now)
    return "pending" if status == "waiting" else status


def v3_video(video: Video, now: float, base: str, ttl: float) -> dict[str, Any]:
    """Build one video's v3 status object, with fresh file links once it is completed."""
    status = v3_status(video, now)
    links = file_links(video, now, base, ttl)
    return {
        "id": video.id,
        "video_id": video.id,
        "status": status,
        "video_url": links["video_url"],
        "thumbnail_url": links["thumbnail_url"],
        "duration": video.duration if status == "completed" else None,
        "callback_id": video.callback_id,
        "created_at": int(video.timeline.created),
        "error": v3_failure(video.failure) if status == "failed" and video.failure else None,
    }


V3_FAILURE_CODES = {40010: "resolution_not_supported", 40009: "render_failed"}
"""v3 names for the simulator's render failures; HeyGen's own v3 codes are not confirmed."""


def v3_failure(failure: dict[str, Any]) -> dict[str, str]:
    """Describe a failed render as v3's `error`: a snake_case code and a message."""
    code = V3_FAILURE_CODES.get(failure["code"], "render_failed")
    return {"code": code, "message": failure_message(failure)}


def v3_list_item(video: Video, now: float) -> dict[str, Any]:
    """Build one v3 listing entry."""
    return {
        "video_id": video.id,
        "status": v3_status(video, now),
        "title": video.title,
        "created_at": int(video.timeline.created),
    }


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
