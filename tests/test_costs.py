"""The pre-flight's pure parts: each body's needs and price, the balance, the verdicts, paging."""

from __future__ import annotations

import io
import json
import wave
from typing import Any

import httpx
import pytest

from merge.api.account import AccountApi
from merge.api.audio import length_of, probeable
from merge.batch.preflight import Facts, balance_of, judge
from merge.errors import MergeError
from merge.loop import run_sync
from merge.payload.costs import parts_of, price, resolution_of, spoken_seconds
from merge.prices import PriceTable, load_prices

PHOTO = {
    "id": "p1",
    "name": "Ava, photo",
    "avatar_type": "photo_avatar",
    "default_voice_id": None,
    "status": "completed",
    "supported_api_engines": ["avatar_iv"],
}


def test_spoken_time_counts_words_speed_and_written_pauses() -> None:
    low, high = spoken_seconds("one two three " * 50, 1.0)  # 150 words: a minute at speed 1
    assert (round(low), round(high)) == (51, 69)
    slow_low, _ = spoken_seconds("one two three " * 50, 0.5)
    assert round(slow_low) == 102
    paused = spoken_seconds('Hi <break time="1.5s"/> there <break time="500ms"/>', 1.0)
    assert paused[0] == pytest.approx(2 * 60 / 150 * 0.85 + 2.0)


def test_parts_of_v2_v3_and_studio_bodies() -> None:
    v2 = {
        "video_inputs": [
            {
                "character": {"type": "talking_photo", "talking_photo_id": "p1"},
                "voice": {"type": "silence", "duration": 3},
            }
        ],
        "dimension": {"width": 3840, "height": 2160},
    }
    (part,) = parts_of(v2)
    assert (part.avatar_id, part.voice_id, part.low, part.high) == ("p1", None, 3.0, 3.0)
    assert part.avatar_path == "video_inputs[0].character.talking_photo_id"
    assert resolution_of(v2) == "4k"
    studio = {
        "type": "studio",
        "engine": {"type": "avatar_v"},
        "scenes": [
            {
                "type": "avatar_video",
                "input": {
                    "type": "avatar",
                    "avatar_id": "t",
                    "audio_url": "x",
                    "engine": {"type": "avatar_iii"},
                },
            },
            {"type": "image", "source": {"type": "url", "url": "https://x"}, "duration": 3},
        ],
    }
    (scene,) = parts_of(studio)
    assert (scene.engine, scene.speaks, scene.avatar_path) == (
        "avatar_iii",
        False,
        "scenes[0].input.avatar_id",
    )
    assert (scene.low, scene.high) == (5.0, 60.0)


def test_price_follows_engine_type_and_resolution() -> None:
    table = PriceTable()
    body = {"type": "avatar", "avatar_id": "p1", "script": "word " * 150, "voice_id": "v"}
    parts = parts_of(body)
    low, high, _ = price(parts, None, {"p1": "photo_avatar"}, table)
    assert (round(low, 2), round(high, 2)) == (2.55, 3.45)  # 51–69 s at $0.05
    _, dearer, _ = price(parts, "4k", {"p1": "photo_avatar"}, table)
    assert round(dearer, 2) == round(69 * 0.0667, 2)
    _, unknown, _ = price(parts, None, {}, table)
    assert round(unknown, 2) == round(69 * 0.0667, 2)  # an unknown look: the dearest type


def test_a_price_file_replaces_the_table_and_a_bad_one_is_a_clear_error(tmp_path) -> None:
    good = tmp_path / "prices.json"
    good.write_text(
        json.dumps(
            {"date": "2026-12-01", "usd_per_second": {"avatar_iv": {"photo_avatar": [0.04, 0.06]}}}
        )
    )
    table = load_prices(good, {})
    assert table.date == "2026-12-01"
    assert table.per_second("avatar_iv", "photo_avatar", "4k") == 0.06
    assert table.per_second("avatar_iii", "digital_twin", None) == 0.0167  # kept built in
    assert load_prices(None, {"HEYGEN_PRICES_FILE": str(good)}).date == "2026-12-01"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"usd_per_second": {"avatar_x": {}}}))
    with pytest.raises(MergeError, match="'avatar_x' is not one of"):
        load_prices(bad, {})


