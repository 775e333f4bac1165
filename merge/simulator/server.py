"""Run the simulator as a real server on 127.0.0.1: in a background thread, or in the foreground."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette

from merge.simulator.account import Account
from merge.simulator.app import build_app, create_app
from merge.simulator.schedule import Clock
from merge.simulator.settings import DEFAULT_PORT, HOST, KEEP_ALIVE_SECONDS, SimulatorSettings

START_TIMEOUT_SECONDS = 10.0
STOP_TIMEOUT_SECONDS = 10.0
_SETTLE_SECONDS = 1.0
"""How long in-flight answers get to finish once their connections are closed at stop."""


class Simulator:
    """Serve a simulated account from a background thread, so tests can call it over loopback."""

    def __init__(
        self,
        settings: SimulatorSettings | None = None,
        port: int = 0,
        clock: Clock = time.time,
        state: Path | None = None,
    ) -> None:
        self.settings = settings or SimulatorSettings()
        self.port = port
        self.url = ""
        self.state = state
        """A JSON file that keeps the account's videos from one run to the next."""
        self._account = Account(self.settings)
        if state is not None:
            self._account.restore(_read_state(state))
        self._app = build_app(self._account, clock)
        self._runner: _Runner | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Simulator:
        """Start serving and return once the server accepts connections."""
        if self._runner is not None:
            return self
        sock = _bind(self.port)
        self.url = _url(sock)
        runner = _Runner(self._app, sock)
        ready = threading.Event()
        thread = threading.Thread(target=runner.run, args=(ready.set,), daemon=True)
        thread.start()
        self._runner, self._thread = runner, thread
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not ready.wait(0.01):
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the simulator did not start on {self.url}")
        return self

    def stop(self) -> None:
        """Stop serving, drop open connections and wait for the thread; safe to call twice."""
        runner, thread = self._runner, self._thread
        self._runner = self._thread = None
        if runner is None or thread is None:
            return
        runner.request_stop()
        thread.join(STOP_TIMEOUT_SECONDS)
        if self.state is not None:
            _write_state(self.state, self._account.saved())

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def accepted(self) -> dict[str, int]:
        """Count accepted create requests per callback_id, those without one under ""."""
        return self._account.accepted()

    def video_ids(self) -> dict[str, list[str]]:
        """List the video ids issued per callback_id, oldest first."""
        return self._account.video_ids()

    def stats(self) -> dict[str, int]:
        """Copy the request and fault counters."""
        return self._account.stats()

    def uploads(self) -> dict[str, Any]:
        """Count the files uploaded, in all and by the SHA-256 of their bytes."""
        return self._account.assets.summary()

    def webhooks(self) -> list[dict[str, Any]]:
        """List every webhook attempt and skip: url, event_type, video_id, status, attempt."""
        return self._account.deliveries()


def _read_state(path: Path) -> list[dict[str, Any]]:
    """Read the videos a simulated account kept; a missing or unreadable file is a fresh account."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    videos = data.get("videos") if isinstance(data, dict) else None
    return videos if isinstance(videos, list) else []


def _write_state(path: Path, videos: list[dict[str, Any]]) -> None:
    """Keep the account's videos atomically (a temporary file, then a rename)."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps({"videos": videos}), encoding="utf-8")
    os.replace(temporary, path)


def serve(
    settings: SimulatorSettings,
    port: int = DEFAULT_PORT,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Serve in the foreground until Ctrl-C, calling `ready(url)` once listening (port 0: any)."""
    sock = _bind(port)
    url = _url(sock)
    runner = _Runner(create_app(settings), sock)
    # The server re-raises the Ctrl-C it handled once it has shut down; stopping is the point.
    with contextlib.suppress(KeyboardInterrupt):
        runner.run(lambda: ready(url) if ready else None)


class _Runner:
    """Run one uvicorn server on one bound socket, on an event loop of its own."""

    def __init__(self, app: Starlette, sock: socket.socket) -> None:
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            log_config=None,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
            http="httptools",  # the C parser: a fifth less CPU per request than h11
        )
        self.server = uvicorn.Server(config)
        self.webhooks = app.state.webhooks
        self.sock = sock
        self.loop: asyncio.AbstractEventLoop | None = None

    def run(self, on_ready: Callable[[], None]) -> None:
        """Serve until asked to stop, calling `on_ready` once connections are accepted."""
        try:
            asyncio.run(self._serve(on_ready))
        finally:
            self.sock.close()

    def request_stop(self) -> None:
        """Ask the server to stop from any thread, cutting answers still held back."""
        self.server.should_exit = True
        # Without force_exit the server waits for late answers to finish (up to late_by).
        self.server.force_exit = True
        loop = self.loop
        if loop is not None and not loop.is_closed():
            # The loop may close between the check and the call.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._hang_up)

    async def _serve(self, on_ready: Callable[[], None]) -> None:
        """Start the server, report readiness, and close what is left once it stops."""
        self.loop = asyncio.get_running_loop()
        serving = asyncio.create_task(self.server.serve(sockets=[self.sock]))
        while not (self.server.started or serving.done()):
            await asyncio.sleep(0.005)
        if self.server.started:
            on_ready()
        try:
            await serving
        finally:
            self._hang_up()
            await self.webhooks.close()
            tasks = set(self.server.server_state.tasks)
            if tasks:
                await asyncio.wait(tasks, timeout=_SETTLE_SECONDS)

    def _hang_up(self) -> None:
        """Close every open connection, so held-back answers see the client gone and end."""
        for connection in list(self.server.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.close()


def _bind(port: int) -> socket.socket:
    """Bind a listening socket on loopback; port 0 picks a free port."""
    # Name the protocol: asyncio turns Nagle off only on sockets whose proto says TCP, and with
    # it on, every answer (headers and body written apart) waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError:
        sock.close()
        raise
    return sock


def _url(sock: socket.socket) -> str:
    """Return the base URL a bound socket serves."""
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}"
