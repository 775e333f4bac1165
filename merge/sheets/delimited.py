"""Read and write delimited text (CSV, TSV), record by record, so huge files stay small."""

from __future__ import annotations

import codecs
import csv
import io
import os
import secrets
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from merge.errors import OutputError, SheetError
from merge.settings import CSV_DELIMITERS, CSV_FALLBACK_ENCODING, CSV_SNIFF_BYTES
from merge.sheets.cells import (
    Row,
    SheetInfo,
    check_unchanged,
    header_columns,
    lock_file_warning,
    row_from_cells,
)

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

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
    info: SheetInfo = field(init=False)

    def __post_init__(self) -> None:
        self._stat = self.path.stat()
        encoding, warnings = _detect_encoding(self.path, self.encoding_wanted)
        sample = _read_sample(self.path, encoding)
        delimiter = self.delimiter_wanted or _sniff_delimiter(sample, self.path)
        header_index, header = self._find_header(encoding, delimiter)
        columns, positions = header_columns(header, 0, self.path.name, lambda p: str(p + 1))
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
        for index, record in enumerate(self._records(encoding, delimiter)):
            if any(cell.strip() for cell in record):
                return index, record
        raise SheetError(f"{self.path}: the file is empty", "put a header row and data rows in it")

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
    """Take UTF-8 (with or without BOM) when every byte fits, else fall back to cp1252."""
    if wanted:
        try:
            found = codecs.lookup(wanted)
        except LookupError:
            raise SheetError(
                f"unknown encoding {wanted!r}", "try utf-8, cp1252, latin-1 or utf-16"
            ) from None
        # "utf-8" named by the user must still drop Excel's BOM, or it sticks to the first name.
        return ("utf-8-sig" if found.name == "utf-8" else wanted), ()
    if _is_utf8(path):
        return "utf-8-sig", ()
    note = (
        f"{path.name} is not UTF-8; it was read as {CSV_FALLBACK_ENCODING} (Windows Western)."
        " Use --encoding if letters look wrong"
    )
    return CSV_FALLBACK_ENCODING, (note,)


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
            for index, record in enumerate(csv.reader(src, delimiter=info.delimiter)):
                writer.writerow(_annotated_record(index + 1, record, info, columns, values))
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
    values: Mapping[int, Sequence[str]],
) -> list[str]:
    if number < info.header_row:
        return record
    if number == info.header_row:
        cells = [name for _, name in columns]
    elif number in values:
        cells = [_csv_safe(text) for text in values[number]]
    else:
        return record
    record = list(record)
    for (position, _), text in zip(columns, cells, strict=True):
        while len(record) <= position:
            record.append("")
        record[position] = text
    return record


def _csv_safe(text: str) -> str:
    # A spreadsheet program opening the CSV would run "=..." as a formula.
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text
