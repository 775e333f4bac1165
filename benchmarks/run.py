"""Benchmarks of avatar-merge: `python -m benchmarks.run` (or `make bench`) prints every figure.

See benchmarks/README.md for what each figure means. Sizes and repeats come from the
environment, so a quick run is `BENCH_ROWS=5000 BENCH_BIG_ROWS=20000 python -m benchmarks.run`:

  BENCH_ROWS      rows of the main sheet, as .xlsx and .csv (default 100000)
  BENCH_BIG_ROWS  rows of the big .csv and .xlsx for the memory figures (default 1000000)
  BENCH_REPEATS   runs of each timed command, and of the in-process loop (default 3)
  BENCH_TMPDIR    where review folders are written (default: the system temp folder)
  BENCH_BIG_TMPDIR  where the big sheet's review folder is written (default: BENCH_TMPDIR);
                  it holds one small file per valid row, about 4 GB of blocks for 1M rows
  BENCH_RAMDISK   a RAM-backed folder for a second set of render timings that leaves the disk
                  out (default /dev/shm when it exists; set it empty to skip)
  BENCH_SKIP      comma-separated parts to leave out: check, render, ramdisk, floor, big,
                  bigxlsx, mailmerge, submit, poll, uploads, preflight, stages, profile
  BENCH_ONLY      "render": only the whole-command figures (mailmerge side by side on 10k and
                  BENCH_ROWS csv rows, and the floor ratios), a few minutes;
                  "submit": run only the submit benchmarks (python -m benchmarks.submitting),
                  whose own BENCH_SUBMIT_* settings are described in benchmarks/submitting.py;
                  "poll": run only the polling benchmark (python -m benchmarks.polling), whose
                  BENCH_POLL_* settings are described in benchmarks/polling.py;
                  "uploads": only the upload benchmark (benchmarks/uploads.py);
                  "preflight": only the pre-flight benchmark (benchmarks/preflight.py);
                  "v3": the v3 account benchmark (python -m benchmarks.v3_account): 2,000
                  videos against a 10-job account, BENCH_V3_* settings in its docstring
  BENCH_PROFILE   "auto" (default: cProfile the .xlsx render when the 3x target is missed),
                  "1" (always) or "0" (never)

It never asserts: missed targets are marked in the table and the exit status is 0.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import pstats
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks import leads

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
DATA = HERE / "data"
OUT = HERE / "out"
TEMPLATE = HERE / "template.json"
MAILMERGE_TEMPLATE = HERE / "mailmerge_template.txt"
MAILMERGE_CONFIG = HERE / "mailmerge_server.conf"
BIN = Path(sys.executable).parent
AVATAR_MERGE = BIN / "avatar-merge"
MAILMERGE = BIN / "mailmerge"
MB = 1_000_000

CHECK_TARGET_ROWS_PER_S = 50_000
XLSX_FLOOR_RATIO_TARGET = 3.0
BIG_RSS_TARGET_MB = 250
BIG_XLSX_RSS_TARGET_MB = 1_000
MAILMERGE_RATIO_TARGET = 5.0
SMALL_ROWS = 10_000


# -- configuration ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """What to run, from BENCH_* environment variables."""

    rows: int
    big_rows: int
    repeats: int
    tmpdir: Path
    big_tmpdir: Path
    ramdisk: Path | None
    skip: frozenset[str]
    profile: str

    @classmethod
    def from_env(cls) -> Config:
        """Read the BENCH_* variables, with the documented defaults."""
        ramdisk_default = "/dev/shm" if Path("/dev/shm").is_dir() else ""
        ramdisk = os.environ.get("BENCH_RAMDISK", ramdisk_default)
        skip = {s.strip() for s in os.environ.get("BENCH_SKIP", "").split(",") if s.strip()}
        tmpdir = Path(os.environ.get("BENCH_TMPDIR") or tempfile.gettempdir())
        ramdisk_path = Path(ramdisk) if ramdisk and Path(ramdisk).is_dir() else None
        return cls(
            rows=_int_env("BENCH_ROWS", 100_000),
            big_rows=_int_env("BENCH_BIG_ROWS", 1_000_000),
            repeats=max(1, _int_env("BENCH_REPEATS", 3)),
            tmpdir=tmpdir,
            big_tmpdir=Path(os.environ.get("BENCH_BIG_TMPDIR") or tmpdir),
            ramdisk=ramdisk_path,
            skip=frozenset(skip),
            profile=os.environ.get("BENCH_PROFILE", "auto"),
        )

    def wants(self, part: str) -> bool:
        """Say whether a part of the benchmark is to run."""
        return part not in self.skip

    def places(self) -> dict[str, Path]:
        """Where review folders go: the temp folder on disk, and the RAM disk if wanted."""
        places = {"disk": self.tmpdir}
        if self.ramdisk is not None and self.wants("ramdisk"):
            places["ramdisk"] = self.ramdisk
        return places


def _int_env(name: str, default: int) -> int:
    text = os.environ.get(name, "").replace("_", "").replace(",", "")
    return int(text) if text else default


def log(message: str) -> None:
    """Say what is running, on stderr, so the figures on stdout stay clean."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- figures ----------------------------------------------------------------------------------


