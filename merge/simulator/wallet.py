"""The simulated account's money, and the gate every `POST /v3/videos` passes before the app.

A create reserves its video's price (the simulator's own length estimate, priced by the dated
table) and is refused with 402 `insufficient_credit` when the reservation does not fit; the
video's price is debited from the balance once it completes, and released if it fails, as
HeyGen does not charge failed jobs. With `check_ids`, the gate also refuses ids the catalogue
does not know, looks not ready, engines a look does not support and clones still training.
The gate records every create it receives, refused or not, so tests can prove what was sent.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from merge.prices import DEFAULT_ENGINE, PriceTable
from merge.simulator.catalogue import Catalogue
from merge.simulator.schedule import Clock
from merge.simulator.settings import AUDIO_SCENE_SECONDS, CHARS_PER_SECOND

if TYPE_CHECKING:
    from merge.simulator.account import Account

CREATE_PATH = "/v3/videos"


@dataclass(frozen=True, slots=True)
class Received:
    """One create request as the gate saw it."""

    callback_id: str | None
    avatar_ids: tuple[str, ...]
    refused: int | None
    """The HTTP status the gate answered, or None when it let the request through."""


class Wallet:
    """Reserve, debit and release prices behind one lock; read the balance off any clock."""

    def __init__(self, balance: float, prices: PriceTable) -> None:
        self.start = balance
        self.prices = prices
        self._lock = threading.Lock()
        self._reserved = 0.0
        self._charges: dict[str, float] = {}
        self.received: list[Received] = []

    def reserve(self, price: float) -> bool:
        """Hold `price` if the balance less what is held and charged covers it."""
        with self._lock:
            if self.start - self._reserved - sum(self._charges.values()) < price - 1e-9:
                return False
            self._reserved += price
            return True

    def settle(self, price: float, video_id: str | None) -> None:
        """Turn a reservation into a video's charge, or let it go when no new video came."""
        with self._lock:
            self._reserved -= price
            if video_id is not None and video_id not in self._charges:
                self._charges[video_id] = price

    def available(self) -> float:
        """What a new video may still reserve."""
        with self._lock:
            return self.start - self._reserved - sum(self._charges.values())

    def remaining(self, account: Account, now: float) -> float:
        """The balance less the videos completed by `now`; failed ones are not charged."""
        with self._lock:
            charges = dict(self._charges)
        spent = 0.0
        for video_id, price in charges.items():
            video = account.find(video_id)
            if video is not None and video.status(now) == "completed":
                spent += price
        return round(self.start - spent, 4)

    def record(self, received: Received) -> None:
        """Remember a create request the gate saw."""
        with self._lock:
            self.received.append(received)


def scenes(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The avatar parts of a v3 body: the body itself, or each studio scene's avatar input."""
    if body.get("type") != "studio":
        return [body] if "avatar_id" in body else []
    found: list[Mapping[str, Any]] = []
    for scene in body.get("scenes") or []:
        if not isinstance(scene, dict):
            continue
        part = scene.get("input") if scene.get("type") == "avatar_video" else scene
        if isinstance(part, dict) and "avatar_id" in part:
            found.append(part)
    return found


def engine_of(body: Mapping[str, Any], scene: Mapping[str, Any]) -> str:
    """The engine a scene renders with: its own, the body's, else Avatar IV."""
    for holder in (scene, body):
        engine = holder.get("engine")
        if isinstance(engine, dict) and isinstance(engine.get("type"), str):
            return str(engine["type"])
    return DEFAULT_ENGINE


def price_of(body: Mapping[str, Any], catalogue: Catalogue, prices: PriceTable) -> float:
    """Price a body by the simulator's own length rule and the catalogue's avatar types."""
    total = 0.0
    resolution = body.get("resolution")
    for scene in scenes(body):
        script = scene.get("script")
        if isinstance(script, str):
            speed = (scene.get("voice_settings") or {}).get("speed", 1.0)
            speed = speed if isinstance(speed, int | float) and speed > 0 else 1.0
            seconds = len(script) / CHARS_PER_SECOND / speed
        else:
            seconds = AUDIO_SCENE_SECONDS
        look = catalogue.looks.get(str(scene.get("avatar_id")))
        kind = look["avatar_type"] if look else None
        rate = prices.per_second(engine_of(body, scene), kind, resolution)
        total += seconds * rate
    return round(total, 4)


def id_refusal(body: Mapping[str, Any], catalogue: Catalogue) -> JSONResponse | None:
    """Refuse a body whose looks or voices the account cannot use, as the API would."""
    for scene in scenes(body):
        look_id = str(scene.get("avatar_id"))
        look = catalogue.looks.get(look_id)
        if look is None and look_id in catalogue.foreign:
            return _error(403, "resource_access_denied", "This look belongs to another account")
        if look is None:
            return _error(404, "avatar_not_found", f"Avatar look not found: {look_id}", "avatar_id")
        status = look.get("status", "completed")
        if status != "completed":
            return _error(400, "invalid_parameter", f"avatar_id is invalid: the look is {status}")
        engine = engine_of(body, scene)
        if engine not in look["supported_api_engines"]:
            message = f"engine is invalid: {engine} is not supported by look {look_id}"
            return _error(400, "invalid_parameter", message, "engine")
        voice_id = scene.get("voice_id")
        if "script" in scene and not voice_id and not look.get("default_voice_id"):
            message = "voice_id is invalid: is required (the look has no default voice)"
            return _error(400, "invalid_parameter", message, "voice_id")
        if voice_id:
            voice = catalogue.voices.get(str(voice_id))
            if voice is None:
                return _error(404, "voice_not_found", f"Voice not found: {voice_id}", "voice_id")
            if voice.get("status", "complete") != "complete":
                message = f"voice_id is invalid: the voice is {voice['status']}"
                return _error(400, "invalid_parameter", message, "voice_id")
    return None


def _error(status: int, code: str, message: str, param: str | None = None) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "param": param, "doc_url": None}}
    return JSONResponse(body, status_code=status)


