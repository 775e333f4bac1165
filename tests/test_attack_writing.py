"""Attack: the output written while the periodic writer runs (one writer at a time, last whole)."""

from __future__ import annotations

import asyncio
import csv
import threading
import time
from pathlib import Path

import pytest

from merge.batch.run import RunSettings, submit_sheet
from merge.loop import PeriodicWriter
from merge.simulator import Simulator, SimulatorSettings
from tests.submitting import OUTREACH, ids_in, leads, results, write_csv, write_xlsx


def test_the_final_write_waits_for_one_in_flight_and_comes_last() -> None:
    active = 0
    overlaps = 0
    written: list[int] = []
    state = {"n": 0}
    lock = threading.Lock()

    def write(values: int) -> str | None:
        nonlocal active, overlaps
        with lock:
            active += 1
            overlaps += active > 1
        time.sleep(0.02)  # a slow write, still running when the run ends
        written.append(values)
        with lock:
            active -= 1
        return None

    async def run() -> None:
        writer = PeriodicWriter(lambda: state["n"], write, 0.001, lambda _: None)
        writer.start()
        for _ in range(10):
            state["n"] += 1
            await asyncio.sleep(0.005)
        state["n"] = 999
        assert await writer.final() is None

    asyncio.run(run())
    assert overlaps == 0
    assert written[-1] == 999
    assert written.count(999) == 1


def test_a_problem_is_told_once_while_it_lasts() -> None:
    told: list[str] = []
    calls = {"n": 0}

    def write(_: int) -> str | None:
        calls["n"] += 1
        return "disk full"

    async def run() -> None:
        writer = PeriodicWriter(lambda: 0, write, 0.0, told.append)
        writer.start()
        while calls["n"] < 5:
            await asyncio.sleep(0.001)
        assert await writer.final() == "disk full"

    asyncio.run(run())
    assert told == ["disk full"]


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_an_output_written_every_millisecond_ends_whole_with_every_id(
    tmp_path: Path, suffix: str
) -> None:
    """Issue 17, hole 1: CSV garbled by a shared temp file; xlsx missing its last video_id."""
    rows = leads(30)
    data = tmp_path / f"leads{suffix}"
    (write_csv if suffix == ".csv" else write_xlsx)(data, rows)
    simulator_settings = SimulatorSettings(pending_seconds=0.0, render_seconds=0.1, latency=0.002)
    for trial in range(3):
        out = tmp_path / f"out-{trial}{suffix}"
        with Simulator(simulator_settings) as simulator:
            summary = submit_sheet(
                data,
                OUTREACH,
                out,
                "sk_test",
                simulator.url,
                settings=RunSettings(concurrency=4, write_every=0.001),
            )
            issued = sorted(i for ids in simulator.video_ids().values() for i in ids)
        assert summary.write_failed is None
        assert len(issued) == 30
        assert sorted(ids_in(out)) == issued
        assert all(r["merge_status"] == "submitted" for r in results(out).values())
        if suffix == ".csv":
            with out.open(encoding="utf-8", newline="") as handle:
                assert len(list(csv.reader(handle))) == 31
        assert not list(tmp_path.glob(".*.tmp"))
