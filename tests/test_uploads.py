"""Local files named by rows, end to end against the simulator: each uploaded once, ever."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from merge.api.assets import AssetUploader, FileToUpload, Opened
from merge.cli.commands import ExitCode
from merge.loop import run_sync
from merge.settings import ASSET_FORM_MAX_BYTES, ASSET_MAX_BYTES
from merge.simulator import Simulator, SimulatorSettings
from tests.conftest import ROOT
from tests.submitting import results
from tests.test_review_page import page_data

KEY = "sk-upload-test-key"
TEMPLATE = {
    "title": "For {{ name }}",
    "video_inputs": [
        {
            "character": {"type": "avatar", "avatar_id": "Daisy-inskirt-20220818"},
            "voice": {"type": "audio", "audio_url": "{{ greeting }}"},
            "background": {"type": "image", "url": "{{ photo }}"},
        }
    ],
}
HEADS = {
    ".png": b"\x89PNG\r\n\x1a\n",
    ".jpg": b"\xff\xd8\xff\xe0",
    ".mp3": b"ID3\x04\x00",
    ".wav": b"RIFF\x24\x00\x00\x00WAVEfmt ",
}


def media(path: Path, number: int, size: int = 2048) -> Path:
    """Write a small file whose first bytes are those of its type, its content its own."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = HEADS[path.suffix] + f"file {number} ".encode() * 8
    path.write_bytes(body + bytes(max(0, size - len(body))))
    return path


def big(path: Path, size: int) -> Path:
    """A sparse file of `size` bytes with a real header: no disk is spent on its zeros."""
    media(path, 0, 0)
    with path.open("r+b") as handle:
        handle.truncate(size)
    return path


def campaign(folder: Path, rows: int, pictures: int, recordings: int) -> Path:
    """A sheet whose rows name few files, some by many rows: photos/ and audio/ beside it."""
    for n in range(pictures):
        media(folder / "photos" / f"p{n}{'.png' if n % 2 else '.jpg'}", n)
    for n in range(recordings):
        media(folder / "audio" / f"a{n}{'.mp3' if n % 2 else '.wav'}", 100 + n)
    lines = ["name,photo,greeting"]
    for r in range(rows):
        p = min(r % 9, pictures - 1)  # the last picture is named by many rows
        photo = f"photos/p{p}{'.png' if p % 2 else '.jpg'}"
        a = r % recordings
        lines.append(f"Lead {r} 🙂,{photo},audio/a{a}{'.mp3' if a % 2 else '.wav'}")
    (folder / "template.json").write_text(json.dumps(TEMPLATE), encoding="utf-8")
    sheet = folder / "leads.csv"
    sheet.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return sheet


def command(sheet: Path, out: Path, url: str, api: str = "v3") -> list[str]:
    return [
        *("submit", str(sheet), str(sheet.parent / "template.json"), "-o", str(out)),
        *("--base-url", url, "--yes", "--api", api, "--timeout", "5"),
    ]


def hashes(folder: Path) -> set[str]:
    return {
        hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.suffix in HEADS
    }


def uploaded_assets(out: Path) -> dict[str, tuple[str, str | None]]:
    db = sqlite3.connect(f"file:{out}.journal?mode=ro", uri=True)
    try:
        found = db.execute("select sha256, state, asset_id from assets").fetchall()
    finally:
        db.close()
    return {sha: (state, asset_id) for sha, state, asset_id in found}


