"""Result cells a person can use in Excel: links that open, dates that sort, durations that sum.

The streaming writer (xlsx_write) writes text; for the result columns named in CELL_KINDS it asks
here instead: a URL becomes a real hyperlink (a relationship of the sheet, as Excel writes
them), a UTC time an Excel date with a `yyyy-mm-dd hh:mm:ss` format added to styles.xml, a
duration a number. Only our own columns are typed; the user's cells are never touched.
"""

from __future__ import annotations

import datetime as dt
import math
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from merge.settings import CELL_KINDS

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet

TEXT, NUMBER, DATE, LINK = "text", "number", "date", "link"
DATE_FORMAT = "yyyy-mm-dd hh:mm:ss"
EXCEL_EPOCH = dt.datetime(1899, 12, 30, tzinfo=dt.UTC)
LINK_ID = "rIdAvatarMerge"
"""The prefix of our hyperlinks' relationship ids: a rerun on its own output replaces them."""
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
LINK_TYPE = REL_NS + "/hyperlink"
MAX_LINK = 2_079  # Excel refuses longer hyperlink targets

_COUNT = re.compile(rb'\scount="\d+"')
_NUM_FMT_ID = re.compile(rb'numFmtId="(\d+)"')
_STYLESHEET = re.compile(rb"<styleSheet\b[^>]*>")
_OUR_RELATIONSHIP = re.compile(rb'<Relationship\b[^>]*\bId="' + LINK_ID.encode() + rb'\d+"[^>]*/>')
_HYPERLINKS = re.compile(rb"<hyperlinks\b[^>]*>(.*?)</hyperlinks>|<hyperlinks\b[^>]*/>", re.DOTALL)
_HYPERLINK = re.compile(rb"<hyperlink\b[^>]*/>|<hyperlink\b[^>]*>.*?</hyperlink>", re.DOTALL)
_HYPERLINK_REF = re.compile(rb'\sref="([A-Z]{1,3}[0-9]+)"')
_AFTER_HYPERLINKS = re.compile(
    rb"<(?:printOptions|pageMargins|pageSetup|headerFooter|rowBreaks|colBreaks|customProperties"
    rb"|cellWatches|ignoredErrors|smartTags|drawing|legacyDrawing|legacyDrawingHF|picture"
    rb"|oleObjects|controls|webPublishItems|tableParts|extLst)\b|</worksheet>"
)
_ROOT_REL_PREFIX = re.compile(rb'xmlns:([A-Za-z_][\w.-]*)="' + re.escape(REL_NS.encode()) + rb'"')


def kinds_of(names: Sequence[str]) -> tuple[str, ...]:
    """Each written column's kind, by its name (text for any column not ours)."""
    return tuple(CELL_KINDS.get(name, TEXT) for name in names)


def number_value(text: str) -> str | None:
    """Write a duration as an Excel number, or None to keep it as text."""
    try:
        value = float(text)
    except ValueError:
        return None
    return repr(value) if math.isfinite(value) else None


def date_value(text: str) -> str | None:
    """Write an ISO 8601 UTC moment (`2026-11-30T20:51:03Z`) as an Excel date serial."""
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    days = (moment - EXCEL_EPOCH).total_seconds() / 86_400
    return f"{days:.6f}" if days > 0 else None


def link_target(text: str) -> str | None:
    """Keep only web links Excel can open."""
    if text.startswith(("https://", "http://")) and len(text) <= MAX_LINK:
        return text
    return None


@dataclass
class Links:
    """The hyperlinks written into one sheet, for its relationships part and <hyperlinks>."""

    refs: set[bytes] = field(default_factory=set)
    """Every cell our columns were written in: the user's old links there are dropped."""
    targets: list[tuple[bytes, str]] = field(default_factory=list)

    def add(self, ref: bytes, url: str) -> None:
        """Remember a link in cell `ref`."""
        self.targets.append((ref, url))


def _escape(text: str) -> bytes:
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .encode()
    )


_CELL_XFS_OPEN = re.compile(rb"<cellXfs\b([^>]*)>")
_NUM_FMTS_OPEN = re.compile(rb"<numFmts\b([^>]*?)(/?)>")


