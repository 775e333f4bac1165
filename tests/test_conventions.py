"""Terminal conventions: help, --json, --quiet, --verbose, colour, completion, campaign files."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from merge.cli.commands import ExitCode, build_parser
from merge.cli.console import paint, say_error
from merge.follow.names import file_name
from merge.simulator import Simulator, SimulatorSettings
from tests.conftest import ROOT
from tests.submitting import OUTREACH, leads, write_csv

LEADS_XLSX = ROOT / "sample_data" / "leads.xlsx"
KEY = "sk-conventions-secret-123"


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_a_bare_command_prints_help_with_examples(cli):
    run = cli()
    assert run.code == ExitCode.OK
    assert run.out.startswith("usage: avatar-merge [-h] [--version] COMMAND ...\n")
    assert "\nexamples:\n  avatar-merge init " in run.out
    assert run.err == ""


def test_every_help_ends_with_an_example_of_that_command(cli):
    subcommands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for name in subcommands or []:
        run = cli(name, "--help")
        assert run.code == ExitCode.OK
        examples = run.out.split("\nexamples:\n", 1)[1]
        assert examples.startswith(f"  avatar-merge {name}"), name


def test_render_json_is_one_summary_on_stdout_and_the_text_on_stderr(cli, tmp_path: Path):
    run = cli("render", LEADS_XLSX, OUTREACH, "-o", tmp_path / "r", "--json")
    assert run.code == ExitCode.INVALID_ROWS
    summary = json.loads(run.out)
    assert summary == {
        "command": "render",
        "rows": 25,
        "valid": 21,
        "invalid": 4,
        "lossy": 0,
        "first_problems": summary["first_problems"],
        "folder": str(tmp_path / "r"),
        "sheet": str(tmp_path / "r" / "leads.xlsx"),
        "review_page": str(tmp_path / "r" / "review.html"),
        "exit_code": 3,
    }
    assert len(summary["first_problems"]) == 4
    assert run.err.startswith(f'Rendered 25 rows of {LEADS_XLSX} (sheet "Leads")')


def test_json_says_the_error_too(cli, tmp_path: Path):
    run = cli("render", tmp_path / "none.csv", OUTREACH, "-o", tmp_path / "r", "--json")
    assert run.code == ExitCode.ERROR
    assert json.loads(run.out) == {
        "command": "render",
        "error": f"{tmp_path / 'none.csv'}: no such file",
        "hint": "check the path and the current folder",
        "exit_code": 1,
    }


def test_quiet_prints_nothing_but_errors(cli, tmp_path: Path):
    run = cli("render", LEADS_XLSX, OUTREACH, "-o", tmp_path / "r", "--quiet")
    assert (run.code, run.out, run.err) == (ExitCode.INVALID_ROWS, "", "")
    run = cli("render", LEADS_XLSX, tmp_path / "none.json", "-o", tmp_path / "r", "-q")
    assert run.code == ExitCode.ERROR
    assert run.out == ""
    assert run.err.startswith("avatar-merge: error: ")


def test_render_print_shows_one_row_at_a_glance(cli, tmp_path: Path):
    run = cli("render", LEADS_XLSX, OUTREACH, "-o", tmp_path / "r", "--rows", "8", "--print")
    lines = run.out.splitlines()
    assert lines[0] == "── row 8 (invalid) " + "─" * 41
    assert lines[1] == "Script:"
    assert lines[2].startswith("  Hi Mia! I saw that Trattoria Rossi 🍝 in Milan")
    assert lines[3] == "Problem: video_inputs[0].voice.speed: 2 is above the maximum 1.5"
    assert lines[4] == "Body:"
    body = json.loads("\n".join(lines[5 : lines.index("}") + 1]))
    assert body["video_inputs"][0]["voice"]["speed"] == "2"


def test_colour_only_on_a_terminal_and_never_with_no_color(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    terminal = Terminal()
    say_error("the sheet is empty\nHint: add rows", terminal)
    assert terminal.getvalue() == (
        "avatar-merge: \033[31;1merror:\033[0m the sheet is empty\n\033[36mHint:\033[0m add rows\n"
    )
    piped = io.StringIO()
    say_error("the sheet is empty\nHint: add rows", piped)
    assert piped.getvalue() == "avatar-merge: error: the sheet is empty\nHint: add rows\n"
    monkeypatch.setenv("NO_COLOR", "1")
    assert paint("warning:", "warning", Terminal()) == "warning:"


def test_a_piped_process_gets_no_colour(tmp_path: Path):
    done = subprocess.run(
        [sys.executable, "-m", "merge", "render", tmp_path / "x.csv", OUTREACH, "-o", tmp_path],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == ExitCode.ERROR
    assert "\033[" not in done.stderr
    assert done.stderr.startswith("avatar-merge: error: ")


def test_verbose_shows_each_request_never_the_key(cli, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("HEYGEN_API_KEY", KEY)
    data = write_csv(tmp_path / "leads.csv", leads(2))
    with Simulator(SimulatorSettings(render_seconds=0.1, pending_seconds=0.0)) as api:
        run = cli(
            "submit", data, OUTREACH, "-o", tmp_path / "out.csv", "--base-url", api.url, "--yes",
            "--verbose", "--wait", "--poll", "0.1",
        )  # fmt: skip
    assert run.code == ExitCode.OK, run.err
    posts = [line for line in run.err.splitlines() if line.startswith("POST ")]
    assert len(posts) == 2
    assert all(
        line.startswith("POST /v3/videos → 200 in ") and line.endswith(" (request id -)")
        for line in posts
    )
    assert any(line.startswith("GET /v3/videos/") for line in run.err.split("\n"))
    assert KEY not in run.err + run.out


def test_submit_and_status_json(cli, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("HEYGEN_API_KEY", KEY)
    data = write_csv(tmp_path / "leads.csv", leads(2))
    out = tmp_path / "out.csv"
    with Simulator(SimulatorSettings(render_seconds=0.1, pending_seconds=0.0)) as api:
        sent = cli("submit", data, OUTREACH, "-o", out, "--base-url", api.url, "--yes", "--json")
        followed = cli("status", out, "--base-url", api.url, "--wait", "--poll", "0.1", "--json")
    summary = json.loads(sent.out)
    assert summary["plan"] == {
        "rows": 2,
        "to_send": 2,
        "to_check": 0,
        "invalid": 0,
        "skipped": {},
        "first_problems": [],
    }
    assert (summary["sent"], summary["statuses"], summary["exit_code"]) == (
        2,
        {"submitted": 2},
        0,
    )
    assert summary["failed_rows"] == []
    status = json.loads(followed.out)
    assert (status["command"], status["videos"], status["statuses"]) == (
        "status",
        2,
        {"completed": 2},
    )
    assert status["exit_code"] == 0


def test_failed_rows_are_listed_with_the_command_that_retries_them(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("HEYGEN_API_KEY", KEY)
    data = write_csv(tmp_path / "leads.csv", leads(2))
    out = tmp_path / "out.csv"
    with Simulator(SimulatorSettings(fail_5xx=1.0)) as broken:
        args = ("submit", data, OUTREACH, "-o", out, "--base-url", broken.url, "--yes")
        run = cli(*args)
    assert run.code == ExitCode.FAILED_ROWS
    lines = run.out.splitlines()
    at = lines.index("Rows that need a next step (2):")
    assert lines[at + 1].startswith("  row 2: failed: HTTP 5")
    assert lines[at + 2].startswith("  row 3: failed: HTTP 5")
    assert lines[at + 3] == (
        f"To retry them: avatar-merge submit {data} {OUTREACH} -o {out} --base-url {broken.url}"
        " --yes --retry-failed"
    )


def test_completion_scripts(cli, tmp_path: Path):
    bash = cli("completion", "bash")
    assert bash.code == ExitCode.OK
    script = tmp_path / "complete.bash"
    script.write_text(bash.out)
    words = {
        "avatar-merge su": "submit",
        "avatar-merge submit --retry-f": "--retry-failed",
        "avatar-merge listen --webhook-s": "--webhook-secret-file",
    }
    for line, expected in words.items():
        probe = (
            f"source {script}; COMP_WORDS=({line}); COMP_CWORD={len(line.split()) - 1};"
            ' _avatar_merge; echo "${COMPREPLY[@]}"'
        )
        done = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, check=True)
        assert done.stdout.split() == [expected], line
    zsh = cli("completion", "zsh").out
    assert zsh.startswith("#compdef avatar-merge\n")
    assert "        'submit:send every valid row to the API once" in zsh
    fish = cli("completion", "fish").out
    assert (
        "complete -c avatar-merge -n '__fish_seen_subcommand_from submit' -l retry-failed -d"
        in fish
    )
    assert cli("completion", "tcsh").code == ExitCode.USAGE


def test_a_campaign_file_holds_the_options_and_flags_win(cli, tmp_path: Path):
    campaign = tmp_path / "spring.toml"
    campaign.write_text(
        f'data = "{LEADS_XLSX}"\ntemplate = "{OUTREACH}"\noutput = "{tmp_path / "r"}"\n'
        '[render]\nrows = "2-4"\n'
    )
    run = cli("render", "--campaign", campaign, "--json")
    assert json.loads(run.out)["rows"] == 3
    run = cli("render", "--campaign", campaign, "--rows", "2", "--json")
    assert json.loads(run.out)["rows"] == 1


def test_a_campaign_mistake_names_the_file(cli, tmp_path: Path):
    campaign = tmp_path / "spring.toml"
    campaign.write_text('data = "leads.xlsx"\nretry-faild = true\n')
    run = cli("submit", "--campaign", campaign)
    assert run.code == ExitCode.USAGE
    assert run.err.splitlines()[-1] == (
        f"avatar-merge: error: {campaign}: 'retry-faild' is no option"
        ' (did you mean "retry-failed"?)'
    )
    campaign.write_text("data = leads.xlsx\n")
    run = cli("render", "--campaign", campaign)
    assert run.code == ExitCode.ERROR
    assert run.err.startswith(f"avatar-merge: error: {campaign}: not a valid campaign file: ")


def test_missing_inputs_say_where_they_may_come_from(cli, tmp_path: Path):
    run = cli("render", LEADS_XLSX)
    assert run.code == ExitCode.USAGE
    assert run.err.splitlines()[-1] == (
        "avatar-merge: error: the following arguments are required: TEMPLATE, -o"
        " (on the command line, or in a --campaign file)"
    )


def test_an_old_merge_errors_column_is_kept_not_doubled(cli, tmp_path: Path):
    book = openpyxl.load_workbook(LEADS_XLSX)
    sheet = book["Leads"]
    sheet.cell(1, sheet.max_column + 1, "merge_errors")
    book.save(tmp_path / "old.xlsx")
    cli("render", tmp_path / "old.xlsx", OUTREACH, "-o", tmp_path / "r")
    header = [c.value for c in openpyxl.load_workbook(tmp_path / "r" / "old.xlsx")["Leads"][1]]
    assert header.count("merge_errors") == 1
    assert "merge_error" not in header
    assert header[-1] == "merge_status"


def test_one_spelling_of_each_option_and_old_names_still_work(tmp_path: Path):
    parser = build_parser()
    for spelling in ("--webhook-secret-file", "--secret-file"):
        args = parser.parse_args(["listen", "out.xlsx", spelling, "s.txt"])
        assert args.secret_file == Path("s.txt")
    args = parser.parse_args(["simulate", "--api-key-file", "k.txt", "--webhook-secret-file", "s"])
    assert (args.api_key_file, args.webhook_secret_file) == (Path("k.txt"), Path("s"))


def test_download_names_come_from_columns_safely(cli, tmp_path: Path):
    sheet = tmp_path / "s.csv"
    sheet.write_text(
        "Company,First Name,avatar_id,voice_id\nAcme,Ann,{a},{v}\nAcme,ann,{a},{v}\n"
        "../../etc,CON,{a},{v}\n,,{a},{v}\nZoë & Co,José,{a},{v}\n".format(
            a="Daisy-inskirt-20220818", v="2d5b0e6cf36f460aa7fc47e3eee4ba54"
        ),
        encoding="utf-8",
    )
    template = tmp_path / "t.json"
    template.write_text(
        '{"video_inputs": [{"character": {"type": "avatar", "avatar_id": "{{ avatar_id }}"},'
        ' "voice": {"type": "text", "voice_id": "{{ voice_id }}",'
        ' "input_text": "Hi {{First Name}}"}}]}'
    )
    out, videos = tmp_path / "out.csv", tmp_path / "videos"
    run = cli(
        "submit", sheet, template, "-o", out, "--simulate", "--yes", "--wait", "--poll", "0.2",
        "--download", videos, "--name", "{{ Company }} - {{ First Name }}",
    )  # fmt: skip
    assert run.code == ExitCode.OK, run.out + run.err
    assert sorted(p.name for p in videos.glob("*.mp4")) == [
        "Acme - Ann (row 2).mp4",
        "Acme - ann (row 3).mp4",
        "Zoë & Co - José.mp4",
        "_.._etc - CON.mp4",
        "row-5.mp4",
    ]
    wrong = cli("status", out, "--download", videos, "--name", "{{ Compnay }}")
    assert wrong.code == ExitCode.ERROR
    assert wrong.err.splitlines()[0] == (
        'avatar-merge: error: --name: the output has no column "Compnay" (did you mean "Company"?)'
    )
    alone = cli("status", out, "--name", "{{ Company }}")
    assert alone.code == ExitCode.USAGE
    assert alone.err.splitlines()[-1] == (
        "avatar-merge: error: --name: only with --download DIR (it names the saved files)"
    )


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        ({"a": "x/y\\z"}, "x_y_z"),
        ({"a": "nul"}, "_nul"),
        ({"a": " . hidden . "}, "hidden"),
        ({"a": "tab\there\nnewline"}, "tab_here_newline"),
        ({"a": "é" * 300}, "é" * 120),
        ({"a": ""}, ""),
    ],
)
def test_file_names_are_safe(cells: dict[str, str], expected: str):
    assert file_name("{{ a }}", cells) == expected


def test_a_rerun_that_skips_failed_rows_says_so_and_does_not_exit_0(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("HEYGEN_API_KEY", KEY)
    data = write_csv(tmp_path / "leads.csv", leads(2))
    out = tmp_path / "out.csv"
    with Simulator(SimulatorSettings(fail_5xx=1.0)) as broken:
        cli("submit", data, OUTREACH, "-o", out, "--base-url", broken.url, "--yes")
    with Simulator(SimulatorSettings()) as fixed:
        args = ("submit", data, OUTREACH, "-o", out, "--base-url", fixed.url, "--yes")
        rerun = cli(*args)
        assert fixed.accepted() == {}
    assert rerun.code == ExitCode.FAILED_ROWS
    # A 5xx may have made a video: such rows are checked first, never resent blindly.
    assert "  to check first: 2 (may have been sent before, outcome unknown" in rerun.out
    assert "  output rows: 2 failed" in rerun.out
    assert "Rows that need a next step (2):" in rerun.out
    assert (
        f"To retry them: avatar-merge submit {data} {OUTREACH} -o {out} --base-url {fixed.url}"
        " --yes --retry-failed"
    ) in rerun.out.splitlines()


def test_failed_videos_are_listed_with_their_reason_and_the_retry(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("HEYGEN_API_KEY", KEY)
    data = write_csv(tmp_path / "leads.csv", leads(2))
    out = tmp_path / "out.csv"
    settings = SimulatorSettings(render_seconds=0.1, pending_seconds=0.0, render_failure=1.0)
    with Simulator(settings) as api:
        args = ("submit", data, OUTREACH, "-o", out, "--base-url", api.url, "--yes", "--wait")
        run = cli(*args, "--poll", "0.1")
        status = cli("status", out, "--base-url", api.url, "--json")
    assert run.code == ExitCode.FAILED_ROWS
    lines = run.out.splitlines()
    at = lines.index("Videos that failed (2):")
    assert lines[at + 1].startswith("  row 2: failed: ")
    assert lines[at + 3] == (
        f"To make them again: avatar-merge submit {data} {OUTREACH} -o {out} --base-url {api.url}"
        " --yes --wait --poll 0.1 --retry-failed"
    )
    failed = json.loads(status.out)["failed_videos"]
    assert [(f["row"], f["status"]) for f in failed] == [(2, "failed"), (3, "failed")]
    assert all(f["reason"] for f in failed)
    assert "To make them again: run the same submit command with --retry-failed" in status.err


def test_render_print_shows_v3_scripts(cli, tmp_path: Path):
    run = cli(
        "render", LEADS_XLSX, OUTREACH, "-o", tmp_path / "r", "--rows", "2", "--print",
        "--api", "v3", "--lossy",
    )  # fmt: skip
    lines = run.out.splitlines()
    assert lines[0].startswith("── row 2 (valid) ")
    assert lines[1] == "Script:"
    assert lines[2].startswith("  Hi Ava!")
    assert '"script": "Hi Ava!' in run.out  # the v3 body itself


def test_status_takes_its_output_from_a_campaign(cli, tmp_path: Path, monkeypatch):
    data = write_csv(tmp_path / "leads.csv", leads(1))
    out = tmp_path / "out.csv"
    campaign = tmp_path / "c.toml"
    campaign.write_text(
        f'data = "{data}"\ntemplate = "{OUTREACH}"\noutput = "{out}"\n[submit]\nsimulate = true\n'
        "yes = true\n[status]\nwait = true\npoll = 0.2\n"
    )
    assert cli("submit", "--campaign", campaign, "-q").code == ExitCode.OK
    followed = cli("status", "--campaign", campaign, "--json")
    assert followed.code == ExitCode.OK, followed.err
    assert json.loads(followed.out)["statuses"] == {"completed": 1}


def test_another_key_than_the_rows_were_sent_with_is_refused(cli, tmp_path: Path):
    data = write_csv(tmp_path / "leads.csv", leads(2))
    out = tmp_path / "out.csv"
    sent = ("submit", data, OUTREACH, "-o", out, "--simulate", "--yes", "-q")
    assert cli(*sent, "--limit", "1").code == ExitCode.OK
    run = cli(*sent, "--key", "email")
    assert run.code == ExitCode.ERROR
    assert run.err == (
        f"avatar-merge: error: {out}.journal: its rows were sent without --key; with --key"
        ' "email" they would not be recognised, and would be sent again\n'
        "Hint: run again without --key\n"
    )
    assert cli(*sent).code == ExitCode.OK


def test_campaign_paths_are_read_from_the_campaign_files_folder(cli, tmp_path, monkeypatch):
    folder = tmp_path / "spring"
    folder.mkdir()
    write_csv(folder / "leads.csv", leads(1))
    (folder / "c.toml").write_text(
        f'data = "leads.csv"\ntemplate = "{OUTREACH}"\noutput = "review"\n'
    )
    monkeypatch.chdir(tmp_path)
    run = cli("render", "--campaign", "spring/c.toml", "--json")
    assert run.code == ExitCode.OK, run.err
    assert json.loads(run.out)["folder"] == "spring/review"
