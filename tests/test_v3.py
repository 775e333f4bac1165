"""v3: translations of every sample template, losses never silent, idempotent resends."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from merge.api.pacing import Throttle
from merge.api.v3 import HeyGenV3Client, idempotency_key, video_record
from merge.batch.journal import Journal
from merge.batch.results import Job, Ledger
from merge.batch.send import Sender
from merge.payload.row import V2, Target, check_row, load_template, render_frame
from merge.payload.translate_v3 import Translation, translate
from merge.sheets.sheet import Row
from tests.conftest import ROOT
from tests.fakes import FakeClock

GOLDEN = Path(__file__).parent / "golden_v3"
TEMPLATES = sorted((ROOT / "templates").iterdir())
V2_TEMPLATES = [path for path in TEMPLATES if "_v3" not in path.name]


def first_valid_body(template: Path, target: Target = V2) -> dict[str, object]:
    frame = pd.read_excel(ROOT / "sample_data" / "leads.xlsx", dtype=str, engine="calamine")
    rendered = render_frame(frame, template, target=target)
    return next(r.payload for r in rendered if r.status == "valid")


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_every_sample_template_translates_as_recorded(template: Path) -> None:
    """V2 templates: the translation and its losses; v3 templates: the body as validated."""
    if template in V2_TEMPLATES:
        translation = translate(first_valid_body(template))
    else:
        translation = Translation(first_valid_body(template, Target("v3")))
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
        (640, 480, "720p", "5:4", True),
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


def test_a_v3_video_resource_reads_with_its_links_and_failure() -> None:
    record = video_record(
        {"id": "v", "status": "completed", "video_url": "u", "duration": 3, "gif_url": "g"}
    )
    assert (record["id"], record["status"], record["video_url"]) == ("v", "completed", "u")
    assert record["gif_url"] == "g"
    failed = video_record(
        {"id": "v", "status": "failed", "failure_code": "render_failed", "failure_message": "x"}
    )
    assert failed["error"] == "render_failed: x"


def _journaled(tmp_path: Path) -> tuple[FakeClock, Journal, Ledger]:
    clock = FakeClock()
    journal = Journal.open(tmp_path / "out.csv.journal", "api")
    return clock, journal, Ledger(journal, clock)


def _mocked(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://api")


def test_a_lost_answer_on_v3_is_resent_with_the_same_key(tmp_path: Path) -> None:
    keys: list[str] = []
    answers = itertools.count()

    def handler(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers["Idempotency-Key"])
        number = next(answers)
        if number == 0:
            raise httpx.ReadTimeout("lost")
        if number == 1:
            return httpx.Response(409, json={"error": {"code": "request_in_progress"}})
        return httpx.Response(200, json={"data": {"video_id": "a" * 32, "status": "pending"}})

    clock, journal, ledger = _journaled(tmp_path)

    async def go() -> None:
        async with _mocked(handler) as http:
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


def test_a_v3_server_error_leaves_the_row_in_doubt_between_tries(tmp_path: Path) -> None:
    """A 500 may come after the video was made: a kill before the next try must not leave the
    row looking unsent, or a later run would send it again without looking."""
    recorded: list[str] = []
    clock, journal, ledger = _journaled(tmp_path)

    def recording(name: str) -> Callable[..., None]:
        method = getattr(ledger, name)

        def record(*args: object) -> None:
            recorded.append(name)
            method(*args)

        return record

    for name in ("sending", "unsent", "failed", "submitted"):
        setattr(ledger, name, recording(name))
    answers = itertools.count()

    def handler(request: httpx.Request) -> httpx.Response:
        if next(answers) < 2:
            return httpx.Response(500, json={"error": {"code": "internal_error"}})
        return httpx.Response(200, json={"data": {"video_id": "b" * 32, "status": "pending"}})

    async def go() -> None:
        async with _mocked(handler) as http:
            client = HeyGenV3Client(http, clock.sleep)
            sender = Sender(client, ledger, Throttle(None, clock, clock.sleep), 1, clock.sleep)
            await sender.send_all([Job(2, "k", b"{}", "h")])

    asyncio.run(go())
    # Between tries the row is a 5xx refusal (checked first by any later run), never "unsent".
    assert recorded == ["sending", "failed", "sending", "failed", "sending", "submitted"]
    entry = journal.entries()["k"]
    assert (entry.state, entry.video_id) == ("submitted", "b" * 32)
    journal.close()


def test_render_for_v3_shows_the_translated_bodies(cli, tmp_path: Path) -> None:
    leads = ROOT / "sample_data" / "leads.xlsx"
    outreach = ROOT / "templates" / "outreach.json"
    run = cli("render", leads, outreach, "-o", tmp_path / "v3", "--split")
    assert run.code == 3
    assert "  21 valid, 4 invalid" in run.out
    body = json.loads((tmp_path / "v3" / "payloads" / "row-0002.json").read_text())
    assert (body["type"], body["resolution"], body["aspect_ratio"]) == ("avatar", "720p", "16:9")
    assert body["caption"] == {"style": "default"}
    assert body["background"] == {"type": "color", "value": "#0e1b2c"}


def test_lossy_without_v3_is_a_usage_error(cli, tmp_path: Path) -> None:
    leads = ROOT / "sample_data" / "leads.xlsx"
    template = ROOT / "templates" / "outreach.json"
    run = cli("render", leads, template, "-o", tmp_path, "--api", "v2", "--lossy")
    assert run.code == 2
    assert "--lossy: only with --api v3" in run.err


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, {"message": "Not Found"}),
        (410, {"error": {"code": "gone", "message": "Gone"}}),
        (400, {"error": {"code": "endpoint_removed", "message": "This legacy API was removed"}}),
    ],
    ids=["404", "410", "legacy words"],
)
def test_a_retired_v2_stops_at_the_first_request(
    status: int, body: dict[str, object], tmp_path: Path
) -> None:
    from merge.api.client import V2_RETIRED, HeyGenClient, Refused

    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        return httpx.Response(status, json=body)

    clock, journal, ledger = _journaled(tmp_path)

    async def go() -> None:
        async with _mocked(handler) as http:
            client = HeyGenClient(http, clock.sleep)
            outcome = await client.create_video(b"{}")
            assert isinstance(outcome, Refused)
            assert (outcome.kind, outcome.message) == ("retired", V2_RETIRED)
            sender = Sender(client, ledger, Throttle(None, clock, clock.sleep), 3, clock.sleep)
            await sender.send_all([Job(n, f"k{n}", b"{}", "h") for n in range(2, 7)])
            assert sender.stopped is not None
            assert (sender.stopped.kind, sender.stopped.fatal) == ("retired", True)

    asyncio.run(go())
    assert len(sent) == 2  # the probe above, then the first row only
    journal.close()


@pytest.mark.parametrize(
    "message", ["The avatar was removed", "voice deprecated", "invalid_parameter: avatar removed"]
)
def test_a_removed_resource_is_a_refusal_of_the_row_not_the_end_of_v2(message: str) -> None:
    from merge.api.client import HeyGenClient, Refused

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            400, json={"error": {"code": "invalid_parameter", "message": message}}
        )

    async def go() -> None:
        async with _mocked(handler) as http:
            outcome = await HeyGenClient(http).create_video(b"{}")
            assert isinstance(outcome, Refused)
            assert outcome.kind == "invalid"

    asyncio.run(go())


def test_a_v2_read_that_says_retired_is_an_error_naming_it() -> None:
    from merge.api.client import ApiError, HeyGenClient

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(410, json={"message": "Gone"})

    async def go() -> None:
        async with _mocked(handler) as http:
            with pytest.raises(ApiError) as caught:
                await HeyGenClient(http).video_status("v")
            assert caught.value.retired

    asyncio.run(go())


def test_the_engine_choice_shows_in_the_plan(cli, tmp_path: Path) -> None:
    leads = ROOT / "sample_data" / "leads.xlsx"
    outreach = ROOT / "templates" / "outreach.json"
    out = tmp_path / "sent.xlsx"
    run = cli("submit", leads, outreach, "-o", out, "--simulate", "--yes", "--engine", "avatar_iii")
    assert "  engine:         21 avatar_iii" in run.out
    assert run.code == 3, run.err  # the sample's deliberate mistakes; the rest were accepted
    usage = cli(
        "render", leads, outreach, "-o", tmp_path / "r", "--api", "v2", "--engine", "avatar_v"
    )
    assert usage.code == 2
    assert "--engine: only with --api v3" in usage.err


def _leads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, count: int) -> tuple[Path, ...]:
    """A sheet of valid leads, the output beside it, the outreach template; a key set."""
    from tests.submitting import leads, write_csv

    monkeypatch.setenv("HEYGEN_API_KEY", "k")
    data = write_csv(tmp_path / "leads.csv", leads(count))
    return data, tmp_path / "sent.csv", ROOT / "templates" / "outreach.json"


def _v3_video_requests(stats: dict[str, int]) -> int:
    """The v3 requests about videos: the pre-flight's account reads are v3 on either API."""
    reads = ("account_reads", "look_lookups", "voice_lookups", "look_lists", "voice_lists")
    return stats["v3_requests"] - sum(stats[name] for name in reads)


