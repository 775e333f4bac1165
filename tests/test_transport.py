"""The aiohttp transport against the real simulator over loopback: the same outcomes as httpx's.

Each failure the run must tell apart (never sent, sent without an answer, refused, late) is made
by the simulator for real, and asked of both transports: they must agree on what it means.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from merge.api.client import Created, NoAnswer, NotSent, Outcome, Refused, open_http
from merge.api.v3 import HeyGenV3Client
from merge.simulator import Simulator, SimulatorSettings
from tests.test_simulator_v3 import avatar

KEY = "test-key"
TITLE = "Ünïcode 😀 1+1=2, 100% & #1 (am:row-1)"
BODY = orjson.dumps(avatar(callback_id="row-1", title=TITLE))


def create(url: str, fast: bool, timeout: float = 5.0, key: str = "k-1") -> Outcome:
    """Send one create through a fresh client, as a run does, and close it."""

    async def go() -> Outcome:
        async with open_http(url, KEY, timeout, 2, fast) as http:
            return await HeyGenV3Client(http).create_video(BODY, key)

    return asyncio.run(go())


def both(check: Callable[[Outcome], Any], url: str, **options: Any) -> None:
    """Ask both transports the same thing; each answer must pass `check`."""
    for fast in (False, True):
        check(create(url, fast, key=f"k-{fast}", **options))


def test_a_made_video_answers_its_id_with_either_transport() -> None:
    with Simulator(SimulatorSettings()) as api:
        both(lambda outcome: isinstance(outcome, Created), api.url)
        assert api.accepted() == {"row-1": 2}


def test_a_reset_after_the_video_was_made_is_no_answer_never_not_sent() -> None:
    with Simulator(SimulatorSettings(reset_after_accept=1.0)) as api:
        found: list[Outcome] = []
        both(found.append, api.url)
        assert [type(outcome) for outcome in found] == [NoAnswer, NoAnswer]
        assert api.stats()["resets"] == 2


def test_a_late_answer_is_a_read_timeout_and_no_answer() -> None:
    with Simulator(SimulatorSettings(late_answer=1.0, late_by=2.0)) as api:
        found: list[Outcome] = []
        both(found.append, api.url, timeout=0.3)
        assert [type(outcome) for outcome in found] == [NoAnswer, NoAnswer]
        assert all("ReadTimeout" in outcome.reason for outcome in found)  # type: ignore[union-attr]


@pytest.mark.parametrize(("setting", "kind"), [("fail_429", "rate"), ("fail_5xx", "server")])
def test_refusals_come_back_with_their_status_and_retry_after(setting: str, kind: str) -> None:
    settings: dict[str, Any] = {setting: 1.0}
    with Simulator(SimulatorSettings(**settings)) as api:
        found: list[Outcome] = []
        both(found.append, api.url)
        assert all(isinstance(o, Refused) and o.kind == kind for o in found), found
        said = {(o.code, o.retry_after is None) for o in found}  # type: ignore[union-attr]
        assert len(said) == 1, found


def test_a_refused_connection_is_not_sent() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    found: list[Outcome] = []
    both(found.append, f"http://127.0.0.1:{port}")
    assert [type(outcome) for outcome in found] == [NotSent, NotSent]
    assert all("ConnectError" in outcome.reason for outcome in found)  # type: ignore[union-attr]


def test_reads_and_headers_go_through_the_fast_transport() -> None:
    async def go(url: str) -> tuple[list[dict[str, Any]], str | None, int]:
        async with open_http(url, KEY, 5.0, 2, fast=True) as http:
            client = HeyGenV3Client(http)
            assert isinstance(await client.create_video(BODY, "k-list"), Created)
            videos, token = await client.list_videos(limit=5, title=TITLE)
            refused = await http.get("/v3/videos", headers={"X-Api-Key": ""})
            return videos, token, refused.status_code

    with Simulator(SimulatorSettings()) as api:
        videos, token, refused = asyncio.run(go(api.url))
    assert [video["title"] for video in videos] == [TITLE]  # the query as httpx encodes it
    assert token is None
    assert refused == 401  # the header given replaced the client's key
