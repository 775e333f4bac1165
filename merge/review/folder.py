"""The review folder: every row's body and problems, the input sheet marked row by row, and a page
to read them in a browser (review.html; `submit` writes one of what it sent beside its output)."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import sys
from array import array
from bisect import bisect_left
from collections.abc import Iterator, Mapping, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType
from typing import IO

import orjson

from merge.errors import OutputError
from merge.payload.encode import dumps, dumps_strict
from merge.payload.media import LocalFile
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


class PageWriter:
    """Writes payloads.jsonl (and with `split` a file per valid body) and builds the review page
    from the lines: in a process of its own where one can be forked, else in this one."""

    def __init__(self, folder: ReviewFolder) -> None:
        self.folder = folder
        assert folder._jsonl is not None
        self.jsonl = folder._jsonl
        self.page = ReviewPage(
            f"Review: {page_title(folder.info)}",
            "every row's request body, rendered and checked offline; nothing has been sent",
        )

    def add(self, lines: bytes, strict: bytes, files: Mapping[str, LocalFile]) -> None:
        """Write a chunk's lines and put each row on the page; `strict` marks (1 byte a line)
        the lines orjson wrote, whose bytes the page reuses."""
        self.jsonl.write(lines)
        split = self.folder.payloads if self.folder.split else None
        for line, reuse in zip(lines.splitlines(), strict, strict=True):
            card = (
                orjson.loads(line) if reuse else json.loads(line.decode("utf-8", "surrogatepass"))
            )
            self.page.add(card, line if reuse else None)
            if split is not None and card["status"] == "valid":
                body = dumps(card["payload"], pretty=True) + b"\n"
                _write_file(split / payload_file_name(card["row"]), body)
        add_files(self.page, files)

    def finish(self) -> None:
        """Put payloads.jsonl in place and write the page."""
        path = self.folder.path
        self.jsonl.close()
        os.replace(self.folder._jsonl_temp, path / "payloads.jsonl")
        write_page(path / REVIEW_PAGE_NAME, self.page)


class ForkedWriter:
    """A PageWriter in a forked process: this one renders while that one writes and builds the
    page, on another core. Chunks travel over a pipe, whose filling holds the render back."""

    def __init__(self, folder: ReviewFolder) -> None:
        context = multiprocessing.get_context("fork")
        self._here, there = context.Pipe()
        for stream in (sys.stdout, sys.stderr):  # a forked child must not write them again
            stream.flush()
        self._process = context.Process(
            target=_serve, args=(PageWriter(folder), there), name="review-writer", daemon=True
        )
        self._process.start()
        there.close()

    def add(self, lines: bytes, strict: bytes, files: Mapping[str, LocalFile]) -> None:
        """Hand a chunk over; a child that has stopped shows at `finish`."""
        with contextlib.suppress(OSError):
            self._here.send((lines, strict, dict(files)))

    def finish(self) -> None:
        """Ask for the page and wait for it; the child's failure comes back as an OSError."""
        with contextlib.suppress(OSError):  # a child that failed has said why, and stopped
            self._here.send(None)
        try:
            said = self._here.recv()
        except (OSError, EOFError):
            said = "the writing process stopped"
        self.close()
        if said is not None:
            raise OSError(said)

    def close(self) -> None:
        """Stop the child, whatever it was doing."""
        self._here.close()
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()


def _serve(writer: PageWriter, there: Connection) -> None:
    """The child's loop: chunks until None, then the page; it answers None or what failed."""
    try:
        while (chunk := there.recv()) is not None:
            writer.add(*chunk)
        writer.finish()
        there.send(None)
    except OSError as error:
        there.send(error.strerror or str(error))
    except (EOFError, KeyboardInterrupt):  # the run stopped: the main process cleans up
        pass


def can_fork() -> bool:
    """Whether the writer may run in a forked process (Linux; elsewhere forking is unsafe)."""
    return sys.platform == "linux" and "fork" in multiprocessing.get_all_start_methods()


