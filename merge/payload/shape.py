"""Validate what varies: a JSON template's constant structure once, per row its cell-fed values.

Pure. Every row of a JSON template has the same body but for its leaves (the templated strings):
their values, and whether a blank single-placeholder leaf left its key out. `ShapeValidator`
groups rows by that structure: each leaf absent or present with its JSON type, and for the few
leaves a cross-field rule reads (see `rule_reads` below), its value too. The first valid row of
each structure is validated whole, by the model's own `full` validation; from it the validator
learns, for every leaf, the field it lands in (so a small validator of that field alone) and
keeps the validated body. A later row of the same structure is then checked leaf by leaf; when
every leaf passes and every tagged union on the way picks the same member, its body is the kept
body with the leaves' validated values put in. Anything else (a leaf that fails, a structure
never seen valid, a leaf holding an object or a list) goes through `full`, so every problem,
path, column and message is exactly the whole-body validation's.

The validator knows nothing of V2: it is built from a model class (or a union of model classes
tagged by a key, as v3's body is by `type`) and a compiled template. What it relies on of the
model, and checks:

* a model with a model validator names, in a class variable `rule_reads`, the keys (anywhere
  in its subtree) whose values its rule reads beyond their JSON type; without it, every leaf
  in its subtree counts as read, so each distinct value is a structure of its own (correct,
  only slower);
* field validators, field or model serializers, computed fields and functional validators on
  the way to a leaf are not mirrored by a field's own validator: such leaves make their
  structure go through `full` every time;
* unions of models are tagged (a key or a function names the member); an untagged one makes
  the structure go through `full` every time.

`tests/test_shape.py` checks with hypothesis that both ways agree on random templates and rows.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import orjson
from pydantic import BaseModel, Discriminator, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo
from pydantic.functional_serializers import PlainSerializer, WrapSerializer
from pydantic.functional_validators import (
    AfterValidator,
    BeforeValidator,
    PlainValidator,
    WrapValidator,
)

from merge.payload.validate import Validated

Parts = tuple[str | int, ...]
Full = Callable[[object], Validated]

MAX_STRUCTURES = 1_024
"""Structures remembered per template; rows of any further one are validated whole."""

_SCALARS = frozenset({str, int, float, bool, type(None)})
_FUNCTIONAL = (AfterValidator, BeforeValidator, PlainValidator, WrapValidator)
_SERIALIZERS = (PlainSerializer, WrapSerializer)


class _Missing:
    """A leaf left out of this row's body (blank single placeholder, or failed to render)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()


class Unsupported(Exception):
    """The model does something on the way to a leaf that a field's own validator would miss."""


@dataclass(frozen=True, slots=True)
class Slot:
    """A present leaf in a learnt structure: its place in the raw body and its field's checks."""

    index: int
    validate: Callable[[Any], Any]
    dump: Callable[..., Any] | None
    """None when the field has no serializer of its own: a JSON scalar then dumps as itself."""

    def check(self, value: Any) -> Any:
        """Validate a leaf's value alone and return it as the body will hold it."""
        checked = self.validate(value)
        if self.dump is None and type(checked) in _SCALARS:
            return checked
        dump = self.dump or _dump_any
        return dump(checked, mode="json")


def _dump_any(value: Any, mode: Literal["json", "python"]) -> Any:
    return TypeAdapter(type(value)).dump_python(value, mode=mode)


@dataclass(frozen=True, slots=True)
class _Union:
    """A tagged union on the way to a leaf, and the member the learnt row picked."""

    parts: Parts
    tag_of: Callable[[Any], Any]
    tag: Any


@dataclass(frozen=True, slots=True)
class Structure:
    """What was learnt from one valid row: the body to fill in and how to check each leaf."""

    body: dict[str, Any]
    slots: tuple[Slot, ...]
    unions: tuple[_Union, ...]
    trie: dict[Any, Any]
    raw: bytes | None
    """The body as JSON, copied from for each row (None: copied container by container)."""


