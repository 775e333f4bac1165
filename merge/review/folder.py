"""The review folder: every row's body and problems, the input sheet marked row by row, and a page
to read them in a browser (review.html; `submit` writes one of what it sent beside its output)."""

from __future__ import annotations

import os
from array import array
from bisect import bisect_left
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import IO

from merge.errors import OutputError
from merge.payload.encode import dumps
from merge.payload.row import RowResult
from merge.review.page import ReviewPage
from merge.review.thumbs import add_files
from merge.settings import (
    PAYLOAD_FILE_DIGITS,
    REVIEW_PAGE_NAME,
    STATUS_COLUMNS,
)
from merge.sheets.sheet import SheetInfo, write_annotated

STATUS_CODES = ("valid", "invalid")


class Annotations(Mapping[int, Sequence[str]]):
    """Each row's merge_status and merge_errors, kept compact so a million rows stay small."""

    def __init__(self) -> None:
        self._rows = array("q")
        self._codes = bytearray()
        self._errors: dict[int, str] = {}

    def add(self, row: int, status: str, errors: str) -> None:
        """Record one row; rows arrive in sheet order."""
        self._rows.append(row)
        self._codes.append(STATUS_CODES.index(status))
        if errors:
            self._errors[row] = errors

    def __getitem__(self, row: int) -> Sequence[str]:
        at = bisect_left(self._rows, row)
        if at == len(self._rows) or self._rows[at] != row:
            raise KeyError(row)
        return (STATUS_CODES[self._codes[at]], self._errors.get(row, ""))

    def __iter__(self) -> Iterator[int]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, row: object) -> bool:
        if not isinstance(row, int):
            return False
        at = bisect_left(self._rows, row)
        return at < len(self._rows) and self._rows[at] == row


def payload_file_name(row: int) -> str:
    """Name a row's body file so rows sort in sheet order: row-0002.json."""
    return f"row-{row:0{PAYLOAD_FILE_DIGITS}d}.json"


def _write_file(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        os.write(descriptor, data)
    finally:
        os.close(descriptor)


def page_title(info: SheetInfo) -> str:
    """Name the sheet a review page is about: `leads.xlsx, sheet "Leads"`."""
    sheet = f', sheet "{info.sheet_name}"' if info.sheet_name else ""
    return f"{info.path.name}{sheet}"


def write_page(path: Path, page: ReviewPage) -> None:
    """Write a review page whole or not at all: a temporary file, then a rename."""
    temp = path.with_name(f".{path.name}.tmp")
    try:
        with temp.open("wb") as file:
            for chunk in page.chunks():
                file.write(chunk)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


class ReviewFolder:
    """Writes payloads.jsonl, payloads/row-NNNN.json, review.html and the marked copy of the input.

    Files are written by one background thread, so on two cores the disk works while the next
    chunk renders; at most MAX_CHUNKS_IN_FLIGHT chunks wait, which bounds memory.
    """

    MAX_CHUNKS_IN_FLIGHT = 4

    def __init__(self, path: Path, info: SheetInfo) -> None:
        self.path = path
        self.info = info
        self.annotated_path = path / info.path.name
        self.payloads = path / "payloads"
        self.annotations = Annotations()
        self.page = ReviewPage(
            f"Review: {page_title(info)}",
            "every row's request body, rendered and checked offline; nothing has been sent",
        )
        self._jsonl_temp = path / ".payloads.jsonl.tmp"
        self._jsonl: IO[bytes] | None = None
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="review-writer")
        self._pending: deque[Future[None]] = deque()

    @classmethod
    def prepare(cls, path: Path, info: SheetInfo) -> ReviewFolder:
        """Check the folder can be written and clear what an earlier run left, before any row."""
        folder = cls(Path(path), info)
        if folder.annotated_path.resolve() == info.path.resolve():
            raise OutputError(
                f"{path}: is the input's own folder; the marked copy would replace"
                f" {info.path.name}",
                "choose another output folder with -o, for example -o review",
            )
        try:
            folder.payloads.mkdir(parents=True, exist_ok=True)
            for stale in folder.payloads.glob("row-*.json"):
                stale.unlink()
            folder._jsonl = folder._jsonl_temp.open("wb")
        except OSError as error:
            raise OutputError(
                f"{path}: cannot write the review folder there ({error.strerror})",
                "choose a folder you can write to with -o",
            ) from None
        return folder

    def __enter__(self) -> ReviewFolder:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._writer.shutdown(wait=True, cancel_futures=True)
        if self._jsonl is not None:
            self._jsonl.close()
            self._jsonl = None
            self._jsonl_temp.unlink(missing_ok=True)

    def add(self, results: Sequence[RowResult]) -> None:
        """Queue a chunk of results: one JSON line each, and a readable file per valid body."""
        rows = [r.as_json() for r in results]
        lines = b"".join(dumps(row) + b"\n" for row in rows)
        files = [
            (self.payloads / payload_file_name(r.row), dumps(r.payload, pretty=True) + b"\n")
            for r in results
            if r.status == "valid"
        ]
        for result, row in zip(results, rows, strict=True):
            errors = "; ".join(p.describe() for p in result.problems)
            self.annotations.add(result.row, result.status, errors)
            self.page.add(row)
            add_files(self.page, result.files)
        self._pending.append(self._writer.submit(self._write_chunk, lines, files))
        while len(self._pending) > self.MAX_CHUNKS_IN_FLIGHT or (
            self._pending and self._pending[0].done()
        ):
            self._settle(self._pending.popleft())

    def _write_chunk(self, lines: bytes, files: list[tuple[Path, bytes]]) -> None:
        assert self._jsonl is not None
        self._jsonl.write(lines)
        for path, data in files:
            _write_file(path, data)

    def _settle(self, future: Future[None]) -> None:
        """Wait for one queued write and turn its failure into a message for the user."""
        try:
            future.result()
        except OSError as error:
            raise OutputError(
                f"{self.path}: writing failed ({error.strerror})",
                "free some disk space or choose another folder with -o, then run again",
            ) from None

    def finish(self) -> None:
        """Wait for the queued writes, put payloads.jsonl in place, write the page and the input."""
        while self._pending:
            self._settle(self._pending.popleft())
        assert self._jsonl is not None
        self._jsonl.close()
        self._jsonl = None
        os.replace(self._jsonl_temp, self.path / "payloads.jsonl")
        try:
            write_page(self.path / REVIEW_PAGE_NAME, self.page)
        except OSError as error:
            raise OutputError(
                f"{self.path / REVIEW_PAGE_NAME}: cannot be written ({error.strerror})",
                "free some disk space or choose another folder with -o, then run again",
            ) from None
        write_annotated(self.info, self.annotated_path, STATUS_COLUMNS, self.annotations)
