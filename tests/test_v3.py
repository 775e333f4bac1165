"""v3: translations of every sample template, losses never silent, idempotent resends."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
from pathlib import Path

import httpx
import pandas as pd
import pytest

from merge.api.pacing import Throttle
from merge.api.v3 import HeyGenV3Client, idempotency_key, v2_status
from merge.batch.journal import Journal
from merge.batch.results import Job, Ledger
from merge.batch.send import Sender
from merge.payload.row import Target, check_row, load_template, render_frame
from merge.payload.translate_v3 import translate
from merge.sheets.sheet import Row
from tests.conftest import ROOT
from tests.fakes import FakeClock

GOLDEN = Path(__file__).parent / "golden_v3"
TEMPLATES = sorted((ROOT / "templates").iterdir())


def first_valid_body(template: Path) -> dict[str, object]:
    frame = pd.read_excel(ROOT / "sample_data" / "leads.xlsx", dtype=str, engine="calamine")
    return next(r.payload for r in render_frame(frame, template) if r.status == "valid")


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_every_sample_template_translates_as_recorded(template: Path) -> None:
    translation = translate(first_valid_body(template))
    found = {
        "body": translation.body,
        "losses": [p.describe() for p in translation.losses],
        "gaps": [p.describe() for p in translation.gaps],
    }
    golden = GOLDEN / f"{template.name.split('.')[0]}.json"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(json.dumps(found, indent=2, ensure_ascii=False) + "\n")
    assert found == json.loads(golden.read_text())


@pytest.mark.parametrize(
    ("width", "height", "resolution", "ratio", "lossy"),
    [
        (1280, 720, "720p", "16:9", False),
        (1920, 1080, "1080p", "16:9", False),
        (1080, 1920, "1080p", "9:16", False),
        (3840, 2160, "4k", "16:9", False),
        (1000, 1000, "1080p", "1:1", True),
        (640, 480, "720p", "4:3", True),
    ],
)
def test_dimension_becomes_the_nearest_resolution_and_its_ratio(
    width: int, height: int, resolution: str, ratio: str, lossy: bool
) -> None:
    body = first_valid_body(ROOT / "templates" / "outreach.json")
    translation = translate(
        {**body, "caption": False, "dimension": {"width": width, "height": height}}
    )
    assert (translation.body["resolution"], translation.body["aspect_ratio"]) == (resolution, ratio)
    assert bool(translation.losses) == lossy


def test_a_loss_names_the_column_and_lossy_turns_it_into_a_warning(tmp_path: Path) -> None:
    text = (
        (ROOT / "templates" / "outreach.json")
        .read_text()
        .replace('"speed": "{{ speed }}"', '"speed": "{{ speed }}", "emotion": "{{ mood }}"')
        .replace('"caption": true', '"caption": false')
    )
    template_file = tmp_path / "t.json"
    template_file.write_text(text)
    columns = ["first_name", "company", "city", "product", "avatar_id", "voice_id", "speed"]
    template = load_template(template_file, [*columns, "background", "mood"])
    values = dict.fromkeys(columns, "x") | {
        "avatar_id": "a1",
        "voice_id": "v1",
        "speed": "1",
        "background": "#ffffff",
        "mood": "Friendly",
    }
    strict = check_row(template, Row(5, values), Target("v3"))
    assert strict.status == "invalid"
    assert [p.describe() for p in strict.problems] == [
        'column "mood": has no v3 equivalent: voice emotion (video_inputs[0].voice.emotion)'
    ]
    lossy = check_row(template, Row(5, values), Target("v3", lossy=True))
    assert lossy.status == "valid"
    assert lossy.payload["type"] == "avatar"
    assert [p.column for p in lossy.warnings] == ["mood"]


def test_what_v3_cannot_express_stays_an_error_even_when_lossy() -> None:
    body = first_valid_body(ROOT / "templates" / "multi_scene.json.j2")
    translation = translate(body)
    assert translation.body["type"] == "studio"
    assert [p.path for p in translation.gaps] == ["video_inputs[1].voice"]


def test_idempotency_keys_are_stable_and_in_the_allowed_alphabet() -> None:
    key = idempotency_key("am-1a2b3c4d-jane@example.com", "f" * 32)
    assert key == idempotency_key("am-1a2b3c4d-jane@example.com", "f" * 32)
    assert key != idempotency_key("am-1a2b3c4d-jane@example.com", "e" * 32)
    assert re.fullmatch(r"[A-Za-z0-9_:.-]{1,255}", key)


def test_v3_records_read_as_v2_statuses() -> None:
    record = v2_status({"video_id": "v", "status": "completed", "video_url": "u", "duration": 3})
    assert (record["id"], record["status"], record["video_url"]) == ("v", "completed", "u")


def test_a_lost_answer_on_v3_is_resent_with_the_same_key(tmp_path: Path) -> None:
    keys: list[str] = []
    answers = itertools.count()

    def handler(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers["Idempotency-Key"])
        number = next(answers)
        if number == 0:
            raise httpx.ReadTimeout("lost")
        if number == 1:
            return httpx.Response(409, json={"error": {"code": "idempotency_in_progress"}})
        return httpx.Response(200, json={"data": {"video_id": "a" * 32, "status": "pending"}})

    clock = FakeClock()
    journal = Journal.open(tmp_path / "out.csv.journal", "api")
    ledger = Ledger(journal, clock)

    async def go() -> None:
        async with httpx.AsyncClient(
            transport=httpx.MockTransport(handler), base_url="http://api"
        ) as http:
            client = HeyGenV3Client(http, clock.sleep)
            sender = Sender(client, ledger, Throttle(None, clock, clock.sleep), 1, clock.sleep)
            report = await sender.send_all([Job(2, "k", b"{}", "h")])
            assert report.unknown == []

    asyncio.run(go())
    assert len(keys) == 3
    assert len(set(keys)) == 1
    entry = journal.entries()["k"]
    assert (entry.state, entry.video_id) == ("submitted", "a" * 32)
    journal.close()


def test_render_for_v3_shows_the_translated_bodies(cli, tmp_path: Path) -> None:
    leads = ROOT / "sample_data" / "leads.xlsx"
    outreach = ROOT / "templates" / "outreach.json"
    strict = cli("render", leads, outreach, "-o", tmp_path / "strict", "--api", "v3")
    assert strict.code == 3
    assert "  0 valid, 25 invalid" in strict.out
    assert "row 2, has no v3 equivalent: captions (caption: true) (caption)" in strict.out
    assert "Hint: add --lossy to send these rows" in strict.out
    lossy = cli(
        "render", leads, outreach, "-o", tmp_path / "lossy", "--api", "v3", "--lossy", "--split"
    )
    assert "  21 valid, 4 invalid" in lossy.out
    assert "  21 rows lost settings v3 cannot express (--lossy)" in lossy.out
    body = json.loads((tmp_path / "lossy" / "payloads" / "row-0002.json").read_text())
    assert (body["type"], body["resolution"], body["aspect_ratio"]) == ("avatar", "720p", "16:9")
    first = json.loads((tmp_path / "lossy" / "payloads.jsonl").read_text().splitlines()[0])
    assert first["warnings"][0]["path"] == "caption"


def test_lossy_without_v3_is_a_usage_error(cli, tmp_path: Path) -> None:
    leads = ROOT / "sample_data" / "leads.xlsx"
    run = cli("render", leads, ROOT / "templates" / "outreach.json", "-o", tmp_path, "--lossy")
    assert run.code == 2
    assert "--lossy: only with --api v3" in run.err
