"""The V2 → v3 translation, one case per row of the contract's mapping table (heygen-v3.md §11).

Each case is a V2 body, the v3 body it must become (golden), and what it loses. Every body the
translation makes is also checked by the simulator's own, independent reading of the contract.
"""

from __future__ import annotations

from typing import Any

import pytest

from merge.payload.translate_v3 import translate
from merge.payload.validate import validate_payload
from merge.simulator.v3 import check_request

AVATAR = {"type": "avatar", "avatar_id": "Daisy"}
PHOTO = {"type": "talking_photo", "talking_photo_id": "photo-1"}
SAY = {"type": "text", "voice_id": "v1", "input_text": "Hello"}
SPOKEN = {"script": "Hello", "voice_id": "v1"}
IMAGE = "https://example.com/i.jpg"
CLIP = "https://example.com/c.mp4"


def scene(**parts: Any) -> dict[str, Any]:
    return {"character": AVATAR, "voice": SAY} | parts


def one(**top: Any) -> dict[str, Any]:
    """A one-scene V2 body; `top` adds top-level fields or replaces the scene (`scene=`)."""
    only = top.pop("scene", scene())
    return {"video_inputs": [only], **top}


def in_studio(**fields: Any) -> dict[str, Any]:
    return {"type": "avatar_video", "input": {"type": "avatar", "avatar_id": "Daisy"} | fields}


