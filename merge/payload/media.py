"""Local files in media fields: find them, check them, and put an asset token in their place.

Where a body takes a picture, a clip or a recording, a value that is not an `http(s)://` URL is
a file on this computer, relative to the sheet's folder (or absolute). Such a value is checked
here, before anything is sent: it exists, it can be read, its type is one the API takes, the
field wants that kind of media, its first bytes match its extension, it is within the upload
limits. A good file is hashed (SHA-256, its identity) and its field rewritten to the form that
takes an uploaded asset, holding a token (`am-file-<sha256>`) that the submit run replaces by
the real `asset_id` once the file is uploaded. The same file in 500 rows is one token, so one
upload. Files are stat'ed, their heads read and hashed once per run (the cache keys on size and
modification time). Nothing here touches the network.

The fields, by the body's shape:

- V2 (`video_inputs`): background `{"type": "image", "url"}` → `image_asset_id`, background
  `{"type": "video", "url"}` → `video_asset_id`, voice `audio_url` → `audio_asset_id`;
- v3: background `{"type": "image", "url"}` → `asset_id`; an AssetInput `{"type": "url", "url"}`
  (`image`, a scene's `source`, a watermark's `image`) → `{"type": "asset_id", "asset_id"}`;
  `audio_url` → `audio_asset_id` (in the body, a scene, or a scene's `input`).

A value in an asset-id field itself (`image_asset_id`, `asset_id`, ...) is taken for a local
file only when it looks like one (a path separator, or a media file extension); otherwise it is
an id from HeyGen and left alone.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from merge.problems import Problem, json_path
from merge.settings import (
    ASSET_MAX_BYTES,
    ASSET_V2_MAX_BYTES,
    HASH_CHUNK_BYTES,
)

TOKEN_PREFIX = "am-file-"
TOKEN = re.compile(r"am-file-[0-9a-f]{64}")
WEB_URL = re.compile(r"https?://", re.I)
WINDOWS_ABSOLUTE = re.compile(r"^(?:[A-Za-z]:[\\/]|\\\\)")
HEAD_BYTES = 64

# extension → (kind, MIME type); V2 takes no wav.
TYPES = {
    ".png": ("image", "image/png"),
    ".jpg": ("image", "image/jpeg"),
    ".jpeg": ("image", "image/jpeg"),
    ".mp4": ("video", "video/mp4"),
    ".webm": ("video", "video/webm"),
    ".mp3": ("audio", "audio/mpeg"),
    ".wav": ("audio", "audio/wav"),
}
V2_MIMES = frozenset({"image/png", "image/jpeg", "video/mp4", "video/webm", "audio/mpeg"})
KIND_WORDS = {"image": "a picture", "video": "a video", "audio": "a recording"}


def sniff(head: bytes) -> str | None:
    """Name the media type a file's first bytes show, among those the API takes; None if none."""
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
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "audio/wav"
    return None


def token_of(sha256: str) -> str:
    """The stand-in a body holds for a local file until it is uploaded."""
    return TOKEN_PREFIX + sha256


@dataclass(frozen=True, slots=True)
class LocalFile:
    """One checked local file: where it is, what it is, and its content's SHA-256."""

    path: Path
    shown: str
    """The value as the cell or template wrote it, for messages."""
    size: int
    mime: str
    sha256: str

    @property
    def token(self) -> str:
        """The stand-in for this file's asset_id in a body."""
        return token_of(self.sha256)


@dataclass
class Localised:
    """What one body's media fields came to: the local files found, and the problems."""

    files: dict[str, LocalFile] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Spot:
    """A media field in a body: where, what kind, and the field an asset goes in."""

    node: dict[str, Any]
    key: str
    path: str
    kind: str
    asset_key: str
    is_asset: bool
    """The field already takes an asset id (a value there is a file only if it looks like one)."""


