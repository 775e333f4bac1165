"""The review folder: every row's body and problems, the input sheet marked row by row, and a page
to read them in a browser (review.html; `submit` writes one of what it sent beside its output)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection, Pipe
from pathlib import Path
from types import TracebackType
from typing import IO, NamedTuple

import orjson

from merge.errors import MergeError, OutputError
from merge.payload.encode import dumps, dumps_strict
from merge.payload.media import LocalFile
from merge.payload.row import RowResult
from merge.review.marked import MarkedCopy
from merge.review.page import ReviewPage
from merge.review.thumbs import add_files
from merge.settings import PAYLOAD_FILE_DIGITS, REVIEW_PAGE_NAME
from merge.sheets.sheet import SheetInfo


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


class Chunk(NamedTuple):
    """What the writer gets of a chunk of rows."""

    lines: bytes
    """Their payloads.jsonl lines."""
    strict: bytes
    """One byte a line: 1 where orjson wrote it, so the page reuses its bytes."""
    files: dict[str, LocalFile]
    """The local files their bodies name, by token."""
    marks: list[tuple[int, str, str]]
    """Each row's number, status and errors, for the marked copy."""


class PageWriter:
    """Writes payloads.jsonl (and with `split` a file per valid body), builds the review page
    from the lines and writes the marked copy of the input as the rows' marks arrive: in a
    process of its own where one can be forked, else in this one."""

    def __init__(self, folder: ReviewFolder) -> None:
        self.folder = folder
        assert folder._jsonl is not None
        self.jsonl = folder._jsonl
        self.page = ReviewPage(
            f"Review: {page_title(folder.info)}",
            "every row's request body, rendered and checked offline; nothing has been sent",
        )
        self._copy: MarkedCopy | None = None

    def marked_copy(self) -> MarkedCopy:
        """The marked copy's writer, started in the process that writes (never before a fork)."""
        if self._copy is None:
            self._copy = MarkedCopy(self.folder.info, self.folder.annotated_path)
        return self._copy

    def add(self, chunk: Chunk) -> None:
        """Write a chunk's lines, put each row on the page, and pass its marks to the copy."""
        self.marked_copy().marks.arrive(chunk.marks)
        self.jsonl.write(chunk.lines)
        split = self.folder.payloads if self.folder.split else None
        for line, reuse in zip(chunk.lines.splitlines(), chunk.strict, strict=True):
            card = (
                orjson.loads(line) if reuse else json.loads(line.decode("utf-8", "surrogatepass"))
            )
            self.page.add(card, line if reuse else None)
            if split is not None and card["status"] == "valid":
                body = dumps(card["payload"], pretty=True) + b"\n"
                _write_file(split / payload_file_name(card["row"]), body)
        add_files(self.page, chunk.files)

    def finish(self) -> None:
        """Put payloads.jsonl in place and write the page, while the marked copy is finished."""
        copy = self.marked_copy()
        copy.marks.end()
        path = self.folder.path
        self.jsonl.close()
        os.replace(self.folder._jsonl_temp, path / "payloads.jsonl")
        write_page(path / REVIEW_PAGE_NAME, self.page)
        copy.finish()

    def stop(self) -> None:
        """Stop before the last row: no marked copy is put in place."""
        if self._copy is not None:
            self._copy.stop()


class ForkedWriter:
    """A PageWriter in a forked process: this one renders while that one writes, on another
    core. Chunks travel over a pipe, whose filling holds the render back.

    A bare fork: the child runs only the writer and leaves with os._exit, so it never flushes
    or closes what it inherited (a notebook's output streams, say), and runs no exit handlers.
    """

    STOP_SECONDS = 5.0
    """How long a stopping child may take to clean up before it is killed."""

    def __init__(self, folder: ReviewFolder) -> None:
        self._here, there = Pipe()
        writer = PageWriter(folder)
        self.pid = os.fork()
        if self.pid == 0:  # the child
            code = 0
            try:
                self._here.close()  # so that the parent closing its end ends the pipe
                _serve(writer, there)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        there.close()

    def add(self, chunk: Chunk) -> None:
        """Hand a chunk over; a child that has stopped shows at `finish`."""
        with contextlib.suppress(OSError):
            self._here.send(chunk)

    def finish(self) -> None:
        """Ask for the page and the marked copy and wait for them; raise what failed there."""
        with contextlib.suppress(OSError):  # a child that failed has said why, and stopped
            self._here.send(None)
        try:
            said = self._here.recv()
        except (OSError, EOFError):
            said = (OSError, "the writing process stopped", None)
        self.stop()
        if said is not None:
            kind, message, hint = said
            raise kind(message) if kind is OSError else kind(message, hint)

    def stop(self) -> None:
        """Close the pipe and wait for the child to end; kill it if it does not."""
        self._here.close()
        deadline = time.monotonic() + self.STOP_SECONDS
        while os.waitpid(self.pid, os.WNOHANG) == (0, 0):
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                break
            time.sleep(0.005)


