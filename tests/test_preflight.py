"""The pre-flight end to end: `submit` and `check` against the simulator's account over loopback.

Every bad case is a clear line in the plan, and no create request reaches the simulator for a
row that failed a check.
"""

from __future__ import annotations

import functools
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from merge.cli.commands import ExitCode
from merge.payload.row import Target
from merge.simulator import Simulator, SimulatorSettings
from tests.submitting import OUTREACH, lead, results, write_csv
from tests.test_costs import wav_bytes

KEY = "sk-test-SECRET-77aa01"
V3 = ("--api", "v3", "--lossy")
TWIN = "maya_twin_20261002"
CLONE_TRAINING = "leo_voice_clone"
CONSENT = "leo_twin_20261120"


def fast(**more: Any) -> SimulatorSettings:
    """An account whose videos are done at once."""
    return SimulatorSettings(render_seconds=0.1, pending_seconds=0.0, **more)


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEYGEN_API_KEY", KEY)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(fast()) as simulator:
        yield simulator


def sheet(tmp_path: Path, *cells: tuple[str, str]) -> Path:
    """A lead sheet whose row N+2 uses the N-th (avatar_id, voice_id)."""
    rows = []
    for number, (avatar, voice) in enumerate(cells):
        row = lead(number)
        row[5], row[6] = avatar, voice
        rows.append(row)
    return write_csv(tmp_path / "leads.csv", rows)


def submit(cli, data: Path, out: Path, url: str, *more: str):
    return cli("submit", data, OUTREACH, "-o", out, "--base-url", url, "--yes", *V3, *more)


def created_rows(simulator: Simulator) -> set[int]:
    """The sheet rows the simulator received a create request for (refused or not)."""
    wallet = simulator._account.wallet
    return {int(r.callback_id.rsplit("-", 1)[1]) for r in wallet.received if r.callback_id}


GOOD = ("Daisy-inskirt-20220818", "2d5b0e6cf36f460aa7fc47e3eee4ba54")


def test_bad_ids_make_rows_invalid_before_anything_is_sent(cli, tmp_path, sim):
    data = sheet(
        tmp_path,
        GOOD,
        ("Daisy-inskirt-2022081", GOOD[1]),  # a typo
        ("9f8e7d6c5b4a39281706f5e4d3c2b1a0", GOOD[1]),  # another workspace's look
        (CONSENT, GOOD[1]),
        (GOOD[0], CLONE_TRAINING),
        (GOOD[0], "2d5b0e6cf36f460aa7fc47e3eee4ba5"),  # a voice typo
        ("zoe_twin_20261129", GOOD[1]),
        ("sam_photo_20261101", GOOD[1]),
    )
    out = tmp_path / "out.csv"
    run = submit(cli, data, out, sim.url)
    assert run.code == ExitCode.INVALID_ROWS, run.err
    assert "to send:        1" in run.out
    assert "invalid:        7" in run.out
    rows = results(out)
    assert rows[3]["merge_error"].startswith('column "avatar_id": "Daisy-inskirt-2022081" is no')
    assert 'did you mean "Daisy-inskirt-20220818"?' in rows[3]["merge_error"]
    assert (
        '"9f8e7d6c5b4a39281706f5e4d3c2b1a0" is a look of another account' in rows[4]["merge_error"]
    )
    assert '"Leo, digital twin (awaiting consent)"' in rows[5]["merge_error"]
    assert "waiting for consent" in rows[5]["merge_error"]
    assert rows[6]["merge_error"].startswith('column "voice_id": the voice "Leo (clone, training)"')
    assert 'did you mean "2d5b0e6cf36f460aa7fc47e3eee4ba54"?' in rows[7]["merge_error"]
    assert "still being trained" in rows[8]["merge_error"]
    assert "No face was found" in rows[9]["merge_error"]
    assert "Traceback" not in run.err
    assert created_rows(sim) == {2}
    assert rows[2]["merge_status"] == "submitted"
    page = (tmp_path / "out.csv.review.html").read_text(encoding="utf-8")
    assert '"cost":[0.63,0.86]' in page  # Daisy is a studio avatar: $0.0667 a second, ± 15%


