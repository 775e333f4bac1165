"""Errors that stop a run, each saying where and what to do next; and keys kept out of them."""

from __future__ import annotations

import re

KEY_SHAPE = re.compile(r"(?<![A-Za-z0-9_])sk[_-][A-Za-z0-9_-]{4,}")
"""Anything shaped like an API key, wherever it comes from (a server may echo one back)."""
HIDDEN = "[key hidden]"
_SECRETS: set[str] = set()


def keep_secret(value: str) -> None:
    """Name a value (the API key in use) that `redact` takes out of every text from now on."""
    if len(value) >= 8:
        _SECRETS.add(value)


def redact(text: str) -> str:
    """Take every known key and anything key-shaped out of a text bound for a message or file."""
    for secret in _SECRETS:
        text = text.replace(secret, HIDDEN)
    return KEY_SHAPE.sub(HIDDEN, text)


class MergeError(Exception):
    """A run cannot go on; the message is for the user, with a hint where one helps."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        message = redact(message)
        super().__init__(message)
        self.message = message
        self.hint = None if hint is None else redact(hint)

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message}\nHint: {self.hint}"


class SheetError(MergeError):
    """The data file cannot be read as a sheet of rows."""


class TemplateError(MergeError):
    """The template cannot be loaded or does not fit the sheet."""


class OutputError(MergeError):
    """The output cannot be written."""