def _serve(writer: PageWriter, there: Connection) -> None:
    """The child's loop: chunks until None, then the page and the copy; it answers None, or
    what failed as (kind, message, hint)."""
    try:
        while (chunk := there.recv()) is not None:
            writer.add(chunk)
        writer.finish()
        there.send(None)
    except MergeError as error:
        writer.stop()
        there.send((type(error), error.message, error.hint))
    except OSError as error:
        writer.stop()
        there.send((OSError, error.strerror or str(error), None))
    except (EOFError, KeyboardInterrupt):  # the run stopped: the main process cleans up
        writer.stop()
    except Exception as error:  # a fault of ours: say what it was rather than go silent
        writer.stop()
        said = f"an unexpected error while writing: {type(error).__name__}: {error}"
        there.send((OSError, said, None))


def can_fork() -> bool:
    """Whether the writer may run in a forked process (Linux; elsewhere forking is unsafe)."""
    return sys.platform == "linux" and hasattr(os, "fork")


class ReviewFolder:
    """Writes payloads.jsonl, review.html and the marked copy of the input; with `split`, also
    payloads/row-NNNN.json, one readable file per valid body.

    Each row is serialised once: its payloads.jsonl line is also its card on the page. The lines
    and each row's marks go to a PageWriter, in a process of its own where possible, so the page
    and the marked copy are written on the other core while the next chunk renders.
    """

    def __init__(self, path: Path, info: SheetInfo, split: bool = False) -> None:
        self.path = path
        self.info = info
        self.split = split
        self.annotated_path = path / info.path.name
        self.payloads = path / "payloads"
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
        if self._writer is not None:
            self._writer.stop()
        self._writer = None
        if self._jsonl is not None:
            self._jsonl.close()
            self._jsonl = None
            self._jsonl_temp.unlink(missing_ok=True)

    def add(self, results: Sequence[RowResult]) -> None:
        """Hand a chunk of results to the writer: one JSON line each, and each row's marks."""
        strict = [r.json_line() or dumps_strict(r.as_json()) for r in results]
        encoded = [
            dumps(r.as_json()) if line is None else line
            for r, line in zip(results, strict, strict=True)
        ]
        lines = b"\n".join(encoded) + b"\n" if encoded else b""
        files: dict[str, LocalFile] = {}
        marks = []
        for result in results:
            problems = result.problems
            errors = "; ".join(p.describe() for p in problems) if problems else ""
            marks.append((result.row, result.status, errors))
            files.update(result.files)
        assert self._writer is not None
        try:
            self._writer.add(Chunk(lines, bytes(line is not None for line in strict), files, marks))
        except OSError as error:
            raise self._failed(error) from None

    def finish(self) -> None:
        """Have the writer put payloads.jsonl in place and finish the page and the marked copy."""
        assert self._writer is not None
        writer, self._writer = self._writer, None
        try:
            writer.finish()
        except OSError as error:
            raise self._failed(error) from None
        finally:
            if self._jsonl is not None:
                self._jsonl.close()  # this process's copy; the writer wrote and closed its own
                self._jsonl = None
            self._jsonl_temp.unlink(missing_ok=True)  # put in place, or half-written: gone

    def _failed(self, error: OSError) -> OutputError:
        return OutputError(
            f"{self.path}: writing failed ({error.strerror or error})",
            "free some disk space or choose another folder with -o, then run again",
        )
