"""Know before you spend: the key, every look and voice, and the cost, checked before sending.

`preflight` reads the account once (`GET /v3/users/me`), asks each distinct look and voice id
once (or takes it from a short on-disk cache beside the journal), and judges every body: a look
that does not exist, is not ready or does not support the row's engine, a voice that does not
exist or is still training, a locale the voice cannot speak, or a script with no voice on a
look with no default voice make the row invalid before anything is sent. What cannot be
learnt (no read permission, 429/500 or no answer) is a warning, never a silent pass.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx

from merge.api.account import AccountApi
from merge.api.audio import audio_lengths, open_audio_http
from merge.api.client import ApiError
from merge.errors import MergeError
from merge.loop import run_sync
from merge.payload.costs import Part, parts_of, price, resolution_of
from merge.prices import PriceTable
from merge.problems import Problem, did_you_mean
from merge.settings import AUDIO_PROBES_MOST, LOOKUP_CONCURRENCY, PREFLIGHT_CACHE_SECONDS

Columns = Callable[[str], str | None]
"""Name the column that fed a body path (None: the template's own text)."""


class KeyRefused(MergeError):
    """The API refused the key when the account was read: nothing can be sent with it."""


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


@dataclass
class Facts:
    """What the account said: its owner and balance, each look and voice, what went unanswered."""

    me: dict[str, Any] | None = None
    looks: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    voices: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    unanswered: dict[str, str] = field(default_factory=dict)
    """`look X` / `voice X` → why no answer came."""
    foreign: set[str] = field(default_factory=set)
    """Ids the API says belong to another account (403 resource_access_denied)."""
    audio: dict[str, float] = field(default_factory=dict)
    """Seconds of each audio URL whose file could be read."""
    voice_engines: dict[str, set[str]] = field(default_factory=dict)
    """Voice engine → the account's voices of that engine, for rows whose settings name one."""
    account_looks: list[dict[str, Any]] = field(default_factory=list)
    account_voices: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    lookups: int = 0
    """Look and voice reads made over the network (cached ones not counted)."""
    cached: int = 0

    def avatar_types(self) -> dict[str, str]:
        """Each found look's avatar type."""
        return {
            look_id: str(look["avatar_type"])
            for look_id, look in self.looks.items()
            if look is not None and look.get("avatar_type")
        }


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


async def read_facts(
    api: AccountApi,
    bodies: Mapping[int, Any],
    cache: LookupCache | None = None,
    key_source: str = "the API key",
    files: httpx.AsyncClient | None = None,
) -> Facts:
    """Read the account and every distinct id of `bodies`, each at most once.

    With `files` (a client without the API key), the audio files' lengths are read too.
    """
    facts = Facts()
    readable = await _read_me(api, facts, key_source)
    avatar_ids: dict[str, None] = {}
    voice_ids: dict[str, None] = {}
    engines: dict[str, None] = {}
    audio: dict[str, None] = {}
    for body in bodies.values():
        for part in parts_of(body):
            if part.avatar_id:
                avatar_ids[part.avatar_id] = None
            if part.voice_id:
                voice_ids[part.voice_id] = None
                if part.voice_engine:
                    engines[part.voice_engine] = None
            if part.audio_url and len(audio) < AUDIO_PROBES_MOST:
                audio[part.audio_url] = None
    if files is not None and audio:
        facts.audio = await audio_lengths(files, audio)
    if not readable:
        return facts
    account = _account_name(facts.me)
    if cache is not None and account:
        facts.looks, facts.voices = cache.read(account, avatar_ids, voice_ids)
        facts.cached = len(facts.looks) + len(facts.voices)
    gate = asyncio.Semaphore(LOOKUP_CONCURRENCY)
    asks = [
        _ask(api, gate, facts, "look", look_id)
        for look_id in avatar_ids
        if look_id not in facts.looks
    ]
    asks += [
        _ask(api, gate, facts, "voice", voice_id)
        for voice_id in voice_ids
        if voice_id not in facts.voices
    ]
    await asyncio.gather(*asks)
    await _list_for_suggestions(api, facts)
    await _list_engines(api, facts, engines)
    if cache is not None and account:
        cache.write(account, facts)
    return facts


async def _read_me(api: AccountApi, facts: Facts, key_source: str) -> bool:
    """Read users/me; a refused key stops here, a missing scope or no answer is a warning."""
    try:
        facts.me = await api.me()
    except ApiError as error:
        if error.status == 401:
            raise KeyRefused(
                f"the API refused the key from {key_source} (HTTP 401 {error.code})".rstrip(),
                "check the key (it is never printed), or rehearse with --simulate",
            ) from None
        if error.status == 403:
            facts.warnings.append(
                f"the key from {key_source} may not read the account (HTTP 403): looks, voices"
                " and the balance were NOT checked; rows are sent unchecked"
            )
            return False
        if error.status is None:  # no answer at all: the look-ups would fare no better
            facts.warnings.append(
                f"the API could not be reached ({error}): nothing was checked; rows are sent"
                " unchecked"
            )
            return False
        facts.warnings.append(f"the account could not be read ({error}): the balance is unknown")
    return True


async def _ask(
    api: AccountApi, gate: asyncio.Semaphore, facts: Facts, kind: str, item_id: str
) -> None:
    async with gate:
        facts.lookups += 1
        try:
            found = await (api.look(item_id) if kind == "look" else api.voice(item_id))
        except ApiError as error:
            if error.code == "resource_access_denied":  # it exists, in another account
                facts.foreign.add(item_id)
                found = None
            else:
                why = "no permission to read it (HTTP 403)" if error.status == 403 else str(error)
                facts.unanswered[f"{kind} {item_id}"] = why
                return
    (facts.looks if kind == "look" else facts.voices)[item_id] = found


async def _list_for_suggestions(api: AccountApi, facts: Facts) -> None:
    """List the account's looks or voices only when an id was not found, to suggest one."""
    try:
        if any(look is None for look in facts.looks.values()):
            facts.account_looks = await api.looks(ownership="private") + await api.looks(
                ownership="public"
            )
        if any(voice is None for voice in facts.voices.values()):
            facts.account_voices = await api.voices(type="private") + await api.voices(
                type="public"
            )
    except ApiError:
        pass  # suggestions are a courtesy; the ids are still reported unknown


async def _list_engines(api: AccountApi, facts: Facts, engines: Iterable[str]) -> None:
    """Learn which voices speak through each engine the rows' voice settings name.

    A voice answer carries no engine; the list filtered with `engine=` is how the account says.
    """
    for engine in engines:
        try:
            found = await api.voices(type="private", engine=engine)
            found += await api.voices(type="public", engine=engine)
        except ApiError as error:
            facts.warnings.append(
                f"which voices are {engine} voices could not be checked ({error});"
                f" rows with {engine} settings are sent unchecked"
            )
            continue
        facts.voice_engines[engine] = {str(voice.get("voice_id")) for voice in found}


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


def _account_name(me: dict[str, Any] | None) -> str:
    if not isinstance(me, dict):
        return ""
    return str(me.get("username") or me.get("email") or "")


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
