"""Tests for writing result columns into a copy of the user's workbook."""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.packaging.custom import StringProperty
from openpyxl.styles import Font
from openpyxl.utils.cell import column_index_from_string, coordinate_from_string
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet
from python_calamine import CalamineWorkbook

from merge.errors import OutputError, SheetError
from merge.sheets import xlsx_write as xlsx
from merge.sheets.xlsx_write import annotate_workbook, sheet_xml_path, uncomputed_formulas

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
STATUS = [(8, "merge_status"), (9, "merge_errors")]

STYLES = f"""<styleSheet xmlns="{MAIN}">
<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>
<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>
<fills count="2"><fill><patternFill patternType="none"/></fill>
<fill><patternFill patternType="gray125"/></fill></fills>
<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>
<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>
<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>
<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>
<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>
</styleSheet>"""


# -- helpers ----------------------------------------------------------------------------------


def raw_xlsx(
    path: Path,
    sheets: dict[str, str],
    shared: list[str] | None = None,
    extra: dict[str, bytes] | None = None,
    absolute_targets: bool = False,
) -> Path:
    """Build a workbook from raw worksheet XML, for the cases openpyxl would never write."""
    ct = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    rel = f"{REL}/"
    overrides = [f'<Override PartName="/xl/workbook.xml" ContentType="{ct}.sheet.main+xml"/>']
    overrides.append(f'<Override PartName="/xl/styles.xml" ContentType="{ct}.styles+xml"/>')
    book_rels = [f'<Relationship Id="rIdS" Type="{rel}styles" Target="styles.xml"/>']
    entries = []
    for i, name in enumerate(sheets, 1):
        overrides.append(
            f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{ct}.worksheet+xml"/>'
        )
        target = f"/xl/worksheets/sheet{i}.xml" if absolute_targets else f"worksheets/sheet{i}.xml"
        book_rels.append(f'<Relationship Id="rId{i}" Type="{rel}worksheet" Target="{target}"/>')
        entries.append(f'<sheet name="{name}" sheetId="{i}" r:id="rId{i}"/>')
    members = {
        "_rels/.rels": f'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
        f'relationships"><Relationship Id="rId1" Type="{rel}officeDocument" '
        'Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets>{"".join(entries)}'
        "</sheets></workbook>",
        "xl/styles.xml": STYLES,
    }
    if shared is not None:
        overrides.append(
            f'<Override PartName="/xl/sharedStrings.xml" ContentType="{ct}.sharedStrings+xml"/>'
        )
        book_rels.append(
            f'<Relationship Id="rIdT" Type="{rel}sharedStrings" Target="sharedStrings.xml"/>'
        )
        items = "".join(f"<si><t>{text}</t></si>" for text in shared)
        members["xl/sharedStrings.xml"] = f'<sst xmlns="{MAIN}" count="{len(shared)}">{items}</sst>'
    members["xl/_rels/workbook.xml.rels"] = (
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        + "".join(book_rels)
        + "</Relationships>"
    )
    members["[Content_Types].xml"] = (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        + "".join(overrides)
        + "</Types>"
    )
    for i, xml in enumerate(sheets.values(), 1):
        members[f"xl/worksheets/sheet{i}.xml"] = xml
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in members.items():
            zf.writestr(name, text)
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return path


def sheet(rows: str, dimension: str = "A1", root: str = "") -> str:
    """Wrap rows in a minimal worksheet document."""
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{MAIN}" '
        f'xmlns:r="{REL}"{root}><dimension ref="{dimension}"/><sheetData>{rows}</sheetData>'
        '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>'
        "</worksheet>"
    )


def calamine(path: Path, name: str) -> list[list[Any]]:
    """Read a sheet's values as python-calamine (and so pandas) sees them."""
    rows: list[list[Any]] = (
        CalamineWorkbook.from_path(str(path)).get_sheet_by_name(name).to_python()
    )
    return rows


def cells(path: Path, name: str) -> dict[str, object]:
    """Read a sheet's non-empty cells with openpyxl, keyed by coordinate."""
    ws = openpyxl.load_workbook(path, rich_text=True)[name]
    return {c.coordinate: c.value for row in ws.iter_rows() for c in row if c.value is not None}


def member_xml(path: Path, name: str, sheet_name: str) -> bytes:
    """Read one sheet's XML member from a workbook."""
    with zipfile.ZipFile(path) as zf:
        return zf.read(sheet_xml_path(zf, sheet_name))


def assert_sheet_is_sound(path: Path, sheet_name: str) -> None:
    """Check the sheet XML parses and keeps rows and cells in increasing order, as Excel needs."""
    root = ElementTree.fromstring(member_xml(path, sheet_name, sheet_name))
    last_row = 0
    for row in root.iter(f"{{{MAIN}}}row"):
        number = int(row.get("r", "0"))
        assert number > last_row
        last_row = number
        refs = [coordinate_from_string(c.get("r", "")) for c in row]
        cols = [column_index_from_string(col) for col, _ in refs]
        assert cols == sorted(set(cols))
        assert all(r == number for _, r in refs)


