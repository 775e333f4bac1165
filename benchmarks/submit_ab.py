"""Submit throughput, this checkout against another, back to back: `python -m benchmarks.submit_ab`.

    python -m benchmarks.submit_ab OTHER [PAIRS] [CONCURRENCIES]

OTHER is another checkout of the project (for the code before a change, say: `git worktree add
/tmp/before <commit>`, or `git archive <commit> | tar -x -C /tmp/before`). For each of PAIRS
rounds (default 3) and each client --concurrency (default 3,8,16), the throughput scenario of
`benchmarks/submitting.py` (a fresh simulator, no limit, no latency, BENCH_SUBMIT_FAST_ROWS
rows) runs once in each checkout, the order alternating from one pair to the next, so that
both meet the same load on a shared machine. Both run with this interpreter, each from its own
folder, so each imports its own `merge` (and its own benchmark code and simulator).

Printed per run: rows/s (the command's own "Sent N rows in X s"), the client's CPU seconds
(user + system, from `getrusage` of the child: the whole command, start-up included) and the
simulator's; then per concurrency the medians, the ranges and each pair's ratio (this / other).
Every run's figures go to `benchmarks/out/submit-ab.json`. Never asserts; it is a benchmark.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks.run import OUT, PROJECT, log

RESULTS = OUT / "submit-ab.json"
ONE_RUN = """
import json, sys
from benchmarks.submitting import Settings, submit_against
settings = Settings.from_env()
c = int(sys.argv[1])
o = submit_against("throughput", f"concurrency {c}", [], settings.fast_rows,
                   ["--concurrency", str(c)], settings)
print("RESULT " + json.dumps({"rate": o.run.rate, "cpu": o.run.cpu, "simulator_cpu":
      o.simulator_cpu, "code": o.run.code, "statuses": o.run.statuses}))
"""


@dataclass
class Run:
    """One submit of the throughput scenario in one checkout."""

    tree: str
    pair: int
    concurrency: int
    rate: float | None
    cpu: float | None
    simulator_cpu: float | None
    code: int | None
    statuses: str
    error: str = ""


def run_once(folder: Path, tree: str, pair: int, concurrency: int) -> Run:
    """Run the throughput scenario once from `folder`, in a process of its own."""
    done = subprocess.run(
        [sys.executable, "-c", ONE_RUN, str(concurrency)],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            found = json.loads(line.removeprefix("RESULT "))
            return Run(tree, pair, concurrency, **found)
    return Run(tree, pair, concurrency, None, None, None, done.returncode, "", done.stderr[-400:])


def _span(values: list[float], shown: str) -> str:
    if not values:
        return "n/a"
    median = statistics.median(values)
    return f"{shown.format(median)} [{shown.format(min(values))}-{shown.format(max(values))}]"


def summary(runs: list[Run], concurrencies: list[int]) -> list[str]:
    """Medians and ranges per checkout and concurrency, and each pair's ratio."""
    lines = []
    for concurrency in concurrencies:
        for tree in ("this", "other"):
            mine = [r for r in runs if r.tree == tree and r.concurrency == concurrency]
            rates = [r.rate for r in mine if r.rate is not None]
            cpus = [r.cpu for r in mine if r.cpu is not None]
            sims = [r.simulator_cpu for r in mine if r.simulator_cpu is not None]
            lines.append(
                f"--concurrency {concurrency:>2} {tree:5}  rows/s {_span(rates, '{:,.0f}')}"
                f"  client CPU s {_span(cpus, '{:.2f}')}  simulator CPU s {_span(sims, '{:.2f}')}"
            )
        ratios = []
        for pair in sorted({r.pair for r in runs}):
            by_tree = {
                r.tree: r.rate for r in runs if r.pair == pair and r.concurrency == concurrency
            }
            this, that = by_tree.get("this"), by_tree.get("other")
            if this and that:
                ratios.append(f"{this / that:.2f}")
        lines.append(f"   this / other, pair by pair: {' '.join(ratios) or 'n/a'}")
    return lines


def main(argv: list[str]) -> int:
    """Run the pairs, print each run and the summary, write out/submit-ab.json."""
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    other = Path(argv[0]).resolve()
    if not (other / "benchmarks" / "submitting.py").is_file():
        print(f"{other}: not a checkout of this project (no benchmarks/submitting.py)")
        return 2
    pairs = int(argv[1]) if len(argv) > 1 else 3
    concurrencies = [int(c) for c in (argv[2] if len(argv) > 2 else "3,8,16").split(",")]
    folders = {"this": PROJECT, "other": other}
    runs: list[Run] = []
    for pair in range(pairs):
        for concurrency in concurrencies:
            order = ("this", "other") if (pair + concurrency) % 2 == 0 else ("other", "this")
            for tree in order:
                log(f"pair {pair + 1}/{pairs}, --concurrency {concurrency}, {tree}")
                run = run_once(folders[tree], tree, pair, concurrency)
                runs.append(run)
                rate = f"{run.rate:,.0f} rows/s" if run.rate else f"failed: {run.error}"
                print(
                    f"pair {pair + 1} --concurrency {concurrency:>2} {tree:5} {rate},"
                    f" client CPU {run.cpu or 0:.2f} s, simulator {run.simulator_cpu or 0:.2f} s,"
                    f" {run.statuses}",
                    flush=True,
                )
    print()
    print(f"this: {PROJECT}  other: {other}")
    print("\n".join(summary(runs, concurrencies)))
    OUT.mkdir(parents=True, exist_ok=True)
    record = {"this": str(PROJECT), "other": str(other), "runs": [asdict(r) for r in runs]}
    RESULTS.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
