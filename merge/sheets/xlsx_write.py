"""Write result columns into a copy of the user's workbook, leaving every other part as it was.

A full openpyxl load and save of a large sheet takes tens of seconds and drops cached formula
values, so the fast path streams the one worksheet's XML, patches only the rows it must, and copies
every other zip member unchanged. XML the fast path does not expect goes through openpyxl instead.
"""

from __future__ import annotations

import contextlib
import html
import os
import posixpath
import re
import secrets
import shutil
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from copy import copy
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import IO, TYPE_CHECKING, NamedTuple
from urllib.parse import unquote
from xml.etree import ElementTree

from merge.errors import OutputError, SheetError
from merge.problems import did_you_mean
from merge.sheets import xlsx_kinds as typed
from merge.sheets.cells import in_row_order
from merge.sheets.numfmt import to_serial

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet

_CHUNK = 1 << 20
_SPOOL = 16 << 20  # the patched rows stay in memory up to this size, then go to a file
SHEET_LEVEL = 1
"""The patched sheet's deflate level. It is compressed once its last row is written (its head
comes first and fits the rows), so it is the copy's last step: 57 MB of sheet XML (100,000
rows) take 0.21 s at level 1 against 0.56 s at zlib's default 6, for 6.6 MB against 5.7 MB.
The other members are deflated at the default level, as before."""
_MAX_TEXT = 32_767  # Excel's cell limit, counted in UTF-16 code units
_MAX_ROW, _MAX_COL = 1_048_576, 16_384
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # encrypted OOXML and legacy .xls are OLE compound files
_REPAIR_HINT = "open it in Excel, save it as .xlsx, and run again"
_STYLES = "xl/styles.xml"

_REF = re.compile(rb"""\sr\s*=\s*["']([A-Z]{1,3})([0-9]+)["']""")
_ROW_NUMBER = re.compile(rb"""\sr\s*=\s*["']([0-9]+)["']""")
_USUAL_REF = re.compile(rb' r="([A-Z]{1,3})([0-9]+)"')
_STYLE = re.compile(rb"""\ss\s*=\s*["']([0-9]+)["']""")
_STRING_TYPE = re.compile(rb"""\st\s*=\s*["']str["']""")
_SPANS = re.compile(rb"""\sspans\s*=\s*(["'])([^"']*)\1""")
_RANGE = re.compile(rb"([A-Z]{1,3})([0-9]+)(?::([A-Z]{1,3})([0-9]+))?")
_ROOT = re.compile(rb"<([A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)[\s/>]")
_ENCODING = re.compile(rb"""^(?:\xef\xbb\xbf)?<\?xml[^>]*encoding\s*=\s*["']([^"']+)["']""")
_ANY_FORMULA = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f[\s/>]")
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_EXCEL_ESCAPE = re.compile("_(x[0-9A-Fa-f]{4}_)")


class _Unsupported(Exception):
    """The sheet XML needs the general, slow path."""


# -- finding the sheet ------------------------------------------------------------------------


@contextlib.contextmanager
def open_package(path: Path) -> Iterator[zipfile.ZipFile]:
    """Open src as a zip, turning the usual wrong-file cases into a message with a next step."""
    head = b""
    try:
        with path.open("rb") as fh:
            head = fh.read(len(_OLE_MAGIC))
        book = zipfile.ZipFile(path)
    except FileNotFoundError as exc:
        raise SheetError(f"{path}: no such file", hint="check the path") from exc
    except (zipfile.BadZipFile, OSError) as exc:
        if head.startswith(_OLE_MAGIC):
            raise SheetError(
                f"{path}: is password-protected or in the old .xls format",
                hint="remove the password (File > Info > Protect Workbook), save as .xlsx, "
                "and run again",
            ) from exc
        raise SheetError(f"{path}: is not an .xlsx workbook", hint=_REPAIR_HINT) from exc
    with book:
        yield book


def _parse_part(zf: zipfile.ZipFile, name: str) -> ElementTree.Element:
    """Parse one small XML member of the package."""
    try:
        return ElementTree.fromstring(zf.read(name))
    except (KeyError, ElementTree.ParseError) as exc:
        raise SheetError(f"{zf.filename}: {name} is missing or damaged", hint=_REPAIR_HINT) from exc


def _local(tag: str) -> str:
    """Drop the namespace from an ElementTree tag or attribute name."""
    return tag.rsplit("}", 1)[-1]


def relationships(zf: zipfile.ZipFile, part: str) -> dict[str, tuple[str, str]]:
    """Map relationship id to (type, resolved member name) for one package part."""
    folder, base = posixpath.split(part)
    rels = _parse_part(zf, posixpath.join(folder, "_rels", f"{base}.rels"))
    found = {}
    for rel in rels:
        if _local(rel.tag) == "Relationship" and rel.get("TargetMode") != "External":
            target = unquote(rel.get("Target", ""))
            name = target[1:] if target.startswith("/") else posixpath.join(folder, target)
            found[rel.get("Id", "")] = (rel.get("Type", ""), posixpath.normpath(name))
    return found


def workbook_part(zf: zipfile.ZipFile) -> str:
    """Find the workbook part through the package relationships, as Excel does."""
    for kind, name in relationships(zf, "").values():
        if kind.endswith("/officeDocument"):
            return name
    raise SheetError(f"{zf.filename}: is not an Excel workbook", hint=_REPAIR_HINT)


def sheet_xml_path(zf: zipfile.ZipFile, sheet_name: str) -> str:
    """Resolve a sheet's name to its XML member, so callers can stream just that part."""
    book = workbook_part(zf)
    ids = {
        el.get("name", ""): next((v for k, v in el.attrib.items() if _local(k) == "id"), "")
        for el in _parse_part(zf, book).iter()
        if _local(el.tag) == "sheet"
    }
    if sheet_name not in ids:
        raise SheetError(
            f'{zf.filename}: no sheet named "{sheet_name}"{did_you_mean(sheet_name, ids)}',
            hint="choose one of: " + ", ".join(f'"{name}"' for name in ids),
        )
    kind, name = relationships(zf, book).get(ids[sheet_name], ("", ""))
    if not kind.endswith("/worksheet"):
        raise SheetError(f'{zf.filename}: sheet "{sheet_name}" is not a worksheet of cells')
    members = {member.lower(): member for member in zf.namelist()}
    if name.lower() not in members:
        raise SheetError(f"{zf.filename}: {name} is missing", hint=_REPAIR_HINT)
    return members[name.lower()]


