"""Submit benchmarks: `avatar-merge submit` against the simulator, each in a process of its own.

`python -m benchmarks.submitting` runs only these (so does `BENCH_ONLY=submit python -m
benchmarks.run`); `make bench` runs them after the render figures. The three scenarios of the
issue, each against a fresh simulator (`python -m merge simulate --port 0 ...`) and with a fresh
output and journal:

  rate        simulator --rate-limit 50 --latency 0.3; client --rate 50 --concurrency 20:
              the achieved rate as a fraction of the limit (target >= 0.95)
  throughput  simulator with no limit and no latency; client --concurrency 3, 8 and 16:
              rows per second the client sustains on loopback (target >= 1,000/s at 8 and
              at 16 in flight; 3, the default, is shown without one)
  faults      simulator with 5% 429s, 5% 500s, 2% resets after accepting, 2% late answers
              (3 s late, seed 1); client --timeout 1 --concurrency 8: duplicates and ids
              missing from the output (target 0 and 0). If that run leaves rows not
              submitted, the same command runs once more (it resumes from the journal, as
              the hint tells a user to) and is reported apart, labelled "second run".

Settings, from the environment:

  BENCH_SUBMIT_ROWS         rows for the rate and faults scenarios (default 2000)
  BENCH_SUBMIT_FAST_ROWS    rows for the throughput scenario (default 2000)
  BENCH_SUBMIT_CONCURRENCY  client concurrencies for the throughput scenario (default 3,8,16)
  BENCH_SUBMIT_SKIP         comma-separated scenarios to leave out: rate, throughput, faults
  BENCH_SUBMIT_RUN_TIMEOUT  seconds before a client that has not finished is interrupted
                            (default 180)

Every request goes to 127.0.0.1 (proxy variables are removed from the children's
environment). Missed targets are marked in the table; the exit status is non-zero only when
the benchmark itself breaks (a scenario that could not be measured).

benchmarks/loopback.py runs the two processes; benchmarks/submit_data.py writes the sheet and
holds the output against the simulator's record.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.loopback import SimulatorProcess, SubmitRun, run_submit
from benchmarks.run import OUT, PROJECT, Figure, log, print_table
from benchmarks.submit_data import Audit, audit, ensure_sheet

TEMPLATE = PROJECT / "templates" / "outreach.json"
RUNS = OUT / "submit"
RESULTS = OUT / "submit-results.json"

RATE_LIMIT = 50.0
RATE_LATENCY = 0.3
RATE_CONCURRENCY = 20
"""50/s with answers taking 0.3 s needs at least 15 requests in flight."""
RATE_TARGET = 0.95
THROUGHPUT_TARGET = 1_000.0
THROUGHPUT_TARGET_FROM = 8
"""The target holds from this many requests in flight; the default 3 is shown without one."""
FAULTS = {
    "--fail-429": "0.05",
    "--fail-5xx": "0.05",
    "--reset-after-accept": "0.02",
    "--late-answer": "0.02",
    "--late-by": "3",
    "--seed": "1",
}
FAULT_TIMEOUT = "1"
FAULT_CONCURRENCY = 8


# -- settings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """Sizes and scenarios, from BENCH_SUBMIT_* environment variables."""

    rows: int = 2_000
    fast_rows: int = 2_000
    concurrencies: tuple[int, ...] = (3, 8, 16)
    skip: frozenset[str] = frozenset()
    run_timeout: float = 180.0

    @classmethod
    def from_env(cls) -> Settings:
        """Read the variables, with the documented defaults."""
        text = os.environ.get("BENCH_SUBMIT_CONCURRENCY", "3,8,16")
        skip = os.environ.get("BENCH_SUBMIT_SKIP", "")
        return cls(
            rows=_int_env("BENCH_SUBMIT_ROWS", cls.rows),
            fast_rows=_int_env("BENCH_SUBMIT_FAST_ROWS", cls.fast_rows),
            concurrencies=tuple(int(c) for c in text.split(",") if c.strip()),
            skip=frozenset(s.strip() for s in skip.split(",") if s.strip()),
            run_timeout=float(os.environ.get("BENCH_SUBMIT_RUN_TIMEOUT") or cls.run_timeout),
        )

    def wants(self, scenario: str) -> bool:
        """Say whether a scenario is to run."""
        return scenario not in self.skip


def _int_env(name: str, default: int) -> int:
    text = os.environ.get(name, "").replace("_", "").replace(",", "")
    return int(text) if text else default


# -- outputs ----------------------------------------------------------------------------------


def fresh_output(name: str) -> Path:
    """Name an output under benchmarks/out/submit/, removing what an earlier run left there."""
    RUNS.mkdir(parents=True, exist_ok=True)
    output = RUNS / f"{name}.csv"
    for leftover in (output, *RUNS.glob(f"{name}.csv.journal*")):
        leftover.unlink(missing_ok=True)
    return output


# -- scenarios --------------------------------------------------------------------------------


@dataclass
class Outcome:
    """One submit run against one simulator, with what the simulator counted."""

    scenario: str
    label: str
    simulator: list[str]
    run: SubmitRun
    stats: dict[str, int]
    audit: Audit
    simulator_cpu: float | None = None


def submit_against(
    scenario: str,
    label: str,
    simulator: Sequence[str],
    rows: int,
    options: Sequence[str],
    settings: Settings,
) -> Outcome:
    """Start a simulator, run submit against it once, and audit what came back."""
    sheet = ensure_sheet(rows)
    output = fresh_output(f"{scenario}-{label.replace(' ', '-')}")
    with SimulatorProcess(simulator) as api:
        log(f"submit {scenario} ({label}): {rows:,} rows to {api.url} {' '.join(options)}")
        cpu_before = api.cpu_seconds()
        run = run_submit(sheet, TEMPLATE, output, api.url, options, settings.run_timeout)
        run.rows = rows
        cpu = _spent(cpu_before, api.cpu_seconds())
        stats, accepted = api.get("/_simulator/stats"), api.get("/_simulator/accepted")
    outcome = Outcome(scenario, label, list(simulator), run, stats, audit(output, accepted), cpu)
    log(f"  {_one_line(outcome)}")
    return outcome


def _spent(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before


def _one_line(outcome: Outcome) -> str:
    run = outcome.run
    rate = f"{run.rate:,.1f}/s" if run.rate is not None else "n/a"
    return (
        f"exit {run.code}, sent {run.sent} in {run.seconds or 0:.2f} s ({rate}),"
        f" wall {run.wall:.1f} s, {run.statuses or 'no summary'}"
    )


def scenario_rate(settings: Settings) -> list[Outcome]:
    """Send against a 50/s limit with 0.3 s answers, the client paced at 50/s."""
    simulator = ["--rate-limit", f"{RATE_LIMIT:g}", "--latency", f"{RATE_LATENCY:g}"]
    options = ["--rate", f"{RATE_LIMIT:g}", "--concurrency", str(RATE_CONCURRENCY)]
    return [submit_against("rate", "first run", simulator, settings.rows, options, settings)]


def scenario_throughput(settings: Settings) -> list[Outcome]:
    """Send as fast as the client can to a simulator with no limit and no latency."""
    rows = settings.fast_rows
    return [
        submit_against(
            "throughput", f"concurrency {c}", [], rows, ["--concurrency", str(c)], settings
        )
        for c in settings.concurrencies
    ]


def scenario_faults(settings: Settings) -> list[Outcome]:
    """Send through injected 429s, 5xx, resets and late answers; run again if rows are left."""
    simulator = [part for pair in FAULTS.items() for part in pair]
    options = ["--timeout", FAULT_TIMEOUT, "--concurrency", str(FAULT_CONCURRENCY)]
    sheet = ensure_sheet(settings.rows)
    output = fresh_output("faults")
    outcomes: list[Outcome] = []
    with SimulatorProcess(simulator) as api:
        for label in ("first run", "second run"):
            log(f"submit faults ({label}): {settings.rows:,} rows to {api.url} {' '.join(options)}")
            cpu_before = api.cpu_seconds()
            run = run_submit(sheet, TEMPLATE, output, api.url, options, settings.run_timeout)
            run.rows = settings.rows
            cpu = _spent(cpu_before, api.cpu_seconds())
            stats, accepted = api.get("/_simulator/stats"), api.get("/_simulator/accepted")
            found = audit(output, accepted)
            outcomes.append(Outcome("faults", label, simulator, run, stats, found, cpu))
            log(f"  {_one_line(outcomes[-1])}")
            if found.not_submitted == 0 or run.code not in (0, 4):
                break
    return outcomes


SCENARIOS = {"rate": scenario_rate, "throughput": scenario_throughput, "faults": scenario_faults}


# -- figures ----------------------------------------------------------------------------------


@dataclass
class Shown(Figure):
    """A figure with its own format: a count, or a fraction of a limit."""

    template: str = "{:,.0f}"

    def shown(self) -> str:
        """Format the value with this figure's template."""
        return "n/a" if self.value is None else self.template.format(self.value)


