"""Bodies made as bytes by a plan are the bodies the whole way makes, on random templates."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from merge.errors import TemplateError
from merge.payload.compiled import Read, Stand
from merge.payload.encode import dumps
from merge.payload.media import MediaFiles
from merge.payload.render import Template, compile_template
from merge.payload.row import V2, V3, V3_BODY, Target, check_row
from merge.payload.v2_models import RequestBody
from merge.payload.validate import validate_payload, validate_v3_payload
from merge.sheets.sheet import Row
from tests.test_shape import (
    CELLS,
    COLUMNS,
    LEADS_COLUMNS,
    LEADS_TEMPLATE,
    templates,
    v3_rows,
    v3_templates,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
FOLDER = Path(tempfile.mkdtemp(prefix="am-compiled-"))
(FOLDER / "pic.png").write_bytes(PNG)

TARGETS = [V2, V3, Target("v3", engine="avatar_v"), Target("v3", lossy=True)]

# Cells of the sheet tests, and some a plan must refuse or carry exactly: a local file (it is
# uploaded, so its row goes the whole way), a lone surrogate (JSON cannot hold it), the
# characters a plan marks its places with, and text JSON escapes.
CELL = st.sampled_from(
    ["1"] * 30
    + ["Anna"] * 10
    + CELLS
    + ["pic.png", "\ud800", "\ue0001\ue001", "\ue000", 'a"b\\c', "\u2028", "</script>"]
)
rows_of_cells = st.lists(
    st.fixed_dictionaries(dict.fromkeys(COLUMNS, CELL)), min_size=1, max_size=4
)


def leaf(draw: st.DrawFn, constant: Any, text: bool = True) -> Any:
    """A field: its constant, a cell, or (for text) a cell inside words."""
    column = draw(st.sampled_from(COLUMNS))
    choice = draw(st.integers(0, 3 if text else 2))
    return [constant, constant, f"{{{{ {column} }}}}", f"Hi {{{{{column}}}}}, from {{{{ c0 }}}}"][
        choice
    ]


@st.composite
def sound_templates(draw: st.DrawFn) -> dict[str, Any]:
    """A JSON template most of whose rows are valid: plans are learnt and used."""
    scenes = []
    for _ in range(draw(st.integers(1, 3))):
        photo = draw(st.booleans())
        id_key = "talking_photo_id" if photo else "avatar_id"
        character = {"type": "talking_photo" if photo else "avatar", id_key: leaf(draw, "Daisy")}
        if draw(st.booleans()):
            character["scale"] = leaf(draw, 1.0, text=False)
        if draw(st.integers(0, 4)) == 0:
            voice = {"type": "audio", "audio_url": leaf(draw, "https://example.com/a.mp3")}
        else:
            voice = {"type": "text", "voice_id": leaf(draw, "v1"), "input_text": leaf(draw, "Hi")}
            for key, value in (("speed", 1.0), ("pitch", 0), ("locale", "en-US")):
                if draw(st.booleans()):
                    voice[key] = leaf(draw, value, text=key == "locale")
        scene: dict[str, Any] = {"character": character, "voice": voice}
        background = draw(st.integers(0, 3))
        if background == 1:
            scene["background"] = {"type": "color", "value": leaf(draw, "#f6f6fc", text=False)}
        elif background == 2:
            scene["background"] = {"type": "image", "url": leaf(draw, "https://example.com/b.png")}
        scenes.append(scene)
    body: dict[str, Any] = {"video_inputs": scenes}
    for key, value in (("title", "Hello"), ("callback_id", "cb"), ("caption", True)):
        if draw(st.booleans()):
            body[key] = leaf(draw, value, text=key != "caption")
    if draw(st.booleans()):
        body["dimension"] = {"width": leaf(draw, 1280, text=False), "height": 720}
    return body


GOOD = st.sampled_from(
    [
        *["1"] * 16,
        *["Anna", "Zoë O'Brien", "1", "1.0", "0.8", "1280", "720", "#0e1b2c", "#fff", "Ω 😀"],
        *["NA", "https://example.com/c.png", "pic.png", "", 'say "hi"\n', "\u2028</script>"],
    ]
)

sound_rows = st.lists(st.fixed_dictionaries(dict.fromkeys(COLUMNS, GOOD)), min_size=1, max_size=5)


def plain(node: Any) -> Any:
    """The same template with every leaf a plain column reference (a plan needs no filter)."""
    if isinstance(node, dict):
        return {key: plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [plain(value) for value in node]
    if isinstance(node, str):
        return node.replace(" | float", "").replace('row["', "").replace('"] }}', " }}")
    return node


def pair(text: str, columns: Any, target: Target) -> tuple[Template, Template]:
    """The template twice: with plans, and without (every row the whole way)."""
    planned = compile_template(text, "t.json", columns)
    whole = compile_template(text, "t.json", columns)
    whole.plans[target] = None
    return planned, whole


def line(template: Template, row: Row, target: Target, media: MediaFiles | None) -> bytes:
    """A row's payloads.jsonl line; a body made as bytes gives the same line without encoding."""
    result = check_row(template, row, target, media=media)
    encoded = dumps(result.as_json())
    assert result.json_line() in (None, encoded)
    return encoded


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(templates().map(plain), sound_templates()),
    st.one_of(
        rows_of_cells,
        st.lists(st.fixed_dictionaries(dict.fromkeys(COLUMNS, GOOD)), min_size=1, max_size=5),
    ),
    st.lists(st.integers(0, 9), min_size=6, max_size=20),
    st.sampled_from(TARGETS),
    st.booleans(),
)
def test_a_planned_body_is_the_body_the_whole_way_makes(
    skeleton: dict[str, Any],
    cells: list[dict[str, str]],
    order: list[int],
    target: Target,
    with_media: bool,
) -> None:
    both_ways(skeleton, cells, order, target, with_media, pair)


