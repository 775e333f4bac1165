"""What can be wrong with one row: a problem points at a JSON path and, where known, a column."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with one payload, in the user's terms."""

    path: str
    message: str
    column: str | None = None
    placeholder: str | None = None

    def describe(self) -> str:
        """Say the problem as one line: column first, then what, then where in the body."""
        where = f'column "{self.column}": ' if self.column else ""
        at = f" ({self.path})" if self.path else ""
        return f"{where}{self.message}{at}"

    def as_dict(self) -> dict[str, str]:
        """Return the JSON form used in payloads.jsonl, leaving out what is not known."""
        found = {"path": self.path, "column": self.column, "placeholder": self.placeholder}
        return {k: v for k, v in found.items() if v is not None} | {"message": self.message}


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Suggest the closest choice, as ` (did you mean "x"?)`, or nothing when none is close."""
    pool = list(choices)
    lowered = {choice.lower(): choice for choice in pool}
    if word.lower() in lowered:
        return f' (did you mean "{lowered[word.lower()]}"?)'
    close = difflib.get_close_matches(word, pool, n=1, cutoff=0.6)
    if not close:
        close = [c for c in pool if word.lower() in c.lower() or c.lower() in word.lower()][:1]
    return f' (did you mean "{close[0]}"?)' if close else ""


def json_path(parts: Iterable[str | int]) -> str:
    """Spell a location as `video_inputs[0].voice.speed`."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text
