"""One row's trip through the body stage: render the template, validate, translate for v3."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from merge.errors import TemplateError
from merge.payload.cell_checks import (
    DEFAULT_RULES,
    CellRules,
    decimal_comma_cells,
    placeholder_problems,
    with_did_you_mean,
)
from merge.payload.render import Rendered, Template, compile_template
from merge.payload.translate_v3 import translate
from merge.payload.validate import validate_payload
from merge.problems import Problem
from merge.sheets.sheet import Row, rows_from_frame

if TYPE_CHECKING:
    import pandas as pd

LAST_PART = re.compile(r"(\.[^.\[\]]+|\[\d+\])$")
PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


@dataclass(frozen=True, slots=True)
class Target:
    """The API the bodies are for: V2 (the contract), or v3 through a translation."""

    api: str = "v2"
    lossy: bool = False
    """For v3: drop (with a warning) V2 settings v3 cannot say, instead of refusing the row."""


V2 = Target()


@dataclass(frozen=True, slots=True)
class RowResult:
    """What became of one row: a valid body to send, or the problems that stop it."""

    row: int
    status: str
    payload: Any
    problems: list[Problem]
    warnings: list[Problem] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """Return the line written to payloads.jsonl."""
        line: dict[str, Any] = {"row": self.row, "status": self.status}
        if self.payload is not None:
            line["payload"] = self.payload
        line["problems"] = [p.as_dict() for p in self.problems]
        if self.warnings:
            line["warnings"] = [p.as_dict() for p in self.warnings]
        return line

    def messages(self) -> list[str]:
        """Say each problem as the user reads it, row number first."""
        return [f"row {self.row}, {p.describe()}" for p in self.problems]


def load_template(path: Path, columns: Sequence[str]) -> Template:
    """Read a template file and compile it against the sheet's columns."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise TemplateError(f"{path}: no such template", "check the path") from None
    except (OSError, UnicodeDecodeError) as error:
        raise TemplateError(
            f"{path}: cannot be read ({error})", "save the template as UTF-8 text"
        ) from None
    return compile_template(text, str(path), columns)


def check_row(
    template: Template, row: Row, target: Target = V2, rules: CellRules = DEFAULT_RULES
) -> RowResult:
    """Render one row and validate the body; every problem names its column where it can."""
    if not rules.allow_placeholders:
        found = placeholder_problems(row.values, sorted(template.columns), list(row.values))
        if found:
            row = replace(row, problems=row.problems + tuple(found))
    result = _check_row(template, row, target)
    if result.problems and rules.decimal_comma:
        fixed = decimal_comma_cells(result.problems, row.values)
        if fixed:
            result = _check_row(template, replace(row, values={**row.values, **fixed}), target)
    if result.problems:
        result.problems[:] = with_did_you_mean(result.problems)
    return result


def _check_row(template: Template, row: Row, target: Target) -> RowResult:
    rendered = template.render(row.values, row.number, row.raw)
    problems = list(row.problems) + rendered.problems
    payload = rendered.payload
    if payload is not None:
        checked = validate_payload(payload)
        failed = {p.path for p in rendered.problems}
        problems += [
            _attribute(p, template, rendered, row) for p in checked.problems if p.path not in failed
        ]
        if not problems:
            payload = checked.payload
    if problems or target.api == "v2":
        return RowResult(row.number, "invalid" if problems else "valid", payload, problems)
    return _for_v3(payload, target, template, rendered, row)


def _for_v3(
    payload: dict[str, Any], target: Target, template: Template, rendered: Rendered, row: Row
) -> RowResult:
    """Translate a valid body for v3; what v3 cannot say stops the row unless `lossy`."""
    translation = translate(payload)
    gaps = [_attribute(p, template, rendered, row) for p in translation.gaps]
    losses = [_attribute(p, template, rendered, row) for p in translation.losses]
    problems = gaps if target.lossy else gaps + losses
    warnings = losses if target.lossy else []
    if problems:
        return RowResult(row.number, "invalid", payload, problems, warnings)
    return RowResult(row.number, "valid", translation.body, [], warnings)


def render_rows(
    rows: Iterable[Row], template: Template, target: Target = V2
) -> Iterator[RowResult]:
    """Check rows one by one; a bad row is a result, never a stop."""
    for row in rows:
        yield check_row(template, row, target)


def render_frame(
    frame: pd.DataFrame, template: str | Path | Template, name: str = "template.json"
) -> list[RowResult]:
    """Render a DataFrame with a template (a path, its text, or a compiled one); touch no files."""
    columns = [str(c).strip() for c in frame.columns]
    if isinstance(template, Path):
        template = load_template(template, columns)
    elif isinstance(template, str):
        template = compile_template(template, name, columns)
    return list(render_rows(rows_from_frame(frame), template))


def _attribute(problem: Problem, template: Template, rendered: Rendered, row: Row) -> Problem:
    """Name the column (and placeholder) that fed the value a validation problem is about."""
    path = problem.path
    message = problem.message
    if path in rendered.blank and message == "is required":
        message = "is required but was left blank"
    source = _leaf_path(path, template, rendered.blank)
    if source is not None:
        leaf = template.leaves[source]
        column = ", ".join(leaf.columns) or None
        return Problem(path, message, column, leaf.source)
    if template.kind == "jinja":
        return Problem(path, message, _column_by_value(rendered.payload, path, row))
    return Problem(path, message)


def _leaf_path(path: str, template: Template, blank: frozenset[str]) -> str | None:
    if path in template.leaves:
        return path
    for removed in sorted(blank):
        if removed.startswith(path + ".") or removed.startswith(path + "["):
            return removed
    parent, cut = LAST_PART.subn("", path)
    while cut:
        if parent in template.leaves:
            return parent
        parent, cut = LAST_PART.subn("", parent)
    return None


def _column_by_value(payload: Any, path: str, row: Row) -> str | None:
    """Guess the column of a value in a whole-text template's output: the cell it equals."""
    value = payload
    for key, index in PATH_PART.findall(path):
        try:
            value = value[int(index)] if index else value[key]
        except (KeyError, IndexError, TypeError):
            return None
    text = value if isinstance(value, str) else None
    if text is None:
        return None
    matches = [name for name, cell in row.values.items() if cell and cell == text]
    return matches[0] if len(matches) == 1 else None
