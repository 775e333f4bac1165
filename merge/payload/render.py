"""Pure: a template and one row's cells become one request body; cell text is data, never code."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import TemplateError as JinjaError
from jinja2.sandbox import SandboxedEnvironment

from merge.errors import TemplateError
from merge.problems import Problem, did_you_mean, json_path
from merge.settings import RESERVED_NAMES

Path_ = tuple[str | int, ...]
Context = Mapping[str, Any]

JINJA_MARKS = ("{{", "{%", "{#")
SINGLE_EXPRESSION = re.compile(r"^\{\{[-+]?(.*?)[-+]?\}\}$", re.DOTALL)
PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


def _strict_number(kind: type[int] | type[float]) -> Callable[..., Any]:
    """Make a filter that refuses text that is not a number, instead of Jinja's silent 0."""

    def convert(value: Any, *_: Any, **__: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return ""
        if isinstance(value, bool):
            return kind(value)
        try:
            number = float(value) if isinstance(value, str) else value
            if kind is int:
                if float(number) != int(float(number)):
                    raise ValueError
                return int(float(number))
            return float(number)
        except (TypeError, ValueError):
            noun = "a whole number" if kind is int else "a number"
            raise ValueError(f'"{value}" is not {noun}') from None

    return convert


def make_environment() -> SandboxedEnvironment:
    """Build the sandboxed Jinja environment every template runs in."""
    env = SandboxedEnvironment(
        undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False
    )
    env.filters["int"] = _strict_number(int)
    env.filters["float"] = _strict_number(float)
    return env


ENV = make_environment()


@dataclass(frozen=True, slots=True)
class Leaf:
    """One templated string of a JSON template, compiled once."""

    path: str
    source: str
    columns: tuple[str, ...]
    single: bool
    fast: bool
    render: Callable[[Mapping[str, str], Context], Any]


@dataclass(frozen=True, slots=True)
class Rendered:
    """One row's body (None when it could not be made) and what went wrong making it."""

    payload: Any
    problems: list[Problem]
    blank: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Template:
    """A loaded template: a JSON skeleton with templated leaves, or a whole-text Jinja body."""

    name: str
    kind: str
    columns: frozenset[str]
    leaves: Mapping[str, Leaf] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    _build: Any = None
    _whole: Any = None
    _needs_context: bool = False

    def render(
        self, values: Mapping[str, str], number: int, raw: Mapping[str, str] | None = None
    ) -> Rendered:
        """Render one row; a failure becomes a problem of that row, never an exception.

        `raw` holds the stored value of cells whose number format shows them otherwise.
        """
        context: Context = (
            {**values, "row": values, "row_number": number, "raw": {**values, **(raw or {})}}
            if self._needs_context
            else values
        )
        if self.kind == "jinja":
            return _render_whole(self._whole, context)
        problems: list[Problem] = []
        blank: set[str] = set()
        payload = self._build(values, context, problems, blank)
        return Rendered(payload, problems, frozenset(blank))


class Unknown(NamedTuple):
    """A placeholder naming no column: the name, where in the template, and the text it is in."""

    name: str
    where: str
    source: str


def compile_template(text: str, name: str, columns: Sequence[str]) -> Template:
    """Compile a template's text against the sheet's columns, refusing unknown placeholders."""
    if name.endswith(".j2"):
        return _compile_whole(text, name, columns)
    try:
        skeleton = json.loads(text)
    except json.JSONDecodeError as error:
        raise TemplateError(
            f"{name}: line {error.lineno}, column {error.colno}: not valid JSON ({error.msg})",
            "a template is a JSON document shaped like the V2 request body;"
            " for loops, write a .json.j2 template",
        ) from None
    if not isinstance(skeleton, dict):
        raise TemplateError(
            f"{name}: the template must be a JSON object (the request body), not"
            f" {_json_kind(skeleton)}",
            'start it with {"video_inputs": [...]}',
        )
    leaves: dict[str, Leaf] = {}
    unknown: list[Unknown] = []
    build = _compile_node(skeleton, (), text, name, columns, leaves, unknown)
    _refuse_unknown(unknown, name, columns)
    used = frozenset(c for leaf in leaves.values() for c in leaf.columns)
    needs_context = any(not leaf.fast for leaf in leaves.values())
    return Template(name, "json", used, leaves, (), build, None, needs_context)


def _json_kind(value: Any) -> str:
    return {list: "a list", str: "a string", bool: "true/false"}.get(type(value), "a number")


def _compile_node(
    node: Any,
    path: Path_,
    text: str,
    name: str,
    columns: Sequence[str],
    leaves: dict[str, Leaf],
    unknown: list[Unknown],
) -> Callable[..., Any]:
    """Turn a JSON node into a builder; untemplated subtrees are returned as they are."""
    if isinstance(node, str) and any(mark in node for mark in JINJA_MARKS):
        leaf = _compile_leaf(node, path, text, name, columns, unknown)
        leaves[leaf.path] = leaf
        return _leaf_builder(leaf)
    if isinstance(node, dict):
        parts = [
            (key, _compile_node(value, (*path, key), text, name, columns, leaves, unknown))
            for key, value in node.items()
        ]
        singles = {key for key, builder in parts if getattr(builder, "single", False)}
        if all(getattr(b, "static", False) for _, b in parts):
            return _static(node)
        return _dict_builder(parts, singles, path)
    if isinstance(node, list):
        items = [
            _compile_node(v, (*path, i), text, name, columns, leaves, unknown)
            for i, v in enumerate(node)
        ]
        if all(getattr(b, "static", False) for b in items):
            return _static(node)
        return lambda v, c, p, b: [item(v, c, p, b) for item in items]
    return _static(node)


def _static(node: Any) -> Callable[..., Any]:
    def build(*_: Any) -> Any:
        return node

    build.static = True  # type: ignore[attr-defined]
    return build


class _Failed:
    """Marks a leaf that could not be rendered for this row."""


FAILED = _Failed()


def _leaf_builder(leaf: Leaf) -> Callable[..., Any]:
    def build(
        values: Mapping[str, str], context: Context, problems: list[Problem], blank: set[str]
    ) -> Any:
        try:
            return leaf.render(values, context)
        except (JinjaError, ValueError, TypeError, ArithmeticError, LookupError) as error:
            column = leaf.columns[0] if len(leaf.columns) == 1 else None
            problems.append(
                Problem(leaf.path, f"{leaf.source} could not be rendered: {error}", column)
            )
            return FAILED

    build.single = leaf.single  # type: ignore[attr-defined]
    return build


def _dict_builder(
    parts: list[tuple[str, Callable[..., Any]]], singles: set[str], path: Path_
) -> Callable[..., Any]:
    prefix = json_path(path)

    def build(
        values: Mapping[str, str], context: Context, problems: list[Problem], blank: set[str]
    ) -> Any:
        out: dict[str, Any] = {}
        for key, builder in parts:
            value = builder(values, context, problems, blank)
            if value is FAILED:
                continue
            if key in singles and (value is None or value == ""):
                blank.add(f"{prefix}.{key}" if prefix else key)
                continue
            out[key] = value
        return out

    return build


def _compile_leaf(
    source: str, path: Path_, text: str, name: str, columns: Sequence[str], unknown: list[Unknown]
) -> Leaf:
    where = json_path(path)
    try:
        ast = ENV.parse(source)
    except TemplateSyntaxError as error:
        line = _line_of(source, text)
        raise TemplateError(
            f"{name}: line {line}: template syntax error in {where}: {error.message} ({source!r})",
            "check the {{ }} and {% %} pairs; column names with spaces are written"
            ' row["Column Name"]',
        ) from None
    used = _columns_used(ast)
    unknown.extend(Unknown(u, where, source) for u in _unknown_names(ast, used, columns))
    used_columns = tuple(c for c in used if c in columns)
    single = _single_expression_node(ast)
    fast = _fast_render(ast, single)
    render = fast or _jinja_render(source, single)
    return Leaf(where, source, used_columns, single is not None, fast is not None, render)


def _line_of(source: str, text: str) -> int:
    at = text.find(json.dumps(source)[1:-1])
    return text.count("\n", 0, at) + 1 if at >= 0 else 1


def _single_expression_node(ast: nodes.Template) -> nodes.Expr | None:
    if len(ast.body) == 1 and isinstance(ast.body[0], nodes.Output):
        parts = ast.body[0].nodes
        if len(parts) == 1 and not isinstance(parts[0], nodes.TemplateData):
            return parts[0]
    return None


def _column_of(node: nodes.Node) -> str | None:
    """Name the column a bare `{{ name }}` or `{{ row["Name"] }}` reads, else None."""
    if isinstance(node, nodes.Name) and node.ctx == "load" and node.name not in RESERVED_NAMES:
        return str(node.name)
    if (
        isinstance(node, nodes.Getitem)
        and isinstance(node.node, nodes.Name)
        and node.node.name == "row"
        and isinstance(node.arg, nodes.Const)
        and isinstance(node.arg.value, str)
    ):
        return str(node.arg.value)
    return None


def _fast_render(
    ast: nodes.Template, single: nodes.Expr | None
) -> Callable[[Mapping[str, str], Context], Any] | None:
    """Skip Jinja for text made only of literals and bare column references (the common case)."""
    if single is not None:
        name = _column_of(single)
        if name is None:
            return None
        return lambda values, _context: values[name]
    if len(ast.body) != 1 or not isinstance(ast.body[0], nodes.Output):
        return None
    pieces: list[tuple[bool, str]] = []
    for node in ast.body[0].nodes:
        if isinstance(node, nodes.TemplateData):
            pieces.append((False, node.data))
            continue
        column = _column_of(node)
        if column is None:
            return None
        pieces.append((True, column))
    return lambda values, _context: "".join(values[t] if is_col else t for is_col, t in pieces)


def _jinja_render(
    source: str, single: nodes.Expr | None
) -> Callable[[Mapping[str, str], Context], Any]:
    if single is not None:
        match = SINGLE_EXPRESSION.match(source)
        if match:
            expression = ENV.compile_expression(match.group(1), undefined_to_none=False)
            return lambda _values, context: _native(expression(**context))
    compiled = ENV.from_string(source)
    return lambda _values, context: compiled.render(context)


def _native(value: Any) -> Any:
    if isinstance(value, StrictUndefined):
        str(value)  # raises UndefinedError naming what was undefined
    return value


def _columns_used(ast: nodes.Template) -> list[str]:
    found: list[str] = []
    for node in ast.find_all((nodes.Name, nodes.Getitem)):
        column = _column_of(node)
        if column is not None and column not in found:
            if isinstance(node, nodes.Name) and column not in meta.find_undeclared_variables(ast):
                continue
            found.append(column)
    return found


def _unknown_names(ast: nodes.Template, used: list[str], columns: Sequence[str]) -> list[str]:
    declared = meta.find_undeclared_variables(ast) - RESERVED_NAMES - set(ENV.globals)
    indexed = {c for c in used if c not in declared}
    return sorted(n for n in declared | indexed if n not in columns)


def _refuse_unknown(unknown: list[Unknown], name: str, columns: Sequence[str]) -> None:
    if not unknown:
        return
    lines = []
    for missing, where, source in unknown:
        lines.append(f'  {where}: {source} names no column "{missing}"{_suggest(missing, columns)}')
    listing = ", ".join(columns)
    raise TemplateError(
        f"{name}: {len(lines)} placeholder(s) name a column the sheet does not have:\n"
        + "\n".join(lines),
        f"the sheet's columns are: {listing}",
    )


def _suggest(missing: str, columns: Sequence[str]) -> str:
    squashed = {re.sub(r"[\s_\-]+", "", c).lower(): c for c in columns}
    match = squashed.get(re.sub(r"[\s_\-]+", "", missing).lower())
    if match and not match.isidentifier():
        return f' (did you mean row["{match}"]?)'
    return did_you_mean(missing, columns)


def _compile_whole(text: str, name: str, columns: Sequence[str]) -> Template:
    try:
        ast = ENV.parse(text)
        compiled = ENV.from_string(text)
    except TemplateSyntaxError as error:
        raise TemplateError(
            f"{name}: line {error.lineno}: template syntax error: {error.message}",
            "check the {{ }} and {% %} pairs on that line",
        ) from None
    used = _columns_used(ast)
    missing = _unknown_names(ast, used, columns)
    if missing:
        lines = [f'  "{m}"{_suggest(m, columns)}' for m in missing]
        raise TemplateError(
            f"{name}: the template names column(s) the sheet does not have:\n" + "\n".join(lines),
            f"the sheet's columns are: {', '.join(columns)}",
        )
    return Template(
        name,
        "jinja",
        frozenset(c for c in used if c in columns),
        warnings=tuple(_unescaped_placeholders(text, name)),
        _whole=compiled,
        _needs_context=True,
    )


def _unescaped_placeholders(text: str, name: str) -> Iterator[str]:
    """Warn about `{{ x }}` without `| tojson`: a quote or line break in a cell breaks the JSON."""
    for match in PLACEHOLDER.finditer(text):
        if "tojson" not in match.group(1):
            line = text.count("\n", 0, match.start()) + 1
            yield (
                f"{name}: line {line}: {match.group(0)} is inserted without | tojson;"
                " a quote or line break in a cell would break the JSON"
            )


def _render_whole(compiled: Any, context: Context) -> Rendered:
    try:
        text = compiled.render(context)
    except (JinjaError, ValueError, TypeError, ArithmeticError, LookupError) as error:
        return Rendered(None, [Problem("", f"the template could not be rendered: {error}")])
    try:
        return Rendered(json.loads(text), [])
    except json.JSONDecodeError as error:
        start = max(error.pos - 30, 0)
        near = text[start : error.pos + 30]
        message = (
            f"the rendered template is not valid JSON at line {error.lineno}, column"
            f" {error.colno}: {error.msg} (near {near!r})"
        )
        return Rendered(None, [Problem("", message)])
