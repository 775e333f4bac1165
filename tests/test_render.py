"""Rendering: cell text arrives unchanged, structure stays valid JSON, mistakes are caught early."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from merge.errors import TemplateError
from merge.payload.render import compile_template

COLUMNS = ["first_name", "Company Name", "speed", "pitch", "voice", "note"]


def body(voice: dict[str, Any], **top: Any) -> str:
    return json.dumps({"video_inputs": [{"voice": {"type": "text", **voice}}], **top})


def voice_of(payload: dict[str, Any]) -> dict[str, Any]:
    voice: dict[str, Any] = payload["video_inputs"][0]["voice"]
    return voice


def cells(**values: str) -> dict[str, str]:
    return {name: values.get(name, "") for name in COLUMNS}


def test_text_placeholders_fill_in_cell_text():
    template = compile_template(
        body({"input_text": 'Hi {{ first_name }} at {{ row["Company Name"] }}!'}), "t.json", COLUMNS
    )
    rendered = template.render(cells(first_name="Ava", **{"Company Name": "Acme"}), 2)
    assert voice_of(rendered.payload)["input_text"] == "Hi Ava at Acme!"
    assert rendered.problems == []


@pytest.mark.parametrize(
    "text",
    [
        'She said "hi"',
        "back\\slash",
        "line one\nline two\r\n",
        "{{ first_name }} {% if x %}",
        "</script><script>alert(1)</script>",
        "  spaces kept  ",
        "emoji 🎬 and עברית and العربية",
        "007",
        "=1+1",
    ],
)
def test_cell_text_is_data_never_template(text: str):
    template = compile_template(body({"input_text": "<{{ note }}>"}), "t.json", COLUMNS)
    payload = template.render(cells(note=text), 2).payload
    assert voice_of(payload)["input_text"] == f"<{text}>"
    assert json.loads(json.dumps(payload)) == payload


def test_single_expression_keeps_the_filters_type():
    template = compile_template(
        body({"pitch": "{{ pitch | int }}", "speed": "{{ speed | float }}"}), "t.json", COLUMNS
    )
    voice = voice_of(template.render(cells(pitch="-5", speed="1.25"), 2).payload)
    assert voice["pitch"] == -5
    assert voice["speed"] == 1.25


def test_single_expression_of_a_bare_column_stays_text_for_the_validator_to_type():
    template = compile_template(body({"speed": "{{ speed }}"}), "t.json", COLUMNS)
    assert voice_of(template.render(cells(speed="1.5"), 2).payload)["speed"] == "1.5"


def test_blank_single_expression_removes_the_key_and_says_so():
    template = compile_template(
        body({"speed": "{{ speed }}", "voice_id": "{{ voice }}"}), "t", COLUMNS
    )
    rendered = template.render(cells(), 2)
    assert "speed" not in voice_of(rendered.payload)
    assert rendered.blank == {"video_inputs[0].voice.speed", "video_inputs[0].voice.voice_id"}


def test_blank_inside_text_keeps_the_text():
    template = compile_template(body({"input_text": "Hi {{ first_name }}"}), "t.json", COLUMNS)
    assert voice_of(template.render(cells(), 2).payload)["input_text"] == "Hi "


def test_strict_number_filters_refuse_text_instead_of_a_silent_zero():
    template = compile_template(body({"pitch": "{{ pitch | int }}"}), "t.json", COLUMNS)
    rendered = template.render(cells(pitch="1O"), 5)
    assert "pitch" not in voice_of(rendered.payload)
    [problem] = rendered.problems
    assert problem.path == "video_inputs[0].voice.pitch"
    assert problem.column == "pitch"
    assert problem.message == '{{ pitch | int }} could not be rendered: "1O" is not a whole number'


def test_row_and_row_number_are_available():
    template = compile_template(
        body({"input_text": "row {{ row_number }}: {{ row['first_name'] | upper }}"}),
        "t.json",
        COLUMNS,
    )
    assert voice_of(template.render(cells(first_name="ava"), 7).payload)["input_text"] == (
        "row 7: AVA"
    )


def test_unknown_column_fails_before_any_row_with_a_suggestion():
    with pytest.raises(TemplateError) as caught:
        compile_template(body({"input_text": "Hi {{ frist_name }}"}), "t.json", COLUMNS)
    message = str(caught.value)
    assert 'names no column "frist_name" (did you mean "first_name"?)' in message
    assert "video_inputs[0].voice.input_text" in message
    assert "Hint: the sheet's columns are: first_name, Company Name" in message


def test_a_column_with_spaces_suggests_row_indexing():
    with pytest.raises(TemplateError, match=r'did you mean row\["Company Name"\]'):
        compile_template(body({"input_text": "{{ company_name }}"}), "t.json", COLUMNS)


def test_unknown_row_key_is_refused():
    with pytest.raises(TemplateError, match='names no column "Compnay"'):
        compile_template(body({"input_text": "{{ row['Compnay'] }}"}), "t.json", COLUMNS)


def test_loop_variables_are_not_columns():
    template = compile_template(
        body({"input_text": "{% for w in note.split() %}[{{ w }}]{% endfor %}"}), "t.json", COLUMNS
    )
    assert voice_of(template.render(cells(note="a b"), 2).payload)["input_text"] == "[a][b]"


def test_syntax_error_names_the_line_and_the_field():
    text = '{\n  "video_inputs": [\n    {"voice": {"input_text": "Hi {{ first_name }"}}\n  ]\n}'
    with pytest.raises(TemplateError) as caught:
        compile_template(text, "t.json", COLUMNS)
    assert str(caught.value).startswith(
        "t.json: line 3: template syntax error in video_inputs[0].voice.input_text:"
    )


def test_template_that_is_not_json_says_where():
    with pytest.raises(
        TemplateError, match=r"t.json: line 1, column 19: not valid JSON \(Expecting value\)"
    ):
        compile_template('{"video_inputs": [}', "t.json", COLUMNS)


def test_template_must_be_an_object():
    with pytest.raises(TemplateError, match="must be a JSON object"):
        compile_template("[1, 2]", "t.json", COLUMNS)


def test_sandbox_blocks_unsafe_attribute_access():
    template = compile_template(
        body({"input_text": "{{ first_name.__class__.__mro__ }}"}), "t.json", COLUMNS
    )
    rendered = template.render(cells(first_name="x"), 2)
    assert rendered.problems
    assert "could not be rendered" in rendered.problems[0].message


def test_whole_text_template_builds_scenes_in_a_loop():
    text = (
        '{"video_inputs": [{% for w in note.split(",") %}'
        '{"voice": {"type": "text", "voice_id": "v", "input_text": {{ w | tojson }}}}'
        "{% if not loop.last %},{% endif %}{% endfor %}]}"
    )
    template = compile_template(text, "m.json.j2", COLUMNS)
    assert template.warnings == ()
    payload = template.render(cells(note='a "quoted",b\nc'), 2).payload
    assert [s["voice"]["input_text"] for s in payload["video_inputs"]] == ['a "quoted"', "b\nc"]


def test_whole_text_template_warns_about_missing_tojson():
    text = '{"title": "{{ first_name }}",\n "x": {{ note | tojson }}}'
    template = compile_template(text, "m.json.j2", COLUMNS)
    assert template.warnings == (
        "m.json.j2: line 1: {{ first_name }} is inserted without | tojson;"
        " a quote or line break in a cell would break the JSON",
    )


def test_whole_text_output_that_is_not_json_is_a_row_problem():
    template = compile_template('{"title": "{{ first_name }}"}', "m.json.j2", COLUMNS)
    rendered = template.render(cells(first_name='say "hi"'), 4)
    assert rendered.payload is None
    [problem] = rendered.problems
    assert problem.message.startswith("the rendered template is not valid JSON at line 1, column")


def test_whole_text_unknown_column_is_refused():
    with pytest.raises(TemplateError, match=r'"frist_name" \(did you mean "first_name"\?\)'):
        compile_template('{"t": {{ frist_name | tojson }}}', "m.json.j2", COLUMNS)


def test_whole_text_syntax_error_shows_the_line():
    with pytest.raises(TemplateError, match=r"m.json.j2: line 2: template syntax error"):
        compile_template('{\n"t": {{ first_name | tojson }\n}', "m.json.j2", COLUMNS)


def test_untemplated_parts_are_kept_as_written():
    text = body({"input_text": "{{ note }}", "voice_id": "abc", "speed": 1}, title="Static")
    payload = compile_template(text, "t.json", COLUMNS).render(cells(note="n"), 2).payload
    assert payload["title"] == "Static"
    assert voice_of(payload) == {"type": "text", "input_text": "n", "voice_id": "abc", "speed": 1}


text_cells = st.text(st.characters(exclude_categories=["Cs"]), max_size=60)


@settings(max_examples=200, deadline=None)
@given(first=text_cells, note=text_cells)
def test_any_cell_text_round_trips_exactly_into_valid_json(first: str, note: str):
    template = compile_template(
        body({"input_text": "Hi {{ first_name }}: {{ note }}!"}, title="{{ note }}"),
        "t.json",
        COLUMNS,
    )
    payload = template.render(cells(first_name=first, note=note), 2).payload
    again = json.loads(json.dumps(payload, ensure_ascii=False))
    assert voice_of(again)["input_text"] == f"Hi {first}: {note}!"
    if note:
        assert again["title"] == note


@settings(max_examples=100, deadline=None)
@given(first=text_cells, note=text_cells)
def test_fast_path_matches_jinja(first: str, note: str):
    fast = compile_template(body({"input_text": "{{ first_name }}-{{ note }}"}), "t", COLUMNS)
    slow = compile_template(
        body({"input_text": "{{ first_name | string }}-{{ note | string }}"}), "t", COLUMNS
    )
    values = cells(first_name=first, note=note)
    assert fast.render(values, 2).payload == slow.render(values, 2).payload


def test_an_unknown_column_name_with_a_pipe_is_said_whole():
    template = body({"type": "text", "input_text": 'Price: {{ row["Price|EUR"] }}'})
    with pytest.raises(TemplateError) as caught:
        compile_template(template, "t.json", ["Price EUR", "first_name"])
    assert 'names no column "Price|EUR"' in caught.value.message
