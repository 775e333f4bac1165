"""`status` against the simulator over loopback: statuses, URLs and files written back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import openpyxl
import pytest

from merge.cli import ExitCode
from merge.simulator import Simulator, SimulatorSettings
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
    assert {r["video_status"] for r in rows} <= {"pending", "waiting", "processing"}
    assert all(r["checked_at"].endswith("Z") for r in rows)
    assert "Hint: add --wait" in run.out
    assert "status requests: 6" in run.out


def test_wait_follows_every_video_to_the_end(cli, tmp_path, api):
    out = sent(cli, tmp_path, api.url, 8, ".xlsx")
    run = status(cli, out, api.url, "--wait")
    assert run.code == ExitCode.OK, run.out + run.err
    assert "Followed 8 videos" in run.out
    assert ": 8 completed" in run.out
    rows = table(out)
    assert list(rows[0])[-11:] == [
        "video_id",
        "merge_status",
        "merge_error",
        "callback_id",
        "submitted_at",
        *FOLLOW,
    ]
    for row in rows:
        assert row["video_status"] == "completed"
        assert row["video_url"].startswith(api.url + "/files/")
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
    assert "40010: Video format not supported" in rows[0]["video_error"]
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