@dataclass
class Figure:
    """One measured number, its target if it has one, and the runs behind it."""

    key: str
    name: str
    value: float | None
    unit: str
    target: str = ""
    passed: bool | None = None
    detail: str = ""
    samples: list[float] = field(default_factory=list)
    error: str = ""

    def mark(self) -> str:
        """Show pass, FAIL, ERROR or a dash when there is no target."""
        if self.error:
            return "ERROR"
        if self.passed is None:
            return "-"
        return "pass" if self.passed else "FAIL"

    def shown(self) -> str:
        """Format the value with its unit."""
        if self.value is None:
            return "n/a"
        if self.unit == "rows/s":
            return f"{self.value:,.0f} rows/s"
        if self.unit == "x":
            return f"{self.value:.2f}x"
        if self.unit == "MB":
            return f"{self.value:,.1f} MB"
        return f"{self.value:,.2f} {self.unit}"


# -- running children -------------------------------------------------------------------------


@dataclass
class Run:
    """One child process: wall time, exit code, peak RSS and the ends of its output."""

    wall: float
    code: int
    max_rss_mb: float
    polled_hwm_mb: float
    parent_rss_mb: float
    stdout: str
    stderr: str


def run_child(command: Sequence[str | Path], *, discard_stdout: bool = False) -> Run:
    """Run a command, timing it; its peak RSS comes from wait4's rusage, checked by polling.

    ru_maxrss of a child is exact only if the parent is smaller: Linux carries the high-water
    RSS of the image replaced by exec into the child's figure. The runner therefore keeps
    itself small (rows and workbooks live in children only), records its own peak, and also
    polls the child's VmHWM from /proc as a second opinion.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        sink = subprocess.DEVNULL if discard_stdout else out
        parent_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MB
        start = time.perf_counter()
        child = subprocess.Popen([str(c) for c in command], stdout=sink, stderr=err, cwd=PROJECT)
        hwm_kb = 0
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            hwm_kb = max(hwm_kb, _vm_hwm_kb(child.pid))
            time.sleep(0.02)
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        return Run(
            wall=wall,
            code=child.returncode,
            max_rss_mb=usage.ru_maxrss * 1024 / MB,  # Linux reports kilobytes
            polled_hwm_mb=hwm_kb * 1024 / MB,
            parent_rss_mb=parent_rss,
            stdout=_tail(out),
            stderr=_tail(err),
        )


def _tail(handle: Any, size: int = 4000) -> str:
    """Read the end of a child's output (all of it for short output) without loading it all."""
    end = handle.seek(0, os.SEEK_END)
    handle.seek(max(0, end - size))
    return str(handle.read().decode("utf-8", "replace"))


def _vm_hwm_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def rss_note(run: Run) -> str:
    """Say the peak RSS, with the polled figure and a warning if the runner was as big."""
    note = f"peak RSS {run.max_rss_mb:.0f} MB (polled VmHWM {run.polled_hwm_mb:.0f} MB)"
    if run.max_rss_mb <= run.parent_rss_mb + 1:
        note += f"; runner was {run.parent_rss_mb:.0f} MB, so wait4's figure is an upper bound"
    return note


def remove_tree(path: Path) -> None:
    """Delete a review folder in a child process (`rm -rf`).

    shutil.rmtree lists a whole directory in memory (about 150 MB for a million payload
    files), which would grow the runner and so every later child's wait4 peak RSS.
    """
    subprocess.run(["rm", "-rf", "--", str(path)], check=False)


def settle() -> None:
    """Flush dirty pages left by earlier runs so they are not written back during the next."""
    os.sync()


def warm(path: Path) -> None:
    """Read a file once so every timed run finds it in the page cache."""
    with path.open("rb") as handle:
        while handle.read(1 << 20):
            pass


@dataclass
class RenderRun:
    """One `avatar-merge render` and what its review folder held."""

    run: Run
    rows_in_jsonl: int
    valid: int | None
    invalid: int | None
    annotated: bool

    @property
    def ok(self) -> bool:
        """Exit 0 (all valid) or 3 (some rows invalid) are both a finished render."""
        return self.run.code in (0, 3)


