"""The V2 request-body models hold every rule of the contract in heygen-api.md section 1."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from merge.payload.v2_models import MAX_INPUT_TEXT, MAX_SCENES, ColorBackground, RequestBody
from tests.bodies import (
    GOLDEN,
    INVALID_EXAMPLES,
    SHARED,
    VALID_EXAMPLES,
    body,
    example,
    scene,
    with_value,
)


def error_types(payload: Any) -> list[tuple[tuple[str | int, ...], str]]:
    """Validate, expecting failure, and return each error's loc and type."""
    with pytest.raises(ValidationError) as info:
        RequestBody.model_validate(payload)
    return [(e["loc"], e["type"]) for e in info.value.errors()]


def is_valid(payload: Any) -> bool:
    try:
        RequestBody.model_validate(payload)
    except ValidationError:
        return False
    return True


CHARACTER = ("video_inputs", 0, "character")
VOICE = ("video_inputs", 0, "voice")
BACKGROUND = ("video_inputs", 0, "background")

# --- golden examples --------------------------------------------------------------------------


def test_golden_copies_cover_the_ten_examples() -> None:
    assert sorted(p.name[:2] for p in GOLDEN.glob("*.json")) == sorted(
        VALID_EXAMPLES + INVALID_EXAMPLES
    )


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared is not beside this clone")
def test_golden_copies_match_the_shared_examples() -> None:
    shared = {p.name: p.read_bytes() for p in SHARED.glob("*.json")}
    ours = {p.name: p.read_bytes() for p in GOLDEN.glob("*.json")}
    assert ours == shared


@pytest.mark.parametrize("number", VALID_EXAMPLES)
def test_official_examples_are_valid(number: str) -> None:
    RequestBody.model_validate(example(number))


def test_example_05_lacks_video_inputs() -> None:
    assert error_types(example("05")) == [(("video_inputs",), "missing")]


def test_example_06_skeleton_mixing_every_field_is_rejected() -> None:
    errors = error_types(example("06"))
    assert ((*CHARACTER, "avatar", "talking_photo_id"), "extra_forbidden") in errors
    assert ((*VOICE, "text", "elevanlabs_settings"), "extra_forbidden") in errors
    assert ((*VOICE, "text", "speed"), "greater_than_equal") in errors
    assert (("dimension", "width"), "greater_than") in errors
    assert ((*BACKGROUND, "color", "url"), "extra_forbidden") in errors


# --- ranges: exactly at the bound is valid, just past it is not --------------------------------

TALKING_PHOTO = {"type": "talking_photo", "talking_photo_id": "045c260bc0364727"}
SILENCE = {"type": "silence"}

BOUNDS = [
    # (base body, path, lowest valid, highest valid, just below, just above)
    (body(), (*CHARACTER, "scale"), 0.0, 5.0, -0.01, 5.01),
    (body(scene(character=TALKING_PHOTO)), (*CHARACTER, "scale"), 0.0, 2.0, -0.01, 2.01),
    (body(), (*VOICE, "speed"), 0.5, 1.5, 0.49, 1.51),
    (body(), (*VOICE, "pitch"), -50, 50, -51, 51),
    (body(scene(voice=SILENCE)), (*VOICE, "duration"), 1.0, 100.0, 0.99, 100.01),
    (body(dimension={"width": 1280, "height": 720}), ("dimension", "width"), 129, 4095, 128, 4096),
    (body(dimension={"width": 1280, "height": 720}), ("dimension", "height"), 129, 4095, 128, 4096),
]
BOUNDS += [
    (
        body(scene(voice=scene()["voice"] | {"elevenlabs_settings": {}})),
        (*VOICE, "elevenlabs_settings", name),
        0.0,
        1.0,
        -0.01,
        1.01,
    )
    for name in ("similarity_boost", "stability", "style")
]
BOUND_IDS = [".".join(str(p) for p in case[1][2:]) for case in BOUNDS]


@pytest.mark.parametrize(("base", "path", "low", "high", "below", "above"), BOUNDS, ids=BOUND_IDS)
def test_numeric_ranges(
    base: dict[str, Any],
    path: tuple[str | int, ...],
    low: float,
    high: float,
    below: float,
    above: float,
) -> None:
    assert is_valid(with_value(base, path, low))
    assert is_valid(with_value(base, path, high))
    assert not is_valid(with_value(base, path, below))
    assert not is_valid(with_value(base, path, above))


