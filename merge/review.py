"""The review folder: every row's body and problems, and the input sheet marked row by row."""

from __future__ import annotations

import json
import os
from array import array
from bisect import bisect_left
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING

from merge.errors import OutputError
from merge.settings import PAYLOAD_FILE_DIGITS, STATUS_COLUMNS
from merge.sheet import SheetInfo, write_annotated

if TYPE_CHECKING:
    from merge.pipeline import RowResult

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


def payload_file_name(row: int) -> str:
    """Name a row's body file so rows sort in sheet order: row-0002.json."""
    return f"row-{row:0{PAYLOAD_FILE_DIGITS}d}.json"


class ReviewFolder:
    """Writes payloads.jsonl, payloads/row-NNNN.json and the marked copy of the input."""

    def __init__(self, path: Path, info: SheetInfo) -> None:
        self.path = path
        self.info = info
        self.annotated_path = path / info.path.name
        self.payloads = path / "payloads"
        self.annotations = Annotations()
        self._jsonl_temp = path / ".payloads.jsonl.tmp"
        self._jsonl: IO[str] | None = None

    @classmethod
    def prepare(cls, path: Path, info: SheetInfo) -> ReviewFolder:
        """Check the folder can be written and clear what an earlier run left, before any row."""
        folder = cls(Path(path), info)
        if folder.annotated_path.resolve() == info.path.resolve():
            raise OutputError(
                f"{path}: is the input's own folder; the marked copy would replace"
                f" {info.path.name}",
                "choose another output folder with -o, for example -o review",
            )
        try:
            folder.payloads.mkdir(parents=True, exist_ok=True)
            for stale in folder.payloads.glob("row-*.json"):
                stale.unlink()
            folder._jsonl = folder._jsonl_temp.open("w", encoding="utf-8", newline="\n")
        except OSError as error:
            raise OutputError(
                f"{path}: cannot write the review folder there ({error.strerror})",
                "choose a folder you can write to with -o",
            ) from None
        return folder

    def __enter__(self) -> ReviewFolder:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._jsonl is not None:
            self._jsonl.close()
            self._jsonl = None
            self._jsonl_temp.unlink(missing_ok=True)

    def add(self, results: Sequence[RowResult]) -> None:
        """Write a chunk of results: one JSON line each, and a readable file per valid body."""
        assert self._jsonl is not None
        lines = [json.dumps(r.as_json(), ensure_ascii=False) for r in results]
        try:
            self._jsonl.write("\n".join(lines) + "\n")
            for result in results:
                if result.status == "valid":
                    self._write_payload(result)
                errors = "; ".join(p.describe() for p in result.problems)
                self.annotations.add(result.row, result.status, errors)
        except OSError as error:
            raise OutputError(
                f"{self.path}: writing failed ({error.strerror})",
                "free some disk space or choose another folder with -o, then run again",
            ) from None

    def _write_payload(self, result: RowResult) -> None:
        text = json.dumps(result.payload, ensure_ascii=False, indent=2) + "\n"
        (self.payloads / payload_file_name(result.row)).write_text(text, encoding="utf-8")

    def finish(self) -> None:
        """Put payloads.jsonl in place and write the marked copy of the input."""
        assert self._jsonl is not None
        self._jsonl.close()
        self._jsonl = None
        os.replace(self._jsonl_temp, self.path / "payloads.jsonl")
        write_annotated(self.info, self.annotated_path, STATUS_COLUMNS, self.annotations)
