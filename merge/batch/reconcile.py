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


@dataclass
class TitleCheck:
    """v3: what the video list said of rows in doubt, looked up by the key in their title."""

    found: dict[str, str] = field(default_factory=dict)
    absent: set[str] = field(default_factory=set)
    """Keys no video carries in its title: a new request cannot make a second video."""
    untitled: set[str] = field(default_factory=set)
    """Keys whose body's title does not hold them, so the list cannot tell: they stay unknown."""
    extra: dict[str, list[str]] = field(default_factory=dict)


async def find_by_title(
    client: HeyGenClient,
    wanted: Mapping[str, tuple[float, str]],
    before_each_call: Callable[[], Awaitable[None]] | None = None,
) -> TitleCheck:
    """Look for the videos of `wanted` (key → first send time, body title) by v3's title filter.

    v3's videos carry no callback_id, so the key is found in the title (`plan` puts it there
    when the template sets none); a title without the key cannot be looked up. Raise ApiError
    when the list cannot be read to the end.
    """
    result = TitleCheck()
    for key, (first_sent, title) in wanted.items():
        if key not in title:
            result.untitled.add(key)
            continue
        cutoff = first_sent - RECONCILE_MARGIN_SECONDS
        token: str | None = None
        ids: list[str] = []
        for _ in range(MAX_LIST_PAGES):
            if before_each_call is not None:
                await before_each_call()
            videos, token = await client.list_videos(token, LIST_PAGE_SIZE, title=key)
            for video in videos:
                created = _seconds(video.get("created_at"))
                video_id = video.get("video_id") or video.get("id")
                shown = video.get("title")
                if created is not None and created < cutoff:
                    continue
                if isinstance(video_id, str) and isinstance(shown, str) and _holds(shown, key):
                    ids.append(video_id)
            if token is None:
                break
        else:
            raise ApiError(f"the video list for {key} is longer than {MAX_LIST_PAGES} pages")
        if ids:
            ids.reverse()  # newest first in the list: the first made is the row's
            result.found[key] = ids[0]
            if ids[1:]:
                result.extra[key] = ids[1:]
        else:
            result.absent.add(key)
    return result


def _holds(title: str, key: str) -> bool:
    """Whether a title names the key as a whole word, so `row-2` is not found in `row-20`."""
    start = title.find(key)
    while start != -1:
        end = start + len(key)
        before = title[start - 1] if start else " "
        after = title[end] if end < len(title) else " "
        if not (before.isalnum() or before in "-_") and not (after.isalnum() or after in "-_"):
            return True
        start = title.find(key, start + 1)
    return False