def both_ways(
    skeleton: dict[str, Any],
    cells: list[dict[str, str]],
    order: list[int],
    target: Target,
    with_media: bool,
    make: Callable[[str, Any, Target], tuple[Template, Template]],
) -> None:
    """Rows of the template, planned and not (`make` gives the pair): the same lines."""
    try:
        planned, whole = make(json.dumps(skeleton), COLUMNS, target)
    except TemplateError:  # a key the body does not have is the template's own mistake
        assume(False)
        return
    media = MediaFiles(FOLDER, target.api) if with_media else None
    # Rows come back again and again, so their kinds are planned, then made by the plan.
    for number, pick in enumerate(order, start=2):
        row = Row(number, cells[pick % len(cells)])
        assert line(planned, row, target, media) == line(whole, row, target, media)


def leads(n: int) -> Row:
    names = ["Zoë", "Ω", "O'Neil", "李", "Ana-María", "😀", "", "NA", 'Bob "B"', "مرحبا"]
    speeds = ["1", "1.2", "0.5", "fast", "", "1"]
    return Row(
        n + 2,
        {
            "first_name": names[n % len(names)],
            "company": 'Acme, "Ltd" </script>',
            "avatar": "" if n % 13 == 5 else f"Daisy-{n % 3}",
            "speed": speeds[n % len(speeds)],
            "colour": ["#fff", "#0e1b2c", "blue", ""][n % 4],
        },
    )


@pytest.mark.parametrize("target", TARGETS, ids=["v2", "v3", "v3-engine", "v3-lossy"])
def test_most_rows_of_a_sheet_of_leads_are_made_by_a_plan(target: Target) -> None:
    planned, whole = pair(json.dumps(LEADS_TEMPLATE), LEADS_COLUMNS, target)
    rows = [leads(n) for n in range(400)]
    valid = 0
    for row in rows:
        made = line(planned, row, target, None)
        assert made == line(whole, row, target, None)
        valid += b'"status":"valid"' in made
    book = planned.plans[target]
    assert book.made > 0.8 * valid > 150
    # The speed is put in as a number, so each speed has a plan; names and ids are carried.
    assert {len(plan.leaves) for plan in book.plans.values() if plan is not None} <= {3, 4}


def test_a_plan_is_not_used_for_a_row_naming_a_local_file() -> None:
    text = json.dumps(
        {
            "video_inputs": [
                {
                    "character": {"type": "avatar", "avatar_id": "Daisy"},
                    "voice": {"type": "text", "voice_id": "v1", "input_text": "Hi {{ name }}"},
                    "background": {"type": "image", "url": "{{ picture }}"},
                }
            ]
        }
    )
    planned, whole = pair(text, ["name", "picture"], V3)
    media = MediaFiles(FOLDER, "v3")
    url = {"name": "Ann", "picture": "https://example.com/a.png"}
    rows = [Row(n, url) for n in range(2, 6)] + [Row(6, {"name": "Bo", "picture": "pic.png"})]
    results = [check_row(planned, row, V3, media=media) for row in rows]
    assert planned.plans[V3].made == 2  # rows 4 and 5: the first two learn the structure, plan
    assert results[-1].files  # the local file is found, checked and stands as a token
    assert dumps(results[-1].as_json()) == line(whole, rows[-1], V3, media)


