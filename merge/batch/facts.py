"""What the account says about a batch: its owner and balance, each look and voice, once.

`read_facts` asks `GET /v3/users/me`, then each distinct look and voice id of the bodies once
(fewer with a cache), lists the account's own looks or voices only when an id was not found
(for a did-you-mean), the voices of an engine only when rows carry its settings, and the
length of recorded voices. A refused key stops here; anything else unanswered is noted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from merge.api.account import AccountApi
from merge.api.audio import audio_lengths
from merge.api.client import ApiError
from merge.errors import MergeError
from merge.payload.costs import parts_of
from merge.settings import AUDIO_PROBES_MOST, LOOKUP_CONCURRENCY, SUGGESTION_PAGES

if TYPE_CHECKING:
    from merge.batch.lookup_cache import LookupCache


class KeyRefused(MergeError):
    """The API refused the key when the account was read: nothing can be sent with it."""


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
            facts.account_looks = await api.looks(
                SUGGESTION_PAGES, ownership="private"
            ) + await api.looks(SUGGESTION_PAGES, ownership="public")
        if any(voice is None for voice in facts.voices.values()):
            facts.account_voices = await api.voices(
                SUGGESTION_PAGES, type="private"
            ) + await api.voices(SUGGESTION_PAGES, type="public")
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


def _account_name(me: dict[str, Any] | None) -> str:
    if not isinstance(me, dict):
        return ""
    return str(me.get("username") or me.get("email") or "")
