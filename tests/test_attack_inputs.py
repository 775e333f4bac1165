"""Attack: small inputs with huge costs. Each is refused clearly, in bounded time, sending nothing.

Big inputs are made sparse or streamed, never big files on disk: a zip bomb compresses 20 MB of
zeros to a few KB, a 10 MB template is a sparse file, giant rows and headers are a few MB.
"""

from __future__ import annotations

import json
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest

from merge.cli.commands import ExitCode
from tests.submitting import HEADER, OUTREACH, lead, write_csv, write_xlsx

TEMPLATE = json.loads(OUTREACH.read_text(encoding="utf-8"))


def _timed(cli, *argv):
    started = time.monotonic()
    run = cli(*argv)
    return run, time.monotonic() - started


def _template(tmp_path: Path, text: str, name: str = "bomb.json") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_zip_bomb_workbook_is_refused_before_it_is_unpacked(cli, tmp_path):
    data = write_xlsx(tmp_path / "leads.xlsx", [lead(1)])
    with (
        zipfile.ZipFile(data, "a", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as book,
        book.open("xl/media/padding.bin", "w") as member,
    ):
        for _ in range(20):
            member.write(bytes(1024 * 1024))  # 20 MB of zeros, about 20 KB packed
    assert data.stat().st_size < 100_000
    run, seconds = _timed(cli, "render", data, OUTREACH, "-o", tmp_path / "review")
    assert run.code == ExitCode.ERROR
    assert "a sheet of rows is never this large" in run.err
    assert seconds < 10


def test_a_workbook_too_big_to_hold_is_refused_with_the_way_out(cli, tmp_path, monkeypatch):
    """A real sheet past the bound (no zip bomb) is told to go as CSV, before it is read."""
    from merge.sheets import xlsx_read

    data = write_xlsx(tmp_path / "leads.xlsx", [lead(n) for n in range(1, 40)])
    monkeypatch.setattr(xlsx_read, "MAX_UNPACKED_BYTES", 4096)
    run = cli("render", data, OUTREACH, "-o", tmp_path / "review")
    assert run.code == ExitCode.ERROR
    assert "would take over 1 GB of memory" in run.err
    assert "save it as CSV" in run.err
    assert "never this large" not in run.err
    assert not (tmp_path / "review").exists()


def test_a_giant_csv_row_is_refused_without_reading_it_whole(cli, tmp_path):
    data = write_csv(tmp_path / "leads.csv", [lead(1)])
    with data.open("a", encoding="utf-8") as handle:
        for _ in range(6):  # one 6 MB row of short cells, streamed
            handle.write("x," * (512 * 1024))
        handle.write("\n")
    run = cli("submit", data, OUTREACH, "-o", tmp_path / "sent.csv", "--simulate", "--yes")
    assert run.code == ExitCode.ERROR
    assert "a row is longer than 4 MB of text" in run.err
    assert "Sent" not in run.out


def test_a_giant_cell_is_refused(cli, tmp_path):
    data = tmp_path / "leads.csv"
    with data.open("w", encoding="utf-8") as handle:
        handle.write(",".join(HEADER) + "\n" + '"' + "y\n" * (700 * 1024) + '"\n')
    run = cli("render", data, OUTREACH, "-o", tmp_path / "review")
    assert run.code == ExitCode.ERROR
    assert "a cell is longer than 1 MB of text" in run.err


@pytest.mark.parametrize(
    ("width", "said"), [(512 * 1024, "characters long"), (3 * 1024**2, "a cell is longer")]
)
def test_a_giant_header_line_gives_a_short_message(cli, tmp_path, width, said):
    data = tmp_path / "leads.csv"
    with data.open("w", encoding="utf-8") as handle:
        handle.write("first_name," + "h" * width + "\nAda,x\n")
    run = cli("render", data, OUTREACH, "-o", tmp_path / "review")
    assert run.code == ExitCode.ERROR
    assert said in run.err
    assert len(run.err) < 2_000


@pytest.mark.parametrize(
    "expression",
    [
        "{{ 'x' * 10**10 }}",
        "{{ 'x' * 1000 * 1000 * 1000 }}",
        "{{ [1] * 10**9 }}",
        "{{ 10 ** 10 ** 10 }}",
        "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
        "{% for a in range(100000) %}{{ first_name * 100 }}{% endfor %}",
        "{{ lipsum(10**9) }}",
    ],
)
def test_template_bombs_make_the_row_invalid_in_bounded_time(cli, tmp_path, expression):
    body = {**TEMPLATE, "title": expression}
    template = _template(tmp_path, json.dumps(body))
    data = write_csv(tmp_path / "leads.csv", [lead(1)])
    run, seconds = _timed(
        cli, "submit", data, template, "-o", tmp_path / "sent.csv", "--simulate", "--yes"
    )
    assert run.code in (ExitCode.INVALID_ROWS, ExitCode.ERROR), run.out + run.err
    assert "Traceback" not in run.err
    assert "Sent" not in run.out
    assert seconds < 15


def test_a_whole_jinja_template_with_nested_loops_is_stopped(cli, tmp_path):
    text = (
        "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"
        + json.dumps(TEMPLATE)
    )
    template = _template(tmp_path, text, "bomb.json.j2")
    data = write_csv(tmp_path / "leads.csv", [lead(1)])
    run, seconds = _timed(cli, "render", data, template, "-o", tmp_path / "review")
    assert run.code == ExitCode.INVALID_ROWS, run.out + run.err
    assert "took over 2 s" in run.out
    assert seconds < 15


def test_a_ten_megabyte_template_is_refused(cli, tmp_path):
    template = tmp_path / "huge.json"
    with template.open("wb") as handle:
        handle.truncate(10 * 1024 * 1024)  # sparse: nothing written to disk
    data = write_csv(tmp_path / "leads.csv", [lead(1)])
    run = cli("render", data, template, "-o", tmp_path / "review")
    assert run.code == ExitCode.ERROR
    assert "a request template is at most 256 KB" in run.err


def test_a_sheet_too_wide_for_its_output_is_refused_before_sending(cli, tmp_path):
    data = tmp_path / "wide.xlsx"
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Leads")
    sheet.append(HEADER + [f"c{n}" for n in range(16_384 - len(HEADER))])
    sheet.append(lead(1))
    book.save(data)
    run = cli("submit", data, OUTREACH, "-o", tmp_path / "sent.xlsx", "--simulate", "--yes")
    assert run.code == ExitCode.ERROR
    assert "a worksheet holds 16,384" in run.err
    assert not (tmp_path / "sent.xlsx.journal").exists()