def test_an_output_of_an_earlier_v2_run_keeps_v2_unless_told(
    cli, tmp_path: Path, monkeypatch
) -> None:
    from merge.batch.journal import journal_target_of
    from merge.simulator import Simulator, SimulatorSettings

    data, out, outreach = _leads(tmp_path, monkeypatch, 3)
    with Simulator(SimulatorSettings(render_seconds=0.1)) as api:
        first = cli(
            "submit",
            data,
            outreach,
            "-o",
            out,
            "--base-url",
            api.url,
            "--yes",
            "--limit",
            "1",
            "--api",
            "v2",
        )
        assert first.code == 0, first.out + first.err
        again = cli("submit", data, outreach, "-o", out, "--base-url", api.url, "--yes")
        assert again.code == 0, again.out + again.err
        assert _v3_video_requests(api.stats()) == 0  # the journal's API, not the new default
    assert journal_target_of(out, "api") == "v2"


@pytest.mark.parametrize(
    ("said", "word", "final"),
    [
        ("waiting", "waiting", False),
        ("pending", "pending", False),
        ("queued", "queued", False),
        ("processing", "processing", False),
        ("Completed", "completed", True),
        ("failed", "failed", True),
        ("not_found", "not_found", True),
        ("rendering", "rendering", False),  # a word the contract lacks: shown, asked again
        (None, "unknown", False),
    ],
)
def test_every_status_word_of_the_contract_is_understood(
    said: str | None, word: str, final: bool
) -> None:
    from merge.api.statuses import is_final
    from merge.follow.follower import state_from

    state = state_from("v", {"status": said}, 0.0, "status")
    assert (state.status, is_final(state.status), state.final) == (word, final, final)


