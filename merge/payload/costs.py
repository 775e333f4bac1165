"""What each body asks of the account, and what it will cost: pure, for V2 and v3 bodies alike.

A body is read as its avatar parts (the v3 body itself, each studio scene's avatar input, or
each V2 scene): which look, which voice, which engine, what locale, and how long it speaks.
Spoken time is the script's words at WORDS_PER_MINUTE divided by the voice's speed, within
± SPEECH_SPREAD; a silence counts its duration; recorded audio the tool cannot read counts
AUDIO_SECONDS_RANGE.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from merge.prices import DEFAULT_ENGINE, PriceTable
from merge.settings import AUDIO_SECONDS_RANGE, SPEECH_SPREAD, WORDS_PER_MINUTE

BREAK = re.compile(r"""<break\s+time\s*=\s*["']?(\d+(?:\.\d+)?)\s*(ms|s)["']?\s*/?>""", re.I)
"""A pause written into a script, SSML style: `<break time="1.5s"/>`."""


class Part(NamedTuple):
    """One speaking avatar of a body, as the account and the price table need to see it."""

    avatar_id: str | None
    voice_id: str | None
    engine: str
    speaks: bool
    """Whether it speaks a script (a text voice), which needs a voice or the look's default."""
    locale: str | None
    low: float
    high: float
    """Seconds it lasts, at least and at most."""
    avatar_path: str
    voice_path: str
    voice_engine: str | None = None
    """The voice engine its settings are for (`engine_settings.engine_type`), if any."""
    audio_url: str | None = None
    """Its recorded voice's address, whose length a pre-flight may read."""


def parts_of(body: Any, audio: Mapping[str, float] | None = None) -> list[Part]:
    """Read a body's avatar parts: v3 (`type` avatar or studio) or V2 (`video_inputs`).

    `audio` gives the known length of audio URLs; others count AUDIO_SECONDS_RANGE.
    """
    if not isinstance(body, dict):
        return []
    if "video_inputs" in body:
        scenes = body.get("video_inputs") or []
        found = [_v2_part(scene, i) for i, scene in enumerate(scenes) if isinstance(scene, dict)]
    elif body.get("type") == "studio":
        found = []
        for i, scene in enumerate(body.get("scenes") or []):
            if not isinstance(scene, dict):
                continue
            if scene.get("type") == "avatar_video" and isinstance(scene.get("input"), dict):
                found.append(_v3_part(body, scene["input"], f"scenes[{i}].input."))
            elif "avatar_id" in scene:
                found.append(_v3_part(body, scene, f"scenes[{i}]."))
    else:
        found = [_v3_part(body, body, "")] if body.get("type", "avatar") == "avatar" else []
    if audio:
        found = [_heard(part, audio) for part in found]
    return found


def _heard(part: Part, audio: Mapping[str, float]) -> Part:
    """Give a recorded voice its measured length."""
    seconds = audio.get(part.audio_url or "")
    return part if seconds is None else part._replace(low=seconds, high=seconds)


def resolution_of(body: Any) -> str | None:
    """The body's resolution: v3's `resolution`, or the one V2's `dimension` reaches."""
    if not isinstance(body, dict):
        return None
    if isinstance(body.get("resolution"), str):
        return str(body["resolution"])
    size = body.get("dimension")
    if isinstance(size, dict):
        short = min(positive_number(size.get("width"), 0), positive_number(size.get("height"), 0))
        return "4k" if short > 1080 else "1080p" if short > 720 else "720p"
    return None


def spoken_seconds(script: str, speed: float) -> tuple[float, float]:
    """Say how long a script lasts at `speed`: its words, then its written pauses."""
    pauses = 0.0
    if "<" in script:
        pauses = sum(
            float(amount) / (1000 if unit.lower() == "ms" else 1)
            for amount, unit in BREAK.findall(script)
        )
        script = BREAK.sub(" ", script)
    words = len(script.split())
    seconds = words * 60 / WORDS_PER_MINUTE / speed
    return seconds * (1 - SPEECH_SPREAD) + pauses, seconds * (1 + SPEECH_SPREAD) + pauses


def price(
    parts: list[Part],
    resolution: str | None,
    avatar_types: Mapping[str, str],
    table: PriceTable,
) -> tuple[float, float, float]:
    """Price a body: (low, high) in USD, and its high end in credits; a look whose avatar type
    is not known is priced from its engine's cheapest type to its dearest."""
    low = high = credits = 0.0
    for part in parts:
        kind = avatar_types.get(part.avatar_id or "")
        cheapest, dearest = table.per_second_range(part.engine, kind, resolution)
        low += part.low * cheapest
        high += part.high * dearest
        credits += part.high * table.credits_per_second(part.engine)
    return low, high, credits


def _v3_part(body: Mapping[str, Any], scene: Mapping[str, Any], at: str) -> Part:
    settings = scene.get("voice_settings")
    settings = settings if isinstance(settings, dict) else {}
    script = scene.get("script")
    if isinstance(script, str):
        low, high = spoken_seconds(script, positive_number(settings.get("speed"), 1.0))
    else:
        low, high = AUDIO_SECONDS_RANGE
    return Part(
        _text(scene.get("avatar_id")),
        _text(scene.get("voice_id")),
        _engine(scene) or _engine(body) or DEFAULT_ENGINE,
        isinstance(script, str),
        _text(settings.get("locale")),
        low,
        high,
        f"{at}avatar_id",
        f"{at}voice_id",
        _voice_engine(settings.get("engine_settings")),
        _text(scene.get("audio_url")),
    )


def _v2_part(scene: Mapping[str, Any], index: int) -> Part:
    at = f"video_inputs[{index}]."
    character = scene.get("character")
    character = character if isinstance(character, dict) else {}
    voice = scene.get("voice")
    voice = voice if isinstance(voice, dict) else {}
    photo = character.get("type") == "talking_photo"
    field = "talking_photo_id" if photo else "avatar_id"
    kind = voice.get("type")
    if kind == "text":
        text = voice.get("input_text")
        speed = positive_number(voice.get("speed"), 1.0)
        low, high = spoken_seconds(text if isinstance(text, str) else "", speed)
    elif kind == "silence":
        low = high = positive_number(voice.get("duration"), 1.0)
    else:
        low, high = AUDIO_SECONDS_RANGE
    return Part(
        _text(character.get(field)),
        _text(voice.get("voice_id")) if kind == "text" else None,
        DEFAULT_ENGINE,
        kind == "text",
        _text(voice.get("locale")),
        low,
        high,
        f"{at}character.{field}",
        f"{at}voice.voice_id",
        "elevenlabs" if isinstance(voice.get("elevenlabs_settings"), dict) else None,
        _text(voice.get("audio_url")) if kind == "audio" else None,
    )


def _voice_engine(settings: Any) -> str | None:
    kind = settings.get("engine_type") if isinstance(settings, dict) else None
    return kind if isinstance(kind, str) else None


def _engine(holder: Mapping[str, Any]) -> str | None:
    engine = holder.get("engine")
    kind = engine.get("type") if isinstance(engine, dict) else None
    return kind if isinstance(kind, str) else None


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def positive_number(value: Any, default: float) -> float:
    """Read a positive number from a body that may be invalid, else the default."""
    if type(value) is float or type(value) is int:  # a valid body's, quickly
        return float(value) if 0 < value < math.inf else default
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return default
    try:
        number = float(value)
    except ValueError:
        return default
    return number if math.isfinite(number) and number > 0 else default