# -- reading the sheet XML as a stream of rows --------------------------------------------------


@dataclass(frozen=True)
class _Syntax:
    """Regexes for one worksheet, whose elements may all carry a namespace prefix."""

    prefix: bytes
    row: re.Pattern[bytes]
    row_close: bytes
    cell: re.Pattern[bytes]
    sheet_data: re.Pattern[bytes]
    end: re.Pattern[bytes]
    dimension: re.Pattern[bytes]
    formula: re.Pattern[bytes]
    value: re.Pattern[bytes]
    value_tag: re.Pattern[bytes]
    cell_without_ref: re.Pattern[bytes]
    cell_open: bytes


@lru_cache(maxsize=8)
def _syntax(prefix: bytes) -> _Syntax:
    """Compile the regexes for a prefix such as b"" or b"x:"."""
    p = re.escape(prefix)
    return _Syntax(
        prefix=prefix,
        row=re.compile(rb"(\s*)<%brow(\s[^>]*?)?(/?)>" % p),
        row_close=b"</%brow>" % prefix,
        cell=re.compile(rb"<%bc(\s[^>]*?)?(?:/>|>(.*?)</%bc>)" % (p, p), re.S),
        sheet_data=re.compile(rb"<%bsheetData(?:\s[^>]*?)?(/?)>" % p),
        end=re.compile(rb"\s*</%bsheetData\s*>" % p),
        dimension=re.compile(rb"""(<%bdimension\s[^>]*?\bref\s*=\s*["'])([^"']*)""" % p),
        formula=re.compile(rb"<%bf[\s/>]" % p),
        value=re.compile(rb"<%bv(?:\s[^>]*)?>[^<]" % p),
        value_tag=re.compile(rb"<%bv[\s/>]" % p),
        cell_without_ref=re.compile(rb"""<%bc(?=[\s/>])(?![^>]*\sr\s*=)""" % p),
        cell_open=b"<%bc" % prefix,
    )


class _Row(NamedTuple):
    """One <row> element: its exact bytes, the space before it, its attributes and its body."""

    xml: bytes
    space: bytes
    attrs: bytes
    body: bytes | None


def _cut_row(buf: bytes, pos: int, tag: re.Match[bytes], syn: _Syntax) -> _Row | None:
    """Cut the row whose opening tag matched at pos, or return None if its end is not read yet."""
    if tag.group(3):
        end, body = tag.end(), None
    else:
        close = buf.find(syn.row_close, tag.end())
        if close < 0:
            return None
        end, body = close + len(syn.row_close), buf[tag.end() : close]
    # A comment or CDATA section could hide "</row>" and split a row wrongly.
    if buf.find(b"<!", pos, end) >= 0:
        raise _Unsupported("comment or CDATA among the cells")
    return _Row(buf[pos:end], tag.group(1), tag.group(2) or b"", body)


class _Sheet:
    """A worksheet XML stream split into the part before the rows, the rows, and the rest."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        buf = b""
        while (found := self._find_sheet_data(buf)) is None:
            chunk = stream.read(_CHUNK)
            if not chunk:
                raise _Unsupported("no <sheetData> element")
            buf += chunk
        self.syntax, opening = found
        self.head = buf[: opening.end()]
        self.empty = opening.group(1) == b"/"
        self._buf = buf[opening.end() :]

    @staticmethod
    def _find_sheet_data(buf: bytes) -> tuple[_Syntax, re.Match[bytes]] | None:
        """Find the root's prefix and the <sheetData> tag, once enough of the stream is read."""
        encoding = _ENCODING.match(buf)
        if encoding and encoding.group(1).lower().replace(b"-", b"") != b"utf8":
            raise _Unsupported("not UTF-8")
        root = _ROOT.search(buf)
        if root is None:
            return None
        if root.group(2) != b"worksheet":
            raise _Unsupported("the root is not <worksheet>")
        syntax = _syntax(root.group(1) or b"")
        opening = syntax.sheet_data.search(buf, root.end())
        return None if opening is None else (syntax, opening)

    def rows(self) -> Iterator[_Row]:
        """Yield each <row> element, in document order."""
        if self.empty:
            return
        syn = self.syntax
        buf, pos, eof = self._buf, 0, False
        while True:
            tag = syn.row.match(buf, pos)
            if tag is not None and (row := _cut_row(buf, pos, tag, syn)) is not None:
                pos += len(row.xml)
                yield row
            elif tag is None and syn.end.match(buf, pos):
                self._buf = buf[pos:]
                return
            elif eof:
                raise _Unsupported("unexpected element among the rows")
            else:
                chunk = self._stream.read(_CHUNK)
                buf, pos, eof = buf[pos:] + chunk, 0, not chunk

    def copy_rest(self, write: Callable[[bytes], object]) -> None:
        """Copy everything after the rows (closing tag included) unchanged."""
        write(self._buf)
        while chunk := self._stream.read(_CHUNK):
            write(chunk)


def _row_number(row: _Row, previous: int | None = None) -> int:
    """Read a row's r attribute; without one, a row follows the previous (as Excel reads it)."""
    if row.attrs.startswith(b' r="'):  # the usual form, read without a search
        digits = row.attrs[4 : row.attrs.find(b'"', 4)]
        if digits.isdigit():
            return int(digits)
    number = _ROW_NUMBER.search(row.attrs)
    if number is None:
        if previous is None:
            raise _Unsupported("a row without r")
        return previous + 1
    return int(number.group(1))


def _with_row_ref(element: _Row, row: int, syn: _Syntax) -> bytes:
    """The row element with its number written out, so rows inserted before it cannot shift it."""
    if _ROW_NUMBER.search(element.attrs):
        return element.xml
    opening = b'%b<%brow r="%d"%b' % (element.space, syn.prefix, row, element.attrs)
    return opening + element.xml[len(element.space) + len(syn.prefix) + 4 + len(element.attrs) :]


