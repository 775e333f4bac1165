"""The submission tests again, against the simulator's V2 (`--api v2`): the same promises hold."""

from __future__ import annotations

import pytest

from tests import test_submit as on_v3

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
    "test_a_spent_daily_quota_stops_and_the_next_day_resumes",
]


@pytest.fixture(autouse=True)
def on_v2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Send every request of these tests to V2's /v2/video/generate."""
    monkeypatch.setattr(on_v3, "TARGET", ("--api", "v2"))


api = on_v3.api
globals().update({name: getattr(on_v3, name) for name in RERUN})
