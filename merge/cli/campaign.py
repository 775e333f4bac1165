"""A campaign file: any command's options in one TOML file, so a campaign is one short command.

    # spring.toml
    data = "leads.xlsx"
    template = "template.json"
    output = "leads-sent.xlsx"
    key = "email"
    [submit]
    wait = true
    download = "videos"

Top-level keys apply to every command that has that option; a `[submit]` (or `[render]`,
`[status]`...) table only to that command. Flags given on the command line win. Relative paths
are read from the campaign file's folder, so the command works from anywhere.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from merge.cli.console import UsageError
from merge.errors import MergeError
from merge.problems import did_you_mean

OPTION = "--campaign"


def campaign_path(argv: Sequence[str]) -> Path | None:
    """Find `--campaign FILE` (or `--campaign=FILE`) before parsing, to set the defaults."""
    for at, word in enumerate(argv):
        if word == OPTION and at + 1 < len(argv):
            return Path(argv[at + 1])
        if word.startswith(OPTION + "="):
            return Path(word.split("=", 1)[1])
    return None


def load_campaign(path: Path) -> dict[str, Any]:
    """Read the campaign file; a mistake in it is the file's, with its line and column."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise MergeError(f"{path}: no such campaign file", "check the path") from None
    except OSError as error:
        raise MergeError(f"{path}: cannot be read ({error.strerror})") from None
    import tomllib  # only when a campaign file is named: every command starts a little sooner

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise MergeError(
            f"{path}: not a valid campaign file: {error}",
            'write one option a line, as name = "value" (text in quotes), number, or true',
        ) from None


def apply_campaign(
    path: Path, settings: dict[str, Any], commands: dict[str, argparse.ArgumentParser]
) -> None:
    """Make the campaign's settings the defaults of each command that has them."""
    tables = {name: value for name, value in settings.items() if isinstance(value, dict)}
    shared = {name: value for name, value in settings.items() if not isinstance(value, dict)}
    known = {dest for command in commands.values() for dest in _dests(command)}
    for name in tables:
        if name not in commands:
            raise UsageError(f"{path}: [{name}] is not a command{did_you_mean(name, commands)}")
    _refuse_unknown(path, shared, known, "")
    for name, command in commands.items():
        dests = _dests(command)
        own = tables.get(name, {})
        _refuse_unknown(path, own, set(dests), f"[{name}] ")
        values = {dests[k]: v for k, v in shared.items() if k in dests}
        values.update({dests[k]: v for k, v in own.items()})
        paths = {a.dest for a in command._actions if a.type is Path}
        command.set_defaults(
            **{
                dest: _beside(path, value) if dest in paths else _as_default(value)
                for dest, value in values.items()
            }
        )


def _refuse_unknown(path: Path, values: dict[str, Any], known: set[str], table: str) -> None:
    for key in values:
        if key not in known and key.replace("-", "_") not in known:
            raise UsageError(
                f"{path}: {table}{key!r} is no option{did_you_mean(key, sorted(known))}"
            )


def _dests(command: argparse.ArgumentParser) -> dict[str, str]:
    """Each name a campaign may use for an option (`retry-failed`, `retry_failed`) → its dest."""
    names: dict[str, str] = {}
    for action in command._actions:
        if action.dest in ("help", "version", "campaign") or action.help == argparse.SUPPRESS:
            continue
        names[action.dest] = action.dest
        for string in action.option_strings:
            if string.startswith("--"):
                names[string[2:]] = action.dest
    return names


def _beside(campaign: Path, value: Any) -> Any:
    """Read a relative path in a campaign file from the file's folder, wherever it is run from."""
    if not isinstance(value, str) or Path(value).is_absolute():
        return _as_default(value)
    return str(campaign.parent / value)


def _as_default(value: Any) -> Any:
    """Let argparse read text and numbers as it reads the command line (types, ranges)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return value
