"""What calamine does not tell about a sheet: each cell's number format, and which rows are hidden.

Read from the workbook's styles (cellXfs and numFmts) and one streamed pass over the sheet's XML,
row by row, so a large sheet never sits in memory.
"""

from __future__ import annotations

import contextlib
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import IO
from xml.etree import ElementTree

from merge.sheets import xlsx_write
from merge.sheets.numfmt import BUILTIN_FORMATS, is_general

_CHUNK = 1 << 20
_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(row|c)(\s[^>]*?)?(/?)>")
_ATTR_R = re.compile(rb"""\sr\s*=\s*["']([A-Z]*)([0-9]+)["']""")
_ATTR_S = re.compile(rb"""\ss\s*=\s*["']([0-9]+)["']""")
_HIDDEN = re.compile(rb"""\shidden\s*=\s*["'](?:1|true)["']""")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def cell_formats(zf: zipfile.ZipFile, styles_member: str | None) -> list[str | None]:
    """Each cell style's number format code, by style index; None for General."""
    if styles_member is None:
        return []
    try:
        root = ElementTree.fromstring(zf.read(styles_member))
    except (KeyError, ElementTree.ParseError):
        return []
    custom: dict[int, str] = {}
    formats: list[str | None] = []
    for element in root:
        name = _local(element.tag)
        if name == "numFmts":
            for item in element:
                number = item.get("numFmtId", "")
                if number.isdigit():
                    custom[int(number)] = item.get("formatCode", "")
        elif name == "cellXfs":
            for xf in element:
                number = xf.get("numFmtId", "0")
                index = int(number) if number.isdigit() else 0
                code = custom.get(index, BUILTIN_FORMATS.get(index))
                formats.append(None if is_general(code) else code)
    return formats


@dataclass
class RowLayout:
    """One row's hidden flag and the format of each of its cells that has one (by column)."""

    number: int
    hidden: bool = False
    formats: dict[int, str] = field(default_factory=dict)


def row_layouts(stream: IO[bytes], formats: list[str | None]) -> Iterator[RowLayout]:
    """Yield, in sheet order, each row that is hidden or has formatted cells."""
    buf = stream.read(_CHUNK)
    plain = formats[0] if formats else None
    if plain is not None or _ROW_WITHOUT_R.search(buf) or _CELL_WITHOUT_R.search(buf):
        yield from _row_layouts_counted(buf, stream, formats)
        return
    styled = tuple(i for i, code in enumerate(formats) if code is not None)
    pattern = _pattern(styled)
    current: RowLayout | None = None
    while True:
        chunk = stream.read(_CHUNK)
        buf += chunk
        end = len(buf) if not chunk else max(buf.rfind(b"<"), 0)
        # Without formatted styles only hidden rows matter, and most chunks hold none.
        matches = pattern.finditer(buf, 0, end) if styled or b"hidden" in buf else ()
        for match in matches:
            hidden_row, letters, cell_row, style = match.groups()
            number = int(hidden_row or cell_row)
            if current is None or current.number != number:
                if current is not None:
                    yield current
                current = RowLayout(number)
            if hidden_row:
                current.hidden = True
            else:
                code = formats[int(style)]
                if code is not None:
                    current.formats[_column(letters)] = code
        buf = buf[end:]
        if not chunk:
            break
    if current is not None:
        yield current


_R = rb"""(?=[^>]*?\sr\s*=\s*["']%b["'])"""


@lru_cache(maxsize=16)
def _pattern(styled: tuple[int, ...]) -> re.Pattern[bytes]:
    """Match hidden rows and the cells of formatted styles only: Python never sees the others.

    Groups: a hidden row's number; else a cell's column letters, row number and style.
    """
    prefix = rb"<(?:[A-Za-z_][\w.-]*:)?"
    rows = (
        prefix
        + rb"row"
        + _R % rb"([0-9]+)"
        + rb"""(?=[^>]*?\shidden\s*=\s*["'](?:1|true)["'])[^>]*>"""
    )
    if not styled:
        return re.compile(rows + rb"()()()")
    indexes = b"|".join(str(i).encode() for i in styled)
    cells = (
        prefix
        + rb"c"
        + _R % rb"([A-Z]+)([0-9]+)"
        + rb"""(?=[^>]*?\ss\s*=\s*["'](%b)["'])[\s>/]""" % indexes
    )
    return re.compile(rows + b"|" + cells)


_ROW_WITHOUT_R = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row(?![^>]*\sr\s*=)(?:\s[^>]*)?/?>")
_CELL_WITHOUT_R = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c(?![^>]*\sr\s*=)(?:\s[^>]*)?/?>")


def _row_layouts_counted(
    head: bytes, stream: IO[bytes], formats: list[str | None]
) -> Iterator[RowLayout]:
    """The same, for XML whose rows or cells leave out their r: every tag is looked at."""
    current: RowLayout | None = None
    row, col = 0, -1
    buf = head
    while True:
        chunk = stream.read(_CHUNK)
        buf += chunk
        end = len(buf) if not chunk else buf.rfind(b"<")
        for match in _TAG.finditer(buf, 0, max(end, 0)):
            attrs = match.group(2) or b""
            if match.group(1) == b"row":
                if current is not None and (current.hidden or current.formats):
                    yield current
                ref = _ATTR_R.search(attrs)
                row, col = (int(ref.group(2)) if ref else row + 1), -1
                current = RowLayout(row, _HIDDEN.search(attrs) is not None)
                continue
            ref = _ATTR_R.search(attrs)
            col = _column(ref.group(1)) if ref and ref.group(1) else col + 1
            if current is None:
                continue
            style = _ATTR_S.search(attrs)
            index = int(style.group(1)) if style else 0
            code = formats[index] if index < len(formats) else None
            if code is not None:
                current.formats[col] = code
        buf = buf[max(end, 0) :]
        if not chunk:
            break
    if current is not None and (current.hidden or current.formats):
        yield current


@lru_cache(maxsize=1024)
def _column(letters: bytes) -> int:
    index = 0
    for letter in letters:
        index = index * 26 + letter - 64
    return index - 1


@contextlib.contextmanager
def sheet_layouts(path: Path, sheet_name: str) -> Iterator[Iterator[RowLayout]]:
    """Open a workbook's sheet and yield the stream of its hidden or formatted rows."""
    with xlsx_write.open_package(path) as zf:
        member = xlsx_write.sheet_xml_path(zf, sheet_name)
        formats = cell_formats(zf, _styles_member(zf))
        with zf.open(member) as stream:
            yield row_layouts(stream, formats)


def _styles_member(zf: zipfile.ZipFile) -> str | None:
    book = xlsx_write.workbook_part(zf)
    for kind, name in xlsx_write.relationships(zf, book).values():
        if kind.endswith("/styles"):
            members = {member.lower(): member for member in zf.namelist()}
            return members.get(name.lower())
    return None
