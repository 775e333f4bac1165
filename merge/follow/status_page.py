"""The review page follows the campaign: after `status`, each row's video, status and links.

`submit` writes OUTPUT.review.html with every row's body; following rewrites it in place with
what is known of each video (status, thumbnail, duration, links to the video, the downloaded
file, and the failure's reason), so one offline file shows the whole campaign.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from merge.batch.journal import VideoState
from merge.batch.sent_page import sent_page_path
from merge.review.folder import write_page
from merge.review.page import FOLLOWED, ReviewPage, video_card
from merge.settings import REVIEW_PAGE_ROWS

DATA_BLOCK = re.compile(
    r'<script type="application/json" id="review-data">(.*?)</script>', re.DOTALL
)


def read_page_data(path: Path) -> dict[str, Any] | None:
    """Read the rows and header a page carries (None when there is no readable page)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    match = DATA_BLOCK.search(text)
    if match is None:
        return None
    try:
        data = json.loads(match.group(1))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def refresh_page(
    output: Path,
    rows: Iterable[tuple[int, str, str, str]],
    states: Mapping[str, VideoState],
    download: Path | None,
) -> Path:
    """Rewrite the output's review page with each followed row's video; return its path.

    `rows` are (row, video_id, callback_id, file stem) of every row with a video. The bodies
    and the other rows come from the page `submit` wrote, when it is there.
    """
    path = sent_page_path(output)
    data = read_page_data(path) or {}
    found = data.get("meta")
    meta: dict[str, Any] = found if isinstance(found, dict) else {}
    cards: dict[int, dict[str, Any]] = {
        card["row"]: card
        for card in data.get("rows", [])
        if isinstance(card, dict) and isinstance(card.get("row"), int)
    }
    for row, video_id, key, stem in rows:
        card = cards.setdefault(row, {"row": row, "status": "submitted", "key": key})
        card["video_id"] = video_id
        state = states.get(video_id)
        files = (download / f"{stem}.mp4", download / f"{stem}.jpg") if download else (None, None)
        card["video"] = video_card(state, files[0], files[1], path)
        card["sent_status"] = card.get("sent_status", card["status"])
        if state is not None:
            card["status"] = state.status
    page = ReviewPage(
        str(meta.get("title") or f"Sent: {output.name}"),
        str(meta.get("subtitle") or "what avatar-merge submit sent, and the videos it made"),
        FOLLOWED,
        f"every row is in {output.name}.",
        limit=REVIEW_PAGE_ROWS,
    )
    for row in sorted(cards):
        card = cards[row]
        card.pop("seconds", None)
        page.add(card)
    write_page(path, page)
    return path
