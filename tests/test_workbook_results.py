"""The output workbook reads well: links that open, dates that sort, durations that sum."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest

from merge.cli.commands import ExitCode
from merge.sheets.xlsx_kinds import date_value, link_target, number_value, patch_styles
from tests.submitting import LEADS_XLSX, OUTREACH


@pytest.fixture(scope="module")
def followed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample workbook sent with --simulate and followed to the end."""
    from merge.cli.commands import main

    out = tmp_path_factory.mktemp("book") / "leads-sent.xlsx"
    args = ("submit", LEADS_XLSX, OUTREACH, "-o", out, "--simulate", "--yes", "--wait", "-q")
    more = ("--poll", "0.2", "--download", str(out.parent / "videos"))
    assert main([*map(str, args), *more]) == ExitCode.INVALID_ROWS
    return out


def columns(sheet) -> dict[str, int]:
    return {cell.value: cell.column for cell in sheet[1]}


def test_links_dates_and_numbers_have_their_excel_types(followed: Path):
    sheet = openpyxl.load_workbook(followed)["Leads"]
    at = columns(sheet)
    sent = [row for row in range(2, 27) if sheet.cell(row, at["video_id"]).value]
    assert len(sent) == 21
    for row in sent:
        for name in ("heygen_video_url", "thumbnail_url"):
            cell = sheet.cell(row, at[name])
            assert cell.hyperlink is not None
            assert cell.hyperlink.target == cell.value
            assert str(cell.value).startswith("http://127.0.0.1:")
        for name in ("submitted_at", "checked_at"):
            cell = sheet.cell(row, at[name])
            assert isinstance(cell.value, dt.datetime)
            assert cell.number_format == "yyyy-mm-dd hh:mm:ss"
            assert (
                abs(cell.value - dt.datetime.now(dt.UTC).replace(tzinfo=None)).total_seconds() < 600
            )
        duration = sheet.cell(row, at["duration"]).value
        assert isinstance(duration, float)
        assert duration > 0
        file = sheet.cell(row, at["video_file"]).value
        assert str(file).startswith("videos/am-")
        assert (followed.parent / str(file)).stat().st_size > 0


def test_the_users_cells_are_untouched(followed: Path):
    before = openpyxl.load_workbook(LEADS_XLSX)["Leads"]
    after = openpyxl.load_workbook(followed)["Leads"]
    for row in range(1, 27):
        for col in range(1, before.max_column + 1):
            old, new = before.cell(row, col), after.cell(row, col)
            assert new.value == old.value, (row, col)
            assert new.hyperlink == old.hyperlink, (row, col)  # their own video_url stays text


def test_a_second_status_keeps_one_link_per_cell(cli, followed: Path, tmp_path: Path):
    again = tmp_path / "again.xlsx"
    again.write_bytes(followed.read_bytes())
    for name in (".journal", ".simulator.json"):
        source = followed.with_name(followed.name + name)
        again.with_name(again.name + name).write_bytes(source.read_bytes())
    assert cli("status", again, "-q").code == ExitCode.OK
    with zipfile.ZipFile(again) as book:
        rels = book.read("xl/worksheets/_rels/sheet1.xml.rels").decode()
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert rels.count("rIdAvatarMerge") == 42
    assert len(re.findall(r"<hyperlink ", sheet)) == 42
    assert sheet.count("<hyperlinks") == 1


def test_values_that_are_not_what_the_column_holds_stay_text():
    assert number_value("12.5") == "12.5"
    assert number_value("n/a") is None
    assert number_value("nan") is None
    assert date_value("2026-11-30T20:51:03Z") == "46356.868785"
    assert date_value("yesterday") is None
    assert link_target("https://x.example/v.mp4") == "https://x.example/v.mp4"
    assert link_target("javascript:alert(1)") is None
    assert link_target("https://x.example/" + "a" * 3000) is None


def test_a_date_format_is_added_to_the_styles_once():
    styles = (
        b'<styleSheet xmlns="s"><numFmts count="1"><numFmt numFmtId="170" formatCode="0.0"/>'
        b'</numFmts><cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="170"/></cellXfs>'
        b"</styleSheet>"
    )
    patched = patch_styles(styles)
    assert patched is not None
    xml, index = patched
    assert index == 2
    assert b'<numFmts count="2">' in xml
    assert b'<numFmt numFmtId="171" formatCode="yyyy-mm-dd hh:mm:ss"/>' in xml
    assert b'<cellXfs count="3">' in xml
    assert xml.endswith(
        b'<xf numFmtId="171" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
        b"</cellXfs></styleSheet>"
    )
