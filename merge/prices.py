"""What a second of video costs: one dated table (the contract's §10), and a way to replace it.

HeyGen's pricing page carries no date; the stored copies end on 2026-10-31, so that is the
table's date. Where two versions of the page disagree, the higher price is kept (an estimate
should not promise a smaller bill than the one that comes). A JSON file named by
`--prices FILE` or `$HEYGEN_PRICES_FILE` replaces the table: `{"date": "YYYY-MM-DD",
"usd_per_second": {"avatar_iv": {"photo_avatar": [hd, 4k], ...}, ...}}`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from merge.errors import MergeError

PRICES_ENV = "HEYGEN_PRICES_FILE"
ENGINES = ("avatar_iv", "avatar_v", "avatar_iii")
AVATAR_TYPES = ("photo_avatar", "digital_twin", "studio_avatar")
RESOLUTIONS = ("720p", "1080p", "4k")
DEFAULT_ENGINE = "avatar_iv"
"""The engine of a body that names none (contract §1.7)."""

Prices = dict[str, dict[str, tuple[float, float]]]

BUILT_IN: Prices = {
    "avatar_iv": {
        "photo_avatar": (0.05, 0.0667),
        "digital_twin": (0.0667, 0.0833),
        "studio_avatar": (0.0667, 0.0833),
    },
    "avatar_v": {
        "photo_avatar": (0.05, 0.0667),
        "digital_twin": (0.0667, 0.0833),
        "studio_avatar": (0.0667, 0.0833),
    },
    "avatar_iii": {
        "photo_avatar": (0.0433, 0.0433),  # versions disagree (0.0167/0.0433); no 4K
        "digital_twin": (0.0167, 0.02),
        "studio_avatar": (0.0167, 0.02),
    },
}
"""USD per second of output, (720p/1080p, 4K), for the API-key wallet."""

CREDITS_PER_SECOND = {"avatar_iv": 0.1, "avatar_v": 0.1, "avatar_iii": 0.0033}
"""Credits per second for accounts billed in credits (the contract's enterprise rates)."""


@dataclass(frozen=True)
class PriceTable:
    """Prices per second by engine, avatar type and resolution, with the date they were read."""

    date: str = "2026-10-31"
    source: str = "HeyGen's API pricing page"
    usd: Prices = field(default_factory=lambda: BUILT_IN)
    _ranges: dict[tuple[str | None, str | None, bool], tuple[float, float]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def per_second(
        self, engine: str | None, avatar_type: str | None, resolution: str | None
    ) -> float:
        """Price one second; an unknown avatar type costs the most its engine can cost."""
        return self.per_second_range(engine, avatar_type, resolution)[1]

    def per_second_range(
        self, engine: str | None, avatar_type: str | None, resolution: str | None
    ) -> tuple[float, float]:
        """Price one second: from the cheapest to the dearest avatar type when it is not known."""
        four_k = resolution is not None and resolution.lower() == "4k"
        known = self._ranges.get((engine, avatar_type, four_k))
        if known is not None:
            return known
        table = self.usd.get(engine or DEFAULT_ENGINE) or self.usd[DEFAULT_ENGINE]
        column = 1 if four_k else 0
        if avatar_type in table:
            found = table[avatar_type][column], table[avatar_type][column]
        else:
            rates = [prices[column] for prices in table.values()]
            found = min(rates), max(rates)
        self._ranges[(engine, avatar_type, four_k)] = found
        return found

    def credits_per_second(self, engine: str | None) -> float:
        """Credits one second costs on a credit-billed account."""
        return CREDITS_PER_SECOND.get(engine or DEFAULT_ENGINE, CREDITS_PER_SECOND[DEFAULT_ENGINE])


def load_prices(path: Path | None, environ: Mapping[str, str]) -> PriceTable:
    """Use the table in `path` (or $HEYGEN_PRICES_FILE) when given, else the built-in one."""
    named = path or (Path(environ[PRICES_ENV]) if environ.get(PRICES_ENV) else None)
    if named is None:
        return PriceTable()
    try:
        raw = json.loads(named.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as error:
        raise MergeError(
            f"{named}: the price table cannot be read ({error})", "fix the file or leave it out"
        ) from None
    return _table(raw, named)


def _table(raw: Any, named: Path) -> PriceTable:
    hint = (
        'write {"date": "2026-12-01",'
        ' "usd_per_second": {"avatar_iv": {"photo_avatar": [0.05, 0.0667]}}}'
    )
    if not isinstance(raw, dict) or not isinstance(raw.get("usd_per_second"), dict):
        raise MergeError(f"{named}: the price table has no usd_per_second object", hint)
    usd: Prices = {engine: dict(types) for engine, types in BUILT_IN.items()}
    for engine, types in raw["usd_per_second"].items():
        if engine not in ENGINES or not isinstance(types, dict):
            raise MergeError(f"{named}: {engine!r} is not one of {', '.join(ENGINES)}", hint)
        for kind, pair in types.items():
            if kind not in AVATAR_TYPES or not _pair(pair):
                raise MergeError(
                    f"{named}: {engine}.{kind} must be an avatar type with [HD price, 4K price]",
                    hint,
                )
            usd[engine][kind] = (float(pair[0]), float(pair[1]))
    date = str(raw.get("date") or "undated")
    return PriceTable(date, str(named), usd)


def _pair(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in value)
    )