def render_once(sheet: Path, parent: Path) -> RenderRun:
    """Run `avatar-merge render` into a fresh folder under `parent`, check it, remove it."""
    parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="avatar-merge-bench-", dir=parent))
    review = scratch / "review"
    try:
        settle()
        run = run_child([AVATAR_MERGE, "render", sheet, TEMPLATE, "-o", review])
        counts = re.search(r"(\d+) valid, (\d+) invalid", run.stdout)
        return RenderRun(
            run=run,
            rows_in_jsonl=_count_lines(review / "payloads.jsonl"),
            valid=int(counts.group(1)) if counts else None,
            invalid=int(counts.group(2)) if counts else None,
            annotated=(review / sheet.name).is_file(),
        )
    finally:
        remove_tree(scratch)
        settle()


def _count_lines(path: Path) -> int:
    if not path.is_file():
        return 0
    lines = 0
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            lines += block.count(b"\n")
    return lines


def _failure(run: Run, what: str) -> str:
    tail = (run.stderr.strip() or run.stdout.strip()).splitlines()[-3:]
    return f"{what} exited {run.code}: " + " | ".join(tail)


# -- a. render + validate in process --------------------------------------------------------


def measure_check_rows(config: Config, csv_path: Path) -> list[Figure]:
    """Time `[check_row(template, row) for row in rows]` in a child process, on one core."""
    run = run_child(
        [sys.executable, "-m", "benchmarks.checkrows", csv_path, TEMPLATE, str(config.repeats)]
    )
    for line in run.stderr.splitlines():
        log(line)
    if run.code != 0:
        raise RuntimeError(_failure(run, "benchmarks.checkrows"))
    report = json.loads(run.stdout.strip().splitlines()[-1])
    count, times = report["rows"], report["seconds"]
    rates = [count / t for t in times]
    best = max(rates)
    return [
        Figure(
            "a.check_rows_per_s",
            f"render+validate in process, 1 core ({count:,} csv rows, best of {len(times)})",
            best,
            "rows/s",
            f">= {CHECK_TARGET_ROWS_PER_S:,}",
            best >= CHECK_TARGET_ROWS_PER_S,
            f"median {statistics.median(rates):,.0f} rows/s; {report['valid']:,} valid,"
            f" {count - report['valid']:,} invalid rows; pinned to CPU {report['pinned_to_cpu']}",
            samples=rates,
        ),
        Figure(
            "a.check_rows_per_s_gc_off",
            "  same loop with the garbage collector off (diagnostic)",
            count / report["seconds_gc_off"],
            "rows/s",
            detail="the gap to the figure above is cyclic-GC passes over the live rows/results",
            samples=[count / report["seconds_gc_off"]],
        ),
    ]


# -- b/c. whole command against the floor ----------------------------------------------------


def measure_render_vs_floor(
    config: Config, sheets: dict[str, Path], mailmerge_rows: int
) -> tuple[list[Figure], dict[str, Any]]:
    """Time `avatar-merge render` and the floor, interleaved, on each sheet; then the ratios."""
    places = config.places()
    renders: dict[tuple[str, str], list[RenderRun]] = {}
    floors: dict[str, list[Run]] = {}
    for kind, sheet in sheets.items():
        warm(sheet)
        for i in range(config.repeats):
            if config.wants("floor"):
                floor = run_child([sys.executable, "-m", "benchmarks.floor", sheet])
                floors.setdefault(kind, []).append(floor)
                log(f"floor {kind} {i + 1}/{config.repeats}: {floor.wall:.2f} s")
            if config.wants("render"):
                for place, parent in places.items():
                    result = render_once(sheet, parent)
                    renders.setdefault((kind, place), []).append(result)
                    log(
                        f"render {kind} -> {place} {i + 1}/{config.repeats}:"
                        f" {result.run.wall:.2f} s, exit {result.run.code},"
                        f" peak RSS {result.run.max_rss_mb:.0f} MB"
                    )
    figures: list[Figure] = []
    details: dict[str, Any] = {}
    for kind in sheets:
        for place in places:
            results = renders.get((kind, place))
            if not results:
                continue
            figures.append(_render_figure(kind, place, results, config.rows))
            details[f"render_{kind}_{place}"] = [asdict(r) for r in results]
        floor_runs = floors.get(kind)
        if floor_runs:
            bad = [r for r in floor_runs if r.code != 0]
            walls = [r.wall for r in floor_runs]
            figures.append(
                Figure(
                    f"c.floor_{kind}_s",
                    f"floor: {_reader(kind)} + json.dumps per row, subprocess ({kind})",
                    statistics.median(walls),
                    "s",
                    detail=f"best {min(walls):.2f} s",
                    samples=walls,
                    error=_failure(bad[0], "floor") if bad else "",
                )
            )
        for place in places:
            results = renders.get((kind, place))
            if not results or not floor_runs or any(r.code != 0 for r in floor_runs):
                continue
            if any(not r.ok for r in results):
                continue  # the render's figure carries the error
            best_ratio = min(r.run.wall for r in results) / min(r.wall for r in floor_runs)
            ratio = statistics.median(r.run.wall for r in results) / statistics.median(
                r.wall for r in floor_runs
            )
            has_target = kind == "xlsx"
            figures.append(
                Figure(
                    f"c.ratio_{kind}_{place}",
                    f"whole command / floor ({kind}, output on {place})",
                    ratio,
                    "x",
                    f"<= {XLSX_FLOOR_RATIO_TARGET:g}x" if has_target else "",
                    ratio <= XLSX_FLOOR_RATIO_TARGET if has_target else None,
                    f"median/median; best/best {best_ratio:.2f}x",
                )
            )
    csv_disk = renders.get(("csv", "disk"))
    if csv_disk:
        details["csv_rows_per_s"] = mailmerge_rows / min(r.run.wall for r in csv_disk)
    return figures, details