@pytest.mark.parametrize("count", [1, MAX_SCENES])
def test_scene_count_within_limits(count: int) -> None:
    assert is_valid(body(*[scene()] * count))


@pytest.mark.parametrize(("count", "kind"), [(0, "too_short"), (MAX_SCENES + 1, "too_long")])
def test_scene_count_outside_limits(count: int, kind: str) -> None:
    assert error_types({"video_inputs": [scene()] * count}) == [(("video_inputs",), kind)]


def test_input_text_under_5000_characters() -> None:
    path = (*VOICE, "input_text")
    assert is_valid(with_value(body(), path, "x" * MAX_INPUT_TEXT))
    assert error_types(with_value(body(), path, "x" * 5000)) == [
        ((*VOICE, "text", "input_text"), "string_too_long")
    ]


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_input_text_must_not_be_empty_or_blank(text: str) -> None:
    assert not is_valid(with_value(body(), (*VOICE, "input_text"), text))


@pytest.mark.parametrize(
    "path",
    [(*CHARACTER, "avatar_id"), (*VOICE, "voice_id")],
    ids=["avatar_id", "voice_id"],
)
@pytest.mark.parametrize("value", ["", " "])
def test_required_ids_must_not_be_empty(path: tuple[str | int, ...], value: Any) -> None:
    assert not is_valid(with_value(body(), path, value))


def test_pitch_must_be_whole() -> None:
    assert not is_valid(with_value(body(), (*VOICE, "pitch"), 1.5))
    assert is_valid(with_value(body(), (*VOICE, "pitch"), 2.0))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "nan", "-inf"])
def test_non_finite_numbers_are_rejected(value: Any) -> None:
    assert not is_valid(with_value(body(), (*CHARACTER, "scale"), value))


# --- enums ------------------------------------------------------------------------------------

ENUMS = [
    (body(), (*CHARACTER, "avatar_style"), ["circle", "normal", "closeUp"], "closeup"),
    (
        body(scene(character=TALKING_PHOTO)),
        (*CHARACTER, "talking_photo_style"),
        ["square", "circle"],
        "round",
    ),
    (
        body(scene(character=TALKING_PHOTO)),
        (*CHARACTER, "talking_style"),
        ["stable", "expressive"],
        "calm",
    ),
    (
        body(scene(character=TALKING_PHOTO)),
        (*CHARACTER, "expression"),
        ["default", "happy"],
        "sad",
    ),
    (
        body(),
        (*VOICE, "emotion"),
        ["Excited", "Friendly", "Serious", "Soothing", "Broadcaster"],
        "excited",
    ),
    (
        body(scene(voice=scene()["voice"] | {"elevenlabs_settings": {}})),
        (*VOICE, "elevenlabs_settings", "model"),
        [
            "eleven_monolingual_v1",
            "eleven_multilingual_v1",
            "eleven_multilingual_v2",
            "eleven_turbo_v2",
            "eleven_turbo_v2_5",
        ],
        "eleven_turbo_v3",
    ),
    (
        body(scene(background={"type": "image", "url": "https://example.com/a.jpg"})),
        (*BACKGROUND, "fit"),
        ["cover", "crop", "contain", "none"],
        "stretch",
    ),
    (
        body(scene(background={"type": "video", "video_asset_id": "v1"})),
        (*BACKGROUND, "fit"),
        ["cover", "crop", "contain", "none"],
        "fill",
    ),
    (
        body(scene(background={"type": "video", "video_asset_id": "v1"})),
        (*BACKGROUND, "play_style"),
        ["fit_to_scene", "freeze", "loop", "once", "full_video"],
        "twice",
    ),
]
ENUM_IDS = [case[1][-1] for case in ENUMS]


@pytest.mark.parametrize(("base", "path", "allowed", "wrong"), ENUMS, ids=ENUM_IDS)
def test_enums(
    base: dict[str, Any], path: tuple[str | int, ...], allowed: list[str], wrong: str
) -> None:
    for value in allowed:
        assert is_valid(with_value(base, path, value)), value
    assert not is_valid(with_value(base, path, wrong))


def test_avatar_iv_model_flag_is_a_bool() -> None:
    assert is_valid(with_value(body(), (*CHARACTER, "use_avatar_iv_model"), True))
    assert not is_valid(with_value(body(), (*CHARACTER, "use_avatar_iv_model"), "sometimes"))


# --- hex colours -------------------------------------------------------------------------------

