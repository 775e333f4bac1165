"""Pure: a template and one row's cells become one request body; cell text is data, never code."""

from __future__ import annotations

import contextlib
import json
import operator
import re
import signal
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import TemplateError as JinjaError
from jinja2.sandbox import SandboxedEnvironment

from merge.errors import TemplateError
from merge.payload.template_keys import unknown_keys
from merge.problems import Problem, did_you_mean, json_path
from merge.settings import RESERVED_NAMES

Path_ = tuple[str | int, ...]
PROG_NAME = "avatar-merge"
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


MAX_RENDERED_CHARS = 1024**2
"""A row's rendered text (any value, or a whole body) longer than this is refused."""
MAX_RENDER_SECONDS = 2.0
"""One row's render taking longer than this (nested loops, say) is stopped and refused."""


class TooCostly(ValueError):
    """A template asked for more memory or time than any request body needs."""


class BoundedSandbox(SandboxedEnvironment):
    """The Jinja sandbox, with `*` and `**` kept from making huge values (`'x' * 10**10`)."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for text, times in ((left, right), (right, left)):
                sized = isinstance(text, str | list | tuple) and isinstance(times, int)
                if sized and len(text) * times > MAX_RENDERED_CHARS:
                    raise TooCostly(f"a value of {len(text) * times:,} items is too large")
        huge = isinstance(right, int | float) and abs(right) > 64
        if operator == "**" and huge and (not isinstance(left, int | float) or abs(left) > 1):
            raise TooCostly(f"a power of {right} is too large")
        return super().call_binop(context, operator, left, right)


def bounded_render(compiled: Any, context: Context) -> str:
    """Render a compiled template, stopping past MAX_RENDERED_CHARS or MAX_RENDER_SECONDS."""
    pieces: list[str] = []
    size = 0
    for piece in compiled.generate(context):
        size += len(piece)
        if size > MAX_RENDERED_CHARS:
            raise TooCostly(f"the rendered text is longer than {MAX_RENDERED_CHARS:,} chars")
        pieces.append(piece)
    return "".join(pieces)


_ARMED: list[float] = []
"""The deadline armed now (its seconds), if any; SIGALRM outside one does nothing."""


def _expired(*_: Any) -> None:
    if _ARMED:
        raise TooCostly(f"rendering one row took over {_ARMED[-1]:g} s")


@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Interrupt work on the main thread after `seconds` (elsewhere, only the size bounds hold).

    Two timer calls per row; the handler is installed once and stays, doing nothing unarmed.
    """
    main = threading.current_thread() is threading.main_thread()
    if not main or not hasattr(signal, "setitimer"):
        yield
        return
    if signal.getsignal(signal.SIGALRM) is not _expired:
        signal.signal(signal.SIGALRM, _expired)
    _ARMED.append(seconds)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        _ARMED.pop()


