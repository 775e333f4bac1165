"""Marked copies written as their rows' texts arrive, and the usual rows' shortcuts.

The workbook shortcut (`_UsualRows`) must give the general patch's bytes or step aside; a
streamed copy (workbook or CSV) must be the copy written from a finished mapping, and must not
wait for the last row to start.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from merge.review.marked import MarkedCopy
from merge.sheets import xlsx_kinds as typed
from merge.sheets import xlsx_write as xlsx
from merge.sheets.cells import SheetInfo
from merge.sheets.delimited import annotate_csv
from merge.sheets.sheet import open_sheet
from merge.sheets.xlsx_write import annotate_workbook
from tests.test_xlsx import raw_xlsx, sheet

TEXTS = st.sampled_from(
    (
        *("", "valid", "invalid", "a & b <c>", "שלום 👋", "x" * 70),
        *("2026-11-30T20:51:03Z", "12.5", "https://e.example/v.mp4"),
    )
)
NAMES = st.sampled_from(["merge_status", "merge_errors", "video_id", "video_url", "duration"])


@st.composite
def cells(draw: st.DrawFn, row: int, prefix: str) -> str:
    """A row's cells: refs present or not, r first or not, quotes of either kind."""
    columns = sorted(draw(st.sets(st.integers(0, 6), max_size=4)))
    out = []
    for col in columns:
        ref = f"{chr(65 + col)}{draw(st.sampled_from([row, row, row, row + 1]))}"
        form = draw(st.sampled_from(["first", "first", "later", "single", "none"]))
        attrs = {
            "first": f' r="{ref}" t="s"',
            "later": f' s="1" r="{ref}"',
            "single": f" r='{ref}'",
            "none": ' t="s"',
        }[form]
        inner = draw(st.sampled_from(["<v>0</v>", "", "<f>1+1</f><v>valid</v>"]))
        out.append(
            f"<{prefix}c{attrs}/>" if not inner else f"<{prefix}c{attrs}>{inner}</{prefix}c>"
        )
    if draw(st.booleans()) and out:
        out.insert(draw(st.integers(0, len(out))), f"<{prefix}extLst/>")
    return "".join(out)


@st.composite
def usual_cases(draw: st.DrawFn) -> tuple[bytes, int, tuple[str, ...], xlsx._Plan, str]:
    prefix = draw(st.sampled_from(["", "", "x:"]))
    row = draw(st.integers(1, 40))
    spans = draw(st.sampled_from(["", ' spans="1:3"', " spans='2:7'", ' spans="x"']))
    attrs = draw(st.sampled_from([f' r="{row}"{spans}', f'{spans} r="{row}"', spans]))
    body = draw(cells(row, prefix))
    space = draw(st.sampled_from(["", "\n  "]))
    names = draw(st.lists(NAMES, min_size=1, max_size=3, unique=True))
    cols = sorted(draw(st.sets(st.integers(2, 9), min_size=len(names), max_size=len(names))))
    header = draw(st.sampled_from([1, row]))
    texts = tuple(draw(TEXTS) for _ in names)
    plan = xlsx._Plan(tuple(cols), header, typed.kinds_of(names))
    element = f"{space}<{prefix}row{attrs}>{body}</{prefix}row>"
    return element.encode(), row, texts, plan, prefix


def cut(element: bytes, prefix: str) -> xlsx._Row:
    syn = xlsx._syntax(prefix.encode())
    tag = syn.row.match(element)
    assert tag is not None
    cut_row = xlsx._cut_row(element, 0, tag, syn)
    assert cut_row is not None
    return cut_row


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(usual_cases())
def test_the_usual_row_shortcut_gives_the_general_patchs_bytes_or_steps_aside(
    case: tuple[bytes, int, tuple[str, ...], xlsx._Plan, str],
) -> None:
    element, row, texts, plan, prefix = case
    syn = xlsx._syntax(prefix.encode())
    for with_links in (False, True):
        short = xlsx._Plan(plan.cols, plan.header_row, plan.kinds, 7, links(with_links))
        whole = xlsx._Plan(plan.cols, plan.header_row, plan.kinds, 7, links(with_links))
        shortcut = xlsx._UsualRows(short, syn).patch(cut(element, prefix), row, texts)
        try:
            general = xlsx._patch_row(cut(element, prefix), row, texts, whole, syn)
        except xlsx._Unsupported:
            assert shortcut is None
            continue
        if shortcut is not None:
            assert shortcut == general
            assert short.links == whole.links


