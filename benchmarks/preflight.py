"""The pre-flight's time: `BENCH_ONLY=preflight make bench`, or `python -m benchmarks.preflight`.

10,000 rendered v3 bodies naming 50 distinct ids (25 looks, 25 voices) are checked against the
simulator (a real server on loopback, in a thread) answering every request after 0.2 s:
users/me once, each id once, eight at a time. Settings: BENCH_PREFLIGHT_ROWS (10000),
BENCH_PREFLIGHT_IDS (50), BENCH_PREFLIGHT_LATENCY (0.2), BENCH_REPEATS (3).
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.run import Figure, print_table
from merge.api.client import open_http
from merge.batch.preflight import run_preflight
from merge.prices import PriceTable
from merge.settings import LOOKUP_CONCURRENCY, LOOKUP_TIMEOUT_SECONDS
from merge.simulator import Simulator, SimulatorSettings


def _catalogue(folder: Path, looks: int, voices: int) -> Path:
    path = folder / "catalogue.json"
    looks_json = [
        {
            "id": f"look_{n:03d}",
            "name": f"Look {n}",
            "avatar_type": ("studio_avatar", "digital_twin", "photo_avatar")[n % 3],
            "supported_api_engines": ["avatar_iv", "avatar_iii"],
            "default_voice_id": "voice_000",
        }
        for n in range(looks)
    ]
    voices_json = [
        {
            "voice_id": f"voice_{n:03d}",
            "name": f"Voice {n}",
            "language": "English",
            "gender": "female",
            "type": "public",
            "locales": ["en-US"],
        }
        for n in range(voices)
    ]
    path.write_text(json.dumps({"looks": looks_json, "voices": voices_json}), encoding="utf-8")
    return path


def _bodies(rows: int, looks: int, voices: int) -> dict[int, Any]:
    script = "Hi {n}! I saw that your team is looking at analytics. Let me show you how, quickly."
    return {
        n + 2: {
            "type": "avatar",
            "avatar_id": f"look_{n % looks:03d}",
            "voice_id": f"voice_{n % voices:03d}",
            "script": script.format(n=n),
            "voice_settings": {"speed": 1.0},
            "resolution": "1080p",
            "callback_id": f"am-bench-row-{n + 2}",
        }
        for n in range(rows)
    }


def measure() -> list[Figure]:
    """Time the pre-flight of many rows and a few ids, and count its requests."""
    rows = int(os.environ.get("BENCH_PREFLIGHT_ROWS", "10000"))
    ids = int(os.environ.get("BENCH_PREFLIGHT_IDS", "50"))
    latency = float(os.environ.get("BENCH_PREFLIGHT_LATENCY", "0.2"))
    repeats = int(os.environ.get("BENCH_REPEATS", "3"))
    looks, voices = ids // 2, ids - ids // 2
    bodies = _bodies(rows, looks, voices)
    samples, lookups = [], 0
    with tempfile.TemporaryDirectory() as folder:
        catalogue = _catalogue(Path(folder), looks, voices)
        for _ in range(repeats):
            settings = SimulatorSettings(latency=latency, catalogue=str(catalogue))
            with Simulator(settings) as simulator:
                http = open_http(simulator.url, "bench", LOOKUP_TIMEOUT_SECONDS, LOOKUP_CONCURRENCY)
                started = time.perf_counter()
                verdict = run_preflight(http, bodies, lambda _: None, PriceTable())
                samples.append(time.perf_counter() - started)
                stats = simulator.stats()
            lookups = stats["look_lookups"] + stats["voice_lookups"]
            assert not verdict.invalid
            assert len(verdict.costs) == rows
    floor = (1 + -(-ids // LOOKUP_CONCURRENCY)) * latency
    return [
        Figure(
            "p.preflight_seconds",
            f"pre-flight, {rows:,} rows, {ids} distinct ids, {latency:g} s answers",
            min(samples),
            "s",
            detail=f"median {statistics.median(samples):.2f} s; floor (users/me, then"
            f" {LOOKUP_CONCURRENCY} look-ups at a time) {floor:.1f} s",
            samples=samples,
        ),
        Figure("p.preflight_lookups", "look-ups made for those ids", lookups, "requests"),
    ]


def main() -> int:
    """Print the figures."""
    print_table(measure())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
