"""validate_payload returns the body as it will be sent, or every problem in the user's words."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from merge.payload.validate import Validated, json_schema, validate_payload
from merge.problems import Problem
from tests.bodies import (
    GOLDEN,
    SHARED,
    VALID_EXAMPLES,
    body,
    example,
    scene,
    with_value,
)


def problems(payload: Any) -> list[tuple[str, str]]:
    """Validate, expecting failure, and return each problem as (path, message)."""
    result = validate_payload(payload)
    assert result.payload is None
    assert result.problems
    return [(p.path, p.message) for p in result.problems]


CHARACTER = ("video_inputs", 0, "character")
VOICE = ("video_inputs", 0, "voice")
BACKGROUND = ("video_inputs", 0, "background")

# --- golden examples --------------------------------------------------------------------------


def test_tests_use_the_in_repo_copies() -> None:
    assert len(list(GOLDEN.glob("*.json"))) == 10
    if SHARED.is_dir():
        assert sorted(p.name for p in GOLDEN.glob("*.json")) == sorted(
            p.name for p in SHARED.glob("*.json")
        )


@pytest.mark.parametrize("number", VALID_EXAMPLES)
def test_official_examples_pass_unchanged(number: str) -> None:
    payload = example(number)
    result = validate_payload(payload)
    assert result == Validated(payload, [])
    assert result.ok


def test_example_05_says_video_inputs_is_required() -> None:
    assert problems(example("05")) == [("video_inputs", "is required")]


def test_example_06_lists_every_fault_in_the_skeleton() -> None:
    found = problems(example("06"))
    assert (
        "video_inputs[0].voice.elevanlabs_settings",
        'unknown key "elevanlabs_settings" (did you mean "elevenlabs_settings"?)',
    ) in found
    assert (
        "video_inputs[0].character.talking_photo_id",
        'unknown key "talking_photo_id" for character type "avatar"'
        ' (it belongs to type "talking_photo")',
    ) in found
    assert ("video_inputs[0].voice.speed", "0 is below the minimum 0.5") in found
    assert (
        "video_inputs[0].character.circle_background_color",
        '"string" is not a hex colour like #1a2b3c',
    ) in found
    assert ("dimension.width", "0 is not above 128") in found
    assert ("dimension.height", "0 is not above 128") in found
    assert len(found) == 19


# --- the coerced body --------------------------------------------------------------------------


def test_success_returns_the_coerced_body_with_only_the_given_keys() -> None:
    payload = with_value(body(caption="true"), (*VOICE, "speed"), "1.25")
    payload = with_value(payload, (*VOICE, "pitch"), "-5")
    result = validate_payload(payload)
    assert result.problems == []
    assert result.payload == with_value(
        with_value(body(caption=True), (*VOICE, "speed"), 1.25), (*VOICE, "pitch"), -5
    )


def test_defaults_are_not_added() -> None:
    payload = body({"voice": {"type": "silence"}, "background": {"value": "#000"}})
    assert validate_payload(payload).payload == payload


def test_success_payload_is_a_new_dict() -> None:
    payload = body()
    result = validate_payload(payload)
    assert result.payload == payload
    assert result.payload is not payload


def test_mappings_other_than_dict_are_accepted() -> None:
    from types import MappingProxyType

    assert validate_payload(MappingProxyType(body())).ok


def test_validated_is_frozen() -> None:
    result = validate_payload(body())
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.payload = None  # type: ignore[misc]


# --- messages: exact wording for representative problems --------------------------------------

MESSAGES = [
    (
        with_value(body(), (*VOICE, "speed"), 2.0),
        "video_inputs[0].voice.speed",
        "2.0 is above the maximum 1.5",
    ),
    (
        with_value(body(), (*VOICE, "speed"), "2.0"),
        "video_inputs[0].voice.speed",
        "2.0 is above the maximum 1.5",
    ),
    (
        with_value(body(), (*CHARACTER, "scale"), -3),
        "video_inputs[0].character.scale",
        "-3 is below the minimum 0.0",
    ),
    (
        with_value(body(), (*VOICE, "pitch"), 51),
        "video_inputs[0].voice.pitch",
        "51 is above the maximum 50",
    ),
    (body(dimension={"width": 128, "height": 720}), "dimension.width", "128 is not above 128"),
    (body(dimension={"width": 1280, "height": 4096}), "dimension.height", "4096 is not below 4096"),
    (body({"character": scene()["character"]}), "video_inputs[0].voice", "is required"),
    (body(dimension={"width": 1280}), "dimension.height", "is required"),
    (body(captions=True), "captions", 'unknown key "captions" (did you mean "caption"?)'),
    (
        with_value(body(), (*VOICE, "elevanlabs_settings"), {}),
        "video_inputs[0].voice.elevanlabs_settings",
        'unknown key "elevanlabs_settings" (did you mean "elevenlabs_settings"?)',
    ),
    (
        with_value(body(), (*CHARACTER, "avatar_styl"), "normal"),
        "video_inputs[0].character.avatar_styl",
        'unknown key "avatar_styl" (did you mean "avatar_style"?)',
    ),
    (
        with_value(body(), (*BACKGROUND, "values"), "#fff"),
        "video_inputs[0].background.values",
        'unknown key "values" (did you mean "value"?)',
    ),
    (
        with_value(body(), (*VOICE, "duration"), 3),
        "video_inputs[0].voice.duration",
        'unknown key "duration" for voice type "text" (it belongs to type "silence")',
    ),
    (
        with_value(body(), (*BACKGROUND, "url"), "https://example.com/a.jpg"),
        "video_inputs[0].background.url",
        'unknown key "url" for background type "color" (it belongs to types "image", "video")',
    ),
    (
        with_value(body(), (*CHARACTER, "avatar_style"), "huge"),
        "video_inputs[0].character.avatar_style",
        '"huge" is not one of circle, normal, closeUp',
    ),
    (
        with_value(body(), (*VOICE, "speed"), "abc"),
        "video_inputs[0].voice.speed",
        '"abc" is not a number',
    ),
    (
        with_value(body(), (*VOICE, "speed"), None),
        "video_inputs[0].voice.speed",
        "null is not a number",
    ),
    (
        with_value(body(), (*VOICE, "pitch"), "1.5"),
        "video_inputs[0].voice.pitch",
        '"1.5" is not a whole number',
    ),
    (
        with_value(body(), (*VOICE, "pitch"), 1.5),
        "video_inputs[0].voice.pitch",
        "1.5 is not a whole number",
    ),
    (body(caption="maybe"), "caption", '"maybe" is not true or false'),
    (
        with_value(body(), (*VOICE, "voice_id"), 12345),
        "video_inputs[0].voice.voice_id",
        "12345 is not text",
    ),
    (
        with_value(body(), (*VOICE, "voice_id"), ""),
        "video_inputs[0].voice.voice_id",
        "must not be empty",
    ),
    (
        with_value(body(), (*VOICE, "input_text"), "  "),
        "video_inputs[0].voice.input_text",
        "must not be blank",
    ),
    (
        with_value(body(), (*CHARACTER, "scale"), "nan"),
        "video_inputs[0].character.scale",
        '"nan" is not a finite number',
    ),
    (
        with_value(body(), (*BACKGROUND, "value"), "blue"),
        "video_inputs[0].background.value",
        '"blue" is not a hex colour like #1a2b3c',
    ),
    (
        body(scene(voice={"type": "audio", "audio_url": "u", "audio_asset_id": "a"})),
        "video_inputs[0].voice",
        "give either audio_url or audio_asset_id, not both",
    ),
    (
        body(scene(voice={"type": "audio"})),
        "video_inputs[0].voice",
        "give audio_url or audio_asset_id",
    ),
    (
        body(scene(background={"type": "image"})),
        "video_inputs[0].background",
        "give url or image_asset_id",
    ),
    (
        body(scene(background={"type": "video", "url": "u", "video_asset_id": "v"})),
        "video_inputs[0].background",
        "give either url or video_asset_id, not both",
    ),
    (
        body(scene(), scene(voice={"type": "audio", "audio_asset_id": "a"}), caption=True),
        "caption",
        "caption is only supported when every scene has a text voice"
        ' (video_inputs[1].voice is "audio")',
    ),
    (
        body(scene(character={"type": "avtar", "avatar_id": "a"})),
        "video_inputs[0].character.type",
        'unknown character type "avtar" (did you mean "avatar"?); use one of avatar, talking_photo',
    ),
    (
        body(scene(background={"type": 5})),
        "video_inputs[0].background.type",
        "unknown background type 5; use one of color, image, video",
    ),
    (
        body(scene(voice={"voice_id": "v"})),
        "video_inputs[0].voice.type",
        "is required: one of text, audio, silence",
    ),
    (body(scene(voice="hello")), "video_inputs[0].voice", "must be an object, not text"),
    (body(scene(background=[])), "video_inputs[0].background", "must be an object, not a list"),
    (
        body(scene(text={"type": "title", "text": "Hi"})),
        "video_inputs[0].text.type",
        'must be "text", not "title"',
    ),
    (
        {"video_inputs": [scene()] * 51},
        "video_inputs",
        "must have between 1 and 50 scenes (has 51)",
    ),
    ({"video_inputs": []}, "video_inputs", "must have between 1 and 50 scenes (has 0)"),
    ({"video_inputs": {"voice": {}}}, "video_inputs", "must be a list, not an object"),
    (
        with_value(body(), (*VOICE, "input_text"), "x" * 5123),
        "video_inputs[0].voice.input_text",
        "is 5,123 characters; the limit is 4,999",
    ),
]


@pytest.mark.parametrize(
    ("payload", "path", "message"), MESSAGES, ids=[m[2][:40] for m in MESSAGES]
)
def test_message(payload: Any, path: str, message: str) -> None:
    assert problems(payload) == [(path, message)]


@pytest.mark.parametrize(
    ("payload", "kind"),
    [([scene()], "a list"), ("{}", "text"), (None, "null"), (42, "a number"), (True, "a boolean")],
)
def test_body_must_be_an_object(payload: Any, kind: str) -> None:
    assert problems(payload) == [("", f"the request body must be a JSON object, not {kind}")]


def test_long_values_are_cut_short_in_messages() -> None:
    [(_, message)] = problems(with_value(body(), (*CHARACTER, "avatar_style"), "x" * 500))
    assert message == f'"{"x" * 39}…" is not one of circle, normal, closeUp'


def test_paths_leave_out_union_tags_and_columns_are_left_to_the_caller() -> None:
    result = validate_payload(with_value(body(), (*VOICE, "speed"), 9))
    assert result.problems == [Problem("video_inputs[0].voice.speed", "9 is above the maximum 1.5")]
    assert result.problems[0].column is None


# --- every problem at once ---------------------------------------------------------------------


def test_three_faults_give_three_problems() -> None:
    payload = with_value(body(captions=True), (*VOICE, "speed"), 2.0)
    payload = with_value(payload, (*BACKGROUND, "value"), "blue")
    assert sorted(problems(payload)) == [
        ("captions", 'unknown key "captions" (did you mean "caption"?)'),
        ("video_inputs[0].background.value", '"blue" is not a hex colour like #1a2b3c'),
        ("video_inputs[0].voice.speed", "2.0 is above the maximum 1.5"),
    ]


def test_cross_field_rules_are_reported_alongside_field_errors() -> None:
    audio = {"type": "audio", "audio_url": "u", "audio_asset_id": "a"}
    payload = body(scene(), scene(voice=audio), caption=True, title=7)
    assert problems(payload) == [
        ("video_inputs[1].voice", "give either audio_url or audio_asset_id, not both"),
        ("title", "7 is not text"),
        (
            "caption",
            "caption is only supported when every scene has a text voice"
            ' (video_inputs[1].voice is "audio")',
        ),
    ]


def test_field_errors_keep_their_wording_beside_a_cross_field_rule():
    voice = {"type": "audio", "audio_url": "u", "extra": 1}
    character = {"type": "avatar", "avatar_id": "a", "avatar_style": "x"}
    payload = body(scene(voice=voice, character=character, background={"value": "blue"}))
    payload["caption"] = True
    assert problems(payload) == [
        ("video_inputs[0].character.avatar_style", '"x" is not one of circle, normal, closeUp'),
        ("video_inputs[0].voice.extra", 'unknown key "extra"'),
        ("video_inputs[0].background.value", '"blue" is not a hex colour like #1a2b3c'),
        (
            "caption",
            "caption is only supported when every scene has a text voice"
            ' (video_inputs[0].voice is "audio")',
        ),
    ]


def test_problems_in_many_scenes_each_name_their_scene() -> None:
    bad = with_value(body(), (*VOICE, "pitch"), 99)["video_inputs"][0]
    payload = body(scene(), bad, scene(), bad)
    assert [path for path, _ in problems(payload)] == [
        "video_inputs[1].voice.pitch",
        "video_inputs[3].voice.pitch",
    ]


# --- JSON Schema -------------------------------------------------------------------------------


def test_json_schema_describes_the_body() -> None:
    schema = json_schema()
    assert schema["required"] == ["video_inputs"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["video_inputs"]["maxItems"] == 50
    assert {"TextVoice", "AudioVoice", "ColorBackground", "TextOverlay"} <= set(schema["$defs"])
    assert "default" not in schema["properties"]["title"]
    assert schema["properties"]["callback_id"]["default"] is None
    json.dumps(schema)


# --- never raises ------------------------------------------------------------------------------


def _all_keys(schema: dict[str, Any]) -> list[str]:
    keys = set(schema["properties"])
    for definition in schema["$defs"].values():
        keys |= set(definition.get("properties", {}))
    return sorted(keys)


KEYS = _all_keys(json_schema())
WORDS = ["text", "audio", "silence", "avatar", "talking_photo", "color", "image", "video"]
LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from([*WORDS, "#fff", "true", "1.5", "", " "])
)
JSON_LIKE = st.recursive(
    LEAVES,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), children, max_size=6)
    ),
    max_leaves=40,
)
LEAF_PATHS = [
    ("caption",),
    ("title",),
    ("dimension",),
    ("video_inputs",),
    ("video_inputs", 0),
    CHARACTER,
    (*CHARACTER, "type"),
    (*CHARACTER, "scale"),
    VOICE,
    (*VOICE, "type"),
    (*VOICE, "speed"),
    (*VOICE, "input_text"),
    BACKGROUND,
    (*BACKGROUND, "type"),
    (*BACKGROUND, "url"),
]


def check_result(result: Validated) -> None:
    """Hold the invariants every result keeps, valid or not."""
    assert (result.payload is None) == bool(result.problems)
    for problem in result.problems:
        assert problem.message
        assert problem.column is None
        assert "Input should" not in problem.message
        assert "errors.pydantic.dev" not in problem.message
    if result.payload is not None:
        json.dumps(result.payload, allow_nan=False)
        assert validate_payload(result.payload) == result


@settings(deadline=None)
@given(JSON_LIKE)
def test_never_raises_for_arbitrary_json(payload: Any) -> None:
    check_result(validate_payload(payload))


@settings(deadline=None)
@given(st.sampled_from(LEAF_PATHS), JSON_LIKE, st.booleans())
def test_never_raises_for_a_valid_body_with_one_value_changed(
    path: tuple[str | int, ...], value: Any, caption: bool
) -> None:
    payload = with_value(body(scene(), scene(), caption=caption), path, value)
    check_result(validate_payload(payload))