COLOUR_PATHS = [
    (*CHARACTER, "circle_background_color"),
    (*BACKGROUND, "value"),
    ("video_inputs", 0, "text", "color"),
]


@pytest.mark.parametrize("path", COLOUR_PATHS, ids=lambda p: p[-1])
@pytest.mark.parametrize("colour", ["#fff", "#FFF", "#1a2b3c", "#1A2B3C", "#1a2b3c80", "#AbCdEf"])
def test_hex_colours_accepted(path: tuple[str | int, ...], colour: str) -> None:
    base = body(scene(text={"type": "text", "text": "Hi"}))
    assert is_valid(with_value(base, path, colour))


@pytest.mark.parametrize("path", COLOUR_PATHS, ids=lambda p: p[-1])
@pytest.mark.parametrize(
    "colour", ["blue", "fff", "#ff", "#ffff", "#fffff", "#1a2b3g", "#1a2b3c8", " #fff", "#fff\n"]
)
def test_hex_colours_rejected(path: tuple[str | int, ...], colour: str) -> None:
    base = body(scene(text={"type": "text", "text": "Hi"}))
    assert not is_valid(with_value(base, path, colour))


# --- exactly one source --------------------------------------------------------------------------

SOURCES = [
    ({"type": "audio"}, "voice", "audio_url", "audio_asset_id"),
    ({"type": "image"}, "background", "url", "image_asset_id"),
    ({"type": "video"}, "background", "url", "video_asset_id"),
]


@pytest.mark.parametrize(
    ("base", "part", "first", "second"), SOURCES, ids=["audio", "image", "video"]
)
def test_exactly_one_source(base: dict[str, Any], part: str, first: str, second: str) -> None:
    def build(*keys: str) -> dict[str, Any]:
        return body(scene(**{part: base | {key: f"{key}-value" for key in keys}}))

    assert is_valid(build(first))
    assert is_valid(build(second))
    tag = base["type"]
    assert error_types(build(first, second)) == [(("video_inputs", 0, part, tag), "both_sources")]
    assert error_types(build()) == [(("video_inputs", 0, part, tag), "no_source")]


def test_source_rule_is_reported_with_field_errors() -> None:
    voice = {"type": "audio", "audio_url": "u", "audio_asset_id": "a", "speed": 1}
    errors = error_types(body(scene(voice=voice)))
    assert errors == [
        ((*VOICE, "audio", "speed"), "extra_forbidden"),
        ((*VOICE, "audio"), "both_sources"),
    ]


def test_null_source_is_reported_at_its_key_and_does_not_count() -> None:
    voice = {"type": "audio", "audio_url": None, "audio_asset_id": "a"}
    assert error_types(body(scene(voice=voice))) == [
        ((*VOICE, "audio", "audio_url"), "string_type")
    ]
    voice = {"type": "audio", "audio_url": None}
    assert error_types(body(scene(voice=voice))) == [
        ((*VOICE, "audio", "audio_url"), "string_type"),
        ((*VOICE, "audio"), "no_source"),
    ]


# --- captions need text voices -----------------------------------------------------------------

AUDIO = {"type": "audio", "audio_url": "https://example.com/a.mp3"}


def test_caption_with_text_voices_is_valid() -> None:
    assert is_valid(body(scene(), scene(), caption=True))


@pytest.mark.parametrize("voice", [AUDIO, SILENCE], ids=["audio", "silence"])
def test_caption_with_a_non_text_voice_is_rejected(voice: dict[str, Any]) -> None:
    assert error_types(body(scene(), scene(voice=voice), caption=True)) == [
        (("caption",), "caption_needs_text_voice")
    ]


def test_caption_false_allows_any_voice() -> None:
    assert is_valid(body(scene(voice=AUDIO), scene(voice=SILENCE), caption=False))
    assert is_valid(body(scene(voice=AUDIO), caption="false"))


def test_caption_rule_is_reported_with_field_errors() -> None:
    payload = body(scene(voice=AUDIO), caption="true", title=5)
    assert error_types(payload) == [
        (("title",), "string_type"),
        (("caption",), "caption_needs_text_voice"),
    ]


# --- discriminated unions ----------------------------------------------------------------------


def test_background_without_type_is_a_colour() -> None:
    model = RequestBody.model_validate(body(scene(background={"value": "#000"})))
    assert isinstance(model.video_inputs[0].background, ColorBackground)