def _reader(kind: str) -> str:
    return "python-calamine" if kind == "xlsx" else "csv module"


def _render_figure(kind: str, place: str, results: list[RenderRun], rows: int) -> Figure:
    walls = [r.run.wall for r in results]
    bad = [r for r in results if not r.ok]
    short = [r for r in results if r.ok and r.rows_in_jsonl != rows]
    last = results[-1]
    error = ""
    if bad:
        error = _failure(bad[0].run, "avatar-merge render")
    elif short:
        error = f"payloads.jsonl had {short[0].rows_in_jsonl:,} lines, expected {rows:,}"
    elif not last.annotated:
        error = "no annotated copy of the sheet in the review folder"
    return Figure(
        f"b.render_{kind}_{place}_s",
        f"avatar-merge render, {rows:,}-row {kind}, output on {place} (median)",
        statistics.median(walls),
        "s",
        detail=f"best {min(walls):.2f} s, worst {max(walls):.2f} s;"
        f" {rows / statistics.median(walls):,.0f} rows/s; {rss_note(last.run)};"
        f" {last.valid} valid, {last.invalid} invalid; annotated copy included",
        samples=walls,
        error=error,
    )


# -- d. memory on the big sheet -------------------------------------------------------------


def measure_big(config: Config, big: Path, kind: str = "csv") -> list[Figure]:
    """Run the whole command on the big sheet once: peak RSS (wait4 rusage) and wall time.

    The csv must stay under 250 MB; a workbook, which calamine reads whole, under 1 GB (or be
    refused before it is read, which the run's output then says).
    """
    warm(big)
    log(f"render of the {config.big_rows:,}-row {kind}...")
    result = render_once(big, config.big_tmpdir)
    run = result.run
    error = ""
    if not result.ok:
        error = _failure(run, "avatar-merge render")
    elif result.rows_in_jsonl != config.big_rows:
        error = f"payloads.jsonl had {result.rows_in_jsonl:,} lines, expected {config.big_rows:,}"
    log(f"big {kind} render: {run.wall:.1f} s, {rss_note(run)}, exit {run.code}")
    prefix = "d.big" if kind == "csv" else f"d.big_{kind}"
    target = BIG_RSS_TARGET_MB if kind == "csv" else BIG_XLSX_RSS_TARGET_MB
    return [
        Figure(
            f"{prefix}_peak_rss_mb",
            f"peak RSS, avatar-merge render of a {config.big_rows:,}-row {kind}",
            run.max_rss_mb,
            "MB",
            f"< {target:,} MB",
            run.max_rss_mb < target,
            f"ru_maxrss of the child from wait4, 1 MB = 10^6 bytes; {rss_note(run)}",
            samples=[run.max_rss_mb],
            error=error,
        ),
        Figure(
            f"{prefix}_wall_s",
            f"  wall time of that run ({config.big_rows / run.wall:,.0f} rows/s)",
            run.wall,
            "s",
            detail=f"{result.valid} valid, {result.invalid} invalid; output in {config.big_tmpdir}",
            samples=[run.wall],
            error=error,
        ),
    ]


# -- e. mailmerge side by side ----------------------------------------------------------------


