"""The only module that speaks HTTP: the API calls, and what each kind of answer means."""

from __future__ import annotations

import asyncio
import email.utils
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http.cookiejar import CookieJar
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
import orjson

from merge.addresses import AddressError, checked_base_url, is_loopback
from merge.api.pacing import backoff
from merge.api.transport import AiohttpTransport
from merge.errors import MergeError
from merge.settings import READ_ATTEMPTS
from merge.version import __version__

CREATE_PATH = "/v2/video/generate"
STATUS_PATH = "/v1/video_status.get"
LIST_PATH = "/v1/video.list"
VIDEO_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
AUTH_WORDS = re.compile(
    r"unauthori[sz]ed|invalid api[ _-]?key|api[ _-]?key (is )?invalid|400112", re.I
)
QUOTA_WORDS = re.compile(r"quota|credit|video_limit|limit_exceeded", re.I)
_GONE = r"(removed|deprecated|retired|sunset|end[ _-]of[ _-]life|no longer (available|supported))"
_API = r"(api|endpoint|version|v1|v2)"
RETIRED_WORDS = re.compile(
    rf"\blegacy[ _-]{_API}|\b{_API}\b[^.]{{0,40}}\b{_GONE}|\b{_GONE}\b[^.]{{0,40}}\b{_API}\b",
    re.I,
)
"""An error that says the endpoint itself is gone, not one of the request's resources (a
removed avatar is a refusal of the row, not the end of V2)."""
V2_RETIRED = "HeyGen's V2 API is retired (V1/V2 reached end of life on 2026-11-01)"
V2_RETIRED_HINT = (
    "drop --api v2 (an output made on V2 goes on with --api v3): v3 takes the same templates"
)

RefusalKind = Literal["invalid", "server", "rate", "quota", "auth", "busy", "retired"]
ACCEPTED = frozenset({200, 201, 202})


@dataclass(frozen=True, slots=True)
class Created:
    """The API made the video and said its id."""

    video_id: str


@dataclass(frozen=True, slots=True)
class Refused:
    """The API answered, and made no video (a 5xx is believed, and checked before a resend)."""

    kind: RefusalKind
    status: int
    code: str
    message: str
    retry_after: float | None = None

    def describe(self) -> str:
        """Say the refusal as the API said it, with its HTTP status."""
        code = f"{self.code}: " if self.code else ""
        return f"HTTP {self.status} {code}{self.message}".strip()


@dataclass(frozen=True, slots=True)
class NotSent:
    """The request certainly never reached the API (no connection), so resending is safe."""

    reason: str


@dataclass(frozen=True, slots=True)
class NoAnswer:
    """The request went out and no usable answer came: a video may or may not exist."""

    reason: str


Outcome = Created | Refused | NotSent | NoAnswer


