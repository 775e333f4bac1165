"""`status` against the simulator over loopback: statuses, URLs and files written back."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import openpyxl
import pytest

import merge
from merge.api.statuses import IN_PROGRESS
from merge.cli.commands import ExitCode
from merge.follow.follower import Follower
from merge.simulator import Simulator, SimulatorSettings, video_bytes
from tests.conftest import ROOT
from tests.submitting import HEADER, OUTREACH, leads, write_csv, write_xlsx

KEY = "sk-status-test"
FAST = SimulatorSettings(pending_seconds=0.05, render_seconds=0.3, slots=4)
FOLLOW = ["video_status", "video_url", "thumbnail_url", "duration", "video_error", "checked_at"]


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEYGEN_API_KEY", KEY)


@pytest.fixture
def api(key: None) -> Iterator[Simulator]:
    with Simulator(FAST) as simulator:
        yield simulator


def table(path: Path) -> list[dict[str, str]]:
    """Every data row of a sheet as a dict of its cells (xlsx or csv)."""
    if path.suffix == ".csv":
        import csv

        with path.open(encoding="utf-8-sig", newline="") as handle:
            return list(csv.DictReader(handle))
    book = openpyxl.load_workbook(path, read_only=True)
    records = [["" if v is None else str(v) for v in r] for r in book.worksheets[0].values]
    book.close()
    return [dict(zip(records[0], record, strict=False)) for record in records[1:]]


def sent(cli, tmp_path: Path, url: str, count: int = 6, suffix: str = ".csv") -> Path:
    data = tmp_path / f"leads{suffix}"
    (write_csv if suffix == ".csv" else write_xlsx)(data, leads(count))
    out = tmp_path / f"sent{suffix}"
    run = cli("submit", data, OUTREACH, "-o", out, "--base-url", url, "--yes")
    assert run.code == ExitCode.OK, run.out + run.err
    return out


def status(cli, out: Path, url: str, *more: str | Path):
    return cli("status", out, "--base-url", url, "--poll", "0.1", *more)


def test_one_pass_writes_what_the_api_says_now(cli, tmp_path, key):
    with Simulator(SimulatorSettings(render_seconds=60)) as api:
        out = sent(cli, tmp_path, api.url)
        run = status(cli, out, api.url)
    assert run.code == ExitCode.OK, run.out + run.err
    rows = table(out)
    assert {r["video_status"] for r in rows} <= IN_PROGRESS
    assert all(r["checked_at"].endswith("Z") for r in rows)
    assert "Hint: add --wait" in run.out
    assert "status requests: 1" in run.out  # v3: one bulk call for all six


def test_wait_follows_every_video_to_the_end(cli, tmp_path, api):
    out = sent(cli, tmp_path, api.url, 8, ".xlsx")
    run = status(cli, out, api.url, "--wait")
    assert run.code == ExitCode.OK, run.out + run.err
    assert "Followed 8 videos" in run.out
    assert ": 8 completed" in run.out
    rows = table(out)
    assert list(rows[0])[-15:] == [
        "video_id",
        "merge_status",
        "merge_error",
        "callback_id",
        "submitted_at",
        *FOLLOW,
        "gif_url",  # v3's further links, as columns once a video has them
        "video_page_url",
        "subtitle_url",  # the template asks for captions
        "captioned_video_url",
    ]
    for row in rows:
        assert row["video_status"] == "completed"
        assert row["video_url"].startswith(api.url + "/files/")
        assert row["gif_url"].startswith(api.url + "/files/")
        assert row["subtitle_url"].startswith(api.url + "/files/")
        assert float(row["duration"]) >= 1
    assert openpyxl.load_workbook(out).sheetnames == ["Leads", "Notes"]
    again = status(cli, out, api.url)
    assert "status requests: 0" in again.out


def test_failed_videos_show_the_apis_reason(cli, tmp_path, key):
    with Simulator(SimulatorSettings(render_seconds=0.1, pending_seconds=0.0)) as api:
        data = write_csv(tmp_path / "leads.csv", leads(3))
        template = tmp_path / "big.json"
        text = OUTREACH.read_text().replace(
            '"width": 1280, "height": 720', '"width": 3840, "height": 2160'
        )
        template.write_text(text)
        out = tmp_path / "sent.csv"
        assert cli("submit", data, template, "-o", out, "--base-url", api.url, "--yes").code == 0
        run = status(cli, out, api.url, "--wait")
    assert run.code == ExitCode.FAILED_ROWS
    rows = table(out)
    assert {r["video_status"] for r in rows} == {"failed"}
    assert rows[0]["video_error"].startswith("resolution_not_supported: Video format not supported")
    assert rows[0]["video_url"] == ""


def test_download_saves_each_video_once(cli, tmp_path, api):
    out = sent(cli, tmp_path, api.url, 4)
    videos = tmp_path / "videos"
    run = status(cli, out, api.url, "--wait", "--download", videos)
    assert run.code == ExitCode.OK, run.out + run.err
    assert "downloaded 4, already there 0, failed 0" in run.out
    rows = table(out)
    for row in rows:
        saved = videos / f"{row['callback_id']}.mp4"
        assert saved.read_bytes() == httpx.get(row["video_url"]).content
        assert (videos / f"{row['callback_id']}.jpg").stat().st_size > 0
    assert not list(videos.glob(".*.part"))
    again = status(cli, out, api.url, "--download", videos)
    assert "downloaded 0, already there 4, failed 0" in again.out


def test_submit_wait_chains_sending_and_following(cli, tmp_path, api):
    data = write_csv(tmp_path / "leads.csv", leads(3))
    out = tmp_path / "sent.csv"
    run = cli(
        "submit",
        data,
        OUTREACH,
        "-o",
        out,
        "--base-url",
        api.url,
        "--yes",
        "--wait",
        "--poll",
        "0.1",
    )
    assert run.code == ExitCode.OK, run.out + run.err
    assert "Sent 3 rows" in run.out
    assert "Followed 3 videos" in run.out
    assert {r["video_status"] for r in table(out)} == {"completed"}
    resumed = cli("submit", data, OUTREACH, "-o", out, "--base-url", api.url, "--yes")
    assert resumed.code == ExitCode.OK
    assert {r["video_status"] for r in table(out)} == {"completed"}


def test_a_sheets_own_video_url_column_is_never_overwritten(cli, tmp_path, api):
    rows = [[*lead, f"https://example.com/bg/{n}.mp4"] for n, lead in enumerate(leads(2))]
    header = [*HEADER, "video_url"]
    data = write_csv(tmp_path / "leads.csv", rows, header)
    out = tmp_path / "sent.csv"
    assert cli("submit", data, OUTREACH, "-o", out, "--base-url", api.url, "--yes").code == 0
    assert status(cli, out, api.url, "--wait").code == ExitCode.OK
    written = table(out)
    assert [r["video_url"] for r in written] == [r[-1] for r in rows]
    assert all(r["heygen_video_url"].startswith(api.url) for r in written)


def test_videos_the_api_does_not_know_are_reported(cli, tmp_path, key):
    with Simulator(FAST) as first:
        out = sent(cli, tmp_path, first.url, 2)
    with Simulator(FAST) as other:
        run = status(cli, out, other.url)
    assert run.code == ExitCode.FAILED_ROWS
    assert {r["video_status"] for r in table(out)} == {"not_found"}


def test_a_refused_key_stops_with_a_clear_message(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("HEYGEN_API_KEY", "right")
    with Simulator(SimulatorSettings(api_key="right")) as api:
        out = sent(cli, tmp_path, api.url, 2)
        monkeypatch.setenv("HEYGEN_API_KEY", "wrong")
        run = status(cli, out, api.url)
    assert run.code == ExitCode.ERROR
    assert "the API refused the key" in run.err
    assert "wrong" not in run.err + run.out


def test_a_sheet_without_video_ids_is_refused(cli, tmp_path, api):
    data = write_csv(tmp_path / "leads.csv", leads(1))
    run = status(cli, data, api.url)
    assert run.code == ExitCode.ERROR
    assert "has no video_id column" in run.err


def test_an_expired_link_is_renewed_before_downloading(cli, tmp_path, key):
    settings = SimulatorSettings(pending_seconds=0.0, render_seconds=0.1, url_ttl=3.0)
    with Simulator(settings) as api:
        out = sent(cli, tmp_path, api.url, 2)
        assert status(cli, out, api.url, "--wait").code == ExitCode.OK
        old = table(out)[0]["video_url"]
        time.sleep(3.2)
        assert httpx.get(old).status_code == 403
        videos = tmp_path / "videos"
        run = status(cli, out, api.url, "--download", videos)
        assert run.code == ExitCode.OK, run.out + run.err
        assert "downloaded 2, already there 0, failed 0" in run.out
        for row in table(out):
            saved = (videos / f"{row['callback_id']}.mp4").read_bytes()
            assert saved == video_bytes(row["video_id"], settings.file_bytes)


def test_a_download_killed_halfway_resumes_where_it_stopped(cli, tmp_path, key):
    size = 600_000
    slow = SimulatorSettings(
        pending_seconds=0.0, render_seconds=0.1, file_bytes=size, file_rate=300_000.0
    )
    with Simulator(slow) as api:
        out = sent(cli, tmp_path, api.url, 1)
        assert status(cli, out, api.url, "--wait").code == ExitCode.OK
        videos = tmp_path / "videos"
        command = [sys.executable, "-m", "merge", "status", str(out), "--base-url", api.url]
        process = subprocess.Popen(
            [*command, "--download", str(videos)],
            cwd=ROOT,
            env={**os.environ, "HEYGEN_API_KEY": KEY},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        part = None
        while time.monotonic() < deadline:
            parts = list(videos.glob(".*.mp4.part")) if videos.exists() else []
            if parts and parts[0].stat().st_size > size // 4:
                part = parts[0]
                break
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.communicate()
        assert part is not None, "the download never started"
        kept = part.stat().st_size
        assert 0 < kept < size
        run = status(cli, out, api.url, "--download", videos)
        assert run.code == ExitCode.OK, run.out + run.err
        row = table(out)[0]
        saved = videos / f"{row['callback_id']}.mp4"
        assert saved.read_bytes() == video_bytes(row["video_id"], size)
        assert not part.exists()


def test_webhook_events_from_the_api_fill_the_sheet_without_polling(cli, tmp_path, key):
    port = free_port()
    listen_url = f"http://127.0.0.1:{port}/hook"
    secret = "whsec-sim"
    # Renders of 3 s: the events (tried three times, a second apart) come after the listener,
    # started once submit has written the journal, is up even on a loaded machine.
    settings = SimulatorSettings(
        pending_seconds=0.0, render_seconds=3.0, webhook_url=listen_url, webhook_secret=secret
    )
    with Simulator(settings) as api:
        data = write_csv(tmp_path / "leads.csv", leads(3))
        out = tmp_path / "sent.csv"
        assert cli("submit", data, OUTREACH, "-o", out, "--base-url", api.url, "--yes").code == 0
        listener = subprocess.Popen(
            [sys.executable, "-m", "merge", "listen", str(out), "--port", str(port)],
            cwd=ROOT,
            env={**os.environ, "HEYGEN_WEBHOOK_SECRET": secret},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 30
            while api.stats()["webhooks_sent"] < 3:
                assert listener.poll() is None, listener.communicate()
                assert time.monotonic() < deadline, api.webhooks()
                time.sleep(0.05)
        finally:
            listener.send_signal(signal.SIGINT)
            stdout, _ = listener.communicate(timeout=20)
        assert "Received: 3 completed" in stdout
        run = status(cli, out, api.url)
    assert "status requests: 0" in run.out
    assert {r["video_status"] for r in table(out)} == {"completed"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_retry_failed_sends_a_new_video_for_one_that_failed_to_render(cli, tmp_path, key):
    with Simulator(SimulatorSettings(render_seconds=0.1, render_failure=1.0)) as broken:
        out = sent(cli, tmp_path, broken.url, 2)
        assert status(cli, out, broken.url, "--wait").code == ExitCode.FAILED_ROWS
        failed_ids = {r["video_id"] for r in table(out)}
        data = tmp_path / "leads.csv"
        plain = cli("submit", data, OUTREACH, "-o", out, "--base-url", broken.url, "--yes")
        assert "skipped:        2 already has a video_id" in plain.out
        again = cli(
            "submit", data, OUTREACH, "-o", out, "--base-url", broken.url, "--yes", "--retry-failed"
        )
        assert again.code == ExitCode.OK, again.out + again.err
        assert "to send:        2 (2 new videos for failed ones)" in again.out
        assert all(n == 2 for n in broken.accepted().values())
    new_ids = {r["video_id"] for r in table(out)}
    assert new_ids.isdisjoint(failed_ids)
    assert len(new_ids) == 2


def test_a_mixed_batch_shows_each_videos_own_end(cli, tmp_path, key):
    mixed = SimulatorSettings(render_seconds=0.1, pending_seconds=0.0, render_failure=0.5, seed=4)
    with Simulator(mixed) as api:
        out = sent(cli, tmp_path, api.url, 12)
        run = status(cli, out, api.url, "--wait")
    rows = table(out)
    failed = [r for r in rows if r["video_status"] == "failed"]
    completed = [r for r in rows if r["video_status"] == "completed"]
    assert failed
    assert completed
    assert len(failed) + len(completed) == 12
    assert run.code == ExitCode.FAILED_ROWS
    assert all(r["video_error"] and not r["video_url"] for r in failed)
    assert all(r["video_url"] and not r["video_error"] for r in completed)


@pytest.mark.parametrize("api_version", ["v3", "v2"])
def test_the_progress_kept_as_answers_come_is_a_recount_at_every_answer(
    cli, tmp_path, key, monkeypatch, api_version
):
    shown: list[Counter[str]] = []
    report = Follower._report

    def recounted(follower: Follower) -> None:
        assert follower._counts == Counter(follower._status_of(i) for i in follower.tracked)
        shown.append(Counter(follower._counts))
        report(follower)

    monkeypatch.setattr(Follower, "_report", recounted)
    mixed = SimulatorSettings(render_seconds=0.2, pending_seconds=0.0, render_failure=0.5, seed=4)
    with Simulator(mixed) as api:
        out = sent(cli, tmp_path, api.url, 12)
        run = status(cli, out, api.url, "--wait", "--api", api_version)
    assert run.code == ExitCode.FAILED_ROWS, run.out + run.err
    assert len(shown) > 12  # every answer reported
    assert all(sum(counts.values()) == 12 for counts in shown)
    assert shown[0] == Counter(pending=12)
    assert set(shown[-1]) == {"completed", "failed"}


def test_ctrl_c_while_waiting_writes_what_is_known(cli, tmp_path, key):
    with Simulator(SimulatorSettings(render_seconds=600)) as api:
        out = sent(cli, tmp_path, api.url, 3)
        process = subprocess.Popen(
            [sys.executable, "-m", "merge", "status", str(out), "--base-url", api.url, "--wait"],
            cwd=ROOT,
            env={**os.environ, "HEYGEN_API_KEY": KEY},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 30
        while "video_status" not in out.read_text(encoding="utf-8-sig").splitlines()[0]:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no status was written"
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == ExitCode.INTERRUPTED, stdout + stderr
    assert "Stopped: interrupted" in stdout
    assert "Traceback" not in stderr
    assert {r["video_status"] for r in table(out)} <= {"pending", "waiting", "processing"}


def test_v3_follows_many_videos_with_few_requests_on_the_api_submit_used(cli, tmp_path, key):
    with Simulator(FAST) as api:
        data = write_csv(tmp_path / "leads.csv", leads(30))
        out = tmp_path / "sent.csv"
        v3 = ("--api", "v3")
        sent_run = cli(
            "submit", data, OUTREACH, "-o", out, "--base-url", api.url, "--yes", *v3, "--lossy"
        )
        assert sent_run.code == ExitCode.OK, sent_run.out + sent_run.err
        run = status(cli, out, api.url, "--wait")  # the API submit used is remembered
    assert run.code == ExitCode.OK, run.out + run.err
    assert {r["video_status"] for r in table(out)} == {"completed"}
    requests = int(run.out.split("status requests: ")[1].split()[0])
    # One read per finished video for its links (the bulk answer has none), and one bulk call
    # per round for all 30 (one call per video per round on V2).
    assert 30 < requests < 60


def test_a_simulate_pilot_is_still_there_when_the_rest_is_sent_and_followed(cli, tmp_path, key):
    data = write_csv(tmp_path / "leads.csv", leads(3))
    out = tmp_path / "sent.csv"
    pilot = cli("submit", data, OUTREACH, "-o", out, "--simulate", "--yes", "--limit", "1")
    assert pilot.code == 0
    assert (tmp_path / "sent.csv.simulator.json").exists()
    rest = cli(
        "submit", data, OUTREACH, "-o", out, "--simulate", "--yes", "--wait", "--poll", "0.2"
    )
    assert rest.code == ExitCode.OK, rest.out
    assert "Followed 3 videos in" in rest.out
    assert ": 3 completed\n" in rest.out
    later = cli("status", out)
    assert later.code == ExitCode.OK, later.err
    assert [row["video_status"] for row in table(out)] == ["completed"] * 3


def test_videos_of_a_simulate_run_are_not_looked_for_on_heygen(cli, tmp_path, key):
    data = write_csv(tmp_path / "leads.csv", leads(1))
    out = tmp_path / "sent.csv"
    assert cli("submit", data, OUTREACH, "-o", out, "--simulate", "--yes").code == 0
    (tmp_path / "sent.csv.simulator.json").unlink()
    run = cli("status", out)
    assert run.code == ExitCode.ERROR
    assert "its videos were made on a local simulator, not on https://api.heygen.com" in run.err
    assert "`submit --simulate --wait`" in run.err


def test_a_notebook_user_submits_and_follows_from_merge_alone(tmp_path):
    with Simulator(FAST) as api:
        data = write_csv(tmp_path / "leads.csv", leads(4))
        out = tmp_path / "sent.csv"
        sent_summary = merge.submit_sheet(data, OUTREACH, out, KEY, api.url)
        followed = merge.follow_sheet(
            out, KEY, api.url, merge.FollowOptions(wait=True, poll_first=0.1)
        )
    assert sent_summary.sent == 4
    assert followed.statuses == {"completed": 4}
    assert [row["video_status"] for row in table(out)] == ["completed"] * 4
