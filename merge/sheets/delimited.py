"""Read and write delimited text (CSV, TSV), record by record, so huge files stay small."""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import secrets
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice, pairwise
from pathlib import Path
from typing import IO, Any

from merge.errors import OutputError, SheetError
from merge.settings import CSV_DELIMITERS, CSV_FALLBACK_ENCODING, CSV_SNIFF_BYTES
from merge.sheets.cells import (
    Row,
    SheetInfo,
    check_title_row,
    check_unchanged,
    header_columns,
    in_row_order,
    lock_file_warning,
    row_from_cells,
    title_hint,
)

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
SEP_LINE = re.compile(r"\ufeff?sep=([^\r\n\"])\r?\n")
BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
UTF8_LETTER = re.compile(rb"[\xc2-\xf4][\x80-\xbf]+")

MAX_FIELD_CHARS = 1024**2
"""A cell longer than this (Excel's own limit is 32,767) is refused, not read into memory."""
MAX_RECORD_CHARS = 4 * 1024**2
"""A record (a row, the header included) longer than this is refused the same way."""
csv.field_size_limit(MAX_FIELD_CHARS)


class _BoundedLines:
    """Lines of a text file for csv.reader, refusing a record that grows past the bound."""

    def __init__(self, handle: IO[str], path: Path) -> None:
        self._handle = handle
        self._path = path
        self._size = 0

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = self._handle.readline(MAX_RECORD_CHARS + 1)
        if not line:
            raise StopIteration
        self._size += len(line)
        if self._size > MAX_RECORD_CHARS:
            raise SheetError(
                f"{self._path}: a row is longer than {MAX_RECORD_CHARS // 1024**2} MB of text",
                "check the file is the sheet of leads (a stray quote can join every line into"
                " one row), or split the long cells",
            )
        return line

    def record_done(self) -> None:
        """Start counting the next record."""
        self._size = 0


@dataclass
class CsvSheet:
    """A delimited text file, read record by record so huge files stay small in memory."""

    path: Path
    encoding_wanted: str | None = None
    delimiter_wanted: str | None = None
    header_wanted: int | None = None
    info: SheetInfo = field(init=False)

    def __post_init__(self) -> None:
        self._stat = self.path.stat()
        encoding, warnings = _detect_encoding(self.path, self.encoding_wanted)
        sample = _read_sample(self.path, encoding)
        # Excel and several exporters write "sep=;" as a first line naming the delimiter.
        sep = SEP_LINE.match(sample)
        self._skip = 1 if sep else 0
        delimiter = self.delimiter_wanted or (
            sep.group(1) if sep else _sniff_delimiter(sample, self.path)
        )
        header_index, header = self._find_header(encoding, delimiter)
        where = self.path.name
        hint = title_hint(header_index, self.header_wanted)
        check_title_row(
            where, header_index, header, self._record(encoding, delimiter, header_index + 1), hint
        )
        columns, positions = header_columns(header, 0, where, lambda p: str(p + 1), hint)
        self.info = SheetInfo(
            path=self.path,
            kind="csv",
            columns=columns,
            positions=positions,
            header_row=header_index + 1,
            width=len(columns),
            encoding=encoding,
            delimiter=delimiter,
            line_terminator="\n" if "\r\n" not in sample and "\n" in sample else "\r\n",
            warnings=warnings + lock_file_warning(self.path),
        )

    def _records(self, encoding: str, delimiter: str) -> Iterator[list[str]]:
        try:
            with self.path.open(encoding=encoding, newline="") as handle:
                lines = _BoundedLines(handle, self.path)
                for record in csv.reader(lines, delimiter=delimiter):
                    lines.record_done()
                    yield record
        except csv.Error as error:
            if "field limit" in str(error):
                raise SheetError(
                    f"{self.path}: a cell is longer than {MAX_FIELD_CHARS // 1024**2} MB of text",
                    "check the file is the sheet of leads (a stray quote can join every line"
                    " into one cell), or shorten the cell",
                ) from None
            raise SheetError(
                f"{self.path}: cannot be read as delimited text ({error})",
                "save it again from the spreadsheet program as CSV UTF-8",
            ) from None
        except UnicodeError as error:  # a decode error, or a UTF-16/32 stream without its BOM
            at = _bad_byte(self.path, encoding)
            raise SheetError(
                f"{self.path}: is not {encoding} text ({error if at is None else f'byte {at}'})",
                "name its encoding with --encoding, or save it as CSV UTF-8",
            ) from None

    def _find_header(self, encoding: str, delimiter: str) -> tuple[int, list[str]]:
        wanted = self.header_wanted
        for index, record in enumerate(self._records(encoding, delimiter)):
            if index < self._skip:
                continue
            if wanted is not None and index + 1 == wanted:
                if not any(cell.strip() for cell in record):
                    raise SheetError(
                        f"{self.path}: row {wanted} (--header-row) is empty",
                        "name the row that holds the column names",
                    )
                return index, record
            if wanted is None and any(cell.strip() for cell in record):
                return index, record
        if wanted is not None:
            raise SheetError(
                f"{self.path}: there is no row {wanted} (--header-row)",
                "name the row that holds the column names",
            )
        raise SheetError(f"{self.path}: the file is empty", "put a header row and data rows in it")

    def _record(self, encoding: str, delimiter: str, index: int) -> list[str] | None:
        return next(islice(self._records(encoding, delimiter), index, None), None)

    def rows(self) -> Iterator[Row]:
        """Yield data rows below the header, skipping fully empty ones."""
        info = self.info
        assert info.encoding is not None
        assert info.delimiter is not None
        for index, record in enumerate(self._records(info.encoding, info.delimiter)):
            if index < info.header_row or not any(record):
                continue
            yield row_from_cells(index + 1, record, info, 0)
        check_unchanged(self.path, self._stat)


