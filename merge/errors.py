"""Errors that stop a run, each saying where and what to do next."""

from __future__ import annotations


class MergeError(Exception):
    """A run cannot go on; the message is for the user, with a hint where one helps."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message}\nHint: {self.hint}"


class SheetError(MergeError):
    """The data file cannot be read as a sheet of rows."""


class TemplateError(MergeError):
    """The template cannot be loaded or does not fit the sheet."""


class OutputError(MergeError):
    """The output cannot be written."""
