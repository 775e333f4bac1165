"""The review page: every row's video as a person would check it, in one HTML file.

Pure: cards in, HTML out. The page needs no network: its CSS and script are inline
(assets/review.css, assets/review.js), and the rows travel as JSON in a
`<script type="application/json">` block with `<`, `>`, `&`, U+2028 and U+2029 escaped, so no
cell can end the block. The script draws every value with DOM calls, never as markup.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import json
import math
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

from merge.payload.costs import parts_of, positive_number, price, resolution_of
from merge.payload.translate_v3 import as_scenes, engine_of
from merge.prices import PriceTable
from merge.problems import Problem
from merge.settings import REVIEW_PAGE_ROWS, WORDS_PER_MINUTE

RENDER, SUBMIT, FOLLOWED = "render", "submit", "status"
TILES = {
    RENDER: ("valid", "invalid"),
    SUBMIT: ("submitted", "failed", "unknown", "skipped", "invalid"),
    FOLLOWED: ("completed", "processing", "pending", "failed", "unknown", "skipped", "invalid"),
}
"""The statuses the summary always shows, by the command that made the page."""
SPOKEN = {
    RENDER: ("valid",),
    SUBMIT: ("submitted", "unknown"),
    FOLLOWED: ("completed", "processing", "waiting", "pending", "submitted", "unknown"),
}
"""The statuses of rows whose video the spoken-time estimate counts (an unknown one may exist)."""
SPOKEN_LABEL = {RENDER: "valid", SUBMIT: "sent", FOLLOWED: "sent"}

SECONDS_PER_WORD = 60 / WORDS_PER_MINUTE

JSON_ESCAPES = (
    (b"&", b"\\u0026"),
    (b"<", b"\\u003c"),
    (b">", b"\\u003e"),
    ("\u2028".encode(), b"\\u2028"),
    ("\u2029".encode(), b"\\u2029"),
)


def escape_json(data: bytes) -> bytes:
    """Keep JSON inert inside a script block: these characters occur only in its strings."""
    for raw, escaped in JSON_ESCAPES:
        data = data.replace(raw, escaped)
    return data


def card_json(card: Mapping[str, Any]) -> bytes:
    """Serialise a card, in ASCII when orjson refuses it (huge integers, lone surrogates)."""
    try:
        return orjson.dumps(card)
    except TypeError:
        return json.dumps(card, ensure_ascii=True).encode("ascii")


def voice_seconds(voice: Any) -> float | None:
    """Estimate how long a scene's voice lasts; None for recorded audio, whose file is unread."""
    if not isinstance(voice, dict):
        return None
    kind = voice.get("type")
    if kind == "text":
        text = voice.get("input_text")
        words = len(text.split()) if isinstance(text, str) else 0
        speed = voice.get("speed", 1.0)
        if not (type(speed) is float and 0.0 < speed < math.inf):  # a valid body's, quickly
            speed = positive_number(speed, 1.0)
        return round(words * SECONDS_PER_WORD / speed, 1)
    if kind == "silence":
        return positive_number(voice.get("duration"), 1.0)
    return None


def scenes_of(payload: Any) -> list[Any] | None:
    """A body's scenes in V2's shape: its own, or those of a v3 body (`--api v3`)."""
    if not isinstance(payload, dict):
        return None
    if "video_inputs" not in payload and payload.get("type") in ("avatar", "studio"):
        return as_scenes(payload)
    scenes = payload.get("video_inputs")
    return scenes if isinstance(scenes, list) else None


def scene_seconds(payload: Any) -> list[float | None]:
    """Estimate each scene's spoken time, so a batch's length can be judged before it is sent."""
    return _seconds(scenes_of(payload))


def _seconds(scenes: list[Any] | None) -> list[float | None]:
    if not isinstance(scenes, list):
        return []
    return [voice_seconds(s.get("voice") if isinstance(s, dict) else None) for s in scenes]


def sent_cards(
    values: Mapping[int, Sequence[str]],
    bodies: Mapping[int, bytes],
    problems: Mapping[int, Sequence[Problem]],
) -> Iterator[dict[str, Any]]:
    """Make each row's card, in sheet order, from its output cells, its body and its problems."""
    for row in sorted(values):
        video_id, status, error, key, at = values[row]
        card: dict[str, Any] = {"row": row, "status": status, "key": key}
        if video_id:
            card |= {"video_id": video_id, "submitted_at": at}
        if row in bodies:
            card["payload"] = orjson.loads(bodies[row])
        if status == "invalid":
            card["problems"] = [p.as_dict() for p in problems.get(row, ())] or [{"message": error}]
        elif error:
            card["error"] = error
        yield card


VIDEO_FIELDS = ("status", "video_url", "thumbnail_url", "duration", "error", "checked_at")
VIDEO_LINKS = ("video_page_url", "gif_url")
"""What a card shows of its video: what the API said (and its page and GIF, when known)."""


def video_card(
    state: Any, file: Path | None = None, thumbnail: Path | None = None, page: Path | None = None
) -> dict[str, Any]:
    """Say what a card shows of one video; saved files as paths relative to the page."""
    video = {name: getattr(state, name, None) for name in (*VIDEO_FIELDS, *VIDEO_LINKS)}
    given = getattr(state, "links", None)  # the journal's video_links: v3's GIF and page links
    if isinstance(given, str) and given:
        with contextlib.suppress(ValueError):
            links = json.loads(given)
            if isinstance(links, dict):
                video |= {
                    name: links[name] for name in VIDEO_LINKS if isinstance(links.get(name), str)
                }
    for name, path in (("file", file), ("thumbnail_file", thumbnail)):
        if path is not None and page is not None and path.exists():
            video[name] = Path(os.path.relpath(path, page.parent)).as_posix()
    return {key: value for key, value in video.items() if value not in (None, "")}