def test_background_without_type_still_rejects_image_keys() -> None:
    errors = error_types(body(scene(background={"url": "https://example.com/a.jpg"})))
    assert errors == [((*BACKGROUND, "color", "url"), "extra_forbidden")]


@pytest.mark.parametrize("part", ["character", "voice", "background"])
def test_unknown_type_is_a_tag_error(part: str) -> None:
    errors = error_types(body(scene(**{part: {"type": "nonsense"}})))
    assert errors == [(("video_inputs", 0, part), "union_tag_invalid")]


@pytest.mark.parametrize("part", ["character", "voice"])
def test_missing_type_is_a_tag_error(part: str) -> None:
    errors = error_types(body(scene(**{part: {}})))
    assert errors == [(("video_inputs", 0, part), "union_tag_not_found")]


def test_voice_is_required_but_character_and_background_are_not() -> None:
    assert is_valid(body({"voice": scene()["voice"]}))
    assert error_types(body({"character": scene()["character"]})) == [
        (("video_inputs", 0, "voice"), "missing")
    ]


def test_text_overlay() -> None:
    overlay = {
        "type": "text",
        "text": "Hi Ada",
        "font_family": "Inter",
        "font_size": 32,
        "font_weight": "bold",
        "color": "#ffffff",
        "position": {"x": 0.5, "y": 0.9},
        "text_align": "center",
        "line_height": 1.2,
        "width": 600,
    }
    assert is_valid(body(scene(text=overlay)))
    assert not is_valid(body(scene(text=overlay | {"type": "title"})))
    assert not is_valid(body(scene(text=overlay | {"shadow": True})))


# --- unknown keys and nulls --------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        ("captions",),
        ("video_inputs", 0, "captions"),
        (*CHARACTER, "avatar_group_id"),
        (*VOICE, "elevanlabs_settings"),
        (*BACKGROUND, "colour"),
        ("dimension", "depth"),
    ],
    ids=lambda p: p[-1],
)
def test_unknown_keys_are_rejected_everywhere(path: tuple[str | int, ...]) -> None:
    payload = with_value(body(dimension={"width": 1280, "height": 720}), path, 1)
    assert [kind for _, kind in error_types(payload)] == ["extra_forbidden"]


def test_documented_nulls_are_accepted() -> None:
    assert is_valid(body(callback_id=None, aspect_ratio=None))


@pytest.mark.parametrize(
    "path",
    [("title",), ("caption",), ("dimension",), (*CHARACTER, "avatar_style"), (*VOICE, "speed")],
    ids=lambda p: p[-1],
)
def test_other_nulls_are_rejected(path: tuple[str | int, ...]) -> None:
    assert not is_valid(with_value(body(), path, None))


def test_optional_parts_may_be_left_out() -> None:
    assert is_valid(body({"voice": {"type": "silence"}}))


# --- lax coercion ------------------------------------------------------------------------------


def test_spreadsheet_text_coerces_to_the_field_type() -> None:
    payload = with_value(body(caption="true", test="false"), (*VOICE, "speed"), "1.5")
    payload = with_value(payload, (*VOICE, "pitch"), "5")
    payload = with_value(payload, (*CHARACTER, "scale"), " 2 ")
    model = RequestBody.model_validate(payload)
    voice = model.model_dump()["video_inputs"][0]["voice"]
    assert (voice["speed"], voice["pitch"]) == (1.5, 5)
    assert model.caption is True
    assert model.test is False
    assert model.model_dump()["video_inputs"][0]["character"]["scale"] == 2.0


@pytest.mark.parametrize("path", [("title",), (*VOICE, "voice_id"), (*VOICE, "input_text")])
def test_numbers_never_become_strings(path: tuple[str | int, ...]) -> None:
    assert not is_valid(with_value(body(), path, 12345))


def test_unparsable_text_is_rejected() -> None:
    assert not is_valid(with_value(body(), (*VOICE, "speed"), "fast"))
    assert not is_valid(with_value(body(), (*VOICE, "pitch"), "1.5"))
    assert not is_valid(body(caption="maybe"))


def test_dump_leaves_out_what_was_not_given() -> None:
    payload = body(scene(background={"value": "#000"}))
    dumped = RequestBody.model_validate(payload).model_dump(mode="json", exclude_unset=True)
    assert dumped == payload
    assert "type" not in dumped["video_inputs"][0]["background"]
    assert "scale" not in dumped["video_inputs"][0]["character"]