_WHOLE = object()
"""A structure whose rows are always validated whole."""


def lookup(node: Any, parts: Parts) -> Any:
    """The value at a leaf's path in a body, or MISSING."""
    for part in parts:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return MISSING
    return node


class ShapeValidator:
    """Validate the bodies of one compiled JSON template against one model class (or tagged
    union of them)."""

    def __init__(self, model: Any, full: Full, leaves: Iterable[Parts]) -> None:
        """`model`: a model class, or a union of models tagged by a key (the body's own kind)."""
        self.model = model
        self.full = full
        self.leaves = tuple(leaves)
        roots, self._root_tag, self._instance = _roots(model)
        self.read = tuple(_is_read(roots, parts) for parts in self.leaves)
        self.enabled = bool(self.leaves) and all(self.leaves) and bool(roots)
        self._structures: dict[tuple[Any, ...], Any] = {}
        self.filled = 0
        """Bodies made by filling a learnt structure in (the rest were validated whole)."""

    def validate(self, payload: object) -> Validated:
        """Validate one rendered body; the same outcome as `full(payload)`, mostly faster."""
        if not self.enabled or type(payload) is not dict:
            return self.full(payload)
        values = [lookup(payload, parts) for parts in self.leaves]
        shape = self.shape(values)
        if shape is None:
            return self.full(payload)
        structure = self._structures.get(shape)
        if structure is None:
            return self._learn(shape, payload, values)
        if structure is _WHOLE:
            return self.full(payload)
        return self._fill(structure, payload, values)

    def shape(self, values: list[Any]) -> tuple[Any, ...] | None:
        """Name a row's structure from its leaves' values (MISSING where a leaf is left out);
        None when a leaf holds an object or a list, which only the whole validation reads."""
        key: list[Any] = []
        for value, read in zip(values, self.read, strict=True):
            if value is MISSING:
                key.append(MISSING)
                continue
            kind = type(value)
            if kind not in _SCALARS:
                return None
            key.append((kind, value) if read else kind)
        return tuple(key)

    def learnt(self, shape: tuple[Any, ...]) -> Structure | None:
        """The structure learnt for this shape, if one was (and is not validated whole)."""
        structure = self._structures.get(shape)
        return structure if isinstance(structure, Structure) else None

    def _fill(self, structure: Structure, payload: dict[str, Any], values: list[Any]) -> Validated:
        for union in structure.unions:
            node = lookup(payload, union.parts)
            tag = union.tag_of(node)
            if type(tag) is not type(union.tag) or tag != union.tag:
                return self.full(payload)
        checked = checked_values(structure, values)
        if checked is None:
            return self.full(payload)
        self.filled += 1
        return Validated(compose(structure, checked), [])

    def _learn(
        self, shape: tuple[Any, ...], payload: dict[str, Any], values: list[Any]
    ) -> Validated:
        result = self.full(payload)
        if result.payload is None or len(self._structures) >= MAX_STRUCTURES:
            return result
        try:
            structure = self._structure(payload, values, result.payload)
        except Unsupported:
            self._structures[shape] = _WHOLE
            return result
        self._structures[shape] = structure
        return Validated(_copy(result.payload), [])  # the kept body is never handed out

    def _structure(
        self, payload: dict[str, Any], values: list[Any], body: dict[str, Any]
    ) -> Structure:
        instance = self._instance(payload)
        slots: list[Slot] = []
        unions: dict[Parts, _Union] = {}
        if self._root_tag is not None:  # the body's own kind picks its model
            unions[()] = _Union((), self._root_tag, self._root_tag(payload))
        trie: dict[Any, Any] = {}
        for index, (parts, value) in enumerate(zip(self.leaves, values, strict=True)):
            if value is MISSING:
                continue
            adapter, serialized = _field_adapter(instance, parts, payload, unions)
            dump = adapter.serializer.to_python if serialized else None
            slot = Slot(index, adapter.validator.validate_python, dump)
            dumped = slot.check(value)
            kept = lookup(body, parts)
            if type(kept) is not type(dumped) or kept != dumped:
                raise Unsupported(parts)
            slots.append(slot)
            node = trie
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = len(slots) - 1
        return Structure(body, tuple(slots), tuple(unions.values()), trie, _frozen(body))


