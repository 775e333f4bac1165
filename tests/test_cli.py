"""The command line as a user meets it: exit codes, exact messages, no tracebacks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from merge.cli.commands import ExitCode, build_parser
from tests.conftest import ROOT

LEADS_XLSX = ROOT / "sample_data" / "leads.xlsx"
LEADS_CSV = ROOT / "sample_data" / "leads.csv"
OUTREACH = ROOT / "templates" / "outreach.json"
TEMPLATES = sorted((ROOT / "templates").iterdir())

SAMPLE_PROBLEMS = [
    'row 8, column "speed": 2 is above the maximum 1.5 (video_inputs[0].voice.speed)',
    'row 13, column "voice_id": is required but was left blank (video_inputs[0].voice.voice_id)',
    'row 18, column "background": "blue" is not a hex colour like #1a2b3c'
    " (video_inputs[0].background.value)",
    'row 23, column "speed": "fast" is not a number (video_inputs[0].voice.speed)',
]


def test_render_sample_workbook_writes_the_review_folder(cli, tmp_path: Path):
    run = cli("render", LEADS_XLSX, OUTREACH, "-o", tmp_path / "review")
    assert run.code == ExitCode.INVALID_ROWS
    lines = run.out.splitlines()
    assert lines[0] == f'Rendered 25 rows of {LEADS_XLSX} (sheet "Leads") with {OUTREACH}'
    assert lines[1] == "  21 valid, 4 invalid"
    assert [line.strip() for line in lines[3:7]] == SAMPLE_PROBLEMS
    assert f"Review folder: {tmp_path / 'review'}" in lines

    records = [
        json.loads(x) for x in (tmp_path / "review" / "payloads.jsonl").read_text().splitlines()
    ]
    assert [r["row"] for r in records] == list(range(2, 27))
    assert {r["row"] for r in records if r["status"] == "invalid"} == {8, 13, 18, 23}
    assert sorted(p.name for p in (tmp_path / "review").iterdir()) == [
        "leads.xlsx",
        "payloads.jsonl",
        "review.html",
    ]
    assert "payloads/" not in run.out


def test_render_split_writes_one_file_per_valid_body_and_a_later_run_clears_them(
    cli, tmp_path: Path
):
    run = cli("render", LEADS_XLSX, OUTREACH, "-o", tmp_path / "review", "--split")
    assert "  payloads/        21 bodies, one file per valid row" in run.out
    records = [
        json.loads(x) for x in (tmp_path / "review" / "payloads.jsonl").read_text().splitlines()
    ]
    files = sorted(p.name for p in (tmp_path / "review" / "payloads").iterdir())
    assert len(files) == 21
    assert files[0] == "row-0002.json"
    assert (
        json.loads((tmp_path / "review" / "payloads" / "row-0002.json").read_text())
        == (records[0]["payload"])
    )
    cli("render", LEADS_XLSX, OUTREACH, "-o", tmp_path / "review")
    assert not (tmp_path / "review" / "payloads").exists()


def test_render_marks_the_workbook_and_keeps_the_rest(cli, tmp_path: Path):
    cli("render", LEADS_XLSX, OUTREACH, "-o", tmp_path)
    book = openpyxl.load_workbook(tmp_path / "leads.xlsx")
    assert book.sheetnames == ["Leads", "About"]
    sheet = book["Leads"]
    header = [c.value for c in sheet[1]]
    assert header[-2:] == ["merge_status", "merge_error"]
    assert sheet.freeze_panes == "A2"
    assert sheet.cell(1, len(header)).font.b
    assert sheet.cell(8, len(header) - 1).value == "invalid"
    assert sheet.cell(8, len(header)).value == SAMPLE_PROBLEMS[0].split(", ", 1)[1]
    assert sheet.cell(2, len(header) - 1).value == "valid"
    assert sheet.cell(2, len(header)).value is None


def test_render_output_can_be_the_next_input_without_new_columns(cli, tmp_path: Path):
    cli("render", LEADS_CSV, OUTREACH, "-o", tmp_path / "one")
    cli("render", tmp_path / "one" / "leads.csv", OUTREACH, "-o", tmp_path / "two")
    header = (tmp_path / "two" / "leads.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.count("merge_status") == 1
    assert header.endswith("notes,merge_status,merge_error")


def test_render_csv_keeps_cells_exact(cli, tmp_path: Path):
    run = cli("render", LEADS_CSV, OUTREACH, "-o", tmp_path, "--rows", "2-3")
    assert run.code == ExitCode.OK
    record = json.loads((tmp_path / "payloads.jsonl").read_text().splitlines()[1])
    assert 'Acme "Rockets" Ltd in Dublin' in record["payload"]["script"]


@pytest.mark.parametrize(("rows", "limit", "expected"), [("5-7", None, 3), ("2-", "4", 4)])
def test_rows_and_limit_pick_rows(cli, tmp_path: Path, rows: str, limit: str | None, expected):
    extra = ["--limit", limit] if limit else []
    run = cli("render", LEADS_CSV, OUTREACH, "-o", tmp_path, "--rows", rows, *extra)
    assert run.out.splitlines()[1].startswith(f"  {expected} valid")


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_every_bundled_template_renders_the_sample(cli, tmp_path: Path, template: Path):
    run = cli("render", LEADS_XLSX, template, "-o", tmp_path)
    assert run.code in (ExitCode.OK, ExitCode.INVALID_ROWS), run.err
    assert "Traceback" not in run.err
    assert json.loads((tmp_path / "payloads.jsonl").read_text().splitlines()[0])["row"] == 2


def test_bad_rows_option_is_a_usage_error(cli, tmp_path: Path):
    run = cli("render", LEADS_CSV, OUTREACH, "-o", tmp_path, "--rows", "9-2")
    assert run.code == ExitCode.USAGE
    assert run.err.splitlines()[-1] == "avatar-merge: error: --rows: '9-2' ends before it starts"


def error_of(run) -> str:
    assert run.code == ExitCode.ERROR, run.err
    assert "Traceback" not in run.err
    return str(run.err)


def test_missing_data_file(cli, tmp_path: Path):
    run = cli("render", tmp_path / "nope.xlsx", OUTREACH, "-o", tmp_path / "out")
    assert error_of(run) == (
        f"avatar-merge: error: {tmp_path / 'nope.xlsx'}: no such file\n"
        "Hint: check the path and the current folder\n"
    )


def test_corrupt_workbook(cli, tmp_path: Path):
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    assert "is not a readable workbook" in error_of(cli("render", bad, OUTREACH, "-o", tmp_path))


def test_password_protected_workbook(cli, tmp_path: Path):
    locked = tmp_path / "locked.xlsx"
    locked.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 1024)
    message = error_of(cli("render", locked, OUTREACH, "-o", tmp_path / "out"))
    assert "password-protected" in message
    assert "Hint: open it in Excel, remove the password" in message


def test_unknown_sheet_lists_the_sheets(cli, tmp_path: Path):
    run = cli("render", LEADS_XLSX, OUTREACH, "-o", tmp_path, "--sheet", "Laeds")
    assert error_of(run) == (
        f'avatar-merge: error: {LEADS_XLSX}: there is no sheet "Laeds"\n'
        'Hint: choose one of "Leads", "About", or a number from 1 to 2\n'
    )


def test_empty_sheet(cli, tmp_path: Path):
    empty = tmp_path / "empty.csv"
    empty.write_text("\n\n")
    assert "the file is empty" in error_of(cli("render", empty, OUTREACH, "-o", tmp_path / "o"))


def test_template_not_json(cli, tmp_path: Path):
    template = tmp_path / "t.json"
    template.write_text('{"video_inputs": [\n  {"voice": }\n]}')
    message = error_of(cli("render", LEADS_CSV, template, "-o", tmp_path / "o"))
    assert message.startswith(
        f"avatar-merge: error: {template}: line 2, column 13: a value is missing here"
    )


def test_template_syntax_error(cli, tmp_path: Path):
    template = tmp_path / "t.json"
    template.write_text('{"video_inputs": [\n {"voice": {"input_text": "Hi {{ first_name"}}]}')
    message = error_of(cli("render", LEADS_CSV, template, "-o", tmp_path / "o"))
    assert message.startswith(
        f"avatar-merge: error: {template}: line 2: placeholder mistake in"
        " video_inputs[0].voice.input_text: a placeholder or block is not closed"
    )
    assert "Jinja" not in message


def test_template_unknown_column(cli, tmp_path: Path):
    template = tmp_path / "t.json"
    template.write_text('{"title": "{{ frist_name }}", "video_inputs": []}')
    message = error_of(cli("render", LEADS_CSV, template, "-o", tmp_path / "o"))
    assert (
        '  title: {{ frist_name }} names no column "frist_name" (did you mean "first_name"?)'
        in (message)
    )
    assert not (tmp_path / "o").exists()


def test_missing_template(cli, tmp_path: Path):
    run = cli("render", LEADS_CSV, tmp_path / "none.json", "-o", tmp_path / "o")
    assert "none.json: no such template" in error_of(run)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_output_folder(cli, tmp_path: Path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    message = error_of(cli("render", LEADS_CSV, OUTREACH, "-o", locked / "review"))
    assert "cannot write the review folder there" in message


def test_output_folder_that_is_a_file(cli, tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    message = error_of(cli("render", LEADS_CSV, OUTREACH, "-o", blocker))
    assert "cannot write the review folder there" in message


def test_output_folder_that_holds_the_input_is_refused(cli, tmp_path: Path):
    data = tmp_path / "leads.csv"
    shutil.copyfile(LEADS_CSV, data)
    message = error_of(cli("render", data, OUTREACH, "-o", tmp_path))
    assert "the marked copy would replace leads.csv" in message
    assert data.read_bytes() == LEADS_CSV.read_bytes()


def test_file_still_being_written(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    data = tmp_path / "growing.csv"
    data.write_text("first_name\nAva\n")

    def another_program_appends(_: float) -> None:
        with data.open("a") as handle:
            handle.write("Liam\n")

    monkeypatch.setattr("merge.sheets.sheet.time.sleep", another_program_appends)
    message = error_of(cli("render", data, OUTREACH, "-o", tmp_path / "o"))
    assert "is still being written by another program" in message


def test_validate_reports_and_exits_non_zero(cli, tmp_path: Path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"video_inputs": [{"voice": {"type": "silence"}}]}))
    lines = tmp_path / "many.jsonl"
    lines.write_text(good.read_text() + "\n\n" + '{"video_inputs": [], "captions": true}\n')
    run = cli("validate", good, lines)
    assert run.code == ExitCode.INVALID_ROWS
    assert run.out.splitlines() == [
        f"valid    {good}",
        f"valid    {lines}:1",
        f"invalid  {lines}:3",
        "  video_inputs: must have between 1 and 50 scenes (has 0)",
        '  captions: unknown key "captions" (did you mean "caption"?)',
        "3 bodies checked: 2 valid, 1 invalid",
    ]


def test_validate_json_output(cli, tmp_path: Path):
    lines = tmp_path / "b.jsonl"
    lines.write_text('{"video_inputs": [{"voice": {"type": "silence"}}]}\nnot json\n')
    run = cli("validate", "--json", lines)
    assert json.loads(run.out) == [
        {"file": str(lines), "line": 1, "valid": True, "problems": []},
        {
            "file": str(lines),
            "line": 2,
            "valid": False,
            "problems": [
                {"path": "", "message": "not valid JSON at line 1, column 1: Expecting value"}
            ],
        },
    ]


def test_validate_all_valid_exits_zero(cli):
    examples = sorted((ROOT / "tests" / "golden" / "heygen-examples").glob("0[1-4]*.json"))
    assert cli("validate", *examples).code == ExitCode.OK


def test_validate_missing_file(cli, tmp_path: Path):
    assert "no such file" in error_of(cli("validate", tmp_path / "x.json"))


def test_schema_is_json_schema_of_the_body(cli):
    run = cli("schema")
    schema = json.loads(run.out)
    assert run.code == ExitCode.OK
    assert "video_inputs" in schema["properties"]
    assert "video_inputs" in schema["required"]


def test_init_writes_starters_and_never_overwrites(cli, tmp_path: Path):
    first = cli("init", tmp_path)
    assert first.out.splitlines()[:3] == [
        f"wrote    {tmp_path / 'template.json'}",
        f"wrote    {tmp_path / 'template_v3.json'}",
        f"wrote    {tmp_path / 'leads.xlsx'}",
    ]
    starter_v3 = tmp_path / "template_v3.json"
    v3 = cli("render", tmp_path / "leads.xlsx", starter_v3, "-o", tmp_path / "v3")
    # three of the sample's four mistakes: a blank voice_id is the look's own voice on v3
    assert "  22 valid, 3 invalid" in v3.out
    (tmp_path / "template.json").write_text("mine")
    second = cli("init", tmp_path)
    assert second.out.splitlines()[0] == f"kept     {tmp_path / 'template.json'} (already there)"
    assert (tmp_path / "template.json").read_text() == "mine"
    again = cli("render", tmp_path / "leads.xlsx", OUTREACH, "-o", tmp_path / "review")
    assert again.code == ExitCode.INVALID_ROWS


def test_every_command_has_help_and_is_in_the_readme(cli):
    readme = (ROOT / "README.md").read_text()
    subcommands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for name in list(subcommands or []):
        run = cli(name, "--help")
        assert run.code == 0
        assert "usage: avatar-merge" in run.out
        assert f"avatar-merge {name}" in readme, name


def test_readme_documents_every_exit_code():
    readme = (ROOT / "README.md").read_text()
    for code in ExitCode:
        assert f"| {code.value} |" in readme, code


def test_python_dash_m_runs_the_cli_as_a_real_process(tmp_path: Path):
    done = subprocess.run(
        [sys.executable, "-m", "merge", "render", LEADS_CSV, OUTREACH, "-o", tmp_path],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == ExitCode.INVALID_ROWS
    assert "21 valid, 4 invalid" in done.stdout
    assert done.stderr == ""


@pytest.mark.parametrize(("given", "seen"), [(None, "__all__"), ("logfire", "logfire")])
def test_the_command_skips_pydantic_plugins_unless_the_user_says_otherwise(
    given: str | None, seen: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    if given is not None:
        env["PYDANTIC_DISABLE_PLUGINS"] = given
    probe = "import os, merge.cli; print(os.environ['PYDANTIC_DISABLE_PLUGINS'])"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.strip() == seen


def test_warnings_go_to_stderr_before_rows_are_rendered(cli, tmp_path: Path):
    data = tmp_path / "cp.csv"
    data.write_bytes(b'first_name\n"Caf\xe9"\n')
    template = tmp_path / "w.json.j2"
    template.write_text(
        '{"title": "{{ first_name }}", "video_inputs": [{"voice": {"type": "silence"}}]}'
    )
    run = cli("render", data, template, "-o", tmp_path / "out", "--api", "v2")
    assert run.code == ExitCode.OK
    assert run.err.splitlines() == [
        "warning: cp.csv is not UTF-8 (line 2 is the first that is not); it was read as cp1252"
        " (Windows Western)."
        " Use --encoding if letters look wrong",
        f"warning: {template}: line 1: {{{{ first_name }}}} is inserted without | tojson;"
        " a quote or line break in a cell would break the JSON",
    ]
    assert run.out.splitlines()[0] == f"Rendered 1 row of {data} with {template}"
    payload = json.loads((tmp_path / "out" / "payloads.jsonl").read_text())["payload"]
    assert payload["title"] == "Café"


def test_readme_library_example_runs(monkeypatch: pytest.MonkeyPatch, capsys):
    for stale in (ROOT / "review" / "lib").glob("leads-sent.csv*"):
        stale.unlink()
    readme = (ROOT / "README.md").read_text()
    code = readme.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(ROOT)
    exec(compile(code, "README.md", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    assert printed[6] == (
        '8 invalid [\'row 8, column "speed": 2 is above the maximum 1.5'
        " (video_inputs[0].voice.speed)']"
    )
    assert printed[-3] == "21 4"
    assert printed[-2] == "Counter({'submitted': 21, 'invalid': 4})"
    assert printed[-1] == "Counter({'completed': 21})"
