"""The simulator's account as a second opinion: its reads, paging, scope, faults and wallet."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from merge.prices import PriceTable
from merge.simulator import Simulator, SimulatorSettings
from merge.simulator.catalogue import Catalogue
from merge.simulator.wallet import price_of

KEY = {"X-Api-Key": "sk-sim-account"}
DAISY = "Daisy-inskirt-20220818"
VOICE = "2d5b0e6cf36f460aa7fc47e3eee4ba54"
SCRIPT = "x" * 150  # 10 s at the simulator's 15 characters a second


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def serve(clock: Clock, **settings: object) -> Simulator:
    values = {"render_seconds": 10.0, "pending_seconds": 0.0} | settings
    return Simulator(SimulatorSettings(**values), clock=clock)  # type: ignore[arg-type]


@pytest.fixture
def sim(clock: Clock) -> Iterator[Simulator]:
    with serve(clock) as simulator:
        yield simulator


def get(simulator: Simulator, path: str, **params: str) -> httpx.Response:
    return httpx.get(simulator.url + path, params=params, headers=KEY)


def create(simulator: Simulator, callback_id: str, **more: object) -> httpx.Response:
    body: dict[str, object] = {
        "type": "avatar",
        "avatar_id": DAISY,
        "script": SCRIPT,
        "voice_id": VOICE,
    }
    body |= {"callback_id": callback_id} | more
    return httpx.post(simulator.url + "/v3/videos", json=body, headers=KEY)


def balance(simulator: Simulator) -> float:
    return float(get(simulator, "/v3/users/me").json()["data"]["wallet"]["remaining_balance"])


def test_completed_videos_debit_the_wallet_at_the_tables_price(sim, clock):
    assert balance(sim) == 10_000.0
    assert create(sim, "a").status_code == 200
    assert balance(sim) == 10_000.0  # not before it completes
    clock.now += 11
    assert balance(sim) == pytest.approx(10_000.0 - 10 * 0.0667)  # a studio look, Avatar IV


def test_failed_videos_are_not_charged(clock):
    with serve(clock, render_failure=1.0, seed=1) as simulator:
        assert create(simulator, "a").status_code == 200
        clock.now += 11
        assert balance(simulator) == 10_000.0


def test_credit_runs_out_with_402_saying_have_and_need(clock):
    with serve(clock, balance=1.0) as simulator:
        assert create(simulator, "a").status_code == 200
        refused = create(simulator, "b")
        replay = create(simulator, "a")  # still 0.67 held: a third video does not fit
    assert refused.status_code == 402
    error = refused.json()["error"]
    assert error["code"] == "insufficient_credit"
    assert "needs 0.67, the account has 0.33" in error["message"]
    assert replay.status_code == 402
    assert len(simulator.accepted()) == 1


def test_4k_is_priced_from_the_table(clock):
    with serve(clock, plan="4k") as simulator:  # on a 1080p plan it would fail, uncharged
        assert create(simulator, "a", resolution="4k").status_code == 200
        clock.now += 30
        left = balance(simulator)
    assert left == pytest.approx(10_000.0 - 10 * 0.0833)


def test_the_engine_and_the_looks_type_set_the_price() -> None:
    catalogue = Catalogue.built_in()
    twin = {"type": "avatar", "avatar_id": "maya_twin_20261002", "script": SCRIPT}
    prices = PriceTable()
    assert price_of(twin | {"engine": {"type": "avatar_iii"}}, catalogue, prices) == 0.167
    assert price_of(twin | {"resolution": "4k"}, catalogue, prices) == 0.833
    studio = {"type": "studio", "scenes": [{"type": "avatar_video", "input": twin}] * 2}
    assert price_of(studio, catalogue, prices) == pytest.approx(2 * 0.667)


def test_billing_types_fill_their_own_block(clock):
    with serve(clock, billing_type="subscription", balance=500.0) as simulator:
        me = get(simulator, "/v3/users/me").json()["data"]
    assert me["billing_type"] == "subscription"
    assert me["subscription"]["credits"]["premium_credits"] == 500.0
    assert "wallet" not in me


def test_lists_page_as_the_contract_says_and_refuse_oversized_pages(sim):
    first = get(sim, "/v3/avatars/looks", limit="4").json()
    assert len(first["data"]) == 4
    assert first["has_more"] is True
    rest = get(sim, "/v3/avatars/looks", limit="50", token=first["next_token"]).json()
    assert rest["has_more"] is False
    assert rest["next_token"] is None
    assert len(first["data"]) + len(rest["data"]) == 10
    assert get(sim, "/v3/avatars/looks", limit="51").status_code == 400
    assert get(sim, "/v3/voices", limit="101").status_code == 400
    assert get(sim, "/v3/voices", limit="100").status_code == 200
    public = get(sim, "/v3/voices").json()["data"]
    assert all(voice["type"] == "public" for voice in public)
    assert "engine" not in public[0]  # voices carry no engine field: filter with engine=
    starfish = get(sim, "/v3/voices", engine="starfish").json()["data"]
    assert [voice["voice_id"] for voice in starfish] == ["starfish_amelie_fr"]


def test_unknown_ids_are_404_and_private_looks_carry_a_status(sim):
    missing = get(sim, "/v3/avatars/looks/nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "avatar_not_found"
    assert get(sim, "/v3/voices/nope").status_code == 404
    assert "status" not in get(sim, f"/v3/avatars/looks/{DAISY}").json()["data"]  # public
    consent = get(sim, "/v3/avatars/looks/leo_twin_20261120").json()["data"]
    assert consent["status"] == "pending_consent"
    foreign = get(sim, "/v3/avatars/looks/9f8e7d6c5b4a39281706f5e4d3c2b1a0")
    assert foreign.status_code == 403
    assert foreign.json()["error"]["code"] == "resource_access_denied"


def test_a_key_without_read_scope_gets_403_and_a_wrong_key_401(clock):
    with serve(clock, read_scope=False, api_key="right") as simulator:
        forbidden = httpx.get(simulator.url + "/v3/users/me", headers={"X-Api-Key": "right"})
        wrong = httpx.get(simulator.url + "/v3/avatars/looks", headers={"X-Api-Key": "no"})
        made = httpx.post(
            simulator.url + "/v3/videos",
            json={"type": "avatar", "avatar_id": DAISY, "script": "Hi", "voice_id": VOICE},
            headers={"X-Api-Key": "right"},
        )
    assert forbidden.status_code == 403
    assert forbidden.json()["error"]["code"] == "forbidden"
    assert wrong.status_code == 401
    assert made.status_code == 200  # creating needs no read scope


def test_lookup_faults_hit_lookups_but_not_users_me(clock):
    with serve(clock, lookup_fault="429", retry_after=2.0) as simulator:
        limited = get(simulator, f"/v3/avatars/looks/{DAISY}")
        me = get(simulator, "/v3/users/me")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "2"
    assert me.status_code == 200


def test_a_catalogue_file_replaces_the_built_in_one_and_a_bad_one_is_refused(tmp_path, clock):
    path = tmp_path / "catalogue.json"
    look = {"id": "mine", "name": "Mine", "avatar_type": "photo_avatar", "status": "failed"}
    path.write_text(json.dumps({"looks": [look]}))
    with serve(clock, catalogue=str(path)) as simulator:
        listed = get(simulator, "/v3/avatars/looks", limit="50").json()["data"]
    assert [item["id"] for item in listed] == ["mine"]
    assert listed[0]["status"] == "failed"
    path.write_text(json.dumps({"looks": [{"id": "x"}]}))
    with pytest.raises(ValueError, match="each look needs id, name and avatar_type"):
        SimulatorSettings(catalogue=str(path))