def _with_cell_refs(body: bytes, row: int, syn: _Syntax) -> bytes:
    """Write out the r of every cell of a row that lacks one: a cell follows the previous one."""
    if syn.cell_without_ref.search(body) is None:
        return body  # every cell has its r already: the usual case, told in one scan
    parts, pos, col = [], 0, -1
    for match in syn.cell.finditer(body):
        attrs = match.group(1) or b""
        ref = _REF.search(attrs)
        if ref is not None:
            col = _col_index(ref.group(1))
            continue
        col += 1
        start = match.start() + len(syn.cell_open)
        parts += [body[pos:start], b' r="%b%d"' % (_col_letters(col), row)]
        pos = start
    parts.append(body[pos:])
    return b"".join(parts)


@lru_cache(maxsize=4096)
def _col_index(letters: bytes) -> int:
    """Turn column letters into a 0-based index: A -> 0, AA -> 26."""
    index = 0
    for letter in letters:
        index = index * 26 + letter - 64
    return index - 1


@lru_cache(maxsize=4096)
def _col_letters(index: int) -> bytes:
    """Turn a 0-based column index into letters: 0 -> A, 26 -> AA."""
    letters = b""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = bytes([65 + rest]) + letters
    return letters


_Cell = tuple[int, int, int, bytes, bytes]  # column, start, end, attributes, inner XML


def _cell_at(body: bytes, start: int, row: int, syn: _Syntax) -> _Cell | None:
    """Parse the cell whose tag starts at start, or return None if "<c" began another tag."""
    match = syn.cell.match(body, start)
    if match is None:
        return None
    attrs = match.group(1) or b""
    ref = _REF.search(attrs)
    if ref is None or int(ref.group(2)) != row:
        raise _Unsupported("a cell without r, or in the wrong row")
    return _col_index(ref.group(1)), start, match.end(), attrs, match.group(2) or b""


def _tail_cells(
    body: bytes, row: int, syn: _Syntax, first: int
) -> tuple[list[_Cell], _Cell | None]:
    """Parse cells from the right until one lies left of column first, returned as the anchor."""
    # The written columns are usually the last ones, so most rows cost one or two cells.
    tail: list[_Cell] = []
    pos = limit = len(body)
    while (pos := body.rfind(syn.cell_open, 0, pos)) >= 0:
        cell = _cell_at(body, pos, row, syn)
        if cell is None:
            continue
        if cell[2] > limit or (tail and cell[0] >= tail[-1][0]):
            raise _Unsupported("cells overlap or are out of order")
        if cell[0] < first:
            return tail[::-1], cell
        tail.append(cell)
        limit = pos
    return tail[::-1], None


# -- formulas without cached values -------------------------------------------------------------


NO_SAVED_VALUE = "has no saved value"
_ERROR_TYPE = re.compile(rb"""\st\s*=\s*["']e["']""")
_VALUE_TEXT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?v(?:\s[^>]*)?>([^<]*)<")


def uncomputed_formulas(path: Path, sheet_name: str) -> set[tuple[int, int]]:
    """Find formula cells with no cached value, which readers like pandas would see as empty."""
    found = formula_problems(path, sheet_name)
    return {cell for cell, problem in found.items() if problem == NO_SAVED_VALUE}


def formula_problems(path: Path, sheet_name: str) -> dict[tuple[int, int], str]:
    """Say which formula cells show no value: none saved, or an Excel error such as #DIV/0!."""
    with open_package(path) as zf:
        member = sheet_xml_path(zf, sheet_name)
        with zf.open(member) as stream:
            if not _mentions_formula(stream):
                return {}
        try:
            with zf.open(member) as stream:
                return _formula_problems_fast(stream)
        except _Unsupported:
            with zf.open(member) as stream:
                return _formula_problems_slow(stream)


def _mentions_formula(stream: IO[bytes]) -> bool:
    """Scan the raw bytes for any <f> tag, so sheets without formulas cost one quick pass."""
    edge = b""
    while chunk := stream.read(_CHUNK):
        window = edge + chunk
        # Any <f> tag holds "<f" or (prefixed) ":f": most chunks are told apart without a regex.
        if (b"<f" in window or b":f" in window) and _ANY_FORMULA.search(window):
            return True
        edge = window[-64:]
    return False


def _formula_problem(attrs: bytes, inner: bytes, syntax: _Syntax) -> str | None:
    """Say what is wrong with a formula cell's cached value, or None when it has a good one."""
    if not syntax.formula.search(inner):
        return None
    value = syntax.value.search(inner)
    if value is None:
        # Excel caches a formula that yields "" as t="str" with an empty <v>; that value is known.
        known_empty = syntax.value_tag.search(inner) and _STRING_TYPE.search(attrs)
        return None if known_empty else NO_SAVED_VALUE
    if _ERROR_TYPE.search(attrs):
        shown = _VALUE_TEXT.search(inner)
        text = shown.group(1).decode("utf-8", "replace").strip() if shown else "?"
        return f"shows the error {text}"
    return None


def _formula_problems_fast(stream: IO[bytes]) -> dict[tuple[int, int], str]:
    """Find formula problems with regexes, row by row."""
    sheet = _Sheet(stream)
    syntax = sheet.syntax
    found = {}
    for element in sheet.rows():
        body = element.body or b""
        for formula in syntax.formula.finditer(body):
            # <f> is a cell's first child, so the nearest "<c" before it opens that cell.
            start = body.rfind(syntax.cell_open, 0, formula.start())
            cell = _cell_at(body, start, _row_number(element), syntax) if start >= 0 else None
            if cell is None or cell[2] < formula.end():
                raise _Unsupported("a formula outside a cell")
            problem = _formula_problem(cell[3], cell[4], syntax)
            if problem:
                found[(_row_number(element), cell[0])] = problem
    return found


def _formula_problems_slow(stream: IO[bytes]) -> dict[tuple[int, int], str]:
    """Find formula problems with a streaming XML parser, inferring omitted r attributes."""
    found = {}
    row, col = 0, -1
    for event, el in ElementTree.iterparse(stream, events=("start", "end")):
        name = _local(el.tag)
        if event == "start" and name == "row":
            row, col = int(el.get("r") or row + 1), -1
        elif event == "start" and name == "c":
            letters = el.get("r", "").rstrip("0123456789").encode()
            col = _col_index(letters) if letters else col + 1
        elif event == "end" and name == "c":
            children = {_local(child.tag): child for child in el}
            value = children.get("v")
            empty = value is None or not value.text
            # As in _formula_problem: t="str" with an empty <v> is a cached "".
            if "f" in children and empty and not (value is not None and el.get("t") == "str"):
                found[(row, col)] = NO_SAVED_VALUE
            elif "f" in children and el.get("t") == "e" and value is not None:
                found[(row, col)] = f"shows the error {(value.text or '').strip()}"
            el.clear()
    return found