CASES: list[tuple[str, dict[str, Any], dict[str, Any], list[str]]] = [
    ("one scene", one(), {"type": "avatar", "avatar_id": "Daisy", **SPOKEN}, []),
    (
        "2-50 scenes",
        {"video_inputs": [scene(), scene()]},
        {"type": "studio", "scenes": [in_studio(**SPOKEN), in_studio(**SPOKEN)]},
        [],
    ),
    (
        "caption: true",
        one(caption=True),
        {"type": "avatar", "avatar_id": "Daisy", **SPOKEN, "caption": {"style": "default"}},
        [],
    ),
    ("caption: false", one(caption=False), {"type": "avatar", "avatar_id": "Daisy", **SPOKEN}, []),
    (
        "title, callback_id, callback_url",
        one(title="T", callback_id="c", callback_url="https://example.com/hook"),
        {"type": "avatar", "avatar_id": "Daisy", **SPOKEN, "title": "T", "callback_id": "c"}
        | {"callback_url": "https://example.com/hook"},
        [],
    ),
    (
        "dimension",
        one(dimension={"width": 1080, "height": 1920}),
        {"type": "avatar", "avatar_id": "Daisy", **SPOKEN}
        | {"resolution": "1080p", "aspect_ratio": "9:16"},
        [],
    ),
    (
        "dimension, exact pixels",
        one(dimension={"width": 1000, "height": 800}),
        {"type": "avatar", "avatar_id": "Daisy", **SPOKEN}
        | {"resolution": "1080p", "aspect_ratio": "5:4"},
        ["dimension"],
    ),
    (
        "folder_id",
        one(folder_id="f1"),
        {"type": "avatar", "avatar_id": "Daisy", **SPOKEN, "folder_id": "f1"},
        [],
    ),
    ("test", one(test=True), {"type": "avatar", "avatar_id": "Daisy", **SPOKEN}, ["test"]),
    ("test: false", one(test=False), {"type": "avatar", "avatar_id": "Daisy", **SPOKEN}, []),
    (
        "text overlay",
        one(scene=scene(text={"type": "text", "text": "Hi"})),
        {"type": "avatar", "avatar_id": "Daisy", **SPOKEN},
        ["video_inputs[0].text"],
    ),
    (
        "aspect_ratio",
        one(aspect_ratio="1:1"),
        {"type": "avatar", "avatar_id": "Daisy", **SPOKEN, "aspect_ratio": "1:1"},
        [],
    ),
    (
        "talking_photo_id",
        one(scene=scene(character=PHOTO)),
        {"type": "avatar", "avatar_id": "photo-1", **SPOKEN},
        [],
    ),
    (
        "use_avatar_iv_model",
        one(scene=scene(character=AVATAR | {"use_avatar_iv_model": True})),
        {"type": "avatar", "avatar_id": "Daisy", "engine": {"type": "avatar_iv"}, **SPOKEN},
        [],
    ),
    (
        "V2 defaults are no loss",
        one(
            scene=scene(
                character=AVATAR
                | {"scale": 1, "avatar_style": "normal", "offset": {"x": 0, "y": 0}}
                | {"matting": False, "use_avatar_iv_model": False}
            )
        ),
        {"type": "avatar", "avatar_id": "Daisy", **SPOKEN},
        [],
    ),
    (
        "scale, offset, avatar_style, circle colour",
        one(
            scene=scene(
                character=AVATAR
                | {"scale": 0.5, "offset": {"x": 0.1, "y": 0}, "avatar_style": "circle"}
                | {"circle_background_color": "#ffffff"}
            )
        ),
        {"type": "avatar", "avatar_id": "Daisy", **SPOKEN},
        [
            "video_inputs[0].character.scale",
            "video_inputs[0].character.offset",
            "video_inputs[0].character.avatar_style",
            "video_inputs[0].character.circle_background_color",
        ],
    ),
    (
        "talking_photo_style, super_resolution, talking_style, expression",
        one(
            scene=scene(
                character=PHOTO
                | {"talking_photo_style": "circle", "super_resolution": True}
                | {"talking_style": "expressive", "expression": "happy"}
            )
        ),
        {"type": "avatar", "avatar_id": "photo-1", **SPOKEN},
        [
            "video_inputs[0].character.talking_photo_style",
            "video_inputs[0].character.super_resolution",
            "video_inputs[0].character.talking_style",
            "video_inputs[0].character.expression",
        ],
    ),
    (
        "matting",
        one(scene=scene(character=AVATAR | {"matting": True})),
        {"type": "avatar", "avatar_id": "Daisy", "remove_background": True, **SPOKEN},
        [],
    ),
    (
        "matting inside studio",
        {"video_inputs": [scene(character=AVATAR | {"matting": True}), scene()]},
        {"type": "studio", "scenes": [in_studio(**SPOKEN), in_studio(**SPOKEN)]},
        ["video_inputs[0].character.matting"],
    ),
    (
        "speed, pitch, locale",
        one(scene=scene(voice=SAY | {"speed": 1.2, "pitch": 5, "locale": "en-GB"})),
        {"type": "avatar", "avatar_id": "Daisy", **SPOKEN}
        | {"voice_settings": {"speed": 1.2, "pitch": 5, "locale": "en-GB"}},
        [],
    ),
    (
        "emotion",
        one(scene=scene(voice=SAY | {"emotion": "Friendly"})),
        {"type": "avatar", "avatar_id": "Daisy", **SPOKEN},
        ["video_inputs[0].voice.emotion"],
    ),
    (
        "elevenlabs_settings",
        one(
            scene=scene(
                voice=SAY
                | {"elevenlabs_settings": {"model": "eleven_turbo_v2_5", "stability": 0.4}}
            )
        ),
        {"type": "avatar", "avatar_id": "Daisy", **SPOKEN}
        | {
            "voice_settings": {
                "engine_settings": {
                    "engine_type": "elevenlabs",
                    "model": "eleven_turbo_v2_5",
                    "stability": 0.4,
                }
            }
        },
        [],
    ),
    (
        "elevenlabs model without a v3 value",
        one(scene=scene(voice=SAY | {"elevenlabs_settings": {"model": "eleven_monolingual_v1"}})),
        {"type": "avatar", "avatar_id": "Daisy", **SPOKEN}
        | {"voice_settings": {"engine_settings": {"engine_type": "elevenlabs"}}},
        ["video_inputs[0].voice.elevenlabs_settings.model"],
    ),
    (
        "audio voice",
        one(scene=scene(voice={"type": "audio", "audio_asset_id": "a1"})),
        {"type": "avatar", "avatar_id": "Daisy", "audio_asset_id": "a1"},
        [],
    ),
    (
        "silence over an image",
        {
            "video_inputs": [
                scene(),
                {
                    "voice": {"type": "silence", "duration": 2},
                    "background": {"type": "image", "url": IMAGE},
                },
            ]
        },
        {
            "type": "studio",
            "scenes": [
                in_studio(**SPOKEN),
                {"type": "image", "source": {"type": "url", "url": IMAGE}, "duration": 2},
            ],
        },
        [],
    ),
    (
        "a clip with a voice-over, alone",
        one(scene={"voice": SAY, "background": {"type": "video", "url": CLIP}}),
        {
            "type": "studio",
            "scenes": [{"type": "video", "source": {"type": "url", "url": CLIP}, **SPOKEN}],
        },
        [],
    ),
    (
        "colour, avatar",
        one(scene=scene(background={"type": "color", "value": "#abc"})),
        {"type": "avatar", "avatar_id": "Daisy", **SPOKEN}
        | {"background": {"type": "color", "value": "#aabbcc"}},
        [],
    ),
    (
        "colour, studio",
        {"video_inputs": [scene(background={"type": "color", "value": "#0E1B2C"}), scene()]},
        {
            "type": "studio",
            "scenes": [
                in_studio(**SPOKEN, background={"type": "color", "color": "#0E1B2C"}),
                in_studio(**SPOKEN),
            ],
        },
        [],
    ),
    (
        "image background by asset id",
        one(scene=scene(background={"type": "image", "image_asset_id": "img-1"})),
        {"type": "avatar", "avatar_id": "Daisy", **SPOKEN}
        | {"background": {"type": "image", "asset_id": "img-1"}},
        [],
    ),
    (
        "image background fit",
        one(scene=scene(background={"type": "image", "url": IMAGE, "fit": "contain"})),
        {"type": "avatar", "avatar_id": "Daisy", **SPOKEN}
        | {"background": {"type": "image", "url": IMAGE}},
        ["video_inputs[0].background.fit"],
    ),
    (
        "image background in studio",
        {"video_inputs": [scene(background={"type": "image", "url": IMAGE}), scene()]},
        {"type": "studio", "scenes": [in_studio(**SPOKEN), in_studio(**SPOKEN)]},
        ["video_inputs[0].background"],
    ),
    (
        "video background behind an avatar",
        one(scene=scene(background={"type": "video", "url": CLIP})),
        {"type": "avatar", "avatar_id": "Daisy", **SPOKEN},
        ["video_inputs[0].background"],
    ),
]