def test_300_rows_naming_12_files_upload_exactly_12_and_the_next_run_none(
    tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEYGEN_API_KEY", KEY)
    sheet = campaign(tmp_path / "campaign", rows=300, pictures=8, recordings=4)
    big(tmp_path / "campaign" / "photos" / "p7.png", ASSET_FORM_MAX_BYTES + 1)  # direct upload
    out = tmp_path / "sent.csv"
    with Simulator() as simulator:
        run = cli(*command(sheet, out, simulator.url))
        assert run.code == ExitCode.OK, run.out + run.err
        assert "uploads first:  12 files, 32.0 MB" in run.out
        assert "Uploaded 12 files (32.0 MB)" in run.err
        uploads = simulator.uploads()
        assert uploads["uploads"] == 12
        assert set(uploads["uploads_by_hash"]) == hashes(tmp_path / "campaign")
        assert set(uploads["uploads_by_hash"].values()) == {1}
        assert {r["merge_status"] for r in results(out).values()} == {"submitted"}
        assert sum(simulator.accepted().values()) == 300
        assert {state for state, _ in uploaded_assets(out).values()} == {"uploaded"}
        page = (tmp_path / "sent.csv.review.html").read_text(encoding="utf-8")
        media_shown = page_data(page)["meta"]["media"]
        assert {asset for _, asset in uploaded_assets(out).values()} == set(media_shown)
        assert {m["name"] for m in media_shown.values()} >= {"photos/p7.png", "audio/a3.mp3"}

        # A new lead naming a known file: sent, and nothing uploaded again.
        with sheet.open("a", encoding="utf-8") as handle:
            handle.write("Lead new,photos/p1.png,audio/a1.mp3\n")
        again = cli(*command(sheet, out, simulator.url))
        assert again.code == ExitCode.OK, again.out + again.err
        assert "uploads first:  none (2 files already uploaded)" in again.out
        assert simulator.uploads()["uploads"] == 12
        assert sum(simulator.accepted().values()) == 301


def test_v2_uploads_the_raw_file_to_its_upload_endpoint(
    tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEYGEN_API_KEY", KEY)
    sheet = campaign(tmp_path / "c", rows=20, pictures=3, recordings=1)
    (tmp_path / "c" / "audio" / "a0.wav").unlink()
    media(tmp_path / "c" / "audio" / "a0.mp3", 7)
    text = sheet.read_text(encoding="utf-8").replace("a0.wav", "a0.mp3")
    sheet.write_text(text, encoding="utf-8")
    out = tmp_path / "sent.csv"
    with Simulator() as simulator:
        run = cli(*command(sheet, out, simulator.url, "v2"))
        assert run.code == ExitCode.OK, run.out + run.err
        assert simulator.uploads()["uploads"] == 4
        assert sum(simulator.accepted().values()) == 20


def test_a_row_whose_file_the_api_refuses_is_not_sent_and_says_why(
    tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEYGEN_API_KEY", KEY)
    sheet = campaign(tmp_path / "c", rows=6, pictures=2, recordings=1)
    out = tmp_path / "sent.csv"
    with Simulator(SimulatorSettings(api_key="another key")) as simulator:
        run = cli(*command(sheet, out, simulator.url))
        assert run.code == ExitCode.ERROR, run.out + run.err
        assert simulator.uploads()["uploads"] == 0
        assert sum(simulator.accepted().values()) == 0
        rows = results(out).values()
        assert {r["merge_status"] for r in rows} == {"skipped"}
        assert all("not sent: HTTP 401" in r["merge_error"] for r in rows)


def test_missing_oversize_and_mistyped_files_are_row_problems_before_any_request(
    tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEYGEN_API_KEY", KEY)
    folder = tmp_path / "c"
    campaign(folder, rows=1, pictures=1, recordings=1)
    big(folder / "huge.png", ASSET_MAX_BYTES + 1)
    media(folder / "fake.png", 1)
    (folder / "fake.png").write_bytes(b"GIF89a" + bytes(100))
    media(folder / "song.mp3", 2)
    (folder / "logo.gif").write_bytes(b"GIF89a")
    cells = [
        ("photos/missing.jpg", "audio/a0.wav", "not a URL and no such file"),
        ("huge.png", "audio/a0.wav", "is 2.0 GB; uploads take at most 2.0 GB"),
        ("fake.png", "audio/a0.wav", "does not hold what its name says (.png)"),
        ("logo.gif", "audio/a0.wav", "is a .gif file; uploads take png, jpeg, mp4"),
        ("song.mp3", "audio/a0.wav", "is a recording, but this field takes a picture (png, jpeg)"),
        ("photos/p0.jpg", "ftp://example.com/a.mp3", "not a URL and no such file"),
        ("photos/p0.jpg", r"C:\Users\anna\hello.mp3", "is a Windows path"),
    ]
    lines = ["name,photo,greeting", *(f'n,{p},"{g}"' for p, g, _ in cells)]
    sheet = folder / "bad.csv"
    sheet.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rendered = cli(
        "render", sheet, folder / "template.json", "-o", tmp_path / "review", "--api", "v3"
    )
    assert rendered.code == ExitCode.INVALID_ROWS
    lines_out = (tmp_path / "review" / "payloads.jsonl").read_text(encoding="utf-8").splitlines()
    for (_, greeting, said), line in zip(cells, lines_out, strict=True):
        problems = json.loads(line)["problems"]
        assert len(problems) == 1, problems
        assert said in problems[0]["message"]
        assert problems[0]["column"] == ("greeting" if greeting != "audio/a0.wav" else "photo")
    with Simulator() as simulator:
        run = cli(*command(sheet, tmp_path / "sent.csv", simulator.url))
        assert run.code == ExitCode.INVALID_ROWS, run.out + run.err
        assert simulator.stats()["requests"] == 0


def start(sheet: Path, out: Path, url: str) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "merge", *command(sheet, out, url)]
    env = {**os.environ, "HEYGEN_API_KEY": KEY}
    return subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_sigkill_during_uploads_then_a_rerun_uploads_no_file_twice(tmp_path: Path) -> None:
    kill_after = 3
    sheet = campaign(tmp_path / "c", rows=40, pictures=8, recordings=4)
    out = tmp_path / "sent.csv"
    with Simulator(SimulatorSettings(latency=0.15)) as simulator:
        process = start(sheet, out, simulator.url)
        deadline = time.monotonic() + 30
        while simulator.uploads()["uploads"] < kill_after:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the uploads did not get going"
            time.sleep(0.002)
        process.send_signal(signal.SIGKILL)
        process.communicate()
        assert simulator.uploads()["uploads"] < 12
        assert sum(simulator.accepted().values()) == 0
        again = start(sheet, out, simulator.url)
        stdout, stderr = again.communicate(timeout=120)
        assert again.returncode == ExitCode.OK, stdout + stderr
        uploads = simulator.uploads()
        assert set(uploads["uploads_by_hash"].values()) == {1}, uploads
        assert set(uploads["uploads_by_hash"]) == hashes(tmp_path / "c")
        assert sum(simulator.accepted().values()) == 40
    assert {r["merge_status"] for r in results(out).values()} == {"submitted"}


def test_ctrl_c_during_uploads_stops_and_the_next_run_goes_on(tmp_path: Path) -> None:
    sheet = campaign(tmp_path / "c", rows=30, pictures=8, recordings=4)
    out = tmp_path / "sent.csv"
    with Simulator(SimulatorSettings(latency=0.15)) as simulator:
        process = start(sheet, out, simulator.url)
        deadline = time.monotonic() + 30
        while simulator.uploads()["uploads"] < 2:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the uploads did not get going"
            time.sleep(0.002)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
        assert process.returncode == ExitCode.INTERRUPTED, stdout + stderr
        assert "Stopped: interrupted (Ctrl-C)" in stdout
        assert "Traceback" not in stderr
        assert sum(simulator.accepted().values()) == 0
        rows = results(out).values()
        assert {r["merge_status"] for r in rows} == {"skipped"}
        assert all("interrupted" in r["merge_error"] for r in rows)
        again = start(sheet, out, simulator.url)
        stdout, stderr = again.communicate(timeout=120)
        assert again.returncode == ExitCode.OK, stdout + stderr
        assert set(simulator.uploads()["uploads_by_hash"].values()) == {1}
        assert simulator.uploads()["uploads"] == 12
        assert sum(simulator.accepted().values()) == 30


def test_faults_during_uploads_still_store_each_file_once(
    tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEYGEN_API_KEY", KEY)
    sheet = campaign(tmp_path / "c", rows=16, pictures=6, recordings=2)
    out = tmp_path / "sent.csv"
    faults = SimulatorSettings(
        fail_429=0.15, fail_5xx=0.15, reset_after_accept=0.25, retry_after=0.05, seed=13
    )
    with Simulator(faults) as simulator:
        run = cli(*command(sheet, out, simulator.url))
        # A create refused with a 5xx four times in a row fails its row, as without files.
        assert run.code in (ExitCode.OK, ExitCode.FAILED_ROWS), run.out + run.err
        assert "could not be uploaded" not in run.out + run.err
        uploads = simulator.uploads()
        assert set(uploads["uploads_by_hash"].values()) == {1}, uploads
        assert set(uploads["uploads_by_hash"]) == hashes(tmp_path / "c")
        stats = simulator.stats()
        assert stats["resets"] > 0
        assert stats["idempotent_replays"] > 0
        assert set(simulator.accepted().values()) == {1}
        submitted = [r for r in results(out).values() if r["merge_status"] == "submitted"]
        assert len(submitted) >= 13


def test_a_file_the_api_keeps_refusing_fails_its_rows_only(
    tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEYGEN_API_KEY", KEY)
    sheet = campaign(tmp_path / "c", rows=3, pictures=1, recordings=1)
    out = tmp_path / "sent.csv"
    with Simulator(SimulatorSettings(fail_5xx=1.0, seed=1)) as simulator:
        run = cli(*command(sheet, out, simulator.url))
    assert run.code == ExitCode.FAILED_ROWS, run.out + run.err
    rows = results(out)
    assert [rows[n]["merge_status"] for n in (2, 3, 4)] == ["failed"] * 3
    said = 'not sent: "audio/a0.wav" could not be uploaded (HTTP 5'
    assert rows[2]["merge_error"].startswith(said)
    assert '; "photos/p0.jpg" could not be uploaded (HTTP 5' in rows[2]["merge_error"]
    assert simulator.uploads()["uploads"] == 0
    assert sum(simulator.accepted().values()) == 0


def test_a_direct_upload_cut_short_is_taken_up_again_not_doubled(
    tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEYGEN_API_KEY", KEY)
    sheet = campaign(tmp_path / "c", rows=4, pictures=2, recordings=1)
    photo = big(tmp_path / "c" / "photos" / "p1.png", ASSET_FORM_MAX_BYTES + 10)
    sha = hashlib.sha256(photo.read_bytes()).hexdigest()
    with Simulator() as simulator:

        async def open_only() -> Opened:
            headers = {"X-Api-Key": KEY}
            async with httpx.AsyncClient(base_url=simulator.url, headers=headers) as http:
                wanted = FileToUpload(photo, photo.stat().st_size, "image/png", sha)
                opened = await AssetUploader(http, http, "v3").open_direct(wanted)
            assert isinstance(opened, Opened)
            return opened

        first = run_sync(open_only())  # a run that died before sending the bytes
        out = tmp_path / "sent.csv"
        run = cli(*command(sheet, out, simulator.url))
        assert run.code == ExitCode.OK, run.out + run.err
        assert simulator.uploads()["uploads_by_hash"][sha] == 1
        assert uploaded_assets(out)[sha] == ("uploaded", first.asset_id)
