"""Translate a validated V2 request body into HeyGen's v3 `POST /v3/videos` body, never silently.

Pure: a body in, a v3 body and a list of what v3 cannot say out. Every V2 field goes where the
contract's mapping table (heygen-v3.md §11) says. Each loss is a Problem at the V2 path it
concerns, so the pipeline names the column that fed it, like a validation problem. A loss that
`--lossy` may drop is a `Loss`; what v3 cannot express at all (a silent avatar, a scene with
neither an avatar nor a picture) is a `Gap`, an error whatever the options. A V2 setting left
at its V2 default is no loss: v3 behaves the same without it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import gcd
from typing import Any

from merge.problems import Problem

LOSS_TEXT = "has no v3 equivalent"
LOSSY_HINT = "add --lossy to send these rows without what v3 cannot express (each loss is kept)"
RESOLUTIONS = (("720p", 720), ("1080p", 1080), ("4k", 2160))
ASPECT_RATIOS = {"16:9": 16 / 9, "9:16": 9 / 16, "4:5": 4 / 5, "5:4": 5 / 4, "1:1": 1.0}
"""v3's fixed ratios (`auto` aside): any other is a loss, sent as the nearest one."""
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
CHARACTER_DEFAULTS: dict[str, Any] = {
    "scale": 1.0,
    "avatar_style": "normal",
    "talking_photo_style": "square",
    "offset": {"x": 0, "y": 0},
    "talking_style": "stable",
    "expression": "default",
    "super_resolution": False,
    "matting": False,
    "use_avatar_iv_model": False,
}
"""V2's defaults of the character settings v3 has no form for: these values are not losses."""
ELEVENLABS_MODELS = {
    "eleven_multilingual_v2": "eleven_multilingual_v2",
    "eleven_turbo_v2_5": "eleven_turbo_v2_5",
    "eleven_flash_v2_5": "eleven_flash_v2_5",
    "eleven_v3": "eleven_v3",
}
"""V2 ElevenLabs models with a v3 value; `eleven_monolingual_v1`, `eleven_multilingual_v1` and
`eleven_turbo_v2` have none."""
DEFAULT_COLOUR = "#f6f6fc"
"""V2's colour background when none is named."""


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


def translate(body: dict[str, Any], engine: str | None = None) -> Translation:
    """Translate one valid V2 body: one avatar scene → type avatar; else → type studio.

    `engine` (avatar_iii, avatar_iv, avatar_v) goes to every avatar whose body names none.
    """
    out = Translation()
    scenes = body["video_inputs"]
    if len(scenes) == 1 and scenes[0].get("character"):
        out.body = {"type": "avatar", **_avatar(scenes[0], "video_inputs[0]", out, studio=False)}
    else:
        out.body = {
            "type": "studio",
            "scenes": [_studio_scene(s, f"video_inputs[{n}]", out) for n, s in enumerate(scenes)],
        }
    out.body = with_engine(out.body, engine)
    _top_level(body, out)
    return out


def with_engine(body: dict[str, Any], engine: str | None) -> dict[str, Any]:
    """Give every avatar of a v3 body that names no engine this one (`--engine`)."""
    if engine is not None:
        for avatar in _avatars(body):
            avatar.setdefault("engine", {"type": engine})
    return body