@pytest.mark.parametrize(
    ("me", "said"),
    [
        (
            {"billing_type": "wallet", "wallet": {"currency": "usd", "remaining_balance": 12.5}},
            "$12.50",
        ),
        (
            {
                "billing_type": "subscription",
                "subscription": {
                    "plan": "x",
                    "credits": {"premium_credits": 100, "add_on_credits": {"remaining": 20}},
                },
            },
            "120.0 credits",
        ),
        (
            {
                "billing_type": "usage_based",
                "usage_based": {"spending_cap_usd": 50, "spending_current_usd": 20},
            },
            "$30.00",
        ),
    ],
)
def test_the_balance_is_read_from_the_block_billing_type_names(me: dict[str, Any], said: str):
    balance = balance_of(me)
    assert balance is not None
    assert balance.say() == said
    assert balance_of({"billing_type": "wallet"}) is None


def test_a_script_with_no_voice_on_a_look_without_default_voice_is_a_problem() -> None:
    facts = Facts(
        looks={"p1": PHOTO},
        voices={"v": {"voice_id": "v", "name": "Mono", "support_locale": False}},
    )
    silent = {"type": "avatar", "avatar_id": "p1", "script": "Hello"}
    accented = {
        "type": "avatar",
        "avatar_id": "p1",
        "script": "Hello",
        "voice_id": "v",
        "voice_settings": {"locale": "en-IN"},
    }
    verdict = judge(facts, {2: silent, 3: accented}, lambda _: "voice", PriceTable())
    assert "has no default voice" in verdict.invalid[2][0].message
    assert verdict.invalid[3][0].describe().startswith('column "voice": the voice "Mono" (v)')
    assert "takes no locale, but en-IN was asked" in verdict.invalid[3][0].message


def test_lists_follow_next_token_with_contract_page_sizes() -> None:
    seen: list[httpx.QueryParams] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.params)
        token = int(request.url.params.get("token", "0"))
        more = token < 2
        page = [{"id": f"look{token}"}]
        return httpx.Response(
            200,
            json={"data": page, "has_more": more, "next_token": str(token + 1) if more else None},
        )

    async def read() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        async with httpx.AsyncClient(
            transport=httpx.MockTransport(answer), base_url="http://127.0.0.1"
        ) as http:
            api = AccountApi(http)
            return await api.looks(ownership="private"), await api.voices()

    looks, voices = run_sync(read())
    assert [look["id"] for look in looks] == ["look0", "look1", "look2"]
    assert len(voices) == 3
    assert {p["limit"] for p in seen[:3]} == {"50"}
    assert {p["limit"] for p in seen[3:]} == {"100"}
    assert seen[0]["ownership"] == "private"
    assert "token" not in seen[0]


def wav_bytes(seconds: float, rate: int = 8000) -> bytes:
    """A real mono 16-bit WAV of `seconds` of silence."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\0\0" * int(seconds * rate))
    return buffer.getvalue()


def test_audio_lengths_are_read_from_wav_and_mp3_heads() -> None:
    wav = wav_bytes(12.5)
    assert length_of(wav[:65536], len(wav)) == 12.5
    frame = b"\xff\xfb\x90\x64" + bytes(413)  # MPEG-1 Layer III, 128 kbit/s, 44.1 kHz
    mp3 = b"ID3\x04\x00\x00\x00\x00\x00\x0a" + bytes(10) + frame * 10
    assert length_of(mp3, 20 + 16_000) == 1.0  # 16,000 bytes at 16,000 bytes a second
    xing = bytearray(frame)
    xing[36:48] = b"Xing" + (1).to_bytes(4, "big") + (383).to_bytes(4, "big")
    assert length_of(bytes(xing), None) == round(383 * 1152 / 44100, 2)
    assert length_of(b"not audio at all", 100) is None


@pytest.mark.parametrize(
    ("url", "asked"),
    [
        ("https://cdn.acme-media.com/a.mp3", True),
        ("http://127.0.0.1:8000/a.wav", True),
        ("https://example.com/a.mp3", False),
        ("https://files.example/a.mp3", False),
        ("https://x/a.mp3", False),
        ("http://10.0.0.1/a.mp3", False),
        ("ftp://cdn.acme-media.com/a.mp3", False),
    ],
)
def test_only_files_heygen_could_fetch_are_asked(url: str, asked: bool) -> None:
    assert probeable(url) is asked


def test_parts_take_a_measured_audio_length() -> None:
    body = {"type": "avatar", "avatar_id": "p1", "audio_url": "https://cdn.acme.com/a.wav"}
    (unknown,) = parts_of(body)
    (heard,) = parts_of(body, {"https://cdn.acme.com/a.wav": 12.0})
    assert (unknown.low, unknown.high) == (5.0, 60.0)
    assert (heard.low, heard.high) == (12.0, 12.0)
