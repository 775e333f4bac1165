"""Attack: a full disk under the journal and the output (a small tmpfs, mounted when root)."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from merge.cli.commands import ExitCode
from merge.simulator import Simulator, SimulatorSettings
from tests.submitting import OUTREACH, ids_in, lead, write_csv


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MB file system of its own; skipped where mounting needs privileges the suite lacks."""
    where = tmp_path / "disk"
    where.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root; run the suite as root to test a full disk")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(where: Path, leave: int) -> Path:
    """Fill the disk until only about `leave` bytes are free."""
    filler = where / "filler"
    free = os.statvfs(where).f_bavail * os.statvfs(where).f_frsize
    with filler.open("wb") as handle, contextlib.suppress(OSError):
        handle.write(b"\0" * max(free - leave, 0))
    return filler


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    monkeypatch.setenv("HEYGEN_API_KEY", "sk_test_disk_full")
    with Simulator(SimulatorSettings(render_seconds=0.1, pending_seconds=0.0)) as simulator:
        yield simulator


def test_no_room_for_the_journal_is_a_clear_message_and_nothing_is_sent(
    cli, tmp_path, small_disk, api
):
    data = write_csv(tmp_path / "leads.csv", [lead(n) for n in range(5)])
    _fill(small_disk, 0)
    out = small_disk / "sent.csv"
    run = cli("submit", data, OUTREACH, "-o", out, "--base-url", api.url, "--yes")
    assert run.code == ExitCode.ERROR
    assert "Traceback" not in run.err
    assert "full" in run.err or "No space left" in run.err, run.err
    assert "Wrote" not in run.out
    assert api.accepted() == {}


@pytest.mark.parametrize(
    ("free_kb", "what_fills"), [(450, "the output"), (250, "the journal, mid-run")]
)
def test_a_disk_filling_up_says_so_and_a_rerun_writes_every_id_once(
    cli, tmp_path, small_disk, api, free_kb, what_fills
):
    rows = [[*lead(n)[:-1], "#0e1b2c"] for n in range(8)]
    data = write_csv(tmp_path / "leads.csv", rows)
    with data.open("a", encoding="utf-8") as handle:  # wide rows make a 600 KB output
        for _ in range(600):
            handle.write(",".join(["", "", "", "", "", "", "", "", "x" * 990]) + "\n")
    filler = _fill(small_disk, free_kb * 1024)
    out = small_disk / "sent.csv"
    run = cli("submit", data, OUTREACH, "-o", out, "--base-url", api.url, "--yes")
    assert "Traceback" not in run.err
    assert run.code == ExitCode.ERROR, run.out + run.err
    if what_fills == "the output":
        assert "The output could not be written" in run.out
        assert "No space left on device" in run.out
    else:  # which fills first, the journal or a periodic write of the output, is timing
        said = run.out + run.err
        assert "the journal cannot be written: the disk is full" in said or (
            "The output could not be written" in said
        ), said
    assert "Wrote" not in run.out
    assert not list(small_disk.glob(".*.tmp"))
    filler.unlink()
    again = cli("submit", data, OUTREACH, "-o", out, "--base-url", api.url, "--yes")
    assert "Traceback" not in again.err
    assert "Wrote" in again.out
    accepted = api.accepted()
    assert len(accepted) == 8
    assert set(accepted.values()) == {1}
    issued = sorted(i for ids in api.video_ids().values() for i in ids)
    assert sorted(ids_in(out)) == issued