def rate_figures(outcomes: list[Outcome]) -> list[Figure]:
    """The achieved rate as a fraction of the simulator's limit."""
    outcome = outcomes[0]
    run = outcome.run
    fraction = run.rate / RATE_LIMIT if run.rate is not None else None
    journal = outcome.audit.journal
    spacing = journal.get("first_sends_per_s")
    detail = (
        f"{run.sent or 0:,} of {run.rows:,} rows sent in {run.seconds or 0:.2f} s ="
        f" {run.rate or 0:.1f}/s against a {RATE_LIMIT:g}/s limit with {RATE_LATENCY:g} s"
        f" answers; 429s from the simulator: {outcome.stats.get('rate_limited', 0)} (rate"
        f" limit), {outcome.stats.get('injected_429', 0)} (injected); first sends spaced at"
        f" {spacing or 0:.1f}/s (journal); whole command {run.wall:.1f} s; exit {run.code};"
        f" {run.statuses or 'no summary'}"
    )
    return [
        Shown(
            "s.rate_fraction_of_limit",
            f"submit: achieved rate / {RATE_LIMIT:g}/s limit ({run.rows:,} rows, 0.3 s latency,"
            f" --rate 50 --concurrency {RATE_CONCURRENCY})",
            fraction,
            "",
            f">= {RATE_TARGET}",
            None if fraction is None else fraction >= RATE_TARGET,
            detail,
            template="{:.3f} of limit",
            error=_run_error(outcome),
        )
    ]


