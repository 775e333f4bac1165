"""One row's trip through the body stage: render the template, validate, translate for v3."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from merge.errors import TemplateError
from merge.payload.cell_checks import (
    DEFAULT_RULES,
    CellRules,
    decimal_comma_cells,
    placeholder_problems,
    with_did_you_mean,
)
from merge.payload.compiled import PlanBook
from merge.payload.encode import dumps_strict
from merge.payload.media import LocalFile, MediaFiles
from merge.payload.render import Rendered, Template, compile_template
from merge.payload.shape import ShapeValidator
from merge.payload.translate_v3 import is_v3_body, translate, with_engine
from merge.payload.v2_models import RequestBody
from merge.payload.validate import Validated, validate_payload, validate_v3_payload
from merge.problems import Problem
from merge.sheets.sheet import Row, rows_from_frame

if TYPE_CHECKING:
    import pandas as pd

LAST_PART = re.compile(r"(\.[^.\[\]]+|\[\d+\])$")
PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


ENGINES = ("avatar_iii", "avatar_iv", "avatar_v")
"""v3's avatar engines (`engine.type`); HeyGen uses avatar_iv when none is sent."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where the bodies go, decided once: the plan renders for it and the run's client sends to
    it, so a v3 body can never reach the V2 endpoint (nor the reverse)."""

    api: str = "v3"
    lossy: bool = False
    """For v3: drop (with a warning) V2 settings v3 cannot say, instead of refusing the row."""
    engine: str | None = None
    """For v3: the avatar engine of every avatar scene whose body names none (`--engine`)."""

    def __post_init__(self) -> None:
        if self.api not in ("v2", "v3"):
            raise ValueError(f"unknown API {self.api!r}: v2 or v3")
        if self.api == "v2" and (self.lossy or self.engine):
            raise ValueError("lossy and engine are v3 choices")
        if self.engine is not None and self.engine not in ENGINES:
            raise ValueError(f"unknown engine {self.engine!r}: one of {', '.join(ENGINES)}")


V2 = Target("v2")
V2_OF_V3 = (
    "this template is written in v3's language (a top-level type, no video_inputs): drop --api v2"
)
V3 = Target("v3")


@dataclass(frozen=True, slots=True)
class RowResult:
    """What became of one row: a valid body to send, or the problems that stop it."""

    row: int
    status: str
    payload: Any
    problems: list[Problem]
    warnings: list[Problem] = field(default_factory=list)
    files: dict[str, LocalFile] = field(default_factory=dict)
    """Local files the body names, by the token that stands for each until it is uploaded."""
    body: bytes | None = field(default=None, compare=False, repr=False)
    """The payload as JSON when it was made as bytes (merge.payload.compiled), else None; the
    payload itself is then None if check_row was asked not to read it back."""

    def as_json(self) -> dict[str, Any]:
        """Return the line written to payloads.jsonl."""
        line: dict[str, Any] = {"row": self.row, "status": self.status}
        if self.payload is not None:
            line["payload"] = self.payload
        line["problems"] = [p.as_dict() for p in self.problems]
        if self.warnings:
            line["warnings"] = [p.as_dict() for p in self.warnings]
        if self.files:
            line["files"] = {token: file.shown for token, file in self.files.items()}
        return line

    def json_line(self) -> bytes | None:
        """The payloads.jsonl line of a row whose body was made as bytes, without encoding it
        again (the same bytes as encoding `as_json()`); None for the others."""
        if self.body is None:
            return None
        return b'{"row":%d,"status":"valid","payload":%b,"problems":[]}' % (self.row, self.body)

    def messages(self) -> list[str]:
        """Say each problem as the user reads it, row number first."""
        return [f"row {self.row}, {p.describe()}" for p in self.problems]


MAX_TEMPLATE_BYTES = 256 * 1024
"""A template larger than this is refused: each row's body and review files would be as large."""


def load_template(path: Path, columns: Sequence[str]) -> Template:
    """Read a template file and compile it against the sheet's columns."""
    try:
        size = Path(path).stat().st_size
        if size > MAX_TEMPLATE_BYTES:
            raise TemplateError(
                f"{path}: is {size / 1024**2:,.1f} MB; a request template is at most"
                f" {MAX_TEMPLATE_BYTES // 1024} KB",
                "check this is the template (a body of a few scenes is a few KB)",
            )
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise TemplateError(f"{path}: no such template", "check the path") from None
    except (OSError, UnicodeDecodeError) as error:
        raise TemplateError(
            f"{path}: cannot be read ({error})", "save the template as UTF-8 text"
        ) from None
    return compile_template(text, str(path), columns)


def check_row(
    template: Template,
    row: Row,
    target: Target = V3,
    rules: CellRules = DEFAULT_RULES,
    media: MediaFiles | None = None,
    payload: bool = True,
) -> RowResult:
    """Render one row and validate the body; every problem names its column where it can.

    With `media`, local files in media fields are checked and stand as asset tokens in the body
    from here on (validation, translation, the journal's hash); submit uploads them.
    `payload=False`: a body made as bytes is not read back into `payload` (None then; the
    bytes are in `body`), for a caller that only writes the JSON.
    """
    if not rules.allow_placeholders:
        found = placeholder_problems(row.values, _in_order(template.columns), list(row.values))
        if found:
            row = replace(row, problems=row.problems + tuple(found))
    book = _plans(template, target) if not row.problems else None
    if book is not None:
        body = book.body(row.values, media is not None)
        if body is not None:
            return RowResult(
                row.number, "valid", orjson.loads(body) if payload else None, [], body=body
            )
    result = _check_row(template, row, target, media)
    if book is not None and result.status == "valid" and not (result.warnings or result.files):
        _learn(book, template, row, result.payload)
    if result.problems and rules.decimal_comma:
        fixed = decimal_comma_cells(result.problems, row.values)
        if fixed:
            values = {**row.values, **fixed}
            result = _check_row(template, replace(row, values=values), target, media)
    if result.problems:
        result.problems[:] = with_did_you_mean(result.problems)
    return result


