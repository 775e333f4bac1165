"""`submit` against the simulator over loopback: every row exactly once, every id written back."""

from __future__ import annotations

import os
import pty
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest

from merge.cli.commands import ExitCode
from merge.simulator import Simulator, SimulatorSettings
from tests.submitting import (
    LEADS_XLSX,
    OUTREACH,
    ids_in,
    journal_states,
    lead,
    leads,
    results,
    write_csv,
    write_xlsx,
)

KEY = "sk-test-SECRET-4f1d9a"


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    """A plain simulator on loopback, with the key in the environment."""
    monkeypatch.setenv("HEYGEN_API_KEY", KEY)
    with Simulator(SimulatorSettings(render_seconds=0.1, pending_seconds=0.0)) as simulator:
        yield simulator


TARGET: tuple[str, ...] = ()
"""Extra arguments naming the API (v3 when none); tests/test_submit_v2.py runs these tests
again with `--api v2`."""


def submit(cli, data: Path, out: Path, url: str, *more: str):
    return cli("submit", data, OUTREACH, "-o", out, "--base-url", url, "--yes", *TARGET, *more)


def assert_exactly_once(simulator: Simulator, output: Path, expected_rows: int) -> None:
    accepted = simulator.accepted()
    assert len(accepted) == expected_rows
    assert set(accepted.values()) == {1}, {k: n for k, n in accepted.items() if n != 1}
    issued = sorted(i for ids in simulator.video_ids().values() for i in ids)
    assert sorted(ids_in(output)) == issued


def test_simulate_sends_the_sample_and_writes_ids_into_a_copy_of_the_workbook(cli, tmp_path):
    out = tmp_path / "leads-sent.xlsx"
    run = cli("submit", LEADS_XLSX, OUTREACH, "-o", out, "--simulate", "--yes")
    assert run.code == ExitCode.INVALID_ROWS, run.err
    assert "  to send:        21" in run.out
    assert "  output rows: 4 invalid, 21 submitted" in run.out
    rows = results(out)
    assert len(ids_in(out)) == 21
    assert rows[8]["merge_status"] == "invalid"
    assert rows[8]["merge_error"].startswith('column "speed": 2 is above the maximum 1.5')
    assert all(len(rows[n]["video_id"]) == 32 for n in (2, 3, 24))
    assert rows[2]["callback_id"].endswith("-row-2")
    assert rows[2]["submitted_at"].endswith("Z")
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == openpyxl.load_workbook(LEADS_XLSX).sheetnames

    again = cli("submit", LEADS_XLSX, OUTREACH, "-o", out, "--simulate", "--yes")
    assert again.code == ExitCode.INVALID_ROWS
    assert "skipped:        21 already has a video_id" in again.out
    assert "Nothing to send." in again.out
    assert results(out) == rows


@pytest.mark.parametrize(("suffix", "api"), [(".csv", "v2"), (".xlsx", "v2"), (".csv", "v3")])
def test_every_fault_at_once_still_gives_each_row_exactly_one_video(
    cli, tmp_path, monkeypatch, suffix, api
):
    monkeypatch.setenv("HEYGEN_API_KEY", KEY)
    data = tmp_path / f"leads{suffix}"
    (write_csv if suffix == ".csv" else write_xlsx)(data, leads(40))
    out = tmp_path / f"sent{suffix}"
    faults = SimulatorSettings(
        fail_5xx=0.1,
        fail_429=0.05,
        reset_after_accept=0.1,
        late_answer=0.1,
        late_by=0.6,
        retry_after=0.1,
        seed=7,
    )
    with Simulator(faults) as simulator:
        target = ["--api", api]
        run = submit(
            cli, data, out, simulator.url, "--timeout", "0.3", "--concurrency", "4", *target
        )
        stats = simulator.stats()
        assert run.code == ExitCode.OK, run.out + run.err
        assert_exactly_once(simulator, out, 40)
    assert stats["resets"] > 0
    assert stats["late_answers"] > 0
    assert stats["server_errors"] > 0
    assert {r["merge_status"] for r in results(out).values()} == {"submitted"}


