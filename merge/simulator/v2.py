"""Pure checks of a V2 `POST /v2/video/generate` body, written from the V2 notes (heygen-api.md §1).

Independent of the client's models on purpose, like `v3.py`: the two may disagree, and a test
catches it. Every problem is collected, so the answer names the first and counts the rest, as
HeyGen does. Spreadsheet text that reads as a number or a boolean is taken as one, as V2 did;
what is sent on is the body with those values as numbers.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any, TypeGuard

from merge.problems import Problem, did_you_mean, json_path
from merge.simulator.settings import MAX_SCENES

HEX = re.compile(r"#(?:[0-9A-Fa-f]{3}|[0-9A-Fa-f]{6}|[0-9A-Fa-f]{8})")
MAX_INPUT_TEXT = 4_999
TOP: tuple[str, ...] = ("video_inputs", "caption", "title", "callback_id", "dimension")
TOP += ("folder_id", "callback_url", "test", "aspect_ratio")
AVATAR: tuple[str, ...] = ("avatar_id", "scale", "avatar_style", "offset", "matting")
AVATAR += ("circle_background_color", "use_avatar_iv_model")
PHOTO: tuple[str, ...] = ("talking_photo_id", "scale", "talking_photo_style", "offset")
PHOTO += ("talking_style", "expression", "super_resolution", "matting")
PHOTO += ("circle_background_color", "use_avatar_iv_model")
CHARACTER = {"avatar": AVATAR, "talking_photo": PHOTO}
SPEECH: tuple[str, ...] = ("voice_id", "input_text", "speed", "pitch", "emotion", "locale")
SPEECH += ("elevenlabs_settings",)
VOICE = {
    "text": SPEECH,
    "audio": ("audio_url", "audio_asset_id"),
    "silence": ("duration",),
}
BACKGROUND = {
    "color": ("value",),
    "image": ("url", "image_asset_id", "fit"),
    "video": ("url", "video_asset_id", "play_style", "fit"),
}
TEXT: tuple[str, ...] = (
    "text",
    "font_family",
    "font_size",
    "font_weight",
    "color",
    "position",
    "text_align",
)
TEXT += ("line_height", "width")
FITS = ("cover", "crop", "contain", "none")
ELEVENLABS_MODELS: tuple[str, ...] = (
    "eleven_monolingual_v1",
    "eleven_multilingual_v1",
    "eleven_multilingual_v2",
)
ELEVENLABS_MODELS += ("eleven_turbo_v2", "eleven_turbo_v2_5")

Path = tuple[str | int, ...]


class _Check:
    """Collect a body's problems, and the body as it goes on (numbers read from text)."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def bad(self, at: Path, message: str) -> None:
        self.problems.append(Problem(json_path(at), message))

    def known(self, found: Mapping[str, Any], keys: Collection[str], at: Path) -> None:
        for key in found:
            if key not in keys:
                hint = did_you_mean(key, sorted(k for k in keys if k != "type"))
                self.bad((*at, key), f'unknown key "{key}"{hint}')

    def obj(self, value: Any, at: Path) -> TypeGuard[dict[str, Any]]:
        if isinstance(value, dict):
            return True
        self.bad(at, f"must be an object, not {type(value).__name__}")
        return False

    def text(self, found: dict[str, Any], key: str, at: Path, required: bool = False) -> None:
        value = found.get(key)
        if value is None:
            if required or key in found:
                self.bad((*at, key), "is required" if key not in found else "must not be null")
            return
        if not isinstance(value, str):
            self.bad((*at, key), f"{value!r} is not text")
        elif required and not value.strip():
            self.bad((*at, key), "must not be blank")

    def number(
        self,
        found: dict[str, Any],
        key: str,
        at: Path,
        low: float | None = None,
        high: float | None = None,
        whole: bool = False,
        above: bool = False,
    ) -> None:
        if key not in found:
            return
        value = found[key]
        if isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                self.bad((*at, key), f"{value!r} is not a number")
                return
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            self.bad((*at, key), f"{value!r} is not a number")
            return
        if whole and value != int(value):
            self.bad((*at, key), f"{value} is not a whole number")
            return
        if low is not None and (value <= low if above else value < low):
            word = "is not above" if above else "is below the minimum"
            self.bad((*at, key), f"{value:g} {word} {low:g}")
            return
        if high is not None and value > high:
            self.bad((*at, key), f"{value:g} is above the maximum {high:g}")
            return
        found[key] = int(value) if whole else value

    def boolean(self, found: dict[str, Any], key: str, at: Path) -> None:
        if key not in found:
            return
        value = found[key]
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            found[key] = value.strip().lower() == "true"
        elif not isinstance(value, bool):
            self.bad((*at, key), f"{value!r} is not true or false")

    def choice(self, found: dict[str, Any], key: str, choices: tuple[str, ...], at: Path) -> None:
        if key in found and found[key] not in choices:
            self.bad((*at, key), f"{found[key]!r} is not one of {', '.join(choices)}")

    def colour(self, found: dict[str, Any], key: str, at: Path) -> None:
        value = found.get(key)
        if key in found and not (isinstance(value, str) and HEX.fullmatch(value)):
            self.bad((*at, key), f"{value!r} is not a hex colour")

    def one_source(self, found: dict[str, Any], first: str, second: str, at: Path) -> None:
        given = [key for key in (first, second) if found.get(key) is not None]
        if len(given) != 1:
            self.bad(
                at,
                f"give either {first} or {second}, not both"
                if given
                else f"give {first} or {second}",
            )
        for key in given:
            self.text(found, key, at, required=True)

    def tagged(
        self, value: Any, kinds: Mapping[str, tuple[str, ...]], at: Path, default: str | None
    ) -> str | None:
        """Check a `type`-tagged object's tag and keys; return its type when it can go on."""
        if not self.obj(value, at):
            return None
        kind = value.get("type", default)
        if not isinstance(kind, str) or kind not in kinds:
            hint = did_you_mean(str(kind), kinds) if isinstance(kind, str) else ""
            word = "is required" if kind is None else f"unknown type {kind!r}{hint}"
            self.bad((*at, "type"), f"{word}; use one of {', '.join(kinds)}")
            return None
        self.known(value, ("type", *kinds[kind]), at)
        return str(kind)


