"""Pure checks of a v3 `POST /v3/videos` body, written from the contract (heygen-v3.md §1).

Independent of the client's models on purpose: the two may disagree, and a test catches it.
The checks stop at the first problem and name it by its path (`param`), as v3's errors do.
Where the contract is unsure (unknown fields, a body without any voice), the simulator takes
the strict side, so a client that passes here sends nothing the real API may refuse.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from merge.problems import did_you_mean, json_path
from merge.simulator.exchange import InvalidParameter
from merge.simulator.settings import MAX_SCENES, PLAN_CAPS

IDEMPOTENCY_HEADER = "Idempotency-Key"
KEY_PATTERN = re.compile(r"[A-Za-z0-9_:.-]{1,255}")
HEX_COLOUR = re.compile(r"#[0-9A-Fa-f]{6}")
HTTPS_URL = re.compile(r"https://\S+")
WEB_URL = re.compile(r"https?://\S+")
MAX_SCRIPT = 5_000
MAX_SILENT_SECONDS = 300.0

RESOLUTIONS = ("4k", "1080p", "720p")
ASPECT_RATIOS = ("16:9", "9:16", "4:5", "5:4", "1:1", "auto")
ENGINES = ("avatar_iv", "avatar_v", "avatar_iii")
ELEVENLABS_MODELS = (
    "eleven_multilingual_v2",
    "eleven_turbo_v2_5",
    "eleven_flash_v2_5",
    "eleven_v3",
)
AUDIO = ("script", "audio_url", "audio_asset_id")
VOICE = (*AUDIO, "voice_id", "voice_settings")
GLOBAL: tuple[str, ...] = ("type", "resolution", "aspect_ratio", "caption", "title")
GLOBAL += ("callback_url", "callback_id", "watermark", "folder_id", "brand_glossary_id")
SINGLE: tuple[str, ...] = (*GLOBAL, *VOICE, "background", "fit", "output_format")
SINGLE += ("remove_background", "expressiveness", "motion_prompt")
TOP_KEYS: dict[str, tuple[str, ...]] = {
    "avatar": (*SINGLE, "avatar_id", "engine"),
    "image": (*SINGLE, "image"),
    "studio": (*GLOBAL, "scenes"),
}
SCENE_KEYS: dict[str, tuple[str, ...]] = {
    "avatar_video": ("type", "input"),
    "image": ("type", "source", "duration", *VOICE),
    "video": ("type", "source", "playback", *VOICE),
}
INPUT_KEYS = (
    "type",
    "avatar_id",
    *VOICE,
    "engine",
    "expressiveness",
    "motion_prompt",
    "background",
)

Path = tuple[str | int, ...]


def check_key(key: str | None) -> None:
    """Refuse an Idempotency-Key header that is not 1 to 255 of `A-Z a-z 0-9 _ : . -`."""
    if key is not None and not KEY_PATTERN.fullmatch(key):
        problem = "must be 1 to 255 characters, each a letter, a digit or one of _ : . -"
        raise InvalidParameter(IDEMPOTENCY_HEADER, problem)


def check_request(body: Mapping[str, Any]) -> None:
    """Raise InvalidParameter at the first problem of a create body."""
    kind = body.get("type")
    if kind == "cinematic_avatar":
        raise _invalid(("type",), "cinematic_avatar is not simulated")
    if not isinstance(kind, str) or kind not in TOP_KEYS:
        wanted = 'must be "avatar", "image" or "studio"'
        raise _invalid(("type",), "is required" if kind is None else f"{wanted}, not {kind!r}")
    _only_known(body, TOP_KEYS[kind], ())
    _common(body)
    if kind == "studio":
        _scenes(body.get("scenes"))
        return
    if kind == "avatar":
        _text(body, "avatar_id", (), required=True)
        _engine(body, ())
    else:
        _asset(body.get("image"), ("image",), required=True)
    _voice(body, (), needed=True, voice_needed=kind == "image")
    _background_a(body.get("background"), ("background",))
    _choice(body, "fit", ("contain", "cover"), ())
    if "output_format" in body:
        _choice(body, "output_format", ("mp4", "webm"), (), nullable=False)
        if body["output_format"] == "webm" and body.get("background") is not None:
            raise _invalid(("background",), 'cannot be given with output_format "webm"')
    _boolean(body, "remove_background", ())
    _avatar_extras(body, ())


def _common(body: Mapping[str, Any]) -> None:
    """Check what every type shares: resolution, aspect ratio, caption, texts, watermark."""
    _choice(body, "resolution", RESOLUTIONS, ())
    _choice(body, "aspect_ratio", ASPECT_RATIOS, ())
    for key in ("title", "callback_id", "folder_id", "brand_glossary_id"):
        _text(body, key, (), blank=True)
    _text(body, "callback_url", ())
    url = body.get("callback_url")
    if url is not None and not WEB_URL.fullmatch(url):
        raise _invalid(("callback_url",), "must be an http:// or https:// URL")
    caption = body.get("caption")
    if caption is not None:
        _object(caption, ("caption",))
        _only_known(caption, ("file_format", "style"), ("caption",))
        _choice(caption, "file_format", ("srt",), ("caption",))
        _choice(caption, "style", ("default",), ("caption",))
    watermark = body.get("watermark")
    if watermark is not None:
        _watermark(watermark, ("watermark",))


def _watermark(mark: Any, at: Path) -> None:
    _object(mark, at)
    _only_known(mark, ("image", "opacity", "scale", "placement"), at)
    _asset(mark.get("image"), (*at, "image"), required=True)
    _number(mark, "opacity", at, 0.0, 1.0)
    _number(mark, "scale", at, 0.0, None)
    placement = mark.get("placement")
    if placement is not None:
        where = (*at, "placement")
        _object(placement, where)
        _only_known(placement, ("position", "offset_x", "offset_y"), where)
        corners = ("top_left", "top_right", "bottom_left", "bottom_right")
        _choice(placement, "position", corners, where)
        _number(placement, "offset_x", where, None, None)
        _number(placement, "offset_y", where, None, None)


def _scenes(scenes: Any) -> None:
    """Check a studio body's scenes: 1 to 50, each an avatar_video, image or video scene."""
    if scenes is None:
        raise _invalid(("scenes",), "is required")
    if not isinstance(scenes, list) or not 1 <= len(scenes) <= MAX_SCENES:
        raise _invalid(("scenes",), f"must be a list of 1 to {MAX_SCENES} scenes")
    for index, scene in enumerate(scenes):
        at: Path = ("scenes", index)
        _object(scene, at)
        kind = scene.get("type")
        if not isinstance(kind, str) or kind not in SCENE_KEYS:
            wanted = 'must be "avatar_video", "image" or "video"'
            raise _invalid((*at, "type"), f"{wanted}, not {kind!r}")
        _only_known(scene, SCENE_KEYS[kind], at)
        if kind == "avatar_video":
            _avatar_input(scene.get("input"), (*at, "input"))
        elif kind == "image":
            _asset(scene.get("source"), (*at, "source"), required=True)
            _image_scene(scene, at)
        else:
            _asset(scene.get("source"), (*at, "source"), required=True)
            _playback(scene.get("playback"), (*at, "playback"))
            _voice(scene, at, needed=False, voice_needed=True)