@pytest.mark.parametrize(
    "look",
    [
        lambda s: s == "x",
        lambda s: s != "x",
        lambda s: s in ("avatar", "x"),
        lambda s: s == Stand(8),
        lambda s: len(s),
        lambda s: s.split(),
        lambda s: s.strip(),
        lambda s: "x" in s,
        lambda s: s[0],
        lambda s: {s: 1},
        lambda s: f"{s}",
        lambda s: repr(s),
        lambda s: str(s),
        lambda s: s + "x",
        lambda s: "x" + s,
        lambda s: s < "x",
        lambda s: list(s),
        lambda s: s.startswith("#"),
        lambda s: s.removeprefix("#"),
        lambda s: s * 2,
    ],
)
def test_a_stand_refuses_every_look_at_it(look: Any) -> None:
    with pytest.raises(Read) as raised:
        look(Stand(7))
    assert raised.value.leaf in (7, 8)


def test_a_stand_answers_only_what_its_not_being_empty_text_decides() -> None:
    stand = Stand(3)
    assert stand
    assert stand != ""
    assert not stand == ""  # noqa: SIM201
    assert stand != 1
    assert stand not in (None, 0)
    assert {"a": stand}["a"] is stand


# --- templates written in v3's language ----------------------------------------------------

V3_TARGETS = [V3, Target("v3", engine="avatar_v"), Target("v3", engine="avatar_iii"), V2]

V3_GOOD = st.sampled_from(
    [
        *["1"] * 16,
        *["Anna", "Zoë O'Brien", 'say "hi"\n', "שלום", "Ω 😀", "\u2028</script>", "007", "0.5"],
        *["", "NA", "#0e1b2c", "https://example.com/c.png", "pic.png", "avatar_v", "eleven_v3"],
        *["\ud800", "\ue0001\ue001", "a\\b"],
    ]
)


def whole_pair(text: str, columns: Any, target: Target) -> tuple[Template, Template]:
    """The template twice: by shape with plans, and validating every body whole (V2's and
    v3's) with no plans."""
    planned, whole = pair(text, columns, target)
    whole.validators[RequestBody] = validate_payload
    whole.validators[V3_BODY] = validate_v3_payload
    return planned, whole


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(v3_templates(), v3_templates(filters=False)),
    st.one_of(
        v3_rows,
        st.lists(st.fixed_dictionaries(dict.fromkeys(COLUMNS, V3_GOOD)), min_size=1, max_size=5),
    ),
    st.lists(st.integers(0, 9), min_size=6, max_size=20),
    st.sampled_from(V3_TARGETS),
    st.booleans(),
)
def test_a_v3_body_by_shape_and_plan_is_the_body_validating_whole_makes(
    skeleton: dict[str, Any],
    cells: list[dict[str, str]],
    order: list[int],
    target: Target,
    with_media: bool,
) -> None:
    both_ways(skeleton, cells, order, target, with_media, whole_pair)


def _avatar(**fields: Any) -> dict[str, Any]:
    return {"type": "avatar", "avatar_id": "look1", "script": "Hi {{ name }}", **fields}


def _studio(scene: dict[str, Any]) -> dict[str, Any]:
    return {"type": "studio", "title": "Hi {{ name }}", "scenes": [scene]}


_ELEVEN = {"engine_type": "elevenlabs", "model": "eleven_v3", "stability": "{{ x }}"}
_PICTURE = {"type": "url", "url": "https://example.com/p.png"}