def make_environment() -> SandboxedEnvironment:
    """Build the sandboxed Jinja environment every template runs in."""
    env = BoundedSandbox(undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False)
    env.globals.pop("lipsum", None)  # lipsum(10**9) would fill memory
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
    parts: Path_ = ()
    """The path as keys and indexes, for walking a body to this leaf."""


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
    _loops: bool = False
    """Whether the template has {% %} statements, whose time is bounded row by row."""
    validators: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)
    """Per-template validation state (see merge.payload.shape), one per model class."""
    plans: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)
    """Per-template bodies as bytes (see merge.payload.compiled), one book per target."""

    @property
    def plain(self) -> bool:
        """Whether every leaf is text and plain column references (no filters, no blocks)."""
        return self.kind == "json" and not self._needs_context and not self._loops

    def render(
        self, values: Mapping[str, str], number: int, raw: Mapping[str, str] | None = None
    ) -> Rendered:
        """Render one row; a failure becomes a problem of that row, never an exception.

        `raw` holds the stored value of cells whose number format shows them otherwise.
        """
        if not self._loops:
            return self._render(values, number, raw)
        try:
            with _deadline(MAX_RENDER_SECONDS):
                return self._render(values, number, raw)
        except TooCostly as error:
            return Rendered(None, [Problem("", f"the template could not be rendered: {error}")])

    def _render(
        self, values: Mapping[str, str], number: int, raw: Mapping[str, str] | None = None
    ) -> Rendered:
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
        raise json_mistake(error, name) from None
    if not isinstance(skeleton, dict):
        raise TemplateError(
            f"{name}: the template must be a JSON object (the request body), not"
            f" {_json_kind(skeleton)}",
            'start it with {"video_inputs": [...]}',
        )
    _refuse_unknown_keys(skeleton, text, name)
    leaves: dict[str, Leaf] = {}
    unknown: list[Unknown] = []
    build = _compile_node(skeleton, (), text, name, columns, leaves, unknown)
    _refuse_unknown(unknown, name, columns)
    used = frozenset(c for leaf in leaves.values() for c in leaf.columns)
    needs_context = any(not leaf.fast for leaf in leaves.values())
    loops = any("{%" in leaf.source for leaf in leaves.values())
    return Template(name, "json", used, leaves, (), build, None, needs_context, loops)


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
        except (
            JinjaError,
            ValueError,
            TypeError,
            ArithmeticError,
            LookupError,
            MemoryError,
        ) as error:
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
        ast = ENV.parse(spaced_names(source, columns))
    except TemplateSyntaxError as error:
        line = _line_of(source, text)
        raise TemplateError(
            f"{name}: line {line}: placeholder mistake in {where}: {_plain(error.message)}"
            f" ({source!r})",
            "check the {{ }} and {% %} pairs; a column name with spaces is written as it is,"
            " {{ First Name }}",
        ) from None
    source_written, source = source, spaced_names(source, columns)
    used = _columns_used(ast)
    unknown.extend(Unknown(u, where, source_written) for u in _unknown_names(ast, used, columns))
    used_columns = tuple(c for c in used if c in columns)
    single = _single_expression_node(ast)
    fast = _fast_render(ast, single)
    render = fast or _jinja_render(source, single)
    return Leaf(
        where, source_written, used_columns, single is not None, fast is not None, render, path
    )


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
    text = ""
    columns: list[str] = []
    for node in ast.body[0].nodes:
        if isinstance(node, nodes.TemplateData):
            text += node.data.replace("{", "{{").replace("}", "}}")
            continue
        column = _column_of(node)
        if column is None:
            return None
        text += "{}"
        columns.append(column)
    if len(columns) < 2:  # itemgetter of one name gives the cell itself, not a tuple
        return lambda values, _context: text.format(*(values[c] for c in columns))
    cells = operator.itemgetter(*columns)
    return lambda values, _context: text.format(*cells(values))


def _jinja_render(
    source: str, single: nodes.Expr | None
) -> Callable[[Mapping[str, str], Context], Any]:
    if single is not None:
        match = SINGLE_EXPRESSION.match(source)
        if match:
            expression = ENV.compile_expression(match.group(1), undefined_to_none=False)
            return lambda _values, context: _native(expression(**context))
    compiled = ENV.from_string(source)
    return lambda _values, context: bounded_render(compiled, context)


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
        return f" (did you mean {{{{ {match} }}}}?)"
    return did_you_mean(missing, columns)


JINJA_WORDS = frozenset(
    {"if", "else", "and", "or", "not", "in", "is", "for", "true", "false", "none", "True", "False"}
    | {"None"}
)
SPACED_NAME = re.compile(r"^[^\W\d][\w.'’&/-]*(?: +[\w.'’&/-]+)+$")
PLACEHOLDER_PARTS = re.compile(r"\{\{(-?)(\s*)(.*?)(\s*)(-?)\}\}", re.DOTALL)


def spaced_names(source: str, columns: Sequence[str]) -> str:
    """Read `{{First Name}}` and `{{ First Name | upper }}` as the column "First Name".

    Mail-merge users write fields as the header reads; Jinja would see two names. Only a
    placeholder whose text before any `|` is a column, or reads like a spaced name (not Jinja:
    no operator, no keyword), is rewritten, to `row["First Name"]`.
    """
    if "{{" not in source:
        return source

    def rewrite(match: re.Match[str]) -> str:
        head, bar, rest = match.group(3).partition("|")
        name = head.strip()
        if name.isidentifier() or not _reads_as_a_name(name, columns):
            return match.group(0)
        return (
            f"{{{{{match.group(1)}{match.group(2)}row[{json.dumps(name)}] {bar}{rest}"
            f"{match.group(4)}{match.group(5)}}}}}"
        )

    return PLACEHOLDER_PARTS.sub(rewrite, source)


