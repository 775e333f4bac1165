"""A JSON template's valid bodies as bytes: fixed pieces with each row's values put between them.

Pure. Rows whose body has a structure `ShapeValidator` has learnt differ only in the values
their leaves put in. Where the way from those values to the body that is sent (the tagged
unions that pick a model, the v3 translation of a V2 body or the engine `--engine` gives a v3
one, the JSON encoding) carries a value along without looking at it, that body's JSON is the
same bytes for every such row but for those values. A `Plan` keeps those bytes, cut where the
values go. It is learnt once, from a body whose values are `Stand`s: text that refuses to be
looked at (compared, measured, split, hashed, printed).
A leaf whose value is looked at has its value in the plan's key, as a leaf a model's rule reads
has its value in the structure's key; the same values take the same way through the code, so a
plan fits every row of its key.

A plan is kept only when it remakes the body of the row it was learnt from byte for byte, and
only for rows that are valid with nothing to say: any problem, loss, warning or local file, and
any value JSON cannot hold, sends a row the whole way (`merge.payload.row.check_row`).
`tests/test_compiled.py` checks with hypothesis that both ways agree on random templates and rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError

from merge.payload.media import is_local, media_fields
from merge.payload.render import Leaf
from merge.payload.shape import (
    MISSING,
    ShapeValidator,
    Slot,
    Structure,
    checked_values,
    compose,
    lookup,
)
from merge.payload.translate_v3 import translate, with_engine

MAX_PLANS = 512
"""Plans kept per template and target; rows of any further kind go the whole way."""

MARK = re.compile("\ue000(\\d+)\ue001".encode())
"""How a Stand's text reads in the encoded body (private-use characters, kept as UTF-8)."""


class Read(Exception):
    """Code making a planned body looked at a leaf's value: its value belongs in the key."""

    def __init__(self, leaf: int) -> None:
        super().__init__(leaf)
        self.leaf = leaf


class Stand(str):
    """Text standing for leaf N's value, which is not empty, in a body being planned.

    Storing it, putting it in a container and encoding it (orjson reads the text directly)
    pass, and so do the questions that fact answers: it is true, and it is not "" nor anything
    but text. Every other method and operator of str raises Read.
    """

    leaf: int

    def __new__(cls, leaf: int) -> Stand:
        stand = super().__new__(cls, f"\ue000{leaf}\ue001")
        stand.leaf = leaf
        return stand

    def __bool__(self) -> bool:
        return True

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, str):
            return False
        if type(other) is str and not other:
            return False
        raise Read(self.leaf)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        raise Read(self.leaf)


def _refuse(stand: Stand, *_: Any, **__: Any) -> Any:
    raise Read(stand.leaf)


_KEPT = {"__class__", "__delattr__", "__dir__", "__doc__", "__getattribute__", "__init__"}
_KEPT |= {"__init_subclass__", "__new__", "__setattr__", "__subclasshook__"}
_KEPT |= {"__bool__", "__eq__", "__ne__", "__hash__"}
for _name in [*dir(str), "__radd__"]:
    if _name not in _KEPT:
        setattr(Stand, _name, _refuse)


@dataclass(frozen=True, slots=True)
class Plan:
    """One kind of row's body as bytes: `pieces`, with the row's checked values between them."""

    pieces: tuple[bytes, ...]
    leaves: tuple[int, ...]
    """The leaves whose values go in (each once), in the order of `checks`."""
    checks: tuple[Callable[[Any], Any], ...]
    """Each such leaf's check: its field's own validation (see merge.payload.shape)."""
    places: tuple[int, ...]
    """Which of those values follows each piece but the last (one value may go in twice)."""
    media: tuple[tuple[int, bool], ...]
    """Leaves in media fields, and whether each field takes an asset id: a local file there
    sends the row the whole way, to be checked and uploaded."""

    def fill(self, leaf_values: list[Any]) -> bytes | None:
        """Check the row's values and put them in; None when one fails or is not non-empty
        text (what the plan was learnt from), or JSON cannot hold it."""
        encoded = []
        try:
            for leaf, check in zip(self.leaves, self.checks, strict=True):
                value = check(leaf_values[leaf])
                if type(value) is not str or not value:
                    return None
                encoded.append(orjson.dumps(value)[1:-1])
        except (ValidationError, TypeError):  # TypeError: lone surrogates
            return None
        out = [b""] * (2 * len(self.places) + 1)
        out[0::2] = self.pieces
        out[1::2] = [encoded[k] for k in self.places]
        return b"".join(out)


NO_PLAN = None
"""Kept for a kind of row that has no plan, so it is not learnt again."""