def _avatar_input(scene_input: Any, at: Path) -> None:
    """Check an avatar_video scene's input: an avatar, exactly one audio source, a colour."""
    if scene_input is None:
        raise _invalid(at, "is required")
    _object(scene_input, at)
    if scene_input.get("type") != "avatar":
        raise _invalid((*at, "type"), f'must be "avatar", not {scene_input.get("type")!r}')
    _only_known(scene_input, INPUT_KEYS, at)
    _text(scene_input, "avatar_id", at, required=True)
    _voice(scene_input, at, needed=True, voice_needed=False)
    _engine(scene_input, at)
    _avatar_extras(scene_input, at)
    background = scene_input.get("background")
    if background is not None:
        where = (*at, "background")
        _object(background, where)
        if background.get("type") != "color":
            raise _invalid((*where, "type"), f'must be "color", not {background.get("type")!r}')
        _only_known(background, ("type", "color"), where)
        _hex(background, "color", where)


def _image_scene(scene: Mapping[str, Any], at: Path) -> None:
    """An image scene is silent (a duration, no audio) or narrated (one audio, no duration)."""
    audio = [key for key in AUDIO if scene.get(key) is not None]
    if scene.get("duration") is not None:
        if audio:
            raise _invalid((*at, audio[0]), "cannot be given with duration (a silent scene)")
        _number(scene, "duration", at, 0.0, MAX_SILENT_SECONDS, above=True)
        return
    if not audio:
        raise _invalid((*at, "duration"), "is required for a scene without script or audio")
    _voice(scene, at, needed=True, voice_needed=True)


def _playback(playback: Any, at: Path) -> None:
    if playback is None:
        return
    _object(playback, at)
    _only_known(playback, ("volume", "mute"), at)
    _number(playback, "volume", at, 0.0, None)
    _boolean(playback, "mute", at)