# -- writing the annotated copy -----------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """The cells to write: target columns in ascending order, and how each is shown."""

    cols: tuple[int, ...]
    header_row: int
    kinds: tuple[str, ...] = ()
    """Each column's kind (xlsx_kinds): how a result cell is shown, not only as text."""
    date_style: int | None = None
    links: typed.Links | None = None


@dataclass
class _Written:
    """What the head of the sheet needs to know of the rows written: widths, span, size."""

    longest: list[int]
    """Each written column's longest text, header included."""
    top: int = 0
    bottom: int = 0
    """The first and last row given a text (0: none)."""
    size_hint: int = 0

    def add(self, row: int, texts: tuple[str, ...]) -> None:
        longest = self.longest
        for k, text in enumerate(texts):
            if len(text) > longest[k]:
                longest[k] = len(text)
        if any(texts):
            self.top = min(self.top or row, row)
            self.bottom = max(self.bottom, row)

    @property
    def widths(self) -> tuple[float, ...]:
        """Each written column's width in characters, enough to read its longest text."""
        return tuple(float(min(max(n + 2, _MIN_WIDTH), _MAX_WIDTH)) for n in self.longest)


def _plan(columns: Sequence[tuple[int, str]], header_row: int) -> _Plan:
    """Check the columns and put them in ascending order."""
    order = sorted(range(len(columns)), key=lambda i: columns[i][0])
    cols = tuple(columns[i][0] for i in order)
    if len(set(cols)) != len(cols) or not all(0 <= col < _MAX_COL for col in cols):
        raise ValueError(f"columns must be distinct indexes below {_MAX_COL}: {cols}")
    if not 1 <= header_row <= _MAX_ROW:
        raise ValueError(f"header_row {header_row} is not a row number")
    return _Plan(cols, header_row, typed.kinds_of([columns[i][1] for i in order]))


def _texts_in_order(
    columns: Sequence[tuple[int, str]],
    header_row: int,
    values: Mapping[int, Sequence[str]],
    written: _Written,
) -> Iterator[tuple[int, tuple[str, ...]]]:
    """Each row's texts in column order, cleaned, rows ascending with the header in its place;
    values that are still coming are read as they come."""
    order = sorted(range(len(columns)), key=lambda i: columns[i][0])
    header = tuple(_clean(columns[i][1]) for i in order)
    source = in_row_order(values)
    header_due, previous = True, 0
    for row, texts in source:
        if not 1 <= row <= _MAX_ROW or len(texts) != len(columns) or row <= previous:
            raise ValueError(
                f"row {row}: need a row number after {previous} and {len(columns)} texts"
            )
        previous = row
        written.size_hint += 80 * len(texts) + 6 * sum(map(len, texts))
        if header_due and header_row <= row:
            header_due = False
            written.add(header_row, header)
            yield header_row, header
            if row == header_row:
                continue  # the header row holds the column names
        cleaned = tuple(_clean(texts[i]) for i in order)
        written.add(row, cleaned)
        yield row, cleaned
    if header_due:
        written.add(header_row, header)
        yield header_row, header


_MIN_WIDTH, _MAX_WIDTH = 10, 60


def _patch_widths(head: bytes, plan: _Plan, widths: tuple[float, ...], syn: _Syntax) -> bytes:
    """Give each written column without a width of its own one wide enough to read it."""
    if not widths:
        return head
    p = re.escape(syn.prefix)
    block = re.search(rb"<%bcols(?:\s[^>]*)?>(.*?)</%bcols\s*>" % (p, p), head, re.S)
    existing = re.findall(rb"<%bcol\s[^>]*/>" % p, block.group(1)) if block else []
    if block is not None and block.group(1).count(b"<" + syn.prefix + b"col") != len(existing):
        return head
    spans = []
    for element in existing:
        low = re.search(rb"""\smin\s*=\s*["']([0-9]+)""", element)
        high = re.search(rb"""\smax\s*=\s*["']([0-9]+)""", element)
        if low is None or high is None:
            return head  # a form we do not know: leave the widths alone
        spans.append((int(low.group(1)), int(high.group(1)), element))
    added = [
        (
            col + 1,
            col + 1,
            b'<%bcol min="%d" max="%d" width="%.1f" customWidth="1"/>'
            % (syn.prefix, col + 1, col + 1, width),
        )
        for col, width in zip(plan.cols, widths, strict=True)
        if not any(low <= col + 1 <= high for low, high, _ in spans)
    ]
    if not added:
        return head
    elements = b"".join(e for _, _, e in sorted(spans + added, key=lambda s: s[0]))
    cols = b"<%bcols>%b</%bcols>" % (syn.prefix, elements, syn.prefix)
    if block is not None:
        return head[: block.start()] + cols + head[block.end() :]
    at = syn.sheet_data.search(head)
    if at is None:
        return head
    return head[: at.start()] + cols + head[at.start() :]


@lru_cache(maxsize=4096)
def _clean(text: str) -> str:
    """Drop characters XML 1.0 forbids and cut at Excel's limit, so the cell always opens."""
    text = _ILLEGAL_XML.sub("", text)
    if len(text) > _MAX_TEXT // 2:
        text = text.encode("utf-16-le")[: 2 * _MAX_TEXT].decode("utf-16-le", errors="ignore")
    if "_x" in text:
        # Excel reads _xHHHH_ as an escaped character; _x005F_ keeps the underscore literal.
        text = _EXCEL_ESCAPE.sub(r"_x005F_\1", text)
    return text