class ApiError(MergeError):
    """A read-only call (status, listing) did not give an answer we can use."""

    def __init__(self, message: str, status: int | None = None, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code

    @property
    def retired(self) -> bool:
        """Whether a V2 endpoint answered that it no longer exists."""
        return self.code == "retired"

    @property
    def refused_key(self) -> bool:
        """Whether the API refused the key itself, which no retry or other row can mend."""
        return _refusal_kind(self.status or 0, self.code, self.message) == "auth"


def classify(status: int, body: Any, retry_after: float | None = None) -> Outcome:
    """Decide what an HTTP answer to a create request means; pure, so every case is testable."""
    error = body.get("error") if isinstance(body, dict) else None
    data = body.get("data") if isinstance(body, dict) else None
    video_id = data.get("video_id") if isinstance(data, dict) else None
    if status in ACCEPTED and not error:
        if isinstance(video_id, str) and VIDEO_ID.match(video_id):
            return Created(video_id)
        return NoAnswer(f"HTTP {status} without a video_id in the answer")
    code, message = _error_text(error, body)
    return Refused(_refusal_kind(status, code, message), status, code, message, retry_after)


def _error_text(error: Any, body: Any) -> tuple[str, str]:
    if isinstance(error, dict):
        return str(error.get("code") or ""), str(error.get("message") or "")
    if isinstance(error, str):
        return "", error
    if isinstance(body, dict) and body.get("message"):
        return str(body.get("code") or ""), str(body["message"])
    return "", "no error message in the answer"


def _refusal_kind(status: int, code: str, message: str) -> RefusalKind:
    text = f"{code} {message}"
    if status in (401, 403) or AUTH_WORDS.search(text):
        return "auth"
    if status == 402 or (QUOTA_WORDS.search(code) and "rate" not in code.lower()):
        return "quota"
    if status == 429:
        return "rate"
    if status == 409:  # v3: the same Idempotency-Key is still being worked on
        return "busy"
    if status >= 500:
        return "server"
    return "invalid"


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Read a Retry-After header: seconds, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def open_http(
    base_url: str, api_key: str, timeout: float, connections: int, fast: bool = False
) -> httpx.AsyncClient:
    """Make the one HTTP client of a run: keep-alive, the key in a header, no redirects.

    A loopback address never goes through a proxy from the environment: the key stays here;
    plain HTTP anywhere else is refused, so no caller can send the key in clear text. `fast`
    carries the requests over aiohttp (merge.api.transport), for the run that sends the rows.
    """
    try:
        base_url = checked_base_url(base_url)
    except AddressError as error:
        raise MergeError(f"API address {error}") from None
    trust_env = not is_loopback(urlsplit(base_url).hostname or "")
    return _Client(
        trust_env=trust_env,
        transport=AiohttpTransport(connections, trust_env) if fast else None,
        base_url=base_url,
        headers={
            "X-Api-Key": api_key,
            "Accept": "application/json",
            "User-Agent": f"avatar-merge/{__version__}",
        },
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0), pool=None),
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        follow_redirects=False,
    )


class _AnswerCookies(httpx.Cookies):
    """A client's cookies, read only from the answers that set some (httpx reads them from
    every answer, at a tenth of a run's CPU per request)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        """Keep the cookies an answer sets, as httpx does; an answer without any costs nothing."""
        if "set-cookie" in response.headers:
            super().extract_cookies(response)


class _Client(httpx.AsyncClient):
    """httpx's client, whose cookies are an _AnswerCookies."""

    def __init__(self, **options: Any) -> None:
        self._answer_cookies = _AnswerCookies()
        super().__init__(**options)

    @property
    def cookies(self) -> httpx.Cookies:
        """The cookies the answers set, sent back with later requests as httpx does."""
        return self._answer_cookies

    @cookies.setter
    def cookies(
        self, cookies: httpx.Cookies | CookieJar | dict[str, str] | list[tuple[str, str]]
    ) -> None:
        self._answer_cookies = _AnswerCookies(cookies)


