"""Pydantic models of the v3 `POST /v3/videos` body, written from the contract (heygen-v3.md §1).

A template shaped like this body (`"type": "avatar" | "image" | "studio"`) is validated here
directly, with the same path, column and placeholder problems as a V2 template. Every field,
union, range and exclusion of §1–§1.9 is a rule; the cross-field rules raise one error each
at the field they concern. Where the contract is unsure, the models take the safe side: unknown
keys are refused, a body of type avatar or image needs a script or an audio source, and a
colour is `#RRGGBB` (the only form the contract shows).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from merge.payload.v2_models import MAX_SCENES, Id, Model, Opt
from merge.payload.validate import HEX6_PATTERN, HTTPS_PATTERN, V3_RULE

MAX_SCRIPT = 5_000
WEB_PATTERN = r"^https?://\S+$"

Hex6 = Annotated[str, Field(pattern=HEX6_PATTERN)]
Https = Annotated[str, Field(pattern=HTTPS_PATTERN)]
Script = Annotated[str, Field(max_length=MAX_SCRIPT)]
Resolution = Literal["4k", "1080p", "720p"]
AspectRatio = Literal["16:9", "9:16", "4:5", "5:4", "1:1", "auto"]
Expressiveness = Literal["high", "medium", "low"]
AUDIO = ("script", "audio_url", "audio_asset_id")


def _rule(field: str, message: str, value: Any) -> ValidationError:
    """One rule broken at `field` of the model being validated."""
    detail: InitErrorDetails = {
        "type": PydanticCustomError(V3_RULE, message),
        "loc": (field,),
        "input": value,
    }
    return ValidationError.from_exception_data("rule", [detail])


class UrlAsset(Model):
    """A public HTTPS file."""

    type: Literal["url"]
    url: Https


class IdAsset(Model):
    """An uploaded file (`POST /v3/assets`)."""

    type: Literal["asset_id"]
    asset_id: Id


class Base64Asset(Model):
    """A file sent inline."""

    type: Literal["base64"]
    media_type: Id
    data: Id


AssetInput = Annotated[UrlAsset | IdAsset | Base64Asset, Field(discriminator="type")]


class ElevenLabsSettings(Model):
    """ElevenLabs voice settings; `eleven_v3` takes a stability of 0, 0.5 or 1 only."""

    engine_type: Literal["elevenlabs"]
    model: (
        Literal["eleven_multilingual_v2", "eleven_turbo_v2_5", "eleven_flash_v2_5", "eleven_v3"]
        | None
    ) = None
    stability: float | None = None
    similarity_boost: float | None = None
    style: float | None = None
    use_speaker_boost: bool | None = None

    rule_reads: ClassVar[frozenset[str]] = frozenset({"model", "stability"})
    """Keys whose values (beyond their JSON type) the rule reads (see merge.payload.shape)."""

    @model_validator(mode="after")
    def _v3_stability(self) -> Self:
        if self.model == "eleven_v3" and self.stability not in (None, 0, 0.5, 1):
            raise _rule("stability", "must be 0, 0.5 or 1 with eleven_v3", self.stability)
        return self


class FishSettings(Model):
    """Fish voice settings."""

    engine_type: Literal["fish"]
    model: Literal["s1", "s2-pro"] | None = None
    stability: float | None = None
    similarity: float | None = None


class StarfishSettings(Model):
    """Starfish routing; no settings."""

    engine_type: Literal["starfish"]


EngineSettings = Annotated[
    ElevenLabsSettings | FishSettings | StarfishSettings, Field(discriminator="engine_type")
]


class VoiceSettings(Model):
    """How the voice speaks: numbers, never text, in the contract's ranges."""

    speed: Opt[Annotated[float, Field(ge=0.5, le=1.5)]] = None
    pitch: Opt[Annotated[float, Field(ge=-50, le=50)]] = None
    volume: Opt[Annotated[float, Field(ge=0.0, le=1.0)]] = None
    locale: str | None = None
    engine_settings: EngineSettings | None = None


