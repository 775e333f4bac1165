"""The account's uploaded files, counted by content: which asset ids a create body may name."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from merge.problems import json_path
from merge.simulator.idempotency import IdempotencyKeys

ASSET_ID_FIELDS = frozenset({"asset_id", "audio_asset_id", "image_asset_id", "video_asset_id"})


def media_type(content: bytes) -> str | None:
    """Read a file's type from its first bytes, among those the asset endpoint takes."""
    head = content[:16]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[4:8] == b"ftyp":
        return "video/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    if head.startswith(b"RIFF") and content[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if content[:1].isdigit() and b"-->" in content[:200]:
        return "application/x-subrip"
    return None


@dataclass(slots=True)
class Asset:
    """One asset: ready once uploaded whole (direct uploads: once completed)."""

    asset_id: str
    mime: str
    size: int
    sha256: str | None = None
    ready: bool = False
    token: str = ""
    """The secret in a direct upload's `upload_url`."""


class Assets:
    """The account's assets and how often each content was uploaded; any thread may read it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._assets: dict[str, Asset] = {}
        self.uploads: Counter[str] = Counter()
        self.form_keys = IdempotencyKeys()
        self.direct_keys = IdempotencyKeys()

    def add(self, asset: Asset) -> None:
        """Hold a new asset; count its content as uploaded when it arrives ready."""
        with self._lock:
            self._assets[asset.asset_id] = asset
            if asset.ready and asset.sha256:
                self.uploads[asset.sha256] += 1

    def get(self, asset_id: str) -> Asset | None:
        """Return an asset by id."""
        with self._lock:
            return self._assets.get(asset_id)

    def complete(self, asset: Asset) -> None:
        """Make a direct upload usable, counting its content once."""
        with self._lock:
            if not asset.ready and asset.sha256:
                asset.ready = True
                self.uploads[asset.sha256] += 1

    def usable(self, asset_id: str) -> bool:
        """Whether a body may name this asset."""
        with self._lock:
            found = self._assets.get(asset_id)
            return found is not None and found.ready

    def summary(self) -> dict[str, Any]:
        """Count the uploads by content, for tests that look for a file sent twice."""
        with self._lock:
            return {
                "assets": len(self._assets),
                "uploads": sum(self.uploads.values()),
                "uploads_by_hash": dict(self.uploads),
            }


def unknown_asset(body: Any, assets: Assets) -> tuple[str, str] | None:
    """Find the first asset id in a create body that the account cannot use: (param, problem)."""
    for path, value in _asset_ids(body, ()):
        if not assets.usable(value):
            return json_path(path), f"no uploaded asset has the id {value!r}"
    return None


def _asset_ids(node: Any, path: tuple[str | int, ...]) -> Iterator[tuple[Any, str]]:
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from _asset_ids(item, (*path, index))
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in ASSET_ID_FIELDS and isinstance(value, str):
                yield (*path, key), value
            else:
                yield from _asset_ids(value, (*path, key))