def mailmerge_command(csv_path: Path) -> list[str | Path]:
    """mailmerge's dry run of the same rows through the equivalent `| tojson` template."""
    return [
        MAILMERGE,
        *("--dry-run", "--no-limit", "--output-format", "raw"),
        *("--template", MAILMERGE_TEMPLATE, "--database", csv_path, "--config", MAILMERGE_CONFIG),
    ]


def measure_side_by_side(config: Config, sheets: dict[int, Path]) -> list[Figure]:
    """mailmerge and avatar-merge render on the same CSVs, taking turns, in one run.

    The machine may be shared, so absolute times wander; each repeat runs both tools back to
    back (in alternating order), and the ratio is of their medians.
    """
    if not MAILMERGE.exists():
        return [
            Figure(
                "e.ratio",
                "mailmerge side by side",
                None,
                "x",
                error="mailmerge is not installed (pip install -e '.[bench]')",
            )
        ]
    figures: list[Figure] = []
    for rows, sheet in sorted(sheets.items()):
        warm(sheet)
        theirs: list[Run] = []
        ours: list[RenderRun] = []
        for i in range(config.repeats):
            steps = ["mailmerge", "render"] if i % 2 == 0 else ["render", "mailmerge"]
            for step in steps:
                if step == "mailmerge":
                    settle()
                    theirs.append(run_child(mailmerge_command(sheet), discard_stdout=True))
                else:
                    ours.append(render_once(sheet, config.tmpdir))
            log(
                f"{rows:,} rows {i + 1}/{config.repeats}: mailmerge {theirs[-1].wall:.2f} s,"
                f" avatar-merge render {ours[-1].run.wall:.2f} s"
            )
        bad = [r for r in theirs if r.code != 0]
        mine = _render_figure("csv", "disk", ours, rows)
        mine.key, mine.name = f"e.render_{rows}_s", "  avatar-merge render, same csv (median)"
        walls = [r.wall for r in theirs]
        median = statistics.median(walls)
        ratio = median / mine.value if mine.value and not mine.error and not bad else None
        figures += [
            Figure(
                f"e.ratio_{rows}",
                f"mailmerge / avatar-merge, whole process, {rows:,}-row csv (medians)",
                ratio,
                "x",
                f">= {MAILMERGE_RATIO_TARGET:g}x",
                None if ratio is None else ratio >= MAILMERGE_RATIO_TARGET,
                f"mailmerge {median:.2f} s, avatar-merge {mine.value:.2f} s; runs taking turns",
                error=_failure(bad[0], "mailmerge") if bad else mine.error,
            ),
            Figure(
                f"e.mailmerge_{rows}_s",
                f"  mailmerge --dry-run --no-limit, same csv (median of {len(walls)})",
                median,
                "s",
                detail=f"samples {', '.join(f'{w:.2f}' for w in walls)};"
                f" {rows / median:,.0f} rows/s; {rss_note(theirs[-1])}; stdout to /dev/null",
                samples=walls,
            ),
            mine,
        ]
    return figures


def scaling_figures(figures: list[Figure], rows: int, big_rows: int) -> list[Figure]:
    """Time and memory per row from 10k to the big sheet: a straight line means linear."""
    points: list[tuple[int, float, float]] = []
    for figure in figures:
        match = re.fullmatch(r"e\.render_(\d+)_s", figure.key)
        if match and figure.value and not figure.error:
            rss = re.search(r"peak RSS (\d+) MB", figure.detail)
            points.append((int(match.group(1)), figure.value, float(rss.group(1)) if rss else 0))
    big = {f.key: f for f in figures}
    wall, peak = big.get("d.big_wall_s"), big.get("d.big_peak_rss_mb")
    if wall and peak and wall.value and peak.value and not wall.error:
        points.append((big_rows, wall.value, peak.value))
    if len(points) < 2:
        return []
    points.sort()
    shown = " -> ".join(
        f"{n:,}: {t:.2f} s ({1e6 * t / n:.1f} us/row), {m:.0f} MB" for n, t, m in points
    )
    first, last = points[0], points[-1]
    growth = (last[1] / first[1]) / (last[0] / first[0])
    return [
        Figure(
            "g.scaling_time_per_row",
            f"time per row, {first[0]:,} -> {last[0]:,} csv rows (last / first)",
            growth,
            "x",
            detail=shown,
        )
    ]


# -- where the time goes ------------------------------------------------------------------------