class AvatarIV(Model):
    """Avatar IV, HeyGen's default engine."""

    type: Literal["avatar_iv"]


class AvatarV(Model):
    """Avatar V, with an optional reference look of the same group."""

    type: Literal["avatar_v"]
    reference_look_id: str | None = None


class AvatarIII(Model):
    """Avatar III, about a quarter of Avatar IV's price."""

    type: Literal["avatar_iii"]


Engine = Annotated[AvatarIV | AvatarV | AvatarIII, Field(discriminator="type")]


class Caption(Model):
    """An SRT sidecar always; `style: "default"` also burns captions in."""

    file_format: Opt[Literal["srt"]] = None
    style: Literal["default"] | None = None


class Placement(Model):
    """Where a watermark sits."""

    position: Opt[Literal["top_left", "top_right", "bottom_left", "bottom_right"]] = None
    offset_x: Opt[float] = None
    offset_y: Opt[float] = None


class Watermark(Model):
    """An enterprise watermark."""

    image: AssetInput
    opacity: Opt[Annotated[float, Field(ge=0.0, le=1.0)]] = None
    scale: Opt[float] = None
    placement: Placement | None = None


class ColorBackground(Model):
    """A colour behind an avatar or image body: `value`, `#RRGGBB`."""

    type: Literal["color"]
    value: Hex6


class ImageBackground(Model):
    """A picture behind an avatar or image body: a `url` or an `asset_id`, one."""

    type: Literal["image"]
    url: Https | None = None
    asset_id: str | None = None

    rule_reads: ClassVar[frozenset[str]] = frozenset()
    """None: the rule reads only whether each source is null (see merge.payload.shape)."""

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.url is None) == (self.asset_id is None):
            raise _rule("url", "give exactly one of url, asset_id", self.url)
        return self


Background = Annotated[ColorBackground | ImageBackground, Field(discriminator="type")]


class SceneColour(Model):
    """The one background of a studio avatar scene: `color` (not `value`), `#RRGGBB`."""

    type: Literal["color"]
    color: Hex6


class _Voice(Model):
    """What is heard: a script with a voice, or an audio file; one source at most."""

    script: Script | None = None
    voice_id: str | None = None
    audio_url: str | None = None
    audio_asset_id: str | None = None
    voice_settings: VoiceSettings | None = None

    def _sources(self) -> list[str]:
        return [name for name in AUDIO if getattr(self, name) is not None]

    def _check_voice(self, needed: bool, voice_needed: bool) -> None:
        given = self._sources()
        if len(given) > 1:
            message = f"cannot be given with {given[0]}: give one audio source"
            raise _rule(given[1], message, getattr(self, given[1]))
        if needed and not given:
            raise _rule("script", "is required (or give audio_url or audio_asset_id)", None)
        if self.script is not None and voice_needed and self.voice_id is None:
            raise _rule("voice_id", "is required with script", None)


class _Common(Model):
    """What every body type takes at its top level."""

    resolution: Resolution | None = None
    aspect_ratio: AspectRatio | None = None
    caption: Caption | None = None
    title: str | None = None
    callback_url: Annotated[str, Field(pattern=WEB_PATTERN)] | None = None
    callback_id: str | None = None
    watermark: Watermark | None = None
    folder_id: str | None = None
    brand_glossary_id: str | None = None


def _check_engine_extras(
    engine: Any, expressiveness: str | None, motion_prompt: str | None
) -> None:
    kind = getattr(engine, "type", None)
    if expressiveness is not None and kind in ("avatar_v", "avatar_iii"):
        raise _rule("expressiveness", f"cannot be used with engine {kind}", expressiveness)
    if motion_prompt is not None and kind == "avatar_iii":
        raise _rule("motion_prompt", "cannot be used with engine avatar_iii", motion_prompt)


class _Single(_Common, _Voice):
    """Avatar and image bodies: one subject on a canvas."""

    background: Background | None = None
    fit: Literal["contain", "cover"] | None = None
    output_format: Opt[Literal["mp4", "webm"]] = None
    remove_background: bool | None = None
    expressiveness: Expressiveness | None = None
    motion_prompt: str | None = None