@lru_cache(maxsize=4096)
def _escaped(text: str) -> bytes:
    """Encode cleaned text for XML; CR as a reference, since parsers turn a raw CR into LF."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("\r", "&#13;").encode()


def _cell_xml(prefix: bytes, col: int, row: int, style: bytes, text: str) -> bytes:
    """Build an inline-string cell, which Excel never evaluates as a formula."""
    return (
        b'<%bc r="%b%d"%b t="inlineStr"><%bis><%bt xml:space="preserve">%b</%bt></%bis></%bc>'
        % (
            prefix,
            _col_letters(col),
            row,
            style,
            prefix,
            prefix,
            _escaped(text),
            prefix,
            prefix,
            prefix,
        )
    )


def _result_cell(plan: _Plan, at: int, row: int, style: bytes, text: str, syn: _Syntax) -> bytes:
    """Build a result cell: a number, a date or a hyperlinked text where its column is one."""
    col, kind = plan.cols[at], plan.kinds[at] if plan.kinds else typed.TEXT
    if row == plan.header_row or kind == typed.TEXT or not text:
        return _cell_xml(syn.prefix, col, row, style, text)
    ref = b"%b%d" % (_col_letters(col), row)
    value = None
    if kind == typed.NUMBER:
        value = typed.number_value(text)
    elif kind == typed.DATE and plan.date_style is not None:
        value, style = typed.date_value(text), b' s="%d"' % plan.date_style
    elif kind == typed.LINK and plan.links is not None:
        plan.links.refs.add(ref)
        if (url := typed.link_target(text)) is not None:
            plan.links.add(ref, url)
    if value is None:
        return _cell_xml(syn.prefix, col, row, style, text)
    return b"<%bc r=\"%b\"%b><%bv>%b</%bv></%bc>" % (
        syn.prefix, ref, style, syn.prefix, value.encode(), syn.prefix, syn.prefix
    )  # fmt: skip


def _style(attrs: bytes) -> bytes:
    """Return a cell's s attribute (with its leading space), or nothing."""
    style = _STYLE.search(attrs)
    return b' s="%b"' % style.group(1) if style else b""


def _widen_spans(attrs: bytes, plan: _Plan) -> bytes:
    """Widen a row's spans hint to the written columns, or drop a hint of an unknown form."""

    def widen(match: re.Match[bytes]) -> bytes:
        span = re.fullmatch(rb"([0-9]+):([0-9]+)", match.group(2))
        if span is None:
            return b""
        low = min(int(span.group(1)), plan.cols[0] + 1)
        high = max(int(span.group(2)), plan.cols[-1] + 1)
        return b' spans="%d:%d"' % (low, high)

    return _SPANS.sub(widen, attrs)


def _patch_cells(body: bytes, row: int, texts: tuple[str, ...], plan: _Plan, syn: _Syntax) -> bytes:
    """Replace or insert the target cells in one row body, keeping every other cell as it was."""
    cells, anchor = _tail_cells(body, row, syn, plan.cols[0])
    last = cells[-1] if cells else anchor
    style_new = _style(last[3]) if row == plan.header_row and last else b""
    after = anchor[2] if anchor else 0
    parts, pos, k = [], 0, 0
    for at, (col, text) in enumerate(zip(plan.cols, texts, strict=True)):
        while k < len(cells) and cells[k][0] < col:
            k += 1
        style = style_new
        if k < len(cells) and cells[k][0] == col:
            _, start, end, attrs, inner = cells[k]
            if syn.formula.search(inner) and _shows(inner, text):
                # A formula already showing the text (a callback_id made by a formula) stays.
                k += 1
                parts += [body[pos:end]]
                pos = end
                continue
            style, k = _style(attrs), k + 1
        else:
            start = end = cells[k][1] if k < len(cells) else (cells[-1][2] if cells else after)
        parts += [body[pos:start], _result_cell(plan, at, row, style, text, syn) if text else b""]
        pos = end
    parts.append(body[pos:])
    return b"".join(parts)


def _shows(inner: bytes, text: str) -> bool:
    """Whether a formula cell's saved value is `text` (as a number, when both are numbers)."""
    shown = _VALUE_TEXT.search(inner)
    if shown is None:
        return False
    saved = _unescape(shown.group(1).decode("utf-8", "replace"))
    if saved == text:
        return True
    try:
        return float(saved) == float(text)
    except ValueError:
        return False


def _unescape(text: str) -> str:
    return html.unescape(text) if "&" in text else text


def _patch_row(element: _Row, row: int, texts: tuple[str, ...], plan: _Plan, syn: _Syntax) -> bytes:
    """Rewrite one <row> element with the planned cells."""
    space, attrs, body = element.space, element.attrs, element.body or b""
    new_body = _patch_cells(_with_cell_refs(body, row, syn), row, texts, plan, syn)
    if not _ROW_NUMBER.search(attrs):
        attrs = b' r="%d"%b' % (row, attrs)
    p = syn.prefix
    return b"%b<%brow%b>%b</%brow>" % (space, p, _widen_spans(attrs, plan), new_body, p)


class _UsualRows:
    """Patch the usual data row without the general parse, to the same bytes.

    Usual: the row's r comes first, every cell has its r first, and the last cell lies left of
    the written columns (so the new cells go right after it). The attributes after r (usually
    only spans) repeat from row to row, so each form is widened once. Any other row gets None
    and goes the general way.
    """

    def __init__(self, plan: _Plan, syn: _Syntax) -> None:
        self.plan = plan
        self.syn = syn
        self._widened: dict[bytes, bytes] = {}
        """Row attributes after r (usually only spans) → the same, widened to the new cells."""

    def patch(self, element: _Row, row: int, texts: tuple[str, ...]) -> bytes | None:
        """The row with its cells written, or None if it is not of the usual form."""
        plan, syn, body = self.plan, self.syn, element.body
        if body is None or row == plan.header_row:
            return None
        number = b' r="%d"' % row
        cells_with_ref = syn.cell_open + b' r="'
        if not element.attrs.startswith(number) or body.count(syn.cell_open) != body.count(
            cells_with_ref
        ):
            return None  # a cell without r, or r not first: the general path sees to it
        after = 0
        last = body.rfind(cells_with_ref)
        if last >= 0:
            cell = syn.cell.match(body, last)
            ref = _USUAL_REF.match(cell.group(1) or b"") if cell else None
            if ref is None or int(ref.group(2)) != row or _col_index(ref.group(1)) >= plan.cols[0]:
                return None
            after = cell.end()  # type: ignore[union-attr]
        rest = element.attrs[len(number) :]
        widened = self._widened.get(rest)
        if widened is None:
            widened = self._widened[rest] = _widen_spans(rest, plan)
        cells = b"".join(
            _result_cell(plan, at, row, b"", text, syn) for at, text in enumerate(texts) if text
        )
        p = syn.prefix
        return b"%b<%brow%b%b>%b%b%b</%brow>" % (
            element.space, p, number, widened, body[:after], cells, body[after:], p
        )  # fmt: skip


