"""Encode JSON once, quickly: the bytes that are hashed, journaled, sent and shown."""

from __future__ import annotations

import json

import orjson


def dumps(value: object, pretty: bool = False) -> bytes:
    """Serialise JSON as UTF-8 quickly (orjson), falling back to json for what orjson refuses."""
    try:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2 if pretty else 0)
    except TypeError:  # integers beyond 64 bits, from a whole-text template
        text = json.dumps(value, ensure_ascii=False, indent=2 if pretty else None)
        return text.encode("utf-8", "surrogatepass")


def dumps_strict(value: object) -> bytes | None:
    """Serialise with orjson alone (valid UTF-8, compact), or None where orjson refuses."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return None
