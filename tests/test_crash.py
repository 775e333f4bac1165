"""A real `avatar-merge submit` process killed mid-batch: no id lost, nothing sent twice."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from merge.cli.commands import ExitCode
from merge.simulator import Simulator, SimulatorSettings
from tests.conftest import ROOT
from tests.submitting import (
    OUTREACH,
    ids_in,
    journal_states,
    leads,
    results,
    write_csv,
    write_xlsx,
)

KEY = "sk-crash-test-key"
ROWS = 60


def start(data: Path, out: Path, url: str, api: str = "v2", *options: str) -> subprocess.Popen[str]:
    """Start submit as a user would, in its own process."""
    command = [sys.executable, "-m", "merge", "submit", str(data), str(OUTREACH)]
    command += ["-o", str(out), "--base-url", url, "--yes", "--timeout", "2", *options]
    if api == "v3":
        command += ["--api", "v3", "--lossy"]
    env = {**os.environ, "HEYGEN_API_KEY": KEY}
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_for_accepted(simulator: Simulator, count: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while sum(simulator.accepted().values()) < count:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run did not get going"
        time.sleep(0.002)


def finish(
    data: Path, out: Path, url: str, api: str = "v2", *options: str
) -> subprocess.CompletedProcess[str]:
    process = start(data, out, url, api, *options)
    stdout, stderr = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def assert_exactly_once(simulator: Simulator, out: Path, rows: int = ROWS) -> None:
    accepted = simulator.accepted()
    assert len(accepted) == rows
    assert set(accepted.values()) == {1}, {k: n for k, n in accepted.items() if n > 1}
    issued = sorted(i for ids in simulator.video_ids().values() for i in ids)
    assert sorted(ids_in(out)) == issued


@pytest.mark.parametrize(
    ("kill_after", "suffix", "api"),
    [(1, ".csv", "v2"), (17, ".xlsx", "v2"), (45, ".csv", "v2"), (17, ".csv", "v3")],
)
def test_sigkill_mid_batch_loses_no_id_and_sends_nothing_twice(
    tmp_path: Path, kill_after: int, suffix: str, api: str
) -> None:
    data = tmp_path / f"leads{suffix}"
    (write_csv if suffix == ".csv" else write_xlsx)(data, leads(ROWS))
    out = tmp_path / f"sent{suffix}"
    with Simulator(SimulatorSettings(latency=0.03)) as simulator:
        process = start(data, out, simulator.url, api)
        wait_for_accepted(simulator, kill_after, process)
        process.send_signal(signal.SIGKILL)
        process.communicate()
        assert process.returncode == -signal.SIGKILL
        done = finish(data, out, simulator.url, api)
        assert done.returncode == ExitCode.OK, done.stdout + done.stderr
        assert_exactly_once(simulator, out)
    assert {r["merge_status"] for r in results(out).values()} == {"submitted"}


@pytest.mark.parametrize(
    ("sent", "said"),
    [(signal.SIGINT, "interrupted (Ctrl-C)"), (signal.SIGTERM, "terminated (SIGTERM)")],
)
def test_ctrl_c_lets_requests_in_flight_finish_and_says_how_to_resume(
    tmp_path: Path, sent: signal.Signals, said: str
) -> None:
    data = write_csv(tmp_path / "leads.csv", leads(ROWS))
    out = tmp_path / "sent.csv"
    with Simulator(SimulatorSettings(latency=0.05)) as simulator:
        process = start(data, out, simulator.url)
        wait_for_accepted(simulator, 10, process)
        process.send_signal(sent)
        stdout, stderr = process.communicate(timeout=30)
        assert process.returncode == ExitCode.INTERRUPTED, stdout + stderr
        assert f"Stopped: {said}" in stdout
        assert "Hint: run the same command again to resume" in stdout
        assert "Traceback" not in stderr
        issued = sorted(i for ids in simulator.video_ids().values() for i in ids)
        assert sorted(ids_in(out)) == issued
        assert len(issued) < ROWS
        statuses = {r["merge_status"] for r in results(out).values()}
        assert statuses == {"submitted", "skipped"}
        done = finish(data, out, simulator.url)
        assert done.returncode == ExitCode.OK, done.stdout + done.stderr
        assert_exactly_once(simulator, out)


def sending_keys(out: Path) -> set[str]:
    """The keys the journal holds as `sending` (committed), read beside the running command."""
    try:
        return {key for key, state in journal_states(out).items() if state == "sending"}
    except sqlite3.Error:  # not created yet
        return set()


@pytest.mark.parametrize("api", ["v2", "v3"])
def test_a_kill_while_rows_are_marked_ahead_checks_them_and_counts_none_as_made(
    tmp_path: Path, api: str
) -> None:
    """Rows whose `sending` record was committed while the requests before them were out, then
    a kill -9 before they left: the next run checks them (v2: the video list; v3: a resend
    under the same Idempotency-Key) and says only the videos that exist were found."""
    rows = 24
    data = write_csv(tmp_path / "leads.csv", leads(rows))
    out = tmp_path / "sent.csv"
    with Simulator(SimulatorSettings(latency=0.2)) as simulator:
        options = ("--api", "v2") if api == "v2" else ()
        process = start(data, out, simulator.url, api, *options)
        deadline = time.monotonic() + 30
        # 3 in flight (the default) and 2 rows ahead of each: more `sending` than requests out.
        while len(sending_keys(out)) < 6:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no rows were marked ahead"
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
        process.communicate()
        time.sleep(0.5)  # requests already out are answered (to nobody) by now
        doubt = sending_keys(out)
        made = {key for key in doubt if simulator.accepted().get(key)}
        # A run that never ended may have sent any row it had not recorded: all are checked.
        checked = rows - sum(state == "submitted" for state in journal_states(out).values())
        assert len(made) < len(doubt), "every row in doubt was sent: none was marked ahead"
        done = finish(data, out, simulator.url, api, *options)
        assert done.returncode == ExitCode.OK, done.stdout + done.stderr
        assert_exactly_once(simulator, out, rows)
        assert f"to check first: {checked} (may have been sent" in done.stdout, done.stdout
        if api == "v2":  # looked for in the list: those that exist are found, no others
            said = f"; {len(made)} found through the video list" if made else ""
            sent = rf"^Sent [\d,]+ rows in [\d.]+ s \([\d.]+/s\){said}$"
            assert re.search(sent, done.stdout, re.M), done.stdout
    assert {r["merge_status"] for r in results(out).values()} == {"submitted"}