class AvatarBody(_Single):
    """`type: "avatar"`: one speaking avatar (a look id)."""

    type: Literal["avatar"]
    avatar_id: Id
    engine: Engine | None = None

    rule_reads: ClassVar[frozenset[str]] = frozenset({"type", "output_format"})
    """Keys whose values the rules read: the engine's `type` and `output_format`; of the others
    only whether they are null (see merge.payload.shape)."""

    @model_validator(mode="after")
    def _rules(self) -> Self:
        self._check_voice(needed=True, voice_needed=False)
        _check_single(self)
        _check_engine_extras(self.engine, self.expressiveness, self.motion_prompt)
        return self


class ImageBody(_Single):
    """`type: "image"`: animate a picture; no engine."""

    type: Literal["image"]
    image: AssetInput

    rule_reads: ClassVar[frozenset[str]] = frozenset({"output_format"})
    """Keys whose values the rules read; of the others only whether they are null."""

    @model_validator(mode="after")
    def _rules(self) -> Self:
        self._check_voice(needed=True, voice_needed=True)
        _check_single(self)
        return self


def _check_single(body: _Single) -> None:
    if body.output_format == "webm" and body.background is not None:
        raise _rule("background", 'cannot be given with output_format "webm"', None)


class AvatarInput(_Voice):
    """A studio avatar scene's `input`: an avatar and exactly one audio source."""

    type: Literal["avatar"]
    avatar_id: Id
    engine: Engine | None = None
    expressiveness: Expressiveness | None = None
    motion_prompt: str | None = None
    background: SceneColour | None = None

    rule_reads: ClassVar[frozenset[str]] = frozenset({"type"})
    """Keys whose values the rules read: the engine's `type`; of the others only whether they
    are null (see merge.payload.shape)."""

    @model_validator(mode="after")
    def _rules(self) -> Self:
        self._check_voice(needed=True, voice_needed=False)
        _check_engine_extras(self.engine, self.expressiveness, self.motion_prompt)
        return self


class AvatarVideoScene(Model):
    """A studio scene with an avatar."""

    type: Literal["avatar_video"]
    input: AvatarInput


class ImageScene(_Voice):
    """A picture scene: silent for `duration` seconds, or narrated (one audio, no duration)."""

    type: Literal["image"]
    source: AssetInput
    duration: Annotated[float, Field(gt=0, le=300)] | None = None

    rule_reads: ClassVar[frozenset[str]] = frozenset()
    """None: the rules read only whether `duration` and each audio source are null."""

    @model_validator(mode="after")
    def _rules(self) -> Self:
        if self.duration is not None:
            if self._sources():
                name = self._sources()[0]
                message = "cannot be given with duration (a silent scene)"
                raise _rule(name, message, getattr(self, name))
            return self
        if not self._sources():
            raise _rule("duration", "is required for a scene without script or audio", None)
        self._check_voice(needed=True, voice_needed=True)
        return self


class Playback(Model):
    """How a clip's own sound plays."""

    volume: Opt[Annotated[float, Field(ge=0.0)]] = None
    mute: Opt[bool] = None


class VideoScene(_Voice):
    """A clip scene, with an optional voice-over."""

    type: Literal["video"]
    source: AssetInput
    playback: Playback | None = None

    rule_reads: ClassVar[frozenset[str]] = frozenset()
    """None: the rules read only whether the voice's keys are null (see merge.payload.shape)."""

    @model_validator(mode="after")
    def _rules(self) -> Self:
        self._check_voice(needed=False, voice_needed=True)
        return self


Scene = Annotated[AvatarVideoScene | ImageScene | VideoScene, Field(discriminator="type")]


class StudioBody(_Common):
    """`type: "studio"`: 1 to 50 whole-frame scenes in one MP4."""

    type: Literal["studio"]
    scenes: Annotated[list[Scene], Field(min_length=1, max_length=MAX_SCENES)]


V3Body = Annotated[AvatarBody | ImageBody | StudioBody, Field(discriminator="type")]
