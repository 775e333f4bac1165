"""What the user sees is what is sent, and the user's workbook is never harmed.

End to end against the simulator on loopback, with workbooks whose formulas LibreOffice computed
and saved (openpyxl writes formulas without values), all re-saved in one LibreOffice start.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
import python_calamine

from merge.cli.console import ExitCode
from merge.simulator.server import Simulator
from merge.simulator.settings import SimulatorSettings
from tests.libreoffice import convert
from tests.submitting import HEADER, OUTREACH, lead, results

KEY = "sk-test-SEEN-1f2e"


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    monkeypatch.setenv("HEYGEN_API_KEY", KEY)
    with Simulator(SimulatorSettings(render_seconds=0.1, pending_seconds=0.0)) as simulator:
        yield simulator


def merged_header_book(path: Path) -> Path:
    """Leads with a formula callback_id (J), a formula score (K), a merged "Notes" header (L1:M1),
    a row hidden by hand (4), and one hidden by a filter (6)."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Leads"
    sheet.append([*HEADER, "callback_id", "score", "Notes"])
    for number in range(2, 8):
        sheet.append([*lead(number), f'="lead-"&ROW()&"-"&A{number}', f"=LEN(A{number})*2"])
    sheet.merge_cells("L1:M1")
    sheet.row_dimensions[4].hidden = True
    sheet.auto_filter.ref = "A1:L7"
    sheet.row_dimensions[6].hidden = True
    book.create_sheet("Notes")["A1"] = "keep me"
    book.save(path)
    return path


def merged_target_book(path: Path) -> Path:
    """An earlier output whose video_id cells are merged over two rows."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Leads"
    sheet.append([*HEADER, "video_id"])
    for number in range(2, 5):
        sheet.append(lead(number))
    sheet.merge_cells("J2:J3")
    book.save(path)
    return path


@pytest.fixture(scope="session")
def saved_by_libreoffice(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The workbooks above, with every formula computed and saved by LibreOffice."""
    root = tmp_path_factory.mktemp("seen")
    made = [merged_header_book(root / "merged-header.xlsx")]
    convert(made, "xlsx:Calc MS Excel 2007 XML", root / "saved", root / "profile")
    return {book.name: root / "saved" / book.name for book in made}


def submit(cli, data: Path, out: Path, url: str, *more: str):
    return cli("submit", data, OUTREACH, "-o", out, "--base-url", url, "--yes", *more)


def test_merged_header_and_formula_callback_id_give_a_whole_output(
    cli, tmp_path: Path, api: Simulator, saved_by_libreoffice: dict[str, Path]
) -> None:
    data = tmp_path / "leads.xlsx"
    shutil.copy(saved_by_libreoffice["merged-header.xlsx"], data)
    out = tmp_path / "sent.xlsx"
    run = submit(cli, data, out, api.url)
    assert run.code == ExitCode.OK, run.out + run.err
    assert "Traceback" not in run.err
    assert "skipped:        2 hidden in the sheet (--include-hidden sends them)" in run.out
    # Hidden rows never reach the simulator; each visible row is sent once, with the formula's key.
    first = {n: lead(n)[0] for n in (2, 3, 5, 7)}
    assert api.accepted() == {f"lead-{n}-{name}": 1 for n, name in first.items()}
    # The formulas, and the values they show, are as they were.
    formulas = openpyxl.load_workbook(out)["Leads"]
    assert formulas["J2"].value == '="lead-"&ROW()&"-"&A2'
    assert formulas["K2"].value == "=LEN(A2)*2"
    assert [str(r) for r in formulas.merged_cells.ranges] == ["L1:M1"]
    shown = python_calamine.CalamineWorkbook.from_path(str(out)).get_sheet_by_name("Leads")
    rows = shown.to_python()
    assert rows[0][:13] == [*HEADER, "callback_id", "score", "Notes", ""]
    assert rows[1][9:11] == [f"lead-2-{first[2]}", len(first[2]) * 2]
    # New columns go after the merged header, each wide enough to read.
    assert rows[0][13:17] == ["video_id", "merge_status", "merge_error", "submitted_at"]
    assert formulas.column_dimensions["N"].width >= len("video_id")
    written = results(out)
    assert [written[n]["merge_status"] for n in (2, 3, 5, 7)] == ["submitted"] * 4
    assert written[4]["video_id"] == written[6]["video_id"] == ""
    # The output is the next run's input: nothing is sent again.
    again = submit(cli, out, tmp_path / "again.xlsx", api.url)
    assert again.code == ExitCode.OK, again.out + again.err
    assert sum(api.accepted().values()) == 4