def _reads_as_a_name(name: str, columns: Sequence[str]) -> bool:
    if name in columns:
        return True
    return bool(SPACED_NAME.match(name)) and not (set(name.split()) & JINJA_WORDS)


JINJA_PHRASES = (
    ("unexpected end of template", "a placeholder or block is not closed"),
    ("expected token 'end of print statement'", "a {{ }} holds more than one name or value"),
    ("unexpected '}'", "a } too many"),
    ("unexpected char", "an unexpected character"),
    ("Encountered unknown tag", "unknown block"),
)


def _plain(message: str | None) -> str:
    """Say Jinja's parser message in the user's words where we know them."""
    message = message or "cannot be read"
    for phrase, plain in JINJA_PHRASES:
        if message.startswith(phrase):
            return f"{plain} ({message})" if plain == "unknown block" else plain
    return message


JSON_PHRASES = {
    "Expecting value": "a value is missing here (text in double quotes, a number, true, false,"
    " null, {...} or [...])",
    "Expecting ',' delimiter": "a comma is missing before this",
    "Expecting ':' delimiter": "a colon is missing after the key",
    "Expecting property name enclosed in double quotes": "a key must be written in double quotes",
    "Unterminated string starting at": "this text has no closing double quote",
    "Invalid control character at": "a line break or tab inside a text: write \\n or \\t instead",
    "Extra data": "something follows the end of the template's { }",
    "Invalid \\escape": "a backslash that JSON does not know: write \\\\ for one backslash",
}


def json_mistake(error: json.JSONDecodeError, name: str) -> TemplateError:
    """Say where a template is not JSON, and what to change, in plain words."""
    before = error.doc[: error.pos].rstrip()
    if before.endswith(",") and error.doc[error.pos : error.pos + 1] in "}]":
        at = len(before) - 1
        line = error.doc.count("\n", 0, at) + 1
        column = at - (error.doc.rfind("\n", 0, at) + 1) + 1
        said = "a comma after the last item: JSON allows none there; remove it"
    else:
        line, column = error.lineno, error.colno
        said = JSON_PHRASES.get(error.msg, error.msg)
    return TemplateError(
        f"{name}: line {line}, column {column}: {said}",
        "a template is a JSON document shaped like the request body; for loops, write a"
        " .json.j2 template",
    )


def _refuse_unknown_keys(skeleton: dict[str, Any], text: str, name: str) -> None:
    """Stop on a key the request body does not have (a typo), once, as the template's mistake."""
    if "video_inputs" not in skeleton:
        return
    unknown = unknown_keys(skeleton)
    if not unknown:
        return
    lines = "\n".join(f"  {key.describe(text)}" for key in unknown)
    raise TemplateError(
        f"{name}: {len(unknown)} key(s) the request body does not have:\n{lines}",
        f"fix the template's key(s); `{PROG_NAME} schema` lists every field",
    )


def _compile_whole(text: str, name: str, columns: Sequence[str]) -> Template:
    try:
        ast = ENV.parse(spaced_names(text, columns))
        compiled = ENV.from_string(spaced_names(text, columns))
    except TemplateSyntaxError as error:
        raise TemplateError(
            f"{name}: line {error.lineno}: placeholder mistake: {_plain(error.message)}",
            "check the {{ }} and {% %} pairs on that line",
        ) from None
    used = _columns_used(ast)
    missing = _unknown_names(ast, used, columns)
    if missing:
        lines = [f'  "{m}"{_suggest(m, columns)}' for m in missing]
        raise TemplateError(
            f"{name}: the template names column(s) the sheet does not have:\n" + "\n".join(lines),
            f"the sheet's columns are: {_some(columns)}",
        )
    return Template(
        name,
        "jinja",
        frozenset(c for c in used if c in columns),
        warnings=tuple(_unescaped_placeholders(text, name)),
        _whole=compiled,
        _needs_context=True,
        _loops="{%" in text,
    )


def _some(columns: Sequence[str], shown: int = 40) -> str:
    """Name the first columns, and say how many more there are."""
    more = f", and {len(columns) - shown:,} more" if len(columns) > shown else ""
    return ", ".join(columns[:shown]) + more


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
        text = bounded_render(compiled, context)
    except (JinjaError, ValueError, TypeError, ArithmeticError, LookupError, MemoryError) as error:
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