def test_an_engine_the_look_does_not_support_is_caught(cli, tmp_path):
    catalogue = tmp_path / "catalogue.json"
    look = {
        "id": "old_look",
        "name": "Old studio look",
        "avatar_type": "studio_avatar",
        "supported_api_engines": ["avatar_iii"],
        "default_voice_id": GOOD[1],
    }
    catalogue.write_text(json.dumps({"looks": [look, {**look, "id": GOOD[0], "name": "Daisy"}]}))
    settings = fast(catalogue=str(catalogue), check_ids=True)
    data = sheet(tmp_path, ("old_look", GOOD[1]))
    template = tmp_path / "outreach_v5.json"  # a v3 template naming its engine in the body
    body = json.loads((OUTREACH.parent / "outreach_v3.json").read_text(encoding="utf-8"))
    template.write_text(json.dumps(body | {"engine": {"type": "avatar_v"}}), encoding="utf-8")
    out = tmp_path / "out.csv"
    with Simulator(settings) as simulator:
        run = cli("submit", data, template, "-o", out, "--base-url", simulator.url, "--yes")
    assert run.code == ExitCode.INVALID_ROWS, run.err
    error = results(out)[2]["merge_error"]
    assert error.startswith('column "avatar_id": the look "Old studio look" (old_look)')
    assert "does not support the engine avatar_v (it supports avatar_iii)" in error
    assert created_rows(simulator) == set()


def test_the_simulator_refuses_what_the_preflight_catches(tmp_path):
    """A second opinion: sent anyway, the same ids are refused at create."""
    import httpx

    with Simulator(fast(check_ids=True)) as simulator:
        body = {"type": "avatar", "avatar_id": CONSENT, "script": "Hi", "voice_id": GOOD[1]}
        headers = {"X-Api-Key": KEY}
        pending = httpx.post(simulator.url + "/v3/videos", json=body, headers=headers)
        unknown = httpx.post(
            simulator.url + "/v3/videos", json=body | {"avatar_id": "nope"}, headers=headers
        )
        engine = httpx.post(
            simulator.url + "/v3/videos",
            json=body | {"avatar_id": GOOD[0], "engine": {"type": "avatar_v"}},
            headers=headers,
        )
    assert pending.status_code == 400
    assert unknown.status_code == 404
    assert engine.status_code == 400
    assert engine.json()["error"]["param"] == "engine"
    assert simulator.accepted() == {}


def test_a_refused_key_stops_before_anything_and_names_its_source(cli, tmp_path):
    data = sheet(tmp_path, GOOD, GOOD)
    with Simulator(fast(api_key="the-right-one")) as simulator:
        run = submit(cli, data, tmp_path / "out.csv", simulator.url)
        key_file = tmp_path / "key.txt"
        key_file.write_text("wrong-key-in-file")
        from_file = submit(
            cli, data, tmp_path / "out2.csv", simulator.url, "--api-key-file", key_file
        )
    assert run.code == ExitCode.ERROR
    assert "the API refused the key from $HEYGEN_API_KEY (HTTP 401" in run.err
    assert f"--api-key-file {key_file}" in from_file.err
    assert KEY not in run.err + run.out
    assert "wrong-key-in-file" not in from_file.err
    assert created_rows(simulator) == set()


def test_a_key_without_read_permission_is_a_warning_not_a_crash(cli, tmp_path):
    data = sheet(tmp_path, GOOD, GOOD)
    with Simulator(fast(read_scope=False)) as simulator:
        run = submit(cli, data, tmp_path / "out.csv", simulator.url)
    assert run.code == ExitCode.OK, run.err
    assert "may not read the account (HTTP 403)" in run.out
    assert "NOT checked" in run.out
    assert "cost:" in run.out  # still priced, at the dearest avatar type
    assert created_rows(simulator) == {2, 3}