@functools.lru_cache(maxsize=8)
def _in_order(columns: frozenset[str]) -> tuple[str, ...]:
    """The columns a template reads, in a steady order, sorted once per template."""
    return tuple(sorted(columns))


def _check_row(template: Template, row: Row, target: Target, media: MediaFiles | None) -> RowResult:
    rendered = template.render(row.values, row.number, row.raw)
    problems = list(row.problems) + rendered.problems
    payload = rendered.payload
    files: dict[str, LocalFile] = {}
    if payload is not None and media is not None:
        local = media.localise(payload)
        problems += [_attribute(p, template, rendered, row) for p in local.problems]
        files = local.files
    v3 = is_v3_body(payload)
    if v3 and target.api == "v2":
        problems.append(Problem("type", V2_OF_V3))
    elif payload is not None:
        # A body whose local files now stand as asset tokens has left the template's shape
        # (a path became an asset field), so it is validated whole, never by shape.
        if v3:
            checked = validate_v3_payload(payload)
        else:
            checked = (validate_payload if files else _validator(template))(payload)
        failed = {p.path for p in rendered.problems}
        problems += [
            _attribute(p, template, rendered, row) for p in checked.problems if p.path not in failed
        ]
        if not problems:
            payload = checked.payload
    if problems or target.api == "v2":
        status = "invalid" if problems else "valid"
        return RowResult(row.number, status, payload, problems, files=files)
    if v3:
        return RowResult(row.number, "valid", with_engine(payload, target.engine), [], files=files)
    return _for_v3(payload, target, template, rendered, row, files)


NOT_YET = object()
"""No book was made for this target yet (None: the template cannot have one)."""


def _plans(template: Template, target: Target) -> PlanBook | None:
    """The template's bodies as bytes for this target, once a V2 row has been validated by
    shape (a template in v3's language is validated whole, and has none)."""
    made = template.plans.get(target, NOT_YET)
    if made is not NOT_YET:
        return made  # type: ignore[no-any-return]
    book: PlanBook | None = None
    if template.plain:
        validator = getattr(template.validators.get(RequestBody), "__self__", None)
        if isinstance(validator, ShapeValidator) and validator.enabled:
            leaves = list(template.leaves.values())
            book = template.plans[target] = PlanBook(
                leaves, validator, target.api == "v3", target.engine
            )
    return book


def _learn(book: PlanBook, template: Template, row: Row, payload: Any) -> None:
    """Plan a valid row's kind from the body it became, when JSON can hold that body."""
    body = dumps_strict(payload)
    if body is not None:
        book.learn(row.values, template.render(row.values, row.number, row.raw).payload, body)


def _validator(template: Template) -> Callable[[object], Validated]:
    """The template's V2 validation: by shape for a JSON template, whole for a .json.j2 one.

    A body in v3's language is always validated whole (`validate_v3_payload`): its models'
    cross-field rules name no `rule_reads`, so by shape every row would be a structure of its
    own, slower than validating it whole. Such rows never reach this validator, so a template
    whose `type` is fed by a cell teaches it only its V2 rows.
    """
    validate = template.validators.get(RequestBody)
    if validate is None:
        if template.kind == "json":
            leaves = [leaf.parts for leaf in template.leaves.values()]
            validate = ShapeValidator(RequestBody, validate_payload, leaves).validate
        else:
            validate = validate_payload
        template.validators[RequestBody] = validate
    return validate


def _for_v3(
    payload: dict[str, Any],
    target: Target,
    template: Template,
    rendered: Rendered,
    row: Row,
    files: dict[str, LocalFile],
) -> RowResult:
    """Translate a valid body for v3; what v3 cannot say stops the row unless `lossy`."""
    translation = translate(payload, target.engine)
    gaps = [_attribute(p, template, rendered, row) for p in translation.gaps]
    losses = [_attribute(p, template, rendered, row) for p in translation.losses]
    problems = gaps if target.lossy else gaps + losses
    warnings = losses if target.lossy else []
    if problems:
        return RowResult(row.number, "invalid", payload, problems, warnings, files)
    return RowResult(row.number, "valid", translation.body, [], warnings, files)


def render_rows(
    rows: Iterable[Row], template: Template, target: Target = V3
) -> Iterator[RowResult]:
    """Check rows one by one; a bad row is a result, never a stop."""
    for row in rows:
        yield check_row(template, row, target)


def render_frame(
    frame: pd.DataFrame,
    template: str | Path | Template,
    name: str = "template.json",
    target: Target = V3,
) -> list[RowResult]:
    """Render a DataFrame with a template (a path, its text, or a compiled one); touch no files."""
    columns = [str(c).strip() for c in frame.columns]
    if isinstance(template, Path):
        template = load_template(template, columns)
    elif isinstance(template, str):
        template = compile_template(template, name, columns)
    return list(render_rows(rows_from_frame(frame), template, target))


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