def _avatars(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The parts of a v3 body that take an `engine`: the avatar body, or studio scene inputs."""
    if body.get("type") == "avatar":
        return [body]
    return [s["input"] for s in body.get("scenes", []) if s.get("type") == "avatar_video"]


def _top_level(body: dict[str, Any], out: Translation) -> None:
    for name in ("title", "callback_id", "callback_url", "folder_id"):
        if body.get(name) is not None and body.get(name) != "":
            out.body[name] = body[name]
    if body.get("dimension"):
        _dimension(body["dimension"], out)
    if body.get("aspect_ratio"):
        _aspect_ratio(body["aspect_ratio"], "aspect_ratio", out)
    if body.get("caption"):
        out.body["caption"] = {"style": "default"}
    if body.get("test"):
        out.lose("test", "watermarked test videos (test: true)")


def _dimension(dimension: dict[str, int], out: Translation) -> None:
    """Choose the resolution whose short side covers the request's, and the aspect ratio."""
    width, height = int(dimension["width"]), int(dimension["height"])
    short = min(width, height)
    out.body["resolution"] = next((name for name, side in RESOLUTIONS if short <= side), "4k")
    divisor = gcd(width, height)
    ratio = f"{width // divisor}:{height // divisor}"
    exact = (width, height) in EXACT_SIZES
    if ratio not in ASPECT_RATIOS:
        ratio = _nearest_ratio(width / height)
        exact = False
    out.body.setdefault("aspect_ratio", ratio)
    if not exact:
        out.lose("dimension", f"an exact size of {width}×{height} pixels")


def _aspect_ratio(ratio: str, at: str, out: Translation) -> None:
    if ratio in ASPECT_RATIOS or ratio == "auto":
        out.body["aspect_ratio"] = ratio
        return
    try:
        width, height = (float(part) for part in ratio.split(":"))
        nearest = _nearest_ratio(width / height)
    except (ValueError, ZeroDivisionError):
        out.lose(at, f"the aspect ratio {ratio!r}")
        return
    out.body["aspect_ratio"] = nearest
    out.lose(at, f"the aspect ratio {ratio} (sent as {nearest})")


def _nearest_ratio(value: float) -> str:
    return min(ASPECT_RATIOS, key=lambda name: abs(ASPECT_RATIOS[name] - value))


def _studio_scene(scene: dict[str, Any], at: str, out: Translation) -> dict[str, Any]:
    """One V2 scene as a studio scene: an avatar_video, or a picture or clip when no avatar."""
    if scene.get("character"):
        return {"type": "avatar_video", "input": _avatar(scene, at, out, studio=True)}
    background = scene.get("background") or {}
    kind = background.get("type", "color")
    if kind not in ("image", "video"):
        out.gap(f"{at}.character", "a scene with neither an avatar nor a picture or clip")
        return {"type": "image"}
    result: dict[str, Any] = {"type": kind, "source": _asset(background, kind)}
    voice = scene["voice"]
    if voice["type"] == "silence":
        if kind == "image":
            result["duration"] = voice.get("duration", 1.0)
        else:
            out.lose(f"{at}.voice.duration", "a silence's length over a clip (it plays in full)")
    else:
        _voice(voice, f"{at}.voice", result, out)
    if background.get("fit", "cover") != "cover":
        out.lose(f"{at}.background.fit", f"{kind} fit {background['fit']!r}")
    if background.get("play_style") not in (None, "full_video"):
        out.lose(f"{at}.background.play_style", f"play style {background['play_style']!r}")
    if scene.get("text"):
        out.lose(f"{at}.text", "a text overlay")
    return result


def _asset(background: dict[str, Any], kind: str) -> dict[str, str]:
    """A V2 background's picture or clip as a v3 AssetInput."""
    if background.get("url"):
        return {"type": "url", "url": background["url"]}
    return {"type": "asset_id", "asset_id": background[f"{kind}_asset_id"]}


def _avatar(scene: dict[str, Any], at: str, out: Translation, studio: bool) -> dict[str, Any]:
    """An avatar scene: the flat `avatar` body, or a studio `avatar_video` scene's input."""
    result: dict[str, Any] = {"type": "avatar"} if studio else {}
    _character(scene["character"], f"{at}.character", result, out, studio)
    voice = scene["voice"]
    if voice["type"] == "silence":
        out.gap(f"{at}.voice", "a silent avatar (v3 needs a script or an audio source)")
    else:
        _voice(voice, f"{at}.voice", result, out)
    if scene.get("background"):
        _background(scene["background"], f"{at}.background", result, out, studio)
    if scene.get("text"):
        out.lose(f"{at}.text", "a text overlay")
    return result


def _character(
    character: dict[str, Any], at: str, result: dict[str, Any], out: Translation, studio: bool
) -> None:
    photo = character["type"] == "talking_photo"
    id_field = "talking_photo_id" if photo else "avatar_id"
    result["avatar_id"] = character[id_field]
    if character.get("use_avatar_iv_model"):
        result["engine"] = {"type": "avatar_iv"}
    if character.get("matting"):
        if studio:
            out.lose(f"{at}.matting", "matting inside a multi-scene video")
        else:
            result["remove_background"] = True
    for name, value in character.items():
        if name in ("type", id_field, "matting", "use_avatar_iv_model") or value is None:
            continue
        if name in CHARACTER_DEFAULTS and _same(CHARACTER_DEFAULTS[name], value):
            continue
        out.lose(f"{at}.{name}", f"the {character['type']} setting {name}={value!r}")


def _same(default: Any, value: Any) -> bool:
    if isinstance(default, dict) and isinstance(value, dict):
        return all(float(value.get(k, 0)) == float(v) for k, v in default.items())
    return bool(default == value)


def _voice(voice: dict[str, Any], at: str, result: dict[str, Any], out: Translation) -> None:
    if voice["type"] == "audio":
        for name in ("audio_url", "audio_asset_id"):
            if voice.get(name):
                result[name] = voice[name]
        return
    result["script"] = voice["input_text"]
    result["voice_id"] = voice["voice_id"]
    settings: dict[str, Any] = {
        name: voice[name]
        for name, default in (("speed", 1.0), ("pitch", 0), ("locale", None))
        if voice.get(name) is not None and voice[name] != default
    }
    eleven = voice.get("elevenlabs_settings")
    if eleven:
        engine_settings = _elevenlabs(eleven, f"{at}.elevenlabs_settings", out)
        if engine_settings:
            settings["engine_settings"] = engine_settings
    if settings:
        result["voice_settings"] = settings
    if voice.get("emotion"):
        out.lose(f"{at}.emotion", "voice emotion")


def _elevenlabs(settings: dict[str, Any], at: str, out: Translation) -> dict[str, Any]:
    """V2's elevenlabs_settings as v3's engine_settings; a model v3 lacks is a loss."""
    result: dict[str, Any] = {"engine_type": "elevenlabs"}
    model = settings.get("model")
    if model is not None:
        if model in ELEVENLABS_MODELS:
            result["model"] = ELEVENLABS_MODELS[model]
        else:
            wanted = ", ".join(ELEVENLABS_MODELS)
            out.lose(f"{at}.model", f"the ElevenLabs model {model!r} (v3 takes {wanted})")
    for name in ("stability", "similarity_boost", "style"):
        if settings.get(name) is not None:
            result[name] = settings[name]
    return result


def _background(
    background: dict[str, Any], at: str, result: dict[str, Any], out: Translation, studio: bool
) -> None:
    kind = background.get("type", "color")
    if kind == "video":
        out.lose(at, "a video background behind an avatar")
        return
    if kind == "color":
        value = background.get("value", DEFAULT_COLOUR)
        colour = _six_digits(value)
        if colour is None:
            out.lose(f"{at}.value", f"the colour {value!r} (v3 takes #RRGGBB, no alpha)")
        else:
            result["background"] = {"type": "color", "color" if studio else "value": colour}
        return
    if studio:
        out.lose(at, "an image background behind an avatar inside a multi-scene video")
        return
    image = {"type": "image"}
    if background.get("url"):
        image["url"] = background["url"]
    else:
        image["asset_id"] = background["image_asset_id"]
    result["background"] = image
    if background.get("fit", "cover") != "cover":
        out.lose(f"{at}.fit", f"image fit {background['fit']!r}")


def _six_digits(colour: str) -> str | None:
    """`#abc` → `#aabbcc`; `#aabbcc` as it is; `#aabbccdd` (alpha) has no studio form."""
    digits = colour.removeprefix("#")
    if len(digits) == 3:
        return "#" + "".join(c * 2 for c in digits)
    return colour if len(digits) == 6 else None


V3_TYPES = ("avatar", "image", "studio", "cinematic_avatar")


def is_v3_body(payload: Any) -> bool:
    """Say whether a rendered body is written in v3's language (a `type`, no `video_inputs`)."""
    return (
        isinstance(payload, dict)
        and "video_inputs" not in payload
        and payload.get("type") in V3_TYPES
    )


def engine_of(body: Any) -> str:
    """Name the avatar engine a v3 body asks for (`avatar_iv` when none, HeyGen's default)."""
    if not isinstance(body, dict):
        return ""
    if body.get("type") == "image":
        return "image"
    names = {
        (part.get("engine") or {}).get("type") or "avatar_iv"
        for part in _avatars(body)
        if isinstance(part, dict)
    }
    return ", ".join(sorted(names))


def as_scenes(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Show a v3 body as V2 scenes, for the review page (what the viewer sees and hears)."""
    scenes = body.get("scenes") if body.get("type") == "studio" else [body]
    return [_as_scene(scene) for scene in scenes or [] if isinstance(scene, dict)]


def _as_scene(scene: dict[str, Any]) -> dict[str, Any]:
    kind = scene.get("type")
    part = scene.get("input") if kind == "avatar_video" else scene
    if not isinstance(part, dict):
        part = {}
    shown: dict[str, Any] = {}
    if kind in ("avatar", "avatar_video"):
        shown["character"] = {"type": "avatar", "avatar_id": part.get("avatar_id")}
    if "script" in part:
        settings = {
            k: v for k, v in (part.get("voice_settings") or {}).items() if k != "engine_settings"
        }
        voice = {"type": "text", "voice_id": part.get("voice_id"), "input_text": part["script"]}
        shown["voice"] = voice | settings
    elif "duration" in part or not any(part.get(k) for k in ("audio_url", "audio_asset_id")):
        shown["voice"] = {"type": "silence", "duration": part.get("duration", 1.0)}
    else:
        audio = {k: part[k] for k in ("audio_url", "audio_asset_id") if part.get(k)}
        shown["voice"] = {"type": "audio", **audio}
    source = part.get("source")
    if kind in ("image", "video") and isinstance(source, dict):
        shown["background"] = {"type": kind, "url": source.get("url")}
    elif isinstance(part.get("background"), dict):
        shown["background"] = part["background"]
    return shown