def _detect_encoding(path: Path, wanted: str | None) -> tuple[str, tuple[str, ...]]:
    """Let a BOM decide; else take UTF-8 when every byte fits, else say which line does not."""
    if wanted:
        try:
            found = codecs.lookup(wanted)
        except LookupError:
            raise SheetError(
                f"unknown encoding {wanted!r}", "try utf-8, cp1252, latin-1 or utf-16"
            ) from None
        # "utf-8" named by the user must still drop Excel's BOM, or it sticks to the first name.
        return ("utf-8-sig" if found.name == "utf-8" else wanted), ()
    with path.open("rb") as handle:
        head = handle.read(4)
    for bom, name in BOMS:
        if head.startswith(bom):
            return name, ()
    if _is_utf8(path):
        return "utf-8-sig", ()
    at = _bad_byte(path, "utf-8") or 0
    line = _line_at(path, at)
    if _has_utf8_letters(path):
        note = (
            f"{path.name} is UTF-8 except from line {line} on: the letters there that are not"
            f" UTF-8 were read as {CSV_FALLBACK_ENCODING} (Windows Western). Check them, or use"
            " --encoding"
        )
        return MIXED_ENCODING, (note,)
    note = (
        f"{path.name} is not UTF-8 (line {line} is the first that is not); it was read as"
        f" {CSV_FALLBACK_ENCODING} (Windows Western). Use --encoding if letters look wrong"
    )
    return CSV_FALLBACK_ENCODING, (note,)


def _line_at(path: Path, offset: int) -> int:
    """The 1-based line of the file that holds byte `offset`."""
    lines, done = 1, 0
    with path.open("rb") as handle:
        while done < offset and (chunk := handle.read(min(1 << 20, offset - done))):
            lines += chunk.count(b"\n")
            done += len(chunk)
    return lines


def _has_utf8_letters(path: Path) -> bool:
    """Whether the file holds at least one well-formed multi-byte UTF-8 letter."""
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            if UTF8_LETTER.search(chunk):
                return True
    return False


def _cp1252_for_bad_bytes(error: UnicodeError) -> tuple[str, int]:
    """Decode bytes that are not UTF-8 as cp1252 (latin-1 for its five undefined bytes)."""
    assert isinstance(error, UnicodeDecodeError)
    bad = error.object[error.start : error.end]
    return bad.decode("cp1252", errors="strict") if _cp1252_ok(bad) else bad.decode(
        "latin-1"
    ), error.end


def _cp1252_ok(data: bytes) -> bool:
    try:
        data.decode("cp1252")
    except UnicodeDecodeError:
        return False
    return True


def _mixed_codec(name: str) -> codecs.CodecInfo | None:
    """UTF-8 whose stray non-UTF-8 bytes read as cp1252: a file edited by two programs."""
    if name.replace("-", "_") != MIXED_ENCODING.replace("-", "_"):
        return None

    def decode(data: Any, errors: str = "strict") -> tuple[str, int]:
        return codecs.utf_8_decode(data, ERROR_HANDLER, True)

    class Decoder(codecs.BufferedIncrementalDecoder):
        def _buffer_decode(self, data: Any, errors: str, final: bool) -> tuple[str, int]:
            return codecs.utf_8_decode(data, ERROR_HANDLER, final)

    class Reader(codecs.StreamReader):
        def decode(self, data: Any, errors: str = "strict") -> tuple[str, int]:
            return codecs.utf_8_decode(data, ERROR_HANDLER, False)

    utf8 = codecs.lookup("utf-8")
    return codecs.CodecInfo(
        name=MIXED_ENCODING,
        encode=utf8.encode,
        decode=decode,
        incrementalencoder=utf8.incrementalencoder,
        incrementaldecoder=Decoder,
        streamreader=Reader,
        streamwriter=utf8.streamwriter,
    )


MIXED_ENCODING = "utf-8-with-cp1252"
ERROR_HANDLER = "avatar-merge-cp1252"
codecs.register_error(ERROR_HANDLER, _cp1252_for_bad_bytes)
codecs.register(_mixed_codec)


