"""Translate a validated V2 request body into HeyGen's v3 `POST /v3/videos` body, never silently.

Pure: a body in, a v3 body and a list of what v3 cannot say out. Each loss is a Problem at the
V2 path it concerns, so the pipeline names the column that fed it, like a validation problem.
A loss that `--lossy` may drop is a `Loss`; what v3 cannot express at all (a scene with no
avatar, a silent scene) is a `Gap`, an error whatever the options.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import gcd
from typing import Any

from merge.problems import Problem

LOSS_TEXT = "has no v3 equivalent"
LOSSY_HINT = "add --lossy to send these rows without what v3 cannot express (each loss is kept)"
RESOLUTIONS = (("720p", 720), ("1080p", 1080), ("4k", 2160))
EXACT_SIZES = {
    (1280, 720),
    (1920, 1080),
    (3840, 2160),
    (720, 1280),
    (1080, 1920),
    (2160, 3840),
    (720, 720),
    (1080, 1080),
    (2160, 2160),
}
AVATAR_DEFAULTS: dict[str, Any] = {
    "type": "avatar",
    "scale": 1.0,
    "avatar_style": "normal",
    "offset": {"x": 0, "y": 0},
}
PHOTO_DEFAULTS: dict[str, Any] = {
    "type": "talking_photo",
    "scale": 1.0,
    "offset": {"x": 0, "y": 0},
    "talking_style": "stable",
    "expression": "default",
}


@dataclass
class Translation:
    """A v3 body, what it had to leave out (`losses`), and what it cannot express (`gaps`)."""

    body: dict[str, Any] = field(default_factory=dict)
    losses: list[Problem] = field(default_factory=list)
    gaps: list[Problem] = field(default_factory=list)

    def lose(self, path: str, what: str) -> None:
        """Note a V2 setting that v3 has no way to say."""
        self.losses.append(Problem(path, f"{LOSS_TEXT}: {what}"))

    def gap(self, path: str, what: str) -> None:
        """Note something v3 cannot express at all."""
        self.gaps.append(Problem(path, f"cannot be sent to v3: {what}"))


def translate(body: dict[str, Any]) -> Translation:
    """Translate one valid V2 body: one scene → type avatar, several → type studio."""
    out = Translation()
    scenes = [
        _scene(scene, f"video_inputs[{n}]", out) for n, scene in enumerate(body["video_inputs"])
    ]
    if len(scenes) == 1:
        out.body = {"type": "avatar", **scenes[0]}
    else:
        out.body = {"type": "studio", "scenes": scenes}
    _top_level(body, out)
    return out


def _top_level(body: dict[str, Any], out: Translation) -> None:
    for name in ("title", "callback_id", "callback_url"):
        if body.get(name) is not None:
            out.body[name] = body[name]
    if body.get("dimension"):
        _dimension(body["dimension"], out)
    if body.get("aspect_ratio"):
        out.body["aspect_ratio"] = body["aspect_ratio"]
    if body.get("caption"):
        out.lose("caption", "captions (caption: true)")
    if body.get("folder_id"):
        out.lose("folder_id", "an output folder")
    if body.get("test"):
        out.lose("test", "watermarked test videos")


def _dimension(dimension: dict[str, int], out: Translation) -> None:
    """Choose the resolution whose short side covers the request's, and the aspect ratio."""
    width, height = int(dimension["width"]), int(dimension["height"])
    short = min(width, height)
    out.body["resolution"] = next((name for name, side in RESOLUTIONS if short <= side), "4k")
    divisor = gcd(width, height)
    out.body.setdefault("aspect_ratio", f"{width // divisor}:{height // divisor}")
    if (width, height) not in EXACT_SIZES:
        out.lose("dimension", f"an exact size of {width}×{height} pixels")


def _scene(scene: dict[str, Any], at: str, out: Translation) -> dict[str, Any]:
    result: dict[str, Any] = {}
    _character(scene.get("character"), f"{at}.character", result, out)
    _voice(scene["voice"], f"{at}.voice", result, out)
    if scene.get("background"):
        _background(scene["background"], f"{at}.background", result, out)
    if scene.get("text"):
        out.lose(f"{at}.text", "a text overlay")
    return result


def _character(character: Any, at: str, result: dict[str, Any], out: Translation) -> None:
    if not character:
        out.gap(at, "a scene without an avatar (v3 needs an avatar_id)")
        return
    photo = character["type"] == "talking_photo"
    result["avatar_id"] = character["talking_photo_id" if photo else "avatar_id"]
    defaults = PHOTO_DEFAULTS if photo else AVATAR_DEFAULTS
    mapped = {"type", "talking_photo_id" if photo else "avatar_id"}
    for name, value in character.items():
        if name in mapped or value is None or defaults.get(name) == value:
            continue
        out.lose(f"{at}.{name}", f"the {character['type']} setting {name}={value!r}")


def _voice(voice: dict[str, Any], at: str, result: dict[str, Any], out: Translation) -> None:
    kind = voice["type"]
    if kind == "silence":
        out.gap(at, "a silent scene (v3 needs a script or an audio source)")
        return
    if kind == "audio":
        for name in ("audio_url", "audio_asset_id"):
            if voice.get(name):
                result[name] = voice[name]
        return
    result["script"] = voice["input_text"]
    result["voice_id"] = voice["voice_id"]
    settings = {
        name: voice[name]
        for name, default in (("speed", 1.0), ("pitch", 0), ("locale", None))
        if voice.get(name) is not None and voice[name] != default
    }
    if settings:
        result["voice_settings"] = settings
    for name in ("emotion", "elevenlabs_settings"):
        if voice.get(name):
            out.lose(f"{at}.{name}", f"voice {name.replace('_', ' ')}")


def _background(
    background: dict[str, Any], at: str, result: dict[str, Any], out: Translation
) -> None:
    kind = background.get("type", "color")
    if kind == "video":
        out.lose(at, "a video background behind an avatar")
        return
    if kind == "color":
        result["background"] = {"type": "color", "value": background.get("value", "#f6f6fc")}
        return
    image = {"type": "image"}
    for name in ("url", "image_asset_id"):
        if background.get(name):
            image[name] = background[name]
    result["background"] = image
    if background.get("fit", "cover") != "cover":
        out.lose(f"{at}.fit", f"image fit {background['fit']!r}")


def as_scenes(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Show a v3 body as V2 scenes, for the review page (what the viewer sees and hears)."""
    scenes = body.get("scenes") if body.get("type") == "studio" else [body]
    return [_as_scene(scene) for scene in scenes or [] if isinstance(scene, dict)]


def _as_scene(scene: dict[str, Any]) -> dict[str, Any]:
    shown: dict[str, Any] = {"character": {"type": "avatar", "avatar_id": scene.get("avatar_id")}}
    if "script" in scene:
        settings = scene.get("voice_settings") or {}
        voice = {"type": "text", "voice_id": scene.get("voice_id"), "input_text": scene["script"]}
        shown["voice"] = voice | settings
    else:
        audio = {k: scene[k] for k in ("audio_url", "audio_asset_id") if scene.get(k)}
        shown["voice"] = {"type": "audio", **audio}
    if isinstance(scene.get("background"), dict):
        shown["background"] = scene["background"]
    return shown
