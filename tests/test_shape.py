"""Validating what varies agrees with validating the whole body, on random templates and rows."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter

from merge.errors import TemplateError
from merge.payload.render import compile_template
from merge.payload.row import V2, V2_OF_V3, V3_BODY, check_row
from merge.payload.shape import ShapeValidator
from merge.payload.v2_models import RequestBody
from merge.payload.v3_models import V3Body
from merge.payload.validate import Validated, validate_payload, validate_v3_payload
from merge.sheets.sheet import Row

ROOT = Path(__file__).resolve().parent.parent

COLUMNS = ("c0", "c1", "c2", "c3", "c4", "c5")

CELLS = [
    "",
    " ",
    "NA",
    "null",
    "0",
    "1",
    "1.0",
    "0.5",
    "1.5",
    "2",
    "-3",
    "200",
    "1e400",
    "nan",
    "007",
    "abc",
    'Zoë O\'Brien, "Jr"',
    "שלום",
    "😀 hi",
    "line\nbreak",
    "#ff0000",
    "#FFF",
    "blue",
    "true",
    "false",
    "text",
    "audio",
    "silence",
    "avatar",
    "image",
    "color",
    "normal",
    "https://example.com/a.png",
    "x" * 5_000,
]


def rare(draw: st.DrawFn, odds: int) -> bool:
    """True once in `odds + 1` draws; false is where hypothesis shrinks to (the usual case)."""
    return draw(st.integers(0, odds)) == odds


def placeholder(draw: st.DrawFn, valid: list[Any]) -> Any:
    """A leaf: a constant (mostly valid) or a templated string fed by a column."""
    column = draw(st.sampled_from(COLUMNS))
    choice = draw(st.integers(0, 12))
    if choice < 5:
        return draw(st.sampled_from(valid))
    if choice < 9:
        return f"{{{{ {column} }}}}"
    if choice == 9:
        return f"Hi {{{{ {column} }}}}!"
    if choice == 10:
        return f"{{{{ {column} | float }}}}"
    if choice == 11:
        return f'{{{{ row["{column}"] }}}}'
    return draw(st.sampled_from(["", None, 3, True, [1], {"a": 1}]))


@st.composite
def part(draw: st.DrawFn, kinds: dict[str, dict[str, list[Any]]]) -> dict[str, Any]:
    """An object of one of the given types, with some of its keys, each a leaf."""
    kind = draw(st.sampled_from(sorted(kinds)))
    body: dict[str, Any] = {}
    if not rare(draw, 9):
        body["type"] = placeholder(draw, [kind]) if rare(draw, 7) else kind
    for key, valid in kinds[kind].items():
        if key in REQUIRED:
            wanted = not rare(draw, 15)
        else:
            wanted = rare(draw, 3) if key in SECOND else draw(st.booleans())
        if wanted:
            body[key] = placeholder(draw, valid)
    if rare(draw, 30):
        body["colour"] = "#000"
    return body


REQUIRED = {"voice_id", "input_text", "avatar_id", "talking_photo_id", "audio_url", "url"}
SECOND = {"audio_asset_id", "image_asset_id"}
"""Left out mostly (a required key) or often (a second source: both at once are refused)."""

CHARACTERS: dict[str, dict[str, list[Any]]] = {
    "avatar": {
        "avatar_id": ["Daisy"],
        "scale": [1, 0.5, "2"],
        "avatar_style": ["normal", "circle"],
        "circle_background_color": ["#abc"],
        "matting": [True, "true"],
    },
    "talking_photo": {"talking_photo_id": ["tp"], "talking_style": ["stable"], "scale": [1]},
}
VOICES: dict[str, dict[str, list[Any]]] = {
    "text": {
        "voice_id": ["v1"],
        "input_text": ["Hello there"],
        "speed": [1, "1.1"],
        "pitch": [0, "10"],
        "emotion": ["Friendly"],
    },
    "audio": {"audio_url": ["https://example.com/a.mp3"], "audio_asset_id": ["a1"]},
    "silence": {"duration": [1, "2.5"]},
}
BACKGROUNDS: dict[str, dict[str, list[Any]]] = {
    "color": {"value": ["#f6f6fc", "#123456"]},
    "image": {"url": ["https://example.com/b.png"], "image_asset_id": ["i1"], "fit": ["cover"]},
    "video": {"url": ["https://example.com/b.mp4"], "play_style": ["loop"]},
}


@st.composite
def templates(draw: st.DrawFn) -> dict[str, Any]:
    """A JSON template shaped like a V2 body, right or wrong in random places."""
    scenes = []
    for _ in range(draw(st.integers(0, 2)) if rare(draw, 9) else 1):
        scene: dict[str, Any] = {}
        if not rare(draw, 9):
            scene["voice"] = draw(part(VOICES))
        if draw(st.booleans()):
            scene["character"] = draw(part(CHARACTERS))
        if draw(st.booleans()):
            scene["background"] = draw(part(BACKGROUNDS))
        if rare(draw, 5):
            scene["text"] = {"type": "text", "text": placeholder(draw, ["hi"])}
        scenes.append(scene)
    body: dict[str, Any] = {"video_inputs": scenes}
    optional: dict[str, list[Any]] = {
        "caption": [True, False, "true"],
        "title": ["Hello"],
        "test": [True],
        "callback_id": ["cb"],
        "aspect_ratio": ["16:9"],
    }
    for key, valid in optional.items():
        if draw(st.booleans()):
            body[key] = placeholder(draw, valid)
    if draw(st.booleans()):
        body["dimension"] = {
            "width": placeholder(draw, [1280, "720"]),
            "height": placeholder(draw, [720]),
        }
    return body


# "1" fits most fields (ids, texts, numbers, booleans), so many random rows are valid and the
# learnt structures get filled in; the rest of the cells break fields in their own ways.
CELL = st.sampled_from(["1"] * 40 + ["1.0"] * 5 + CELLS)
rows_of_cells = st.lists(
    st.fixed_dictionaries(dict.fromkeys(COLUMNS, CELL)), min_size=1, max_size=4
)


def same(left: Any, right: Any) -> bool:
    """Equal as bodies and as the bytes they become (key order and number types included)."""
    try:
        return left == right and orjson.dumps(left) == orjson.dumps(right)
    except TypeError:  # a lone surrogate, which only the standard encoder writes (escaped)
        return left == right and json.dumps(left) == json.dumps(right)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(templates(), rows_of_cells, st.lists(st.integers(0, 5), min_size=4, max_size=12))
def test_shape_and_whole_body_validation_agree(
    skeleton: dict[str, Any], cells: list[dict[str, str]], order: list[int]
) -> None:
    agree(skeleton, cells, order, RequestBody, validate_payload)


def agree(
    skeleton: dict[str, Any],
    cells: list[dict[str, str]],
    order: list[int],
    model: Any,
    validate: Callable[[object], Validated],
) -> None:
    """Rows of the template validated by shape and whole: the same problems and bodies."""
    try:
        template = compile_template(json.dumps(skeleton), "t.json", COLUMNS)
    except TemplateError:  # a key the body does not have is the template's own mistake
        assume(False)
        return
    shape = ShapeValidator(model, validate, [leaf.parts for leaf in template.leaves.values()])
    # Rows come back again and again, so structures are learnt and then filled in.
    for number, pick in enumerate(order, start=2):
        rendered = template.render(cells[pick % len(cells)], number)
        if rendered.payload is None:
            continue
        fast = shape.validate(rendered.payload)
        whole = validate(rendered.payload)
        assert fast.problems == whole.problems
        assert same(fast.payload, whole.payload)


LEADS_TEMPLATE = {
    "title": "Hello {{ first_name }}",
    "caption": True,
    "dimension": {"width": 1280, "height": 720},
    "video_inputs": [
        {
            "character": {"type": "avatar", "avatar_id": "{{ avatar }}"},
            "voice": {
                "type": "text",
                "voice_id": "v1",
                "input_text": "Hi {{ first_name }} at {{ company }}",
                "speed": "{{ speed }}",
            },
            "background": {"type": "color", "value": "{{ colour }}"},
        }
    ],
}
LEADS_COLUMNS = ["first_name", "company", "avatar", "speed", "colour"]


def test_a_sheet_of_leads_is_filled_in_and_reports_problems_as_whole_validation_does() -> None:
    template = compile_template(json.dumps(LEADS_TEMPLATE), "t.json", LEADS_COLUMNS)
    whole = compile_template(json.dumps(LEADS_TEMPLATE), "t.json", LEADS_COLUMNS)
    whole.validators[RequestBody] = validate_payload
    names = ["Zoë", "Ω", "O'Neil", "李", "Ana-María", "😀", "", "NA"]
    speeds = ["1", "1.2", "0.5", "fast", "", "1.6", "1,5"]
    colours = ["#fff", "#0e1b2c", "blue", ""]
    rows = [
        Row(
            n + 2,
            {
                "first_name": names[n % len(names)],
                "company": 'Acme, "Ltd"',
                "avatar": "" if n % 13 == 5 else "Daisy",
                "speed": speeds[n % len(speeds)],
                "colour": colours[n % len(colours)],
            },
        )
        for n in range(300)
    ]
    fast = [check_row(template, row, V2) for row in rows]
    # Most rows take a short way: filled in by shape, or made as bytes by a plan.
    made = sum(book.made for book in template.plans.values())
    assert template.validators[RequestBody].__self__.filled + made > 100
    for one, other in zip(fast, (check_row(whole, row, V2) for row in rows), strict=True):
        assert orjson.dumps(one.as_json()) == orjson.dumps(other.as_json())
    # Bound for v3 (the default), the V2 body validated by shape is translated as the whole one.
    for row in rows:
        one, other = check_row(template, row), check_row(whole, row)
        assert orjson.dumps(one.as_json()) == orjson.dumps(other.as_json())
    # No two bodies share a part: changing one (as a library user may) leaves the others be.
    first, second, third = [r.payload for r in fast if r.status == "valid"][:3]
    first["dimension"]["width"] = 1
    second["video_inputs"][0]["character"]["type"] = "changed"
    assert third["dimension"]["width"] == 1280
    assert third["video_inputs"][0]["character"]["type"] == "avatar"
    again = check_row(template, rows[0], V2).payload
    assert (again["dimension"]["width"], again["video_inputs"][0]["character"]["type"]) == (
        1280,
        "avatar",
    )
    problems = {p.describe() for r in fast for p in r.problems}
    assert any('"fast" is not a number' in p for p in problems)
    assert any('"blue" is not a hex colour like #1a2b3c' in p for p in problems)


def test_a_v3_template_is_validated_by_shape_row_by_row() -> None:
    text = (ROOT / "templates" / "outreach_v3.json").read_text()
    columns = ["first_name", "company", "city", "product", "avatar_id", "voice_id", "speed"]
    template = compile_template(text, "outreach_v3.json", [*columns, "background"])
    values = dict.fromkeys(columns, "x") | {"speed": "1.1", "background": "#0e1b2c"}
    rows = [
        Row(2, values),
        Row(3, values | {"speed": "fast"}),
        Row(4, values | {"background": "blue"}),
        Row(5, values | {"first_name": "Zoë"}),
    ]
    results = [check_row(template, row) for row in rows]
    assert list(template.validators) == [V3_BODY]
    for row, result in zip(rows, results, strict=True):
        rendered = template.render(row.values, row.number).payload
        whole = validate_v3_payload(rendered)
        assert result.status == ("valid" if whole.payload is not None else "invalid")
        assert {p.path for p in result.problems} == {p.path for p in whole.problems}
        if whole.payload is not None:
            assert result.payload == whole.payload
    assert [r.status for r in results] == ["valid", "invalid", "invalid", "valid"]
    assert results[1].problems[0].column == "speed"
    assert results[3].payload["title"] == "Hello Zoë from Northwind"
    assert results[0].payload is not results[3].payload
    assert check_row(template, rows[0], V2).problems[0].message == V2_OF_V3


# --- templates written in v3's language ----------------------------------------------------

V3_CELLS = [
    *["1"] * 12,
    *["Anna", "Zoë O'Brien", 'say "hi"\n', "שלום עולם", "Ω 😀", "\u2028</script>", "\ud800"],
    *["", " ", "NA", "null", "007", "0", "0.3", "0.5", "1.2", "2", "-3", "1e400", "nan"],
    *["avatar", "image", "studio", "video", "avatar_iv", "avatar_v", "avatar_iii"],
    *["eleven_v3", "eleven_turbo_v2_5", "elevenlabs", "fish", "webm", "mp4", "high", "url"],
    *["#0e1b2c", "#fff", "blue", "https://example.com/c.png", "pic.png", "a/b.mp3", "16:9"],
]
"""Cells for v3 templates: "1" fits most fields; the rest are the ways sheets go wrong, and
the values the v3 models' cross-field rules read (engines, models, formats)."""
V3_CELL = st.sampled_from(["1"] * 120 + V3_CELLS)
v3_rows = st.lists(st.fixed_dictionaries(dict.fromkeys(COLUMNS, V3_CELL)), min_size=1, max_size=5)