class ReviewFolder:
    """Writes payloads.jsonl, review.html and the marked copy of the input; with `split`, also
    payloads/row-NNNN.json, one readable file per valid body.

    Each row is serialised once: its payloads.jsonl line is also its card on the page. The lines
    go to a PageWriter, in a process of its own where possible (so the page is built on the
    other core while the next chunk renders); the marked copy is written here, meanwhile.
    """

    def __init__(self, path: Path, info: SheetInfo, split: bool = False) -> None:
        self.path = path
        self.info = info
        self.split = split
        self.annotated_path = path / info.path.name
        self.payloads = path / "payloads"
        self.annotations = Annotations()
        self._jsonl_temp = path / ".payloads.jsonl.tmp"
        self._jsonl: IO[bytes] | None = None
        self._writer: PageWriter | ForkedWriter | None = None

    @classmethod
    def prepare(
        cls, path: Path, info: SheetInfo, split: bool = False, fork: bool | None = None
    ) -> ReviewFolder:
        """Check the folder can be written and clear what an earlier run left, before any row.

        `fork`: build the page in a process of its own (default: where one can be forked).
        """
        folder = cls(Path(path), info, split)
        if folder.annotated_path.resolve() == info.path.resolve():
            raise OutputError(
                f"{path}: is the input's own folder; the marked copy would replace"
                f" {info.path.name}",
                "choose another output folder with -o, for example -o review",
            )
        try:
            folder.path.mkdir(parents=True, exist_ok=True)
            if folder.payloads.is_dir():
                for stale in folder.payloads.glob("row-*.json"):
                    stale.unlink()
                if not split and not any(folder.payloads.iterdir()):
                    folder.payloads.rmdir()
            if split:
                folder.payloads.mkdir(exist_ok=True)
            folder._jsonl = folder._jsonl_temp.open("wb")
        except OSError as error:
            raise OutputError(
                f"{path}: cannot write the review folder there ({error.strerror})",
                "choose a folder you can write to with -o",
            ) from None
        forked = can_fork() if fork is None else fork
        folder._writer = ForkedWriter(folder) if forked else PageWriter(folder)
        return folder

    def __enter__(self) -> ReviewFolder:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if isinstance(self._writer, ForkedWriter):
            self._writer.close()
        self._writer = None
        if self._jsonl is not None:
            self._jsonl.close()
            self._jsonl = None
            self._jsonl_temp.unlink(missing_ok=True)

    def add(self, results: Sequence[RowResult]) -> None:
        """Hand a chunk of results to the writer: one JSON line each, and note each row's status."""
        rows = [r.as_json() for r in results]
        strict = [dumps_strict(row) for row in rows]
        encoded = [
            dumps(row) if line is None else line for row, line in zip(rows, strict, strict=True)
        ]
        lines = b"\n".join(encoded) + b"\n" if encoded else b""
        files: dict[str, LocalFile] = {}
        annotations = self.annotations
        for result in results:
            problems = result.problems
            errors = "; ".join(p.describe() for p in problems) if problems else ""
            annotations.add(result.row, result.status, errors)
            files.update(result.files)
        assert self._writer is not None
        try:
            self._writer.add(lines, bytes(line is not None for line in strict), files)
        except OSError as error:
            raise self._failed(error) from None

    def finish(self) -> None:
        """Write the marked copy of the input while the writer puts payloads.jsonl in place and
        writes the page; then wait for it."""
        assert self._writer is not None
        writer, self._writer = self._writer, None
        try:
            if isinstance(writer, ForkedWriter):
                write_annotated(self.info, self.annotated_path, STATUS_COLUMNS, self.annotations)
                writer.finish()
            else:
                writer.finish()
                write_annotated(self.info, self.annotated_path, STATUS_COLUMNS, self.annotations)
        except OSError as error:
            raise self._failed(error) from None
        finally:
            if self._jsonl is not None:
                self._jsonl.close()  # this process's copy; the writer wrote and closed its own
                self._jsonl = None

    def _failed(self, error: OSError) -> OutputError:
        return OutputError(
            f"{self.path}: writing failed ({error.strerror or error})",
            "free some disk space or choose another folder with -o, then run again",
        )
