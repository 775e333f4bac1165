"""Upload benchmark: hashing local files, and uploading them to the simulator over loopback.

`python -m benchmarks.uploads` runs only this (so does `BENCH_ONLY=uploads python -m
benchmarks.run`); `make bench` runs it as part "uploads" (leave it out with BENCH_SKIP=uploads).

Figures:

  hash_s_per_gb     seconds to check and hash 1 GB of local files the way `render` and `submit`
                    do (merge.payload.media.MediaFiles: stat, head sniff, SHA-256 of every byte),
                    a fresh cache each repeat; files already in the page cache, so it measures
                    the CPU, not the disk. Beside it, hashlib alone on the same bytes (the floor).
  upload_mb_per_s   `avatar-merge submit --api v3` uploading BENCH_UPLOAD_FILES pictures of
                    BENCH_UPLOAD_MB each (multipart `POST /v3/assets`) plus BENCH_UPLOAD_BIG files
                    of BENCH_UPLOAD_BIG_MB (the direct-upload trio) to a simulator in this process,
                    as a process of its own; read from its "Uploaded N files (X MB) in S s" line.

Settings, from the environment: BENCH_HASH_GB (1), BENCH_HASH_FILES (64), BENCH_UPLOAD_FILES
(24), BENCH_UPLOAD_MB (8), BENCH_UPLOAD_BIG (2), BENCH_UPLOAD_BIG_MB (64), BENCH_REPEATS (3),
BENCH_TMPDIR (the system temp folder). The files are written once per run and deleted after.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.run import PROJECT, Figure, log, print_table
from merge.payload.media import MediaFiles
from merge.simulator import Simulator
from merge.simulator.catalogue import SAMPLE_VOICE

PNG_HEAD = b"\x89PNG\r\n\x1a\n"
MB = 1024 * 1024
UPLOADED = re.compile(r"Uploaded (\d+) files? \(([\d,.]+) MB\) in ([\d.]+) s")


def _env(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def write_files(folder: Path, count: int, size: int, stem: str) -> list[Path]:
    """Write `count` PNG-headed files of `size` bytes, each with its own content."""
    folder.mkdir(parents=True, exist_ok=True)
    block = os.urandom(MB)
    paths = []
    for n in range(count):
        path = folder / f"{stem}{n}.png"
        with path.open("wb") as handle:
            handle.write(PNG_HEAD + n.to_bytes(8, "big"))
            left = size - 16
            while left > 0:
                handle.write(block[: min(left, MB)])
                left -= MB
        paths.append(path)
    return paths


def measure_hashing(folder: Path, repeats: int) -> list[Figure]:
    gigabytes = _env("BENCH_HASH_GB", 1)
    count = int(_env("BENCH_HASH_FILES", 64))
    size = int(gigabytes * 1024**3 / count)
    paths = write_files(folder / "hash", count, size, "h")
    total = sum(p.stat().st_size for p in paths)
    log(f"uploads: hashing {count} files, {total / 1024**3:.2f} GB")
    checked, floor = [], []
    for _ in range(repeats):
        media = MediaFiles(folder / "hash", "v3")
        started = time.perf_counter()
        for path in paths:
            assert not isinstance(media.check(path.name, "image"), str)
        checked.append((time.perf_counter() - started) * 1024**3 / total)
        started = time.perf_counter()
        for path in paths:
            digest = hashlib.sha256()
            with path.open("rb") as handle:
                while chunk := handle.read(MB):
                    digest.update(chunk)
        floor.append((time.perf_counter() - started) * 1024**3 / total)
    shutil.rmtree(folder / "hash")
    return [
        Figure(
            "u.hash_s_per_gb",
            "check and hash 1 GB of local files",
            min(checked),
            "s",
            detail=f"{count} files; hashlib alone {min(floor):.2f} s",
            samples=checked,
        ),
    ]


def measure_upload(folder: Path, repeats: int) -> list[Figure]:
    files, each = int(_env("BENCH_UPLOAD_FILES", 24)), int(_env("BENCH_UPLOAD_MB", 8) * MB)
    big, big_each = int(_env("BENCH_UPLOAD_BIG", 2)), int(_env("BENCH_UPLOAD_BIG_MB", 64) * MB)
    campaign = folder / "upload"
    small = write_files(campaign / "photos", files, each, "p")
    large = write_files(campaign / "photos", big, big_each, "big")
    template = {
        "video_inputs": [
            {
                "character": {"type": "avatar", "avatar_id": "Daisy-inskirt-20220818"},
                "voice": {
                    "type": "text",
                    "voice_id": SAMPLE_VOICE,
                    "input_text": "Hello {{ name }}",
                },
                "background": {"type": "image", "url": "{{ photo }}"},
            }
        ]
    }
    (campaign / "template.json").write_text(json.dumps(template), encoding="utf-8")
    rows = [f"Lead {n},photos/{p.name}" for n, p in enumerate(small + large)]
    (campaign / "leads.csv").write_text("name,photo\n" + "\n".join(rows) + "\n", encoding="utf-8")
    log(f"uploads: {files} x {each // MB} MB multipart, {big} x {big_each // MB} MB direct")
    samples = []
    for attempt in range(repeats):
        out = campaign / f"sent-{attempt}.csv"
        with Simulator() as simulator:
            command = [sys.executable, "-m", "merge", "submit", str(campaign / "leads.csv")]
            command += [str(campaign / "template.json"), "-o", str(out), "--yes"]
            command += ["--base-url", simulator.url, "--api", "v3", "--lossy"]
            env = {**os.environ, "HEYGEN_API_KEY": "bench"}
            run = subprocess.run(command, cwd=PROJECT, env=env, capture_output=True, text=True)
            found = UPLOADED.search(run.stderr)
            if found is None or simulator.uploads()["uploads"] != files + big:
                raise RuntimeError(f"the upload run failed: {run.stdout}{run.stderr}")
        megabytes, seconds = float(found.group(2).replace(",", "")), float(found.group(3))
        samples.append(megabytes / seconds)
    shutil.rmtree(campaign)
    total = (files * each + big * big_each) / MB
    return [
        Figure(
            "u.upload_mb_per_s",
            "upload local files to the simulator",
            max(samples),
            "MB/s",
            detail=f"{files + big} files, {total:,.0f} MB over loopback",
            samples=samples,
        ),
    ]


def measure() -> list[Figure]:
    """Measure both figures in a scratch folder."""
    repeats = int(_env("BENCH_REPEATS", 3))
    base = os.environ.get("BENCH_TMPDIR") or None
    with tempfile.TemporaryDirectory(prefix="bench-uploads-", dir=base) as scratch:
        return measure_hashing(Path(scratch), repeats) + measure_upload(Path(scratch), repeats)


def main() -> int:
    """Run the upload benchmark alone and print its table."""
    figures = measure()
    print()
    print("avatar-merge uploads: hashing local files, and uploading them over loopback")
    print()
    print_table(figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