def _bad_byte(path: Path, encoding: str) -> int | None:
    """Find the file offset of the first byte that does not decode; the error knows a chunk's."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                offset += len(chunk)
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError as error:  # error.object: the bytes held back, then this chunk
        return offset - len(error.object) + error.start
    except (UnicodeError, OSError):
        return None
    return None


def _is_utf8(path: Path) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _read_sample(path: Path, encoding: str) -> str:
    with path.open("rb") as handle:
        raw = handle.read(CSV_SNIFF_BYTES)
    return raw.decode(encoding, errors="ignore")


def _sniff_delimiter(sample: str, path: Path) -> str:
    """Choose the delimiter that splits the first records into the most consistent columns."""
    if path.suffix.lower() == ".tsv":
        return "\t"
    # Split as the csv reader will (\r, \n, \r\n only): str.splitlines also breaks at \x1c-\x1e,
    # \x85, \u2028... inside cells, and the pieces would vote for the wrong delimiter.
    lines = list(io.StringIO(sample, newline=""))
    if len(sample) >= CSV_SNIFF_BYTES and len(lines) > 1:
        lines = lines[:-1]
    text = "".join(lines)
    best, best_score = ",", (0, 0)
    for delimiter in CSV_DELIMITERS:
        try:
            records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
        except csv.Error:
            continue
        widths = [len(r) for r in records[:50] if any(r)]
        if not widths or max(widths) < 2:
            continue
        common = max(set(widths), key=widths.count)
        score = (widths.count(common) * 100 // len(widths), common)
        if common > 1 and score > best_score:
            best, best_score = delimiter, score
    return best


def used_width(info: SheetInfo) -> int:
    """Count the columns up to the last non-empty cell of any record."""
    width = 0
    try:
        with info.path.open(encoding=info.encoding, newline="") as src:
            for record in csv.reader(src, delimiter=info.delimiter or ","):
                if len(record) > width:  # most records are no wider: told without a look
                    while record and not record[-1]:
                        record.pop()
                    width = max(width, len(record))
    except OSError:
        pass  # annotate_csv meets the same error and reports it
    return width


def _output_encoding(info: SheetInfo) -> str:
    """Write back in the input's encoding, keeping or leaving out the BOM as the input did."""
    assert info.encoding is not None
    if info.encoding.lower() in {"cp1252", "latin-1"}:
        # cp1252 cannot hold every character a message may quote; UTF-8 with BOM opens in Excel.
        return "utf-8-sig"
    if info.encoding == "utf-8-sig":
        with info.path.open("rb") as handle:
            return "utf-8-sig" if handle.read(3) == codecs.BOM_UTF8 else "utf-8"
    return info.encoding


def annotate_csv(
    info: SheetInfo,
    dst: Path,
    columns: Sequence[tuple[int, str]],
    values: Mapping[int, Sequence[str]],
) -> None:
    assert info.encoding is not None
    assert info.delimiter is not None
    out_encoding = _output_encoding(info)
    # A name of its own for each write: two writers never share a half-written file.
    temp = dst.with_name(f".{dst.name}.{secrets.token_hex(4)}.tmp")
    try:
        with (
            info.path.open(encoding=info.encoding, newline="") as src,
            temp.open("x", encoding=out_encoding, newline="") as out,
        ):
            writer = csv.writer(out, delimiter=info.delimiter, lineterminator=info.line_terminator)
            marks = in_row_order(values)  # read as they come
            appended_at = _appended_at(columns)
            due = next(marks, None)
            for index, record in enumerate(csv.reader(src, delimiter=info.delimiter)):
                number = index + 1
                while due is not None and due[0] < number:
                    due = next(marks, None)
                texts = due[1] if due is not None and due[0] == number else None
                writer.writerow(
                    _annotated_record(number, record, info, columns, texts, appended_at)
                )
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, dst)
    except OSError as error:
        temp.unlink(missing_ok=True)
        raise OutputError(
            f"{dst}: cannot be written ({error.strerror})",
            "close it if it is open in another program, or choose another output folder with -o",
        ) from None
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _annotated_record(
    number: int,
    record: list[str],
    info: SheetInfo,
    columns: Sequence[tuple[int, str]],
    texts: Sequence[str] | None,
    appended_at: int | None = None,
) -> list[str]:
    """The record with the row's texts (the column names on the header row) in their columns."""
    if number < info.header_row:
        return record
    if number == info.header_row:
        cells = [name for _, name in columns]
    elif texts is None:
        return record
    else:
        cells = [_csv_safe(text) for text in texts]
    if len(record) == appended_at:
        return record + cells  # the usual row: the columns go right after its last cell
    record = list(record)
    for (position, _), text in zip(columns, cells, strict=True):
        while len(record) <= position:
            record.append("")
        record[position] = text
    return record


def _appended_at(columns: Sequence[tuple[int, str]]) -> int | None:
    """Where the columns start, when they are next to one another left to right (a record that
    ends just there takes them appended); else None."""
    side_by_side = all(b[0] == a[0] + 1 for a, b in pairwise(columns))
    return columns[0][0] if columns and side_by_side else None


def _csv_safe(text: str) -> str:
    # A spreadsheet program opening the CSV would run "=..." as a formula.
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text
