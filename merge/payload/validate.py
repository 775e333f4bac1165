"""Check a rendered payload against the V2 contract and say what is wrong in the user's terms.

Pure: no pandas, openpyxl, httpx or tqdm. The models in `v2_models` hold the rules; this module runs
them once per payload and turns pydantic's errors into `Problem`s whose paths are
the real JSON paths (tagged-union tags stripped) and whose messages show the offending value.
"""

from __future__ import annotations

import functools
import json
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from merge.payload.v2_models import (
    CUSTOM_ERROR_TYPES,
    HEX_COLOUR_PATTERN,
    MAX_SCENES,
    NON_BLANK_PATTERN,
    BodyJsonSchema,
    RequestBody,
)
from merge.problems import Problem, did_you_mean, json_path

__all__ = ["Validated", "json_schema", "validate_payload", "validate_v3_payload"]


@dataclass(frozen=True, slots=True)
class Validated:
    """The outcome for one payload: the body as it will be sent, or every problem with it."""

    payload: dict[str, Any] | None
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        """Say whether the payload can be sent."""
        return self.payload is not None


_VALIDATE = RequestBody.__pydantic_validator__.validate_python
_DUMP = RequestBody.__pydantic_serializer__.to_python


def validate_payload(payload: object) -> Validated:
    """Validate one request body, returning the coerced body or every problem found."""
    if not isinstance(payload, dict):
        if not isinstance(payload, Mapping):
            message = f"the request body must be a JSON object, not {_kind(payload)}"
            return Validated(None, [Problem("", message)])
        payload = dict(payload)
    try:
        model = _VALIDATE(payload)
    except ValidationError as exc:
        return Validated(None, [_problem(error) for error in exc.errors(include_url=False)])
    body: dict[str, Any] = _DUMP(model, mode="json", exclude_unset=True, by_alias=True)
    return Validated(_in_given_order(body, payload), [])


V3_RULE = "v3_rule"
"""The error type of the v3 models' cross-field rules (merge.payload.v3_models raises it)."""
HEX6_PATTERN = r"^#[0-9a-fA-F]{6}$"
HTTPS_PATTERN = r"^https://\S+$"


@functools.cache
def _v3() -> tuple[TypeAdapter[Any], _Node]:
    """The v3 models, built on first use: most runs never meet a v3 template."""
    from merge.payload import v3_models

    adapter: TypeAdapter[Any] = TypeAdapter(v3_models.V3Body)
    members = [v3_models.AvatarBody, v3_models.ImageBody, v3_models.StudioBody]
    return adapter, _union_node(members, "video")


def validate_v3_payload(payload: object) -> Validated:
    """Validate one v3 request body (a template written in v3's language), like validate_payload."""
    if not isinstance(payload, Mapping):
        message = f"the request body must be a JSON object, not {_kind(payload)}"
        return Validated(None, [Problem("", message)])
    payload = dict(payload)
    adapter, root = _v3()
    try:
        model = adapter.validate_python(payload)
    except ValidationError as exc:
        return Validated(None, [_problem(error, root) for error in exc.errors(include_url=False)])
    body: dict[str, Any] = adapter.dump_python(
        model, mode="json", exclude_unset=True, by_alias=True
    )
    return Validated(_in_given_order(body, payload), [])


