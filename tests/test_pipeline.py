"""The stages together: a row's problems name their column, a DataFrame renders without files."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from merge.payload.render import compile_template
from merge.payload.row import V2, check_row, render_frame
from merge.sheets.selection import RowSelection, select_rows
from merge.sheets.sheet import Row, rows_from_frame

TEMPLATE = json.dumps(
    {
        "video_inputs": [
            {
                "character": {"type": "avatar", "avatar_id": "{{ avatar }}"},
                "voice": {
                    "type": "text",
                    "voice_id": "{{ voice }}",
                    "input_text": "Hi {{ name }}",
                    "speed": "{{ speed }}",
                },
                "background": {"type": "image", "url": "{{ image }}"},
            }
        ]
    }
)
COLUMNS = ["avatar", "voice", "name", "speed", "image"]


def row(number: int = 2, **values: str) -> Row:
    cells = {"avatar": "a1", "voice": "v1", "name": "Ava", "speed": "1", "image": "https://x/y.png"}
    return Row(number, cells | values)


@pytest.fixture(scope="module")
def template():
    return compile_template(TEMPLATE, "t.json", COLUMNS)


def test_valid_row_gets_the_typed_body(template):
    result = check_row(template, row(), V2)
    assert result.status == "valid"
    assert result.payload["video_inputs"][0]["voice"]["speed"] == 1.0
    assert result.problems == []


def test_problem_names_column_and_placeholder(template):
    result = check_row(template, row(17, speed="2.0"))
    [problem] = result.problems
    assert result.messages() == [
        'row 17, column "speed": 2.0 is above the maximum 1.5 (video_inputs[0].voice.speed)'
    ]
    assert problem.placeholder == "{{ speed }}"


def test_blank_required_value_names_its_column(template):
    result = check_row(template, row(avatar=""))
    assert result.messages() == [
        'row 2, column "avatar": is required but was left blank'
        " (video_inputs[0].character.avatar_id)"
    ]


def test_either_or_source_left_blank_names_the_column(template):
    [problem] = check_row(template, row(image="")).problems
    assert problem.path == "video_inputs[0].background"
    assert problem.column == "image"


def test_row_problems_from_the_sheet_make_the_row_invalid(template):
    from merge.problems import Problem

    flagged = Row(
        4, row().values, (Problem("", "the formula in cell D4 has no saved value", "speed"),)
    )
    result = check_row(template, flagged)
    assert result.status == "invalid"
    assert result.messages() == ['row 4, column "speed": the formula in cell D4 has no saved value']


def test_all_problems_of_a_row_are_collected(template):
    result = check_row(template, row(speed="9", voice="", image=""))
    assert {p.column for p in result.problems} == {"speed", "voice", "image"}


def test_render_frame_renders_a_dataframe_without_files():
    frame = pd.DataFrame(
        {
            "avatar": ["a1", "a2", None],
            "voice": ["v1", "v2", "v3"],
            "name": ["Ava", "Liam", "Noah"],
            "speed": [1.0, 2.0, 1.25],
            "image": ["https://x/1.png", "https://x/2.png", "https://x/3.png"],
            "when": [dt.date(2026, 11, 24)] * 3,
        }
    )
    results = render_frame(frame, TEMPLATE)
    assert [r.row for r in results] == [2, 3, 4]
    assert [r.status for r in results] == ["valid", "invalid", "invalid"]
    assert results[1].messages()[0].startswith('row 3, column "speed": 2 is above the maximum 1.5')


def test_whole_text_template_problems_are_traced_to_a_column_by_value():
    text = (
        '{"video_inputs": [{"voice": {"type": "text", "voice_id": "v", "input_text": "x",'
        ' "emotion": {{ mood | tojson }}}}]}'
    )
    template = compile_template(text, "t.json.j2", ["mood"])
    [problem] = check_row(template, Row(2, {"mood": "Grumpy"})).problems
    assert problem.column == "mood"


@pytest.mark.parametrize(
    ("text", "inside", "outside"),
    [
        ("2-4", [2, 3, 4], [1, 5]),
        ("5", [5], [4, 6]),
        ("2-3, 10-", [2, 3, 10, 1000], [4, 9]),
        (None, [1, 99999], []),
    ],
)
def test_row_selection(text, inside, outside):
    selection = RowSelection.parse(text)
    assert all(n in selection for n in inside)
    assert not any(n in selection for n in outside)


@pytest.mark.parametrize("bad", ["a", "3-1", "1-2-3", "-5"])
def test_row_selection_refuses_nonsense(bad):
    with pytest.raises(ValueError, match=r"row number|ends before"):
        RowSelection.parse(bad)


def test_select_rows_stops_reading_after_the_last_wanted_row():
    read: list[int] = []

    def rows():
        for n in range(2, 1_000_000):
            read.append(n)
            yield Row(n, {})

    picked = [r.number for r in select_rows(rows(), RowSelection.parse("3-5"), None)]
    assert picked == [3, 4, 5]
    assert len(read) < 10


def test_limit_takes_the_first_rows_of_the_selection():
    rows = (Row(n, {}) for n in range(2, 100))
    picked = [r.number for r in select_rows(rows, RowSelection.parse("10-"), 3)]
    assert picked == [10, 11, 12]


def test_valid_body_keeps_the_templates_key_order():
    text = json.dumps(
        {
            "title": "{{ name }}",
            "video_inputs": [
                {"voice": {"input_text": "{{ name }}", "voice_id": "v", "type": "text"}}
            ],
            "caption": False,
        }
    )
    result = check_row(compile_template(text, "t.json", ["name"]), Row(2, {"name": "Ava"}))
    assert list(result.payload) == ["title", "video_inputs", "caption"]
    assert list(result.payload["video_inputs"][0]["voice"]) == ["input_text", "voice_id", "type"]


def test_dataframe_value_under_a_blank_trailing_header_is_a_problem_not_a_key():
    frame = pd.DataFrame([["Ava", "stray"]], columns=["name", ""])
    template = compile_template('{"title": "{{ name }}"}', "t.json", ["name"])
    rows = list(rows_from_frame(frame))
    assert rows[0].values == {"name": "Ava"}
    assert rows[0].problems[0].message == "a value in column 2 has no header"
    assert check_row(template, rows[0]).status == "invalid"
