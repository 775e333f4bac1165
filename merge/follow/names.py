"""`--name`: downloaded files named from the row's columns, made safe for any file system.

`--name "{{ Company }} - {{ First Name }}"` gives `Acme - Ann.mp4`. Only `{{ Column }}`
placeholders are read (no code runs); what a cell holds cannot leave the download folder: path
separators, control and reserved characters become `_`, and names Windows keeps for devices get
a `_` in front. Two rows that would share a name get their row number added.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence

from merge.errors import MergeError
from merge.problems import did_you_mean

FIELD = re.compile(r"\{\{\s*(.*?)\s*\}\}")
UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]+')
SPACES = re.compile(r"\s+")
DEVICE_NAMES = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"COM{n}" for n in range(1, 10)}
    | {f"LPT{n}" for n in range(10)}
)
NAME_CHARACTERS = 120
"""Longest name kept (before the suffix): room for the folder within common path limits."""


def check_name(pattern: str, columns: Sequence[str]) -> None:
    """Refuse a name pattern naming a column the sheet does not have, before anything is saved."""
    fields = FIELD.findall(pattern)
    if not fields:
        raise MergeError(
            f"--name {pattern!r}: names no column",
            'write the columns as they read, e.g. --name "{{ Company }} - {{ First Name }}"',
        )
    for field in fields:
        if field not in columns:
            raise MergeError(
                f'--name: the output has no column "{field}"{did_you_mean(field, columns)}',
                f"the columns are: {', '.join(columns)}",
            )


def file_name(pattern: str, values: Mapping[str, str]) -> str:
    """Fill the pattern with a row's cells and make the result a safe, readable file name."""
    if not any(values.get(field, "").strip() for field in FIELD.findall(pattern)):
        return ""
    text = FIELD.sub(lambda match: values.get(match.group(1), ""), pattern)
    text = unicodedata.normalize("NFC", text)
    text = SPACES.sub(" ", UNSAFE.sub("_", text)).strip(" .")
    text = text[:NAME_CHARACTERS].rstrip(" .")
    if text.split(".")[0].upper() in DEVICE_NAMES:
        text = "_" + text
    return text


def name_rows(pattern: str, rows: Mapping[int, Mapping[str, str]]) -> dict[int, str]:
    """Name each row's files; an empty name becomes `row-N`, a shared one gets ` (row N)`."""
    names = {row: file_name(pattern, values) or f"row-{row}" for row, values in rows.items()}
    taken = Counter(name.casefold() for name in names.values())
    return {
        row: f"{name} (row {row})" if taken[name.casefold()] > 1 else name
        for row, name in names.items()
    }
