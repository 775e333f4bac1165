"""The README's performance table is the one made from the published benchmark figures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks import table


def figure(key: str, name: str, value: float | None, **more: Any) -> dict[str, Any]:
    return {"key": key, "name": name, "value": value, "unit": "x", "target": ""} | more


def run(generated: str, *figures: dict[str, Any]) -> dict[str, Any]:
    return {"generated": generated, "figures": list(figures)}


def test_the_readme_shows_the_published_figures() -> None:
    readme = table.README.read_text(encoding="utf-8")
    assert table.START in readme
    assert table.END in readme
    published = table.published()
    assert {"e.ratio_100000", "e.ratio_10000"} <= {f["key"] for f in published}
    assert table.table_in(readme) == table.table(published), (
        "README.md's benchmark table differs from benchmarks/published.json:"
        " run `python -m benchmarks.table --readme` rather than editing the table"
    )


def test_a_newer_run_replaces_a_figure_and_keeps_the_rest() -> None:
    published = [
        figure("c.ratio_xlsx_disk", "xlsx ratio", 4.2, measured="2026-12-01T08:00:00+00:00"),
        figure("s.rate", "submit rate", 900.0, measured="2026-12-01T08:00:00+00:00"),
    ]
    newer = run("2026-12-01T09:00:00+00:00", figure("c.ratio_xlsx_disk", "xlsx ratio", 3.9))
    merged = table.merged(published, [newer])
    assert [(f["key"], f["value"], f["measured"][11:16]) for f in merged] == [
        ("c.ratio_xlsx_disk", 3.9, "09:00"),
        ("s.rate", 900.0, "08:00"),
    ]


def test_an_older_file_or_a_failed_measurement_replaces_nothing() -> None:
    published = [figure("s.rate", "submit rate", 900.0, measured="2026-12-01T08:00:00+00:00")]
    older = run("2026-11-30T08:00:00+00:00", figure("s.rate", "submit rate", 100.0))
    failed = run("2026-12-02T08:00:00+00:00", figure("s.rate", "submit rate", None, error="x"))
    assert table.merged(published, [older, failed])[0]["value"] == 900.0
    first = run("2026-12-02T08:00:00+00:00", figure("s.new", "new", None, error="broke"))
    assert table.shown(table.merged([], [first])[0]) == "not measured"


def test_the_ratios_to_mailmerge_come_first_with_their_parts() -> None:
    figures = [
        figure("b.render", "render xlsx", 6.0, unit="s"),
        figure("e.ratio_10000", "ratio 10k", 5.6, target=">= 5x", passed=True),
        figure("e.mailmerge_10000_s", "  mailmerge 10k", 3.7, unit="s"),
        figure("e.ratio_100000", "ratio 100k", 10.6, target=">= 5x", passed=True),
        figure("e.mailmerge_100000_s", "  mailmerge 100k", 35.0, unit="s"),
        figure("c.ratio_xlsx_disk", "xlsx ratio", 4.19, target="<= 3x", passed=False),
    ]
    lines = table.table(table.merged([], [run("2026-12-01T08:16:28+00:00", *figures)]))
    rows = lines.splitlines()[2:]
    assert rows == [
        "| **ratio 100k** | **10.60×** | ≥ 5×: met | 2026-12-01 08:16 |",
        "| ↳ mailmerge 100k | 35.00 s | - | 2026-12-01 08:16 |",
        "| **ratio 10k** | **5.60×** | ≥ 5×: met | 2026-12-01 08:16 |",
        "| ↳ mailmerge 10k | 3.70 s | - | 2026-12-01 08:16 |",
        "| render xlsx | 6.00 s | - | 2026-12-01 08:16 |",
        "| xlsx ratio | 4.19× | ≤ 3×: missed | 2026-12-01 08:16 |",
    ]


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (1900.1, "rows/s", "1,900 rows/s"),
        (92.4, "MB", "92 MB"),
        (89.2, "MB/s", "89 MB/s"),
        (0.986, "", "0.986"),
        (0.2, "s/GB", "0.2 s/GB"),
    ],
)
def test_values_are_shown_with_their_units(value: float, unit: str, expected: str) -> None:
    assert table.shown(figure("k", "n", value, unit=unit)) == expected


def test_readme_mode_writes_both_and_reads_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{table.START}\nold\n{table.END}\n\nafter\n", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    newest = run("2026-12-01T08:16:28+00:00", figure("e.ratio_10000", "ratio 10k", 5.6))
    (out / "results.json").write_text(json.dumps(newest), encoding="utf-8")
    monkeypatch.setattr(table, "README", readme)
    monkeypatch.setattr(table, "PUBLISHED", tmp_path / "published.json")
    monkeypatch.setattr(table, "OUT", out)
    assert table.main(["--readme"]) == 0
    text = readme.read_text(encoding="utf-8")
    assert text.endswith(f"{table.END}\n\nafter\n")
    assert table.table_in(text) == table.table(table.published())
    assert "**5.60×**" in text


def test_missing_markers_are_said() -> None:
    with pytest.raises(SystemExit, match="markers are missing"):
        table.with_table("# no table here\n", "| a |\n")


def test_each_part_keeps_its_place_whatever_order_the_runs_came_in() -> None:
    published = [
        figure("s.rate", "submit rate", 0.98, unit="", shown="0.980 of limit", target=">= 0.95"),
        figure("d.big_peak_rss_mb", "peak RSS, 1M csv", 80.0, unit="MB"),
        figure("d.big_wall_s", "  wall time of that run", 33.6, unit="s"),
        figure("a.check_rows_per_s", "render loop", 61_000.0, unit="rows/s"),
        figure("p.requests_per_video", "requests per video", 2.29, unit="", target="near 1"),
    ]
    for f in published:
        f["measured"] = "2026-12-01T08:53:00+00:00"
    rows = table.table(table.merged(published, [])).splitlines()[2:]
    assert [row.split(" | ")[0] for row in rows] == [
        "| render loop",
        "| peak RSS, 1M csv",
        "| ↳ wall time of that run",
        "| requests per video",
        "| submit rate",
    ]
    assert "| 0.980 of limit | ≥ 0.95: met |" not in rows[-1]  # passed is unknown here
    assert "| 0.980 of limit | ≥ 0.95 |" in rows[-1]
    assert "| 2.29 | near 1 |" in rows[3]
