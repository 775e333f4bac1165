"""The README's performance table, made from the benchmarks' own results.

    python -m benchmarks.table            print the table of the newest results
    python -m benchmarks.table --readme   keep them in benchmarks/published.json and put the
                                          table in README.md

The results are the files the benchmarks write in benchmarks/out/ (results.json from `make
bench`, submit-results.json from the submit benchmark run alone, and so on). Figures are kept
by key: a newer run's figure replaces the published one, and a figure a run did not measure
(a `BENCH_ONLY=render` run measures no submit figures) keeps its published value and says when
it was measured. The ratios to mailmerge come first, as the headline.

`make bench` prints the table at its end; a test checks that README.md's table is the one made
from benchmarks/published.json, so the two cannot drift apart.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.run import OUT, PROJECT

PUBLISHED = PROJECT / "benchmarks" / "published.json"
README = PROJECT / "README.md"
START = "<!-- benchmark table: made by `python -m benchmarks.table --readme`; do not edit -->"
END = "<!-- end of the benchmark table -->"
HEADLINE = ("e.ratio_100000", "e.ratio_10000")
"""Shown first and in bold: mailmerge ÷ avatar-merge, whole process, side by side."""
KEPT = ("key", "name", "value", "unit", "shown", "target", "passed", "error", "measured")


def newest_results(folder: Path | None = None) -> list[dict[str, Any]]:
    """Every results file the benchmarks wrote, oldest first (by the time each says)."""
    runs = []
    for path in sorted((folder or OUT).glob("*results.json")):
        try:
            run = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(run, dict) and "generated" in run and "figures" in run:
            runs.append(run)
    return sorted(runs, key=lambda run: str(run["generated"]))


def merged(
    published: Sequence[dict[str, Any]], runs: Iterable[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The published figures with each newer run's figures in place of the same keys, later
    runs last; a figure that failed to be measured never replaces a measured one."""
    figures = {figure["key"]: figure for figure in published}
    for run in runs:
        for figure in run["figures"]:
            before = figures.get(figure["key"], {})
            if str(run["generated"]) <= str(before.get("measured") or ""):
                continue  # an older file left in benchmarks/out
            if figure.get("error") and before.get("value") is not None:
                continue
            kept = {key: figure.get(key) for key in KEPT}
            kept["measured"] = str(run["generated"])
            figures[figure["key"]] = kept
    return headline_first(list(figures.values()))


def headline_first(figures: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The headline's figures first, then each part of the benchmark's (the letter before a
    key's dot: a. the render loop, b./c. the workbook, d. memory, ...), in the order they were
    printed; a figure whose name is indented ("  mailmerge ..., same csv") stays under its own."""
    groups: list[list[dict[str, Any]]] = []
    for figure in figures:
        if groups and str(figure["name"]).startswith(" "):
            groups[-1].append(figure)
        else:
            groups.append([figure])

    def place(group: list[dict[str, Any]]) -> tuple[int, str]:
        key = str(group[0]["key"])
        return (HEADLINE.index(key), "") if key in HEADLINE else (len(HEADLINE), key[:1])

    groups.sort(key=place)
    return [figure for group in groups for figure in group]


def shown(figure: dict[str, Any]) -> str:
    """A figure's value with its unit, as a reader expects it."""
    value, unit = figure.get("value"), figure.get("unit") or ""
    if figure.get("error") or value is None:
        return "not measured"
    if not unit and figure.get("shown"):
        return str(figure["shown"])  # the benchmark's own format: "0.986 of limit"
    if unit == "x":
        return f"{value:.2f}×"
    if unit == "rows/s":
        return f"{value:,.0f} rows/s"
    if unit in ("MB", "MB/s"):
        return f"{value:,.0f} {unit}"
    if unit == "s":
        return f"{value:,.2f} s"
    return f"{value:,.3g} {unit}".strip()


def verdict(figure: dict[str, Any]) -> str:
    """The target and whether the figure meets it."""
    target = (figure.get("target") or "").replace(">=", "≥").replace("<=", "≤")
    target = re.sub(r"(\d)x\b", r"\1×", target)
    if not target:
        return "-"
    if figure.get("error"):
        return f"{target}: not measured"
    if figure.get("passed") is None:
        return target  # a guide, not a pass or a miss
    return f"{target}: {'met' if figure['passed'] else 'missed'}"


def table(figures: Sequence[dict[str, Any]]) -> str:
    """The markdown table: figure, value, target, when it was measured (UTC)."""
    lines = ["| figure | value | target | measured (UTC) |", "| --- | --- | --- | --- |"]
    for figure in figures:
        name = " ".join(str(figure["name"]).split()).replace("|", "\\|")
        if str(figure["name"]).startswith(" "):
            name = f"↳ {name}"
        value = shown(figure)
        if figure["key"] in HEADLINE:
            name, value = f"**{name}**", f"**{value}**"
        when = str(figure.get("measured") or "")[:16].replace("T", " ")
        lines.append(f"| {name} | {value} | {verdict(figure)} | {when} |")
    return "\n".join(lines) + "\n"


def with_table(readme: str, made: str) -> str:
    """The README with the text between the table's markers replaced by `made`."""
    start, end = readme.find(START), readme.find(END)
    if start < 0 or end < start:
        raise SystemExit(f"{README.name}: the benchmark table's markers are missing")
    return readme[: start + len(START)] + "\n" + made + readme[end:]


def table_in(readme: str) -> str:
    """The text between the README's markers, as `with_table` puts it there."""
    start, end = readme.find(START), readme.find(END)
    return readme[start + len(START) + 1 : end] if 0 <= start < end else ""


def published() -> list[dict[str, Any]]:
    """The figures the README shows."""
    if not PUBLISHED.exists():
        return []
    return list(json.loads(PUBLISHED.read_text(encoding="utf-8"))["figures"])


def main(argv: Sequence[str] = sys.argv[1:]) -> int:
    """Print the table of the published figures updated with the newest results; with
    --readme, publish them and put the table in README.md."""
    figures = merged(published(), newest_results())
    made = table(figures)
    print(made, end="")
    if "--readme" in argv:
        PUBLISHED.write_text(json.dumps({"figures": figures}, indent=1) + "\n", encoding="utf-8")
        README.write_text(with_table(README.read_text(encoding="utf-8"), made), encoding="utf-8")
        print(f"written {PUBLISHED.name} and the table in {README.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