def throughput_figures(outcomes: list[Outcome]) -> list[Figure]:
    """Rows per second the client sustains on loopback, per concurrency."""
    figures: list[Figure] = []
    for outcome in outcomes:
        run = outcome.run
        judged = int(outcome.label.split()[-1]) >= THROUGHPUT_TARGET_FROM
        figures.append(
            Figure(
                f"s.throughput_{outcome.label.replace(' ', '_')}",
                f"submit: rows/s, no limit, no latency ({run.rows:,} rows, --{outcome.label})",
                run.rate,
                "rows/s",
                f">= {THROUGHPUT_TARGET:,.0f}" if judged else "",
                None if run.rate is None or not judged else run.rate >= THROUGHPUT_TARGET,
                f"{run.sent or 0:,} rows sent in {run.seconds or 0:.2f} s; whole command"
                f" {run.wall:.1f} s; CPU: client {run.cpu:.1f} s, simulator"
                f" {_seconds(outcome.simulator_cpu)} ({os.cpu_count()} cores); exit {run.code};"
                f" {run.statuses or 'no summary'}",
                error=_run_error(outcome),
            )
        )
    return figures


def fault_figures(outcomes: list[Outcome]) -> list[Figure]:
    """Duplicates, missing ids and rows left, for the first run and a labelled second run."""
    figures: list[Figure] = []
    for outcome in outcomes:
        run, found, tag = outcome.run, outcome.audit, outcome.label.replace(" ", "_")
        prefix = "submit with faults" if outcome.label == "first run" else "  second run"
        error = _run_error(outcome)
        stats = outcome.stats
        detail = (
            f"exit {run.code}; sent {run.sent or 0:,} in {run.seconds or 0:.2f} s; whole"
            f" command {run.wall:.1f} s; {run.statuses or 'no summary'}; simulator so far:"
            f" {stats.get('created', 0)} created, {stats.get('injected_429', 0)} 429s,"
            f" {stats.get('server_errors', 0)} 5xx, {stats.get('resets', 0)} resets,"
            f" {stats.get('late_answers', 0)} late answers, {stats.get('requests', 0)}"
            f" requests in all; {found.issued:,} ids issued for {found.accepted_keys:,} rows;"
            f" {found.foreign} ids in the output the simulator never issued; journal:"
            f" {_pauses(found)}"
        )
        figures += [
            Shown(
                f"s.faults_{tag}_duplicates",
                f"{prefix}: duplicate videos",
                found.duplicates,
                "",
                "0",
                found.duplicates == 0,
                detail,
                error=error,
            ),
            Shown(
                f"s.faults_{tag}_missing",
                f"{prefix}: issued ids missing from the output",
                found.missing,
                "",
                "0",
                found.missing == 0,
                f"{found.keys_without_id} rows the simulator made a video for have no video_id",
                error=error,
            ),
            Shown(
                f"s.faults_{tag}_not_submitted",
                f"{prefix}: output rows not submitted",
                found.not_submitted,
                "",
                detail=f"statuses {found.statuses}",
                error=error,
            ),
        ]
    return figures


