"""Attack: random SIGKILLs during submit (against a faulty simulator) and during the output write.

Seeded and bounded: a handful of kills at random moments, each followed by a plain rerun;
over all of them, no video_id is lost and no row is sent twice, and no half-written file stays.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from merge.cli.commands import ExitCode
from merge.simulator import Simulator, SimulatorSettings
from tests.conftest import ROOT
from tests.submitting import ids_in, leads, results, write_csv, write_xlsx
from tests.test_crash import finish, start

TRIALS = 4
ROWS = 24
FAULTS = SimulatorSettings(
    latency=0.02, fail_5xx=0.04, reset_after_accept=0.06, late_answer=0.04, late_by=0.5, seed=17
)


def test_random_sigkills_during_a_faulty_submit_lose_nothing_and_duplicate_nothing(tmp_path):
    rng = random.Random(1717)
    duplicates = lost = 0
    for trial in range(TRIALS):
        suffix = (".csv", ".xlsx")[trial % 2]
        data = tmp_path / f"leads-{trial}{suffix}"
        (write_csv if suffix == ".csv" else write_xlsx)(data, leads(ROWS))
        out = tmp_path / f"sent-{trial}{suffix}"
        with Simulator(FAULTS) as simulator:
            process = start(data, out, simulator.url)
            time.sleep(rng.uniform(0.5, 1.5))  # from start-up to the end of the run
            process.send_signal(signal.SIGKILL)
            process.communicate()
            for _ in range(3):  # faults may leave rows failed or in doubt: run until settled
                done = finish(data, out, simulator.url, "v2")
                if done.returncode == ExitCode.OK:
                    break
            accepted = simulator.accepted()
            issued = sorted(i for ids in simulator.video_ids().values() for i in ids)
        duplicates += sum(n - 1 for n in accepted.values())
        lost += len(set(issued) - set(ids_in(out)))
        assert not list(tmp_path.glob(".*.tmp")), "a half-written output was left behind"
        statuses = {r["merge_status"] for r in results(out).values()}
        assert statuses <= {"submitted", "failed", "unknown"}, statuses
    assert (duplicates, lost) == (0, 0)


WRITER = """
import sys
from pathlib import Path
from merge.sheets.sheet import open_sheet, write_annotated
src, dst = Path(sys.argv[1]), Path(sys.argv[2])
info = open_sheet(src).info
n = 0
while True:
    n += 1
    names = ("video_id", "merge_status", "merge_error", "callback_id", "submitted_at")
    cells = [f"{n:08d}", "submitted", "", "k", ""]
    write_annotated(info, dst, names, {r: cells for r in range(2, 2 + 800)})
"""


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_sigkill_during_the_output_write_leaves_it_whole_and_no_temp_file(tmp_path, suffix):
    rng = random.Random(99)
    data = tmp_path / f"leads{suffix}"
    (write_csv if suffix == ".csv" else write_xlsx)(data, leads(800))
    out = tmp_path / f"out{suffix}"
    for _ in range(3):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(data), str(out)], cwd=ROOT)
        deadline = time.monotonic() + 20
        while not out.exists():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.4))
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        ids = ids_in(out)
        assert len(ids) == 800  # whole: every row of one write, old or new, never torn
        assert len(set(ids)) == 1
    from merge.sheets.sheet import remove_stale_temps

    remove_stale_temps(out)  # what the next run does first, holding the journal
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_kill_then_a_deleted_wal_file_sends_nothing_twice(tmp_path):
    """Everything the killed run committed lived in the -wal file; the user deletes it."""
    data = write_csv(tmp_path / "leads.csv", leads(ROWS))
    out = tmp_path / "sent.csv"
    with Simulator(SimulatorSettings(latency=0.03)) as simulator:
        process = start(data, out, simulator.url)
        deadline = time.monotonic() + 30
        while sum(simulator.accepted().values()) < 8:
            assert process.poll() is None
            assert time.monotonic() < deadline
            time.sleep(0.002)
        process.send_signal(signal.SIGKILL)
        process.communicate()
        Path(f"{out}.journal-wal").unlink(missing_ok=True)
        Path(f"{out}.journal-shm").unlink(missing_ok=True)
        done = finish(data, out, simulator.url, "v2")
        assert done.returncode == ExitCode.OK, done.stdout + done.stderr
        accepted = simulator.accepted()
        issued = sorted(i for ids in simulator.video_ids().values() for i in ids)
    assert len(accepted) == ROWS
    assert set(accepted.values()) == {1}
    assert sorted(ids_in(out)) == issued
