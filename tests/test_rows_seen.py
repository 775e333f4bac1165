"""Rows as the user sees them: encodings, sep= lines, title rows, hidden rows, placeholders in
cells, decimal commas and formula errors in columns the template never reads."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest

from merge.cli.console import ExitCode
from merge.errors import SheetError
from merge.payload.cell_checks import CellRules, as_decimal_point
from merge.payload.render import compile_template
from merge.payload.row import check_row
from merge.sheets import sheet
from merge.sheets.cells import Row
from merge.sheets.sheet import open_sheet

TEMPLATE = {
    "video_inputs": [
        {
            "character": {"type": "avatar", "avatar_id": "Daisy-inskirt-20220818"},
            "voice": {
                "type": "text",
                "voice_id": "v1",
                "input_text": "Hi {{ name }}!",
                "speed": "{{ speed }}",
            },
        }
    ]
}


@pytest.fixture(autouse=True)
def _no_settle_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sheet, "WRITE_SETTLE_SECONDS", 0.0)


def rows_of(path: Path, **options: object) -> list[Row]:
    return list(open_sheet(path, **options).rows())  # type: ignore[arg-type]


# -- encodings ----------------------------------------------------------------------------------


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_a_bom_decides_utf16(tmp_path: Path, codec: str) -> None:
    # Excel's "Unicode Text": UTF-16 with a BOM, tab-delimited.
    bom = "\ufeff".encode(codec)
    path = tmp_path / "unicode.txt"
    path.write_bytes(bom + "name\tcity\r\nJosé\tZürich 🙂\r\n".encode(codec))
    opened = open_sheet(path)
    assert opened.info.encoding == "utf-16"
    assert [r.values for r in opened.rows()] == [{"name": "José", "city": "Zürich 🙂"}]


def test_one_stray_cp1252_line_keeps_the_rest_utf8_and_is_named(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_bytes("name,city\nRenée,Zürich\n".encode() + "José,Málaga\n".encode("cp1252"))
    opened = open_sheet(path)
    assert [r.values["name"] for r in opened.rows()] == ["Renée", "José"]
    (warning,) = opened.info.warnings
    assert "from line 3 on" in warning
    assert "cp1252" in warning


def test_a_file_with_no_utf8_names_its_first_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "win.csv"
    path.write_bytes("name\nplain\nJosé\n".encode("cp1252"))
    opened = open_sheet(path)
    assert [r.values["name"] for r in opened.rows()] == ["plain", "José"]
    assert "line 3 is the first that is not" in opened.info.warnings[0]


def test_a_sep_line_names_the_delimiter(tmp_path: Path) -> None:
    path = tmp_path / "sep.csv"
    path.write_bytes(b"sep=;\r\nname;speed\r\nAnn, Jr;1,5\r\n")
    opened = open_sheet(path)
    assert opened.info.delimiter == ";"
    assert opened.info.columns == ("name", "speed")
    assert [r.values for r in opened.rows()] == [{"name": "Ann, Jr", "speed": "1,5"}]


# -- where the header is ------------------------------------------------------------------------


def test_a_title_row_is_named_with_the_way_out(tmp_path: Path) -> None:
    path = tmp_path / "title.csv"
    path.write_text("Leads for March\nname,city\nAnn,Oslo\n")
    with pytest.raises(SheetError) as caught:
        open_sheet(path)
    assert "row 1 holds only" in caught.value.message
    assert "--header-row 2" in (caught.value.hint or "")
    opened = open_sheet(path, header_row=2)
    assert [r.values for r in opened.rows()] == [{"name": "Ann", "city": "Oslo"}]


def test_header_row_in_a_workbook(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    ws["A1"] = "Campaign: spring"
    ws.merge_cells("A1:C1")
    ws.append(["name", "city", "zip"])
    ws.append(["Ann", "Boston", 2134])
    ws["C3"].number_format = "00000"
    book.save(tmp_path / "t.xlsx")
    with pytest.raises(SheetError) as caught:
        open_sheet(tmp_path / "t.xlsx")
    assert "--header-row 2" in caught.value.message + (caught.value.hint or "")
    (row,) = rows_of(tmp_path / "t.xlsx", header_row=2)
    assert row.values == {"name": "Ann", "city": "Boston", "zip": "02134"}
    with pytest.raises(SheetError, match="there is no row 9"):
        open_sheet(tmp_path / "t.xlsx", header_row=9)


# -- hidden rows and sheets ---------------------------------------------------------------------


def test_hidden_rows_are_marked_and_sheets_count_as_shown(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    secret = book.active
    assert secret is not None
    secret.title = "Secret"
    secret.sheet_state = "hidden"
    shown = book.create_sheet("Shown")
    for name in ("name", "Ann", "Bob", "Cy"):
        shown.append([name])
    shown.row_dimensions[3].hidden = True
    book.save(tmp_path / "h.xlsx")
    rows = rows_of(tmp_path / "h.xlsx", sheet="1")
    assert [(r.number, r.hidden) for r in rows] == [(2, False), (3, True), (4, False)]


def test_render_leaves_hidden_rows_out_and_says_so(cli, tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    ws.append(["name", "speed"])
    for name in ("Ann", "Bob", "Cy"):
        ws.append([name, 1])
    ws.row_dimensions[3].hidden = True
    book.save(tmp_path / "h.xlsx")
    template = tmp_path / "t.json"
    template.write_text(json.dumps(TEMPLATE))
    run = cli("render", tmp_path / "h.xlsx", template, "-o", tmp_path / "out")
    assert run.code == ExitCode.OK, run.err
    assert "2 valid, 0 invalid" in run.out
    assert "1 hidden row left out (--include-hidden takes them)" in run.out
    run = cli("render", tmp_path / "h.xlsx", template, "-o", tmp_path / "o2", "--include-hidden")
    assert "3 valid, 0 invalid" in run.out


# -- cells the template reads -------------------------------------------------------------------


def check(values: dict[str, str], rules: CellRules | None = None) -> list[str]:
    template = compile_template(json.dumps(TEMPLATE), "t.json", list(values))
    result = check_row(template, Row(2, values), rules=rules or CellRules(decimal_comma=False))
    return [p.describe() for p in result.problems]


@pytest.mark.parametrize(
    "cell", ["Hi {{ First Name }}", "Hi [First Name]", "Hi [first_name]!", "{% if x %}"]
)
def test_a_placeholder_in_a_cell_is_a_row_problem(cell: str) -> None:
    problems = check({"name": cell, "speed": "1", "First Name": "Ann"})
    assert len(problems) == 1
    assert problems[0].startswith('column "name": the cell holds the placeholder')
    assert "--allow-placeholders" in problems[0]
    assert check({"name": cell, "speed": "1", "First Name": "Ann"}, CellRules(True)) == []


@pytest.mark.parametrize("cell", ["[sic]", "Press [Enter]", "a {b} c", "ﷺ [نص]"])
def test_brackets_that_name_no_column_are_text(cell: str) -> None:
    assert check({"name": cell, "speed": "1", "First Name": "Ann"}) == []


def test_a_decimal_comma_gets_a_did_you_mean_and_an_option() -> None:
    (problem,) = check({"name": "Ann", "speed": "1,2"})
    assert "did you mean 1.2?" in problem
    assert "--decimal-comma" in problem
    assert check({"name": "Ann", "speed": "1,2"}, CellRules(decimal_comma=True)) == []
    # The cell that went to a text field is not changed.
    assert as_decimal_point("1.234,5") == "1234.5"
    assert as_decimal_point("1,2,3") is None


def test_semicolon_files_read_decimal_commas(cli, tmp_path: Path) -> None:
    (tmp_path / "eu.csv").write_text("name;speed\nAnn;1,2\n")
    template = tmp_path / "t.json"
    template.write_text(json.dumps(TEMPLATE))
    run = cli("render", tmp_path / "eu.csv", template, "-o", tmp_path / "out", "--split")
    assert run.code == ExitCode.OK, run.out + run.err
    body = json.loads((tmp_path / "out" / "payloads" / "row-0002.json").read_text())
    assert body["voice_settings"]["speed"] == 1.2  # v3 by default: the translated body
    assert body["script"] == "Hi Ann!"
    run = cli("render", tmp_path / "eu.csv", template, "-o", tmp_path / "o2", "--no-decimal-comma")
    assert run.code == ExitCode.INVALID_ROWS


def test_a_formula_error_in_an_unused_column_is_a_warning(cli, tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    ws.append(["name", "speed", "notes"])
    ws.append(["Ann", 1, "=1/0"])  # openpyxl saves no value: "has no saved value"
    book.save(tmp_path / "f.xlsx")
    template = tmp_path / "t.json"
    template.write_text(json.dumps(TEMPLATE))
    run = cli("render", tmp_path / "f.xlsx", template, "-o", tmp_path / "out")
    assert run.code == ExitCode.OK, run.out
    assert "1 formula cell(s) show no value" in run.err
    assert "open and save it in Excel or LibreOffice" in run.err
    ws["B2"] = "=1+1"
    book.save(tmp_path / "f.xlsx")
    run = cli("render", tmp_path / "f.xlsx", template, "-o", tmp_path / "o2")
    assert run.code == ExitCode.INVALID_ROWS
    assert "the formula in cell B2 has no saved value" in run.out