@pytest.mark.parametrize("fault", ["429", "500", "timeout"])
def test_lookups_that_cannot_be_answered_are_warnings_naming_rows_and_columns(cli, tmp_path, fault):
    data = sheet(tmp_path, GOOD, GOOD, GOOD)
    settings = fast(lookup_fault=fault, retry_after=0.05, late_by=3.0)
    with Simulator(settings) as simulator:
        run = submit(cli, data, tmp_path / "out.csv", simulator.url, "--timeout", "0.3")
        stats = simulator.stats()
    assert run.code == ExitCode.OK, run.err
    assert f"look {GOOD[0]} could not be checked" in run.out
    assert 'column "avatar_id", rows 2, 3, 4: sent unchecked' in run.out
    assert f"voice {GOOD[1]} could not be checked" in run.out
    assert "Traceback" not in run.err
    assert stats["lookup_faults"] >= 2
    assert created_rows(simulator) == {2, 3, 4}


def test_an_empty_wallet_is_a_warning_yes_does_not_hide_and_sending_stops(cli, tmp_path):
    data = sheet(tmp_path, GOOD, GOOD, GOOD)
    with Simulator(fast(balance=0.9)) as simulator:
        run = submit(cli, data, tmp_path / "out.csv", simulator.url, "--concurrency", "1")
        stats = simulator.stats()
    assert "WARNING: the wallet has $0.90" in run.out
    assert "it covers about 1 of the 3 rows" in run.out
    assert "covers about 1 of 3 rows" in run.err
    assert stats["wallet_refused"] >= 1
    assert len(simulator.accepted()) == 1
    assert run.code == ExitCode.FAILED_ROWS
    assert "Stopped: HTTP 402 insufficient_credit: Insufficient credit: this video needs" in run.out
    assert "output rows: 2 skipped, 1 submitted" in run.out


def test_max_cost_refuses_before_sending(cli, tmp_path, sim):
    data = sheet(tmp_path, GOOD, GOOD, GOOD)
    run = submit(cli, data, tmp_path / "out.csv", sim.url, "--max-cost", "0.50")
    assert run.code == ExitCode.ERROR
    assert "is above --max-cost $0.50; nothing was sent" in run.err
    assert created_rows(sim) == set()
    fine = submit(cli, data, tmp_path / "out.csv", sim.url, "--max-cost", "$100")
    assert fine.code == ExitCode.OK, fine.err
    assert created_rows(sim) == {2, 3, 4}


def test_a_pilot_of_valid_rows_sends_that_many_videos(cli, tmp_path, sim):
    bad = (CONSENT, GOOD[1])
    data = sheet(tmp_path, bad, bad, GOOD, bad, GOOD, GOOD, GOOD)
    run = submit(cli, data, tmp_path / "out.csv", sim.url, "--limit-valid", "3")
    assert run.code == ExitCode.INVALID_ROWS, run.err
    assert created_rows(sim) == {4, 6, 7}
    assert "beyond the pilot of the first 3 valid rows" in run.out
    assert results(tmp_path / "out.csv")[8]["merge_status"] == "skipped"


def test_a_thousand_rows_with_three_looks_and_two_voices_make_five_lookups(cli, tmp_path, sim):
    looks = [GOOD[0], "josh_lite3_20230714", "Kristin_public_3_20240108"]
    voices = [GOOD[1], "d7bbcdd6964c47bdaae26decade4a933"]
    data = sheet(tmp_path, *[(looks[n % 3], voices[n % 2]) for n in range(1000)])
    run = cli("check", data, OUTREACH, "--base-url", sim.url, *V3)
    assert run.code == ExitCode.OK, run.err
    stats = sim.stats()
    assert stats["look_lookups"] + stats["voice_lookups"] <= 5
    assert stats["account_reads"] == 1
    assert "ready:          1,000" in run.out
    assert "Nothing was sent." in run.out
    assert sim.accepted() == {}
    assert created_rows(sim) == set()


def test_a_resume_takes_usable_ids_from_the_cache(cli, tmp_path, sim):
    data = sheet(tmp_path, GOOD, GOOD)
    out = tmp_path / "out.csv"
    assert submit(cli, data, out, sim.url, "--limit", "1").code == ExitCode.OK
    before = sim.stats()
    again = submit(cli, data, out, sim.url)
    after = sim.stats()
    assert again.code == ExitCode.OK, again.err
    assert after["look_lookups"] == before["look_lookups"]
    assert after["voice_lookups"] == before["voice_lookups"]
    assert "2 from the cache" in again.out
    assert (tmp_path / "out.csv.preflight.json").exists()
    assert KEY not in (tmp_path / "out.csv.preflight.json").read_text()