def _new_row(row: int, texts: tuple[str, ...], plan: _Plan, syn: _Syntax) -> bytes:
    """Build a <row> that the sheet did not have."""
    cells = b"".join(
        _result_cell(plan, at, row, b"", text, syn) for at, text in enumerate(texts) if text
    )
    return b'<%brow r="%d">%b</%brow>' % (syn.prefix, row, cells, syn.prefix)


def _patch_dimension(head: bytes, plan: _Plan, written: _Written, syn: _Syntax) -> bytes:
    """Grow the <dimension ref> so it covers the written cells."""
    if not written.top:
        return head

    def grow(match: re.Match[bytes]) -> bytes:
        old = _RANGE.fullmatch(match.group(2))
        if old is None:
            return match.group(0)
        first, last = _col_index(old.group(1)), _col_index(old.group(3) or old.group(1))
        top, bottom = int(old.group(2)), int(old.group(4) or old.group(2))
        left, right = min(first, plan.cols[0]), max(last, plan.cols[-1])
        top, bottom = min(top, written.top), max(bottom, written.bottom)
        corner = b"%b%d:%b%d" % (_col_letters(left), top, _col_letters(right), bottom)
        return match.group(1) + corner

    return syn.dimension.sub(grow, head, count=1)


def _patch_rows(
    sheet: _Sheet,
    plan: _Plan,
    texts: Iterator[tuple[int, tuple[str, ...]]],
    write: Callable[[bytes], object],
) -> None:
    """Stream the patched rows to write, as their texts come, in batches of about a megabyte."""
    syn = sheet.syntax
    parts: list[bytes] = []
    size = 0

    def emit(data: bytes) -> None:
        nonlocal size
        parts.append(data)
        size += len(data)
        if size > _CHUNK:
            write(b"".join(parts))
            parts.clear()
            size = 0

    usual = _UsualRows(plan, syn)
    due = next(texts, None)  # the next row with texts
    previous = 0
    for element in sheet.rows():
        row = _row_number(element, previous)
        if row <= previous:
            raise _Unsupported("rows out of order")
        previous = row
        while due is not None and due[0] < row:  # rows the sheet does not have
            if any(due[1]):
                emit(_new_row(*due, plan, syn))
            due = next(texts, None)
        if due is not None and due[0] == row:
            emit(usual.patch(element, *due) or _patch_row(element, *due, plan, syn))
            due = next(texts, None)
        else:
            emit(_with_row_ref(element, row, syn))
    while due is not None:
        if any(due[1]):
            emit(_new_row(*due, plan, syn))
        due = next(texts, None)
    if sheet.empty:
        emit(b"</%bsheetData>" % syn.prefix)
    write(b"".join(parts))


def _patched_head(sheet: _Sheet, plan: _Plan, written: _Written) -> bytes:
    """The sheet's XML before the rows, its dimension and widths fitted to what was written."""
    syn = sheet.syntax
    head = _patch_widths(
        _patch_dimension(sheet.head, plan, written, syn), plan, written.widths, syn
    )
    return head[:-2] + b">" if sheet.empty else head


def _copy_rest(sheet: _Sheet, plan: _Plan, write: Callable[[bytes], object]) -> None:
    """Copy what follows the rows, with the links' part of it where links were written."""
    if plan.links is None:
        sheet.copy_rest(write)
        return
    rest = bytearray()
    sheet.copy_rest(rest.extend)
    write(typed.patch_tail(bytes(rest), sheet.head, plan.links))


def _clone(info: zipfile.ZipInfo, size_hint: int) -> zipfile.ZipInfo:
    """Copy a member's name, time and compression; zipfile uses file_size to choose ZIP64."""
    clone = zipfile.ZipInfo(info.filename, info.date_time)
    clone.compress_type = info.compress_type
    clone.external_attr = info.external_attr
    clone.file_size = size_hint
    return clone


def _deflate_fast(info: zipfile.ZipInfo) -> None:
    """Have the patched sheet deflated at SHEET_LEVEL (the attribute is public from Python
    3.13 on, and keeps its older name there too)."""
    name = "compress_level" if hasattr(info, "compress_level") else "_compresslevel"
    setattr(info, name, SHEET_LEVEL)


def _write_fast(
    src: Path,
    tmp: Path,
    member: str,
    plan: _Plan,
    texts: Iterator[tuple[int, tuple[str, ...]]],
    written: _Written,
) -> None:
    """Patch the sheet's rows as their texts come, then copy every member of src to tmp with
    the patched sheet, its head fitted to the rows, in place of the old one."""
    with open_package(src) as zin:
        names = set(zin.namelist())
        patched, plan = _typed_parts(zin, names, member, plan)
        with (
            zin.open(member) as source,
            tempfile.SpooledTemporaryFile(_SPOOL, dir=str(tmp.parent)) as rows,
        ):
            sheet = _Sheet(source)
            _patch_rows(sheet, plan, texts, rows.write)
            rows.seek(0)
            with zipfile.ZipFile(tmp, "w") as zout:
                rels = typed.rels_path(member)
                for info in zin.infolist():
                    if info.filename == rels and plan.links is not None:
                        continue
                    is_sheet = info.filename == member
                    clone = _clone(info, info.file_size + (written.size_hint if is_sheet else 0))
                    if is_sheet:
                        _deflate_fast(clone)
                    with zout.open(clone, "w") as target:
                        if is_sheet:
                            target.write(_patched_head(sheet, plan, written))
                            shutil.copyfileobj(rows, target, _CHUNK)
                            _copy_rest(sheet, plan, target.write)
                        elif info.filename in patched:
                            target.write(patched[info.filename])
                        else:
                            with zin.open(info) as other:
                                shutil.copyfileobj(other, target, _CHUNK)
                if plan.links is not None:
                    old = zin.read(rels) if rels in names else None
                    zout.writestr(rels, typed.patch_rels(old, plan.links), zipfile.ZIP_DEFLATED)


