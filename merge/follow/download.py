"""Save finished videos: streamed to a partial file, resumed where it stopped, renamed when whole.

Downloads use their own HTTP client without the API key: video URLs point at a file host, which
must never see the key.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import httpx

from merge.settings import DEFAULT_TIMEOUT_SECONDS

SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
EXPIRED_STATUSES = frozenset({401, 403, 404, 410})
CHUNK_BYTES = 256 * 1024


class LinkExpired(Exception):
    """The file host refused the URL; a fresh one comes from asking the video's status again."""


class DownloadFailed(Exception):
    """The file could not be saved; the partial file stays for the next try."""


@dataclass(frozen=True, slots=True)
class Saved:
    """A file on disk, and whether this run fetched it (or found it whole already)."""

    path: Path
    fetched: bool
    size: int


def file_stem(key: str | None, row: int) -> str:
    """Name a row's files after its callback_id, else its row; two keys never share a name.

    A key that is already a safe, lower-case file name is used as it is; any other (`x/1`,
    `x 1`, `田中-1`, `Lead-A`) gets a short hash of the whole key after its safe form, so keys
    that look alike once made safe (`x/1` and `x_1`), or alike but for case on a file system
    that ignores it, keep files of their own.
    """
    if not key:
        return f"row-{row}"
    safe = SAFE_NAME.sub("_", key).strip("._")[:120]
    if safe == key and key == key.lower() and not key.startswith("row-"):
        return safe
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{safe}-{digest}" if safe else f"key-{digest}"


def open_files_http(timeout: float = DEFAULT_TIMEOUT_SECONDS) -> httpx.AsyncClient:
    """Make the keyless client for file hosts (redirects followed, as CDNs use them)."""
    return httpx.AsyncClient(timeout=httpx.Timeout(timeout), follow_redirects=True)


async def download(http: httpx.AsyncClient, url: str, target: Path) -> Saved:
    """Fetch `url` into `target`, resuming a partial file; raise LinkExpired or DownloadFailed."""
    if target.exists():
        return Saved(target, False, target.stat().st_size)
    part = target.with_name(f".{target.name}.part")
    have = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    try:
        async with http.stream("GET", url, headers=headers) as response:
            if response.status_code in EXPIRED_STATUSES:
                raise LinkExpired(f"HTTP {response.status_code}")
            if response.status_code == 416:
                part.unlink(missing_ok=True)
                raise DownloadFailed("the partial file did not match; it starts again next time")
            if response.status_code not in (200, 206):
                raise DownloadFailed(f"HTTP {response.status_code} from the file host")
            start, total = _extent(response, have)
            await _write(response, part, start)
    except httpx.HTTPError as error:
        raise DownloadFailed(f"{type(error).__name__}: {error}") from None
    size = part.stat().st_size
    if total is not None and size != total:
        raise DownloadFailed(f"got {size:,} of {total:,} bytes; the rest comes next time")
    os.replace(part, target)
    return Saved(target, True, size)


def _extent(response: httpx.Response, have: int) -> tuple[int, int | None]:
    """Where the body starts in the file, and the file's whole size when the host says."""
    if response.status_code == 206:
        match = re.match(r"bytes (\d+)-\d+/(\d+|\*)", response.headers.get("Content-Range", ""))
        if match is None or int(match.group(1)) != have:
            raise DownloadFailed("the file host resumed at the wrong place")
        return have, None if match.group(2) == "*" else int(match.group(2))
    length = response.headers.get("Content-Length")
    return 0, int(length) if length and length.isdigit() else None


async def _write(response: httpx.Response, part: Path, start: int) -> None:
    part.parent.mkdir(parents=True, exist_ok=True)
    with part.open("r+b" if start and part.exists() else "wb") as handle:
        handle.seek(start)
        handle.truncate()
        async for chunk in response.aiter_bytes(CHUNK_BYTES):
            handle.write(chunk)
        handle.flush()
        os.fsync(handle.fileno())