class MediaFiles:
    """Check local files named in bodies, once each per run, for one sheet and one API."""

    def __init__(self, folder: Path, api: str = "v3") -> None:
        self.folder = Path(folder)
        self.api = api
        self._seen: dict[tuple[Path, int, int], LocalFile | str] = {}
        self._located: dict[str, Path | str] = {}

    def localise(self, body: Any) -> Localised:
        """Rewrite every local file in a body's media fields to its token; report bad ones.

        The body is changed in place; a field whose file has a problem is left as it was.
        """
        found = Localised()
        if not isinstance(body, dict):
            return found
        for spot in _spots(body):
            value = spot.node[spot.key]
            if not is_local(value, spot.is_asset):
                continue
            checked = self.check(value, spot.kind)
            if isinstance(checked, str):
                found.problems.append(Problem(spot.path, checked))
                continue
            found.files[checked.token] = checked
            _rewrite(spot, checked.token)
        return found

    def check(self, value: str, kind: str) -> LocalFile | str:
        """Check one named file for a field wanting `kind` media; a message if it will not do."""
        located = self._located.get(value)
        if located is None:
            located = self._located[value] = self._locate(value)
        if isinstance(located, str):
            return located
        try:
            stat = located.stat()
        except OSError as error:
            return f'"{value}": cannot be read ({error.strerror})'
        ident = (located, stat.st_size, stat.st_mtime_ns)
        if ident not in self._seen:
            self._seen[ident] = self._inspect(value, located, stat.st_size)
        checked = self._seen[ident]
        if isinstance(checked, str):
            return checked
        wanted = TYPES[located.suffix.lower()][0]
        if wanted != kind:
            return (
                f'"{value}" is {KIND_WORDS[wanted]}, but this field takes {KIND_WORDS[kind]}'
                f" ({_names(kind, self.api)})"
            )
        return checked

    def _locate(self, value: str) -> Path | str:
        text = value.strip()
        if text.lower().startswith("file://"):
            text = unquote(urlsplit(text).path)
        if os.sep == "/" and WINDOWS_ABSOLUTE.match(text):
            return (
                f'"{value}" is a Windows path, which this computer cannot open: put the file in'
                " the sheet's folder (or below it) and write its path relative to that folder,"
                " like photos/anna.jpg"
            )
        if os.sep == "/" and "\\" in text:
            text = text.replace("\\", "/")  # a colleague's relative Windows path
        path = Path(text).expanduser()
        if not path.is_absolute():
            path = self.folder / path
        try:
            if not path.exists():
                return (
                    f'"{value}": not a URL and no such file (looked for {path}; paths are'
                    " relative to the sheet's folder)"
                )
            if path.is_dir():
                return f'"{value}": is a folder, not a file'
            return path.resolve()
        except OSError as error:  # a name too long for the file system, say
            return (
                f'"{_short(value)}": not a URL, and no file can have this name ({error.strerror})'
            )

    def _inspect(self, value: str, path: Path, size: int) -> LocalFile | str:
        """Read a file's head and, if it will do, its whole content for the hash."""
        suffix = path.suffix.lower()
        if suffix not in TYPES or (self.api == "v2" and TYPES[suffix][1] not in V2_MIMES):
            said = f"a {suffix} file" if suffix else "a file without an extension"
            return f'"{value}" is {said}; uploads take {_names(None, self.api)} files'
        if size == 0:
            return f'"{value}": is empty'
        limit = ASSET_V2_MAX_BYTES if self.api == "v2" else ASSET_MAX_BYTES
        if size > limit:
            return f'"{value}": is {_size(size)}; uploads take at most {_size(limit)}'
        mime = TYPES[suffix][1]
        try:
            with path.open("rb") as handle:
                head = handle.read(HEAD_BYTES)
                shows = sniff(head)
                if shows != mime:
                    return _mismatch(value, suffix, shows)
                digest = hashlib.sha256(head)
                while chunk := handle.read(HASH_CHUNK_BYTES):
                    digest.update(chunk)
        except OSError as error:
            return f'"{value}": cannot be read ({error.strerror})'
        return LocalFile(path, value, size, mime, digest.hexdigest())


MEDIA_KEYS = frozenset(
    {"url", "audio_url", "audio_asset_id", "asset_id", "image_asset_id", "video_asset_id"}
)
Where = tuple[str | int, ...]


def _spots(body: dict[str, Any]) -> list[_Spot]:
    """Collect a body's media fields holding text, looking only where the contract puts them."""
    found: list[_Spot] = []
    if "video_inputs" in body:
        for at, scene in _each(body.get("video_inputs"), ("video_inputs",)):
            for part in ("voice", "background"):
                _fields(scene.get(part), (*at, part), True, None, None, found)
        return found
    _v3_object(body, (), None, found)
    for at, scene in _each(body.get("scenes"), ("scenes",)):
        _v3_object(scene, at, None, found)
        inner = scene.get("input")
        if isinstance(inner, dict):
            _v3_object(inner, (*at, "input"), None, found)
    watermark = body.get("watermark")
    if isinstance(watermark, dict):
        _fields(watermark.get("image"), ("watermark", "image"), False, "image", None, found)
    return found