def links(wanted: bool) -> typed.Links | None:
    return typed.Links() if wanted else None


def test_the_random_rows_take_the_shortcut_often_enough_to_prove_it() -> None:
    taken = []

    @settings(max_examples=200, deadline=None, derandomize=True, database=None)
    @given(usual_cases())
    def tally(case: tuple[bytes, int, tuple[str, ...], xlsx._Plan, str]) -> None:
        element, row, texts, plan, prefix = case
        patched = xlsx._UsualRows(plan, xlsx._syntax(prefix.encode())).patch(
            cut(element, prefix), row, texts
        )
        taken.append(patched is not None)

    tally()
    assert 0.05 < sum(taken) / len(taken) < 0.95


def test_the_usual_row_takes_the_shortcut() -> None:
    element = b'<row r="5" spans="1:2"><c r="A5" t="s"><v>0</v></c><c r="B5"><v>1</v></c></row>'
    plan = xlsx._Plan((2, 3), 1, typed.kinds_of(["merge_status", "merge_errors"]))
    patched = xlsx._UsualRows(plan, xlsx._syntax(b"")).patch(cut(element, ""), 5, ("valid", ""))
    assert patched == (
        b'<row r="5" spans="1:4"><c r="A5" t="s"><v>0</v></c><c r="B5"><v>1</v></c>'
        b'<c r="C5" t="inlineStr"><is><t xml:space="preserve">valid</t></is></c></row>'
    )


ROWS = "".join(
    f'<row r="{r}" spans="1:2"><c r="A{r}" t="inlineStr"><is><t>name {r}</t></is></c>'
    f'<c r="B{r}"><v>{r}</v></c></row>'
    for r in range(1, 41)
)
COLUMNS = [(2, "merge_status"), (3, "merge_errors")]


class Arriving(dict[int, Sequence[str]]):
    """Values handed over in two halves; the second only once the first has been read."""

    def __init__(self, values: dict[int, Sequence[str]], split: int) -> None:
        super().__init__(values)
        self.split = split
        self.first_half_read = threading.Event()
        self.second_half_given = threading.Event()

    def in_row_order(self) -> Iterator[tuple[int, Sequence[str]]]:
        for row, texts in sorted(self.items()):
            if row == self.split:
                self.first_half_read.set()
                assert self.second_half_given.wait(10)
            yield row, texts


def values() -> dict[int, Sequence[str]]:
    return {
        r: ("valid", "") if r % 7 else ("invalid", f"row {r}: script is empty " * 4)
        for r in range(2, 41)
    }


def test_rows_are_patched_as_they_arrive_into_the_same_copy(tmp_path: Path) -> None:
    src = raw_xlsx(tmp_path / "in.xlsx", {"S": sheet(ROWS, "A1:B40")})
    whole = tmp_path / "whole.xlsx"
    annotate_workbook(src, whole, "S", COLUMNS, 1, values())

    arriving = Arriving(values(), split=20)
    streamed = tmp_path / "streamed.xlsx"
    writer = threading.Thread(
        target=annotate_workbook, args=(src, streamed, "S", COLUMNS, 1, arriving)
    )
    writer.start()
    assert arriving.first_half_read.wait(10), "the copy waited for every row before starting"
    assert not streamed.exists()  # the head (widths, dimension) waits for the last row
    arriving.second_half_given.set()
    writer.join(10)
    assert streamed.read_bytes() == whole.read_bytes()


