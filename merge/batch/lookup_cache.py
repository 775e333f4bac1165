"""Usable looks and voices kept a short while beside the journal, so a resume asks nothing."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from merge.batch.facts import Facts
from merge.settings import PREFLIGHT_CACHE_SECONDS


class LookupCache:
    """Usable looks and voices, kept a short while beside the journal so a resume asks nothing.

    Only usable answers are kept (a look completed, a voice complete): anything else may
    change at any moment (consent given, training done) and is asked again.
    """

    def __init__(self, path: Path, target: str, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.target = target
        self.clock = clock

    def read(
        self, account: str, looks: Iterable[str], voices: Iterable[str]
    ) -> tuple[dict[str, dict[str, Any] | None], dict[str, dict[str, Any] | None]]:
        """Return the fresh cached looks and voices among those wanted."""
        stored = self._load()
        if stored.get("target") != self.target or stored.get("account") != account:
            return {}, {}
        fresh = self.clock() - PREFLIGHT_CACHE_SECONDS
        kept: list[dict[str, dict[str, Any] | None]] = []
        for kind, wanted in (("looks", looks), ("voices", voices)):
            entries: dict[str, Any] = _section(stored, kind)
            kept.append(
                {
                    item: entries[item]["data"]
                    for item in wanted
                    if isinstance(entries.get(item), dict) and entries[item].get("at", 0) >= fresh
                }
            )
        return kept[0], kept[1]

    def write(self, account: str, facts: Facts) -> None:
        """Keep the usable answers; a cache that cannot be written is simply not kept."""
        now = self.clock()
        stored = self._load()
        same = stored.get("target") == self.target and stored.get("account") == account
        data: dict[str, Any] = {"target": self.target, "account": account}
        for kind, found, ready in (
            ("looks", facts.looks, "completed"),
            ("voices", facts.voices, "complete"),
        ):
            old = _section(stored, kind) if same else {}
            new = {
                item: {"at": now, "data": answer}
                for item, answer in found.items()
                if answer is not None and (answer.get("status") or ready) == ready
            }
            data[kind] = {**old, **new}
        temporary = self.path.with_name(self.path.name + ".tmp")
        try:
            temporary.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
            os.replace(temporary, self.path)
        except OSError:
            pass

    def _load(self) -> dict[str, Any]:
        try:
            loaded = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return loaded if isinstance(loaded, dict) else {}


def _section(stored: dict[str, Any], kind: str) -> dict[str, Any]:
    section = stored.get(kind)
    return section if isinstance(section, dict) else {}
