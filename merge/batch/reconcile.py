"""Find out whether a request that got no answer made a video, before anything is sent again.

V2 has no idempotency key, so the only safe way is the one the API notes describe: list the
videos created since just before the request went out, ask the status of each one this output
does not already know, and match its callback_id to the row's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from merge.api.client import ApiError, HeyGenClient
from merge.settings import LIST_PAGE_SIZE, RECONCILE_MARGIN_SECONDS

MAX_LIST_PAGES = 200
"""Stop listing after this many pages (20,000 videos) and leave the rows unknown."""


@dataclass
class Reconciled:
    """What the check found: ids for some keys; the rest certainly have no video."""

    found: dict[str, str] = field(default_factory=dict)
    extra: dict[str, list[str]] = field(default_factory=dict)
    """Further videos with the same callback_id: duplicates made before this check."""


async def reconcile(
    client: HeyGenClient,
    wanted: Mapping[str, float],
    known_ids: set[str],
    before_each_call: Callable[[], Awaitable[None]] | None = None,
) -> Reconciled:
    """Look for the videos of `wanted` (callback_id → first send time); raise ApiError if unsure."""
    result = Reconciled()
    if not wanted:
        return result
    cutoff = min(wanted.values()) - RECONCILE_MARGIN_SECONDS
    token: str | None = None
    seen: set[str] = set()
    for _ in range(MAX_LIST_PAGES):
        if before_each_call is not None:
            await before_each_call()
        videos, token = await client.list_videos(token, LIST_PAGE_SIZE)
        reached_cutoff = False
        for video in videos:
            video_id = video.get("video_id")
            created = _seconds(video.get("created_at"))
            if created is not None and created < cutoff:
                reached_cutoff = True
                continue
            if not isinstance(video_id, str) or video_id in known_ids or video_id in seen:
                continue
            seen.add(video_id)
            key = video.get("callback_id")
            if key is None:
                if before_each_call is not None:
                    await before_each_call()
                key = (await client.video_status(video_id)).get("callback_id")
            if isinstance(key, str) and key in wanted:
                _record(result, key, video_id)
        if reached_cutoff or token is None:
            return result
    raise ApiError(f"the video list is longer than {MAX_LIST_PAGES} pages since the first request")


def _record(result: Reconciled, key: str, video_id: str) -> None:
    if key in result.found:
        result.extra.setdefault(key, []).append(video_id)
    else:
        result.found[key] = video_id


def _seconds(value: Any) -> float | None:
    """Read a created_at: unix seconds (or milliseconds), or an ISO 8601 text."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value / 1000 if value > 1e11 else float(value)
    if isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return moment.timestamp()
    return None