def members(path: Path) -> dict[str, bytes]:
    """Read every zip member, in order."""
    with zipfile.ZipFile(path) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def new_workbook(title: str) -> tuple[Workbook, Worksheet]:
    """Start an openpyxl workbook whose only sheet has the given title."""
    wb = openpyxl.Workbook()
    ws = wb.active
    assert isinstance(ws, Worksheet)
    ws.title = title
    return wb, ws


def spy_on_fallback(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Record each call of the openpyxl fallback while still running it."""
    calls: list[object] = []
    real = xlsx._annotate_with_openpyxl

    def spy(*args: Any) -> None:
        calls.append(args)
        real(*args)

    monkeypatch.setattr(xlsx, "_annotate_with_openpyxl", spy)
    return calls


def leads_workbook(path: Path, rows: int = 5) -> Path:
    """Write a two-sheet workbook whose second sheet carries the formatting users care about."""
    wb, notes = new_workbook("notes")
    notes["A1"] = "leave me alone"
    ws = wb.create_sheet("leads")
    ws.append(["name", "email", "amount", "double", "city", "x", "y", "z"])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for i in range(rows):
        ws.append([f"name {i}", f"u{i}@example.com", i, f"=C{i + 2}*2", "Paris", 1, 2, 3])
    ws.column_dimensions["A"].width = 31
    ws.freeze_panes = "A2"
    ws.merge_cells("E3:F3")
    dv = DataValidation(type="list", formula1='"Paris,London"', allow_blank=True)
    ws.add_data_validation(dv)
    dv.add("E2:E100")
    wb.defined_names["cities"] = DefinedName("cities", attr_text="leads!$E$2:$E$6")
    wb.save(path)
    return path


# -- sheet_xml_path ----------------------------------------------------------------------------


@pytest.mark.parametrize("absolute", [False, True])
def test_sheet_xml_path_resolves_relative_and_absolute_targets(
    tmp_path: Path, absolute: bool
) -> None:
    path = raw_xlsx(
        tmp_path / "b.xlsx", {"One": sheet(""), "Two": sheet("")}, absolute_targets=absolute
    )
    with zipfile.ZipFile(path) as zf:
        assert sheet_xml_path(zf, "Two") == "xl/worksheets/sheet2.xml"


def test_sheet_xml_path_suggests_a_close_name(tmp_path: Path) -> None:
    path = raw_xlsx(tmp_path / "b.xlsx", {"Leads": sheet("")})
    with zipfile.ZipFile(path) as zf, pytest.raises(SheetError) as info:
        sheet_xml_path(zf, "leads")
    assert 'no sheet named "leads" (did you mean "Leads"?)' in str(info.value)
    assert info.value.hint == 'choose one of: "Leads"'


# -- annotate_workbook: keeping everything else ------------------------------------------------


def test_annotating_the_second_sheet_keeps_every_other_part(tmp_path: Path) -> None:
    src = leads_workbook(tmp_path / "leads.xlsx")
    dst = tmp_path / "out.xlsx"
    values = {2: ["ok", ""], 3: ["invalid", "speed too high"], 6: ["ok", ""]}
    annotate_workbook(src, dst, "leads", STATUS, 1, values)

    before, after = members(src), members(dst)
    assert list(before) == list(after)
    changed = [name for name in before if before[name] != after[name]]
    assert changed == ["xl/worksheets/sheet2.xml"]
    assert_sheet_is_sound(dst, "leads")

    wb = openpyxl.load_workbook(dst)
    ws = wb["leads"]
    assert [ws["I1"].value, ws["J1"].value] == ["merge_status", "merge_errors"]
    assert ws["I1"].font.b
    assert ws["J1"].font.b
    assert (ws["I3"].value, ws["J3"].value, ws["J2"].value) == ("invalid", "speed too high", None)
    assert ws["D2"].value == "=C2*2"
    assert ws.column_dimensions["A"].width == 31
    assert ws.freeze_panes == "A2"
    assert [str(r) for r in ws.merged_cells.ranges] == ["E3:F3"]
    assert [str(dv.sqref) for dv in ws.data_validations.dataValidation] == ["E2:E100"]
    assert wb.defined_names["cities"].attr_text == "leads!$E$2:$E$6"
    assert ws.dimensions == "A1:J6"
    assert wb["notes"]["A1"].value == "leave me alone"
    assert calamine(dst, "leads")[2][8:] == ["invalid", "speed too high"]


def test_cached_formula_values_and_shared_strings_survive(tmp_path: Path) -> None:
    rows = (
        '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>'
        '<row r="2"><c r="A2"><v>2</v></c><c r="B2"><f>A2*3</f><v>6</v></c></row>'
    )
    src = raw_xlsx(tmp_path / "f.xlsx", {"S": sheet(rows, "A1:B2")}, shared=["n", "triple"])
    dst = tmp_path / "out.xlsx"
    annotate_workbook(src, dst, "S", [(2, "merge_status")], 1, {2: ["ok"]})

    assert members(dst)["xl/sharedStrings.xml"] == members(src)["xl/sharedStrings.xml"]
    assert calamine(dst, "S") == [["n", "triple", "merge_status"], [2.0, 6.0, "ok"]]
    assert openpyxl.load_workbook(dst, data_only=True)["S"]["B2"].value == 6
    assert openpyxl.load_workbook(dst)["S"]["B2"].value == "=A2*3"
    assert uncomputed_formulas(dst, "S") == set()


def test_header_away_from_the_top_left_corner(tmp_path: Path) -> None:
    wb, ws = new_workbook("S")
    ws["A1"] = "Leads export"
    ws["C3"], ws["D3"] = "name", "email"
    ws["C4"], ws["D4"] = "Ann", "ann@example.com"
    ws["C5"], ws["D5"] = "Bob", "bob@example.com"
    src = tmp_path / "s.xlsx"
    wb.save(src)
    annotate_workbook(src, src, "S", [(4, "merge_status")], 3, {4: ["ok"], 5: ["failed"]})
    assert cells(src, "S") == {
        "A1": "Leads export",
        "C3": "name",
        "D3": "email",
        "E3": "merge_status",
        "C4": "Ann",
        "D4": "ann@example.com",
        "E4": "ok",
        "C5": "Bob",
        "D5": "bob@example.com",
        "E5": "failed",
    }


def test_existing_result_columns_are_updated_in_place(tmp_path: Path) -> None:
    wb, ws = new_workbook("S")
    ws.append(["name", "merge_status", "email", "merge_errors"])
    ws.append(["Ann", "failed", "ann@example.com", "timeout"])
    ws.append(["Bob", "ok", "bob@example.com", None])
    ws["B2"].font = Font(italic=True)
    src = tmp_path / "s.xlsx"
    wb.save(src)
    dst = tmp_path / "out.xlsx"
    annotate_workbook(
        src, dst, "S", [(1, "merge_status"), (3, "merge_errors")], 1, {2: ["ok", ""], 3: ["ok", ""]}
    )
    assert_sheet_is_sound(dst, "S")
    assert calamine(dst, "S") == [
        ["name", "merge_status", "email", "merge_errors"],
        ["Ann", "ok", "ann@example.com", ""],
        ["Bob", "ok", "bob@example.com", ""],
    ]
    assert openpyxl.load_workbook(dst)["S"]["B2"].font.i


TRICKY = [
    "a < b & c > d",
    "\"double\" and 'single' quotes",
    "line one\nline two\r\nline three",
    "emoji 😀🎬 and accents éü",
    "right to left: שלום עליכם / مرحبا",
    "=SUM(A1:A3)",
    "+1 555 0100",
    "-5",
    "@mention",
    "  leading and trailing spaces  ",
    "tab\tinside",
    "]]> and <![CDATA[ in text",
    "</row></sheetData>",
]


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_text_is_written_literally(tmp_path: Path, text: str) -> None:
    src = leads_workbook(tmp_path / "s.xlsx", rows=2)
    dst = tmp_path / "out.xlsx"
    annotate_workbook(src, dst, "leads", STATUS, 1, {2: [text, text], 3: ["ok", text]})
    assert_sheet_is_sound(dst, "leads")
    ws = openpyxl.load_workbook(dst)["leads"]
    assert (ws["I2"].value, ws["J2"].value, ws["J3"].value) == (text, text, text)
    assert ws["I2"].data_type == "s"
    assert calamine(dst, "leads")[1][8:] == [text, text]


def test_text_is_cleaned_for_xml_and_capped_at_excels_limit(tmp_path: Path) -> None:
    src = leads_workbook(tmp_path / "s.xlsx", rows=2)
    dst = tmp_path / "out.xlsx"
    long = "😀" + "x" * 40_000
    annotate_workbook(src, dst, "leads", STATUS, 1, {2: ["bell\x07 nul\x00 ok", long]})
    ws = openpyxl.load_workbook(dst)["leads"]
    assert ws["I2"].value == "bell nul ok"
    assert ws["J2"].value == long[:32_766]  # the emoji takes two of Excel's 32,767 units


def test_excel_escapes_stay_literal(tmp_path: Path) -> None:
    src = leads_workbook(tmp_path / "s.xlsx", rows=1)
    dst = tmp_path / "out.xlsx"
    annotate_workbook(src, dst, "leads", STATUS, 1, {2: ["_x0041_", "a_x000D_b"]})
    assert b"_x005F_x0041_" in member_xml(dst, "leads", "leads")
    assert calamine(dst, "leads")[1][8:] == ["_x0041_", "a_x000D_b"]


def test_empty_text_writes_no_cell_and_removes_an_old_one(tmp_path: Path) -> None:
    wb, ws = new_workbook("S")
    ws.append(["name", "merge_status"])
    ws.append(["Ann", "failed"])
    ws.append(["Bob", None])
    src = tmp_path / "s.xlsx"
    wb.save(src)
    annotate_workbook(src, src, "S", [(1, "merge_status")], 1, {2: [""], 3: [""]})
    assert cells(src, "S") == {"A1": "name", "B1": "merge_status", "A2": "Ann", "A3": "Bob"}
    assert b'r="B2"' not in member_xml(src, "S", "S")


QUIRKY_ROOT = (
    ' xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"'
    ' xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac"'
    ' mc:Ignorable="x14ac"'
)
QUIRKY_ROWS = (
    '<row spans="2:3" r="2" x14ac:dyDescent="0.25">'
    '<c s="1" r="B2" t="s"><v>0</v></c><c t="s" s="1" r="C2"><v>1</v></c></row>\n'
    '<row r="3"/>\n'
    "<row r='4' spans='2:3'><c r='B4' t='s'><v>2</v></c><c r=\"C4\" s=\"1\"/></row>\n"
    '<row r="5"><c r="B5"><v>5</v></c><c r="C5" t="inlineStr"><is><r><rPr><b/></rPr>'
    "<t>rich</t></r></is></c></row>\n"
)


def test_quirky_but_valid_xml_takes_the_fast_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    quirky = sheet(QUIRKY_ROWS, "B2:C5", QUIRKY_ROOT)
    src = raw_xlsx(tmp_path / "q.xlsx", {"Q": quirky}, shared=["a", "b", "c"])
    monkeypatch.setattr(xlsx, "_annotate_with_openpyxl", None)  # any fallback would fail
    dst = tmp_path / "out.xlsx"
    values = {3: ["three"], 4: ["four"], 5: ["five"], 7: ["seven"]}
    annotate_workbook(src, dst, "Q", [(3, "merge_status")], 2, values)

    assert_sheet_is_sound(dst, "Q")
    xml = member_xml(dst, "Q", "Q")
    assert b'<dimension ref="B2:D7"/>' in xml
    assert b'spans="2:4" r="2"' in xml
    assert b'<c r="D2" s="1" t="inlineStr">' in xml  # the header style of the last header cell
    assert b'mc:Ignorable="x14ac"' in xml
    assert calamine(dst, "Q") == [
        ["a", "b", "merge_status"],
        ["", "", "three"],
        ["c", "", "four"],
        [5.0, "rich", "five"],
        ["", "", ""],
        ["", "", "seven"],
    ]


def test_rows_missing_from_the_xml_are_created_in_order(tmp_path: Path) -> None:
    rows = (
        '<row r="1"><c r="A1" t="inlineStr"><is><t>name</t></is></c></row>'
        '<row r="4"><c r="A4" t="inlineStr"><is><t>Dee</t></is></c></row>'
    )
    src = raw_xlsx(tmp_path / "m.xlsx", {"S": sheet(rows, "A1:A4")})
    dst = tmp_path / "out.xlsx"
    annotate_workbook(
        src, dst, "S", [(1, "status")], 1, {2: ["two"], 3: [""], 4: ["four"], 6: ["six"]}
    )
    assert_sheet_is_sound(dst, "S")
    assert re.findall(rb'<row r="(\d+)"', member_xml(dst, "S", "S")) == [b"1", b"2", b"4", b"6"]
    assert cells(dst, "S") == {
        "A1": "name",
        "B1": "status",
        "B2": "two",
        "A4": "Dee",
        "B4": "four",
        "B6": "six",
    }


def test_an_empty_sheet_gets_header_and_rows(tmp_path: Path) -> None:
    empty = sheet("").replace("<sheetData></sheetData>", "<sheetData/>")
    src = raw_xlsx(tmp_path / "e.xlsx", {"E": empty})
    dst = tmp_path / "out.xlsx"
    annotate_workbook(src, dst, "E", [(0, "status")], 1, {2: ["ok"]})
    assert calamine(dst, "E") == [["status"], ["ok"]]
    assert b'<dimension ref="A1:A2"/>' in member_xml(dst, "E", "E")


PREFIXED_XML = (
    f'<x:worksheet xmlns:x="{MAIN}"><x:dimension ref="A1:A2"/><x:sheetData>'
    '<x:row r="1"><x:c r="A1" t="inlineStr"><x:is><x:t>name</x:t></x:is></x:c></x:row>'
    '<x:row r="2"><x:c r="A2" t="inlineStr"><x:is><x:t>Ann</x:t></x:is></x:c></x:row>'
    "</x:sheetData></x:worksheet>"
)


def test_namespace_prefixed_xml_keeps_its_prefix(tmp_path: Path) -> None:
    src = raw_xlsx(tmp_path / "p.xlsx", {"P": PREFIXED_XML})
    dst = tmp_path / "out.xlsx"
    annotate_workbook(src, dst, "P", [(1, "status")], 1, {2: ["ok"], 3: ["new"]})
    out = member_xml(dst, "P", "P")
    assert b'<x:c r="B2" t="inlineStr"><x:is><x:t xml:space="preserve">ok</x:t>' in out
    assert b'<x:row r="3">' in out
    assert cells(dst, "P") == {"A1": "name", "B1": "status", "A2": "Ann", "B2": "ok", "B3": "new"}


def test_dst_may_be_src_and_no_temporary_file_is_left(tmp_path: Path) -> None:
    src = leads_workbook(tmp_path / "s.xlsx", rows=3)
    annotate_workbook(src, src, "leads", STATUS, 1, {2: ["ok", ""], 4: ["failed", "boom"]})
    annotate_workbook(src, src, "leads", STATUS, 1, {2: ["ok", ""], 4: ["ok", ""]})
    assert [p.name for p in tmp_path.iterdir()] == ["s.xlsx"]
    rows = calamine(src, "leads")
    assert [row[8:] for row in rows] == [
        ["merge_status", "merge_errors"],
        ["ok", ""],
        ["", ""],
        ["ok", ""],
    ]


def test_xlsm_keeps_its_vba_project_byte_for_byte(tmp_path: Path) -> None:
    vba = bytes(range(256)) * 40
    src = raw_xlsx(
        tmp_path / "m.xlsm",
        {"S": sheet('<row r="1"><c r="A1"><v>1</v></c></row>')},
        extra={"xl/vbaProject.bin": vba},
    )
    dst = tmp_path / "out.xlsm"
    annotate_workbook(src, dst, "S", [(1, "status")], 1, {2: ["ok"]})
    assert members(dst)["xl/vbaProject.bin"] == vba
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(dst) as b:
        assert (
            b.getinfo("xl/vbaProject.bin").compress_type
            == a.getinfo("xl/vbaProject.bin").compress_type
        )


# -- the openpyxl fallback ---------------------------------------------------------------------


def test_fallback_writes_the_same_cells_as_the_fast_path(tmp_path: Path) -> None:
    src = leads_workbook(tmp_path / "s.xlsx", rows=6)
    values = {2: ["ok", ""], 3: ["=1+1", "a < b"], 5: ["", "x"], 9: ["new", "row"]}
    fast, slow = tmp_path / "fast.xlsx", tmp_path / "slow.xlsx"
    annotate_workbook(src, fast, "leads", STATUS, 1, values)
    xlsx._annotate_with_openpyxl(src, slow, "leads", STATUS, 1, values)
    assert cells(fast, "leads") == cells(slow, "leads")
    assert calamine(fast, "leads")[:7] == calamine(slow, "leads")[:7]
    assert openpyxl.load_workbook(slow)["leads"]["J1"].font.b


def test_xml_without_r_attributes_is_patched_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = (
        '<row><c t="inlineStr"><is><t>name</t></is></c></row><row><c><v>7</v></c></row>'
        "<row><c><f>A2*2</f><v>14</v></c><c/></row>"
    )
    src = raw_xlsx(tmp_path / "n.xlsx", {"S": sheet(rows)})
    calls = spy_on_fallback(monkeypatch)
    dst = tmp_path / "out.xlsx"
    annotate_workbook(src, dst, "S", [(2, "status")], 1, {2: ["=ok"], 5: ["new"]})
    assert calls == []
    assert calamine(dst, "S") == [
        ["name", "", "status"],
        [7.0, "", "=ok"],
        [14.0, "", ""],
        ["", "", ""],
        ["", "", "new"],
    ]
    # The formula and its saved value are as they were.
    assert openpyxl.load_workbook(dst)["S"]["A3"].value == "=A2*2"
    assert openpyxl.load_workbook(dst, data_only=True)["S"]["A3"].value == 14


def test_a_cell_without_r_is_found_beside_text_that_looks_like_one(tmp_path: Path) -> None:
    """A row mixing cells with and without r, beside text that looks like a reference."""
    rows = (
        '<row r="1"><c r="A1" t="inlineStr"><is><t>name</t></is></c></row>'
        '<row r="2"><c t="inlineStr"><is><t>x</t></is></c>'
        '<c r="B2" t="inlineStr"><is><t>say r="B9"</t></is></c></row>'
    )
    src = raw_xlsx(tmp_path / "t.xlsx", {"S": sheet(rows)})
    dst = tmp_path / "out.xlsx"
    annotate_workbook(src, dst, "S", [(0, "name"), (2, "status")], 1, {2: ["y", "ok"]})
    assert calamine(dst, "S") == [["name", "", "status"], ["y", 'say r="B9"', "ok"]]


def test_a_formula_showing_the_written_text_stays_a_formula(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = (
        '<row r="1"><c r="A1" t="inlineStr"><is><t>callback_id</t></is></c></row>'
        '<row r="2"><c r="A2" t="str"><f>"lead-"&amp;ROW()</f><v>lead-2</v></c></row>'
        '<row r="3"><c r="A3"><f>ROW()*10</f><v>30</v></c></row>'
    )
    src = raw_xlsx(tmp_path / "f.xlsx", {"S": sheet(rows)})
    calls = spy_on_fallback(monkeypatch)
    dst = tmp_path / "out.xlsx"
    annotate_workbook(
        src,
        dst,
        "S",
        [(0, "callback_id"), (1, "video_id")],
        1,
        {2: ["lead-2", "v2"], 3: ["30", "v3"]},
    )
    assert calls == []
    book = openpyxl.load_workbook(dst)["S"]
    assert (book["A2"].value, book["A3"].value) == ('="lead-"&ROW()', "=ROW()*10")
    assert calamine(dst, "S") == [["callback_id", "video_id"], ["lead-2", "v2"], [30.0, "v3"]]


def test_overwriting_a_formula_with_other_text_replaces_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = '<row r="1"><c r="A1"><v>1</v></c><c r="B1"><f>A1+1</f><v>2</v></c></row>'
    src = raw_xlsx(tmp_path / "f.xlsx", {"S": sheet(rows)})
    calls = spy_on_fallback(monkeypatch)
    annotate_workbook(src, src, "S", [(1, "status")], 1, {})
    assert calls == []
    assert calamine(src, "S") == [[1.0, "status"]]


ODD_ROWS = {
    "cells out of order": '<row r="1"><c r="E1"><v>2</v></c><c r="D1"><v>1</v></c></row>',
    "rows out of order": '<row r="2"><c r="A2"><v>2</v></c></row><row r="1"><c r="A1"/></row>',
    "comment between rows": '<row r="1"><c r="A1"><v>1</v></c></row><!-- <row r="9"/> -->',
    "CDATA in a cell": '<row r="1"><c r="A1" t="inlineStr"><is><t><![CDATA[</row>]]></t></is></c>'
    "</row>",
    "cell in the wrong row": '<row r="1"><c r="A2"><v>1</v></c></row>',
}


@pytest.mark.parametrize("case", ODD_ROWS)
def test_odd_xml_falls_back_to_openpyxl(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    src = raw_xlsx(tmp_path / "o.xlsx", {"S": sheet(ODD_ROWS[case])})
    before = cells(src, "S")
    calls = spy_on_fallback(monkeypatch)
    dst = tmp_path / "out.xlsx"
    annotate_workbook(src, dst, "S", [(3, "status")], 1, {2: ["ok"]})
    assert len(calls) == 1
    assert cells(dst, "S") == {**before, "D1": "status", "D2": "ok"}


def test_the_fallback_keeps_formulas_and_their_saved_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = (
        '<row r="1"><c r="A1" t="inlineStr"><is><t><![CDATA[n <&> ]]></t></is></c></row>'
        '<row r="2"><c r="A2"><v>4</v></c><c r="B2"><f>A2*2</f><v>8</v></c>'
        '<c r="C2" t="str"><f>"id-"&amp;A2</f><v>id-4</v></c>'
        '<c r="D2" t="b"><f>A2&gt;1</f><v>1</v></c></row>'
    )
    src = raw_xlsx(tmp_path / "c.xlsx", {"S": sheet(rows)})
    calls = spy_on_fallback(monkeypatch)
    dst = tmp_path / "out.xlsx"
    annotate_workbook(src, dst, "S", [(4, "status")], 1, {2: ["ok"]})
    assert len(calls) == 1
    assert openpyxl.load_workbook(dst)["S"]["B2"].value == "=A2*2"
    assert calamine(dst, "S")[1] == [4.0, 8.0, "id-4", True, "ok"]
    assert uncomputed_formulas(dst, "S") == set()


def test_the_fallback_keeps_custom_document_properties(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "p.xlsx"
    book, ws = new_workbook("S")
    ws.append(["name"])
    book.custom_doc_props.append(StringProperty(name="Campaign", value="spring"))  # type: ignore[attr-defined]
    book.save(src)
    with zipfile.ZipFile(src) as zf:
        parts = {name: zf.read(name) for name in zf.namelist()}
    member = "xl/worksheets/sheet1.xml"
    parts[member] = parts[member].replace(b"<sheetData>", b"<sheetData><!-- x -->", 1)
    with zipfile.ZipFile(src, "w") as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    calls = spy_on_fallback(monkeypatch)
    annotate_workbook(src, tmp_path / "out.xlsx", "S", [(1, "status")], 1, {2: ["ok"]})
    assert len(calls) == 1
    kept = openpyxl.load_workbook(tmp_path / "out.xlsx").custom_doc_props  # type: ignore[attr-defined]
    assert [(p.name, p.value) for p in kept] == [("Campaign", "spring")]


def test_the_fallback_keeps_vba_in_an_xlsm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vba = b"fake vba project"
    src = raw_xlsx(
        tmp_path / "m.xlsm",
        {"S": sheet("<row><c><v>1</v></c></row>")},
        extra={"xl/vbaProject.bin": vba},
    )
    calls = spy_on_fallback(monkeypatch)
    annotate_workbook(src, src, "S", [(1, "status")], 1, {2: ["ok"]})
    assert calls == []
    assert members(src)["xl/vbaProject.bin"] == vba
    assert calamine(src, "S") == [[1.0, "status"], ["", "ok"]]


# -- uncomputed_formulas -----------------------------------------------------------------------


def test_formulas_written_by_openpyxl_have_no_cached_values(tmp_path: Path) -> None:
    src = leads_workbook(tmp_path / "s.xlsx", rows=3)
    assert uncomputed_formulas(src, "leads") == {(2, 3), (3, 3), (4, 3)}
    assert uncomputed_formulas(src, "notes") == set()


UNCOMPUTED_ROWS = (
    '<row r="1"><c r="A1"><v>1</v></c><c r="B1"><f>A1+1</f><v>2</v></c>'
    '<c r="C1"><f>A1+2</f></c><c r="D1"><f>A1+3</f><v></v></c><c r="E1"><f>A1+4</f><v/></c></row>'
    '<row r="2"><c r="A2"><f t="shared" ref="A2:A4" si="0">B1*2</f></c>'
    '<c r="B2" t="str"><f>""</f><v></v></c><c r="C2" t="str"><f>"x"</f><v>x</v></c></row>'
    '<row r="3"><c r="A3"><f t="shared" si="0"/></c></row>'
    '<row r="4"><c r="A4"><f t="shared" si="0"/><v>8</v></c></row>'
)
UNCOMPUTED = {(1, 2), (1, 3), (1, 4), (2, 0), (3, 0)}


def test_uncomputed_formulas_finds_exactly_the_cells_without_values(tmp_path: Path) -> None:
    src = raw_xlsx(tmp_path / "u.xlsx", {"S": sheet(UNCOMPUTED_ROWS)})
    assert uncomputed_formulas(src, "S") == UNCOMPUTED


def test_uncomputed_formulas_slow_path_agrees_and_infers_missing_refs(tmp_path: Path) -> None:
    src = raw_xlsx(tmp_path / "u.xlsx", {"S": sheet(UNCOMPUTED_ROWS)})
    with zipfile.ZipFile(src) as zf, zf.open("xl/worksheets/sheet1.xml") as stream:
        assert set(xlsx._formula_problems_slow(stream)) == UNCOMPUTED
    bare = "<row><c><v>1</v></c><c><f>A1</f></c></row><row/><row><c/><c><f>A1</f><v>1</v></c></row>"
    src = raw_xlsx(tmp_path / "bare.xlsx", {"S": sheet(bare)})
    assert uncomputed_formulas(src, "S") == {(1, 1)}


CHUNK_CASES = {
    "quirky": sheet(QUIRKY_ROWS, "B2:C5", QUIRKY_ROOT),
    "prefixed": PREFIXED_XML,
    "formulas": sheet(UNCOMPUTED_ROWS),
    "empty": sheet("").replace("<sheetData></sheetData>", "<sheetData/>"),
}


@pytest.mark.parametrize("chunk", [1, 3, 7])
@pytest.mark.parametrize("case", CHUNK_CASES)
def test_tiny_read_chunks_give_the_same_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, chunk: int
) -> None:
    src = raw_xlsx(tmp_path / "c.xlsx", {"S": CHUNK_CASES[case]}, shared=["a", "b", "c"])
    values = {2: ["ok & fine"], 3: ["x"], 4: [""], 9: ["y"]}
    normal, tiny = tmp_path / "normal.xlsx", tmp_path / "tiny.xlsx"
    annotate_workbook(src, normal, "S", [(5, "status")], 1, values)
    formulas = uncomputed_formulas(src, "S")
    monkeypatch.setattr(xlsx, "_CHUNK", chunk)
    monkeypatch.setattr(xlsx, "_annotate_with_openpyxl", None)  # any fallback would fail
    annotate_workbook(src, tiny, "S", [(5, "status")], 1, values)
    assert member_xml(tiny, "S", "S") == member_xml(normal, "S", "S")
    assert uncomputed_formulas(src, "S") == formulas


# -- errors ------------------------------------------------------------------------------------


def test_a_file_that_is_not_a_zip_is_a_sheet_error(tmp_path: Path) -> None:
    src = tmp_path / "leads.xlsx"
    src.write_text("name,email\n")
    with pytest.raises(SheetError, match=r"is not an \.xlsx workbook"):
        annotate_workbook(src, tmp_path / "out.xlsx", "S", STATUS, 1, {})
    with pytest.raises(SheetError, match=r"is not an \.xlsx workbook"):
        uncomputed_formulas(src, "S")


def test_an_encrypted_workbook_is_a_sheet_error_with_a_hint(tmp_path: Path) -> None:
    src = tmp_path / "secret.xlsx"
    src.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(1024))
    with pytest.raises(SheetError, match="password-protected") as info:
        annotate_workbook(src, tmp_path / "out.xlsx", "S", STATUS, 1, {})
    assert info.value.hint is not None
    assert "save as .xlsx" in info.value.hint


def test_missing_file_and_unknown_sheet_are_sheet_errors(tmp_path: Path) -> None:
    with pytest.raises(SheetError, match="no such file"):
        annotate_workbook(tmp_path / "nope.xlsx", tmp_path / "out.xlsx", "S", STATUS, 1, {})
    src = leads_workbook(tmp_path / "s.xlsx", rows=1)
    with pytest.raises(SheetError, match='no sheet named "Leads"'):
        annotate_workbook(src, tmp_path / "out.xlsx", "Leads", STATUS, 1, {})
    assert not (tmp_path / "out.xlsx").exists()


@pytest.mark.parametrize("where", ["missing folder", "folder is a file"])
def test_an_unusable_dst_folder_is_an_output_error(tmp_path: Path, where: str) -> None:
    src = leads_workbook(tmp_path / "s.xlsx", rows=1)
    folder = tmp_path / "out"
    if where == "folder is a file":
        folder.write_text("")
    with pytest.raises(OutputError, match="cannot write in") as info:
        annotate_workbook(src, folder / "o.xlsx", "leads", STATUS, 1, {2: ["ok", ""]})
    assert info.value.hint is not None
    assert "-o" in info.value.hint


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permissions")
def test_a_read_only_dst_folder_is_an_output_error(tmp_path: Path) -> None:
    src = leads_workbook(tmp_path / "s.xlsx", rows=1)
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="cannot write in"):
            annotate_workbook(src, folder / "o.xlsx", "leads", STATUS, 1, {})
    finally:
        folder.chmod(0o700)


def test_a_locked_dst_is_an_output_error_and_stays_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = leads_workbook(tmp_path / "s.xlsx", rows=1)
    before = src.read_bytes()

    def locked(a: object, b: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", locked)
    with pytest.raises(OutputError, match="may be open in Excel") as info:
        annotate_workbook(src, src, "leads", STATUS, 1, {2: ["ok", ""]})
    assert info.value.hint is not None
    assert "close it in Excel" in info.value.hint
    assert src.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["s.xlsx"]


# -- larger and generated inputs ---------------------------------------------------------------


def test_a_20000_row_workbook_annotates_correctly(tmp_path: Path) -> None:
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("big")
    ws.append(["id", "name", "email", "n"])
    for i in range(20_000):
        ws.append([i, f"name {i}", f"u{i}@example.com", i % 7])
    src = tmp_path / "big.xlsx"
    wb.save(src)
    values = {r: [f"status {r}", "" if r % 2 else f"error {r}"] for r in range(2, 20_002)}
    annotate_workbook(src, src, "big", [(4, "merge_status"), (5, "merge_errors")], 1, values)
    rows = calamine(src, "big")
    assert len(rows) == 20_001
    assert rows[0] == ["id", "name", "email", "n", "merge_status", "merge_errors"]
    for r in (2, 3, 777, 10_000, 20_001):
        assert rows[r - 1] == [r - 2, f"name {r - 2}", f"u{r - 2}@example.com", (r - 2) % 7,
                               f"status {r}", "" if r % 2 else f"error {r}"]  # fmt: skip
    assert_sheet_is_sound(src, "big")


def test_wrong_arguments_are_programming_errors(tmp_path: Path) -> None:
    src = leads_workbook(tmp_path / "s.xlsx", rows=1)
    with pytest.raises(ValueError, match="2 texts"):
        annotate_workbook(src, src, "leads", STATUS, 1, {2: ["only one"]})
    with pytest.raises(ValueError, match="distinct"):
        annotate_workbook(src, src, "leads", [(8, "a"), (8, "b")], 1, {})


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(texts=st.lists(st.text(max_size=40), min_size=1, max_size=4))
def test_any_text_round_trips_through_calamine(tmp_path: Path, texts: list[str]) -> None:
    src = raw_xlsx(tmp_path / "h.xlsx", {"S": sheet('<row r="1"><c r="A1"><v>1</v></c></row>')})
    values = {row: [text] for row, text in enumerate(texts, 2)}
    annotate_workbook(src, tmp_path / "out.xlsx", "S", [(1, "t")], 1, values)
    got = [row[1] for row in calamine(tmp_path / "out.xlsx", "S")[1:]]
    expected = [xlsx._ILLEGAL_XML.sub("", text) for text in texts]
    while expected and not expected[-1]:
        expected.pop()
    assert got == expected