def test_a_workbook_copy_stopped_midway_leaves_nothing(tmp_path: Path) -> None:
    src = raw_xlsx(tmp_path / "in.xlsx", {"S": sheet(ROWS, "A1:B40")})
    out = tmp_path / "out"
    out.mkdir()
    info = info_of(src)
    copy = MarkedCopy(info, out / "in.xlsx")
    copy.marks.arrive([(r, "valid", "") for r in range(2, 20)])
    copy.stop()
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("prefix", ["", "x:"])
def test_a_streamed_copy_of_a_prefixed_or_plain_sheet_is_complete(
    tmp_path: Path, prefix: str
) -> None:
    rows = ROWS.replace("<row", f"<{prefix}row").replace("</row", f"</{prefix}row")
    rows = rows.replace("<c ", f"<{prefix}c ").replace("</c>", f"</{prefix}c>")
    rows = rows.replace("<v>", f"<{prefix}v>").replace("</v>", f"</{prefix}v>")
    rows = rows.replace("<is><t>", f"<{prefix}is><{prefix}t>")
    rows = rows.replace("</t></is>", f"</{prefix}t></{prefix}is>")
    root = (
        ""
        if not prefix
        else f' xmlns:x="{"http://schemas.openxmlformats.org/spreadsheetml/2006/main"}"'
    )
    xml = sheet(rows, "A1:B40", root)
    if prefix:
        xml = xml.replace("<worksheet", "<x:worksheet").replace("</worksheet>", "</x:worksheet>")
        xml = xml.replace("<dimension", "<x:dimension").replace("<sheetData>", "<x:sheetData>")
        xml = xml.replace("</sheetData>", "</x:sheetData>").replace(
            "<pageMargins", "<x:pageMargins"
        )
    src = raw_xlsx(tmp_path / "in.xlsx", {"S": xml})
    info = info_of(src)
    copy = MarkedCopy(info, tmp_path / "out.xlsx")
    marks = [(r, "valid" if r % 5 else "invalid", "" if r % 5 else "empty") for r in range(2, 41)]
    copy.marks.arrive(marks[:10])
    copy.marks.arrive(marks[10:])
    copy.finish()
    xml_out = xlsx_member(tmp_path / "out.xlsx")
    assert xml_out.count(b"inlineStr") == 40 + 2 + 39 + 8  # names, headers, statuses, errors
    assert b'ref="A1:D40"' in xml_out


def info_of(src: Path) -> SheetInfo:
    return SheetInfo(
        path=src,
        kind="xlsx",
        columns=("name", "n"),
        positions=(0, 1),
        header_row=1,
        width=2,
        sheet_name="S",
    )


def xlsx_member(path: Path) -> bytes:
    import zipfile

    with zipfile.ZipFile(path) as zf:
        return zf.read("xl/worksheets/sheet1.xml")


def test_a_csv_copy_is_written_as_the_rows_arrive_into_the_same_copy(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    lines = ["name,n,note"] + [f"name {r},{r},x" for r in range(2, 41)]
    lines[6] = "short"  # row 7: a record that needs padding goes the general way
    src.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    info = open_sheet(src).info
    columns = [(3, "merge_status"), (4, "merge_errors")]
    whole = tmp_path / "whole.csv"
    annotate_csv(info, whole, columns, values())

    arriving = Arriving(values(), split=20)
    streamed = tmp_path / "streamed.csv"
    writer = threading.Thread(target=annotate_csv, args=(info, streamed, columns, arriving))
    writer.start()
    assert arriving.first_half_read.wait(10), "the copy waited for every row before starting"
    arriving.second_half_given.set()
    writer.join(10)
    assert streamed.read_bytes() == whole.read_bytes()
    assert b"name,n,note,merge_status,merge_errors\r\nname 2,2,x,valid,\r\n" in whole.read_bytes()
    assert b"\r\nshort,,,invalid,row 7: script is empty" in whole.read_bytes()