class PlanBook:
    """The plans of one JSON template (its leaves all plain column references) for one target."""

    def __init__(
        self,
        leaves: list[Leaf],
        validator: ShapeValidator,
        v3: bool,
        engine: str | None,
        native: bool = False,
    ) -> None:
        self.leaves = leaves
        self.renders = [leaf.render for leaf in leaves]
        self.blankable = [leaf.single and isinstance(leaf.parts[-1], str) for leaf in leaves]
        self.validator = validator
        self.v3 = v3
        self.engine = engine
        self.native = native
        """The bodies are written in v3's language (sent as they are, with `engine` put in
        where they name none); else in V2's (translated for v3 when `v3`)."""
        self.reads: dict[tuple[Any, ...], tuple[int, ...]] = {}
        self.plans: dict[tuple[Any, ...], Plan | None] = {}
        self.made = 0
        """Bodies made by a plan (the rest went the whole way)."""

    def body(self, values: Mapping[str, str], media: bool) -> bytes | None:
        """Make a row's body by its plan; None when it has none or it does not fit the row.

        `media`: local files are looked for, so a row naming one goes the whole way.
        """
        leaf_values = self._leaf_values(values)
        shape = self.validator.shape(leaf_values) if leaf_values is not None else None
        if leaf_values is None or shape is None:
            return None
        key = (shape, tuple(leaf_values[i] for i in self.reads.get(shape, ())))
        plan = self.plans.get(key)
        if plan is None:
            return None
        if media and any(is_local(leaf_values[i], asset) for i, asset in plan.media):
            return None
        body = plan.fill(leaf_values)
        if body is not None:
            self.made += 1
        return body

    def learn(self, values: Mapping[str, str], rendered: Any, body: bytes) -> None:
        """Plan the kind of a valid row that went the whole way, from its rendered body and the
        body it became; keep the plan only if it makes that body again, byte for byte."""
        leaf_values = self._leaf_values(values)
        if leaf_values is None or len(self.plans) >= MAX_PLANS:
            return
        shape = self.validator.shape(leaf_values)
        structure = self.validator.learnt(shape) if shape is not None else None
        checked = checked_values(structure, leaf_values) if structure is not None else None
        if shape is None or structure is None or checked is None:
            return
        by_leaf = {
            slot.index: (slot, value) for slot, value in zip(structure.slots, checked, strict=True)
        }
        # A value that is not text, or is empty, is put in as it is: always part of the key.
        reads = set(self.reads.get(shape, ())) | {
            leaf
            for leaf, (_, value) in by_leaf.items()
            if not _text(value) or not _text(leaf_values[leaf])
        }
        if (shape, tuple(leaf_values[i] for i in sorted(reads))) in self.plans:
            return
        plan: Plan | None = None
        while True:
            try:
                plan = self._plan(structure, by_leaf, reads, rendered)
                break
            except Read as read:
                if read.leaf in reads:
                    break
                reads.add(read.leaf)
            except (ArithmeticError, AttributeError, LookupError, TypeError, ValueError):
                break  # the code took a way a real value would not: no plan for this kind
        self.reads[shape] = tuple(sorted(reads))
        key = (shape, tuple(leaf_values[i] for i in self.reads[shape]))
        fits = plan is not None and plan.fill(leaf_values) == body
        self.plans[key] = plan if fits else NO_PLAN

    def _leaf_values(self, values: Mapping[str, str]) -> list[Any] | None:
        """Each leaf's text for this row, MISSING where a blank single placeholder leaves its
        key out; None when a cell is missing."""
        try:
            leaf_values = [render(values, values) for render in self.renders]
        except (KeyError, TypeError):
            return None
        for index, blankable in enumerate(self.blankable):
            if blankable and leaf_values[index] == "":
                leaf_values[index] = MISSING
        return leaf_values

    def _plan(
        self,
        structure: Structure,
        by_leaf: dict[int, tuple[Slot, Any]],
        reads: set[int],
        rendered: Any,
    ) -> Plan | None:
        """Make the body with a Stand for each value nothing has looked at yet, and cut it."""
        stood = [leaf for leaf in by_leaf if leaf not in reads]
        raw = orjson.loads(orjson.dumps(rendered))
        for leaf in stood:
            _put(raw, self.leaves[leaf].parts, Stand(leaf))
        for union in structure.unions:
            tag = union.tag_of(lookup(raw, union.parts))
            if isinstance(tag, Stand):
                raise Read(tag.leaf)
        body = compose(
            structure,
            [Stand(leaf) if leaf in stood else value for leaf, (_, value) in by_leaf.items()],
        )
        if self.native:
            body = with_engine(body, self.engine)
        elif self.v3:
            translation = translate(body, self.engine)
            if translation.losses or translation.gaps:
                return None
            body = translation.body
        try:
            data = orjson.dumps(body)
        except TypeError:
            return None
        cut = MARK.split(data)
        where = {leaf.path: index for index, leaf in enumerate(self.leaves)}
        media = tuple(
            (where[path], asset) for path, asset in media_fields(rendered) if path in where
        )
        return Plan(
            pieces=tuple(cut[0::2]),
            leaves=tuple(stood),
            checks=tuple(by_leaf[leaf][0].check for leaf in stood),
            places=tuple(stood.index(int(leaf)) for leaf in cut[1::2]),
            media=media,
        )


def _text(value: Any) -> bool:
    return type(value) is str and value != ""


def _put(node: Any, parts: tuple[str | int, ...], value: Any) -> None:
    for part in parts[:-1]:
        node = node[part]
    node[parts[-1]] = value