def test_a_retired_v2_stops_submit_and_status_with_the_way_out(
    cli, tmp_path: Path, monkeypatch
) -> None:
    from merge.simulator import Simulator, SimulatorSettings

    data, out, outreach = _leads(tmp_path, monkeypatch, 6)

    def submit(url: str, *more: str) -> Any:
        base = ("-o", out, "--base-url", url, "--yes", "--concurrency", "4")
        return cli("submit", data, outreach, *base, *more)

    with Simulator(SimulatorSettings(render_seconds=0.1)) as before:
        assert submit(before.url, "--api", "v2", "--limit", "2").code == 0
    with Simulator(SimulatorSettings(v2_retired=True)) as today:
        run = submit(today.url)  # the journal's API: v2
        assert today.stats()["v2_retired"] == 1  # the first request, and no other
        status = cli("status", out, "--base-url", today.url)
        moved = submit(today.url, "--api", "v3")  # the way out: the rest go to v3
        assert _v3_video_requests(today.stats()) == 4
    assert run.code == 1
    assert "Stopped: HTTP 410 endpoint_removed: HeyGen's V2 API is retired" in run.out
    assert "Hint: drop --api v2" in run.out
    assert status.code == 1
    assert "HeyGen's V2 API is retired" in status.err
    assert "drop --api v2" in status.err
    assert moved.code == 0, moved.out + moved.err


def test_an_engine_given_by_flag_is_checked_with_the_body_it_is_put_in(tmp_path: Path) -> None:
    template_path = tmp_path / "t.json"
    template_path.write_text(
        json.dumps(
            {
                "type": "avatar",
                "avatar_id": "{{ avatar_id }}",
                "script": "Hi {{ name }}",
                "voice_id": "v1",
                "motion_prompt": "{{ motion }}",
            }
        )
    )
    template = load_template(template_path, ["avatar_id", "name", "motion"])
    rows = [
        Row(n + 2, {"avatar_id": f"a{n}", "name": f"N{n}", "motion": "" if n % 3 else "wave"})
        for n in range(60)  # enough rows for the bodies to be made by plans
    ]
    for engine, refused in (("avatar_iii", True), ("avatar_iv", False), (None, False)):
        target = Target("v3", engine=engine)
        for row in rows:
            result = check_row(template, row, target)
            with_prompt = row.values["motion"] != ""
            if refused and with_prompt:
                assert result.status == "invalid"
                assert [(p.path, p.column, p.message) for p in result.problems] == [
                    ("motion_prompt", "motion", "cannot be used with engine avatar_iii")
                ]
            else:
                assert result.status == "valid", result.problems
                assert result.payload.get("engine") == (
                    None if engine is None else {"type": engine}
                )