def _typed_parts(
    zin: zipfile.ZipFile, names: set[str], member: str, plan: _Plan
) -> tuple[dict[str, bytes], _Plan]:
    """Prepare dates (a format in styles.xml) and links (a sheet in plain syntax) when needed."""
    if not any(kind != typed.TEXT for kind in plan.kinds):
        return {}, plan
    with zin.open(member) as head:
        plain = _ROOT.search(head.read(4096))
    if plain is None or plain.group(1):
        return {}, plan  # a prefixed sheet keeps its results as text
    patched: dict[str, bytes] = {}
    if typed.LINK in plan.kinds:
        plan = replace(plan, links=typed.Links())
    if typed.DATE in plan.kinds and _STYLES in names:
        found = typed.patch_styles(zin.read(_STYLES))
        if found is not None:
            patched[_STYLES], index = found
            plan = replace(plan, date_style=index)
    return patched, plan


def _set_text(sheet: Worksheet, row: int, col: int, text: str) -> None:
    """Set a cell as literal text through openpyxl, or remove it for an empty text."""
    text = _clean(text)
    if not text:
        if (row, col + 1) in sheet._cells:
            sheet.cell(row, col + 1).value = None
        return
    cell = sheet.cell(row, col + 1)
    cell.value = text
    cell.data_type = "s"  # openpyxl would otherwise store "=..." as a formula


def _set_headers(sheet: Worksheet, header_row: int, columns: Sequence[tuple[int, str]]) -> None:
    """Set the header texts, styling new header cells like the row's last one, as the fast path."""
    existing = [col for row, col in sheet._cells if row == header_row]
    model = sheet._cells[header_row, max(existing)] if existing else None
    for col, text in columns:
        is_new = (header_row, col + 1) not in sheet._cells
        _set_text(sheet, header_row, col, text)
        if is_new and model is not None and (header_row, col + 1) in sheet._cells:
            cell = sheet.cell(header_row, col + 1)
            for part in ("font", "fill", "border", "alignment", "protection", "number_format"):
                setattr(cell, part, copy(getattr(model, part)))


def _annotate_with_openpyxl(
    src: Path,
    dst: Path,
    sheet_name: str,
    columns: Sequence[tuple[int, str]],
    header_row: int,
    values: Mapping[int, Sequence[str]],
) -> None:
    """Write the cells through openpyxl: slow, drops cached formula values, but reads any XML."""
    from openpyxl import load_workbook
    from openpyxl.worksheet.worksheet import Worksheet

    try:
        book = load_workbook(src, keep_vba=src.suffix.lower() == ".xlsm", rich_text=True)
    except Exception as exc:  # openpyxl raises many kinds of errors for a damaged file
        raise SheetError(f"{src}: cannot be read ({exc})", hint=_REPAIR_HINT) from exc
    sheet = book[sheet_name]
    assert isinstance(sheet, Worksheet), "sheet_xml_path accepts worksheets only"
    try:
        _set_headers(sheet, header_row, columns)
        types = typed.kinds_of([name for _, name in columns])
        for row, texts in values.items():
            if row != header_row:
                for (col, _), text, kind in zip(columns, texts, types, strict=True):
                    if not (text and typed.set_typed(sheet, row, col, _clean(text), kind)):
                        _set_text(sheet, row, col, text)
    except AttributeError as exc:  # openpyxl's MergedCell refuses a value
        raise OutputError(
            f"{dst}: a result column falls on merged cells of sheet {sheet_name!r} ({exc})",
            hint="unmerge the cells where the result columns go, then run again",
        ) from None
    book.save(dst)
    _restore_saved_values(src, dst)


_FORMULA_CELL = re.compile(rb'<c r="([A-Z]+[0-9]+)"([^>]*)><f([^>]*)>(.*?)</f><v ?/></c>', re.S)


def _restore_saved_values(src: Path, written: Path) -> None:
    """Put back each formula's saved value, which openpyxl drops, so the output reads the same."""
    from openpyxl import load_workbook

    saved = load_workbook(src, data_only=True, rich_text=False)
    with open_package(written) as zin:
        members = {}
        for name in saved.sheetnames:
            try:
                members[sheet_xml_path(zin, name)] = saved[name]
            except SheetError:
                continue  # a chart sheet: no cells
        patched = written.with_name(written.name + ".values")
        with zipfile.ZipFile(patched, "w", zipfile.ZIP_DEFLATED) as zout:
            for info in zin.infolist():
                data = zin.read(info)
                if info.filename in members:
                    data = _fill_saved_values(data, members[info.filename])
                zout.writestr(info, data)
    os.replace(patched, written)


def _fill_saved_values(xml: bytes, sheet: object) -> bytes:
    import datetime as dt

    def fill(match: re.Match[bytes]) -> bytes:
        ref, attrs, f_attrs, formula = match.groups()
        value = sheet[ref.decode()].value  # type: ignore[index]
        if value is None:
            return match.group(0)
        attrs = re.sub(rb'\st="[^"]*"', b"", attrs)
        if isinstance(value, bool):
            kind, text = b' t="b"', b"1" if value else b"0"
        elif isinstance(value, int | float):
            kind, text = b"", repr(value).encode()
        elif isinstance(value, dt.datetime | dt.date | dt.time | dt.timedelta):
            kind, text = b"", repr(to_serial(value)).encode()
        elif isinstance(value, str) and value.startswith("#") and value.endswith(("!", "?", "A")):
            kind, text = b' t="e"', _escaped(value)
        else:
            kind, text = b' t="str"', _escaped(_clean(str(value)))
        cell = (ref, attrs, kind, f_attrs, formula, text)
        return b'<c r="%b"%b%b><f%b>%b</f><v>%b</v></c>' % cell

    return _FORMULA_CELL.sub(fill, xml)


@contextlib.contextmanager
def _atomic_output(dst: Path) -> Iterator[Path]:
    """Yield a temporary path beside dst, and move it over dst only once it is complete."""
    tmp = dst.with_name(f".{dst.name}.{secrets.token_hex(4)}.tmp")
    try:
        tmp.open("xb").close()
    except OSError as exc:
        raise OutputError(
            f"{dst}: cannot write in {dst.parent} ({exc.strerror})",
            hint="choose a folder you can write to with -o",
        ) from exc
    try:
        yield tmp
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(
            f"{dst}: cannot be written ({exc.strerror or exc})", hint="choose another file with -o"
        ) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _replace(tmp, dst)


