"""Know before you spend: every body judged against the account and priced, before sending.

`run_preflight` reads the account (facts.py: the key, each distinct look and voice once, a
short cache beside the journal) and `judge` decides: a look that does not exist, belongs to
another account, is not ready or does not support the row's engine, a voice that does not
exist, is still training, takes no locale or is of another engine than its settings, or a
script with no voice on a look with no default voice make the row invalid before anything is
sent. What cannot be learnt (no read permission, 429/500 or no answer) is a warning naming
the rows and columns, never a silent pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from merge.api.account import AccountApi
from merge.api.audio import open_audio_http
from merge.batch.facts import Facts, KeyRefused, read_facts
from merge.batch.lookup_cache import LookupCache
from merge.loop import run_sync
from merge.payload.costs import Part, parts_of, price, resolution_of
from merge.prices import PriceTable
from merge.problems import Problem, did_you_mean

__all__ = ["Facts", "KeyRefused", "LookupCache", "Preflight", "judge", "run_preflight"]

Columns = Callable[[str], str | None]
"""Name the column that fed a body path (None: the template's own text)."""


@dataclass(frozen=True, slots=True)
class Balance:
    """What the account has left, as its billing type counts it."""

    billing_type: str
    amount: float
    unit: str
    """`usd` or `credits`."""

    def say(self, amount: float | None = None) -> str:
        """Show an amount in this balance's unit."""
        value = self.amount if amount is None else amount
        return f"${value:,.2f}" if self.unit == "usd" else f"{value:,.1f} credits"


@dataclass(frozen=True, slots=True)
class RowCost:
    """A row's estimated price: USD from low to high, and its high end in credits."""

    low: float
    high: float
    credits: float


@dataclass
class Preflight:
    """The pre-flight's verdict: warnings, invalid rows, each row's cost, the balance."""

    table: PriceTable
    facts: Facts
    invalid: dict[int, list[Problem]] = field(default_factory=dict)
    costs: dict[int, RowCost] = field(default_factory=dict)
    balance: Balance | None = None

    @property
    def avatar_types(self) -> dict[str, str]:
        """Each look's avatar type, where the account said it."""
        return self.facts.avatar_types()

    @property
    def warnings(self) -> list[str]:
        """Say what could not be checked."""
        return self.facts.warnings

    def total(self, rows: Iterable[int] | None = None) -> tuple[float, float]:
        """The estimate of the given rows (all priced rows by default), low and high."""
        chosen = self.costs if rows is None else {r: self.costs[r] for r in rows if r in self.costs}
        return sum(c.low for c in chosen.values()), sum(c.high for c in chosen.values())

    def spend(self, rows: Iterable[int]) -> list[float]:
        """Each row's high estimate in the balance's unit, in sending order."""
        credits = self.balance is not None and self.balance.unit == "credits"
        return [
            self.costs[r].credits if credits else self.costs[r].high
            for r in rows
            if r in self.costs
        ]

    def covered(self, rows: list[int]) -> int:
        """How many of `rows`, sent in order, the balance pays for (at their high estimate)."""
        if self.balance is None:
            return len(rows)
        left = self.balance.amount
        for done, cost in enumerate(self.spend(rows)):
            left -= cost
            if left < 0:
                return done
        return len(rows)


def _warn_unanswered(facts: Facts, bodies: Mapping[int, Any], columns: Columns) -> None:
    """Name each id the account did not answer for, with its column and rows."""
    if not facts.unanswered:
        return
    where: dict[str, tuple[set[str], list[int]]] = {}
    for row, body in bodies.items():
        for part in parts_of(body):
            for kind, item, path in (
                ("look", part.avatar_id, part.avatar_path),
                ("voice", part.voice_id, part.voice_path),
            ):
                what = f"{kind} {item}"
                if item and what in facts.unanswered:
                    named, rows = where.setdefault(what, (set(), []))
                    named.add(columns(path) or path)
                    if not rows or rows[-1] != row:
                        rows.append(row)
    for what, why in sorted(facts.unanswered.items()):
        named, rows = where.get(what, (set(), []))
        column = f'column "{", ".join(sorted(named))}", ' if named else ""
        facts.warnings.append(
            f"{what} could not be checked ({why}); {column}{_rows(rows)}: sent unchecked"
        )


def _rows(rows: list[int]) -> str:
    shown = ", ".join(str(r) for r in rows[:5])
    more = f" and {len(rows) - 5:,} more" if len(rows) > 5 else ""
    return f"row{'s' if len(rows) > 1 else ''} {shown}{more}"


def judge(
    facts: Facts,
    bodies: Mapping[int, Any],
    columns: Columns,
    table: PriceTable,
) -> Preflight:
    """Find each body's problems with the account, and price it."""
    verdict = Preflight(table, facts, balance=balance_of(facts.me))
    _warn_unanswered(facts, bodies, columns)
    types = facts.avatar_types()
    for row, body in bodies.items():
        parts = parts_of(body, facts.audio)
        problems = [p for part in parts for p in _part_problems(part, facts, columns)]
        if problems:
            verdict.invalid[row] = list(dict.fromkeys(problems))
            continue
        low, high, credits = price(parts, resolution_of(body), types, table)
        verdict.costs[row] = RowCost(low, high, credits)
    return verdict


def _part_problems(part: Part, facts: Facts, columns: Columns) -> list[Problem]:
    problems = []
    look = facts.looks.get(part.avatar_id or "")
    look_column, voice_column = columns(part.avatar_path), columns(part.voice_path)
    if part.avatar_id and part.avatar_id in facts.looks:
        if look is None:
            names = _names(facts.account_looks, "id")
            problems.append(_unknown("look", "avatars", part.avatar_id, names, part.avatar_path))
            if part.avatar_id in facts.foreign:
                problems[-1] = _foreign("look", "avatars", part.avatar_id, part.avatar_path)
        else:
            problems += _look_problems(part, look, look_column)
    voice = facts.voices.get(part.voice_id or "")
    if part.voice_id and part.voice_id in facts.voices:
        if voice is None:
            names = _names(facts.account_voices, "voice_id")
            problems.append(_unknown("voice", "voices", part.voice_id, names, part.voice_path))
            if part.voice_id in facts.foreign:
                problems[-1] = _foreign("voice", "voices", part.voice_id, part.voice_path)
        else:
            problems += _voice_problems(part, voice, voice_column)
            problems += _engine_problems(part, voice, facts, voice_column)
    if part.speaks and not part.voice_id and look is not None and not look.get("default_voice_id"):
        name = look.get("name") or part.avatar_id
        problems.append(
            Problem(
                part.voice_path,
                f'is needed: the look "{name}" has no default voice to speak the script',
                voice_column,
            )
        )
    return [replace(p, column=columns(p.path)) if p.column is None else p for p in problems]


def _unknown(noun: str, command: str, item_id: str, names: list[str], path: str) -> Problem:
    """Say an id is not the account's, suggesting the nearest of its own."""
    return Problem(
        path,
        f'"{item_id}" is no {noun} of this account'
        + did_you_mean(item_id, names)
        + f"; run `avatar-merge {command}` for the ids you can use",
    )


def _foreign(noun: str, command: str, item_id: str, path: str) -> Problem:
    """Say an id belongs to another account (a key from another workspace, or a copied sheet)."""
    return Problem(
        path,
        f'"{item_id}" is a {noun} of another account (HTTP 403 resource_access_denied): this key'
        f" cannot use it; run `avatar-merge {command}` for the ids it can use",
    )


def _look_problems(part: Part, look: dict[str, Any], column: str | None) -> list[Problem]:
    name = f'"{look.get("name") or part.avatar_id}" ({part.avatar_id})'
    status = look.get("status") or "completed"
    if status != "completed":
        why = {
            "pending_consent": "is waiting for consent: approve it in HeyGen, then run again",
            "processing": "is still being trained: run again once it is completed",
            "failed": "failed to train"
            + (f" ({look['error'].get('message')})" if isinstance(look.get("error"), dict) else ""),
        }.get(status, f"is {status}, not completed")
        return [Problem(part.avatar_path, f"the look {name} {why}", column)]
    engines = look.get("supported_api_engines")
    if isinstance(engines, list) and engines and part.engine not in engines:
        return [
            Problem(
                "engine.type" if part.avatar_path == "avatar_id" else part.avatar_path,
                f"the look {name} does not support the engine {part.engine}"
                f" (it supports {', '.join(map(str, engines))})",
                column,
            )
        ]
    return []


def _voice_problems(part: Part, voice: dict[str, Any], column: str | None) -> list[Problem]:
    name = f'"{voice.get("name") or part.voice_id}" ({part.voice_id})'
    status = voice.get("status") or "complete"
    if status != "complete":
        why = "is still being trained" if status == "processing" else f"is {status}"
        return [Problem(part.voice_path, f"the voice {name} {why}: it cannot speak yet", column)]
    if part.locale and voice.get("support_locale") is False:
        return [
            Problem(
                part.voice_path,
                f"the voice {name} takes no locale, but {part.locale} was asked",
                column,
            )
        ]
    return []


def _engine_problems(
    part: Part, voice: dict[str, Any], facts: Facts, column: str | None
) -> list[Problem]:
    engine = part.voice_engine
    speaking = facts.voice_engines.get(engine or "")
    if engine is None or speaking is None or part.voice_id in speaking:
        return []
    name = f'"{voice.get("name") or part.voice_id}" ({part.voice_id})'
    return [
        Problem(
            part.voice_path,
            f"the voice {name} is not {'an' if engine[:1] in 'aeiou' else 'a'} {engine} voice,"
            f" but its settings are for {engine}"
            " (the API refuses engine settings that do not match the voice)",
            column,
        )
    ]


def balance_of(me: dict[str, Any] | None) -> Balance | None:
    """Read what is left in the block `billing_type` names, or None when the account says not."""
    if not isinstance(me, dict):
        return None
    kind = str(me.get("billing_type") or "")
    block = me.get(kind)
    if not isinstance(block, dict):
        return None
    if kind == "wallet":
        amount = _amount(block.get("remaining_balance"))
        unit = "credits" if block.get("currency") == "credits" else "usd"
        return None if amount is None else Balance(kind, amount, unit)
    if kind == "subscription":
        credits = block.get("credits") if isinstance(block.get("credits"), dict) else {}
        extra = credits.get("add_on_credits") if isinstance(credits, dict) else None
        premium = _amount(credits.get("premium_credits")) if isinstance(credits, dict) else None
        add_on = _amount(extra.get("remaining")) if isinstance(extra, dict) else None
        if premium is None and add_on is None:
            return None
        return Balance(kind, (premium or 0.0) + (add_on or 0.0), "credits")
    if kind == "usage_based":
        cap, spent = (
            _amount(block.get("spending_cap_usd")),
            _amount(block.get("spending_current_usd")),
        )
        if cap is not None:
            return Balance(kind, max(0.0, cap - (spent or 0.0)), "usd")
        left = _amount(block.get("remaining_credits"))
        return None if left is None else Balance(kind, left, "credits")
    return None


def _amount(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _names(items: list[dict[str, Any]], key: str) -> list[str]:
    return [str(item[key]) for item in items if item.get(key)]


def run_preflight(
    http: httpx.AsyncClient,
    bodies: Mapping[int, Any],
    columns: Columns,
    table: PriceTable,
    cache: LookupCache | None = None,
    key_source: str = "the API key",
) -> Preflight:
    """Read the account and judge every body, in one sync call; the client is closed after."""

    async def go() -> Preflight:
        async with http, open_audio_http() as files:
            facts = await read_facts(AccountApi(http), bodies, cache, key_source, files)
        return judge(facts, bodies, columns, table)

    return run_sync(go())
