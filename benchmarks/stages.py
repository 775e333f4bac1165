"""Where the wall time of one `avatar-merge render` goes, by stage, measured without a profiler.

Run as `python -m benchmarks.stages RESULT.json render DATA TEMPLATE -o DIR`: it wraps a few
functions of the render path with wall-clock timers (a few hundred nanoseconds per call, unlike
cProfile's per-call overhead on every function), runs the CLI's `main` with
those arguments, and writes the seconds spent in each stage to RESULT.json. Stages are self
time: a stage that runs inside another is taken off the outer one, so the main thread's stages
add up to its wall time. Work done on other threads (the marked copy's writer) is reported
apart, since it overlaps. The real command hands payloads.jsonl and the page to one forked
process and the marked copy to another; here that work runs in this process, so it is timed
too (the sum is the work of all three processes, not the real command's wall time). Nothing
in merge/ is changed on disk; a required stage whose function has been renamed is reported as
missing.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

STARTED = time.perf_counter()

import merge.cli.commands  # noqa: E402  (imported after STARTED on purpose: import time is a stage)
import merge.review.folder  # noqa: E402
import merge.review.marked  # noqa: E402
import merge.review.offline  # noqa: E402

IMPORTED = time.perf_counter()

seconds: dict[str, float] = defaultdict(float)
background: dict[str, float] = defaultdict(float)
calls: dict[str, int] = defaultdict(int)
missing: list[str] = []
_active: list[str] = []

OPEN = "open sheet (header, workbook parse)"
READ = "read rows"
CHECK = "render + validate (check_row)"
ADD = "serialise results, annotations (ReviewFolder.add)"
FINISH = "finish, besides the stages below"


def _enter(stage: str) -> float:
    _active.append(stage)
    return time.perf_counter()


def _leave(stage: str, start: float) -> None:
    """Charge the time to the stage, and take it off the stage it ran inside (self time)."""
    elapsed = time.perf_counter() - start
    _active.pop()
    seconds[stage] += elapsed
    calls[stage] += 1
    if _active:
        seconds[_active[-1]] -= elapsed


def _timed(stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
    main_thread = threading.main_thread()

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread() is not main_thread:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                background[stage] += time.perf_counter() - start
                calls[stage] += 1
        start = _enter(stage)
        try:
            return function(*args, **kwargs)
        finally:
            _leave(stage, start)

    return wrapper


def _timed_rows(rows: Iterable[Any]) -> Iterator[Any]:
    """Charge the time spent producing each row (parsing, cell text) to the read stage."""
    iterator = iter(rows)
    while True:
        start = _enter(READ)
        try:
            row = next(iterator)
        except StopIteration:
            _leave(READ, start)
            return
        _leave(READ, start)
        yield row


class _TimedSheet:
    def __init__(self, sheet: Any) -> None:
        self._sheet = sheet
        self.info = sheet.info

    def rows(self) -> Iterator[Any]:
        return _timed_rows(self._sheet.rows())


def _patch(owner: Any, name: str, stage: str, wrap: Callable[..., Any] | None = None) -> bool:
    original = getattr(owner, name, None)
    if original is None:
        return False
    setattr(owner, name, wrap(original) if wrap else _timed(stage, original))
    return True


def install() -> None:
    """Wrap the stage functions that exist in this version of merge/."""
    pipeline, review = merge.review.offline, merge.review.folder

    def open_sheet(original: Callable[..., Any]) -> Callable[..., Any]:
        timed = _timed(OPEN, original)
        return lambda *a, **k: _TimedSheet(timed(*a, **k))

    required = [
        (pipeline, "open_sheet", OPEN, open_sheet),
        (pipeline, "load_template", "load template", None),
        (pipeline, "check_row", CHECK, None),
        (merge.review.marked, "write_annotated", "annotated copy of the sheet", None),
    ]
    for owner, name, stage, wrap in required:
        if not _patch(owner, name, stage, wrap):
            missing.append(f"{owner.__name__}.{name}")
    folder = getattr(review, "ReviewFolder", None)
    if folder is None:
        missing.append("merge.review.folder.ReviewFolder")
        return
    for name, stage in [("prepare", "prepare review folder"), ("add", ADD), ("finish", FINISH)]:
        if not _patch(folder, name, stage):
            missing.append(f"ReviewFolder.{name}")
    # The review folder's writing has changed shape over time; time whichever is there.
    optional = [
        ("_write_payload", "payload files, written in the main thread"),
        ("_settle", "waiting for the writer thread"),
        ("_write_chunk", "writer thread: payloads.jsonl + payload files"),
    ]
    for name, stage in optional:
        _patch(folder, name, stage)
    writer = getattr(review, "PageWriter", None)
    if writer is not None:
        review.can_fork = lambda: False  # one process, so both are timed
        _patch(writer, "add", "writer: payloads.jsonl lines and the page's cards")
        _patch(writer, "finish", "writer: review.html, waiting for the marked copy")


def main(argv: list[str]) -> int:
    """Run the CLI with timers in place and write the stage times as JSON."""
    result_path = Path(argv[0])
    install()
    with open(os.devnull, "w", encoding="utf-8") as sink:
        begun = time.perf_counter()
        code = merge.cli.commands.main(argv[1:], out=sink)
        ended = time.perf_counter()
    stages = dict(seconds)
    stages["imports (merge and its dependencies)"] = IMPORTED - STARTED
    stages["everything else in main"] = (ended - begun) - sum(seconds.values())
    report = {
        "exit_code": code,
        "in_script_seconds": ended - STARTED,
        "stages": stages,
        "background": dict(background),
        "calls": dict(calls),
        "missing": missing,
    }
    result_path.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
