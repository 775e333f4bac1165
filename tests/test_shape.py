"""Validating what varies agrees with validating the whole body, on random templates and rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from merge.errors import TemplateError
from merge.payload.render import compile_template
from merge.payload.row import V2, V2_OF_V3, check_row
from merge.payload.shape import ShapeValidator
from merge.payload.v2_models import RequestBody
from merge.payload.validate import validate_payload, validate_v3_payload
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
    return left == right and orjson.dumps(left) == orjson.dumps(right)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(templates(), rows_of_cells, st.lists(st.integers(0, 5), min_size=4, max_size=12))
def test_shape_and_whole_body_validation_agree(
    skeleton: dict[str, Any], cells: list[dict[str, str]], order: list[int]
) -> None:
    try:
        template = compile_template(json.dumps(skeleton), "t.json", COLUMNS)
    except TemplateError:  # a key the body does not have is the template's own mistake
        assume(False)
        return
    shape = ShapeValidator(
        RequestBody, validate_payload, [leaf.parts for leaf in template.leaves.values()]
    )
    # Rows come back again and again, so structures are learnt and then filled in.
    for number, pick in enumerate(order, start=2):
        rendered = template.render(cells[pick % len(cells)], number)
        if rendered.payload is None:
            continue
        fast = shape.validate(rendered.payload)
        whole = validate_payload(rendered.payload)
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


def test_a_v3_template_is_validated_whole_row_by_row() -> None:
    # v3's models name no rule_reads, so their bodies go to validate_v3_payload, never by shape.
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
    assert template.validators == {}
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