def v3_leaf(draw: st.DrawFn, constant: Any, text: bool = True, filters: bool = False) -> Any:
    """A field of a v3 template: its constant (mostly), a cell, a cell inside words (text), or
    with `filters`, a number filter (numbers) or a row lookup (text), so no plan. A field that
    takes one of a few words (a kind, a format) is fed by a cell once in eight."""
    column = draw(st.sampled_from(COLUMNS))
    word = isinstance(constant, str) and not text
    choice = draw(st.integers(0, 13 if word else 4 if filters else 3))
    if choice <= 1 or choice > 4:
        return constant
    if choice == 2 or (choice == 3 and not text):
        return f"{{{{ {column} }}}}"
    if choice == 3:
        return f"Hi {{{{ {column} }}}}, from {{{{ c0 }}}}"
    if word or text:
        return f'{{{{ row["{column}"] }}}}'
    return f"{{{{ {column} | float }}}}"


def v3_some(draw: st.DrawFn, fields: dict[str, tuple[Any, bool]], filters: bool) -> dict[str, Any]:
    """Some of the given optional fields, each a leaf."""
    return {
        key: v3_leaf(draw, constant, text, filters)
        for key, (constant, text) in fields.items()
        if rare(draw, 2)
    }


def v3_voice(draw: st.DrawFn, filters: bool, required: bool) -> dict[str, Any]:
    """What is heard: mostly a script and voice, sometimes audio, sometimes two (refused)."""
    voice: dict[str, Any] = {}
    if not required and draw(st.booleans()):
        return voice
    if not rare(draw, 4):
        voice["script"] = v3_leaf(draw, "Hello there", True, filters)
        if not rare(draw, 6):
            voice["voice_id"] = v3_leaf(draw, "v1", True, filters)
    if rare(draw, 8):
        voice["audio_url"] = v3_leaf(draw, "https://example.com/a.mp3", False, filters)
    if rare(draw, 8):
        voice["audio_asset_id"] = v3_leaf(draw, "a1", True, filters)
    if rare(draw, 2):
        settings = v3_some(
            draw, {"speed": (1.0, False), "pitch": (0, False), "locale": ("en-US", True)}, filters
        )
        if rare(draw, 3):
            kind = draw(st.sampled_from(["elevenlabs", "fish", "starfish"]))
            engine: dict[str, Any] = {"engine_type": v3_leaf(draw, kind, False, filters)}
            if kind != "starfish":
                model = "eleven_v3" if kind == "elevenlabs" else "s1"
                engine |= v3_some(
                    draw, {"model": (model, False), "stability": (0.5, False)}, filters
                )
            settings["engine_settings"] = engine
        voice["voice_settings"] = settings
    return voice


