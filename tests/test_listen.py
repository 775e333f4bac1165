"""`listen`: webhook events checked, matched to rows and recorded; `status` writes them."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from merge.batch.journal import Journal, journal_path
from merge.cli.commands import ExitCode
from merge.follow.webhooks import Listener
from merge.simulator import Simulator, SimulatorSettings
from tests.conftest import ROOT
from tests.submitting import OUTREACH, leads, write_csv

KEY = "sk-listen-test"
SECRET = b"whsec-test-123"


def success(video_id: str, key: str = "") -> dict[str, object]:
    data = {"video_id": video_id, "url": "https://files.example/v.mp4", "callback_id": key}
    return {"event_type": "avatar_video.success", "event_data": data}


@pytest.fixture
def journal(tmp_path: Path):
    with closing(Journal.open(journal_path(tmp_path / "sent.csv"), "api")) as opened:
        opened.sending("k1", 2, "h", 1.0)
        opened.submitted("k1", "a" * 32, 2.0)
        opened.sending("k2", 3, "h", 1.0)
        opened.unknown("k2", "ReadTimeout", 2.0)
        yield opened


def test_an_event_for_a_known_video_is_recorded(journal) -> None:
    listener = Listener(journal)
    assert listener.record(success("a" * 32)) == "recorded"
    state = journal.videos()["a" * 32]
    assert (state.status, state.video_url, state.source) == (
        "completed",
        "https://files.example/v.mp4",
        "webhook",
    )


def test_a_failure_event_keeps_the_apis_reason(journal) -> None:
    event = {"event_type": "avatar_video.fail", "event_data": {"video_id": "a" * 32, "msg": "no"}}
    Listener(journal).record(event)
    assert journal.videos()["a" * 32].error == "no"


def test_a_row_in_doubt_adopts_the_video_its_callback_id_names(journal) -> None:
    Listener(journal).record(success("b" * 32, "k2"))
    entry = journal.entries()["k2"]
    assert (entry.state, entry.video_id) == ("submitted", "b" * 32)


@pytest.mark.parametrize(
    "event",
    [
        success("c" * 32, "someone-else"),
        {"event_type": "avatar_video_gif.success", "event_data": {"video_id": "a" * 32}},
        {"event_type": "avatar_video.success"},
        ["not", "an", "event"],
    ],
)
def test_other_events_are_acknowledged_and_ignored(journal, event) -> None:
    assert Listener(journal).record(event) == "ignored"
    assert journal.videos() == {}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def post(url: str, event: object, secret: bytes | None = SECRET) -> httpx.Response:
    body = json.dumps(event).encode()
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["signature"] = hmac.new(secret, body, hashlib.sha256).hexdigest()
    return httpx.post(url, content=body, headers=headers, trust_env=False)


def test_listen_records_signed_events_and_status_writes_them(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("HEYGEN_API_KEY", KEY)
    data = write_csv(tmp_path / "leads.csv", leads(3))
    out = tmp_path / "sent.csv"
    (tmp_path / "secret.txt").write_bytes(SECRET + b"\n")
    with Simulator(SimulatorSettings(render_seconds=600)) as api:
        assert cli("submit", data, OUTREACH, "-o", out, "--base-url", api.url, "--yes").code == 0
        made = api.video_ids()  # by callback_id, which ends in the row number
        ids = [made[key][0] for key in sorted(made, key=lambda k: int(k.rsplit("-", 1)[1]))]
        port = free_port()
        command = [sys.executable, "-m", "merge", "listen", str(out), "--port", str(port)]
        command += ["--secret-file", str(tmp_path / "secret.txt")]
        listener = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            url = f"http://127.0.0.1:{port}/heygen"
            _wait_until_up(url, listener)
            assert post(url, success(ids[0])).status_code == 200
            assert post(url, success(ids[1]), secret=b"wrong").status_code == 401
            failed = {"video_id": ids[2], "msg": "bad"}
            assert post(url, {"event_type": "avatar_video.fail", "event_data": failed}).json()
        finally:
            listener.send_signal(signal.SIGINT)
            stdout, stderr = listener.communicate(timeout=20)
        assert listener.returncode == 0, stderr
        assert "Received: 1 bad signature, 1 completed, 1 failed" in stdout
        run = cli("status", out, "--base-url", api.url)
    assert "status requests: 1" in run.out
    statuses = [line.split(",") for line in out.read_text().splitlines()]
    assert statuses[0][-6] == "video_status"
    written = [row[-6] for row in statuses[1:]]
    assert written[0::2] == ["completed", "failed"]
    assert written[1] in {"pending", "waiting", "processing"}


def _wait_until_up(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.options(url, trust_env=False).status_code == 200:
                return
        except httpx.ConnectError:
            pass
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "listen did not start"
        time.sleep(0.05)


def test_listen_needs_an_output_with_a_journal(cli, tmp_path):
    run = cli("listen", tmp_path / "nothing.csv")
    assert run.code == ExitCode.ERROR
    assert "has no journal beside it" in run.err
    assert os.environ.get("HEYGEN_WEBHOOK_SECRET") is None


def _signed_post(listener: Listener, body: bytes, headers: dict[str, str]) -> int:
    from starlette.testclient import TestClient

    from merge.follow.webhooks import create_listener_app

    with TestClient(create_listener_app(listener)) as client:
        status: int = client.post("/heygen", content=body, headers=headers).status_code
        return status


def test_a_fail_event_finds_its_row_in_doubt_by_callback_id(journal) -> None:
    event = {
        "event_type": "avatar_video.fail",
        "event_data": {"video_id": "d" * 32, "msg": "render failed", "callback_id": "k2"},
    }
    assert Listener(journal).record(event) == "recorded"
    assert journal.entries()["k2"].video_id == "d" * 32
    assert journal.videos()["d" * 32].status == "failed"


def _hmac(message: bytes) -> bytes:
    return hmac.new(SECRET, message, hashlib.sha256).digest()


@pytest.mark.parametrize(
    ("headers", "name"),
    [
        ({"signature": _hmac(b"{}").hex()}, "signature"),
        ({"X-HeyGen-Signature": "sha256=" + _hmac(b"{}").hex()}, "x-heygen-signature"),
        (
            {"Heygen-Signature": _hmac(b"1700000000.{}").hex(), "Heygen-Timestamp": "1700000000"},
            "heygen-signature",
        ),
        (
            {"Heygen-Signature": __import__("base64").b64encode(_hmac(b"{}")).decode()},
            "heygen-signature",
        ),
    ],
    ids=["signature", "x-heygen-signature", "heygen-signature+timestamp", "base64"],
)
def test_each_signature_header_seen_in_the_wild_is_accepted_and_named(
    journal, headers: dict[str, str], name: str
) -> None:
    listener = Listener(journal, SECRET)
    assert _signed_post(listener, b"{}", headers) == 200
    assert listener.signatures == {name: 1}
    wrong = {key: value[:-2] + "00" for key, value in headers.items()}
    assert _signed_post(listener, b"{}", wrong) == 401
    assert _signed_post(listener, b"{}", {}) == 401
    assert listener.counts["bad signature"] == 2
    assert listener.signatures["no signature header"] == 1