def _replace(tmp: Path, dst: Path) -> None:
    """Move the finished file over dst, keeping dst's permissions."""
    with contextlib.suppress(OSError):
        os.chmod(tmp, stat.S_IMODE(dst.stat().st_mode))
    try:
        os.replace(tmp, dst)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        locked = isinstance(exc, PermissionError) and dst.exists()
        raise OutputError(
            f"{dst}: cannot be replaced; it may be open in Excel"
            if locked
            else f"{dst}: cannot be written ({exc.strerror or exc})",
            hint="close it in Excel and run again, or choose another file with -o",
        ) from exc


def annotate_workbook(
    src: Path,
    dst: Path,
    sheet_name: str,
    columns: Sequence[tuple[int, str]],
    header_row: int,
    values: Mapping[int, Sequence[str]],
) -> None:
    """Write the result columns into a copy of src, keeping every other part of it intact.

    Values that can be read in row order as they come (`cells.InRowOrder`) are patched in as they
    arrive; the head of the sheet (its widths and dimension) is written once the last has.
    """
    plan = _plan(columns, header_row)
    with open_package(src) as zf:
        member = sheet_xml_path(zf, sheet_name)
    with _atomic_output(dst) as tmp:
        written = _Written([0] * len(columns))
        texts = _texts_in_order(columns, header_row, values, written)
        try:
            _write_fast(src, tmp, member, plan, texts, written)
        except _Unsupported:
            _annotate_with_openpyxl(src, tmp, sheet_name, columns, header_row, values)
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise SheetError(f"{src}: is damaged ({exc})", hint=_REPAIR_HINT) from exc


# -- what can be known before anything is sent --------------------------------------------------

_MERGE_REF = re.compile(
    rb"""<(?:[A-Za-z_][\w.-]*:)?mergeCell\s[^>]*?ref\s*=\s*["']([A-Z0-9:]+)["']"""
)
_DRAWING_ID = re.compile(
    rb"""<(?:[A-Za-z_][\w.-]*:)?drawing\s[^>]*?(?:[A-Za-z_][\w.-]*:)?id\s*=\s*["']([^"']+)["']"""
)
_ANCHOR_COL = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?col>\s*([0-9]+)\s*<")
_EXTENT = re.compile(rb"""<(?:[A-Za-z_][\w.-]*:)?ext\s[^>]*?cx\s*=\s*["']([0-9]+)["']""")
_DEFAULT_COLUMN_EMU = 609_600  # 64 pixels, Excel's default column width


@dataclass(frozen=True)
class SheetLayout:
    """What decides where new columns go and whether the fast patch can write the sheet."""

    merged: tuple[tuple[int, int, int, int], ...]
    """Each merged range as (first column, first row, last column, last row), columns from 0."""
    drawing_right: int
    """The last column a drawing (chart, picture, shape) reaches, or -1."""
    patchable: bool
    """False when only a rewrite of the whole workbook can write it."""


def sheet_layout(path: Path, sheet_name: str, header_row: int, try_patch: bool) -> SheetLayout:
    """Read the merges and drawings of a sheet; with `try_patch`, try the fast patch unwritten."""
    with open_package(path) as zf:
        member = sheet_xml_path(zf, sheet_name)
        patchable = True
        if try_patch:
            try:
                with zf.open(member) as stream:
                    plan = _Plan((_MAX_COL - 1,), header_row)
                    _patch_rows(_Sheet(stream), plan, iter([(header_row, ("x",))]), lambda _: None)
            except _Unsupported:
                patchable = False
        with zf.open(member) as stream:
            tail = _after_rows(stream)
        merged = tuple(_merged_ranges(tail))
        drawing_right = _drawing_right(zf, member, tail)
    return SheetLayout(merged, drawing_right, patchable)


_ROWS_END = re.compile(
    rb"</(?:[A-Za-z_][\w.-]*:)?sheetData\s*>|<(?:[A-Za-z_][\w.-]*:)?sheetData\s*/>"
)


def _after_rows(stream: IO[bytes]) -> bytes:
    """What follows the cells (merges, drawings), read in chunks; the cells are not kept."""
    tail, found = b"", False
    while chunk := stream.read(_CHUNK):
        tail = tail + chunk if found else tail[-64:] + chunk
        if found or b"sheetData" not in tail:  # told apart in one scan, not a regex's
            continue
        if (end := _ROWS_END.search(tail)) is not None:
            tail, found = tail[end.start() :], True
    return tail


def _merged_ranges(xml: bytes) -> Iterator[tuple[int, int, int, int]]:
    for ref in _MERGE_REF.findall(xml):
        found = _RANGE.fullmatch(ref)
        if found:
            left, top = _col_index(found.group(1)), int(found.group(2))
            right = _col_index(found.group(3) or found.group(1))
            yield left, top, right, int(found.group(4) or found.group(2))


def _drawing_right(zf: zipfile.ZipFile, member: str, xml: bytes) -> int:
    """The last column any drawing anchored on the sheet reaches."""
    ids = _DRAWING_ID.findall(xml)
    if not ids:
        return -1
    try:
        rels = relationships(zf, member)
    except SheetError:
        return -1
    right = -1
    for rid in ids:
        _, name = rels.get(rid.decode(), ("", ""))
        try:
            drawing = zf.read(name)
        except KeyError:
            continue
        for col in _ANCHOR_COL.findall(drawing):
            right = max(right, int(col))
        # A one-cell anchor gives a size, not an end: count default-width columns.
        for anchor in re.finditer(
            rb"<(?:[A-Za-z_][\w.-]*:)?oneCellAnchor\b.*?</(?:[A-Za-z_][\w.-]*:)?oneCellAnchor>",
            drawing,
            re.S,
        ):
            start = _ANCHOR_COL.search(anchor.group(0))
            size = _EXTENT.search(anchor.group(0))
            if start and size:
                span = -(-int(size.group(1)) // _DEFAULT_COLUMN_EMU)
                right = max(right, int(start.group(1)) + span)
    return right
