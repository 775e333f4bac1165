"""Pure: the template's own keys checked once, so a typo like "sped" is the template's mistake."""

from __future__ import annotations

import json
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from merge.payload.v2_models import RequestBody
from merge.problems import did_you_mean, json_path

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class UnknownKey:
    """A key of the template no part of the request body has, and where it is."""

    key: str
    path: Path_
    allowed: tuple[str, ...]

    def describe(self, text: str) -> str:
        """Say where the key is, what it is not, and the field it most likely meant."""
        line, column = _position(text, self.key, self.path)
        inside = json_path(self.path) or "the request body"
        return (
            f'line {line}, column {column}: "{self.key}" is not a field of {inside}'
            f"{did_you_mean(self.key, self.allowed)}"
        )


def unknown_keys(skeleton: dict[str, Any]) -> list[UnknownKey]:
    """Every key of a V2-shaped template that the V2 request body does not have."""
    return list(_walk(skeleton, (RequestBody,), ()))


def _walk(node: Any, models: tuple[type[BaseModel], ...], path: Path_) -> Iterator[UnknownKey]:
    if not models:
        return
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from _walk(item, models, (*path, index))
        return
    if not isinstance(node, dict):
        return
    fields = {
        (info.alias or name): info.annotation
        for model in models
        for name, info in model.model_fields.items()
    }
    for key, value in node.items():
        if "{" in key:
            continue
        if key not in fields:
            yield UnknownKey(key, path, tuple(sorted(fields)))
            continue
        yield from _walk(value, tuple(_models_in(fields[key])), (*path, key))


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    """The models an annotation can hold: through Optional, unions, lists and Annotated."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for argument in typing.get_args(annotation):
        yield from _models_in(argument)


def _position(text: str, key: str, path: Path_) -> tuple[int, int]:
    """Find the key in the template's text, after its parents' keys where they can be found."""
    at = 0
    for parent in path:
        if isinstance(parent, str):
            found = text.find(json.dumps(parent), at)
            at = found if found >= 0 else at
    found = text.find(json.dumps(key), at)
    if found < 0:
        found = max(text.find(json.dumps(key)), 0)
    line = text.count("\n", 0, found) + 1
    return line, found - (text.rfind("\n", 0, found) + 1) + 1