def measure_stages(sheet: Path, kind: str, parent: Path) -> dict[str, Any]:
    """Run the render once under benchmarks.stages and return its per-stage seconds."""
    scratch = Path(tempfile.mkdtemp(prefix="avatar-merge-stages-", dir=parent))
    result_file = scratch / "stages.json"
    try:
        settle()
        command: list[str | Path] = [sys.executable, "-m", "benchmarks.stages"]
        run = run_child(
            [
                *command,
                result_file,
                "render",
                sheet,
                TEMPLATE,
                "-o",
                scratch / "review",
            ]
        )
        if not result_file.exists():
            return {"error": _failure(run, "benchmarks.stages")}
        report: dict[str, Any] = json.loads(result_file.read_text(encoding="utf-8"))
        report["wall"] = run.wall
        report["stages"]["interpreter start-up (before the script)"] = (
            run.wall - report["in_script_seconds"]
        )
        log(f"stage breakdown of the {kind} render into {parent}: {run.wall:.2f} s")
        return report
    finally:
        remove_tree(scratch)
        settle()


def profile_render(sheet: Path, place: str, parent: Path) -> dict[str, Any]:
    """cProfile one render of the sheet; keep the .prof file and return the top costs."""
    OUT.mkdir(parents=True, exist_ok=True)
    prof = OUT / f"render-{sheet.suffix.lstrip('.')}-{place}.prof"
    scratch = Path(tempfile.mkdtemp(prefix="avatar-merge-profile-", dir=parent))
    try:
        settle()
        run = run_child(
            [
                sys.executable,
                *("-m", "cProfile", "-o", prof, "-m", "merge", "render"),
                *(sheet, TEMPLATE, "-o", scratch / "review"),
            ]
        )
    finally:
        remove_tree(scratch)
        settle()
    if not prof.exists():
        return {"error": _failure(run, "cProfile")}
    stats = pstats.Stats(str(prof))
    total = stats.total_tt  # type: ignore[attr-defined]
    rows: list[dict[str, Any]] = []
    for (filename, line, name), (_, calls, tottime, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append(
            {
                "function": _short_function(filename, line, name),
                "calls": calls,
                "tottime": tottime,
                "cumtime": cumtime,
            }
        )
    by_self = sorted(rows, key=lambda r: r["tottime"], reverse=True)[:12]
    merge_cum = sorted(
        (r for r in rows if r["function"].startswith("merge/")),
        key=lambda r: r["cumtime"],
        reverse=True,
    )[:12]
    log(f"profiled render: {run.wall:.1f} s under cProfile, saved {prof}")
    return {
        "output_on": place,
        "file": str(prof.relative_to(PROJECT)),
        "profiled_wall": run.wall,
        "total": total,
        "top_self": by_self,
        "top_merge_cumulative": merge_cum,
    }


def _short_function(filename: str, line: int, name: str) -> str:
    if filename == "~":
        return name
    path = Path(filename)
    for anchor in ("merge", "json", "pathlib", "zipfile", "pydantic_core", "jinja2"):
        if anchor in path.parts:
            at = len(path.parts) - 1 - path.parts[::-1].index(anchor)
            return f"{'/'.join(path.parts[at:])}:{line}({name})"
    return f"{path.name}:{line}({name})"


# -- report ---------------------------------------------------------------------------------


def print_table(figures: list[Figure]) -> None:
    """Print the figures with targets and marks, then their details."""
    width = max(len(f.name) for f in figures)
    header = f"{'figure':<{width}}  {'value':>18}  {'target':>12}  result"
    print(header)
    print("-" * len(header))
    for figure in figures:
        print(
            f"{figure.name:<{width}}  {figure.shown():>18}  {figure.target or '-':>12}"
            f"  {figure.mark()}"
        )
    print()
    for figure in figures:
        if figure.detail or figure.error:
            print(f"{figure.key}: {figure.error or figure.detail}")


def print_stages(kind: str, report: dict[str, Any]) -> None:
    """Print one render's wall time split by stage, largest first, then any parallel work."""
    if "error" in report:
        print(f"\nstage breakdown ({kind}): {report['error']}")
        return
    wall = report["wall"]
    print(f"\nWhere the time goes: avatar-merge render of the {kind}, {wall:.2f} s wall")
    for stage, seconds in sorted(report["stages"].items(), key=lambda kv: -kv[1]):
        if seconds >= 0.005:
            print(f"  {stage:<52} {seconds:7.2f} s  {100 * seconds / wall:5.1f}%")
    for stage, seconds in report.get("background", {}).items():
        print(f"  {stage:<52} {seconds:7.2f} s  (on another thread, in parallel)")
    if report.get("missing"):
        print(f"  (not found in merge/, not timed: {', '.join(report['missing'])})")


def print_profile(profile: dict[str, Any]) -> None:
    """Print the top costs of the profiled render."""
    if "error" in profile:
        print(f"\nprofile: {profile['error']}")
        return
    print(
        f"\ncProfile of the xlsx render, output on {profile['output_on']}"
        f" ({profile['profiled_wall']:.1f} s under the profiler,"
        f" saved as {profile['file']}); top self time:"
    )
    for row in profile["top_self"]:
        print(
            f"  {row['tottime']:6.2f} s self {row['cumtime']:6.2f} s cum"
            f" {row['calls']:>9} calls  {row['function']}"
        )
    print("  merge/ functions by cumulative time:")
    for row in profile["top_merge_cumulative"]:
        print(f"  {row['cumtime']:6.2f} s cum {row['calls']:>9} calls  {row['function']}")


def environment() -> dict[str, Any]:
    """Describe the machine, the interpreter and the code measured."""
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "cpu": _cpu_model(),
    }
    for package in ("avatar-merge", "mailmerge", "python-calamine", "pydantic", "jinja2"):
        try:
            info[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            info[package] = None
    try:
        psutil: Any = importlib.import_module("psutil")
        info["memory_gb"] = round(psutil.virtual_memory().total / 1e9, 1)
    except ImportError:
        pass
    info.update(_git_state())
    return info


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _git_state() -> dict[str, Any]:
    """Name the commit measured and whether merge/ had uncommitted edits (read-only git)."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "--no-optional-locks", *args],
                cwd=PROJECT,
                capture_output=True,
                text=True,
                timeout=20,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    dirty = git("status", "--porcelain", "--", "merge")
    return {
        "commit": git("rev-parse", "HEAD"),
        "merge_tree": git("rev-parse", "HEAD:merge"),
        "merge_dirty": bool(dirty),
        "merge_changes": dirty,
    }


def prepare_data(config: Config) -> dict[str, Path]:
    """Make sure every sheet exists, generating (untimed) what is missing."""
    wanted = [("xlsx", config.rows, ".xlsx"), ("csv", config.rows, ".csv")]
    if config.wants("mailmerge"):
        wanted.append(("small", min(SMALL_ROWS, config.rows), ".csv"))
    if config.wants("big"):
        wanted.append(("big", config.big_rows, ".csv"))
    if config.wants("bigxlsx"):
        wanted.append(("bigxlsx", config.big_rows, ".xlsx"))
    paths = {}
    for key, rows, suffix in wanted:
        path = leads.sheet_path(DATA, rows, suffix)
        if not path.exists():
            log(f"generating {path.relative_to(PROJECT)} ({rows:,} rows; not timed)...")
            run = run_child([sys.executable, "-m", "benchmarks.leads", DATA, str(rows), suffix])
            if run.code != 0:
                raise SystemExit(_failure(run, "benchmarks.leads"))
            log(f"  generated in {json.loads(run.stdout)['seconds']:.1f} s")
        paths[key] = path
    return paths


def compile_bytecode() -> None:
    """Compile merge/ once, as installing a package does: the editable install used here, under
    PYTHONDONTWRITEBYTECODE, would otherwise compile every module again in every timed run
    (about 50 ms each), which mailmerge's installed copy never pays."""
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(PROJECT / "merge")],
        check=False,
        stdout=subprocess.DEVNULL,
    )