def checked_values(structure: Structure, values: list[Any]) -> list[Any] | None:
    """Check a row's leaves against a learnt structure's fields: the values its body holds, in
    the order of `structure.slots`; None when any fails (the whole validation says why)."""
    try:
        return [slot.check(values[slot.index]) for slot in structure.slots]
    except ValidationError:
        return None


def compose(structure: Structure, values: list[Any]) -> Any:
    """A fresh copy of the kept body with this row's values put in: no two rows share a part."""
    # Reading the kept body's JSON back is the quickest deep copy of it.
    body = _copy(structure.body) if structure.raw is None else orjson.loads(structure.raw)
    _place(body, structure.trie, values)
    return body


def _place(node: Any, trie: dict[Any, Any], values: list[Any]) -> None:
    for part, inner in trie.items():
        if type(inner) is int:
            node[part] = values[inner]
        else:
            _place(node[part], inner, values)


def _frozen(body: dict[str, Any]) -> bytes | None:
    """The kept body as JSON bytes, when they read back as exactly the same values."""
    try:
        raw = orjson.dumps(body)
    except TypeError:  # integers beyond 64 bits, lone surrogates
        return None
    copy = orjson.loads(raw)
    return raw if copy == body and orjson.dumps(copy) == raw else None


_CONTAINERS = (dict, list)


def _copy(node: Any) -> Any:
    """Copy JSON containers (scalars are immutable)."""
    if type(node) is dict:
        return {k: v if type(v) not in _CONTAINERS else _copy(v) for k, v in node.items()}
    return [v if type(v) not in _CONTAINERS else _copy(v) for v in node]


# --- the field a leaf lands in, found on a validated instance -----------------------------


_ADAPTERS: dict[tuple[type[BaseModel], str], TypeAdapter[Any]] = {}


def _field_name(model: type[BaseModel], key: str | int) -> str:
    for name, info in model.model_fields.items():
        if (info.alias or name) == key:
            return name
    raise Unsupported(key)


def _field_adapter(
    instance: BaseModel, parts: Parts, payload: dict[str, Any], unions: dict[Parts, _Union]
) -> tuple[TypeAdapter[Any], bool]:
    """Walk a validated instance to the leaf's field, noting the tagged unions on the way."""
    node: Any = instance
    for depth, part in enumerate(parts):
        if isinstance(node, BaseModel):
            model = type(node)
            _refuse_hidden_rules(model)
            name = _field_name(model, part)
            info = model.model_fields[name]
            validated = _validated_fields(model)
            if name in validated or "*" in validated:
                raise Unsupported(parts)
            if depth == len(parts) - 1:
                annotation = info.rebuild_annotation()
                serialized = any(isinstance(m, _SERIALIZERS) for m in _metadata(annotation))
                return _adapter(model, name, info), serialized
            _note_union(info, parts[: depth + 1], payload, unions)
            node = getattr(node, name)
        elif isinstance(node, list) and isinstance(part, int) and depth < len(parts) - 1:
            node = node[part]
        else:
            raise Unsupported(parts)
    raise Unsupported(parts)


def _refuse_hidden_rules(model: type[BaseModel]) -> None:
    decorators = model.__pydantic_decorators__
    if decorators.model_serializers or decorators.computed_fields or decorators.field_serializers:
        raise Unsupported(model.__name__)


def _validated_fields(model: type[BaseModel]) -> set[str]:
    names: set[str] = set()
    for decorator in model.__pydantic_decorators__.field_validators.values():
        names.update(decorator.info.fields)
    for name, info in model.model_fields.items():
        if any(isinstance(item, _FUNCTIONAL) for item in _metadata(info.rebuild_annotation())):
            names.add(name)
    return names