def _in_given_order(dumped: dict[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """Put keys back in the order the template wrote them, so bodies read and diff like it."""
    ordered: dict[str, Any] = {}
    for key in given:
        if key not in dumped:
            continue
        value = dumped[key]
        inner = given[key]
        if type(value) is dict and isinstance(inner, Mapping):
            value = _in_given_order(value, inner)
        elif type(value) is list and isinstance(inner, list):
            value = [
                _in_given_order(d, g) if type(d) is dict and isinstance(g, Mapping) else d
                for d, g in zip(value, inner, strict=False)
            ]
        ordered[key] = value
    return ordered | dumped if len(ordered) != len(dumped) else ordered


def json_schema(api: str = "v2") -> dict[str, Any]:
    """Return the JSON Schema of the request body, so editors can check templates as they type."""
    if api == "v3":
        return _v3()[0].json_schema(schema_generator=BodyJsonSchema)
    return RequestBody.model_json_schema(schema_generator=BodyJsonSchema)


# --- where an error is: walk pydantic's loc through the shape of the models ---------------


@dataclass(frozen=True, slots=True)
class _Node:
    """One place in the body: an object's keys, a union's members, a list's item or a leaf."""

    label: str = ""
    keys: dict[str, _Node] = field(default_factory=dict)
    members: dict[str, _Node] = field(default_factory=dict)
    item: _Node | None = None
    choices: tuple[str, ...] = ()


_LEAF = _Node()


def _model_node(model: type[BaseModel]) -> _Node:
    """Describe a model's keys, each with the node of its value."""
    keys = {
        info.alias or name: _node(info.annotation, name)
        for name, info in model.model_fields.items()
    }
    return _Node(keys=keys)


def _union_node(members: list[Any], label: str) -> _Node:
    """Describe a tagged union by the `type` literal of each member model."""
    tagged: dict[str, _Node] = {}
    for member in members:
        model = _strip_annotated(member)
        field = "type" if "type" in model.model_fields else "engine_type"
        tag = get_args(model.model_fields[field].annotation)[0]
        tagged[tag] = _model_node(model)
    return _Node(label=label, members=tagged)


def _strip_annotated(annotation: Any) -> Any:
    """Drop `Annotated[...]` wrappers to reach the bare type."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _node(annotation: Any, label: str) -> _Node:
    """Describe the value at one key from its type annotation."""
    annotation = _strip_annotated(annotation)
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        if len(members) > 1:
            return _union_node(members, label)
        return _node(members[0], label)
    if origin is list:
        return _Node(label=label, item=_node(get_args(annotation)[0], label))
    if origin is Literal:
        return _Node(label=label, choices=tuple(str(a) for a in get_args(annotation)))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _model_node(annotation)
    return _LEAF


_ROOT = _model_node(RequestBody)


@dataclass(frozen=True, slots=True)
class _Place:
    """Where a loc points: the JSON path parts, the node there, and the union it came through."""

    parts: list[str | int]
    node: _Node
    union: _Node | None = None
    tag: str = ""


def _walk(loc: tuple[str | int, ...], root: _Node = _ROOT) -> _Place:
    """Follow a pydantic loc from the root, dropping the tags that tagged unions insert."""
    node, parts = root, []
    union: _Node | None = None
    tag = ""
    for part in loc:
        if node.members and isinstance(part, str) and part in node.members:
            union, tag, node = node, part, node.members[part]
            continue
        parts.append(part)
        if node.item is not None and isinstance(part, int):
            node = node.item
        else:
            node = node.keys.get(part, _LEAF) if isinstance(part, str) else _LEAF
        union, tag = None, ""
    return _Place(parts, node, union, tag)


# --- what went wrong: pydantic's error types in the user's words ---------------------------


def _problem(error: ErrorDetails, root: _Node = _ROOT) -> Problem:
    """Translate one pydantic error into a Problem with a JSON path and a plain message."""
    kind = error["type"]
    if kind == "extra_forbidden":
        return _unknown_key(error["loc"], root)
    place = _walk(error["loc"], root)
    if kind in CUSTOM_ERROR_TYPES or kind == V3_RULE:
        return Problem(json_path(place.parts), error["msg"])
    if kind == "invalid_key":
        return Problem(json_path(place.parts[:-1]), f"key {_show(error['input'])} is not text")
    if kind.startswith("union_tag"):
        return _bad_tag(place, error)
    translate = _MESSAGES.get(kind, _invalid)
    return Problem(json_path(place.parts), translate(error, place))


def _unknown_key(loc: tuple[str | int, ...], root: _Node = _ROOT) -> Problem:
    """Name the unknown key and suggest the closest valid one, or the type it belongs to."""
    place = _walk(loc[:-1], root)
    key = str(loc[-1])
    path = json_path([*place.parts, key])
    message = f"unknown key {_show(key)}"
    if place.union is not None:
        owners = [tag for tag, member in place.union.members.items() if key in member.keys]
        if owners:
            noun = "type" if len(owners) == 1 else "types"
            them = ", ".join(_quote(owner) for owner in owners)
            where = f"{place.union.label} type {_quote(place.tag)}"
            return Problem(path, f"{message} for {where} (it belongs to {noun} {them})")
    return Problem(path, message + did_you_mean(key, place.node.keys))


def _bad_tag(place: _Place, error: ErrorDetails) -> Problem:
    """Say that a scene part's `type` is missing or unknown, listing the valid types."""
    data = error["input"]
    if not isinstance(data, dict):
        return Problem(json_path(place.parts), f"must be an object, not {_kind(data)}")
    valid = list(place.node.members)
    path = json_path([*place.parts, "type"])
    if error["type"] == "union_tag_not_found" or "type" not in data:
        return Problem(path, f"is required: one of {', '.join(valid)}")
    tag = data["type"]
    hint = did_you_mean(tag, valid) if isinstance(tag, str) else ""
    message = f"unknown {place.node.label} type {_show(tag)}{hint}; use one of {', '.join(valid)}"
    return Problem(path, message)


def _not_one_of(error: ErrorDetails, place: _Place) -> str:
    choices = place.node.choices
    if len(choices) == 1:
        return f"must be {_quote(choices[0])}, not {_show(error['input'])}"
    return f"{_show(error['input'])} is not one of {', '.join(choices)}"


def _too_long_text(error: ErrorDetails, place: _Place) -> str:
    value = error["input"]
    length = f"{len(value):,} characters" if isinstance(value, str) else "too long"
    return f"is {length}; the limit is {error.get('ctx', {}).get('max_length', 0):,}"


def _pattern(error: ErrorDetails, place: _Place) -> str:
    pattern = error.get("ctx", {}).get("pattern")
    if pattern == HEX_COLOUR_PATTERN:
        return f"{_show(error['input'])} is not a hex colour like #1a2b3c"
    if pattern == HEX6_PATTERN:
        return f"{_show(error['input'])} is not a six-digit hex colour like #1a2b3c"
    if pattern == HTTPS_PATTERN:
        return f"{_show(error['input'])} is not a public https:// URL"
    if pattern == NON_BLANK_PATTERN:
        return "must not be blank"
    return f"{_show(error['input'])} is not in the expected form"


def _scene_count(error: ErrorDetails, place: _Place) -> str:
    actual = error.get("ctx", {}).get("actual_length")
    has = f" (has {actual})" if actual is not None else ""
    return f"must have between 1 and {MAX_SCENES} scenes{has}"


def _bound(word: str, key: str) -> Callable[[ErrorDetails, _Place], str]:
    def message(error: ErrorDetails, place: _Place) -> str:
        return f"{_number(error['input'])} {word} {error.get('ctx', {}).get(key)}"

    return message


def _plain(template: str) -> Callable[[ErrorDetails, _Place], str]:
    def message(error: ErrorDetails, place: _Place) -> str:
        return template.format(value=_show(error["input"]), kind=_kind(error["input"]))

    return message


_invalid = _plain("{value} is not valid here")

_MESSAGES: dict[str, Callable[[ErrorDetails, _Place], str]] = {
    "missing": _plain("is required"),
    "literal_error": _not_one_of,
    "string_type": _plain("{value} is not text"),
    "string_too_short": _plain("must not be empty"),
    "string_too_long": _too_long_text,
    "string_pattern_mismatch": _pattern,
    "float_type": _plain("{value} is not a number"),
    "float_parsing": _plain("{value} is not a number"),
    "int_type": _plain("{value} is not a whole number"),
    "int_parsing": _plain("{value} is not a whole number"),
    "int_from_float": _plain("{value} is not a whole number"),
    "int_parsing_size": _plain("{value} is too large"),
    "bool_type": _plain("{value} is not true or false"),
    "bool_parsing": _plain("{value} is not true or false"),
    "finite_number": _plain("{value} is not a finite number"),
    "greater_than_equal": _bound("is below the minimum", "ge"),
    "less_than_equal": _bound("is above the maximum", "le"),
    "greater_than": _bound("is not above", "gt"),
    "less_than": _bound("is not below", "lt"),
    "too_short": _scene_count,
    "too_long": _scene_count,
    "list_type": _plain("must be a list, not {kind}"),
    "model_type": _plain("must be an object, not {kind}"),
    "model_attributes_type": _plain("must be an object, not {kind}"),
    "dict_type": _plain("must be an object, not {kind}"),
}


# --- how a value reads in a message -------------------------------------------------------

_MAX_SHOWN = 40


def _quote(text: str) -> str:
    """Quote text the way JSON would, so the user sees exactly which characters are wrong."""
    return json.dumps(text, ensure_ascii=False)


def _show(value: object) -> str:
    """Show a value briefly: strings quoted (and cut short), numbers as given, JSON names."""
    if isinstance(value, str):
        return _quote(value if len(value) <= _MAX_SHOWN else value[: _MAX_SHOWN - 1] + "…")
    if value is None or isinstance(value, bool | int | float):
        return json.dumps(value) if not isinstance(value, float) else repr(value)
    return _kind(value)


def _number(value: object) -> str:
    """Show a number that broke a bound, unquoted even when it came in as text."""
    if isinstance(value, str):
        return value.strip()
    return _show(value)


def _kind(value: object) -> str:
    """Name the JSON kind of a value, for "must be an object, not a list"."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return f"a {type(value).__name__}"