def v3_asset(draw: st.DrawFn, filters: bool) -> dict[str, Any]:
    if rare(draw, 3):
        return {"type": "asset_id", "asset_id": v3_leaf(draw, "as1", True, filters)}
    return {
        "type": v3_leaf(draw, "url", False, filters),
        "url": v3_leaf(draw, "https://e.x/p.png", False),
    }


def v3_engine(draw: st.DrawFn, filters: bool) -> dict[str, Any]:
    """An avatar's engine and the extras only some engines take."""
    extras: dict[str, Any] = {}
    if rare(draw, 1):
        kind = draw(st.sampled_from(["avatar_iv", "avatar_v", "avatar_iii"]))
        extras["engine"] = {"type": v3_leaf(draw, kind, False, filters)}
    extras |= v3_some(
        draw, {"expressiveness": ("low", False), "motion_prompt": ("nod", True)}, filters
    )
    return extras


@st.composite
def v3_templates(draw: st.DrawFn, filters: bool = True) -> dict[str, Any]:
    """A JSON template written in v3's language (avatar, image or studio), mostly valid."""
    kind = draw(st.sampled_from(["avatar", "avatar", "image", "studio"]))
    body: dict[str, Any] = {"type": v3_leaf(draw, kind, False, filters) if rare(draw, 6) else kind}
    if kind == "studio":
        scenes: list[dict[str, Any]] = []
        for _ in range(draw(st.integers(1, 3))):
            scene = draw(st.sampled_from(["avatar_video", "avatar_video", "image", "video"]))
            if scene == "avatar_video":
                given = {"type": "avatar", "avatar_id": v3_leaf(draw, "look1", True, filters)}
                given |= v3_voice(draw, filters, True) | v3_engine(draw, filters)
                if rare(draw, 3):
                    given["background"] = {
                        "type": "color",
                        "color": v3_leaf(draw, "#0e1b2c", False, filters),
                    }
                scenes.append({"type": scene, "input": given})
                continue
            one: dict[str, Any] = {"type": scene, "source": v3_asset(draw, filters)}
            if scene == "image" and draw(st.booleans()):
                one["duration"] = v3_leaf(draw, 5, False, filters)
            else:
                one |= v3_voice(draw, filters, scene == "image")
            if scene == "video" and rare(draw, 2):
                one["playback"] = v3_some(
                    draw, {"volume": (1, False), "mute": (True, False)}, filters
                )
            scenes.append(one)
        body["scenes"] = scenes
    else:
        if kind == "avatar":
            body["avatar_id"] = v3_leaf(draw, "look1", True, filters)
            body |= v3_engine(draw, filters)
        else:
            body["image"] = v3_asset(draw, filters)
        body |= v3_voice(draw, filters, True)
        if rare(draw, 1):
            if draw(st.booleans()):
                body["background"] = {
                    "type": "color",
                    "value": v3_leaf(draw, "#0e1b2c", False, filters),
                }
            else:
                background: dict[str, Any] = {"type": "image"}
                if not rare(draw, 4):
                    background["url"] = v3_leaf(draw, "https://e.x/b.png", False, filters)
                if rare(draw, 2):
                    background["asset_id"] = v3_leaf(draw, "b1", True, filters)
                body["background"] = background
        body |= v3_some(
            draw,
            {"output_format": ("mp4", False), "fit": ("cover", False)},
            filters,
        )
    body |= v3_some(
        draw,
        {
            "title": ("Hello", True),
            "resolution": ("720p", False),
            "aspect_ratio": ("16:9", False),
            "callback_id": ("cb", True),
            "folder_id": ("f1", True),
        },
        filters,
    )
    if rare(draw, 2):
        body["caption"] = {"style": v3_leaf(draw, "default", False, filters)}
    if rare(draw, 30):
        body["colour"] = "#000"  # an unknown key: every row is refused, the same both ways
    return body


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(v3_templates(), v3_rows, st.lists(st.integers(0, 9), min_size=4, max_size=14))
def test_v3_shape_and_whole_body_validation_agree(
    skeleton: dict[str, Any], cells: list[dict[str, str]], order: list[int]
) -> None:
    agree(skeleton, cells, order, V3Body, validate_v3_payload)


class _Left(BaseModel):
    kind: str
    text: str


class _Right(BaseModel):
    kind: int


def test_an_untagged_union_of_bodies_is_validated_whole_every_row() -> None:
    adapter: TypeAdapter[Any] = TypeAdapter(_Left | _Right)

    def whole(payload: object) -> Validated:
        return Validated(adapter.dump_python(adapter.validate_python(payload)), [])

    shape = ShapeValidator(_Left | _Right, whole, [("text",)])
    assert not shape.enabled
    for text in ["a", "b", "a"]:
        assert shape.validate({"kind": "x", "text": text}).payload == {"kind": "x", "text": text}
    assert shape.filled == 0
