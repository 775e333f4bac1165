"""Check request bodies made elsewhere: .json files, or .jsonl files with one body per line."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from merge.errors import MergeError
from merge.payload.translate_v3 import is_v3_body
from merge.payload.validate import validate_payload, validate_v3_payload
from merge.problems import Problem


@dataclass(frozen=True)
class BodyVerdict:
    """The verdict on one body: where it came from and what is wrong with it."""

    file: Path
    line: int | None
    problems: list[Problem]

    @property
    def valid(self) -> bool:
        """True when the body can be sent as it is."""
        return not self.problems

    def where(self) -> str:
        """Say where the body is: `file` or `file:line`."""
        return f"{self.file}:{self.line}" if self.line is not None else str(self.file)

    def as_json(self) -> dict[str, Any]:
        """Return the object printed by `validate --json`."""
        found: dict[str, Any] = {"file": str(self.file)}
        if self.line is not None:
            found["line"] = self.line
        found["valid"] = self.valid
        found["problems"] = [{"path": p.path, "message": p.message} for p in self.problems]
        return found


def validate_files(paths: Sequence[Path]) -> list[BodyVerdict]:
    """Check every body in the files, in order; a file that cannot be read stops the run."""
    verdicts: list[BodyVerdict] = []
    for path in paths:
        verdicts.extend(_verdicts_of(Path(path)))
    return verdicts


def _verdicts_of(path: Path) -> Iterator[BodyVerdict]:
    text = _read(path)
    if path.suffix.lower() == ".jsonl":
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                yield BodyVerdict(path, number, _problems_of(line))
    else:
        yield BodyVerdict(path, None, _problems_of(text))


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise MergeError(f"{path}: no such file", "check the path") from None
    except IsADirectoryError:
        raise MergeError(f"{path}: is a folder", "name the .json or .jsonl files") from None
    except (OSError, UnicodeDecodeError) as error:
        raise MergeError(f"{path}: cannot be read ({error})", "save it as UTF-8 JSON") from None


def _problems_of(text: str) -> list[Problem]:
    try:
        body = json.loads(text)
    except json.JSONDecodeError as error:
        where = f"line {error.lineno}, column {error.colno}"
        return [Problem("", f"not valid JSON at {where}: {error.msg}")]
    if is_v3_body(body):  # a v3 body (a top-level type, no video_inputs) is checked as v3
        return validate_v3_payload(body).problems
    return validate_payload(body).problems
