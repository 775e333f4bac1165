"""How long a recorded voice lasts, read from the first bytes of its file: WAV or MP3.

The file is fetched with a range request of its head only, by a client that never carries the
API key (the URL is the sheet's, not HeyGen's). WAV says its length exactly (byte rate and
data size); MP3 does when it has a Xing/Info header (frame count), else it is estimated from
the first frame's bit rate and the file's size. Anything else is None: length unknown.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import struct
from collections.abc import Iterable
from urllib.parse import urlsplit

import httpx

from merge.addresses import is_loopback
from merge.settings import AUDIO_PROBE_BYTES, AUDIO_PROBE_CONCURRENCY, AUDIO_PROBE_TIMEOUT_SECONDS

TOTAL = re.compile(r"/(\d+)\s*$")
RESERVED_TLDS = frozenset({"example", "test", "invalid", "localhost", "local", "internal"})
RESERVED_NAMES = frozenset({"example.com", "example.net", "example.org"})
MP3_BITRATES = {
    # (MPEG version 1?, layer III) → kbit/s by index
    True: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0),
    False: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0),
}
MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def open_audio_http() -> httpx.AsyncClient:
    """A client for the sheet's own files: no API key, a short timeout, redirects followed."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(AUDIO_PROBE_TIMEOUT_SECONDS),
        follow_redirects=True,
        limits=httpx.Limits(max_connections=AUDIO_PROBE_CONCURRENCY),
    )


async def audio_lengths(http: httpx.AsyncClient, urls: Iterable[str]) -> dict[str, float]:
    """Read the length of each audio URL that can be read; the others are left out."""
    gate = asyncio.Semaphore(AUDIO_PROBE_CONCURRENCY)
    found: dict[str, float] = {}

    async def probe(url: str) -> None:
        async with gate:
            seconds = await audio_seconds(http, url)
        if seconds is not None:
            found[url] = seconds

    await asyncio.gather(*(probe(url) for url in dict.fromkeys(urls)))
    return found


def probeable(url: str) -> bool:
    """Whether HeyGen could fetch this file: a public name or address (or loopback, for tests).

    Names reserved for examples (example.com, .test, .invalid...) and private addresses are
    never asked: they hold no file HeyGen can read.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    if parts.scheme not in ("http", "https") or not host:
        return False
    if is_loopback(host):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        labels = host.split(".")
        reserved = labels[-1] in RESERVED_TLDS or ".".join(labels[-2:]) in RESERVED_NAMES
        return len(labels) > 1 and not reserved
    return address.is_global


async def audio_seconds(http: httpx.AsyncClient, url: str) -> float | None:
    """Fetch a file's head and read its length, or None when it cannot be read."""
    if not probeable(url):
        return None
    headers = {"Range": f"bytes=0-{AUDIO_PROBE_BYTES - 1}"}
    try:
        async with http.stream("GET", url, headers=headers) as response:
            if response.status_code not in (200, 206):
                return None
            head = bytearray()
            async for chunk in response.aiter_bytes():
                head += chunk
                if len(head) >= AUDIO_PROBE_BYTES:
                    break
            size = _total_size(response)
    except (httpx.HTTPError, OSError):
        return None
    return length_of(bytes(head[:AUDIO_PROBE_BYTES]), size)


def _total_size(response: httpx.Response) -> int | None:
    found = TOTAL.search(response.headers.get("Content-Range", ""))
    if found:
        return int(found.group(1))
    length = response.headers.get("Content-Length")
    return int(length) if response.status_code == 200 and length and length.isdigit() else None


def length_of(head: bytes, size: int | None) -> float | None:
    """Read a WAV's or an MP3's length from its first bytes and its total size."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return _wav_seconds(head, size)
    return _mp3_seconds(head, size)


def _wav_seconds(head: bytes, size: int | None) -> float | None:
    at, byte_rate = 12, 0
    while at + 8 <= len(head):
        kind, length = head[at : at + 4], int(struct.unpack_from("<I", head, at + 4)[0])
        if kind == b"fmt " and at + 16 <= len(head):
            byte_rate = int(struct.unpack_from("<I", head, at + 16)[0])
        elif kind == b"data" and byte_rate:
            if length in (0, 0xFFFFFFFF) and size is not None:
                length = size - at - 8  # a streamed WAV leaves its size unwritten
            return round(length / byte_rate, 2)
        at += 8 + length + (length & 1)
    return None


def _mp3_seconds(head: bytes, size: int | None) -> float | None:
    start = 0
    if head[:3] == b"ID3" and len(head) >= 10:
        tag = head[6:10]
        start = 10 + ((tag[0] << 21) | (tag[1] << 14) | (tag[2] << 7) | tag[3])
    at = head.find(b"\xff", start)
    while at >= 0 and at + 4 <= len(head):
        frame = _frame(head[at : at + 4])
        if frame is not None:
            version1, bitrate, rate = frame
            samples = 1152 if version1 else 576
            frames = _xing_frames(head, at)
            if frames:
                return round(frames * samples / rate, 2)
            if size is None or not bitrate:
                return None
            return round((size - at) * 8 / (bitrate * 1000), 2)
        at = head.find(b"\xff", at + 1)
    return None


def _frame(header: bytes) -> tuple[bool, int, int] | None:
    """Read a Layer III frame header: (MPEG-1?, kbit/s, sample rate), or None."""
    if header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return None
    version = (header[1] >> 3) & 3
    layer = (header[1] >> 1) & 3
    if version == 1 or layer != 1:
        return None
    bitrate_index, rate_index = header[2] >> 4, (header[2] >> 2) & 3
    if bitrate_index == 15 or rate_index == 3:
        return None
    version1 = version == 3
    return version1, MP3_BITRATES[version1][bitrate_index], MP3_RATES[version][rate_index]


def _xing_frames(head: bytes, at: int) -> int | None:
    """The frame count of a Xing/Info header in the first frame, which makes VBR exact."""
    for tag in (b"Xing", b"Info"):
        found = head.find(tag, at, at + 200)
        if found >= 0 and found + 12 <= len(head):
            flags = struct.unpack_from(">I", head, found + 4)[0]
            if flags & 1:
                frames: int = struct.unpack_from(">I", head, found + 8)[0]
                return frames
    return None