def test_a_rejected_key_stops_at_once_and_sends_nothing_more(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("HEYGEN_API_KEY", "wrong-key")
    data = write_csv(tmp_path / "leads.csv", leads(30))
    out = tmp_path / "sent.csv"
    with Simulator(SimulatorSettings(api_key="right-key")) as simulator:
        run = submit(cli, data, out, simulator.url, "--concurrency", "1")
        assert simulator.stats()["unauthorized"] == 1
        assert simulator.accepted() == {}
    assert run.code == ExitCode.ERROR
    assert "Stopped: HTTP 401 unauthorized" in run.out
    assert "Hint: the API key was refused" in run.out
    statuses = {r["merge_status"] for r in results(out).values()}
    assert statuses == {"skipped"}
    assert "wrong-key" not in run.out + run.err


def test_a_spent_daily_quota_stops_and_the_next_day_resumes(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("HEYGEN_API_KEY", KEY)
    data = write_csv(tmp_path / "leads.csv", leads(12))
    out = tmp_path / "sent.csv"
    with Simulator(SimulatorSettings(daily_quota=5)) as today:
        run = submit(cli, data, out, today.url, "--concurrency", "1")
        assert sum(today.accepted().values()) == 5
        first_ids = set(ids_in(out))
    assert run.code == ExitCode.FAILED_ROWS
    refusal = "HTTP 429 trial_video_limit_exceeded" if "v2" in TARGET else "HTTP 402 insufficient"
    assert f"Stopped: {refusal}" in run.out
    assert sorted(r["merge_status"] for r in results(out).values()).count("skipped") == 7
    with Simulator(SimulatorSettings()) as tomorrow:
        again = submit(cli, data, out, tomorrow.url)
        assert again.code == ExitCode.OK
        assert sum(tomorrow.accepted().values()) == 7
    assert "skipped:        5 already has a video_id" in again.out
    assert first_ids < set(ids_in(out))
    assert len(set(ids_in(out))) == 12


def test_the_api_key_never_reaches_any_output(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("HEYGEN_API_KEY", KEY)
    data = write_xlsx(tmp_path / "leads.xlsx", leads(20))
    out = tmp_path / "sent.xlsx"
    faults = SimulatorSettings(fail_5xx=0.2, reset_after_accept=0.2, retry_after=0.1, seed=3)
    with Simulator(faults) as simulator:
        run = submit(cli, data, out, simulator.url)
    assert KEY not in run.out + run.err
    for written in tmp_path.iterdir():
        assert KEY.encode() not in written.read_bytes(), written.name


def test_a_fixed_row_is_sent_on_the_next_run_and_nothing_else(cli, tmp_path, api):
    rows = leads(5)
    rows[2][7] = "9"
    data = write_csv(tmp_path / "leads.csv", rows)
    out = tmp_path / "sent.csv"
    first = submit(cli, data, out, api.url)
    assert first.code == ExitCode.INVALID_ROWS
    assert results(out)[4]["merge_status"] == "invalid"
    rows[2][7] = "1.2"
    write_csv(data, rows)
    second = submit(cli, data, out, api.url)
    assert second.code == ExitCode.OK, second.out
    assert "  to send:        1" in second.out
    assert_exactly_once(api, out, 5)


def test_failed_rows_wait_for_retry_failed(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("HEYGEN_API_KEY", KEY)
    data = write_csv(tmp_path / "leads.csv", leads(3))
    out = tmp_path / "sent.csv"
    with Simulator(SimulatorSettings(fail_5xx=1.0)) as broken:
        first = submit(cli, data, out, broken.url)
        assert broken.accepted() == {}
    assert first.code == ExitCode.FAILED_ROWS
    assert results(out)[2]["merge_error"].startswith("HTTP 5")
    with Simulator(SimulatorSettings()) as fixed:
        skipped = submit(cli, data, out, fixed.url)
        assert "skipped:        3 failed before (--retry-failed sends it again)" in skipped.out
        assert fixed.accepted() == {}
        retried = submit(cli, data, out, fixed.url, "--retry-failed")
        assert retried.code == ExitCode.OK
        assert_exactly_once(fixed, out, 3)


def test_key_column_keeps_rows_apart_when_the_sheet_is_reordered(cli, tmp_path, api):
    rows = leads(6)
    data = write_csv(tmp_path / "leads.csv", rows)
    out = tmp_path / "sent.csv"
    assert submit(cli, data, out, api.url, "--key", "email").code == ExitCode.OK
    before = {r["callback_id"]: r["video_id"] for r in results(out).values()}
    write_csv(data, [lead(99), *reversed(rows)])
    again = submit(cli, data, out, api.url, "--key", "email")
    assert again.code == ExitCode.OK
    assert "  to send:        1" in again.out
    after = {r["callback_id"]: r["video_id"] for r in results(out).values()}
    assert {k: after[k] for k in before} == before
    assert_exactly_once(api, out, 7)


def test_duplicate_keys_make_the_later_row_invalid(cli, tmp_path, api):
    rows = leads(3)
    rows[2][4] = rows[0][4]
    data = write_csv(tmp_path / "leads.csv", rows)
    out = tmp_path / "sent.csv"
    run = submit(cli, data, out, api.url, "--key", "email")
    assert run.code == ExitCode.INVALID_ROWS
    assert results(out)[4]["merge_error"].endswith("is also row 2's")
    assert len(api.accepted()) == 2


def test_unknown_key_column_is_named_with_a_suggestion(cli, tmp_path, api):
    data = write_csv(tmp_path / "leads.csv", leads(2))
    run = submit(cli, data, tmp_path / "sent.csv", api.url, "--key", "Email")
    assert run.code == ExitCode.ERROR
    assert '--key column "Email" is not in the header (did you mean "email"?)' in run.err
    assert api.accepted() == {}


def test_the_output_can_be_the_next_runs_input(cli, tmp_path, api):
    data = write_csv(tmp_path / "leads.csv", leads(4))
    out = tmp_path / "sent.csv"
    assert submit(cli, data, out, api.url).code == ExitCode.OK
    again = submit(cli, out, tmp_path / "sent-again.csv", api.url)
    assert again.code == ExitCode.OK
    assert "skipped:        4 already has a video_id in the input sheet" in again.out
    assert ids_in(tmp_path / "sent-again.csv") == ids_in(out)
    assert_exactly_once(api, out, 4)


def test_no_terminal_and_no_yes_sends_nothing(cli, tmp_path, api):
    data = write_csv(tmp_path / "leads.csv", leads(2))
    run = cli("submit", data, OUTREACH, "-o", tmp_path / "s.csv", "--base-url", api.url)
    assert run.code == ExitCode.ERROR
    assert "not sending: no terminal to confirm on" in run.err
    assert "Hint: add --yes" in run.err
    assert api.accepted() == {}


def test_a_pilot_sends_the_first_rows_only(cli, tmp_path, api):
    data = write_csv(tmp_path / "leads.csv", leads(10))
    out = tmp_path / "sent.csv"
    assert submit(cli, data, out, api.url, "--limit", "3").code == ExitCode.OK
    assert sorted(n for n, r in results(out).items() if r["video_id"]) == [2, 3, 4]
    assert results(out)[5]["merge_status"] == ""
    assert submit(cli, data, out, api.url).code == ExitCode.OK
    assert_exactly_once(api, out, 10)


def test_an_output_without_its_journal_is_refused(cli, tmp_path, api):
    data = write_csv(tmp_path / "leads.csv", leads(2))
    out = tmp_path / "sent.csv"
    out.write_text("stale")
    run = submit(cli, data, out, api.url)
    assert run.code == ExitCode.ERROR
    assert "exists, but its journal sent.csv.journal does not" in run.err


@pytest.mark.parametrize(
    ("name", "message"),
    [("sent.xlsx", "the output keeps the input's format, .csv"), ("leads.csv", "is the input")],
)
def test_bad_output_names_are_refused(cli, tmp_path, api, name, message):
    data = write_csv(tmp_path / "leads.csv", leads(2))
    run = submit(cli, data, tmp_path / name, api.url)
    assert run.code == ExitCode.ERROR
    assert message in run.err


def test_another_api_than_the_journals_is_refused(cli, tmp_path, api):
    data = write_csv(tmp_path / "leads.csv", leads(2))
    out = tmp_path / "sent.csv"
    assert cli("submit", data, OUTREACH, "-o", out, "--simulate", "--yes").code == ExitCode.OK
    run = submit(cli, data, out, "https://api.example.invalid")
    assert run.code == ExitCode.ERROR
    assert "this output's videos were made on a local simulator" in run.err


def test_missing_key_and_plain_http_are_refused_before_reading(cli, tmp_path, monkeypatch):
    monkeypatch.delenv("HEYGEN_API_KEY", raising=False)
    data = write_csv(tmp_path / "leads.csv", leads(1))
    run = cli("submit", data, OUTREACH, "-o", tmp_path / "s.csv", "--yes")
    assert run.code == ExitCode.ERROR
    assert "no API key: HEYGEN_API_KEY is not set" in run.err
    monkeypatch.setenv("HEYGEN_API_KEY", KEY)
    plain = cli(
        "submit", data, OUTREACH, "-o", tmp_path / "s.csv", "--base-url", "http://example.com"
    )
    assert plain.code == ExitCode.USAGE
    assert "would send the API key unencrypted" in plain.err


def test_key_file_is_read_and_never_shown(cli, tmp_path, monkeypatch):
    monkeypatch.delenv("HEYGEN_API_KEY", raising=False)
    key_file = tmp_path / "key.txt"
    key_file.write_text("file-key-123\n")
    data = write_csv(tmp_path / "leads.csv", leads(2))
    with Simulator(SimulatorSettings(api_key="file-key-123")) as simulator:
        run = submit(cli, data, tmp_path / "s.csv", simulator.url, "--api-key-file", key_file)
        assert len(simulator.accepted()) == 2
    assert run.code == ExitCode.OK
    assert "file-key-123" not in run.out + run.err


def test_a_real_rate_limit_slows_the_client_down_and_every_row_gets_through(
    cli, tmp_path, monkeypatch
):
    monkeypatch.setenv("HEYGEN_API_KEY", KEY)
    data = write_csv(tmp_path / "leads.csv", leads(40))
    out = tmp_path / "sent.csv"
    with Simulator(SimulatorSettings(rate_limit=20)) as simulator:
        run = submit(cli, data, out, simulator.url, "--concurrency", "8")
        assert simulator.stats()["rate_limited"] > 0
        assert run.code == ExitCode.OK, run.out
        assert_exactly_once(simulator, out, 40)


def test_a_terminal_user_confirms_before_anything_is_sent(tmp_path, api):
    data = write_csv(tmp_path / "leads.csv", leads(2))
    out = tmp_path / "sent.csv"
    for answer, sent in (("n", 0), ("y", 2)):
        primary, secondary = pty.openpty()
        command = [sys.executable, "-m", "merge", "submit", data, OUTREACH, "-o", out]
        process = subprocess.Popen(
            [*command, "--base-url", api.url],
            stdin=secondary,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "HEYGEN_API_KEY": KEY},
        )
        os.close(secondary)
        os.write(primary, f"{answer}\n".encode())
        stdout, stderr = process.communicate(timeout=60)
        os.close(primary)
        assert "Send 2 rows? [y/N]" in stdout
        assert len(api.accepted()) == sent, stdout + stderr
    assert process.returncode == ExitCode.OK


def test_an_unreachable_api_stops_the_run_with_nothing_lost(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("HEYGEN_API_KEY", KEY)
    monkeypatch.setattr("merge.batch.send.CONNECT_ATTEMPTS", 2)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
    data = write_csv(tmp_path / "leads.csv", leads(5))
    out = tmp_path / "sent.csv"
    run = submit(cli, data, out, url)
    assert run.code == ExitCode.ERROR
    assert "Stopped: the API cannot be reached (ConnectError" in run.out
    assert "Hint: run the same command again to resume" in run.out
    assert {r["merge_status"] for r in results(out).values()} == {"skipped"}
    assert set(journal_states(out).values()) <= {"unsent"}
    with Simulator() as api:
        again = submit(cli, data, out, api.url)
        assert again.code == ExitCode.OK
        assert_exactly_once(api, out, 5)
