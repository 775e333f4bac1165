"""Pydantic models of the Create Avatar Video (V2) request body: the API contract.

Every rule that can be said declaratively is (ranges, enums, patterns, tagged unions); the two
model validators carry the cross-field rules. Unknown keys are rejected everywhere, and the
models validate in pydantic's lax mode, so spreadsheet text coerces ("1.5" → 1.5, "true" →
True) while a number never silently becomes a string.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, NoReturn, Self, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    GetCoreSchemaHandler,
    ModelWrapValidatorHandler,
    Tag,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import InitErrorDetails, PydanticCustomError, core_schema

MAX_SCENES = 50
MAX_INPUT_TEXT = 4_999
"""`input_text` must be under 5,000 characters."""

HEX_COLOUR_PATTERN = r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$"
"""Accept #RGB, #RRGGBB and #RRGGBBAA in either case.

HeyGen documents only that the colour must be hex (a 400 otherwise) and shows #RRGGBB in both
cases; which other forms it takes is unconfirmed. Accepting the three CSS hex forms is the safe
side of that unconfirmed rule: a row is never refused locally for a colour the API may take,
while words like "blue" and malformed hex are still caught before any request goes out.
"""

NON_BLANK_PATTERN = r"\S"
"""A required id or script must hold at least one non-space character."""

CUSTOM_ERROR_TYPES = frozenset({"both_sources", "no_source", "caption_needs_text_voice"})
"""Error types raised by the cross-field rules; their messages are already in user terms."""

NON_TEXT_VOICES = ("audio", "silence")

T = TypeVar("T")


class _NotNull:
    """Make an optional field refuse an explicit null: None only ever means "not given".

    Whether V2 treats null like an absent key is unconfirmed, so null is refused rather than
    sent; this works on the core schema, so it costs nothing at validation time.
    """

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        schema = handler(source)
        return schema["schema"] if schema["type"] == "nullable" else schema


class BodyJsonSchema(GenerateJsonSchema):
    """Leave out the `"default": null` of keys that may be omitted but not set to null."""

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        if schema.get("default") is None and schema["schema"]["type"] != "nullable":
            return self.generate_inner(schema["schema"])
        return super().default_schema(schema)


Opt = Annotated[T | None, _NotNull()]
"""An optional key that may be left out but not set to null."""

Id = Annotated[str, Field(min_length=1, pattern=NON_BLANK_PATTERN)]
HexColour = Annotated[str, Field(pattern=HEX_COLOUR_PATTERN)]
Unit = Annotated[float, Field(ge=0.0, le=1.0)]
Side = Annotated[int, Field(gt=128, lt=4096)]

AvatarStyle = Literal["circle", "normal", "closeUp"]
TalkingPhotoStyle = Literal["square", "circle"]
TalkingStyle = Literal["stable", "expressive"]
Expression = Literal["default", "happy"]
Emotion = Literal["Excited", "Friendly", "Serious", "Soothing", "Broadcaster"]
ElevenLabsModel = Literal[
    "eleven_monolingual_v1",
    "eleven_multilingual_v1",
    "eleven_multilingual_v2",
    "eleven_turbo_v2",
    "eleven_turbo_v2_5",
]
Fit = Literal["cover", "crop", "contain", "none"]
PlayStyle = Literal["fit_to_scene", "freeze", "loop", "once", "full_video"]


class Model(BaseModel):
    """Reject unknown keys and non-finite numbers in every part of the body."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def _fail_with(
    handler: ModelWrapValidatorHandler[Any],
    data: Any,
    error: PydanticCustomError,
    title: str,
    loc: tuple[str | int, ...] = (),
) -> NoReturn:
    """Raise `error` together with every field error, so a row's problems all show at once."""
    # pydantic-core unpacks a ValidationError raised here into line errors under this model's
    # location; from_exception_data only takes built-in types by name, so each field error is
    # carried over as a custom error with the same type, context and input.
    details: list[InitErrorDetails] = []
    try:
        handler(data)
    except ValidationError as exc:
        details = [
            {
                "type": PydanticCustomError(e["type"], e["msg"], e.get("ctx")),
                "loc": e["loc"],
                "input": e["input"],
            }
            for e in exc.errors(include_url=False)
        ]
    details.append({"type": error, "loc": loc, "input": data})
    raise ValidationError.from_exception_data(title, details)


