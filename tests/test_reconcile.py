"""Finding the videos of requests that got no answer, from the list and status endpoints."""

from __future__ import annotations

import asyncio
import datetime as dt
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest

from merge.api.client import ApiError, HeyGenClient
from merge.batch.journal import Journal, journal_path
from merge.batch.reconcile import Reconciled, reconcile
from merge.settings import RECONCILE_MARGIN_SECONDS
from tests.fakes import FakeClock

NOW = 1_800_000_000.0


def video(number: int, created: float, key: str | None) -> dict[str, Any]:
    return {"video_id": f"{number:032x}", "created_at": created, "callback_id": key}


class FakeApi:
    """Pages of videos newest first; status answers carry the callback_id, the list does not."""

    def __init__(self, videos: list[dict[str, Any]], page: int = 2) -> None:
        self.videos = sorted(videos, key=lambda v: -v["created_at"])
        self.page = page
        self.status_calls: list[str] = []
        self.list_calls = 0
        self.fail_list = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/video.list":
            self.list_calls += 1
            if self.fail_list:
                return httpx.Response(503, json={"error": {"code": "down"}})
            start = int(request.url.params.get("token") or 0)
            items = self.videos[start : start + self.page]
            listed = [{k: v for k, v in item.items() if k != "callback_id"} for item in items]
            more = start + self.page < len(self.videos)
            data = {"videos": listed, "token": str(start + self.page) if more else None}
            return httpx.Response(200, json={"code": 100, "data": data})
        wanted = request.url.params["video_id"]
        self.status_calls.append(wanted)
        item = next(v for v in self.videos if v["video_id"] == wanted)
        return httpx.Response(200, json={"code": 100, "data": {**item, "status": "pending"}})


def run(api: FakeApi, wanted: dict[str, float], known: set[str] | None = None) -> Reconciled:
    async def go() -> Reconciled:
        async with httpx.AsyncClient(
            transport=httpx.MockTransport(api), base_url="http://api"
        ) as http:
            client = HeyGenClient(http, FakeClock().sleep)
            return await reconcile(client, wanted, known or set())

    return asyncio.run(go())


def test_a_video_made_for_the_row_is_found_by_its_callback_id() -> None:
    api = FakeApi(
        [video(1, NOW + 1, "other"), video(2, NOW + 2, "row-7"), video(3, NOW + 3, "row-8")]
    )
    found = run(api, {"row-7": NOW, "row-9": NOW})
    assert found.found == {"row-7": f"{2:032x}"}
    assert "row-9" not in found.found


def test_ids_already_known_are_not_asked_about() -> None:
    api = FakeApi([video(1, NOW + 1, "a"), video(2, NOW + 2, "b")])
    run(api, {"b": NOW}, known={f"{1:032x}"})
    assert api.status_calls == [f"{2:032x}"]


def test_listing_stops_at_videos_older_than_the_first_send() -> None:
    old = NOW - RECONCILE_MARGIN_SECONDS - 10
    api = FakeApi([video(n, old - n, "x") for n in range(1, 30)] + [video(99, NOW + 5, "x")])
    run(api, {"row": NOW})
    assert api.list_calls == 1
    assert api.status_calls == [f"{99:032x}"]


def test_a_second_video_for_a_key_is_reported_as_a_duplicate() -> None:
    api = FakeApi([video(1, NOW + 1, "k"), video(2, NOW + 2, "k")])
    found = run(api, {"k": NOW})
    assert found.found["k"] == f"{2:032x}"
    assert found.extra == {"k": [f"{1:032x}"]}


def test_an_unreadable_list_raises_so_rows_stay_unknown() -> None:
    api = FakeApi([video(1, NOW, "k")])
    api.fail_list = True
    with pytest.raises(ApiError, match="HTTP 503 down"):
        run(api, {"k": NOW})


def test_created_at_in_iso_text_and_milliseconds_is_understood() -> None:
    from merge.batch.reconcile import _seconds

    moment = dt.datetime(2027, 1, 15, 8, tzinfo=dt.UTC).timestamp()
    assert _seconds("2027-01-15T08:00:00Z") == moment
    assert _seconds("2027-01-15T08:00:00") == moment
    assert _seconds(int(moment * 1000)) == moment
    assert _seconds("soon") is None
    assert _seconds(True) is None


def test_journal_refuses_a_second_run_on_the_same_output(tmp_path: Path) -> None:
    from merge.errors import OutputError

    path = journal_path(tmp_path / "sent.xlsx")
    assert path.name == "sent.xlsx.journal"
    with closing(Journal.open(path, "api")), pytest.raises(OutputError, match="another run is"):
        Journal.open(path, "api")
    Journal.open(path, "api").close()


def test_journal_keeps_states_across_opening(tmp_path: Path) -> None:
    path = journal_path(tmp_path / "sent.csv")
    with closing(Journal.open(path, "api")) as journal:
        campaign = journal.campaign
        journal.sending("k", 2, "h", 10.0)
        journal.unknown("k", "ReadTimeout", 11.0)
        journal.sending("k", 2, "h", 20.0)
        journal.submitted("k", "v" * 32, 21.0)
    with closing(Journal.open(path, "api")) as again:
        entry = again.entries()["k"]
        assert again.campaign == campaign
    assert len(campaign) == 8
    assert (entry.state, entry.video_id, entry.attempts) == ("submitted", "v" * 32, 2)
    assert (entry.first_sent_at, entry.sent_at, entry.answered_at) == (10.0, 20.0, 21.0)


def test_v3_finds_a_lost_create_by_the_key_in_its_title() -> None:
    import time

    from merge.api.v3 import HeyGenV3Client
    from merge.batch.reconcile import find_by_title
    from merge.simulator import Simulator, SimulatorSettings

    base = {"type": "avatar", "avatar_id": "a", "script": "Hi", "voice_id": "v"}
    with Simulator(SimulatorSettings()) as sim:
        with httpx.Client(base_url=sim.url, headers={"X-Api-Key": "k"}) as http:
            made = {
                title: http.post("/v3/videos", json=base | {"title": title}).json()["data"]
                for title in ("am-x-row-2", "am-x-row-20", "Hello Ann")
            }
        wanted = {
            "am-x-row-2": (time.time() - 90_000, "am-x-row-2"),
            "am-x-row-3": (time.time() - 90_000, "am-x-row-3"),
            "am-x-row-9": (time.time() - 90_000, "Hello Ann"),
        }

        async def go() -> Any:
            async with httpx.AsyncClient(base_url=sim.url, headers={"X-Api-Key": "k"}) as http:
                return await find_by_title(HeyGenV3Client(http), wanted)

        checked = asyncio.run(go())
    assert checked.found == {"am-x-row-2": made["am-x-row-2"]["video_id"]}
    assert checked.absent == {"am-x-row-3"}  # no video holds its key: safe to send
    assert checked.untitled == {"am-x-row-9"}  # the list cannot tell: it stays unknown
