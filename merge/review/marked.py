"""The marked copy of the input: each row's merge_status and merge_errors, written while the rows
are still being checked.

The copy is written by a thread that reads the input from the top and asks for each row's marks
as it reaches the row; a row is answered once every row up to it has arrived (rows arrive in
sheet order), so the copy is written alongside the render. A workbook's rows are patched as
their marks arrive, and its head (column widths that fit the longest text, the dimension) is
written once the last has.
"""

from __future__ import annotations

import threading
from array import array
from bisect import bisect_left
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from merge.settings import STATUS_COLUMNS
from merge.sheets.sheet import SheetInfo, write_annotated

STATUS_CODES = ("valid", "invalid")


class Annotations(Mapping[int, Sequence[str]]):
    """Each row's merge_status and merge_errors, kept compact so a million rows stay small."""

    def __init__(self) -> None:
        self._rows = array("q")
        self._codes = bytearray()
        self._errors: dict[int, str] = {}

    def add(self, row: int, status: str, errors: str) -> None:
        """Record one row; rows arrive in sheet order."""
        self._rows.append(row)
        self._codes.append(STATUS_CODES.index(status))
        if errors:
            self._errors[row] = errors

    def __getitem__(self, row: int) -> Sequence[str]:
        at = bisect_left(self._rows, row)
        if at == len(self._rows) or self._rows[at] != row:
            raise KeyError(row)
        return (STATUS_CODES[self._codes[at]], self._errors.get(row, ""))

    def __iter__(self) -> Iterator[int]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, row: object) -> bool:
        if not isinstance(row, int):
            return False
        at = bisect_left(self._rows, row)
        return at < len(self._rows) and self._rows[at] == row

    def in_row_order(self) -> Iterator[tuple[int, Sequence[str]]]:
        """Each row with its marks, in sheet order."""
        return self._marks(0, len(self._rows))

    def _marks(self, start: int, end: int) -> Iterator[tuple[int, Sequence[str]]]:
        rows, codes, errors = self._rows, self._codes, self._errors
        for at in range(start, end):
            row = rows[at]
            yield row, (STATUS_CODES[codes[at]], errors.get(row, ""))


class Stopped(Exception):
    """The run stopped before its last row: the copy must not be put in place."""


class ArrivingAnnotations(Annotations):
    """Annotations read while they arrive: asking about a row waits until it is settled."""

    def __init__(self) -> None:
        super().__init__()
        self._changed = threading.Condition()
        self._last = 0
        self._ended: bool | None = None
        """None while rows arrive; True once all have; False if the run stopped."""

    def arrive(self, marks: Sequence[tuple[int, str, str]]) -> None:
        """Add a chunk's rows, (row, status, errors) each, in sheet order."""
        with self._changed:
            for row, status, errors in marks:
                self.add(row, status, errors)
            if marks:
                self._last = marks[-1][0]
            self._changed.notify_all()

    def end(self, complete: bool = True) -> None:
        """Say no more rows come: all have arrived, or (complete=False) the run stopped."""
        with self._changed:
            self._ended = complete
            self._changed.notify_all()

    def _settled(self, row: int | None = None) -> None:
        """Wait until the row (None: every row) can be answered; raise Stopped if it never can."""
        if self._ended is None and row is not None and row <= self._last:
            return  # the usual case, asked without the lock: the row has arrived
        with self._changed:
            while self._ended is None and (row is None or row > self._last):
                self._changed.wait()
            if self._ended is False:
                raise Stopped

    def __getitem__(self, row: int) -> Sequence[str]:
        self._settled(row)
        return super().__getitem__(row)

    def in_row_order(self) -> Iterator[tuple[int, Sequence[str]]]:
        """Each row with its marks as it arrives, in sheet order; Stopped if the run stops."""
        done = 0
        while True:
            with self._changed:
                while self._ended is None and done == len(self._rows):
                    self._changed.wait()
                if self._ended is False:
                    raise Stopped
                arrived = len(self._rows)
            if done == arrived:
                return  # every row has arrived, and has been given
            yield from self._marks(done, arrived)
            done = arrived

    def __contains__(self, row: object) -> bool:
        self._settled(row if isinstance(row, int) else None)
        return super().__contains__(row)

    def __iter__(self) -> Iterator[int]:
        self._settled()
        return super().__iter__()

    def __len__(self) -> int:
        self._settled()
        return super().__len__()


class MarkedCopy:
    """Writes the marked copy of the input on a thread of its own, as the marks arrive."""

    def __init__(self, info: SheetInfo, path: Path) -> None:
        self.marks = ArrivingAnnotations()
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._write, args=(info, path), name="marked-copy", daemon=True
        )
        self._thread.start()

    def _write(self, info: SheetInfo, path: Path) -> None:
        try:
            write_annotated(info, path, STATUS_COLUMNS, self.marks)
        except Stopped:
            pass
        except BaseException as error:  # handed to the thread that waits for the copy
            self._error = error

    def add(self, marks: Sequence[tuple[int, str, str]]) -> None:
        """Take a chunk's rows: (row, status, errors) each, in sheet order."""
        self.marks.arrive(marks)

    def finish(self) -> None:
        """Say every row has arrived, wait for the copy, and raise what stopped it, if anything."""
        self.marks.end()
        self._thread.join()
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        """Stop before the last row: the thread ends without putting a copy in place (a CSV
        copy whose rows had all arrived is already complete, and stays)."""
        self.marks.end(complete=False)
        self._thread.join()
