"""Bodies made as bytes by a plan are the bodies the whole way makes, on random templates."""

from __future__ import annotations

import json
import tempfile
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
from merge.payload.row import V2, V3, Target, check_row
from merge.sheets.sheet import Row
from tests.test_shape import CELLS, COLUMNS, LEADS_COLUMNS, LEADS_TEMPLATE, templates

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
    try:
        planned, whole = pair(json.dumps(skeleton), COLUMNS, target)
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