@dataclass
class ReviewPage:
    """One page's rows: every row counted and estimated as it comes, cards kept up to a limit."""

    title: str
    subtitle: str = ""
    kind: str = RENDER
    rest: str = "every row is in payloads.jsonl."
    limit: int = REVIEW_PAGE_ROWS
    counts: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    spoken_rows: int = 0
    unknown_scenes: int = 0
    shown: int = 0
    media: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Local files by the reference bodies hold for them (a token, or the asset_id once
    uploaded): their names, sizes and thumbnails (review/thumbs.py)."""
    prices: PriceTable = field(default_factory=PriceTable)
    avatar_types: Mapping[str, str] = field(default_factory=dict)
    """Each look's avatar type where the account said it (submit); others are priced as a range."""
    cost_low: float = 0.0
    cost_high: float = 0.0
    _cards: bytearray = field(default_factory=bytearray, repr=False)

    @property
    def rows(self) -> int:
        """Every row added, shown or not."""
        return self.counts.total()

    def add(self, card: Mapping[str, Any], encoded: bytes | None = None) -> None:
        """Count a row, add its spoken time, and keep its card while the page has room.

        `encoded` is the card already serialised by orjson (a payloads.jsonl line): its bytes are
        reused rather than serialising the card a second time.
        """
        status = card["status"]
        self.counts[status] += 1
        payload = card.get("payload")
        scenes = scenes_of(payload)  # a v3 body's scenes are made once, for time and card
        seconds = _seconds(scenes)
        cost = self._cost(card) if status != "invalid" else None
        if status in SPOKEN[self.kind]:
            self.spoken_rows += 1
            self.seconds += sum(s for s in seconds if s is not None)
            self.unknown_scenes += seconds.count(None)
            if cost is not None:
                self.cost_low += cost[0]
                self.cost_high += cost[1]
        if self.shown < self.limit:
            extra: dict[str, Any] = {"seconds": seconds}
            if cost is not None:
                extra["cost"] = [round(cost[0], 2), round(cost[1], 2)]
            if isinstance(payload, dict) and "video_inputs" not in payload:
                extra["scenes"] = scenes
                extra["engine"] = engine_of(payload)
            if encoded is not None and encoded.endswith(b"}") and len(card):
                data = encoded[:-1] + b"," + card_json(extra)[1:]
            else:
                data = card_json({**card, **extra})
            self._cards += (b"," if self.shown else b"") + escape_json(data)
            self.shown += 1

    def _cost(self, card: Mapping[str, Any]) -> tuple[float, float] | None:
        """Price a row's body (low, high) in USD, or None when it has no speaking avatar."""
        payload = card.get("payload")
        parts = parts_of(payload)
        if not parts:
            return None
        low, high, _ = price(parts, resolution_of(payload), self.avatar_types, self.prices)
        return low, high

    def add_all(self, cards: Iterable[Mapping[str, Any]]) -> ReviewPage:
        """Add cards in sheet order and return the page, for building one in a single call."""
        for card in cards:
            self.add(card)
        return self

    def meta(self) -> dict[str, Any]:
        """Say what the page's header shows: counts, the estimate, how many cards it holds."""
        return {
            "title": self.title,
            "subtitle": self.subtitle,
            "rows": self.rows,
            "shown": self.shown,
            "rest": self.rest,
            "statuses": TILES[self.kind],
            "counts": dict(self.counts),
            "seconds": round(self.seconds, 1),
            "spoken_rows": self.spoken_rows,
            "spoken_label": SPOKEN_LABEL[self.kind],
            "unknown_scenes": self.unknown_scenes,
            "words_per_minute": WORDS_PER_MINUTE,
            "media": self.media,
            "cost_low": round(self.cost_low, 2),
            "cost_high": round(self.cost_high, 2),
            "prices_date": self.prices.date,
        }

    def chunks(self) -> Iterator[bytes | bytearray]:
        """Yield the page in pieces, so a big one is written without another copy in memory."""
        before_title, before_data, after_data = _template()
        yield before_title + html.escape(self.title).encode("utf-8") + before_data
        yield b'{"meta":' + escape_json(card_json(self.meta())) + b',"rows":['
        yield self._cards
        yield b"]}" + after_data

    def html(self) -> str:
        """Return the whole page as text."""
        return b"".join(self.chunks()).decode("utf-8")


def _csp_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


@cache
def _template() -> tuple[bytes, bytes, bytes]:
    """Join the page's HTML, CSS and script once; the policy lets only these run."""
    assets = resources.files("merge.review") / "assets"
    page, style, script = (
        (assets / name).read_text("utf-8") for name in ("review.html", "review.css", "review.js")
    )
    page = page.replace("__STYLE_HASH__", _csp_hash(style))
    page = page.replace("__SCRIPT_HASH__", _csp_hash(script))
    page = page.replace("__STYLE__", style).replace("__SCRIPT__", script)
    before_title, rest = page.split("__TITLE__")
    before_data, after_data = rest.split("__DATA__")
    return before_title.encode(), before_data.encode(), after_data.encode()
