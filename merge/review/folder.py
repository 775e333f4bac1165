"""The review folder: every row's body and problems, the input sheet marked row by row, and a page
to read them in a browser (review.html; `submit` writes one of what it sent beside its output)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, Pipe
from pathlib import Path
from types import TracebackType
from typing import IO, Any, NamedTuple, Protocol

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


class Worker(Protocol):
    """What writes part of the review folder, here or in a process of its own."""

    def add(self, item: Any) -> None:
        """Take the next chunk's share."""

    def finish(self) -> None:
        """Put what it writes in place, once every chunk has come."""

    def stop(self) -> None:
        """Stop before the last chunk, putting nothing half-written in place."""


class PageWriter:
    """Writes payloads.jsonl (and with `split` a file per valid body) and builds the review page
    from the lines; with `copy`, also writes the marked copy of the input as the rows' marks
    arrive, on a thread (where forking is not safe: elsewhere the copy has a process of its own).
    """

    def __init__(self, folder: ReviewFolder, copy: bool = True) -> None:
        self.folder = folder
        assert folder._jsonl is not None
        self.jsonl = folder._jsonl
        self.page = ReviewPage(
            f"Review: {page_title(folder.info)}",
            "every row's request body, rendered and checked offline; nothing has been sent",
        )
        self.copies = copy
        self._copy: MarkedCopy | None = None

    def marked_copy(self) -> MarkedCopy:
        """The marked copy's writer, started in the process that writes (never before a fork)."""
        if self._copy is None:
            self._copy = MarkedCopy(self.folder.info, self.folder.annotated_path)
        return self._copy

    def add(self, chunk: Chunk) -> None:
        """Write a chunk's lines, put each row on the page, and pass its marks to the copy."""
        if self.copies:
            self.marked_copy().add(chunk.marks)
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
        copy = self.marked_copy() if self.copies else None
        if copy is not None:
            copy.marks.end()
        path = self.folder.path
        self.jsonl.close()
        os.replace(self.folder._jsonl_temp, path / "payloads.jsonl")
        write_page(path / REVIEW_PAGE_NAME, self.page)
        if copy is not None:
            copy.finish()

    def stop(self) -> None:
        """Stop before the last row: no marked copy is put in place."""
        if self._copy is not None:
            self._copy.stop()


class ForkedWriter:
    """A worker in a forked process: this one renders while that one writes, on another core.
    What it is handed travels over a pipe, whose filling holds the render back. The page and
    the marked copy each get one, so neither waits for the other.

    A bare fork: the child runs only its worker and leaves with os._exit, so it never flushes
    or closes what it inherited (a notebook's output streams, say), and runs no exit handlers.
    """

    STOP_SECONDS = 5.0
    """How long a stopping child may take to clean up before it is killed."""

    def __init__(self, make: Callable[[], Worker], siblings: Sequence[ForkedWriter] = ()) -> None:
        """Fork a child that makes its worker and serves it; `siblings`: children forked before,
        whose pipes this one must not keep open (their ends would then never close)."""
        self._here, there = Pipe()
        self._ended = False
        self.pid = os.fork()
        if self.pid == 0:  # the child
            code = 0
            try:
                self._here.close()  # so that the parent closing its end ends the pipe
                for sibling in siblings:
                    sibling._here.close()
                _serve(make, there)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        there.close()

    def add(self, item: Any) -> None:
        """Hand a chunk's share over; a child that has stopped shows at `finish`."""
        with contextlib.suppress(OSError):
            self._here.send(item)

    def end(self) -> None:
        """Say every chunk has come, so the child finishes while this one waits elsewhere."""
        if not self._ended:
            self._ended = True
            with contextlib.suppress(OSError):  # a child that failed has said why, and stopped
                self._here.send(None)

    def finish(self) -> None:
        """Wait for the child to put its work in place; raise what failed there."""
        self.end()
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


def _serve(make: Callable[[], Worker], there: Connection) -> None:
    """The child's loop: make the worker, hand it what comes until None, then have it finish;
    answer None, or what failed as (kind, message, hint)."""
    worker: Worker | None = None
    try:
        worker = make()
        while (item := there.recv()) is not None:
            worker.add(item)
        worker.finish()
        there.send(None)
    except MergeError as error:
        _stop(worker)
        there.send((type(error), error.message, error.hint))
    except OSError as error:
        _stop(worker)
        there.send((OSError, error.strerror or str(error), None))
    except (EOFError, KeyboardInterrupt):  # the run stopped: the main process cleans up
        _stop(worker)
    except Exception as error:  # a fault of ours: say what it was rather than go silent
        _stop(worker)
        said = f"an unexpected error while writing: {type(error).__name__}: {error}"
        there.send((OSError, said, None))


def _stop(worker: Worker | None) -> None:
    if worker is not None:
        worker.stop()


def can_fork() -> bool:
    """Whether the writer may run in a forked process (Linux; elsewhere forking is unsafe)."""
    return sys.platform == "linux" and hasattr(os, "fork")


class ReviewFolder:
    """Writes payloads.jsonl, review.html and the marked copy of the input; with `split`, also
    payloads/row-NNNN.json, one readable file per valid body.

    Each row is serialised once: its payloads.jsonl line is also its card on the page. Where a
    process can be forked, the lines go to a PageWriter and each row's marks to the MarkedCopy,
    each in a process of its own, so the page and the copy are written beside the render and
    neither waits for the other; elsewhere one PageWriter here does both.
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
        self._copy: ForkedWriter | None = None
        """The marked copy's own process, where the page has one too."""

    @classmethod
    def prepare(
        cls, path: Path, info: SheetInfo, split: bool = False, fork: bool | None = None
    ) -> ReviewFolder:
        """Check the folder can be written and clear what an earlier run left, before any row.

        `fork`: build the page and the copy in processes of their own (default: where one can
        be forked).
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
        if can_fork() if fork is None else fork:
            folder._copy = ForkedWriter(lambda: MarkedCopy(info, folder.annotated_path))
            folder._writer = ForkedWriter(lambda: PageWriter(folder, copy=False), [folder._copy])
        else:
            folder._writer = PageWriter(folder)
        return folder

    def __enter__(self) -> ReviewFolder:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        for worker in (self._writer, self._copy):
            if worker is not None:
                worker.stop()
        self._writer = self._copy = None
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
            if self._copy is not None:
                self._copy.add(marks)
                marks = []
            self._writer.add(Chunk(lines, bytes(line is not None for line in strict), files, marks))
        except OSError as error:
            raise self._failed(error) from None

    def finish(self) -> None:
        """Have the writer put payloads.jsonl in place and finish the page and the marked copy."""
        assert self._writer is not None
        writer, copy = self._writer, self._copy
        self._writer = self._copy = None
        try:
            if copy is not None:
                copy.end()  # the copy is finished while the page is written
            try:
                writer.finish()
            except BaseException:
                if copy is not None:
                    copy.stop()
                raise
            if copy is not None:
                copy.finish()
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