def check_body(body: dict[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """Check a V2 create body: the body as it goes on, and every problem found (first first)."""
    check = _Check()
    check.known(body, TOP, ())
    scenes = body.get("video_inputs")
    if scenes is None:
        check.bad(("video_inputs",), "is required")
    elif not isinstance(scenes, list) or not 1 <= len(scenes) <= MAX_SCENES:
        check.bad(("video_inputs",), f"must have between 1 and {MAX_SCENES} scenes")
    else:
        for index, scene in enumerate(scenes):
            _scene(check, scene, ("video_inputs", index), body.get("caption"))
    check.boolean(body, "caption", ())
    check.boolean(body, "test", ())
    for key in ("title", "folder_id", "callback_url"):
        check.text(body, key, ())
    if body.get("callback_id") is not None:
        check.text(body, "callback_id", ())
    if body.get("aspect_ratio") is not None:
        check.text(body, "aspect_ratio", ())
    dimension = body.get("dimension")
    if "dimension" in body and check.obj(dimension, ("dimension",)):
        check.known(dimension, ("width", "height"), ("dimension",))
        for side in ("width", "height"):
            if side not in dimension:
                check.bad(("dimension", side), "is required")
            check.number(dimension, side, ("dimension",), 128, None, whole=True, above=True)
            if isinstance(dimension.get(side), int) and dimension[side] >= 4096:
                check.bad(("dimension", side), f"{dimension[side]} is not below 4096")
    return body, check.problems


def _scene(check: _Check, scene: Any, at: Path, caption: Any) -> None:
    if not check.obj(scene, at):
        return
    check.known(scene, ("character", "voice", "background", "text"), at)
    character = scene.get("character")
    if character is not None:
        kind = check.tagged(character, CHARACTER, (*at, "character"), None)
        if kind is not None:
            _character(check, character, kind, (*at, "character"))
    if "voice" not in scene:
        check.bad((*at, "voice"), "is required")
    else:
        kind = check.tagged(scene["voice"], VOICE, (*at, "voice"), None)
        if kind is not None:
            _voice(check, scene["voice"], kind, (*at, "voice"))
        if kind in ("audio", "silence") and caption in (True, "true"):
            check.bad((*at, "voice"), "captions need a text voice")
    background = scene.get("background")
    if background is not None:
        kind = check.tagged(background, BACKGROUND, (*at, "background"), "color")
        if kind is not None:
            _background(check, background, kind, (*at, "background"))
    text = scene.get("text")
    if text is not None and check.obj(text, (*at, "text")):
        check.known(text, ("type", *TEXT), (*at, "text"))
        check.text(text, "text", (*at, "text"), required=True)
        check.colour(text, "color", (*at, "text"))


def _character(check: _Check, found: dict[str, Any], kind: str, at: Path) -> None:
    photo = kind == "talking_photo"
    check.text(found, "talking_photo_id" if photo else "avatar_id", at, required=True)
    check.number(found, "scale", at, 0.0, 2.0 if photo else 5.0)
    if photo:
        check.choice(found, "talking_photo_style", ("square", "circle"), at)
        check.choice(found, "talking_style", ("stable", "expressive"), at)
        check.choice(found, "expression", ("default", "happy"), at)
    else:
        check.choice(found, "avatar_style", ("circle", "normal", "closeUp"), at)
    for key in ("matting", "use_avatar_iv_model", "super_resolution"):
        check.boolean(found, key, at)
    check.colour(found, "circle_background_color", at)
    offset = found.get("offset")
    if "offset" in found and check.obj(offset, (*at, "offset")):
        check.known(offset, ("x", "y"), (*at, "offset"))
        for axis in ("x", "y"):
            check.number(offset, axis, (*at, "offset"))


def _voice(check: _Check, found: dict[str, Any], kind: str, at: Path) -> None:
    if kind == "audio":
        check.one_source(found, "audio_url", "audio_asset_id", at)
        return
    if kind == "silence":
        check.number(found, "duration", at, 1.0, 100.0)
        return
    check.text(found, "voice_id", at, required=True)
    check.text(found, "input_text", at, required=True)
    script = found.get("input_text")
    if isinstance(script, str) and len(script) > MAX_INPUT_TEXT:
        check.bad((*at, "input_text"), f"is {len(script):,} characters; the limit is 4,999")
    check.number(found, "speed", at, 0.5, 1.5)
    check.number(found, "pitch", at, -50, 50, whole=True)
    moods = ("Excited", "Friendly", "Serious", "Soothing", "Broadcaster")
    check.choice(found, "emotion", moods, at)
    if "locale" in found:
        check.text(found, "locale", at)
    settings = found.get("elevenlabs_settings")
    where = (*at, "elevenlabs_settings")
    if "elevenlabs_settings" in found and check.obj(settings, where):
        check.known(settings, ("model", "similarity_boost", "stability", "style"), where)
        check.choice(settings, "model", ELEVENLABS_MODELS, where)
        for key in ("similarity_boost", "stability", "style"):
            check.number(settings, key, where, 0.0, 1.0)


def _background(check: _Check, found: dict[str, Any], kind: str, at: Path) -> None:
    if kind == "color":
        check.colour(found, "value", at)
        return
    check.one_source(found, "url", f"{kind}_asset_id", at)
    check.choice(found, "fit", FITS, at)
    if kind == "video":
        styles = ("fit_to_scene", "freeze", "loop", "once", "full_video")
        check.choice(found, "play_style", styles, at)
