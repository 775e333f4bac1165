"""Attack: every journal mishap. The output's own video_id column is proof a row was sent."""

from __future__ import annotations

import io
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from merge.cli.commands import ExitCode
from merge.simulator import Simulator, SimulatorSettings
from tests.submitting import OUTREACH, ids_in, leads, results, write_csv

ROWS = 12
URL: list[str] = []


@pytest.fixture(autouse=True)
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    monkeypatch.setenv("HEYGEN_API_KEY", "sk_test_journal")
    with Simulator(SimulatorSettings(render_seconds=0.1, pending_seconds=0.0)) as simulator:
        URL[:] = [simulator.url]
        yield simulator


def _sent(cli, tmp_path: Path, name: str = "sent.csv") -> tuple[Path, Path, list[str]]:
    data = write_csv(tmp_path / "leads.csv", leads(ROWS))
    out = tmp_path / name
    run = _again(cli, data, out)
    assert run.code == ExitCode.OK, run.err
    ids = ids_in(out)
    assert len(ids) == ROWS
    return data, out, ids


def _again(cli, data: Path, out: Path):
    return cli("submit", data, OUTREACH, "-o", out, "--base-url", URL[0], "--yes")


def test_a_zero_byte_journal_is_refused_not_believed(cli, tmp_path):
    data, out, ids = _sent(cli, tmp_path)
    Path(f"{out}.journal").write_bytes(b"")
    run = _again(cli, data, out)
    assert run.code == ExitCode.ERROR
    assert "the journal holds no rows, but the output holds 12 video_ids" in run.err
    assert "Traceback" not in run.err
    assert ids_in(out) == ids  # nothing sent, nothing overwritten


def test_a_journal_that_lost_its_rows_is_refused_and_the_hint_loses_nothing(cli, tmp_path):
    """A deleted -wal file after a kill: the rows were there only; the output keeps the ids."""
    data, out, ids = _sent(cli, tmp_path)
    db = sqlite3.connect(f"{out}.journal")
    db.execute("delete from rows")
    db.commit()
    db.close()
    refused = _again(cli, data, out)
    assert refused.code == ExitCode.ERROR
    assert "move the journal away and give this output as the next run's input" in refused.err
    Path(f"{out}.journal").rename(tmp_path / "old.journal")
    run = _again(cli, out, tmp_path / "next.csv")
    assert run.code == ExitCode.OK, run.err
    assert "Nothing to send." in run.out
    assert ids_in(tmp_path / "next.csv") == ids


def test_rows_missing_from_the_journal_but_in_the_output_are_never_sent_again(cli, tmp_path):
    data, out, ids = _sent(cli, tmp_path)
    db = sqlite3.connect(f"{out}.journal")
    db.execute("delete from rows where row % 2 = 0")  # half the rows lost, the rest kept
    db.commit()
    db.close()
    run = _again(cli, data, out)
    assert run.code == ExitCode.OK, run.err
    assert "Nothing to send." in run.out
    assert ids_in(out) == ids


def test_an_output_copied_without_its_journal_adopts_its_ids_on_status(cli, tmp_path):
    data, out, ids = _sent(cli, tmp_path)
    copy = tmp_path / "copy.csv"
    shutil.copy(out, copy)
    status = cli("status", copy, "--base-url", URL[0])
    assert status.code == ExitCode.OK, status.err
    assert Path(f"{copy}.journal").exists()
    run = _again(cli, data, copy)
    assert run.code == ExitCode.OK, run.err
    assert "Nothing to send." in run.out
    assert ids_in(copy) == ids
    assert all(r["merge_status"] == "submitted" for r in results(copy).values())


def test_another_outputs_journal_is_refused(cli, tmp_path):
    data, out, _ = _sent(cli, tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    _, theirs, _ = _sent(cli, other, "theirs.csv")
    shutil.copy(Path(f"{theirs}.journal"), Path(f"{out}.journal"))
    run = _again(cli, data, out)
    assert run.code == ExitCode.ERROR
    assert "this journal belongs to another output" in run.err


def test_a_damaged_journal_is_a_clear_message(cli, tmp_path):
    data, out, ids = _sent(cli, tmp_path)
    Path(f"{out}.journal").write_bytes(b"not a database, " * 512)
    run = _again(cli, data, out)
    assert run.code == ExitCode.ERROR
    assert "the journal cannot be used" in run.err
    assert "Traceback" not in run.err
    assert ids_in(out) == ids


def test_declining_leaves_no_journal_that_blocks_a_simulated_run(tmp_path, monkeypatch, cli):
    data = write_csv(tmp_path / "leads.csv", leads(2))
    out = tmp_path / "sent.csv"
    answer = io.StringIO("n\n")
    answer.isatty = lambda: True  # type: ignore[method-assign]
    monkeypatch.setattr("sys.stdin", answer)
    monkeypatch.setenv("HEYGEN_API_KEY", "sk_live_declined")
    declined = cli("submit", data, OUTREACH, "-o", out)
    assert declined.code == ExitCode.ERROR
    assert "nothing sent" in declined.err
    assert not Path(f"{out}.journal").exists()
    run = cli("submit", data, OUTREACH, "-o", out, "--simulate", "--yes")
    assert run.code == ExitCode.OK, run.err
    assert "Traceback" not in run.err


def test_a_journal_locked_by_another_program_is_a_clear_message(cli, tmp_path, monkeypatch):
    data, out, ids = _sent(cli, tmp_path)
    monkeypatch.setattr("merge.batch.journal.BUSY_TIMEOUT_MS", 200)
    other = sqlite3.connect(f"{out}.journal", isolation_level=None)
    other.execute("begin exclusive")  # a database browser holding it, say
    try:
        run = _again(cli, data, out)
    finally:
        other.execute("rollback")
        other.close()
    assert run.code == ExitCode.ERROR
    assert "the journal is locked by another program" in run.err
    assert "Traceback" not in run.err
    assert ids_in(out) == ids
