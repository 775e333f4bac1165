"""A JSON template's valid bodies as bytes: fixed pieces with each row's values put between them.

Pure. Rows whose body has a structure `ShapeValidator` has learnt differ only in the values
their leaves put in. Where the way from those values to the body that is sent (the tagged
unions that pick a model, the v3 translation, the JSON encoding) carries a value along without
looking at it, that body's JSON is the same bytes for every such row but for those values. A
`Plan` keeps those bytes, cut where the values go. It is learnt once, from a body whose values
are `Stand`s: text that refuses to be looked at (compared, measured, split, hashed, printed).
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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from merge.payload.media import is_local, media_fields
from merge.payload.render import Leaf
from merge.payload.shape import (
    MISSING,
    ShapeValidator,
    Structure,
    checked_values,
    compose,
    lookup,
)
from merge.payload.translate_v3 import translate

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
    """One kind of row's body as bytes: `pieces`, with leaf values put between them."""

    pieces: tuple[bytes, ...]
    leaves: tuple[int, ...]
    """The leaf whose value follows each piece but the last."""
    media: tuple[tuple[int, bool], ...]
    """Leaves in media fields, and whether each field takes an asset id: a local file there
    sends the row the whole way, to be checked and uploaded."""

    def fill(self, values: list[Any]) -> bytes:
        """Put a row's values (by leaf) between the pieces; TypeError if JSON cannot hold one."""
        pieces = self.pieces
        out = [pieces[0]]
        for leaf, piece in zip(self.leaves, pieces[1:], strict=True):
            out.append(orjson.dumps(values[leaf])[1:-1])
            out.append(piece)
        return b"".join(out)


NO_PLAN = None
"""Kept for a kind of row that has no plan, so it is not learnt again."""


class PlanBook:
    """The plans of one JSON template (its leaves all plain column references) for one target."""

    def __init__(
        self, leaves: list[Leaf], validator: ShapeValidator, v3: bool, engine: str | None
    ) -> None:
        self.leaves = leaves
        self.renders = [leaf.render for leaf in leaves]
        self.blankable = [leaf.single and isinstance(leaf.parts[-1], str) for leaf in leaves]
        self.validator = validator
        self.v3 = v3
        self.engine = engine
        self.reads: dict[tuple[Any, ...], tuple[int, ...]] = {}
        self.plans: dict[tuple[Any, ...], Plan | None] = {}
        self.made = 0
        """Bodies made by a plan (the rest went the whole way)."""

    def body(self, values: Mapping[str, str], media: bool) -> bytes | None:
        """Make a row's body by its plan; None when it has none or it does not fit the row.

        `media`: local files are looked for, so a row naming one goes the whole way.
        """
        found = self._find(values)
        if found is None:
            return None
        leaf_values, structure, key = found
        plan = self.plans.get(key)
        if plan is None:
            return None
        if media and any(is_local(leaf_values[i], asset) for i, asset in plan.media):
            return None
        checked = self._checked(structure, leaf_values)
        if checked is None:
            return None
        try:
            body = plan.fill(checked)
        except TypeError:  # lone surrogates, integers beyond 64 bits
            return None
        self.made += 1
        return body

    def learn(self, values: Mapping[str, str], rendered: Any, body: bytes) -> None:
        """Plan the kind of a valid row that went the whole way, from its rendered body and the
        body it became; keep the plan only if it makes that body again, byte for byte."""
        found = self._find(values)
        if found is None or found[2] in self.plans or len(self.plans) >= MAX_PLANS:
            return
        leaf_values, structure, (shape, _) = found
        checked = self._checked(structure, leaf_values)
        if checked is None:
            return
        # A value that is not text, or is empty, is put in as it is: always part of the key.
        reads = set(self.reads.get(shape, ())) | {
            slot.index
            for slot in structure.slots
            if not _text(checked[slot.index]) or not _text(leaf_values[slot.index])
        }
        plan: Plan | None = None
        while True:
            try:
                plan = self._plan(structure, leaf_values, checked, reads, rendered)
                break
            except Read as read:
                if read.leaf in reads:
                    break
                reads.add(read.leaf)
            except (ArithmeticError, AttributeError, LookupError, TypeError, ValueError):
                break  # the code took a way a real value would not: no plan for this kind
        self.reads[shape] = tuple(sorted(reads))
        key = (shape, tuple(leaf_values[i] for i in self.reads[shape]))
        try:
            fits = plan is not None and plan.fill(checked) == body
        except TypeError:
            fits = False
        self.plans[key] = plan if fits else NO_PLAN

    def _find(
        self, values: Mapping[str, str]
    ) -> tuple[list[Any], Structure, tuple[Any, ...]] | None:
        """A row's leaf values, its learnt structure and the key of its plan."""
        try:
            leaf_values = [
                MISSING if blank and (value is None or value == "") else value
                for render, blank in zip(self.renders, self.blankable, strict=True)
                for value in (render(values, values),)
            ]
        except (KeyError, TypeError):
            return None
        shape = self.validator.shape(leaf_values)
        if shape is None:
            return None
        structure = self.validator.learnt(shape)
        if structure is None:
            return None
        key = (shape, tuple(leaf_values[i] for i in self.reads.get(shape, ())))
        return leaf_values, structure, key

    @staticmethod
    def _checked(structure: Structure, leaf_values: list[Any]) -> list[Any] | None:
        """A row's checked values by leaf (None for leaves left out), or None if one fails."""
        checked = checked_values(structure, leaf_values)
        if checked is None:
            return None
        by_leaf: list[Any] = [None] * len(leaf_values)
        for slot, value in zip(structure.slots, checked, strict=True):
            by_leaf[slot.index] = value
        return by_leaf

    def _plan(
        self,
        structure: Structure,
        leaf_values: list[Any],
        checked: list[Any],
        reads: set[int],
        rendered: Any,
    ) -> Plan | None:
        """Make the body with a Stand for each value nothing has looked at yet, and cut it."""
        stood = {slot.index for slot in structure.slots if slot.index not in reads}
        raw = orjson.loads(orjson.dumps(rendered))
        for index in stood:
            _put(raw, self.leaves[index].parts, Stand(index))
        for union in structure.unions:
            tag = union.tag_of(lookup(raw, union.parts))
            if isinstance(tag, Stand):
                raise Read(tag.leaf)
        body = compose(
            structure,
            [
                Stand(slot.index) if slot.index in stood else checked[slot.index]
                for slot in structure.slots
            ],
        )
        if self.v3:
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
        return Plan(tuple(cut[0::2]), tuple(int(leaf) for leaf in cut[1::2]), media)


def _text(value: Any) -> bool:
    return type(value) is str and value != ""


def _put(node: Any, parts: tuple[str | int, ...], value: Any) -> None:
    for part in parts[:-1]:
        node = node[part]
    node[parts[-1]] = value
