"""A finished video's files as a signed CDN serves them: checkable bytes, byte ranges, a pace."""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import partial

from starlette.responses import Response, StreamingResponse

from merge.simulator.account import Video
from merge.simulator.responses import file_host_error

_MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
"""An MP4 file's first box, so a served video at least starts like one."""

_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
_GIF = bytes.fromhex(
    "47494638396101000100800000ffffff00000021f90401000000002c00000000010001000002024401003b"
)
_VTT = b"WEBVTT\n\n00:00.000 --> 00:01.000\n(simulated caption)\n"
_SRT = b"1\n00:00:00,000 --> 00:00:01,000\n(simulated caption)\n"
_SMALL_FILES: dict[str, tuple[str, bytes]] = {
    "jpg": ("image/jpeg", _JPEG),
    "gif": ("image/gif", _GIF),
    "vtt": ("text/vtt", _VTT),
    "srt": ("application/x-subrip", _SRT),
}
"""The small files `/files/<id>.<kind>` serves by kind: content type and bytes."""

_VIDEO_KINDS = frozenset({"mp4", "caption.mp4"})
_CAPTION_KINDS = frozenset({"vtt", "srt", "caption.mp4"})
_BLOCK = hashlib.sha256().digest_size
_RANGE = re.compile(r"bytes=(\d*)-(\d*)", re.ASCII | re.IGNORECASE)
CHUNK_BYTES = 64 * 1024
_PACE_SECONDS = 0.05
"""How much sending time one chunk holds when a pace is set, so the pace stays smooth."""


def video_bytes(video_id: str, size: int) -> bytes:
    """Return the `size` bytes the simulator serves as `video_id`'s video, to check downloads."""
    return video_slice(video_id, 0, size)


def video_slice(video_id: str, start: int, stop: int) -> bytes:
    """Return bytes `start` up to `stop` of a video's file without building the rest of it."""
    head = _MP4_HEAD[start:stop]
    start, stop = max(start, len(_MP4_HEAD)) - len(_MP4_HEAD), stop - len(_MP4_HEAD)
    if stop <= start:
        return head
    first, last = start // _BLOCK, -(-stop // _BLOCK)
    seed = video_id.encode()
    blocks = b"".join(
        hashlib.sha256(seed + number.to_bytes(8, "big")).digest() for number in range(first, last)
    )
    return head + blocks[start - first * _BLOCK : stop - first * _BLOCK]


@dataclass(frozen=True, slots=True)
class FileBody:
    """One file ready to serve: its type, its size and a reader for any slice of it."""

    media_type: str
    size: int
    read: Callable[[int, int], bytes]


def file_body(video: Video, kind: str, now: float, video_size: int) -> FileBody | None:
    """Find a finished video's file of `kind`, or None if it has none (yet)."""
    if video.status(now) != "completed" or (kind in _CAPTION_KINDS and not video.caption):
        return None
    if kind in _VIDEO_KINDS:
        # The captioned video has the same bytes as the plain one.
        return FileBody("video/mp4", video_size, partial(video_slice, video.id))
    if kind in _SMALL_FILES:
        media_type, content = _SMALL_FILES[kind]
        return FileBody(media_type, len(content), partial(_slice, content))
    return None


def _slice(content: bytes, start: int, stop: int) -> bytes:
    """Cut bytes `start` up to `stop` out of a file held whole."""
    return content[start:stop]


class RangeNotSatisfiable(ValueError):
    """Raised for a byte range that starts past the end of the file."""


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """Read a Range header as (start, stop) within `size`; None serves the whole file.

    One range of bytes is served; a header this cannot read (other units, several ranges, an end
    before its start) is ignored, as RFC 9110 allows.
    """
    found = _RANGE.fullmatch(header.strip()) if header else None
    if found is None or found.groups() == ("", ""):
        return None
    first, last = found.groups()
    if not first:
        if int(last) == 0:
            raise RangeNotSatisfiable
        return max(0, size - int(last)), size
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        raise RangeNotSatisfiable
    return start, min(size, int(last) + 1) if last else size


def file_response(body: FileBody, range_header: str | None, rate: float | None) -> Response:
    """Serve `body` whole (200) or the asked-for range (206 or 416), at `rate` bytes/s if set."""
    try:
        span = byte_range(range_header, body.size)
    except RangeNotSatisfiable:
        message = "The requested range is not satisfiable"
        headers = {"Content-Range": f"bytes */{body.size}", "Accept-Ranges": "bytes"}
        return file_host_error(416, "range_not_satisfiable", message, headers)
    start, stop = span or (0, body.size)
    headers = {"Accept-Ranges": "bytes", "Content-Length": str(stop - start)}
    if span is not None:
        headers["Content-Range"] = f"bytes {start}-{stop - 1}/{body.size}"
    return StreamingResponse(
        _chunks(body.read, start, stop, rate),
        status_code=200 if span is None else 206,
        headers=headers,
        media_type=body.media_type,
    )


async def _chunks(
    read: Callable[[int, int], bytes], start: int, stop: int, rate: float | None
) -> AsyncIterator[bytes]:
    """Yield bytes `start` up to `stop` in chunks, at about `rate` bytes a second when given."""
    step = CHUNK_BYTES if rate is None else max(1, min(CHUNK_BYTES, int(rate * _PACE_SECONDS)))
    began = time.monotonic()
    for at in range(start, stop, step):
        end = min(stop, at + step)
        yield read(at, end)
        if rate is not None:
            await asyncio.sleep(max(0.0, began + (end - start) / rate - time.monotonic()))