def _pauses(found: Audit) -> str:
    """Say how long sending stood still (Retry-After honoured, say), from the journal."""
    journal = found.journal
    if "pauses" not in journal:
        return str(journal.get("error", "not read"))
    return (
        f"{journal['pauses']} pauses of 0.5 s or more between first sends,"
        f" {journal['paused_s']:.1f} s in all; {journal['attempts']:,} attempts"
    )


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} s"


def _run_error(outcome: Outcome) -> str:
    """Say why a run has no figures: it timed out or crashed without its summary."""
    run = outcome.run
    if run.timed_out:
        return f"submit did not finish in time and was interrupted (exit {run.code})"
    if run.sent is None:
        tail = (run.stderr.strip() or run.stdout.strip()).splitlines()[-3:]
        return f"submit exited {run.code} without a summary: " + " | ".join(tail)
    return ""


# -- report -----------------------------------------------------------------------------------


@dataclass
class Report:
    """The figures and every run behind them."""

    figures: list[Figure] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def runs_json(self) -> list[dict[str, Any]]:
        """Every run as plain data, for results.json."""
        return [asdict(o) | {"rate": o.run.rate} for o in self.outcomes]


def measure(settings: Settings) -> Report:
    """Run every wanted scenario and turn the runs into figures."""
    started = time.perf_counter()
    report = Report()
    makers = {"rate": rate_figures, "throughput": throughput_figures, "faults": fault_figures}
    for name, scenario in SCENARIOS.items():
        if not settings.wants(name):
            continue
        try:
            outcomes = scenario(settings)
        except Exception as error:  # a benchmark reports a broken part and carries on
            log(f"submit {name} failed: {error!r}")
            report.broken.append(name)
            report.figures.append(
                Figure(f"s.{name}", f"submit {name}", None, "", error=repr(error))
            )
            continue
        report.outcomes += outcomes
        report.figures += makers[name](outcomes)
    report.seconds = time.perf_counter() - started
    return report


def print_runs(report: Report) -> None:
    """Print one line per submit run: options, exit code, timing and what the simulator saw."""
    if not report.outcomes:
        return
    print(f"\nsubmit runs ({report.seconds:.0f} s in all); simulator and client each a process")
    header = (
        f"{'scenario':<11} {'run':<15} {'client options':<28} {'rows':>6} {'exit':>4}"
        f" {'sent':>6} {'send s':>7} {'rows/s':>7} {'wall s':>6} {'CPU s c/sim':>11}"
        f"  {'429/5xx/reset/late':<18}  output rows"
    )
    print(header)
    print("-" * len(header))
    for o in report.outcomes:
        run, stats = o.run, o.stats
        faults = "/".join(
            str(n)
            for n in (
                stats.get("injected_429", 0) + stats.get("rate_limited", 0),
                stats.get("server_errors", 0),
                stats.get("resets", 0),
                stats.get("late_answers", 0),
            )
        )
        sim_cpu = "-" if o.simulator_cpu is None else f"{o.simulator_cpu:.1f}"
        cpu = f"{run.cpu:.1f}/{sim_cpu}"
        print(
            f"{o.scenario:<11} {o.label:<15} {' '.join(run.options):<28} {run.rows:>6,}"
            f" {run.code:>4} {run.sent if run.sent is not None else '-':>6}"
            f" {run.seconds or 0:>7.2f} {run.rate or 0:>7.1f} {run.wall:>6.1f} {cpu:>11}"
            f"  {faults:<18}  {run.statuses or '-'}"
        )
    print("simulator options per scenario:")
    for scenario in dict.fromkeys(o.scenario for o in report.outcomes):
        options = next(o.simulator for o in report.outcomes if o.scenario == scenario)
        print(f"  {scenario:<11} {' '.join(options) or '(none: no limit, no latency, no faults)'}")


def main() -> int:
    """Run the submit benchmarks alone, print the table and write out/submit-results.json."""
    settings = Settings.from_env()
    log(
        f"submit: rows={settings.rows:,} fast_rows={settings.fast_rows:,}"
        f" concurrencies={list(settings.concurrencies)} skip={sorted(settings.skip)}"
    )
    report = measure(settings)
    print()
    print("avatar-merge submit benchmarks: client and simulator in separate processes")
    print()
    print_table(report.figures)
    print_runs(report)
    OUT.mkdir(parents=True, exist_ok=True)
    results = {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": asdict(settings) | {"skip": sorted(settings.skip)},
        "figures": [asdict(f) | {"mark": f.mark(), "shown": f.shown()} for f in report.figures],
        "runs": report.runs_json(),
        "benchmark_seconds": report.seconds,
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten {RESULTS.relative_to(PROJECT)}")
    return 1 if report.broken else 0


if __name__ == "__main__":
    raise SystemExit(main())
