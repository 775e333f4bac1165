"""Attack: the API key never leaks (bad key files, prefix-matched options, echoing servers)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from merge.batch.journal import Journal
from merge.batch.results import Job, Ledger
from merge.cli.commands import ExitCode
from merge.errors import MergeError, keep_secret, redact
from merge.simulator import Simulator, SimulatorSettings
from tests.submitting import OUTREACH, leads, write_csv

SECRET = "sk_live_9f8e7d6c5b4a"


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (f"{SECRET}\nsecond line\n", "holds more than one line"),
        (f"{SECRET}\r\nx", "holds more than one line"),
        (f"sk_live_é{SECRET[8:]}", "holds a character no API key has"),
        (f"{SECRET[:8]} {SECRET[8:]}", "holds a character no API key has"),
        (f"{SECRET}\x00", "holds a character no API key has"),
        ("  \n\n", "is empty"),
    ],
)
def test_a_bad_key_file_is_refused_naming_the_file_not_the_key(
    cli, tmp_path, monkeypatch, content, said
):
    monkeypatch.delenv("HEYGEN_API_KEY", raising=False)
    key_file = tmp_path / "key.txt"
    key_file.write_text(content, encoding="utf-8")
    data = write_csv(tmp_path / "leads.csv", leads(2))
    out = tmp_path / "sent.csv"
    with Simulator(SimulatorSettings()) as simulator:
        run = cli(
            "submit", data, OUTREACH, "-o", out, "--base-url", simulator.url, "--yes",
            "--api-key-file", key_file,
        )  # fmt: skip
        assert simulator.accepted() == {}
    assert run.code == ExitCode.ERROR
    assert said in run.err
    assert "key.txt" in run.err
    assert SECRET[8:] not in run.out + run.err
    assert "Traceback" not in run.err
    assert not out.exists()


def test_a_non_ascii_key_in_the_environment_is_refused_without_a_trace(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("HEYGEN_API_KEY", "clé-secrète-1234")
    data = write_csv(tmp_path / "leads.csv", leads(1))
    run = cli("submit", data, OUTREACH, "-o", tmp_path / "s.csv", "--yes")
    assert run.code == ExitCode.ERROR
    assert "HEYGEN_API_KEY holds a character no API key has" in run.err
    assert "secrète" not in run.err


@pytest.mark.parametrize(
    "argv",
    [
        ("--api-key", SECRET),  # once prefix-matched to --api-key-file, the key shown as a name
        ("--api-key-f", SECRET),
        ("--key", SECRET),  # a column name echoed in the message
        (SECRET,),
    ],
)
def test_a_key_on_the_command_line_is_never_repeated(cli, tmp_path, monkeypatch, argv):
    monkeypatch.setenv("HEYGEN_API_KEY", "sk_test_env_key")
    data = write_csv(tmp_path / "leads.csv", leads(1))
    run = cli("submit", data, OUTREACH, "-o", tmp_path / "s.csv", "--simulate", "--yes", *argv)
    assert run.code in (ExitCode.USAGE, ExitCode.ERROR)
    assert SECRET not in run.out + run.err
    assert SECRET[3:] not in run.out + run.err


def test_a_key_a_server_echoes_is_kept_out_of_the_journal_and_the_output(tmp_path: Path) -> None:
    keep_secret("plainlookingkey42")
    journal = Journal.open(tmp_path / "out.csv.journal", "test")
    ledger = Ledger(journal, lambda: 1.0)
    job = Job(2, "k-2", b"{}", "h")
    ledger.sending(job)
    ledger.failed(job, f"HTTP 400: bad Authorization {SECRET} (plainlookingkey42)", 400)
    journal.close()
    db = sqlite3.connect(tmp_path / "out.csv.journal")
    stored = db.execute("select error from rows").fetchone()[0]
    db.close()
    assert SECRET not in stored
    assert "plainlookingkey42" not in stored
    assert "[key hidden]" in stored
    assert SECRET not in str(ledger.values)
    assert SECRET not in str(MergeError(f"refused {SECRET}", f"hint {SECRET}"))
    assert redact("video abc-sk-1 and task_sk_1234 stay") == "video abc-sk-1 and task_sk_1234 stay"


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (("--timeout", "nan"), "is not a number of seconds above 0"),
        (("--timeout", "inf"), "is not a number of seconds above 0"),
        (("--encoding", "rot13"), "is a transform, not a text encoding"),
        (("--encoding", "klingon"), "is not an encoding"),
    ],
)
def test_bad_option_values_are_usage_errors(cli, tmp_path, argv, said):
    data = write_csv(tmp_path / "leads.csv", leads(1))
    run = cli("submit", data, OUTREACH, "-o", tmp_path / "s.csv", "--simulate", *argv)
    assert run.code == ExitCode.USAGE
    assert said in run.err
    assert "Traceback" not in run.err


def test_a_port_out_of_range_is_a_usage_error(cli, tmp_path):
    run = cli("listen", tmp_path / "s.csv", "--port", "99999")
    assert run.code == ExitCode.USAGE
    assert "is not a port: use 1 to 65535" in run.err
