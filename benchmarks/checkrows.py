"""Figure a: rows per second of render + validate alone, in one process, on one core.

Run as `python -m benchmarks.checkrows SHEET TEMPLATE REPEATS`; prints one JSON object. The
rows are read first with `merge.sheets.sheet.open_sheet(path).rows()` (not timed), then the loop
`[check_row(template, row, payload=False) for row in rows]` is timed, as `render` runs it: each
body made as bytes (not read back into a dict), and the garbage collector set as the command
sets it (merge.settings.GC_THRESHOLDS, what is already made frozen). One untimed warm-up,
REPEATS timed runs, then one run with the cyclic garbage collector off (a diagnostic). It runs
in its own process so the runner stays small (see run.py: a child's wait4 peak RSS is at least
its parent's RSS).
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    """Time the check_row loop and print rows, per-run seconds and valid/invalid counts."""
    from merge.payload.row import check_row, load_template
    from merge.settings import GC_THRESHOLDS
    from merge.sheets.sheet import open_sheet

    sheet_path, template_path, repeats = Path(argv[0]), Path(argv[1]), int(argv[2])
    sheet = open_sheet(sheet_path)
    rows = list(sheet.rows())
    template = load_template(template_path, sheet.info.columns)
    gc.freeze()  # as the command does once it has started
    gc.set_threshold(*GC_THRESHOLDS)
    cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    if cpus:
        os.sched_setaffinity(0, {min(cpus)})

    def once() -> float:
        gc.collect()
        start = time.perf_counter()
        results = [check_row(template, row, payload=False) for row in rows]
        elapsed = time.perf_counter() - start
        del results
        return elapsed

    once()  # warm-up: first-call costs (lazy imports, caches) are not throughput
    times = []
    for i in range(repeats):
        times.append(once())
        print(
            f"check_row loop {i + 1}/{repeats}: {len(rows) / times[-1]:,.0f} rows/s",
            file=sys.stderr,
            flush=True,
        )
    gc.disable()
    try:
        no_gc = once()
    finally:
        gc.enable()
    valid = sum(check_row(template, row).status == "valid" for row in rows)
    report = {
        "rows": len(rows),
        "seconds": times,
        "seconds_gc_off": no_gc,
        "valid": valid,
        "pinned_to_cpu": min(cpus) if cpus else None,
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