def _adapter(model: type[BaseModel], name: str, info: FieldInfo) -> TypeAdapter[Any]:
    adapter = _ADAPTERS.get((model, name))
    if adapter is None:
        annotation = info.rebuild_annotation()
        try:
            adapter = TypeAdapter(annotation, config=model.model_config)
        except Exception as error:  # a model-typed field: pydantic refuses a config for it
            raise Unsupported(name) from error
        _ADAPTERS[(model, name)] = adapter
    return adapter


def _metadata(annotation: Any) -> Iterable[Any]:
    """Every Annotated metadata item anywhere in an annotation."""
    if get_origin(annotation) is Annotated:
        yield from annotation.__metadata__
    for argument in get_args(annotation):
        yield from _metadata(argument)


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The model classes an annotation can hold, through Annotated, Optional, unions and lists."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for argument in get_args(annotation):
        found.extend(m for m in _models(argument) if m not in found)
    return found


def _note_union(
    info: FieldInfo, parts: Parts, payload: dict[str, Any], unions: dict[Parts, _Union]
) -> None:
    """Remember how the union at `parts` picked its member; refuse an untagged one."""
    annotation = info.rebuild_annotation()
    members = [m for m in _members(annotation) if isinstance(m, type) and issubclass(m, BaseModel)]
    if len(members) < 2:
        return
    tag_of = _tag_of(annotation, info.discriminator)
    if tag_of is None:
        raise Unsupported(parts)
    unions.setdefault(parts, _Union(parts, tag_of, tag_of(lookup(payload, parts))))


def _tag_of(annotation: Any, tagged: Any = None) -> Callable[[Any], Any] | None:
    """How a tagged union names its member from the raw value; None for an untagged union."""
    for item in _metadata(annotation):
        if isinstance(item, Discriminator | FieldInfo) and tagged is None:
            tagged = item.discriminator if isinstance(item, FieldInfo) else item
    if isinstance(tagged, Discriminator):
        tagged = tagged.discriminator
    if tagged is None:
        return None
    if not isinstance(tagged, str):
        return tagged  # type: ignore[no-any-return]
    key = tagged

    def tag_of(node: Any) -> Any:
        return node.get(key, MISSING) if isinstance(node, dict) else MISSING

    return tag_of


def _roots(
    model: Any,
) -> tuple[list[type[BaseModel]], Callable[[Any], Any] | None, Callable[[Any], Any]]:
    """The model classes a body can be, how a tagged union of them picks one (None for a
    model class) and how to validate a body into one; no classes for an untagged union."""
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [model], None, model.model_validate
    members = _members(model)
    tag_of = _tag_of(model)
    if tag_of is None or not all(isinstance(m, type) and issubclass(m, BaseModel) for m in members):
        return [], None, _unsupported
    return members, tag_of, TypeAdapter(model).validate_python


def _unsupported(payload: Any) -> Any:
    raise Unsupported("an untagged union")


def _members(annotation: Any) -> list[Any]:
    """The alternatives of a union, through Annotated wrappers and lists."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        found: list[Any] = []
        for argument in get_args(annotation):
            found.extend(_members(argument))
        return found
    if origin is list:
        return []
    return [annotation] if annotation is not type(None) else []


# --- which leaves a model's cross-field rules read -----------------------------------------


def _is_read(roots: list[type[BaseModel]], parts: Parts) -> bool:
    """Say whether a model validator on the way to this leaf may read its value."""
    leaf = parts[-1] if parts else None
    candidates = list(roots)
    for part in parts:
        if isinstance(part, int):
            continue
        following: list[type[BaseModel]] = []
        for candidate in candidates:
            if candidate.__pydantic_decorators__.model_validators:
                reads = getattr(candidate, "rule_reads", None)
                if reads is None or leaf in reads:
                    return True
            for name, info in candidate.model_fields.items():
                if (info.alias or name) == part:
                    following.extend(m for m in _models(info.annotation) if m not in following)
        candidates = following
    return False
