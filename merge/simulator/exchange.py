"""Reading requests and timing answers, the same for the V2 and the v3 endpoints."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from merge.simulator.settings import MAX_PAGE
from merge.simulator.views import read_page_token

Handler = Callable[[Request], Awaitable[Response]]


class InvalidParameter(ValueError):
    """Raised at the first thing wrong with a request: which parameter, and what is wrong."""

    def __init__(self, param: str | None, problem: str) -> None:
        self.param = param
        super().__init__(f"{param} is invalid: {problem}" if param else problem)


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """Parse a request body that must be a JSON object, raising InvalidParameter if it is not."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidParameter(None, f"body is invalid: not valid JSON ({exc})") from None
    if not isinstance(body, dict):
        kind = type(body).__name__
        raise InvalidParameter(None, f"body is invalid: must be a JSON object, not {kind}")
    return body


def page_request(query: Mapping[str, str], default: int = MAX_PAGE) -> tuple[int, int | None]:
    """Read `limit` (1 to 100, default `default`) and `token` from a listing's query."""
    limit_text = query.get("limit") or str(default)
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_PAGE:
        raise InvalidParameter("limit", f"must be a whole number from 1 to {MAX_PAGE}")
    token = query.get("token")
    try:
        below = read_page_token(token) if token else None
    except ValueError:
        raise InvalidParameter("token", "not a page token from this listing") from None
    return int(limit_text), below


async def hold(request: Request, seconds: float) -> None:
    """Wait `seconds` before answering, or less if the client hangs up first."""
    try:
        async with asyncio.timeout(seconds):
            while (await request.receive())["type"] != "http.disconnect":
                pass
    except TimeoutError:
        pass


def loop_time() -> float:
    """Read the event loop's clock, which times real waits (latency), not the account's clock."""
    return asyncio.get_running_loop().time()


async def wait_until(moment: float) -> None:
    """Sleep until the event loop's clock reads `moment`, at once if it has passed."""
    await asyncio.sleep(max(0.0, moment - loop_time()))


def base_url(request: Request) -> str:
    """Return the URL the client reached us at, so file links work on any port."""
    return str(request.base_url).rstrip("/")
