"""Which rows of a sheet to take (`--rows 2-40,55`, `--limit`), read no further than needed."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from itertools import islice, takewhile

from merge.problems import Problem
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


def chunked(items: Iterable[Row], size: int, first: int | None = None) -> Iterator[list[Row]]:
    """Cut a stream of rows into lists of at most `size`; with `first`, the first list is that
    long and each next one twice the last, up to `size` (work waiting on the first chunk
    starts sooner)."""
    iterator = iter(items)
    length = min(first or size, size)
    while chunk := list(islice(iterator, length)):
        yield chunk
        length = min(length * 2, size)


ALWAYS_READ = frozenset({"callback_id", "video_id", "merge_status", "submitted_at"})
"""Columns a run reads besides the template's: a formula error there always matters."""

SAVE_HINT = "open and save it in Excel or LibreOffice"


@dataclass
class ShownRows:
    """Take the rows the user sees: hidden ones are counted and left out unless asked for.

    A formula that shows an error or has no saved value stops a row only when the run reads its
    column (the template's columns, `read`); elsewhere it is counted for one warning.
    """

    include_hidden: bool = False
    read: frozenset[str] | None = None
    selection: RowSelection = RowSelection()
    hidden: int = 0
    unread_cells: list[str] = field(default_factory=list)
    unread_count: int = 0

    def __call__(self, rows: Iterable[Row]) -> Iterator[Row]:
        """Filter a stream of rows lazily."""
        for row in rows:
            if row.hidden and not self.include_hidden:
                if row.number in self.selection:
                    self.hidden += 1
                continue
            if self.read is not None and any(p.column for p in row.problems):
                row = self._relax(row)
            yield row

    def _relax(self, row: Row) -> Row:
        read = self.read or frozenset()
        kept: list[Problem] = []
        unread: list[Problem] = []
        for problem in row.problems:
            unused = problem.column and problem.column not in read | ALWAYS_READ
            (unread if unused else kept).append(problem)
        if not unread:
            return row
        if row.number in self.selection:
            self.unread_count += len(unread)
            if len(self.unread_cells) < 3:
                self.unread_cells.extend(
                    f'row {row.number}, column "{p.column}": {p.message}' for p in unread
                )
        return replace(row, problems=tuple(kept))

    def warnings(self) -> list[str]:
        """Say what was left out or let through, once for the whole run."""
        said = []
        if self.unread_count:
            shown = "; ".join(self.unread_cells[:3])
            more = f" and {self.unread_count - 3} more" if self.unread_count > 3 else ""
            said.append(
                f"{self.unread_count} formula cell(s) show no value, in columns the template does"
                f" not use ({shown}{more}); {SAVE_HINT}"
            )
        return said
