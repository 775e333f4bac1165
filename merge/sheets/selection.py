"""Which rows of a sheet to take (`--rows 2-40,55`, `--limit`), read no further than needed."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice, takewhile

from merge.sheets.cells import Row


@dataclass(frozen=True)
class RowSelection:
    """Which spreadsheet rows to take: ranges like `2-40,55,60-`."""

    ranges: tuple[tuple[int, int | None], ...] = ()

    @classmethod
    def parse(cls, text: str | None) -> RowSelection:
        """Read `2-40,55,60-`; raise ValueError with a readable reason."""
        if not text:
            return cls()
        ranges: list[tuple[int, int | None]] = []
        for part in text.replace(" ", "").split(","):
            match = re.fullmatch(r"(\d+)(?:-(\d*))?", part)
            if not match:
                raise ValueError(f"{part!r} is not a row number or range like 2-40")
            low = int(match.group(1))
            high = (
                low if match.group(2) is None else (int(match.group(2)) if match.group(2) else None)
            )
            if high is not None and high < low:
                raise ValueError(f"{part!r} ends before it starts")
            ranges.append((low, high))
        return cls(tuple(ranges))

    def __contains__(self, number: object) -> bool:
        if not self.ranges:
            return True
        assert isinstance(number, int)
        return any(low <= number and (high is None or number <= high) for low, high in self.ranges)

    def last(self) -> int | None:
        """The last row any range can take, so reading can stop early; None when open-ended."""
        if not self.ranges or any(high is None for _, high in self.ranges):
            return None
        return max(high for _, high in self.ranges if high is not None)


def select_rows(rows: Iterable[Row], selection: RowSelection, limit: int | None) -> Iterator[Row]:
    """Keep the selected rows, at most `limit` of them, and stop reading once none can follow."""
    last = selection.last()
    if last is not None:
        rows = takewhile(lambda r: r.number <= last, rows)
    picked = (r for r in rows if r.number in selection)
    return islice(picked, limit) if limit is not None else picked


def chunked(items: Iterable[Row], size: int) -> Iterator[list[Row]]:
    """Cut a stream of rows into lists of at most `size`."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