class CreateGate:
    """Stand in front of the app: record, check and price each v3 create, then settle its price."""

    def __init__(self, app: ASGIApp, account: Account, clock: Clock) -> None:
        self.app = app
        self.account = account
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass everything but `POST /v3/videos` straight through."""
        if not (
            scope["type"] == "http"
            and scope.get("method") == "POST"
            and scope.get("path") == CREATE_PATH
        ):
            await self.app(scope, receive, send)
            return
        raw, messages = await _read_body(receive)
        body = _json_object(raw)
        if body is None or not self._opens(scope):
            await self.app(scope, _replay(messages, receive), send)
            return
        await self._gate(body, scope, _replay(messages, receive), send)

    def _opens(self, scope: Scope) -> bool:
        wanted = self.account.settings.api_key
        key = dict(scope.get("headers") or []).get(b"x-api-key", b"").decode("latin-1")
        return bool(key) and (wanted is None or key == wanted)

    async def _gate(self, body: dict[str, Any], scope: Scope, receive: Receive, send: Send) -> None:
        account = self.account
        wallet, catalogue = account.wallet, account.catalogue
        refusal = id_refusal(body, catalogue) if account.settings.check_ids else None
        price = price_of(body, catalogue, wallet.prices)
        if refusal is None and not wallet.reserve(price):
            have = wallet.available()
            message = (
                f"Insufficient credit: this video needs {price:.2f}, the account has {have:.2f}"
            )
            refusal = _error(402, "insufficient_credit", message)
        callback_id = body.get("callback_id")
        ids = tuple(str(scene.get("avatar_id")) for scene in scenes(body))
        wallet.record(
            Received(
                callback_id if isinstance(callback_id, str) else None,
                ids,
                None if refusal is None else refusal.status_code,
            )
        )
        if refusal is not None:
            account.count("wallet_refused" if refusal.status_code == 402 else "ids_refused")
            await refusal(scope, receive, send)
            return
        answer = _Answer(send)
        try:
            await self.app(scope, receive, answer.send)
        finally:
            wallet.settle(price, answer.new_video(account, body.get("callback_id")))


class _Answer:
    """Watch an answer go out, to learn the video it made."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status = 0
        self.body = bytearray()

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")
        await self._send(message)

    def new_video(self, account: Account, callback_id: Any) -> str | None:
        """The id of a video made and not failed, or None; a cut-off answer names it by key."""
        if not 200 <= self.status < 300:
            return None
        parsed = _json_object(bytes(self.body))
        data = parsed.get("data") if parsed else None
        video_id = data.get("video_id") if isinstance(data, dict) else None
        if video_id is None and isinstance(callback_id, str):
            made = account.video_ids().get(callback_id)
            video_id = made[-1] if made else None
        video = account.find(video_id) if isinstance(video_id, str) else None
        return video.id if video is not None and video.failure is None else None


async def _read_body(receive: Receive) -> tuple[bytes, list[Message]]:
    messages, chunks = [], []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks), messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        parsed = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return parsed if isinstance(parsed, dict) else None