def _voice(found: Mapping[str, Any], at: Path, needed: bool, voice_needed: bool) -> None:
    """At most one of script, audio_url, audio_asset_id (one when `needed`); voice_id with script.

    Whether avatar and image bodies need one is not confirmed: the simulator says they do.
    """
    given = [key for key in AUDIO if found.get(key) is not None]
    if len(given) > 1:
        raise _invalid((*at, given[1]), f"cannot be given with {given[0]}: give one audio source")
    if needed and not given:
        raise _invalid((*at, "script"), "is required (or give audio_url or audio_asset_id)")
    for key in (*AUDIO, "voice_id"):
        _text(found, key, at)
    script = found.get("script")
    if script is not None and len(script) > MAX_SCRIPT:
        raise _invalid((*at, "script"), f"must be at most {MAX_SCRIPT:,} characters")
    if script is not None and voice_needed and found.get("voice_id") is None:
        raise _invalid((*at, "voice_id"), "is required with script")
    settings = found.get("voice_settings")
    if settings is not None:
        _voice_settings(settings, (*at, "voice_settings"))


def _voice_settings(settings: Any, at: Path) -> None:
    """Check speed 0.5–1.5, pitch −50–50, volume 0–1 (numbers), locale, engine_settings."""
    _object(settings, at)
    _only_known(settings, ("speed", "pitch", "volume", "locale", "engine_settings"), at)
    _number(settings, "speed", at, 0.5, 1.5, nullable=False)
    _number(settings, "pitch", at, -50.0, 50.0, nullable=False)
    _number(settings, "volume", at, 0.0, 1.0, nullable=False)
    _text(settings, "locale", at)
    engine = settings.get("engine_settings")
    if engine is None:
        return
    where = (*at, "engine_settings")
    _object(engine, where)
    kind = engine.get("engine_type")
    numbers: dict[str, tuple[str, ...]] = {
        "elevenlabs": ("stability", "similarity_boost", "style"),
        "fish": ("stability", "similarity"),
        "starfish": (),
    }
    if kind not in numbers:
        wanted = 'must be "elevenlabs", "fish" or "starfish"'
        raise _invalid((*where, "engine_type"), f"{wanted}, not {kind!r}")
    extra = ("model", "use_speaker_boost") if kind == "elevenlabs" else ("model",)
    _only_known(
        engine, ("engine_type", *numbers[kind], *(extra if kind != "starfish" else ())), where
    )
    for key in numbers[kind]:
        _number(engine, key, where, None, None)
    if kind == "elevenlabs":
        _choice(engine, "model", ELEVENLABS_MODELS, where)
        _boolean(engine, "use_speaker_boost", where)
        stability = engine.get("stability")
        if engine.get("model") == "eleven_v3" and stability not in (None, 0, 0.5, 1):
            raise _invalid((*where, "stability"), "must be 0, 0.5 or 1 with eleven_v3")
    elif kind == "fish":
        _choice(engine, "model", ("s1", "s2-pro"), where)


def _engine(found: Mapping[str, Any], at: Path) -> None:
    engine = found.get("engine")
    if engine is None:
        return
    where = (*at, "engine")
    _object(engine, where)
    _choice(engine, "type", ENGINES, where, nullable=False, required=True)
    _only_known(
        engine, ("type", "reference_look_id") if engine["type"] == "avatar_v" else ("type",), where
    )
    _text(engine, "reference_look_id", where)


def _avatar_extras(found: Mapping[str, Any], at: Path) -> None:
    """expressiveness (not on avatar_v or avatar_iii) and motion_prompt (not on avatar_iii)."""
    engine = (found.get("engine") or {}).get("type")
    _choice(found, "expressiveness", ("high", "medium", "low"), at)
    if found.get("expressiveness") is not None and engine in ("avatar_v", "avatar_iii"):
        raise _invalid((*at, "expressiveness"), f"cannot be used with engine {engine}")
    _text(found, "motion_prompt", at)
    if found.get("motion_prompt") is not None and engine == "avatar_iii":
        raise _invalid((*at, "motion_prompt"), "cannot be used with engine avatar_iii")


def _background_a(background: Any, at: Path) -> None:
    """A top-level background: a colour (`value`) or an image (`url` or `asset_id`, one)."""
    if background is None:
        return
    _object(background, at)
    kind = background.get("type")
    if kind == "color":
        _only_known(background, ("type", "value"), at)
        _hex(background, "value", at)
        return
    if kind != "image":
        raise _invalid((*at, "type"), f'must be "color" or "image", not {kind!r}')
    _only_known(background, ("type", "url", "asset_id"), at)
    given = [key for key in ("url", "asset_id") if background.get(key) is not None]
    if len(given) != 1:
        raise _invalid((*at, "url"), "give exactly one of url, asset_id")
    _text(background, given[0], at, required=True)


