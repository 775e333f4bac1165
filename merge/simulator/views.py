"""Pure answer bodies: a video's status, a listing item, page tokens and placeholder files."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from merge.simulator.account import Video
from merge.simulator.settings import URL_LIFETIME_SECONDS

_MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
_GIF = bytes.fromhex(
    "47494638396101000100800000ffffff00000021f90401000000002c00000000010001000002024401003b"
)
_VTT = b"WEBVTT\n\n00:00.000 --> 00:01.000\n(simulated caption)\n"

FILES: dict[str, tuple[str, bytes]] = {
    "mp4": ("video/mp4", _MP4),
    "jpg": ("image/jpeg", _JPEG),
    "gif": ("image/gif", _GIF),
    "vtt": ("text/vtt", _VTT),
    "caption.mp4": ("video/mp4", _MP4),
}
"""What `/files/<id>.<kind>` serves, by kind: content type and placeholder bytes."""

_CAPTION_KINDS = frozenset({"vtt", "caption.mp4"})
_TOKEN_PREFIX = "below:"


def status_data(video: Video, now: float, base: str) -> dict[str, Any]:
    """Build the status endpoint's `data`, with fresh file links once the video is completed."""
    status = video.status(now)
    done = status == "completed"
    captions = done and video.caption
    expires = int(now) + URL_LIFETIME_SECONDS

    def link(kind: str, shown: bool = done) -> str | None:
        return f"{base}/files/{video.id}.{kind}?expires={expires}" if shown else None

    return {
        "id": video.id,
        "status": status,
        "callback_id": video.callback_id,
        "video_url": link("mp4"),
        "thumbnail_url": link("jpg"),
        "gif_url": link("gif"),
        "caption_url": link("vtt", captions),
        "video_url_caption": link("caption.mp4", captions),
        "duration": video.duration if done else None,
        "created_at": int(video.timeline.created),
        "error": video.failure if status == "failed" else None,
    }


def list_item(video: Video, now: float) -> dict[str, Any]:
    """Build one listing entry; like the real listing as far as known, it has no callback_id."""
    return {
        "video_id": video.id,
        "status": video.status(now),
        "video_title": video.title,
        "created_at": int(video.timeline.created),
    }


def placeholder(video: Video, kind: str, now: float) -> tuple[str, bytes] | None:
    """Return the content type and bytes of a finished video's file, or None if there is none."""
    if kind not in FILES or video.status(now) != "completed":
        return None
    if kind in _CAPTION_KINDS and not video.caption:
        return None
    return FILES[kind]


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