# Each cross-field rule of the v3 models: a template, cells of valid rows, the cell that breaks
# the rule, and the problem (path, message, column) the whole validation reports.
RULES = {
    "eleven_v3 stability": (
        _avatar(voice_id="v1", voice_settings={"engine_settings": _ELEVEN}),
        ["0.5", "1", "0", "0.50", "1.0"],
        "0.3",
        ("voice_settings.engine_settings.stability", "must be 0, 0.5 or 1 with eleven_v3", "x"),
    ),
    "eleven model": (
        _avatar(
            voice_settings={"engine_settings": {**_ELEVEN, "model": "{{ x }}", "stability": 0.3}}
        ),
        ["eleven_turbo_v2_5", "eleven_flash_v2_5", "eleven_multilingual_v2"],
        "eleven_v3",
        ("voice_settings.engine_settings.stability", "must be 0, 0.5 or 1 with eleven_v3", None),
    ),
    "webm and background": (
        _avatar(output_format="{{ x }}", background={"type": "color", "value": "#0e1b2c"}),
        ["mp4"],
        "webm",
        ("background", 'cannot be given with output_format "webm"', None),
    ),
    "webm and image background": (
        {
            "type": "image",
            "image": _PICTURE,
            "audio_asset_id": "a-{{ name }}",
            "output_format": "{{ x }}",
            "background": {"type": "image", "asset_id": "b1"},
        },
        ["mp4"],
        "webm",
        ("background", 'cannot be given with output_format "webm"', None),
    ),
    "expressiveness and avatar_v": (
        _avatar(engine={"type": "{{ x }}"}, expressiveness="low"),
        ["avatar_iv"],
        "avatar_v",
        ("expressiveness", "cannot be used with engine avatar_v", None),
    ),
    "expressiveness and avatar_iii": (
        _avatar(engine={"type": "{{ x }}"}, expressiveness="medium"),
        ["avatar_iv"],
        "avatar_iii",
        ("expressiveness", "cannot be used with engine avatar_iii", None),
    ),
    "motion_prompt and avatar_iii": (
        _avatar(engine={"type": "{{ x }}"}, motion_prompt="nod {{ name }}"),
        ["avatar_iv", "avatar_v"],
        "avatar_iii",
        ("motion_prompt", "cannot be used with engine avatar_iii", "name"),
    ),
    "scene input expressiveness": (
        _studio(
            {
                "type": "avatar_video",
                "input": {
                    "type": "avatar",
                    "avatar_id": "look1",
                    "script": "Hi",
                    "engine": {"type": "{{ x }}"},
                    "expressiveness": "high",
                },
            }
        ),
        ["avatar_iv"],
        "avatar_v",
        ("scenes[0].input.expressiveness", "cannot be used with engine avatar_v", None),
    ),
    "scene input motion_prompt": (
        _studio(
            {
                "type": "avatar_video",
                "input": {
                    "type": "avatar",
                    "avatar_id": "look1",
                    "audio_url": "https://example.com/a.mp3",
                    "engine": {"type": "{{ x }}"},
                    "motion_prompt": "nod",
                },
            }
        ),
        ["avatar_v", "avatar_iv"],
        "avatar_iii",
        ("scenes[0].input.motion_prompt", "cannot be used with engine avatar_iii", None),
    ),
    "two audio sources": (
        _avatar(audio_url="{{ x }}"),
        [""],
        "https://example.com/a.mp3",
        ("audio_url", "cannot be given with script: give one audio source", "x"),
    ),
    "no audio source": (
        {"type": "avatar", "avatar_id": "look1", "script": "{{ x }}", "title": "Hi {{ name }}"},
        ["Hello", "Zoë"],
        "",
        ("script", "is required (or give audio_url or audio_asset_id)", "x"),
    ),
    "voice with script": (
        {"type": "image", "image": _PICTURE, "script": "Hi {{ name }}", "voice_id": "{{ x }}"},
        ["v1", "NA"],
        "",
        ("voice_id", "is required with script", "x"),
    ),
    "one background source": (
        _avatar(background={"type": "image", "url": "https://e.x/b.png", "asset_id": "{{ x }}"}),
        [""],
        "b1",
        ("background.url", "give exactly one of url, asset_id", None),
    ),
    "silent scene with audio": (
        _studio({"type": "image", "source": _PICTURE, "duration": 5, "audio_asset_id": "{{ x }}"}),
        [""],
        "a1",
        ("scenes[0].audio_asset_id", "cannot be given with duration (a silent scene)", "x"),
    ),
    "scene with neither": (
        _studio({"type": "image", "source": _PICTURE, "duration": "{{ x }}"}),
        ["5", "300", "0.5"],
        "",
        ("scenes[0].duration", "is required for a scene without script or audio", "x"),
    ),
    "clip voice-over without voice": (
        _studio({"type": "video", "source": _PICTURE, "script": "Hi", "voice_id": "{{ x }}"}),
        ["v1"],
        "",
        ("scenes[0].voice_id", "is required with script", "x"),
    ),
}


@pytest.mark.parametrize("target", [V3, Target("v3", engine="avatar_v")], ids=["v3", "engine"])
@pytest.mark.parametrize("rule", list(RULES))
def test_a_v3_row_breaking_a_rule_after_valid_rows_of_its_kind_is_caught(
    rule: str, target: Target
) -> None:
    skeleton, goods, bad, (path, message, column) = RULES[rule]
    planned, whole = whole_pair(json.dumps(skeleton), ["name", "x"], target)
    names = ["Ann", "Zoë", "שלום", "😀"]
    rows = [Row(n + 2, {"name": names[n % 4], "x": goods[n % len(goods)]}) for n in range(8)]
    for row in rows:
        assert line(planned, row, target, None) == line(whole, row, target, None)
    # The valid rows took the short ways: filled in by shape, then made by a plan.
    shape = planned.validators[V3_BODY].__self__
    assert shape.filled > 0
    assert planned.plans[target].made > 0
    broken = Row(10, {"name": "Ann", "x": bad})
    result = check_row(planned, broken, target)
    assert result.status == "invalid"
    assert [(p.path, p.message, p.column) for p in result.problems] == [(path, message, column)]
    assert line(planned, broken, target, None) == line(whole, broken, target, None)