def _v3_object(node: dict[str, Any], at: Where, parent: str | None, found: list[_Spot]) -> None:
    """A v3 body, scene or input: its audio fields, background, image and source."""
    _fields(node, at, False, parent, None, found)
    for part in ("background", "image", "source"):
        _fields(node.get(part), (*at, part), False, part, node.get("type"), found)


def media_fields(body: Any) -> list[tuple[str, bool]]:
    """Name a rendered body's media fields holding text: (path, whether it takes an asset id)."""
    return [(spot.path, spot.is_asset) for spot in _spots(body)] if isinstance(body, dict) else []


def _each(items: Any, at: Where) -> list[tuple[Where, dict[str, Any]]]:
    if not isinstance(items, list):
        return []
    return [((*at, i), item) for i, item in enumerate(items) if isinstance(item, dict)]


def _fields(
    node: Any, at: Where, v2: bool, parent_key: str | None, parent_type: Any, found: list[_Spot]
) -> None:
    """Collect the media fields of one object."""
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    for key, value in node.items():
        if key in MEDIA_KEYS and isinstance(value, str):
            spot = _field(key, kind, v2, parent_key, parent_type)
            if spot is not None:
                found.append(_Spot(node, key, json_path((*at, key)), *spot))


def _field(
    key: str, kind: Any, v2: bool, parent_key: str | None, parent_type: Any
) -> tuple[str, str, bool] | None:
    """Say if `key` of an object of type `kind` is a media field: (kind, asset key, is asset)."""
    if key in ("audio_url", "audio_asset_id"):
        return "audio", "audio_asset_id", key == "audio_asset_id"
    media = kind if kind in ("image", "video") else None
    if kind in ("url", "asset_id"):  # a v3 AssetInput: the object holding it says its kind
        media = "video" if parent_key == "source" and parent_type == "video" else "image"
        if key in ("url", "asset_id"):
            return media, "asset_id", key == "asset_id"
        return None
    if media is None:
        return None
    if v2 and key in ("url", f"{media}_asset_id"):
        return media, f"{media}_asset_id", key != "url"
    if not v2 and media == "image" and key in ("url", "asset_id"):
        return "image", "asset_id", key == "asset_id"
    return None


def is_local(value: str, is_asset: bool) -> bool:
    """Whether a media field's text names a local file rather than a URL or an asset id."""
    text = value.strip()
    if not text or TOKEN.fullmatch(text):
        return False
    if not is_asset:
        return not WEB_URL.match(text)
    return "/" in text or "\\" in text or Path(text).suffix.lower() in TYPES


def _rewrite(spot: _Spot, token: str) -> None:
    """Put the token in the field that takes an asset, in place of the local path."""
    node = spot.node
    if node.get("type") == "url":  # v3 AssetInput
        node.pop("url", None)
        node["type"] = "asset_id"
    elif spot.key != spot.asset_key:
        del node[spot.key]
    node[spot.asset_key] = token


def tokens_in(body: bytes) -> list[str]:
    """Find the local-file tokens in a serialised body, each once, in the body's order."""
    return list(dict.fromkeys(m.decode() for m in re.findall(rb"am-file-[0-9a-f]{64}", body)))


def _names(kind: str | None, api: str) -> str:
    shown = {
        ext.lstrip("."): mime
        for ext, (media, mime) in TYPES.items()
        if (kind is None or media == kind) and ext != ".jpg"
    }
    return ", ".join(n for n, m in shown.items() if api != "v2" or m in V2_MIMES)


def _mismatch(value: str, suffix: str, shows: str | None) -> str:
    if shows is None:
        return (
            f'"{value}": does not hold what its name says ({suffix}): its first bytes are not'
            " those of any file type uploads take"
        )
    real = next(ext for ext, (_, mime) in TYPES.items() if mime == shows)
    return f'"{value}": is named {suffix} but holds a {real} file: rename it to match'


def _short(value: str, shown: int = 60) -> str:
    """A long value's start, so a message about it stays readable."""
    return value if len(value) <= shown else f"{value[:shown]}… ({len(value):,} characters)"


def _size(size: int) -> str:
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"