def test_hidden_rows_go_with_include_hidden(
    cli, tmp_path: Path, api: Simulator, saved_by_libreoffice: dict[str, Path]
) -> None:
    data = tmp_path / "leads.xlsx"
    shutil.copy(saved_by_libreoffice["merged-header.xlsx"], data)
    run = submit(cli, data, tmp_path / "sent.xlsx", api.url, "--include-hidden")
    assert run.code == ExitCode.OK, run.out + run.err
    assert sum(api.accepted().values()) == 6


def test_a_merged_target_cell_is_refused_before_anything_is_sent(
    cli, tmp_path: Path, api: Simulator
) -> None:
    data = merged_target_book(tmp_path / "earlier.xlsx")
    run = submit(cli, data, tmp_path / "sent.xlsx", api.url)
    assert run.code == ExitCode.ERROR
    assert "cells J2:J3 are merged where the column 'video_id' is written" in run.err
    assert "Traceback" not in run.err
    assert api.accepted() == {}


def test_an_output_open_in_a_spreadsheet_program_is_refused_before_sending(
    cli, tmp_path: Path, api: Simulator
) -> None:
    data = merged_header_book(tmp_path / "leads.xlsx")
    out = tmp_path / "sent.xlsx"
    out.write_bytes(data.read_bytes())
    (tmp_path / "sent.xlsx.journal").write_bytes(b"")
    (tmp_path / ".~lock.sent.xlsx#").write_text("someone,host")
    run = submit(cli, data, out, api.url)
    assert run.code == ExitCode.ERROR
    assert "is open in a spreadsheet program" in run.err
    assert api.accepted() == {}


@pytest.mark.parametrize(("given", "wanted"), [("m.xlsm", "x.xlsx"), ("x.xlsx", "m.xlsm")])
def test_an_output_of_the_other_workbook_kind_is_refused(
    cli, tmp_path: Path, api: Simulator, given: str, wanted: str
) -> None:
    data = merged_header_book(tmp_path / given)
    run = submit(cli, data, tmp_path / wanted, api.url)
    assert run.code == ExitCode.ERROR
    assert f"the output keeps the input's format, {Path(given).suffix}" in run.err
    assert api.accepted() == {}


def test_new_columns_go_after_drawings(tmp_path: Path) -> None:
    from openpyxl.chart import BarChart, Reference

    from merge.sheets.sheet import open_sheet, output_positions

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["name", "n"])
    sheet.append(["a", 1])
    chart = BarChart()
    chart.add_data(Reference(sheet, min_col=2, min_row=1, max_row=2))
    sheet.add_chart(chart, "D2")  # type: ignore[call-arg]  # 15 cm wide: D to L
    book.save(tmp_path / "chart.xlsx")
    info = open_sheet(tmp_path / "chart.xlsx").info
    placed = output_positions(info, ["video_id", "n"])
    assert placed == [(13, "video_id"), (1, "n")]
    assert python_calamine  # the calamine reader is what the output is read back with


def test_long_ids_stay_whole_and_apart_as_keys(cli, tmp_path: Path, api: Simulator) -> None:
    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    ws.append([*HEADER, "lead_id"])
    for number, lead_id in ((2, 1234567890123456), (3, 1234567890123457)):
        ws.append([*lead(number), lead_id])
        ws.cell(number, len(HEADER) + 1).number_format = "0"
    book.save(tmp_path / "ids.xlsx")
    run = submit(cli, tmp_path / "ids.xlsx", tmp_path / "sent.xlsx", api.url, "--key", "lead_id")
    assert run.code == ExitCode.OK, run.out + run.err
    keys = sorted(api.accepted())
    assert [k.rsplit("-", 1)[1] for k in keys] == ["1234567890123456", "1234567890123457"]


def test_a_sheet_only_a_rewrite_can_edit_is_said_before_sending(
    cli, tmp_path: Path, api: Simulator
) -> None:
    from tests.test_xlsx import raw_xlsx, sheet

    cells = "".join(
        f'<c r="{chr(65 + i)}1" t="inlineStr"><is><t>{n}</t></is></c>' for i, n in enumerate(HEADER)
    )
    row = "".join(
        f'<c r="{chr(65 + i)}2" t="inlineStr"><is><t><![CDATA[{v}]]></t></is></c>'
        for i, v in enumerate(lead(2))
    )
    data = raw_xlsx(
        tmp_path / "odd.xlsx", {"Leads": sheet(f'<row r="1">{cells}</row><row r="2">{row}</row>')}
    )
    run = submit(cli, data, tmp_path / "sent.xlsx", api.url)
    assert run.code == ExitCode.OK, run.out + run.err
    warnings = [line for line in run.err.splitlines() if "only a full rewrite" in line]
    assert len(warnings) == 1
    assert "keeps formulas, their saved values" in warnings[0]
    assert results(tmp_path / "sent.xlsx")[2]["merge_status"] == "submitted"
