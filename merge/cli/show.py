"""`render --print`: one row at a glance, as a mail merge shows the rendered message."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from merge.cli.console import paint

PRINTED_ROWS = 10
"""Rows `--print` shows at most: it is for a glance, the review folder holds them all."""


def print_rows(jsonl: Path, out: TextIO) -> None:
    """Show each rendered row's script, its problems, then its body, as payloads.jsonl has them."""
    shown = 0
    with jsonl.open(encoding="utf-8") as lines:
        for line in lines:
            if shown == PRINTED_ROWS:
                print(
                    f"(only the first {PRINTED_ROWS} rows are shown; choose with --rows)", file=out
                )
                break
            record = json.loads(line)
            _print_row(record, out)
            shown += 1


def _print_row(record: dict[str, Any], out: TextIO) -> None:
    title = f"── row {record['row']} ({record['status']}) "
    print(paint(title.ljust(60, "─"), "bold", out), file=out)
    body = record.get("payload")
    said = list(scripts(body))
    for number, script in enumerate(said, 1):
        print(f"Script {number}:" if len(said) > 1 else "Script:", file=out)
        for text in script.splitlines() or [""]:
            print(f"  {text}", file=out)
    for problem in record.get("problems", []):
        at = f"{problem['path']}: " if problem.get("path") else ""
        print(f"{paint('Problem:', 'error', out)} {at}{problem['message']}", file=out)
    if body is not None:
        print("Body:", file=out)
        print(json.dumps(body, ensure_ascii=False, indent=2), file=out)


def scripts(body: Any) -> Iterator[str]:
    """The words the avatar says: V2's voice.input_text per scene, or v3's script."""
    if not isinstance(body, dict):
        return
    if isinstance(body.get("script"), str):
        yield body["script"]
    for scene in body.get("scenes") or []:
        if isinstance(scene, dict) and isinstance(scene.get("script"), str):
            yield scene["script"]
    for scene in body.get("video_inputs") or []:
        voice = scene.get("voice") if isinstance(scene, dict) else None
        if isinstance(voice, dict) and isinstance(voice.get("input_text"), str):
            yield voice["input_text"]
