"""The output sheet's own video_id column: proof a row was sent, whatever its journal says.

A journal can lose rows (a 0-byte file, a deleted `-wal` file, an output copied without it).
Before anything is planned or followed, the output's ids are compared with the journal's:
ids the journal lacks are adopted into it; a journal that cannot be this output's (empty, or
another campaign's) is refused rather than believed, so no row is ever sent twice for it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from merge.batch.journal import Journal
from merge.errors import MergeError, OutputError
from merge.sheets.sheet import open_sheet

CAMPAIGN = re.compile(r"^am-([0-9a-f]{8})-")
ADOPTED = "adopted_since"
"""Meta of a journal that took ids from its output: sends it lost may be as old as this."""


def lost_since(journal: Journal) -> float | None:
    """When a journal that lost rows may first have lost them; None if it never did."""
    value = journal.meta(ADOPTED)
    return None if value is None else float(value)


def _at(values: dict[str, str]) -> float | None:
    text = values.get("submitted_at", "").strip()
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=moment.tzinfo or dt.UTC).timestamp()


@dataclass(frozen=True, slots=True)
class Sent:
    """A row the output shows sent: its number, key (callback_id) and video_id."""

    row: int
    key: str
    video_id: str
    at: float | None = None
    """When it was sent (its submitted_at), where the output says."""


def sent_in_output(output: Path, sheet: str | None = None) -> list[Sent]:
    """Read the rows of an existing output that hold a video_id; none if it cannot be read."""
    if not output.exists():
        return []
    try:
        found = open_sheet(output, sheet, settle=False)
        if "video_id" not in found.info.columns:
            return []
        return [
            Sent(row.number, row.values.get("callback_id", "").strip(), video_id, _at(row.values))
            for row in found.rows()
            if (video_id := row.values.get("video_id", "").strip())
        ]
    except MergeError:
        return []


def campaign_of(sent: Iterable[Sent]) -> str | None:
    """The campaign the output's own callback_ids name, when they are ours and agree."""
    found = {match.group(1) for item in sent if (match := CAMPAIGN.match(item.key))}
    return found.pop() if len(found) == 1 else None


def reconcile_with_output(journal: Journal, sent: list[Sent], refuse_empty: bool) -> int:
    """Adopt the output's ids the journal lacks; refuse a journal that cannot be the output's.

    `refuse_empty` is for `submit`: a journal that was there but holds no rows while the output
    holds ids has lost them, and sending by it would duplicate every row. Returns how many
    rows were adopted.
    """
    if not sent:
        return 0
    entries = journal.entries()
    theirs = campaign_of(sent)
    if not entries and not journal.created and refuse_empty and journal.crashed_run() is None:
        raise OutputError(
            f"{journal.path}: the journal holds no rows, but the output holds"
            f" {len(sent):,} video_ids: it lost them (a deleted -wal file?) or is another's",
            "move the journal away and give this output as the next run's input (with a new"
            " -o): its video_id column is kept, so those rows are never sent again",
        )
    foreign = theirs is not None and journal.campaign not in ("", theirs)
    if entries and foreign and not any(item.key in entries for item in sent):
        raise OutputError(
            f"{journal.path}: this journal belongs to another output (campaign"
            f" {journal.campaign}, the output's rows say {theirs})",
            "put this output's own journal beside it, or use the output as the next input",
        )
    if not entries and theirs is not None:
        journal.remember("campaign", theirs)
    if not entries:
        times = [item.at for item in sent if item.at is not None]
        journal.remember(ADOPTED, str(min(times, default=0.0)))
    known = {entry.video_id for entry in entries.values() if entry.video_id}
    adopted = 0
    for item in sent:
        entry = entries.get(item.key)
        if item.video_id in known or not item.key or (entry is not None and entry.video_id):
            continue
        journal.adopt_sent(item.key, item.row, item.video_id, None)
        adopted += 1
    return adopted