def patch_styles(xml: bytes) -> tuple[bytes, int] | None:
    """Add a date cell format to styles.xml; return it with the new style's index, or None."""
    xfs = _CELL_XFS_OPEN.search(xml)
    xfs_end = xml.find(b"</cellXfs>", xfs.end()) if xfs else -1
    opened = _STYLESHEET.search(xml)
    if xfs is None or xfs_end < 0 or opened is None:
        return None
    index = len(re.findall(rb"<xf\b", xml[xfs.end() : xfs_end]))
    fmts = _NUM_FMTS_OPEN.search(xml)
    fmts_end = xml.find(b"</numFmts>", fmts.end()) if fmts and not fmts.group(2) else -1
    if fmts is not None and fmts_end < 0:
        return None
    used = [int(n) for n in _NUM_FMT_ID.findall(xml[fmts.end() : fmts_end])] if fmts else []
    fmt_id = max([163, *used]) + 1
    fmt = b'<numFmt numFmtId="%d" formatCode="%b"/>' % (fmt_id, DATE_FORMAT.encode())
    xf = (
        b'<xf numFmtId="%d" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
        % fmt_id
    )
    xfs_open = b"<cellXfs%b>" % _counted(xfs.group(1), index + 1)
    parts = [xml[: xfs.start()], xfs_open, xml[xfs.end() : xfs_end], xf, xml[xfs_end:]]
    xml = b"".join(parts)
    if fmts is None:
        at = _STYLESHEET.search(xml)
        assert at is not None
        return xml[: at.end()] + b'<numFmts count="1">' + fmt + b"</numFmts>" + xml[
            at.end() :
        ], index
    fmts = _NUM_FMTS_OPEN.search(xml)
    assert fmts is not None
    fmts_end = xml.find(b"</numFmts>", fmts.end())
    fmts_open = b"<numFmts%b>" % _counted(fmts.group(1), len(used) + 1)
    return xml[: fmts.start()] + fmts_open + xml[fmts.end() : fmts_end] + fmt + xml[
        fmts_end:
    ], index


def _counted(attrs: bytes, count: int) -> bytes:
    """Set an element's count attribute (adding it when missing)."""
    if _COUNT.search(attrs):
        return _COUNT.sub(b' count="%d"' % count, attrs, count=1)
    return attrs + b' count="%d"' % count


def rels_path(sheet_member: str) -> str:
    """The sheet's relationships part: xl/worksheets/sheet1.xml → xl/worksheets/_rels/…rels."""
    folder, name = posixpath.split(sheet_member)
    return posixpath.join(folder, "_rels", f"{name}.rels")


def patch_rels(xml: bytes | None, links: Links) -> bytes:
    """Replace our earlier hyperlink relationships with this run's, keeping every other one."""
    if xml is None:
        xml = (
            b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships'
            b' xmlns="http://schemas.openxmlformats.org/package/2006/relationships"></Relationships>'
        )
    xml = _OUR_RELATIONSHIP.sub(b"", xml)
    ours = b"".join(
        b'<Relationship Id="%b%d" Type="%b" Target="%b" TargetMode="External"/>'
        % (LINK_ID.encode(), number, LINK_TYPE.encode(), _escape(url))
        for number, (_, url) in enumerate(links.targets, 1)
    )
    end = xml.rfind(b"</Relationships>")
    if end < 0:  # an empty <Relationships/>
        return xml.replace(b"/>", b">" + ours + b"</Relationships>", 1) if ours else xml
    return xml[:end] + ours + xml[end:]


def patch_tail(tail: bytes, head: bytes, links: Links) -> bytes:
    """Put our links in the sheet's <hyperlinks>, dropping any that were in our cells before."""
    prefix_match = _ROOT_REL_PREFIX.search(head)
    prefix = prefix_match.group(1) if prefix_match else b"amrel"
    declare = b"" if prefix_match else b' xmlns:amrel="%b"' % REL_NS.encode()
    ours = b"".join(
        b'<hyperlink ref="%b" %b:id="%b%d"/>' % (ref, prefix, LINK_ID.encode(), number)
        for number, (ref, _) in enumerate(links.targets, 1)
    )
    existing = _HYPERLINKS.search(tail)
    kept = b""
    if existing is not None and existing.group(1):
        kept = b"".join(
            link.group(0)
            for link in _HYPERLINK.finditer(existing.group(1))
            if (ref := _HYPERLINK_REF.search(link.group(0))) is None
            or ref.group(1) not in links.refs
        )
    if existing is not None:
        tail = tail[: existing.start()] + tail[existing.end() :]
    if not kept and not ours:
        return tail
    block = b"<hyperlinks%b>%b%b</hyperlinks>" % (declare, kept, ours)
    at = _AFTER_HYPERLINKS.search(tail)
    where = at.start() if at else len(tail)
    return tail[:where] + block + tail[where:]


def set_typed(sheet: Worksheet, row: int, col: int, text: str, kind: str) -> bool:
    """Set a typed result cell through openpyxl; False when the text is kept as text."""
    cell = sheet.cell(row, col + 1)
    if kind == NUMBER and (number := number_value(text)) is not None:
        cell.value = float(number)
        return True
    if kind == DATE and date_value(text) is not None:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        cell.value = moment.astimezone(dt.UTC).replace(tzinfo=None)
        cell.number_format = DATE_FORMAT
        return True
    if kind == LINK and (url := link_target(text)) is not None:
        cell.value = text
        cell.data_type = "s"
        cell.hyperlink = url
        return True
    return False
