"""The submission tests again, against the simulator's v3: the same promises hold there."""

from __future__ import annotations

import pytest

from tests import test_submit as on_v2

RERUN = [
    "test_a_rejected_key_stops_at_once_and_sends_nothing_more",
    "test_the_api_key_never_reaches_any_output",
    "test_a_fixed_row_is_sent_on_the_next_run_and_nothing_else",
    "test_failed_rows_wait_for_retry_failed",
    "test_key_column_keeps_rows_apart_when_the_sheet_is_reordered",
    "test_duplicate_keys_make_the_later_row_invalid",
    "test_the_output_can_be_the_next_runs_input",
    "test_a_pilot_sends_the_first_rows_only",
    "test_a_real_rate_limit_slows_the_client_down_and_every_row_gets_through",
    "test_an_unreachable_api_stops_the_run_with_nothing_lost",
]


@pytest.fixture(autouse=True)
def on_v3(monkeypatch: pytest.MonkeyPatch) -> None:
    """Send every request of these tests to /v3/videos (captions dropped with a warning)."""
    monkeypatch.setattr(on_v2, "TARGET", ("--api", "v3", "--lossy"))


api = on_v2.api
globals().update({name: getattr(on_v2, name) for name in RERUN})
