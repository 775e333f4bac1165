"""Pure checks of a v3 `POST /v3/videos` body, and its translation into the order V2 books.

The checks are structural and stop at the first problem, naming it by its path (`param`), as
v3's errors do; the client validates fully before it sends.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from merge.problems import did_you_mean, json_path
from merge.simulator.exchange import InvalidParameter
from merge.simulator.settings import MAX_SCENES, PLAN_CAPS

AVATAR = "avatar"
STUDIO = "studio"
IDEMPOTENCY_HEADER = "Idempotency-Key"
KEY_PATTERN = re.compile(r"[A-Za-z0-9_:.-]{1,255}")
_ASPECT_RATIO = re.compile(r"[1-9][0-9]{0,3}:[1-9][0-9]{0,3}")
_HEX_COLOUR = re.compile(r"#(?:[0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})")
_WEB_URL = re.compile(r"https?://\S+")

_SCENE_KEYS = frozenset(
    {
        "avatar_id",
        "script",
        "voice_id",
        "audio_url",
        "audio_asset_id",
        "voice_settings",
        "background",
    }
)
_COMMON_KEYS = frozenset(
    {"type", "resolution", "aspect_ratio", "title", "callback_url", "callback_id"}
)
_TOP_KEYS = {AVATAR: _SCENE_KEYS | _COMMON_KEYS, STUDIO: _COMMON_KEYS | {"scenes"}}
_AUDIO_KEYS = ("audio_url", "audio_asset_id")
_BACKGROUND_KEYS = {"color": ("value",), "image": ("url", "image_asset_id")}
_VOICE_RANGES = {"speed": (0.5, 1.5), "pitch": (-50.0, 50.0)}

Path = tuple[str | int, ...]


def check_key(key: str | None) -> None:
    """Refuse an Idempotency-Key header that is not 1 to 255 of `A-Z a-z 0-9 _ : . -`."""
    if key is not None and not KEY_PATTERN.fullmatch(key):
        problem = "must be 1 to 255 characters, each a letter, a digit or one of _ : . -"
        raise InvalidParameter(IDEMPOTENCY_HEADER, problem)


def check_request(body: Mapping[str, Any]) -> None:
    """Raise InvalidParameter at the first structural problem of a create body."""
    kind = body.get("type")
    if not isinstance(kind, str) or kind not in _TOP_KEYS:
        wanted = 'must be "avatar" or "studio"'
        raise _invalid(("type",), "is required" if kind is None else f"{wanted}, not {kind!r}")
    _only_known(body, _TOP_KEYS[kind], ())
    if kind == AVATAR:
        _check_scene(body, ())
    else:
        _check_scenes(body.get("scenes"))
    _check_common(body)


def as_order(body: Mapping[str, Any]) -> dict[str, Any]:
    """Translate a checked v3 body into the V2-shaped order the account books and times."""
    scenes = body["scenes"] if body["type"] == STUDIO else [body]
    order: dict[str, Any] = {"video_inputs": [{"voice": _voice(scene)} for scene in scenes]}
    resolution = body.get("resolution")
    if resolution is not None:
        width, height = PLAN_CAPS[resolution]
        order["dimension"] = {"width": width, "height": height}
    wanted = ("title", "callback_id", "callback_url")
    return order | {key: body[key] for key in wanted if key in body}


def _voice(scene: Mapping[str, Any]) -> dict[str, Any]:
    """Describe a scene's voice as V2 does, which is all its duration estimate needs."""
    if "script" not in scene:
        return {"type": "audio"}
    speed = scene.get("voice_settings", {}).get("speed", 1.0)
    return {"type": "text", "input_text": scene["script"], "speed": speed}


def _check_scenes(scenes: Any) -> None:
    """Check a studio body's scenes: a list of 1 to 50 scene objects."""
    if scenes is None:
        raise _invalid(("scenes",), "is required")
    if not isinstance(scenes, list) or not 1 <= len(scenes) <= MAX_SCENES:
        raise _invalid(("scenes",), f"must be a list of 1 to {MAX_SCENES} scenes")
    for index, scene in enumerate(scenes):
        at = ("scenes", index)
        _object(scene, at)
        _only_known(scene, _SCENE_KEYS, at)
        _check_scene(scene, at)