def main() -> int:
    """Run every part that is not skipped, print the table and write out/results.json."""
    if os.environ.get("BENCH_ONLY") == "submit":
        from benchmarks import submitting

        return submitting.main()
    if os.environ.get("BENCH_ONLY") == "poll":
        from benchmarks import polling

        return polling.main()
    if os.environ.get("BENCH_ONLY") == "uploads":
        from benchmarks import uploads

        return uploads.main()
    if os.environ.get("BENCH_ONLY") == "preflight":
        from benchmarks import preflight as preflight_only

        return preflight_only.main()
    if os.environ.get("BENCH_ONLY") == "v3":
        from benchmarks import v3_account

        return v3_account.main()
    config = Config.from_env()
    if os.environ.get("BENCH_ONLY") == "render":
        quick = {"check", "big", "bigxlsx", "submit", "poll", "stages", "profile", "ramdisk"}
        quick |= {"uploads", "preflight"}  # their own BENCH_ONLY values run them
        config = replace(config, skip=config.skip | quick)
    started = time.perf_counter()
    code_before = _git_state()
    compile_bytecode()
    log(
        f"rows={config.rows:,} big_rows={config.big_rows:,} repeats={config.repeats}"
        f" tmpdir={config.tmpdir} ramdisk={config.ramdisk} skip={sorted(config.skip)}"
    )
    paths = prepare_data(config)
    sheets = {"xlsx": paths["xlsx"], "csv": paths["csv"]}
    figures: list[Figure] = []
    details: dict[str, Any] = {}

    def part(name: str, action: Callable[[], None]) -> None:
        if not config.wants(name):
            return
        try:
            action()
        except Exception as error:  # a benchmark reports a broken part and carries on
            log(f"{name} failed: {error!r}")
            figures.append(Figure(name, name, None, "", error=repr(error)))

    part("check", lambda: figures.extend(measure_check_rows(config, paths["csv"])))

    def render_and_floor() -> None:
        # The csv's whole-command times are the side-by-side runs with mailmerge (e.*).
        xlsx = {"xlsx": sheets["xlsx"]}
        found, more = measure_render_vs_floor(config, xlsx, config.rows)
        figures.extend(found)
        details.update(more)

    if config.wants("render") or config.wants("floor"):
        part("render", render_and_floor)
    part("big", lambda: figures.extend(measure_big(config, paths["big"])))
    part("bigxlsx", lambda: figures.extend(measure_big(config, paths["bigxlsx"], "xlsx")))
    part(
        "mailmerge",
        lambda: figures.extend(
            measure_side_by_side(
                config, {min(SMALL_ROWS, config.rows): paths["small"], config.rows: paths["csv"]}
            )
        ),
    )
    figures.extend(scaling_figures(figures, config.rows, config.big_rows))
    run_tables: list[Callable[[], None]] = []

    def submit() -> None:
        # Imported here: benchmarks.submitting imports this module's Figure and print_table.
        from benchmarks import submitting

        report = submitting.measure(submitting.Settings.from_env())
        figures.extend(report.figures)
        details["submit"] = report.runs_json()
        run_tables.append(lambda: submitting.print_runs(report))

    part("submit", submit)

    def poll() -> None:
        # Imported here, as submitting is: benchmarks.polling imports this module.
        from benchmarks import polling

        report = polling.measure(polling.Settings.from_env())
        figures.extend(report.figures)
        details["poll"] = report.runs_json()
        run_tables.append(lambda: polling.print_runs(report))

    part("poll", poll)

    def upload() -> None:
        from benchmarks import uploads  # imports this module, as polling does

        figures.extend(uploads.measure())

    part("uploads", upload)

    def account_checks() -> None:
        from benchmarks import preflight as checks

        figures.extend(checks.measure())

    part("preflight", account_checks)
    stages: dict[str, Any] = {}
    if config.wants("stages"):
        for kind, sheet in sheets.items():
            for place, parent in config.places().items():
                stages[f"{kind}, output on {place}"] = measure_stages(sheet, kind, parent)
    ratio = next((f for f in figures if f.key == "c.ratio_xlsx_disk"), None)
    missed = ratio is not None and ratio.passed is False
    profile: dict[str, Any] = {}
    if config.wants("profile") and (config.profile == "1" or (config.profile == "auto" and missed)):
        # On the RAM disk when there is one: the profile is then of the CPU, not of the disk.
        place, parent = list(config.places().items())[-1]
        profile = profile_render(sheets["xlsx"], place, parent)

    print()
    print(
        f"avatar-merge benchmarks: {config.rows:,}-row sheets, {config.big_rows:,}-row big csv,"
        f" best of {config.repeats} unless noted"
    )
    print()
    print_table(figures)
    for print_runs in run_tables:
        print_runs()
    for kind, report in stages.items():
        print_stages(kind, report)
    if profile:
        print_profile(profile)

    code_after = _git_state()
    if code_after != code_before:
        print(
            "\nwarning: merge/ changed while the benchmark ran (commit or uncommitted edits);"
            " the figures may mix two versions of the code"
        )
    OUT.mkdir(parents=True, exist_ok=True)
    results = {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()}
        | {"skip": sorted(config.skip)},
        "environment": environment() | {"code_at_start": code_before},
        "data": {k: str(v.relative_to(PROJECT)) for k, v in paths.items()},
        "figures": [asdict(f) | {"mark": f.mark(), "shown": f.shown()} for f in figures],
        "runs": details,
        "stages": stages,
        "profile": profile,
        "benchmark_seconds": time.perf_counter() - started,
    }
    (OUT / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten {(OUT / 'results.json').relative_to(PROJECT)}")
    from benchmarks import table  # imports this module

    print("\nThe README's table with these figures (`python -m benchmarks.table --readme`):\n")
    table.main([])
    log(f"done in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