@pytest.mark.parametrize(("v2", "v3", "lost"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_mapping_row_translates_as_the_contract_says(
    v2: dict[str, Any], v3: dict[str, Any], lost: list[str]
) -> None:
    checked = validate_payload(v2)
    assert checked.payload is not None, checked.problems
    translation = translate(checked.payload)
    assert translation.body == v3
    assert [p.path for p in translation.losses] == lost
    assert translation.gaps == []
    check_request(translation.body)  # the simulator's own reading of the contract agrees


@pytest.mark.parametrize(
    ("v2", "gap"),
    [
        (one(scene=scene(voice={"type": "silence", "duration": 2})), "video_inputs[0].voice"),
        (one(scene={"voice": SAY}), "video_inputs[0].character"),
        (
            one(scene={"voice": SAY, "background": {"type": "color", "value": "#000000"}}),
            "video_inputs[0].character",
        ),
    ],
    ids=["a silent avatar", "no avatar, no picture", "no avatar over a colour"],
)
def test_what_v3_cannot_express_is_a_gap(v2: dict[str, Any], gap: str) -> None:
    checked = validate_payload(v2)
    assert checked.payload is not None, checked.problems
    assert [p.path for p in translate(checked.payload).gaps] == [gap]


def test_the_engine_choice_goes_to_every_avatar_that_names_none() -> None:
    body = {
        "video_inputs": [scene(character=AVATAR | {"use_avatar_iv_model": True}), scene()],
    }
    translated = translate(body, engine="avatar_iii").body
    engines = [s["input"]["engine"] for s in translated["scenes"]]
    assert engines == [{"type": "avatar_iv"}, {"type": "avatar_iii"}]
    check_request(translated)


def test_a_v3_template_is_validated_directly_with_columns_named(tmp_path) -> None:
    from merge.payload.row import V2, V3, Target, check_row, load_template
    from merge.sheets.sheet import Row

    path = tmp_path / "t.json"
    path.write_text(
        '{"type": "avatar", "avatar_id": "{{ avatar }}", "script": "Hi {{ name }}",'
        ' "voice_id": "v", "voice_settings": {"speed": "{{ speed }}"},'
        ' "background": {"type": "color", "value": "{{ colour }}"}, "scrpit": "x"}'
    )
    template = load_template(path, ["avatar", "name", "speed", "colour"])
    values = {"avatar": "a", "name": "Ann", "speed": "2", "colour": "blue"}
    result = check_row(template, Row(4, values), V3)
    assert [p.describe() for p in result.problems] == [
        'column "speed": 2 is above the maximum 1.5 (voice_settings.speed)',
        'column "colour": "blue" is not a six-digit hex colour like #1a2b3c (background.value)',
        'unknown key "scrpit" (did you mean "script"?) (scrpit)',
    ]
    path.write_text(path.read_text().replace(', "scrpit": "x"', ""))
    template = load_template(path, ["avatar", "name", "speed", "colour"])
    good = {"avatar": "a", "name": "Ann", "speed": "1.1", "colour": "#FFFFFF"}
    valid = check_row(template, Row(4, good), Target("v3", engine="avatar_v"))
    assert valid.status == "valid"
    assert valid.payload["voice_settings"] == {"speed": 1.1}
    assert valid.payload["engine"] == {"type": "avatar_v"}
    check_request(valid.payload)
    on_v2 = check_row(template, Row(4, good), V2)
    assert [p.message for p in on_v2.problems] == [
        "this template is written in v3's language (a top-level type, no video_inputs):"
        " drop --api v2"
    ]


def test_the_validate_command_checks_a_v3_body_as_v3(cli, tmp_path) -> None:
    body = tmp_path / "studio.json"
    scene: dict[str, Any] = {"type": "avatar", "avatar_id": "a", "script": "Hi"}
    scene["background"] = {"type": "color", "value": "#000000"}
    body.write_text(
        json_text({"type": "studio", "scenes": [{"type": "avatar_video", "input": scene}]})
    )
    run = cli("validate", body)
    assert run.code == 3
    assert 'scenes[0].input.background.value: unknown key "value"' in run.out


def json_text(value: Any) -> str:
    import json

    return json.dumps(value)


def test_schema_prints_the_v3_body_schema(cli) -> None:
    import json

    run = cli("schema", "--api", "v3")
    assert run.code == 0
    schema = json.loads(run.out)
    assert set(schema["discriminator"]["mapping"]) == {"avatar", "image", "studio"}
    assert schema["$defs"]["SceneColour"]["required"] == ["type", "color"]