def _check_scene(scene: Mapping[str, Any], at: Path) -> None:
    """Check one scene: an avatar, a script with a voice or an audio source, its settings."""
    _text(scene, "avatar_id", at, required=True)
    audio = [key for key in _AUDIO_KEYS if key in scene]
    if "script" in scene and audio:
        raise _invalid((*at, audio[0]), "give script and voice_id, or an audio source, not both")
    if len(audio) > 1:
        raise _invalid((*at, audio[1]), "give audio_url or audio_asset_id, not both")
    if audio:
        _text(scene, audio[0], at, required=True)
        if "voice_id" in scene:
            raise _invalid((*at, "voice_id"), "is only used with script, not with audio")
    elif "script" not in scene:
        raise _invalid((*at, "script"), "is required (or give audio_url or audio_asset_id)")
    else:
        _text(scene, "script", at, required=True)
        _text(scene, "voice_id", at, required=True)
    if "voice_settings" in scene:
        _check_voice_settings(scene["voice_settings"], (*at, "voice_settings"))
    if "background" in scene:
        _check_background(scene["background"], (*at, "background"))


def _check_voice_settings(settings: Any, at: Path) -> None:
    """Check speed (0.5 to 1.5), pitch (-50 to 50) and locale."""
    _object(settings, at)
    _only_known(settings, {*_VOICE_RANGES, "locale"}, at)
    for key, (low, high) in _VOICE_RANGES.items():
        value = settings.get(key)
        if key not in settings:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _invalid((*at, key), f"must be a number, not {value!r}")
        if not low <= value <= high:
            raise _invalid((*at, key), f"{value} is not between {low:g} and {high:g}")
    _text(settings, "locale", at)


def _check_background(background: Any, at: Path) -> None:
    """Check a colour background (a hex `value`) or an image (a `url` or an `image_asset_id`)."""
    _object(background, at)
    kind = background.get("type")
    if not isinstance(kind, str) or kind not in _BACKGROUND_KEYS:
        raise _invalid((*at, "type"), f'must be "color" or "image", not {kind!r}')
    sources = _BACKGROUND_KEYS[kind]
    _only_known(background, {"type", *sources}, at)
    given = [key for key in sources if key in background]
    if len(given) != 1:
        raise _invalid((*at, sources[0]), f"give exactly one of {', '.join(sources)}")
    _text(background, given[0], at, required=True)
    if kind == "color" and not _HEX_COLOUR.fullmatch(background["value"]):
        raise _invalid((*at, "value"), f"{background['value']!r} is not a hex colour like #FAFAFA")


def _check_common(body: Mapping[str, Any]) -> None:
    """Check the top-level options both types share."""
    resolution = body.get("resolution")
    if "resolution" in body and not (isinstance(resolution, str) and resolution in PLAN_CAPS):
        raise _invalid(
            ("resolution",), f"must be one of {', '.join(PLAN_CAPS)}, not {resolution!r}"
        )
    for key in ("aspect_ratio", "callback_id", "callback_url"):
        _text(body, key, ())
    _text(body, "title", (), blank=True)
    ratio = body.get("aspect_ratio")
    if ratio is not None and not _ASPECT_RATIO.fullmatch(ratio):
        raise _invalid(("aspect_ratio",), f"{ratio!r} is not a ratio like 16:9, 9:16 or 1:1")
    url = body.get("callback_url")
    if url is not None and not _WEB_URL.fullmatch(url):
        raise _invalid(("callback_url",), "must be an http:// or https:// URL")


def _only_known(found: Mapping[str, Any], known: Collection[str], at: Path) -> None:
    """Refuse the first key that is not one of `known`."""
    for key in found:
        if key not in known:
            hint = did_you_mean(key, sorted(known))
            raise _invalid((*at, key), f"is not a known field{hint}")


def _object(value: Any, at: Path) -> None:
    """Refuse anything but a JSON object."""
    if not isinstance(value, dict):
        raise _invalid(at, f"must be an object, not {type(value).__name__}")


def _text(
    found: Mapping[str, Any], key: str, at: Path, required: bool = False, blank: bool = False
) -> None:
    """Refuse a field that is not a string (non-empty unless `blank`), or missing if `required`."""
    if key not in found:
        if required:
            raise _invalid((*at, key), "is required")
        return
    value = found[key]
    if not isinstance(value, str) or not (blank or value.strip()):
        kind = "a string" if blank else "a non-empty string"
        raise _invalid((*at, key), f"must be {kind}, not {value!r}")


def _invalid(at: Path, problem: str) -> InvalidParameter:
    """Build the error for the field at `at`."""
    return InvalidParameter(json_path(at), problem)
