"""HeyGen's account reads (contract §6): who the key belongs to, its looks, its voices.

Every read needs a key that opens the account; `read_scope=False` answers 403 as a key without
the read permission does; `lookup_fault` makes look and voice reads answer 429 or 500, or hold
their answer `late_by` seconds, as an overloaded API would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from merge.simulator import responses as answer
from merge.simulator.account import Account
from merge.simulator.schedule import Clock
from merge.simulator.settings import (
    DEFAULT_LOOKS_PAGE,
    DEFAULT_VOICES_PAGE,
    MAX_LOOKS_PAGE,
    MAX_PAGE,
)

USERS_ME = "/v3/users/me"
LOOKS = "/v3/avatars/looks"
VOICES = "/v3/voices"


def account_routes(account: Account, clock: Clock) -> list[Route]:
    """List the account-read routes, served from `account`."""
    api = _AccountApi(account, clock)
    return [
        Route(USERS_ME, api.me, methods=["GET"]),
        Route(LOOKS, api.looks, methods=["GET"]),
        Route(LOOKS + "/{look_id}", api.look, methods=["GET"]),
        Route(VOICES, api.voices, methods=["GET"]),
        Route(VOICES + "/{voice_id}", api.voice, methods=["GET"]),
    ]


class _AccountApi:
    def __init__(self, account: Account, clock: Clock) -> None:
        self.account = account
        self.settings = account.settings
        self.clock = clock

    async def _refusal(self, request: Request, counter: str, lookup: bool) -> Response | None:
        """Answer 401, 403 or an injected fault instead of the read, or None to go on."""
        if not self.account.authorize(request.headers.get("x-api-key", ""), "v3_requests", counter):
            return answer.v3_error(401, "unauthorized", answer.UNAUTHORIZED)
        if not self.settings.read_scope:
            self.account.count("forbidden")
            message = "This API key has no permission to read the account"
            return answer.v3_error(403, "forbidden", message)
        fault = self.settings.lookup_fault if lookup else None
        if fault is None:
            return None
        self.account.count("lookup_faults")
        if fault == "429":
            wait = self.settings.retry_after
            return answer.v3_error(429, "rate_limit_exceeded", "Too many requests", wait=wait)
        if fault == "500":
            return answer.v3_error(500, "internal_error", "Internal server error, please try again")
        await asyncio.sleep(self.settings.late_by)
        return None

    async def me(self, request: Request) -> Response:
        """Say whose key this is and what the account has left, in its billing type's block."""
        refused = await self._refusal(request, "account_reads", lookup=False)
        if refused is not None:
            return refused
        left = self.account.wallet.remaining(self.account, self.clock())
        data: dict[str, object] = {
            "username": "northwind-marketing",
            "email": "video@northwind.example",
            "first_name": "Nora",
            "last_name": None,
            "billing_type": self.settings.billing_type,
        }
        kind = self.settings.billing_type
        if kind == "wallet":
            auto = {"enabled": False, "threshold_usd": None, "amount_usd": None}
            data["wallet"] = {"currency": "usd", "remaining_balance": left, "auto_reload": auto}
        elif kind == "subscription":
            extra = {"remaining": 0, "resets_at": None}
            credits = {"premium_credits": left, "add_on_credits": extra}
            data["subscription"] = {"plan": "enterprise", "credits": credits}
        else:
            cap = self.account.wallet.start
            data["usage_based"] = {
                "included_credits": 0,
                "remaining_credits": 0,
                "spending_cap_usd": cap,
                "spending_current_usd": round(cap - left, 4),
            }
        return answer.v3_ok(data)

    async def look(self, request: Request) -> Response:
        """Answer one look, or 404."""
        look_id = request.path_params["look_id"]
        found = self.account.catalogue.look(look_id)
        return await self._one(request, "look_lookups", found, "avatar_not_found", look_id)

    async def voice(self, request: Request) -> Response:
        """Answer one voice, or 404."""
        voice_id = request.path_params["voice_id"]
        found = self.account.catalogue.voice(voice_id)
        return await self._one(request, "voice_lookups", found, "voice_not_found", voice_id)

    async def _one(
        self, request: Request, counter: str, found: dict[str, Any] | None, code: str, asked: str
    ) -> Response:
        refused = await self._refusal(request, counter, lookup=True)
        if refused is not None:
            return refused
        if found is None and asked in self.account.catalogue.foreign:
            message = "This resource belongs to another account"
            return answer.v3_error(403, "resource_access_denied", message)
        if found is None:
            self.account.count("not_found")
            noun = "Avatar look" if code == "avatar_not_found" else "Voice"
            param = "look_id" if code == "avatar_not_found" else "voice_id"
            return answer.v3_error(404, code, f"{noun} not found: {asked}", param)
        return answer.v3_ok(found)

    async def looks(self, request: Request) -> Response:
        """List looks a page at a time (at most 50)."""
        catalogue = self.account.catalogue
        return await self._list(
            request, "look_lists", catalogue.list_looks, DEFAULT_LOOKS_PAGE, MAX_LOOKS_PAGE
        )

    async def voices(self, request: Request) -> Response:
        """List voices a page at a time (at most 100)."""
        catalogue = self.account.catalogue
        return await self._list(
            request, "voice_lists", catalogue.list_voices, DEFAULT_VOICES_PAGE, MAX_PAGE
        )

    async def _list(
        self,
        request: Request,
        counter: str,
        listing: Callable[[dict[str, str]], list[dict[str, Any]]],
        default: int,
        most: int,
    ) -> Response:
        refused = await self._refusal(request, counter, lookup=True)
        if refused is not None:
            return refused
        query = dict(request.query_params)
        return _page(listing(query), query, default, most)


def _page(
    items: list[dict[str, object]], query: dict[str, str], default: int, most: int
) -> Response:
    """Answer `{"data": [...], "has_more", "next_token"}`; a token is where a page starts."""
    limit_text = query.get("limit", str(default))
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= most:
        message = f"limit is invalid: must be a whole number from 1 to {most}"
        return answer.v3_error(400, "invalid_parameter", message, "limit")
    token = query.get("token") or "0"
    if not token.isdigit() or int(token) > len(items):
        return answer.v3_error(
            400, "invalid_parameter", "token is invalid: not from this list", "token"
        )
    start, limit = int(token), int(limit_text)
    page = items[start : start + limit]
    more = start + limit < len(items)
    return JSONResponse(
        {"data": page, "has_more": more, "next_token": str(start + limit) if more else None}
    )