def _one_source_error(data: Any, first: str, second: str) -> PydanticCustomError | None:
    """Check on the raw keys that exactly one of two sources is given (a null one is not)."""
    if not isinstance(data, dict):
        return None
    context = {"first": first, "second": second}
    has_first, has_second = data.get(first) is not None, data.get(second) is not None
    if has_first and has_second:
        return PydanticCustomError(
            "both_sources", "give either {first} or {second}, not both", context
        )
    if not (has_first or has_second):
        return PydanticCustomError("no_source", "give {first} or {second}", context)
    return None


class _OneSource(Model):
    """A media setting that takes its file from exactly one of two keys."""

    sources: ClassVar[tuple[str, str]]
    rule_reads: ClassVar[frozenset[str]] = frozenset()
    """Keys whose values (beyond their JSON type) the rule reads: none, only whether a source is
    null (see merge.payload.shape)."""

    @model_validator(mode="wrap")
    @classmethod
    def _exactly_one_source(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        error = _one_source_error(data, *cls.sources)
        return handler(data) if error is None else _fail_with(handler, data, error, cls.__name__)


class Offset(Model):
    """Shift the character from the centre of the frame."""

    x: float
    y: float


class Dimension(Model):
    """Size the output video; each side must be above 128 and below 4,096 pixels."""

    width: Side
    height: Side


class AvatarSettings(Model):
    """Place a studio avatar (an avatar id, not an avatar group id)."""

    type: Literal["avatar"]
    avatar_id: Id
    scale: Annotated[float, Field(ge=0.0, le=5.0)] = 1.0
    avatar_style: Opt[AvatarStyle] = None
    offset: Opt[Offset] = None
    matting: Opt[bool] = None
    circle_background_color: Opt[HexColour] = None
    use_avatar_iv_model: Opt[bool] = None


class TalkingPhotoSettings(Model):
    """Place a talking photo (also how AI-generated UGC avatars are sent)."""

    type: Literal["talking_photo"]
    talking_photo_id: Id
    scale: Annotated[float, Field(ge=0.0, le=2.0)] = 1.0
    talking_photo_style: Opt[TalkingPhotoStyle] = None
    offset: Opt[Offset] = None
    talking_style: TalkingStyle = "stable"
    expression: Expression = "default"
    super_resolution: Opt[bool] = None
    matting: Opt[bool] = None
    circle_background_color: Opt[HexColour] = None
    use_avatar_iv_model: Opt[bool] = None


class ElevenLabsSettings(Model):
    """Tune an ElevenLabs voice."""

    model: Opt[ElevenLabsModel] = None
    similarity_boost: Opt[Unit] = None
    stability: Opt[Unit] = None
    style: Opt[Unit] = None


class TextVoice(Model):
    """Speak a script with a HeyGen voice."""

    type: Literal["text"]
    voice_id: Id
    input_text: Annotated[
        str, Field(min_length=1, max_length=MAX_INPUT_TEXT, pattern=NON_BLANK_PATTERN)
    ]
    speed: Annotated[float, Field(ge=0.5, le=1.5)] = 1.0
    pitch: Annotated[int, Field(ge=-50, le=50)] = 0
    emotion: Opt[Emotion] = None
    locale: Opt[str] = None
    elevenlabs_settings: Opt[ElevenLabsSettings] = None


class AudioVoice(_OneSource):
    """Play recorded audio from a URL or an uploaded asset (exactly one)."""

    sources = ("audio_url", "audio_asset_id")
    type: Literal["audio"]
    audio_url: Opt[Id] = None
    audio_asset_id: Opt[Id] = None


class SilenceVoice(Model):
    """Hold silence for a number of seconds."""

    type: Literal["silence"]
    duration: Annotated[float, Field(ge=1.0, le=100.0)] = 1.0


class ColorBackground(Model):
    """Fill the background with one colour (the default background type)."""

    type: Literal["color"] = "color"
    value: HexColour = "#f6f6fc"


class ImageBackground(_OneSource):
    """Show an image from a URL or an uploaded asset (exactly one)."""

    sources = ("url", "image_asset_id")
    type: Literal["image"]
    url: Opt[Id] = None
    image_asset_id: Opt[Id] = None
    fit: Fit = "cover"


class VideoBackground(_OneSource):
    """Play a video from a URL or an uploaded asset (exactly one)."""

    sources = ("url", "video_asset_id")
    type: Literal["video"]
    url: Opt[Id] = None
    video_asset_id: Opt[Id] = None
    play_style: Opt[PlayStyle] = None
    fit: Fit = "cover"


class TextOverlay(Model):
    """Draw a line of text over the scene."""

    type: Literal["text"]
    text: str
    font_family: Opt[str] = None
    font_size: Opt[float] = None
    font_weight: Opt[str] = None
    color: Opt[HexColour] = None
    position: Opt[Offset] = None
    text_align: Opt[str] = None
    line_height: Opt[float] = None
    width: Opt[float] = None


def _background_type(value: Any) -> str | None:
    """Tell backgrounds apart by `type`, which defaults to "color" when left out."""
    if isinstance(value, dict):
        tag = value.get("type", "color")
        return tag if isinstance(tag, str) else repr(tag)
    tag = getattr(value, "type", None)
    return tag if isinstance(tag, str) else None


Character = Annotated[AvatarSettings | TalkingPhotoSettings, Field(discriminator="type")]
Voice = Annotated[TextVoice | AudioVoice | SilenceVoice, Field(discriminator="type")]
Background = Annotated[
    Annotated[ColorBackground, Tag("color")]
    | Annotated[ImageBackground, Tag("image")]
    | Annotated[VideoBackground, Tag("video")],
    Discriminator(_background_type),
]


class VideoInput(Model):
    """One scene: who is on screen, what they say, and what is behind them."""

    character: Opt[Character] = None
    voice: Voice
    background: Opt[Background] = None
    text: Opt[TextOverlay] = None


_BOOL: TypeAdapter[bool] = TypeAdapter(bool)


def _caption_error(data: Any) -> PydanticCustomError | None:
    """Check on the raw body that captions are only asked for when every voice is text."""
    if not isinstance(data, dict) or "caption" not in data:
        return None
    try:
        caption = _BOOL.validate_python(data["caption"])
    except ValidationError:
        return None
    scenes = data.get("video_inputs")
    if not caption or not isinstance(scenes, list):
        return None
    offenders = [
        f'video_inputs[{index}].voice is "{voice["type"]}"'
        for index, scene in enumerate(scenes)
        if isinstance(scene, dict)
        and isinstance(voice := scene.get("voice"), dict)
        and voice.get("type") in NON_TEXT_VOICES
    ]
    if not offenders:
        return None
    message = "caption is only supported when every scene has a text voice ({offenders})"
    return PydanticCustomError(
        "caption_needs_text_voice", message, {"offenders": ", ".join(offenders)}
    )


class RequestBody(Model):
    """The body of `POST /v2/video/generate`."""

    video_inputs: Annotated[list[VideoInput], Field(min_length=1, max_length=MAX_SCENES)]
    caption: bool = False
    title: Opt[str] = None
    callback_id: str | None = None
    dimension: Opt[Dimension] = None
    folder_id: Opt[str] = None
    callback_url: Opt[str] = None
    test: Opt[bool] = None
    aspect_ratio: str | None = None

    rule_reads: ClassVar[frozenset[str]] = frozenset({"caption", "type"})
    """Keys whose values the caption rule reads (see merge.payload.shape)."""

    @model_validator(mode="wrap")
    @classmethod
    def _captions_need_text_voices(
        cls, data: Any, handler: ModelWrapValidatorHandler[Self]
    ) -> Self:
        error = _caption_error(data)
        if error is None:
            return handler(data)
        _fail_with(handler, data, error, cls.__name__, ("caption",))