class HeyGenClient:
    """The calls a run makes; every failure comes back as a value or an ApiError, never httpx's."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.http = http
        self.sleep = sleep
        self.rng = rng or random.Random()
        self._create_url: tuple[httpx.URL, httpx.URL] | None = None

    api = "v2"
    idempotent = False
    """Whether a create request may be repeated safely (v3's Idempotency-Key)."""
    create_path = CREATE_PATH
    list_path = LIST_PATH
    lists_by_title = False
    """Whether the video list filters on a title (v3), so a lost create can be found by it."""
    bulk = False
    """Whether many videos' status can be asked in one call."""

    def create_headers(self, idempotency_key: str | None) -> dict[str, str]:
        """Headers of a create request (V2 has no idempotency key, so the key is not sent)."""
        return {"Content-Type": "application/json"}

    async def create_video(self, body: bytes, idempotency_key: str | None = None) -> Outcome:
        """Ask for one video; say whether it was made, refused, never sent, or unknown."""
        try:
            response = await self.http.post(
                self.create_url(), content=body, headers=self.create_headers(idempotency_key)
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            return NotSent(_reason(error))
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as error:
            raise MergeError(f"the base URL cannot be used ({error})", "check --base-url") from None
        except httpx.TransportError as error:
            return NoAnswer(_reason(error))
        outcome = classify(
            response.status_code,
            _json_or_none(response),
            parse_retry_after(response.headers.get("Retry-After")),
        )
        if isinstance(outcome, Refused) and self._retired(outcome.status, outcome.message, True):
            return Refused("retired", outcome.status, outcome.code, V2_RETIRED, None)
        return outcome

    def create_url(self) -> httpx.URL:
        """The create endpoint's whole URL, joined to the client's base URL once, not per row."""
        base = self.http.base_url
        if self._create_url is None or self._create_url[0] != base:
            self._create_url = (base, self.http.build_request("POST", self.create_path).url)
        return self._create_url[1]

    def _retired(self, status: int, text: str, create: bool) -> bool:
        """Whether a V2 answer says the endpoint is gone: 410, a 404 on create, or its words."""
        if self.api != "v2":
            return False
        return status == 410 or (create and status == 404) or bool(RETIRED_WORDS.search(text))

    async def video_status(self, video_id: str) -> dict[str, Any]:
        """Return a video's status record (its `data`), including its callback_id."""
        data = await self._get(STATUS_PATH, {"video_id": video_id})
        return data

    async def list_videos(
        self, token: str | None = None, limit: int = 100, title: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Return one page of the account's videos, newest first, and the next page's token.

        `title` narrows the list to videos whose title contains it, where the API can (v3).
        """
        params: dict[str, str | int] = {"limit": limit}
        if token:
            params["token"] = token
        if title and self.lists_by_title:
            params["title"] = title
        return self.list_page(await self._read(self.list_path, params))

    def list_page(self, body: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        """Read a V1 list answer: `data.videos` and `data.token`."""
        data = body["data"]
        videos = data.get("videos") if isinstance(data, dict) else None
        if not isinstance(videos, list):
            raise ApiError(f"{self.list_path}: the video list answer has no videos")
        next_token = data.get("token")
        return [v for v in videos if isinstance(v, dict)], next_token or None

    async def video_statuses(self, video_ids: list[str]) -> dict[str, dict[str, Any]] | None:
        """Return many videos' status records in one call, or None where the API has none."""
        return None

    async def _get(self, path: str, params: dict[str, str | int]) -> dict[str, Any]:
        """Read an answer whose `data` is one object."""
        data = (await self._read(path, params))["data"]
        if not isinstance(data, dict):
            raise ApiError(f"{path}: the answer's data is not an object")
        return data

    async def _read(self, path: str, params: dict[str, str | int]) -> dict[str, Any]:
        """Read a whole answer whose `data` is an object or an array (v3 lists put their paging
        keys beside it); reads change nothing, so a failed one is simply tried again."""
        for attempt in range(READ_ATTEMPTS):
            try:
                response = await self.http.get(path, params=params)
            except httpx.TransportError as failure:
                problem = ApiError(f"{path}: {_reason(failure)}")
                retry_after = None
            else:
                body = _json_or_none(response)
                error = body.get("error") if isinstance(body, dict) else None
                data = body.get("data") if isinstance(body, dict) else None
                if response.status_code == 200 and not error and isinstance(data, dict | list):
                    return body  # type: ignore[no-any-return]
                code, message = _error_text(error, body)
                status = response.status_code
                if status >= 400 and self._retired(status, f"{code} {message}", False):
                    raise ApiError(V2_RETIRED, status, "retired")
                said = f"{path}: HTTP {status} {code} {message}".rstrip()
                problem = ApiError(said, status, code)
                if status != 429 and status < 500:
                    break
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if attempt + 1 < READ_ATTEMPTS:
                await self.sleep(backoff(attempt, retry_after, self.rng))
        raise problem


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None


def _reason(error: httpx.HTTPError) -> str:
    """Name a transport failure without echoing anything but its kind and text."""
    text = str(error).strip()
    kind = type(error).__name__
    return f"{kind}: {text}" if text else kind