def test_avatars_and_voices_list_the_account(cli, sim):
    table = cli("avatars", "--base-url", sim.url, "--type", "digital_twin")
    assert table.code == ExitCode.OK
    assert TWIN in table.out
    assert "pending_consent" in table.out
    assert "Daisy" not in table.out
    listed = json.loads(cli("avatars", "--base-url", sim.url, "--json", "--engine", "avatar_v").out)
    assert {look["id"] for look in listed} == {TWIN, CONSENT, "zoe_twin_20261129"}
    voices = cli("voices", "--base-url", sim.url, "--csv", "--language", "Spanish")
    assert voices.out.splitlines()[0] == "id,name,type,language,gender,status,locales"
    assert "2f72ee82b83d4b00af16c4771d611752,Lucía,public,Spanish" in voices.out
    found = cli("voices", "--base-url", sim.url, "--search", "maya", "--json")
    assert [v["id"] for v in json.loads(found.out)] == ["maya_voice_clone"]


def test_voice_settings_for_another_engine_are_caught_on_v2_bodies_too(cli, tmp_path, sim):
    header = ["first_name", "company", "signup_date", "avatar_id", "voice_id"]
    rows = [
        ["Ava", "Acme", "2026-01-05", GOOD[0], GOOD[1]],
        ["Liam", "Café Olé", "2026-01-16", GOOD[0], "starfish_amelie_fr"],
    ]
    data = write_csv(tmp_path / "leads.csv", rows, header)
    template = OUTREACH.parent / "elevenlabs.json"  # V2's language, sent as v3 (emotion is lost)
    out = tmp_path / "out.csv"
    run = cli("submit", data, template, "-o", out, "--base-url", sim.url, "--yes", "--lossy")
    assert run.code == ExitCode.INVALID_ROWS, run.err
    error = results(out)[3]["merge_error"]
    assert error.startswith('column "voice_id": the voice "Amélie" (starfish_amelie_fr)')
    assert "is not an elevenlabs voice, but its settings are for elevenlabs" in error
    assert set(sim.accepted()) == {results(out)[2]["callback_id"]}


@pytest.fixture
def audio_host(tmp_path: Path) -> Iterator[str]:
    """A plain HTTP file server on loopback holding a 12-second WAV (no range support)."""
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "hello.wav").write_bytes(wav_bytes(12.0))
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_a_recorded_voice_is_priced_by_its_files_length(cli, tmp_path, sim, audio_host):
    header = ["first_name", "company", "photo_id", "audio_url", "image_url"]
    photo = "7a8c0e51b2d64e3f9c1a2b3c4d5e6f70"  # a photo look: $0.05 a second
    rows = [
        ["Ava", "Acme", photo, f"{audio_host}/hello.wav", "https://example.com/bg.png"],
        ["Liam", "Acme", photo, "https://example.com/unreadable.mp3", "https://example.com/b.png"],
    ]
    data = write_csv(tmp_path / "leads.csv", rows, header)
    template = OUTREACH.parent / "talking_photo.json"
    run = cli("check", data, template, "--base-url", sim.url, *V3)
    assert run.code == ExitCode.OK, run.out + run.err
    # 12 s read from the file at $0.05, plus 5-60 s assumed for the unreadable one
    assert "cost:           $0.85 to $3.60 for 2 rows (each $0.25 to $3.00)" in run.out


def test_the_library_checks_a_sheet_against_the_account(tmp_path, sim):
    import merge

    data = sheet(tmp_path, GOOD, (CONSENT, GOOD[1]))
    options = merge.RenderOptions(target=Target("v3", lossy=True))
    report = merge.check_account(data, OUTREACH, KEY, sim.url, options)
    assert report.valid_rows == [2]
    assert report.preflight is not None
    assert set(report.preflight.costs) == {2}
    assert "waiting for consent" in report.first_problems[0]
    assert report.preflight.balance is not None
    assert report.preflight.balance.say() == "$10,000.00"
