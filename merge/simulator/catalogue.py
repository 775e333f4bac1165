"""The simulated account's looks and voices (contract §6), built in or read from a JSON file.

The built-in catalogue holds the ids of the sample sheet and templates, and one of each case a
pre-flight must catch: a look waiting for consent, one still processing, one failed, a photo
look with no default voice, a digital twin that alone supports Avatar V, and a voice clone
still processing. A file given as `catalogue` replaces it: `{"looks": [...], "voices": [...]}`,
each item in the shape the API answers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ALL_ENGINES = ("avatar_v", "avatar_iv", "avatar_iii")
LOOK_STATUSES = ("processing", "pending_consent", "failed", "completed")
VOICE_STATUSES = ("processing", "complete", "failed")

SAMPLE_VOICE = "2d5b0e6cf36f460aa7fc47e3eee4ba54"


def _look(
    look_id: str,
    name: str,
    avatar_type: str,
    engines: tuple[str, ...] = ("avatar_iv", "avatar_iii"),
    default_voice: str | None = SAMPLE_VOICE,
    status: str = "completed",
    ownership: str = "public",
    **extra: Any,
) -> dict[str, Any]:
    look = {
        "id": look_id,
        "name": name,
        "avatar_type": avatar_type,
        "group_id": f"group_{look_id.split('_')[0].lower()}",
        "gender": extra.pop("gender", "female"),
        "default_voice_id": default_voice,
        "preferred_orientation": "landscape",
        "image_width": 1920,
        "image_height": 1080,
        "preview_image_url": None,
        "preview_video_url": None,
        "supported_api_engines": list(engines),
        "tags": [],
        "ownership": ownership,
    }
    if ownership == "private":
        look["status"] = status
    return look | extra


def _voice(
    voice_id: str,
    name: str,
    language: str = "English",
    gender: str = "female",
    kind: str = "public",
    engine: str = "elevenlabs",
    locales: tuple[str, ...] = ("en-US", "en-GB", "en-AU"),
    status: str | None = None,
) -> dict[str, Any]:
    voice = {
        "voice_id": voice_id,
        "name": name,
        "language": language,
        "gender": gender,
        "support_pause": True,
        "support_locale": bool(locales),
        "type": kind,
        "preview_audio_url": None,
        "engine": engine,
        "locales": list(locales),
    }
    if kind == "private":
        voice |= {"status": status or "complete", "failure_message": None, "created_at": 1790000000}
    return voice


BUILT_IN_LOOKS = [
    _look("Daisy-inskirt-20220818", "Daisy in a skirt", "studio_avatar"),
    _look("josh_lite3_20230714", "Josh", "studio_avatar", gender="male"),
    _look("Brain_public_pro4_20230613", "Brian", "studio_avatar", gender="male"),
    _look("Kristin_public_3_20240108", "Kristin", "studio_avatar"),
    _look(
        "7a8c0e51b2d64e3f9c1a2b3c4d5e6f70",
        "Ava, photo",
        "photo_avatar",
        default_voice=None,
        ownership="private",
    ),
    _look("045c260bc0364727b2cbe50442c3a5bf", "Noah, photo", "photo_avatar", ownership="private"),
    _look(
        "maya_twin_20261002",
        "Maya, digital twin",
        "digital_twin",
        ALL_ENGINES,
        "maya_voice_clone",
        ownership="private",
    ),
    _look(
        "leo_twin_20261120",
        "Leo, digital twin (awaiting consent)",
        "digital_twin",
        ALL_ENGINES,
        status="pending_consent",
        ownership="private",
        gender="male",
    ),
    _look(
        "zoe_twin_20261129",
        "Zoe, digital twin (training)",
        "digital_twin",
        ALL_ENGINES,
        status="processing",
        ownership="private",
    ),
    _look(
        "sam_photo_20261101",
        "Sam, photo (failed)",
        "photo_avatar",
        status="failed",
        ownership="private",
        gender="male",
        error={"code": "face_not_detected", "message": "No face was found in the photo"},
    ),
]

FOREIGN_IDS = frozenset({"9f8e7d6c5b4a39281706f5e4d3c2b1a0", "0b1c2d3e4f5a69788796a5b4c3d2e1f0"})
"""A look and a voice of another account: reading them is 403 resource_access_denied."""

BUILT_IN_VOICES = [
    _voice(SAMPLE_VOICE, "Sara, warm"),
    _voice("1bd001e7e50f421d891986aad5158bc8", "Olivia, crisp"),
    _voice("d7bbcdd6964c47bdaae26decade4a933", "Marcus, calm", gender="male"),
    _voice("2f72ee82b83d4b00af16c4771d611752", "Lucía", "Spanish", locales=("es-ES", "es-MX")),
    _voice("starfish_amelie_fr", "Amélie", "French", engine="starfish", locales=()),
    _voice("maya_voice_clone", "Maya (clone)", kind="private"),
    _voice("leo_voice_clone", "Leo (clone, training)", kind="private", status="processing"),
]


@dataclass(frozen=True)
class Catalogue:
    """The looks and voices an account can use, by id, in the order the API lists them."""

    looks: dict[str, dict[str, Any]] = field(default_factory=dict)
    voices: dict[str, dict[str, Any]] = field(default_factory=dict)
    foreign: frozenset[str] = FOREIGN_IDS
    """Ids of another account's looks and voices."""

    @classmethod
    def built_in(cls) -> Catalogue:
        """Return the catalogue the simulator starts with."""
        return cls({look["id"]: look for look in BUILT_IN_LOOKS}, _by_voice_id(BUILT_IN_VOICES))

    @classmethod
    def from_file(cls, path: str) -> Catalogue:
        """Read `{"looks": [...], "voices": [...]}`; a missing list keeps the built-in one."""
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise ValueError(f"{path}: a catalogue is a JSON object with looks and voices")
        looks = raw.get("looks", BUILT_IN_LOOKS)
        voices = raw.get("voices", BUILT_IN_VOICES)
        for look in looks:
            _check_look(look, path)
        for voice in voices:
            _check_voice(voice, path)
        filled = [_filled_voice(voice) for voice in voices]
        foreign = frozenset(str(item) for item in raw.get("foreign", FOREIGN_IDS))
        looks_by_id = {look["id"]: _filled_look(look) for look in looks}
        return cls(looks_by_id, _by_voice_id(filled), foreign)

    def look(self, look_id: str) -> dict[str, Any] | None:
        """Return a look as `GET /v3/avatars/looks/{id}` answers it, or None."""
        look = self.looks.get(look_id)
        return None if look is None else {k: v for k, v in look.items() if k != "ownership"}

    def voice(self, voice_id: str) -> dict[str, Any] | None:
        """Return a voice as `GET /v3/voices/{id}` answers it, or None."""
        voice = self.voices.get(voice_id)
        return None if voice is None else _shown_voice(voice)

    def list_looks(self, query: dict[str, str]) -> list[dict[str, Any]]:
        """List the looks that match `ownership`, `avatar_type` and `group_id` when given."""
        wanted = {
            key: query[key] for key in ("ownership", "avatar_type", "group_id") if key in query
        }
        return [
            {k: v for k, v in look.items() if k != "ownership"}
            for look in self.looks.values()
            if all(look.get(key) == value for key, value in wanted.items())
        ]

    def list_voices(self, query: dict[str, str]) -> list[dict[str, Any]]:
        """List the voices of a `type` (public by default) matching engine, language, gender."""
        kind = query.get("type", "public")
        found = []
        for voice in self.voices.values():
            if voice["type"] != kind:
                continue
            if any(
                key in query and str(voice.get(key, "")).lower() != query[key].lower()
                for key in ("engine", "language", "gender")
            ):
                continue
            found.append(_listed_voice(voice))
        return found


