"""Attack: rows refused with a 5xx stay in doubt until checked; exit codes tell the truth."""

from __future__ import annotations

import csv
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from merge.cli.commands import ExitCode
from merge.simulator import Simulator, SimulatorSettings
from tests.submitting import OUTREACH, ids_in, leads, results, write_csv


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    monkeypatch.setenv("HEYGEN_API_KEY", "sk_test_doubt")
    with Simulator(SimulatorSettings(render_seconds=0.1, pending_seconds=0.0)) as simulator:
        yield simulator


def _made_but_answered_500(cli, tmp_path: Path, api: Simulator) -> tuple[Path, Path]:
    """Three rows whose videos the server made, though it answered 500 (the output lost them)."""
    data = write_csv(tmp_path / "leads.csv", leads(3))
    out = tmp_path / "sent.csv"
    first = cli("submit", data, OUTREACH, "-o", out, "--base-url", api.url, "--yes")
    assert first.code == ExitCode.OK, first.err
    db = sqlite3.connect(f"{out}.journal")
    db.execute(
        "update rows set state = 'failed', video_id = null, http_status = 500,"
        " error = 'HTTP 500: internal error'"
    )
    db.commit()
    db.close()
    out.unlink()  # as if the run was killed before the output was written
    return data, out


@pytest.mark.parametrize("more", [(), ("--retry-failed",)])
def test_a_5xx_row_is_checked_before_anything_and_never_duplicated(cli, tmp_path, api, more):
    data, out = _made_but_answered_500(cli, tmp_path, api)
    run = cli("submit", data, OUTREACH, "-o", out, "--base-url", api.url, "--yes", *more)
    assert "to check first: 3" in run.out
    if not more:
        # v3: the title does not hold the key, so the list cannot tell; a replay under the
        # Idempotency-Key could make a video, so the rows wait for --retry-failed, sent nothing.
        assert run.code == ExitCode.FAILED_ROWS, run.out + run.err
        assert set(api.accepted().values()) == {1}
        assert "--retry-failed" in run.out
        run = cli(
            "submit", data, OUTREACH, "-o", out, "--base-url", api.url, "--yes", "--retry-failed"
        )
    assert run.code == ExitCode.OK, run.out + run.err
    assert set(api.accepted().values()) == {1}  # each row's video made once, found, not resent
    issued = sorted(i for ids in api.video_ids().values() for i in ids)
    assert sorted(ids_in(out)) == issued


def test_a_rerun_with_failed_rows_left_does_not_exit_0(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("HEYGEN_API_KEY", "sk_test_doubt")
    data = write_csv(tmp_path / "leads.csv", leads(2))
    out = tmp_path / "sent.csv"
    with Simulator(SimulatorSettings(fail_5xx=1.0)) as broken:
        first = cli("submit", data, OUTREACH, "-o", out, "--base-url", broken.url, "--yes")
        assert first.code == ExitCode.FAILED_ROWS
        again = cli("submit", data, OUTREACH, "-o", out, "--base-url", broken.url, "--yes")
    assert again.code == ExitCode.FAILED_ROWS, again.out
    assert {r["merge_status"] for r in results(out).values()} == {"failed"}


def test_status_without_wait_checks_every_video(cli, tmp_path, api):
    data = write_csv(tmp_path / "leads.csv", leads(40))
    out = tmp_path / "sent.csv"
    sent = cli("submit", data, OUTREACH, "-o", out, "--base-url", api.url, "--yes")
    assert sent.code == ExitCode.OK
    status = cli("status", out, "--base-url", api.url, "--poll", "0.01")
    assert status.code == ExitCode.OK, status.out + status.err
    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 40
    assert all(row["video_status"] for row in rows)  # every video asked, none left unchecked
    assert "unchecked" not in status.out
