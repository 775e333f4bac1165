"""The account reads of v3 (contract §6): the key's owner and balance, looks, voices, lists.

Each call answers a value or raises ApiError; a 404 for one look or voice is None, not an
error. Reads are tried again on 429 (after Retry-After), 5xx and lost connections, a few
times only: a pre-flight that cannot get an answer says so and lets the user decide.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import httpx

from merge.api.client import ApiError, _error_text, _json_or_none, _reason, parse_retry_after
from merge.api.pacing import backoff
from merge.settings import LOOKUP_ATTEMPTS, LOOKUP_RETRY_CAP_SECONDS

USERS_ME = "/v3/users/me"
LOOKS = "/v3/avatars/looks"
VOICES = "/v3/voices"
LOOKS_PAGE = 50
"""The most looks one page holds (contract §9)."""
VOICES_PAGE = 100


class AccountApi:
    """Read the account over one HTTP client; the clock's sleep is injected for tests."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        attempts: int = LOOKUP_ATTEMPTS,
    ) -> None:
        self.http = http
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.attempts = attempts
        self.requests = 0
        """Requests made, retries included."""

    async def me(self) -> dict[str, Any]:
        """Return `GET /v3/users/me`'s data: who the key belongs to and what is left to spend."""
        data = (await self._read(USERS_ME, {}))["data"]
        if not isinstance(data, dict):
            raise ApiError(f"{USERS_ME}: the answer has no data object")
        return data

    async def look(self, look_id: str) -> dict[str, Any] | None:
        """Return one look, or None when the account has no look with this id."""
        return await self._one(f"{LOOKS}/{quote(look_id, safe='')}")

    async def voice(self, voice_id: str) -> dict[str, Any] | None:
        """Return one voice, or None when the account has no voice with this id."""
        return await self._one(f"{VOICES}/{quote(voice_id, safe='')}")

    async def looks(self, pages: int | None = None, **query: str) -> list[dict[str, Any]]:
        """List the looks matching `query` (ownership, avatar_type, group_id), page by page."""
        return await self._all(LOOKS, query, LOOKS_PAGE, pages)

    async def voices(self, pages: int | None = None, **query: str) -> list[dict[str, Any]]:
        """List the voices matching `query` (type, engine, language, gender), page by page."""
        return await self._all(VOICES, query, VOICES_PAGE, pages)

    async def _one(self, path: str) -> dict[str, Any] | None:
        try:
            data = (await self._read(path, {}))["data"]
        except ApiError as error:
            if error.status == 404:
                return None
            raise
        if not isinstance(data, dict):
            raise ApiError(f"{path}: the answer has no data object")
        return data

    async def _all(
        self, path: str, query: dict[str, str], size: int, pages: int | None
    ) -> list[dict[str, Any]]:
        """Follow `next_token` while `has_more` says so (at most `pages`); `data` is the array."""
        found: list[dict[str, Any]] = []
        token: str | None = None
        read = 0
        while pages is None or read < pages:
            read += 1
            params: dict[str, str | int] = {**query, "limit": size}
            if token:
                params["token"] = token
            body = await self._read(path, params)
            page = body.get("data")
            if not isinstance(page, list):
                raise ApiError(f"{path}: the answer's data is not a list")
            found += [item for item in page if isinstance(item, dict)]
            token = body.get("next_token") if body.get("has_more") else None
            if not isinstance(token, str) or not token:
                break
        return found

    async def _read(self, path: str, params: dict[str, str | int]) -> dict[str, Any]:
        """GET a path and return the whole answer; retry what a retry can mend."""
        problem = ApiError(f"{path}: no answer")
        for attempt in range(self.attempts):
            retry_after = None
            self.requests += 1
            try:
                response = await self.http.get(path, params=params)
            except httpx.TransportError as failure:
                problem = ApiError(f"{path}: {_reason(failure)}")
            else:
                body = _json_or_none(response)
                status = response.status_code
                if status == 200 and isinstance(body, dict) and "data" in body:
                    return body
                error = body.get("error") if isinstance(body, dict) else None
                code, message = _error_text(error, body)
                problem = ApiError(f"{path}: HTTP {status} {code} {message}".rstrip(), status, code)
                if status != 429 and status < 500:
                    raise problem
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if attempt + 1 < self.attempts:
                wait = backoff(attempt, retry_after, self.rng)
                await self.sleep(min(wait, LOOKUP_RETRY_CAP_SECONDS))
        raise problem