def _by_voice_id(voices: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {voice["voice_id"]: voice for voice in voices}


def _shown_voice(voice: dict[str, Any]) -> dict[str, Any]:
    """The detail answer: no engine (voices carry none), `support_locale` as the list has it."""
    keys = (
        "voice_id",
        "support_pause",
        "name",
        "language",
        "gender",
        "preview_audio_url",
        "created_at",
        "status",
        "failure_message",
        "support_locale",
    )
    return {key: voice[key] for key in keys if key in voice} | {"support_interactive_avatar": False}


def _listed_voice(voice: dict[str, Any]) -> dict[str, Any]:
    keys = ("voice_id", "name", "language", "gender", "support_pause", "support_locale", "type")
    return {key: voice.get(key) for key in keys} | {"preview_audio_url": None}


def _filled_look(look: dict[str, Any]) -> dict[str, Any]:
    ownership = look.get("ownership", "private" if "status" in look else "public")
    extra = {k: v for k, v in look.items() if k not in ("id", "name", "avatar_type")}
    engines = tuple(extra.pop("supported_api_engines", ("avatar_iv", "avatar_iii")))
    voice = extra.pop("default_voice_id", None)
    status = extra.pop("status", "completed")
    extra.pop("ownership", None)
    return _look(
        look["id"], look["name"], look["avatar_type"], engines, voice, status, ownership, **extra
    )


def _filled_voice(voice: dict[str, Any]) -> dict[str, Any]:
    locales = tuple(voice.get("locales", ()))
    return _voice(
        voice["voice_id"],
        voice["name"],
        voice["language"],
        voice["gender"],
        voice["type"],
        voice.get("engine", "elevenlabs"),
        locales,
        voice.get("status"),
    )


def _check_look(look: Any, path: str) -> None:
    if not isinstance(look, dict) or not all(
        isinstance(look.get(key), str) for key in ("id", "name", "avatar_type")
    ):
        raise ValueError(f"{path}: each look needs id, name and avatar_type")
    if look.get("status", "completed") not in LOOK_STATUSES:
        raise ValueError(f"{path}: look {look['id']}: status must be one of {LOOK_STATUSES}")
    if not set(look.get("supported_api_engines", ())) <= set(ALL_ENGINES):
        raise ValueError(f"{path}: look {look['id']}: engines must be among {ALL_ENGINES}")


def _check_voice(voice: Any, path: str) -> None:
    if not isinstance(voice, dict) or not all(
        isinstance(voice.get(key), str)
        for key in ("voice_id", "name", "language", "gender", "type")
    ):
        raise ValueError(f"{path}: each voice needs voice_id, name, language, gender and type")
    if voice.get("status", "complete") not in VOICE_STATUSES:
        raise ValueError(
            f"{path}: voice {voice['voice_id']}: status must be one of {VOICE_STATUSES}"
        )
