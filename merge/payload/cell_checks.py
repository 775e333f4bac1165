"""Pure: what a row's cells say that the template cannot see: placeholders and decimal commas.

A cell holding `Hi {{ First Name }}` or `Hi [First Name]` was meant to be filled in: the video
would read the braces aloud, so such a row is refused unless the user allows it. Cells are never
evaluated either way. A European `1,2` in a number field gets a did-you-mean, and is read as 1.2
with `--decimal-comma` (on by itself for `;`-delimited files, the usual European export).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from merge.problems import Problem

JINJA_MARK = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
BRACKETED = re.compile(r"\[([^\[\]\n]{1,60})\]|«([^«»\n]{1,60})»")
DECIMAL_COMMA = re.compile(r"[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+),\d+")
NOT_A_NUMBER = re.compile(r'"([^"]*)" is not (?:a number|a whole number)|^(.*) is not a number')
ALLOW_HINT = "fill it in, or add --allow-placeholders if the text is meant to be spoken so"


class _SheetLike(Protocol):
    @property
    def delimiter(self) -> str | None: ...


@dataclass(frozen=True)
class CellRules:
    """How a row's cells are read: placeholders refused or allowed, decimal commas or not."""

    allow_placeholders: bool = False
    decimal_comma: bool | None = None
    """None: on for `;`-delimited text files only."""

    def for_sheet(self, info: _SheetLike) -> CellRules:
        """Settle the automatic choices for one input."""
        if self.decimal_comma is not None:
            return self
        return replace(self, decimal_comma=info.delimiter == ";")


DEFAULT_RULES = CellRules(decimal_comma=False)


SQUASHED = re.compile(r"[\s_\-]+")


def _squash(name: str) -> str:
    return SQUASHED.sub("", name).lower()


@functools.lru_cache(maxsize=8)
def _squashed_names(columns: tuple[str, ...]) -> frozenset[str]:
    return frozenset(_squash(c) for c in columns)


def placeholder_problems(
    values: Mapping[str, str], read: Sequence[str] | frozenset[str], columns: Sequence[str]
) -> list[Problem]:
    """Refuse cells the template reads that hold a placeholder instead of their text."""
    together = "\n".join([values.get(column, "") for column in read])
    if "{" not in together and "[" not in together and "«" not in together:
        return []  # the usual row: one look at all its cells
    found = []
    for column in read:
        cell = values.get(column, "")
        if "{" not in cell and "[" not in cell and "«" not in cell:
            continue
        mark = JINJA_MARK.search(cell)
        if mark is None:
            mark = next(
                (
                    m
                    for m in BRACKETED.finditer(cell)
                    if _squash(m.group(1) or m.group(2) or "") in _squashed_names(tuple(columns))
                ),
                None,
            )
        if mark is not None:
            found.append(
                Problem(
                    "",
                    f"the cell holds the placeholder {mark.group(0)}, which the video would read"
                    f" aloud as written ({ALLOW_HINT})",
                    column,
                )
            )
    return found


def as_decimal_point(text: str) -> str | None:
    """Turn `1,2` or `1.234,5` into `1.2` or `1234.5`; None when the text is no such number."""
    stripped = text.strip()
    if not DECIMAL_COMMA.fullmatch(stripped):
        return None
    return stripped.replace(".", "").replace(",", ".")


def decimal_comma_cells(problems: Sequence[Problem], values: Mapping[str, str]) -> dict[str, str]:
    """The cells whose decimal comma made a number field fail, written with a decimal point."""
    failing = set()
    for problem in problems:
        match = NOT_A_NUMBER.search(problem.message)
        if match:
            failing.add((match.group(1) or match.group(2) or "").strip('"'))
    fixed = {}
    for column, cell in values.items():
        if cell.strip() in failing and (point := as_decimal_point(cell)) is not None:
            fixed[column] = point
    return fixed


def with_did_you_mean(problems: Sequence[Problem]) -> list[Problem]:
    """Add `did you mean 1.2?` to a number field's problem when its text has a decimal comma."""
    out = []
    for problem in problems:
        match = NOT_A_NUMBER.search(problem.message)
        value = (match.group(1) or match.group(2) or "").strip('"') if match else ""
        point = as_decimal_point(value) if value else None
        if point is not None:
            problem = replace(
                problem,
                message=f"{problem.message} (did you mean {point}? --decimal-comma reads {value}"
                f" as {point})",
            )
        out.append(problem)
    return out