def _asset(asset: Any, at: Path, required: bool = False) -> None:
    """An AssetInput: {type: url, url} (HTTPS), {type: asset_id, asset_id}, or base64."""
    if asset is None:
        if required:
            raise _invalid(at, "is required")
        return
    _object(asset, at)
    kind = asset.get("type")
    fields = {"url": ("url",), "asset_id": ("asset_id",), "base64": ("media_type", "data")}
    if kind not in fields:
        raise _invalid((*at, "type"), f'must be "url", "asset_id" or "base64", not {kind!r}')
    _only_known(asset, ("type", *fields[kind]), at)
    for key in fields[kind]:
        _text(asset, key, at, required=True)
    if kind == "url" and not HTTPS_URL.fullmatch(asset["url"]):
        raise _invalid((*at, "url"), "must be a public https:// URL")


def as_order(body: Mapping[str, Any]) -> dict[str, Any]:
    """Translate a checked v3 body into the V2-shaped order the account books and times."""
    if body["type"] == "studio":
        scenes = [s.get("input", s) if s["type"] == "avatar_video" else s for s in body["scenes"]]
    else:
        scenes = [body]
    order: dict[str, Any] = {"video_inputs": [{"voice": _spoken(scene)} for scene in scenes]}
    resolution = body.get("resolution")
    if resolution is not None:
        width, height = PLAN_CAPS[resolution]
        order["dimension"] = {"width": width, "height": height}
    order["caption"] = body.get("caption") is not None
    wanted = ("title", "callback_id", "callback_url")
    return order | {key: body[key] for key in wanted if body.get(key) is not None}


def _spoken(scene: Mapping[str, Any]) -> dict[str, Any]:
    """Describe a scene's sound as V2 does, which is all its duration estimate needs."""
    if scene.get("script") is not None:
        speed = (scene.get("voice_settings") or {}).get("speed", 1.0)
        return {"type": "text", "input_text": scene["script"], "speed": speed}
    if scene.get("duration") is not None:
        return {"type": "silence", "duration": scene["duration"]}
    return {"type": "audio"}


def _only_known(found: Mapping[str, Any], known: Collection[str], at: Path) -> None:
    """Refuse the first key that is not one of `known` (the contract's fields only)."""
    for key in found:
        if key not in known:
            hint = did_you_mean(key, sorted(known))
            raise _invalid((*at, key), f"is not a known field{hint}")


def _object(value: Any, at: Path) -> None:
    if not isinstance(value, dict):
        raise _invalid(at, f"must be an object, not {type(value).__name__}")


def _text(
    found: Mapping[str, Any], key: str, at: Path, required: bool = False, blank: bool = False
) -> None:
    """Refuse a field that is not a string or null (non-empty unless `blank`)."""
    value = found.get(key)
    if value is None:
        if required:
            raise _invalid((*at, key), "is required")
        return
    if not isinstance(value, str) or not (blank or value.strip()):
        kind = "a string" if blank else "a non-empty string"
        raise _invalid((*at, key), f"must be {kind}, not {value!r}")


def _choice(
    found: Mapping[str, Any],
    key: str,
    choices: tuple[str, ...],
    at: Path,
    nullable: bool = True,
    required: bool = False,
) -> None:
    if key not in found or (found[key] is None and nullable and not required):
        if required:
            raise _invalid((*at, key), "is required")
        return
    if found[key] not in choices:
        wanted = ", ".join(choices)
        raise _invalid((*at, key), f"must be one of {wanted}, not {found[key]!r}")


def _number(
    found: Mapping[str, Any],
    key: str,
    at: Path,
    low: float | None,
    high: float | None,
    nullable: bool = True,
    above: bool = False,
) -> None:
    """Refuse a value that is not a JSON number (a string "1.1" is refused) or out of range."""
    if key not in found or (found[key] is None and nullable):
        return
    value = found[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid((*at, key), f"must be a number, not {value!r}")
    too_low = low is not None and (value <= low if above else value < low)
    if too_low or (high is not None and value > high):
        raise _invalid((*at, key), f"{value} is out of range")


def _boolean(found: Mapping[str, Any], key: str, at: Path) -> None:
    value = found.get(key)
    if value is not None and not isinstance(value, bool):
        raise _invalid((*at, key), f"must be true or false, not {value!r}")


def _hex(found: Mapping[str, Any], key: str, at: Path) -> None:
    value = found.get(key)
    if not isinstance(value, str) or not HEX_COLOUR.fullmatch(value):
        raise _invalid((*at, key), f"{value!r} is not a colour like #FF0000")


def _invalid(at: Path, problem: str) -> InvalidParameter:
    """Build the error for the field at `at`."""
    return InvalidParameter(json_path(at), problem)
